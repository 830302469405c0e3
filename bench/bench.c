/*
 * bench.c — shardy's benchmark: every figure is measured next to its baseline in the same run and
 * printed as one name=value line (run through bench/run).
 *
 *   build:    N rows (int64 keys in random order, 100-byte values) into 16 shards with the native
 *             pipeline (shardy_builder_*, publish included) vs. a plain sqlite3 program inserting the
 *             same rows in key order through one prepared statement into one WITHOUT ROWID table
 *             (same pragmas as our shard writer).
 *   get:      G random single-threaded lookups through the reader (cursor, zero-copy) vs. a plain
 *             sqlite3 prepared SELECT on the same shard files (routing by xxh3 included).
 *   multiget: the same keys through shardy_reader_multi_get, 1000 keys per call.
 *
 * Usage: bench [--rows N] [--gets G] [--dir DIR] [--threads T]
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "shardy.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void make_value(uint64_t key, unsigned char v[100]) {
    uint64_t x = key * 0x2545F4914F6CDD1DULL + 1;
    for (int i = 0; i < 100; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = (unsigned char)x;
    }
}

static void die(const char *what) {
    fprintf(stderr, "bench: %s: %s\n", what, shardy_errmsg());
    exit(1);
}

static void sqlite_check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "bench: %s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        exit(1);
    }
}

/* The baseline: one table, key order, one prepared statement, one transaction. */
static double baseline_build(const char *path, uint64_t rows) {
    sqlite3 *db;
    sqlite3_stmt *ins;
    unlink(path);
    double t0 = now_s();
    sqlite_check(sqlite3_open(path, &db), NULL, "open baseline");
    sqlite_check(sqlite3_exec(db,
                              "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                              "PRAGMA cache_size=-2000; PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY;"
                              "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID; BEGIN",
                              NULL, NULL, NULL),
                 db, "baseline schema");
    sqlite_check(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", -1, &ins, NULL), db,
                 "baseline prepare");
    unsigned char k[8], v[100];
    for (uint64_t i = 0; i < rows; i++) {
        for (int b = 0; b < 8; b++) k[b] = (unsigned char)(i >> (56 - 8 * b));
        make_value(i, v);
        sqlite3_bind_blob(ins, 1, k, 8, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 2, v, 100, SQLITE_STATIC);
        sqlite_check(sqlite3_step(ins), db, "baseline insert");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite_check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "baseline commit");
    sqlite3_close(db);
    return now_s() - t0;
}

static double our_build(const char *prefix, const char *local, uint64_t rows, int threads, char **manifest_ref) {
    /* Keys 0..rows-1 in a random order (a permutation), generated before the clock starts. */
    uint64_t *keys = malloc(rows * sizeof *keys);
    if (!keys) die("out of memory");
    for (uint64_t i = 0; i < rows; i++) keys[i] = i;
    for (uint64_t i = rows; i > 1; i--) {
        uint64_t j = rnd() % i, t = keys[i - 1];
        keys[i - 1] = keys[j];
        keys[j] = t;
    }
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.prefix = prefix;
    o.num_dbs = 16;
    o.local_dir = local;
    o.threads = threads;
    o.run_id = "bench";
    shardy_builder *b;
    shardy_build_result *res;
    unsigned char v[100];
    double t0 = now_s();
    if (shardy_builder_open(&o, &b)) die("builder open");
    for (uint64_t i = 0; i < rows; i++) {
        shardy_key k = shardy_key_int((int64_t)keys[i]);
        make_value(keys[i], v);
        if (shardy_builder_add(b, &k, v, sizeof v)) die("builder add");
    }
    if (shardy_builder_finish(b, &res)) die("builder finish");
    double el = now_s() - t0;
    *manifest_ref = strdup(shardy_build_result_manifest_ref(res));
    const char *dur = strstr(shardy_build_result_json(res), "\"durations_ms\"");
    fprintf(stderr, "bench: build %.3f s, %.*s\n", el, dur ? (int)(strchr(dur, '}') - dur + 1) : 0, dur ? dur : "");
    shardy_build_result_free(&res);
    shardy_builder_close(&b);
    free(keys);
    return el;
}

typedef struct base_reader {
    sqlite3 *db[16];
    sqlite3_stmt *sel[16];
} base_reader;

static void base_open(base_reader *br, shardy_reader *r) {
    shardy_shard_info *infos;
    size_t n;
    if (shardy_reader_shards(r, &infos, &n)) die("shards");
    for (size_t i = 0; i < n && i < 16; i++) {
        /* The baseline gets the best plain configuration for a read-only file (immutable, mmap), the
         * same settings our shard reader uses, so the comparison measures our layers only. */
        char uri[4300];
        snprintf(uri, sizeof uri, "file:%s/shard.db?immutable=1", infos[i].db_url + strlen("file://"));
        sqlite_check(sqlite3_open_v2(uri, &br->db[i], SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                                     NULL),
                     NULL, "baseline open shard");
        sqlite_check(sqlite3_exec(br->db[i], "PRAGMA mmap_size=268435456; PRAGMA cache_size=-8000", NULL, NULL, NULL),
                     br->db[i], "baseline pragmas");
        sqlite_check(sqlite3_prepare_v2(br->db[i], "SELECT v FROM kv WHERE k = ?", -1, &br->sel[i], NULL), br->db[i],
                     "baseline prepare select");
    }
    shardy_shard_infos_free(&infos, n);
}

