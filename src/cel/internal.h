/*
 * internal.h — data structures shared by the files of src/cel (not part of the module's API).
 *
 *   parse.c    lexer + parser: expression text → syntax tree (sy_cel_ast)
 *   check.c    type checker: annotates the tree with static types, reports ill-typed expressions
 *   compile.c  tree → program (flat array of typed instructions), constant folding, regex
 *              precompilation, the public compile entry points, compile-error formatting
 *   eval.c     evaluator and runtime library (arithmetic, comparisons, conversions, strings)
 *   regex.c    the RE2-syntax matcher behind matches()
 *   router.c   routing modes, bindings, inferred tokens, expression builders
 *
 * Invariants: a syntax tree's children always have smaller node indices than their parent
 * (post-order), depth <= SY_CEL_MAX_DEPTH; a program's instructions likewise refer only to
 * instructions with smaller indices, so evaluation recursion is bounded by the tree depth.
 * All memory comes from sy_malloc (arenas below are chains of sy_malloc'd chunks).
 */
#ifndef SY_CEL_INTERNAL_H
#define SY_CEL_INTERNAL_H

#include <stdarg.h>

#include "cel/cel.h"

/* ---- arena: many small allocations freed together ---------------------------------------------- */

typedef struct sy_cel_chunk sy_cel_chunk;
typedef struct sy_cel_arena {
    sy_cel_chunk *head;
    unsigned char *cur;
    size_t left;
} sy_cel_arena;

/* 16-byte aligned memory from the arena; NULL when out of memory. */
void *sy_cel_arena_alloc(sy_cel_arena *a, size_t n);
char *sy_cel_arena_dup(sy_cel_arena *a, const char *p, size_t n); /* NUL-terminated copy */
void sy_cel_arena_free(sy_cel_arena *a);

/* Scratch allocation during evaluation; NULL when out of memory or past SY_CEL_SCRATCH_MAX. */
void *sy_cel_scratch_alloc(sy_cel_scratch *s, size_t n);
void sy_cel_scratch_reset(sy_cel_scratch *s);

/* ---- operations (function calls and node kinds share one numbering) --------------------------- */

typedef enum sy_cel_op {
    /* node-like operations */
    OP_CONST = 0,
    OP_VAR,
    OP_UNBOUND, /* undeclared identifier (unchecked programs only): error when evaluated */
    OP_BADCALL, /* unknown function or wrong arity (unchecked programs only) */
    OP_LIST,
    OP_MAP,
    OP_SELECT,
    OP_HAS,
    /* functions and operators */
    OP_COND,
    OP_AND,
    OP_OR,
    OP_NOT,
    OP_NEG,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,
    OP_INDEX,
    OP_SIZE,
    OP_INT,
    OP_UINT,
    OP_DOUBLE,
    OP_STRING,
    OP_BYTES,
    OP_BOOL,
    OP_DYN,
    OP_CONTAINS,
    OP_STARTS,
    OP_ENDS,
    OP_MATCHES,
    OP_SHARD_HASH,
    /* specialised forms chosen by the compiler (same semantics, fewer branches) */
    OP_MOD_UK,      /* uint % non-zero uint constant */
    OP_MOD_IK,      /* int % non-zero int constant other than -1 */
    OP_HASH_VAR,    /* shard_hash(variable) */
    OP_HASH_VAR_MOD_UK, /* shard_hash(variable) % non-zero uint constant */
    OP_CONCAT,      /* s1 + s2 + ... of statically-string operands: a = first in kids, b = n */
    OP_UNSUPPORTED, /* parse-time marker: known MAY-tier function */
    OP_UNKNOWN,     /* parse-time marker: unknown function name */
    OP_COUNT_
} sy_cel_op;

/* Display name of an operator or function for messages ("%", "size", "?:"). */
const char *sy_cel_op_name(int op);

/* ---- syntax tree ------------------------------------------------------------------------------- */

enum { A_CONST, A_IDENT, A_SELECT, A_HAS, A_CALL, A_LIST, A_MAP };

#define SY_CEL_NONE UINT32_MAX

