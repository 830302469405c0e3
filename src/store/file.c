/*
 * file.c — the file:// object-store backend (the embedded default) and the local atomic-file
 * primitive (sy_atomic_file_*) that file:// puts and every backend's get_file use.
 *
 * Owns: the mapping of object URLs onto a directory tree. "file://" + absolute path is the object;
 * directories only hold keys (they appear and disappear as needed; see store.h for how listings
 * treat them).
 *
 * Invariants:
 *   - An object is replaced only by rename(2) of a complete, fsynced temp file created in the same
 *     directory ("<dir>/.shardy-tmp-<16 hex>", opened O_EXCL), followed by an fsync of the
 *     directory. Readers see the old bytes or the new bytes, never a mix.
 *   - Temp files are never listed and are removed on every failure path.
 *   - Listings never follow symlinked directories (no loops), treat symlinks to regular files as
 *     objects, and come out sorted by strcmp of the full URL: a directory "d" is visited in the
 *     position of "d/" among its siblings, which makes a depth-first walk globally sorted.
 *   - delete unlinks only the file; parent directories are left alone (a concurrent put may be
 *     about to use them). delete_prefix's prune step removes directories left empty within the
 *     prefix, with rmdir(2) only, so it can never remove anything that still has content.
 *   - No mutable state is shared between calls: the backend is thread-safe without locks. A put
 *     racing with a prune retries the parent-directory creation a bounded number of times.
 *
 * Failure behaviour: every message is "<op> <url>: <step>: <OS text>" (for example
 * "put file:///x/_CURRENT: rename: Permission denied"); the status comes from
 * sy_status_from_errno, except that on the write path ENOENT/ENOTDIR become SHARDY_EIO ("not
 * found" would be misleading for a put into a tree with a file where a directory should be).
 * A missing object is SHARDY_ENOTFOUND; a directory is not an object (SHARDY_ENOTFOUND too).
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* copy_file_range, sendfile */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/sendfile.h>
#endif

#include "core/alloc.h"
#include "store/store.h"

#define TMP_PREFIX_LEN (sizeof SY_STORE_TMP_PREFIX - 1)
#define TMP_SUFFIX_LEN 16
#define CREATE_TRIES 64                   /* temp-name collisions or racing prunes */
#define COPY_CHUNK ((size_t)1 << 30)      /* per copy_file_range/sendfile call */
#define RW_BUF_SIZE ((size_t)256 << 10)   /* read/write fallback buffer */
#define OFF_MAX_U64 ((uint64_t)(sizeof(off_t) >= 8 ? INT64_MAX : INT32_MAX))

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */

static const char *errtext(int err, char *buf, size_t n) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(err, buf, n);
#else
    if (strerror_r(err, buf, n) != 0) snprintf(buf, n, "errno %d", err);
    return buf;
#endif
}

/* Sets "<ctx>: <step>: <OS text>" and returns the status for err (see the header comment). */
static shardy_status os_fail(int err, int writing, const char *ctx, const char *step) {
    char tb[256];
    shardy_status st = sy_status_from_errno(err);
    if (writing && st == SHARDY_ENOTFOUND) st = SHARDY_EIO;
    return sy_err(st, "%s: %s: %s", ctx, step, errtext(err, tb, sizeof tb));
}

/* Same with a path in the step: "<ctx>: <step> <path>: <OS text>". */
static shardy_status os_fail_path(int err, int writing, const char *ctx, const char *step,
                                  const char *path) {
    char what[SY_ERRMSG_MAX];
    snprintf(what, sizeof what, "%s %s", step, path);
    return os_fail(err, writing, ctx, what);
}

