/*
 * test_cel_conformance.c — runs the official cel-spec conformance tests (the textproto files in
 * <shared>/testdata/cel-spec, spec cel.md §3) against src/cel.
 *
 * The directory is $SHARDY_CEL_SPEC_DIR, else $SHARDY_SOURCE_DIR/../shared/testdata/cel-spec, else
 * (for a git worktree) the same path next to the main checkout, else the workplace's shared folder
 * /work/shared/testdata/cel-spec (a clean clone elsewhere, as CI makes). If none exists the test FAILS: a
 * conformance run that silently finds nothing must not look green.
 *
 * A small reader for the protobuf text format (nested messages, `name: value`, `name { ... }`,
 * quoted strings with C escapes and adjacent-string concatenation, identifiers and numbers such as
 * inf/-inf/NaN, # comments, [extension] names) turns each file into a tree; SimpleTestFile,
 * SimpleTestSection, SimpleTest, Decl, Type and Value are then read from it.
 *
 * Every test runs unless it needs a feature outside the routing subset; those are skipped with a
 * reason from the explicit list below (by file, by file/section, or by feature found in the test).
 * Tests marked disable_check run with SY_CEL_NO_CHECK. An expected value must match exactly (int
 * and uint are different, NaN matches NaN, maps ignore order); an expected error is met by any
 * compile or evaluation error. The last line is "N passed, N failed, N skipped".
 */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel/cel.h"

/* ---- skip list --------------------------------------------------------------------------------------- */

static const struct {
    const char *file;
    const char *section; /* NULL: whole file */
    const char *reason;
} skip_sections[] = {
    {"macros", NULL, "comprehension macros (MAY tier: rejected at compile time)"},
    {"comparisons", "eq_wrapper", "uses protobuf wrapper types"},
    {"conversions", "type", "uses type() and type denotations (MAY tier)"},
    {"conversions", "dyn", "uses type() (MAY tier)"},
    {"parse", "struct_field_names", "uses protobuf messages"},
};

/* Features detected in a test's expression or expectations. */
static const struct {
    const char *needle;
    const char *reason;
} skip_features[] = {
    {"TestAllTypes", "uses protobuf messages"},
    {"google.protobuf", "uses protobuf messages"},
    {"timestamp(", "uses timestamps/durations"},
    {"duration(", "uses timestamps/durations"},
    {"type(", "uses type() (MAY tier)"},
};

/* ---- small growable helpers ----------------------------------------------------------------------------- */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* Allocations of one test, freed together. */
typedef struct pool {
    void **p;
    size_t n, cap;
} pool;

static void *palloc(pool *P, size_t n) {
    if (P->n == P->cap) {
        P->cap = P->cap ? P->cap * 2 : 16;
        P->p = xrealloc(P->p, P->cap * sizeof *P->p);
    }
    void *m = calloc(1, n ? n : 1);
    if (!m) exit(2);
    P->p[P->n++] = m;
    return m;
}

static void pool_free(pool *P) {
    for (size_t i = 0; i < P->n; i++) free(P->p[i]);
    free(P->p);
    memset(P, 0, sizeof *P);
}

/* ---- textproto reader --------------------------------------------------------------------------------------- */

typedef struct tp_msg tp_msg;
typedef struct tp_field {
    char *name;
    tp_msg *msg;   /* message value, or NULL */
    char *text;    /* scalar: decoded string bytes, or the identifier/number text */
    size_t len;
    int quoted;
} tp_field;

struct tp_msg {
    tp_field *f;
    size_t n, cap;
};

typedef struct tp_reader {
    const char *s;
    size_t n, i;
    int line;
    const char *path;
    int err;
} tp_reader;

static void tp_fail(tp_reader *R, const char *what) {
    if (!R->err) fprintf(stderr, "%s:%d: textproto: %s\n", R->path, R->line, what);
    R->err = 1;
}

static void tp_space(tp_reader *R) {
    while (R->i < R->n) {
        char c = R->s[R->i];
        if (c == '\n') {
            R->line++;
            R->i++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            R->i++;
        } else if (c == '#') {
            while (R->i < R->n && R->s[R->i] != '\n') R->i++;
        } else {
            break;
        }
    }
}

static int tp_is_word(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '+';
}

