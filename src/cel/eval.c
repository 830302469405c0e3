/*
 * eval.c — the CEL evaluator and runtime library (cel.md §2.5, cel-cpp semantics).
 *
 * Owns: evaluation of compiled programs (sy_cel_eval, sy_cel_ev), error values and their texts,
 * heterogeneous equality/ordering, integer arithmetic with overflow detection, conversions
 * (including string(double) formatting and absl-compatible string parsing), string functions,
 * list/map construction and lookup, shard_hash.
 *
 * Semantics worth knowing: errors are values and propagate through every function except &&, ||
 * (commutative absorption: false && error → false, true || error → true) and the untaken branch of
 * ?:. Runtime dispatch always looks at the actual kinds (the checker's static types are never
 * trusted), so dyn values and unchecked programs behave like cel-cpp's runtime.
 *
 * Memory: nothing is allocated for numeric, bool and hash results; strings made at run time
 * (concatenation, string(int), ...) and list/map literals come from the caller's scratch. Running
 * out of memory (or past SY_CEL_SCRATCH_MAX) produces an error value that sy_cel_eval reports as
 * SHARDY_ENOMEM (or SHARDY_EROUTE for the limit). Recursion depth is bounded by the program's tree
 * depth (<= SY_CEL_MAX_DEPTH).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xxhash's header-only mode: the same XXH3 code as libxxhash, but the compiler can specialise it
 * for the 8-byte integer keys of shard_hash (the parity tests compare with shardy_key_digest). */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cel/internal.h"

#define EV(i, out) sy_cel_ev(p, (i), c, (out))

const char *sy_cel_kind_name(sy_cel_kind k) {
    switch (k) {
    case SY_CEL_UNSET: return "unset";
    case SY_CEL_NULL: return "null_type";
    case SY_CEL_BOOL: return "bool";
    case SY_CEL_INT: return "int";
    case SY_CEL_UINT: return "uint";
    case SY_CEL_DOUBLE: return "double";
    case SY_CEL_STRING: return "string";
    case SY_CEL_BYTES: return "bytes";
    case SY_CEL_LIST: return "list";
    case SY_CEL_MAP: return "map";
    case SY_CEL_ERROR: return "error";
    case SY_CEL_DYN: return "dyn";
    }
    return "unknown";
}

/* Result writers that store the fields one by one: building a value in a temporary and copying the
 * struct makes the compiler emit overlapping partial copies that stall store forwarding. */
static inline void put_uint(sy_cel_value *out, uint64_t u) {
    out->kind = SY_CEL_UINT;
    out->code = 0;
    out->v.u = u;
    out->len = 0;
}
static inline void put_int(sy_cel_value *out, int64_t i) {
    out->kind = SY_CEL_INT;
    out->code = 0;
    out->v.i = i;
    out->len = 0;
}

/* ---- errors ---------------------------------------------------------------------------------------- */

static void no_overload(sy_cel_value *out, int op, int n, const sy_cel_value *a, const sy_cel_value *b) {
    uint32_t aux = (uint32_t)n;
    if (n > 0) aux |= (uint32_t)a->kind << 4;
    if (n > 1) aux |= (uint32_t)b->kind << 8;
    sy_cel_set_error(out, SY_CEL_E_NO_OVERLOAD, sy_cel_op_name(op), aux);
}

static void oom(sy_cel_value *out, const sy_cel_scratch *s) {
    if (s->over_limit)
        sy_cel_set_error(out, SY_CEL_E_LIMIT, NULL, 0);
    else
        sy_cel_set_error(out, SY_CEL_E_NOMEM, NULL, 0);
}

void sy_cel_error_text(const sy_cel_value *e, char *buf, size_t cap) {
    if (!cap) return;
    if (!e || e->kind != SY_CEL_ERROR) {
        snprintf(buf, cap, "not an error");
        return;
    }
    const char *arg = e->v.arg ? e->v.arg : "";
    uint32_t aux = e->len;
    switch (e->code) {
    case SY_CEL_E_NOMEM: snprintf(buf, cap, "out of memory"); break;
    case SY_CEL_E_DIV_ZERO: snprintf(buf, cap, "divide by zero"); break;
    case SY_CEL_E_MOD_ZERO: snprintf(buf, cap, "modulus by zero"); break;
    case SY_CEL_E_OVERFLOW: snprintf(buf, cap, "integer overflow"); break;
    case SY_CEL_E_UOVERFLOW: snprintf(buf, cap, "unsigned integer overflow"); break;
    case SY_CEL_E_RANGE: snprintf(buf, cap, "%s", arg); break;
    case SY_CEL_E_NO_OVERLOAD: {
        unsigned n = aux & 15;
        const char *k0 = sy_cel_kind_name((sy_cel_kind)((aux >> 4) & 15));
        const char *k1 = sy_cel_kind_name((sy_cel_kind)((aux >> 8) & 15));
        if (n == 1)
            snprintf(buf, cap, "no matching overload for '%s' with (%s)", arg, k0);
        else if (n == 2)
            snprintf(buf, cap, "no matching overload for '%s' with (%s, %s)", arg, k0, k1);
        else
            snprintf(buf, cap, "no matching overload for '%s'", arg);
        break;
    }
    case SY_CEL_E_UNBOUND: snprintf(buf, cap, "no value with name '%s' found", arg); break;
    case SY_CEL_E_BAD_BINDING:
        snprintf(buf, cap, "value of variable '%s' has the wrong type: declared %s, got %s", arg,
                 sy_cel_kind_name((sy_cel_kind)(aux >> 8)), sy_cel_kind_name((sy_cel_kind)(aux & 0xFF)));
        break;
    case SY_CEL_E_BAD_UTF8_VAR: snprintf(buf, cap, "value of string variable '%s' is not valid UTF-8", arg); break;
    case SY_CEL_E_UNKNOWN_FN: snprintf(buf, cap, "unbound function '%s' (no matching overload)", arg); break;
    case SY_CEL_E_INDEX: snprintf(buf, cap, "index out of range"); break;
    case SY_CEL_E_BAD_INDEX: snprintf(buf, cap, "invalid list index: %s", arg); break;
    case SY_CEL_E_NO_KEY:
        if (*arg)
            snprintf(buf, cap, "no such key: '%s'", arg);
        else
            snprintf(buf, cap, "no such key in map");
        break;
    case SY_CEL_E_BAD_KEY:
        snprintf(buf, cap, "unsupported map key type %s (keys are int, uint, bool or string)",
                 sy_cel_kind_name((sy_cel_kind)aux));
        break;
    case SY_CEL_E_DUP_KEY: snprintf(buf, cap, "duplicate key in map literal"); break;
    case SY_CEL_E_CONVERT: snprintf(buf, cap, "type conversion error: %s", arg); break;
    case SY_CEL_E_UTF8: snprintf(buf, cap, "invalid UTF-8 in bytes converted to string"); break;
    case SY_CEL_E_REGEX: snprintf(buf, cap, "matches(): %s", arg); break;
    case SY_CEL_E_HASH_RANGE:
        snprintf(buf, cap, "shard_hash: uint key out of range [-9223372036854775808, 9223372036854775807]");
        break;
    case SY_CEL_E_LIMIT:
        snprintf(buf, cap, "evaluation needs more than %u MiB of memory", (unsigned)(SY_CEL_SCRATCH_MAX >> 20));
        break;
    default: snprintf(buf, cap, "evaluation error %u", (unsigned)e->code); break;
    }
}