/* Absolute path of a file:// URL, or SHARDY_EINVAL. */
static shardy_status url_path(const char *ctx, const char *url, const char **path) {
    const char *p = sy_url_file_path(url);
    if (!p || p[0] != '/')
        return sy_err(SHARDY_EINVAL, "%s: file:// URLs need an absolute path (file:///dir/name)", ctx);
    *path = p;
    return SHARDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Local atomic files                                                                          */

/* Length of the directory part of path including its last '/', 0 for a bare name. */
static size_t dir_len(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* A seed that differs between processes, threads (stack addresses) and calls (clock). Collisions
 * are harmless: the temp file is opened with O_EXCL and another name is tried. */
static uint64_t tmp_seed(const void *salt) {
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    x ^= (uint64_t)getpid() << 40;
    x ^= (uint64_t)(uintptr_t)salt;
    x ^= (uint64_t)(uintptr_t)&ts << 7;
    return mix64(x);
}

/* mkdir -p of dir[0..len) in place (dir is writable; its bytes are restored; len >= 1). Existing
 * directories are fine; a component that exists as something else fails with ENOTDIR. */
static shardy_status mkdir_parents(const char *ctx, char *dir, size_t len) {
    for (size_t i = 1; i <= len; i++) {
        if (i < len && dir[i] != '/') continue;
        char saved = dir[i];
        dir[i] = '\0';
        int rc = mkdir(dir, 0777);
        int err = errno;
        if (rc != 0 && err == EEXIST) {
            struct stat sb;
            if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) err = ENOTDIR;
            else rc = 0;
        }
        shardy_status st = rc != 0 ? os_fail_path(err, 1, ctx, "mkdir", dir) : SHARDY_OK;
        dir[i] = saved;
        if (st) return st;
    }
    return SHARDY_OK;
}

shardy_status sy_atomic_file_begin(sy_atomic_file *af, const char *path, const char *ctx) {
    shardy_status st = SHARDY_OK;
    char *tmp = NULL;
    size_t dlen = dir_len(path);
    uint64_t seed = tmp_seed(af);
    af->fd = -1;
    af->tmp_path = NULL;
    af->ctx = ctx;
    af->path = sy_strdup(path);
    tmp = sy_malloc(dlen + TMP_PREFIX_LEN + TMP_SUFFIX_LEN + 1);
    if (!af->path || !tmp) {
        st = sy_err(SHARDY_ENOMEM, "%s: out of memory", ctx);
        goto done;
    }
    memcpy(tmp, path, dlen);
    memcpy(tmp + dlen, SY_STORE_TMP_PREFIX, TMP_PREFIX_LEN);
    for (int tries = 0;; tries++) {
        seed = mix64(seed + (uint64_t)tries);
        snprintf(tmp + dlen + TMP_PREFIX_LEN, TMP_SUFFIX_LEN + 1, "%016llx", (unsigned long long)seed);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            af->fd = fd;
            af->tmp_path = tmp;
            tmp = NULL;
            break;
        }
        int err = errno;
        if (tries < CREATE_TRIES && (err == EINTR || err == EEXIST)) continue;
        if (tries < CREATE_TRIES && err == ENOENT && dlen > 1) {
            SY_TRY(mkdir_parents(ctx, tmp, dlen - 1)); /* then try again: a prune may race us */
            continue;
        }
        tmp[dlen] = '\0';
        st = os_fail_path(err, 1, ctx, "create temp file in", dlen ? tmp : ".");
        goto done;
    }
done:
    sy_free(tmp);
    if (st) sy_atomic_file_abort(af);
    return st;
}

shardy_status sy_atomic_file_write(sy_atomic_file *af, const void *data, size_t len) {
    const char *p = data;
    if (af->fd < 0) return sy_err(SHARDY_EINTERNAL, "%s: write without an open temp file", af->ctx);
    while (len > 0) {
        ssize_t n = write(af->fd, p, len > COPY_CHUNK ? COPY_CHUNK : len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_fail(errno, 1, af->ctx, "write");
        }
        if (n == 0) return os_fail(EIO, 1, af->ctx, "write made no progress");
        p += n;
        len -= (size_t)n;
    }
    return SHARDY_OK;
}

/* fsync of the directory holding path, so the rename itself is durable. File systems that cannot
 * fsync a directory (EINVAL, ENOTSUP) are accepted. */
