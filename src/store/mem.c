/*
 * mem.c — the mem:// object-store backend, for unit tests of the layers above the store.
 *
 * Owns: one namespace per handle — a sorted array (strcmp of the full URL) of URL → bytes, guarded
 * by one mutex. Each sy_store_mem_open starts empty; everything is freed at close.
 *
 * Invariants: objs[0..n) is strictly increasing by URL; each object owns its url and data. The
 * mutex is held for every read or change of the array, so a put replaces an object atomically and
 * a get sees the old or the new bytes. Copies of caller data are made before taking the lock, and
 * local files are read/written outside it.
 *
 * Semantics mirror file:// (prefix matching, delimiter roll-up, start_after compared with the
 * returned entries, truncated only when one more entry exists); objects have no directories, so
 * a common prefix always holds at least one object.
 * Failure behaviour: missing objects are SHARDY_ENOTFOUND naming the URL; allocation failures are
 * SHARDY_ENOMEM and leave the namespace unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "store/store.h"

typedef struct mem_obj {
    char *url;
    char *data;
    size_t len;
} mem_obj;

typedef struct mem_store {
    sy_store base; /* first: a sy_store * is a mem_store * */
    pthread_mutex_t mu;
    mem_obj *objs;
    size_t n, cap;
} mem_store;

static mem_store *mem(sy_store *s) { return (mem_store *)s; }

/* First index whose URL is >= key. */
static size_t lower_bound(const mem_store *m, const char *key) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(m->objs[mid].url, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* First index at or after from whose URL does not start with p (URLs starting with p are
 * contiguous in the sorted array). */
static size_t prefix_end(const mem_store *m, const char *p, size_t plen, size_t from) {
    size_t lo = from, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strncmp(m->objs[mid].url, p, plen) <= 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Index of url, or m->n. Caller holds the lock. */
static size_t find(const mem_store *m, const char *url) {
    size_t i = lower_bound(m, url);
    return i < m->n && !strcmp(m->objs[i].url, url) ? i : m->n;
}

/* Stores data (owned, len bytes) at url; takes ownership of data in every case. */
static shardy_status insert(mem_store *m, const char *url, char *data, size_t len) {
    shardy_status st = SHARDY_OK;
    char *old = NULL;
    char *url_copy = sy_strdup(url);
    if (!url_copy) {
        sy_free(data);
        return sy_err(SHARDY_ENOMEM, "put %s: out of memory", url);
    }
    pthread_mutex_lock(&m->mu);
    size_t i = lower_bound(m, url);
    if (i < m->n && !strcmp(m->objs[i].url, url)) {
        old = m->objs[i].data;
        m->objs[i].data = data;
        m->objs[i].len = len;
        data = NULL;
    } else {
        if (m->n == m->cap) {
            size_t ncap = m->cap ? m->cap * 2 : 16;
            mem_obj *objs = sy_realloc(m->objs, ncap * sizeof *objs);
            if (!objs) {
                st = sy_err(SHARDY_ENOMEM, "put %s: out of memory", url);
                goto done;
            }
            m->objs = objs;
            m->cap = ncap;
        }
        memmove(m->objs + i + 1, m->objs + i, (m->n - i) * sizeof *m->objs);
        m->objs[i].url = url_copy;
        m->objs[i].data = data;
        m->objs[i].len = len;
        m->n++;
        url_copy = NULL;
        data = NULL;
    }
done:
    pthread_mutex_unlock(&m->mu);
    sy_free(old);
    sy_free(url_copy);
    sy_free(data);
    return st;
}

static shardy_status mem_put(sy_store *s, const char *url, const void *data, size_t len,
                             const char *content_type) {
    (void)content_type;
    char *copy = sy_malloc(len);
    if (!copy) return sy_err(SHARDY_ENOMEM, "put %s: out of memory for %zu bytes", url, len);
    if (len) memcpy(copy, data, len);
    return insert(mem(s), url, copy, len);
}

static shardy_status mem_put_file(sy_store *s, const char *url, const char *local_path,
                                  const char *content_type) {
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    char chunk[16384];
    (void)content_type;
    int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = sy_err_wrap(sy_err_errno(errno, "open", local_path), "put_file %s", url);
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            st = sy_err_wrap(sy_err_errno(errno, "read", local_path), "put_file %s", url);
            goto done;
        }
        if (n == 0) break;
        if (sy_buf_append(&b, chunk, (size_t)n) != SHARDY_OK) {
            st = sy_err(SHARDY_ENOMEM, "put_file %s: out of memory", url);
            goto done;
        }
    }
    if (!b.data && !(b.data = sy_malloc(1))) {
        st = sy_err(SHARDY_ENOMEM, "put_file %s: out of memory", url);
        goto done;
    }
    {
        size_t len = b.len;
        st = insert(mem(s), url, sy_buf_take(&b), len);
    }
done:
    if (fd >= 0) close(fd);
    sy_buf_free(&b);
    return st;
}

static shardy_status not_found(const char *op, const char *url) {
    return sy_err(SHARDY_ENOTFOUND, "%s %s: no such object", op, url);
}

static shardy_status mem_get(sy_store *s, const char *url, sy_buf *out) {
    mem_store *m = mem(s);
    shardy_status st = SHARDY_OK;
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, url);
    if (i == m->n) st = not_found("get", url);
    else if (sy_buf_append(out, m->objs[i].data, m->objs[i].len) != SHARDY_OK)
        st = sy_err(SHARDY_ENOMEM, "get %s: out of memory for %zu bytes", url, m->objs[i].len);
    pthread_mutex_unlock(&m->mu);
    return st;
}

