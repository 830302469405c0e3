/* manifest.c — the manifest model: construction, JSON column encodings, validation (§3.9) and
 * empty-shard padding (§3.7). The SQLite image lives in manifest_image.c. See manifest.h. */
#include "snapshot/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "snapshot/layout.h"

const char sy_manifest_ddl_build_meta[] = "CREATE TABLE build_meta (\n"
                                          "    run_id           TEXT    NOT NULL,\n"
                                          "    created_at       TEXT    NOT NULL,\n"
                                          "    num_dbs          INTEGER NOT NULL,\n"
                                          "    s3_prefix        TEXT    NOT NULL,\n"
                                          "    key_col          TEXT    NOT NULL,\n"
                                          "    sharding         TEXT    NOT NULL,\n"
                                          "    db_path_template TEXT    NOT NULL,\n"
                                          "    shard_prefix     TEXT    NOT NULL,\n"
                                          "    format_version   INTEGER NOT NULL,\n"
                                          "    key_encoding     TEXT    NOT NULL,\n"
                                          "    custom           TEXT    NOT NULL DEFAULT '{}'\n"
                                          ")";

const char sy_manifest_ddl_shards[] = "CREATE TABLE shards (\n"
                                      "    db_id         INTEGER NOT NULL PRIMARY KEY,\n"
                                      "    db_url        TEXT,\n"
                                      "    attempt       INTEGER NOT NULL,\n"
                                      "    row_count     INTEGER NOT NULL,\n"
                                      "    db_bytes      INTEGER NOT NULL,\n"
                                      "    min_key       TEXT,\n"
                                      "    max_key       TEXT,\n"
                                      "    checkpoint_id TEXT,\n"
                                      "    writer_info   TEXT    NOT NULL DEFAULT '{}'\n"
                                      ")";

static shardy_status oom(const char *what) { return sy_err(SHARDY_ENOMEM, "out of memory %s", what); }

/* ---- scalars ----------------------------------------------------------------------------- */

void sy_scalar_clear(sy_scalar *s) {
    if (!s) return;
    sy_free(s->str);
    memset(s, 0, sizeof *s);
}

shardy_status sy_scalar_copy(sy_scalar *dst, const sy_scalar *src) {
    *dst = *src;
    dst->str = NULL;
    if (src->kind == SY_SCALAR_STR || src->kind == SY_SCALAR_BYTES) {
        dst->str = sy_strndup(src->str ? src->str : "", src->len);
        if (!dst->str) {
            memset(dst, 0, sizeof *dst);
            return oom("copying a key");
        }
    }
    return SHARDY_OK;
}

int sy_scalar_equal(const sy_scalar *a, const sy_scalar *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case SY_SCALAR_NULL: return 1;
    case SY_SCALAR_INT: return a->i == b->i;
    case SY_SCALAR_UINT: return a->u == b->u;
    case SY_SCALAR_STR:
    case SY_SCALAR_BYTES: return a->len == b->len && (a->len == 0 || !memcmp(a->str, b->str, a->len));
    }
    return 0;
}

shardy_status sy_scalar_from_key(const shardy_key *key, sy_scalar *out) {
    memset(out, 0, sizeof *out);
    if (!key) return SHARDY_OK;
    switch (key->type) {
    case SHARDY_KEY_INT:
        out->kind = SY_SCALAR_INT;
        out->i = key->i;
        return SHARDY_OK;
    case SHARDY_KEY_UINT:
        if (key->u <= (uint64_t)INT64_MAX) {
            out->kind = SY_SCALAR_INT;
            out->i = (int64_t)key->u;
        } else {
            out->kind = SY_SCALAR_UINT;
            out->u = key->u;
        }
        return SHARDY_OK;
    case SHARDY_KEY_STR:
    case SHARDY_KEY_BYTES: {
        const char *p = key->data ? key->data : "";
        if (!key->data && key->len) return sy_err(SHARDY_EINVAL, "key has length %zu but no data", key->len);
        if (!sy_utf8_valid(p, key->len)) return SHARDY_OK; /* §3.6.1: not UTF-8 → SQL NULL */
        out->str = sy_strndup(p, key->len);
        if (!out->str) return oom("copying a key");
        out->kind = SY_SCALAR_STR;
        out->len = key->len;
        return SHARDY_OK;
    }
    }
    return sy_err(SHARDY_EINVAL, "unknown key type %d", (int)key->type);
}