static shardy_status fsync_dir(const char *ctx, char *path) {
    size_t dlen = dir_len(path);
    char saved = path[dlen];
    path[dlen] = '\0';
    const char *dir = dlen ? path : ".";
    shardy_status st = SHARDY_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        st = os_fail_path(errno, 1, ctx, "open directory", dir);
    } else {
        int rc;
        while ((rc = fsync(fd)) != 0 && errno == EINTR) {
        }
        if (rc != 0 && errno != EINVAL && errno != ENOTSUP && errno != EOPNOTSUPP)
            st = os_fail_path(errno, 1, ctx, "fsync directory", dir);
        close(fd);
    }
    path[dlen] = saved;
    return st;
}

shardy_status sy_atomic_file_commit(sy_atomic_file *af) {
    shardy_status st = SHARDY_OK;
    int rc, fd;
    if (af->fd < 0 || !af->tmp_path) {
        st = sy_err(SHARDY_EINTERNAL, "%s: commit without an open temp file", af->ctx);
        goto done;
    }
    while ((rc = fsync(af->fd)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        st = os_fail(errno, 1, af->ctx, "fsync");
        goto done;
    }
    fd = af->fd;
    af->fd = -1;
    if (close(fd) != 0 && errno != EINTR) {
        st = os_fail(errno, 1, af->ctx, "close");
        goto done;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        st = os_fail(errno, 1, af->ctx, "rename");
        goto done;
    }
    sy_free(af->tmp_path); /* the temp file is gone: abort must not unlink that name */
    af->tmp_path = NULL;
    st = fsync_dir(af->ctx, af->path);
done:
    sy_atomic_file_abort(af);
    return st;
}

void sy_atomic_file_abort(sy_atomic_file *af) {
    if (!af) return;
    if (af->fd >= 0) close(af->fd);
    af->fd = -1;
    if (af->tmp_path) unlink(af->tmp_path);
    sy_free(af->tmp_path);
    af->tmp_path = NULL;
    sy_free(af->path);
    af->path = NULL;
}

/* Copies everything readable from in (from offset 0) into the temp file: copy_file_range, then
 * sendfile, then pread/write, each falling back to the next when the kernel or file system
 * cannot do it. Never holds more than RW_BUF_SIZE bytes in memory. */
static shardy_status copy_into(sy_atomic_file *af, int in, const struct stat *in_st, const char *in_path) {
    shardy_status st = SHARDY_OK;
    char *buf = NULL;
    off_t off = 0;
    int method = S_ISREG(in_st->st_mode) ? 0 : 2;
#if !defined(__linux__)
    method = 2;
#endif
    for (;;) {
        ssize_t n;
#if defined(__linux__)
        if (method == 0) {
            n = copy_file_range(in, &off, af->fd, NULL, COPY_CHUNK, 0);
            if (n < 0) {
                int err = errno;
                if (err == EINTR) continue;
                if (err == ENOSYS || err == EXDEV || err == EINVAL || err == EOPNOTSUPP ||
                    err == ENOTSUP || err == EPERM || err == ETXTBSY) {
                    method = 1;
                    continue;
                }
                st = os_fail_path(err, 1, af->ctx, "copy from", in_path);
                goto done;
            }
            if (n == 0) {
                if (off >= in_st->st_size) break;
                method = 2; /* some file systems report 0 early: let read(2) decide */
            }
            continue;
        }
        if (method == 1) {
            n = sendfile(af->fd, in, &off, COPY_CHUNK);
            if (n < 0) {
                int err = errno;
                if (err == EINTR) continue;
                if (err == ENOSYS || err == EINVAL || err == EOPNOTSUPP || err == ENOTSUP) {
                    method = 2;
                    continue;
                }
                st = os_fail_path(err, 1, af->ctx, "copy from", in_path);
                goto done;
            }
            if (n == 0) {
                if (off >= in_st->st_size) break;
                method = 2;
            }
            continue;
        }
#endif
        if (!buf && !(buf = sy_malloc(RW_BUF_SIZE))) {
            st = sy_err(SHARDY_ENOMEM, "%s: out of memory", af->ctx);
            goto done;
        }
        n = S_ISREG(in_st->st_mode) ? pread(in, buf, RW_BUF_SIZE, off) : read(in, buf, RW_BUF_SIZE);
        if (n < 0) {
            if (errno == EINTR) continue;
            st = os_fail_path(errno, 0, af->ctx, "read", in_path);
            goto done;
        }
        if (n == 0) break;
        SY_TRY(sy_atomic_file_write(af, buf, (size_t)n));
        off += n;
    }
done:
    sy_free(buf);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Objects                                                                                     */

/* Opens an existing object for reading. Directories and other non-regular files are not objects.
 * O_NONBLOCK keeps a FIFO in the tree from blocking the open; it has no effect on regular files. */
static shardy_status open_object(const char *ctx, const char *path, int *fd, struct stat *sb) {
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0) return os_fail(errno, 0, ctx, "open");
    if (fstat(*fd, sb) != 0) {
        int err = errno;
        close(*fd);
        *fd = -1;
        return os_fail(err, 0, ctx, "fstat");
    }
    if (!S_ISREG(sb->st_mode)) {
        close(*fd);
        *fd = -1;
        return sy_err(SHARDY_ENOTFOUND, "%s: %s, not an object", ctx,
                      S_ISDIR(sb->st_mode) ? "is a directory" : "is not a regular file");
    }
    return SHARDY_OK;
}

static shardy_status file_put(sy_store *s, const char *url, const void *data, size_t len,
                              const char *content_type) {
    shardy_status st = SHARDY_OK;
    sy_atomic_file af = SY_ATOMIC_FILE_INIT;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    (void)s;
    (void)content_type;
    snprintf(ctx, sizeof ctx, "put %s", url);
    SY_TRY(url_path(ctx, url, &path));
    SY_TRY(sy_atomic_file_begin(&af, path, ctx));
    SY_TRY(sy_atomic_file_write(&af, data, len));
    st = sy_atomic_file_commit(&af);
done:
    sy_atomic_file_abort(&af);
    return st;
}

/* Opens a local source file for put_file/move_file (fd and stat on success); a directory is
 * EISDIR. Errors name ctx and the path. */
static shardy_status open_source(const char *ctx, const char *local_path, int *fd, struct stat *sb) {
    *fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0 || fstat(*fd, sb) != 0) return os_fail_path(errno, 0, ctx, "open", local_path);
    if (S_ISDIR(sb->st_mode)) return os_fail_path(EISDIR, 0, ctx, "open", local_path);
    return SHARDY_OK;
}

