/*
 * test_cel.c — unit tests for src/cel: lexer, parser, checker, evaluator, error messages, the
 * routing vectors of spec cel.md §4, allocation-free evaluation, HASH-compatibility of
 * shard_hash, routers (direct, categorical, inferred, key-only, contexts, CLI text), expression
 * builders, the manifest glue, threads and allocation-failure handling.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "cel/cel.h"
#include "cel/internal.h"
#include "check.h"
#include "core/alloc.h"
#include "route/key.h"
#include "snapshot/cel_sharding.h"

/* ---- helpers ------------------------------------------------------------------------------------------ */

/* The default environment of the unit tests. */
static sy_cel_var env[] = {{"key", SY_CEL_INT, 0, 0},    {"ukey", SY_CEL_UINT, 0, 0}, {"region", SY_CEL_STRING, 0, 0},
                           {"tier", SY_CEL_INT, 0, 0},   {"flag", SY_CEL_BOOL, 0, 0}, {"score", SY_CEL_DOUBLE, 0, 0},
                           {"raw", SY_CEL_BYTES, 0, 0}, {"any", SY_CEL_DYN, 0, 0}};
#define NENV (sizeof env / sizeof env[0])
static sy_cel_value args[NENV];

static sy_cel_program *prog;
static sy_cel_scratch scratch;
static sy_cel_value result;

static void reset_args(void) {
    args[0] = sy_cel_int(42);
    args[1] = sy_cel_uint(99);
    args[2] = sy_cel_str("us-west", 7);
    args[3] = sy_cel_int(3);
    args[4] = sy_cel_bool(1);
    args[5] = sy_cel_double(1.5);
    args[6] = sy_cel_bytes("\x00\xff", 2);
    args[7] = sy_cel_int(7);
}

/* Compiles (status of compilation on failure) then evaluates expr in the default environment. */
static shardy_status run(const char *expr) {
    sy_cel_program_free(&prog);
    memset(&result, 0, sizeof result);
    shardy_status st = sy_cel_compile(expr, env, NENV, &prog);
    if (st) return st;
    return sy_cel_eval(prog, args, &scratch, &result);
}

static void fail_here(const char *file, int line, const char *expr, const char *what) {
    check_failures++;
    fprintf(stderr, "%s:%d: %.120s: %s (errmsg: %s)\n", file, line, expr, what, shardy_errmsg());
}

static void expect_int(const char *file, int line, const char *expr, int64_t v) {
    check_count++;
    if (run(expr) || result.kind != SY_CEL_INT || result.v.i != v) {
        char m[128];
        snprintf(m, sizeof m, "expected int %lld, got kind %s value %lld", (long long)v, sy_cel_kind_name(result.kind),
                 (long long)result.v.i);
        fail_here(file, line, expr, m);
    }
}
static void expect_uint(const char *file, int line, const char *expr, uint64_t v) {
    check_count++;
    if (run(expr) || result.kind != SY_CEL_UINT || result.v.u != v) {
        char m[128];
        snprintf(m, sizeof m, "expected uint %llu, got kind %s value %llu", (unsigned long long)v,
                 sy_cel_kind_name(result.kind), (unsigned long long)result.v.u);
        fail_here(file, line, expr, m);
    }
}
static void expect_bool(const char *file, int line, const char *expr, int v) {
    check_count++;
    if (run(expr) || result.kind != SY_CEL_BOOL || result.v.b != v) {
        char m[128];
        snprintf(m, sizeof m, "expected bool %d, got kind %s", v, sy_cel_kind_name(result.kind));
        fail_here(file, line, expr, m);
    }
}
static void expect_double(const char *file, int line, const char *expr, double v) {
    check_count++;
    if (run(expr) || result.kind != SY_CEL_DOUBLE || !(result.v.d == v || (isnan(v) && isnan(result.v.d))) ||
        (!isnan(v) && signbit(result.v.d) != signbit(v))) {
        char m[128];
        snprintf(m, sizeof m, "expected double %.17g, got kind %s value %.17g", v, sy_cel_kind_name(result.kind),
                 result.v.d);
        fail_here(file, line, expr, m);
    }
}
static void expect_str(const char *file, int line, const char *expr, sy_cel_kind kind, const char *v, size_t n) {
    check_count++;
    if (run(expr) || result.kind != kind || result.len != n || memcmp(result.v.s, v, n)) {
        char m[256];
        int is_s = result.kind == SY_CEL_STRING || result.kind == SY_CEL_BYTES;
        snprintf(m, sizeof m, "expected %s '%.*s', got kind %s '%.*s'", sy_cel_kind_name(kind), (int)n, v,
                 sy_cel_kind_name(result.kind), is_s ? (int)result.len : 0, is_s ? result.v.s : "");
        fail_here(file, line, expr, m);
    }
}
/* want: SHARDY_EINVAL (compile) or SHARDY_EROUTE (evaluation); the message must contain sub. */
static void expect_err(const char *file, int line, const char *expr, shardy_status want, const char *sub) {
    check_count++;
    shardy_status st = run(expr);
    if (st != want || !strstr(shardy_errmsg(), sub)) {
        char m[200];
        snprintf(m, sizeof m, "expected status %d with \"%s\", got %d", (int)want, sub, (int)st);
        fail_here(file, line, expr, m);
    }
}

#define INT(e, v) expect_int(__FILE__, __LINE__, e, v)
#define UINT(e, v) expect_uint(__FILE__, __LINE__, e, v)
#define BOOL(e, v) expect_bool(__FILE__, __LINE__, e, v)
#define DBL(e, v) expect_double(__FILE__, __LINE__, e, v)
#define STR(e, v) expect_str(__FILE__, __LINE__, e, SY_CEL_STRING, v, sizeof(v) - 1)
#define BYTES(e, v) expect_str(__FILE__, __LINE__, e, SY_CEL_BYTES, v, sizeof(v) - 1)
#define CERR(e, sub) expect_err(__FILE__, __LINE__, e, SHARDY_EINVAL, sub)
#define EERR(e, sub) expect_err(__FILE__, __LINE__, e, SHARDY_EROUTE, sub)

/* ---- lexer ---------------------------------------------------------------------------------------------- */

static void test_literals(void) {
    INT("0", 0);
    INT("42", 42);
    INT("007", 7);
    INT("0x1F", 31);
    INT("-0x55555555", -1431655765);
    INT("-9223372036854775808", INT64_MIN);
    INT("9223372036854775807", INT64_MAX);
    UINT("16u", 16);
    UINT("16U", 16);
    UINT("0xFFu", 255);
    UINT("18446744073709551615u", UINT64_MAX);
    DBL("1.5", 1.5);
    DBL(".5", 0.5);
    DBL("1e3", 1000.0);
    DBL("1E+3", 1000.0);
    DBL("2.5e-3", 0.0025);
    DBL("-2.3e+1", -23.0);
    DBL("0e+0", 0.0);
    DBL("1e-324", 0.0);
    STR("\"a'b\"", "a'b");
    STR("'a\\\"b'", "a\"b");
    STR("'\\a\\b\\f\\n\\r\\t\\v\\\\\\?\\`\\''", "\a\b\f\n\r\t\v\\?`'");
    STR("'\\x41\\X42'", "AB");
    STR("'\\xff'", "\xc3\xbf"); /* a code point in strings */
    STR("'\\377'", "\xc3\xbf");
    STR("'\\101\\000z'", "A\0z");
    STR("'\\u00e9\\U0001F600'", "\xc3\xa9\xf0\x9f\x98\x80");
    STR("r'\\n\\x'", "\\n\\x");
    STR("R\"\\\"", "\\");
    STR("'''a\nb'c'''", "a\nb'c");
    STR("\"\"\"x\"y\"\"\"", "x\"y");
    STR("r'''\\n'''", "\\n");
    STR("'\xc3\xa9'", "\xc3\xa9");
    BYTES("b'\\xff\\000'", "\xff\0");
    BYTES("B'\\377'", "\xff");
    BYTES("b'\xc3\xbf'", "\xc3\xbf");
    BYTES("br'\\x'", "\\x");
    BYTES("b'''a\nb'''", "a\nb");
    BOOL("true", 1);
    BOOL("false", 0);
    check_count++;
    if (run("null") || result.kind != SY_CEL_NULL) fail_here(__FILE__, __LINE__, "null", "expected null");
    /* comments and every kind of white space */
    INT("1 +\t2\r\n+\f3 // comment\n", 6);
    /* invalid literals */
    CERR("9223372036854775808", "invalid int literal");
    CERR("18446744073709551616u", "invalid uint literal");
    CERR("--9223372036854775808", "invalid int literal");
    CERR("'a' 'b'", "expected end of expression"); /* no implicit concatenation */
    CERR("0X1F", "syntax error");
    CERR("1.", "syntax error");
    CERR("'\\q'", "invalid escape sequence");
    CERR("'\\400'", "invalid escape sequence");
    CERR("'\\x4'", "\\x needs two hex digits");
    CERR("'\\uD800'", "invalid unicode code point");
    CERR("'\\U00110000'", "invalid unicode code point");
    CERR("b'\\u0041'", "not allowed in bytes");
    CERR("'abc", "unterminated string");
    CERR("'a\nb'", "unterminated string");
    CERR("'''abc''", "unterminated string");
    CERR("rb'x'", "syntax error");
    CERR("1 = 1", "unexpected character '='");
    CERR("a & b", "unexpected character '&'");
    CERR("#", "unexpected character '#'");
    CERR("", "empty");
    CERR("   // only a comment", "empty");
}

/* ---- parser --------------------------------------------------------------------------------------------- */

static char *repeat(const char *unit, size_t n, const char *prefix, const char *suffix) {
    size_t ul = strlen(unit), pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + ul * n + sl + 1);
    memcpy(s, prefix, pl);
    for (size_t i = 0; i < n; i++) memcpy(s + pl + i * ul, unit, ul);
    memcpy(s + pl + ul * n, suffix, sl + 1);
    return s;
}