shardy_status sy_scalar_to_json(const sy_scalar *s, sy_buf *out) {
    switch (s->kind) {
    case SY_SCALAR_NULL: return sy_buf_puts(out, "null");
    case SY_SCALAR_INT: return sy_buf_printf(out, "%lld", (long long)s->i);
    case SY_SCALAR_UINT: return sy_buf_printf(out, "%llu", (unsigned long long)s->u);
    case SY_SCALAR_STR: return sy_json_put_string(out, s->str ? s->str : "", s->len, 0);
    case SY_SCALAR_BYTES: break;
    }
    return sy_err(SHARDY_EINVAL, "bytes values cannot be written as manifest JSON (convert with sy_scalar_from_key)");
}

shardy_status sy_manifest_key_json(const shardy_key *key, char **json) {
    sy_scalar s;
    sy_buf b = SY_BUF_INIT;
    shardy_status st;
    *json = NULL;
    SY_TRY(sy_scalar_from_key(key, &s));
    if (s.kind != SY_SCALAR_NULL) {
        SY_TRY(sy_scalar_to_json(&s, &b));
        *json = sy_buf_take(&b);
    }
done:
    sy_scalar_clear(&s);
    sy_buf_free(&b);
    return st;
}

/* json-c value of a scalar (new reference) or NULL on failure. */
static json_object *scalar_to_jsonc(const sy_scalar *s) {
    switch (s->kind) {
    case SY_SCALAR_NULL: return NULL;
    case SY_SCALAR_INT: return json_object_new_int64(s->i);
    case SY_SCALAR_UINT: return json_object_new_uint64(s->u);
    case SY_SCALAR_STR: return json_object_new_string_len(s->str ? s->str : "", (int)s->len);
    case SY_SCALAR_BYTES: return NULL;
    }
    return NULL;
}

/* ---- sharding ------------------------------------------------------------------------------ */

shardy_status sy_sharding_add_cel_column(sy_sharding *s, const char *name, const char *type) {
    if (!name || !type) return sy_err(SHARDY_EINVAL, "cel column name and type must not be NULL");
    sy_cel_column *cols = sy_realloc(s->cel_columns, (s->n_cel_columns + 1) * sizeof *cols);
    if (!cols) return oom("adding a cel column");
    s->cel_columns = cols;
    sy_cel_column *c = &cols[s->n_cel_columns];
    c->name = sy_strdup(name);
    c->type = sy_strdup(type);
    if (!c->name || !c->type) {
        sy_free(c->name);
        sy_free(c->type);
        return oom("adding a cel column");
    }
    s->n_cel_columns++;
    s->has_cel_columns = 1;
    return SHARDY_OK;
}

shardy_status sy_sharding_add_routing_value(sy_sharding *s, const sy_scalar *v) {
    sy_scalar *vals = sy_realloc(s->routing_values, (s->n_routing_values + 1) * sizeof *vals);
    if (!vals) return oom("adding a routing value");
    s->routing_values = vals;
    shardy_status st = sy_scalar_copy(&vals[s->n_routing_values], v);
    if (st) return st;
    s->n_routing_values++;
    s->has_routing_values = 1;
    return SHARDY_OK;
}

void sy_sharding_clear(sy_sharding *s) {
    if (!s) return;
    sy_free(s->cel_expr);
    for (size_t i = 0; i < s->n_cel_columns; i++) {
        sy_free(s->cel_columns[i].name);
        sy_free(s->cel_columns[i].type);
    }
    sy_free(s->cel_columns);
    for (size_t i = 0; i < s->n_routing_values; i++) sy_scalar_clear(&s->routing_values[i]);
    sy_free(s->routing_values);
    memset(s, 0, sizeof *s);
}

