/*
 * regex.c — the regular-expression engine behind CEL's matches() (cel.md §2.5.5).
 *
 * Owns: parsing RE2-syntax patterns into a small tree, compiling it to a Thompson-NFA program,
 * and an unanchored Pike-VM search over the code points of UTF-8 text. Only a boolean "is there a
 * match anywhere" is computed, so capture groups and greediness do not matter. The run time is
 * O(text length × program size) for every pattern (no backtracking, like RE2).
 *
 * Supported (RE2 meaning): literals (any code point), '.', [classes] with ranges, negation,
 * escapes and [:alpha:]-style names, \d \D \s \S \w \W, \a \f \t \n \r \v \xHH \x{H..} and octal
 * escapes, escaped punctuation, anchors ^ $ \A \z \b \B, groups (..), (?:..), (?P<n>..), (?<n>..),
 * alternation, * + ? {n} {n,} {n,m} (at most 1000) with optional lazy '?', and the flags
 * (?s) (?m) (?U) in both the (?flags) and (?flags:re) forms.
 * Refused with an error (RE2 refuses the first group too): backreferences, lookaround, possessive
 * or doubled quantifiers, \Z, \G; refused as unsupported (RE2 would accept): (?i), \p{..}, \P,
 * \Q..\E, \C. Programs are limited to 50,000 instructions and nesting to 200 levels.
 *
 * Memory: everything comes from the caller's allocator (the program's arena at compile time, the
 * evaluation scratch at run time); nothing is freed individually. Failure: a static message, or
 * *oom / -1 when an allocation failed.
 */
#include <string.h>

#include "cel/internal.h"

#define MAX_INSTS 50000
#define MAX_NEST 200
#define MAX_REPEAT 1000

enum { R_EMPTY, R_LIT, R_ANY, R_CLASS, R_ASSERT, R_CAT, R_ALT, R_REPEAT };
enum { A_BOL, A_EOL, A_BOT, A_EOT, A_WORDB, A_NWORDB, A_BOL_M, A_EOL_M };
enum { I_CHAR, I_ANY, I_ANYNL, I_CLASS, I_ASSERT, I_SPLIT, I_JMP, I_MATCH };

typedef struct rnode {
    uint8_t type;
    uint8_t flag;  /* R_ANY: matches \n; R_CLASS: negated; R_ASSERT: kind */
    int min, max;  /* R_REPEAT (max -1 = unbounded) */
    uint32_t cp;   /* R_LIT */
    const uint32_t *ranges; /* R_CLASS: lo,hi pairs, sorted, merged */
    uint32_t nranges;
    struct rnode *a, *b;
} rnode;

typedef struct rinst {
    uint8_t op;
    uint8_t flag;
    uint32_t x, y;
    const uint32_t *ranges;
    uint32_t nranges;
} rinst;

struct sy_cel_regex {
    rinst *prog;
    uint32_t n;
};

typedef struct rparser {
    const unsigned char *s;
    size_t n, i;
    sy_cel_allocfn alloc;
    void *ctx;
    const char *err;
    int oom;
    int depth;
    /* flags in effect */
    int dotnl, multiline;
} rparser;

static void *ralloc(rparser *P, size_t n) {
    void *p = P->alloc(P->ctx, n);
    if (!p) {
        P->oom = 1;
        if (!P->err) P->err = "out of memory";
    }
    return p;
}

static rnode *node(rparser *P, int type) {
    rnode *r = ralloc(P, sizeof *r);
    if (!r) return NULL;
    memset(r, 0, sizeof *r);
    r->type = (uint8_t)type;
    return r;
}

static rnode *fail(rparser *P, const char *msg) {
    if (!P->err) P->err = msg;
    return NULL;
}

static int peek(const rparser *P) { return P->i < P->n ? P->s[P->i] : -1; }

static uint32_t next_cp(rparser *P) {
    uint32_t cp;
    P->i += sy_cel_utf8_next(P->s + P->i, P->n - P->i, &cp);
    return cp;
}

/* ---- character classes ------------------------------------------------------------------------- */

typedef struct rangeset {
    uint32_t *r; /* pairs */
    uint32_t n, cap;
} rangeset;

