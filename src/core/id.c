/* id.c — uuid4 hex identifiers and run id validation; see id.h. */
#include "core/id.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

shardy_status sy_uuid4_hex(char out[33]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sy_err_errno(errno, "getrandom", "(uuid4)");
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
    return SHARDY_OK;
}

shardy_status sy_run_id_check(const char *run_id) {
    if (!run_id) return sy_err(SHARDY_EINVAL, "run_id is missing");
    size_t n = strlen(run_id);
    if (n == 0 || n > 128) return sy_err(SHARDY_EINVAL, "run_id must be 1 to 128 characters, got %zu", n);
    if (!strcmp(run_id, ".") || !strcmp(run_id, ".."))
        return sy_err(SHARDY_EINVAL, "run_id '%s' is not a usable path segment", run_id);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)run_id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-';
        if (!ok)
            return sy_err(SHARDY_EINVAL,
                          "run_id '%.128s' has invalid character 0x%02x at position %zu (allowed: A-Z a-z 0-9 . _ -)",
                          run_id, c, i);
    }
    return SHARDY_OK;
}