static shardy_status file_put_file(sy_store *s, const char *url, const char *local_path,
                                   const char *content_type) {
    shardy_status st = SHARDY_OK;
    sy_atomic_file af = SY_ATOMIC_FILE_INIT;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    struct stat sb;
    int in = -1;
    (void)s;
    (void)content_type;
    snprintf(ctx, sizeof ctx, "put_file %s", url);
    SY_TRY(url_path(ctx, url, &path));
    SY_TRY(open_source(ctx, local_path, &in, &sb));
    SY_TRY(sy_atomic_file_begin(&af, path, ctx));
    SY_TRY(copy_into(&af, in, &sb, local_path));
    st = sy_atomic_file_commit(&af);
done:
    sy_atomic_file_abort(&af);
    if (in >= 0) close(in);
    return st;
}

/* Moves a finished local file into place without copying it: fsync the file, rename it to the
 * object path (atomic: readers see nothing or the whole object), fsync the directory. Across file
 * systems (EXDEV) it falls back to put_file's copy and then deletes the local file. */
static shardy_status file_move_file(sy_store *s, const char *url, const char *local_path,
                                    const char *content_type) {
    shardy_status st = SHARDY_OK;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    char *dst = NULL;
    struct stat sb;
    int fd = -1, rc;
    snprintf(ctx, sizeof ctx, "put_file %s", url);
    SY_TRY(url_path(ctx, url, &path));
    SY_TRY(open_source(ctx, local_path, &fd, &sb));
    if (!S_ISREG(sb.st_mode)) { /* a pipe or device cannot be renamed into place */
        st = os_fail_path(EINVAL, 0, ctx, "open", local_path);
        goto done;
    }
    while ((rc = fsync(fd)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        st = os_fail_path(errno, 1, ctx, "fsync", local_path);
        goto done;
    }
    close(fd);
    fd = -1;
    dst = sy_strdup(path);
    if (!dst) {
        st = sy_err(SHARDY_ENOMEM, "%s: out of memory", ctx);
        goto done;
    }
    size_t dlen = dir_len(dst);
    if (dlen > 1) SY_TRY(mkdir_parents(ctx, dst, dlen - 1));
    if (rename(local_path, dst) != 0) {
        int err = errno;
        if (err != EXDEV) {
            st = os_fail_path(err, 1, ctx, "rename from", local_path);
            goto done;
        }
        SY_TRY(file_put_file(s, url, local_path, content_type));
        (void)unlink(local_path); /* best effort: the object is complete either way */
        goto done;
    }
    st = fsync_dir(ctx, dst);
done:
    if (fd >= 0) close(fd);
    sy_free(dst);
    return st;
}

static shardy_status file_get(sy_store *s, const char *url, sy_buf *out) {
    shardy_status st = SHARDY_OK;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    struct stat sb;
    int fd = -1;
    (void)s;
    snprintf(ctx, sizeof ctx, "get %s", url);
    SY_TRY(url_path(ctx, url, &path));
    SY_TRY(open_object(ctx, path, &fd, &sb));
    if ((uint64_t)sb.st_size >= SIZE_MAX - 2) {
        st = sy_err(SHARDY_ENOMEM, "%s: object of %lld bytes does not fit in memory", ctx,
                    (long long)sb.st_size);
        goto done;
    }
    /* One spare byte beyond the expected size lets the EOF read happen without growing. */
    if (sy_buf_reserve(out, (size_t)sb.st_size + 1) != SHARDY_OK) {
        st = sy_err(SHARDY_ENOMEM, "%s: out of memory for %lld bytes", ctx, (long long)sb.st_size);
        goto done;
    }
    for (;;) {
        if (out->cap - out->len - 1 == 0 && sy_buf_reserve(out, RW_BUF_SIZE) != SHARDY_OK) {
            st = sy_err(SHARDY_ENOMEM, "%s: out of memory (object grew while reading)", ctx);
            goto done;
        }
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            st = os_fail(errno, 0, ctx, "read");
            goto done;
        }
        if (n == 0) break;
        out->len += (size_t)n;
    }
    out->data[out->len] = '\0';
done:
    if (fd >= 0) close(fd);
    return st;
}

