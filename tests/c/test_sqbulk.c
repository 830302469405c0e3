/* test_sqbulk.c — the SQLite bulk loader (src/shard/sqbulk.c) checked by SQLite itself: integrity
 * check, a full ordered scan and point lookups against the rows written, header fields equal to a
 * file SQLite wrote, across page sizes, row counts around page boundaries (the end-of-stream
 * fix-ups at leaf and interior levels), overflow payloads (values and keys) and empty values. */
#include <sqlite3.h>

#include "check.h"
#include "shard/shard.h"
#include "shard/sqbulk.h"

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 33;
}

typedef struct row {
    unsigned char *k, *v;
    size_t kl, vl;
} row;

static int row_cmp(const void *a, const void *b) {
    const row *x = a, *y = b;
    return sy_sqbulk_key_cmp(x->k, x->kl, y->k, y->kl);
}

/* n rows with distinct keys of klen_min..klen_max bytes and values of vlen_min..vlen_max bytes,
 * sorted by key. */
static row *make_rows(size_t n, size_t kmin, size_t kmax, size_t vmin, size_t vmax) {
    row *r = calloc(n ? n : 1, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        size_t kl = kmin + (kmax > kmin ? rnd() % (kmax - kmin + 1) : 0);
        if (kl < 8) kl = 8;
        size_t vl = vmin + (vmax > vmin ? rnd() % (vmax - vmin + 1) : 0);
        r[i].k = malloc(kl);
        r[i].v = malloc(vl ? vl : 1);
        r[i].kl = kl;
        r[i].vl = vl;
        for (size_t j = 0; j < kl; j++) r[i].k[j] = (unsigned char)rnd();
        for (int j = 0; j < 8; j++) r[i].k[j] = (unsigned char)(i >> (56 - 8 * j)); /* distinct */
        for (size_t j = 0; j < vl; j++) r[i].v[j] = (unsigned char)(i * 31 + j);
    }
    qsort(r, n, sizeof *r, row_cmp);
    return r;
}

static void free_rows(row *r, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(r[i].k);
        free(r[i].v);
    }
    free(r);
}

static int write_bulk(const char *path, int page, const row *r, size_t n) {
    sy_sqbulk *b = NULL;
    if (sy_sqbulk_open(path, page, &b) != SHARDY_OK) return 0;
    for (size_t i = 0; i < n; i++)
        if (sy_sqbulk_add(b, r[i].k, r[i].kl, r[i].v, r[i].vl) != SHARDY_OK) {
            sy_sqbulk_free(&b);
            return 0;
        }
    shardy_status st = sy_sqbulk_finish(b);
    sy_sqbulk_free(&b);
    return st == SHARDY_OK;
}

/* Everything SQLite can tell: integrity, schema, order and contents, lookups, page size. */
static void verify(const char *path, int page, const row *r, size_t n, const char *what) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int bad = 0;
    REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    const char *ic = (const char *)sqlite3_column_text(q, 0);
    if (!ic || strcmp(ic, "ok")) {
        fprintf(stderr, "%s: integrity_check: %s\n", what, ic ? ic : "(null)");
        bad++;
    }
    sqlite3_finalize(q);
    REQUIRE(sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM sqlite_master", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    CHECK(!strcmp((const char *)sqlite3_column_text(q, 0), "table"));
    CHECK(!strcmp((const char *)sqlite3_column_text(q, 1), "kv"));
    CHECK(!strcmp((const char *)sqlite3_column_text(q, 3),
                  "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"));
    CHECK(sqlite3_step(q) == SQLITE_DONE);
    sqlite3_finalize(q);
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == page);
    sqlite3_finalize(q);
    /* full scan in key order */
    REQUIRE(sqlite3_prepare_v2(db, "SELECT k, v, typeof(v) FROM kv ORDER BY k", -1, &q, NULL) == SQLITE_OK);
    size_t i = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (i >= n) {
            bad++;
            break;
        }
        size_t kl = (size_t)sqlite3_column_bytes(q, 0), vl = (size_t)sqlite3_column_bytes(q, 1);
        const void *k = sqlite3_column_blob(q, 0), *v = sqlite3_column_blob(q, 1);
        if (kl != r[i].kl || memcmp(k, r[i].k, kl) || vl != r[i].vl || (vl && memcmp(v, r[i].v, vl)) ||
            strcmp((const char *)sqlite3_column_text(q, 2), "blob"))
            bad++;
        i++;
    }
    sqlite3_finalize(q);
    if (i != n) {
        fprintf(stderr, "%s: scan returned %zu rows, wrote %zu\n", what, i, n);
        bad++;
    }
    /* point lookups through the index (every 7th row, plus misses) */
    REQUIRE(sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1, &q, NULL) == SQLITE_OK);
    for (size_t j = 0; j < n; j += 7) {
        sqlite3_bind_blob(q, 1, r[j].k, (int)r[j].kl, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_ROW || (size_t)sqlite3_column_bytes(q, 0) != r[j].vl) bad++;
        sqlite3_reset(q);
        unsigned char miss[9];
        memcpy(miss, r[j].k, 8);
        miss[8] = 0xff;
        sqlite3_bind_blob(q, 1, miss, r[j].kl == 9 ? 8 : 9, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_DONE && !(r[j].kl == 9 && rc == SQLITE_ROW)) bad++;
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (bad) fprintf(stderr, "%s: %d problems\n", what, bad);
    CHECK(bad == 0);
}