static size_t put_utf8(uint32_t cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hexv(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes one quoted string at R->i, appending to *buf. */
static void tp_string(tp_reader *R, char **buf, size_t *len) {
    char q = R->s[R->i++];
    char *o = xrealloc(*buf, *len + (R->n - R->i) + 1);
    size_t k = *len;
    while (R->i < R->n && R->s[R->i] != q) {
        char c = R->s[R->i++];
        if (c == '\n') {
            tp_fail(R, "newline in string");
            break;
        }
        if (c != '\\') {
            o[k++] = c;
            continue;
        }
        if (R->i >= R->n) break;
        char e = R->s[R->i++];
        switch (e) {
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\\':
        case '\'':
        case '"':
        case '?': o[k++] = e; break;
        case 'x':
        case 'X': {
            int v = 0, nd = 0;
            while (nd < 2 && R->i < R->n && hexv((unsigned char)R->s[R->i]) >= 0)
                v = v * 16 + hexv((unsigned char)R->s[R->i++]), nd++;
            if (!nd) tp_fail(R, "bad \\x escape");
            o[k++] = (char)v;
            break;
        }
        case 'u':
        case 'U': {
            int nd = e == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int d = 0; d < nd; d++) {
                int h = R->i < R->n ? hexv((unsigned char)R->s[R->i]) : -1;
                if (h < 0) {
                    tp_fail(R, "bad \\u escape");
                    break;
                }
                v = v * 16 + (uint32_t)h;
                R->i++;
            }
            k += put_utf8(v, o + k);
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                int v = e - '0', nd = 1;
                while (nd < 3 && R->i < R->n && R->s[R->i] >= '0' && R->s[R->i] <= '7')
                    v = v * 8 + (R->s[R->i++] - '0'), nd++;
                o[k++] = (char)v;
            } else {
                tp_fail(R, "unknown escape");
            }
        }
    }
    if (R->i >= R->n) tp_fail(R, "unterminated string");
    R->i++;
    o[k] = '\0';
    *buf = o;
    *len = k;
}

static void tp_msg_free(tp_msg *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->f[i].name);
        free(m->f[i].text);
        tp_msg_free(m->f[i].msg);
    }
    free(m->f);
    free(m);
}

static tp_msg *tp_message(tp_reader *R, char close, int depth);

static void tp_value(tp_reader *R, tp_msg *m, char *name, int depth) {
    tp_space(R);
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->f = xrealloc(m->f, m->cap * sizeof *m->f);
    }
    tp_field *f = &m->f[m->n++];
    memset(f, 0, sizeof *f);
    f->name = name;
    char c = R->i < R->n ? R->s[R->i] : 0;
    if (c == '{' || c == '<') {
        R->i++;
        f->msg = tp_message(R, c == '{' ? '}' : '>', depth + 1);
    } else if (c == '"' || c == '\'') {
        f->quoted = 1;
        while (!R->err && R->i < R->n && (R->s[R->i] == '"' || R->s[R->i] == '\'')) {
            tp_string(R, &f->text, &f->len);
            tp_space(R);
        }
    } else {
        size_t b = R->i;
        while (R->i < R->n && tp_is_word((unsigned char)R->s[R->i])) R->i++;
        if (R->i == b) {
            tp_fail(R, "expected a value");
            return;
        }
        f->len = R->i - b;
        f->text = xmalloc(f->len + 1);
        memcpy(f->text, R->s + b, f->len);
        f->text[f->len] = '\0';
    }
}