/* Adds key → val to obj, consuming val (NULL val means JSON null). */
static shardy_status obj_add(json_object *obj, const char *key, json_object *val) {
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return oom("building JSON");
    }
    return SHARDY_OK;
}

shardy_status sy_sharding_json(const sy_sharding *s, sy_buf *out) {
    shardy_status st = SHARDY_OK;
    json_object *o = json_object_new_object(), *cols = NULL, *vals = NULL, *v;
    if (!o) return oom("building the sharding JSON");
    if (s->has_cel_columns) {
        if (!(cols = json_object_new_object())) SY_TRY(oom("building the sharding JSON"));
        for (size_t i = 0; i < s->n_cel_columns; i++) {
            const sy_cel_column *c = &s->cel_columns[i];
            if (!(v = json_object_new_string(c->type))) SY_TRY(oom("building the sharding JSON"));
            SY_TRY(obj_add(cols, c->name, v));
        }
    }
    json_object *tmp = cols;
    cols = NULL;
    SY_TRY(obj_add(o, "cel_columns", tmp));
    v = NULL;
    if (s->cel_expr && !(v = json_object_new_string(s->cel_expr))) SY_TRY(oom("building the sharding JSON"));
    SY_TRY(obj_add(o, "cel_expr", v));
    if (!(v = json_object_new_string("xxh3_64"))) SY_TRY(oom("building the sharding JSON"));
    SY_TRY(obj_add(o, "hash_algorithm", v));
    if (s->has_routing_values) {
        if (!(vals = json_object_new_array())) SY_TRY(oom("building the sharding JSON"));
        for (size_t i = 0; i < s->n_routing_values; i++) {
            const sy_scalar *rv = &s->routing_values[i];
            if (rv->kind == SY_SCALAR_NULL || rv->kind == SY_SCALAR_BYTES)
                SY_TRY(sy_err(SHARDY_EINVAL, "routing_values[%zu] is %s; only int and str values can be written", i,
                              rv->kind == SY_SCALAR_NULL ? "null" : "bytes"));
            if (!(v = scalar_to_jsonc(rv))) SY_TRY(oom("building the sharding JSON"));
            if (json_object_array_add(vals, v)) {
                json_object_put(v);
                SY_TRY(oom("building the sharding JSON"));
            }
        }
    }
    tmp = vals;
    vals = NULL;
    SY_TRY(obj_add(o, "routing_values", tmp));
    if (!(v = json_object_new_string(s->strategy == SY_STRATEGY_CEL ? "cel" : "hash")))
        SY_TRY(oom("building the sharding JSON"));
    SY_TRY(obj_add(o, "strategy", v));
    SY_TRY(sy_json_dump(o, 0, out));
done:
    json_object_put(cols);
    json_object_put(vals);
    json_object_put(o);
    return st;
}

shardy_status sy_writer_info_json(const sy_writer_info *w, sy_buf *out) {
    shardy_status st = sy_buf_printf(out, "{\"attempt\": %lld, \"duration_ms\": %lld, \"stage_id\": ",
                                     (long long)w->attempt, (long long)w->duration_ms);
    if (!st) st = w->has_stage_id ? sy_buf_printf(out, "%lld", (long long)w->stage_id) : sy_buf_puts(out, "null");
    if (!st) st = sy_buf_puts(out, ", \"task_attempt_id\": ");
    if (!st)
        st = w->has_task_attempt_id ? sy_buf_printf(out, "%lld", (long long)w->task_attempt_id)
                                    : sy_buf_puts(out, "null");
    if (!st) st = sy_buf_putc(out, '}');
    return st;
}

/* ---- shards and manifests ------------------------------------------------------------------ */

shardy_status sy_shard_set_key_range(sy_shard *sh, const shardy_key *min, const shardy_key *max) {
    sy_scalar a, b;
    shardy_status st = sy_scalar_from_key(min, &a);
    if (st) return st;
    st = sy_scalar_from_key(max, &b);
    if (st) {
        sy_scalar_clear(&a);
        return st;
    }
    sy_scalar_clear(&sh->min_key);
    sy_scalar_clear(&sh->max_key);
    sh->min_key = a;
    sh->max_key = b;
    return SHARDY_OK;
}