static shardy_status file_get_range(sy_store *s, const char *url, uint64_t offset, void *dst, size_t len,
                                    size_t *got) {
    shardy_status st = SHARDY_OK;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    struct stat sb;
    int fd = -1;
    size_t done_n = 0;
    (void)s;
    snprintf(ctx, sizeof ctx, "get_range %s", url);
    SY_TRY(url_path(ctx, url, &path));
    SY_TRY(open_object(ctx, path, &fd, &sb));
    if (offset >= OFF_MAX_U64) goto done;
    if (len > OFF_MAX_U64 - offset) len = (size_t)(OFF_MAX_U64 - offset);
    while (done_n < len) {
        ssize_t n = pread(fd, (char *)dst + done_n, len - done_n, (off_t)(offset + done_n));
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            st = os_fail(errno, 0, ctx, "pread");
            goto done;
        }
        if (n == 0) break;
        done_n += (size_t)n;
    }
done:
    *got = st ? 0 : done_n;
    if (fd >= 0) close(fd);
    return st;
}

static shardy_status file_get_file(sy_store *s, const char *url, const char *local_path) {
    shardy_status st = SHARDY_OK;
    sy_atomic_file af = SY_ATOMIC_FILE_INIT;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    struct stat sb;
    int in = -1;
    (void)s;
    snprintf(ctx, sizeof ctx, "get_file %s to %s", url, local_path);
    SY_TRY(url_path(ctx, url, &path));
    SY_TRY(open_object(ctx, path, &in, &sb));
    SY_TRY(sy_atomic_file_begin(&af, local_path, ctx));
    SY_TRY(copy_into(&af, in, &sb, path));
    st = sy_atomic_file_commit(&af);
done:
    sy_atomic_file_abort(&af);
    if (in >= 0) close(in);
    return st;
}