static tp_msg *tp_message(tp_reader *R, char close, int depth) {
    tp_msg *m = xmalloc(sizeof *m);
    memset(m, 0, sizeof *m);
    if (depth > 64) {
        tp_fail(R, "nesting too deep");
        return m;
    }
    for (;;) {
        tp_space(R);
        if (R->err) return m;
        if (R->i >= R->n) {
            if (close) tp_fail(R, "missing closing brace");
            return m;
        }
        if (R->s[R->i] == close) {
            R->i++;
            return m;
        }
        char *name;
        if (R->s[R->i] == '[') {
            size_t b = R->i;
            while (R->i < R->n && R->s[R->i] != ']') R->i++;
            R->i++;
            name = xmalloc(R->i - b + 1);
            memcpy(name, R->s + b, R->i - b);
            name[R->i - b] = '\0';
        } else {
            size_t b = R->i;
            while (R->i < R->n && tp_is_word((unsigned char)R->s[R->i])) R->i++;
            if (R->i == b) {
                tp_fail(R, "expected a field name");
                return m;
            }
            name = xmalloc(R->i - b + 1);
            memcpy(name, R->s + b, R->i - b);
            name[R->i - b] = '\0';
        }
        tp_space(R);
        if (R->i < R->n && R->s[R->i] == ':') {
            R->i++;
            tp_space(R);
        }
        if (R->i < R->n && R->s[R->i] == '[') { /* repeated scalar/message list */
            R->i++;
            int first = 1;
            for (;;) {
                tp_space(R);
                if (R->i < R->n && R->s[R->i] == ']') {
                    R->i++;
                    break;
                }
                if (!first && R->i < R->n && R->s[R->i] == ',') R->i++;
                first = 0;
                char *copy = xmalloc(strlen(name) + 1);
                strcpy(copy, name);
                tp_value(R, m, copy, depth);
                if (R->err) break;
            }
            free(name);
        } else {
            tp_value(R, m, name, depth);
        }
        tp_space(R);
        if (R->i < R->n && (R->s[R->i] == ',' || R->s[R->i] == ';')) R->i++;
    }
}

static const tp_field *get(const tp_msg *m, const char *name) {
    for (size_t i = 0; m && i < m->n; i++)
        if (!strcmp(m->f[i].name, name)) return &m->f[i];
    return NULL;
}

static const char *get_text(const tp_msg *m, const char *name) {
    const tp_field *f = get(m, name);
    return f && f->text ? f->text : NULL;
}

static int get_bool(const tp_msg *m, const char *name) {
    const char *t = get_text(m, name);
    return t && (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "1"));
}

/* ---- Values ------------------------------------------------------------------------------------------------ */

/* Builds a value from a cel.expr.Value message. Returns a reason string when the value kind is not
 * supported by the runner (then the test is skipped), else NULL. */
static const char *build_value(pool *P, const tp_msg *m, sy_cel_value *out, int depth) {
    if (!m || m->n == 0) return "empty Value";
    if (depth > 64) return "value nesting too deep";
    const tp_field *f = &m->f[0];
    const char *t = f->text;
    if (!strcmp(f->name, "null_value")) {
        *out = sy_cel_null();
    } else if (!strcmp(f->name, "bool_value")) {
        *out = sy_cel_bool(t && !strcmp(t, "true"));
    } else if (!strcmp(f->name, "int64_value")) {
        *out = sy_cel_int(strtoll(t, NULL, 10));
    } else if (!strcmp(f->name, "uint64_value")) {
        *out = sy_cel_uint(strtoull(t, NULL, 10));
    } else if (!strcmp(f->name, "double_value")) {
        double d;
        if (!strcasecmp(t, "inf") || !strcasecmp(t, "infinity"))
            d = INFINITY;
        else if (!strcasecmp(t, "-inf") || !strcasecmp(t, "-infinity"))
            d = -INFINITY;
        else if (!strcasecmp(t, "nan"))
            d = NAN;
        else
            d = strtod(t, NULL);
        *out = sy_cel_double(d);
    } else if (!strcmp(f->name, "string_value") || !strcmp(f->name, "bytes_value")) {
        char *copy = palloc(P, f->len + 1);
        memcpy(copy, f->text ? f->text : "", f->len);
        if (!strcmp(f->name, "string_value"))
            *out = sy_cel_str(copy, f->len);
        else
            *out = sy_cel_bytes(copy, f->len);
    } else if (!strcmp(f->name, "list_value")) {
        const tp_msg *lm = f->msg;
        size_t n = 0;
        for (size_t i = 0; lm && i < lm->n; i++) n += !strcmp(lm->f[i].name, "values");
        sy_cel_value *items = palloc(P, n * sizeof *items);
        size_t k = 0;
        for (size_t i = 0; lm && i < lm->n; i++) {
            if (strcmp(lm->f[i].name, "values")) continue;
            const char *r = build_value(P, lm->f[i].msg, &items[k++], depth + 1);
            if (r) return r;
        }
        sy_cel_list *l = palloc(P, sizeof *l);
        l->items = items;
        l->n = n;
        out->kind = SY_CEL_LIST;
        out->code = 0;
        out->v.list = l;
    } else if (!strcmp(f->name, "map_value")) {
        const tp_msg *mm = f->msg;
        size_t n = 0;
        for (size_t i = 0; mm && i < mm->n; i++) n += !strcmp(mm->f[i].name, "entries");
        sy_cel_value *keys = palloc(P, n * sizeof *keys), *vals = palloc(P, n * sizeof *vals);
        size_t k = 0;
        for (size_t i = 0; mm && i < mm->n; i++) {
            if (strcmp(mm->f[i].name, "entries")) continue;
            const tp_field *kf = get(mm->f[i].msg, "key"), *vf = get(mm->f[i].msg, "value");
            if (!kf || !vf) return "map entry without key or value";
            const char *r = build_value(P, kf->msg, &keys[k], depth + 1);
            if (!r) r = build_value(P, vf->msg, &vals[k], depth + 1);
            if (r) return r;
            k++;
        }
        sy_cel_map *mp = palloc(P, sizeof *mp);
        mp->keys = keys;
        mp->vals = vals;
        mp->n = n;
        out->kind = SY_CEL_MAP;
        out->code = 0;
        out->v.map = mp;
    } else if (!strcmp(f->name, "type_value")) {
        return "uses type values (MAY tier)";
    } else if (!strcmp(f->name, "object_value") || !strcmp(f->name, "enum_value")) {
        return "uses protobuf messages";
    } else {
        return "unknown Value kind";
    }
    return NULL;
}