static void shard_clear(sy_shard *sh) {
    sy_free(sh->db_url);
    sy_free(sh->min_key_json);
    sy_free(sh->max_key_json);
    sy_free(sh->checkpoint_id);
    sy_scalar_clear(&sh->min_key);
    sy_scalar_clear(&sh->max_key);
    memset(sh, 0, sizeof *sh);
}

sy_manifest *sy_manifest_new(void) {
    sy_manifest *m = sy_calloc(1, sizeof *m);
    if (!m) {
        oom("allocating a manifest");
        return NULL;
    }
    m->format_version = SY_MANIFEST_FORMAT_VERSION;
    m->key_encoding = SHARDY_KEYENC_U64BE;
    m->custom = json_object_new_object();
    if (!m->custom) {
        sy_free(m);
        oom("allocating a manifest");
        return NULL;
    }
    return m;
}

void sy_manifest_free(sy_manifest **mp) {
    if (!mp || !*mp) return;
    sy_manifest *m = *mp;
    sy_free(m->run_id);
    sy_free(m->created_at);
    sy_free(m->s3_prefix);
    sy_free(m->key_col);
    sy_sharding_clear(&m->sharding);
    sy_free(m->db_path_template);
    sy_free(m->shard_prefix);
    json_object_put(m->custom);
    for (size_t i = 0; i < m->n_shards; i++) shard_clear(&m->shards[i]);
    sy_free(m->shards);
    sy_free(m);
    *mp = NULL;
}

shardy_status sy_manifest_add_shard(sy_manifest *m, sy_shard **out) {
    *out = NULL;
    if (m->n_shards == m->cap_shards) {
        size_t cap = m->cap_shards ? m->cap_shards * 2 : 8;
        sy_shard *p = sy_realloc(m->shards, cap * sizeof *p);
        if (!p) return oom("adding a shard row");
        m->shards = p;
        m->cap_shards = cap;
    }
    sy_shard *sh = &m->shards[m->n_shards++];
    memset(sh, 0, sizeof *sh);
    *out = sh;
    return SHARDY_OK;
}

/* ---- validation ---------------------------------------------------------------------------- */

/* "Manifest validation failed: table T[ row db_id=N] column C: <reason>" */
static shardy_status SY_PRINTF(5, 6)
    vfail(shardy_status st, const char *table, const sy_shard *row, const char *column, const char *fmt, ...) {
    char reason[600], rowdesc[48] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (row) snprintf(rowdesc, sizeof rowdesc, " row db_id=%lld", (long long)row->db_id);
    return sy_err(st, "Manifest validation failed: table %s%s column %s: %s", table, rowdesc, column, reason);
}

/* Wraps a message set by a layout/id check with the table/column it belongs to. */
static shardy_status wrap_setting(shardy_status st, const char *column) {
    return sy_err_wrap(st, "Manifest validation failed: table build_meta column %s", column);
}

static int cel_type_ok(const char *t) {
    static const char *const ok[] = {"int", "string", "bytes", "double", "bool", "uint"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(t, ok[i])) return 1;
    return 0;
}

static int is_int_kind(sy_scalar_kind k) { return k == SY_SCALAR_INT || k == SY_SCALAR_UINT; }

