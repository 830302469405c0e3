/*
 * router.c — CEL routing (cel.md §1.5–1.10, §1.12; DESIGN §3 "Routing").
 *
 * Owns: sy_cel_router (compiled expression + mode + routing-value lookup table), binding of
 * lookup keys and routing contexts to variables, conversion of command-line text per declared
 * column type, the inferred-token set, num_dbs discovery for direct mode, cel_columns type names
 * and the cel_sharding_by_columns expression builder.
 *
 * Invariants: a router is immutable after sy_cel_router_new; its routing values are unique, all
 * integers or all strings, and live in the router's arena; the lookup table holds every value
 * once. Routing never allocates unless an intermediate string outgrows SY_CEL_SCRATCH_INLINE.
 *
 * Failure behaviour (see cel.h): SHARDY_EINVAL for configuration problems (with the Python
 * messages where cel.md gives them: "Unsupported CEL column type: ...", "Failed to compile CEL
 * expression '...': ...", "Routing values must be unique; duplicates=[...]"), SHARDY_EROUTE for
 * rows that cannot be routed, SHARDY_ENOTFOUND for unknown categorical tokens, SHARDY_ENOMEM.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/internal.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "route/key.h"

/* xxhash's header-only mode for hashing tokens inline (same XXH3 as libxxhash). */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- token table (routing values and inferred tokens) --------------------------------------------- */

enum { TOK_EMPTY = 0, TOK_INT = 1, TOK_STR = 2 };

typedef struct tok {
    uint8_t cls;  /* TOK_* */
    uint8_t big;  /* TOK_INT: value above INT64_MAX (bits is the uint64) */
    uint64_t bits;
    const char *s;
    size_t n;
    uint32_t id;
    uint64_t h;
} tok;

typedef struct toktab {
    tok *slots;
    size_t cap; /* power of two */
    size_t count;
} toktab;

/* Key of a value: 0 ok, -1 not a token kind. */
static int tok_of(const sy_cel_value *v, tok *t) {
    memset(t, 0, sizeof *t);
    switch (v->kind) {
    case SY_CEL_INT:
        t->cls = TOK_INT;
        t->bits = (uint64_t)v->v.i;
        break;
    case SY_CEL_UINT:
        t->cls = TOK_INT;
        t->bits = v->v.u;
        t->big = v->v.u > (uint64_t)INT64_MAX;
        break;
    case SY_CEL_STRING:
        t->cls = TOK_STR;
        t->s = v->v.s;
        t->n = v->len;
        t->h = XXH3_64bits(t->s, t->n) ^ 0x5bd1e995u;
        return 0;
    default: return -1;
    }
    unsigned char b[9];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(t->bits >> (8 * i));
    b[8] = t->big;
    t->h = XXH3_64bits(b, 9);
    return 0;
}

static int tok_eq(const tok *a, const tok *b) {
    if (a->cls != b->cls) return 0;
    if (a->cls == TOK_INT) return a->bits == b->bits && a->big == b->big;
    return a->n == b->n && (a->n == 0 || !memcmp(a->s, b->s, a->n));
}

static const tok *tab_find(const toktab *t, const tok *k) {
    if (!t->cap) return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)k->h & mask;; i = (i + 1) & mask) {
        const tok *s = &t->slots[i];
        if (s->cls == TOK_EMPTY) return NULL;
        if (s->h == k->h && tok_eq(s, k)) return s;
    }
}

static int tab_grow(toktab *t) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    tok *slots = sy_calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].cls == TOK_EMPTY) continue;
        size_t j = (size_t)t->slots[i].h & (cap - 1);
        while (slots[j].cls != TOK_EMPTY) j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    sy_free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* Inserts k (must be absent); its string must outlive the table. */
static int tab_insert(toktab *t, const tok *k) {
    if ((t->count + 1) * 2 > t->cap && tab_grow(t)) return -1;
    size_t mask = t->cap - 1, i = (size_t)k->h & mask;
    while (t->slots[i].cls != TOK_EMPTY) i = (i + 1) & mask;
    t->slots[i] = *k;
    t->count++;
    return 0;
}

/* Python repr() of a token, shortened, for messages. */
static void token_repr(const sy_cel_value *v, char *buf, size_t cap) {
    switch (v->kind) {
    case SY_CEL_INT: snprintf(buf, cap, "%lld", (long long)v->v.i); return;
    case SY_CEL_UINT: snprintf(buf, cap, "%llu", (unsigned long long)v->v.u); return;
    case SY_CEL_STRING:
    case SY_CEL_BYTES: {
        size_t o = 0;
        const unsigned char *s = (const unsigned char *)v->v.s;
        if (v->kind == SY_CEL_BYTES && o + 1 < cap) buf[o++] = 'b';
        if (o + 1 < cap) buf[o++] = '\'';
        for (size_t i = 0; i < v->len && o + 8 < cap; i++) {
            unsigned char ch = s[i];
            if (i >= 80) {
                o += (size_t)snprintf(buf + o, cap - o, "...");
                break;
            }
            if (ch == '\'' || ch == '\\')
                o += (size_t)snprintf(buf + o, cap - o, "\\%c", ch);
            else if (ch < 0x20 || ch == 0x7F || (ch >= 0x80 && v->kind == SY_CEL_BYTES))
                o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
            else
                buf[o++] = (char)ch;
        }
        if (o + 1 < cap) buf[o++] = '\'';
        buf[o < cap ? o : cap - 1] = '\0';
        return;
    }
    default: snprintf(buf, cap, "<%s>", sy_cel_kind_name(v->kind)); return;
    }
}

