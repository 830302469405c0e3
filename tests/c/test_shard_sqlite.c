/* test_shard_sqlite.c — the SQLite shard writer and reader (src/shard), against spec formats §7:
 * round trips, storage classes, file header, schema text, page sizes (fixed and auto), abort,
 * error paths on foreign/corrupt files, URI escaping, allocation failures, the stock sqlite3 CLI. */
#include <sqlite3.h>
#include <sys/mman.h>

#include "check.h"
#include "core/alloc.h"
#include "shard/shard.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void be64(unsigned char *o, uint64_t v) {
    for (int i = 0; i < 8; i++) o[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* dir/name in one of 16 rotating static buffers (enough for every path a test holds at once). */
static char *path_in(const char *dir, const char *name) {
    static char bufs[16][4200];
    static int next;
    char *p = bufs[next++ & 15];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static long long file_bytes(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

static void write_file(const char *p, const void *data, size_t n) {
    FILE *f = fopen(p, "wb");
    if (!f) return;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static size_t read_prefix(const char *p, unsigned char *out, size_t n) {
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    size_t got = fread(out, 1, n, f);
    fclose(f);
    return got;
}

/* One integer from a query on a file, via plain SQLite (independent of the code under test). */
static long long sql_int(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    else
        fprintf(stderr, "sql_int(%s): %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void sql_text(const char *path, const char *sql, char *out, size_t cap) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
        sqlite3_column_text(q, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static int sql_exec(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) fprintf(stderr, "sql_exec(%s): %s\n", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc;
}

static int header_page_size(const char *path) {
    unsigned char h[100];
    if (read_prefix(path, h, 100) != 100) return -1;
    int ps = (h[16] << 8) | h[17];
    return ps == 1 ? 65536 : ps;
}

/* Writes rows key = be64(i), value = i-dependent bytes of length vlen_of(i); returns db_bytes. */
static size_t value_len_mod(uint64_t i) { return (size_t)(i % 97); }
static void value_fill(uint64_t i, unsigned char *v, size_t n) {
    for (size_t j = 0; j < n; j++) v[j] = (unsigned char)(i * 31 + j);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_roundtrip_int_keys(void) {
    const char *dir = test_tmpdir("shard-int");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer *w = NULL;
    unsigned char k[8], v[128];
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w != NULL);
    CHECK_STR(sy_shard_writer_path(w), db);
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        be64(k, i * 7919);
        size_t n = value_len_mod(i);
        value_fill(i, v, n);
        CHECK_OK(sy_shard_writer_put(w, k, 8, v, n));
        bytes += 8 + n;
    }
    uint64_t dbb = 0;
    CHECK_OK(sy_shard_writer_seal(w, &dbb));
    sy_shard_writer_stats s = sy_shard_writer_stats_get(w);
    CHECK_EQ_U64(s.rows_put, 2000);
    CHECK_EQ_U64(s.bytes_put, bytes);
    CHECK_EQ_U64(s.db_bytes, dbb);
    CHECK_EQ_INT(s.page_size, 4096);
    sy_shard_writer_close(&w);
    CHECK(w == NULL);
    CHECK(file_exists(db)); /* sealed → kept */
    CHECK_EQ_U64(dbb, (uint64_t)file_bytes(db));
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), 2000);

    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r));
    REQUIRE(r != NULL);
    CHECK_STR(sy_shard_reader_path(r), db);
    int bad = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        const void *got = NULL;
        size_t n = 999;
        be64(k, i * 7919);
        value_fill(i, v, value_len_mod(i));
        if (sy_shard_reader_get(r, k, 8, &got, &n) != SHARDY_OK || n != value_len_mod(i) || !got ||
            memcmp(got, v, n) != 0)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    const void *got = NULL;
    size_t n = 5;
    be64(k, 1); /* 1 is not a multiple of 7919 */
    CHECK_ST(sy_shard_reader_get(r, k, 8, &got, &n), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(db);
    CHECK_ST(sy_shard_reader_get(r, k, 7, &got, &n), SHARDY_ENOTFOUND); /* prefix of a key */
    sy_shard_reader_close(&r);
    CHECK(r == NULL);
}

static void test_binary_keys_and_empty(void) {
    const char *dir = test_tmpdir("shard-bin");
    const char *db = path_in(dir, "shard.db");
    enum { N = 500 };
    static unsigned char keys[N][40];
    static size_t klen[N];
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    /* random binary keys of 1..40 bytes, many containing NUL bytes; make them distinct by prefix */
    for (int i = 0; i < N; i++) {
        klen[i] = 3 + (size_t)(rnd() % 38);
        keys[i][0] = (unsigned char)(i >> 8);
        keys[i][1] = (unsigned char)i;
        keys[i][2] = 0; /* always a NUL inside the key */
        for (size_t j = 3; j < klen[i]; j++) keys[i][j] = (unsigned char)(rnd() % 4 == 0 ? 0 : rnd());
        /* even rows: empty value (once with a NULL pointer, once with a non-NULL one) */
        if (i % 2 == 0)
            CHECK_OK(sy_shard_writer_put(w, keys[i], klen[i], i % 4 ? "" : NULL, 0));
        else
            CHECK_OK(sy_shard_writer_put(w, keys[i], klen[i], keys[i], klen[i]));
    }
    /* the empty key with a value containing NULs */
    CHECK_OK(sy_shard_writer_put(w, NULL, 0, "a\0b", 3));
    CHECK_ST(sy_shard_writer_put(w, NULL, 3, "x", 1), SHARDY_EINVAL);
    CHECK_ST(sy_shard_writer_put(w, "k", 1, NULL, 2), SHARDY_EINVAL);
    CHECK_OK(sy_shard_writer_seal(w, NULL)); /* argument errors do not poison the writer */
    CHECK_EQ_U64(sy_shard_writer_stats_get(w).rows_put, N + 1);
    sy_shard_writer_close(&w);

    /* storage classes: every key and value is a BLOB, empty values are zero-length BLOBs */
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), N + 1);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv WHERE typeof(k) <> 'blob' OR typeof(v) <> 'blob'"), 0);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv WHERE length(v) = 0"), N / 2);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv WHERE k = X''"), 1);
    CHECK_EQ_INT(sql_int(db, "SELECT length(v) FROM kv WHERE k = X''"), 3);

    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r));
    REQUIRE(r);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const void *v = NULL;
        size_t n = 99;
        if (sy_shard_reader_get(r, keys[i], klen[i], &v, &n) != SHARDY_OK || !v) {
            bad++;
            continue;
        }
        if (i % 2 == 0 ? n != 0 : (n != klen[i] || memcmp(v, keys[i], n) != 0)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    const void *v = NULL;
    size_t n = 0;
    CHECK_OK(sy_shard_reader_get(r, NULL, 0, &v, &n));
    CHECK_EQ_INT(n, 3);
    CHECK(v && memcmp(v, "a\0b", 3) == 0);
    /* a key that differs only after a NUL byte is a different key */
    unsigned char probe[40];
    memcpy(probe, keys[1], klen[1]);
    probe[klen[1] - 1] ^= 0x55;
    CHECK_ST(sy_shard_reader_get(r, probe, klen[1], &v, &n), SHARDY_ENOTFOUND);
    sy_shard_reader_close(&r);
}

