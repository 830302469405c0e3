/*
 * cel.h — CEL (Common Expression Language) for CEL-sharded snapshots: compiler, evaluator and the
 * routing layer (spec cel.md; DESIGN §3 "Routing").
 *
 * This is libshardy's own code. No CEL library exists for C, and the project links nothing beyond
 * libc, json-c, sqlite3 and xxhash, so the lexer, parser, type checker, evaluator and the small
 * regular-expression engine behind matches() live here (the files of src/cel). Nothing was copied from
 * cel-cpp or cel-go; behaviour follows the CEL language definition, the cel-spec conformance data
 * and the facts about cel-cpp collected in spec/cel.md.
 *
 * Owns: CEL programs (sy_cel_program), evaluation scratch memory (sy_cel_scratch), routers
 * (sy_cel_router), the inferred-token set (sy_cel_token_set) and the expression builders.
 *
 * ---------------------------------------------------------------------------------------------
 * Using it (writer, direct or categorical mode):
 *
 *     sy_cel_router *r;
 *     SY_TRY(sy_sharding_cel_router(&manifest->sharding, manifest->num_dbs, &r)); // reader (see
 *                                                    // snapshot/cel_sharding.h), or
 *     SY_TRY(sy_cel_router_new(expr, cols, ncols, values, nvalues, categorical, 0, &r)); // writer
 *     sy_cel_value *args = sy_calloc(sy_cel_router_nvars(r), sizeof *args);   // once
 *     int region = sy_cel_router_var_index(r, "region");                      // once per column
 *     for each row:
 *         args[region] = sy_cel_str(ptr, len);                                 // no copy
 *         st = sy_cel_router_route(r, args, &db_id);
 *         // SHARDY_OK: db_id is valid.  SHARDY_ENOTFOUND: categorical token not in routing_values
 *         // (writer: raise ShardAssignmentError with shardy_errmsg(); reader: a miss).
 *         // SHARDY_EROUTE: evaluation error, wrong result kind, or direct id out of [0, num_dbs).
 *
 *   Reader without a routing context: sy_cel_router_route_key(r, &key, &db_id) binds the lookup key
 *   to the variable `key` (DESIGN §3: like writers bind `key` to key_col). Without a `key` column,
 *   or when the expression reads another column, it fails with SHARDY_EROUTE and a message that
 *   asks for a routing_context. Reader with a context: sy_cel_router_route_named()
 *   (typed name→value pairs; names that are not columns are ignored, and the lookup key is *not*
 *   added implicitly). CLI --routing-context k=v: sy_cel_router_bind_text() converts each text by
 *   the column's declared type (Q7), then sy_cel_router_route().
 *   Inferred categorical writers: first pass sy_cel_router_token() + sy_cel_token_set_add() per row,
 *   then sy_cel_token_set_values() → sorted routing values → sy_cel_router_new(..., categorical=1)
 *   and sy_sharding_set_routing_values() for the manifest.
 *   Direct-mode writers (num_dbs 0 = not known yet) collect the db_ids and call
 *   sy_cel_discover_num_dbs() to get num_dbs (non-consecutive ids → SHARDY_EROUTE).
 *
 * Lower level (any expression): sy_cel_compile() → sy_cel_eval(prog, args, scratch, &result).
 *
 * ---------------------------------------------------------------------------------------------
 * Decisions (spec cel.md leaves these to the port, or the port differs from Python on purpose):
 *   - Language: the MUST and SHOULD tiers of cel.md §2 with cel-cpp semantics (checked overloads,
 *     no int/uint/double mixing without dyn(), int64/uint64 overflow and ÷0 as errors, commutative
 *     error absorption in && and ||, heterogeneous runtime equality and ordering, map/list literals,
 *     in, indexing, field selection and has() on maps, size, contains/startsWith/endsWith/matches,
 *     int/uint/double/string/bytes/bool/dyn conversions) plus shard_hash. MAY-tier features
 *     (comprehension macros, type(), type denotations, timestamps/durations, messages, optionals)
 *     fail to compile with "unsupported CEL feature: ...".
 *   - Type checking is always on. SY_CEL_NO_CHECK exists only for the conformance runner
 *     (cel-spec tests marked disable_check); routing never uses it.
 *   - Limits (at least as permissive as cel-cpp, whose parser stops at 100,000 code points and a
 *     recursion depth of 250 by default, 32 in cel-expr-python): expressions of up to 100,000 code
 *     points, syntax trees up to SY_CEL_MAX_DEPTH levels deep. Chains of && / || are balanced like
 *     cel-cpp does, and runs of ! or - collapse by parity (`!!x` is x), as in cel-cpp. Anything
 *     deeper is a clean compile error, never a stack overflow.
 *   - shard_hash(x) = xxh3_64 (seed 0) of the canonical bytes (int: 8-byte little-endian two's
 *     complement; uint < 2^63: same bytes as the int; string: UTF-8; bytes: as is) — the HASH
 *     strategy's digest (shardy_key_digest). shard_hash(u) with u ≥ 2^63 is an evaluation error.
 *   - string(double) prints like C++ std::to_chars(general) — the shortest digits that read back
 *     exactly, fixed notation for decimal exponents -4..5, otherwise d.ddde±XX — because cel.md
 *     §1.9 makes that text part of the routing contract. NaN and infinities print nan/-nan/inf/-inf
 *     (libstdc++); 200,000 random doubles were checked against std::to_chars byte for byte.
 *   - matches() runs on an engine of our own with RE2 syntax and semantics for the subset it
 *     implements (literals, ., classes incl. \d\w\s and [:name:], anchors ^ $ \A \z \b \B,
 *     groups, |, * + ? {n,m} and lazy forms, flags s m U). Other RE2 syntax (\p{..}, (?i), \Q..\E,
 *     \C) is refused: at compile time for a constant pattern, as an evaluation error otherwise.
 *     Matching is linear in the text (Pike VM).
 *   - Variables of type string must hold valid UTF-8; their full length is used (no NUL cut, Q4).
 *     A variable that is unset, null or of another kind than declared evaluates to an error, only
 *     when the expression reads it (lazily, like cel-cpp).
 *   - Evaluation errors are never routing tokens (Q1): routing returns SHARDY_EROUTE.
 *   - Numbers of different kinds compare like cel-cpp at run time: int with uint exactly, int or
 *     uint with double through conversion to double after range checks (so dyn(2^63-1) ==
 *     2^63.0, as the conformance tests require). Map keys match only when numerically identical:
 *     1, 1u and 1.0 are one key (lookups and duplicate detection).
 *   - Static typing joins differing list elements, map entries and ?: branches to dyn (cel.md
 *     §2.4); a branch typed dyn makes the whole conditional dyn.
 *   - Routers check the static result type when they are built: a result that can never be a
 *     routing key (bool, double, null, list, map; string/bytes in direct mode; bytes in categorical
 *     mode, since bytes routing values are refused) fails at config time. dyn results are checked
 *     per row.
 *   - Direct mode: the result (int or uint) is the db_id; negative or ≥ num_dbs → SHARDY_EROUTE.
 *     With num_dbs 0 (writer, before discovery) ids must be below SY_CEL_MAX_DIRECT_DB_ID.
 *   - Categorical mode: int and uint tokens match integer routing values by value; strings match
 *     strings; an unknown token → SHARDY_ENOTFOUND with "Categorical CEL routing token ... is not
 *     present in this snapshot." Routing values must be unique and all integers or all strings.
 *   - The expression builder escapes a separator outside the BMP as \UXXXXXXXX (Python writes a
 *     surrogate pair that does not compile, Q6).
 *   - Writers bind the variable `key` to key_col when no column named `key` exists (DESIGN §3);
 *     that name mapping is the caller's (sy_cel_router_var_index tells which index to fill).
 *   - Compiled form: a flat array of typed instructions in post-order with constant folding;
 *     `shard_hash(column) % Nu` is one fused instruction and a chain of string `+` is one
 *     concatenation. Routing `shard_hash(key) % 16u` runs at ~0.9x the speed of plain HASH routing
 *     (bench/bench_cel.c).
 *
 * Failure behaviour: every function returns a shardy_status and sets shardy_errmsg():
 *   SHARDY_EINVAL  compile errors: "CEL compile error at L:C: <what>", followed by the source line
 *                  and a caret; ill-typed operators name the operand types and a fix, e.g.
 *                  "no matching overload for '%' with (int, uint); write `key % 16` or
 *                  `uint(key) % 16u`". Routers prefix "Failed to compile CEL expression '<expr>': ".
 *                  Also bad arguments, unknown column types ("Unsupported CEL column type: ...").
 *   SHARDY_EROUTE  evaluation errors ("CEL evaluation error: modulus by zero"), rejected results.
 *   SHARDY_ENOTFOUND  categorical token not in routing_values (routers only).
 *   SHARDY_ENOMEM  allocation failure (all memory goes through sy_malloc).
 *
 * Memory and threads: a program or router is immutable after it is built and may be used from any
 * number of threads at once. Evaluation allocates nothing for numeric, bool and hash results;
 * string, bytes, list and map results point into the arguments, into the program's constants or
 * into the caller's sy_cel_scratch (one per thread), and stay valid until the next evaluation with
 * that scratch or its release. Routers use a scratch on their own stack and allocate only for
 * intermediate strings longer than SY_CEL_SCRATCH_INLINE bytes.
 */
