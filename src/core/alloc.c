/* alloc.c — allocation wrapper with a failure-injection hook for tests; see alloc.h. */
#include "core/alloc.h"

#include "shardy.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_after = -1;
static atomic_ulong alloc_count = 0;

static int should_fail(void) {
    long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
    if (n < 0) return 0;
    if (n == 0) return 1;
    atomic_fetch_sub_explicit(&fail_after, 1, memory_order_relaxed);
    return 0;
}

void sy_alloc_fail_after(long n) { atomic_store(&fail_after, n); }
unsigned long sy_alloc_count(void) { return atomic_load(&alloc_count); }

void *sy_malloc(size_t n) {
    if (should_fail()) return NULL;
    void *p = malloc(n ? n : 1);
    if (p) atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    return p;
}

void *sy_calloc(size_t count, size_t size) {
    if (should_fail()) return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p) atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    return p;
}

void *sy_realloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q && !p) atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    return q;
}

void sy_free(void *p) { free(p); }

char *sy_strndup(const char *s, size_t n) {
    char *p = sy_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sy_strdup(const char *s) { return sy_strndup(s, strlen(s)); }

char *sy_asprintf(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? sy_malloc((size_t)n + 1) : NULL;
    if (p) vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void shardy_free(void *p) { sy_free(p); }