static shardy_status file_size(sy_store *s, const char *url, uint64_t *size) {
    shardy_status st = SHARDY_OK;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    struct stat sb;
    (void)s;
    snprintf(ctx, sizeof ctx, "size %s", url);
    SY_TRY(url_path(ctx, url, &path));
    if (stat(path, &sb) != 0) {
        st = os_fail(errno, 0, ctx, "stat");
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = sy_err(SHARDY_ENOTFOUND, "%s: %s, not an object", ctx,
                    S_ISDIR(sb.st_mode) ? "is a directory" : "is not a regular file");
        goto done;
    }
    *size = (uint64_t)sb.st_size;
done:
    return st;
}

static shardy_status file_del(sy_store *s, const char *url) {
    shardy_status st = SHARDY_OK;
    char ctx[SY_ERRMSG_MAX];
    const char *path = NULL;
    struct stat sb;
    (void)s;
    snprintf(ctx, sizeof ctx, "delete %s", url);
    SY_TRY(url_path(ctx, url, &path));
    if (unlink(path) != 0) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR) goto done; /* already gone: deletes are idempotent */
        /* unlink(2) of a directory fails (EISDIR on Linux, EPERM in POSIX); a directory is not an
         * object, so there is nothing to delete. */
        if ((err == EISDIR || err == EPERM) && lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) goto done;
        st = os_fail(err, 1, ctx, "unlink");
    }
done:
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Directory walks (list, prune)                                                               */

typedef struct dent {
    char *key; /* entry name, with '/' appended for directories: the sort key */
    int is_dir;
} dent;

typedef struct dents {
    dent *v;
    size_t n, cap;
} dents;

enum { KIND_SKIP, KIND_FILE, KIND_DIR };

static void dents_free(dents *d) {
    for (size_t i = 0; i < d->n; i++) sy_free(d->v[i].key);
    sy_free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

static int dent_cmp(const void *a, const void *b) {
    return strcmp(((const dent *)a)->key, ((const dent *)b)->key);
}

/* Objects are regular files and symlinks to regular files; directories are real directories only
 * (a symlink to a directory is skipped, so walks cannot loop). Uses d_type when the file system
 * fills it in. */
static int classify(int dfd, const struct dirent *e) {
    struct stat sb;
#if defined(DT_UNKNOWN)
    if (e->d_type == DT_REG) return KIND_FILE;
    if (e->d_type == DT_DIR) return KIND_DIR;
    if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK) return KIND_SKIP;
#endif
    if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) return KIND_SKIP;
    if (S_ISDIR(sb.st_mode)) return KIND_DIR;
    if (S_ISREG(sb.st_mode)) return KIND_FILE;
    if (!S_ISLNK(sb.st_mode) || fstatat(dfd, e->d_name, &sb, 0) != 0) return KIND_SKIP;
    return S_ISREG(sb.st_mode) ? KIND_FILE : KIND_SKIP;
}

static shardy_status dents_push(dents *d, const char *ctx, const char *name, int is_dir) {
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        dent *v = sy_realloc(d->v, ncap * sizeof *v);
        if (!v) return sy_err(SHARDY_ENOMEM, "%s: out of memory", ctx);
        d->v = v;
        d->cap = ncap;
    }
    size_t n = strlen(name);
    char *key = sy_malloc(n + 2);
    if (!key) return sy_err(SHARDY_ENOMEM, "%s: out of memory", ctx);
    memcpy(key, name, n);
    key[n] = is_dir ? '/' : '\0';
    key[n + 1] = '\0';
    d->v[d->n].key = key;
    d->v[d->n].is_dir = is_dir;
    d->n++;
    return SHARDY_OK;
}

/* Reads the entries of directory path whose names start with name_prefix (never ".", "..", temp
 * files), sorted by key. A directory that does not exist (or is a file) reads as empty. nofollow
 * refuses to enter path if it has become a symlink since it was classified. */