#ifndef SY_CEL_CEL_H
#define SY_CEL_CEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SY_CEL_MAX_EXPR_CODEPOINTS 100000
#define SY_CEL_MAX_DEPTH 256
#define SY_CEL_MAX_DIRECT_DB_ID 1000000 /* = SY_MANIFEST_MAX_NUM_DBS */
#define SY_CEL_SCRATCH_INLINE 512
#define SY_CEL_SCRATCH_MAX (64u * 1024 * 1024) /* per evaluation; beyond → evaluation error */

/* ---- values ---------------------------------------------------------------------------------- */

typedef enum sy_cel_kind {
    SY_CEL_UNSET = 0, /* argument not bound (zero-initialised argument arrays are all unset) */
    SY_CEL_NULL,
    SY_CEL_BOOL,
    SY_CEL_INT,
    SY_CEL_UINT,
    SY_CEL_DOUBLE,
    SY_CEL_STRING, /* valid UTF-8, not NUL-terminated */
    SY_CEL_BYTES,
    SY_CEL_LIST,
    SY_CEL_MAP,
    SY_CEL_ERROR, /* evaluation error (results only) */
    SY_CEL_DYN    /* declarations only: any kind */
} sy_cel_kind;

typedef struct sy_cel_value sy_cel_value;
typedef struct sy_cel_list {
    const sy_cel_value *items;
    size_t n;
} sy_cel_list;
typedef struct sy_cel_map {
    const sy_cel_value *keys; /* int, uint, bool or string; unique */
    const sy_cel_value *vals;
    size_t n;
} sy_cel_map;

