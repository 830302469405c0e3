/* buf.c — growable byte buffer; see buf.h. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

shardy_status sy_buf_reserve(sy_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1) return sy_err(SHARDY_ENOMEM, "buffer size overflow");
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return SHARDY_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = sy_realloc(b->data, cap);
    if (!p) return sy_err(SHARDY_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return SHARDY_OK;
}

shardy_status sy_buf_append(sy_buf *b, const void *p, size_t n) {
    shardy_status st = sy_buf_reserve(b, n);
    if (st) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SHARDY_OK;
}

shardy_status sy_buf_puts(sy_buf *b, const char *s) { return sy_buf_append(b, s, strlen(s)); }

shardy_status sy_buf_putc(sy_buf *b, char c) { return sy_buf_append(b, &c, 1); }

shardy_status sy_buf_printf(sy_buf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    shardy_status st = n < 0 ? sy_err(SHARDY_EINTERNAL, "bad format string") : sy_buf_reserve(b, (size_t)n);
    if (st == SHARDY_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return st;
}

void sy_buf_reset(sy_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void sy_buf_free(sy_buf *b) {
    sy_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *sy_buf_take(sy_buf *b) {
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