static shardy_status read_dir(const char *ctx, const char *path, const char *name_prefix, int nofollow,
                              dents *out) {
    shardy_status st = SHARDY_OK;
    size_t plen = strlen(name_prefix);
    DIR *d = NULL;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
    if (fd >= 0 && !(d = fdopendir(fd))) {
        int err = errno;
        close(fd);
        errno = err;
    }
    if (!d) {
        int err = errno;
        if (err == ENOENT || err == ENOTDIR || (nofollow && err == ELOOP)) return SHARDY_OK;
        return os_fail_path(err, 0, ctx, "opendir", path);
    }
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = os_fail_path(errno, 0, ctx, "readdir", path);
            break;
        }
        const char *name = e->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        if (!strncmp(name, SY_STORE_TMP_PREFIX, TMP_PREFIX_LEN)) continue;
        if (strncmp(name, name_prefix, plen) != 0) continue;
        int kind = classify(dirfd(d), e);
        if (kind == KIND_SKIP) continue;
        if ((st = dents_push(out, ctx, name, kind == KIND_DIR))) break;
    }
    closedir(d);
    if (st) dents_free(out);
    else if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, dent_cmp);
    return st;
}

typedef struct walk {
    const char *ctx;
    sy_buf url;              /* "file://" + the directory being walked, ending in '/' */
    const char *start_after; /* may be NULL */
    size_t max_keys;
    char delimiter;
    sy_list *out;
    size_t cap;
    int full; /* the page is complete */
} walk;

/* Sets w->url to its first len bytes plus s. */
static shardy_status url_set(walk *w, size_t len, const char *s) {
    w->url.len = len;
    w->url.data[len] = '\0';
    return sy_buf_puts(&w->url, s);
}

static void url_truncate(walk *w, size_t len) {
    w->url.len = len;
    w->url.data[len] = '\0';
}

/* Appends one entry, or notes that the page is full (which is how truncated is decided: only when
 * one more entry really exists). */
static shardy_status emit(walk *w, uint64_t size, int is_prefix) {
    if (w->out->n == w->max_keys) {
        w->out->truncated = 1;
        w->full = 1;
        return SHARDY_OK;
    }
    return sy_list_push(w->out, &w->cap, w->url.data, w->url.len, size, is_prefix);
}

/* *found = 1 if the directory in w->url holds an object anywhere below it. */
static shardy_status has_object(walk *w, int *found) {
    shardy_status st = SHARDY_OK;
    dents d = {NULL, 0, 0};
    size_t base = w->url.len;
    struct stat sb;
    *found = 0;
    SY_TRY(read_dir(w->ctx, w->url.data + 7, "", 1, &d));
    for (int pass = 0; pass < 2 && !*found; pass++) { /* files first: cheapest answer */
        for (size_t i = 0; i < d.n && !*found; i++) {
            if (d.v[i].is_dir != pass) continue;
            SY_TRY(url_set(w, base, d.v[i].key));
            if (!pass) *found = stat(w->url.data + 7, &sb) == 0 && S_ISREG(sb.st_mode);
            else SY_TRY(has_object(w, found));
        }
    }
done:
    url_truncate(w, base);
    dents_free(&d);
    return st;
}

/* Walks the directory in w->url (entries starting with name_prefix at the top only), emitting
 * entries after start_after in URL order until the page is full. */
static shardy_status walk_dir(walk *w, const char *name_prefix, int top) {
    shardy_status st = SHARDY_OK;
    dents d = {NULL, 0, 0};
    size_t base = w->url.len;
    const char *sa = w->start_after;
    struct stat sb;
    SY_TRY(read_dir(w->ctx, w->url.data + 7, name_prefix, !top, &d));
    for (size_t i = 0; i < d.n && !w->full; i++) {
        SY_TRY(url_set(w, base, d.v[i].key));
        const char *u = w->url.data;
        if (!d.v[i].is_dir) {
            if (sa && strcmp(u, sa) <= 0) continue;
            if (stat(u + 7, &sb) != 0 || !S_ISREG(sb.st_mode)) continue; /* vanished or changed */
            SY_TRY(emit(w, (uint64_t)sb.st_size, 0));
        } else if (w->delimiter) {
            int found = 0;
            if (sa && strcmp(u, sa) <= 0) continue;
            SY_TRY(has_object(w, &found));
            if (found) SY_TRY(emit(w, 0, 1));
        } else {
            /* Every URL below u starts with u: skip the subtree if all of it sorts before sa. */
            if (sa && strcmp(u, sa) < 0 && strncmp(sa, u, w->url.len) != 0) continue;
            SY_TRY(walk_dir(w, "", 0));
        }
    }
done:
    url_truncate(w, base);
    dents_free(&d);
    return st;
}

