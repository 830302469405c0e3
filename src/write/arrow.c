/*
 * arrow.c — routing and value kernels over Arrow C Data Interface batches (shardy.h "Arrow
 * batches"; spec writer §2.7 ValueSpec, §5.6 shard-id column, §5.7 HASH, §5.8 CEL; DESIGN §3).
 *
 * Owns: the column views of a batch (sy_arrow_col: pointers into the caller's buffers, nothing
 * copied), the HASH routing loops, shardy_cel_router (a compiled sy_wcel used read-only, so one
 * router serves many threads), the binary_col/json_cols value encoders and the row iterator
 * sy_arrow_rows behind shardy_attempt_add_arrow.
 *
 * Invariants:
 *   - The caller's arrays and schemas are only read; release is never called.
 *   - Batch row i of column j is element (struct.offset + child.offset + i) of child j, and is null
 *     when either the struct's or the child's validity bit is clear (or the column has type null).
 *   - A row routes exactly like shardy_route_hash of its key: integers of every width by value
 *     (8-byte little-endian two's complement of the value), strings as their UTF-8 bytes, binary as
 *     is. uint64 values above INT64_MAX cannot be routed (Python cannot hash them either).
 *   - json_cols output is byte-identical to Python's
 *     json.dumps(d, sort_keys=True, separators=(",", ":")) (core/json.c does the escaping and the
 *     float repr). float32 values are widened to double first, as pyarrow's to_pylist does.
 *   - No allocation per row: HASH routing allocates nothing; CEL routing and the row iterator
 *     allocate one table (and one growable value buffer) per call.
 *
 * Failure behaviour (shardy_errmsg() names the column, its Arrow format and the row):
 *   SHARDY_EINVAL  NULL arguments, a batch that is not a struct array, missing/NULL children,
 *                  wrong buffer counts, children shorter than the batch, malformed offsets, a
 *                  missing column (the message lists the batch's columns), a CEL column whose
 *                  Arrow type cannot hold its declared CEL type, num_dbs of 0 or above 2^31.
 *   SHARDY_ETYPE   unsupported Arrow formats (dictionary, timestamps, views, ...), keys of type
 *                  float/bool/null, binary_col of a non-binary column, json_cols of a binary one.
 *   SHARDY_EROUTE  null keys or CEL inputs, uint64 keys above INT64_MAX, CEL evaluation errors,
 *                  rejected results and unknown categorical tokens ("... at row N").
 *   SHARDY_EFORMAT a utf8 value that is not valid UTF-8 (json_cols, CEL string inputs).
 *   Routing output for rows before the failing one is written; nothing else is.
 */
#include "write/arrow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "write/wcel.h"

/* ---- formats and column views ------------------------------------------------------------------ */

typedef enum col_kind {
    K_I8, K_I16, K_I32, K_I64, K_U8, K_U16, K_U32, K_U64,
    K_BOOL, K_F32, K_F64, K_STR, K_LSTR, K_BIN, K_LBIN, K_NULL
} col_kind;

static const struct format_info {
    char fmt;
    col_kind kind;
    int nbuf;
    const char *type;
} formats[] = {
    {'c', K_I8, 2, "int8"},     {'s', K_I16, 2, "int16"},    {'i', K_I32, 2, "int32"},
    {'l', K_I64, 2, "int64"},   {'C', K_U8, 2, "uint8"},     {'S', K_U16, 2, "uint16"},
    {'I', K_U32, 2, "uint32"},  {'L', K_U64, 2, "uint64"},   {'b', K_BOOL, 2, "bool"},
    {'f', K_F32, 2, "float32"}, {'g', K_F64, 2, "float64"},  {'u', K_STR, 3, "utf8"},
    {'U', K_LSTR, 3, "large_utf8"}, {'z', K_BIN, 3, "binary"}, {'Z', K_LBIN, 3, "large_binary"},
    {'n', K_NULL, 0, "null"},
};
#define SUPPORTED_FORMATS "c s i l C S I L b f g u U z Z n"

static int kind_is_int(col_kind k) { return k <= K_U64; }
static int kind_is_signed(col_kind k) { return k <= K_I64; }
static int kind_is_var(col_kind k) { return k >= K_STR && k <= K_LBIN; }
static int kind_is_utf8(col_kind k) { return k == K_STR || k == K_LSTR; }
static int kind_is_large(col_kind k) { return k == K_LSTR || k == K_LBIN; }

typedef struct sy_arrow_col {
    const char *name;
    const char *format;
    const char *type;      /* Arrow type name for messages */
    col_kind kind;
    int64_t at;            /* element index of batch row 0 in the child's buffers */
    int64_t sat;           /* bit index of batch row 0 in the struct's validity bitmap */
    const uint8_t *valid;  /* child validity; NULL = no nulls */
    const uint8_t *svalid; /* struct validity; NULL = no nulls */
    const void *values;    /* fixed-width values, or the offsets of var-length types */
    const char *data;      /* var-length bytes (may be NULL when every value is empty) */
} sy_arrow_col;