static void test_last_write_wins(void) {
    const char *dir = test_tmpdir("shard-lww");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    CHECK_OK(sy_shard_writer_put(w, "a", 1, "first", 5));
    CHECK_OK(sy_shard_writer_put(w, "b", 1, "bee", 3));
    CHECK_OK(sy_shard_writer_put(w, "a", 1, "second", 6));
    sy_kv rows[] = {{"c", 1, "x", 1}, {"b", 1, "", 0}, {"c", 1, "last", 4}};
    CHECK_OK(sy_shard_writer_put_batch(w, rows, 3));
    CHECK_OK(sy_shard_writer_put_batch(w, NULL, 0));
    CHECK_EQ_U64(sy_shard_writer_stats_get(w).rows_put, 6); /* duplicates counted */
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    sy_shard_writer_close(&w);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), 3);

    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r));
    REQUIRE(r);
    char buf[16];
    size_t n = 0;
    CHECK_OK(sy_shard_reader_get_copy(r, "a", 1, buf, sizeof buf, &n));
    CHECK(n == 6 && memcmp(buf, "second", 6) == 0);
    CHECK_OK(sy_shard_reader_get_copy(r, "b", 1, buf, sizeof buf, &n));
    CHECK_EQ_INT(n, 0);
    CHECK_OK(sy_shard_reader_get_copy(r, "c", 1, buf, sizeof buf, &n));
    CHECK(n == 4 && memcmp(buf, "last", 4) == 0);
    sy_shard_reader_close(&r);
}

static void test_100k_rows(void) {
    const char *dir = test_tmpdir("shard-100k");
    const char *db = path_in(dir, "shard.db");
    enum { N = 100000, B = 1000 };
    static unsigned char keys[B][8];
    static unsigned char vals[B][24];
    sy_kv rows[B];
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    for (uint64_t base = 0; base < N; base += B) {
        for (int j = 0; j < B; j++) {
            uint64_t i = base + (uint64_t)j;
            be64(keys[j], i);
            be64(vals[j], ~i);
            memset(vals[j] + 8, (int)(i & 0xff), 16);
            rows[j] = (sy_kv){keys[j], 8, vals[j], 8 + i % 17};
        }
        CHECK_OK(sy_shard_writer_put_batch(w, rows, B));
    }
    uint64_t dbb = 0;
    CHECK_OK(sy_shard_writer_seal(w, &dbb));
    sy_shard_writer_close(&w);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), N);
    CHECK_EQ_U64(dbb, (uint64_t)file_bytes(db));
    CHECK_EQ_U64(dbb, (uint64_t)sql_int(db, "PRAGMA page_count") * 4096);

    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r));
    REQUIRE(r);
    int bad = 0;
    unsigned char k[8], expect[24], buf[24];
    for (uint64_t i = 0; i < N; i++) {
        size_t n = 0;
        be64(k, i);
        be64(expect, ~i);
        memset(expect + 8, (int)(i & 0xff), 16);
        if (sy_shard_reader_get_copy(r, k, 8, buf, sizeof buf, &n) != SHARDY_OK || n != 8 + i % 17 ||
            memcmp(buf, expect, n) != 0)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    be64(k, N);
    size_t n = 0;
    CHECK_ST(sy_shard_reader_get_copy(r, k, 8, buf, sizeof buf, &n), SHARDY_ENOTFOUND);
    sy_shard_reader_close(&r);
}

