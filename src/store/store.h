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
 *
 * Decisions the layers above may rely on (every backend implements them the same way):
 *   - start_after is compared (strcmp) with the entries a listing returns, after roll-up: an object
 *     URL, or a common-prefix URL ending in '/'. Paging with start_after = the last URL of the
 *     previous page therefore never repeats or skips an entry. (This differs from S3's raw
 *     StartAfter when start_after falls inside a rolled-up prefix: that prefix is not returned again.)
 *   - Keys we write (put, put_file, delete) must be portable between backends: the part after
 *     "scheme://" (after "file:///" for file URLs) is split at '/' and every segment must be
 *     non-empty, not "." or "..", and must not start with SY_STORE_TMP_PREFIX; so an object URL never
 *     ends with '/'. Violations are SHARDY_EINVAL. Reads accept any URL of the store's scheme.
 *   - file:// URLs are "file://" + the raw absolute path (no host, no percent-encoding).
 *   - file:// listing: regular files (and symlinks to regular files) are objects; directories are
 *     only a way to hold keys. With delimiter '/', a subdirectory is reported as a common prefix only
 *     if it holds at least one object somewhere below it (so empty leftover directories are as
 *     invisible as they are on S3). Symlinks to directories are never followed nor listed. Temp
 *     files (SY_STORE_TMP_PREFIX...) are never listed.
 *   - file:// delete removes only the file (never a parent directory); delete_prefix then removes
 *     the directories left empty within the prefix (see sy_store_ops.prune).
 *   - content_type is recorded by backends that have metadata (s3) and ignored by file and mem.
 *   - s3:// (s3.c, options in s3.h): objects are S3 objects of any bucket; a put of at least
 *     multipart_threshold bytes is a multipart upload (aborted on failure, never left dangling);
 *     delete_prefix deletes with DeleteObjects, 1000 keys per request. A missing bucket reads as
 *     SHARDY_ENOTFOUND and fails writes with SHARDY_ESTORE.
 *   - mem:// is for tests: every sy_store_open("mem://...") / sy_store_mem_open is a new, empty,
 *     independent namespace that lives until close.
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
    /* Optional (NULL = put_file, then unlink). put_file for a local file the caller hands over:
     * on success local_path is gone (file://: renamed into place when on the same file system). */
    shardy_status (*move_file)(sy_store *s, const char *url, const char *local_path, const char *content_type);
    shardy_status (*get)(sy_store *s, const char *url, sy_buf *out);
    shardy_status (*get_range)(sy_store *s, const char *url, uint64_t offset, void *dst, size_t len, size_t *got);
    shardy_status (*get_file)(sy_store *s, const char *url, const char *local_path);
    shardy_status (*size)(sy_store *s, const char *url, uint64_t *size);
    shardy_status (*list)(sy_store *s, const char *prefix_url, const sy_list_opts *opts, sy_list *out);
    shardy_status (*del)(sy_store *s, const char *url);
    void (*close)(sy_store *s);
    /* Optional (NULL when there is nothing to tidy). Called by sy_store_delete_prefix after every
     * object under prefix_url was deleted: removes backend leftovers such as the empty directories
     * of file://. Best effort, never fails, never removes anything that still holds an object. */
    void (*prune)(sy_store *s, const char *prefix_url);
    /* Optional (NULL = sy_store_delete_prefix deletes one by one with del). Deletes n <= 1000 listed
     * object URLs in as few requests as the backend can (s3: one DeleteObjects); *deleted gets the
     * number deleted, also on failure. Missing objects count as deleted. */
    shardy_status (*del_batch)(sy_store *s, const char *const *urls, size_t n, size_t *deleted);
    /* Optional (NULL = the backend has no unfinished uploads). Aborts every unfinished upload
     * (s3: in-progress multipart upload) whose key starts with prefix_url's key; *aborted gets how
     * many were found. */
    shardy_status (*abort_uploads)(sy_store *s, const char *prefix_url, size_t *aborted);
} sy_store_ops;

