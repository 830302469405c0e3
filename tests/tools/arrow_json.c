/*
 * arrow_json.c — test tool (not a test itself): builds an Arrow batch from a line protocol on
 * stdin and prints, per row, the hex of the value sy_arrow_rows encodes (json_cols / binary_col).
 * tests/cli/test_arrow_json.sh drives it from tests/tools/arrow_json_check.py, which computes the
 * expected bytes with Python's own json.dumps.
 *
 * Protocol (every name and string as hex of its UTF-8 bytes, "-" = null / none):
 *   batch <rows> <struct offset> <child offset>
 *   col <name> <format>            followed by <rows> lines, one value each:
 *                                  ints decimal, floats float.hex(), bools 0/1, strings hex
 *   spec json <skip|-> [<col>...]  (no col → every column)   |   spec binary <col>
 *   key <col>
 * Padding rows (struct offset + child offset of them) precede each column's data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../c/arrow_fix.h"
#include "write/arrow.h"

#define MAX_LINE (1 << 20)

/* Everything the batch points into, freed at exit (the tool also runs under LeakSanitizer). */
static void *owned[4 * AF_MAX_COLS + 8];
static size_t nowned;
static void *keep(void *p) {
    if (nowned < sizeof owned / sizeof owned[0]) owned[nowned++] = p;
    return p;
}

static char *unhex(const char *h, size_t *n) {
    size_t len = strlen(h) / 2;
    char *o = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        o[i] = (char)v;
    }
    o[len] = '\0';
    if (n) *n = len;
    return o;
}

static shardy_status print_row(void *ctx, int64_t row, const shardy_key *key, const void *value, size_t len) {
    (void)ctx;
    (void)row;
    (void)key;
    for (size_t i = 0; i < len; i++) printf("%02x", ((const unsigned char *)value)[i]);
    printf("\n");
    return SHARDY_OK;
}

static size_t elem_size(char f) {
    switch (f) {
    case 'c': case 'C': return 1;
    case 's': case 'S': return 2;
    case 'i': case 'I': case 'f': return 4;
    default: return 8;
    }
}

int main(void) {
    static char line[MAX_LINE];
    static af_batch b;
    long long rows = 0, soff = 0, coff = 0;
    const char *specs[AF_MAX_COLS];
    size_t nspec = 0;
    char *skip = NULL, *key = NULL;
    int binary = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "batch ", 6)) {
            sscanf(line + 6, "%lld %lld %lld", &rows, &soff, &coff);
            af_init(&b, rows, soff);
        } else if (!strncmp(line, "col ", 4)) {
            char nh[512], fmt[8];
            sscanf(line + 4, "%511s %7s", nh, fmt);
            char *name = keep(unhex(nh, NULL));
            char *f = keep(strdup(fmt));
            int64_t total = soff + coff + rows;
            uint8_t *valid = keep(calloc((size_t)total / 8 + 1, 1));
            int var = af_nbuf(f) == 3, large = f[0] == 'U' || f[0] == 'Z';
            void *vals = keep(calloc((size_t)total + 1, var ? (large ? 8 : 4) : elem_size(f[0])));
            char *data = NULL;
            size_t dlen = 0;
            int64_t nulls = 0;
            for (int64_t i = 0; i < total; i++) {
                if (i >= soff + coff && !fgets(line, sizeof line, stdin)) return 2;
                line[strcspn(line, "\n")] = '\0';
                int null = i < soff + coff ? (i % 2) : !strcmp(line, "-");
                if (i < soff + coff) strcpy(line, var ? "7a7a" : "1");
                if (null) nulls++;
                af_set_bit(valid, i, !null);
                if (var) {
                    size_t n = 0;
                    char *s = null ? strdup("") : unhex(line, &n);
                    data = realloc(data, dlen + n + 1);
                    memcpy(data + dlen, s, n);
                    if (large) {
                        ((int64_t *)vals)[i] = (int64_t)dlen;
                        ((int64_t *)vals)[i + 1] = (int64_t)(dlen + n);
                    } else {
                        ((int32_t *)vals)[i] = (int32_t)dlen;
                        ((int32_t *)vals)[i + 1] = (int32_t)(dlen + n);
                    }
                    dlen += n;
                    free(s);
                    continue;
                }
                if (null) continue;
                switch (f[0]) {
                case 'c': ((int8_t *)vals)[i] = (int8_t)strtoll(line, NULL, 10); break;
                case 's': ((int16_t *)vals)[i] = (int16_t)strtoll(line, NULL, 10); break;
                case 'i': ((int32_t *)vals)[i] = (int32_t)strtoll(line, NULL, 10); break;
                case 'l': ((int64_t *)vals)[i] = strtoll(line, NULL, 10); break;
                case 'C': ((uint8_t *)vals)[i] = (uint8_t)strtoull(line, NULL, 10); break;
                case 'S': ((uint16_t *)vals)[i] = (uint16_t)strtoull(line, NULL, 10); break;
                case 'I': ((uint32_t *)vals)[i] = (uint32_t)strtoull(line, NULL, 10); break;
                case 'L': ((uint64_t *)vals)[i] = strtoull(line, NULL, 10); break;
                case 'f': ((float *)vals)[i] = (float)strtod(line, NULL); break;
                case 'g': ((double *)vals)[i] = strtod(line, NULL); break;
                case 'b': af_set_bit(vals, i, line[0] == '1'); break;
                default: break;
                }
            }
            /* the child's elements start at coff; the struct's offset adds soff */
            keep(data);
            af_add(&b, name, f, total - coff, coff, f[0] == 'n' ? NULL : valid, f[0] == 'n' ? total - coff : nulls,
                   vals, data ? data : "");
        } else if (!strncmp(line, "spec json ", 10)) {
            char *tok = strtok(line + 10, " ");
            skip = strcmp(tok, "-") ? keep(unhex(tok, NULL)) : NULL;
            while ((tok = strtok(NULL, " "))) specs[nspec++] = keep(unhex(tok, NULL));
        } else if (!strncmp(line, "spec binary ", 12)) {
            binary = 1;
            specs[nspec++] = keep(unhex(line + 12, NULL));
        } else if (!strncmp(line, "key ", 4)) {
            key = keep(unhex(line + 4, NULL));
        }
    }
    shardy_value_spec spec = {binary ? SHARDY_VALUE_BINARY_COL : SHARDY_VALUE_JSON_COLS, specs, nspec, skip};
    shardy_status st = sy_arrow_rows(&b.a, &b.s, key, &spec, print_row, NULL);
    for (size_t i = 0; i < nowned; i++) free(owned[i]);
    if (st) {
        fprintf(stderr, "arrow_json: %s\n", shardy_errmsg());
        return 1;
    }
    return 0;
}
