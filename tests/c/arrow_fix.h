/*
 * arrow_fix.h — hand-built Arrow C Data Interface batches for the tests, the fuzz target and the
 * json_cols tool: a struct array with up to AF_MAX_COLS children whose buffers the caller owns.
 */
#ifndef SHARDY_TEST_ARROW_FIX_H
#define SHARDY_TEST_ARROW_FIX_H

#include <stdint.h>
#include <string.h>

#include "shardy.h"

#define AF_MAX_COLS 32

typedef struct af_col {
    struct ArrowSchema s;
    struct ArrowArray a;
    const void *bufs[3];
} af_col;

typedef struct af_batch {
    struct ArrowSchema s;
    struct ArrowArray a;
    const void *bufs[1];
    struct ArrowSchema *sch[AF_MAX_COLS];
    struct ArrowArray *arr[AF_MAX_COLS];
    af_col cols[AF_MAX_COLS];
} af_batch;

static void af_release_schema(struct ArrowSchema *s) { (void)s; }
static void af_release_array(struct ArrowArray *a) { (void)a; }

/* Empty batch of `length` rows starting at struct offset `offset` (no struct validity). */
static inline void af_init(af_batch *b, int64_t length, int64_t offset) {
    memset(b, 0, sizeof *b);
    b->s.format = "+s";
    b->s.name = "";
    b->s.children = b->sch;
    b->s.release = af_release_schema;
    b->a.length = length;
    b->a.offset = offset;
    b->a.n_buffers = 1;
    b->a.buffers = b->bufs;
    b->a.children = b->arr;
    b->a.release = af_release_array;
}

static inline int af_nbuf(const char *fmt) {
    if (!strcmp(fmt, "n")) return 0;
    if (!strcmp(fmt, "u") || !strcmp(fmt, "U") || !strcmp(fmt, "z") || !strcmp(fmt, "Z")) return 3;
    return 2;
}

/* Adds a child column: `length` elements from child offset `offset`; validity may be NULL
 * (null_count 0), b1 = values or offsets, b2 = data of var-length types. */
static inline af_col *af_add(af_batch *b, const char *name, const char *fmt, int64_t length, int64_t offset,
                             const uint8_t *validity, int64_t null_count, const void *b1, const void *b2) {
    int64_t j = b->s.n_children++;
    b->a.n_children = b->s.n_children;
    af_col *c = &b->cols[j];
    b->sch[j] = &c->s;
    b->arr[j] = &c->a;
    c->s.format = fmt;
    c->s.name = name;
    c->s.flags = ARROW_FLAG_NULLABLE;
    c->s.release = af_release_schema;
    c->bufs[0] = validity;
    c->bufs[1] = b1;
    c->bufs[2] = b2;
    c->a.length = length;
    c->a.offset = offset;
    c->a.null_count = null_count;
    c->a.n_buffers = af_nbuf(fmt);
    c->a.buffers = c->bufs;
    c->a.release = af_release_array;
    return c;
}

static inline void af_set_bit(uint8_t *bm, int64_t i, int v) {
    if (v)
        bm[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
        bm[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

#endif