/* Every union member is 8 bytes and the length lives outside the union, so that building a value
 * (sy_cel_int(...) and friends) initialises every byte with plain stores; a partially initialised
 * 16-byte union made compilers emit overlapping copies that stalled store forwarding. */
struct sy_cel_value {
    sy_cel_kind kind;
    uint32_t code; /* SY_CEL_ERROR: an internal error code (see sy_cel_error_text) */
    union {
        int64_t b; /* BOOL: 0 or 1 */
        int64_t i;
        uint64_t u;
        double d;
        const char *s; /* STRING/BYTES: borrowed data (len bytes) */
        const sy_cel_list *list;
        const sy_cel_map *map;
        const char *arg; /* ERROR: static text or a name owned by the program */
    } v;
    size_t len; /* STRING/BYTES: length; ERROR: extra data; 0 otherwise */
};

static inline sy_cel_value sy_cel_int(int64_t i) {
    sy_cel_value v = {SY_CEL_INT, 0, {.i = i}, 0};
    return v;
}
static inline sy_cel_value sy_cel_uint(uint64_t u) {
    sy_cel_value v = {SY_CEL_UINT, 0, {.u = u}, 0};
    return v;
}
static inline sy_cel_value sy_cel_double(double d) {
    sy_cel_value v = {SY_CEL_DOUBLE, 0, {.d = d}, 0};
    return v;
}
static inline sy_cel_value sy_cel_bool(int b) {
    sy_cel_value v = {SY_CEL_BOOL, 0, {.b = b ? 1 : 0}, 0};
    return v;
}
static inline sy_cel_value sy_cel_str(const char *p, size_t n) {
    sy_cel_value v = {SY_CEL_STRING, 0, {.s = p}, n};
    return v;
}
static inline sy_cel_value sy_cel_bytes(const void *p, size_t n) {
    sy_cel_value v = {SY_CEL_BYTES, 0, {.s = (const char *)p}, n};
    return v;
}
static inline sy_cel_value sy_cel_null(void) {
    sy_cel_value v = {SY_CEL_NULL, 0, {.u = 0}, 0};
    return v;
}