/* ---- numbers: heterogeneous comparison ---------------------------------------------------------------- */

#define TWO63 9223372036854775808.0
#define TWO64 18446744073709551616.0
#define UNORDERED 2

static int cmp_i_u(int64_t i, uint64_t u) {
    if (i < 0) return -1;
    return (uint64_t)i < u ? -1 : (uint64_t)i > u;
}

/* Exact comparisons of an integer with a double (map keys: 1 and 1.0 are the same key, 2^63-1 and
 * 2^63 are not). */
static int exact_i_d(int64_t i, double d) {
    if (isnan(d)) return UNORDERED;
    if (d >= TWO63) return -1;
    if (d < -TWO63) return 1;
    int64_t t = (int64_t)d; /* exact: |d| < 2^63 */
    if (i != t) return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int exact_u_d(uint64_t u, double d) {
    if (isnan(d)) return UNORDERED;
    if (d < 0) return 1;
    if (d >= TWO64) return -1;
    uint64_t t = (uint64_t)d;
    if (u != t) return u < t ? -1 : 1;
    return d - (double)t > 0 ? -1 : 0;
}

/* cel-cpp's ordering of a double against an integer (also used for ==): beyond the integer type's
 * range the double is simply larger or smaller; inside it the integer is converted to double, so
 * 9223372036854775807 and 9223372036854775808.0 compare equal (the cel-spec conformance tests
 * *_lossy_double depend on this). */
static int lossy_d_i(double d, int64_t i) {
    if (isnan(d)) return UNORDERED;
    if (d > (double)INT64_MAX) return 1;
    if (d < (double)INT64_MIN) return -1;
    double x = (double)i;
    return d < x ? -1 : d > x;
}

static int lossy_d_u(double d, uint64_t u) {
    if (isnan(d)) return UNORDERED;
    if (d > (double)UINT64_MAX) return 1;
    if (d < 0) return -1;
    double x = (double)u;
    return d < x ? -1 : d > x;
}

static int neg_cmp(int r) { return r == UNORDERED ? r : -r; }

static int is_num(sy_cel_kind k) { return k == SY_CEL_INT || k == SY_CEL_UINT || k == SY_CEL_DOUBLE; }

/* -1, 0, 1 or UNORDERED for two numbers of any numeric kinds; exact selects lossless
 * int/double comparison (map keys) instead of cel-cpp's ordering (operators). */
static int num_cmp_mode(const sy_cel_value *a, const sy_cel_value *b, int exact) {
    switch (a->kind * 16 + b->kind) {
    case SY_CEL_INT * 16 + SY_CEL_INT: return a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
    case SY_CEL_UINT * 16 + SY_CEL_UINT: return a->v.u < b->v.u ? -1 : a->v.u > b->v.u;
    case SY_CEL_DOUBLE * 16 + SY_CEL_DOUBLE:
        if (isnan(a->v.d) || isnan(b->v.d)) return UNORDERED;
        return a->v.d < b->v.d ? -1 : a->v.d > b->v.d;
    case SY_CEL_INT * 16 + SY_CEL_UINT: return cmp_i_u(a->v.i, b->v.u);
    case SY_CEL_UINT * 16 + SY_CEL_INT: return -cmp_i_u(b->v.i, a->v.u);
    case SY_CEL_INT * 16 + SY_CEL_DOUBLE:
        return exact ? exact_i_d(a->v.i, b->v.d) : neg_cmp(lossy_d_i(b->v.d, a->v.i));
    case SY_CEL_DOUBLE * 16 + SY_CEL_INT:
        return exact ? neg_cmp(exact_i_d(b->v.i, a->v.d)) : lossy_d_i(a->v.d, b->v.i);
    case SY_CEL_UINT * 16 + SY_CEL_DOUBLE:
        return exact ? exact_u_d(a->v.u, b->v.d) : neg_cmp(lossy_d_u(b->v.d, a->v.u));
    case SY_CEL_DOUBLE * 16 + SY_CEL_UINT:
        return exact ? neg_cmp(exact_u_d(b->v.u, a->v.d)) : lossy_d_u(a->v.d, b->v.u);
    }
    return UNORDERED;
}

static int num_cmp(const sy_cel_value *a, const sy_cel_value *b) { return num_cmp_mode(a, b, 0); }

static int bytes_cmp(const sy_cel_value *a, const sy_cel_value *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int r = n ? memcmp(a->v.s, b->v.s, n) : 0;
    if (r) return r < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Map key equality (numbers across kinds, otherwise same kind and value). */
static int key_eq(const sy_cel_value *a, const sy_cel_value *b) {
    if (is_num(a->kind) && is_num(b->kind)) return num_cmp_mode(a, b, 1) == 0;
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case SY_CEL_BOOL: return a->v.b == b->v.b;
    case SY_CEL_STRING:
    case SY_CEL_BYTES:
        return a->len == b->len && (a->len == 0 || !memcmp(a->v.s, b->v.s, a->len));
    case SY_CEL_NULL: return 1;
    default: return 0;
    }
}

static long map_find(const sy_cel_map *m, const sy_cel_value *k) {
    for (size_t i = 0; i < m->n; i++)
        if (key_eq(&m->keys[i], k)) return (long)i;
    return -1;
}

static int eq_depth(const sy_cel_value *a, const sy_cel_value *b, int depth) {
    if (depth > 1000) return 0;
    if (is_num(a->kind) && is_num(b->kind)) return num_cmp(a, b) == 0;
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case SY_CEL_NULL: return 1;
    case SY_CEL_BOOL: return a->v.b == b->v.b;
    case SY_CEL_STRING:
    case SY_CEL_BYTES:
        return a->len == b->len && (a->len == 0 || !memcmp(a->v.s, b->v.s, a->len));
    case SY_CEL_LIST:
        if (a->v.list->n != b->v.list->n) return 0;
        for (size_t i = 0; i < a->v.list->n; i++)
            if (!eq_depth(&a->v.list->items[i], &b->v.list->items[i], depth + 1)) return 0;
        return 1;
    case SY_CEL_MAP:
        if (a->v.map->n != b->v.map->n) return 0;
        for (size_t i = 0; i < a->v.map->n; i++) {
            long j = map_find(b->v.map, &a->v.map->keys[i]);
            if (j < 0 || !eq_depth(&a->v.map->vals[i], &b->v.map->vals[j], depth + 1)) return 0;
        }
        return 1;
    default: return 0;
    }
}