/* Orders scalars: ints (by value, INT before UINT) before strings (by bytes). */
static int scalar_cmp(const void *pa, const void *pb) {
    const sy_scalar *a = *(const sy_scalar *const *)pa, *b = *(const sy_scalar *const *)pb;
    if (is_int_kind(a->kind) != is_int_kind(b->kind)) return is_int_kind(a->kind) ? -1 : 1;
    if (is_int_kind(a->kind)) {
        if (a->kind != b->kind) return a->kind == SY_SCALAR_INT ? -1 : 1;
        if (a->kind == SY_SCALAR_INT) return (a->i > b->i) - (a->i < b->i);
        return (a->u > b->u) - (a->u < b->u);
    }
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->str, b->str, n) : 0;
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* Appends a short Python-repr-like rendering of a scalar for messages. */
static void scalar_repr(const sy_scalar *s, char *out, size_t cap) {
    switch (s->kind) {
    case SY_SCALAR_INT: snprintf(out, cap, "%lld", (long long)s->i); return;
    case SY_SCALAR_UINT: snprintf(out, cap, "%llu", (unsigned long long)s->u); return;
    case SY_SCALAR_NULL: snprintf(out, cap, "None"); return;
    default: break;
    }
    size_t o = 0;
    if (cap < 8) {
        out[0] = '\0';
        return;
    }
    out[o++] = '\'';
    for (size_t i = 0; i < s->len && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s->str[i];
        if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '\'';
    out[o] = '\0';
}

static shardy_status validate_routing_values(const sy_sharding *s, int for_write) {
    shardy_status st = SHARDY_OK;
    size_t n = s->n_routing_values;
    const sy_scalar **sorted = NULL;
    for (size_t i = 0; i < n; i++) {
        const sy_scalar *v = &s->routing_values[i];
        if (v->kind == SY_SCALAR_NULL)
            return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding", "Routing values must not contain null values");
        if (v->kind == SY_SCALAR_BYTES)
            return vfail(for_write ? SHARDY_EINVAL : SHARDY_EFORMAT, "build_meta", NULL, "sharding",
                         "routing_values[%zu] is bytes; bytes routing values are refused because they cannot "
                         "round-trip through the manifest JSON (use str or int tokens)",
                         i);
        if (v->kind == SY_SCALAR_STR && for_write && !sy_utf8_valid(v->str, v->len))
            return vfail(SHARDY_EINVAL, "build_meta", NULL, "sharding", "routing_values[%zu] is not valid UTF-8", i);
        if (i && is_int_kind(v->kind) != is_int_kind(s->routing_values[i - 1].kind)) {
            char l[80], r[80];
            scalar_repr(&s->routing_values[i - 1], l, sizeof l);
            scalar_repr(v, r, sizeof r);
            return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding",
                         "Routing values must all share the same type; got Routing values[%zu]=%s, Routing "
                         "values[%zu]=%s",
                         i - 1, l, i, r);
        }
    }
    if (n < 2) return SHARDY_OK;
    sorted = sy_malloc(n * sizeof *sorted);
    if (!sorted) return oom("checking routing values");
    for (size_t i = 0; i < n; i++) sorted[i] = &s->routing_values[i];
    qsort(sorted, n, sizeof *sorted, scalar_cmp);
    for (size_t i = 1; i < n; i++) {
        if (scalar_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            char r[80];
            scalar_repr(sorted[i], r, sizeof r);
            st = vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding",
                       "Routing values must be unique; duplicates=[%s]", r);
            break;
        }
    }
    sy_free(sorted);
    return st;
}

static shardy_status validate_sharding(const sy_sharding *s, int for_write) {
    if (s->strategy == SY_STRATEGY_CEL) {
        if (!s->cel_expr || !*s->cel_expr)
            return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding", "CEL strategy requires cel_expr");
        if (!s->has_cel_columns || s->n_cel_columns == 0)
            return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding", "CEL strategy requires cel_columns");
        for (size_t i = 0; i < s->n_cel_columns; i++) {
            const sy_cel_column *c = &s->cel_columns[i];
            if (!c->name || !c->type)
                return vfail(SHARDY_EINVAL, "build_meta", NULL, "sharding", "cel_columns[%zu] is NULL", i);
            if (!cel_type_ok(c->type))
                return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding",
                             "cel_columns['%.64s'] has type '%.64s'; expected one of int, string, bytes, double, "
                             "bool, uint",
                             c->name, c->type);
            if (for_write) {
                if (!sy_utf8_valid(c->name, strlen(c->name)))
                    return vfail(SHARDY_EINVAL, "build_meta", NULL, "sharding",
                                 "cel_columns[%zu] name is not valid UTF-8", i);
                for (size_t j = 0; j < i; j++)
                    if (!strcmp(s->cel_columns[j].name, c->name))
                        return vfail(SHARDY_EINVAL, "build_meta", NULL, "sharding",
                                     "cel_columns has the column '%.64s' twice", c->name);
            }
        }
        if (for_write && !sy_utf8_valid(s->cel_expr, strlen(s->cel_expr)))
            return vfail(SHARDY_EINVAL, "build_meta", NULL, "sharding", "cel_expr is not valid UTF-8");
        if (s->has_routing_values) return validate_routing_values(s, for_write);
        return SHARDY_OK;
    }
    if (s->strategy != SY_STRATEGY_HASH)
        return vfail(SHARDY_EINVAL, "build_meta", NULL, "sharding", "unknown strategy %d", (int)s->strategy);
    if (s->has_routing_values)
        return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding", "routing_values are only valid with CEL strategy");
    if (s->cel_expr)
        return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding", "cel_expr is only valid with CEL strategy");
    if (s->has_cel_columns)
        return vfail(SHARDY_EFORMAT, "build_meta", NULL, "sharding", "cel_columns are only valid with CEL strategy");
    return SHARDY_OK;
}