typedef struct sy_batch {
    const struct ArrowArray *a;
    const struct ArrowSchema *s;
    int64_t length;
    const uint8_t *svalid;
} sy_batch;

static inline int bit_at(const uint8_t *b, int64_t i) { return (b[i >> 3] >> (i & 7)) & 1; }

static inline int is_null(const sy_arrow_col *c, int64_t i) {
    return c->kind == K_NULL || (c->valid && !bit_at(c->valid, c->at + i)) ||
           (c->svalid && !bit_at(c->svalid, c->sat + i));
}

/* First null row in [0, n), or n. Scans the bitmaps a byte at a time where it can. */
static int64_t first_null(const sy_arrow_col *c, int64_t n) {
    if (c->kind == K_NULL) return 0;
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *b = pass ? c->svalid : c->valid;
        int64_t base = pass ? c->sat : c->at;
        if (!b) continue;
        int64_t i = 0;
        while (i < n) {
            if (((base + i) & 7) == 0 && i + 8 <= n && b[(base + i) >> 3] == 0xFF) {
                i += 8;
                continue;
            }
            if (!bit_at(b, base + i)) {
                n = i;
                break;
            }
            i++;
        }
    }
    return n;
}

static const char *col_name(const struct ArrowSchema *s) { return s && s->name ? s->name : ""; }

static shardy_status batch_open(const struct ArrowArray *a, const struct ArrowSchema *s, sy_batch *b) {
    if (!a || !s) return sy_err(SHARDY_EINVAL, "Arrow batch: NULL array or schema");
    if (!a->release || !s->release) return sy_err(SHARDY_EINVAL, "Arrow batch: the array or schema was released");
    if (!s->format || strcmp(s->format, "+s"))
        return sy_err(SHARDY_EINVAL, "Arrow batch must be a struct array (format '+s'), got format '%.32s'",
                      s->format ? s->format : "(null)");
    if (s->n_children < 0 || s->n_children != a->n_children)
        return sy_err(SHARDY_EINVAL, "Arrow batch: schema has %lld columns, array has %lld", (long long)s->n_children,
                      (long long)a->n_children);
    if (s->n_children && (!s->children || !a->children))
        return sy_err(SHARDY_EINVAL, "Arrow batch: %lld columns but no children", (long long)s->n_children);
    if (a->length < 0 || a->offset < 0)
        return sy_err(SHARDY_EINVAL, "Arrow batch: negative length %lld or offset %lld", (long long)a->length,
                      (long long)a->offset);
    if (a->n_buffers != 1 || !a->buffers)
        return sy_err(SHARDY_EINVAL, "Arrow batch: a struct array has 1 buffer, got %lld", (long long)a->n_buffers);
    if (a->null_count > 0 && !a->buffers[0])
        return sy_err(SHARDY_EINVAL, "Arrow batch: null_count %lld without a validity bitmap", (long long)a->null_count);
    for (int64_t j = 0; j < s->n_children; j++)
        if (!s->children[j] || !a->children[j])
            return sy_err(SHARDY_EINVAL, "Arrow batch: column %lld is NULL", (long long)j);
    b->a = a;
    b->s = s;
    b->length = a->length;
    b->svalid = a->null_count != 0 ? (const uint8_t *)a->buffers[0] : NULL;
    return SHARDY_OK;
}

