/*
 * shard.h — one shard file: the backend-neutral writer/reader API and the backend vtable.
 *
 * What it owns
 *   A shard writer turns a stream of (key, value) byte strings into one sealed shard file on local
 *   disk (the caller uploads it); a shard reader serves point lookups from one local shard file.
 *   Keys and values are opaque bytes here: key encoding and routing happen above this layer.
 *   The backend is chosen by an sy_shard_ops table (SQLite: sy_shard_sqlite_ops in sqlite.c,
 *   spec formats §7). The plain open functions use SQLite; the *_with variants take a backend.
 *
 * Writer lifecycle
 *   open → put / put_batch (any number) → seal → close.
 *   - open creates a fresh file: an existing file at the path and its -journal/-wal/-shm
 *     companions are removed first.
 *   - Duplicate keys: the last write wins, no error. Every accepted row is counted (stats.rows_put
 *     counts duplicates).
 *   - Any error from the backend (SQLite, I/O) during put/put_batch/seal leaves the writer FAILED:
 *     later put/seal calls return SHARDY_ECLOSED; only close is useful. Argument errors
 *     (SHARDY_EINVAL, e.g. NULL data with a non-zero length) do not change the state.
 *   - seal is allowed once. After it the file is complete and db_bytes is its exact size.
 *   - close of a writer that was not sealed successfully is an abort: the file (and companions)
 *     is deleted, so a failed shard can never be uploaded. Close of a sealed writer keeps the file.
 *
 * Reader
 *   - get returns a zero-copy view that stays valid until the next call on the same reader or its
 *     close; get_copy copies into a caller buffer. A miss is SHARDY_ENOTFOUND.
 *   - A missing/corrupt/foreign file is an error status with the path in the message
 *     (SHARDY_ENOTFOUND, SHARDY_EFORMAT, SHARDY_ESQLITE, SHARDY_EIO), never a crash.
 *
 * Threads: a writer or reader handle must be used by one thread at a time (handles are not
 *   locked; SQLite connections are opened with SQLITE_OPEN_NOMUTEX). Different handles may be used
 *   concurrently. The reader layer gives each thread its own handle or serialises access.
 *
 * Memory: our own allocations (handles, path copies) go through sy_malloc. SQLite allocates
 *   through its own allocator: SQLite is a process-wide library that Python's sqlite3 module may
 *   share, so we do not reconfigure it (sqlite3_config is global and must precede any use).
 *   Lookups and inserts make no allocation of ours per call.
 *
 * Errors: every failure sets the thread's message (shardy_errmsg) and names the shard path and,
 *   for SQLite failures, SQLite's own message, e.g.
 *   "shard /tmp/x/shard.db: not a shardyfusion SQLite shard: file is not a database".
 */
#ifndef SY_SHARD_SHARD_H
#define SY_SHARD_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* One row for put_batch. Pointers are borrowed for the duration of the call only. */
typedef struct sy_kv {
    const void *k;
    size_t klen;
    const void *v;
    size_t vlen;
} sy_kv;

/* page_size: 0 → 4096; 4096, 8192, 16384, 32768 or 65536; SY_PAGE_SIZE_AUTO → written with 4096
 * and re-paged at seal from the data (spec formats §7.4). Anything else → SHARDY_EINVAL.
 * cache_size_kib: page cache while writing, in KiB; 0 → 2000 (PRAGMA cache_size = -2000);
 * negative → SHARDY_EINVAL. A zero-initialised struct (or NULL) means all defaults. */
#define SY_PAGE_SIZE_AUTO (-1)
typedef struct sy_shard_writer_opts {
    int page_size;
    int cache_size_kib;
    int no_bulk; /* 1: every row through SQLite's INSERT (else rows in increasing key order are
                  * bulk-loaded, sqbulk.h; SHARDY_SQLITE_BULK=0 in the environment does the same) */
    int writeback; /* 1: the file is fsynced into a local store when done — start its disk writes
                    * while loading (sy_sqbulk_writeback) */
} sy_shard_writer_opts;

/* mmap_size: bytes of the file to memory-map for reads; 0 → 256 MiB (spec reader §3.3), negative →
 * no mmap. cache_size_kib: page cache in KiB; 0 → 8000. NULL means all defaults. */
typedef struct sy_shard_reader_opts {
    int64_t mmap_size;
    int cache_size_kib;
} sy_shard_reader_opts;