static int rs_add(rparser *P, rangeset *rs, uint32_t lo, uint32_t hi) {
    if (rs->n + 2 > rs->cap) {
        uint32_t cap = rs->cap ? rs->cap * 2 : 16;
        uint32_t *r = ralloc(P, cap * sizeof *r);
        if (!r) return -1;
        if (rs->n) memcpy(r, rs->r, rs->n * sizeof *r);
        rs->r = r;
        rs->cap = cap;
    }
    rs->r[rs->n++] = lo;
    rs->r[rs->n++] = hi;
    return 0;
}

/* Adds ranges, or their complement within 0..0x10FFFF when neg. */
static int rs_add_set(rparser *P, rangeset *rs, const uint32_t *pairs, size_t np, int neg) {
    if (!neg) {
        for (size_t i = 0; i < np; i++)
            if (rs_add(P, rs, pairs[2 * i], pairs[2 * i + 1])) return -1;
        return 0;
    }
    uint32_t lo = 0;
    for (size_t i = 0; i < np; i++) {
        if (pairs[2 * i] > lo && rs_add(P, rs, lo, pairs[2 * i] - 1)) return -1;
        lo = pairs[2 * i + 1] + 1;
    }
    return lo <= 0x10FFFF ? rs_add(P, rs, lo, 0x10FFFF) : 0;
}

static void rs_normalize(rangeset *rs) {
    /* insertion sort by lo (classes are small), then merge */
    uint32_t n = rs->n / 2;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t lo = rs->r[2 * i], hi = rs->r[2 * i + 1];
        uint32_t j = i;
        while (j > 0 && rs->r[2 * (j - 1)] > lo) {
            rs->r[2 * j] = rs->r[2 * (j - 1)];
            rs->r[2 * j + 1] = rs->r[2 * (j - 1) + 1];
            j--;
        }
        rs->r[2 * j] = lo;
        rs->r[2 * j + 1] = hi;
    }
    uint32_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t lo = rs->r[2 * i], hi = rs->r[2 * i + 1];
        if (o && lo <= rs->r[2 * (o - 1) + 1] + 1) {
            if (hi > rs->r[2 * (o - 1) + 1]) rs->r[2 * (o - 1) + 1] = hi;
        } else {
            rs->r[2 * o] = lo;
            rs->r[2 * o + 1] = hi;
            o++;
        }
    }
    rs->n = o * 2;
}

static const uint32_t cls_digit[] = {'0', '9'};
static const uint32_t cls_space[] = {'\t', '\n', '\f', '\r', ' ', ' '}; /* \t\n \f\r and space */
static const uint32_t cls_word[] = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};

static const struct {
    const char *name;
    uint32_t pairs[8];
    size_t np;
} posix[] = {{"alnum", {'0', '9', 'A', 'Z', 'a', 'z'}, 3},
             {"alpha", {'A', 'Z', 'a', 'z'}, 2},
             {"ascii", {0, 0x7F}, 1},
             {"blank", {'\t', '\t', ' ', ' '}, 2},
             {"cntrl", {0, 0x1F, 0x7F, 0x7F}, 2},
             {"digit", {'0', '9'}, 1},
             {"graph", {'!', '~'}, 1},
             {"lower", {'a', 'z'}, 1},
             {"print", {' ', '~'}, 1},
             {"punct", {'!', '/', ':', '@', '[', '`', '{', '~'}, 4},
             {"space", {'\t', '\r', ' ', ' '}, 2},
             {"upper", {'A', 'Z'}, 1},
             {"word", {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}, 4},
             {"xdigit", {'0', '9', 'A', 'F', 'a', 'f'}, 3}};

