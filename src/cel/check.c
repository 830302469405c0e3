/*
 * check.c — static type checking of CEL syntax trees (cel.md §2.4).
 *
 * Owns: the type table (plain kinds, list(T), map(K, V), dyn and the free element type of empty
 * literals), identifier resolution against the declared variables, the overload table of the
 * routing subset, and the wording of type errors, including the fix hints for int/uint/double
 * mixing ("write `key % 16` or `uint(key) % 16u`").
 *
 * Rules: no implicit numeric conversion (arithmetic, ordering and equality need the same type on
 * both sides unless one side is dyn); candidates that dyn makes ambiguous produce dyn; differing
 * list elements, map keys/values and ?: branches join to dyn; empty literals are free and take the
 * other side's type. Every node is visited once in index order (children come first), so there is
 * no recursion.
 *
 * Failure behaviour: the first ill-typed node stops checking with SHARDY_EINVAL and a positioned
 * message (sy_cel_errf). With SY_CEL_NO_CHECK only identifiers are resolved and nothing fails.
 */
#include <stdio.h>
#include <string.h>

#include "cel/internal.h"
#include "core/alloc.h"

typedef struct checker {
    sy_cel_ast *A;
    const sy_cel_var *vars;
    size_t nvars;
    sy_cel_types *tt;
} checker;

#define TY_FREE ((uint32_t)SY_CEL_UNSET)
#define TY(k) ((uint32_t)(k))

/* ---- type table ---------------------------------------------------------------------------------- */

static int tt_init(sy_cel_types *tt) {
    tt->cap = 32;
    tt->t = sy_calloc(tt->cap, sizeof *tt->t);
    if (!tt->t) return -1;
    for (uint32_t k = 0; k <= SY_CEL_DYN; k++) tt->t[k].kind = (uint8_t)k;
    /* ids LIST and MAP denote list(free) and map(free, free) */
    tt->n = SY_CEL_DYN + 1;
    return 0;
}

static uint32_t intern(sy_cel_types *tt, sy_cel_kind kind, uint32_t a, uint32_t b) {
    if (kind == SY_CEL_LIST && a == TY_FREE) return TY(SY_CEL_LIST);
    if (kind == SY_CEL_MAP && a == TY_FREE && b == TY_FREE) return TY(SY_CEL_MAP);
    for (uint32_t i = SY_CEL_DYN + 1; i < tt->n; i++)
        if (tt->t[i].kind == kind && tt->t[i].a == a && tt->t[i].b == b) return i;
    if (tt->n == tt->cap) {
        sy_cel_type *t = sy_realloc(tt->t, (size_t)tt->cap * 2 * sizeof *t);
        if (!t) return SY_CEL_NONE;
        tt->t = t;
        tt->cap *= 2;
    }
    tt->t[tt->n].kind = (uint8_t)kind;
    tt->t[tt->n].a = a;
    tt->t[tt->n].b = b;
    return tt->n++;
}

static sy_cel_kind kind_of(const sy_cel_types *tt, uint32_t id) { return (sy_cel_kind)tt->t[id].kind; }
static uint32_t elem_of(const sy_cel_types *tt, uint32_t id) {
    return id == TY(SY_CEL_LIST) || id == TY(SY_CEL_MAP) ? TY_FREE : tt->t[id].a;
}
static uint32_t val_of(const sy_cel_types *tt, uint32_t id) { return id == TY(SY_CEL_MAP) ? TY_FREE : tt->t[id].b; }

static int loose(sy_cel_kind k) { return k == SY_CEL_DYN || k == SY_CEL_UNSET; }

/* Could values of types a and b be the same type? */
static int compat(const sy_cel_types *tt, uint32_t a, uint32_t b, int depth) {
    if (a == b) return 1;
    sy_cel_kind ka = kind_of(tt, a), kb = kind_of(tt, b);
    if (loose(ka) || loose(kb)) return 1;
    if (ka != kb) return 0;
    if (depth > SY_CEL_MAX_DEPTH) return 1;
    if (ka == SY_CEL_LIST) return compat(tt, elem_of(tt, a), elem_of(tt, b), depth + 1);
    if (ka == SY_CEL_MAP)
        return compat(tt, elem_of(tt, a), elem_of(tt, b), depth + 1) &&
               compat(tt, val_of(tt, a), val_of(tt, b), depth + 1);
    return 1;
}

