/*
 * parse.c — CEL lexer and recursive-descent parser (cel-spec langdef "Syntax"; cel.md §2.2–2.3).
 *
 * Owns: tokenising (all literal forms: decimal/hex int, uint with u/U, doubles with exponents,
 * quoted/triple-quoted/raw strings and bytes with every escape), operator precedence, the has()
 * macro, and the syntax tree in sy_cel_ast (nodes in post-order, literals decoded into the tree's
 * arena).
 *
 * Grammar decisions that follow cel-cpp's parser: a single '-' directly before a numeric literal
 * is the literal's sign (so -9223372036854775808 is valid); runs of '!' or '-' keep only their
 * parity (`!!x` is x, `--x` is x); chains of && and || become balanced trees; relations are
 * left-associative and all on one level; reserved words (if, for, package, ...) are refused as
 * identifiers but allowed as field and method names; `x{...}` (messages), optional syntax,
 * comprehension macros are refused as unsupported features.
 *
 * Failure behaviour: the first error stops parsing and sets a message with line, column and a caret
 * (sy_cel_errf); the parser never recurses deeper than the nesting it has already checked against
 * SY_CEL_MAX_DEPTH, so hostile input cannot overflow the stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cel/internal.h"
#include "core/alloc.h"

enum {
    T_EOF,
    T_INT,
    T_UINT,
    T_DOUBLE,
    T_STRING,
    T_BYTES,
    T_IDENT,
    T_QIDENT,
    T_TRUE,
    T_FALSE,
    T_NULL,
    T_IN,
    T_LPAREN,
    T_RPAREN,
    T_LBRACKET,
    T_RBRACKET,
    T_LBRACE,
    T_RBRACE,
    T_DOT,
    T_COMMA,
    T_COLON,
    T_QUESTION,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_AND,
    T_OR,
    T_NOT
};

typedef struct token {
    int kind;
    size_t pos, end;
    /* T_STRING/T_BYTES: where the quotes start and the prefix flags */
    size_t qpos;
    int raw;
} token;

typedef struct parser {
    const char *s;
    size_t n;
    token tok;
    size_t prev_end; /* end of the previous token */
    sy_cel_ast *ast;
    shardy_status st;
    int depth;
    uint32_t *stk; /* pending child ids */
    size_t nstk, capstk;
} parser;

/* ---- errors ------------------------------------------------------------------------------------ */

static int failed(const parser *P) { return P->st != SHARDY_OK; }

static uint32_t fail(parser *P, size_t pos, const char *msg) {
    if (!failed(P)) P->st = sy_cel_errf(P->s, P->n, pos, "%s", msg);
    return SY_CEL_NONE;
}

static uint32_t oom(parser *P) {
    if (!failed(P)) P->st = sy_err(SHARDY_ENOMEM, "out of memory parsing a CEL expression");
    return SY_CEL_NONE;
}

static void tok_text(const parser *P, const token *t, char *buf, size_t cap) {
    if (t->kind == T_EOF) {
        snprintf(buf, cap, "end of expression");
        return;
    }
    size_t len = t->end - t->pos;
    if (len > 24) len = 24;
    /* cut at a code point boundary */
    while (len > 0 && len < t->end - t->pos && ((unsigned char)P->s[t->pos + len] & 0xC0) == 0x80) len--;
    snprintf(buf, cap, "'%.*s%s'", (int)len, P->s + t->pos, len < t->end - t->pos ? "..." : "");
}

static uint32_t unexpected(parser *P, const char *wanted) {
    char t[64];
    tok_text(P, &P->tok, t, sizeof t);
    if (!failed(P)) {
        if (wanted)
            P->st = sy_cel_errf(P->s, P->n, P->tok.pos, "syntax error: expected %s but found %s", wanted, t);
        else
            P->st = sy_cel_errf(P->s, P->n, P->tok.pos, "syntax error: unexpected %s", t);
    }
    return SY_CEL_NONE;
}

/* ---- lexer ------------------------------------------------------------------------------------- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }
static int hexval(int c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

static int at(const parser *P, size_t i) { return i < P->n ? (unsigned char)P->s[i] : -1; }

static size_t skip_space(const parser *P, size_t i) {
    for (;;) {
        int c = at(P, i);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
            i++;
        } else if (c == '/' && at(P, i + 1) == '/') {
            while (i < P->n && P->s[i] != '\n') i++;
        } else {
            return i;
        }
    }
}

/* Scans a quoted literal whose opening quote is at q; sets t->end. */
static int scan_quoted(parser *P, size_t q, token *t) {
    int quote = at(P, q);
    int triple = at(P, q + 1) == quote && at(P, q + 2) == quote;
    size_t j = q + (triple ? 3 : 1);
    for (;;) {
        int c = at(P, j);
        if (c < 0) {
            fail(P, t->pos, "syntax error: unterminated string literal");
            return -1;
        }
        if (triple) {
            if (c == quote && at(P, j + 1) == quote && at(P, j + 2) == quote) {
                t->end = j + 3;
                return 0;
            }
        } else {
            if (c == quote) {
                t->end = j + 1;
                return 0;
            }
            if (c == '\n' || c == '\r') {
                fail(P, t->pos, "syntax error: unterminated string literal (use ''' or \"\"\" for text over several lines)");
                return -1;
            }
        }
        if (c == '\\' && !t->raw && at(P, j + 1) >= 0)
            j += 2;
        else
            j++;
    }
}