int sy_cel_value_equal(const sy_cel_value *a, const sy_cel_value *b) { return eq_depth(a, b, 0); }

/* ---- strings --------------------------------------------------------------------------------------------- */

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

static void trim(const char **s, size_t *n) {
    while (*n && is_space((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* absl::SimpleAtoi-like: surrounding whitespace, optional sign, decimal digits. 0 ok, -1 syntax,
 * -2 range. */
static int parse_u64(const char *s, size_t n, int allow_neg, int *neg, uint64_t *out) {
    trim(&s, &n);
    *neg = 0;
    if (n && (*s == '+' || *s == '-')) {
        if (*s == '-') {
            if (!allow_neg) return -1;
            *neg = 1;
        }
        s++;
        n--;
    }
    if (!n) return -1;
    uint64_t v = 0;
    int over = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) over = 1;
        v = v * 10 + d;
    }
    *out = v;
    return over ? -2 : 0;
}

static int ci_eq(const char *s, size_t n, const char *lit) {
    size_t l = strlen(lit);
    if (n != l) return 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c += 32;
        if (c != lit[i]) return 0;
    }
    return 1;
}

/* absl::SimpleAtod-like: whitespace, '+' or '-', decimal float or inf/infinity/nan; out of range
 * → ±inf or 0. 0 ok, -1 syntax. */
static int parse_double(sy_cel_scratch *scratch, const char *s, size_t n, double *out) {
    trim(&s, &n);
    int neg = 0;
    if (n && *s == '+') {
        s++;
        n--;
        if (n && *s == '-') return -1;
    }
    if (n && *s == '-') {
        neg = 1;
        s++;
        n--;
    }
    if (ci_eq(s, n, "inf") || ci_eq(s, n, "infinity")) {
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return 0;
    }
    if (ci_eq(s, n, "nan")) {
        *out = neg ? -NAN : NAN;
        return 0;
    }
    size_t i = 0, digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    if (!digits) return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t e0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == e0) return -1;
    }
    if (i != n) return -1;
    char local[128];
    char *buf = n + 2 <= sizeof local ? local : sy_cel_scratch_alloc(scratch, n + 2);
    if (!buf) return -2;
    buf[0] = neg ? '-' : '+';
    memcpy(buf + 1, s, n);
    buf[n + 1] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

static int bool_from_string(const char *s, size_t n, int *b) {
    static const char *const t[] = {"true", "True", "TRUE", "t", "1"};
    static const char *const f[] = {"false", "False", "FALSE", "f", "0"};
    for (size_t i = 0; i < 5; i++) {
        if (strlen(t[i]) == n && !memcmp(t[i], s, n)) {
            *b = 1;
            return 0;
        }
        if (strlen(f[i]) == n && !memcmp(f[i], s, n)) {
            *b = 0;
            return 0;
        }
    }
    return -1;
}

/* Shortest round-trip digits of a finite non-zero |d|: digits in dig (NUL-terminated, no trailing
 * zeros) and the decimal exponent of the first digit. */
static void shortest_digits(double d, char *dig, int *exp10) {
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        int ok = strtod(tmp, NULL) == d;
        if (!ok && prec < 17) {
            /* The correctly rounded prec-digit string failed; a neighbour in the last digit may still
             * read back exactly (asymmetric intervals at powers of two). */
            char *e = strchr(tmp, 'e');
            char mant[24];
            size_t m = 0;
            for (char *q = tmp; q < e; q++)
                if (*q != '.') mant[m++] = *q;
            mant[m] = '\0';
            int ex = atoi(e + 1);
            for (int delta = -1; delta <= 1 && !ok; delta += 2) {
                char cand[24];
                memcpy(cand, mant, m + 1);
                int i = (int)m - 1, carry = delta;
                while (i >= 0 && carry) {
                    int v = cand[i] - '0' + carry;
                    carry = v < 0 ? -1 : v > 9 ? 1 : 0;
                    cand[i] = (char)('0' + (v + 10) % 10);
                    i--;
                }
                if (carry || cand[0] == '0') continue; /* changes the number of digits: skip */
                char num[48];
                snprintf(num, sizeof num, "%c.%se%d", cand[0], cand + 1, ex);
                if (strtod(num, NULL) == d) {
                    snprintf(tmp, sizeof tmp, "%c.%se%+03d", cand[0], cand + 1, ex);
                    if (m == 1) snprintf(tmp, sizeof tmp, "%ce%+03d", cand[0], ex);
                    ok = 1;
                }
            }
        }
        if (ok) break;
    }
    char *e = strchr(tmp, 'e');
    size_t m = 0;
    for (char *q = tmp; q < e; q++)
        if (*q != '.') dig[m++] = *q;
    while (m > 1 && dig[m - 1] == '0') m--;
    dig[m] = '\0';
    *exp10 = atoi(e + 1);
}

