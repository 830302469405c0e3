/*
 * store.h — the object-store interface every layer above src/store uses.
 *
 * A store is opened for one scheme and addressed with full URLs ("file:///data/snap/_CURRENT",
 * "s3://bucket/key", "mem://name/key"); nothing above this layer knows which backend serves the
 * bytes. Each backend is one file behind sy_store_ops (file.c, mem.c, s3.c).
 *
 * Semantics (all backends):
 *   - put is atomic: a reader sees the old object or the whole new one, never a prefix
 *     (file: temp file + fsync + rename + fsync dir). Parent "directories" are implicit.
 *   - get of a missing object returns SHARDY_ENOTFOUND (with a message naming the URL).
 *   - list returns object URLs whose key starts with the prefix, sorted by byte order, in pages of
 *     at most max_keys; with delimiter '/', keys with a further '/' after the prefix are rolled up
 *     into "common prefixes" (URL ending in '/', is_prefix = 1), like S3 ListObjectsV2.
 *   - delete of a missing object succeeds (idempotent, like S3).
 *   - every error message carries the URL and the backend's reason (OS error text, HTTP status).
 * Thread-safety: a store handle may be used from several threads at once.
 */
#ifndef SY_STORE_STORE_H
#define SY_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/url.h"

typedef struct sy_store sy_store;

typedef struct sy_list_entry {
    char *url;     /* full object URL (or common-prefix URL ending in '/') */
    uint64_t size; /* object size in bytes; 0 for prefixes */
    int is_prefix;
} sy_list_entry;

typedef struct sy_list {
    sy_list_entry *items;
    size_t n;
    int truncated;          /* more results exist: call again with start_after = last item url */
} sy_list;

typedef struct sy_list_opts {
    char delimiter;          /* 0 = none (recursive), '/' = roll up common prefixes */
    const char *start_after; /* URL; only entries sorting strictly after it are returned */
    size_t max_keys;         /* page size; 0 means 1000 */
} sy_list_opts;

typedef struct sy_store_ops {
    const char *name; /* "file", "mem", "s3" */
    shardy_status (*put)(sy_store *s, const char *url, const void *data, size_t len, const char *content_type);
    shardy_status (*put_file)(sy_store *s, const char *url, const char *local_path, const char *content_type);
    shardy_status (*get)(sy_store *s, const char *url, sy_buf *out);
    shardy_status (*get_range)(sy_store *s, const char *url, uint64_t offset, void *dst, size_t len, size_t *got);
    shardy_status (*get_file)(sy_store *s, const char *url, const char *local_path);
    shardy_status (*size)(sy_store *s, const char *url, uint64_t *size);
    shardy_status (*list)(sy_store *s, const char *prefix_url, const sy_list_opts *opts, sy_list *out);
    shardy_status (*del)(sy_store *s, const char *url);
    void (*close)(sy_store *s);
} sy_store_ops;

struct sy_store {
    const sy_store_ops *ops;
    sy_scheme scheme;
};

/* Opens the backend for url's scheme (a bare path means file://). Options for S3 come later. */
shardy_status sy_store_open(const char *url, sy_store **out) SY_NODISCARD;
void sy_store_close(sy_store **s);

/* Thin dispatchers: check that url matches the store's scheme, then call the backend. */
shardy_status sy_store_put(sy_store *s, const char *url, const void *data, size_t len,
                           const char *content_type) SY_NODISCARD;
/* Uploads a local file (streamed, not read into memory). */
shardy_status sy_store_put_file(sy_store *s, const char *url, const char *local_path,
                                const char *content_type) SY_NODISCARD;
/* Appends the whole object to out (out is reset first). */
shardy_status sy_store_get(sy_store *s, const char *url, sy_buf *out) SY_NODISCARD;
/* Reads up to len bytes at offset into dst; *got < len only at end of object. */
shardy_status sy_store_get_range(sy_store *s, const char *url, uint64_t offset, void *dst, size_t len,
                                 size_t *got) SY_NODISCARD;
/* Downloads to a local file atomically (temp + rename); creates parent directories. */
shardy_status sy_store_get_file(sy_store *s, const char *url, const char *local_path) SY_NODISCARD;
shardy_status sy_store_size(sy_store *s, const char *url, uint64_t *size) SY_NODISCARD;
/* One page of a listing; free with sy_list_free. */
shardy_status sy_store_list(sy_store *s, const char *prefix_url, const sy_list_opts *opts,
                            sy_list *out) SY_NODISCARD;
/* Every page of a listing concatenated (convenience for small listings). */
shardy_status sy_store_list_all(sy_store *s, const char *prefix_url, char delimiter, sy_list *out) SY_NODISCARD;
void sy_list_free(sy_list *l);
shardy_status sy_store_delete(sy_store *s, const char *url) SY_NODISCARD;
/* Deletes every object whose URL starts with prefix_url; *deleted (may be NULL) gets the count. */
shardy_status sy_store_delete_prefix(sy_store *s, const char *prefix_url, size_t *deleted) SY_NODISCARD;

/* Backend constructors (used by sy_store_open and by tests). */
shardy_status sy_store_file_open(sy_store **out) SY_NODISCARD;
shardy_status sy_store_mem_open(sy_store **out) SY_NODISCARD;

#endif
