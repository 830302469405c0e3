/*
 * compile.c — from expression text to a compiled program (sy_cel_compile*), plus the memory
 * helpers and compile-error formatting used by the whole module.
 *
 * Owns: the arenas (program constants) and evaluation scratch blocks; the compile pipeline
 * (UTF-8 and size checks → parse → check → code generation); code generation itself: one
 * instruction per tree node in post-order, with constant folding (constant subtrees evaluated
 * once; `false && x`, `true || x` and `c ? a : b` with a constant c shortened; folding never turns
 * an evaluation error into a compile error), specialised instructions for hot forms
 * (`x % <const>`, `shard_hash(var)`) and precompiled constant regex patterns.
 *
 * Invariants of a program: immutable after sy_cel_compile*; instruction operands refer to
 * smaller indices; every string/list/map constant lives in the program's arena; variable names
 * are copies.
 *
 * Failure behaviour: SHARDY_EINVAL with "CEL compile error at L:C: ..." and a caret line,
 * SHARDY_ENOMEM when an allocation fails; *out stays NULL and nothing leaks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cel/internal.h"
#include "core/alloc.h"

/* ---- arena ---------------------------------------------------------------------------------------- */

struct sy_cel_chunk {
    sy_cel_chunk *next;
    size_t size;
    /* data follows (16-byte aligned: the header is 16 bytes on LP64) */
};

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }
#define CHUNK_HDR round16(sizeof(sy_cel_chunk))

void *sy_cel_arena_alloc(sy_cel_arena *a, size_t n) {
    n = round16(n ? n : 1);
    if (n > a->left) {
        size_t size = n > 8192 ? n : 8192;
        sy_cel_chunk *c = sy_malloc(CHUNK_HDR + size);
        if (!c) return NULL;
        c->next = a->head;
        c->size = size;
        a->head = c;
        a->cur = (unsigned char *)c + CHUNK_HDR;
        a->left = size;
    }
    void *p = a->cur;
    a->cur += n;
    a->left -= n;
    return p;
}

char *sy_cel_arena_dup(sy_cel_arena *a, const char *p, size_t n) {
    char *d = sy_cel_arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

void sy_cel_arena_free(sy_cel_arena *a) {
    sy_cel_chunk *c = a->head;
    while (c) {
        sy_cel_chunk *next = c->next;
        sy_free(c);
        c = next;
    }
    a->head = NULL;
    a->cur = NULL;
    a->left = 0;
}

/* ---- scratch ---------------------------------------------------------------------------------------- */

struct sy_cel_block {
    sy_cel_block *next;
    size_t size;
};
#define BLOCK_HDR round16(sizeof(sy_cel_block))

void sy_cel_scratch_init(sy_cel_scratch *s) {
    s->heap = s->next = s->last = NULL;
    sy_cel_scratch_reset(s);
}

void sy_cel_scratch_reset(sy_cel_scratch *s) {
    s->cur = s->local.bytes;
    s->left = sizeof s->local.bytes;
    s->used = 0;
    s->over_limit = 0;
    s->next = s->heap;
    s->last = NULL;
}

void *sy_cel_scratch_alloc(sy_cel_scratch *s, size_t n) {
    if (n > SY_CEL_SCRATCH_MAX || s->used + round16(n ? n : 1) > SY_CEL_SCRATCH_MAX) {
        s->over_limit = 1;
        return NULL;
    }
    n = round16(n ? n : 1);
    if (n > s->left) {
        sy_cel_block *b = s->next;
        if (b && b->size >= n) {
            s->next = b->next;
        } else {
            size_t size = s->last && s->last->size * 2 > n ? s->last->size * 2 : n;
            if (size < 4096) size = 4096;
            b = sy_malloc(BLOCK_HDR + size);
            if (!b) return NULL;
            b->size = size;
            /* insert after the block in use (keeps "used blocks, then reusable ones" order) */
            if (s->last) {
                b->next = s->last->next;
                s->last->next = b;
            } else {
                b->next = s->heap;
                s->heap = b;
            }
        }
        s->last = b;
        s->cur = (unsigned char *)b + BLOCK_HDR;
        s->left = b->size;
    }
    void *p = s->cur;
    s->cur += n;
    s->left -= n;
    s->used += n;
    return p;
}

void sy_cel_scratch_release(sy_cel_scratch *s) {
    if (!s) return;
    sy_cel_block *b = s->heap;
    while (b) {
        sy_cel_block *next = b->next;
        sy_free(b);
        b = next;
    }
    s->heap = s->next = s->last = NULL;
    sy_cel_scratch_reset(s);
}

/* ---- UTF-8 -------------------------------------------------------------------------------------------- */

size_t sy_cel_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80 || n < 2) {
        *cp = c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c < 0xF0 || n < 4) {
        if (n < 3) {
            *cp = c;
            return 1;
        }
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
          (s[3] & 0x3F);
    return 4;
}

