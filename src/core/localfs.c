/* localfs.c — mkdir -p and rm -rf for local scratch directories; see localfs.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "core/localfs.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