static const struct {
    const char *text;
    int kind;
} punct[] = {{"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE}, {"&&", T_AND}, {"||", T_OR},
             {"(", T_LPAREN}, {")", T_RPAREN}, {"[", T_LBRACKET}, {"]", T_RBRACKET}, {"{", T_LBRACE},
             {"}", T_RBRACE}, {".", T_DOT}, {",", T_COMMA}, {":", T_COLON}, {"?", T_QUESTION},
             {"+", T_PLUS}, {"-", T_MINUS}, {"*", T_STAR}, {"/", T_SLASH}, {"%", T_PERCENT},
             {"<", T_LT}, {">", T_GT}, {"!", T_NOT}};

/* Lexes the token starting at or after byte i. */
static int lex_at(parser *P, size_t i, token *t) {
    i = skip_space(P, i);
    memset(t, 0, sizeof *t);
    t->pos = i;
    int c = at(P, i);
    if (c < 0) {
        t->kind = T_EOF;
        t->end = i;
        return 0;
    }
    if (is_digit(c) || (c == '.' && is_digit(at(P, i + 1)))) {
        size_t j = i;
        if (c == '0' && at(P, i + 1) == 'x' && is_hex(at(P, i + 2))) {
            j = i + 2;
            while (is_hex(at(P, j))) j++;
            t->kind = T_INT;
            if (at(P, j) == 'u' || at(P, j) == 'U') {
                t->kind = T_UINT;
                j++;
            }
            t->end = j;
            return 0;
        }
        int is_float = 0;
        while (is_digit(at(P, j))) j++;
        if (at(P, j) == '.' && is_digit(at(P, j + 1))) {
            is_float = 1;
            j++;
            while (is_digit(at(P, j))) j++;
        }
        if ((at(P, j) == 'e' || at(P, j) == 'E') &&
            (is_digit(at(P, j + 1)) || ((at(P, j + 1) == '+' || at(P, j + 1) == '-') && is_digit(at(P, j + 2))))) {
            is_float = 1;
            j += 2;
            while (is_digit(at(P, j))) j++;
        }
        t->kind = is_float ? T_DOUBLE : T_INT;
        if (!is_float && (at(P, j) == 'u' || at(P, j) == 'U')) {
            t->kind = T_UINT;
            j++;
        }
        t->end = j;
        return 0;
    }
    if (is_ident_start(c)) {
        size_t j = i;
        while (is_ident_char(at(P, j))) j++;
        size_t len = j - i;
        /* string prefixes: r R b B br bR Br BR directly followed by a quote */
        int q = at(P, j);
        if ((q == '\'' || q == '"') && len <= 2) {
            int b0 = P->s[i], b1 = len == 2 ? P->s[i + 1] : 0;
            int bytes = 0, raw = 0, ok = 0;
            if (len == 1 && (b0 == 'r' || b0 == 'R')) ok = raw = 1;
            if (len == 1 && (b0 == 'b' || b0 == 'B')) ok = bytes = 1;
            if (len == 2 && (b0 == 'b' || b0 == 'B') && (b1 == 'r' || b1 == 'R')) ok = bytes = raw = 1;
            if (ok) {
                t->kind = bytes ? T_BYTES : T_STRING;
                t->raw = raw;
                t->qpos = j;
                return scan_quoted(P, j, t);
            }
        }
        t->end = j;
        t->kind = T_IDENT;
        if (len == 4 && !memcmp(P->s + i, "true", 4)) t->kind = T_TRUE;
        if (len == 5 && !memcmp(P->s + i, "false", 5)) t->kind = T_FALSE;
        if (len == 4 && !memcmp(P->s + i, "null", 4)) t->kind = T_NULL;
        if (len == 2 && !memcmp(P->s + i, "in", 2)) t->kind = T_IN;
        return 0;
    }
    if (c == '\'' || c == '"') {
        t->kind = T_STRING;
        t->qpos = i;
        return scan_quoted(P, i, t);
    }
    if (c == '`') {
        size_t j = i + 1;
        while (j < P->n) {
            int d = at(P, j);
            if (!(is_ident_char(d) || d == '.' || d == '-' || d == '/' || d == ' ')) break;
            j++;
        }
        if (at(P, j) != '`' || j == i + 1) {
            fail(P, i, "syntax error: invalid quoted identifier (allowed: letters, digits, _ . - / and space)");
            return -1;
        }
        t->kind = T_QIDENT;
        t->end = j + 1;
        return 0;
    }
    for (size_t k = 0; k < sizeof punct / sizeof punct[0]; k++) {
        size_t l = strlen(punct[k].text);
        if (i + l <= P->n && !memcmp(P->s + i, punct[k].text, l)) {
            t->kind = punct[k].kind;
            t->end = i + l;
            return 0;
        }
    }
    char msg[96];
    if (c < 0x80 && c >= 0x20)
        snprintf(msg, sizeof msg, "syntax error: unexpected character '%c'", c);
    else
        snprintf(msg, sizeof msg, "syntax error: unexpected character (byte 0x%02x)", (unsigned)c);
    fail(P, i, msg);
    return -1;
}

static int advance(parser *P) {
    P->prev_end = P->tok.end;
    return lex_at(P, P->tok.end, &P->tok);
}

static int peek_kind(parser *P) {
    token t;
    shardy_status saved = P->st;
    if (lex_at(P, P->tok.end, &t)) {
        P->st = saved; /* the error will be reported when the token is really read */
        return -1;
    }
    return t.kind;
}

static int expect(parser *P, int kind, const char *what) {
    if (P->tok.kind != kind) {
        unexpected(P, what);
        return -1;
    }
    return advance(P);
}

/* ---- literal decoding -------------------------------------------------------------------------- */

/* Decodes the string/bytes token t into the arena. */
static int decode_quoted(parser *P, const token *t, sy_cel_value *out) {
    int bytes = t->kind == T_BYTES;
    int quote = at(P, t->qpos);
    int triple = at(P, t->qpos + 1) == quote && at(P, t->qpos + 2) == quote;
    size_t q = triple ? 3 : 1;
    size_t b = t->qpos + q, e = t->end - q;
    char *buf = sy_cel_arena_alloc(&P->ast->arena, e - b + 1);
    if (!buf) {
        oom(P);
        return -1;
    }
    size_t o = 0, i = b;
    while (i < e) {
        unsigned char c = (unsigned char)P->s[i];
        if (c != '\\' || t->raw) {
            buf[o++] = (char)c;
            i++;
            continue;
        }
        size_t esc = i;
        int d = at(P, i + 1);
        uint32_t cp;
        int byte_escape = 0;
        i += 2;
        switch (d) {
        case 'a': cp = 7; break;
        case 'b': cp = 8; break;
        case 'f': cp = 12; break;
        case 'n': cp = 10; break;
        case 'r': cp = 13; break;
        case 't': cp = 9; break;
        case 'v': cp = 11; break;
        case '"':
        case '\'':
        case '\\':
        case '?':
        case '`': cp = (uint32_t)d; break;
        case 'x':
        case 'X':
            if (i + 2 > e || !is_hex(at(P, i)) || !is_hex(at(P, i + 1))) {
                fail(P, esc, "syntax error: invalid escape sequence: \\x needs two hex digits");
                return -1;
            }
            cp = (uint32_t)(hexval(at(P, i)) * 16 + hexval(at(P, i + 1)));
            i += 2;
            byte_escape = 1;
            break;
        case 'u':
        case 'U': {
            size_t nd = d == 'u' ? 4 : 8;
            if (bytes) {
                fail(P, esc, "syntax error: \\u and \\U escapes are not allowed in bytes literals (use \\x or octal)");
                return -1;
            }
            cp = 0;
            for (size_t k = 0; k < nd; k++) {
                if (i + k >= e || !is_hex(at(P, i + k))) {
                    fail(P, esc, d == 'u' ? "syntax error: invalid escape sequence: \\u needs four hex digits"
                                          : "syntax error: invalid escape sequence: \\U needs eight hex digits");
                    return -1;
                }
                cp = cp * 16 + (uint32_t)hexval(at(P, i + k));
            }
            i += nd;
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                fail(P, esc, "syntax error: invalid unicode code point in escape (surrogates and values above "
                             "U+10FFFF are not allowed)");
                return -1;
            }
            break;
        }
        default:
            if (d >= '0' && d <= '3' && i + 2 <= e && at(P, i) >= '0' && at(P, i) <= '7' && at(P, i + 1) >= '0' &&
                at(P, i + 1) <= '7') {
                cp = (uint32_t)((d - '0') * 64 + (at(P, i) - '0') * 8 + (at(P, i + 1) - '0'));
                i += 2;
                byte_escape = 1;
                break;
            }
            fail(P, esc, "syntax error: invalid escape sequence (allowed: \\a \\b \\f \\n \\r \\t \\v \\\" \\' \\\\ "
                         "\\? \\` \\xHH \\uHHHH \\UHHHHHHHH and octal \\000-\\377)");
            return -1;
        }
        if (bytes && (byte_escape || cp < 0x80))
            buf[o++] = (char)cp;
        else
            o += sy_cel_utf8_put(cp, buf + o);
    }
    buf[o] = '\0';
    out->kind = bytes ? SY_CEL_BYTES : SY_CEL_STRING;
    out->v.s = buf;
    out->len = o;
    return 0;
}