typedef struct sy_cel_node {
    uint8_t kind;     /* A_* */
    uint8_t op;       /* A_CALL: sy_cel_op */
    uint8_t method;   /* A_CALL: 1 when written as a method (args[0] is the receiver) */
    uint8_t literal;  /* A_CONST written as a literal token (for hints) */
    uint16_t depth;   /* 1 + deepest child */
    uint32_t pos;     /* byte span of the whole node in the source */
    uint32_t end;
    uint32_t oppos;   /* A_CALL: byte offset of the operator / function name (error position) */
    uint32_t args;    /* first child in ast->kids (A_CALL, A_LIST: n; A_MAP: 2n; SELECT/HAS: 1) */
    uint32_t nargs;
    const char *name; /* IDENT name, SELECT/HAS field, CALL function name (arena) */
    uint32_t name_len;
    sy_cel_value val; /* A_CONST (strings in the arena) */
    uint32_t type;    /* filled by the checker */
    int32_t var;      /* A_IDENT: variable index, -1 when undeclared */
} sy_cel_node;

typedef struct sy_cel_ast {
    const char *src;
    size_t len;
    sy_cel_node *nodes;
    uint32_t n, cap;
    uint32_t *kids;
    uint32_t nkids, capkids;
    uint32_t root;
    sy_cel_arena arena;
} sy_cel_ast;

/* Parses src[0..len) (valid UTF-8, checked by the caller). On failure the message is set
 * (SHARDY_EINVAL, with position) and the tree must still be freed. */
shardy_status sy_cel_parse(const char *src, size_t len, sy_cel_ast *ast);
void sy_cel_ast_free(sy_cel_ast *ast);

/* Sets "CEL compile error at L:C: <fmt...>\n | <source line>\n | ....^" for byte offset pos and
 * returns SHARDY_EINVAL. */
shardy_status sy_cel_errf(const char *src, size_t len, size_t pos, const char *fmt, ...) SY_PRINTF(4, 5);

/* ---- static types ------------------------------------------------------------------------------ */

/* Type ids index sy_cel_types.t. Ids 0..SY_CEL_DYN are the plain kinds (id == kind; id 0 = a free
 * element type, e.g. of `[]`); list and map types are interned after them. */
typedef struct sy_cel_type {
    uint8_t kind; /* sy_cel_kind; SY_CEL_UNSET = free */
    uint32_t a, b;
} sy_cel_type;

typedef struct sy_cel_types {
    sy_cel_type *t;
    uint32_t n, cap;
} sy_cel_types;

typedef struct sy_cel_checked {
    sy_cel_types types;
    uint32_t result;
} sy_cel_checked;

/* Resolves identifiers to variables (node->var) and, unless flags has SY_CEL_NO_CHECK, checks types
 * (node->type, chk->result). Errors are compile errors (SHARDY_EINVAL with position). */
shardy_status sy_cel_check(sy_cel_ast *ast, const sy_cel_var *vars, size_t nvars, unsigned flags, sy_cel_checked *chk);
void sy_cel_checked_free(sy_cel_checked *chk);
/* Writes the type's text ("list(int)") into buf. */
void sy_cel_type_text(const sy_cel_types *tt, uint32_t id, char *buf, size_t cap);

/* ---- programs ---------------------------------------------------------------------------------- */

typedef struct sy_cel_insn {
    uint8_t op;    /* sy_cel_op */
    uint8_t kind;  /* OP_VAR: declared kind; OP_MATCHES: 1 when c is a precompiled regex */
    uint16_t pad;
    uint32_t a, b, c; /* operands (instruction indices); OP_LIST/OP_MAP: a = first in kids, b = n;
                         OP_VAR/OP_HASH_VAR: a = variable */
    sy_cel_value k;   /* OP_CONST value; OP_SELECT/OP_HAS field (string); OP_UNBOUND/OP_BADCALL
                         name; OP_MOD_UK/OP_MOD_IK divisor */
} sy_cel_insn;

typedef struct sy_cel_regex sy_cel_regex;

typedef struct sy_cel_pvar {
    char *name;
    sy_cel_kind type, elem, key;
    int used;
} sy_cel_pvar;

struct sy_cel_program {
    sy_cel_insn *code;
    uint32_t ncode, cap;
    uint32_t root;
    uint32_t *kids;
    uint32_t nkids, capkids;
    sy_cel_pvar *vars;
    size_t nvars;
    const sy_cel_regex **regexes;
    size_t nregexes;
    sy_cel_arena arena; /* constants, names, regex programs */
    char *expr;
    sy_cel_kind result_kind;
    char result_type[96];
};