static void test_header_schema_and_size(void) {
    const char *dir = test_tmpdir("shard-hdr");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    for (int i = 0; i < 300; i++) {
        unsigned char k[8];
        be64(k, (uint64_t)i);
        CHECK_OK(sy_shard_writer_put(w, k, 8, "value", 5));
    }
    uint64_t dbb = 0;
    CHECK_OK(sy_shard_writer_seal(w, &dbb));
    sy_shard_writer_close(&w);

    unsigned char h[100];
    REQUIRE(read_prefix(db, h, 100) == 100);
    CHECK(memcmp(h, "SQLite format 3\0", 16) == 0);
    CHECK_EQ_INT((h[16] << 8) | h[17], 4096);
    CHECK_EQ_INT(h[18], 1); /* write version: legacy rollback journal, not WAL */
    CHECK_EQ_INT(h[19], 1); /* read version */
    CHECK_EQ_INT(h[20], 0); /* reserved bytes per page */
    CHECK_EQ_INT(h[47], 4); /* schema format (big-endian u32 at 44) */
    CHECK_EQ_INT(h[59], 1); /* text encoding UTF-8 */
    CHECK(!file_exists(path_in(dir, "shard.db-journal")));
    CHECK(!file_exists(path_in(dir, "shard.db-wal")));

    char sql[200];
    sql_text(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'kv'", sql, sizeof sql);
    CHECK_STR(sql, "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
    sql_text(db, "PRAGMA journal_mode", sql, sizeof sql);
    CHECK_STR(sql, "delete"); /* journal_mode=OFF is not persisted */
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> 'kv'"),
                 0);
    sql_text(db, "PRAGMA integrity_check", sql, sizeof sql);
    CHECK_STR(sql, "ok");
    CHECK_EQ_U64(dbb, (uint64_t)file_bytes(db));
    CHECK_EQ_U64(dbb, (uint64_t)sql_int(db, "PRAGMA page_count") * 4096);
}

static void test_page_sizes(void) {
    const char *dir = test_tmpdir("shard-pages");
    static const int sizes[] = {0, 4096, 8192, 16384, 32768, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%d.db", sizes[i]);
        const char *db = path_in(dir, name);
        sy_shard_writer_opts o = {sizes[i], 0, 0, 0};
        sy_shard_writer *w = NULL;
        CHECK_OK(sy_shard_writer_open(db, &o, &w));
        REQUIRE(w);
        static unsigned char big[20000];
        memset(big, 'z', sizeof big);
        for (int j = 0; j < 200; j++) {
            unsigned char k[8];
            be64(k, (uint64_t)j);
            CHECK_OK(sy_shard_writer_put(w, k, 8, big, (size_t)(j * 97) % sizeof big));
        }
        uint64_t dbb = 0;
        CHECK_OK(sy_shard_writer_seal(w, &dbb));
        int want = sizes[i] ? sizes[i] : 4096;
        CHECK_EQ_INT(sy_shard_writer_stats_get(w).page_size, want);
        sy_shard_writer_close(&w);
        CHECK_EQ_INT(header_page_size(db), want);
        CHECK_EQ_U64(dbb, (uint64_t)file_bytes(db));
        CHECK_EQ_INT(dbb % (uint64_t)want, 0);
        sy_shard_reader *r = NULL;
        CHECK_OK(sy_shard_reader_open(db, &r));
        REQUIRE(r);
        unsigned char k[8];
        be64(k, 150);
        const void *v = NULL;
        size_t n = 0;
        CHECK_OK(sy_shard_reader_get(r, k, 8, &v, &n));
        CHECK_EQ_INT(n, (150 * 97) % (int)sizeof big);
        CHECK(v && n && ((const unsigned char *)v)[n - 1] == 'z');
        sy_shard_reader_close(&r);
    }
    /* invalid sizes are rejected before anything touches the disk */
    static const int invalid[] = {512, 1024, 2048, 4097, 131072, -2, 3};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        const char *db = path_in(dir, "bad.db");
        sy_shard_writer_opts o = {invalid[i], 0, 0, 0};
        sy_shard_writer *w = (sy_shard_writer *)&o; /* must be reset to NULL */
        CHECK_ST(sy_shard_writer_open(db, &o, &w), SHARDY_EINVAL);
        CHECK(w == NULL);
        CHECK_ERRMSG_HAS("page_size");
        CHECK(!file_exists(db));
    }
    sy_shard_writer_opts neg = {0, -5, 0, 0};
    sy_shard_writer *w = NULL;
    CHECK_ST(sy_shard_writer_open(path_in(dir, "bad.db"), &neg, &w), SHARDY_EINVAL);
}

static void test_page_size_formula(void) {
    /* inline limits 1002, 2030, 4086, 8198, 16422 (spec formats §7.4) */
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(0, 0), 4096);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(1002 - 12 - 8, 8), 4096);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(1002 - 12 - 8 + 1, 8), 8192);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(2030 - 12 - 64, 64), 8192);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(2030 - 12 - 64 + 1, 64), 16384);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(3000, 8), 16384);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(4086 - 12, 0), 16384);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(4086 - 11, 0), 32768);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(8198 - 12, 0), 32768);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(16422 - 12, 0), 65536);
    CHECK_EQ_INT(sy_shard_sqlite_page_size_for(1000000, 0), 65536);
}

/* Writes n rows of 8-byte keys; value i has length len_of(i) (via a table) in auto mode. */
static int write_auto(const char *db, int n, const size_t *lens, uint64_t *dbb) {
    static unsigned char val[70000];
    memset(val, 'v', sizeof val);
    sy_shard_writer_opts o = {SY_PAGE_SIZE_AUTO, 0, 0, 0};
    sy_shard_writer *w = NULL;
    int page = -1;
    if (sy_shard_writer_open(db, &o, &w) != SHARDY_OK) return -1;
    for (int i = 0; i < n; i++) {
        unsigned char k[8];
        be64(k, (uint64_t)i * 1000003u);
        if (sy_shard_writer_put(w, k, 8, val, lens[i]) != SHARDY_OK) goto done;
    }
    if (sy_shard_writer_seal(w, dbb) == SHARDY_OK) page = sy_shard_writer_stats_get(w).page_size;
done:
    sy_shard_writer_close(&w);
    return page;
}