/* Counters the write pipeline reports. */
typedef struct sy_shard_writer_stats {
    uint64_t rows_put;  /* rows accepted by put/put_batch, duplicates counted */
    uint64_t bytes_put; /* sum of key + value lengths of those rows */
    uint64_t db_bytes;  /* file size after a successful seal, else 0 */
    int page_size;      /* final page size after a successful seal (auto resolved), else 0 */
} sy_shard_writer_stats;

typedef struct sy_shard_ops sy_shard_ops;
typedef struct sy_shard_writer sy_shard_writer;
typedef struct sy_shard_reader sy_shard_reader;

/* Process-wide SQLite setup done once before the library's first SQLite call: turns off SQLite's
 * memory statistics (SQLITE_CONFIG_MEMSTATUS), whose global mutex every SQLite allocation takes and
 * which serialises the builder's writer threads and concurrent readers. It only takes effect if
 * SQLite is not initialised yet in the process (then it is a no-op), and it only disables
 * sqlite3_memory_used()/soft heap limits. Set SHARDY_SQLITE_MEMSTATUS=1 to keep the statistics. */
void sy_sqlite_global_init(void);

/* The SQLite backend (spec formats §7). */
extern const sy_shard_ops sy_shard_sqlite_ops;

/* Backend by its custom.shard_format name ("sqlite"); NULL if this build does not have it. */
const sy_shard_ops *sy_shard_ops_by_name(const char *name);
/* The backend's name, as recorded in custom.shard_format. */
const char *sy_shard_ops_name(const sy_shard_ops *ops);

/* SQLite page size for rows of value_bytes + key_bytes (spec formats §7.4): the smallest of
 * 4096..65536 whose inline payload limit ((size − 12)·64 / 255) − 23 holds value + key + 12 bytes,
 * else 65536. The writer's auto mode calls it with the p95 value length and the max key length. */
int sy_shard_sqlite_page_size_for(uint64_t value_bytes, uint64_t key_bytes);

/* ---- writer --------------------------------------------------------------------------------- */

/* Creates a fresh shard file at local_path (SQLite backend). o may be NULL. On success *out owns
 * the handle (release with sy_shard_writer_close); on failure *out is NULL and no file is left. */
shardy_status sy_shard_writer_open(const char *local_path, const sy_shard_writer_opts *o,
                                   sy_shard_writer **out) SY_NODISCARD;
/* Same with an explicit backend (NULL → SQLite). */
shardy_status sy_shard_writer_open_with(const sy_shard_ops *ops, const char *local_path,
                                        const sy_shard_writer_opts *o, sy_shard_writer **out) SY_NODISCARD;

/* Adds one row. k/v may be NULL only with length 0; an empty value is stored as an empty value
 * (a zero-length BLOB in SQLite, never NULL). The bytes are consumed before the call returns. */
shardy_status sy_shard_writer_put(sy_shard_writer *w, const void *k, size_t klen, const void *v,
                                  size_t vlen) SY_NODISCARD;
/* Adds n rows in order (same rules as put). On a backend error some prefix of the rows may have
 * been written; the writer is FAILED either way. */
shardy_status sy_shard_writer_put_batch(sy_shard_writer *w, const sy_kv *rows, size_t n) SY_NODISCARD;

/* Finalises the file (SQLite: COMMIT, PRAGMA optimize, close, auto page size + VACUUM) and stores
 * its size in *db_bytes (may be NULL). A failed seal means the file must not be uploaded. */
shardy_status sy_shard_writer_seal(sy_shard_writer *w, uint64_t *db_bytes) SY_NODISCARD;

/* Counters so far (valid in any state). */
sy_shard_writer_stats sy_shard_writer_stats_get(const sy_shard_writer *w);
/* The local path given to open; owned by the writer, valid until close. */
const char *sy_shard_writer_path(const sy_shard_writer *w);

/* Releases the writer and sets *w to NULL; accepts NULL and *w == NULL. Not sealed (or seal
 * failed) → abort: the file and its companions are deleted. Sealed → the file stays. */
void sy_shard_writer_close(sy_shard_writer **w);

/* ---- reader --------------------------------------------------------------------------------- */

/* Opens a local shard file read-only (SQLite backend, default options) and checks that it is a
 * shard (SQLite: a kv(k BLOB PRIMARY KEY, v BLOB) table). The file must not change while open
 * (it is opened as immutable; replace shards by rename, never in place). */