/* Python type name of a rejected result. */
static const char *py_type(sy_cel_kind k) {
    switch (k) {
    case SY_CEL_BOOL: return "bool";
    case SY_CEL_DOUBLE: return "float";
    case SY_CEL_NULL: return "NoneType";
    case SY_CEL_LIST: return "list";
    case SY_CEL_MAP: return "dict";
    case SY_CEL_STRING: return "str";
    case SY_CEL_BYTES: return "bytes";
    default: return "int";
    }
}

/* ---- column types ------------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    sy_cel_kind kind;
} col_types[] = {{"int", SY_CEL_INT},       {"uint", SY_CEL_UINT},   {"double", SY_CEL_DOUBLE},
                 {"string", SY_CEL_STRING}, {"bytes", SY_CEL_BYTES}, {"bool", SY_CEL_BOOL}};

shardy_status sy_cel_type_parse(const char *type, const char *column, sy_cel_kind *out) {
    for (size_t i = 0; type && i < sizeof col_types / sizeof col_types[0]; i++)
        if (!strcmp(type, col_types[i].name)) {
            *out = col_types[i].kind;
            return SHARDY_OK;
        }
    return sy_err(SHARDY_EINVAL,
                  "Unsupported CEL column type: '%.64s' for column '%.64s'. Allowed: ['bool', 'bytes', 'double', "
                  "'int', 'string', 'uint']",
                  type ? type : "None", column ? column : "");
}

const char *sy_cel_type_name(sy_cel_kind k) {
    for (size_t i = 0; i < sizeof col_types / sizeof col_types[0]; i++)
        if (col_types[i].kind == k) return col_types[i].name;
    return NULL;
}

/* ---- values from keys and text ------------------------------------------------------------------------ */

shardy_status sy_cel_value_from_key(const shardy_key *key, sy_cel_kind declared, sy_cel_value *out) {
    if (!key || !out) return sy_err(SHARDY_EINVAL, "sy_cel_value_from_key: NULL argument");
    switch (key->type) {
    case SHARDY_KEY_INT:
        if (declared == SY_CEL_UINT && key->i >= 0)
            *out = sy_cel_uint((uint64_t)key->i);
        else if (declared == SY_CEL_DOUBLE)
            *out = sy_cel_double((double)key->i);
        else
            *out = sy_cel_int(key->i);
        return SHARDY_OK;
    case SHARDY_KEY_UINT:
        if (declared == SY_CEL_INT && key->u <= (uint64_t)INT64_MAX)
            *out = sy_cel_int((int64_t)key->u);
        else if (declared == SY_CEL_DOUBLE)
            *out = sy_cel_double((double)key->u);
        else
            *out = sy_cel_uint(key->u);
        return SHARDY_OK;
    case SHARDY_KEY_STR: *out = sy_cel_str(key->data ? key->data : "", key->len); return SHARDY_OK;
    case SHARDY_KEY_BYTES:
        if (declared == SY_CEL_STRING && sy_cel_utf8_valid(key->data ? key->data : "", key->len))
            *out = sy_cel_str(key->data ? key->data : "", key->len);
        else
            *out = sy_cel_bytes(key->data ? key->data : "", key->len);
        return SHARDY_OK;
    }
    return sy_err(SHARDY_EINVAL, "sy_cel_value_from_key: unknown key type %d", (int)key->type);
}