static void test_auto_page_size(void) {
    const char *dir = test_tmpdir("shard-auto");
    static size_t lens[200];
    uint64_t dbb = 0;

    for (int i = 0; i < 100; i++) lens[i] = 3000;
    const char *db = path_in(dir, "big.db");
    CHECK_EQ_INT(write_auto(db, 100, lens, &dbb), 16384);
    CHECK_EQ_INT(header_page_size(db), 16384);
    CHECK_EQ_U64(dbb, (uint64_t)file_bytes(db));
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), 100);
    CHECK_EQ_INT(sql_int(db, "SELECT sum(length(v)) FROM kv"), 300000);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv WHERE typeof(v) <> 'blob'"), 0);
    unsigned char h[100];
    REQUIRE(read_prefix(db, h, 100) == 100);
    CHECK(h[18] == 1 && h[19] == 1 && h[20] == 0); /* VACUUM kept the rollback-journal format */
    CHECK(!file_exists(path_in(dir, "big.db-journal")));

    for (int i = 0; i < 100; i++) lens[i] = 20 + (size_t)i;
    db = path_in(dir, "small.db");
    CHECK_EQ_INT(write_auto(db, 100, lens, &dbb), 4096);
    CHECK_EQ_INT(header_page_size(db), 4096);

    /* nearest-rank p95 of 20 rows is the 19th smallest: one big value is ignored, two are not */
    for (int i = 0; i < 20; i++) lens[i] = 10;
    lens[7] = 5000;
    db = path_in(dir, "p95a.db");
    CHECK_EQ_INT(write_auto(db, 20, lens, &dbb), 4096);
    lens[3] = 5000;
    db = path_in(dir, "p95b.db");
    CHECK_EQ_INT(write_auto(db, 20, lens, &dbb), 32768); /* 5000 + 8 + 12 > 4086 */
    CHECK_EQ_INT(header_page_size(db), 32768);
    CHECK_EQ_U64(dbb, (uint64_t)file_bytes(db));

    /* 21 rows: ceil(19.95) = 20th smallest */
    for (int i = 0; i < 21; i++) lens[i] = 10;
    lens[0] = lens[1] = 1500;
    db = path_in(dir, "p95c.db");
    CHECK_EQ_INT(write_auto(db, 21, lens, &dbb), 8192);

    /* empty shard in auto mode: nothing to measure, stays 4096 */
    db = path_in(dir, "empty.db");
    CHECK_EQ_INT(write_auto(db, 0, lens, &dbb), 4096);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), 0);
}

static void test_lifecycle_and_abort(void) {
    const char *dir = test_tmpdir("shard-abort");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    CHECK_OK(sy_shard_writer_put(w, "k", 1, "v", 1));
    CHECK(file_exists(db));
    sy_shard_writer_close(&w); /* not sealed → abort */
    CHECK(w == NULL);
    CHECK(!file_exists(db));
    CHECK(!file_exists(path_in(dir, "shard.db-journal")));

    /* open replaces an old file and its companions */
    write_file(db, "garbage", 7);
    write_file(path_in(dir, "shard.db-journal"), "j", 1);
    write_file(path_in(dir, "shard.db-wal"), "w", 1);
    write_file(path_in(dir, "shard.db-shm"), "s", 1);
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    CHECK(!file_exists(path_in(dir, "shard.db-journal")));
    CHECK(!file_exists(path_in(dir, "shard.db-wal")));
    CHECK(!file_exists(path_in(dir, "shard.db-shm")));
    CHECK_OK(sy_shard_writer_put(w, "k", 1, "v", 1));
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    /* after seal: no more writes, no second seal */
    CHECK_ST(sy_shard_writer_put(w, "k", 1, "v", 1), SHARDY_ECLOSED);
    CHECK_ERRMSG_HAS("after seal");
    sy_kv row = {"a", 1, "b", 1};
    CHECK_ST(sy_shard_writer_put_batch(w, &row, 1), SHARDY_ECLOSED);
    uint64_t dbb = 77;
    CHECK_ST(sy_shard_writer_seal(w, &dbb), SHARDY_ECLOSED);
    CHECK_EQ_U64(dbb, 0);
    CHECK_EQ_U64(sy_shard_writer_stats_get(w).rows_put, 1);
    sy_shard_writer_close(&w);
    CHECK(file_exists(db));
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), 1);

    /* NULL handles */
    sy_shard_writer_close(NULL);
    sy_shard_writer_close(&w);
    sy_shard_reader *r = NULL;
    sy_shard_reader_close(NULL);
    sy_shard_reader_close(&r);
    CHECK_ST(sy_shard_writer_put(NULL, "k", 1, "v", 1), SHARDY_ECLOSED);
    CHECK_ST(sy_shard_writer_seal(NULL, NULL), SHARDY_ECLOSED);
    const void *v;
    size_t n;
    char buf[4];
    CHECK_ST(sy_shard_reader_get(NULL, "k", 1, &v, &n), SHARDY_ECLOSED);
    CHECK_ST(sy_shard_reader_get_copy(NULL, "k", 1, buf, sizeof buf, &n), SHARDY_ECLOSED);
    CHECK_EQ_U64(sy_shard_writer_stats_get(NULL).rows_put, 0);
    CHECK_ST(sy_shard_writer_open(NULL, NULL, &w), SHARDY_EINVAL);
    CHECK_ST(sy_shard_writer_open("", NULL, &w), SHARDY_EINVAL);
    CHECK_ST(sy_shard_writer_open(db, NULL, NULL), SHARDY_EINVAL);
    CHECK_ST(sy_shard_reader_open(NULL, &r), SHARDY_EINVAL);

    /* a directory that does not exist: an I/O error naming the path */
    const char *nodir = path_in(dir, "no/such/dir/shard.db");
    CHECK_ST(sy_shard_writer_open(nodir, NULL, &w), SHARDY_EIO);
    CHECK(w == NULL);
    CHECK_ERRMSG_HAS(nodir);
}