size_t sy_cel_format_double(double d, char *buf, size_t cap) {
    if (isnan(d)) return (size_t)snprintf(buf, cap, signbit(d) ? "-nan" : "nan");
    if (isinf(d)) return (size_t)snprintf(buf, cap, d > 0 ? "inf" : "-inf");
    if (d == 0) return (size_t)snprintf(buf, cap, signbit(d) ? "-0" : "0");
    char dig[24];
    int x;
    size_t o = 0;
    char out[64];
    if (d < 0) {
        out[o++] = '-';
        d = -d;
    }
    shortest_digits(d, dig, &x);
    size_t m = strlen(dig);
    if (m > 17) m = 17; /* at most 17 significant digits (bounds for the compiler's sake) */
    if (x >= -4 && x < 6) {
        if (x < 0) {
            size_t zeros = (size_t)(-x - 1);
            out[o++] = '0';
            out[o++] = '.';
            memset(out + o, '0', zeros);
            o += zeros;
            memcpy(out + o, dig, m);
            o += m;
        } else {
            size_t ip = (size_t)x + 1, take = m < ip ? m : ip;
            memcpy(out + o, dig, take);
            o += take;
            memset(out + o, '0', ip - take);
            o += ip - take;
            if (m > ip) {
                out[o++] = '.';
                memcpy(out + o, dig + ip, m - ip);
                o += m - ip;
            }
        }
    } else {
        out[o++] = dig[0];
        if (m > 1) {
            out[o++] = '.';
            memcpy(out + o, dig + 1, m - 1);
            o += m - 1;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    }
    out[o] = '\0';
    return (size_t)snprintf(buf, cap, "%s", out);
}

static int find(const char *h, size_t hn, const char *nd, size_t nn) {
    if (nn == 0) return 1;
    if (nn > hn) return 0;
    const char *end = h + hn - nn + 1;
    for (const char *p = h; p < end;) {
        p = memchr(p, nd[0], (size_t)(end - p));
        if (!p) return 0;
        if (!memcmp(p, nd, nn)) return 1;
        p++;
    }
    return 0;
}

static int concat(sy_cel_ectx *c, const sy_cel_value *a, const sy_cel_value *b, sy_cel_value *out) {
    size_t n = a->len + b->len;
    if (a->len == 0 || b->len == 0) {
        *out = a->len ? *a : *b;
        out->kind = a->kind;
        return 0;
    }
    char *p = sy_cel_scratch_alloc(c->scratch, n);
    if (!p) return -1;
    memcpy(p, a->v.s, a->len);
    memcpy(p + a->len, b->v.s, b->len);
    out->kind = a->kind;
    out->v.s = p;
    out->len = n;
    return 0;
}

/* ---- deep copy ------------------------------------------------------------------------------------------- */

static int copy_depth(sy_cel_arena *a, const sy_cel_value *v, sy_cel_value *out, int depth) {
    *out = *v;
    if (depth > SY_CEL_MAX_DEPTH + 8) return -1;
    switch (v->kind) {
    case SY_CEL_STRING:
    case SY_CEL_BYTES: {
        char *p = sy_cel_arena_dup(a, v->v.s, v->len);
        if (!p) return -1;
        out->v.s = p;
        return 0;
    }
    case SY_CEL_LIST: {
        sy_cel_list *l = sy_cel_arena_alloc(a, sizeof *l);
        sy_cel_value *items = sy_cel_arena_alloc(a, (v->v.list->n ? v->v.list->n : 1) * sizeof *items);
        if (!l || !items) return -1;
        for (size_t i = 0; i < v->v.list->n; i++)
            if (copy_depth(a, &v->v.list->items[i], &items[i], depth + 1)) return -1;
        l->items = items;
        l->n = v->v.list->n;
        out->v.list = l;
        return 0;
    }
    case SY_CEL_MAP: {
        size_t n = v->v.map->n;
        sy_cel_map *m = sy_cel_arena_alloc(a, sizeof *m);
        sy_cel_value *k = sy_cel_arena_alloc(a, (n ? n : 1) * sizeof *k);
        sy_cel_value *val = sy_cel_arena_alloc(a, (n ? n : 1) * sizeof *val);
        if (!m || !k || !val) return -1;
        for (size_t i = 0; i < n; i++)
            if (copy_depth(a, &v->v.map->keys[i], &k[i], depth + 1) ||
                copy_depth(a, &v->v.map->vals[i], &val[i], depth + 1))
                return -1;
        m->keys = k;
        m->vals = val;
        m->n = n;
        out->v.map = m;
        return 0;
    }
    default: return 0;
    }
}

int sy_cel_value_copy(sy_cel_arena *a, const sy_cel_value *v, sy_cel_value *out) { return copy_depth(a, v, out, 0); }

/* ---- pieces of the evaluator ------------------------------------------------------------------------------- */

static void read_var(const sy_cel_program *p, uint32_t idx, sy_cel_kind declared, const sy_cel_ectx *c,
                     sy_cel_value *out) {
    const sy_cel_value *a = c->args ? &c->args[idx] : NULL;
    sy_cel_kind k = a ? a->kind : SY_CEL_UNSET;
    if (k == declared || (declared == SY_CEL_DYN && k != SY_CEL_UNSET && k != SY_CEL_ERROR && k != SY_CEL_DYN)) {
        if (k == SY_CEL_STRING && !sy_cel_utf8_valid(a->v.s, a->len)) {
            sy_cel_set_error(out, SY_CEL_E_BAD_UTF8_VAR, p->vars[idx].name, 0);
            return;
        }
        *out = *a;
        return;
    }
    if (k == SY_CEL_UNSET)
        sy_cel_set_error(out, SY_CEL_E_UNBOUND, p->vars[idx].name, 0);
    else
        sy_cel_set_error(out, SY_CEL_E_BAD_BINDING, p->vars[idx].name,
                         ((uint32_t)declared << 8) | (uint32_t)(k > SY_CEL_DYN ? SY_CEL_ERROR : k));
}

/* xxh3_64 of the canonical bytes of x; 0 or -1 when x is a uint >= 2^63, -2 for other kinds. */
static inline int digest(const sy_cel_value *x, uint64_t *h) {
    switch (x->kind) {
    case SY_CEL_UINT:
        if (x->v.u > (uint64_t)INT64_MAX) return -1;
        /* fall through */
    case SY_CEL_INT: {
        uint64_t v = x->v.u; /* the int64's two's-complement bits */
        unsigned char le[8];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(le, &v, 8);
#else
        for (int i = 0; i < 8; i++) le[i] = (unsigned char)(v >> (8 * i));
#endif
        *h = XXH3_64bits(le, 8);
        return 0;
    }
    case SY_CEL_STRING:
    case SY_CEL_BYTES: *h = XXH3_64bits(x->v.s, x->len); return 0;
    default: return -2;
    }
}

static void hash_value(const sy_cel_value *x, sy_cel_value *out) {
    uint64_t h;
    int r = digest(x, &h);
    if (r == 0)
        put_uint(out, h);
    else if (r == -1)
        sy_cel_set_error(out, SY_CEL_E_HASH_RANGE, NULL, 0);
    else
        no_overload(out, OP_SHARD_HASH, 1, x, NULL);
}

/* + - * / % on two evaluated, non-error operands. */
static void arith(sy_cel_ectx *c, int op, const sy_cel_value *x, const sy_cel_value *y, sy_cel_value *out) {
    if (x->kind != y->kind) {
        no_overload(out, op, 2, x, y);
        return;
    }
    switch (x->kind) {
    case SY_CEL_INT: {
        int64_t a = x->v.i, b = y->v.i, r = 0;
        int ovf = 0;
        switch (op) {
        case OP_ADD: ovf = __builtin_add_overflow(a, b, &r); break;
        case OP_SUB: ovf = __builtin_sub_overflow(a, b, &r); break;
        case OP_MUL: ovf = __builtin_mul_overflow(a, b, &r); break;
        case OP_DIV:
        case OP_MOD:
            if (a == INT64_MIN && b == -1) {
                ovf = 1;
                break;
            }
            if (b == 0) {
                sy_cel_set_error(out, op == OP_DIV ? SY_CEL_E_DIV_ZERO : SY_CEL_E_MOD_ZERO, NULL, 0);
                return;
            }
            r = op == OP_DIV ? a / b : a % b;
            break;
        }
        if (ovf)
            sy_cel_set_error(out, SY_CEL_E_OVERFLOW, NULL, 0);
        else
            *out = sy_cel_int(r);
        return;
    }
    case SY_CEL_UINT: {
        uint64_t a = x->v.u, b = y->v.u, r = 0;
        int ovf = 0;
        switch (op) {
        case OP_ADD: ovf = __builtin_add_overflow(a, b, &r); break;
        case OP_SUB: ovf = __builtin_sub_overflow(a, b, &r); break;
        case OP_MUL: ovf = __builtin_mul_overflow(a, b, &r); break;
        case OP_DIV:
        case OP_MOD:
            if (b == 0) {
                sy_cel_set_error(out, op == OP_DIV ? SY_CEL_E_DIV_ZERO : SY_CEL_E_MOD_ZERO, NULL, 0);
                return;
            }
            r = op == OP_DIV ? a / b : a % b;
            break;
        }
        if (ovf)
            sy_cel_set_error(out, SY_CEL_E_UOVERFLOW, NULL, 0);
        else
            *out = sy_cel_uint(r);
        return;
    }
    case SY_CEL_DOUBLE:
        switch (op) {
        case OP_ADD: *out = sy_cel_double(x->v.d + y->v.d); return;
        case OP_SUB: *out = sy_cel_double(x->v.d - y->v.d); return;
        case OP_MUL: *out = sy_cel_double(x->v.d * y->v.d); return;
        case OP_DIV: *out = sy_cel_double(x->v.d / y->v.d); return;
        }
        break;
    case SY_CEL_STRING:
    case SY_CEL_BYTES:
        if (op == OP_ADD) {
            if (concat(c, x, y, out)) oom(out, c->scratch);
            return;
        }
        break;
    case SY_CEL_LIST:
        if (op == OP_ADD) {
            size_t n1 = x->v.list->n, n2 = y->v.list->n;
            if (!n1 || !n2) {
                *out = n1 ? *x : *y;
                return;
            }
            sy_cel_list *l = sy_cel_scratch_alloc(c->scratch, sizeof *l);
            sy_cel_value *items = sy_cel_scratch_alloc(c->scratch, (n1 + n2) * sizeof *items);
            if (!l || !items) {
                oom(out, c->scratch);
                return;
            }
            memcpy(items, x->v.list->items, n1 * sizeof *items);
            memcpy(items + n1, y->v.list->items, n2 * sizeof *items);
            l->items = items;
            l->n = n1 + n2;
            out->kind = SY_CEL_LIST;
            out->code = 0;
            out->v.list = l;
            out->len = 0;
            return;
        }
        break;
    default: break;
    }
    no_overload(out, op, 2, x, y);
}

static void compare(int op, const sy_cel_value *x, const sy_cel_value *y, sy_cel_value *out) {
    int r;
    if (is_num(x->kind) && is_num(y->kind)) {
        r = num_cmp(x, y);
    } else if (x->kind != y->kind) {
        no_overload(out, op, 2, x, y);
        return;
    } else if (x->kind == SY_CEL_STRING || x->kind == SY_CEL_BYTES) {
        r = bytes_cmp(x, y);
    } else if (x->kind == SY_CEL_BOOL) {
        r = x->v.b < y->v.b ? -1 : x->v.b > y->v.b;
    } else {
        no_overload(out, op, 2, x, y);
        return;
    }
    int b = 0;
    if (r != UNORDERED) {
        switch (op) {
        case OP_LT: b = r < 0; break;
        case OP_LE: b = r <= 0; break;
        case OP_GT: b = r > 0; break;
        case OP_GE: b = r >= 0; break;
        }
    }
    *out = sy_cel_bool(b);
}

static void index_value(const sy_cel_value *x, const sy_cel_value *k, sy_cel_value *out) {
    if (x->kind == SY_CEL_LIST) {
        const sy_cel_list *l = x->v.list;
        uint64_t i;
        switch (k->kind) {
        case SY_CEL_INT:
            if (k->v.i < 0) {
                sy_cel_set_error(out, SY_CEL_E_INDEX, NULL, 0);
                return;
            }
            i = (uint64_t)k->v.i;
            break;
        case SY_CEL_UINT: i = k->v.u; break;
        case SY_CEL_DOUBLE:
            if (!(k->v.d >= 0 && k->v.d < TWO63) || (double)(int64_t)k->v.d != k->v.d) {
                sy_cel_set_error(out, SY_CEL_E_BAD_INDEX, "a double index must be a whole number", 0);
                return;
            }
            i = (uint64_t)k->v.d;
            break;
        default: sy_cel_set_error(out, SY_CEL_E_BAD_INDEX, sy_cel_kind_name(k->kind), 0); return;
        }
        if (i >= l->n) {
            sy_cel_set_error(out, SY_CEL_E_INDEX, NULL, 0);
            return;
        }
        *out = l->items[i];
        return;
    }
    if (x->kind == SY_CEL_MAP) {
        long j = map_find(x->v.map, k);
        if (j < 0) {
            sy_cel_set_error(out, SY_CEL_E_NO_KEY, NULL, 0);
            return;
        }
        *out = x->v.map->vals[j];
        return;
    }
    no_overload(out, OP_INDEX, 2, x, k);
}

static void convert(sy_cel_ectx *c, int op, const sy_cel_value *x, sy_cel_value *out) {
    sy_cel_kind k = x->kind;
    switch (op) {
    case OP_INT:
        if (k == SY_CEL_INT) {
            *out = *x;
        } else if (k == SY_CEL_UINT) {
            if (x->v.u > (uint64_t)INT64_MAX)
                sy_cel_set_error(out, SY_CEL_E_RANGE, "uint64 out of int64 range", 0);
            else
                *out = sy_cel_int((int64_t)x->v.u);
        } else if (k == SY_CEL_DOUBLE) {
            double d = x->v.d;
            if (!(d > -TWO63 && d < TWO63))
                sy_cel_set_error(out, SY_CEL_E_RANGE, "double out of int64 range", 0);
            else
                *out = sy_cel_int((int64_t)d);
        } else if (k == SY_CEL_STRING) {
            int neg;
            uint64_t v;
            int r = parse_u64(x->v.s, x->len, 1, &neg, &v);
            if (r == 0 && ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1))) r = -2;
            if (r == -1)
                sy_cel_set_error(out, SY_CEL_E_CONVERT, "string is not a base-10 int", 0);
            else if (r == -2)
                sy_cel_set_error(out, SY_CEL_E_RANGE, "string out of int64 range", 0);
            else
                *out = sy_cel_int(neg ? (int64_t)(0 - v) : (int64_t)v);
        } else {
            no_overload(out, op, 1, x, NULL);
        }
        return;
    case OP_UINT:
        if (k == SY_CEL_UINT) {
            *out = *x;
        } else if (k == SY_CEL_INT) {
            if (x->v.i < 0)
                sy_cel_set_error(out, SY_CEL_E_RANGE, "int64 out of uint64 range", 0);
            else
                *out = sy_cel_uint((uint64_t)x->v.i);
        } else if (k == SY_CEL_DOUBLE) {
            double d = x->v.d;
            if (!(d >= 0 && d < TWO64))
                sy_cel_set_error(out, SY_CEL_E_RANGE, "double out of uint64 range", 0);
            else
                *out = sy_cel_uint((uint64_t)d);
        } else if (k == SY_CEL_STRING) {
            int neg;
            uint64_t v;
            int r = parse_u64(x->v.s, x->len, 0, &neg, &v);
            if (r == -1)
                sy_cel_set_error(out, SY_CEL_E_CONVERT, "string is not a base-10 uint", 0);
            else if (r == -2)
                sy_cel_set_error(out, SY_CEL_E_RANGE, "string out of uint64 range", 0);
            else
                *out = sy_cel_uint(v);
        } else {
            no_overload(out, op, 1, x, NULL);
        }
        return;
    case OP_DOUBLE:
        if (k == SY_CEL_DOUBLE) {
            *out = *x;
        } else if (k == SY_CEL_INT) {
            *out = sy_cel_double((double)x->v.i);
        } else if (k == SY_CEL_UINT) {
            *out = sy_cel_double((double)x->v.u);
        } else if (k == SY_CEL_STRING) {
            double d;
            int r = parse_double(c->scratch, x->v.s, x->len, &d);
            if (r == -2)
                oom(out, c->scratch);
            else if (r)
                sy_cel_set_error(out, SY_CEL_E_CONVERT, "string is not a double", 0);
            else
                *out = sy_cel_double(d);
        } else {
            no_overload(out, op, 1, x, NULL);
        }
        return;
    case OP_STRING:
        if (k == SY_CEL_STRING) {
            *out = *x;
        } else if (k == SY_CEL_BYTES) {
            if (!sy_cel_utf8_valid(x->v.s, x->len)) {
                sy_cel_set_error(out, SY_CEL_E_UTF8, NULL, 0);
                return;
            }
            *out = *x;
            out->kind = SY_CEL_STRING;
        } else if (k == SY_CEL_BOOL) {
            *out = x->v.b ? sy_cel_str("true", 4) : sy_cel_str("false", 5);
        } else if (k == SY_CEL_INT || k == SY_CEL_UINT || k == SY_CEL_DOUBLE) {
            char *buf = sy_cel_scratch_alloc(c->scratch, 48);
            if (!buf) {
                oom(out, c->scratch);
                return;
            }
            int n;
            if (k == SY_CEL_INT)
                n = snprintf(buf, 48, "%lld", (long long)x->v.i);
            else if (k == SY_CEL_UINT)
                n = snprintf(buf, 48, "%llu", (unsigned long long)x->v.u);
            else
                n = (int)sy_cel_format_double(x->v.d, buf, 48);
            *out = sy_cel_str(buf, (size_t)n);
        } else {
            no_overload(out, op, 1, x, NULL);
        }
        return;
    case OP_BYTES:
        if (k == SY_CEL_BYTES || k == SY_CEL_STRING) {
            *out = *x;
            out->kind = SY_CEL_BYTES;
        } else {
            no_overload(out, op, 1, x, NULL);
        }
        return;
    case OP_BOOL:
        if (k == SY_CEL_BOOL) {
            *out = *x;
        } else if (k == SY_CEL_STRING) {
            int b;
            if (bool_from_string(x->v.s, x->len, &b))
                sy_cel_set_error(out, SY_CEL_E_CONVERT, "string is not a bool (true, True, TRUE, t, 1 or the false forms)", 0);
            else
                *out = sy_cel_bool(b);
        } else {
            no_overload(out, op, 1, x, NULL);
        }
        return;
    }
}