static int hexd(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int ascii_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

shardy_status sy_cel_value_parse_text(sy_cel_kind kind, const char *column, const char *text, size_t len,
                                      sy_cel_value *out, char **owned) {
    if (owned) *owned = NULL;
    if (!out || (!text && len)) return sy_err(SHARDY_EINVAL, "sy_cel_value_parse_text: NULL argument");
    if (!text) text = "";
    if (!column) column = "?";
    const char *s = text;
    size_t n = len;
    if (kind != SY_CEL_STRING && kind != SY_CEL_BYTES) {
        while (n && ascii_space((unsigned char)*s)) s++, n--;
        while (n && ascii_space((unsigned char)s[n - 1])) n--;
    }
    switch (kind) {
    case SY_CEL_INT:
    case SY_CEL_UINT: {
        size_t i = 0;
        int neg = 0;
        if (kind == SY_CEL_INT && n && (s[0] == '-' || s[0] == '+')) {
            neg = s[0] == '-';
            i = 1;
        }
        uint64_t v = 0;
        int ok = i < n, over = 0;
        for (; i < n && ok; i++) {
            if (s[i] < '0' || s[i] > '9') {
                ok = 0;
                break;
            }
            uint64_t d = (uint64_t)(s[i] - '0');
            if (v > (UINT64_MAX - d) / 10) over = 1;
            v = v * 10 + d;
        }
        if (kind == SY_CEL_INT && ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)))
            over = 1;
        if (!ok || over)
            return sy_err(SHARDY_EINVAL, "routing context '%.64s': '%.64s' is not a valid %s%s", column, text,
                          sy_cel_kind_name(kind), over && ok ? " (out of range)" : "");
        *out = kind == SY_CEL_INT ? sy_cel_int(neg ? (int64_t)(0 - v) : (int64_t)v) : sy_cel_uint(v);
        return SHARDY_OK;
    }
    case SY_CEL_DOUBLE: {
        char buf[128];
        if (n == 0 || n >= sizeof buf || ascii_space((unsigned char)s[0]))
            return sy_err(SHARDY_EINVAL, "routing context '%.64s': '%.64s' is not a valid double", column, text);
        memcpy(buf, s, n);
        buf[n] = '\0';
        char *end;
        double d = strtod(buf, &end);
        if (end != buf + n || (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')))
            return sy_err(SHARDY_EINVAL, "routing context '%.64s': '%.64s' is not a valid double", column, text);
        *out = sy_cel_double(d);
        return SHARDY_OK;
    }
    case SY_CEL_BOOL: {
        static const char *const t[] = {"true", "True", "TRUE", "t", "1"};
        static const char *const f[] = {"false", "False", "FALSE", "f", "0"};
        for (size_t i = 0; i < 5; i++) {
            if (strlen(t[i]) == n && !memcmp(t[i], s, n)) {
                *out = sy_cel_bool(1);
                return SHARDY_OK;
            }
            if (strlen(f[i]) == n && !memcmp(f[i], s, n)) {
                *out = sy_cel_bool(0);
                return SHARDY_OK;
            }
        }
        return sy_err(SHARDY_EINVAL, "routing context '%.64s': '%.64s' is not a valid bool (true or false)", column,
                      text);
    }
    case SY_CEL_STRING:
        if (!sy_cel_utf8_valid(s, n))
            return sy_err(SHARDY_EINVAL, "routing context '%.64s': the value is not valid UTF-8", column);
        *out = sy_cel_str(s, n);
        return SHARDY_OK;
    case SY_CEL_BYTES:
        if (n >= 4 && !memcmp(s, "hex:", 4)) {
            size_t h = n - 4;
            if (h % 2)
                return sy_err(SHARDY_EINVAL, "routing context '%.64s': hex: needs an even number of hex digits",
                              column);
            char *b = sy_malloc(h / 2 + 1);
            if (!b) return sy_err(SHARDY_ENOMEM, "out of memory converting routing context '%.64s'", column);
            for (size_t i = 0; i < h / 2; i++) {
                int hi = hexd((unsigned char)s[4 + 2 * i]), lo = hexd((unsigned char)s[5 + 2 * i]);
                if (hi < 0 || lo < 0) {
                    sy_free(b);
                    return sy_err(SHARDY_EINVAL, "routing context '%.64s': '%.64s' is not valid hex", column, text);
                }
                b[i] = (char)(hi * 16 + lo);
            }
            if (!owned) {
                sy_free(b);
                return sy_err(SHARDY_EINVAL, "sy_cel_value_parse_text: owned must not be NULL for hex bytes");
            }
            *owned = b;
            *out = sy_cel_bytes(b, h / 2);
            return SHARDY_OK;
        }
        *out = sy_cel_bytes(s, n);
        return SHARDY_OK;
    default: return sy_err(SHARDY_EINVAL, "routing context '%.64s': unsupported column kind", column);
    }
}

/* ---- routers --------------------------------------------------------------------------------------------- */

struct sy_cel_router {
    sy_cel_program *prog;
    sy_cel_mode mode;
    uint32_t num_dbs;
    int key_only;
    sy_cel_value *values; /* categorical values (arena strings) */
    size_t nvalues;
    toktab tab;
    sy_cel_arena arena;
    char expr_short[104]; /* for messages */
};

static void shorten(const char *expr, char *buf, size_t cap) {
    size_t n = strlen(expr);
    if (n < cap) {
        memcpy(buf, expr, n + 1);
        return;
    }
    size_t k = cap - 4;
    while (k > 0 && ((unsigned char)expr[k] & 0xC0) == 0x80) k--;
    memcpy(buf, expr, k);
    memcpy(buf + k, "...", 4);
}

void sy_cel_router_free(sy_cel_router **rp) {
    if (!rp || !*rp) return;
    sy_cel_router *r = *rp;
    sy_cel_program_free(&r->prog);
    sy_free(r->tab.slots);
    sy_cel_arena_free(&r->arena);
    sy_free(r);
    *rp = NULL;
}

static shardy_status check_result_type(const sy_cel_router *r) {
    sy_cel_kind k = sy_cel_program_result_kind(r->prog);
    const char *t = sy_cel_program_result_type(r->prog);
    if (k == SY_CEL_DYN) return SHARDY_OK;
    if (r->mode == SY_CEL_DIRECT) {
        if (k == SY_CEL_INT || k == SY_CEL_UINT) return SHARDY_OK;
        if (k == SY_CEL_STRING || k == SY_CEL_BYTES)
            return sy_err(SHARDY_EINVAL,
                          "CEL expression '%s' returns %s, but direct routing (no routing_values) needs an int or uint "
                          "result, the db_id; give routing_values (or infer them) for categorical routing",
                          r->expr_short, t);
        return sy_err(SHARDY_EINVAL,
                      "CEL expression '%s' returns %s; CEL expression must return int, str, or bytes (direct routing "
                      "needs an int or uint db_id)",
                      r->expr_short, t);
    }
    if (k == SY_CEL_INT || k == SY_CEL_UINT || k == SY_CEL_STRING) return SHARDY_OK;
    if (k == SY_CEL_BYTES)
        return sy_err(SHARDY_EINVAL,
                      "CEL expression '%s' returns bytes; bytes routing values are not supported (they cannot be "
                      "stored in the manifest), convert the result with string(...)",
                      r->expr_short);
    return sy_err(SHARDY_EINVAL, "CEL expression '%s' returns %s; CEL expression must return int, str, or bytes",
                  r->expr_short, t);
}

static shardy_status set_values(sy_cel_router *r, const sy_cel_value *values, size_t n) {
    r->values = sy_cel_arena_alloc(&r->arena, (n ? n : 1) * sizeof *r->values);
    if (!r->values) return sy_err(SHARDY_ENOMEM, "out of memory building a CEL router");
    int cls = 0;
    for (size_t i = 0; i < n; i++) {
        const sy_cel_value *v = &values[i];
        tok t;
        if (v->kind == SY_CEL_BYTES)
            return sy_err(SHARDY_EINVAL, "routing value %zu is bytes; bytes routing values are not supported (they "
                                         "cannot round-trip through the manifest)", i);
        if (tok_of(v, &t))
            return sy_err(SHARDY_EINVAL, "routing value %zu has kind %s; routing values must be int or str", i,
                          sy_cel_kind_name(v->kind));
        if (v->kind == SY_CEL_STRING && !sy_cel_utf8_valid(v->v.s, v->len))
            return sy_err(SHARDY_EINVAL, "routing value %zu is not valid UTF-8", i);
        if (cls && t.cls != cls)
            return sy_err(SHARDY_EINVAL, "Routing values must all share the same type (all int or all str)");
        cls = t.cls;
        if (tab_find(&r->tab, &t)) {
            char rep[128];
            token_repr(v, rep, sizeof rep);
            return sy_err(SHARDY_EINVAL, "Routing values must be unique; duplicates=[%s]", rep);
        }
        if (sy_cel_value_copy(&r->arena, v, &r->values[i])) return sy_err(SHARDY_ENOMEM, "out of memory building a CEL router");
        tok_of(&r->values[i], &t); /* point at the copy */
        t.id = (uint32_t)i;
        if (tab_insert(&r->tab, &t)) return sy_err(SHARDY_ENOMEM, "out of memory building a CEL router");
    }
    r->nvalues = n;
    return SHARDY_OK;
}

shardy_status sy_cel_router_new(const char *expr, const sy_cel_colspec *cols, size_t ncols,
                                const sy_cel_value *values, size_t nvalues, int categorical, int64_t num_dbs,
                                sy_cel_router **out) {
    shardy_status st = SHARDY_OK;
    sy_cel_router *r = NULL;
    sy_cel_var *vars = NULL;
    if (!out) return sy_err(SHARDY_EINVAL, "sy_cel_router_new: NULL argument");
    *out = NULL;
    if (!expr || !*expr) return sy_err(SHARDY_EINVAL, "CEL strategy requires cel_expr");
    if (!cols || ncols == 0) return sy_err(SHARDY_EINVAL, "CEL strategy requires cel_columns");
    if (!categorical && (values || nvalues))
        return sy_err(SHARDY_EINVAL, "routing values were given but the router is not categorical");
    if (nvalues && !values) return sy_err(SHARDY_EINVAL, "sy_cel_router_new: NULL routing values");
    if (!categorical && (num_dbs < 0 || num_dbs > SY_CEL_MAX_DIRECT_DB_ID))
        return sy_err(SHARDY_EINVAL, "num_dbs %lld is out of range [0, %d]", (long long)num_dbs,
                      SY_CEL_MAX_DIRECT_DB_ID);
    if (categorical && nvalues > SY_CEL_MAX_DIRECT_DB_ID)
        return sy_err(SHARDY_EINVAL, "%zu routing values exceed the maximum of %d shards", nvalues,
                      SY_CEL_MAX_DIRECT_DB_ID);
    vars = sy_calloc(ncols, sizeof *vars);
    r = sy_calloc(1, sizeof *r);
    if (!vars || !r) {
        st = sy_err(SHARDY_ENOMEM, "out of memory building a CEL router");
        goto done;
    }
    for (size_t i = 0; i < ncols; i++) {
        if (!cols[i].name || !cols[i].name[0]) {
            st = sy_err(SHARDY_EINVAL, "cel_columns entry %zu has an empty name", i);
            goto done;
        }
        vars[i].name = cols[i].name;
        SY_TRY(sy_cel_type_parse(cols[i].type, cols[i].name, &vars[i].type));
    }
    shorten(expr, r->expr_short, sizeof r->expr_short);
    st = sy_cel_compile(expr, vars, ncols, &r->prog);
    if (st == SHARDY_EINVAL) st = sy_err_wrap(st, "Failed to compile CEL expression '%s'", r->expr_short);
    if (st) goto done;
    r->mode = categorical ? SY_CEL_CATEGORICAL : SY_CEL_DIRECT;
    r->key_only = ncols == 1 && !strcmp(cols[0].name, "key");
    SY_TRY(check_result_type(r));
    if (categorical) {
        SY_TRY(set_values(r, values, nvalues));
        r->num_dbs = nvalues ? (uint32_t)nvalues : 1;
    } else {
        r->num_dbs = (uint32_t)num_dbs;
    }
    *out = r;
    r = NULL;
done:
    sy_free(vars);
    sy_cel_router_free(&r);
    return st;
}

sy_cel_mode sy_cel_router_mode(const sy_cel_router *r) { return r->mode; }
uint32_t sy_cel_router_num_dbs(const sy_cel_router *r) { return r->num_dbs; }
size_t sy_cel_router_nvars(const sy_cel_router *r) { return sy_cel_program_nvars(r->prog); }
int sy_cel_router_var_index(const sy_cel_router *r, const char *name) {
    return sy_cel_program_var_index(r->prog, name);
}
sy_cel_kind sy_cel_router_var_kind(const sy_cel_router *r, size_t i) {
    return i < r->prog->nvars ? r->prog->vars[i].type : SY_CEL_UNSET;
}
const char *sy_cel_router_var_name(const sy_cel_router *r, size_t i) {
    return i < r->prog->nvars ? r->prog->vars[i].name : NULL;
}
int sy_cel_router_key_only(const sy_cel_router *r) { return r->key_only; }
const sy_cel_program *sy_cel_router_program(const sy_cel_router *r) { return r->prog; }

/* Evaluates into *v with a reset scratch; wraps evaluation errors with the expression. */
static shardy_status evaluate(const sy_cel_router *r, const sy_cel_value *args, sy_cel_scratch *s, sy_cel_value *v) {
    sy_cel_ectx c = {args, s};
    sy_cel_ev(r->prog, r->prog->root, &c, v);
    if (v->kind != SY_CEL_ERROR) return SHARDY_OK;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "CEL expression '%s': evaluation error", r->expr_short);
    return sy_cel_error_status(v, prefix);
}