static shardy_status mem_get_range(sy_store *s, const char *url, uint64_t offset, void *dst, size_t len,
                                   size_t *got) {
    mem_store *m = mem(s);
    shardy_status st = SHARDY_OK;
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, url);
    if (i == m->n) {
        st = not_found("get_range", url);
    } else if (offset < m->objs[i].len) {
        size_t avail = m->objs[i].len - (size_t)offset;
        *got = len < avail ? len : avail;
        memcpy(dst, m->objs[i].data + offset, *got);
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

static shardy_status mem_get_file(sy_store *s, const char *url, const char *local_path) {
    mem_store *m = mem(s);
    shardy_status st = SHARDY_OK;
    sy_atomic_file af = SY_ATOMIC_FILE_INIT;
    char ctx[SY_ERRMSG_MAX];
    char *copy = NULL;
    size_t len = 0;
    snprintf(ctx, sizeof ctx, "get_file %s to %s", url, local_path);
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, url);
    if (i == m->n) {
        st = not_found("get_file", url);
    } else if (!(copy = sy_malloc(m->objs[i].len))) {
        st = sy_err(SHARDY_ENOMEM, "%s: out of memory", ctx);
    } else {
        len = m->objs[i].len;
        if (len) memcpy(copy, m->objs[i].data, len);
    }
    pthread_mutex_unlock(&m->mu);
    if (st) goto done;
    SY_TRY(sy_atomic_file_begin(&af, local_path, ctx));
    SY_TRY(sy_atomic_file_write(&af, copy, len));
    st = sy_atomic_file_commit(&af);
done:
    sy_atomic_file_abort(&af);
    sy_free(copy);
    return st;
}

static shardy_status mem_size(sy_store *s, const char *url, uint64_t *size) {
    mem_store *m = mem(s);
    shardy_status st = SHARDY_OK;
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, url);
    if (i == m->n) st = not_found("size", url);
    else *size = m->objs[i].len;
    pthread_mutex_unlock(&m->mu);
    return st;
}

static shardy_status mem_del(sy_store *s, const char *url) {
    mem_store *m = mem(s);
    mem_obj gone = {NULL, NULL, 0};
    pthread_mutex_lock(&m->mu);
    size_t i = find(m, url);
    if (i < m->n) {
        gone = m->objs[i];
        memmove(m->objs + i, m->objs + i + 1, (m->n - i - 1) * sizeof *m->objs);
        m->n--;
    }
    pthread_mutex_unlock(&m->mu);
    sy_free(gone.url);
    sy_free(gone.data);
    return SHARDY_OK;
}

static shardy_status mem_list(sy_store *s, const char *prefix_url, const sy_list_opts *opts, sy_list *out) {
    mem_store *m = mem(s);
    shardy_status st = SHARDY_OK;
    const char *sa = opts->start_after;
    size_t plen = strlen(prefix_url);
    size_t cap = 0;
    pthread_mutex_lock(&m->mu);
    /* A key <= start_after cannot roll up into an entry > start_after (a common prefix sorts
     * before its keys), so the scan can start after start_after. */
    size_t i = lower_bound(m, sa && strcmp(sa, prefix_url) > 0 ? sa : prefix_url);
    while (i < m->n) {
        const char *u = m->objs[i].url;
        size_t ulen = strlen(u);
        int is_prefix = 0;
        if (strncmp(u, prefix_url, plen) != 0) break;
        if (opts->delimiter) {
            const char *d = strchr(u + plen, opts->delimiter);
            if (d) {
                ulen = (size_t)(d - u) + 1;
                is_prefix = 1;
            }
        }
        /* next: past this object, or past every key under the common prefix */
        size_t next = is_prefix ? prefix_end(m, u, ulen, i) : i + 1;
        /* entry (u[0..ulen), not NUL-terminated for a prefix) sorts after start_after? */
        if (!sa || strncmp(u, sa, ulen) > 0) {
            if (out->n == opts->max_keys) {
                out->truncated = 1;
                break;
            }
            st = sy_list_push(out, &cap, u, ulen, is_prefix ? 0 : m->objs[i].len, is_prefix);
            if (st) {
                sy_err(st, "list %s: out of memory", prefix_url);
                break;
            }
        }
        i = next;
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

static void mem_close(sy_store *s) {
    mem_store *m = mem(s);
    for (size_t i = 0; i < m->n; i++) {
        sy_free(m->objs[i].url);
        sy_free(m->objs[i].data);
    }
    sy_free(m->objs);
    pthread_mutex_destroy(&m->mu);
    sy_free(m);
}

static const sy_store_ops mem_ops = {
    .name = "mem",
    .put = mem_put,
    .put_file = mem_put_file,
    .get = mem_get,
    .get_range = mem_get_range,
    .get_file = mem_get_file,
    .size = mem_size,
    .list = mem_list,
    .del = mem_del,
    .close = mem_close,
    .prune = NULL,
};

shardy_status sy_store_mem_open(sy_store **out) {
    if (!out) return sy_err(SHARDY_EINVAL, "open mem:// store: out is NULL");
    mem_store *m = sy_calloc(1, sizeof *m);
    *out = NULL;
    if (!m) return sy_err(SHARDY_ENOMEM, "open mem:// store: out of memory");
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        sy_free(m);
        return sy_err(SHARDY_EIO, "open mem:// store: cannot create a mutex");
    }
    m->base.ops = &mem_ops;
    m->base.scheme = SY_SCHEME_MEM;
    *out = &m->base;
    return SHARDY_OK;
}
