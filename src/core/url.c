/* url.c — URL schemes, normalisation and joining; see url.h. */
#include "core/url.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"

shardy_status sy_url_scheme(const char *url, sy_scheme *out) {
    if (!strncmp(url, "file://", 7)) *out = SY_SCHEME_FILE;
    else if (!strncmp(url, "s3://", 5)) *out = SY_SCHEME_S3;
    else if (!strncmp(url, "mem://", 6)) *out = SY_SCHEME_MEM;
    else return sy_err(SHARDY_EINVAL, "'%.200s' is not a supported URL (use file://, s3:// or a local path)", url);
    return SHARDY_OK;
}

const char *sy_url_file_path(const char *url) { return strncmp(url, "file://", 7) ? NULL : url + 7; }

/* Folds "." and ".." segments and duplicate slashes of an absolute path, in place. */
static void fold_path(char *p) {
    char *out = p; /* p[0] == '/' */
    const char *in = p;
    while (*in) {
        while (*in == '/') in++;
        const char *seg = in;
        while (*in && *in != '/') in++;
        size_t n = (size_t)(in - seg);
        if (n == 0 || (n == 1 && seg[0] == '.')) continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > p && *--out != '/') {
            }
            continue;
        }
        *out++ = '/';
        memmove(out, seg, n);
        out += n;
    }
    if (out == p) *out++ = '/';
    *out = '\0';
}

shardy_status sy_url_normalize(const char *in, char **out) {
    *out = NULL;
    if (!in || !*in) return sy_err(SHARDY_EINVAL, "empty location; give a local path, file://, or s3:// URL");
    if (strstr(in, "://")) {
        sy_scheme s;
        shardy_status st = sy_url_scheme(in, &s);
        if (st) return st;
        if (s == SY_SCHEME_FILE && in[7] != '/')
            return sy_err(SHARDY_EINVAL, "'%.200s': file:// URLs need an absolute path (file:///dir)", in);
        if (s == SY_SCHEME_S3 && (in[5] == '\0' || in[5] == '/'))
            return sy_err(SHARDY_EINVAL, "'%.200s': s3:// URL has no bucket", in);
        *out = sy_strdup(in);
        return *out ? SHARDY_OK : sy_err(SHARDY_ENOMEM, "out of memory");
    }
    sy_buf b = SY_BUF_INIT;
    shardy_status st = sy_buf_puts(&b, "file://");
    if (!st && in[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) {
            sy_buf_free(&b);
            return sy_err_errno(errno, "getcwd for relative path", in);
        }
        st = sy_buf_puts(&b, cwd);
        if (!st) st = sy_buf_putc(&b, '/');
    }
    if (!st) st = sy_buf_puts(&b, in);
    if (st) {
        sy_buf_free(&b);
        return st;
    }
    fold_path(b.data + 7);
    *out = sy_buf_take(&b);
    return SHARDY_OK;
}

char *sy_url_join(const char *base, const char *const *parts, size_t nparts) {
    sy_buf b = SY_BUF_INIT;
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') blen--;
    /* Keep "scheme://" intact when the base is only a scheme root such as "file:///". */
    const char *sep = strstr(base, "://");
    if (sep) {
        size_t root = (size_t)(sep - base) + 3;
        if (base[root] == '/') root++; /* file:/// keeps its leading '/' */
        if (blen < root) blen = root;
    }
    shardy_status st = sy_buf_append(&b, base, blen);
    for (size_t i = 0; i < nparts && !st; i++) {
        const char *p = parts[i];
        if (!p) continue;
        size_t n = strlen(p);
        while (n && *p == '/') p++, n--;
        while (n && p[n - 1] == '/') n--;
        if (!n) continue;
        if (b.len == 0 || b.data[b.len - 1] != '/') st = sy_buf_putc(&b, '/');
        if (!st) st = sy_buf_append(&b, p, n);
    }
    if (st) {
        sy_buf_free(&b);
        return NULL;
    }
    return sy_buf_take(&b);
}