/* Exact (proto) equality: kinds must match, NaN matches NaN, maps ignore order. */
static int exact_eq(const sy_cel_value *a, const sy_cel_value *b) {
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case SY_CEL_NULL: return 1;
    case SY_CEL_BOOL: return !a->v.b == !b->v.b;
    case SY_CEL_INT: return a->v.i == b->v.i;
    case SY_CEL_UINT: return a->v.u == b->v.u;
    case SY_CEL_DOUBLE: return a->v.d == b->v.d || (isnan(a->v.d) && isnan(b->v.d));
    case SY_CEL_STRING:
    case SY_CEL_BYTES: return a->len == b->len && !memcmp(a->v.s, b->v.s, a->len);
    case SY_CEL_LIST:
        if (a->v.list->n != b->v.list->n) return 0;
        for (size_t i = 0; i < a->v.list->n; i++)
            if (!exact_eq(&a->v.list->items[i], &b->v.list->items[i])) return 0;
        return 1;
    case SY_CEL_MAP:
        if (a->v.map->n != b->v.map->n) return 0;
        for (size_t i = 0; i < a->v.map->n; i++) {
            size_t j;
            for (j = 0; j < b->v.map->n; j++)
                if (exact_eq(&a->v.map->keys[i], &b->v.map->keys[j])) break;
            if (j == b->v.map->n || !exact_eq(&a->v.map->vals[i], &b->v.map->vals[j])) return 0;
        }
        return 1;
    default: return 0;
    }
}

static void show(const sy_cel_value *v, char *buf, size_t cap) {
    switch (v->kind) {
    case SY_CEL_INT: snprintf(buf, cap, "int %lld", (long long)v->v.i); break;
    case SY_CEL_UINT: snprintf(buf, cap, "uint %llu", (unsigned long long)v->v.u); break;
    case SY_CEL_DOUBLE: snprintf(buf, cap, "double %.17g", v->v.d); break;
    case SY_CEL_BOOL: snprintf(buf, cap, "bool %s", v->v.b ? "true" : "false"); break;
    case SY_CEL_STRING:
    case SY_CEL_BYTES:
        snprintf(buf, cap, "%s(%zu) '%.*s'", sy_cel_kind_name(v->kind), v->len,
                 (int)(v->len > 60 ? 60 : v->len), v->v.s);
        break;
    case SY_CEL_LIST: snprintf(buf, cap, "list of %zu", v->v.list->n); break;
    case SY_CEL_MAP: snprintf(buf, cap, "map of %zu", v->v.map->n); break;
    default: snprintf(buf, cap, "%s", sy_cel_kind_name(v->kind)); break;
    }
}

