/*
 * store.c — the backend-independent half of the object-store interface (see store.h).
 *
 * Owns: picking a backend for a location (sy_store_open), the argument and URL checks every
 * operation shares (NULL arguments, scheme of the URL against the store's, portable keys for
 * writes), list paging helpers (sy_store_list_all, sy_list_push, sy_list_free) and
 * sy_store_delete_prefix, which is generic: list recursively page by page, delete each page (with
 * the backend's batch delete when it has one, else object by object), then let the backend prune
 * (file: empty directories).
 *
 * Invariants: backends are only called with checked, non-NULL arguments whose URL has the store's
 * scheme, and list backends get an opts with max_keys > 0 and a valid delimiter.
 * Failure behaviour: every failure sets the thread's message naming the operation and the URL and
 * returns its status; list outputs are empty after a failure.
 */
#include "store/store.h"

#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "store/s3.h"

#define LIST_PAGE_DEFAULT 1000

static shardy_status check_url(const sy_store *s, const char *op, const char *url) {
    sy_scheme sc;
    if (!s) return sy_err(SHARDY_EINVAL, "%s: store handle is NULL", op);
    if (!url) return sy_err(SHARDY_EINVAL, "%s: URL is NULL", op);
    if (sy_url_scheme(url, &sc) != SHARDY_OK) return sy_err_wrap(SHARDY_EINVAL, "%s", op);
    if (sc != s->scheme)
        return sy_err(SHARDY_EINVAL, "%s %s: URL does not belong to this %s:// store", op, url,
                      s->ops->name);
    return SHARDY_OK;
}

/* The key part of a URL: after "file:///", or after "s3://bucket/" / "mem://name/" ("" if the URL
 * has no '/' after the bucket). */
static const char *url_key(const sy_store *s, const char *url) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    if (s->scheme == SY_SCHEME_FILE) return *p == '/' ? p + 1 : p;
    const char *slash = strchr(p, '/');
    return slash ? slash + 1 : p + strlen(p);
}

/* Keys we write must round-trip through every backend (see store.h). For s3/mem the bucket or
 * namespace name is checked as the first segment. */
static shardy_status check_write_key(const sy_store *s, const char *op, const char *url) {
    const char *p = strstr(url, "://") + 3;
    if (s->scheme == SY_SCHEME_FILE) {
        if (*p != '/')
            return sy_err(SHARDY_EINVAL, "%s %s: file:// URLs need an absolute path (file:///dir/name)",
                          op, url);
        p++;
    }
    if (*url_key(s, url) == '\0') return sy_err(SHARDY_EINVAL, "%s %s: URL names no object", op, url);
    for (;;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 && !end)
            return sy_err(SHARDY_EINVAL, "%s %s: an object URL cannot end with '/'", op, url);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return sy_err(SHARDY_EINVAL, "%s %s: URL has an empty, '.' or '..' path segment", op, url);
        if (n >= sizeof SY_STORE_TMP_PREFIX - 1 &&
            !memcmp(p, SY_STORE_TMP_PREFIX, sizeof SY_STORE_TMP_PREFIX - 1))
            return sy_err(SHARDY_EINVAL, "%s %s: names starting with " SY_STORE_TMP_PREFIX
                          " are reserved for temp files", op, url);
        if (!end) return SHARDY_OK;
        p = end + 1;
    }
}

static shardy_status unsupported(const sy_store *s, const char *op, const char *url) {
    return sy_err(SHARDY_EUNSUPPORTED, "%s %s: not supported by the %s:// store", op, url, s->ops->name);
}

shardy_status sy_store_open(const char *url, sy_store **out) { return sy_store_open_opts(url, NULL, out); }

shardy_status sy_store_open_opts(const char *url, const sy_store_opts *opts, sy_store **out) {
    shardy_status st = SHARDY_OK;
    char *norm = NULL;
    sy_scheme sc = SY_SCHEME_FILE;
    if (!out) return sy_err(SHARDY_EINVAL, "open store: out is NULL");
    *out = NULL;
    if (!url) return sy_err(SHARDY_EINVAL, "open store: location is NULL");
    SY_TRY(sy_url_normalize(url, &norm));
    SY_TRY(sy_url_scheme(norm, &sc));
    switch (sc) {
    case SY_SCHEME_FILE: st = sy_store_file_open(out); break;
    case SY_SCHEME_MEM: st = sy_store_mem_open(out); break;
    case SY_SCHEME_S3: st = sy_store_s3_open(opts ? opts->s3 : NULL, out); break;
    }
done:
    sy_free(norm);
    return st;
}

void sy_store_close(sy_store **s) {
    if (!s || !*s) return;
    (*s)->ops->close(*s);
    *s = NULL;
}

shardy_status sy_store_put(sy_store *s, const char *url, const void *data, size_t len,
                           const char *content_type) {
    shardy_status st = check_url(s, "put", url);
    if (st) return st;
    if (!data && len) return sy_err(SHARDY_EINVAL, "put %s: data is NULL", url);
    if ((st = check_write_key(s, "put", url))) return st;
    if (!s->ops->put) return unsupported(s, "put", url);
    return s->ops->put(s, url, data ? data : "", len, content_type);
}

