/* test_rowbuf.c — row buffering, spill runs and the last-write-wins key-ordered merge. */
#include "check.h"
#include "core/alloc.h"
#include "write/rowbuf.h"

/* Reference model: keys are small ints rendered as variable-length byte strings so that key
 * lengths differ (prefix comparison and length tie-breaks are exercised). */
#define NKEYS 5000

static size_t make_key(unsigned id, unsigned char *out) {
    /* Unique per id (7919 is invertible mod the prime 100003), 1..5 decimal digits: lengths vary
     * and byte order differs from numeric order. */
    return (size_t)snprintf((char *)out, 16, "%u", id * 7919u % 100003u);
}

static int cmp_bytes(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn);
}

/* The id whose make_key is k, or nids if none below nids. */
static unsigned made_key_id(const void *k, size_t kl, unsigned nids) {
    unsigned char kk[16];
    for (unsigned id = 0; id < nids; id++) {
        size_t n = make_key(id, kk);
        if (n == kl && !memcmp(kk, k, n)) return id;
    }
    return nids;
}

/* Merges b (then frees it) and checks the result against a last-added-wins model over ids
 * [0, nids): keys strictly increasing, each row's 4-byte value = last_val[id_of(key)], and exactly
 * the ids that have a value. *rows (may be NULL) = rows merged, distinct + superseded. */
static void check_merge_model(sy_rowbuf *b, const uint32_t *last_val, unsigned nids,
                              unsigned (*id_of)(const void *k, size_t kl, unsigned nids), uint64_t *rows) {
    sy_rowmerge *m = NULL;
    CHECK_OK(sy_rowmerge_open(b, &m));
    REQUIRE(m != NULL);
    const void *k, *v;
    size_t kl, vl, prevl = 0, distinct = 0;
    unsigned char prev[24];
    shardy_status st = SHARDY_OK;
    int first = 1, rc;
    while ((rc = sy_rowmerge_next(m, &k, &kl, &v, &vl, &st)) == 1) {
        REQUIRE(kl <= sizeof prev);
        if (!first) CHECK(cmp_bytes(prev, prevl, k, kl) < 0);
        memcpy(prev, k, kl);
        prevl = kl;
        first = 0;
        unsigned id = id_of(k, kl, nids);
        REQUIRE(id < nids);
        CHECK_EQ_INT(vl, 4);
        uint32_t got;
        memcpy(&got, v, sizeof got);
        CHECK_EQ_U64(got, last_val[id]);
        distinct++;
    }
    CHECK_EQ_INT(rc, 0);
    size_t want = 0;
    for (unsigned id = 0; id < nids; id++) want += last_val[id] != 0;
    CHECK_EQ_U64(distinct, want);
    if (rows) *rows = sy_rowmerge_duplicates(m) + distinct;
    sy_rowmerge_close(&m);
    CHECK(m == NULL);
    sy_rowbuf_free(b);
}

static void run_case(unsigned rows, unsigned spill_every, unsigned seed) {
    const char *dir = test_tmpdir("rowbuf");
    static uint32_t last_val[NKEYS]; /* value of the last write per key id, 0 = never */
    memset(last_val, 0, sizeof last_val);
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    srand(seed);
    unsigned spills = 0;
    for (unsigned r = 1; r <= rows; r++) {
        unsigned id = (unsigned)rand() % NKEYS;
        unsigned char k[16];
        size_t kl = make_key(id, k);
        uint32_t val = r;
        CHECK_OK(sy_rowbuf_add(&b, k, (uint32_t)kl, &val, sizeof val, r));
        last_val[id] = val;
        if (spill_every && r % spill_every == 0) {
            char path[4200];
            snprintf(path, sizeof path, "%s/run-%u", dir, spills++);
            CHECK_OK(sy_rowbuf_spill(&b, path));
            CHECK_EQ_INT(b.n, 0);
        }
    }
    CHECK_EQ_U64(b.rows_total, rows);
    uint64_t merged = 0;
    check_merge_model(&b, last_val, NKEYS, made_key_id, &merged);
    CHECK_EQ_U64(merged, rows);
}

