/*
 * sqlite.c — the SQLite shard backend (spec formats §7): writer and reader of shard.db files.
 *
 * Owns one sqlite3 connection per handle, plus one cached prepared statement (the INSERT for a
 * writer, the SELECT for a reader).
 *
 * Writer invariants (normative, spec formats §7.2–§7.4):
 *   - A fresh file; pragmas exactly page_size, journal_mode=OFF, synchronous=OFF, cache_size,
 *     locking_mode=EXCLUSIVE, temp_store=MEMORY, in that order; then the exact DDL
 *     "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"; then
 *     one BEGIN. Every row goes through one prepared INSERT OR REPLACE (last write wins) with key
 *     and value bound as BLOBs by reference (SQLITE_STATIC: no copy, no allocation per row; a
 *     zero-length value is bound from a non-NULL pointer so it is an empty BLOB, never NULL).
 *   - The file is in rollback-journal format (header bytes 18/19 == 1: journal_mode=OFF never
 *     switches to WAL), reserved bytes per page 0 (the SQLite default; nothing here changes it).
 *   - Seal: COMMIT, PRAGMA optimize, close; in auto mode reopen, compute the nearest-rank p95 of
 *     length(v) and max(length(k)), pick the page size, VACUUM when it differs; db_bytes = size.
 *
 * Reader invariants:
 *   - Opened through a "file:" URI (path percent-escaped) with SQLITE_OPEN_READONLY |
 *     SQLITE_OPEN_NOMUTEX and immutable=1: no locks, no journal or change checks, so a shard
 *     file must never be modified in place while open (the cache replaces files by rename).
 *   - The open verifies a kv table with columns k (BLOB, the primary key) and v; anything else is
 *     SHARDY_EFORMAT "shard <path>: not a shardyfusion SQLite shard: ...".
 *   - Lookups bind the key as a BLOB (a TEXT key in a foreign file never matches, like Python).
 *     The statement is reset lazily at the start of the next lookup, so the value pointer that
 *     sqlite3_column_blob returned stays valid until the next call on the handle.
 *
 * Failure behaviour: SQLite errors become SHARDY_ESQLITE (SHARDY_EIO for I/O, SHARDY_EFORMAT for
 * corrupt/not-a-database, SHARDY_ENOMEM, SHARDY_ERANGE for too-large values) with the path, what
 * was being done and sqlite3_errmsg (plus the OS error text when SQLite has one).
 */
#include "shard/shard.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "shard/sqbulk.h"

#define SQ_DDL "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
#define SQ_INSERT "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"
#define SQ_SELECT "SELECT v FROM kv WHERE k = ?"
#define SQ_DEFAULT_PAGE 4096
#define SQ_MAX_RECORD 1000000000u /* SQLite's default SQLITE_MAX_LENGTH */
#define SQ_DEFAULT_WRITE_CACHE_KIB 2000
#define SQ_DEFAULT_READ_CACHE_KIB 8000
#define SQ_DEFAULT_MMAP ((int64_t)268435456) /* 256 MiB, spec reader-cli §3.3 */

static void sqlite_global_init_once(void) {
    const char *keep = getenv("SHARDY_SQLITE_MEMSTATUS");
    if (keep && *keep && strcmp(keep, "0") != 0) return;
    /* SQLITE_MISUSE when SQLite is already initialised in this process: nothing to do then. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

void sy_sqlite_global_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_global_init_once);
}

static const char empty_blob[1] = {0};
static const int page_sizes[] = {4096, 8192, 16384, 32768, 65536};

typedef struct sq_writer {
    sy_shard_writer base; /* first member: the handle callers hold */
    sqlite3 *db;
    sqlite3_stmt *ins;
    int page_size; /* requested: 4096..65536, or SY_PAGE_SIZE_AUTO */
    int cache;     /* KiB */
    sy_sqbulk *bulk; /* bulk mode while keys arrive in increasing order (sqbulk.h) */
    unsigned char *last; /* bulk mode: the previous key */
    size_t last_len, last_cap;
    uint64_t bulk_rows;
} sq_writer;

typedef struct sq_reader {
    sy_shard_reader base; /* first member */
    sqlite3 *db;
    sqlite3_stmt *get;
    int active; /* get has a row and has not been reset yet (the value view is live) */
} sq_reader;