static shardy_status resolve(const sy_cel_router *r, const sy_cel_value *v, uint32_t *db_id) {
    if (r->mode == SY_CEL_DIRECT) {
        uint64_t id;
        if (v->kind == SY_CEL_INT) {
            if (v->v.i < 0)
                return sy_err(SHARDY_EROUTE, "CEL expression '%s' gave db_id %lld, which is out of range [0, %u)",
                              r->expr_short, (long long)v->v.i, r->num_dbs);
            id = (uint64_t)v->v.i;
        } else if (v->kind == SY_CEL_UINT) {
            id = v->v.u;
        } else {
            return sy_err(SHARDY_EROUTE, "CEL expression '%s' returned %s; direct routing needs an int or uint db_id",
                          r->expr_short, py_type(v->kind));
        }
        if (r->num_dbs ? id >= r->num_dbs : id >= SY_CEL_MAX_DIRECT_DB_ID) {
            if (r->num_dbs)
                return sy_err(SHARDY_EROUTE, "CEL expression '%s' gave db_id %llu, which is out of range [0, %u)",
                              r->expr_short, (unsigned long long)id, r->num_dbs);
            return sy_err(SHARDY_EROUTE,
                          "CEL expression '%s' gave db_id %llu, above the largest possible db_id %d (direct routing "
                          "uses the result as the shard number)",
                          r->expr_short, (unsigned long long)id, SY_CEL_MAX_DIRECT_DB_ID - 1);
        }
        *db_id = (uint32_t)id;
        return SHARDY_OK;
    }
    tok t;
    if (tok_of(v, &t)) {
        if (v->kind == SY_CEL_BYTES) {
            char rep[128];
            token_repr(v, rep, sizeof rep);
            return sy_err(SHARDY_ENOTFOUND, "Categorical CEL routing token %s is not present in this snapshot.", rep);
        }
        return sy_err(SHARDY_EROUTE, "CEL expression '%s': CEL expression must return int, str, or bytes; got %s",
                      r->expr_short, py_type(v->kind));
    }
    const tok *hit = tab_find(&r->tab, &t);
    if (!hit) {
        char rep[128];
        token_repr(v, rep, sizeof rep);
        return sy_err(SHARDY_ENOTFOUND, "Categorical CEL routing token %s is not present in this snapshot.", rep);
    }
    *db_id = hit->id;
    return SHARDY_OK;
}