static void test_memory_only(void) { run_case(20000, 0, 1); }
static void test_with_spills(void) { run_case(20000, 3000, 2); }
static void test_spill_every_row(void) { run_case(300, 1, 3); }
static void test_empty(void) { run_case(0, 0, 4); }
static void test_many_runs(void) { run_case(20000, 500, 5); } /* 40 runs + memory: the heap at depth */

/* Keys that share their 8-byte prefix: longer than 8 bytes with a common head, and short keys
 * that differ only by trailing zero bytes (the prefix is zero padded). The radix sort must leave
 * them in key order with the last write winning, in memory and across spills. */
enum { NK = 64 };
static unsigned char keys[NK][24]; /* run_tie_case's keys */
static size_t lens[NK];

static unsigned tie_id(const void *k, size_t kl, unsigned nids) {
    for (unsigned i = 0; i < nids; i++)
        if (lens[i] == kl && !memcmp(keys[i], k, kl)) return i;
    return nids;
}

static void run_tie_case(unsigned spill_every) {
    enum { ROWS = 6000 };
    for (unsigned i = 0; i < NK; i++) {
        if (i < 40) { /* "common-h" + 1..4 varying bytes (some zero) */
            memcpy(keys[i], "common-h", 8);
            lens[i] = 9 + i % 4;
            memset(keys[i] + 8, 0, lens[i] - 8);
            if (lens[i] == 9) {
                keys[i][8] = (unsigned char)(i / 4); /* 0..9 */
            } else {
                keys[i][8] = (unsigned char)(i % 3);
                keys[i][9] = (unsigned char)i;
            }
        } else if (i < 52) { /* "ab" followed by 0..11 zero bytes */
            memcpy(keys[i], "ab", 2);
            lens[i] = 2 + (i - 40);
            memset(keys[i] + 2, 0, lens[i] - 2);
        } else { /* 8-byte keys: integer-like, high bytes shared */
            lens[i] = 8;
            memset(keys[i], 0, 8);
            keys[i][7] = (unsigned char)(i * 3);
        }
    }
    /* keys must be distinct for the model */
    for (unsigned i = 0; i < NK; i++)
        for (unsigned j = 0; j < i; j++) REQUIRE(!(lens[i] == lens[j] && !memcmp(keys[i], keys[j], lens[i])));
    const char *dir = test_tmpdir("rowbuf-ties");
    uint32_t last[NK] = {0};
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    srand(99 + spill_every);
    unsigned spills = 0;
    for (uint32_t r = 1; r <= ROWS; r++) {
        unsigned id = (unsigned)rand() % NK;
        CHECK_OK(sy_rowbuf_add(&b, keys[id], (uint32_t)lens[id], &r, sizeof r, r));
        last[id] = r;
        if (spill_every && r % spill_every == 0) {
            char path[4200];
            snprintf(path, sizeof path, "%s/run-%u-%u", dir, spill_every, spills++);
            CHECK_OK(sy_rowbuf_spill(&b, path));
        }
    }
    check_merge_model(&b, last, NK, tie_id, NULL);
}

static void test_prefix_ties(void) {
    run_tie_case(0);
    run_tie_case(700);
}

/* Appends one run-format record to f. */
static void put_rec(FILE *f, const char *k, const char *v) {
    uint32_t kl = (uint32_t)strlen(k), vl = (uint32_t)strlen(v);
    unsigned char hdr[8];
    for (int i = 0; i < 4; i++) {
        hdr[i] = (unsigned char)(kl >> (8 * i));
        hdr[4 + i] = (unsigned char)(vl >> (8 * i));
    }
    REQUIRE(fwrite(hdr, 1, 8, f) == 8 && fwrite(k, 1, kl, f) == kl && fwrite(v, 1, vl, f) == vl);
}

/* Runs that are byte ranges at unaligned offsets of a bigger file (exchange sections), an empty
 * run, and newer runs overriding older ones for equal keys. */