/* ---- errors --------------------------------------------------------------------------------- */

static shardy_status status_of(int rc) {
    switch (rc & 0xff) {
    case SQLITE_NOMEM: return SHARDY_ENOMEM;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: return SHARDY_EIO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return SHARDY_EFORMAT;
    case SQLITE_TOOBIG: return SHARDY_ERANGE;
    default: return SHARDY_ESQLITE;
    }
}

static void os_reason(int err, char *buf, size_t n) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    const char *t = strerror_r(err, buf, n);
    if (t != buf) snprintf(buf, n, "%s", t);
#else
    if (strerror_r(err, buf, n) != 0) snprintf(buf, n, "errno %d", err);
#endif
}

/* "shard <path>: <what>: <sqlite message>[ (<OS error>)]"; returns the mapped status. */
static shardy_status sq_fail(sqlite3 *db, int rc, const char *path, const char *what) {
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int prim = rc & 0xff;
    int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys && (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN || prim == SQLITE_FULL)) {
        char why[160];
        os_reason(sys, why, sizeof why);
        return sy_err(status_of(rc), "shard %s: %s: %s (%s)", path, what, msg, why);
    }
    return sy_err(status_of(rc), "shard %s: %s: %s", path, what, msg);
}

static shardy_status exec_sql(sqlite3 *db, const char *path, const char *sql) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? SHARDY_OK : sq_fail(db, rc, path, sql);
}

/* ---- files and URIs ------------------------------------------------------------------------- */

/* "file:" URI for a local path: every byte outside [A-Za-z0-9._~/-] is %XX-escaped, so '%', '?',
 * '#', spaces and non-ASCII bytes survive SQLite's URI parsing; an absolute path gets an empty
 * authority ("file:///abs") so a path starting with "//" is not read as a host. Returns a
 * sy_malloc'd string or NULL. */
static char *path_uri(const char *path, const char *query) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path), q = query ? strlen(query) + 1 : 0;
    if (n > (SIZE_MAX - q - 16) / 3) return NULL;
    char *u = sy_malloc(7 + 3 * n + q + 1);
    if (!u) return NULL;
    char *o = u;
    memcpy(o, "file:", 5);
    o += 5;
    if (path[0] == '/') {
        memcpy(o, "//", 2);
        o += 2;
    }
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
            c == '_' || c == '~' || c == '/' || c == '-') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    if (query) {
        *o++ = '?';
        memcpy(o, query, q - 1);
        o += q - 1;
    }
    *o = '\0';
    return u;
}

/* Removes path and its -journal/-wal/-shm companions (missing files are fine). report != 0: the
 * first failure is returned with a message; otherwise failures are ignored (abort path). */
static shardy_status remove_files(const char *path, int report) {
    static const char *const suffix[] = {"", "-journal", "-wal", "-shm"};
    char name[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        int len = snprintf(name, sizeof name, "%s%s", path, suffix[i]);
        if (len < 0 || (size_t)len >= sizeof name) {
            if (report) return sy_err(SHARDY_EINVAL, "shard %s: path too long", path);
            return SHARDY_OK;
        }
        if (unlink(name) != 0 && errno != ENOENT && report)
            return sy_err_errno(errno, "shard writer: cannot remove old", name);
    }
    return SHARDY_OK;
}

static shardy_status file_size(const char *path, uint64_t *size) {
    struct stat sb;
    if (stat(path, &sb) != 0) return sy_err_errno(errno, "shard: cannot stat", path);
    *size = (uint64_t)sb.st_size;
    return SHARDY_OK;
}