/* Backends receive URLs already checked against the store's scheme, non-NULL arguments, and for
 * list an opts with max_keys > 0 and delimiter 0 or '/'; *out of list starts empty. */

struct sy_store {
    const sy_store_ops *ops;
    sy_scheme scheme;
};

/* Options of sy_store_open_opts; backends ignore the parts that are not theirs. */
typedef struct sy_s3_opts sy_s3_opts; /* store/s3.h */
typedef struct sy_store_opts {
    const sy_s3_opts *s3; /* s3:// connection options and credentials; NULL = defaults + environment */
} sy_store_opts;

/* Opens the backend for url's scheme (a bare path means file://; it is normalised and must be
 * valid, but the store is not rooted there: it serves any URL of its scheme; an s3:// store serves
 * every bucket reachable with its endpoint and credentials). opts may be NULL; the options are
 * copied, so the caller may free them after the call. Opening never contacts a server: bad
 * credentials show on the first request (SHARDY_EAUTH). Close with sy_store_close. */
shardy_status sy_store_open_opts(const char *url, const sy_store_opts *opts, sy_store **out) SY_NODISCARD;
/* sy_store_open_opts(url, NULL, out): s3:// takes its settings from the environment and AWS files. */
shardy_status sy_store_open(const char *url, sy_store **out) SY_NODISCARD;
/* Closes and frees the store; accepts NULL and *s == NULL; sets *s to NULL. */
void sy_store_close(sy_store **s);

/* Thin dispatchers: check that url matches the store's scheme, then call the backend. */
shardy_status sy_store_put(sy_store *s, const char *url, const void *data, size_t len,
                           const char *content_type) SY_NODISCARD;
/* Uploads a local file (streamed, not read into memory). */
shardy_status sy_store_put_file(sy_store *s, const char *url, const char *local_path,
                                const char *content_type) SY_NODISCARD;
/* put_file for a finished local file that the caller no longer needs: on success local_path no
 * longer exists (file:// renames it into place on the same file system instead of copying; other
 * backends upload and delete it). On failure local_path may remain; the caller deletes it. */
shardy_status sy_store_move_file(sy_store *s, const char *url, const char *local_path,
                                 const char *content_type) SY_NODISCARD;
/* Stores the whole object to out (out is reset first; on failure out->len is 0). */
shardy_status sy_store_get(sy_store *s, const char *url, sy_buf *out) SY_NODISCARD;
/* Reads up to len bytes at offset into dst; *got < len only at end of object; an offset at or past
 * the end gives *got = 0 and SHARDY_OK. */
shardy_status sy_store_get_range(sy_store *s, const char *url, uint64_t offset, void *dst, size_t len,
                                 size_t *got) SY_NODISCARD;
/* Downloads to a local file atomically (temp + rename); creates parent directories. */
shardy_status sy_store_get_file(sy_store *s, const char *url, const char *local_path) SY_NODISCARD;
shardy_status sy_store_size(sy_store *s, const char *url, uint64_t *size) SY_NODISCARD;
/* One page of a listing; opts may be NULL (recursive, from the start, 1000 keys). *out is
 * overwritten (not freed) and is empty on failure; free it with sy_list_free. A prefix that matches
 * nothing (a missing directory) is an empty listing, not an error. */
shardy_status sy_store_list(sy_store *s, const char *prefix_url, const sy_list_opts *opts,
                            sy_list *out) SY_NODISCARD;
/* Every page of a listing concatenated (convenience for small listings); *out as for list. */
shardy_status sy_store_list_all(sy_store *s, const char *prefix_url, char delimiter, sy_list *out) SY_NODISCARD;
/* Frees every entry and the array; accepts NULL; leaves an empty list. */
void sy_list_free(sy_list *l);
shardy_status sy_store_delete(sy_store *s, const char *url) SY_NODISCARD;
/* Deletes every object whose URL starts with prefix_url (plain string prefix, like S3: pass a
 * trailing '/' to mean "this directory", since ".../attempt=01" also matches ".../attempt=012"),
 * then calls ops->prune. *deleted (may be NULL) gets the number of objects deleted, also when a
 * delete fails part way. A prefix with an empty key ("file:///", "s3://bucket/") is refused with
 * SHARDY_EINVAL. */