/* Parses an integer literal token (with an optional sign that precedes it). */
static int decode_int(parser *P, const token *t, int neg, size_t signpos, sy_cel_value *out) {
    size_t b = t->pos, e = t->end;
    int is_uint = t->kind == T_UINT;
    if (is_uint) e--;
    int base = 10;
    if (e - b > 2 && P->s[b] == '0' && P->s[b + 1] == 'x') {
        base = 16;
        b += 2;
    }
    uint64_t v = 0;
    int over = 0;
    for (size_t i = b; i < e; i++) {
        uint64_t dgt = (uint64_t)hexval((unsigned char)P->s[i]);
        if (v > (UINT64_MAX - dgt) / (uint64_t)base) over = 1;
        v = v * (uint64_t)base + dgt;
    }
    if (is_uint) {
        if (over) {
            fail(P, t->pos, "invalid uint literal: out of the uint64 range 0..18446744073709551615");
            return -1;
        }
        *out = sy_cel_uint(v);
        return 0;
    }
    if (over || (!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)) {
        fail(P, neg ? signpos : t->pos,
             "invalid int literal: out of the int64 range -9223372036854775808..9223372036854775807 (a u suffix makes a uint)");
        return -1;
    }
    *out = sy_cel_int(neg ? (int64_t)(0 - v) : (int64_t)v);
    return 0;
}