static uint32_t join(sy_cel_types *tt, uint32_t a, uint32_t b, int depth) {
    if (a == b) return a;
    sy_cel_kind ka = kind_of(tt, a), kb = kind_of(tt, b);
    if (ka == SY_CEL_UNSET) return b;
    if (kb == SY_CEL_UNSET) return a;
    if (ka == kb && ka == SY_CEL_LIST && depth < SY_CEL_MAX_DEPTH) {
        uint32_t e = join(tt, elem_of(tt, a), elem_of(tt, b), depth + 1);
        return e == SY_CEL_NONE ? e : intern(tt, SY_CEL_LIST, e, 0);
    }
    if (ka == kb && ka == SY_CEL_MAP && depth < SY_CEL_MAX_DEPTH) {
        uint32_t k = join(tt, elem_of(tt, a), elem_of(tt, b), depth + 1);
        uint32_t v = join(tt, val_of(tt, a), val_of(tt, b), depth + 1);
        return k == SY_CEL_NONE || v == SY_CEL_NONE ? SY_CEL_NONE : intern(tt, SY_CEL_MAP, k, v);
    }
    return TY(SY_CEL_DYN);
}

static size_t type_text(const sy_cel_types *tt, uint32_t id, char *buf, size_t cap, int depth) {
    if (cap == 0) return 0;
    sy_cel_kind k = kind_of(tt, id);
    size_t n = 0;
    if (depth > 8) return (size_t)snprintf(buf, cap, "...");
    switch (k) {
    case SY_CEL_UNSET: n = (size_t)snprintf(buf, cap, "dyn"); break;
    case SY_CEL_LIST:
        n = (size_t)snprintf(buf, cap, "list(");
        if (n < cap) n += type_text(tt, elem_of(tt, id), buf + n, cap - n, depth + 1);
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, ")");
        break;
    case SY_CEL_MAP:
        n = (size_t)snprintf(buf, cap, "map(");
        if (n < cap) n += type_text(tt, elem_of(tt, id), buf + n, cap - n, depth + 1);
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, ", ");
        if (n < cap) n += type_text(tt, val_of(tt, id), buf + n, cap - n, depth + 1);
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, ")");
        break;
    default: n = (size_t)snprintf(buf, cap, "%s", sy_cel_kind_name(k)); break;
    }
    return n < cap ? n : cap - 1;
}

void sy_cel_type_text(const sy_cel_types *tt, uint32_t id, char *buf, size_t cap) {
    if (cap) buf[0] = '\0';
    type_text(tt, id, buf, cap, 0);
}

/* ---- errors -------------------------------------------------------------------------------------- */

static const sy_cel_node *arg(const checker *c, const sy_cel_node *nd, uint32_t i) {
    return &c->A->nodes[c->A->kids[nd->args + i]];
}

static int is_literal(const sy_cel_node *n, sy_cel_kind k) {
    return n->kind == A_CONST && n->literal && n->val.kind == k;
}