static void *scratch_allocfn(void *ctx, size_t n) { return sy_cel_scratch_alloc(ctx, n); }

static void matches(const sy_cel_program *p, const sy_cel_insn *in, sy_cel_ectx *c, const sy_cel_value *s,
                    const sy_cel_value *pat, sy_cel_value *out) {
    if (s->kind != SY_CEL_STRING || pat->kind != SY_CEL_STRING) {
        no_overload(out, OP_MATCHES, 2, s, pat);
        return;
    }
    const sy_cel_regex *re;
    if (in->kind) {
        re = p->regexes[in->c];
    } else {
        sy_cel_regex *r = NULL;
        int failed_alloc = 0;
        const char *err =
            sy_cel_regex_compile(pat->v.s, pat->len, scratch_allocfn, c->scratch, &r, &failed_alloc);
        if (failed_alloc) {
            oom(out, c->scratch);
            return;
        }
        if (err) {
            sy_cel_set_error(out, SY_CEL_E_REGEX, err, 0);
            return;
        }
        re = r;
    }
    int m = sy_cel_regex_search(re, s->v.s, s->len, scratch_allocfn, c->scratch);
    if (m < 0)
        oom(out, c->scratch);
    else
        *out = sy_cel_bool(m);
}

static void make_list(const sy_cel_program *p, const sy_cel_insn *in, sy_cel_ectx *c, sy_cel_value *out) {
    uint32_t n = in->b;
    sy_cel_list *l = sy_cel_scratch_alloc(c->scratch, sizeof *l);
    sy_cel_value *items = sy_cel_scratch_alloc(c->scratch, (n ? n : 1) * sizeof *items);
    if (!l || !items) {
        oom(out, c->scratch);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        EV(p->kids[in->a + i], &items[i]);
        if (items[i].kind == SY_CEL_ERROR) {
            *out = items[i];
            return;
        }
    }
    l->items = items;
    l->n = n;
    out->kind = SY_CEL_LIST;
    out->code = 0;
    out->v.list = l;
    out->len = 0;
}