/* Opens a connection on path's URI with flags; on failure *db is NULL and the message is set. */
static shardy_status open_db(const char *path, const char *query, int flags, const char *what, sqlite3 **db) {
    shardy_status st = SHARDY_OK;
    char *uri = path_uri(path, query);
    *db = NULL;
    if (!uri) {
        st = sy_err(SHARDY_ENOMEM, "shard %s: out of memory building its URI", path);
        goto done;
    }
    sy_sqlite_global_init();
    int rc = sqlite3_open_v2(uri, db, flags | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {
        st = sq_fail(*db, rc, path, what);
        sqlite3_close(*db); /* harmless on NULL */
        *db = NULL;
        goto done;
    }
    sqlite3_extended_result_codes(*db, 1);
done:
    sy_free(uri);
    return st;
}

/* ---- page size ------------------------------------------------------------------------------ */

int sy_shard_sqlite_page_size_for(uint64_t value_bytes, uint64_t key_bytes) {
    uint64_t need = value_bytes + key_bytes + 12;
    for (size_t i = 0; i < sizeof page_sizes / sizeof page_sizes[0]; i++) {
        uint64_t limit = ((uint64_t)(page_sizes[i] - 12) * 64 / 255) - 23;
        if (limit >= need) return page_sizes[i];
    }
    return 65536;
}

static int valid_page_size(int size) {
    for (size_t i = 0; i < sizeof page_sizes / sizeof page_sizes[0]; i++)
        if (page_sizes[i] == size) return 1;
    return 0;
}

/* Runs a query that returns one integer row (binding arg1 to ?1 when the SQL has a parameter). */
static shardy_status query_int(sqlite3 *db, const char *path, const char *sql, int64_t arg1, int64_t *out) {
    shardy_status st = SHARDY_OK;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(q) > 0) rc = sqlite3_bind_int64(q, 1, arg1);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) { /* the queries used here always return a row */
        st = sy_err(SHARDY_EFORMAT, "shard %s: %s: no result row", path, sql);
        goto done;
    }
    if (rc != SQLITE_ROW) {
        st = sq_fail(db, rc, path, sql);
        goto done;
    }
    *out = sqlite3_column_int64(q, 0);
done:
    sqlite3_finalize(q);
    return st;
}

/* Auto page size (spec formats §7.4 step 2) on the closed, committed file. *page = final size. */
static shardy_status repage(const char *path, int *page) {
    shardy_status st = SHARDY_OK;
    sqlite3 *db = NULL;
    int64_t rows = 0, maxk = 0, p95 = 0, cur = 0;
    char sql[64];
    SY_TRY(open_db(path, NULL, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, "cannot reopen for auto page size",
                   &db));
    /* No journal while re-paging: the file is ours alone and is discarded if this fails. */
    SY_TRY(exec_sql(db, path, "PRAGMA journal_mode = OFF"));
    SY_TRY(exec_sql(db, path, "PRAGMA synchronous = OFF"));
    SY_TRY(query_int(db, path, "PRAGMA page_size", 0, &cur));
    *page = (int)cur;
    SY_TRY(query_int(db, path, "SELECT count(*) FROM kv", 0, &rows));
    if (rows == 0) goto done;
    SY_TRY(query_int(db, path, "SELECT max(length(k)) FROM kv", 0, &maxk));
    /* nearest rank: OFFSET ceil(0.95·N) − 1, in exact integer arithmetic */
    SY_TRY(query_int(db, path, "SELECT length(v) FROM kv ORDER BY length(v) LIMIT 1 OFFSET ?",
                     (rows / 100) * 95 + ((rows % 100) * 95 + 99) / 100 - 1, &p95));
    int want = sy_shard_sqlite_page_size_for((uint64_t)p95, (uint64_t)maxk);
    if (want == cur) goto done;
    snprintf(sql, sizeof sql, "PRAGMA page_size = %d", want);
    SY_TRY(exec_sql(db, path, sql));
    SY_TRY(exec_sql(db, path, "VACUUM"));
    SY_TRY(query_int(db, path, "PRAGMA page_size", 0, &cur));
    if (cur != want) {
        st = sy_err(SHARDY_EINTERNAL, "shard %s: VACUUM left page size %lld, wanted %d", path, (long long)cur, want);
        goto done;
    }
    *page = want;
done:
    if (db) {
        int rc = sqlite3_close(db);
        if (rc != SQLITE_OK && st == SHARDY_OK) st = sq_fail(NULL, rc, path, "close after auto page size");
    }
    return st;
}

/* ---- writer --------------------------------------------------------------------------------- */