size_t sy_cel_utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_valid_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

/* Offset of the first invalid byte, or n. */
static size_t utf8_check(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_valid_seq(p + i, n - i);
        if (!l) return i;
        i += l;
    }
    return n;
}

int sy_cel_utf8_valid(const char *s, size_t n) {
    if (n == 0) return 1;
    /* fast path for ASCII: 8 bytes at a time, then byte by byte; the full check starts at the
     * first byte >= 0x80 */
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL) break;
        i += 8;
    }
    while (i < n && (unsigned char)s[i] < 0x80) i++;
    return i == n || utf8_check(s + i, n - i) == n - i;
}

size_t sy_cel_utf8_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* ---- compile errors --------------------------------------------------------------------------------- */

shardy_status sy_cel_errf(const char *src, size_t len, size_t pos, const char *fmt, ...) {
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (pos > len) pos = len;
    size_t line = 1, ls = 0;
    for (size_t i = 0; i < pos; i++)
        if (src[i] == '\n') {
            line++;
            ls = i + 1;
        }
    size_t le = pos;
    while (le < len && src[le] != '\n') le++;
    size_t col = sy_cel_utf8_count(src + ls, pos - ls) + 1;
    /* Show at most 40 code points before and 40 after the error. */
    size_t from = ls, skipped = 0;
    while (col - 1 - skipped > 40 && from < pos) {
        from++;
        while (from < pos && ((unsigned char)src[from] & 0xC0) == 0x80) from++;
        skipped++;
    }
    char shown[400];
    size_t o = 0, cps = 0, caret = 0;
    if (from > ls) {
        memcpy(shown, "...", 3);
        o = 3;
        caret = 3;
    }
    for (size_t i = from; i < le && o < sizeof shown - 8; i++) {
        unsigned char ch = (unsigned char)src[i];
        int lead = (ch & 0xC0) != 0x80;
        if (lead && i >= pos && cps >= col - 1 - skipped + 40) {
            memcpy(shown + o, "...", 3);
            o += 3;
            break;
        }
        if (lead) cps++;
        if (i < pos && lead) caret++;
        shown[o++] = ch < 0x20 || ch == 0x7F ? ' ' : (char)ch;
    }
    shown[o] = '\0';
    char dots[80];
    size_t d = caret < sizeof dots - 1 ? caret : sizeof dots - 1;
    memset(dots, '.', d);
    dots[d] = '\0';
    return sy_err(SHARDY_EINVAL, "CEL compile error at %zu:%zu: %s\n | %s\n | %s^", line, col, what, shown, dots);
}

/* ---- operator names ----------------------------------------------------------------------------------- */