/* The checks that put_file and move_file share. */
static shardy_status check_put_file(sy_store *s, const char *url, const char *local_path) {
    shardy_status st = check_url(s, "put_file", url);
    if (st) return st;
    if (!local_path || !*local_path) return sy_err(SHARDY_EINVAL, "put_file %s: local path is empty", url);
    return check_write_key(s, "put_file", url);
}

shardy_status sy_store_put_file(sy_store *s, const char *url, const char *local_path,
                                const char *content_type) {
    shardy_status st = check_put_file(s, url, local_path);
    if (st) return st;
    if (!s->ops->put_file) return unsupported(s, "put_file", url);
    return s->ops->put_file(s, url, local_path, content_type);
}

shardy_status sy_store_move_file(sy_store *s, const char *url, const char *local_path,
                                 const char *content_type) {
    shardy_status st = check_put_file(s, url, local_path);
    if (st) return st;
    if (s->ops->move_file) return s->ops->move_file(s, url, local_path, content_type);
    if (!s->ops->put_file) return unsupported(s, "put_file", url);
    st = s->ops->put_file(s, url, local_path, content_type);
    if (st == SHARDY_OK) (void)unlink(local_path); /* best effort: the object is complete either way */
    return st;
}

shardy_status sy_store_get(sy_store *s, const char *url, sy_buf *out) {
    shardy_status st = check_url(s, "get", url);
    if (st) return st;
    if (!out) return sy_err(SHARDY_EINVAL, "get %s: output buffer is NULL", url);
    sy_buf_reset(out);
    if (!s->ops->get) return unsupported(s, "get", url);
    st = s->ops->get(s, url, out);
    if (st) sy_buf_reset(out);
    return st;
}

shardy_status sy_store_get_range(sy_store *s, const char *url, uint64_t offset, void *dst, size_t len,
                                 size_t *got) {
    if (got) *got = 0;
    shardy_status st = check_url(s, "get_range", url);
    if (st) return st;
    if (!got) return sy_err(SHARDY_EINVAL, "get_range %s: got is NULL", url);
    if (!dst && len) return sy_err(SHARDY_EINVAL, "get_range %s: destination is NULL", url);
    if (!s->ops->get_range) return unsupported(s, "get_range", url);
    return s->ops->get_range(s, url, offset, dst, len, got);
}

shardy_status sy_store_get_file(sy_store *s, const char *url, const char *local_path) {
    shardy_status st = check_url(s, "get_file", url);
    if (st) return st;
    if (!local_path || !*local_path) return sy_err(SHARDY_EINVAL, "get_file %s: local path is empty", url);
    if (!s->ops->get_file) return unsupported(s, "get_file", url);
    return s->ops->get_file(s, url, local_path);
}

shardy_status sy_store_size(sy_store *s, const char *url, uint64_t *size) {
    if (size) *size = 0;
    shardy_status st = check_url(s, "size", url);
    if (st) return st;
    if (!size) return sy_err(SHARDY_EINVAL, "size %s: output is NULL", url);
    if (!s->ops->size) return unsupported(s, "size", url);
    return s->ops->size(s, url, size);
}

shardy_status sy_store_list(sy_store *s, const char *prefix_url, const sy_list_opts *opts, sy_list *out) {
    sy_list_opts o = {0, NULL, LIST_PAGE_DEFAULT};
    if (!out) return sy_err(SHARDY_EINVAL, "list: output list is NULL");
    out->items = NULL;
    out->n = 0;
    out->truncated = 0;
    shardy_status st = check_url(s, "list", prefix_url);
    if (st) return st;
    if (opts) o = *opts;
    if (o.max_keys == 0) o.max_keys = LIST_PAGE_DEFAULT;
    if (o.delimiter != 0 && o.delimiter != '/')
        return sy_err(SHARDY_EINVAL, "list %s: delimiter must be '/' or none", prefix_url);
    if (!s->ops->list) return unsupported(s, "list", prefix_url);
    st = s->ops->list(s, prefix_url, &o, out);
    if (st) sy_list_free(out);
    return st;
}

shardy_status sy_store_list_all(sy_store *s, const char *prefix_url, char delimiter, sy_list *out) {
    shardy_status st = SHARDY_OK;
    sy_list page = {NULL, 0, 0};
    size_t cap = 0;
    if (!out) return sy_err(SHARDY_EINVAL, "list: output list is NULL");
    out->items = NULL;
    out->n = 0;
    out->truncated = 0;
    for (;;) {
        /* start_after points into out, whose strings do not move when items grows. */
        sy_list_opts o = {delimiter, out->n ? out->items[out->n - 1].url : NULL, LIST_PAGE_DEFAULT};
        SY_TRY(sy_store_list(s, prefix_url, &o, &page));
        if (page.truncated && page.n == 0) {
            st = sy_err(SHARDY_EINTERNAL, "list %s: backend returned an empty truncated page", prefix_url);
            goto done;
        }
        if (out->n + page.n > cap) {
            size_t ncap = cap ? cap : 16;
            while (ncap < out->n + page.n) ncap *= 2;
            sy_list_entry *items = sy_realloc(out->items, ncap * sizeof *items);
            if (!items) {
                st = sy_err(SHARDY_ENOMEM, "list %s: out of memory", prefix_url);
                goto done;
            }
            out->items = items;
            cap = ncap;
        }
        if (page.n) memcpy(out->items + out->n, page.items, page.n * sizeof *page.items);
        out->n += page.n;
        page.n = 0; /* the strings now belong to out */
        int more = page.truncated;
        sy_list_free(&page);
        if (!more) break;
    }
done:
    sy_list_free(&page);
    if (st) sy_list_free(out);
    return st;
}