static int decode_double(parser *P, const token *t, int neg, sy_cel_value *out) {
    char buf[128];
    size_t len = t->end - t->pos;
    if (len + 2 > sizeof buf) {
        /* Very long digit strings: keep the significant part; strtod needs all of it for
         * correct rounding, so allocate. */
        char *big = sy_malloc(len + 2);
        if (!big) {
            oom(P);
            return -1;
        }
        big[0] = neg ? '-' : '+';
        memcpy(big + 1, P->s + t->pos, len);
        big[len + 1] = '\0';
        char *end;
        double d = strtod(big, &end);
        int ok = end == big + len + 1;
        sy_free(big);
        if (!ok) {
            fail(P, t->pos, "invalid double literal");
            return -1;
        }
        *out = sy_cel_double(d);
        return 0;
    }
    buf[0] = neg ? '-' : '+';
    memcpy(buf + 1, P->s + t->pos, len);
    buf[len + 1] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end != buf + len + 1) {
        fail(P, t->pos, "invalid double literal");
        return -1;
    }
    *out = sy_cel_double(d);
    return 0;
}

/* ---- tree construction -------------------------------------------------------------------------- */

static int push(parser *P, uint32_t id) {
    if (P->nstk == P->capstk) {
        size_t cap = P->capstk ? P->capstk * 2 : 32;
        uint32_t *s = sy_realloc(P->stk, cap * sizeof *s);
        if (!s) {
            oom(P);
            return -1;
        }
        P->stk = s;
        P->capstk = cap;
    }
    P->stk[P->nstk++] = id;
    return 0;
}

static uint32_t new_node(parser *P, int kind, size_t pos, size_t end) {
    sy_cel_ast *A = P->ast;
    if (A->n == A->cap) {
        uint32_t cap = A->cap ? A->cap * 2 : 64;
        sy_cel_node *nn = sy_realloc(A->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return oom(P);
        A->nodes = nn;
        A->cap = cap;
    }
    sy_cel_node *nd = &A->nodes[A->n];
    memset(nd, 0, sizeof *nd);
    nd->kind = (uint8_t)kind;
    nd->pos = (uint32_t)pos;
    nd->end = (uint32_t)end;
    nd->oppos = (uint32_t)pos;
    nd->depth = 1;
    nd->var = -1;
    nd->args = SY_CEL_NONE;
    return A->n++;
}

/* Moves the top nargs pending ids into ast->kids as the children of node id. */
static uint32_t adopt(parser *P, uint32_t id, uint32_t nargs) {
    sy_cel_ast *A = P->ast;
    if (A->nkids + nargs > A->capkids) {
        uint32_t cap = A->capkids ? A->capkids : 64;
        while (cap < A->nkids + nargs) cap *= 2;
        uint32_t *k = sy_realloc(A->kids, (size_t)cap * sizeof *k);
        if (!k) return oom(P);
        A->kids = k;
        A->capkids = cap;
    }
    unsigned depth = 0;
    const uint32_t *src = nargs ? P->stk + P->nstk - nargs : NULL;
    for (uint32_t i = 0; i < nargs; i++) {
        A->kids[A->nkids + i] = src[i];
        if (A->nodes[src[i]].depth > depth) depth = A->nodes[src[i]].depth;
    }
    P->nstk -= nargs;
    sy_cel_node *nd = &A->nodes[id];
    nd->args = A->nkids;
    nd->nargs = nargs;
    A->nkids += nargs;
    if (depth + 1 > SY_CEL_MAX_DEPTH) {
        if (!failed(P))
            P->st = sy_cel_errf(P->s, P->n, nd->oppos, "expression is nested too deeply (more than %d levels)",
                                SY_CEL_MAX_DEPTH);
        return SY_CEL_NONE;
    }
    nd->depth = (uint16_t)(depth + 1);
    return id;
}

static uint32_t make_call(parser *P, int op, int method, size_t pos, size_t end, size_t oppos, uint32_t nargs,
                          const char *name, size_t name_len) {
    uint32_t id = new_node(P, A_CALL, pos, end);
    if (id == SY_CEL_NONE) return id;
    sy_cel_node *nd = &P->ast->nodes[id];
    nd->op = (uint8_t)op;
    nd->method = (uint8_t)method;
    nd->oppos = (uint32_t)oppos;
    nd->name = name;
    nd->name_len = (uint32_t)name_len;
    return adopt(P, id, nargs);
}

static uint32_t binary(parser *P, int op, size_t oppos, uint32_t l, uint32_t r) {
    if (push(P, l) || push(P, r)) return SY_CEL_NONE;
    size_t pos = P->ast->nodes[l].pos, end = P->ast->nodes[r].end;
    return make_call(P, op, 0, pos, end, oppos, 2, NULL, 0);
}

/* ---- function names ----------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int op;
} functions[] = {{"size", OP_SIZE},       {"int", OP_INT},           {"uint", OP_UINT},
                 {"double", OP_DOUBLE},   {"string", OP_STRING},     {"bytes", OP_BYTES},
                 {"bool", OP_BOOL},       {"dyn", OP_DYN},           {"contains", OP_CONTAINS},
                 {"startsWith", OP_STARTS}, {"endsWith", OP_ENDS},   {"matches", OP_MATCHES},
                 {"shard_hash", OP_SHARD_HASH},
                 /* MAY tier: known, refused */
                 {"type", OP_UNSUPPORTED}, {"timestamp", OP_UNSUPPORTED}, {"duration", OP_UNSUPPORTED},
                 {"getFullYear", OP_UNSUPPORTED}, {"getMonth", OP_UNSUPPORTED}, {"getDate", OP_UNSUPPORTED},
                 {"getDayOfMonth", OP_UNSUPPORTED}, {"getDayOfWeek", OP_UNSUPPORTED},
                 {"getDayOfYear", OP_UNSUPPORTED}, {"getHours", OP_UNSUPPORTED}, {"getMinutes", OP_UNSUPPORTED},
                 {"getSeconds", OP_UNSUPPORTED}, {"getMilliseconds", OP_UNSUPPORTED}};