/* "a, b, c" (truncated) for messages about missing columns. */
static void list_columns(const sy_batch *b, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (int64_t j = 0; j < b->s->n_children && n + 1 < cap; j++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", j ? ", " : "", col_name(b->s->children[j]));
}

/* Index of the column called name: -1 when absent, -2 (with an error set) when ambiguous. */
static int64_t find_column(const sy_batch *b, const char *name) {
    int64_t found = -1;
    for (int64_t j = 0; j < b->s->n_children; j++) {
        if (strcmp(col_name(b->s->children[j]), name)) continue;
        if (found >= 0) {
            sy_err(SHARDY_EINVAL, "column '%.100s' appears more than once in the batch", name);
            return -2;
        }
        found = j;
    }
    return found;
}

static shardy_status col_open(const sy_batch *b, int64_t j, sy_arrow_col *c) {
    const struct ArrowSchema *cs = b->s->children[j];
    const struct ArrowArray *ca = b->a->children[j];
    const struct format_info *fi = NULL;
    memset(c, 0, sizeof *c);
    c->name = col_name(cs);
    if (!cs->format) return sy_err(SHARDY_EINVAL, "column '%.100s' has no Arrow format", c->name);
    c->format = cs->format;
    for (size_t k = 0; cs->format[0] && !cs->format[1] && k < sizeof formats / sizeof formats[0]; k++)
        if (formats[k].fmt == cs->format[0]) fi = &formats[k];
    if (cs->dictionary || ca->dictionary)
        return sy_err(SHARDY_ETYPE, "column '%.100s' (Arrow format '%.32s') is dictionary-encoded; decode it first",
                      c->name, cs->format);
    if (!fi)
        return sy_err(SHARDY_ETYPE, "column '%.100s' has unsupported Arrow format '%.32s' (supported: " SUPPORTED_FORMATS ")",
                      c->name, cs->format);
    c->kind = fi->kind;
    c->type = fi->type;
    if (ca->n_buffers != fi->nbuf || (fi->nbuf && !ca->buffers))
        return sy_err(SHARDY_EINVAL, "column '%.100s' (Arrow format '%s') has %lld buffers, expected %d", c->name,
                      cs->format, (long long)ca->n_buffers, fi->nbuf);
    if (ca->offset < 0 || ca->length < 0 || ca->length < b->a->offset || ca->length - b->a->offset < b->length)
        return sy_err(SHARDY_EINVAL, "column '%.100s' (Arrow format '%s') has %lld rows (offset %lld), the batch needs %lld",
                      c->name, cs->format, (long long)ca->length, (long long)ca->offset,
                      (long long)(b->a->offset + b->length));
    c->at = ca->offset + b->a->offset;
    c->sat = b->a->offset;
    c->svalid = b->svalid;
    if (fi->nbuf == 0) return SHARDY_OK;
    c->valid = ca->null_count != 0 ? (const uint8_t *)ca->buffers[0] : NULL;
    if (ca->null_count > 0 && !c->valid)
        return sy_err(SHARDY_EINVAL, "column '%.100s' (Arrow format '%s'): null_count %lld without a validity bitmap",
                      c->name, cs->format, (long long)ca->null_count);
    c->values = ca->buffers[1];
    if (kind_is_var(c->kind)) c->data = (const char *)ca->buffers[2];
    if (!c->values && (b->length > 0 || kind_is_var(c->kind)))
        return sy_err(SHARDY_EINVAL, "column '%.100s' (Arrow format '%s') has no %s buffer", c->name, cs->format,
                      kind_is_var(c->kind) ? "offsets" : "values");
    return SHARDY_OK;
}

/* Finds and opens column `name` (role names it in messages: "key column", "CEL column", ...). */
static shardy_status col_find(const sy_batch *b, const char *name, const char *role, sy_arrow_col *c) {
    int64_t j = find_column(b, name);
    if (j == -2) return SHARDY_EINVAL;
    if (j < 0) {
        char cols[512];
        list_columns(b, cols, sizeof cols);
        return sy_err(SHARDY_EINVAL, "%s '%.100s' is not in the batch (columns: %s)", role, name, cols);
    }
    return col_open(b, j, c);
}

/* Bytes of var-length row i; SHARDY_EINVAL for offsets that go backwards or point nowhere. */
static inline shardy_status var_at(const sy_arrow_col *c, int64_t i, const char **p, size_t *n) {
    int64_t lo, hi;
    if (kind_is_large(c->kind)) {
        const int64_t *o = (const int64_t *)c->values + c->at + i;
        lo = o[0];
        hi = o[1];
    } else {
        const int32_t *o = (const int32_t *)c->values + c->at + i;
        lo = o[0];
        hi = o[1];
    }
    if (lo < 0 || hi < lo || (!c->data && hi != lo))
        return sy_err(SHARDY_EINVAL, "column '%.100s' (Arrow format '%s') has malformed offsets at row %lld (%lld..%lld)",
                      c->name, c->format, (long long)i, (long long)lo, (long long)hi);
    *p = c->data ? c->data + lo : "";
    *n = (size_t)(hi - lo);
    return SHARDY_OK;
}

static inline int64_t int_at(const sy_arrow_col *c, int64_t i) {
    switch (c->kind) {
    case K_I8: return ((const int8_t *)c->values)[c->at + i];
    case K_I16: return ((const int16_t *)c->values)[c->at + i];
    case K_I32: return ((const int32_t *)c->values)[c->at + i];
    case K_I64: return ((const int64_t *)c->values)[c->at + i];
    case K_U8: return ((const uint8_t *)c->values)[c->at + i];
    case K_U16: return ((const uint16_t *)c->values)[c->at + i];
    case K_U32: return ((const uint32_t *)c->values)[c->at + i];
    default: return 0;
    }
}

static inline uint64_t u64_at(const sy_arrow_col *c, int64_t i) { return ((const uint64_t *)c->values)[c->at + i]; }

static inline double double_at(const sy_arrow_col *c, int64_t i) {
    return c->kind == K_F32 ? (double)((const float *)c->values)[c->at + i] : ((const double *)c->values)[c->at + i];
}

static inline int bool_at(const sy_arrow_col *c, int64_t i) { return bit_at((const uint8_t *)c->values, c->at + i); }

static shardy_status null_error(const sy_arrow_col *c, const char *role, int64_t row) {
    return sy_err(SHARDY_EROUTE, "%s '%.100s' is null at row %lld", role, c->name, (long long)row);
}

static shardy_status u64_range_error(const sy_arrow_col *c, const char *role, int64_t row) {
    return sy_err(SHARDY_EROUTE,
                  "%s '%.100s' (Arrow format 'L') at row %lld: integer %llu out of range "
                  "[-9223372036854775808, 9223372036854775807] for routing",
                  role, c->name, (long long)row, (unsigned long long)u64_at(c, row));
}

/* The key of row i (c is a key column: integer, utf8 or binary). */
static shardy_status key_at(const sy_arrow_col *c, int64_t i, shardy_key *k) {
    const char *p = NULL;
    size_t n = 0;
    shardy_status st;
    if (is_null(c, i)) return null_error(c, "key column", i);
    if (kind_is_int(c->kind)) {
        if (c->kind == K_U64) {
            uint64_t u = u64_at(c, i);
            *k = u > (uint64_t)INT64_MAX ? shardy_key_uint(u) : shardy_key_int((int64_t)u);
        } else {
            *k = shardy_key_int(int_at(c, i));
        }
        return SHARDY_OK;
    }
    if ((st = var_at(c, i, &p, &n))) return st;
    *k = kind_is_utf8(c->kind) ? shardy_key_str(p, n) : shardy_key_bytes(p, n);
    return SHARDY_OK;
}

static shardy_status key_col_open(const sy_batch *b, const char *key_col, sy_arrow_col *c) {
    if (!key_col) return sy_err(SHARDY_EINVAL, "Arrow batch: key_col is NULL");
    shardy_status st = col_find(b, key_col, "key column", c);
    if (st) return st;
    if (!kind_is_int(c->kind) && !kind_is_var(c->kind))
        return sy_err(SHARDY_ETYPE, "key column '%.100s' has Arrow type %s (format '%s'); keys must be integers, strings or binary",
                      c->name, c->type, c->format);
    return SHARDY_OK;
}

/* ---- HASH routing -------------------------------------------------------------------------------- */

static inline uint64_t hash_int(uint64_t v) {
    unsigned char le[8];
    for (int k = 0; k < 8; k++) le[k] = (unsigned char)(v >> (8 * k));
    return XXH3_64bits(le, 8);
}

/* One loop per Arrow integer type over rows known to be non-null; returns the first row that
 * cannot be routed (uint64 above INT64_MAX), or n. */
#define ROUTE_INT_LOOP(FN, CTYPE, BAD)                                                             \
    static int64_t FN(const sy_arrow_col *c, int64_t n, uint64_t num_dbs, int32_t *out) {          \
        const CTYPE *v = (const CTYPE *)c->values + c->at;                                         \
        for (int64_t i = 0; i < n; i++) {                                                          \
            if (BAD) return i;                                                                     \
            out[i] = (int32_t)(hash_int((uint64_t)(int64_t)v[i]) % num_dbs);                       \
        }                                                                                          \
        return n;                                                                                  \
    }
ROUTE_INT_LOOP(route_i8, int8_t, 0)
ROUTE_INT_LOOP(route_i16, int16_t, 0)
ROUTE_INT_LOOP(route_i32, int32_t, 0)
ROUTE_INT_LOOP(route_i64, int64_t, 0)
ROUTE_INT_LOOP(route_u8, uint8_t, 0)
ROUTE_INT_LOOP(route_u16, uint16_t, 0)
ROUTE_INT_LOOP(route_u32, uint32_t, 0)
ROUTE_INT_LOOP(route_u64, uint64_t, v[i] > (uint64_t)INT64_MAX)

#define ROUTE_VAR_LOOP(FN, OTYPE)                                                                  \
    static int64_t FN(const sy_arrow_col *c, int64_t n, uint64_t num_dbs, int32_t *out) {          \
        const OTYPE *o = (const OTYPE *)c->values + c->at;                                         \
        const char *d = c->data ? c->data : "";                                                    \
        for (int64_t i = 0; i < n; i++) {                                                          \
            OTYPE lo = o[i], hi = o[i + 1];                                                        \
            if (lo < 0 || hi < lo || (!c->data && hi != lo)) return i;                             \
            out[i] = (int32_t)(XXH3_64bits(d + lo, (size_t)(hi - lo)) % num_dbs);                  \
        }                                                                                          \
        return n;                                                                                  \
    }
ROUTE_VAR_LOOP(route_var32, int32_t)
ROUTE_VAR_LOOP(route_var64, int64_t)

shardy_status shardy_arrow_route_hash(const struct ArrowArray *batch, const struct ArrowSchema *schema,
                                      const char *key_col, uint64_t num_dbs, int32_t *out) {
    sy_batch b;
    sy_arrow_col c;
    shardy_status st;
    if (num_dbs == 0 || num_dbs > (uint64_t)INT32_MAX + 1)
        return sy_err(SHARDY_EINVAL, "num_dbs must be in [1, 2147483648], got %llu", (unsigned long long)num_dbs);
    if ((st = batch_open(batch, schema, &b)) || (st = key_col_open(&b, key_col, &c))) return st;
    if (b.length && !out) return sy_err(SHARDY_EINVAL, "shardy_arrow_route_hash: NULL out");
    int64_t n = first_null(&c, b.length), done;
    switch (c.kind) {
    case K_I8: done = route_i8(&c, n, num_dbs, out); break;
    case K_I16: done = route_i16(&c, n, num_dbs, out); break;
    case K_I32: done = route_i32(&c, n, num_dbs, out); break;
    case K_I64: done = route_i64(&c, n, num_dbs, out); break;
    case K_U8: done = route_u8(&c, n, num_dbs, out); break;
    case K_U16: done = route_u16(&c, n, num_dbs, out); break;
    case K_U32: done = route_u32(&c, n, num_dbs, out); break;
    case K_U64: done = route_u64(&c, n, num_dbs, out); break;
    case K_STR:
    case K_BIN: done = route_var32(&c, n, num_dbs, out); break;
    default: done = route_var64(&c, n, num_dbs, out); break;
    }
    if (done == b.length) return SHARDY_OK;
    if (done == n) return null_error(&c, "key column", done);
    if (c.kind == K_U64) return u64_range_error(&c, "key column", done);
    const char *p = NULL;
    size_t len = 0;
    st = var_at(&c, done, &p, &len);
    return st ? st : sy_err(SHARDY_EINTERNAL, "Arrow HASH routing stopped at row %lld", (long long)done);
}

/* ---- CEL routing ------------------------------------------------------------------------------------ */

struct shardy_cel_router {
    sy_wcel *w;
};

shardy_status shardy_cel_router_open(const shardy_build_opts *o, shardy_cel_router **out) {
    shardy_status st;
    if (!o || !out) return sy_err(SHARDY_EINVAL, "shardy_cel_router_open: NULL argument");
    *out = NULL;
    if (!o->cel_expr) return sy_err(SHARDY_EINVAL, "shardy_cel_router_open: cel_expr is required");
    shardy_cel_router *r = sy_calloc(1, sizeof *r);
    if (!r) return sy_err(SHARDY_ENOMEM, "out of memory for the CEL router");
    if ((st = sy_wcel_open(o, &r->w))) {
        sy_free(r);
        return st;
    }
    *out = r;
    return SHARDY_OK;
}

void shardy_cel_router_close(shardy_cel_router **pr) {
    if (!pr || !*pr) return;
    sy_wcel_free(&(*pr)->w);
    sy_free(*pr);
    *pr = NULL;
}

#define ROUTE_STACK_ARGS 16

shardy_status shardy_cel_router_route(const shardy_cel_router *r, const shardy_cel_arg *args, size_t nargs,
                                      uint32_t *db_id) {
    if (!r || !db_id) return sy_err(SHARDY_EINVAL, "shardy_cel_router_route: NULL argument");
    size_t nv = sy_cel_router_nvars(sy_wcel_router(r->w));
    sy_cel_value local[ROUTE_STACK_ARGS];
    sy_cel_value *v = nv <= ROUTE_STACK_ARGS ? local : sy_calloc(nv, sizeof *v);
    if (!v) return sy_err(SHARDY_ENOMEM, "out of memory routing a row");
    memset(v, 0, (nv ? nv : 1) * sizeof *v);
    shardy_status st = sy_wcel_bind_args(r->w, args, nargs, v);
    if (!st) st = sy_wcel_route_values(r->w, NULL, v, db_id);
    if (v != local) sy_free(v);
    return st;
}

/* Whether an Arrow column can feed a variable of the declared CEL kind. Integers convert by value
 * (range checked per row), ints feed doubles, utf8 feeds bytes and binary feeds strings (checked
 * to be UTF-8 per row), like sy_cel_value_from_key; a null column holds anything (every row null). */
static int cel_compatible(sy_cel_kind want, col_kind k) {
    if (k == K_NULL) return 1;
    switch (want) {
    case SY_CEL_INT:
    case SY_CEL_UINT: return kind_is_int(k);
    case SY_CEL_DOUBLE: return kind_is_int(k) || k == K_F32 || k == K_F64;
    case SY_CEL_STRING:
    case SY_CEL_BYTES: return kind_is_var(k);
    case SY_CEL_BOOL: return k == K_BOOL;
    default: return 0;
    }
}

typedef struct cel_bind {
    size_t var;
    sy_cel_kind want;
    sy_arrow_col col;
} cel_bind;

static shardy_status cel_value_at(const cel_bind *bd, int64_t i, sy_cel_value *v) {
    const sy_arrow_col *c = &bd->col;
    const char *p = NULL;
    size_t n = 0;
    shardy_status st;
    if (is_null(c, i)) return null_error(c, "CEL column", i);
    if (kind_is_int(c->kind)) {
        int neg = kind_is_signed(c->kind) && int_at(c, i) < 0;
        uint64_t u = c->kind == K_U64 ? u64_at(c, i) : (uint64_t)int_at(c, i);
        if (bd->want == SY_CEL_DOUBLE) {
            *v = sy_cel_double(neg ? (double)int_at(c, i) : (double)u);
        } else if (bd->want == SY_CEL_UINT) {
            if (neg)
                return sy_err(SHARDY_EROUTE, "CEL column '%.100s' is declared uint but holds %lld at row %lld", c->name,
                              (long long)int_at(c, i), (long long)i);
            *v = sy_cel_uint(u);
        } else {
            if (!neg && u > (uint64_t)INT64_MAX)
                return sy_err(SHARDY_EROUTE, "CEL column '%.100s' is declared int but holds %llu at row %lld", c->name,
                              (unsigned long long)u, (long long)i);
            *v = sy_cel_int(neg ? int_at(c, i) : (int64_t)u);
        }
        return SHARDY_OK;
    }
    switch (c->kind) {
    case K_F32:
    case K_F64: *v = sy_cel_double(double_at(c, i)); return SHARDY_OK;
    case K_BOOL: *v = sy_cel_bool(bool_at(c, i)); return SHARDY_OK;
    default: break;
    }
    if ((st = var_at(c, i, &p, &n))) return st;
    if (bd->want == SY_CEL_BYTES) {
        *v = sy_cel_bytes(p, n);
        return SHARDY_OK;
    }
    if (!sy_utf8_valid(p, n))
        return sy_err(SHARDY_EFORMAT, "CEL column '%.100s' (Arrow format '%s') is not valid UTF-8 at row %lld", c->name,
                      c->format, (long long)i);
    *v = sy_cel_str(p, n);
    return SHARDY_OK;
}

/* Binds every variable the expression reads to its batch column (`key` → key_col when the batch
 * has no column `key`). *binds has one entry per bound variable. */
static shardy_status cel_bind_columns(const sy_cel_router *cr, const sy_batch *b, const char *key_col, cel_bind *binds,
                                      size_t *nb) {
    const sy_cel_program *prog = sy_cel_router_program(cr);
    shardy_status st;
    *nb = 0;
    for (size_t v = 0; v < sy_cel_router_nvars(cr); v++) {
        if (!sy_cel_program_uses_var(prog, v)) continue;
        const char *name = sy_cel_router_var_name(cr, v);
        cel_bind *bd = &binds[(*nb)++];
        bd->var = v;
        bd->want = sy_cel_router_var_kind(cr, v);
        int64_t j = find_column(b, name);
        if (j == -2) return SHARDY_EINVAL;
        if (j < 0 && !strcmp(name, "key") && key_col) {
            st = col_find(b, key_col, "key column", &bd->col);
        } else if (j < 0) {
            st = col_find(b, name, "CEL column", &bd->col);
        } else {
            st = col_open(b, j, &bd->col);
        }
        if (st) return st;
        if (!cel_compatible(bd->want, bd->col.kind))
            return sy_err(SHARDY_EINVAL, "CEL column '%s' is declared %s but batch column '%s' has Arrow type %s (format '%s')",
                          name, sy_cel_type_name(bd->want), bd->col.name, bd->col.type, bd->col.format);
    }
    return SHARDY_OK;
}

shardy_status shardy_arrow_route_cel(const shardy_cel_router *r, const struct ArrowArray *batch,
                                     const struct ArrowSchema *schema, const char *key_col, int32_t *out) {
    sy_batch b;
    shardy_status st;
    if (!r) return sy_err(SHARDY_EINVAL, "shardy_arrow_route_cel: NULL router");
    if ((st = batch_open(batch, schema, &b))) return st;
    if (b.length && !out) return sy_err(SHARDY_EINVAL, "shardy_arrow_route_cel: NULL out");
    const sy_cel_router *cr = sy_wcel_router(r->w);
    size_t nv = sy_cel_router_nvars(cr), nb;
    cel_bind *binds = sy_calloc(nv ? nv : 1, sizeof *binds);
    sy_cel_value *args = sy_calloc(nv ? nv : 1, sizeof *args);
    if (!binds || !args) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory routing an Arrow batch"));
    SY_TRY(cel_bind_columns(cr, &b, key_col, binds, &nb));
    for (int64_t i = 0; i < b.length; i++) {
        uint32_t db;
        for (size_t k = 0; k < nb; k++) SY_TRY(cel_value_at(&binds[k], i, &args[binds[k].var]));
        st = sy_wcel_route_values(r->w, NULL, args, &db);
        if (st) SY_TRY(sy_err_wrap(st, "row %lld", (long long)i));
        out[i] = (int32_t)db;
    }
done:
    sy_free(binds);
    sy_free(args);
    return st;
}

/* ---- values (shardy_value_spec) --------------------------------------------------------------------- */

typedef struct json_field {
    const char *name;
    int has_col;
    sy_arrow_col col;
    size_t key_off, key_len; /* `"name":` (with the leading ',' after the first field) in keys */
} json_field;

typedef struct value_enc {
    const shardy_value_spec *spec;
    sy_arrow_col bin;        /* binary_col: the column (has_bin = 0 → every value empty) */
    int has_bin;
    json_field *fields;
    size_t nfields;
    sy_buf keys;
    sy_buf val;
} value_enc;

static int field_cmp(const void *a, const void *b) {
    return strcmp(((const json_field *)a)->name, ((const json_field *)b)->name);
}

static int is_skipped(const shardy_value_spec *spec, const char *name) {
    return spec->skip_col && !strcmp(spec->skip_col, name);
}

static shardy_status json_fields_open(const sy_batch *b, value_enc *e) {
    const shardy_value_spec *spec = e->spec;
    shardy_status st = SHARDY_OK;
    size_t n = spec->n_cols ? spec->n_cols : (size_t)b->s->n_children;
    if (spec->n_cols && !spec->cols) return sy_err(SHARDY_EINVAL, "json_cols: n_cols %zu but cols is NULL", spec->n_cols);
    e->fields = sy_calloc(n ? n : 1, sizeof *e->fields);
    if (!e->fields) return sy_err(SHARDY_ENOMEM, "out of memory for json_cols");
    for (size_t k = 0; k < n; k++) {
        const char *name = spec->n_cols ? spec->cols[k] : col_name(b->s->children[k]);
        if (!name) return sy_err(SHARDY_EINVAL, "json_cols: column name %zu is NULL", k);
        if (!spec->n_cols && is_skipped(spec, name)) continue;
        json_field *f = &e->fields[e->nfields++];
        f->name = name;
        if (is_skipped(spec, name)) continue; /* removed from the row before encoding → null */
        int64_t j = find_column(b, name);
        if (j == -2) return SHARDY_EINVAL;
        if (j < 0) continue; /* missing → null, like Python's row.get */
        f->has_col = 1;
        if ((st = col_open(b, j, &f->col))) return st;
        if (f->col.kind == K_BIN || f->col.kind == K_LBIN)
            return sy_err(SHARDY_ETYPE,
                          "json_cols cannot encode column '%.100s' of Arrow type %s (format '%s'): JSON has no bytes type",
                          name, f->col.type, f->col.format);
    }
    qsort(e->fields, e->nfields, sizeof *e->fields, field_cmp);
    size_t w = 0; /* a name selected twice is one dict key */
    for (size_t k = 0; k < e->nfields; k++)
        if (!w || strcmp(e->fields[w - 1].name, e->fields[k].name)) e->fields[w++] = e->fields[k];
    e->nfields = w;
    for (size_t k = 0; k < e->nfields && !st; k++) {
        json_field *f = &e->fields[k];
        f->key_off = e->keys.len;
        if (k) st = sy_buf_putc(&e->keys, ',');
        if (!st) st = sy_json_put_string(&e->keys, f->name, strlen(f->name), 0);
        if (!st) st = sy_buf_putc(&e->keys, ':');
        f->key_len = e->keys.len - f->key_off;
    }
    if (st == SHARDY_EFORMAT) return sy_err_wrap(SHARDY_EINVAL, "json_cols: column name");
    return st;
}

static shardy_status value_enc_open(const sy_batch *b, const shardy_value_spec *spec, value_enc *e) {
    shardy_status st;
    memset(e, 0, sizeof *e);
    e->spec = spec;
    if (!spec) return sy_err(SHARDY_EINVAL, "Arrow batch: NULL value spec");
    if (spec->kind == SHARDY_VALUE_JSON_COLS) return json_fields_open(b, e);
    if (spec->kind != SHARDY_VALUE_BINARY_COL) return sy_err(SHARDY_EINVAL, "unknown value spec kind %d", (int)spec->kind);
    if (spec->n_cols != 1 || !spec->cols || !spec->cols[0])
        return sy_err(SHARDY_EINVAL, "binary_col needs exactly one column, got %zu", spec->n_cols);
    if ((st = col_find(b, spec->cols[0], "binary_col column", &e->bin))) return st;
    if (!kind_is_var(e->bin.kind) && e->bin.kind != K_NULL)
        return sy_err(SHARDY_ETYPE, "binary_col expects bytes/bytearray/str, got column '%.100s' of Arrow type %s (format '%s')",
                      e->bin.name, e->bin.type, e->bin.format);
    e->has_bin = 1;
    return SHARDY_OK;
}

static void value_enc_close(value_enc *e) {
    sy_free(e->fields);
    sy_buf_free(&e->keys);
    sy_buf_free(&e->val);
}

static shardy_status json_cell(sy_buf *o, const sy_arrow_col *c, int64_t i) {
    const char *p = NULL;
    size_t n = 0;
    shardy_status st;
    if (is_null(c, i)) return sy_buf_append(o, "null", 4);
    switch (c->kind) {
    case K_U64: return sy_json_put_uint(o, u64_at(c, i));
    case K_BOOL: return bool_at(c, i) ? sy_buf_append(o, "true", 4) : sy_buf_append(o, "false", 5);
    case K_F32:
    case K_F64: return sy_json_put_double(o, double_at(c, i));
    case K_STR:
    case K_LSTR:
        if ((st = var_at(c, i, &p, &n))) return st;
        st = sy_json_put_string(o, p, n, 0);
        if (st == SHARDY_EFORMAT)
            return sy_err(SHARDY_EFORMAT, "column '%.100s' (Arrow format '%s') is not valid UTF-8 at row %lld", c->name,
                          c->format, (long long)i);
        return st;
    default: return sy_json_put_int(o, int_at(c, i));
    }
}

/* Encodes row i's value; the result points into the encoder's buffer or into the batch. */
static shardy_status value_at(value_enc *e, int64_t i, const void **p, size_t *n) {
    shardy_status st = SHARDY_OK;
    if (e->has_bin) {
        if (is_null(&e->bin, i)) {
            *p = "";
            *n = 0;
            return SHARDY_OK;
        }
        return var_at(&e->bin, i, (const char **)p, n);
    }
    sy_buf_reset(&e->val);
    st = sy_buf_putc(&e->val, '{');
    for (size_t k = 0; k < e->nfields && !st; k++) {
        const json_field *f = &e->fields[k];
        st = sy_buf_append(&e->val, e->keys.data + f->key_off, f->key_len);
        if (!st) st = f->has_col ? json_cell(&e->val, &f->col, i) : sy_buf_append(&e->val, "null", 4);
    }
    if (!st) st = sy_buf_putc(&e->val, '}');
    if (st == SHARDY_ENOMEM) return sy_err(SHARDY_ENOMEM, "out of memory encoding the value of row %lld", (long long)i);
    *p = e->val.data;
    *n = e->val.len;
    return st;
}

shardy_status sy_arrow_rows(const struct ArrowArray *batch, const struct ArrowSchema *schema, const char *key_col,
                            const shardy_value_spec *spec, sy_arrow_row_fn fn, void *ctx) {
    sy_batch b;
    sy_arrow_col kc;
    value_enc e;
    shardy_status st;
    if ((st = batch_open(batch, schema, &b)) || (st = key_col_open(&b, key_col, &kc))) return st;
    st = value_enc_open(&b, spec, &e);
    for (int64_t i = 0; i < b.length && !st; i++) {
        shardy_key key;
        const void *val = NULL;
        size_t len = 0;
        if ((st = key_at(&kc, i, &key)) || (st = value_at(&e, i, &val, &len))) break;
        if ((st = fn(ctx, i, &key, val, len))) st = sy_err_wrap(st, "key column '%.100s' row %lld", kc.name, (long long)i);
    }
    value_enc_close(&e);
    return st;
}

/* ---- attempt writer -------------------------------------------------------------------------------- */

static shardy_status add_row(void *ctx, int64_t row, const shardy_key *key, const void *value, size_t len) {
    (void)row;
    return shardy_attempt_add((shardy_attempt_writer *)ctx, key, value, len);
}

shardy_status shardy_attempt_add_arrow(shardy_attempt_writer *w, const struct ArrowArray *batch,
                                       const struct ArrowSchema *schema, const char *key_col,
                                       const shardy_value_spec *spec) {
    if (!w) return sy_err(SHARDY_EINVAL, "shardy_attempt_add_arrow: NULL writer");
    return sy_arrow_rows(batch, schema, key_col, spec, add_row, w);
}