static void test_get_copy_and_views(void) {
    const char *dir = test_tmpdir("shard-copy");
    const char *db = path_in(dir, "shard.db");
    static unsigned char big[300000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7);
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    CHECK_OK(sy_shard_writer_put(w, "ten", 3, "0123456789", 10));
    CHECK_OK(sy_shard_writer_put(w, "big", 3, big, sizeof big)); /* overflow pages */
    CHECK_OK(sy_shard_writer_put(w, "e", 1, "", 0));
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    sy_shard_writer_close(&w);

    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r));
    REQUIRE(r);
    char buf[16];
    memset(buf, '#', sizeof buf);
    size_t n = 0;
    CHECK_ST(sy_shard_reader_get_copy(r, "ten", 3, buf, 9, &n), SHARDY_ERANGE);
    CHECK_EQ_INT(n, 10);
    CHECK_EQ_INT(buf[0], '#'); /* no partial write */
    CHECK_ERRMSG_HAS(db);
    n = 0;
    CHECK_ST(sy_shard_reader_get_copy(r, "ten", 3, NULL, 0, &n), SHARDY_ERANGE); /* length query */
    CHECK_EQ_INT(n, 10);
    CHECK_OK(sy_shard_reader_get_copy(r, "ten", 3, buf, 10, &n));
    CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0 && buf[10] == '#');
    CHECK_OK(sy_shard_reader_get_copy(r, "e", 1, NULL, 0, &n));
    CHECK_EQ_INT(n, 0);
    n = 5;
    CHECK_ST(sy_shard_reader_get_copy(r, "nope", 4, buf, sizeof buf, &n), SHARDY_ENOTFOUND);
    CHECK_EQ_INT(n, 0);
    CHECK_ST(sy_shard_reader_get_copy(r, "ten", 3, NULL, 5, &n), SHARDY_EINVAL);

    /* zero-copy view of a large value; the caller's key buffer may change after the call */
    char key[4] = "big";
    const void *v = NULL;
    CHECK_OK(sy_shard_reader_get(r, key, 3, &v, &n));
    memcpy(key, "xyz", 3);
    CHECK(n == sizeof big && v && memcmp(v, big, sizeof big) == 0);
    CHECK_OK(sy_shard_reader_get(r, "ten", 3, &v, &n));
    CHECK(n == 10 && memcmp(v, "0123456789", 10) == 0);
    /* a miss between hits, then hits again */
    CHECK_ST(sy_shard_reader_get(r, "zz", 2, &v, &n), SHARDY_ENOTFOUND);
    CHECK_OK(sy_shard_reader_get(r, "e", 1, &v, &n));
    CHECK(v != NULL && n == 0);
    CHECK_OK(sy_shard_reader_get(r, "ten", 3, &v, &n));
    CHECK_EQ_INT(n, 10);
    CHECK_ST(sy_shard_reader_get(r, "ten", 3, NULL, &n), SHARDY_EINVAL);
    sy_shard_reader_close(&r);

    /* two readers on one file are independent */
    sy_shard_reader *r1 = NULL, *r2 = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r1));
    CHECK_OK(sy_shard_reader_open(db, &r2));
    if (r1 && r2) {
        const void *v1 = NULL, *v2 = NULL;
        size_t n1 = 0, n2 = 0;
        CHECK_OK(sy_shard_reader_get(r1, "ten", 3, &v1, &n1));
        CHECK_OK(sy_shard_reader_get(r2, "big", 3, &v2, &n2));
        CHECK(n1 == 10 && memcmp(v1, "0123456789", 10) == 0);
        CHECK(n2 == sizeof big && memcmp(v2, big, n2) == 0);
    }
    sy_shard_reader_close(&r1);
    sy_shard_reader_close(&r2);

    /* reader options: no mmap, small cache */
    sy_shard_reader_opts ro = {-1, 100};
    CHECK_OK(sy_shard_reader_open_with(&sy_shard_sqlite_ops, db, &ro, &r));
    if (r) {
        CHECK_OK(sy_shard_reader_get(r, "big", 3, &v, &n));
        CHECK(n == sizeof big && memcmp(v, big, n) == 0);
    }
    sy_shard_reader_close(&r);
    sy_shard_reader_opts bad = {0, -1};
    CHECK_ST(sy_shard_reader_open_with(NULL, db, &bad, &r), SHARDY_EINVAL);
}