/* "int", "uint", "double", "string", "bytes", "bool", "null_type", "list", "map", "dyn", "error",
 * "unset". Never NULL. */
const char *sy_cel_kind_name(sy_cel_kind k);

/* Text of an error value ("divide by zero", "no value with name 'x' found", ...) into buf
 * (always NUL-terminated when cap > 0). */
void sy_cel_error_text(const sy_cel_value *err, char *buf, size_t cap);

/* Heterogeneous CEL equality (numbers by value across int/uint/double, NaN unequal, lists and maps
 * deep). Errors are unequal to everything. */
int sy_cel_value_equal(const sy_cel_value *a, const sy_cel_value *b);

/* ---- scratch memory for evaluation ------------------------------------------------------------ */

typedef struct sy_cel_block sy_cel_block;
typedef struct sy_cel_scratch {
    unsigned char *cur;  /* bump pointer in the current block */
    size_t left;         /* bytes left in it */
    size_t used;         /* bytes handed out since the last reset */
    int over_limit;      /* the last failed allocation hit SY_CEL_SCRATCH_MAX (not out of memory) */
    sy_cel_block *heap;  /* heap blocks, kept for reuse until release */
    sy_cel_block *next;  /* next heap block to reuse after a reset */
    sy_cel_block *last;  /* heap block in use now (NULL: the local one) */
    union {
        long double align_;
        unsigned char bytes[SY_CEL_SCRATCH_INLINE];
    } local;
} sy_cel_scratch;

void sy_cel_scratch_init(sy_cel_scratch *s);
/* Frees the heap blocks; the scratch can be initialised again. Accepts NULL. */
void sy_cel_scratch_release(sy_cel_scratch *s);

/* ---- compiling and evaluating ------------------------------------------------------------------ */

/* A declared variable. type is one of the six column types (BOOL, INT, UINT, DOUBLE, STRING,
 * BYTES), or DYN / NULL / LIST / MAP (the conformance runner). For LIST, elem is the element kind;
 * for MAP, key and elem are the key and value kinds (SY_CEL_UNSET or SY_CEL_DYN = dyn). */
typedef struct sy_cel_var {
    const char *name;
    sy_cel_kind type;
    sy_cel_kind elem;
    sy_cel_kind key;
} sy_cel_var;

typedef struct sy_cel_program sy_cel_program;

#define SY_CEL_NO_CHECK 1u /* skip type checking (conformance tests with disable_check only) */

/* Parses, type-checks and compiles expr (NUL-terminated) against the declared variables (names
 * are copied). On success *out is a new program (sy_cel_program_free); on failure *out is NULL and
 * the status is SHARDY_EINVAL (message with position and caret) or SHARDY_ENOMEM. */
shardy_status sy_cel_compile(const char *expr, const sy_cel_var *vars, size_t nvars,
                             sy_cel_program **out) SY_NODISCARD;
/* Same for expr[0..len) (may contain NUL characters inside literals), with flags. */
shardy_status sy_cel_compile_ex(const char *expr, size_t len, const sy_cel_var *vars, size_t nvars,
                                unsigned flags, sy_cel_program **out) SY_NODISCARD;
void sy_cel_program_free(sy_cel_program **p);

/* Static result kind from the checker (SY_CEL_DYN when only known at run time). */
sy_cel_kind sy_cel_program_result_kind(const sy_cel_program *p);
/* Static result type as text, e.g. "uint", "list(int)", "dyn". */
const char *sy_cel_program_result_type(const sy_cel_program *p);
size_t sy_cel_program_nvars(const sy_cel_program *p);
/* Index of the variable `name` (as declared), or -1. */
int sy_cel_program_var_index(const sy_cel_program *p, const char *name);
/* 1 when the expression mentions variable i at all. */
int sy_cel_program_uses_var(const sy_cel_program *p, size_t i);
/* The expression text as compiled (NUL-terminated copy). */
const char *sy_cel_program_expr(const sy_cel_program *p);