static void test_section_runs(void) {
    const char *dir = test_tmpdir("rowbuf-sections");
    char path[4200];
    snprintf(path, sizeof path, "%s/exchange.run", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    for (int i = 0; i < 5001; i++) fputc('#', f); /* junk before the first section */
    long a0 = ftell(f);
    put_rec(f, "apple", "old-apple");
    put_rec(f, "cherry", "old-cherry");
    put_rec(f, "kiwi", "old-kiwi");
    long a1 = ftell(f);
    fputs("junk between sections", f);
    long b0 = ftell(f);
    put_rec(f, "banana", "new-banana");
    put_rec(f, "cherry", "new-cherry");
    put_rec(f, "zz", "");
    long b1 = ftell(f);
    fputs("trailing junk", f);
    REQUIRE(fclose(f) == 0);
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    CHECK_OK(sy_rowbuf_add_run(&b, path, (uint64_t)a0, (uint64_t)(a1 - a0), 3, 0));
    CHECK_OK(sy_rowbuf_add_run(&b, path, (uint64_t)a1, 0, 0, 0)); /* empty section */
    CHECK_OK(sy_rowbuf_add_run(&b, path, (uint64_t)b0, (uint64_t)(b1 - b0), 3, 0));
    sy_rowmerge *m = NULL;
    CHECK_OK(sy_rowmerge_open(&b, &m));
    REQUIRE(m != NULL);
    const char *want[][2] = {{"apple", "old-apple"}, {"banana", "new-banana"}, {"cherry", "new-cherry"},
                             {"kiwi", "old-kiwi"}, {"zz", ""}};
    const void *k, *v;
    size_t kl, vl, n = 0;
    shardy_status st = SHARDY_OK;
    int rc;
    while ((rc = sy_rowmerge_next(m, &k, &kl, &v, &vl, &st)) == 1) {
        REQUIRE(n < 5);
        CHECK(kl == strlen(want[n][0]) && !memcmp(k, want[n][0], kl));
        CHECK(vl == strlen(want[n][1]) && !memcmp(v, want[n][1], vl));
        n++;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_U64(sy_rowmerge_duplicates(m), 1);
    sy_rowmerge_close(&m);
    sy_rowbuf_free(&b);
    CHECK(access(path, F_OK) == 0); /* not owned: left in place */
}

/* Rows arriving as a few ascending stretches take the stretch-merge path of the sort (at most 8
 * stretches; 9 fall back to the radix sort): keys longer than 8 bytes whose prefixes tie, overlaps
 * between stretches (the later stretch wins), compared with a last-added-wins model. */
static size_t g_natural_klen; /* the key length natural_case writes */

/* The id of a natural_case key ("key%05u" or "key-%05u"; not NUL-terminated), or nids. */
static unsigned natural_id(const void *k, size_t kl, unsigned nids) {
    if (kl != g_natural_klen) return nids;
    char digits[6];
    memcpy(digits, (const char *)k + kl - 5, 5);
    digits[5] = 0;
    unsigned long id = strtoul(digits, NULL, 10);
    return id < nids ? (unsigned)id : nids;
}

static void natural_case(unsigned nstretch, int short_keys) {
    static uint32_t last_val[4000];
    memset(last_val, 0, sizeof last_val);
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    uint64_t seq = 1;
    for (unsigned s = 0; s < nstretch; s++) {
        unsigned lo = s * 397 % 1000, step = 1 + s % 3;
        for (unsigned id = lo; id < 4000; id += step) {
            char k[16];
            /* 9 bytes: prefixes tie in tens (fixed by the tie sort); 8 bytes: equal prefix = equal key,
             * so only the stable merge keeps the later row last */
            int kl = snprintf(k, sizeof k, short_keys ? "key%05u" : "key-%05u", id);
            uint32_t val = (uint32_t)seq;
            CHECK_OK(sy_rowbuf_add(&b, k, (uint32_t)kl, &val, sizeof val, seq++));
            last_val[id] = val;
        }
    }
    g_natural_klen = short_keys ? 8u : 9u;
    check_merge_model(&b, last_val, 4000, natural_id, NULL);
}

static void test_natural_runs(void) {
    for (unsigned n = 1; n <= 9; n++) {
        natural_case(n, 0);
        natural_case(n, 1);
    }
}

/* Unsorted record sections indexed in place (sy_rowbuf_add_records): random keys with many
 * duplicates spread over sections at unaligned offsets of one file, interleaved with copied rows
 * and spills; the merge must equal a last-added-wins model. Also the format checks. */
static void test_record_sections(void) {
    const char *dir = test_tmpdir("rowbuf-records");
    char path[4200];
    snprintf(path, sizeof path, "%s/exchange.rows", dir);
    static uint32_t last_val[NKEYS];
    memset(last_val, 0, sizeof last_val);
    enum { SECTIONS = 40, PER = 300 };
    long off[SECTIONS];
    unsigned ids[SECTIONS][PER];
    srand(7);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    for (int s = 0; s < SECTIONS; s++) {
        for (int i = 0; i < 1 + s * 37 % 11; i++) fputc('#', f); /* junk: unaligned offsets */
        off[s] = ftell(f);
        for (int i = 0; i < PER; i++) {
            ids[s][i] = (unsigned)rand() % 2000;
            unsigned char k[16];
            size_t kl = make_key(ids[s][i], k);
            uint32_t val = (uint32_t)(s * PER + i + 1), hdr[2] = {(uint32_t)kl, sizeof val};
            fwrite(hdr, 4, 2, f); /* little-endian host */
            fwrite(k, 1, kl, f);
            fwrite(&val, 4, 1, f);
        }
    }
    REQUIRE(fclose(f) == 0);
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    uint64_t seq = 1;
    unsigned spills = 0;
    for (int s = 0; s < SECTIONS; s++) {
        /* section s spans [off[s], end of its PER records) */
        uint64_t len = 0;
        for (int i = 0; i < PER; i++) {
            unsigned char k[16];
            len += 8 + make_key(ids[s][i], k) + 4;
        }
        CHECK_OK(sy_rowbuf_add_records(&b, path, (uint64_t)off[s], len, PER, seq));
        seq += PER;
        for (int i = 0; i < PER; i++) last_val[ids[s][i]] = (uint32_t)(s * PER + i + 1);
        if (s % 3 == 1) { /* a copied row in between: newer than the section before it */
            unsigned id = (unsigned)(s * 13) % 2000;
            unsigned char k[16];
            size_t kl = make_key(id, k);
            uint32_t val = 1000000u + (uint32_t)s;
            CHECK_OK(sy_rowbuf_add(&b, k, (uint32_t)kl, &val, sizeof val, seq++));
            last_val[id] = val;
        }
        if (s % 9 == 8) {
            char run[4200];
            snprintf(run, sizeof run, "%s/spill-%u", dir, spills++);
            CHECK_OK(sy_rowbuf_spill(&b, run));
            CHECK_EQ_INT(b.nmaps, 0);
        }
    }
    check_merge_model(&b, last_val, 2000, made_key_id, NULL);

    /* Format checks: nothing is added on error. */
    sy_rowbuf_init(&b);
    unsigned char k0[16];
    uint64_t len0 = 8 + make_key(ids[0][0], k0) + 4;
    CHECK_ST(sy_rowbuf_add_records(&b, path, (uint64_t)off[0], len0, 100, 1), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "cannot hold 100 records") != NULL);
    CHECK_ST(sy_rowbuf_add_records(&b, path, (uint64_t)off[0], len0 + 3, 1, 1), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "holds more than its 1 records") != NULL);
    CHECK_ST(sy_rowbuf_add_records(&b, path, (uint64_t)off[0] + 1, len0, 1, 1), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "truncated or corrupt") != NULL && strstr(shardy_errmsg(), path) != NULL);
    CHECK_ST(sy_rowbuf_add_records(&b, path, 1u << 30, 16, 1, 1), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "is truncated") != NULL);
    CHECK_OK(sy_rowbuf_add_records(&b, path, 0, 0, 0, 1));
    CHECK_EQ_INT(b.n, 0);
    CHECK_EQ_INT(b.nmaps, 0);
    CHECK_OK(sy_rowbuf_add_records(&b, path, (uint64_t)off[0], len0, 1, 1));
    CHECK_EQ_INT(b.n, 1);
    CHECK_EQ_INT(b.nmaps, 1);
    sy_rowbuf_free(&b);
}