/* Expects reader open on path to fail with a format/SQLite error naming the path. */
static void expect_bad_shard(const char *path, const char *msg_part) {
    sy_shard_reader *r = (sy_shard_reader *)&r;
    shardy_status st = sy_shard_reader_open(path, &r);
    CHECK(st == SHARDY_EFORMAT || st == SHARDY_ESQLITE);
    if (st != SHARDY_EFORMAT && st != SHARDY_ESQLITE)
        fprintf(stderr, "  %s: status %d (%s)\n", path, st, shardy_errmsg());
    CHECK(r == NULL);
    CHECK_ERRMSG_HAS(path);
    if (msg_part) CHECK_ERRMSG_HAS(msg_part);
    sy_shard_reader_close(&r);
}

static void test_reader_rejects_foreign_files(void) {
    const char *dir = test_tmpdir("shard-bad");
    sy_shard_reader *r = NULL;

    const char *missing = path_in(dir, "missing.db");
    CHECK_ST(sy_shard_reader_open(missing, &r), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(missing);
    CHECK_ST(sy_shard_reader_open(dir, &r), SHARDY_EIO); /* a directory */
    CHECK_ERRMSG_HAS(dir);

    static unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rnd();
    const char *garbage = path_in(dir, "garbage.db");
    write_file(garbage, junk, sizeof junk);
    expect_bad_shard(garbage, "not a shardyfusion SQLite shard");

    const char *empty = path_in(dir, "empty.db");
    write_file(empty, "", 0);
    expect_bad_shard(empty, "no table kv");

    const char *other = path_in(dir, "other.db");
    CHECK_EQ_INT(sql_exec(other, "CREATE TABLE t (x); INSERT INTO t VALUES (1)"), SQLITE_OK);
    expect_bad_shard(other, "no table kv");

    const char *shape = path_in(dir, "shape.db");
    CHECK_EQ_INT(sql_exec(shape, "CREATE TABLE kv (a BLOB PRIMARY KEY, b BLOB)"), SQLITE_OK);
    expect_bad_shard(shape, "table kv has columns (a BLOB PRIMARY KEY, b BLOB)");

    const char *nopk = path_in(dir, "nopk.db");
    CHECK_EQ_INT(sql_exec(nopk, "CREATE TABLE kv (k BLOB, v BLOB)"), SQLITE_OK);
    expect_bad_shard(nopk, "expected (k BLOB PRIMARY KEY, v BLOB NOT NULL)");

    const char *view = path_in(dir, "view.db");
    CHECK_EQ_INT(sql_exec(view, "CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB); "
                                "CREATE VIEW kv AS SELECT k, v FROM t"),
                 SQLITE_OK);
    expect_bad_shard(view, "kv is a view");

    /* a valid shard cut short: half the file, then only part of the header */
    const char *good = path_in(dir, "good.db");
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(good, NULL, &w));
    REQUIRE(w);
    for (int i = 0; i < 5000; i++) {
        unsigned char k[8];
        be64(k, (uint64_t)i);
        CHECK_OK(sy_shard_writer_put(w, k, 8, junk, 50));
    }
    uint64_t dbb = 0;
    CHECK_OK(sy_shard_writer_seal(w, &dbb));
    sy_shard_writer_close(&w);
    static unsigned char whole[1 << 20];
    REQUIRE(dbb < sizeof whole);
    REQUIRE(read_prefix(good, whole, (size_t)dbb) == dbb);
    const char *trunc = path_in(dir, "trunc.db");
    write_file(trunc, whole, (size_t)dbb / 2);
    expect_bad_shard(trunc, NULL);
    write_file(trunc, whole, 60);
    expect_bad_shard(trunc, NULL);

    /* corrupt pages in the middle: lookups fail with an error or miss, never crash or lie */
    for (size_t off = 4096 * 3; off + 4096 <= dbb; off += 4096 * 5) memset(whole + off + 100, 0xA5, 700);
    const char *corrupt = path_in(dir, "corrupt.db");
    write_file(corrupt, whole, (size_t)dbb);
    shardy_status st = sy_shard_reader_open(corrupt, &r);
    if (st == SHARDY_OK) {
        /* SQLite does not checksum cells, so a damaged value byte could come back unnoticed; what
         * must hold is: no crash, only the expected statuses, errors name the file, and damage to
         * the B-tree structure is detected somewhere. */
        int ok = 0, detected = 0, unexpected = 0;
        for (int i = 0; i < 5000; i++) {
            unsigned char k[8];
            const void *v = NULL;
            size_t n = 0;
            be64(k, (uint64_t)i);
            st = sy_shard_reader_get(r, k, 8, &v, &n);
            if (st == SHARDY_OK && v)
                ok++;
            else if (st == SHARDY_ENOTFOUND || st == SHARDY_EFORMAT || st == SHARDY_ESQLITE)
                detected++;
            else
                unexpected++;
            if (st == SHARDY_EFORMAT && !strstr(shardy_errmsg(), corrupt)) unexpected++;
        }
        CHECK(ok > 0);
        CHECK(detected > 0);
        CHECK_EQ_INT(unexpected, 0);
        sy_shard_reader_close(&r);
    } else {
        CHECK(st == SHARDY_EFORMAT || st == SHARDY_ESQLITE);
        CHECK_ERRMSG_HAS(corrupt);
    }
}