static void make_map(const sy_cel_program *p, const sy_cel_insn *in, sy_cel_ectx *c, sy_cel_value *out) {
    uint32_t n = in->b;
    sy_cel_map *m = sy_cel_scratch_alloc(c->scratch, sizeof *m);
    sy_cel_value *keys = sy_cel_scratch_alloc(c->scratch, (n ? n : 1) * sizeof *keys);
    sy_cel_value *vals = sy_cel_scratch_alloc(c->scratch, (n ? n : 1) * sizeof *vals);
    if (!m || !keys || !vals) {
        oom(out, c->scratch);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        EV(p->kids[in->a + 2 * i], &keys[i]);
        if (keys[i].kind == SY_CEL_ERROR) {
            *out = keys[i];
            return;
        }
        EV(p->kids[in->a + 2 * i + 1], &vals[i]);
        if (vals[i].kind == SY_CEL_ERROR) {
            *out = vals[i];
            return;
        }
        sy_cel_kind k = keys[i].kind;
        if (k != SY_CEL_INT && k != SY_CEL_UINT && k != SY_CEL_BOOL && k != SY_CEL_STRING) {
            sy_cel_set_error(out, SY_CEL_E_BAD_KEY, NULL, (uint32_t)k);
            return;
        }
        for (uint32_t j = 0; j < i; j++)
            if (key_eq(&keys[j], &keys[i])) {
                sy_cel_set_error(out, SY_CEL_E_DUP_KEY, NULL, 0);
                return;
            }
    }
    m->keys = keys;
    m->vals = vals;
    m->n = n;
    out->kind = SY_CEL_MAP;
    out->code = 0;
    out->v.map = m;
    out->len = 0;
}