static size_t base_get(base_reader *br, uint64_t key) {
    unsigned char le[8], be[8];
    for (int b = 0; b < 8; b++) {
        le[b] = (unsigned char)(key >> (8 * b));
        be[b] = (unsigned char)(key >> (56 - 8 * b));
    }
    unsigned db = (unsigned)(XXH3_64bits(le, 8) % 16);
    sqlite3_stmt *s = br->sel[db];
    sqlite3_bind_blob(s, 1, be, 8, SQLITE_STATIC);
    size_t n = 0;
    if (sqlite3_step(s) == SQLITE_ROW) n = (size_t)sqlite3_column_bytes(s, 0) + (sqlite3_column_blob(s, 0) != NULL);
    sqlite3_reset(s);
    return n;
}

int main(int argc, char **argv) {
    uint64_t rows = 5000000, gets = 1000000;
    int threads = 0;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--gets") && i + 1 < argc) gets = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--rows N] [--gets G] [--dir DIR] [--threads T]\n", argv[0]);
            return 2;
        }
    }
    if (!dir) dir = "/tmp/shardy-bench";
    char prefix[4096], local[4096], base_path[4096], cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) die("cannot prepare the bench directory");
    snprintf(prefix, sizeof prefix, "%s/snap", dir);
    snprintf(local, sizeof local, "%s/staging", dir);
    snprintf(base_path, sizeof base_path, "%s/baseline.db", dir);

    /* ---- build ---- */
    char *ref = NULL;
    double ours = our_build(prefix, local, rows, threads, &ref);
    double base = baseline_build(base_path, rows);
    printf("build_rows=%" PRIu64 "\n", rows);
    printf("build_rows_per_s=%.0f\n", (double)rows / ours);
    printf("baseline_rows_per_s=%.0f\n", (double)rows / base);
    printf("build_vs_sqlite_ratio=%.2f\n", base / ours);
    fflush(stdout);
    unlink(base_path);

    /* ---- get ---- */
    shardy_reader_opts ro;
    shardy_reader_opts_init(&ro);
    ro.current_url = prefix;
    shardy_reader *r;
    if (shardy_reader_open(&ro, &r)) die("reader open");
    shardy_cursor *c;
    if (shardy_cursor_open(r, &c)) die("cursor open");
    uint64_t *q = malloc(gets * sizeof *q);
    shardy_key *qk = malloc(gets * sizeof *qk);
    if (!q || !qk) die("out of memory");
    for (uint64_t i = 0; i < gets; i++) {
        q[i] = rnd() % rows;
        qk[i] = shardy_key_int((int64_t)q[i]);
    }
    base_reader br;
    memset(&br, 0, sizeof br);
    base_open(&br, r);
    /* Every path is measured in steady state: one untimed pass over all the keys first (page
     * cache, each connection's mmap page tables, statement caches), then the timed pass. */
    size_t sink = 0;
    for (uint64_t i = 0; i < gets; i++) {
        const void *v;
        size_t vl;
        int found;
        if (shardy_cursor_get(c, &qk[i], &v, &vl, &found)) die("get");
        sink += vl + base_get(&br, q[i]);
    }
    double t0 = now_s();
    for (uint64_t i = 0; i < gets; i++) {
        const void *v;
        size_t vl;
        int found;
        if (shardy_cursor_get(c, &qk[i], &v, &vl, &found) || !found) die("get (missing key)");
        sink += vl;
    }
    double our_get = now_s() - t0;
    t0 = now_s();
    for (uint64_t i = 0; i < gets; i++) sink += base_get(&br, q[i]);
    double base_get_s = now_s() - t0;
    printf("get_ns=%.0f\n", our_get * 1e9 / (double)gets);
    printf("baseline_get_ns=%.0f\n", base_get_s * 1e9 / (double)gets);
    printf("get_vs_sqlite_ratio=%.2f\n", base_get_s / our_get);

    /* ---- multi_get ---- */
    /* multi_get reads through the reader's pooled handles, not the cursor's: warm them too. */
    for (uint64_t i = 0; i < gets; i += 1000) {
        size_t n = gets - i < 1000 ? (size_t)(gets - i) : 1000;
        shardy_values *vals;
        if (shardy_reader_multi_get(r, &qk[i], n, &vals)) die("multi_get");
        shardy_values_free(&vals);
    }
    t0 = now_s();
    for (uint64_t i = 0; i < gets; i += 1000) {
        size_t n = gets - i < 1000 ? (size_t)(gets - i) : 1000;
        shardy_values *vals;
        if (shardy_reader_multi_get(r, &qk[i], n, &vals)) die("multi_get");
        sink += shardy_values_count(vals);
        shardy_values_free(&vals);
    }
    double mg = now_s() - t0;
    printf("multiget_ns_per_key=%.0f\n", mg * 1e9 / (double)gets);
    fprintf(stderr, "bench: checksum %zu\n", sink);

    for (int i = 0; i < 16; i++) {
        sqlite3_finalize(br.sel[i]);
        sqlite3_close(br.db[i]);
    }
    shardy_cursor_close(&c);
    shardy_reader_close(&r);
    free(q);
    free(qk);
    free(ref);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return 0;
}