static void test_shapes(void) {
    const char *dir = test_tmpdir("sqbulk");
    char path[4200];
    snprintf(path, sizeof path, "%s/bulk.db", dir);
    static const int pages[] = {4096, 8192, 65536};
    struct {
        size_t n, kmin, kmax, vmin, vmax;
    } shapes[] = {
        {0, 8, 8, 0, 0},           {1, 8, 8, 100, 100},        {50000, 8, 8, 100, 100},
        {3000, 8, 8, 0, 3000},     {400, 8, 8, 900, 70000},    {2000, 8, 2500, 0, 40},
        {600, 8, 9000, 0, 9000},   {20000, 8, 16, 0, 0},
    };
    char what[200];
    for (size_t p = 0; p < sizeof pages / sizeof *pages; p++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            rng_state = 1000 + s;
            row *r = make_rows(shapes[s].n, shapes[s].kmin, shapes[s].kmax, shapes[s].vmin, shapes[s].vmax);
            snprintf(what, sizeof what, "page %d shape %zu (n=%zu)", pages[p], s, shapes[s].n);
            CHECK(write_bulk(path, pages[p], r, shapes[s].n));
            verify(path, pages[p], r, shapes[s].n, what);
            free_rows(r, shapes[s].n);
        }
}

/* Every row count 1..N with rows of ~1/5 page: leaves of 4 rows, interior pages of 4 cells, so
 * every end-of-stream case (held leaf, held interior page at each level) comes up. */
static void test_every_count(void) {
    const char *dir = test_tmpdir("sqbulk-counts");
    char path[4200], what[100];
    snprintf(path, sizeof path, "%s/bulk.db", dir);
    for (size_t n = 1; n <= 400; n++) {
        rng_state = n;
        row *r = make_rows(n, 700, 900, 0, 20);
        snprintf(what, sizeof what, "count %zu", n);
        CHECK(write_bulk(path, 4096, r, n));
        verify(path, 4096, r, n, what);
        free_rows(r, n);
    }
}

/* The header is the one SQLite writes for the same schema (bar the page count). */
static void test_header_matches_sqlite(void) {
    const char *dir = test_tmpdir("sqbulk-header");
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/bulk.db", dir);
    snprintf(b, sizeof b, "%s/sqlite.db", dir);
    rng_state = 7;
    row *r = make_rows(10, 8, 8, 10, 10);
    REQUIRE(write_bulk(a, 4096, r, 10));
    sy_shard_writer *w = NULL;
    sy_shard_writer_opts o = {4096, 0, 1, 0};
    REQUIRE(sy_shard_writer_open(b, &o, &w) == SHARDY_OK);
    for (size_t i = 0; i < 10; i++) CHECK_OK(sy_shard_writer_put(w, r[i].k, r[i].kl, r[i].v, r[i].vl));
    CHECK_OK(sy_shard_writer_seal(w, NULL));
    sy_shard_writer_close(&w);
    unsigned char ha[100], hb[100];
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    REQUIRE(fa && fb);
    CHECK(fread(ha, 1, 100, fa) == 100 && fread(hb, 1, 100, fb) == 100);
    fclose(fa);
    fclose(fb);
    /* 24..27 change counter and 92..95 version-valid-for may differ (SQLite counts its
     * transactions); 28..31 is the page count */
    for (int i = 0; i < 100; i++) {
        if ((i >= 24 && i < 32) || (i >= 92 && i < 96)) continue;
        if (ha[i] != hb[i]) fprintf(stderr, "header byte %d: bulk %02x, sqlite %02x\n", i, ha[i], hb[i]);
        CHECK(ha[i] == hb[i]);
    }
    CHECK(!memcmp(ha + 24, ha + 92, 4)); /* the page count is valid */
    free_rows(r, 10);
}