shardy_status sy_cel_router_route(const sy_cel_router *r, const sy_cel_value *args, uint32_t *db_id) {
    if (!r || !db_id) return sy_err(SHARDY_EINVAL, "sy_cel_router_route: NULL argument");
    sy_cel_scratch s;
    sy_cel_value v;
    sy_cel_scratch_init(&s);
    shardy_status st = evaluate(r, args, &s, &v);
    if (!st) st = resolve(r, &v, db_id);
    if (s.heap) sy_cel_scratch_release(&s);
    return st;
}

static void column_list(const sy_cel_router *r, char *cols, size_t cap) {
    size_t n = 0;
    cols[0] = '\0';
    for (size_t i = 0; i < r->prog->nvars && n < cap; i++)
        n += (size_t)snprintf(cols + n, cap - n, "%s%s", i ? ", " : "", r->prog->vars[i].name);
}

shardy_status sy_cel_router_route_key(const sy_cel_router *r, const shardy_key *key, uint32_t *db_id) {
    if (!r || !key || !db_id) return sy_err(SHARDY_EINVAL, "sy_cel_router_route_key: NULL argument");
    char cols[200];
    int idx = sy_cel_program_var_index(r->prog, "key");
    if (idx < 0) {
        column_list(r, cols, sizeof cols);
        return sy_err(SHARDY_EROUTE,
                      "CEL sharding with cel_columns [%s] needs a routing_context for lookups; routing by the key "
                      "alone only works when a cel_columns entry is named \"key\"",
                      cols);
    }
    sy_cel_value local[16];
    size_t nv = r->prog->nvars;
    sy_cel_value *args = nv <= 16 ? local : sy_calloc(nv, sizeof *args);
    if (!args) return sy_err(SHARDY_ENOMEM, "out of memory routing a key");
    memset(args, 0, nv * sizeof *args);
    shardy_status st = sy_cel_value_from_key(key, r->prog->vars[idx].type, &args[idx]);
    sy_cel_scratch s;
    sy_cel_value v;
    sy_cel_scratch_init(&s);
    if (!st) {
        sy_cel_ectx c = {args, &s};
        sy_cel_ev(r->prog, r->prog->root, &c, &v);
        if (v.kind == SY_CEL_ERROR && v.code == SY_CEL_E_UNBOUND && v.v.arg && strcmp(v.v.arg, "key")) {
            column_list(r, cols, sizeof cols);
            st = sy_err(SHARDY_EROUTE,
                        "CEL expression '%s' reads column '%s', which a lookup by key alone cannot provide; pass a "
                        "routing_context with the cel_columns [%s]",
                        r->expr_short, v.v.arg, cols);
        } else if (v.kind == SY_CEL_ERROR) {
            char prefix[160];
            snprintf(prefix, sizeof prefix, "CEL expression '%s': evaluation error", r->expr_short);
            st = sy_cel_error_status(&v, prefix);
        } else {
            st = resolve(r, &v, db_id);
        }
    }
    if (s.heap) sy_cel_scratch_release(&s);
    if (args != local) sy_free(args);
    return st;
}