/* A run whose keys go backwards, or whose range lies past the end of the file, is a format error
 * naming the file (not a silently mis-ordered shard). */
static void test_bad_section_runs(void) {
    const char *dir = test_tmpdir("rowbuf-bad-sections");
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.run", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    put_rec(f, "b", "1");
    put_rec(f, "a", "2");
    long end = ftell(f);
    REQUIRE(fclose(f) == 0);
    const void *k, *v;
    size_t kl, vl;
    shardy_status st = SHARDY_OK;
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    CHECK_OK(sy_rowbuf_add_run(&b, path, 0, (uint64_t)end, 2, 0));
    sy_rowmerge *m = NULL;
    CHECK_OK(sy_rowmerge_open(&b, &m));
    REQUIRE(m != NULL);
    CHECK_EQ_INT(sy_rowmerge_next(m, &k, &kl, &v, &vl, &st), 1);
    CHECK_EQ_INT(sy_rowmerge_next(m, &k, &kl, &v, &vl, &st), -1);
    CHECK_EQ_INT(st, SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS("not strictly increasing");
    CHECK_ERRMSG_HAS(path);
    sy_rowmerge_close(&m);
    sy_rowbuf_free(&b);
    sy_rowbuf_init(&b);
    CHECK_OK(sy_rowbuf_add_run(&b, path, 4, (uint64_t)end, 2, 0)); /* runs 4 bytes past the end */
    CHECK_ST(sy_rowmerge_open(&b, &m), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS("truncated");
    CHECK(m == NULL);
    sy_rowbuf_free(&b);
}

static void test_corrupt_run(void) {
    const char *dir = test_tmpdir("rowbuf-corrupt");
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    char path[4200];
    snprintf(path, sizeof path, "%s/run-0", dir);
    for (uint64_t i = 0; i < 100; i++) CHECK_OK(sy_rowbuf_add(&b, &i, 8, "value", 5, i));
    CHECK_OK(sy_rowbuf_spill(&b, path));
    REQUIRE(truncate(path, 50) == 0);
    sy_rowmerge *m = NULL;
    shardy_status st = SHARDY_OK;
    const void *k, *v;
    size_t kl, vl;
    int rc = 0;
    if (sy_rowmerge_open(&b, &m) == SHARDY_OK) {
        while ((rc = sy_rowmerge_next(m, &k, &kl, &v, &vl, &st)) == 1) {
        }
    } else {
        rc = -1;
    }
    CHECK_EQ_INT(rc, -1);
    CHECK_ERRMSG_HAS("truncated");
    CHECK_ERRMSG_HAS(path);
    sy_rowmerge_close(&m);
    sy_rowbuf_free(&b);
    CHECK(access(path, F_OK) != 0); /* run files are deleted with the buffer */
}

static void test_alloc_failure(void) {
    sy_rowbuf b;
    sy_rowbuf_init(&b);
    sy_alloc_fail_after(0);
    CHECK_ST(sy_rowbuf_add(&b, "k", 1, "v", 1, 1), SHARDY_ENOMEM);
    sy_alloc_fail_after(1); /* chunk ok, index fails */
    CHECK_ST(sy_rowbuf_add(&b, "k", 1, "v", 1, 1), SHARDY_ENOMEM);
    sy_alloc_fail_after(-1);
    CHECK_OK(sy_rowbuf_add(&b, "k", 1, "v", 1, 1));
    CHECK_EQ_INT(b.n, 1);
    sy_rowbuf_free(&b);
}

TEST_MAIN(test_natural_runs, test_record_sections, test_memory_only, test_with_spills, test_spill_every_row, test_empty, test_many_runs, test_prefix_ties, test_section_runs,
          test_bad_section_runs, test_corrupt_run, test_alloc_failure)