/* ---- types ----------------------------------------------------------------------------------------------- */

static int prim_kind(const char *t, sy_cel_kind *k) {
    static const struct {
        const char *n;
        sy_cel_kind k;
    } map[] = {{"BOOL", SY_CEL_BOOL},     {"INT64", SY_CEL_INT},    {"UINT64", SY_CEL_UINT},
               {"DOUBLE", SY_CEL_DOUBLE}, {"STRING", SY_CEL_STRING}, {"BYTES", SY_CEL_BYTES}};
    for (size_t i = 0; t && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(t, map[i].n)) {
            *k = map[i].k;
            return 0;
        }
    return -1;
}

/* Simple (non-nested) kind of a cel.expr.Type, or a skip reason. */
static const char *simple_type(const tp_msg *t, sy_cel_kind *k) {
    if (!t || !t->n) return "empty type";
    const tp_field *f = &t->f[0];
    if (!strcmp(f->name, "primitive")) return prim_kind(f->text, k) ? "unknown primitive type" : NULL;
    if (!strcmp(f->name, "dyn")) {
        *k = SY_CEL_DYN;
        return NULL;
    }
    if (!strcmp(f->name, "null")) {
        *k = SY_CEL_NULL;
        return NULL;
    }
    if (!strcmp(f->name, "list_type") || !strcmp(f->name, "map_type")) return "nested list/map declarations";
    return "uses protobuf types in declarations";
}

static const char *decl_type(const tp_msg *t, sy_cel_var *v) {
    if (!t || !t->n) return "empty type";
    const tp_field *f = &t->f[0];
    if (!strcmp(f->name, "list_type")) {
        v->type = SY_CEL_LIST;
        return simple_type(get(f->msg, "elem_type") ? get(f->msg, "elem_type")->msg : NULL, &v->elem);
    }
    if (!strcmp(f->name, "map_type")) {
        v->type = SY_CEL_MAP;
        const tp_field *kf = get(f->msg, "key_type"), *vf = get(f->msg, "value_type");
        const char *r = simple_type(kf ? kf->msg : NULL, &v->key);
        return r ? r : simple_type(vf ? vf->msg : NULL, &v->elem);
    }
    return simple_type(t, &v->type);
}

/* ---- running ----------------------------------------------------------------------------------------------- */

typedef struct stats {
    int pass, fail, skip;
    struct {
        char reason[96];
        int count;
    } reasons[32];
    int nreasons;
} stats;

static void skipped(stats *S, const char *reason) {
    S->skip++;
    for (int i = 0; i < S->nreasons; i++)
        if (!strcmp(S->reasons[i].reason, reason)) {
            S->reasons[i].count++;
            return;
        }
    if (S->nreasons < 32) {
        snprintf(S->reasons[S->nreasons].reason, sizeof S->reasons[0].reason, "%s", reason);
        S->reasons[S->nreasons++].count = 1;
    }
}

static void failed(stats *S, const char *file, const char *sec, const char *name, const char *expr, const char *fmt,
                   ...) __attribute__((format(printf, 6, 7)));
static void failed(stats *S, const char *file, const char *sec, const char *name, const char *expr, const char *fmt,
                   ...) {
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    S->fail++;
    fprintf(stderr, "FAIL %s/%s/%s: %s\n    %s\n", file, sec, name, expr, msg);
}

static const char *feature_skip(const char *file, const char *sec, const tp_msg *t) {
    for (size_t i = 0; i < sizeof skip_sections / sizeof skip_sections[0]; i++)
        if (!strcmp(skip_sections[i].file, file) &&
            (!skip_sections[i].section || !strcmp(skip_sections[i].section, sec)))
            return skip_sections[i].reason;
    const char *expr = get_text(t, "expr");
    for (size_t i = 0; expr && i < sizeof skip_features / sizeof skip_features[0]; i++)
        if (strstr(expr, skip_features[i].needle)) return skip_features[i].reason;
    const char *container = get_text(t, "container");
    if (container && *container) return "uses protobuf messages";
    if (get(t, "unknown") || get(t, "any_unknowns")) return "uses unknown values";
    if (get_bool(t, "check_only")) return "check-only test";
    return NULL;
}