/* Offset in url just past the last '/': the directory to read; the rest is a name prefix. */
static shardy_status split_prefix(const char *ctx, const char *url, size_t *dir_end) {
    const char *path = NULL;
    shardy_status st = url_path(ctx, url, &path);
    if (st) return st;
    *dir_end = (size_t)(strrchr(path, '/') - url) + 1;
    return SHARDY_OK;
}

static shardy_status file_list(sy_store *s, const char *prefix_url, const sy_list_opts *opts, sy_list *out) {
    shardy_status st = SHARDY_OK;
    char ctx[SY_ERRMSG_MAX];
    size_t dir_end = 0;
    walk w = {ctx, SY_BUF_INIT, opts->start_after, opts->max_keys, opts->delimiter, out, 0, 0};
    (void)s;
    snprintf(ctx, sizeof ctx, "list %s", prefix_url);
    SY_TRY(split_prefix(ctx, prefix_url, &dir_end));
    SY_TRY(sy_buf_append(&w.url, prefix_url, dir_end));
    SY_TRY(walk_dir(&w, prefix_url + dir_end, 1));
done:
    if (st == SHARDY_ENOMEM) sy_err(st, "%s: out of memory", ctx); /* name the URL */
    sy_buf_free(&w.url);
    return st;
}

/* rmdir(2)s, bottom-up, every directory below path that is empty once its own subdirectories are
 * gone. path is a writable buffer ending in '/'. */
static void prune_below(sy_buf *path, const char *name_prefix, int top) {
    dents d = {NULL, 0, 0};
    size_t base = path->len;
    if (read_dir("prune", path->data, name_prefix, !top, &d) != SHARDY_OK) return;
    for (size_t i = 0; i < d.n; i++) {
        if (!d.v[i].is_dir) continue;
        path->len = base;
        if (sy_buf_puts(path, d.v[i].key) != SHARDY_OK) break;
        prune_below(path, "", 0);
        rmdir(path->data); /* fails harmlessly (ENOTEMPTY) when anything is left */
    }
    path->len = base;
    path->data[base] = '\0';
    dents_free(&d);
}

/* After delete_prefix: removes the directories left empty within the prefix. With a prefix ending
 * in '/', the directory it names is within the prefix too; nothing above it is ever touched. */
static void file_prune(sy_store *s, const char *prefix_url) {
    sy_buf path = SY_BUF_INIT;
    size_t dir_end = 0;
    (void)s;
    if (split_prefix("prune", prefix_url, &dir_end) != SHARDY_OK) return;
    if (sy_buf_append(&path, prefix_url + 7, dir_end - 7) != SHARDY_OK) return;
    prune_below(&path, prefix_url + dir_end, 1);
    if (prefix_url[dir_end] == '\0' && path.len > 1) rmdir(path.data);
    sy_buf_free(&path);
}

/* ------------------------------------------------------------------------------------------ */

static void file_close(sy_store *s) { sy_free(s); }

static const sy_store_ops file_ops = {
    .name = "file",
    .put = file_put,
    .put_file = file_put_file,
    .move_file = file_move_file,
    .get = file_get,
    .get_range = file_get_range,
    .get_file = file_get_file,
    .size = file_size,
    .list = file_list,
    .del = file_del,
    .close = file_close,
    .prune = file_prune,
};

shardy_status sy_store_file_open(sy_store **out) {
    if (!out) return sy_err(SHARDY_EINVAL, "open file:// store: out is NULL");
    *out = sy_malloc(sizeof **out);
    if (!*out) return sy_err(SHARDY_ENOMEM, "open file:// store: out of memory");
    (*out)->ops = &file_ops;
    (*out)->scheme = SY_SCHEME_FILE;
    return SHARDY_OK;
}