void sy_list_free(sy_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) sy_free(l->items[i].url);
    sy_free(l->items);
    l->items = NULL;
    l->n = 0;
    l->truncated = 0;
}

shardy_status sy_list_push(sy_list *l, size_t *cap, const char *url, size_t url_len, uint64_t size,
                           int is_prefix) {
    if (l->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        sy_list_entry *items = sy_realloc(l->items, ncap * sizeof *items);
        if (!items) return sy_err(SHARDY_ENOMEM, "list: out of memory");
        l->items = items;
        *cap = ncap;
    }
    char *copy = sy_strndup(url, url_len);
    if (!copy) return sy_err(SHARDY_ENOMEM, "list: out of memory");
    l->items[l->n].url = copy;
    l->items[l->n].size = size;
    l->items[l->n].is_prefix = is_prefix ? 1 : 0;
    l->n++;
    return SHARDY_OK;
}

shardy_status sy_store_delete(sy_store *s, const char *url) {
    shardy_status st = check_url(s, "delete", url);
    if (st) return st;
    if ((st = check_write_key(s, "delete", url))) return st;
    if (!s->ops->del) return unsupported(s, "delete", url);
    return s->ops->del(s, url);
}

/* One listed page (<= LIST_PAGE_DEFAULT entries) through the backend's batch delete. */
static shardy_status del_page(sy_store *s, const sy_list *page, size_t *count) {
    shardy_status st = SHARDY_OK;
    size_t done_n = 0;
    const char **urls = sy_malloc(page->n * sizeof *urls);
    if (!urls) return sy_err(SHARDY_ENOMEM, "delete_prefix: out of memory");
    for (size_t i = 0; i < page->n; i++) urls[i] = page->items[i].url;
    st = s->ops->del_batch(s, urls, page->n, &done_n);
    *count += done_n;
    sy_free(urls);
    return st;
}

shardy_status sy_store_abort_uploads(sy_store *s, const char *prefix_url, size_t *aborted) {
    size_t n = 0;
    if (aborted) *aborted = 0;
    shardy_status st = check_url(s, "abort_uploads", prefix_url);
    if (st) return st;
    if (*url_key(s, prefix_url) == '\0')
        return sy_err(SHARDY_EINVAL, "abort_uploads %s: refusing to act on the whole store", prefix_url);
    if (!s->ops->abort_uploads) return SHARDY_OK;
    st = s->ops->abort_uploads(s, prefix_url, &n);
    if (aborted) *aborted = n;
    return st;
}

shardy_status sy_store_delete_prefix(sy_store *s, const char *prefix_url, size_t *deleted) {
    shardy_status st = SHARDY_OK;
    sy_list page = {NULL, 0, 0};
    char *after = NULL;
    size_t count = 0;
    if (deleted) *deleted = 0;
    SY_TRY(check_url(s, "delete_prefix", prefix_url));
    if (*url_key(s, prefix_url) == '\0') {
        st = sy_err(SHARDY_EINVAL, "delete_prefix %s: refusing to delete every object of the store",
                    prefix_url);
        goto done;
    }
    if (!s->ops->del || !s->ops->list) {
        st = unsupported(s, "delete_prefix", prefix_url);
        goto done;
    }
    for (;;) {
        sy_list_opts o = {0, after, LIST_PAGE_DEFAULT};
        SY_TRY(sy_store_list(s, prefix_url, &o, &page));
        /* Listed URLs are objects of this store, so they skip the write-key check. */
        if (s->ops->del_batch && page.n) {
            SY_TRY(del_page(s, &page, &count));
        } else {
            for (size_t i = 0; i < page.n; i++) {
                SY_TRY(s->ops->del(s, page.items[i].url));
                count++;
            }
        }
        if (!page.truncated || page.n == 0) break;
        sy_free(after);
        after = sy_strdup(page.items[page.n - 1].url);
        if (!after) {
            st = sy_err(SHARDY_ENOMEM, "delete_prefix %s: out of memory", prefix_url);
            goto done;
        }
        sy_list_free(&page);
    }
    if (s->ops->prune) s->ops->prune(s, prefix_url);
done:
    sy_list_free(&page);
    sy_free(after);
    if (deleted) *deleted = count;
    return st;
}