static int function_op(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        if (strlen(functions[i].name) == len && !memcmp(functions[i].name, name, len)) return functions[i].op;
    return OP_UNKNOWN;
}

static int is_reserved(const char *s, size_t len) {
    static const char *const words[] = {"as",      "break",    "const", "continue", "else",   "for",
                                        "function", "if",      "import", "let",     "loop",   "package",
                                        "namespace", "return", "var",   "void",     "while"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == len && !memcmp(words[i], s, len)) return 1;
    return 0;
}

static int is_comprehension_macro(const char *s, size_t len, uint32_t nargs) {
    if (len == 3 && !memcmp(s, "all", 3)) return nargs == 2;
    if (len == 6 && !memcmp(s, "exists", 6)) return nargs == 2;
    if (len == 10 && !memcmp(s, "exists_one", 10)) return nargs == 2;
    if (len == 3 && !memcmp(s, "map", 3)) return nargs == 2 || nargs == 3;
    if (len == 6 && !memcmp(s, "filter", 6)) return nargs == 2;
    return 0;
}

/* ---- grammar ------------------------------------------------------------------------------------ */

static uint32_t p_expr(parser *P);

/* Parses "expr, expr, ..." up to the closing token; pushes the ids; returns the count or -1. */
static long p_args(parser *P, int close, const char *what) {
    long n = 0;
    if (P->tok.kind == close) return advance(P) ? -1 : 0;
    for (;;) {
        uint32_t e = p_expr(P);
        if (e == SY_CEL_NONE || push(P, e)) return -1;
        n++;
        if (P->tok.kind == T_COMMA) {
            if (advance(P)) return -1;
            continue;
        }
        if (P->tok.kind == close) return advance(P) ? -1 : n;
        unexpected(P, what);
        return -1;
    }
}

static uint32_t unsupported(parser *P, size_t pos, const char *what) {
    if (!failed(P)) P->st = sy_cel_errf(P->s, P->n, pos, "unsupported CEL feature: %s", what);
    return SY_CEL_NONE;
}

/* Global call name(args) at name token t (P->tok is '('). */
static uint32_t p_global_call(parser *P, const token *t, size_t name_off, size_t name_len) {
    const char *name = P->s + name_off;
    if (advance(P)) return SY_CEL_NONE;
    long n = p_args(P, T_RPAREN, "',' or ')'");
    if (n < 0) return SY_CEL_NONE;
    size_t end = P->prev_end;
    if (name_len == 3 && !memcmp(name, "has", 3) && n == 1) {
        uint32_t arg = P->stk[P->nstk - 1];
        sy_cel_node *a = &P->ast->nodes[arg];
        if (a->kind != A_SELECT) return fail(P, a->pos, "invalid argument to has() macro: expected a field selection such as has(m.f)");
        /* turn the selection into a presence test */
        a->kind = A_HAS;
        a->pos = (uint32_t)t->pos;
        a->end = (uint32_t)end;
        P->nstk--;
        return arg;
    }
    int op = function_op(name, name_len);
    return make_call(P, op, 0, t->pos, end, t->pos, (uint32_t)n, name, name_len);
}