shardy_status sy_cel_router_route_named(const sy_cel_router *r, const sy_cel_binding *ctx, size_t n,
                                        uint32_t *db_id) {
    if (!r || !db_id || (!ctx && n)) return sy_err(SHARDY_EINVAL, "sy_cel_router_route_named: NULL argument");
    sy_cel_value local[16];
    size_t nv = r->prog->nvars;
    sy_cel_value *args = nv <= 16 ? local : sy_calloc(nv, sizeof *args);
    if (!args) return sy_err(SHARDY_ENOMEM, "out of memory routing with a context");
    memset(args, 0, nv * sizeof *args);
    for (size_t i = 0; i < n; i++) {
        int idx = ctx[i].name ? sy_cel_program_var_index(r->prog, ctx[i].name) : -1;
        if (idx >= 0) args[idx] = ctx[i].value;
    }
    shardy_status st = sy_cel_router_route(r, args, db_id);
    if (args != local) sy_free(args);
    return st;
}

shardy_status sy_cel_router_bind_text(const sy_cel_router *r, const char *name, const char *text, sy_cel_value *args,
                                      char **owned) {
    if (owned) *owned = NULL;
    if (!r || !name || !text || !args) return sy_err(SHARDY_EINVAL, "sy_cel_router_bind_text: NULL argument");
    int idx = sy_cel_program_var_index(r->prog, name);
    if (idx < 0) {
        char cols[200];
        column_list(r, cols, sizeof cols);
        return sy_err(SHARDY_ENOTFOUND, "routing context key '%.64s' is not a CEL column (cel_columns: %s)", name,
                      cols);
    }
    return sy_cel_value_parse_text(r->prog->vars[idx].type, name, text, strlen(text), &args[idx], owned);
}