/* Evaluates with args[i] bound to variable i (args may be NULL when nvars is 0). The scratch is
 * reset first. *result is the value (pointers valid as described above). An evaluation error
 * returns SHARDY_EROUTE ("CEL evaluation error: <text>") and leaves the error value in *result;
 * running out of memory returns SHARDY_ENOMEM. Never allocates for numeric/bool/hash results. */
shardy_status sy_cel_eval(const sy_cel_program *p, const sy_cel_value *args, sy_cel_scratch *scratch,
                          sy_cel_value *result);

/* ---- column types and value conversion -------------------------------------------------------- */

/* Parses a cel_columns type name ("int", "uint", "double", "string", "bytes", "bool"). Anything
 * else → SHARDY_EINVAL "Unsupported CEL column type: '<t>' for column '<column>'. Allowed: [...]". */
shardy_status sy_cel_type_parse(const char *type, const char *column, sy_cel_kind *out) SY_NODISCARD;
/* The cel_columns name of a column kind ("int", ...), NULL for other kinds. */
const char *sy_cel_type_name(sy_cel_kind k);

/* Converts a lookup/row key to a value for a variable of the declared kind, the way the Python
 * binding accepts values: integers for int (≤ INT64_MAX), uint (≥ 0) and double; str for string;
 * bytes for bytes, and bytes holding valid UTF-8 for string. Anything else binds the key as it is,
 * so reading the variable gives an evaluation error ("wrong type"). Never fails except for NULL
 * arguments; strings are borrowed from the key. */
shardy_status sy_cel_value_from_key(const shardy_key *key, sy_cel_kind declared, sy_cel_value *out);

/* Converts command-line text to a value of the declared kind (Q7): int/uint strict decimal
 * (optional sign for int), double (strtod syntax, finite or inf/nan), bool true/false, string
 * as is (must be UTF-8), bytes as the UTF-8 text or "hex:<hex digits>". Errors name the column:
 * "routing context 'tier': '3x' is not a valid int". *owned (may be NULL when kind is not bytes)
 * receives memory the value points into when conversion allocated (free with sy_free), else NULL.
 * Strings point into text. */
shardy_status sy_cel_value_parse_text(sy_cel_kind kind, const char *column, const char *text, size_t len,
                                      sy_cel_value *out, char **owned) SY_NODISCARD;

/* ---- routing ---------------------------------------------------------------------------------- */

typedef enum sy_cel_mode { SY_CEL_DIRECT = 0, SY_CEL_CATEGORICAL = 1 } sy_cel_mode;

typedef struct sy_cel_colspec {
    const char *name;
    const char *type; /* cel_columns type name */
} sy_cel_colspec;

typedef struct sy_cel_router sy_cel_router;

/* Builds a router. cols: the cel_columns (variable i = cols[i]). categorical = 0: direct mode
 * (values must be NULL/0); num_dbs bounds the ids (0 = not known yet: writer before discovery).
 * categorical = 1: values[0..nvalues) are the routing values in manifest order (may be empty;
 * SY_CEL_INT/SY_CEL_UINT or SY_CEL_STRING, unique, never bytes; copied); num_dbs is ignored
 * (max(1, nvalues)). Compiles and checks the expression (SHARDY_EINVAL "Failed to compile CEL
 * expression '<expr>': ..."). For manifests use sy_sharding_cel_router (snapshot/cel_sharding.h). */
shardy_status sy_cel_router_new(const char *expr, const sy_cel_colspec *cols, size_t ncols,
                                const sy_cel_value *values, size_t nvalues, int categorical, int64_t num_dbs,
                                sy_cel_router **out) SY_NODISCARD;
void sy_cel_router_free(sy_cel_router **r);

sy_cel_mode sy_cel_router_mode(const sy_cel_router *r);
/* Number of shards the router targets: max(1, nvalues) in categorical mode, the num_dbs given in
 * direct mode (0 = not known). */
