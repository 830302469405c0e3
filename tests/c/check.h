/*
 * check.h — the tiny test harness: CHECK* macros print file:line and the values on failure and
 * count failures; TEST_MAIN runs the listed test functions and returns non-zero if any check failed.
 * A failed CHECK does not abort the test function (so one run shows every broken case); use
 * REQUIRE when continuing would crash.
 */
#ifndef SHARDY_TEST_CHECK_H
#define SHARDY_TEST_CHECK_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shardy.h"

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: REQUIRE(%s) failed, leaving test\n", __FILE__, __LINE__, #cond); \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        check_count++;                                                                             \
        if (va_ != vb_) {                                                                          \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b);           \
        check_count++;                                                                             \
        if (va_ != vb_) {                                                                          \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        check_count++;                                                                             \
        if (!sa_ || !sb_ || strcmp(sa_, sb_)) {                                                    \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  got:      %s\n  expected: %s\n", __FILE__, \
                    __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                 \
        }                                                                                          \
    } while (0)

/* Status check: prints shardy_errmsg() when the status is not the expected one. */
#define CHECK_ST(expr, expected)                                                                   \
    do {                                                                                           \
        shardy_status st_ = (expr);                                                                \
        check_count++;                                                                             \
        if (st_ != (expected)) {                                                                   \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d; errmsg: %s\n", __FILE__,     \
                    __LINE__, #expr, (int)st_, shardy_strerror(st_), (int)(expected),              \
                    shardy_errmsg());                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr) CHECK_ST(expr, SHARDY_OK)

/* Checks that the thread's error message contains a substring. */
#define CHECK_ERRMSG_HAS(sub)                                                                      \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!strstr(shardy_errmsg(), (sub))) {                                                     \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: errmsg lacks \"%s\": %s\n", __FILE__, __LINE__, (sub),         \
                    shardy_errmsg());                                                              \
        }                                                                                          \
    } while (0)

/* A fresh, empty scratch directory for this test (under $SHARDY_TEST_TMP or /tmp). Static buffer. */
static inline const char *test_tmpdir(const char *name) {
    static char path[4096];
    const char *root = getenv("SHARDY_TEST_TMP");
    if (!root || !*root) root = "/tmp/shardy-test";
    char cmd[4300];
    snprintf(path, sizeof path, "%s/%s-%d", root, name, (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    return path;
}

#define TEST_MAIN(...)                                                                             \
    int main(void) {                                                                               \
        void (*tests_[])(void) = {__VA_ARGS__};                                                    \
        for (size_t i_ = 0; i_ < sizeof tests_ / sizeof tests_[0]; i_++) tests_[i_]();             \
        printf("%d checks, %d failed\n", check_count, check_failures);                             \
        return check_failures ? 1 : 0;                                                             \
    }

#endif