static void run_test(stats *S, const char *file, const char *sec, const tp_msg *t) {
    const char *name = get_text(t, "name") ? get_text(t, "name") : "?";
    const tp_field *ef = get(t, "expr");
    const char *reason = feature_skip(file, sec, t);
    if (reason) {
        skipped(S, reason);
        return;
    }
    if (!ef || !ef->text) {
        failed(S, file, sec, name, "", "test has no expr");
        return;
    }
    pool P = {NULL, 0, 0};
    sy_cel_var vars[16];
    sy_cel_value args[16];
    size_t nv = 0;
    memset(vars, 0, sizeof vars);
    memset(args, 0, sizeof args);
    sy_cel_program *prog = NULL;
    sy_cel_scratch scratch;
    sy_cel_scratch_init(&scratch);
    int check = !get_bool(t, "disable_check");
    /* declarations */
    for (size_t i = 0; i < t->n && !reason; i++) {
        if (strcmp(t->f[i].name, "type_env")) continue;
        const tp_msg *d = t->f[i].msg;
        const tp_field *id = get(d, "ident");
        if (!id) {
            reason = "declares functions";
            break;
        }
        if (nv == 16) {
            reason = "too many declarations";
            break;
        }
        vars[nv].name = get_text(d, "name");
        const tp_field *ty = get(id->msg, "type");
        reason = decl_type(ty ? ty->msg : NULL, &vars[nv]);
        nv++;
    }
    /* bindings (names without a declaration are dyn) */
    for (size_t i = 0; i < t->n && !reason; i++) {
        if (strcmp(t->f[i].name, "bindings")) continue;
        const tp_msg *b = t->f[i].msg;
        const char *key = get_text(b, "key");
        const tp_field *ev = get(b, "value");
        const tp_field *vv = ev ? get(ev->msg, "value") : NULL;
        if (!key || !vv) {
            reason = "binding without a value";
            break;
        }
        size_t k;
        for (k = 0; k < nv; k++)
            if (!strcmp(vars[k].name, key)) break;
        if (k == nv) {
            if (nv == 16) {
                reason = "too many bindings";
                break;
            }
            vars[nv].name = key;
            vars[nv].type = SY_CEL_DYN;
            nv++;
        }
        reason = build_value(&P, vv->msg, &args[k], 0);
    }
    /* expectation */
    sy_cel_value expected = sy_cel_bool(1);
    int expect_error = get(t, "eval_error") || get(t, "any_eval_errors");
    const tp_field *vf = get(t, "value");
    if (!vf && get(t, "typed_result")) vf = get(get(t, "typed_result")->msg, "result");
    if (!reason && vf) reason = build_value(&P, vf->msg, &expected, 0);
    if (reason) {
        skipped(S, reason);
        goto done;
    }
    shardy_status st = sy_cel_compile_ex(ef->text, ef->len, vars, nv, check ? 0 : SY_CEL_NO_CHECK, &prog);
    if (st) {
        if (expect_error) {
            S->pass++;
            if (getenv("SHARDY_CEL_VERBOSE")) {
                const char *m = shardy_errmsg();
                printf("  (error at compile time) %s/%s/%s: %s\n      %.*s\n", file, sec, name, ef->text,
                       (int)strcspn(m, "\n"), m);
            }
        } else {
            failed(S, file, sec, name, ef->text, "compile failed: %s", shardy_errmsg());
        }
        goto done;
    }
    sy_cel_value got;
    st = sy_cel_eval(prog, args, &scratch, &got);
    if (expect_error) {
        if (st == SHARDY_EROUTE) {
            S->pass++;
        } else {
            char g[200];
            show(&got, g, sizeof g);
            failed(S, file, sec, name, ef->text, "expected an error, got %s (status %d)", g, (int)st);
        }
    } else if (st) {
        failed(S, file, sec, name, ef->text, "evaluation failed: %s", shardy_errmsg());
    } else if (!exact_eq(&got, &expected)) {
        char g[200], e[200];
        show(&got, g, sizeof g);
        show(&expected, e, sizeof e);
        failed(S, file, sec, name, ef->text, "got %s, expected %s", g, e);
    } else {
        S->pass++;
    }
done:
    sy_cel_program_free(&prog);
    sy_cel_scratch_release(&scratch);
    pool_free(&P);
}