static int is_hexd(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int hexv(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }
static int is_alnum(int c) { return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'); }

/* Parses an escape after '\' that denotes one code point (in or out of classes). Returns 0 and
 * *cp, 1 when the escape is not a single character (caller handles), -1 on error. */
static int escape_char(rparser *P, int c, uint32_t *cp) {
    switch (c) {
    case 'a': *cp = 7; return 0;
    case 'f': *cp = 12; return 0;
    case 't': *cp = 9; return 0;
    case 'n': *cp = 10; return 0;
    case 'r': *cp = 13; return 0;
    case 'v': *cp = 11; return 0;
    case 'x': {
        if (peek(P) == '{') {
            P->i++;
            uint32_t v = 0;
            int nd = 0;
            while (is_hexd(peek(P))) {
                v = v * 16 + (uint32_t)hexv(peek(P));
                P->i++;
                if (++nd > 8 || v > 0x10FFFF) {
                    fail(P, "invalid escape sequence: \\x{...} out of range");
                    return -1;
                }
            }
            if (peek(P) != '}' || nd == 0) {
                fail(P, "invalid escape sequence: \\x{...}");
                return -1;
            }
            P->i++;
            *cp = v;
            return 0;
        }
        if (P->i + 2 > P->n || !is_hexd(P->s[P->i]) || !is_hexd(P->s[P->i + 1])) {
            fail(P, "invalid escape sequence: \\x needs two hex digits");
            return -1;
        }
        *cp = (uint32_t)(hexv(P->s[P->i]) * 16 + hexv(P->s[P->i + 1]));
        P->i += 2;
        return 0;
    }
    }
    if (c >= '0' && c <= '7') {
        /* \0, \0n, \0nn; \1-\7 need a second octal digit (otherwise a backreference) */
        if (c != '0' && !(peek(P) >= '0' && peek(P) <= '7')) {
            fail(P, "backreferences are not supported");
            return -1;
        }
        uint32_t v = (uint32_t)(c - '0');
        for (int k = 0; k < 2 && peek(P) >= '0' && peek(P) <= '7'; k++) v = v * 8 + (uint32_t)(P->s[P->i++] - '0');
        *cp = v;
        return 0;
    }
    if (c == '8' || c == '9') {
        fail(P, "backreferences are not supported");
        return -1;
    }
    if (c < 0x80 && !is_alnum(c)) {
        *cp = (uint32_t)c;
        return 0;
    }
    return 1;
}

static int perl_class(int c, const uint32_t **pairs, size_t *np, int *neg) {
    switch (c) {
    case 'd':
    case 'D': *pairs = cls_digit, *np = 1; break;
    case 's':
    case 'S': *pairs = cls_space, *np = 3; break;
    case 'w':
    case 'W': *pairs = cls_word, *np = 4; break;
    default: return 0;
    }
    *neg = c >= 'A' && c <= 'Z';
    return 1;
}

static const char *unsupported_escape(int c) {
    switch (c) {
    case 'p':
    case 'P': return "unsupported regex feature: Unicode classes \\p / \\P";
    case 'Q':
    case 'E': return "unsupported regex feature: \\Q...\\E";
    case 'C': return "unsupported regex feature: \\C";
    case 'Z': return "invalid escape sequence: \\Z (use \\z or $)";
    default: return "invalid escape sequence";
    }
}

static rnode *parse_class(rparser *P) {
    rangeset rs = {NULL, 0, 0};
    int neg = 0;
    P->i++; /* '[' */
    if (peek(P) == '^') {
        neg = 1;
        P->i++;
    }
    int first = 1;
    for (;;) {
        int c = peek(P);
        if (c < 0) return fail(P, "missing closing ]");
        if (c == ']' && !first) {
            P->i++;
            break;
        }
        first = 0;
        if (c == '[' && P->i + 1 < P->n && P->s[P->i + 1] == ':') {
            size_t j = P->i + 2;
            int pneg = 0;
            if (j < P->n && P->s[j] == '^') {
                pneg = 1;
                j++;
            }
            size_t k = j;
            while (k < P->n && P->s[k] >= 'a' && P->s[k] <= 'z') k++;
            if (k + 1 < P->n && P->s[k] == ':' && P->s[k + 1] == ']') {
                size_t idx;
                for (idx = 0; idx < sizeof posix / sizeof posix[0]; idx++)
                    if (strlen(posix[idx].name) == k - j && !memcmp(posix[idx].name, P->s + j, k - j)) break;
                if (idx == sizeof posix / sizeof posix[0]) return fail(P, "invalid character class name [:...:]");
                if (rs_add_set(P, &rs, posix[idx].pairs, posix[idx].np, pneg)) return NULL;
                P->i = k + 2;
                continue;
            }
        }
        uint32_t lo;
        if (c == '\\') {
            P->i++;
            int e = peek(P);
            if (e < 0) return fail(P, "trailing \\");
            P->i++;
            const uint32_t *pairs;
            size_t np;
            int pn;
            if (perl_class(e, &pairs, &np, &pn)) {
                if (rs_add_set(P, &rs, pairs, np, pn)) return NULL;
                continue;
            }
            int r = escape_char(P, e, &lo);
            if (r < 0) return NULL;
            if (r > 0) return fail(P, unsupported_escape(e));
        } else {
            lo = next_cp(P);
        }
        uint32_t hi = lo;
        if (peek(P) == '-' && P->i + 1 < P->n && P->s[P->i + 1] != ']') {
            P->i++;
            int d = peek(P);
            if (d == '\\') {
                P->i++;
                int e = peek(P);
                if (e < 0) return fail(P, "trailing \\");
                P->i++;
                int r = escape_char(P, e, &hi);
                if (r < 0) return NULL;
                if (r > 0) return fail(P, "bad character class range");
            } else {
                hi = next_cp(P);
            }
            if (hi < lo) return fail(P, "bad character class range");
        }
        if (rs_add(P, &rs, lo, hi)) return NULL;
    }
    rs_normalize(&rs);
    rnode *r = node(P, R_CLASS);
    if (!r) return NULL;
    r->flag = (uint8_t)neg;
    r->ranges = rs.r;
    r->nranges = rs.n / 2;
    return r;
}

/* ---- parser ------------------------------------------------------------------------------------- */

static rnode *parse_alt(rparser *P);

static rnode *cat(rparser *P, rnode *a, rnode *b) {
    if (!a) return b;
    if (!b) return a;
    rnode *r = node(P, R_CAT);
    if (!r) return NULL;
    r->a = a;
    r->b = b;
    return r;
}

/* Parses "(?flags)" or "(?flags:" after "(?"; returns 1 for a scoped group (flags set), 0 for a
 * flag-only group (flags set for the rest), -1 on error. */
static int parse_flags(rparser *P) {
    int on = 1;
    int saw = 0;
    for (;;) {
        int c = peek(P);
        if (c < 0) {
            fail(P, "missing closing )");
            return -1;
        }
        P->i++;
        switch (c) {
        case 'i': fail(P, "unsupported regex feature: case-insensitive matching (?i)"); return -1;
        case 's': P->dotnl = on; saw = 1; break;
        case 'm': P->multiline = on; saw = 1; break;
        case 'U': saw = 1; break; /* greediness does not change whether a match exists */
        case '-':
            if (!on) {
                fail(P, "invalid or unsupported Perl syntax: (?-");
                return -1;
            }
            on = 0;
            saw = 0;
            break;
        case ':': return 1;
        case ')':
            if (!saw && !on) {
                fail(P, "invalid or unsupported Perl syntax: (?-)");
                return -1;
            }
            return 0;
        default: fail(P, "invalid or unsupported Perl syntax in (?...)"); return -1;
        }
    }
}

static rnode *parse_atom(rparser *P) {
    int c = peek(P);
    switch (c) {
    case '(': {
        P->i++;
        if (++P->depth > MAX_NEST) return fail(P, "pattern nests too deeply");
        int saved_dot = P->dotnl, saved_ml = P->multiline;
        if (peek(P) == '?') {
            P->i++;
            int d = peek(P);
            if (d == '=' || d == '!') return fail(P, "lookaround is not supported (RE2 syntax)");
            if (d == '<' && P->i + 1 < P->n && (P->s[P->i + 1] == '=' || P->s[P->i + 1] == '!'))
                return fail(P, "lookaround is not supported (RE2 syntax)");
            if (d == 'P' || d == '<') {
                if (d == 'P') {
                    P->i++;
                    if (peek(P) != '<') return fail(P, "invalid named capture group");
                }
                P->i++;
                size_t s0 = P->i;
                while (P->i < P->n && (is_alnum(P->s[P->i]) || P->s[P->i] == '_')) P->i++;
                if (P->i == s0 || peek(P) != '>') return fail(P, "invalid named capture group");
                P->i++;
            } else {
                int r = parse_flags(P);
                if (r < 0) return NULL;
                if (r == 0) {
                    /* flags for the rest of the enclosing group */
                    P->depth--;
                    return node(P, R_EMPTY);
                }
            }
        }
        rnode *inner = parse_alt(P);
        if (P->err) return NULL;
        if (peek(P) != ')') return fail(P, "missing closing )");
        P->i++;
        P->depth--;
        P->dotnl = saved_dot;
        P->multiline = saved_ml;
        return inner ? inner : node(P, R_EMPTY);
    }
    case '[': return parse_class(P);
    case '.': {
        P->i++;
        rnode *r = node(P, R_ANY);
        if (r) r->flag = (uint8_t)P->dotnl;
        return r;
    }
    case '^':
    case '$': {
        P->i++;
        rnode *r = node(P, R_ASSERT);
        if (r) r->flag = (uint8_t)(c == '^' ? (P->multiline ? A_BOL_M : A_BOL) : (P->multiline ? A_EOL_M : A_EOL));
        return r;
    }
    case '\\': {
        P->i++;
        int e = peek(P);
        if (e < 0) return fail(P, "trailing \\");
        P->i++;
        int ak = -1;
        switch (e) {
        case 'A': ak = A_BOT; break;
        case 'z': ak = A_EOT; break;
        case 'b': ak = A_WORDB; break;
        case 'B': ak = A_NWORDB; break;
        }
        if (ak >= 0) {
            rnode *r = node(P, R_ASSERT);
            if (r) r->flag = (uint8_t)ak;
            return r;
        }
        const uint32_t *pairs;
        size_t np;
        int neg;
        if (perl_class(e, &pairs, &np, &neg)) {
            rnode *r = node(P, R_CLASS);
            if (!r) return NULL;
            r->ranges = pairs;
            r->nranges = (uint32_t)np;
            r->flag = (uint8_t)neg;
            return r;
        }
        uint32_t cp;
        int rr = escape_char(P, e, &cp);
        if (rr < 0) return NULL;
        if (rr > 0) return fail(P, unsupported_escape(e));
        rnode *r = node(P, R_LIT);
        if (r) r->cp = cp;
        return r;
    }
    default: {
        rnode *r = node(P, R_LIT);
        if (r) r->cp = next_cp(P);
        return r;
    }
    }
}

/* Parses {n}, {n,}, {n,m} at P->i; returns 1 (min/max set), 0 (not a repetition: literal '{'). */
static int parse_braces(rparser *P, int *min, int *max) {
    size_t j = P->i + 1;
    long a = -1, b = -1;
    size_t d0 = j;
    long v = 0;
    while (j < P->n && P->s[j] >= '0' && P->s[j] <= '9') {
        v = v * 10 + (P->s[j] - '0');
        if (v > 100000) v = 100000;
        j++;
    }
    if (j == d0) return 0;
    a = v;
    if (j < P->n && P->s[j] == '}') {
        b = a;
    } else if (j < P->n && P->s[j] == ',') {
        j++;
        size_t e0 = j;
        v = 0;
        while (j < P->n && P->s[j] >= '0' && P->s[j] <= '9') {
            v = v * 10 + (P->s[j] - '0');
            if (v > 100000) v = 100000;
            j++;
        }
        if (j >= P->n || P->s[j] != '}') return 0;
        b = j == e0 ? -1 : v;
    } else {
        return 0;
    }
    P->i = j + 1;
    *min = (int)a;
    *max = (int)b;
    return 1;
}

static rnode *parse_repeat(rparser *P) {
    int c = peek(P);
    if (c == '*' || c == '+' || c == '?') return fail(P, "missing argument to repetition operator");
    if (c == '{') {
        int mn, mx;
        size_t save = P->i;
        if (parse_braces(P, &mn, &mx)) return fail(P, "missing argument to repetition operator");
        P->i = save;
    }
    rnode *atom = parse_atom(P);
    if (!atom) return NULL;
    for (int reps = 0;; reps++) {
        c = peek(P);
        int mn, mx;
        if (c == '*') {
            mn = 0, mx = -1;
            P->i++;
        } else if (c == '+') {
            mn = 1, mx = -1;
            P->i++;
        } else if (c == '?') {
            mn = 0, mx = 1;
            P->i++;
        } else if (c == '{' && parse_braces(P, &mn, &mx)) {
            if (mn > MAX_REPEAT || mx > MAX_REPEAT || (mx >= 0 && mx < mn)) return fail(P, "bad repetition operator");
        } else {
            return atom;
        }
        if (reps > 0) return fail(P, "bad repetition operator: doubled quantifier");
        if (peek(P) == '?') P->i++; /* lazy: same match set */
        rnode *r = node(P, R_REPEAT);
        if (!r) return NULL;
        r->a = atom;
        r->min = mn;
        r->max = mx;
        atom = r;
    }
}

static rnode *parse_concat(rparser *P) {
    rnode *acc = NULL;
    while (P->i < P->n && peek(P) != '|' && peek(P) != ')') {
        rnode *r = parse_repeat(P);
        if (!r) return NULL;
        acc = cat(P, acc, r);
        if (!acc) return NULL;
    }
    return acc ? acc : node(P, R_EMPTY);
}

static rnode *parse_alt(rparser *P) {
    rnode *l = parse_concat(P);
    while (l && peek(P) == '|') {
        P->i++;
        rnode *r = parse_concat(P);
        if (!r) return NULL;
        rnode *a = node(P, R_ALT);
        if (!a) return NULL;
        a->a = l;
        a->b = r;
        l = a;
    }
    return l;
}

/* ---- compiler ------------------------------------------------------------------------------------- */

static long size_of(const rnode *r, int depth) {
    if (depth > 2 * MAX_NEST + 16) return MAX_INSTS + 1;
    long s, x;
    switch (r->type) {
    case R_EMPTY: return 0;
    case R_CAT: s = size_of(r->a, depth + 1) + size_of(r->b, depth + 1); break;
    case R_ALT: s = size_of(r->a, depth + 1) + size_of(r->b, depth + 1) + 2; break;
    case R_REPEAT:
        x = size_of(r->a, depth + 1);
        if (x > MAX_INSTS) return MAX_INSTS + 1;
        if (r->max < 0)
            s = (long)r->min * x + x + 2;
        else
            s = (long)r->min * x + (long)(r->max - r->min) * (x + 1);
        break;
    default: return 1;
    }
    return s > MAX_INSTS ? MAX_INSTS + 1 : s;
}

typedef struct rcomp {
    rinst *p;
    uint32_t n;
} rcomp;

static uint32_t emit(rcomp *C, int op) {
    rinst *in = &C->p[C->n];
    memset(in, 0, sizeof *in);
    in->op = (uint8_t)op;
    return C->n++;
}

static void comp(rcomp *C, const rnode *r) {
    uint32_t s, j;
    switch (r->type) {
    case R_EMPTY: return;
    case R_LIT: C->p[emit(C, I_CHAR)].x = r->cp; return;
    case R_ANY: emit(C, r->flag ? I_ANYNL : I_ANY); return;
    case R_CLASS:
        s = emit(C, I_CLASS);
        C->p[s].flag = r->flag;
        C->p[s].ranges = r->ranges;
        C->p[s].nranges = r->nranges;
        return;
    case R_ASSERT: C->p[emit(C, I_ASSERT)].flag = r->flag; return;
    case R_CAT:
        comp(C, r->a);
        comp(C, r->b);
        return;
    case R_ALT:
        s = emit(C, I_SPLIT);
        C->p[s].x = C->n;
        comp(C, r->a);
        j = emit(C, I_JMP);
        C->p[s].y = C->n;
        comp(C, r->b);
        C->p[j].x = C->n;
        return;
    case R_REPEAT: {
        for (int k = 0; k < r->min; k++) comp(C, r->a);
        if (r->max < 0) {
            s = emit(C, I_SPLIT);
            C->p[s].x = C->n;
            comp(C, r->a);
            j = emit(C, I_JMP);
            C->p[j].x = s;
            C->p[s].y = C->n;
            return;
        }
        /* optional copies; each split may skip to the common end. The splits are chained through
         * y (index + 1 of the previous one) until the end is known. */
        uint32_t chain = 0;
        for (int k = 0; k < r->max - r->min; k++) {
            s = emit(C, I_SPLIT);
            C->p[s].x = C->n;
            C->p[s].y = chain;
            chain = s + 1;
            comp(C, r->a);
        }
        while (chain) {
            uint32_t prev = C->p[chain - 1].y;
            C->p[chain - 1].y = C->n;
            chain = prev;
        }
        return;
    }
    }
}

const char *sy_cel_regex_compile(const char *pat, size_t n, sy_cel_allocfn alloc, void *ctx, sy_cel_regex **out,
                                 int *oom) {
    rparser P;
    memset(&P, 0, sizeof P);
    P.s = (const unsigned char *)pat;
    P.n = n;
    P.alloc = alloc;
    P.ctx = ctx;
    *oom = 0;
    *out = NULL;
    rnode *root = parse_alt(&P);
    if (!P.err && P.i < P.n) P.err = "unexpected )";
    if (P.err || !root) {
        *oom = P.oom;
        return P.err ? P.err : "invalid pattern";
    }
    long size = size_of(root, 0);
    if (size > MAX_INSTS) return "pattern too large (more than 50000 instructions after expanding repetitions)";
    sy_cel_regex *re = ralloc(&P, sizeof *re);
    rcomp C = {ralloc(&P, (size_t)(size + 1) * sizeof(rinst)), 0};
    if (!re || !C.p) {
        *oom = 1;
        return "out of memory";
    }
    comp(&C, root);
    emit(&C, I_MATCH);
    re->prog = C.p;
    re->n = C.n;
    *out = re;
    return NULL;
}

/* ---- matcher ----------------------------------------------------------------------------------------- */

typedef struct tlist {
    uint32_t *dense;
    uint32_t *sparse;
    uint32_t n;
} tlist;

static int has(const tlist *l, uint32_t pc) { return l->sparse[pc] < l->n && l->dense[l->sparse[pc]] == pc; }

static int is_word_byte(int c) { return c >= 0 && c < 0x80 && (is_alnum(c) || c == '_'); }

static int assert_ok(int kind, const unsigned char *s, size_t n, size_t pos) {
    int prev = pos > 0 ? s[pos - 1] : -1, next = pos < n ? s[pos] : -1;
    switch (kind) {
    case A_BOL:
    case A_BOT: return pos == 0;
    case A_EOL:
    case A_EOT: return pos == n;
    case A_BOL_M: return pos == 0 || prev == '\n';
    case A_EOL_M: return pos == n || next == '\n';
    case A_WORDB: return is_word_byte(prev) != is_word_byte(next);
    case A_NWORDB: return is_word_byte(prev) == is_word_byte(next);
    }
    return 0;
}

/* Adds pc and its epsilon closure at pos; returns 1 when MATCH is reachable. */
static int add(const sy_cel_regex *re, tlist *l, uint32_t *stack, uint32_t pc, const unsigned char *s, size_t n,
               size_t pos) {
    uint32_t sp = 0;
    int matched = 0;
    stack[sp++] = pc;
    while (sp) {
        pc = stack[--sp];
        if (has(l, pc)) continue;
        l->sparse[pc] = l->n;
        l->dense[l->n++] = pc;
        const rinst *in = &re->prog[pc];
        switch (in->op) {
        case I_JMP: stack[sp++] = in->x; break;
        case I_SPLIT:
            stack[sp++] = in->y;
            stack[sp++] = in->x;
            break;
        case I_ASSERT:
            if (assert_ok(in->flag, s, n, pos)) stack[sp++] = pc + 1;
            break;
        case I_MATCH: matched = 1; break;
        default: break;
        }
    }
    return matched;
}

static int class_has(const rinst *in, uint32_t cp) {
    int in_set = 0;
    for (uint32_t i = 0; i < in->nranges; i++) {
        if (cp < in->ranges[2 * i]) break;
        if (cp <= in->ranges[2 * i + 1]) {
            in_set = 1;
            break;
        }
    }
    return in_set != in->flag;
}

int sy_cel_regex_search(const sy_cel_regex *re, const char *text, size_t n, sy_cel_allocfn alloc, void *ctx) {
    uint32_t m = re->n;
    uint32_t *mem = alloc(ctx, ((size_t)m * 6 + 1) * sizeof *mem);
    if (!mem) return -1;
    memset(mem, 0, (size_t)m * 4 * sizeof *mem); /* sparse sets are read before written */
    tlist a = {mem, mem + m, 0}, b = {mem + 2 * m, mem + 3 * m, 0};
    uint32_t *stack = mem + 4 * m; /* each pc is pushed at most twice per closure */
    tlist *cl = &a, *nl = &b;
    const unsigned char *s = (const unsigned char *)text;
    size_t pos = 0;
    for (;;) {
        if (add(re, cl, stack, 0, s, n, pos)) return 1;
        if (pos >= n) return 0;
        uint32_t cp;
        size_t len = sy_cel_utf8_next(s + pos, n - pos, &cp);
        nl->n = 0;
        for (uint32_t k = 0; k < cl->n; k++) {
            uint32_t pc = cl->dense[k];
            const rinst *in = &re->prog[pc];
            int ok = 0;
            switch (in->op) {
            case I_CHAR: ok = in->x == cp; break;
            case I_ANY: ok = cp != '\n'; break;
            case I_ANYNL: ok = 1; break;
            case I_CLASS: ok = class_has(in, cp); break;
            default: break;
            }
            if (ok && add(re, nl, stack, pc + 1, s, n, pos + len)) return 1;
        }
        tlist *t = cl;
        cl = nl;
        nl = t;
        pos += len;
    }
}
