/* fuzz_arrow.c — libFuzzer target for the Arrow batch kernels. The input describes a structurally
 * valid batch (column formats, struct and child offsets, validity bitmaps, values, string
 * lengths); every column is routed with shardy_arrow_route_hash and each row must land on the same
 * shard as shardy_route_hash of the value read straight from the buffers (or the call must fail
 * cleanly at a null / out-of-range row). CEL routing, binary_col and json_cols run on the same batch
 * and must not crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../c/arrow_fix.h"
#include "write/arrow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct src {
    const uint8_t *p;
    size_t n;
} src;

static uint8_t take(src *s) {
    if (!s->n) return 0;
    s->n--;
    return *s->p++;
}

static const char *const fmts[] = {"c", "s", "i", "l", "C", "S", "I", "L", "b", "f", "g",
                                   "u", "U", "z", "Z", "n", "tsu:", "e"};
#define NFMT (sizeof fmts / sizeof fmts[0])
#define MAXC 4
#define MAXR 64

static size_t width(char f) {
    switch (f) {
    case 'c': case 'C': return 1;
    case 's': case 'S': case 'e': return 2;
    case 'i': case 'I': case 'f': return 4;
    default: return 8;
    }
}

static shardy_status sink(void *ctx, int64_t row, const shardy_key *key, const void *value, size_t len) {
    (void)row;
    (void)key;
    size_t *sum = ctx;
    if (len) *sum += ((const unsigned char *)value)[len - 1];
    return SHARDY_OK;
}

/* The scalar key of element e of column c, or -1 for null, -2 for a key HASH routing refuses. */
static int scalar_key(const af_col *c, const uint8_t *svalid, int64_t sbit, int64_t e, shardy_key *k) {
    const char f = c->s.format[0];
    const uint8_t *valid = c->a.null_count ? (const uint8_t *)c->bufs[0] : NULL;
    if (f == 'n' || (valid && !((valid[e >> 3] >> (e & 7)) & 1)) || (svalid && !((svalid[sbit >> 3] >> (sbit & 7)) & 1)))
        return -1;
    const void *v = c->bufs[1];
    switch (f) {
    case 'c': *k = shardy_key_int(((const int8_t *)v)[e]); return 0;
    case 's': *k = shardy_key_int(((const int16_t *)v)[e]); return 0;
    case 'i': *k = shardy_key_int(((const int32_t *)v)[e]); return 0;
    case 'l': *k = shardy_key_int(((const int64_t *)v)[e]); return 0;
    case 'C': *k = shardy_key_int(((const uint8_t *)v)[e]); return 0;
    case 'S': *k = shardy_key_int(((const uint16_t *)v)[e]); return 0;
    case 'I': *k = shardy_key_int(((const uint32_t *)v)[e]); return 0;
    case 'L': *k = shardy_key_uint(((const uint64_t *)v)[e]); return ((const uint64_t *)v)[e] > INT64_MAX ? -2 : 0;
    case 'u': case 'z': {
        const int32_t *o = v;
        *k = f == 'u' ? shardy_key_str((const char *)c->bufs[2] + o[e], (size_t)(o[e + 1] - o[e]))
                      : shardy_key_bytes((const char *)c->bufs[2] + o[e], (size_t)(o[e + 1] - o[e]));
        return 0;
    }
    case 'U': case 'Z': {
        const int64_t *o = v;
        *k = f == 'U' ? shardy_key_str((const char *)c->bufs[2] + o[e], (size_t)(o[e + 1] - o[e]))
                      : shardy_key_bytes((const char *)c->bufs[2] + o[e], (size_t)(o[e + 1] - o[e]));
        return 0;
    }
    default: return -2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    src s = {data, size};
    static af_batch b;
    static uint8_t valid[MAXC][(3 * MAXR) / 8 + 2], svalid[(2 * MAXR) / 8 + 2];
    static uint8_t vals[MAXC][3 * MAXR * 8 + 8];
    static char bytes[MAXC][3 * MAXR * 16];
    static const char *names[] = {"a", "key", "c", "d"};
    int64_t rows = take(&s) % (MAXR + 1), soff = take(&s) % MAXR;
    uint64_t num_dbs = 1 + (take(&s) | (uint64_t)take(&s) << 8);
    int ncols = 1 + take(&s) % MAXC;
    af_init(&b, rows, soff);
    if (take(&s) & 1) {
        for (size_t i = 0; i < sizeof svalid; i++) svalid[i] = take(&s) | 0x0F;
        b.bufs[0] = svalid;
        b.a.null_count = -1;
    }
    for (int j = 0; j < ncols; j++) {
        const char *f = fmts[take(&s) % NFMT];
        int64_t coff = take(&s) % MAXR, total = coff + soff + rows;
        int has_valid = take(&s) & 1;
        for (size_t i = 0; i < sizeof valid[j]; i++) valid[j][i] = has_valid ? take(&s) | 0x11 : 0xFF;
        int var = af_nbuf(f) == 3, large = f[0] == 'U' || f[0] == 'Z';
        if (var) {
            int64_t pos = 0;
            for (int64_t e = 0; e <= total; e++) {
                if (e) pos += take(&s) % 16;
                if (large)
                    ((int64_t *)vals[j])[e] = pos;
                else
                    ((int32_t *)vals[j])[e] = (int32_t)pos;
            }
            for (int64_t i = 0; i < pos; i++) bytes[j][i] = (char)take(&s);
        } else {
            size_t nb = (size_t)total * width(f[0]);
            for (size_t i = 0; i < nb; i++) vals[j][i] = take(&s);
        }
        af_add(&b, names[j], f, total - coff, coff, has_valid ? valid[j] : NULL, has_valid ? -1 : 0, vals[j], bytes[j]);
    }

    int32_t out[MAXR];
    for (int j = 0; j < ncols; j++) {
        const af_col *c = &b.cols[j];
        shardy_status st = shardy_arrow_route_hash(&b.a, &b.s, names[j], num_dbs, out);
        const char f = c->s.format[0];
        int routable = !c->s.format[1] && strchr("csilCSILuUzZ", f);
        int64_t bad = rows;
        for (int64_t i = 0; i < rows; i++) {
            shardy_key k;
            if (scalar_key(c, b.bufs[0], soff + i, c->a.offset + soff + i, &k) < 0) {
                bad = i;
                break;
            }
            uint64_t db;
            if (shardy_route_hash(&k, num_dbs, &db, NULL)) abort();
            if (st == SHARDY_OK || routable) /* rows before the failing one are routed too */
                if ((uint64_t)out[i] != db) abort();
        }
        if ((st == SHARDY_OK) != (bad == rows && routable)) abort();
    }

    shardy_build_opts o;
    shardy_build_opts_init(&o);
    const char *cols[] = {"key:int"};
    o.cel_expr = "shard_hash(key) % 7u";
    o.cel_columns = cols;
    o.n_cel_columns = 1;
    shardy_cel_router *r = NULL;
    if (shardy_cel_router_open(&o, &r)) abort();
    if (shardy_arrow_route_cel(r, &b.a, &b.s, "a", out) == SHARDY_OK) {
        int32_t ref[MAXR];
        shardy_status st = shardy_arrow_route_hash(&b.a, &b.s, ncols > 1 ? "key" : "a", 7, ref);
        if (st && rows) abort();
        for (int64_t i = 0; i < rows; i++)
            if (out[i] != ref[i]) abort();
    }
    shardy_cel_router_close(&r);

    size_t sum = 0;
    const char *bc[] = {"a"};
    shardy_value_spec bin = {SHARDY_VALUE_BINARY_COL, bc, 1, NULL};
    shardy_value_spec all = {SHARDY_VALUE_JSON_COLS, NULL, 0, "d"};
    (void)sy_arrow_rows(&b.a, &b.s, "a", &bin, sink, &sum);
    (void)sy_arrow_rows(&b.a, &b.s, ncols > 1 ? "key" : "a", &all, sink, &sum);
    return 0;
}