static int run_file(stats *S, const char *dir, const char *fname) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, fname);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xmalloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    tp_reader R = {buf, got, 0, 1, path, 0};
    tp_msg *root = tp_message(&R, 0, 0);
    int rc = R.err ? -1 : 0;
    char file[256];
    snprintf(file, sizeof file, "%s", fname);
    char *dot = strstr(file, ".textproto");
    if (dot) *dot = '\0';
    int before = S->pass + S->fail + S->skip;
    for (size_t i = 0; !rc && i < root->n; i++) {
        if (strcmp(root->f[i].name, "section")) continue;
        const tp_msg *sec = root->f[i].msg;
        const char *sname = get_text(sec, "name") ? get_text(sec, "name") : "?";
        for (size_t j = 0; j < sec->n; j++)
            if (!strcmp(sec->f[j].name, "test")) run_test(S, file, sname, sec->f[j].msg);
    }
    printf("%-24s %4d tests\n", fname, S->pass + S->fail + S->skip - before);
    tp_msg_free(root);
    free(buf);
    return rc;
}

static int dir_ok(const char *d) {
    char p[4096];
    snprintf(p, sizeof p, "%s/basic.textproto", d);
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Finds the conformance directory (see the top comment). */
static int find_dir(char *out, size_t cap) {
    const char *env = getenv("SHARDY_CEL_SPEC_DIR");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return dir_ok(out);
    }
    snprintf(out, cap, "/work/shared/testdata/cel-spec");
    int shared_ok = dir_ok(out);
    const char *src = getenv("SHARDY_SOURCE_DIR");
    if (!src || !*src) return shared_ok;
    snprintf(out, cap, "%s/../shared/testdata/cel-spec", src);
    if (dir_ok(out)) return 1;
    if (shared_ok) return snprintf(out, cap, "/work/shared/testdata/cel-spec") > 0;
    /* a git worktree: <repo>/.git is a file "gitdir: <main>/.git/worktrees/<name>" */
    char gitfile[4096], line[4096];
    snprintf(gitfile, sizeof gitfile, "%s/.git", src);
    FILE *g = fopen(gitfile, "r");
    if (!g) return 0;
    int ok = fgets(line, sizeof line, g) != NULL;
    fclose(g);
    char *wt = ok ? strstr(line, "/.git/worktrees/") : NULL;
    if (!ok || strncmp(line, "gitdir: ", 8) || !wt) return 0;
    *wt = '\0';
    snprintf(out, cap, "%s/../shared/testdata/cel-spec", line + 8);
    return dir_ok(out);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    char dir[4096] = "(SHARDY_SOURCE_DIR is not set)";
    if (!find_dir(dir, sizeof dir)) {
        fprintf(stderr,
                "FAIL: CEL conformance data not found. Set SHARDY_CEL_SPEC_DIR, or SHARDY_SOURCE_DIR to a checkout "
                "whose ../shared/testdata/cel-spec holds the cel-spec textproto files (last tried: %s)\n",
                dir);
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "FAIL: cannot list %s\n", dir);
        return 1;
    }
    char *names[64];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 64) {
        size_t l = strlen(e->d_name);
        if (l > 10 && !strcmp(e->d_name + l - 10, ".textproto")) {
            names[nn] = xmalloc(l + 1);
            memcpy(names[nn++], e->d_name, l + 1);
        }
    }
    closedir(d);
    qsort(names, nn, sizeof names[0], name_cmp);
    stats S;
    memset(&S, 0, sizeof S);
    int bad = 0;
    printf("cel-spec conformance data: %s\n", dir);
    for (size_t i = 0; i < nn; i++) {
        if (run_file(&S, dir, names[i])) bad = 1;
        free(names[i]);
    }
    if (nn == 0) {
        fprintf(stderr, "FAIL: no .textproto files in %s\n", dir);
        bad = 1;
    }
    printf("skipped by reason:\n");
    for (int i = 0; i < S.nreasons; i++) printf("  %4d  %s\n", S.reasons[i].count, S.reasons[i].reason);
    printf("%d passed, %d failed, %d skipped\n", S.pass, S.fail, S.skip);
    if (S.pass == 0) bad = 1;
    return bad || S.fail ? 1 : 0;
}