uint32_t sy_cel_router_num_dbs(const sy_cel_router *r);
size_t sy_cel_router_nvars(const sy_cel_router *r);
int sy_cel_router_var_index(const sy_cel_router *r, const char *name);
sy_cel_kind sy_cel_router_var_kind(const sy_cel_router *r, size_t i);
const char *sy_cel_router_var_name(const sy_cel_router *r, size_t i);
/* 1 when cel_columns is exactly {"key"} (Python's key-only mode: every lookup works without a
 * routing context). */
int sy_cel_router_key_only(const sy_cel_router *r);
const sy_cel_program *sy_cel_router_program(const sy_cel_router *r);

/* Routes one row: args[i] is variable i (sy_cel_router_nvars entries). See the top comment for the
 * statuses. Thread-safe. */
shardy_status sy_cel_router_route(const sy_cel_router *r, const sy_cel_value *args, uint32_t *db_id);
/* Routes a lookup key without a context: binds it to the column `key` (sy_cel_value_from_key); the
 * other columns are unbound (SHARDY_EROUTE mentioning routing_context if the expression reads one,
 * or if there is no `key` column). */
shardy_status sy_cel_router_route_key(const sy_cel_router *r, const shardy_key *key, uint32_t *db_id);

typedef struct sy_cel_binding {
    const char *name;
    sy_cel_value value;
} sy_cel_binding;
/* Routes with a routing context (name → typed value). Names that are not columns are ignored;
 * columns missing from the context are unbound (an error if the expression reads them). */
shardy_status sy_cel_router_route_named(const sy_cel_router *r, const sy_cel_binding *ctx, size_t n,
                                        uint32_t *db_id);
/* Converts text for column `name` by its declared type into args[index] (sy_cel_value_parse_text).
 * SHARDY_ENOTFOUND when name is not a column (message lists the columns). *owned as above. */
shardy_status sy_cel_router_bind_text(const sy_cel_router *r, const char *name, const char *text, sy_cel_value *args,
                                      char **owned) SY_NODISCARD;

/* Evaluates the expression and returns the routing token (int, uint or string; bytes is refused,
 * other kinds are SHARDY_EROUTE) without resolving it. For the inferred-values pass of writers.
 * The token may point into args or scratch. */
shardy_status sy_cel_router_token(const sy_cel_router *r, const sy_cel_value *args, sy_cel_scratch *scratch,
                                  sy_cel_value *token);

/* ---- inferred routing values -------------------------------------------------------------------- */

typedef struct sy_cel_token_set sy_cel_token_set;
shardy_status sy_cel_token_set_new(sy_cel_token_set **out) SY_NODISCARD;
/* Adds a token (copied). Mixing integers and strings → SHARDY_EINVAL "...must all share the same
 * type...". */
shardy_status sy_cel_token_set_add(sy_cel_token_set *s, const sy_cel_value *token) SY_NODISCARD;
size_t sy_cel_token_set_count(const sy_cel_token_set *s);
/* The distinct tokens sorted like Python sorted() (integers numerically across int64 ∪ uint64,
 * strings by code point = UTF-8 byte order). Integers ≤ INT64_MAX are SY_CEL_INT, larger ones
 * SY_CEL_UINT. *values (and the strings) stay valid until the next add or the set's free. */
shardy_status sy_cel_token_set_values(sy_cel_token_set *s, const sy_cel_value **values, size_t *n) SY_NODISCARD;
void sy_cel_token_set_free(sy_cel_token_set **s);

/* num_dbs from the distinct db_ids a direct-mode writer produced (duplicates allowed): {} → 1,
 * {0..max} → max + 1; anything else → SHARDY_EROUTE "... non-consecutive ...". */
shardy_status sy_cel_discover_num_dbs(const uint32_t *ids, size_t n, uint32_t *num_dbs) SY_NODISCARD;

/* ---- expression builders (cel.md §1.9) ----------------------------------------------------------- */

/* cel_sharding_by_columns: the exact expression text for cols (at least one; types as in
 * cel_columns), joined with separator (NULL → ":"), wrapped as shard_hash(...) % Nu when
 * num_shards is not NULL (then *num_shards >= 1 and the mode is direct), otherwise inferred
 * categorical (*infer = 1). *expr is freed with sy_free. */
shardy_status sy_cel_build_expr(const sy_cel_colspec *cols, size_t ncols, const int64_t *num_shards,
                                const char *separator, char **expr, int *infer) SY_NODISCARD;

#endif