/* Python truthiness of a JSON value. */
static int json_truthy(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null: return 0;
    case json_type_boolean: return json_object_get_boolean(v);
    case json_type_int: return json_object_get_int64(v) != 0 || sy_json_int_is_u64(v);
    case json_type_double: return json_object_get_double(v) != 0.0; /* NaN != 0 → truthy, as in Python */
    case json_type_string: return json_object_get_string_len(v) > 0;
    case json_type_array: return json_object_array_length(v) > 0;
    case json_type_object: return json_object_object_length(v) > 0;
    }
    return 0;
}

static shardy_status check_text(const char *column, const char *s, int nullable, int for_write) {
    if (!s) {
        if (nullable) return SHARDY_OK;
        return vfail(for_write ? SHARDY_EINVAL : SHARDY_EFORMAT, "build_meta", NULL, column, "must not be NULL");
    }
    if (for_write && !sy_utf8_valid(s, strlen(s)))
        return vfail(SHARDY_EINVAL, "build_meta", NULL, column, "is not valid UTF-8");
    return SHARDY_OK;
}

static shardy_status validate_shard_fields(const sy_shard *sh, int for_write) {
    static const char *const names[] = {"db_id", "attempt", "row_count", "db_bytes"};
    const int64_t vals[] = {sh->db_id, sh->attempt, sh->row_count, sh->db_bytes};
    for (size_t i = 0; i < 4; i++)
        if (vals[i] < 0)
            return vfail(SHARDY_EFORMAT, "shards", sh, names[i], "must be >= 0, got %lld", (long long)vals[i]);
    const sy_scalar *keys[] = {&sh->min_key, &sh->max_key};
    static const char *const key_names[] = {"min_key", "max_key"};
    for (size_t i = 0; i < 2; i++) {
        if (keys[i]->kind == SY_SCALAR_BYTES)
            return vfail(for_write ? SHARDY_EINVAL : SHARDY_EFORMAT, "shards", sh, key_names[i],
                         "bytes keys must be converted with sy_scalar_from_key (UTF-8 → str, else NULL)");
        if (for_write && keys[i]->kind == SY_SCALAR_STR && !sy_utf8_valid(keys[i]->str, keys[i]->len))
            return vfail(SHARDY_EINVAL, "shards", sh, key_names[i], "is not valid UTF-8");
    }
    if (for_write) {
        if (sh->db_url && !sy_utf8_valid(sh->db_url, strlen(sh->db_url)))
            return vfail(SHARDY_EINVAL, "shards", sh, "db_url", "is not valid UTF-8");
        if (sh->checkpoint_id && !sy_utf8_valid(sh->checkpoint_id, strlen(sh->checkpoint_id)))
            return vfail(SHARDY_EINVAL, "shards", sh, "checkpoint_id", "is not valid UTF-8");
    }
    return SHARDY_OK;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Appends "[a, b, c]" (at most 32 items, then ", ...") to a fixed buffer. */
static void id_list(const int64_t *ids, size_t n, char *out, size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "[");
    for (size_t i = 0; i < n && o < cap; i++) {
        if (i == 32) {
            o += (size_t)snprintf(out + o, cap - o, ", ...");
            break;
        }
        o += (size_t)snprintf(out + o, cap - o, "%s%lld", i ? ", " : "", (long long)ids[i]);
    }
    if (o < cap) snprintf(out + o, cap - o, "]");
}