shardy_status sy_cel_router_token(const sy_cel_router *r, const sy_cel_value *args, sy_cel_scratch *scratch,
                                  sy_cel_value *token) {
    if (!r || !scratch || !token) return sy_err(SHARDY_EINVAL, "sy_cel_router_token: NULL argument");
    sy_cel_scratch_reset(scratch);
    shardy_status st = evaluate(r, args, scratch, token);
    if (st) return st;
    if (token->kind == SY_CEL_INT || token->kind == SY_CEL_UINT || token->kind == SY_CEL_STRING) return SHARDY_OK;
    if (token->kind == SY_CEL_BYTES)
        return sy_err(SHARDY_EROUTE, "CEL expression '%s' returned bytes; bytes routing values are not supported",
                      r->expr_short);
    return sy_err(SHARDY_EROUTE, "CEL expression '%s': CEL expression must return int, str, or bytes; got %s",
                  r->expr_short, py_type(token->kind));
}

/* ---- inferred tokens ------------------------------------------------------------------------------------- */

struct sy_cel_token_set {
    toktab tab;
    sy_cel_arena arena;
    sy_cel_value *sorted; /* sy_malloc'd, rebuilt by sy_cel_token_set_values */
    size_t nsorted;
};

shardy_status sy_cel_token_set_new(sy_cel_token_set **out) {
    if (!out) return sy_err(SHARDY_EINVAL, "sy_cel_token_set_new: NULL argument");
    *out = sy_calloc(1, sizeof **out);
    return *out ? SHARDY_OK : sy_err(SHARDY_ENOMEM, "out of memory creating a token set");
}

void sy_cel_token_set_free(sy_cel_token_set **sp) {
    if (!sp || !*sp) return;
    sy_free((*sp)->tab.slots);
    sy_free((*sp)->sorted);
    sy_cel_arena_free(&(*sp)->arena);
    sy_free(*sp);
    *sp = NULL;
}

size_t sy_cel_token_set_count(const sy_cel_token_set *s) { return s->tab.count; }

shardy_status sy_cel_token_set_add(sy_cel_token_set *s, const sy_cel_value *token) {
    tok t;
    if (!s || !token) return sy_err(SHARDY_EINVAL, "sy_cel_token_set_add: NULL argument");
    if (tok_of(token, &t))
        return sy_err(SHARDY_EINVAL, "routing token of kind %s; inferred routing values must be int or str",
                      sy_cel_kind_name(token->kind));
    if (s->tab.count) {
        const tok *any = NULL;
        for (size_t i = 0; i < s->tab.cap && !any; i++)
            if (s->tab.slots[i].cls != TOK_EMPTY) any = &s->tab.slots[i];
        if (any->cls != t.cls)
            return sy_err(SHARDY_EINVAL, "Inferred CEL routing values must all share the same type; got %s and %s",
                          any->cls == TOK_INT ? "int" : "str", t.cls == TOK_INT ? "int" : "str");
    }
    if (tab_find(&s->tab, &t)) return SHARDY_OK;
    if (t.cls == TOK_STR) {
        char *copy = sy_cel_arena_dup(&s->arena, t.s, t.n);
        if (!copy) return sy_err(SHARDY_ENOMEM, "out of memory adding a routing token");
        t.s = copy;
    }
    if (tab_insert(&s->tab, &t)) return sy_err(SHARDY_ENOMEM, "out of memory adding a routing token");
    return SHARDY_OK;
}

static int tok_cmp(const void *pa, const void *pb) {
    const sy_cel_value *a = pa, *b = pb;
    if (a->kind == SY_CEL_STRING) {
        size_t n = a->len < b->len ? a->len : b->len;
        int r = n ? memcmp(a->v.s, b->v.s, n) : 0;
        if (r) return r;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    /* integers: INT (any sign) before UINT (> INT64_MAX) */
    if (a->kind != b->kind) return a->kind == SY_CEL_INT ? -1 : 1;
    if (a->kind == SY_CEL_INT) return a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
    return a->v.u < b->v.u ? -1 : a->v.u > b->v.u;
}

shardy_status sy_cel_token_set_values(sy_cel_token_set *s, const sy_cel_value **values, size_t *n) {
    if (!s || !values || !n) return sy_err(SHARDY_EINVAL, "sy_cel_token_set_values: NULL argument");
    sy_cel_value *v = sy_calloc(s->tab.count ? s->tab.count : 1, sizeof *v);
    if (!v) return sy_err(SHARDY_ENOMEM, "out of memory sorting routing tokens");
    size_t k = 0;
    for (size_t i = 0; i < s->tab.cap; i++) {
        const tok *t = &s->tab.slots[i];
        if (t->cls == TOK_STR)
            v[k++] = sy_cel_str(t->s, t->n);
        else if (t->cls == TOK_INT)
            v[k++] = t->big ? sy_cel_uint(t->bits) : sy_cel_int((int64_t)t->bits);
    }
    qsort(v, k, sizeof *v, tok_cmp);
    sy_free(s->sorted);
    s->sorted = v;
    s->nsorted = k;
    *values = v;
    *n = k;
    return SHARDY_OK;
}

shardy_status sy_cel_discover_num_dbs(const uint32_t *ids, size_t n, uint32_t *num_dbs) {
    if (!num_dbs || (!ids && n)) return sy_err(SHARDY_EINVAL, "sy_cel_discover_num_dbs: NULL argument");
    if (n == 0) {
        *num_dbs = 1;
        return SHARDY_OK;
    }
    uint32_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] > max) max = ids[i];
    size_t distinct = 0;
    if ((size_t)max < n) {
        unsigned char *seen = sy_calloc((size_t)max + 1, 1);
        if (!seen) return sy_err(SHARDY_ENOMEM, "out of memory discovering num_dbs");
        for (size_t i = 0; i < n; i++)
            if (!seen[ids[i]]) {
                seen[ids[i]] = 1;
                distinct++;
            }
        sy_free(seen);
        if (distinct == (size_t)max + 1) {
            *num_dbs = max + 1;
            return SHARDY_OK;
        }
    }
    return sy_err(SHARDY_EROUTE,
                  "CEL direct routing produced non-consecutive db_ids: the largest is %u but ids 0..%u are not all "
                  "present (direct mode needs every id from 0 to the largest; prefer categorical routing or the HASH "
                  "strategy for a fixed shard count)",
                  max, max);
}