/* s1 + s2 + ... (operands statically strings): one allocation and one copy per operand. */
static void concat_n(const sy_cel_program *p, const sy_cel_insn *in, sy_cel_ectx *c, sy_cel_value *out) {
    sy_cel_value local[8];
    uint32_t n = in->b;
    sy_cel_value *v = n <= 8 ? local : sy_cel_scratch_alloc(c->scratch, n * sizeof *v);
    if (!v) {
        oom(out, c->scratch);
        return;
    }
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        EV(p->kids[in->a + i], &v[i]);
        if (v[i].kind == SY_CEL_ERROR) {
            *out = v[i];
            return;
        }
        if (v[i].kind != SY_CEL_STRING) { /* cannot happen after type checking */
            no_overload(out, OP_ADD, 2, &v[i], &v[i]);
            return;
        }
        total += v[i].len;
    }
    char *buf = sy_cel_scratch_alloc(c->scratch, total);
    if (!buf) {
        oom(out, c->scratch);
        return;
    }
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (v[i].len) memcpy(buf + o, v[i].v.s, v[i].len);
        o += v[i].len;
    }
    out->kind = SY_CEL_STRING;
    out->code = 0;
    out->v.s = buf;
    out->len = total;
}

static void logic(const sy_cel_program *p, const sy_cel_insn *in, sy_cel_ectx *c, sy_cel_value *out) {
    int absorbing = in->op == OP_OR; /* the value that decides the result alone */
    sy_cel_value x, y;
    EV(in->a, &x);
    if (x.kind == SY_CEL_BOOL && x.v.b == absorbing) {
        *out = x;
        return;
    }
    EV(in->b, &y);
    if (y.kind == SY_CEL_BOOL && y.v.b == absorbing) {
        *out = y;
        return;
    }
    if (x.kind == SY_CEL_BOOL && y.kind == SY_CEL_BOOL) {
        *out = sy_cel_bool(!absorbing);
        return;
    }
    if (x.kind == SY_CEL_ERROR)
        *out = x;
    else if (y.kind == SY_CEL_ERROR)
        *out = y;
    else
        no_overload(out, in->op, 2, &x, &y);
}

#if defined(__GNUC__)
#define SY_NOINLINE __attribute__((noinline))
#else
#define SY_NOINLINE
#endif

static void ev_general(const sy_cel_program *p, const sy_cel_insn *in, sy_cel_ectx *c, sy_cel_value *out);

/* The hot instructions are handled in this small function; everything else, and every slow
 * case, goes to ev_general. */
void sy_cel_ev(const sy_cel_program *p, uint32_t i, sy_cel_ectx *c, sy_cel_value *out) {
    const sy_cel_insn *in = &p->code[i];
    const sy_cel_value *a;
    uint64_t h;
    switch ((sy_cel_op)in->op) {
    case OP_CONST: *out = in->k; return;
    case OP_VAR:
        a = c->args ? &c->args[in->a] : NULL;
        if (a && a->kind == (sy_cel_kind)in->kind &&
            (a->kind != SY_CEL_STRING || sy_cel_utf8_valid(a->v.s, a->len))) {
            *out = *a;
            return;
        }
        break;
    case OP_HASH_VAR_MOD_UK:
        /* shard_hash(v) % K, the hot path of hash-like CEL routing */
        a = c->args ? &c->args[in->a] : NULL;
        if (a && a->kind == (sy_cel_kind)in->kind && a->kind != SY_CEL_STRING && digest(a, &h) == 0) {
            put_uint(out, h % in->k.v.u);
            return;
        }
        break;
    default: break;
    }
    ev_general(p, in, c, out);
}

