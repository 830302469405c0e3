/*
 * fuzz_cel.c — libFuzzer target for the CEL compiler (lexer, parser, checker, code generation and
 * constant folding) and, for every expression that compiles, the evaluator.
 *
 * The input is the expression text (any bytes; invalid UTF-8 must be refused cleanly). Each input
 * is compiled twice, with type checking against a fixed environment of all six column types plus
 * a dyn variable, and without type checking (SY_CEL_NO_CHECK), and programs are evaluated with two
 * different argument sets. Oracles beyond "no crash, no leak, no UB, no hang, bounded memory":
 *   - status and out-pointer agree; compile failures are SHARDY_EINVAL with a positioned message
 *     ("CEL compile error at L:C: ...") and a caret line, or SHARDY_ENOMEM;
 *   - evaluation returns OK, SHARDY_EROUTE (error value in the result) or SHARDY_ENOMEM, and the
 *     result kind matches the static result kind whenever that is not dyn;
 *   - evaluating twice with the same arguments gives equal results (determinism).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cel/cel.h"
#include "core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

static const sy_cel_var vars[] = {{"key", SY_CEL_INT, 0, 0},    {"ukey", SY_CEL_UINT, 0, 0},
                                  {"region", SY_CEL_STRING, 0, 0}, {"tier", SY_CEL_INT, 0, 0},
                                  {"flag", SY_CEL_BOOL, 0, 0},  {"score", SY_CEL_DOUBLE, 0, 0},
                                  {"raw", SY_CEL_BYTES, 0, 0},  {"any", SY_CEL_DYN, 0, 0}};
#define NVARS (sizeof vars / sizeof vars[0])

static void check_eval(const sy_cel_program *p, const sy_cel_value *args, sy_cel_scratch *s) {
    sy_cel_value r1, r2;
    shardy_status st = sy_cel_eval(p, args, s, &r1);
    ENSURE(st == SHARDY_OK || st == SHARDY_EROUTE || st == SHARDY_ENOMEM);
    if (st == SHARDY_EROUTE) ENSURE(r1.kind == SY_CEL_ERROR && !strncmp(shardy_errmsg(), "CEL evaluation error: ", 22));
    if (st != SHARDY_OK) return;
    sy_cel_kind k = sy_cel_program_result_kind(p);
    ENSURE(r1.kind != SY_CEL_ERROR && r1.kind != SY_CEL_UNSET);
    if (k != SY_CEL_DYN) ENSURE(r1.kind == k);
    /* The first result may point into the scratch, which the second evaluation reuses: compare
     * only scalars, then a second scratch-free property (kind) for the rest. */
    sy_cel_kind k1 = r1.kind;
    int scalar = k1 == SY_CEL_BOOL || k1 == SY_CEL_INT || k1 == SY_CEL_UINT || k1 == SY_CEL_DOUBLE;
    sy_cel_value copy = r1;
    ENSURE(sy_cel_eval(p, args, s, &r2) == SHARDY_OK);
    ENSURE(r2.kind == k1);
    if (scalar) ENSURE(sy_cel_value_equal(&copy, &r2) || (k1 == SY_CEL_DOUBLE && copy.v.d != copy.v.d));
}

static void one(const char *text, size_t size, unsigned flags, const sy_cel_value *a1, const sy_cel_value *a2,
                sy_cel_scratch *s) {
    sy_cel_program *p = NULL;
    shardy_status st = sy_cel_compile_ex(text, size, vars, NVARS, flags, &p);
    ENSURE((st == SHARDY_OK) == (p != NULL));
    if (st != SHARDY_OK) {
        ENSURE(st == SHARDY_EINVAL || st == SHARDY_ENOMEM);
        if (st == SHARDY_EINVAL) {
            const char *m = shardy_errmsg();
            ENSURE(!strncmp(m, "CEL compile error at ", 21));
            ENSURE(strstr(m, "\n | ") && strchr(m, '^'));
        }
        return;
    }
    ENSURE(sy_cel_program_nvars(p) == NVARS);
    check_eval(p, a1, s);
    check_eval(p, a2, s);
    sy_cel_program_free(&p);
    ENSURE(p == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    sy_cel_value a1[NVARS] = {sy_cel_int(42),     sy_cel_uint(7),       sy_cel_str("us-west", 7), sy_cel_int(3),
                              sy_cel_bool(1),     sy_cel_double(1.5),   sy_cel_bytes("\0\xff", 2), sy_cel_str("x", 1)};
    sy_cel_value a2[NVARS] = {sy_cel_int(INT64_MIN), sy_cel_uint(UINT64_MAX), sy_cel_str("", 0), sy_cel_int(-1),
                              sy_cel_bool(0),        sy_cel_double(-0.0),     sy_cel_bytes("", 0), sy_cel_null()};
    sy_cel_scratch s;
    sy_cel_scratch_init(&s);
    one(text, size, 0, a1, a2, &s);
    one(text, size, SY_CEL_NO_CHECK, a1, a2, &s);
    sy_cel_scratch_release(&s);
    return 0;
}
