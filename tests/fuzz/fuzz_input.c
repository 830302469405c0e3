/* fuzz_input.c — libFuzzer target for the build inputs (JSON Lines and CSV readers).
 * Byte 0 picks the format, key type and value mode; the rest is the file content. Every row must
 * come back as a row or a clean error; a malformed row must not stop the reader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "write/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/shardy-fuzz-input-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    static const char *const cols[] = {"b", "c", "k"};
    sy_input_opts o;
    memset(&o, 0, sizeof o);
    o.format = (data[0] & 1) ? SY_INPUT_CSV : SY_INPUT_JSONL;
    o.key_type = (sy_key_type)(1 + (data[0] >> 1) % 3);
    o.key_col = "k";
    switch ((data[0] >> 3) % 3) {
    case 0: o.value_col = "v"; break;
    case 1: o.value_json_cols = cols, o.n_value_json_cols = 3; break;
    default: break; /* whole row */
    }
    sy_input *in = NULL;
    if (sy_input_open(path, &o, &in) == SHARDY_OK) {
        shardy_key k;
        const void *v;
        size_t vl;
        shardy_status st;
        int r;
        size_t rows = 0;
        while ((r = sy_input_next(in, &k, &v, &vl, &st)) != 0 && rows < 100000) {
            rows++;
            if (r < 0 && st != SHARDY_EFORMAT) break;
            if (r > 0 && vl) (void)((volatile const char *)v)[vl - 1];
        }
        sy_input_close(&in);
    }
    return 0;
}
