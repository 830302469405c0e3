/* localfs.c — mkdir -p, rm -rf and range copies for local scratch files; see localfs.h. */
#define _GNU_SOURCE /* nftw, copy_file_range */
#include "core/localfs.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

shardy_status sy_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return sy_err(SHARDY_EINVAL, "directory path is empty or too long: %.200s", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return sy_err_errno(errno, "cannot create directory", buf);
        buf[i] = c;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) return sy_err_errno(errno, "cannot create directory", path);
    if (!S_ISDIR(sb.st_mode)) return sy_err_errno(ENOTDIR, "cannot create directory", path);
    return SHARDY_OK;
}

static _Thread_local int rm_first_errno;
static _Thread_local char rm_first_path[1024];

static int rm_one(const char *p, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    int rc = (type == FTW_DP || type == FTW_D) ? rmdir(p) : unlink(p);
    if (rc != 0 && errno != ENOENT && !rm_first_errno) {
        rm_first_errno = errno;
        snprintf(rm_first_path, sizeof rm_first_path, "%s", p);
    }
    return 0; /* keep going */
}

shardy_status sy_rmtree(const char *path) {
    struct stat sb;
    if (!path || !*path || lstat(path, &sb) != 0) return SHARDY_OK;
    rm_first_errno = 0;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && !rm_first_errno) {
        rm_first_errno = errno;
        snprintf(rm_first_path, sizeof rm_first_path, "%s", path);
    }
    return rm_first_errno ? sy_err_errno(rm_first_errno, "cannot remove", rm_first_path) : SHARDY_OK;
}

#define COPY_BUF ((size_t)1 << 20)
#define COPY_CALL ((size_t)1 << 30) /* per copy_file_range call */

static shardy_status copy_fallback(int in, loff_t at, int out, uint64_t len, const char *path) {
    unsigned char *buf = sy_malloc(COPY_BUF);
    shardy_status st = SHARDY_OK;
    if (!buf) return sy_err(SHARDY_ENOMEM, "out of memory copying into %s", path);
    while (len > 0 && !st) {
        ssize_t n = pread(in, buf, len < COPY_BUF ? (size_t)len : COPY_BUF, at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) st = sy_err_errno(errno, "cannot read the source of", path);
        else if (n == 0) st = sy_err(SHARDY_EIO, "the source of %s ends %llu bytes early", path, (unsigned long long)len);
        for (ssize_t done = 0; !st && done < n;) {
            ssize_t put = write(out, buf + done, (size_t)(n - done));
            if (put < 0 && errno == EINTR) continue;
            if (put < 0) st = sy_err_errno(errno, "cannot write", path);
            else done += put;
        }
        if (!st) {
            at += n;
            len -= (uint64_t)n;
        }
    }
    sy_free(buf);
    return st;
}

shardy_status sy_copy_range(int in, uint64_t off, int out, uint64_t len, const char *path, int *fallback) {
    loff_t at = (loff_t)off;
    while (len > 0 && !*fallback) {
        ssize_t n = copy_file_range(in, &at, out, NULL, len < COPY_CALL ? (size_t)len : COPY_CALL, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == EPERM) {
                *fallback = 1; /* at is unchanged by a failed call */
                break;
            }
            return sy_err_errno(errno, "cannot copy into", path);
        }
        if (n == 0) break; /* some file systems report 0 early: let read(2) decide */
        len -= (uint64_t)n;
    }
    return len ? copy_fallback(in, at, out, len, path) : SHARDY_OK;
}