static uint32_t p_literal(parser *P, int neg, size_t signpos) {
    token t = P->tok;
    uint32_t id = new_node(P, A_CONST, neg ? signpos : t.pos, t.end);
    if (id == SY_CEL_NONE) return id;
    sy_cel_value v;
    int r = 0;
    switch (t.kind) {
    case T_INT:
    case T_UINT: r = decode_int(P, &t, neg, signpos, &v); break;
    case T_DOUBLE: r = decode_double(P, &t, neg, &v); break;
    case T_STRING:
    case T_BYTES: r = decode_quoted(P, &t, &v); break;
    case T_TRUE: v = sy_cel_bool(1); break;
    case T_FALSE: v = sy_cel_bool(0); break;
    default: v = sy_cel_null(); break;
    }
    if (r) return SY_CEL_NONE;
    P->ast->nodes[id].val = v;
    P->ast->nodes[id].literal = 1;
    if (advance(P)) return SY_CEL_NONE;
    return id;
}

static uint32_t p_primary(parser *P) {
    token t = P->tok;
    switch (t.kind) {
    case T_INT:
    case T_UINT:
    case T_DOUBLE:
    case T_STRING:
    case T_BYTES:
    case T_TRUE:
    case T_FALSE:
    case T_NULL: return p_literal(P, 0, 0);
    case T_MINUS: {
        /* only reached when a sign directly precedes a numeric literal */
        size_t signpos = t.pos;
        if (advance(P)) return SY_CEL_NONE;
        if (P->tok.kind != T_INT && P->tok.kind != T_DOUBLE) return unexpected(P, "a number after '-'");
        return p_literal(P, 1, signpos);
    }
    case T_DOT:
    case T_IDENT: {
        size_t start = t.pos;
        if (t.kind == T_DOT) {
            if (advance(P)) return SY_CEL_NONE;
            if (P->tok.kind != T_IDENT) return unexpected(P, "an identifier after the leading '.'");
            t = P->tok;
        }
        size_t name_off = t.pos, name_len = t.end - t.pos;
        if (is_reserved(P->s + name_off, name_len)) {
            char msg[80];
            snprintf(msg, sizeof msg, "reserved identifier: %.*s", (int)name_len, P->s + name_off);
            return fail(P, name_off, msg);
        }
        if (advance(P)) return SY_CEL_NONE;
        if (P->tok.kind == T_LPAREN) {
            token nt = t;
            nt.pos = start;
            return p_global_call(P, &nt, name_off, name_len);
        }
        if (P->tok.kind == T_LBRACE) return unsupported(P, P->tok.pos, "message construction (protobuf messages are not in the routing subset)");
        uint32_t id = new_node(P, A_IDENT, start, t.end);
        if (id == SY_CEL_NONE) return id;
        P->ast->nodes[id].name = P->s + name_off;
        P->ast->nodes[id].name_len = (uint32_t)name_len;
        return id;
    }
    case T_LPAREN: {
        if (advance(P)) return SY_CEL_NONE;
        uint32_t e = p_expr(P);
        if (e == SY_CEL_NONE) return e;
        if (expect(P, T_RPAREN, "')'")) return SY_CEL_NONE;
        return e;
    }
    case T_LBRACKET: {
        if (advance(P)) return SY_CEL_NONE;
        long n = 0;
        if (P->tok.kind == T_QUESTION) return unsupported(P, P->tok.pos, "optional list elements");
        if (P->tok.kind == T_COMMA && peek_kind(P) == T_RBRACKET) {
            if (advance(P)) return SY_CEL_NONE;
        }
        while (P->tok.kind != T_RBRACKET) {
            if (P->tok.kind == T_QUESTION) return unsupported(P, P->tok.pos, "optional list elements");
            uint32_t e = p_expr(P);
            if (e == SY_CEL_NONE || push(P, e)) return SY_CEL_NONE;
            n++;
            if (P->tok.kind == T_COMMA) {
                if (advance(P)) return SY_CEL_NONE;
                continue;
            }
            if (P->tok.kind != T_RBRACKET) return unexpected(P, "',' or ']'");
        }
        size_t end = P->tok.end;
        if (advance(P)) return SY_CEL_NONE;
        uint32_t id = new_node(P, A_LIST, t.pos, end);
        if (id == SY_CEL_NONE) return id;
        return adopt(P, id, (uint32_t)n);
    }
    case T_LBRACE: {
        if (advance(P)) return SY_CEL_NONE;
        long n = 0;
        if (P->tok.kind == T_COMMA && peek_kind(P) == T_RBRACE) {
            if (advance(P)) return SY_CEL_NONE;
        }
        while (P->tok.kind != T_RBRACE) {
            if (P->tok.kind == T_QUESTION) return unsupported(P, P->tok.pos, "optional map entries");
            uint32_t k = p_expr(P);
            if (k == SY_CEL_NONE || push(P, k)) return SY_CEL_NONE;
            if (expect(P, T_COLON, "':'")) return SY_CEL_NONE;
            uint32_t v = p_expr(P);
            if (v == SY_CEL_NONE || push(P, v)) return SY_CEL_NONE;
            n++;
            if (P->tok.kind == T_COMMA) {
                if (advance(P)) return SY_CEL_NONE;
                continue;
            }
            if (P->tok.kind != T_RBRACE) return unexpected(P, "',' or '}'");
        }
        size_t end = P->tok.end;
        if (advance(P)) return SY_CEL_NONE;
        uint32_t id = new_node(P, A_MAP, t.pos, end);
        if (id == SY_CEL_NONE) return id;
        return adopt(P, id, (uint32_t)(2 * n));
    }
    case T_QIDENT: return fail(P, t.pos, "syntax error: a quoted identifier is only allowed after '.'");
    default: return unexpected(P, NULL);
    }
}