static void test_parser(void) {
    INT("1 + 2 * 3", 7);
    INT("(1 + 2) * 3", 9);
    INT("10 - 4 - 3", 3);
    INT("100 / 10 / 5", 2);
    INT("-2 * 3", -6);
    INT("- 2 * 3", -6);
    INT("3 - -2", 5);
    INT("--19", 19);
    INT("---19", -19);
    INT("-(-(19))", 19);
    BOOL("!!true", 1);
    BOOL("!false || false", 1);
    BOOL("!(true && false)", 1);
    BOOL("1 < 2 == true", 1);          /* relations are one left-associative level */
    BOOL("true || false && false", 1); /* && binds tighter than || */
    INT("true ? 1 : false ? 2 : 3", 1);
    INT("false ? 1 : false ? 2 : 3", 3); /* right-associative */
    INT("key < 10 ? 0 : key < 50 ? 1 : 2", 1);
    INT("[1, 2, 3,][2]", 3);
    INT("size([,])", 0);
    INT("size({'a': 1,})", 1);
    INT("{'if': 1}.if", 1); /* reserved words are fine as field names */
    INT("{'a-b': 5}.`a-b`", 5);
    INT(".key", 42);
    INT("((((((((((key))))))))))", 42);
    CERR("if", "reserved identifier: if");
    CERR("package + 1", "reserved identifier: package");
    CERR("1 +", "unexpected end of expression");
    CERR("(1", "expected ')'");
    CERR("[1 2]", "expected ',' or ']'");
    CERR("{1: 2 3}", "expected ',' or '}'");
    CERR("{1}", "expected ':'");
    CERR("key.", "a field or method name");
    CERR("key.in", "a field or method name");
    CERR("1 2", "expected end of expression");
    CERR("!-key", "a number after '-'");
    CERR("`a`", "only allowed after '.'");
    CERR("has(key)", "invalid argument to has() macro");
    CERR("[1].exists(x, x > 0)", "unsupported CEL feature: comprehension macro 'exists'");
    CERR("[1].map(x, x)", "comprehension macro 'map'");
    CERR("Foo{a: 1}", "message construction");
    CERR("a.b.Foo{}", "message construction");
    CERR("m.?x", "optional field selection");
    CERR("[?1]", "optional list elements");
    CERR("type(1)", "unsupported CEL feature: function 'type'");
    CERR("timestamp('2020-01-01T00:00:00Z')", "unsupported CEL feature");
    CERR("int", "type denotation 'int'");

    /* limits: deep nesting fails cleanly, long flat chains work */
    char *s = repeat("(", 200, "", "1");
    char *ok = repeat(")", 200, s, "");
    INT(ok, 1);
    free(s);
    free(ok);
    s = repeat("(", 90000, "", "1");
    CERR(s, "nested too deeply");
    free(s);
    s = repeat("[", 5000, "", "");
    CERR(s, "nested too deeply");
    free(s);
    s = repeat("-(", 30000, "", "1");
    CERR(s, "nested too deeply");
    free(s);
    s = repeat("a(", 30000, "", "");
    CERR(s, "nested too deeply");
    free(s);
    s = repeat(" || false", 10000, "false", " || true");
    BOOL(s, 1);
    free(s);
    s = repeat(" && true", 10000, "true", "");
    BOOL(s, 1);
    free(s);
    s = repeat("!", 50001, "", "true");
    BOOL(s, 0);
    free(s);
    s = repeat(" + 1", 200, "0", "");
    INT(s, 200);
    free(s);
    s = repeat(" + 1", 1000, "0", "");
    CERR(s, "nested too deeply");
    free(s);
    s = repeat(".a", 300, "{'a': 1}", "");
    CERR(s, "nested too deeply");
    free(s);
    s = repeat("1,", 40000, "size([", "1])");
    INT(s, 40001);
    free(s);
    s = repeat(" ", 100001, "1", "");
    CERR(s, "longer than 100000 code points");
    free(s);
    s = repeat("\xc3\xa9", 99990, "size('", "')");
    INT(s, 99990);
    free(s);
    sy_cel_program *p = NULL;
    CHECK_ST(sy_cel_compile_ex("'a\xff'", 4, NULL, 0, 0, &p), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("not valid UTF-8");
    CHECK_OK(sy_cel_compile_ex("b'\0' == raw", 11, env, NENV, 0, &p));
    CHECK_OK(sy_cel_eval(p, args, &scratch, &result));
    CHECK(result.kind == SY_CEL_BOOL && !result.v.b);
    sy_cel_program_free(&p);
    CHECK_ST(sy_cel_compile(NULL, NULL, 0, &p), SHARDY_EINVAL);
}

/* ---- checker and messages -------------------------------------------------------------------------------- */

static void test_checker(void) {
    check_count++;
    if (run("key % 16u") != SHARDY_EINVAL ||
        strcmp(shardy_errmsg(), "CEL compile error at 1:5: no matching overload for '%' with (int, uint); write "
                                "`key % 16` or `uint(key) % 16u`\n | key % 16u\n | ....^"))
        fail_here(__FILE__, __LINE__, "key % 16u", "exact message");
    CERR("shard_hash(key) % 4", "no matching overload for '%' with (uint, int); write `shard_hash(key) % 4u`");
    CERR("key + 1u", "write `key + 1` or `uint(key) + 1u`");
    CERR("key < 10u", "no matching overload for '<' with (int, uint)");
    CERR("1 == 1u", "no matching overload for '==' with (int, uint)");
    CERR("ukey == key", "write `ukey == uint(key)` or `int(ukey) == key`");
    CERR("key == 1.0", "write `double(key) == 1.0`");
    CERR("score > key", "write `score > double(key)`");
    CERR("'a' + 1", "write `'a' + string(1)`");
    CERR("tier + region", "write `string(tier) + region`");
    CERR("key > 0 ? 0 : 1u", "both branches must have the same type");
    CERR("key ? 1 : 2", "the condition must be a bool");
    CERR("shard_hash(flag)", "no matching overload for 'shard_hash' with (bool)");
    CERR("shard_hash(1.5)", "no matching overload for 'shard_hash' with (double)");
    CERR("shard_hash([1])", "no matching overload for 'shard_hash' with (list(int))");
    CERR("int(flag)", "no matching overload for 'int' with (bool)");
    CERR("-(1u)", "no matching overload for '-' with (uint)");
    CERR("-1u", "no matching overload for '-' with (uint)");
    CERR("1.5 % 2.0", "no matching overload for '%' with (double, double)");
    CERR("key && true", "no matching overload for '&&' with (int, bool)");
    CERR("!key", "no matching overload for '!' with (int)");
    CERR("region.contains(1)", "no matching overload for method 'contains' of string with (int)");
    CERR("key.startsWith('a')", "no matching overload for method 'startsWith' of int");
    CERR("contains('a', 'b')", "no matching overload for 'contains'");
    CERR("region.int()", "no matching overload for method 'int'");
    CERR("region[0]", "no matching overload for '[]' with (string, int)");
    CERR("[1, 2]['a']", "no matching overload for '[]'");
    CERR("{'a': 1}[1]", "no matching overload for '[]'");
    CERR("key.f", "type 'int' does not support field selection");
    CERR("{1: 2}.f", "type 'map(int, int)' does not support field selection");
    CERR("'a' in [1, 2]", "no matching overload for 'in' with (string, list(int))");
    CERR("[1] < [2]", "no matching overload for '<' with (list(int), list(int))");
    CERR("null < null", "no matching overload for '<'");
    CERR("[1] + ['a']", "no matching overload for '+' with (list(int), list(string))");
    CERR("nope", "undeclared reference to 'nope' (declared variables: key, ukey, region");
    CERR("nope(1)", "undeclared reference to 'nope'");
    CERR("key.nope()", "undeclared reference to method 'nope'");
    CERR("1 < 2 < 3", "no matching overload for '<' with (bool, int)");
    CERR("x == null", "undeclared reference to 'x'");
    CERR("key == null", "no matching overload for '==' with (int, null_type)");
    CERR("size(key)", "no matching overload for 'size' with (int)");
    /* positions: line and column in code points */
    CERR("'\xc3\xa9' +\n  key", "CEL compile error at 1:5: no matching overload for '+' with (string, int)");
    CERR("1 +\n  nope", "CEL compile error at 2:3: undeclared reference to 'nope'");
    /* what type-checks */
    static const struct {
        const char *expr;
        const char *type;
    } types[] = {{"key % 16", "int"},
                 {"uint(key) % 16u", "uint"},
                 {"shard_hash(region) % 10u", "uint"},
                 {"dyn(key)", "dyn"},
                 {"dyn(key) + 1", "int"},
                 {"dyn(key) + dyn(1)", "dyn"},
                 {"dyn(1) == 1u", "bool"},
                 {"[1, 'a']", "list(dyn)"},
                 {"[1, 2]", "list(int)"},
                 {"[]", "list(dyn)"},
                 {"[] + [1]", "list(int)"},
                 {"[[1], ['a']]", "list(list(dyn))"},
                 {"{'a': 1}", "map(string, int)"},
                 {"{'a': 1, 2: 'b'}", "map(dyn, dyn)"},
                 {"{'a': 1}['a']", "int"},
                 {"{'a': [1]}.a", "list(int)"},
                 {"has({'a': 1}.a)", "bool"},
                 {"key > 3 ? 'a' : 'b'", "string"},
                 {"key > 3 ? dyn(1) : 2", "dyn"},
                 {"key > 3 ? null : null", "null_type"},
                 {"any", "dyn"},
                 {"any + 1", "int"},
                 {"any.x", "dyn"},
                 {"any[0]", "dyn"},
                 {"1 in any", "bool"},
                 {"size(raw)", "int"},
                 {"region.size()", "int"},
                 {"raw + b'x'", "bytes"},
                 {"string(score)", "string"},
                 {"!!key", "int"}}; /* like cel-cpp, an even run of ! disappears */
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        sy_cel_program_free(&prog);
        check_count++;
        if (sy_cel_compile(types[i].expr, env, NENV, &prog) || strcmp(sy_cel_program_result_type(prog), types[i].type)) {
            fprintf(stderr, "%s:%d: type of %s: got %s, expected %s (%s)\n", __FILE__, __LINE__, types[i].expr,
                    prog ? sy_cel_program_result_type(prog) : "-", types[i].type, shardy_errmsg());
            check_failures++;
        }
    }
    sy_cel_program_free(&prog);
    /* declarations */
    sy_cel_var dup[] = {{"a", SY_CEL_INT, 0, 0}, {"a", SY_CEL_INT, 0, 0}};
    sy_cel_var bad[] = {{"a", SY_CEL_ERROR, 0, 0}};
    sy_cel_var noname[] = {{"", SY_CEL_INT, 0, 0}};
    CHECK_ST(sy_cel_compile("a", dup, 2, &prog), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("declared twice");
    CHECK_ST(sy_cel_compile("a", bad, 1, &prog), SHARDY_EINVAL);
    CHECK_ST(sy_cel_compile("a", noname, 1, &prog), SHARDY_EINVAL);
    CHECK(prog == NULL);
    /* accessors */
    sy_cel_program_free(&prog);
    CHECK_OK(sy_cel_compile("key + tier", env, NENV, &prog));
    CHECK_EQ_INT(sy_cel_program_nvars(prog), NENV);
    CHECK_EQ_INT(sy_cel_program_var_index(prog, "tier"), 3);
    CHECK_EQ_INT(sy_cel_program_var_index(prog, "nope"), -1);
    CHECK(sy_cel_program_uses_var(prog, 0) && sy_cel_program_uses_var(prog, 3) && !sy_cel_program_uses_var(prog, 2));
    CHECK_STR(sy_cel_program_expr(prog), "key + tier");
    CHECK_EQ_INT(sy_cel_program_result_kind(prog), SY_CEL_INT);
    sy_cel_program_free(&prog);
    sy_cel_program_free(&prog); /* NULL is fine */
}

/* ---- evaluator ------------------------------------------------------------------------------------------- */

static void test_integers(void) {
    INT("47 % 5", 2);
    INT("43 % -5", 3);
    INT("-42 % -5", -2);
    INT("-3 % 5", -3);
    INT("-7 / 2", -3);
    INT("key % 4", 2);
    INT("key % -5", 2);
    UINT("ukey % 7u", 1);
    UINT("ukey / 2u", 49);
    EERR("9223372036854775807 + 1", "integer overflow");
    EERR("-9223372036854775808 - 1", "integer overflow");
    EERR("-(-9223372036854775808)", "integer overflow");
    EERR("5000000000 * 5000000000", "integer overflow");
    EERR("-9223372036854775808 / -1", "integer overflow");
    EERR("-9223372036854775808 % -1", "integer overflow");
    EERR("18446744073709551615u + 1u", "unsigned integer overflow");
    EERR("0u - 1u", "unsigned integer overflow");
    EERR("5000000000u * 5000000000u", "unsigned integer overflow");
    EERR("1 / 0", "divide by zero");
    EERR("1 % 0", "modulus by zero");
    EERR("1u / 0u", "divide by zero");
    EERR("key % 0", "modulus by zero");
    EERR("ukey % 0u", "modulus by zero");
    EERR("uint(-1)", "int64 out of uint64 range");
    EERR("int(18446744073709551615u)", "uint64 out of int64 range");
    INT("int(9223372036854775807u)", INT64_MAX);
    UINT("uint(9223372036854775807)", 9223372036854775807ULL);
    INT("int(-3.5)", -3);
    INT("int(1.9)", 1);
    INT("int(9223372036854774784.0)", 9223372036854774784LL);
    EERR("int(9223372036854775807.0)", "double out of int64 range");
    EERR("int(-9223372036854775808.0)", "double out of int64 range");
    EERR("int(1e99)", "double out of int64 range");
    EERR("int(0.0/0.0)", "double out of int64 range");
    UINT("uint(25.5)", 25);
    EERR("uint(-0.5)", "double out of uint64 range");
    EERR("uint(18446744073709551616.0)", "double out of uint64 range");
    INT("int(' 42 ')", 42);
    INT("int('+5')", 5);
    INT("int('-9223372036854775808')", INT64_MIN);
    EERR("int('9223372036854775808')", "out of int64 range");
    EERR("int('0x10')", "not a base-10 int");
    EERR("int('')", "not a base-10 int");
    EERR("int('1.0')", "not a base-10 int");
    UINT("uint('18446744073709551615')", UINT64_MAX);
    EERR("uint('-1')", "not a base-10 uint");
    EERR("uint('18446744073709551616')", "out of uint64 range");
    DBL("double(key)", 42.0);
    DBL("double(18446744073709551615u)", 18446744073709551616.0);
    DBL("double(' -1.5e3 ')", -1500.0);
    DBL("double('.5')", 0.5);
    DBL("double('5.')", 5.0);
    DBL("double('inf')", INFINITY);
    DBL("double('-Infinity')", -INFINITY);
    DBL("double('nan')", NAN);
    DBL("double('1e999')", INFINITY);
    EERR("double('0x10')", "not a double");
    EERR("double('1e')", "not a double");
    EERR("double('+-1')", "not a double");
    DBL("-(0.0)", -0.0);
    DBL("1.0 / 0.0", INFINITY);
    DBL("score * 2.0", 3.0);
}

static const struct {
    uint64_t bits;
    const char *text;
} doubles[] = {
    /* computed with libstdc++ 12 std::to_chars(d, std::chars_format::general) on this machine */
    {0x3ff8000000000000ULL, "1.5"},
    {0x3fb999999999999aULL, "0.1"},
    {0x405edd2f1a9fbe77ULL, "123.456"},
    {0xbf726e978d4fdf3bULL, "-0.0045"},
    {0x3ff0000000000000ULL, "1"},
    {0x4008000000000000ULL, "3"},
    {0x40f86a0000000000ULL, "100000"},
    {0x40fe240000000000ULL, "123456"},
    {0x4132d68700000000ULL, "1.234567e+06"},
    {0x412e848000000000ULL, "1e+06"},
    {0x4341c37937e08000ULL, "1e+16"},
    {0x444b1ae4d6e2ef50ULL, "1e+21"},
    {0x3f1a36e2eb1c432dULL, "0.0001"},
    {0x3ee4f8b588e368f1ULL, "1e-05"},
    {0x3e90c6f7a0b5ed8dULL, "2.5e-07"},
    {0x8000000000000000ULL, "-0"},
    {0x4340000000000000ULL, "9.007199254740992e+15"},
    {0x3fd5555555555555ULL, "0.3333333333333333"},
    {0x0000000000000001ULL, "5e-324"},
    {0x7fefffffffffffffULL, "1.7976931348623157e+308"},
    {0x0010000000000000ULL, "2.2250738585072014e-308"},
    {0x3eb0000000000000ULL, "9.5367431640625e-07"},
    {0x44b52d02c7e14af6ULL, "1e+23"},
    {0x447c7e83209e90b2ULL, "8.41e+21"},
    {0x3f06ce789e774eecULL, "4.35e-05"},
    {0x412e847e00000000ULL, "999999"},
    {0x412e847f00000000ULL, "999999.5"},
    {0x3f50624dd2f1a9fcULL, "0.001"},
    {0x3f1a36e2eb1c432dULL, "0.0001"},
    {0x40fe240b33333333ULL, "123456.7"},
    {0x6ba0cdcf77cff1c1ULL, "2.762220146741135e+210"},
    {0x408335872b020c4aULL, "614.691"},
    {0x449f40c2f26d4350ULL, "3.6897e+22"},
    {0x4f1b5650667ad2b7ULL, "1.2075147130738496e+73"},
    {0x40802a10624dd2f2ULL, "517.258"},
    {0x3f4eb2de0e3db065ULL, "0.00093685"},
    {0xc571a5e99e802a26ULL, "-3.4136382265066175e+26"},
    {0x4091ac22d0e56042ULL, "1131.034"},
    {0x42d3f1a073f50000ULL, "8.7714e+13"},
    {0x289b080135f0b884ULL, "4.390642379236973e-113"},
    {0x4082153f7ced9168ULL, "578.656"},
    {0x44482be5bd199b0cULL, "8.9177e+20"},
    {0x738ffdd4f9f05ee3ULL, "4.4736444473794543e+248"},
    {0x40827a2d0e560419ULL, "591.272"},
    {0x4274f40ba5f00000ULL, "1.4399e+12"},
    {0xf16579889654ca39ULL, "-1.747972155369815e+238"},
    {0x408e115a1cac0831ULL, "962.169"},
    {0x44e3b99a9649c563ULL, "7.4519e+23"},
    {0x46a9fca55d0f4ca5ULL, "2.6353845728692873e+32"},
    {0x408645147ae147aeULL, "712.635"},
    {0x411755c000000000ULL, "382320"},
    {0x09c8a4cd6a26391eULL, "1.5652392738592812e-261"},
    {0x409daec083126e98ULL, "1899.688"},
    {0x3f0ea6e7be734b5aULL, "5.8464e-05"},
    {0xaf57bc0b4f46208fULL, "-1.2510714929733345e-80"},
    {0x4090b728f5c28f5cULL, "1069.79"},
    {0x44731d4ed7d85abcULL, "5.6416e+21"},
    {0xfdf1a6e94bb87781ULL, "-4.617740979718135e+298"},
    {0x409d8b1eb851eb85ULL, "1890.78"},
    {0x3d972ed7f5720288ULL, "5.2711999999999996e-12"},
    {0x683d15c798edaba3ULL, "1.3269893605219265e+194"},
    {0x4096844189374bc7ULL, "1441.064"},
    {0x4159f93800000000ULL, "6.8088e+06"},
    {0xd539661164038c0bULL, "-3.5554131993999397e+102"},
    {0x4084e5f9db22d0e5ULL, "668.747"},
    {0x42596a251ec00000ULL, "4.3662e+11"},
    {0xb92a9ff294122a82ULL, "-2.5638745172000046e-33"},
    {0x409ece989374bc6aULL, "1971.649"},
    {0x403e10624dd2f1aaULL, "30.064"},
    {0x95f921176c19a509ULL, "-8.014984631406055e-203"},
    {0x40704020c49ba5e3ULL, "260.008"},
    {0x3e93ecdffd573469ULL, "2.9691e-07"},
    {0x1002808ac34c62d1ULL, "1.4896861303370292e-231"},
    {0x408aa23f7ced9168ULL, "852.281"},
    {0x3e19555c00ac5e51ULL, "1.4746e-09"},
    {0xbbefd56a7c02cf1aULL, "-5.39283110512443e-20"},
    {0x4099c9ced916872bULL, "1650.452"},
    {0x4368d835cb7eb200ULL, "5.5945e+16"},
    {0xea7bcc08d42ce180ULL, "-8.715155647265972e+204"},
    {0x408c6547ae147ae1ULL, "908.66"},
    {0xfffe044f5d6a9782ULL, "-nan"},
    {0x7ff3702a7e543de5ULL, "nan"},
    {0x7ff0000000000000ULL, "inf"},
    {0xfff0000000000000ULL, "-inf"},
};

static void test_strings(void) {
    STR("region + ':' + string(tier)", "us-west:3");
    STR("'' + region", "us-west");
    /* chains of string + are evaluated as one concatenation: same results, same errors */
    STR("region + ':' + string(tier) + ':' + region + '' + 'x'", "us-west:3:us-westx");
    STR("(region + '/') + ('(' + region + ')')", "us-west/(us-west)");
    EERR("region + string(1 / 0) + region", "divide by zero");
    EERR("region + string(key % 0) + string(1 / 0)", "modulus by zero"); /* the first error, left to right */
    EERR("region + dyn(1)", "no matching overload for '+' with (string, int)");
    STR("region + dyn('!')", "us-west!");
    STR("region + region + region + region + region + region + region + region + region + region",
        "us-westus-westus-westus-westus-westus-westus-westus-westus-westus-west");
    BYTES("raw + b'a'", "\x00\xff"
                        "a");
    INT("size('\xcf\x80\xce\xad\xce\xbd\xcf\x84\xce\xb5')", 5);
    INT("size(b'\xcf\x80\xce\xad\xce\xbd\xcf\x84\xce\xb5')", 10);
    INT("size(region)", 7);
    INT("region.size()", 7);
    INT("size([1, 2])", 2);
    INT("size({1: 2})", 1);
    BOOL("region.startsWith('us-')", 1);
    BOOL("region.startsWith('')", 1);
    BOOL("''.startsWith('a')", 0);
    BOOL("region.endsWith('west')", 1);
    BOOL("region.endsWith('east')", 0);
    BOOL("region.contains('s-w')", 1);
    BOOL("region.contains('x')", 0);
    BOOL("'aaab'.contains('aab')", 1);
    BOOL("''.contains('')", 1);
    STR("string(123)", "123");
    STR("string(-456)", "-456");
    STR("string(9876u)", "9876");
    STR("string(true)", "true");
    STR("string(false)", "false");
    STR("string(b'abc')", "abc");
    STR("string('x')", "x");
    EERR("string(b'\\xff')", "invalid UTF-8");
    BYTES("bytes('\xc3\xbf')", "\xc3\xbf");
    BYTES("bytes(b'x')", "x");
    BOOL("bytes('\\377') == b'\\377'", 0);
    BOOL("bool('t') && bool('TRUE') && !bool('0') && !bool('False')", 1);
    EERR("bool('TrUe')", "type conversion error");
    BOOL("'abc' < 'abd' && 'ab' < 'abc' && b'\\x00' < b'\\xff' && 'Z' < 'a'", 1);
    BOOL("'a' < '\xc3\xa9'", 1);
    BOOL("false < true", 1);
    /* string(double): part of the routing contract (cel.md §1.9) */
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        double d;
        memcpy(&d, &doubles[i].bits, 8);
        char buf[64];
        sy_cel_format_double(d, buf, sizeof buf);
        check_count++;
        if (strcmp(buf, doubles[i].text)) {
            check_failures++;
            fprintf(stderr, "%s:%d: string(%.17g) = %s, expected %s\n", __FILE__, __LINE__, d, buf, doubles[i].text);
        }
    }
    STR("string(1234567.0)", "1.234567e+06");
    STR("string(100000.0)", "100000");
    STR("string(1.0)", "1");
    STR("string(-0.0)", "-0");
    STR("string(0.00001)", "1e-05");
    STR("string(score)", "1.5");
    STR("string(1.0/0.0)", "inf");
}

