/*
 * error.h — status codes and the thread-local error message.
 *
 * Every failing internal function calls sy_err() exactly once at the point where it knows what went
 * wrong, and returns its status. Callers that add context (a URL, a row number) use sy_err_wrap(),
 * which prefixes the existing message: "manifest file:///x/manifest: table shards has no column db_bytes".
 * The message lives in a thread-local buffer; it is never freed and never shared between threads.
 */
#ifndef SY_CORE_ERROR_H
#define SY_CORE_ERROR_H

#include "shardy.h"

#if defined(__GNUC__)
#define SY_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SY_NODISCARD __attribute__((warn_unused_result))
#else
#define SY_PRINTF(a, b)
#define SY_NODISCARD
#endif

#define SY_ERRMSG_MAX 1024

/* Sets the calling thread's message (printf-style) and returns st. */
shardy_status sy_err(shardy_status st, const char *fmt, ...) SY_PRINTF(2, 3);

/* Prefixes the current message with "<prefix>: " and returns st. */
shardy_status sy_err_wrap(shardy_status st, const char *fmt, ...) SY_PRINTF(2, 3);

/* Maps an errno value to a status (ENOENT → SHARDY_ENOTFOUND, ENOMEM → SHARDY_ENOMEM, else EIO). */
shardy_status sy_status_from_errno(int err);

/* Sets "<what> <path>: <strerror(err)>" and returns the mapped status. */
shardy_status sy_err_errno(int err, const char *what, const char *path);

/* Clears the calling thread's message. */
void sy_err_clear(void);

/* Jump to the function's single cleanup label when a call fails: TRY(st = f(...)); */
#define SY_TRY(expr)                                                                               \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != SHARDY_OK) goto done;                                                            \
    } while (0)

#endif
