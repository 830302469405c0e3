/*
 * buf.h — growable byte buffer (always NUL-terminated when data != NULL, so text can be used as a
 * C string; the terminator is not counted in len).
 */
#ifndef SY_CORE_BUF_H
#define SY_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sy_buf {
    char *data;
    size_t len;
    size_t cap;
} sy_buf;

#define SY_BUF_INIT {NULL, 0, 0}

shardy_status sy_buf_reserve(sy_buf *b, size_t extra) SY_NODISCARD;
shardy_status sy_buf_append(sy_buf *b, const void *p, size_t n) SY_NODISCARD;
shardy_status sy_buf_puts(sy_buf *b, const char *s) SY_NODISCARD;
shardy_status sy_buf_putc(sy_buf *b, char c) SY_NODISCARD;
shardy_status sy_buf_printf(sy_buf *b, const char *fmt, ...) SY_PRINTF(2, 3) SY_NODISCARD;
void sy_buf_reset(sy_buf *b); /* len = 0, keeps memory */
void sy_buf_free(sy_buf *b);  /* frees memory, back to SY_BUF_INIT */
/* Transfers ownership of the data to the caller (free with sy_free); buffer becomes empty. */
char *sy_buf_take(sy_buf *b);

#endif