shardy_status sy_shard_reader_open(const char *local_path, sy_shard_reader **out) SY_NODISCARD;
/* Same with an explicit backend (NULL → SQLite) and options (NULL → defaults). */
shardy_status sy_shard_reader_open_with(const sy_shard_ops *ops, const char *local_path,
                                        const sy_shard_reader_opts *o, sy_shard_reader **out) SY_NODISCARD;

/* Looks up a key (bytes; k may be NULL only with klen 0). On success *v points to the value
 * (never NULL, even for an empty value) and *vlen is its length; the bytes belong to the reader
 * and stay valid until the next call on r or its close. SHARDY_ENOTFOUND on a miss. */
shardy_status sy_shard_reader_get(sy_shard_reader *r, const void *k, size_t klen, const void **v,
                                  size_t *vlen) SY_NODISCARD;

/* Looks up a key and copies the value into buf. *vlen is always set to the value's full length
 * when the key exists; SHARDY_ERANGE (buf untouched) if cap < *vlen. SHARDY_ENOTFOUND on a miss.
 * buf may be NULL when cap is 0 (a length query). */
shardy_status sy_shard_reader_get_copy(sy_shard_reader *r, const void *k, size_t klen, void *buf,
                                       size_t cap, size_t *vlen) SY_NODISCARD;

/* The local path given to open; owned by the reader, valid until close. */
const char *sy_shard_reader_path(const sy_shard_reader *r);

/* Releases the reader and sets *r to NULL; accepts NULL and *r == NULL. */
void sy_shard_reader_close(sy_shard_reader **r);

/* ---- backend interface (for src/shard/<backend>.c only) --------------------------------------
 *
 * A backend allocates its own handle struct with the base struct below as its FIRST member and
 * fills every base field in open. The dispatch functions above validate arguments and states,
 * keep the counters and implement get_copy on top of get, so backends do only the storage work.
 * writer_put / writer_put_batch / writer_seal are called only in state SY_SHARD_W_OPEN; a backend
 * error return moves the writer to SY_SHARD_W_FAILED (done by the dispatcher). writer_free
 * releases everything; discard != 0 means "delete what was written" (abort). */
enum { SY_SHARD_W_OPEN = 1, SY_SHARD_W_SEALED = 2, SY_SHARD_W_FAILED = 3 };

#define SY_SHARD_WRITER_MAGIC 0x53485757u /* "SHWW" */
#define SY_SHARD_READER_MAGIC 0x53485252u /* "SHRR" */

struct sy_shard_writer {
    const sy_shard_ops *ops;
    uint32_t magic; /* SY_SHARD_WRITER_MAGIC while allocated; cleared before free */
    int state;      /* SY_SHARD_W_* */
    char *path;     /* owned */
    sy_shard_writer_stats stats;
};

struct sy_shard_reader {
    const sy_shard_ops *ops;
    uint32_t magic; /* SY_SHARD_READER_MAGIC while allocated; cleared before free */
    char *path;     /* owned */
};

struct sy_shard_ops {
    const char *name; /* custom.shard_format value */
    /* o is never NULL (the dispatcher passes a zeroed struct for NULL); the backend validates it. */
    shardy_status (*writer_open)(const char *path, const sy_shard_writer_opts *o, sy_shard_writer **out);
    /* k, v are never NULL (the dispatcher substitutes "" for NULL with length 0). */
    shardy_status (*writer_put)(sy_shard_writer *w, const void *k, size_t klen, const void *v, size_t vlen);
    /* rows[i].k / rows[i].v may be NULL with length 0 (checked by the dispatcher). */
    shardy_status (*writer_put_batch)(sy_shard_writer *w, const sy_kv *rows, size_t n);
    /* Sets stats.db_bytes and stats.page_size on success. */
    shardy_status (*writer_seal)(sy_shard_writer *w);
    void (*writer_free)(sy_shard_writer *w, int discard);
    /* o is never NULL (defaults resolved by the backend from zero fields). */
    shardy_status (*reader_open)(const char *path, const sy_shard_reader_opts *o, sy_shard_reader **out);
    /* k is never NULL; on success *v is never NULL. */
    shardy_status (*reader_get)(sy_shard_reader *r, const void *k, size_t klen, const void **v, size_t *vlen);
    void (*reader_free)(sy_shard_reader *r);
};

#endif