static SY_NOINLINE void ev_general(const sy_cel_program *p, const sy_cel_insn *in, sy_cel_ectx *c,
                                   sy_cel_value *out) {
    sy_cel_value x, y;
    switch ((sy_cel_op)in->op) {
    case OP_CONST: *out = in->k; return;
    case OP_VAR: read_var(p, in->a, (sy_cel_kind)in->kind, c, out); return;
    case OP_HASH_VAR_MOD_UK: {
        read_var(p, in->a, (sy_cel_kind)in->kind, c, &x);
        if (x.kind != SY_CEL_ERROR) hash_value(&x, &y);
        if (x.kind == SY_CEL_ERROR)
            *out = x;
        else if (y.kind == SY_CEL_ERROR)
            *out = y;
        else
            put_uint(out, y.v.u % in->k.v.u);
        return;
    }
    case OP_HASH_VAR:
        read_var(p, in->a, (sy_cel_kind)in->kind, c, &x);
        if (x.kind == SY_CEL_ERROR)
            *out = x;
        else
            hash_value(&x, out);
        return;
    case OP_MOD_UK:
        EV(in->a, &x);
        if (x.kind == SY_CEL_UINT) {
            put_uint(out, x.v.u % in->k.v.u);
            return;
        }
        if (x.kind == SY_CEL_ERROR) {
            *out = x;
            return;
        }
        arith(c, OP_MOD, &x, &in->k, out);
        return;
    case OP_MOD_IK:
        EV(in->a, &x);
        if (x.kind == SY_CEL_INT) {
            put_int(out, x.v.i % in->k.v.i);
            return;
        }
        if (x.kind == SY_CEL_ERROR) {
            *out = x;
            return;
        }
        arith(c, OP_MOD, &x, &in->k, out);
        return;
    case OP_UNBOUND: sy_cel_set_error(out, SY_CEL_E_UNBOUND, in->k.v.s, 0); return;
    case OP_BADCALL: sy_cel_set_error(out, SY_CEL_E_UNKNOWN_FN, in->k.v.s, 0); return;
    case OP_LIST: make_list(p, in, c, out); return;
    case OP_CONCAT: concat_n(p, in, c, out); return;
    case OP_MAP: make_map(p, in, c, out); return;
    case OP_SELECT:
    case OP_HAS:
        EV(in->a, &x);
        if (x.kind == SY_CEL_ERROR) {
            *out = x;
        } else if (x.kind != SY_CEL_MAP) {
            no_overload(out, in->op, 1, &x, NULL);
        } else {
            long j = map_find(x.v.map, &in->k);
            if (in->op == OP_HAS)
                *out = sy_cel_bool(j >= 0);
            else if (j < 0)
                sy_cel_set_error(out, SY_CEL_E_NO_KEY, in->k.v.s, 0);
            else
                *out = x.v.map->vals[j];
        }
        return;
    case OP_COND:
        EV(in->a, &x);
        if (x.kind == SY_CEL_ERROR) {
            *out = x;
        } else if (x.kind != SY_CEL_BOOL) {
            no_overload(out, OP_COND, 1, &x, NULL);
        } else {
            EV(x.v.b ? in->b : in->c, out);
        }
        return;
    case OP_AND:
    case OP_OR: logic(p, in, c, out); return;
    case OP_NOT:
    case OP_NEG:
    case OP_SIZE:
    case OP_INT:
    case OP_UINT:
    case OP_DOUBLE:
    case OP_STRING:
    case OP_BYTES:
    case OP_BOOL:
    case OP_DYN:
    case OP_SHARD_HASH:
        EV(in->a, &x);
        if (x.kind == SY_CEL_ERROR) {
            *out = x;
            return;
        }
        switch (in->op) {
        case OP_NOT:
            if (x.kind == SY_CEL_BOOL)
                *out = sy_cel_bool(!x.v.b);
            else
                no_overload(out, OP_NOT, 1, &x, NULL);
            return;
        case OP_NEG:
            if (x.kind == SY_CEL_INT) {
                if (x.v.i == INT64_MIN)
                    sy_cel_set_error(out, SY_CEL_E_OVERFLOW, NULL, 0);
                else
                    *out = sy_cel_int(-x.v.i);
            } else if (x.kind == SY_CEL_DOUBLE) {
                *out = sy_cel_double(-x.v.d);
            } else {
                no_overload(out, OP_NEG, 1, &x, NULL);
            }
            return;
        case OP_SIZE:
            switch (x.kind) {
            case SY_CEL_STRING: *out = sy_cel_int((int64_t)sy_cel_utf8_count(x.v.s, x.len)); return;
            case SY_CEL_BYTES: *out = sy_cel_int((int64_t)x.len); return;
            case SY_CEL_LIST: *out = sy_cel_int((int64_t)x.v.list->n); return;
            case SY_CEL_MAP: *out = sy_cel_int((int64_t)x.v.map->n); return;
            default: no_overload(out, OP_SIZE, 1, &x, NULL); return;
            }
        case OP_DYN: *out = x; return;
        case OP_SHARD_HASH: hash_value(&x, out); return;
        default: convert(c, in->op, &x, out); return;
        }
    default: break;
    }
    /* binary operations: evaluate both operands, errors propagate (left first) */
    EV(in->a, &x);
    if (x.kind == SY_CEL_ERROR) {
        *out = x;
        return;
    }
    EV(in->b, &y);
    if (y.kind == SY_CEL_ERROR) {
        *out = y;
        return;
    }
    switch ((sy_cel_op)in->op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
    case OP_MOD: arith(c, in->op, &x, &y, out); return;
    case OP_EQ: *out = sy_cel_bool(eq_depth(&x, &y, 0)); return;
    case OP_NE: *out = sy_cel_bool(!eq_depth(&x, &y, 0)); return;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: compare(in->op, &x, &y, out); return;
    case OP_IN:
        if (y.kind == SY_CEL_LIST) {
            int found = 0;
            for (size_t k = 0; k < y.v.list->n && !found; k++) found = eq_depth(&x, &y.v.list->items[k], 0);
            *out = sy_cel_bool(found);
        } else if (y.kind == SY_CEL_MAP) {
            *out = sy_cel_bool(map_find(y.v.map, &x) >= 0);
        } else {
            no_overload(out, OP_IN, 2, &x, &y);
        }
        return;
    case OP_INDEX: index_value(&x, &y, out); return;
    case OP_CONTAINS:
    case OP_STARTS:
    case OP_ENDS:
        if (x.kind != SY_CEL_STRING || y.kind != SY_CEL_STRING) {
            no_overload(out, in->op, 2, &x, &y);
            return;
        }
        if (in->op == OP_CONTAINS)
            *out = sy_cel_bool(find(x.v.s, x.len, y.v.s, y.len));
        else if (y.len > x.len)
            *out = sy_cel_bool(0);
        else if (in->op == OP_STARTS)
            *out = sy_cel_bool(!y.len || !memcmp(x.v.s, y.v.s, y.len));
        else
            *out = sy_cel_bool(!y.len || !memcmp(x.v.s + x.len - y.len, y.v.s, y.len));
        return;
    case OP_MATCHES: matches(p, in, c, &x, &y, out); return;
    default: sy_cel_set_error(out, SY_CEL_E_UNKNOWN_FN, sy_cel_op_name(in->op), 0); return;
    }
}

shardy_status sy_cel_error_status(const sy_cel_value *err, const char *prefix) {
    if (err->code == SY_CEL_E_NOMEM) return sy_err(SHARDY_ENOMEM, "out of memory evaluating a CEL expression");
    char text[256];
    sy_cel_error_text(err, text, sizeof text);
    return sy_err(SHARDY_EROUTE, "%s: %s", prefix, text);
}

shardy_status sy_cel_eval(const sy_cel_program *p, const sy_cel_value *args, sy_cel_scratch *scratch,
                          sy_cel_value *result) {
    if (!p || !scratch || !result) return sy_err(SHARDY_EINVAL, "sy_cel_eval: NULL argument");
    sy_cel_scratch_reset(scratch);
    sy_cel_ectx c = {args, scratch};
    sy_cel_ev(p, p->root, &c, result);
    if (result->kind != SY_CEL_ERROR) return SHARDY_OK;
    return sy_cel_error_status(result, "CEL evaluation error");
}