/* Evaluation state passed down the recursion. */
typedef struct sy_cel_ectx {
    const sy_cel_value *args;
    sy_cel_scratch *scratch;
} sy_cel_ectx;

/* Evaluates instruction i. */
void sy_cel_ev(const sy_cel_program *p, uint32_t i, sy_cel_ectx *c, sy_cel_value *out);
/* Sets the thread's message for an error value (SHARDY_EROUTE "<prefix>: <text>", or SHARDY_ENOMEM)
 * and returns the status. */
shardy_status sy_cel_error_status(const sy_cel_value *err, const char *prefix);

/* Deep copy of v into the arena (strings, lists and maps). 0 on success, -1 out of memory. */
int sy_cel_value_copy(sy_cel_arena *a, const sy_cel_value *v, sy_cel_value *out);

/* Error codes of SY_CEL_ERROR values (sy_cel_value.code). */
enum {
    SY_CEL_E_NOMEM = 1,
    SY_CEL_E_DIV_ZERO,
    SY_CEL_E_MOD_ZERO,
    SY_CEL_E_OVERFLOW,
    SY_CEL_E_UOVERFLOW,
    SY_CEL_E_RANGE,       /* arg: static text ("int64 out of uint64 range") */
    SY_CEL_E_NO_OVERLOAD, /* arg: function; aux: kinds of up to 3 operands (8 bits each) + count */
    SY_CEL_E_UNBOUND,     /* arg: variable name */
    SY_CEL_E_BAD_BINDING, /* arg: variable name; aux: declared kind << 8 | actual kind */
    SY_CEL_E_BAD_UTF8_VAR,/* arg: variable name */
    SY_CEL_E_UNKNOWN_FN,  /* arg: function name */
    SY_CEL_E_INDEX,       /* index out of range */
    SY_CEL_E_BAD_INDEX,   /* arg: static text */
    SY_CEL_E_NO_KEY,      /* arg: static text or key name */
    SY_CEL_E_BAD_KEY,     /* unsupported map key type; aux: kind */
    SY_CEL_E_DUP_KEY,
    SY_CEL_E_CONVERT,     /* arg: static text */
    SY_CEL_E_UTF8,        /* invalid UTF-8 in string(bytes) */
    SY_CEL_E_REGEX,       /* arg: static text */
    SY_CEL_E_HASH_RANGE,  /* shard_hash(uint >= 2^63) */
    SY_CEL_E_LIMIT        /* evaluation memory limit */
};

static inline void sy_cel_set_error(sy_cel_value *out, uint32_t code, const char *arg, uint32_t aux) {
    out->kind = SY_CEL_ERROR;
    out->code = code;
    out->v.arg = arg;
    out->len = aux;
}

/* Formats a double like C++ std::to_chars(value, chars_format::general) (see cel.h). Returns the
 * length written to buf (cap >= 32). */
size_t sy_cel_format_double(double d, char *buf, size_t cap);

/* UTF-8 helpers. */
int sy_cel_utf8_valid(const char *s, size_t n);
size_t sy_cel_utf8_count(const char *s, size_t n); /* code points of valid UTF-8 */
/* Decodes one code point from valid UTF-8; returns its length. */
size_t sy_cel_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
size_t sy_cel_utf8_put(uint32_t cp, char *out); /* 1..4 bytes */

/* ---- regular expressions ------------------------------------------------------------------------ */

typedef void *(*sy_cel_allocfn)(void *ctx, size_t n);

/* Compiles an RE2-syntax pattern (valid UTF-8) with memory from alloc(ctx, n). Returns NULL on
 * success (*out set) or a static message ("missing closing )", "unsupported regex feature: \\p").
 * *oom is set when an allocation failed. */
const char *sy_cel_regex_compile(const char *pat, size_t n, sy_cel_allocfn alloc, void *ctx, sy_cel_regex **out,
                                 int *oom);
/* Unanchored search of valid UTF-8 text. Returns 1 (match), 0 (no match), -1 (out of memory). */
int sy_cel_regex_search(const sy_cel_regex *re, const char *s, size_t n, sy_cel_allocfn alloc, void *ctx);

#endif