static void sq_writer_free(sy_shard_writer *base, int discard) {
    sq_writer *w = (sq_writer *)base;
    sy_sqbulk_free(&w->bulk);
    sy_free(w->last);
    sqlite3_finalize(w->ins);
    sqlite3_close_v2(w->db); /* statements are finalized, so this closes now */
    if (discard && w->base.path) remove_files(w->base.path, 0);
    w->base.magic = 0;
    sy_free(w->base.path);
    sy_free(w);
}

/* Bulk mode (sqbulk.h) unless the options or SHARDY_SQLITE_BULK=0 ask for SQLite's own inserts. */
static int bulk_enabled(const sy_shard_writer_opts *o) {
    if (o->no_bulk) return 0;
    const char *e = getenv("SHARDY_SQLITE_BULK");
    return !(e && !strcmp(e, "0"));
}

/* Opens the SQLite connection with the writer's pragmas and DDL (spec formats §7.2) on a fresh
 * file (fresh = 1) or on the file the bulk loader finished, then BEGIN and the INSERT. */
static shardy_status open_sql(sq_writer *w, int fresh) {
    shardy_status st = SHARDY_OK;
    const char *path = w->base.path;
    char sql[96];
    int page = w->page_size;
    SY_TRY(open_db(path, NULL, SQLITE_OPEN_READWRITE | (fresh ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX,
                   fresh ? "cannot create" : "cannot reopen", &w->db));
    /* spec formats §7.2: exactly these statements, in this order (page_size is a no-op on a
     * reopened file, which has it already) */
    snprintf(sql, sizeof sql, "PRAGMA page_size = %d", page == SY_PAGE_SIZE_AUTO ? SQ_DEFAULT_PAGE : page);
    SY_TRY(exec_sql(w->db, path, sql));
    SY_TRY(exec_sql(w->db, path, "PRAGMA journal_mode = OFF"));
    SY_TRY(exec_sql(w->db, path, "PRAGMA synchronous = OFF"));
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", w->cache);
    SY_TRY(exec_sql(w->db, path, sql));
    SY_TRY(exec_sql(w->db, path, "PRAGMA locking_mode = EXCLUSIVE"));
    SY_TRY(exec_sql(w->db, path, "PRAGMA temp_store = MEMORY"));
    SY_TRY(exec_sql(w->db, path, SQ_DDL));
    SY_TRY(exec_sql(w->db, path, "BEGIN"));
    int rc = sqlite3_prepare_v3(w->db, SQ_INSERT, -1, SQLITE_PREPARE_PERSISTENT, &w->ins, NULL);
    if (rc != SQLITE_OK) st = sq_fail(w->db, rc, path, "prepare insert");
done:
    return st;
}

/* A key not above the previous one: the bulk file is finished and SQLite takes over (INSERT OR
 * REPLACE keeps last-write-wins for any order). */
static shardy_status leave_bulk(sq_writer *w) {
    shardy_status st = sy_sqbulk_finish(w->bulk);
    sy_sqbulk_free(&w->bulk);
    if (st) return st;
    return open_sql(w, 0);
}

static shardy_status sq_writer_open(const char *path, const sy_shard_writer_opts *o, sy_shard_writer **out) {
    shardy_status st = SHARDY_OK;
    sq_writer *w = NULL;
    int page = o->page_size ? o->page_size : SQ_DEFAULT_PAGE;
    int cache = o->cache_size_kib ? o->cache_size_kib : SQ_DEFAULT_WRITE_CACHE_KIB;
    if (page != SY_PAGE_SIZE_AUTO && !valid_page_size(page))
        return sy_err(SHARDY_EINVAL,
                      "shard %s: page_size %d is not one of 4096, 8192, 16384, 32768, 65536 or auto", path,
                      o->page_size);
    if (cache < 0)
        return sy_err(SHARDY_EINVAL, "shard %s: cache_size_kib %d must be >= 0", path, o->cache_size_kib);
    w = sy_calloc(1, sizeof *w);
    if (!w) return sy_err(SHARDY_ENOMEM, "shard %s: out of memory opening the writer", path);
    w->base.ops = &sy_shard_sqlite_ops;
    w->base.magic = SY_SHARD_WRITER_MAGIC;
    w->base.state = SY_SHARD_W_OPEN;
    w->page_size = page;
    w->base.path = sy_strdup(path);
    if (!w->base.path) {
        st = sy_err(SHARDY_ENOMEM, "shard %s: out of memory opening the writer", path);
        goto done;
    }
    w->cache = cache;
    SY_TRY(remove_files(path, 1));
    if (bulk_enabled(o)) {
        w->last_cap = 256; /* keys up to 256 bytes: no allocation per put */
        w->last = sy_malloc(w->last_cap);
        if (!w->last) {
            st = sy_err(SHARDY_ENOMEM, "shard %s: out of memory opening the writer", path);
            goto done;
        }
        SY_TRY(sy_sqbulk_open(path, page == SY_PAGE_SIZE_AUTO ? SQ_DEFAULT_PAGE : page, &w->bulk));
        sy_sqbulk_writeback(w->bulk, o->writeback);
    } else {
        SY_TRY(open_sql(w, 1));
    }
done:
    if (st != SHARDY_OK) {
        /* the caller asked for a fresh file at path: whatever is there now is ours to remove */
        sq_writer_free(&w->base, 1);
        return st;
    }
    *out = &w->base;
    return SHARDY_OK;
}

/* "insert [of batch row N] (key K bytes, value V bytes) failed" for error messages. */
static void insert_what(char *out, size_t cap, size_t klen, size_t vlen, size_t row) {
    if (row == SIZE_MAX)
        snprintf(out, cap, "insert (key %zu bytes, value %zu bytes) failed", klen, vlen);
    else
        snprintf(out, cap, "insert of batch row %zu (key %zu bytes, value %zu bytes) failed", row, klen, vlen);
}

/* Inserts one row; row is its index in a batch (for the message), or SIZE_MAX for a single put. */
static shardy_status insert_row(sq_writer *w, const void *k, size_t klen, const void *v, size_t vlen, size_t row) {
    int rc = sqlite3_bind_blob64(w->ins, 1, k, (sqlite3_uint64)klen, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob64(w->ins, 2, v, (sqlite3_uint64)vlen, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(w->ins);
        if (rc == SQLITE_DONE) {
            sqlite3_reset(w->ins);
            return SHARDY_OK;
        }
    }
    char what[128];
    insert_what(what, sizeof what, klen, vlen, row);
    shardy_status st = sq_fail(w->db, rc, w->base.path, what);
    sqlite3_reset(w->ins);
    return st;
}

/* One row in bulk mode (falls back to SQLite on an out-of-order key). */
static shardy_status put_row(sq_writer *w, const void *k, size_t klen, const void *v, size_t vlen, size_t row) {
    if (w->bulk) {
        if (w->bulk_rows && sy_sqbulk_key_cmp(k, klen, w->last, w->last_len) <= 0) {
            shardy_status st = leave_bulk(w);
            if (st) return st;
            return insert_row(w, k, klen, v, vlen, row);
        }
        if ((uint64_t)klen + vlen > SQ_MAX_RECORD) {
            char what[128];
            insert_what(what, sizeof what, klen, vlen, row);
            return sy_err(SHARDY_ERANGE, "shard %s: %s: string or blob too big", w->base.path, what);
        }
        if (klen > w->last_cap) {
            unsigned char *nl = sy_realloc(w->last, klen + 64);
            if (!nl) return sy_err(SHARDY_ENOMEM, "shard %s: out of memory keeping the last key", w->base.path);
            w->last = nl;
            w->last_cap = klen + 64;
        }
        shardy_status st = sy_sqbulk_add(w->bulk, k, klen, v, vlen);
        if (st) return st;
        if (klen) memcpy(w->last, k, klen);
        w->last_len = klen;
        w->bulk_rows++;
        return SHARDY_OK;
    }
    return insert_row(w, k, klen, v, vlen, row);
}

static shardy_status sq_writer_put(sy_shard_writer *base, const void *k, size_t klen, const void *v, size_t vlen) {
    return put_row((sq_writer *)base, k ? k : empty_blob, klen, v ? v : empty_blob, vlen, SIZE_MAX);
}

static shardy_status sq_writer_put_batch(sy_shard_writer *base, const sy_kv *rows, size_t n) {
    sq_writer *w = (sq_writer *)base;
    for (size_t i = 0; i < n; i++) {
        shardy_status st = put_row(w, rows[i].k ? rows[i].k : empty_blob, rows[i].klen,
                                   rows[i].v ? rows[i].v : empty_blob, rows[i].vlen, i);
        if (st != SHARDY_OK) return st;
    }
    return SHARDY_OK;
}

static shardy_status sq_writer_seal(sy_shard_writer *base) {
    sq_writer *w = (sq_writer *)base;
    const char *path = w->base.path;
    shardy_status st = SHARDY_OK;
    int page = w->page_size;
    uint64_t size = 0;
    if (w->bulk) {
        st = sy_sqbulk_finish(w->bulk);
        sy_sqbulk_free(&w->bulk);
        if (st) goto done;
    } else {
        SY_TRY(exec_sql(w->db, path, "COMMIT"));
        SY_TRY(exec_sql(w->db, path, "PRAGMA optimize"));
        sqlite3_finalize(w->ins);
        w->ins = NULL;
        int rc = sqlite3_close(w->db);
        if (rc != SQLITE_OK) {
            st = sq_fail(w->db, rc, path, "close");
            goto done;
        }
        w->db = NULL;
    }
    if (page == SY_PAGE_SIZE_AUTO) SY_TRY(repage(path, &page));
    SY_TRY(file_size(path, &size));
    w->base.stats.db_bytes = size;
    w->base.stats.page_size = page;
done:
    return st;
}

/* ---- reader --------------------------------------------------------------------------------- */

static void sq_reader_free(sy_shard_reader *base) {
    sq_reader *r = (sq_reader *)base;
    sqlite3_finalize(r->get);
    sqlite3_close_v2(r->db);
    r->base.magic = 0;
    sy_free(r->base.path);
    sy_free(r);
}

/* Errors while reading the schema: a corrupt or foreign file is a format error. */
static shardy_status schema_fail(sqlite3 *db, int rc, const char *path) {
    int prim = rc & 0xff;
    if (prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT || prim == SQLITE_ERROR)
        return sy_err(SHARDY_EFORMAT, "shard %s: not a shardyfusion SQLite shard: %s", path, sqlite3_errmsg(db));
    return sq_fail(db, rc, path, "cannot read the schema");
}

/* Checks for a table kv whose columns are exactly k (BLOB affinity, the primary key) and v. */
static shardy_status check_shape(sqlite3 *db, const char *path) {
    shardy_status st = SHARDY_OK;
    sqlite3_stmt *q = NULL;
    char cols[200] = "";
    size_t used = 0;
    int ncols = 0, k_ok = 0, v_ok = 0, rc;

    rc = sqlite3_prepare_v2(db, "SELECT type FROM sqlite_master WHERE name = 'kv' COLLATE NOCASE", -1, &q, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        st = sy_err(SHARDY_EFORMAT, "shard %s: not a shardyfusion SQLite shard: no table kv", path);
        goto done;
    }
    if (rc != SQLITE_ROW) {
        st = schema_fail(db, rc, path);
        goto done;
    }
    const char *type = (const char *)sqlite3_column_text(q, 0);
    if (!type || strcmp(type, "table") != 0) {
        st = sy_err(SHARDY_EFORMAT, "shard %s: not a shardyfusion SQLite shard: kv is a %s, not a table", path,
                    type ? type : "NULL");
        goto done;
    }
    sqlite3_finalize(q);
    q = NULL;

    rc = sqlite3_prepare_v2(db, "SELECT name, type, pk, \"notnull\" FROM pragma_table_info('kv')", -1, &q, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        const char *decl = (const char *)sqlite3_column_text(q, 1);
        int pk = sqlite3_column_int(q, 2), notnull = sqlite3_column_int(q, 3);
        if (!name) name = "";
        if (!decl) decl = "";
        ncols++;
        if (sqlite3_stricmp(name, "k") == 0)
            k_ok = pk == 1 && (sqlite3_stricmp(decl, "BLOB") == 0 || decl[0] == '\0');
        else if (sqlite3_stricmp(name, "v") == 0)
            v_ok = pk == 0;
        if (used < sizeof cols) {
            int n = snprintf(cols + used, sizeof cols - used, "%s%s%s%s%s%s", ncols > 1 ? ", " : "", name,
                             decl[0] ? " " : "", decl, pk ? " PRIMARY KEY" : "", notnull ? " NOT NULL" : "");
            used += n > 0 ? (size_t)n : 0;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        st = schema_fail(db, rc, path);
        goto done;
    }
    if (ncols != 2 || !k_ok || !v_ok)
        st = sy_err(SHARDY_EFORMAT,
                    "shard %s: not a shardyfusion SQLite shard: table kv has columns (%s), expected "
                    "(k BLOB PRIMARY KEY, v BLOB NOT NULL)",
                    path, cols);
done:
    sqlite3_finalize(q);
    return st;
}

static shardy_status sq_reader_open(const char *path, const sy_shard_reader_opts *o, sy_shard_reader **out) {
    shardy_status st = SHARDY_OK;
    sq_reader *r = NULL;
    struct stat sb;
    char sql[64];
    int64_t mmap_size = o->mmap_size ? o->mmap_size : SQ_DEFAULT_MMAP;
    int cache = o->cache_size_kib ? o->cache_size_kib : SQ_DEFAULT_READ_CACHE_KIB;
    if (cache < 0) return sy_err(SHARDY_EINVAL, "shard %s: cache_size_kib %d must be >= 0", path, cache);
    if (mmap_size < 0) mmap_size = 0;
    /* SQLite would report a missing file as "unable to open database file"; say what it is. */
    if (stat(path, &sb) != 0) return sy_err_errno(errno, "shard", path);
    if (!S_ISREG(sb.st_mode)) return sy_err(SHARDY_EIO, "shard %s: not a regular file", path);

    r = sy_calloc(1, sizeof *r);
    if (!r) return sy_err(SHARDY_ENOMEM, "shard %s: out of memory opening the reader", path);
    r->base.ops = &sy_shard_sqlite_ops;
    r->base.magic = SY_SHARD_READER_MAGIC;
    r->base.path = sy_strdup(path);
    if (!r->base.path) {
        st = sy_err(SHARDY_ENOMEM, "shard %s: out of memory opening the reader", path);
        goto done;
    }
    SY_TRY(open_db(path, "immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, "cannot open", &r->db));
    SY_TRY(check_shape(r->db, path));
    snprintf(sql, sizeof sql, "PRAGMA mmap_size = %lld", (long long)mmap_size);
    SY_TRY(exec_sql(r->db, path, sql));
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", cache);
    SY_TRY(exec_sql(r->db, path, sql));
    int rc = sqlite3_prepare_v3(r->db, SQ_SELECT, -1, SQLITE_PREPARE_PERSISTENT, &r->get, NULL);
    if (rc != SQLITE_OK) st = schema_fail(r->db, rc, path);
done:
    if (st != SHARDY_OK) {
        sq_reader_free(&r->base);
        return st;
    }
    *out = &r->base;
    return SHARDY_OK;
}

static shardy_status sq_reader_get(sy_shard_reader *base, const void *k, size_t klen, const void **v,
                                   size_t *vlen) {
    sq_reader *r = (sq_reader *)base;
    if (r->active) {
        sqlite3_reset(r->get); /* ends the previous lookup; its value view dies here */
        r->active = 0;
    }
    /* SQLITE_STATIC: the key is read only inside sqlite3_step below; the binding is replaced
     * before the statement runs again. */
    int rc = sqlite3_bind_blob64(r->get, 1, k, (sqlite3_uint64)klen, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(r->get);
    if (rc == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(r->get, 0);
        *vlen = (size_t)sqlite3_column_bytes(r->get, 0);
        *v = p ? p : empty_blob;
        r->active = 1;
        return SHARDY_OK;
    }
    sqlite3_reset(r->get);
    if (rc == SQLITE_DONE) return sy_err(SHARDY_ENOTFOUND, "shard %s: key not found", r->base.path);
    return sq_fail(r->db, rc, r->base.path, "lookup failed");
}

const sy_shard_ops sy_shard_sqlite_ops = {
    .name = "sqlite",
    .writer_open = sq_writer_open,
    .writer_put = sq_writer_put,
    .writer_put_batch = sq_writer_put_batch,
    .writer_seal = sq_writer_seal,
    .writer_free = sq_writer_free,
    .reader_open = sq_reader_open,
    .reader_get = sq_reader_get,
    .reader_free = sq_reader_free,
};