static uint32_t p_member(parser *P) {
    uint32_t e = p_primary(P);
    while (e != SY_CEL_NONE) {
        if (P->tok.kind == T_DOT) {
            size_t dot = P->tok.pos;
            if (advance(P)) return SY_CEL_NONE;
            if (P->tok.kind == T_QUESTION) return unsupported(P, P->tok.pos, "optional field selection (.?)");
            if (P->tok.kind != T_IDENT && P->tok.kind != T_QIDENT) return unexpected(P, "a field or method name after '.'");
            token f = P->tok;
            const char *name = P->s + f.pos;
            size_t name_len = f.end - f.pos;
            if (f.kind == T_QIDENT) {
                name++;
                name_len -= 2;
            }
            if (advance(P)) return SY_CEL_NONE;
            if (P->tok.kind == T_LPAREN) {
                if (f.kind == T_QIDENT) return fail(P, f.pos, "syntax error: a quoted identifier cannot name a method");
                if (advance(P) || push(P, e)) return SY_CEL_NONE;
                long n = p_args(P, T_RPAREN, "',' or ')'");
                if (n < 0) return SY_CEL_NONE;
                if (is_comprehension_macro(name, name_len, (uint32_t)n)) {
                    char msg[96];
                    snprintf(msg, sizeof msg, "comprehension macro '%.*s' (macros other than has() are not in the routing subset)",
                             (int)name_len, name);
                    return unsupported(P, f.pos, msg);
                }
                size_t pos = P->ast->nodes[e].pos;
                e = make_call(P, function_op(name, name_len), 1, pos, P->prev_end, f.pos, (uint32_t)n + 1, name,
                              name_len);
                continue;
            }
            if (P->tok.kind == T_LBRACE) return unsupported(P, P->tok.pos, "message construction (protobuf messages are not in the routing subset)");
            uint32_t s = new_node(P, A_SELECT, P->ast->nodes[e].pos, f.end);
            if (s == SY_CEL_NONE || push(P, e)) return SY_CEL_NONE;
            P->ast->nodes[s].name = name;
            P->ast->nodes[s].name_len = (uint32_t)name_len;
            P->ast->nodes[s].oppos = (uint32_t)dot;
            e = adopt(P, s, 1);
        } else if (P->tok.kind == T_LBRACKET) {
            size_t br = P->tok.pos;
            if (advance(P)) return SY_CEL_NONE;
            if (P->tok.kind == T_QUESTION) return unsupported(P, P->tok.pos, "optional indexing ([?])");
            uint32_t idx = p_expr(P);
            if (idx == SY_CEL_NONE) return idx;
            size_t end = P->tok.end;
            if (expect(P, T_RBRACKET, "']'")) return SY_CEL_NONE;
            if (push(P, e) || push(P, idx)) return SY_CEL_NONE;
            e = make_call(P, OP_INDEX, 0, P->ast->nodes[e].pos, end, br, 2, NULL, 0);
        } else {
            break;
        }
    }
    return e;
}

static uint32_t p_unary(parser *P) {
    int kind = P->tok.kind;
    if (kind != T_NOT && kind != T_MINUS) return p_member(P);
    size_t oppos = P->tok.pos;
    if (kind == T_MINUS) {
        int nk = peek_kind(P);
        if (nk == T_INT || nk == T_DOUBLE) return p_member(P); /* signed literal */
    }
    unsigned long count = 0;
    while (P->tok.kind == kind) {
        count++;
        if (advance(P)) return SY_CEL_NONE;
    }
    uint32_t e = p_member(P);
    if (e == SY_CEL_NONE || count % 2 == 0) return e;
    if (push(P, e)) return SY_CEL_NONE;
    return make_call(P, kind == T_NOT ? OP_NOT : OP_NEG, 0, oppos, P->ast->nodes[e].end, oppos, 1, NULL, 0);
}

static int binop_of(int tok, int level) {
    switch (level) {
    case 3:
        switch (tok) {
        case T_EQ: return OP_EQ;
        case T_NE: return OP_NE;
        case T_LT: return OP_LT;
        case T_LE: return OP_LE;
        case T_GT: return OP_GT;
        case T_GE: return OP_GE;
        case T_IN: return OP_IN;
        }
        return -1;
    case 4: return tok == T_PLUS ? OP_ADD : tok == T_MINUS ? OP_SUB : -1;
    case 5: return tok == T_STAR ? OP_MUL : tok == T_SLASH ? OP_DIV : tok == T_PERCENT ? OP_MOD : -1;
    }
    return -1;
}