static void test_regex(void) {
    BOOL("'hubba'.matches('ubb')", 1);
    BOOL("matches('hubba', '^ubb')", 0);
    BOOL("'hubba'.matches('^h.*a$')", 1);
    BOOL("''.matches('')", 1);
    BOOL("'grey'.matches('gr(a|e)y')", 1);
    BOOL("'banana'.matches('^ba(na)*$')", 1);
    BOOL("'banana'.matches('^ba(na){3}$')", 0);
    BOOL("'banana'.matches('^ba(na){1,2}$')", 1);
    BOOL("'bananana'.matches('^ba(na){1,2}$')", 0);
    BOOL("'aaa'.matches('^a{2,}$')", 1);
    BOOL("'a'.matches('^a{2,}$')", 0);
    BOOL("'x{,3}'.matches('x{,3}')", 1); /* not a repetition: literal */
    BOOL("'ma\xc3\xb1" "ana'.matches('a+\xc3\xb1+a+')", 1);
    BOOL("'\\U0001F431\\U0001F600\\U0001F600'.matches('^.(a|\\U0001F600){2}$')", 1);
    BOOL("'abc123'.matches('^[a-z]+\\\\d+$')", 1);
    BOOL("'abc123'.matches('^\\\\w+$')", 1);
    BOOL("'a b'.matches('\\\\s')", 1);
    BOOL("'ab'.matches('^[^a]')", 0);
    BOOL("'-'.matches('[a-]')", 1);
    BOOL("']'.matches('[]]')", 1);
    BOOL("'x9'.matches('^[[:alpha:]][[:digit:]]$')", 1);
    BOOL("'a.b'.matches('a\\\\.b')", 1);
    BOOL("'axb'.matches('a\\\\.b')", 0);
    BOOL("'a\\nb'.matches('a.b')", 0);
    BOOL("'a\\nb'.matches('(?s)a.b')", 1);
    BOOL("'a\\nb'.matches('^b')", 0);
    BOOL("'a\\nb'.matches('(?m)^b$')", 1);
    BOOL("'foo bar'.matches('\\\\bbar\\\\b')", 1);
    BOOL("'foobar'.matches('\\\\bbar')", 0);
    BOOL("'foobar'.matches('\\\\Bbar\\\\z')", 1);
    BOOL("'AB'.matches('\\\\x41\\\\x{42}')", 1);
    BOOL("'ab'.matches('(?:a|b)+?$')", 1);
    BOOL("'ab'.matches('^(?P<x>a)(?<y>b)$')", 1);
    BOOL("'us-east-1'.matches(region)", 0);
    BOOL("region.matches('^us-')", 1);
    BOOL("'(a)'.matches('\\\\(a\\\\)')", 1);
    BOOL("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'.matches('^(a+)+$')", 0);
    CERR("'a'.matches('(')", "missing closing )");
    CERR("'a'.matches(')')", "unexpected )");
    CERR("'a'.matches('[a')", "missing closing ]");
    CERR("'a'.matches('*')", "missing argument to repetition operator");
    CERR("'a'.matches('a**')", "bad repetition operator");
    CERR("'a'.matches('a{1001}')", "bad repetition operator");
    CERR("'a'.matches('a{3,2}')", "bad repetition operator");
    CERR("'a'.matches('[z-a]')", "bad character class range");
    CERR("'a'.matches('(a)\\\\1')", "backreferences are not supported");
    CERR("'a'.matches('(?=a)')", "lookaround");
    CERR("'a'.matches('(?i)a')", "unsupported regex feature");
    CERR("'a'.matches('\\\\pL')", "unsupported regex feature");
    CERR("'a'.matches('\\\\q')", "invalid escape sequence");
    CERR("'a'.matches('(((a){1000}){1000})')", "pattern too large");
    args[2] = sy_cel_str("(", 1);
    EERR("'x'.matches(region)", "matches(): missing closing )");
    reset_args();
}