/* The shard writer: bulk while keys increase, SQLite after an out-of-order key (last write wins),
 * and the same contents either way. */
static void test_writer_fallback(void) {
    const char *dir = test_tmpdir("sqbulk-writer");
    char path[4200];
    snprintf(path, sizeof path, "%s/shard.db", dir);
    for (int mode = 0; mode < 2; mode++) {
        sy_shard_writer *w = NULL;
        sy_shard_writer_opts o = {mode ? SY_PAGE_SIZE_AUTO : 4096, 0, 0, 0};
        REQUIRE(sy_shard_writer_open(path, &o, &w) == SHARDY_OK);
        char k[16], v[600];
        memset(v, 'v', sizeof v);
        for (int i = 0; i < 5000; i++) {
            snprintf(k, sizeof k, "k%06d", i);
            CHECK_OK(sy_shard_writer_put(w, k, strlen(k), v, (size_t)(i % 600)));
        }
        CHECK_OK(sy_shard_writer_put(w, "k000010", 7, "again", 5)); /* out of order: SQLite takes over */
        CHECK_OK(sy_shard_writer_put(w, "a", 1, "first", 5));
        CHECK_OK(sy_shard_writer_seal(w, NULL));
        sy_shard_writer_close(&w);
        sy_shard_reader *r = NULL;
        REQUIRE(sy_shard_reader_open(path, &r) == SHARDY_OK);
        char buf[700];
        size_t n = 0;
        CHECK_OK(sy_shard_reader_get_copy(r, "k000010", 7, buf, sizeof buf, &n));
        CHECK(n == 5 && !memcmp(buf, "again", 5));
        CHECK_OK(sy_shard_reader_get_copy(r, "a", 1, buf, sizeof buf, &n));
        CHECK(n == 5 && !memcmp(buf, "first", 5));
        CHECK_OK(sy_shard_reader_get_copy(r, "k004999", 7, buf, sizeof buf, &n));
        CHECK(n == 4999 % 600);
        sy_shard_reader_close(&r);
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;
        REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM kv", -1, &q, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 5001);
        sqlite3_finalize(q);
        REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(q) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(q, 0), "ok"));
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
}

/* Writeback mode (disk writes started while loading) changes when bytes reach the disk, never
 * which bytes: a ~20 MiB shard comes out byte-identical with and without it. */
static void test_writeback_same_bytes(void) {
    const char *dir = test_tmpdir("sqbulk-writeback");
    char path[2][4200];
    for (int mode = 0; mode < 2; mode++) {
        snprintf(path[mode], sizeof path[mode], "%s/shard-%d.db", dir, mode);
        sy_shard_writer *w = NULL;
        sy_shard_writer_opts o = {4096, 0, 0, mode};
        REQUIRE(sy_shard_writer_open(path[mode], &o, &w) == SHARDY_OK);
        char k[16], v[200];
        for (int i = 0; i < 100000; i++) {
            snprintf(k, sizeof k, "k%08d", i);
            memset(v, 'a' + i % 26, sizeof v);
            CHECK_OK(sy_shard_writer_put(w, k, strlen(k), v, sizeof v));
        }
        CHECK_OK(sy_shard_writer_seal(w, NULL));
        sy_shard_writer_close(&w);
    }
    FILE *a = fopen(path[0], "rb"), *b = fopen(path[1], "rb");
    REQUIRE(a && b);
    size_t total = 0, same = 1;
    char ba[65536], bb[65536];
    for (;;) {
        size_t na = fread(ba, 1, sizeof ba, a), nb = fread(bb, 1, sizeof bb, b);
        if (na != nb || memcmp(ba, bb, na)) same = 0;
        total += na;
        if (na < sizeof ba || !same) break;
    }
    fclose(a);
    fclose(b);
    CHECK(same);
    CHECK(total > (size_t)20 << 20);
}

static void test_errors(void) {
    sy_sqbulk *b = NULL;
    CHECK_ST(sy_sqbulk_open("/tmp/x.db", 5000, &b), SHARDY_EINVAL);
    CHECK_ST(sy_sqbulk_open("/nonexistent-dir/x/y.db", 4096, &b), SHARDY_EIO);
    CHECK(strstr(shardy_errmsg(), "/nonexistent-dir/x/y.db") != NULL);
    CHECK(b == NULL);
}

TEST_MAIN(test_shapes, test_every_count, test_header_matches_sqlite, test_writer_fallback, test_writeback_same_bytes, test_errors)