const char *sy_cel_op_name(int op) {
    switch (op) {
    case OP_COND: return "?:";
    case OP_AND: return "&&";
    case OP_OR: return "||";
    case OP_NOT: return "!";
    case OP_NEG: return "-";
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_MOD:
    case OP_MOD_UK:
    case OP_MOD_IK: return "%";
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    case OP_IN: return "in";
    case OP_INDEX: return "[]";
    case OP_SIZE: return "size";
    case OP_INT: return "int";
    case OP_UINT: return "uint";
    case OP_DOUBLE: return "double";
    case OP_STRING: return "string";
    case OP_BYTES: return "bytes";
    case OP_BOOL: return "bool";
    case OP_DYN: return "dyn";
    case OP_CONTAINS: return "contains";
    case OP_STARTS: return "startsWith";
    case OP_ENDS: return "endsWith";
    case OP_MATCHES: return "matches";
    case OP_SHARD_HASH:
    case OP_HASH_VAR:
    case OP_HASH_VAR_MOD_UK: return "shard_hash";
    case OP_CONCAT: return "+";
    case OP_SELECT: return ".";
    case OP_HAS: return "has";
    case OP_LIST: return "[...]";
    case OP_MAP: return "{...}";
    }
    return "?";
}

/* ---- code generation ------------------------------------------------------------------------------------ */

typedef struct gen {
    sy_cel_program *p;
    sy_cel_ast *A;
    const sy_cel_checked *chk;
    uint32_t *map; /* node → instruction */
    sy_cel_scratch fold;
    unsigned flags;
} gen;

static shardy_status gen_oom(void) { return sy_err(SHARDY_ENOMEM, "out of memory compiling a CEL expression"); }

static shardy_status emit(gen *g, const sy_cel_insn *in, uint32_t *idx) {
    sy_cel_program *p = g->p;
    if (p->ncode == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 32;
        sy_cel_insn *c = sy_realloc(p->code, (size_t)cap * sizeof *c);
        if (!c) return gen_oom();
        p->code = c;
        p->cap = cap;
    }
    p->code[p->ncode] = *in;
    *idx = p->ncode++;
    return SHARDY_OK;
}

static shardy_status add_kids(gen *g, const sy_cel_node *nd, uint32_t *first) {
    sy_cel_program *p = g->p;
    if (p->nkids + nd->nargs > p->capkids) {
        uint32_t cap = p->capkids ? p->capkids : 32;
        while (cap < p->nkids + nd->nargs) cap *= 2;
        uint32_t *k = sy_realloc(p->kids, (size_t)cap * sizeof *k);
        if (!k) return gen_oom();
        p->kids = k;
        p->capkids = cap;
    }
    *first = p->nkids;
    for (uint32_t i = 0; i < nd->nargs; i++) p->kids[p->nkids++] = g->map[g->A->kids[nd->args + i]];
    return SHARDY_OK;
}

static int arity_ok(int op, int method, uint32_t n) {
    switch (op) {
    case OP_COND: return !method && n == 3;
    case OP_NOT:
    case OP_NEG: return !method && n == 1;
    case OP_SIZE: return n == 1;
    case OP_INT:
    case OP_UINT:
    case OP_DOUBLE:
    case OP_STRING:
    case OP_BYTES:
    case OP_BOOL:
    case OP_DYN:
    case OP_SHARD_HASH: return !method && n == 1;
    case OP_CONTAINS:
    case OP_STARTS:
    case OP_ENDS: return method && n == 2;
    case OP_MATCHES: return n == 2;
    case OP_UNSUPPORTED:
    case OP_UNKNOWN: return 0;
    default: return !method && n == 2;
    }
}

static int is_const(const sy_cel_program *p, uint32_t i) { return p->code[i].op == OP_CONST; }

static void *arena_allocfn(void *ctx, size_t n) { return sy_cel_arena_alloc(ctx, n); }