static void test_logic_and_errors(void) {
    BOOL("false && 1/0 == 0", 0);
    BOOL("1/0 == 0 && false", 0);
    BOOL("true || 1/0 == 0", 1);
    BOOL("1/0 == 0 || true", 1);
    EERR("true && 1/0 == 0", "divide by zero");
    EERR("1/0 == 0 || false", "divide by zero");
    EERR("1/0 == 0 && 1 % 0 == 0", "by zero");
    INT("false ? 1/0 : 2", 2);
    INT("true ? 2 : 1/0", 2);
    EERR("1/0 > 0 ? 1 : 2", "divide by zero");
    EERR("!(1/0 > 0)", "divide by zero");
    /* an unbound variable is absorbed like any error */
    memset(&args[4], 0, sizeof args[4]);
    BOOL("flag || true", 1);
    BOOL("false && flag", 0);
    EERR("flag || false", "no value with name 'flag' found");
    args[4] = sy_cel_null();
    EERR("flag", "value of variable 'flag' has the wrong type: declared bool, got null_type");
    args[4] = sy_cel_int(1);
    EERR("flag && true", "declared bool, got int");
    args[2] = sy_cel_str("\xff", 1);
    EERR("region + ''", "value of string variable 'region' is not valid UTF-8");
    reset_args();
    /* variables are read lazily: an unbound variable that is not read is no error */
    memset(&args[0], 0, sizeof args[0]);
    INT("tier + 1", 4);
    EERR("key", "no value with name 'key' found");
    reset_args();
    sy_cel_program_free(&prog);
    CHECK_OK(sy_cel_compile("key + 1", env, NENV, &prog));
    CHECK_ST(sy_cel_eval(prog, NULL, &scratch, &result), SHARDY_EROUTE);
    CHECK_STR(shardy_errmsg(), "CEL evaluation error: no value with name 'key' found");
    CHECK_EQ_INT(result.kind, SY_CEL_ERROR);
    char text[128];
    sy_cel_error_text(&result, text, sizeof text);
    CHECK_STR(text, "no value with name 'key' found");
    sy_cel_program_free(&prog);
}

static void test_collections(void) {
    INT("[7, 8, 9][0]", 7);
    INT("[7, 8, 9][dyn(2u)]", 9);
    INT("[7, 8, 9][dyn(1.0)]", 8);
    EERR("[7, 8, 9][3]", "index out of range");
    EERR("[7, 8, 9][-1]", "index out of range");
    EERR("[7, 8, 9][dyn(0.5)]", "invalid list index");
    EERR("[7, 8, 9][dyn('a')]", "invalid list index");
    INT("{'ap': 0, 'eu': 1}[region == 'us-west' ? 'eu' : 'ap']", 1);
    STR("{1u: 'a'}[dyn(1)]", "a");
    STR("{1: 'a'}[dyn(1.0)]", "a");
    EERR("{1: 'a'}[dyn(1.5)]", "no such key");
    EERR("{'a': 1}['b']", "no such key");
    EERR("{'a': 1}.b", "no such key: 'b'");
    BOOL("has({'a': 1}.a) && !has({'a': 1}.b)", 1);
    EERR("{'a': 1, 'a': 2}", "duplicate key");
    EERR("{1: 'a', 1u: 'b'}", "duplicate key");
    EERR("{dyn(1.5): 'a'}", "unsupported map key type double");
    EERR("[1, 1/0]", "divide by zero");
    BOOL("key in [1, 42]", 1);
    BOOL("'eu' in ['ap', 'eu']", 1);
    BOOL("'x' in {'x': 1}", 1);
    BOOL("'y' in {'x': 1}", 0);
    BOOL("dyn(3.0) in [1, 2, 3]", 1);
    BOOL("dyn(3u) in [1, 2, 3]", 1);
    BOOL("dyn('a') in [1, 2]", 0);
    BOOL("[1, 2] + [3] == [1, 2, 3]", 1);
    BOOL("[] + [] == []", 1);
    BOOL("[1.0, 2.0, 3] == [1u, 2, 3u]", 1);
    BOOL("[1, 2] == [2, 1]", 0);
    BOOL("{'a': 1, 'b': 2} == {'b': 2, 'a': 1}", 1);
    BOOL("{1: 1.0, 2u: 3u} == {1u: 1, 2: 3.0}", 1);
    BOOL("{'a': 1} == {'a': 2}", 0);
    BOOL("[[1], [2]] == [[1], [2]]", 1);
    /* heterogeneous equality and ordering through dyn */
    BOOL("dyn(1) == 1u && dyn(1u) == 1.0 && dyn(1) != 2.0", 1);
    BOOL("dyn('a') == 1", 0);
    BOOL("dyn(null) == null && dyn(1) != null", 1);
    BOOL("dyn(-1) < 0u && dyn(18446744073709551615u) > 1 && dyn(1.5) > 1", 1);
    BOOL("dyn(9223372036854775807) == 9223372036854775808.0", 1); /* cel-cpp compares through double */
    BOOL("dyn(9223372036854775807) < 9223372036854775808.0", 0);
    BOOL("dyn(0.0/0.0) == 0.0/0.0 || dyn(1) == 0.0/0.0 || dyn(1) < 0.0/0.0", 0);
    BOOL("0.0/0.0 != 0.0/0.0", 1);
    BOOL("-0.0 == 0.0", 1);
    EERR("dyn(1) < 'a'", "no matching overload for '<' with (int, string)");
    EERR("dyn([1]) < dyn([2])", "no matching overload for '<' with (list, list)");
    EERR("dyn(1) + 1u", "no matching overload for '+' with (int, uint)");
    EERR("dyn('a') && true", "no matching overload for '&&'");
    EERR("dyn(1) ? 1 : 2", "no matching overload for '?:'");
    EERR("dyn(1).x", "no matching overload for '.'");
    EERR("size(dyn(1))", "no matching overload for 'size' with (int)");
}

/* ---- allocation-free evaluation ---------------------------------------------------------------------------- */

static void test_no_allocations(void) {
    static const char *const exprs[] = {"shard_hash(key) % 16u",
                                        "key % 16",
                                        "key < 25 ? 0 : key < 50 ? 1 : 2",
                                        "shard_hash(region + ':' + string(tier)) % 8u",
                                        "region + '/' + region",
                                        "shard_hash(raw) % 3u",
                                        "{'us-west': 1, 'eu': 2}[region]",
                                        "key in [1, 2, 42] && region.startsWith('us')",
                                        "shard_hash(string(score)) % 4u",
                                        "region.matches('^us-[a-z]+$')"};
    for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
        sy_cel_program_free(&prog);
        CHECK_OK(sy_cel_compile(exprs[e], env, NENV, &prog));
        CHECK_OK(sy_cel_eval(prog, args, &scratch, &result)); /* warm up */
        unsigned long before = sy_alloc_count();
        for (int i = 0; i < 20000; i++) {
            args[0] = sy_cel_int(i);
            args[3] = sy_cel_int(i % 5);
            if (sy_cel_eval(prog, args, &scratch, &result)) break;
        }
        check_count++;
        if (sy_alloc_count() != before) {
            check_failures++;
            fprintf(stderr, "%s:%d: %s allocated %lu times\n", __FILE__, __LINE__, exprs[e], sy_alloc_count() - before);
        }
        sy_cel_program_free(&prog);
    }
    reset_args();
    /* a router, with a fresh stack scratch per call, allocates nothing either */
    sy_cel_colspec cols[] = {{"a", "string"}, {"b", "string"}};
    sy_cel_value vals[2] = {sy_cel_str("x:y", 3), sy_cel_str("us:prod", 7)};
    sy_cel_router *r = NULL;
    CHECK_OK(sy_cel_router_new("a + ':' + b", cols, 2, vals, 2, 1, 0, &r));
    sy_cel_value row[2] = {sy_cel_str("us", 2), sy_cel_str("prod", 4)};
    uint32_t id = 99;
    unsigned long before = sy_alloc_count();
    for (int i = 0; i < 20000; i++)
        if (sy_cel_router_route(r, row, &id)) break;
    CHECK_EQ_U64(sy_alloc_count(), before);
    CHECK_EQ_INT(id, 1);
    /* long intermediate strings spill to the heap and are freed again */
    char big[2000];
    memset(big, 'x', sizeof big);
    row[0] = sy_cel_str(big, sizeof big);
    CHECK_ST(sy_cel_router_route(r, row, &id), SHARDY_ENOTFOUND);
    sy_cel_router_free(&r);
}

/* ---- routing vectors (cel.md §4) ----------------------------------------------------------------------------- */

static sy_cel_router *mk(const char *expr, const char *col, const char *type, const sy_cel_value *vals, size_t nv,
                         int cat, int64_t num_dbs) {
    sy_cel_colspec c[1] = {{col, type}};
    sy_cel_router *r = NULL;
    if (sy_cel_router_new(expr, c, 1, vals, nv, cat, num_dbs, &r)) return NULL;
    return r;
}

/* Routes one value; the id is UINT32_MAX unless the status is OK. */
static shardy_status rt(const sy_cel_router *r, sy_cel_value v, uint32_t *id) {
    *id = UINT32_MAX;
    if (!r) return SHARDY_EINTERNAL;
    uint32_t got = 0;
    shardy_status st = sy_cel_router_route(r, &v, &got);
    if (!st) *id = got;
    return st;
}

#define ROUTES(r, v, want)                                                                                            \
    do {                                                                                                              \
        uint32_t id_;                                                                                                 \
        CHECK_OK(rt(r, v, &id_));                                                                                     \
        CHECK_EQ_INT(id_, want);                                                                                      \
    } while (0)