/* The structural checks of §3.9 items 5, 6 and 8, in Python's order. */
static shardy_status validate_structure(const sy_manifest *m) {
    shardy_status st = SHARDY_OK;
    int64_t *ids = NULL;
    char list[512];
    if (m->format_version != SY_MANIFEST_FORMAT_VERSION)
        return sy_err(SHARDY_EVERSION, "Unsupported manifest format_version: %lld. Supported: [%d]",
                      (long long)m->format_version, SY_MANIFEST_FORMAT_VERSION);
    if ((uint64_t)m->n_shards > (uint64_t)m->num_dbs)
        return sy_err(SHARDY_EFORMAT, "Manifest shard count exceeds num_dbs: %zu > %lld", m->n_shards,
                      (long long)m->num_dbs);
    if (m->n_shards) {
        ids = sy_malloc(m->n_shards * sizeof *ids);
        if (!ids) return oom("checking shard ids");
        for (size_t i = 0; i < m->n_shards; i++) ids[i] = m->shards[i].db_id;
        qsort(ids, m->n_shards, sizeof *ids, cmp_i64);
        for (size_t i = 1; i < m->n_shards; i++) {
            if (ids[i] == ids[i - 1]) {
                id_list(ids, m->n_shards, list, sizeof list);
                st = sy_err(SHARDY_EFORMAT, "Manifest contains duplicate shard db_ids: %s", list);
                goto done;
            }
        }
        size_t nbad = 0;
        for (size_t i = 0; i < m->n_shards; i++) /* row order, like Python */
            if (m->shards[i].db_id < 0 || m->shards[i].db_id >= m->num_dbs) ids[nbad++] = m->shards[i].db_id;
        if (nbad) {
            id_list(ids, nbad, list, sizeof list);
            st = sy_err(SHARDY_EFORMAT, "Manifest shard db_ids out of range [0, %lld): %s", (long long)m->num_dbs,
                        list);
            goto done;
        }
    }
    if (m->sharding.has_routing_values) {
        int64_t expected = m->sharding.n_routing_values > 1 ? (int64_t)m->sharding.n_routing_values : 1;
        if (m->num_dbs != expected)
            st = sy_err(SHARDY_EFORMAT,
                        "Categorical CEL manifest num_dbs must match routing_values cardinality (expected %lld, got "
                        "%lld)",
                        (long long)expected, (long long)m->num_dbs);
    }
done:
    sy_free(ids);
    return st;
}