/* Replaces instruction idx with the constant value of evaluating it, when that is not an error. */
static shardy_status try_fold(gen *g, uint32_t idx) {
    sy_cel_program *p = g->p;
    sy_cel_value v;
    sy_cel_ectx c = {NULL, &g->fold};
    sy_cel_scratch_reset(&g->fold);
    sy_cel_ev(p, idx, &c, &v);
    if (v.kind == SY_CEL_ERROR) return v.code == SY_CEL_E_NOMEM ? gen_oom() : SHARDY_OK;
    sy_cel_insn k;
    memset(&k, 0, sizeof k);
    k.op = OP_CONST;
    if (sy_cel_value_copy(&p->arena, &v, &k.k)) return gen_oom();
    p->code[idx] = k;
    return SHARDY_OK;
}

static const sy_cel_node *arg_node(const gen *g, const sy_cel_node *nd, uint32_t i) {
    return &g->A->nodes[g->A->kids[nd->args + i]];
}

/* 1 when the checker proved the node is a string (never in unchecked programs). */
static int is_string_node(const gen *g, const sy_cel_node *nd) {
    return !(g->flags & SY_CEL_NO_CHECK) && g->chk->types.t[nd->type].kind == SY_CEL_STRING;
}

/* x + y of two strings: one OP_CONCAT over all the operands of a left-deep chain, so that
 * `a + ":" + b` makes one allocation and one copy per operand. */
static shardy_status gen_concat(gen *g, const uint32_t *ops, uint32_t node_index) {
    sy_cel_program *p = g->p;
    const sy_cel_insn *l = &p->code[ops[0]];
    uint32_t nl = l->op == OP_CONCAT ? l->b : 1;
    uint32_t need = p->nkids + nl + 1;
    if (need > p->capkids) {
        uint32_t cap = p->capkids ? p->capkids : 32;
        while (cap < need) cap *= 2;
        uint32_t *k = sy_realloc(p->kids, (size_t)cap * sizeof *k);
        if (!k) return gen_oom();
        p->kids = k;
        p->capkids = cap;
    }
    sy_cel_insn in;
    memset(&in, 0, sizeof in);
    in.op = OP_CONCAT;
    in.a = p->nkids;
    in.b = nl + 1;
    if (l->op == OP_CONCAT) {
        memmove(p->kids + p->nkids, p->kids + l->a, nl * sizeof *p->kids);
    } else {
        p->kids[p->nkids] = ops[0];
    }
    p->kids[p->nkids + nl] = ops[1];
    p->nkids += nl + 1;
    return emit(g, &in, &g->map[node_index]);
}