static void test_vectors_direct(void) {
    sy_cel_router *r;
    uint32_t id;
    /* C01 */
    r = mk("key % 4", "key", "int", NULL, 0, 0, 4);
    ROUTES(r, sy_cel_int(0), 0);
    ROUTES(r, sy_cel_int(1), 1);
    ROUTES(r, sy_cel_int(5), 1);
    CHECK_EQ_INT(sy_cel_router_num_dbs(r), 4);
    CHECK_EQ_INT(sy_cel_router_mode(r), SY_CEL_DIRECT);
    /* C28 */
    CHECK_ST(rt(r, sy_cel_int(-5), &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("db_id -1, which is out of range [0, 4)");
    CHECK_ST(rt(r, sy_cel_null(), &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("declared int, got null_type");
    sy_cel_value unset;
    memset(&unset, 0, sizeof unset);
    CHECK_ST(rt(r, unset, &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("no value with name 'key' found");
    sy_cel_router_free(&r);
    /* C02 */
    r = mk("key % 10", "key", "int", NULL, 0, 0, 0);
    const int64_t c02k[] = {10, 25, 30, 42, 100}, c02v[] = {0, 5, 0, 2, 0};
    for (int i = 0; i < 5; i++) ROUTES(r, sy_cel_int(c02k[i]), c02v[i]);
    sy_cel_router_free(&r);
    /* C03, C04 */
    r = mk("key < 25 ? 0 : key < 50 ? 1 : key < 75 ? 2 : 3", "key", "int", NULL, 0, 0, 4);
    const int64_t c03k[] = {10, 30, 60, 80};
    for (int i = 0; i < 4; i++) ROUTES(r, sy_cel_int(c03k[i]), i);
    sy_cel_router_free(&r);
    r = mk("key < 10 ? 0 : key < 20 ? 1 : 2", "key", "int", NULL, 0, 0, 3);
    ROUTES(r, sy_cel_int(5), 0);
    ROUTES(r, sy_cel_int(15), 1);
    ROUTES(r, sy_cel_int(25), 2);
    sy_cel_router_free(&r);
    /* C05: multi-column mode needs a context */
    r = mk("region == \"ap\" ? 0 : region == \"eu\" ? 1 : 2", "region", "string", NULL, 0, 0, 3);
    const char *c05[] = {"ap", "eu", "us"};
    for (int i = 0; i < 3; i++) {
        sy_cel_binding ctx[2] = {{"unrelated", sy_cel_int(1)}, {"region", sy_cel_str(c05[i], 2)}};
        CHECK_OK(sy_cel_router_route_named(r, ctx, 2, &id));
        CHECK_EQ_INT(id, i);
    }
    shardy_key k = shardy_key_str("anything", 8);
    CHECK(!sy_cel_router_key_only(r));
    CHECK_ST(sy_cel_router_route_key(r, &k, &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("routing_context");
    CHECK_ST(sy_cel_router_route_named(r, NULL, 0, &id), SHARDY_EROUTE); /* the key is not added implicitly */
    CHECK_ERRMSG_HAS("no value with name 'region' found");
    sy_cel_router_free(&r);
    /* C11: uint results; "str" is not a column type */
    r = mk("tenant_id == \"acme\" ? 0u : tenant_id == \"corp\" ? 1u : 2u", "tenant_id", "string", NULL, 0, 0, 3);
    ROUTES(r, sy_cel_str("acme", 4), 0);
    ROUTES(r, sy_cel_str("corp", 4), 1);
    ROUTES(r, sy_cel_str("zzz", 3), 2);
    sy_cel_router_free(&r);
    sy_cel_colspec badcol[1] = {{"tenant_id", "str"}};
    CHECK_ST(sy_cel_router_new("tenant_id", badcol, 1, NULL, 0, 0, 0, &r), SHARDY_EINVAL);
    CHECK_STR(shardy_errmsg(), "Unsupported CEL column type: 'str' for column 'tenant_id'. Allowed: ['bool', 'bytes', "
                               "'double', 'int', 'string', 'uint']");
    CHECK(r == NULL);
    /* C12 */
    r = mk("0", "key", "int", NULL, 0, 0, 0);
    for (int i = 0; i < 50; i++) ROUTES(r, sy_cel_int(i * 7919), 0);
    sy_cel_router_free(&r);
    uint32_t n = 0;
    const uint32_t c12a[] = {0, 1, 2}, c12b[] = {0, 2}, c12c[] = {1, 2}, c12d[] = {2, 0, 1, 1, 0};
    CHECK_OK(sy_cel_discover_num_dbs(NULL, 0, &n));
    CHECK_EQ_INT(n, 1);
    CHECK_OK(sy_cel_discover_num_dbs(c12a, 3, &n));
    CHECK_EQ_INT(n, 3);
    CHECK_OK(sy_cel_discover_num_dbs(c12d, 5, &n));
    CHECK_EQ_INT(n, 3);
    CHECK_ST(sy_cel_discover_num_dbs(c12b, 2, &n), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("non-consecutive");
    CHECK_ST(sy_cel_discover_num_dbs(c12c, 2, &n), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("non-consecutive");
    /* C13 */
    r = mk("uint(key)", "key", "int", NULL, 0, 0, 10);
    for (int i = 0; i < 10; i++) ROUTES(r, sy_cel_int(i), i);
    CHECK_ST(rt(r, sy_cel_int(-1), &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("int64 out of uint64 range");
    sy_cel_router_free(&r);
    /* C14, C16: ill-typed expressions fail at config time, naming the fix */
    CHECK(!mk("key % 16u", "key", "int", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("Failed to compile CEL expression 'key % 16u': CEL compile error at 1:5: no matching overload for "
                     "'%' with (int, uint); write `key % 16` or `uint(key) % 16u`");
    CHECK(!mk("key % 4u", "key", "int", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("write `key % 4` or `uint(key) % 4u`");
    CHECK(!mk("invalid syntax !@#", "key", "int", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("Failed to compile CEL expression 'invalid syntax !@#'");
    CHECK(!mk("key", "key", "unknown_type", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("Unsupported CEL column type: 'unknown_type' for column 'key'");
    CHECK(!mk("shard_hash(key) % 4", "key", "int", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("write `shard_hash(key) % 4u`");
    /* C15 */
    r = mk("key % 16u", "key", "uint", NULL, 0, 0, 16);
    ROUTES(r, sy_cel_uint(37), 5);
    ROUTES(r, sy_cel_uint(7), 7);
    sy_cel_router_free(&r);
    /* C17-C19 */
    r = mk("shard_hash(key) % 4u", "key", "int", NULL, 0, 0, 4);
    ROUTES(r, sy_cel_int(42), 0);
    sy_cel_router_free(&r);
    UINT("shard_hash(key)", 15395265915043915720ULL);
    r = mk("shard_hash(key) % 100u", "key", "int", NULL, 0, 0, 100);
    ROUTES(r, sy_cel_int(42), 20);
    ROUTES(r, sy_cel_int(99), 87);
    sy_cel_router_free(&r);
    r = mk("shard_hash(key) % 100u", "key", "uint", NULL, 0, 0, 100);
    ROUTES(r, sy_cel_uint(99), 87);
    sy_cel_router_free(&r);
    /* C20 */
    r = mk("shard_hash(key) % 100u", "key", "string", NULL, 0, 0, 100);
    ROUTES(r, sy_cel_str("hello", 5), 89);
    sy_cel_router_free(&r);
    r = mk("shard_hash(key) % 100u", "key", "bytes", NULL, 0, 0, 100);
    ROUTES(r, sy_cel_bytes("hello", 5), 89);
    sy_cel_router_free(&r);
    /* C21 */
    r = mk("shard_hash(key) % 16u", "key", "int", NULL, 0, 0, 16);
    ROUTES(r, sy_cel_int(-1), 3);
    sy_cel_router_free(&r);
    r = mk("shard_hash(key) % 1000u", "key", "int", NULL, 0, 0, 1000);
    ROUTES(r, sy_cel_int(INT64_MIN), 495);
    ROUTES(r, sy_cel_int(INT64_MAX), 142);
    sy_cel_router_free(&r);
    /* C22 */
    const int c22a[] = {1, 0, 1, 1, 0, 0, 1, 1, 0, 1}, c22b[] = {2, 2, 1, 1, 0, 2, 0, 2, 0, 0};
    sy_cel_router *r2 = mk("shard_hash(key) % 2u", "key", "int", NULL, 0, 0, 2);
    sy_cel_router *r3 = mk("shard_hash(key) % 3u", "key", "int", NULL, 0, 0, 3);
    for (int i = 0; i < 10; i++) {
        ROUTES(r2, sy_cel_int(i), c22a[i]);
        ROUTES(r3, sy_cel_int(i), c22b[i]);
    }
    sy_cel_router_free(&r2);
    sy_cel_router_free(&r3);
    /* C23 */
    r = mk("shard_hash(region) % 10u", "region", "string", NULL, 0, 0, 10);
    ROUTES(r, sy_cel_str("us-east", 7), 8);
    sy_cel_router_free(&r);
    /* C24 */
    sy_cel_colspec c24[2] = {{"region", "string"}, {"tier", "int"}};
    sy_cel_value c24v[2] = {sy_cel_str("us-west", 7), sy_cel_int(3)};
    CHECK_OK(sy_cel_router_new("shard_hash(region + \":\" + string(tier)) % 8u", c24, 2, NULL, 0, 0, 8, &r));
    CHECK_OK(sy_cel_router_route(r, c24v, &id));
    CHECK_EQ_INT(id, 1);
    sy_cel_router_free(&r);
    CHECK_OK(sy_cel_router_new("shard_hash(region + \":\" + string(tier)) % 6u", c24, 2, NULL, 0, 0, 6, &r));
    CHECK_OK(sy_cel_router_route(r, c24v, &id));
    CHECK_EQ_INT(id, 3);
    sy_cel_router_free(&r);
    /* C26 */
    r = mk("shard_hash(string(flag)) % 4u", "flag", "bool", NULL, 0, 0, 4);
    ROUTES(r, sy_cel_bool(1), 1);
    sy_cel_router_free(&r);
    r = mk("shard_hash(string(score)) % 4u", "score", "double", NULL, 0, 0, 4);
    ROUTES(r, sy_cel_double(1.5), 2);
    sy_cel_router_free(&r);
    /* C27 */
    r = mk("shard_hash(key)", "key", "uint", NULL, 0, 0, 4);
    CHECK_ST(rt(r, sy_cel_uint(9223372036854775808ULL), &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("shard_hash: uint key out of range");
    sy_cel_router_free(&r);
    r = mk("shard_hash(key)", "key", "int", NULL, 0, 0, 4);
    CHECK_ST(rt(r, sy_cel_int(42), &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("gave db_id 15395265915043915720, which is out of range [0, 4)");
    sy_cel_router_free(&r);
    r = mk("shard_hash(key)", "key", "int", NULL, 0, 0, 0); /* writer before discovery */
    CHECK_ST(rt(r, sy_cel_int(42), &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("above the largest possible db_id");
    sy_cel_router_free(&r);
    /* C29 */
    const char *c29[] = {"key % 0", "key / 0", "key + 1", "key * key"};
    const int64_t c29k[] = {7, 7, INT64_MAX, 5000000000LL};
    const char *c29m[] = {"modulus by zero", "divide by zero", "integer overflow", "integer overflow"};
    for (int i = 0; i < 4; i++) {
        r = mk(c29[i], "key", "int", NULL, 0, 0, 0);
        CHECK_ST(rt(r, sy_cel_int(c29k[i]), &id), SHARDY_EROUTE);
        CHECK_ERRMSG_HAS(c29m[i]);
        sy_cel_router_free(&r);
    }
    CHECK(!mk("double(key)", "key", "int", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("returns double; CEL expression must return int, str, or bytes");
    CHECK(!mk("key > 3", "key", "int", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("returns bool");
    CHECK(!mk("string(key)", "key", "int", NULL, 0, 0, 0));
    CHECK_ERRMSG_HAS("direct routing (no routing_values) needs an int or uint result");
    /* dyn results are checked per row */
    r = mk("dyn(key > 3 ? dyn(key) : dyn(1.5))", "key", "int", NULL, 0, 0, 10);
    ROUTES(r, sy_cel_int(4), 4);
    CHECK_ST(rt(r, sy_cel_int(1), &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("returned float; direct routing needs an int or uint db_id");
    sy_cel_router_free(&r);
}

static void test_vectors_categorical(void) {
    sy_cel_router *r;
    uint32_t id;
    /* C06 */
    sy_cel_value v06[] = {sy_cel_str("ap", 2), sy_cel_str("eu", 2), sy_cel_str("us", 2)};
    r = mk("region", "region", "string", v06, 3, 1, 0);
    ROUTES(r, sy_cel_str("ap", 2), 0);
    ROUTES(r, sy_cel_str("eu", 2), 1);
    ROUTES(r, sy_cel_str("us", 2), 2);
    CHECK_ST(rt(r, sy_cel_str("jp", 2), &id), SHARDY_ENOTFOUND);
    CHECK_STR(shardy_errmsg(), "Categorical CEL routing token 'jp' is not present in this snapshot.");
    CHECK_EQ_INT(sy_cel_router_num_dbs(r), 3);
    CHECK_EQ_INT(sy_cel_router_mode(r), SY_CEL_CATEGORICAL);
    sy_cel_router_free(&r);
    /* C07: bytes routing values are refused (DESIGN §3), and so is a bytes-valued categorical expression */
    sy_cel_value v07[] = {sy_cel_bytes("ap", 2), sy_cel_bytes("eu", 2)};
    CHECK(!mk("region", "region", "string", v07, 2, 1, 0));
    CHECK_ERRMSG_HAS("bytes routing values are not supported");
    CHECK(!mk("region", "region", "bytes", v06, 3, 1, 0));
    CHECK_ERRMSG_HAS("returns bytes; bytes routing values are not supported");
    /* C08: positions as given */
    sy_cel_value v08[] = {sy_cel_str("us", 2), sy_cel_str("eu", 2), sy_cel_str("asia", 4)};
    r = mk("region", "region", "string", v08, 3, 1, 0);
    ROUTES(r, sy_cel_str("asia", 4), 2);
    ROUTES(r, sy_cel_str("us", 2), 0);
    sy_cel_router_free(&r);
    /* C09 */
    sy_cel_value v09[] = {sy_cel_int(250), sy_cel_int(500), sy_cel_int(750)};
    r = mk("key % 1000", "key", "int", v09, 3, 1, 0);
    ROUTES(r, sy_cel_int(1500), 1);
    ROUTES(r, sy_cel_int(2750), 2);
    CHECK_ST(rt(r, sy_cel_int(1001), &id), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("token 1 is not present");
    CHECK_ST(rt(r, sy_cel_int(-250), &id), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("token -250 is not present");
    sy_cel_router_free(&r);
    /* C10: a uint token matches an int routing value */
    r = mk("uint(key) % 1000u", "key", "int", v09, 3, 1, 0);
    ROUTES(r, sy_cel_int(1500), 1);
    sy_cel_router_free(&r);
    /* uint routing values above INT64_MAX, negative ints */
    sy_cel_value vbig[] = {sy_cel_uint(18446744073709551615ULL), sy_cel_int(-1), sy_cel_uint(7)};
    r = mk("key", "key", "uint", vbig, 3, 1, 0);
    ROUTES(r, sy_cel_uint(18446744073709551615ULL), 0);
    ROUTES(r, sy_cel_uint(7), 2);
    sy_cel_router_free(&r);
    r = mk("key", "key", "int", vbig, 3, 1, 0);
    ROUTES(r, sy_cel_int(-1), 1);
    ROUTES(r, sy_cel_int(7), 2);
    sy_cel_router_free(&r);
    /* routing value validation */
    sy_cel_value dup[] = {sy_cel_str("a", 1), sy_cel_str("b", 1), sy_cel_str("a", 1)};
    CHECK(!mk("region", "region", "string", dup, 3, 1, 0));
    CHECK_STR(shardy_errmsg(), "Routing values must be unique; duplicates=['a']");
    sy_cel_value dupn[] = {sy_cel_int(5), sy_cel_uint(5)};
    CHECK(!mk("key", "key", "int", dupn, 2, 1, 0));
    CHECK_ERRMSG_HAS("duplicates=[5]");
    sy_cel_value mixed[] = {sy_cel_str("a", 1), sy_cel_int(1)};
    CHECK(!mk("region", "region", "string", mixed, 2, 1, 0));
    CHECK_ERRMSG_HAS("must all share the same type");
    sy_cel_value dbl[] = {sy_cel_double(1.0)};
    CHECK(!mk("key", "key", "int", dbl, 1, 1, 0));
    CHECK_ERRMSG_HAS("routing values must be int or str");
    CHECK(!mk("key > 1", "key", "int", v09, 3, 1, 0));
    CHECK_ERRMSG_HAS("returns bool");
    /* an empty list is accepted: num_dbs 1, every token misses */
    r = mk("region", "region", "string", NULL, 0, 1, 0);
    CHECK_EQ_INT(sy_cel_router_num_dbs(r), 1);
    CHECK_ST(rt(r, sy_cel_str("ap", 2), &id), SHARDY_ENOTFOUND);
    sy_cel_router_free(&r);
    /* evaluation errors are errors, never tokens (Q1) */
    r = mk("key % 1000", "key", "int", v09, 3, 1, 0);
    sy_cel_value unset;
    memset(&unset, 0, sizeof unset);
    CHECK_ST(rt(r, unset, &id), SHARDY_EROUTE);
    sy_cel_router_free(&r);
    r = mk("dyn(key > 0 ? dyn('a') : dyn(b'a'))", "key", "int", v06, 3, 1, 0);
    CHECK_ST(rt(r, sy_cel_int(-1), &id), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("token b'a' is not present");
    sy_cel_router_free(&r);
}

static void test_vectors_inferred(void) {
    /* C30 */
    sy_cel_token_set *ts = NULL;
    sy_cel_router *r = NULL;
    const sy_cel_value *vals;
    size_t n;
    uint32_t id;
    CHECK_OK(sy_cel_token_set_new(&ts));
    r = mk("region", "region", "string", NULL, 0, 1, 0); /* the first pass only evaluates */
    const char *rows[] = {"ap", "eu", "us", "ap"};
    for (int i = 0; i < 4; i++) {
        sy_cel_value row = sy_cel_str(rows[i], 2), tok;
        CHECK_OK(sy_cel_router_token(r, &row, &scratch, &tok));
        CHECK_OK(sy_cel_token_set_add(ts, &tok));
    }
    sy_cel_router_free(&r);
    CHECK_EQ_INT(sy_cel_token_set_count(ts), 3);
    CHECK_OK(sy_cel_token_set_values(ts, &vals, &n));
    REQUIRE(n == 3);
    CHECK(vals[0].len == 2 && !memcmp(vals[0].v.s, "ap", 2));
    CHECK(vals[2].len == 2 && !memcmp(vals[2].v.s, "us", 2));
    r = mk("region", "region", "string", vals, n, 1, 0);
    CHECK_EQ_INT(sy_cel_router_num_dbs(r), 3);
    ROUTES(r, sy_cel_str("eu", 2), 1);
    sy_cel_router_free(&r);
    sy_cel_token_set_free(&ts);

    sy_cel_colspec cols[2] = {{"region", "string"}, {"env", "string"}};
    CHECK_ST(sy_cel_router_new("region + \":\" + env", cols, 2, NULL, 0, 0, 0, &r), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("direct routing (no routing_values) needs an int or uint result");
    CHECK_OK(sy_cel_token_set_new(&ts));
    sy_cel_router *probe = NULL;
    CHECK_OK(sy_cel_router_new("region + \":\" + env", cols, 2, NULL, 0, 1, 0, &probe));
    const char *c30[3][2] = {{"us", "prod"}, {"ap", "dev"}, {"us", "dev"}};
    for (int i = 0; i < 3; i++) {
        sy_cel_value row[2] = {sy_cel_str(c30[i][0], 2), sy_cel_str(c30[i][1], strlen(c30[i][1]))}, tok;
        CHECK_OK(sy_cel_router_token(probe, row, &scratch, &tok));
        CHECK_OK(sy_cel_token_set_add(ts, &tok));
    }
    sy_cel_router_free(&probe);
    CHECK_OK(sy_cel_token_set_values(ts, &vals, &n));
    REQUIRE(n == 3);
    CHECK(vals[0].len == 6 && !memcmp(vals[0].v.s, "ap:dev", 6));
    CHECK(vals[1].len == 6 && !memcmp(vals[1].v.s, "us:dev", 6));
    CHECK(vals[2].len == 7 && !memcmp(vals[2].v.s, "us:prod", 7));
    CHECK_OK(sy_cel_router_new("region + \":\" + env", cols, 2, vals, n, 1, 0, &r));
    sy_cel_value usprod[2] = {sy_cel_str("us", 2), sy_cel_str("prod", 4)};
    CHECK_OK(sy_cel_router_route(r, usprod, &id));
    CHECK_EQ_INT(id, 2);
    sy_cel_router_free(&r);
    sy_cel_token_set_free(&ts);

    /* no rows */
    CHECK_OK(sy_cel_token_set_new(&ts));
    CHECK_OK(sy_cel_token_set_values(ts, &vals, &n));
    CHECK_EQ_INT(n, 0);
    r = mk("region", "region", "string", vals, n, 1, 0);
    CHECK_EQ_INT(sy_cel_router_num_dbs(r), 1);
    CHECK_ST(rt(r, sy_cel_str("us", 2), &id), SHARDY_ENOTFOUND);
    sy_cel_router_free(&r);
    sy_cel_token_set_free(&ts);

    /* ordering: integers across int64 and uint64, strings by code point */
    CHECK_OK(sy_cel_token_set_new(&ts));
    const sy_cel_value ints[] = {sy_cel_uint(18446744073709551615ULL), sy_cel_int(3),
                                 sy_cel_int(INT64_MIN),                sy_cel_uint(9223372036854775808ULL),
                                 sy_cel_int(-5),                       sy_cel_uint(3),
                                 sy_cel_int(INT64_MAX)};
    for (size_t i = 0; i < 7; i++) CHECK_OK(sy_cel_token_set_add(ts, &ints[i]));
    CHECK_OK(sy_cel_token_set_values(ts, &vals, &n));
    REQUIRE(n == 6);
    CHECK(vals[0].kind == SY_CEL_INT && vals[0].v.i == INT64_MIN);
    CHECK(vals[1].kind == SY_CEL_INT && vals[1].v.i == -5);
    CHECK(vals[2].kind == SY_CEL_INT && vals[2].v.i == 3);
    CHECK(vals[3].kind == SY_CEL_INT && vals[3].v.i == INT64_MAX);
    CHECK(vals[4].kind == SY_CEL_UINT && vals[4].v.u == 9223372036854775808ULL);
    CHECK(vals[5].kind == SY_CEL_UINT && vals[5].v.u == UINT64_MAX);
    sy_cel_value s = sy_cel_str("a", 1);
    CHECK_ST(sy_cel_token_set_add(ts, &s), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("must all share the same type");
    sy_cel_token_set_free(&ts);
    CHECK_OK(sy_cel_token_set_new(&ts));
    const char *words[] = {"zz", "\xc3\xa9mile", "ap", "Zed", "us", "eu", "ap"};
    for (size_t i = 0; i < 7; i++) {
        sy_cel_value w = sy_cel_str(words[i], strlen(words[i]));
        CHECK_OK(sy_cel_token_set_add(ts, &w));
    }
    CHECK_OK(sy_cel_token_set_values(ts, &vals, &n));
    const char *sorted[] = {"Zed", "ap", "eu", "us", "zz", "\xc3\xa9mile"};
    REQUIRE(n == 6);
    for (size_t i = 0; i < 6; i++)
        CHECK(vals[i].len == strlen(sorted[i]) && !memcmp(vals[i].v.s, sorted[i], vals[i].len));
    sy_cel_value b = sy_cel_bytes("x", 1);
    CHECK_ST(sy_cel_token_set_add(ts, &b), SHARDY_EINVAL);
    sy_cel_token_set_free(&ts);
    sy_cel_token_set_free(&ts);
    /* bytes results cannot become routing values */
    CHECK(!mk("raw", "raw", "bytes", NULL, 0, 1, 0));
    sy_cel_colspec dc[1] = {{"any", "string"}};
    CHECK_OK(sy_cel_router_new("dyn(b'x')", dc, 1, NULL, 0, 1, 0, &r));
    sy_cel_value tok, a1 = sy_cel_str("a", 1);
    CHECK_ST(sy_cel_router_token(r, &a1, &scratch, &tok), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("returned bytes");
    sy_cel_router_free(&r);
}

/* ---- shard_hash is HASH routing ---------------------------------------------------------------------------- */

static uint64_t rng_state = 0x1234567887654321ULL;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void test_shard_hash_is_hash_routing(void) {
    const uint64_t mods[] = {1, 2, 3, 7, 16, 1000, 999983};
    sy_cel_router *ri[7], *rs[7], *rb[7];
    for (int m = 0; m < 7; m++) {
        char expr[64];
        snprintf(expr, sizeof expr, "shard_hash(key) %% %lluu", (unsigned long long)mods[m]);
        ri[m] = mk(expr, "key", "int", NULL, 0, 0, (int64_t)mods[m]);
        rs[m] = mk(expr, "key", "string", NULL, 0, 0, 0);
        rb[m] = mk(expr, "key", "bytes", NULL, 0, 0, 0);
        REQUIRE(ri[m] && rs[m] && rb[m]);
    }
    /* reference digests of cel.md §4 */
    static const struct {
        int64_t k;
        uint64_t d;
    } ref[] = {{0, 14374147212387527897ULL},         {42, 15395265915043915720ULL},
               {99, 3037219997062001187ULL},         {-1, 5841669975847748627ULL},
               {INT64_MAX, 11687913294787043142ULL}, {INT64_MIN, 9407778237848358495ULL}};
    for (size_t i = 0; i < 6; i++) {
        args[0] = sy_cel_int(ref[i].k);
        UINT("shard_hash(key)", ref[i].d);
    }
    args[2] = sy_cel_str("\xc3\xa9", 2);
    UINT("shard_hash(region)", 17839895020865391795ULL);
    args[2] = sy_cel_str("", 0);
    UINT("shard_hash(region)", 3244421341483603138ULL);
    reset_args();
    UINT("shard_hash('left\\nright')", 7800379459667570020ULL);
    BOOL("shard_hash(b'hello') == shard_hash('hello')", 1);
    BOOL("shard_hash(5u) == shard_hash(5)", 1);
    long mismatches = 0, checked = 0;
    char buf[64];
    unsigned char bytes[300];
    for (int i = 0; i < 20000; i++) {
        int64_t k = (int64_t)rnd();
        if (i % 4 == 1) k = (int64_t)(rnd() % 1000) - 500;
        if (i == 2) k = INT64_MIN;
        if (i == 3) k = INT64_MAX;
        shardy_key key = shardy_key_int(k);
        /* strings: ASCII and two-byte UTF-8, lengths 0..~50 */
        size_t sl = 0, len = rnd() % 40;
        for (size_t j = 0; j < len && sl < 50; j++) {
            uint64_t c = rnd() % 3;
            if (c == 0) {
                buf[sl++] = (char)('a' + rnd() % 26);
            } else if (c == 1) {
                buf[sl++] = '\xc3';
                buf[sl++] = '\xa9';
            } else {
                buf[sl++] = (char)('0' + rnd() % 10);
            }
        }
        shardy_key skey = shardy_key_str(buf, sl);
        size_t bl = rnd() % sizeof bytes;
        for (size_t j = 0; j < bl; j++) bytes[j] = (unsigned char)rnd();
        shardy_key bkey = shardy_key_bytes(bytes, bl);
        const shardy_key *keys[3] = {&key, &skey, &bkey};
        for (int m = 0; m < 7; m++) {
            sy_cel_router *rs3[3] = {ri[m], rs[m], rb[m]};
            for (int t = 0; t < 3; t++) {
                uint64_t want;
                uint32_t id;
                checked++;
                if (shardy_route_hash(keys[t], mods[m], &want, NULL) || sy_cel_router_route_key(rs3[t], keys[t], &id) ||
                    id != want)
                    mismatches++;
            }
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(checked, 20000 * 21);
    /* full 64-bit digests: shard_hash(x) == shardy_key_digest(x) */
    sy_cel_program *hp = NULL;
    CHECK_OK(sy_cel_compile("shard_hash(key)", env, NENV, &hp));
    mismatches = 0;
    for (int i = 0; i < 50000; i++) {
        int64_t k = (int64_t)rnd();
        shardy_key key = shardy_key_int(k);
        uint64_t want = 0;
        args[0] = sy_cel_int(k);
        if (shardy_key_digest(&key, &want) || sy_cel_eval(hp, args, &scratch, &result) || result.kind != SY_CEL_UINT ||
            result.v.u != want)
            mismatches++;
    }
    CHECK_EQ_INT(mismatches, 0);
    sy_cel_program_free(&hp);
    reset_args();
    for (int m = 0; m < 7; m++) {
        sy_cel_router_free(&ri[m]);
        sy_cel_router_free(&rs[m]);
        sy_cel_router_free(&rb[m]);
    }
}

/* ---- key-only lookups, contexts and text -------------------------------------------------------------------- */

static void test_bindings(void) {
    sy_cel_router *r = mk("key % 4", "key", "int", NULL, 0, 0, 4);
    uint32_t id;
    REQUIRE(r);
    CHECK(sy_cel_router_key_only(r));
    shardy_key k = shardy_key_int(5);
    CHECK_OK(sy_cel_router_route_key(r, &k, &id));
    CHECK_EQ_INT(id, 1);
    k = shardy_key_uint(7);
    CHECK_OK(sy_cel_router_route_key(r, &k, &id)); /* Python ints are one type */
    CHECK_EQ_INT(id, 3);
    k = shardy_key_uint(18446744073709551615ULL);
    CHECK_ST(sy_cel_router_route_key(r, &k, &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("declared int, got uint");
    k = shardy_key_str("5", 1);
    CHECK_ST(sy_cel_router_route_key(r, &k, &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("declared int, got string");
    sy_cel_router_free(&r);
    r = mk("shard_hash(key) % 16u", "key", "string", NULL, 0, 0, 16);
    k = shardy_key_bytes("hello", 5); /* bytes holding UTF-8 bind to a string variable */
    CHECK_OK(sy_cel_router_route_key(r, &k, &id));
    CHECK_EQ_INT(id, 13);
    k = shardy_key_bytes("\xff", 1);
    CHECK_ST(sy_cel_router_route_key(r, &k, &id), SHARDY_EROUTE);
    sy_cel_router_free(&r);
    /* DESIGN §3: without a context the reader binds `key` whenever it is a column */
    sy_cel_colspec kr[] = {{"key", "int"}, {"region", "string"}};
    CHECK_OK(sy_cel_router_new("key % 4", kr, 2, NULL, 0, 0, 4, &r));
    CHECK(!sy_cel_router_key_only(r));
    k = shardy_key_int(6);
    CHECK_OK(sy_cel_router_route_key(r, &k, &id));
    CHECK_EQ_INT(id, 2);
    sy_cel_router_free(&r);
    CHECK_OK(sy_cel_router_new("region == 'x' ? 0 : key % 4", kr, 2, NULL, 0, 0, 4, &r));
    CHECK_ST(sy_cel_router_route_key(r, &k, &id), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("reads column 'region', which a lookup by key alone cannot provide; pass a routing_context");
    sy_cel_binding both[] = {{"key", sy_cel_int(6)}, {"region", sy_cel_str("y", 1)}};
    CHECK_OK(sy_cel_router_route_named(r, both, 2, &id));
    CHECK_EQ_INT(id, 2);
    sy_cel_router_free(&r);
    r = mk("key % 4u", "key", "uint", NULL, 0, 0, 4);
    k = shardy_key_int(6);
    CHECK_OK(sy_cel_router_route_key(r, &k, &id));
    CHECK_EQ_INT(id, 2);
    k = shardy_key_int(-6);
    CHECK_ST(sy_cel_router_route_key(r, &k, &id), SHARDY_EROUTE);
    sy_cel_router_free(&r);

    /* CLI text converted per declared type (Q7) */
    sy_cel_colspec cols[] = {{"region", "string"}, {"tier", "int"},     {"u", "uint"},
                             {"flag", "bool"},     {"score", "double"}, {"raw", "bytes"}};
    CHECK_OK(sy_cel_router_new("shard_hash(region + ':' + string(tier) + ':' + string(u) + ':' + string(flag) + ':' + "
                               "string(score) + ':' + string(raw)) % 1000u",
                               cols, 6, NULL, 0, 0, 1000, &r));
    REQUIRE(r);
    CHECK_EQ_INT(sy_cel_router_nvars(r), 6);
    CHECK_EQ_INT(sy_cel_router_var_kind(r, 1), SY_CEL_INT);
    CHECK_STR(sy_cel_router_var_name(r, 5), "raw");
    CHECK_EQ_INT(sy_cel_router_var_index(r, "score"), 4);
    CHECK(sy_cel_program_result_kind(sy_cel_router_program(r)) == SY_CEL_UINT);
    sy_cel_value row[6];
    char *owned[6] = {NULL};
    memset(row, 0, sizeof row);
    CHECK_OK(sy_cel_router_bind_text(r, "region", "us-west", row, &owned[0]));
    CHECK_OK(sy_cel_router_bind_text(r, "tier", " -3 ", row, &owned[1]));
    CHECK_OK(sy_cel_router_bind_text(r, "u", "18446744073709551615", row, &owned[2]));
    CHECK_OK(sy_cel_router_bind_text(r, "flag", "true", row, &owned[3]));
    CHECK_OK(sy_cel_router_bind_text(r, "score", "1.5", row, &owned[4]));
    CHECK_OK(sy_cel_router_bind_text(r, "raw", "hex:6869", row, &owned[5]));
    CHECK(row[1].kind == SY_CEL_INT && row[1].v.i == -3);
    CHECK(row[2].kind == SY_CEL_UINT && row[2].v.u == UINT64_MAX);
    CHECK(row[3].kind == SY_CEL_BOOL && row[3].v.b);
    CHECK(row[4].kind == SY_CEL_DOUBLE && row[4].v.d == 1.5);
    CHECK(row[5].kind == SY_CEL_BYTES && row[5].len == 2 && !memcmp(row[5].v.s, "hi", 2) && owned[5]);
    const char *text = "us-west:-3:18446744073709551615:true:1.5:hi";
    uint32_t want = (uint32_t)(sy_xxh3(text, strlen(text)) % 1000);
    CHECK_OK(sy_cel_router_route(r, row, &id));
    CHECK_EQ_INT(id, want);
    for (int i = 0; i < 6; i++) sy_free(owned[i]);
    char *o = NULL;
    CHECK_ST(sy_cel_router_bind_text(r, "tier", "3x", row, &o), SHARDY_EINVAL);
    CHECK_STR(shardy_errmsg(), "routing context 'tier': '3x' is not a valid int");
    CHECK_ST(sy_cel_router_bind_text(r, "tier", "9223372036854775808", row, &o), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("out of range");
    CHECK_ST(sy_cel_router_bind_text(r, "u", "-1", row, &o), SHARDY_EINVAL);
    CHECK_ST(sy_cel_router_bind_text(r, "flag", "yes", row, &o), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("not a valid bool");
    CHECK_ST(sy_cel_router_bind_text(r, "score", "1.5x", row, &o), SHARDY_EINVAL);
    CHECK_ST(sy_cel_router_bind_text(r, "raw", "hex:6", row, &o), SHARDY_EINVAL);
    CHECK_ST(sy_cel_router_bind_text(r, "raw", "hex:zz", row, &o), SHARDY_EINVAL);
    CHECK_ST(sy_cel_router_bind_text(r, "regoin", "x", row, &o), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("routing context key 'regoin' is not a CEL column (cel_columns: region, tier, u, flag, score, raw)");
    CHECK(o == NULL);
    CHECK_OK(sy_cel_router_bind_text(r, "raw", "plain", row, &o));
    CHECK(o == NULL && row[5].len == 5);
    sy_cel_router_free(&r);
}

/* ---- builders and manifests ----------------------------------------------------------------------------------- */

static void test_builders(void) {
    char *e = NULL;
    int infer = -1;
    int64_t n10 = 10, n8 = 8, n4 = 4, n0 = 0;
    sy_cel_colspec region[] = {{"region", "string"}};
    CHECK_OK(sy_cel_build_expr(region, 1, &n10, NULL, &e, &infer));
    CHECK_STR(e, "shard_hash(region) % 10u");
    CHECK_EQ_INT(infer, 0);
    sy_free(e);
    CHECK_OK(sy_cel_build_expr(region, 1, NULL, NULL, &e, &infer));
    CHECK_STR(e, "region");
    CHECK_EQ_INT(infer, 1);
    sy_free(e);
    sy_cel_colspec tier[] = {{"tier", "int"}};
    CHECK_OK(sy_cel_build_expr(tier, 1, &n4, NULL, &e, &infer));
    CHECK_STR(e, "shard_hash(tier) % 4u");
    sy_free(e);
    sy_cel_colspec flag[] = {{"flag", "bool"}}, score[] = {{"score", "double"}};
    CHECK_OK(sy_cel_build_expr(flag, 1, &n4, NULL, &e, &infer));
    CHECK_STR(e, "shard_hash(string(flag)) % 4u");
    sy_free(e);
    CHECK_OK(sy_cel_build_expr(score, 1, &n4, NULL, &e, &infer));
    CHECK_STR(e, "shard_hash(string(score)) % 4u");
    sy_free(e);
    sy_cel_colspec re[] = {{"region", "string"}, {"env", "string"}};
    CHECK_OK(sy_cel_build_expr(re, 2, &n8, NULL, &e, &infer));
    CHECK_STR(e, "shard_hash(region + \":\" + env) % 8u");
    sy_free(e);
    CHECK_OK(sy_cel_build_expr(re, 2, NULL, NULL, &e, &infer));
    CHECK_STR(e, "region + \":\" + env");
    sy_free(e);
    sy_cel_colspec rt_[] = {{"region", "string"}, {"tier", "int"}};
    CHECK_OK(sy_cel_build_expr(rt_, 2, &n8, NULL, &e, &infer));
    CHECK_STR(e, "shard_hash(region + \":\" + string(tier)) % 8u");
    sy_free(e);
    sy_cel_colspec rb[] = {{"a", "string"}, {"b", "bytes"}};
    CHECK_OK(sy_cel_build_expr(rb, 2, NULL, "/", &e, &infer));
    CHECK_STR(e, "a + \"/\" + string(b)");
    sy_free(e);
    /* C25: separators, escaped like json.dumps, and the expressions route as computed */
    static const struct {
        const char *sep;
        const char *expr;
        int id;
    } c25[] = {{":", "shard_hash(a + \":\" + b) % 4u", 3},
               {"/", "shard_hash(a + \"/\" + b) % 4u", 1},
               {"\"", "shard_hash(a + \"\\\"\" + b) % 4u", 1},
               {"\\", "shard_hash(a + \"\\\\\" + b) % 4u", 1},
               {"\n", "shard_hash(a + \"\\n\" + b) % 4u", 0}};
    sy_cel_colspec ab[] = {{"a", "string"}, {"b", "string"}};
    sy_cel_value lr[] = {sy_cel_str("left", 4), sy_cel_str("right", 5)};
    for (size_t i = 0; i < 5; i++) {
        CHECK_OK(sy_cel_build_expr(ab, 2, &n4, c25[i].sep, &e, &infer));
        CHECK_STR(e, c25[i].expr);
        sy_cel_router *r = NULL;
        uint32_t id = 99;
        CHECK_OK(sy_cel_router_new(e, ab, 2, NULL, 0, 0, 4, &r));
        CHECK_OK(sy_cel_router_route(r, lr, &id));
        CHECK_EQ_INT(id, c25[i].id);
        sy_cel_router_free(&r);
        sy_free(e);
    }
    CHECK_OK(sy_cel_build_expr(ab, 2, NULL, "\xc3\xa9\x01", &e, &infer));
    CHECK_STR(e, "a + \"\\u00e9\\u0001\" + b");
    sy_free(e);
    CHECK_OK(sy_cel_build_expr(ab, 2, NULL, "\xf0\x9f\x98\x80", &e, &infer)); /* Q6: \U, which compiles */
    CHECK_STR(e, "a + \"\\U0001f600\" + b");
    sy_cel_router *r = NULL;
    sy_cel_value smile[] = {sy_cel_str("x\xf0\x9f\x98\x80y", 6)};
    uint32_t id;
    CHECK_OK(sy_cel_router_new(e, ab, 2, smile, 1, 1, 0, &r));
    sy_cel_value xy[] = {sy_cel_str("x", 1), sy_cel_str("y", 1)};
    CHECK_OK(sy_cel_router_route(r, xy, &id));
    CHECK_EQ_INT(id, 0);
    sy_cel_router_free(&r);
    sy_free(e);
    CHECK_ST(sy_cel_build_expr(ab, 0, NULL, NULL, &e, &infer), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("requires at least one column");
    CHECK_ST(sy_cel_build_expr(ab, 2, &n0, NULL, &e, &infer), SHARDY_EINVAL);
    CHECK_STR(shardy_errmsg(), "num_shards must be >= 1; got 0");
    sy_cel_colspec bad[] = {{"x", "float"}};
    CHECK_ST(sy_cel_build_expr(bad, 1, NULL, NULL, &e, &infer), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("Unsupported CEL column type: 'float' for column 'x'");
    CHECK(e == NULL);
    sy_cel_kind k;
    CHECK_OK(sy_cel_type_parse("uint", "c", &k));
    CHECK_EQ_INT(k, SY_CEL_UINT);
    CHECK_STR(sy_cel_type_name(SY_CEL_BYTES), "bytes");
    CHECK(sy_cel_type_name(SY_CEL_LIST) == NULL);
}

static void test_manifest_glue(void) {
    sy_sharding sh;
    memset(&sh, 0, sizeof sh);
    sh.strategy = SY_STRATEGY_CEL;
    sh.cel_expr = sy_strdup("region");
    CHECK_OK(sy_sharding_add_cel_column(&sh, "region", "string"));
    sy_cel_value toks[] = {sy_cel_str("ap", 2), sy_cel_str("eu", 2), sy_cel_str("us", 2)};
    CHECK_OK(sy_sharding_set_routing_values(&sh, toks, 3));
    CHECK(sh.has_routing_values && sh.n_routing_values == 3 && sh.routing_values[1].kind == SY_SCALAR_STR);
    sy_buf json = SY_BUF_INIT;
    CHECK_OK(sy_sharding_json(&sh, &json));
    CHECK_STR(json.data, "{\"cel_columns\": {\"region\": \"string\"}, \"cel_expr\": \"region\", \"hash_algorithm\": "
                         "\"xxh3_64\", \"routing_values\": [\"ap\", \"eu\", \"us\"], \"strategy\": \"cel\"}");
    sy_buf_free(&json);
    sy_cel_router *r = NULL;
    uint32_t id;
    CHECK_OK(sy_sharding_cel_router(&sh, 3, &r));
    shardy_key k = shardy_key_str("us", 2);
    CHECK_ST(sy_cel_router_route_key(r, &k, &id), SHARDY_EROUTE); /* the column is not named key */
    sy_cel_binding ctx[] = {{"region", sy_cel_str("eu", 2)}};
    CHECK_OK(sy_cel_router_route_named(r, ctx, 1, &id));
    CHECK_EQ_INT(id, 1);
    sy_cel_router_free(&r);
    sy_cel_value ints[] = {sy_cel_uint(18446744073709551615ULL), sy_cel_uint(5), sy_cel_int(-1)};
    CHECK_OK(sy_sharding_set_routing_values(&sh, ints, 3));
    CHECK(sh.routing_values[0].kind == SY_SCALAR_UINT && sh.routing_values[1].kind == SY_SCALAR_INT &&
          sh.routing_values[1].i == 5);
    sy_cel_value bad[] = {sy_cel_bytes("x", 1)};
    CHECK_ST(sy_sharding_set_routing_values(&sh, bad, 1), SHARDY_EINVAL);
    sy_sharding_clear(&sh);
    /* direct mode from a manifest: the seed's key % 16u on an int column cannot be opened */
    sh.strategy = SY_STRATEGY_CEL;
    sh.cel_expr = sy_strdup("key % 16u");
    CHECK_OK(sy_sharding_add_cel_column(&sh, "key", "int"));
    CHECK_ST(sy_sharding_cel_router(&sh, 16, &r), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("write `key % 16` or `uint(key) % 16u`");
    sy_free(sh.cel_expr);
    sh.cel_expr = sy_strdup("key % 16");
    CHECK_OK(sy_sharding_cel_router(&sh, 16, &r));
    k = shardy_key_int(37);
    CHECK_OK(sy_cel_router_route_key(r, &k, &id));
    CHECK_EQ_INT(id, 5);
    sy_cel_router_free(&r);
    sh.strategy = SY_STRATEGY_HASH;
    CHECK_ST(sy_sharding_cel_router(&sh, 16, &r), SHARDY_EINVAL);
    sy_sharding_clear(&sh);
}

/* ---- threads ---------------------------------------------------------------------------------------------------- */

static void *route_many(void *arg) {
    const sy_cel_router *r = arg;
    long bad = 0;
    for (int i = 0; i < 20000; i++) {
        shardy_key k = shardy_key_int(i);
        uint32_t id;
        uint64_t want;
        if (sy_cel_router_route_key(r, &k, &id) || shardy_route_hash(&k, 16, &want, NULL) || id != want) bad++;
    }
    return bad ? arg : NULL;
}

static void test_threads(void) {
    sy_cel_router *r = mk("shard_hash(key) % 16u", "key", "int", NULL, 0, 0, 16);
    REQUIRE(r);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, route_many, r) == 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        CHECK(bad == NULL);
    }
    sy_cel_router_free(&r);
}

/* ---- allocation failures -------------------------------------------------------------------------------------------- */

static void test_alloc_failures(void) {
    const char *expr = "shard_hash(region + ':' + string(tier)) % 8u == 1u ? [1, 2][0] : {'a': 2}['a'] + "
                       "size('x'.matches('^[a-z]+$') ? 'yy' : 'z')";
    int ok = 0;
    for (long n = 0; n < 5000 && !ok; n++) {
        sy_cel_program *p = NULL;
        sy_alloc_fail_after(n);
        shardy_status st = sy_cel_compile(expr, env, NENV, &p);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            ok = 1;
            CHECK_OK(sy_cel_eval(p, args, &scratch, &result));
            CHECK(result.kind == SY_CEL_INT && result.v.i == 1); /* C24: the hash part routes to 1 */
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
            CHECK(p == NULL);
        }
        sy_cel_program_free(&p);
    }
    CHECK(ok);
    /* routers, and evaluation running out of memory */
    ok = 0;
    sy_cel_colspec cols[] = {{"a", "string"}};
    sy_cel_value vals[] = {sy_cel_str("x", 1), sy_cel_str("y", 1)};
    for (long n = 0; n < 5000 && !ok; n++) {
        sy_cel_router *r = NULL;
        sy_alloc_fail_after(n);
        shardy_status st = sy_cel_router_new("a + a", cols, 1, vals, 2, 1, 0, &r);
        sy_alloc_fail_after(-1);
        if (!st) {
            ok = 1;
            char big[4000];
            memset(big, 'q', sizeof big);
            sy_cel_value row = sy_cel_str(big, sizeof big);
            uint32_t id;
            sy_alloc_fail_after(0);
            CHECK_ST(sy_cel_router_route(r, &row, &id), SHARDY_ENOMEM);
            sy_alloc_fail_after(-1);
            CHECK_ST(sy_cel_router_route(r, &row, &id), SHARDY_ENOTFOUND);
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
            CHECK(r == NULL);
        }
        sy_cel_router_free(&r);
    }
    CHECK(ok);
    /* the per-evaluation memory limit */
    sy_cel_program_free(&prog);
    CHECK_OK(sy_cel_compile("size(region + region + region + region)", env, NENV, &prog));
    size_t hn = (size_t)20 << 20;
    char *huge = malloc(hn);
    REQUIRE(huge);
    memset(huge, 'h', hn);
    args[2] = sy_cel_str(huge, hn);
    CHECK_ST(sy_cel_eval(prog, args, &scratch, &result), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("more than 64 MiB");
    free(huge);
    reset_args();
    sy_cel_program_free(&prog);
    sy_cel_scratch_release(&scratch);
    sy_cel_scratch_init(&scratch);
}

static void setup(void) {
    sy_cel_scratch_init(&scratch);
    reset_args();
}

static void teardown(void) {
    sy_cel_program_free(&prog);
    sy_cel_scratch_release(&scratch);
}

TEST_MAIN(setup, test_literals, test_parser, test_checker, test_integers, test_strings, test_regex,
          test_logic_and_errors, test_collections, test_no_allocations, test_vectors_direct, test_vectors_categorical,
          test_vectors_inferred, test_shard_hash_is_hash_routing, test_bindings, test_builders, test_manifest_glue,
          test_threads, test_alloc_failures, teardown)