/* "; write `...`" for operands of different numeric kinds, or string + non-string. */
static void hint(const checker *c, const sy_cel_node *nd, char *buf, size_t cap) {
    buf[0] = '\0';
    if (nd->nargs != 2 || nd->method) return;
    const sy_cel_node *l = arg(c, nd, 0), *r = arg(c, nd, 1);
    sy_cel_kind kl = kind_of(c->tt, l->type), kr = kind_of(c->tt, r->type);
    int L = (int)(l->end - l->pos), R = (int)(r->end - r->pos);
    const char *ls = c->A->src + l->pos, *rs = c->A->src + r->pos;
    const char *op = sy_cel_op_name(nd->op);
    int numl = kl == SY_CEL_INT || kl == SY_CEL_UINT || kl == SY_CEL_DOUBLE;
    int numr = kr == SY_CEL_INT || kr == SY_CEL_UINT || kr == SY_CEL_DOUBLE;
    if (L > 60 || R > 60) {
        if (numl && numr) snprintf(buf, cap, "; convert one operand with int(), uint() or double()");
        return;
    }
    if (numl && numr && kl != kr) {
        if (kl == SY_CEL_INT && kr == SY_CEL_UINT) {
            if (is_literal(r, SY_CEL_UINT))
                snprintf(buf, cap, "; write `%.*s %s %.*s` or `uint(%.*s) %s %.*s`", L, ls, op, R - 1, rs, L, ls, op, R,
                         rs);
            else if (is_literal(l, SY_CEL_INT) && l->val.v.i >= 0)
                snprintf(buf, cap, "; write `%.*su %s %.*s`", L, ls, op, R, rs);
            else
                snprintf(buf, cap, "; write `uint(%.*s) %s %.*s` or `%.*s %s int(%.*s)`", L, ls, op, R, rs, L, ls, op,
                         R, rs);
        } else if (kl == SY_CEL_UINT && kr == SY_CEL_INT) {
            if (is_literal(r, SY_CEL_INT) && r->val.v.i >= 0)
                snprintf(buf, cap, "; write `%.*s %s %.*su`", L, ls, op, R, rs);
            else if (is_literal(l, SY_CEL_UINT))
                snprintf(buf, cap, "; write `%.*s %s %.*s` or `%.*s %s uint(%.*s)`", L - 1, ls, op, R, rs, L, ls, op, R,
                         rs);
            else
                snprintf(buf, cap, "; write `%.*s %s uint(%.*s)` or `int(%.*s) %s %.*s`", L, ls, op, R, rs, L, ls, op,
                         R, rs);
        } else if (kl == SY_CEL_DOUBLE) {
            snprintf(buf, cap, "; write `%.*s %s double(%.*s)`", L, ls, op, R, rs);
        } else {
            snprintf(buf, cap, "; write `double(%.*s) %s %.*s`", L, ls, op, R, rs);
        }
        return;
    }
    if (nd->op == OP_ADD && (kl == SY_CEL_STRING) != (kr == SY_CEL_STRING) &&
        (kl == SY_CEL_STRING || numl || kl == SY_CEL_BOOL) && (kr == SY_CEL_STRING || numr || kr == SY_CEL_BOOL)) {
        if (kl == SY_CEL_STRING)
            snprintf(buf, cap, "; write `%.*s + string(%.*s)`", L, ls, R, rs);
        else
            snprintf(buf, cap, "; write `string(%.*s) + %.*s`", L, ls, R, rs);
    }
}

static shardy_status no_overload(checker *c, const sy_cel_node *nd) {
    char types[256], h[320], t[96];
    size_t n = 0;
    types[0] = '\0';
    for (uint32_t i = nd->method ? 1 : 0; i < nd->nargs && n < sizeof types; i++) {
        sy_cel_type_text(c->tt, arg(c, nd, i)->type, t, sizeof t);
        n += (size_t)snprintf(types + n, sizeof types - n, "%s%s", i > (nd->method ? 1u : 0u) ? ", " : "", t);
    }
    if (n >= sizeof types) n = sizeof types - 1;
    hint(c, nd, h, sizeof h);
    if (nd->method) {
        sy_cel_type_text(c->tt, arg(c, nd, 0)->type, t, sizeof t);
        return sy_cel_errf(c->A->src, c->A->len, nd->oppos, "no matching overload for method '%.*s' of %s with (%s)",
                           (int)nd->name_len, nd->name, t, types);
    }
    if (nd->name)
        return sy_cel_errf(c->A->src, c->A->len, nd->oppos, "no matching overload for '%.*s' with (%s)%s",
                           (int)nd->name_len, nd->name, types, h);
    return sy_cel_errf(c->A->src, c->A->len, nd->oppos, "no matching overload for '%s' with (%s)%s",
                       sy_cel_op_name(nd->op), types, h);
}

/* ---- overloads ----------------------------------------------------------------------------------- */

/* Accumulates the result types of matching candidates. */
typedef struct cands {
    int count;
    uint32_t result;
} cands;

static void cand(cands *cs, uint32_t result) {
    if (cs->count == 0)
        cs->result = result;
    else if (cs->result != result)
        cs->result = TY(SY_CEL_DYN);
    cs->count++;
}

static int is_k(const sy_cel_types *tt, uint32_t t, sy_cel_kind k) {
    sy_cel_kind tk = kind_of(tt, t);
    return tk == k || loose(tk);
}