static shardy_status gen_call(gen *g, const sy_cel_node *nd, uint32_t node_index) {
    sy_cel_program *p = g->p;
    sy_cel_insn in;
    memset(&in, 0, sizeof in);
    uint32_t ops[3] = {0, 0, 0};
    for (uint32_t i = 0; i < nd->nargs && i < 3; i++) ops[i] = g->map[g->A->kids[nd->args + i]];
    if (!arity_ok(nd->op, nd->method, nd->nargs)) {
        /* only reachable without type checking: an error when evaluated */
        in.op = OP_BADCALL;
        const char *name = nd->name ? nd->name : sy_cel_op_name(nd->op);
        size_t len = nd->name ? nd->name_len : strlen(name);
        char *copy = sy_cel_arena_dup(&p->arena, name, len);
        if (!copy) return gen_oom();
        in.k = sy_cel_str(copy, len);
        return emit(g, &in, &g->map[node_index]);
    }
    in.op = nd->op;
    in.a = ops[0];
    in.b = ops[1];
    in.c = ops[2];
    /* shortening with constant operands */
    if (nd->op == OP_COND && is_const(p, ops[0]) && p->code[ops[0]].k.kind == SY_CEL_BOOL) {
        g->map[node_index] = p->code[ops[0]].k.v.b ? ops[1] : ops[2];
        return SHARDY_OK;
    }
    if (nd->op == OP_AND || nd->op == OP_OR) {
        int absorbing = nd->op == OP_OR; /* true absorbs ||, false absorbs && */
        for (int i = 0; i < 2; i++) {
            const sy_cel_insn *o = &p->code[ops[i]];
            if (o->op == OP_CONST && o->k.kind == SY_CEL_BOOL && o->k.v.b == absorbing) {
                memset(&in, 0, sizeof in);
                in.op = OP_CONST;
                in.k = sy_cel_bool(absorbing);
                return emit(g, &in, &g->map[node_index]);
            }
        }
    }
    /* A constant pattern is compiled now, so that an invalid one is a compile error. */
    sy_cel_regex *re = NULL;
    if (nd->op == OP_MATCHES && is_const(p, ops[1]) && p->code[ops[1]].k.kind == SY_CEL_STRING) {
        const sy_cel_value *pat = &p->code[ops[1]].k;
        int oom = 0;
        const char *err =
            sy_cel_regex_compile(pat->v.s, pat->len, arena_allocfn, &p->arena, &re, &oom);
        if (oom) return gen_oom();
        if (err) {
            const sy_cel_node *pn = &g->A->nodes[g->A->kids[nd->args + 1]];
            return sy_cel_errf(g->A->src, g->A->len, pn->pos, "invalid regular expression for matches(): %s", err);
        }
        const sy_cel_regex **rs = sy_realloc(p->regexes, (p->nregexes + 1) * sizeof *rs);
        if (!rs) return gen_oom();
        p->regexes = rs;
        rs[p->nregexes] = re;
        in.kind = 1;
        in.c = (uint32_t)p->nregexes++;
    }
    int all_const = 1;
    for (uint32_t i = 0; i < nd->nargs; i++) all_const &= is_const(p, ops[i]);
    if (!all_const && nd->op == OP_ADD && is_string_node(g, nd) && is_string_node(g, arg_node(g, nd, 0)) &&
        is_string_node(g, arg_node(g, nd, 1)))
        return gen_concat(g, ops, node_index);
    shardy_status st = emit(g, &in, &g->map[node_index]);
    if (st) return st;
    uint32_t idx = g->map[node_index];
    if (all_const) return try_fold(g, idx);
    /* specialised forms */
    sy_cel_insn *me = &p->code[idx];
    if (nd->op == OP_MOD && is_const(p, ops[1])) {
        const sy_cel_value *d = &p->code[ops[1]].k;
        if (d->kind == SY_CEL_UINT && d->v.u != 0) {
            me->op = OP_MOD_UK;
            me->k = *d;
        } else if (d->kind == SY_CEL_INT && d->v.i != 0 && d->v.i != -1) {
            me->op = OP_MOD_IK;
            me->k = *d;
        }
    }
    if (nd->op == OP_SHARD_HASH && p->code[ops[0]].op == OP_VAR) {
        me->op = OP_HASH_VAR;
        me->kind = p->code[ops[0]].kind;
        me->a = p->code[ops[0]].a;
    }
    if (me->op == OP_MOD_UK && p->code[ops[0]].op == OP_HASH_VAR) {
        me->op = OP_HASH_VAR_MOD_UK;
        me->kind = p->code[ops[0]].kind;
        me->a = p->code[ops[0]].a;
    }
    return SHARDY_OK;
}

