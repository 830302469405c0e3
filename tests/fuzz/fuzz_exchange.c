/*
 * fuzz_exchange.c — libFuzzer target for the run / exchange-section reader (write/rowbuf.c): the
 * bytes stage 2 of a distributed build maps from exchange objects that other processes wrote.
 *
 * Input layout: byte 0 picks up to four byte ranges of the rest, which becomes the object file, and
 * how they are read: as exchange sections (sy_rowbuf_add_records: records in any order, with a
 * row count from an independent parse, sometimes off by one) or as sorted runs (sy_rowbuf_add_run,
 * the spill format); the merge then runs over them plus a few in-memory rows.
 * Oracles beyond "no crash, no leak, no UB": a section is accepted exactly when the independent
 * parse finds whole records filling it and the count matches, else SHARDY_EFORMAT naming the file;
 * a merge either ends cleanly with strictly increasing keys (each at most SY_MAX_KEY_BYTES) and
 * never more rows than records given, or fails with SHARDY_EFORMAT naming the object file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "write/rowbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

static int key_cmp(const void *a, size_t an, const void *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whole records filling [p, p + n) exactly: their count, or -1. */
static long count_records(const uint8_t *p, size_t n) {
    long c = 0;
    while (n) {
        if (n < 8) return -1;
        uint64_t kl = le32(p), vl = le32(p + 4);
        if (kl > SY_MAX_KEY_BYTES || vl > SY_MAX_VALUE_BYTES || kl + vl > n - 8) return -1;
        p += 8 + kl + vl;
        n -= 8 + (size_t)(kl + vl);
        c++;
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_exchange.%ld.run", (long)getpid());
    if (size < 1) return 0;
    unsigned ctl = data[0];
    const uint8_t *obj = data + 1;
    size_t n = size - 1;
    FILE *f = fopen(path, "wb");
    ENSURE(f != NULL);
    ENSURE(n == 0 || fwrite(obj, 1, n, f) == n);
    ENSURE(fclose(f) == 0);

    sy_rowbuf b;
    sy_rowbuf_init(&b);
    /* Boundaries: ctl's low 2 bits = number of cuts (0..3); bit 2 = read as sorted runs instead of
     * sections; bit 3 = claim one record too many; the cuts are spread evenly, shifted by ctl's
     * high bits, so ranges start anywhere (page-unaligned, mid-record). */
    unsigned cuts = ctl & 3, as_runs = (ctl >> 2) & 1, miscount = (ctl >> 3) & 1, shift = ctl >> 4;
    uint64_t prev = 0, seq = 100;
    for (unsigned i = 0; i <= cuts; i++) {
        uint64_t end = i == cuts ? n : (n * (i + 1)) / (cuts + 1) + shift;
        if (end > n) end = n;
        if (end < prev) end = prev;
        if (as_runs) {
            ENSURE(sy_rowbuf_add_run(&b, path, prev, end - prev, 0, 0) == SHARDY_OK);
        } else {
            long c = count_records(obj + prev, (size_t)(end - prev));
            uint64_t rows = c < 0 ? 1 : (uint64_t)c + miscount;
            size_t before = b.n;
            shardy_status st = sy_rowbuf_add_records(&b, path, prev, end - prev, rows, seq);
            if (c >= 0 && !miscount) {
                ENSURE(st == SHARDY_OK && b.n == before + (size_t)c);
            } else {
                ENSURE(st == SHARDY_EFORMAT && b.n == before);
                ENSURE(strstr(shardy_errmsg(), path) != NULL);
            }
            seq += rows;
        }
        prev = end;
    }
    static const char *mem_keys[] = {"", "a", "key-0001", "\xff\xff"};
    for (unsigned i = 0; i < 4; i++)
        ENSURE(sy_rowbuf_add(&b, mem_keys[i], (uint32_t)strlen(mem_keys[i]), "v", 1, seq + i) == SHARDY_OK);

    sy_rowmerge *m = NULL;
    shardy_status st = sy_rowmerge_open(&b, &m);
    if (st == SHARDY_OK) {
        const void *k, *v;
        size_t kl, vl;
        unsigned char last[64];
        size_t lastl = 0, rows = 0;
        int rc, have = 0;
        unsigned char *big = NULL;
        while ((rc = sy_rowmerge_next(m, &k, &kl, &v, &vl, &st)) == 1) {
            ENSURE(kl <= SY_MAX_KEY_BYTES && vl <= SY_MAX_VALUE_BYTES);
            if (have) ENSURE(key_cmp(big ? big : last, lastl, k, kl) < 0);
            free(big);
            big = NULL;
            if (kl > sizeof last) {
                big = malloc(kl);
                ENSURE(big != NULL);
                memcpy(big, k, kl);
            } else if (kl) {
                memcpy(last, k, kl);
            }
            lastl = kl;
            have = 1;
            rows++;
        }
        free(big);
        ENSURE(rows <= 4 + n / 8); /* every run record takes at least 8 bytes */
        if (rc < 0) {
            ENSURE(st == SHARDY_EFORMAT);
            ENSURE(strstr(shardy_errmsg(), path) != NULL);
        }
        sy_rowmerge_close(&m);
    } else {
        ENSURE(st == SHARDY_EFORMAT || st == SHARDY_EIO);
        ENSURE(strstr(shardy_errmsg(), path) != NULL);
    }
    sy_rowbuf_free(&b);
    return 0;
}