/* Unary candidates: arg kind in kinds[] → result (fixed, or the arg kind when result is UNSET). */
static void unary_cands(const sy_cel_types *tt, uint32_t t, const sy_cel_kind *kinds, size_t nk, sy_cel_kind result,
                        cands *cs) {
    for (size_t i = 0; i < nk; i++)
        if (is_k(tt, t, kinds[i])) cand(cs, TY(result == SY_CEL_UNSET ? kinds[i] : result));
}

/* Binary same-kind candidates. */
static void binary_cands(const sy_cel_types *tt, uint32_t a, uint32_t b, const sy_cel_kind *kinds, size_t nk,
                         sy_cel_kind result, cands *cs) {
    for (size_t i = 0; i < nk; i++)
        if (is_k(tt, a, kinds[i]) && is_k(tt, b, kinds[i])) cand(cs, TY(result == SY_CEL_UNSET ? kinds[i] : result));
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const sy_cel_kind k_arith[] = {SY_CEL_INT, SY_CEL_UINT, SY_CEL_DOUBLE};
static const sy_cel_kind k_add[] = {SY_CEL_INT, SY_CEL_UINT, SY_CEL_DOUBLE, SY_CEL_STRING, SY_CEL_BYTES};
static const sy_cel_kind k_mod[] = {SY_CEL_INT, SY_CEL_UINT};
static const sy_cel_kind k_neg[] = {SY_CEL_INT, SY_CEL_DOUBLE};
static const sy_cel_kind k_ord[] = {SY_CEL_BOOL, SY_CEL_INT, SY_CEL_UINT, SY_CEL_DOUBLE, SY_CEL_STRING, SY_CEL_BYTES};
static const sy_cel_kind k_bool[] = {SY_CEL_BOOL};
static const sy_cel_kind k_size[] = {SY_CEL_STRING, SY_CEL_BYTES, SY_CEL_LIST, SY_CEL_MAP};
static const sy_cel_kind k_to_int[] = {SY_CEL_INT, SY_CEL_UINT, SY_CEL_DOUBLE, SY_CEL_STRING};
static const sy_cel_kind k_to_string[] = {SY_CEL_STRING, SY_CEL_BYTES, SY_CEL_BOOL,
                                          SY_CEL_INT,    SY_CEL_UINT,  SY_CEL_DOUBLE};
static const sy_cel_kind k_to_bytes[] = {SY_CEL_BYTES, SY_CEL_STRING};
static const sy_cel_kind k_to_bool[] = {SY_CEL_BOOL, SY_CEL_STRING};
static const sy_cel_kind k_hash[] = {SY_CEL_INT, SY_CEL_UINT, SY_CEL_STRING, SY_CEL_BYTES};
static const sy_cel_kind k_string[] = {SY_CEL_STRING};

/* Resolves a call into *out; a compile error (SHARDY_EINVAL) or SHARDY_ENOMEM otherwise. */
static shardy_status check_call(checker *c, sy_cel_node *nd, uint32_t *out) {
    sy_cel_types *tt = c->tt;
    uint32_t t[3] = {0, 0, 0};
    for (uint32_t i = 0; i < nd->nargs && i < 3; i++) t[i] = arg(c, nd, i)->type;
    cands cs = {0, 0};
    uint32_t n = nd->nargs;
    int m = nd->method;
    switch (nd->op) {
    case OP_COND:
        if (is_k(tt, t[0], SY_CEL_BOOL) && compat(tt, t[1], t[2], 0)) {
            uint32_t j = join(tt, t[1], t[2], 0);
            if (j == SY_CEL_NONE) goto oom;
            cand(&cs, j);
        }
        if (!cs.count) {
            char a[96], b[96], cnd[96];
            sy_cel_type_text(tt, t[0], cnd, sizeof cnd);
            sy_cel_type_text(tt, t[1], a, sizeof a);
            sy_cel_type_text(tt, t[2], b, sizeof b);
            if (!is_k(tt, t[0], SY_CEL_BOOL))
                return sy_cel_errf(c->A->src, c->A->len, nd->oppos,
                                   "no matching overload for '?:' with (%s, %s, %s): the condition must be a bool", cnd,
                                   a, b);
            return sy_cel_errf(c->A->src, c->A->len, nd->oppos,
                               "no matching overload for '?:' with (%s, %s, %s): both branches must have the same type",
                               cnd, a, b);
        }
        *out = cs.result;
        return SHARDY_OK;
    case OP_AND:
    case OP_OR: binary_cands(tt, t[0], t[1], k_bool, 1, SY_CEL_BOOL, &cs); break;
    case OP_NOT: unary_cands(tt, t[0], k_bool, 1, SY_CEL_BOOL, &cs); break;
    case OP_NEG: unary_cands(tt, t[0], k_neg, N(k_neg), SY_CEL_UNSET, &cs); break;
    case OP_ADD:
        binary_cands(tt, t[0], t[1], k_add, N(k_add), SY_CEL_UNSET, &cs);
        if (is_k(tt, t[0], SY_CEL_LIST) && is_k(tt, t[1], SY_CEL_LIST)) {
            sy_cel_kind k0 = kind_of(tt, t[0]), k1 = kind_of(tt, t[1]);
            if (k0 == SY_CEL_LIST && k1 == SY_CEL_LIST) {
                if (compat(tt, elem_of(tt, t[0]), elem_of(tt, t[1]), 0)) {
                    uint32_t e = join(tt, elem_of(tt, t[0]), elem_of(tt, t[1]), 0);
                    uint32_t lt = e == SY_CEL_NONE ? e : intern(tt, SY_CEL_LIST, e, 0);
                    if (lt == SY_CEL_NONE) goto oom;
                    cand(&cs, lt);
                }
            } else {
                cand(&cs, k0 == SY_CEL_LIST ? t[0] : k1 == SY_CEL_LIST ? t[1] : TY(SY_CEL_LIST));
            }
        }
        break;
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: binary_cands(tt, t[0], t[1], k_arith, N(k_arith), SY_CEL_UNSET, &cs); break;
    case OP_MOD: binary_cands(tt, t[0], t[1], k_mod, N(k_mod), SY_CEL_UNSET, &cs); break;
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: binary_cands(tt, t[0], t[1], k_ord, N(k_ord), SY_CEL_BOOL, &cs); break;
    case OP_EQ:
    case OP_NE:
        if (compat(tt, t[0], t[1], 0)) cand(&cs, TY(SY_CEL_BOOL));
        break;
    case OP_IN: {
        sy_cel_kind k = kind_of(tt, t[1]);
        if (loose(k) || (k == SY_CEL_LIST && compat(tt, t[0], elem_of(tt, t[1]), 0)) ||
            (k == SY_CEL_MAP && compat(tt, t[0], elem_of(tt, t[1]), 0)))
            cand(&cs, TY(SY_CEL_BOOL));
        break;
    }
    case OP_INDEX: {
        sy_cel_kind k = kind_of(tt, t[0]);
        if (loose(k))
            cand(&cs, TY(SY_CEL_DYN));
        else if (k == SY_CEL_LIST && is_k(tt, t[1], SY_CEL_INT))
            cand(&cs, elem_of(tt, t[0]) == TY_FREE ? TY(SY_CEL_DYN) : elem_of(tt, t[0]));
        else if (k == SY_CEL_MAP && compat(tt, t[1], elem_of(tt, t[0]), 0))
            cand(&cs, val_of(tt, t[0]) == TY_FREE ? TY(SY_CEL_DYN) : val_of(tt, t[0]));
        break;
    }
    case OP_SIZE:
        if (n == 1) unary_cands(tt, t[0], k_size, N(k_size), SY_CEL_INT, &cs);
        break;
    case OP_INT:
        if (!m && n == 1) unary_cands(tt, t[0], k_to_int, N(k_to_int), SY_CEL_INT, &cs);
        break;
    case OP_UINT:
        if (!m && n == 1) unary_cands(tt, t[0], k_to_int, N(k_to_int), SY_CEL_UINT, &cs);
        break;
    case OP_DOUBLE:
        if (!m && n == 1) unary_cands(tt, t[0], k_to_int, N(k_to_int), SY_CEL_DOUBLE, &cs);
        break;
    case OP_STRING:
        if (!m && n == 1) unary_cands(tt, t[0], k_to_string, N(k_to_string), SY_CEL_STRING, &cs);
        break;
    case OP_BYTES:
        if (!m && n == 1) unary_cands(tt, t[0], k_to_bytes, N(k_to_bytes), SY_CEL_BYTES, &cs);
        break;
    case OP_BOOL:
        if (!m && n == 1) unary_cands(tt, t[0], k_to_bool, N(k_to_bool), SY_CEL_BOOL, &cs);
        break;
    case OP_DYN:
        if (!m && n == 1) cand(&cs, TY(SY_CEL_DYN));
        break;
    case OP_CONTAINS:
    case OP_STARTS:
    case OP_ENDS:
        if (m && n == 2) binary_cands(tt, t[0], t[1], k_string, 1, SY_CEL_BOOL, &cs);
        break;
    case OP_MATCHES:
        if (n == 2) binary_cands(tt, t[0], t[1], k_string, 1, SY_CEL_BOOL, &cs);
        break;
    case OP_SHARD_HASH:
        if (!m && n == 1) unary_cands(tt, t[0], k_hash, N(k_hash), SY_CEL_UINT, &cs);
        break;
    case OP_UNSUPPORTED:
        return sy_cel_errf(c->A->src, c->A->len, nd->oppos,
                           "unsupported CEL feature: function '%.*s' (type(), timestamps and durations are not in the "
                           "routing subset)",
                           (int)nd->name_len, nd->name);
    default:
        if (nd->method)
            return sy_cel_errf(c->A->src, c->A->len, nd->oppos, "undeclared reference to method '%.*s'",
                               (int)nd->name_len, nd->name);
        return sy_cel_errf(c->A->src, c->A->len, nd->oppos, "undeclared reference to '%.*s'", (int)nd->name_len,
                           nd->name);
    }
    if (!cs.count) return no_overload(c, nd);
    *out = cs.result;
    return SHARDY_OK;
oom:
    return sy_err(SHARDY_ENOMEM, "out of memory checking a CEL expression");
}

static int name_is(const sy_cel_node *nd, const char *s) {
    return strlen(s) == nd->name_len && !memcmp(nd->name, s, nd->name_len);
}

static uint32_t var_type(sy_cel_types *tt, const sy_cel_var *v) {
    sy_cel_kind e = v->elem == SY_CEL_UNSET ? SY_CEL_DYN : v->elem;
    sy_cel_kind k = v->key == SY_CEL_UNSET ? SY_CEL_DYN : v->key;
    if (v->type == SY_CEL_LIST) return intern(tt, SY_CEL_LIST, TY(e), 0);
    if (v->type == SY_CEL_MAP) return intern(tt, SY_CEL_MAP, TY(k), TY(e));
    return TY(v->type);
}

static shardy_status check_ident(checker *c, sy_cel_node *nd, int checking) {
    for (size_t i = 0; i < c->nvars; i++) {
        if (strlen(c->vars[i].name) == nd->name_len && !memcmp(c->vars[i].name, nd->name, nd->name_len)) {
            nd->var = (int32_t)i;
            nd->type = var_type(c->tt, &c->vars[i]);
            return nd->type == SY_CEL_NONE ? sy_err(SHARDY_ENOMEM, "out of memory checking a CEL expression")
                                           : SHARDY_OK;
        }
    }
    nd->var = -1;
    nd->type = TY(SY_CEL_DYN);
    if (!checking) return SHARDY_OK;
    static const char *const denot[] = {"int",  "uint", "double", "string",    "bytes", "bool",
                                        "list", "map",  "dyn",    "null_type", "type"};
    for (size_t i = 0; i < sizeof denot / sizeof denot[0]; i++)
        if (name_is(nd, denot[i]))
            return sy_cel_errf(c->A->src, c->A->len, nd->pos,
                               "unsupported CEL feature: type denotation '%s' (type values are not in the routing "
                               "subset)",
                               denot[i]);
    char declared[200];
    size_t n = 0;
    declared[0] = '\0';
    for (size_t i = 0; i < c->nvars && n < sizeof declared; i++)
        n += (size_t)snprintf(declared + n, sizeof declared - n, "%s%s", i ? ", " : "", c->vars[i].name);
    if (c->nvars == 0) snprintf(declared, sizeof declared, "none");
    return sy_cel_errf(c->A->src, c->A->len, nd->pos, "undeclared reference to '%.*s' (declared variables: %s)",
                       (int)nd->name_len, nd->name, declared);
}

static uint32_t const_type(const sy_cel_value *v) {
    switch (v->kind) {
    case SY_CEL_NULL:
    case SY_CEL_BOOL:
    case SY_CEL_INT:
    case SY_CEL_UINT:
    case SY_CEL_DOUBLE:
    case SY_CEL_STRING:
    case SY_CEL_BYTES: return TY(v->kind);
    default: return TY(SY_CEL_DYN);
    }
}

/* Type of node nd (children already typed). */
static shardy_status check_node(checker *c, sy_cel_node *nd) {
    sy_cel_types *tt = c->tt;
    switch (nd->kind) {
    case A_CONST: nd->type = const_type(&nd->val); return SHARDY_OK;
    case A_IDENT: return check_ident(c, nd, 1);
    case A_SELECT:
    case A_HAS: {
        uint32_t o = arg(c, nd, 0)->type;
        sy_cel_kind k = kind_of(tt, o);
        uint32_t r;
        if (loose(k)) {
            r = TY(SY_CEL_DYN);
        } else if (k == SY_CEL_MAP && is_k(tt, elem_of(tt, o), SY_CEL_STRING)) {
            r = val_of(tt, o) == TY_FREE ? TY(SY_CEL_DYN) : val_of(tt, o);
        } else {
            char t[96];
            sy_cel_type_text(tt, o, t, sizeof t);
            return sy_cel_errf(c->A->src, c->A->len, nd->oppos,
                               "type '%s' does not support field selection (only maps with string keys do)", t);
        }
        nd->type = nd->kind == A_HAS ? TY(SY_CEL_BOOL) : r;
        return SHARDY_OK;
    }
    case A_LIST: {
        uint32_t e = TY_FREE;
        for (uint32_t i = 0; i < nd->nargs; i++) {
            e = join(tt, e, arg(c, nd, i)->type, 0);
            if (e == SY_CEL_NONE) break;
        }
        nd->type = e == SY_CEL_NONE ? e : intern(tt, SY_CEL_LIST, e, 0);
        break;
    }
    case A_MAP: {
        uint32_t k = TY_FREE, v = TY_FREE;
        for (uint32_t i = 0; i + 1 < nd->nargs && k != SY_CEL_NONE && v != SY_CEL_NONE; i += 2) {
            k = join(tt, k, arg(c, nd, i)->type, 0);
            v = join(tt, v, arg(c, nd, i + 1)->type, 0);
        }
        nd->type = k == SY_CEL_NONE || v == SY_CEL_NONE ? SY_CEL_NONE : intern(tt, SY_CEL_MAP, k, v);
        break;
    }
    case A_CALL: return check_call(c, nd, &nd->type);
    }
    return nd->type == SY_CEL_NONE ? sy_err(SHARDY_ENOMEM, "out of memory checking a CEL expression") : SHARDY_OK;
}

shardy_status sy_cel_check(sy_cel_ast *ast, const sy_cel_var *vars, size_t nvars, unsigned flags,
                           sy_cel_checked *chk) {
    shardy_status st = SHARDY_OK;
    checker c = {ast, vars, nvars, &chk->types};
    memset(chk, 0, sizeof *chk);
    if (tt_init(&chk->types)) return sy_err(SHARDY_ENOMEM, "out of memory checking a CEL expression");
    int checking = !(flags & SY_CEL_NO_CHECK);
    for (uint32_t i = 0; i < ast->n; i++) {
        sy_cel_node *nd = &ast->nodes[i];
        nd->type = TY(SY_CEL_DYN);
        if (!checking) {
            if (nd->kind == A_IDENT) SY_TRY(check_ident(&c, nd, 0));
            continue;
        }
        SY_TRY(check_node(&c, nd));
    }
    chk->result = checking ? ast->nodes[ast->root].type : TY(SY_CEL_DYN);
done:
    return st;
}

void sy_cel_checked_free(sy_cel_checked *chk) {
    if (!chk) return;
    sy_free(chk->types.t);
    memset(chk, 0, sizeof *chk);
}