static shardy_status validate_inner(const sy_manifest *m, int for_write) {
    shardy_status st;
    if (!m) return sy_err(SHARDY_EINVAL, "manifest is NULL");
    if ((st = check_text("run_id", m->run_id, 0, for_write))) return st;
    if ((st = check_text("s3_prefix", m->s3_prefix, 0, for_write))) return st;
    if ((st = check_text("key_col", m->key_col, 0, for_write))) return st;
    if ((st = check_text("db_path_template", m->db_path_template, 0, for_write))) return st;
    if ((st = check_text("shard_prefix", m->shard_prefix, 0, for_write))) return st;
    if (for_write) {
        char iso[SY_TIME_STRLEN];
        int64_t back = 0;
        sy_time_format_iso(m->created_at_us, iso);
        if (sy_time_parse_iso(iso, &back) || back != m->created_at_us)
            return vfail(SHARDY_EINVAL, "build_meta", NULL, "created_at", "%lld µs is outside years 1..9999",
                         (long long)m->created_at_us);
        if ((st = sy_run_id_check(m->run_id))) return wrap_setting(st, "run_id");
        if ((st = sy_layout_check_prefix("s3_prefix", m->s3_prefix))) return wrap_setting(st, "s3_prefix");
        if ((st = sy_layout_check_segment("shard_prefix", m->shard_prefix))) return wrap_setting(st, "shard_prefix");
        if ((st = sy_layout_check_db_template(m->db_path_template))) return wrap_setting(st, "db_path_template");
    }
    if (m->num_dbs <= 0)
        return vfail(SHARDY_EFORMAT, "build_meta", NULL, "num_dbs", "must be > 0, got %lld", (long long)m->num_dbs);
    if (m->num_dbs > SY_MANIFEST_MAX_NUM_DBS)
        return vfail(SHARDY_EFORMAT, "build_meta", NULL, "num_dbs", "%lld exceeds the supported maximum %d",
                     (long long)m->num_dbs, SY_MANIFEST_MAX_NUM_DBS);
    if ((st = validate_sharding(&m->sharding, for_write))) return st;
    if (!shardy_key_encoding_name(m->key_encoding))
        return vfail(SHARDY_EFORMAT, "build_meta", NULL, "key_encoding", "unknown key encoding %d",
                     (int)m->key_encoding);
    if (!m->custom || !json_object_is_type(m->custom, json_type_object))
        return vfail(SHARDY_EFORMAT, "build_meta", NULL, "custom", "must be a JSON object");
    for (size_t i = 0; i < m->n_shards; i++)
        if ((st = validate_shard_fields(&m->shards[i], for_write))) return st;
    if ((st = validate_structure(m))) return st;
    json_object *vec = NULL;
    if (json_object_object_get_ex(m->custom, "vector", &vec) && json_object_is_type(vec, json_type_object)) {
        json_object *unified = NULL;
        if (!json_object_object_get_ex(vec, "unified", &unified) || !json_truthy(unified))
            return sy_err(SHARDY_EUNSUPPORTED,
                          "This manifest contains unsupported or incomplete vector metadata and cannot be opened "
                          "with a generic KV reader (custom.vector has no truthy 'unified'). Use ShardedVectorReader "
                          "instead.");
    }
    return SHARDY_OK;
}

shardy_status sy_manifest_validate(const sy_manifest *m, int for_write, const char *url) {
    shardy_status st = validate_inner(m, for_write);
    if (st) sy_err_wrap(st, "manifest %.400s", url ? url : "(unpublished)");
    return st;
}

/* ---- padding ------------------------------------------------------------------------------- */

shardy_status sy_manifest_pad(sy_manifest *m) {
    if (!m) return sy_err(SHARDY_EINVAL, "sy_manifest_pad: manifest is NULL");
    if (m->padded) return SHARDY_OK;
    if (m->num_dbs <= 0 || m->num_dbs > SY_MANIFEST_MAX_NUM_DBS)
        return sy_err(SHARDY_EINVAL, "sy_manifest_pad: num_dbs %lld is invalid", (long long)m->num_dbs);
    size_t n = (size_t)m->num_dbs;
    sy_shard *t = sy_calloc(n, sizeof *t);
    if (!t) return oom("padding the shard table");
    for (size_t i = 0; i < m->n_shards; i++) {
        int64_t id = m->shards[i].db_id;
        if (id < 0 || id >= m->num_dbs || t[id].db_id == -1) {
            sy_free(t); /* nothing moved yet is lost: the rows still belong to m->shards */
            return sy_err(SHARDY_EINVAL, "sy_manifest_pad: shard db_id %lld is out of range or repeated",
                          (long long)id);
        }
        t[id] = m->shards[i];
        t[id].db_id = -1; /* "taken" marker; every db_id is rewritten below */
    }
    for (size_t i = 0; i < n; i++) t[i].db_id = (int64_t)i;
    sy_free(m->shards);
    m->shards = t;
    m->n_shards = m->cap_shards = n;
    m->padded = 1;
    return SHARDY_OK;
}

const sy_shard *sy_manifest_find_shard(const sy_manifest *m, int64_t db_id) {
    if (!m || db_id < 0) return NULL;
    if (m->padded) {
        if ((uint64_t)db_id >= (uint64_t)m->n_shards) return NULL;
        return m->shards[db_id].db_url ? &m->shards[db_id] : NULL;
    }
    for (size_t i = 0; i < m->n_shards; i++)
        if (m->shards[i].db_id == db_id) return m->shards[i].db_url ? &m->shards[i] : NULL;
    return NULL;
}
