/*
 * alloc.h — the one allocation wrapper of libshardy.
 *
 * All heap memory goes through these functions so tests can count allocations and make the Nth
 * one fail (sy_alloc_fail_after). Failing functions return NULL without setting a message; callers
 * turn NULL into sy_err(SHARDY_ENOMEM, ...) where they know what they were allocating.
 */
#ifndef SY_CORE_ALLOC_H
#define SY_CORE_ALLOC_H

#include <stddef.h>

void *sy_malloc(size_t n);
void *sy_calloc(size_t count, size_t size);
void *sy_realloc(void *p, size_t n);
void sy_free(void *p);
char *sy_strdup(const char *s);
char *sy_strndup(const char *s, size_t n);
/* printf into a fresh allocation; NULL on failure. */
char *sy_asprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Test hook: the next n allocations succeed, then every allocation fails until reset with -1. */
void sy_alloc_fail_after(long n);
/* Number of successful allocations made so far (all threads). */
unsigned long sy_alloc_count(void);

#endif