/* Levels 3 (relations), 4 (+ -), 5 (* / %): left-associative loops. */
static uint32_t p_level(parser *P, int level) {
    uint32_t l = level == 5 ? p_unary(P) : p_level(P, level + 1);
    while (l != SY_CEL_NONE) {
        int op = binop_of(P->tok.kind, level);
        if (op < 0) break;
        size_t oppos = P->tok.pos;
        if (advance(P)) return SY_CEL_NONE;
        uint32_t r = level == 5 ? p_unary(P) : p_level(P, level + 1);
        if (r == SY_CEL_NONE) return r;
        l = binary(P, op, oppos, l, r);
    }
    return l;
}

/* Builds a balanced tree over terms[lo..hi] (ids on the pending stack from base) joined by op;
 * opp[i] is the position of the operator between term i and i+1. */
static uint32_t balance(parser *P, int op, size_t base, const uint32_t *opp, size_t lo, size_t hi) {
    if (lo == hi) return P->stk[base + lo];
    size_t mid = (lo + hi) / 2;
    uint32_t l = balance(P, op, base, opp, lo, mid);
    if (l == SY_CEL_NONE) return l;
    uint32_t r = balance(P, op, base, opp, mid + 1, hi);
    if (r == SY_CEL_NONE) return r;
    return binary(P, op, opp[mid], l, r);
}

/* Levels 1 (||) and 2 (&&). */
static uint32_t p_logic(parser *P, int level) {
    int tk = level == 1 ? T_OR : T_AND;
    uint32_t first = level == 1 ? p_logic(P, 2) : p_level(P, 3);
    if (first == SY_CEL_NONE || P->tok.kind != tk) return first;
    size_t base = P->nstk;
    uint32_t *opp = NULL;
    size_t nops = 0, capops = 0;
    uint32_t result = SY_CEL_NONE;
    if (push(P, first)) goto done;
    while (P->tok.kind == tk) {
        if (nops == capops) {
            capops = capops ? capops * 2 : 8;
            uint32_t *o = sy_realloc(opp, capops * sizeof *o);
            if (!o) {
                oom(P);
                goto done;
            }
            opp = o;
        }
        opp[nops++] = (uint32_t)P->tok.pos;
        if (advance(P)) goto done;
        uint32_t t = level == 1 ? p_logic(P, 2) : p_level(P, 3);
        if (t == SY_CEL_NONE || push(P, t)) goto done;
    }
    /* The terms stay on the stack while the tree is built; binary() pushes above them. */
    result = balance(P, level == 1 ? OP_OR : OP_AND, base, opp, 0, nops);
    if (result != SY_CEL_NONE) P->nstk = base;
done:
    sy_free(opp);
    return result;
}

static uint32_t p_expr(parser *P) {
    if (++P->depth > SY_CEL_MAX_DEPTH) {
        P->depth--;
        if (!failed(P))
            P->st = sy_cel_errf(P->s, P->n, P->tok.pos, "expression is nested too deeply (more than %d levels)",
                                SY_CEL_MAX_DEPTH);
        return SY_CEL_NONE;
    }
    uint32_t c = p_logic(P, 1);
    if (c != SY_CEL_NONE && P->tok.kind == T_QUESTION) {
        size_t oppos = P->tok.pos;
        uint32_t a = SY_CEL_NONE, b = SY_CEL_NONE;
        if (advance(P)) goto out;
        a = p_logic(P, 1);
        if (a == SY_CEL_NONE) goto out;
        if (expect(P, T_COLON, "':'")) {
            a = SY_CEL_NONE;
            goto out;
        }
        b = p_expr(P);
        if (b == SY_CEL_NONE) goto out;
        if (push(P, c) || push(P, a) || push(P, b)) {
            b = SY_CEL_NONE;
            goto out;
        }
        c = make_call(P, OP_COND, 0, P->ast->nodes[c].pos, P->ast->nodes[b].end, oppos, 3, NULL, 0);
    out:
        if (a == SY_CEL_NONE || b == SY_CEL_NONE) c = SY_CEL_NONE;
    }
    P->depth--;
    return c;
}

shardy_status sy_cel_parse(const char *src, size_t len, sy_cel_ast *ast) {
    parser P;
    memset(&P, 0, sizeof P);
    memset(ast, 0, sizeof *ast);
    ast->src = src;
    ast->len = len;
    ast->root = SY_CEL_NONE;
    P.s = src;
    P.n = len;
    P.ast = ast;
    P.tok.end = 0;
    if (lex_at(&P, 0, &P.tok) == 0) {
        if (P.tok.kind == T_EOF) {
            fail(&P, 0, "syntax error: the expression is empty");
        } else {
            uint32_t root = p_expr(&P);
            if (root != SY_CEL_NONE && P.tok.kind != T_EOF) unexpected(&P, "end of expression");
            if (!failed(&P)) ast->root = root;
        }
    }
    sy_free(P.stk);
    if (!failed(&P) && ast->root == SY_CEL_NONE) return sy_err(SHARDY_EINTERNAL, "CEL parser produced no tree");
    return P.st;
}

void sy_cel_ast_free(sy_cel_ast *ast) {
    if (!ast) return;
    sy_free(ast->nodes);
    sy_free(ast->kids);
    sy_cel_arena_free(&ast->arena);
    memset(ast, 0, sizeof *ast);
}