shardy_status sy_store_delete_prefix(sy_store *s, const char *prefix_url, size_t *deleted) SY_NODISCARD;
/* Aborts the unfinished uploads under prefix_url (s3: multipart uploads whose parts a failed or
 * killed writer left behind; they are invisible to listings but kept, and billed, until aborted).
 * *aborted (may be NULL) gets how many were found. Backends without such uploads: SHARDY_OK, 0.
 * An empty key (the whole bucket) is refused, as for delete_prefix. */
shardy_status sy_store_abort_uploads(sy_store *s, const char *prefix_url, size_t *aborted) SY_NODISCARD;

/* Backend constructors (used by sy_store_open and by tests); sy_store_s3_open is in store/s3.h. */
shardy_status sy_store_file_open(sy_store **out) SY_NODISCARD;
shardy_status sy_store_mem_open(sy_store **out) SY_NODISCARD;

/* ---------------------------------------------------------------------------------------------
 * Helpers shared by the backends.
 * ------------------------------------------------------------------------------------------- */

/* Name prefix of the temp files of atomic writes. Never listed; keys may not use it. */
#define SY_STORE_TMP_PREFIX ".shardy-tmp-"

/* Appends a copy of url[0..url_len) to l, growing l->items; *cap is the capacity of l->items
 * (start at 0 with an empty list). SHARDY_ENOMEM leaves l unchanged. (store.c) */
shardy_status sy_list_push(sy_list *l, size_t *cap, const char *url, size_t url_len, uint64_t size,
                           int is_prefix) SY_NODISCARD;

/* Local atomic file (file.c): the write path of file:// puts and of every backend's get_file.
 *   sy_atomic_file af = SY_ATOMIC_FILE_INIT;
 *   st = sy_atomic_file_begin(&af, "/dir/name", "get_file s3://b/k to /dir/name");
 *   ... st = sy_atomic_file_write(&af, p, n) ...;   (as often as needed)
 *   st = sy_atomic_file_commit(&af);                (or sy_atomic_file_abort(&af) to give up)
 * begin creates missing parent directories (mode 0777 & ~umask) and an exclusive temp file
 * "<dir>/.shardy-tmp-<random>" (mode 0666 & ~umask) next to path. commit fsyncs it, renames it
 * over path and fsyncs the directory. Until the rename, path is untouched. commit and abort always
 * release everything (a failed commit removes the temp file); abort is idempotent and safe on an
 * SY_ATOMIC_FILE_INIT value or after a failed begin. A directory fsync failure after the rename is
 * reported although the new file is already in place. Messages are "<ctx>: <step>: <OS text>";
 * ctx is borrowed until commit/abort. Not thread-safe per value; distinct values are independent. */
typedef struct sy_atomic_file {
    int fd;          /* temp file, -1 when none is open */
    char *path;      /* final path (owned) */
    char *tmp_path;  /* temp file path (owned); non-NULL only while the temp file exists */
    const char *ctx; /* message prefix (borrowed) */
} sy_atomic_file;
#define SY_ATOMIC_FILE_INIT {-1, NULL, NULL, NULL}

shardy_status sy_atomic_file_begin(sy_atomic_file *af, const char *path, const char *ctx) SY_NODISCARD;
shardy_status sy_atomic_file_write(sy_atomic_file *af, const void *data, size_t len) SY_NODISCARD;
shardy_status sy_atomic_file_commit(sy_atomic_file *af) SY_NODISCARD;
void sy_atomic_file_abort(sy_atomic_file *af);

#endif