static void test_text_key_not_found(void) {
    const char *dir = test_tmpdir("shard-text");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, NULL, &w));
    REQUIRE(w);
    CHECK_OK(sy_shard_writer_put(w, "b", 1, "blob-key", 8));
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    sy_shard_writer_close(&w);
    /* a foreign writer that binds TEXT: 't' is stored as TEXT, not BLOB */
    CHECK_EQ_INT(sql_exec(db, "INSERT INTO kv (k, v) VALUES ('t', X'7465787420')"), SQLITE_OK);
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv WHERE typeof(k) = 'text'"), 1);

    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r));
    REQUIRE(r);
    const void *v = NULL;
    size_t n = 0;
    CHECK_OK(sy_shard_reader_get(r, "b", 1, &v, &n));
    CHECK(n == 8 && memcmp(v, "blob-key", 8) == 0);
    CHECK_ST(sy_shard_reader_get(r, "t", 1, &v, &n), SHARDY_ENOTFOUND); /* TEXT 't' != BLOB X'74' */
    sy_shard_reader_close(&r);
}

static void test_sqlite_cli_reads_shard(void) {
    const char *cli = "/usr/bin/sqlite3";
    if (access(cli, X_OK) != 0) {
        printf("test_sqlite_cli_reads_shard: %s not found, skipped\n", cli);
        return;
    }
    const char *dir = test_tmpdir("shard-cli");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer_opts o = {SY_PAGE_SIZE_AUTO, 0, 0, 0};
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, &o, &w));
    REQUIRE(w);
    static unsigned char val[1500];
    memset(val, 'q', sizeof val);
    for (int i = 0; i < 1234; i++) {
        unsigned char k[8];
        be64(k, (uint64_t)i);
        CHECK_OK(sy_shard_writer_put(w, k, 8, val, sizeof val));
    }
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    CHECK_EQ_INT(sy_shard_writer_stats_get(w).page_size, 8192);
    sy_shard_writer_close(&w);

    char cmd[4600], out[256] = "";
    snprintf(cmd, sizeof cmd,
             "%s -readonly '%s' 'SELECT count(*), sum(length(v)) FROM kv; PRAGMA integrity_check;' 2>&1", cli, db);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    CHECK_EQ_INT(pclose(p), 0);
    CHECK_STR(out, "1234|1851000\nok\n");
}

static void test_uri_escaping(void) {
    const char *base = test_tmpdir("shard-uri");
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/odd %%41 ?x=1#frag&mode=rw;é", base);
    REQUIRE(mkdir(dir, 0755) == 0);
    const char *db = path_in(dir, "shard?.db");
    sy_shard_writer_opts o = {SY_PAGE_SIZE_AUTO, 0, 0, 0};
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open(db, &o, &w));
    REQUIRE(w);
    CHECK_OK(sy_shard_writer_put(w, "k", 1, "v", 1));
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    sy_shard_writer_close(&w);
    CHECK(file_exists(db)); /* at the literal path, not a URI-decoded one */
    CHECK_EQ_INT(sql_int(db, "SELECT count(*) FROM kv"), 1);
    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open(db, &r));
    REQUIRE(r);
    const void *v = NULL;
    size_t n = 0;
    CHECK_OK(sy_shard_reader_get(r, "k", 1, &v, &n));
    CHECK(n == 1 && memcmp(v, "v", 1) == 0);
    sy_shard_reader_close(&r);

    /* a relative path and a path with a leading "//" */
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(chdir(base) == 0);
    CHECK_OK(sy_shard_writer_open("rel:file.db", NULL, &w));
    if (w) {
        CHECK_OK(sy_shard_writer_seal(w, NULL));
        sy_shard_writer_close(&w);
    }
    CHECK_OK(sy_shard_reader_open("rel:file.db", &r));
    sy_shard_reader_close(&r);
    CHECK(chdir(cwd) == 0);
    CHECK(file_exists(path_in(base, "rel:file.db")));
    char dbl[4300];
    snprintf(dbl, sizeof dbl, "/%s", path_in(base, "dbl.db"));
    CHECK_OK(sy_shard_writer_open(dbl, NULL, &w));
    if (w) {
        CHECK_OK(sy_shard_writer_seal(w, NULL));
        sy_shard_writer_close(&w);
    }
    CHECK(file_exists(path_in(base, "dbl.db")));
    CHECK_OK(sy_shard_reader_open(dbl, &r));
    sy_shard_reader_close(&r);
}

static void test_alloc_failures(void) {
    const char *dir = test_tmpdir("shard-nomem");
    const char *db = path_in(dir, "shard.db");
    int failures = 0, succeeded = 0;
    for (long n = 0; n < 50 && !succeeded; n++) {
        sy_shard_writer *w = (sy_shard_writer *)&w;
        sy_alloc_fail_after(n);
        shardy_status st = sy_shard_writer_open(db, NULL, &w);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_ENOMEM) {
            failures++;
            CHECK(w == NULL);
            CHECK(!file_exists(db));
            CHECK_ERRMSG_HAS(db);
            continue;
        }
        CHECK_OK(st);
        REQUIRE(w);
        succeeded = 1;
        /* puts (keys in increasing order: the bulk path) and seal allocate nothing of ours; an
         * out-of-order key would open SQLite, which allocates once */
        sy_alloc_fail_after(0);
        CHECK_OK(sy_shard_writer_put(w, "k", 1, "v", 1));
        sy_kv rows[2] = {{"m", 1, "1", 1}, {"n", 1, "2", 1}};
        CHECK_OK(sy_shard_writer_put_batch(w, rows, 2));
        CHECK_OK(sy_shard_writer_seal(w, NULL));
        sy_alloc_fail_after(-1);
        sy_shard_writer_close(&w);
    }
    CHECK(succeeded);
    CHECK(failures >= 2); /* handle, path copy (and URI) */

    failures = succeeded = 0;
    for (long n = 0; n < 50 && !succeeded; n++) {
        sy_shard_reader *r = (sy_shard_reader *)&r;
        sy_alloc_fail_after(n);
        shardy_status st = sy_shard_reader_open(db, &r);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_ENOMEM) {
            failures++;
            CHECK(r == NULL);
            CHECK_ERRMSG_HAS(db);
            continue;
        }
        CHECK_OK(st);
        REQUIRE(r);
        succeeded = 1;
        unsigned long before = sy_alloc_count();
        sy_alloc_fail_after(0); /* lookups allocate nothing of ours */
        const void *v = NULL;
        size_t len = 0;
        char buf[4];
        for (int i = 0; i < 100; i++) {
            CHECK_OK(sy_shard_reader_get(r, "m", 1, &v, &len));
            CHECK_ST(sy_shard_reader_get(r, "zz", 2, &v, &len), SHARDY_ENOTFOUND);
            CHECK_OK(sy_shard_reader_get_copy(r, "n", 1, buf, sizeof buf, &len));
        }
        sy_alloc_fail_after(-1);
        CHECK(buf[0] == '2' && len == 1);
        CHECK_EQ_U64(sy_alloc_count(), before);
        sy_shard_reader_close(&r);
    }
    CHECK(succeeded);
    CHECK(failures >= 2);
}