/* ---- expression builder ----------------------------------------------------------------------------------- */

/* Appends the separator as a double-quoted CEL string literal, escaped like Python json.dumps
 * (ensure_ascii) except that code points above U+FFFF use \U escapes (valid CEL). */
static shardy_status put_sep(sy_buf *b, const char *sep) {
    shardy_status st = sy_buf_putc(b, '"');
    const unsigned char *s = (const unsigned char *)sep;
    size_t n = strlen(sep), i = 0;
    while (!st && i < n) {
        uint32_t cp;
        i += sy_cel_utf8_next(s + i, n - i, &cp);
        switch (cp) {
        case '"': st = sy_buf_puts(b, "\\\""); break;
        case '\\': st = sy_buf_puts(b, "\\\\"); break;
        case '\n': st = sy_buf_puts(b, "\\n"); break;
        case '\r': st = sy_buf_puts(b, "\\r"); break;
        case '\t': st = sy_buf_puts(b, "\\t"); break;
        case '\b': st = sy_buf_puts(b, "\\b"); break;
        case '\f': st = sy_buf_puts(b, "\\f"); break;
        default:
            if (cp < 0x20 || (cp >= 0x80 && cp <= 0xFFFF))
                st = sy_buf_printf(b, "\\u%04x", (unsigned)cp);
            else if (cp > 0xFFFF)
                st = sy_buf_printf(b, "\\U%08x", (unsigned)cp);
            else
                st = sy_buf_putc(b, (char)cp);
        }
    }
    return st ? st : sy_buf_putc(b, '"');
}

shardy_status sy_cel_build_expr(const sy_cel_colspec *cols, size_t ncols, const int64_t *num_shards,
                                const char *separator, char **expr, int *infer) {
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    if (!expr || !infer || (!cols && ncols)) return sy_err(SHARDY_EINVAL, "sy_cel_build_expr: NULL argument");
    *expr = NULL;
    if (ncols == 0) return sy_err(SHARDY_EINVAL, "cel_sharding_by_columns requires at least one column");
    if (num_shards && *num_shards < 1)
        return sy_err(SHARDY_EINVAL, "num_shards must be >= 1; got %lld", (long long)*num_shards);
    if (!separator) separator = ":";
    if (!sy_cel_utf8_valid(separator, strlen(separator)))
        return sy_err(SHARDY_EINVAL, "the separator is not valid UTF-8");
    if (num_shards) SY_TRY(sy_buf_puts(&b, "shard_hash("));
    for (size_t i = 0; i < ncols; i++) {
        sy_cel_kind k;
        if (!cols[i].name || !cols[i].name[0]) {
            st = sy_err(SHARDY_EINVAL, "column %zu has an empty name", i);
            goto done;
        }
        SY_TRY(sy_cel_type_parse(cols[i].type, cols[i].name, &k));
        if (i) {
            SY_TRY(sy_buf_puts(&b, " + "));
            SY_TRY(put_sep(&b, separator));
            SY_TRY(sy_buf_puts(&b, " + "));
        }
        int wrap = ncols == 1 ? (k == SY_CEL_BOOL || k == SY_CEL_DOUBLE) : k != SY_CEL_STRING;
        SY_TRY(sy_buf_printf(&b, wrap ? "string(%s)" : "%s", cols[i].name));
    }
    if (num_shards) SY_TRY(sy_buf_printf(&b, ") %% %lldu", (long long)*num_shards));
    *infer = num_shards == NULL;
    *expr = sy_buf_take(&b);
done:
    sy_buf_free(&b);
    return st;
}