static shardy_status gen_node(gen *g, uint32_t i) {
    sy_cel_program *p = g->p;
    const sy_cel_node *nd = &g->A->nodes[i];
    sy_cel_insn in;
    memset(&in, 0, sizeof in);
    switch (nd->kind) {
    case A_CONST:
        in.op = OP_CONST;
        if (sy_cel_value_copy(&p->arena, &nd->val, &in.k)) return gen_oom();
        return emit(g, &in, &g->map[i]);
    case A_IDENT:
        if (nd->var >= 0) {
            in.op = OP_VAR;
            in.a = (uint32_t)nd->var;
            in.kind = (uint8_t)p->vars[nd->var].type;
            p->vars[nd->var].used = 1;
        } else {
            in.op = OP_UNBOUND;
            char *name = sy_cel_arena_dup(&p->arena, nd->name, nd->name_len);
            if (!name) return gen_oom();
            in.k = sy_cel_str(name, nd->name_len);
        }
        return emit(g, &in, &g->map[i]);
    case A_SELECT:
    case A_HAS: {
        in.op = nd->kind == A_SELECT ? OP_SELECT : OP_HAS;
        in.a = g->map[g->A->kids[nd->args]];
        char *name = sy_cel_arena_dup(&p->arena, nd->name, nd->name_len);
        if (!name) return gen_oom();
        in.k = sy_cel_str(name, nd->name_len);
        shardy_status st = emit(g, &in, &g->map[i]);
        if (st || !is_const(p, in.a)) return st;
        return try_fold(g, g->map[i]);
    }
    case A_LIST:
    case A_MAP: {
        in.op = nd->kind == A_LIST ? OP_LIST : OP_MAP;
        shardy_status st = add_kids(g, nd, &in.a);
        if (st) return st;
        in.b = nd->kind == A_LIST ? nd->nargs : nd->nargs / 2;
        int all_const = 1;
        for (uint32_t k = 0; k < nd->nargs; k++) all_const &= is_const(p, p->kids[in.a + k]);
        st = emit(g, &in, &g->map[i]);
        if (st || !all_const) return st;
        return try_fold(g, g->map[i]);
    }
    case A_CALL: return gen_call(g, nd, i);
    }
    return sy_err(SHARDY_EINTERNAL, "CEL code generation: unknown node kind %d", nd->kind);
}

/* ---- entry points ----------------------------------------------------------------------------------------- */

static int valid_decl_kind(sy_cel_kind k, int nested) {
    switch (k) {
    case SY_CEL_BOOL:
    case SY_CEL_INT:
    case SY_CEL_UINT:
    case SY_CEL_DOUBLE:
    case SY_CEL_STRING:
    case SY_CEL_BYTES:
    case SY_CEL_DYN:
    case SY_CEL_NULL: return 1;
    case SY_CEL_UNSET: return nested;
    case SY_CEL_LIST:
    case SY_CEL_MAP: return !nested;
    default: return 0;
    }
}

void sy_cel_program_free(sy_cel_program **pp) {
    if (!pp || !*pp) return;
    sy_cel_program *p = *pp;
    for (size_t i = 0; i < p->nvars; i++) sy_free(p->vars[i].name);
    sy_free(p->vars);
    sy_free(p->code);
    sy_free(p->kids);
    sy_free((void *)p->regexes);
    sy_cel_arena_free(&p->arena);
    sy_free(p->expr);
    sy_free(p);
    *pp = NULL;
}