static void test_ops_registry(void) {
    CHECK(sy_shard_ops_by_name("sqlite") == &sy_shard_sqlite_ops);
    CHECK(sy_shard_ops_by_name("slatedb") == NULL);
    CHECK(sy_shard_ops_by_name(NULL) == NULL);
    CHECK_STR(sy_shard_ops_name(&sy_shard_sqlite_ops), "sqlite");

    const char *dir = test_tmpdir("shard-ops");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer *w = NULL;
    CHECK_OK(sy_shard_writer_open_with(sy_shard_ops_by_name("sqlite"), db, NULL, &w));
    REQUIRE(w);
    CHECK_OK(sy_shard_writer_put(w, "x", 1, "y", 1));
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    sy_shard_writer_close(&w);
    sy_shard_reader *r = NULL;
    CHECK_OK(sy_shard_reader_open_with(sy_shard_ops_by_name("sqlite"), db, NULL, &r));
    char b[2];
    size_t n = 0;
    CHECK_OK(sy_shard_reader_get_copy(r, "x", 1, b, sizeof b, &n));
    CHECK(n == 1 && b[0] == 'y');
    sy_shard_reader_close(&r);
}

static void test_failures_poison_writer(void) {
    const char *dir = test_tmpdir("shard-fail");
    const char *db = path_in(dir, "shard.db");
    sy_shard_writer *w = NULL;

    /* a value over SQLite's 1e9-byte limit: mapped but never touched (SQLite checks the length
     * before reading a SQLITE_STATIC blob) */
    size_t huge = 1100u * 1000u * 1000u;
    void *big = mmap(NULL, huge, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (big != MAP_FAILED) {
        CHECK_OK(sy_shard_writer_open(db, NULL, &w));
        REQUIRE(w);
        CHECK_OK(sy_shard_writer_put(w, "ok", 2, "v", 1));
        sy_kv rows[2] = {{"a", 1, "1", 1}, {"b", 1, big, huge}};
        CHECK_ST(sy_shard_writer_put_batch(w, rows, 2), SHARDY_ERANGE);
        CHECK_ERRMSG_HAS(db);
        CHECK_ERRMSG_HAS("batch row 1");
        CHECK_ERRMSG_HAS("too big");
        CHECK_EQ_U64(sy_shard_writer_stats_get(w).rows_put, 1);
        CHECK_ST(sy_shard_writer_put(w, "c", 1, "v", 1), SHARDY_ECLOSED);
        CHECK_ERRMSG_HAS("earlier failure");
        CHECK_ST(sy_shard_writer_seal(w, NULL), SHARDY_ECLOSED);
        CHECK(file_exists(db));
        sy_shard_writer_close(&w); /* failed → abort */
        CHECK(!file_exists(db));
        munmap(big, huge);
    }

    /* the file vanishes before seal: seal fails with the path, the writer is failed */
    static const int modes[] = {0, SY_PAGE_SIZE_AUTO};
    for (int m = 0; m < 2; m++) {
        sy_shard_writer_opts o = {modes[m], 0, 0, 0};
        CHECK_OK(sy_shard_writer_open(db, &o, &w));
        REQUIRE(w);
        CHECK_OK(sy_shard_writer_put(w, "k", 1, "v", 1));
        REQUIRE(unlink(db) == 0);
        uint64_t dbb = 9;
        shardy_status st = sy_shard_writer_seal(w, &dbb);
        CHECK(st == SHARDY_ENOTFOUND || st == SHARDY_EIO);
        CHECK_ERRMSG_HAS(db);
        CHECK_EQ_U64(dbb, 0);
        CHECK_EQ_U64(sy_shard_writer_stats_get(w).db_bytes, 0);
        CHECK_ST(sy_shard_writer_seal(w, &dbb), SHARDY_ECLOSED);
        sy_shard_writer_close(&w);
        CHECK(!file_exists(db));
    }
}

TEST_MAIN(test_roundtrip_int_keys, test_binary_keys_and_empty, test_last_write_wins, test_100k_rows,
          test_header_schema_and_size, test_page_sizes, test_page_size_formula, test_auto_page_size,
          test_lifecycle_and_abort, test_get_copy_and_views, test_reader_rejects_foreign_files,
          test_text_key_not_found, test_sqlite_cli_reads_shard, test_uri_escaping, test_alloc_failures,
          test_ops_registry, test_failures_poison_writer)