shardy_status sy_cel_compile_ex(const char *expr, size_t len, const sy_cel_var *vars, size_t nvars, unsigned flags,
                                sy_cel_program **out) {
    shardy_status st = SHARDY_OK;
    sy_cel_program *p = NULL;
    sy_cel_ast ast;
    sy_cel_checked chk;
    gen g;
    memset(&ast, 0, sizeof ast);
    memset(&chk, 0, sizeof chk);
    memset(&g, 0, sizeof g);
    sy_cel_scratch_init(&g.fold);
    if (!out || (!expr && len) || (!vars && nvars)) return sy_err(SHARDY_EINVAL, "sy_cel_compile: NULL argument");
    *out = NULL;
    for (size_t i = 0; i < nvars; i++) {
        if (!vars[i].name || !vars[i].name[0])
            return sy_err(SHARDY_EINVAL, "CEL variable %zu has no name", i);
        if (!valid_decl_kind(vars[i].type, 0) || !valid_decl_kind(vars[i].elem, 1) ||
            !valid_decl_kind(vars[i].key, 1))
            return sy_err(SHARDY_EINVAL, "CEL variable '%.64s' has an invalid type", vars[i].name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(vars[i].name, vars[j].name))
                return sy_err(SHARDY_EINVAL, "CEL variable '%.64s' is declared twice", vars[i].name);
    }
    size_t bad = utf8_check(expr ? expr : "", len);
    if (bad < len) return sy_cel_errf(expr, len, bad, "the expression is not valid UTF-8 (byte 0x%02x)",
                                      (unsigned)(unsigned char)expr[bad]);
    if (sy_cel_utf8_count(expr ? expr : "", len) > SY_CEL_MAX_EXPR_CODEPOINTS) {
        size_t i = 0, cps = 0;
        while (i < len && cps <= SY_CEL_MAX_EXPR_CODEPOINTS) {
            if (((unsigned char)expr[i] & 0xC0) != 0x80) cps++;
            if (cps <= SY_CEL_MAX_EXPR_CODEPOINTS) i++;
        }
        return sy_cel_errf(expr, len, i, "the expression is longer than %d code points", SY_CEL_MAX_EXPR_CODEPOINTS);
    }

    SY_TRY(sy_cel_parse(expr ? expr : "", len, &ast));
    SY_TRY(sy_cel_check(&ast, vars, nvars, flags, &chk));

    p = sy_calloc(1, sizeof *p);
    if (!p) {
        st = gen_oom();
        goto done;
    }
    p->expr = sy_strndup(expr ? expr : "", len);
    p->vars = sy_calloc(nvars ? nvars : 1, sizeof *p->vars);
    g.map = sy_malloc((size_t)ast.n * sizeof *g.map);
    if (!p->expr || !p->vars || !g.map) {
        st = gen_oom();
        goto done;
    }
    for (size_t i = 0; i < nvars; i++) {
        p->vars[i].name = sy_strdup(vars[i].name);
        if (!p->vars[i].name) {
            p->nvars = i;
            st = gen_oom();
            goto done;
        }
        p->vars[i].type = vars[i].type;
        p->vars[i].elem = vars[i].elem;
        p->vars[i].key = vars[i].key;
    }
    p->nvars = nvars;
    g.p = p;
    g.A = &ast;
    g.chk = &chk;
    g.flags = flags;
    for (uint32_t i = 0; i < ast.n; i++) SY_TRY(gen_node(&g, i));
    p->root = g.map[ast.root];
    uint32_t rt = chk.result;
    sy_cel_kind rk = (sy_cel_kind)chk.types.t[rt].kind;
    p->result_kind = rk == SY_CEL_UNSET ? SY_CEL_DYN : rk;
    sy_cel_type_text(&chk.types, rt, p->result_type, sizeof p->result_type);
    *out = p;
    p = NULL;
done:
    sy_cel_program_free(&p);
    sy_free(g.map);
    sy_cel_scratch_release(&g.fold);
    sy_cel_checked_free(&chk);
    sy_cel_ast_free(&ast);
    return st;
}

shardy_status sy_cel_compile(const char *expr, const sy_cel_var *vars, size_t nvars, sy_cel_program **out) {
    if (!expr) return sy_err(SHARDY_EINVAL, "sy_cel_compile: NULL expression");
    return sy_cel_compile_ex(expr, strlen(expr), vars, nvars, 0, out);
}

sy_cel_kind sy_cel_program_result_kind(const sy_cel_program *p) { return p->result_kind; }
const char *sy_cel_program_result_type(const sy_cel_program *p) { return p->result_type; }
size_t sy_cel_program_nvars(const sy_cel_program *p) { return p->nvars; }
const char *sy_cel_program_expr(const sy_cel_program *p) { return p->expr; }

int sy_cel_program_var_index(const sy_cel_program *p, const char *name) {
    for (size_t i = 0; name && i < p->nvars; i++)
        if (!strcmp(p->vars[i].name, name)) return (int)i;
    return -1;
}

int sy_cel_program_uses_var(const sy_cel_program *p, size_t i) { return i < p->nvars && p->vars[i].used; }
