/* test_builder.c — the native build pipeline through the public C API, checked against the files
 * it publishes (manifest parsed by our parser, shards opened with plain sqlite3). */
#include <dirent.h>
#include <sqlite3.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "snapshot/current.h"
#include "snapshot/manifest.h"
#include "store/store.h"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) p[n] = 0;
    *len = (size_t)n;
    return p;
}

/* Loads the manifest _CURRENT points at under dir. */
static sy_manifest *load_current_manifest(const char *dir, char **ref_out) {
    char path[4200];
    size_t n;
    snprintf(path, sizeof path, "%s/_CURRENT", dir);
    char *text = read_file(path, &n);
    if (!text) return NULL;
    sy_current *cur = NULL;
    sy_manifest *m = NULL;
    if (sy_current_parse(text, n, path, &cur) == SHARDY_OK) {
        const char *mp = cur->manifest_ref + strlen("file://");
        size_t mn;
        char *img = read_file(mp, &mn);
        if (img && sy_manifest_parse(img, mn, cur->manifest_ref, &m) != SHARDY_OK) m = NULL;
        if (ref_out) *ref_out = strdup(cur->manifest_ref);
        free(img);
    }
    sy_current_free(&cur);
    free(text);
    return m;
}

/* Value stored under an 8-byte big-endian key in a shard file, or -1 / -2 (missing / error). */
static long long shard_lookup_u64(const char *db_url, uint64_t key, char *val, size_t cap) {
    char path[4200];
    snprintf(path, sizeof path, "%s/shard.db", db_url + strlen("file://"));
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long rc = -2;
    unsigned char k[8];
    for (int i = 0; i < 8; i++) k[i] = (unsigned char)(key >> (56 - 8 * i));
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT v, typeof(v) FROM kv WHERE k = ?", -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_blob(s, 1, k, 8, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            int n = sqlite3_column_bytes(s, 0);
            if (strcmp((const char *)sqlite3_column_text(s, 1), "blob") == 0 && (size_t)n < cap) {
                memcpy(val, sqlite3_column_blob(s, 0), (size_t)n);
                val[n] = 0;
                rc = n;
            }
        } else if (r == SQLITE_DONE) {
            rc = -1;
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}

static shardy_build_opts opts_for(const char *dir, uint32_t num_dbs) {
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.prefix = dir;
    o.num_dbs = num_dbs;
    o.threads = 2;
    static char local[4200];
    snprintf(local, sizeof local, "%s/.staging", dir);
    o.local_dir = local;
    return o;
}

static int count_files(const char *dir) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "find '%s' -type f | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

static void test_build_and_verify(void) {
    const char *dir = test_tmpdir("builder-basic");
    char snap[4200];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    shardy_build_opts o = opts_for(snap, 8);
    o.run_id = "run-basic";
    o.key_col = "id";
    o.custom_json = "{\"team\": \"search\"}";
    shardy_builder *b = NULL;
    CHECK_OK(shardy_builder_open(&o, &b));
    REQUIRE(b != NULL);
    char v[64];
    for (int64_t i = 0; i < 20000; i++) {
        shardy_key k = shardy_key_int(i);
        int n = snprintf(v, sizeof v, "value-%lld", (long long)i);
        CHECK_OK(shardy_builder_add(b, &k, v, (size_t)n));
    }
    /* Duplicates: last write wins. */
    shardy_key k42 = shardy_key_int(42);
    CHECK_OK(shardy_builder_add(b, &k42, "new-42", 6));
    /* Bad keys are refused and do not stop the builder. */
    shardy_key neg = shardy_key_int(-5), s = shardy_key_str("x", 1);
    CHECK_ST(shardy_builder_add(b, &neg, "v", 1), SHARDY_ERANGE);
    CHECK_ST(shardy_builder_add(b, &s, "v", 1), SHARDY_ETYPE);
    CHECK_EQ_U64(shardy_builder_rows(b), 20001);
    shardy_build_result *res = NULL;
    CHECK_OK(shardy_builder_finish(b, &res));
    REQUIRE(res != NULL);
    CHECK_STR(shardy_build_result_run_id(res), "run-basic");
    CHECK_EQ_U64(shardy_build_result_rows(res), 20001);
    CHECK(strstr(shardy_build_result_json(res), "\"duplicates\": 1") != NULL);
    CHECK(strstr(shardy_build_result_json(res), "\"distinct_keys\": 20000") != NULL);
    /* A finished builder refuses more work. */
    CHECK_ST(shardy_builder_add(b, &k42, "x", 1), SHARDY_ECLOSED);
    shardy_builder_close(&b);
    CHECK(b == NULL);

    char *ref = NULL;
    sy_manifest *m = load_current_manifest(snap, &ref);
    REQUIRE(m != NULL);
    CHECK_STR(ref, shardy_build_result_manifest_ref(res));
    CHECK_STR(m->run_id, "run-basic");
    CHECK_EQ_INT(m->num_dbs, 8);
    CHECK_STR(m->key_col, "id");
    CHECK_EQ_INT(m->key_encoding, SHARDY_KEYENC_U64BE);
    json_object *team = NULL, *fmt = NULL;
    CHECK(json_object_object_get_ex(m->custom, "team", &team));
    CHECK(json_object_object_get_ex(m->custom, "shard_format", &fmt) && !strcmp(json_object_get_string(fmt), "sqlite"));
    uint64_t total = 0;
    for (size_t i = 0; i < m->n_shards; i++) {
        const sy_shard *sh = &m->shards[i];
        total += (uint64_t)sh->row_count;
        CHECK(sh->db_url != NULL);
        CHECK(sh->checkpoint_id && strlen(sh->checkpoint_id) == 32);
        CHECK(sh->min_key.kind == SY_SCALAR_INT && sh->max_key.kind == SY_SCALAR_INT);
        CHECK(sh->min_key.i <= sh->max_key.i);
        /* db_bytes is the real file size. */
        char p[4300];
        struct stat stt;
        snprintf(p, sizeof p, "%s/shard.db", sh->db_url + 7);
        CHECK(stat(p, &stt) == 0 && (int64_t)stt.st_size == sh->db_bytes);
    }
    CHECK_EQ_U64(total, 20001);
    /* Every key is in the shard HASH routing names, with its value. */
    for (int64_t i = 0; i < 20000; i += 97) {
        shardy_key k = shardy_key_int(i);
        uint64_t db;
        CHECK_OK(shardy_route_hash(&k, 8, &db, NULL));
        const sy_shard *sh = sy_manifest_find_shard(m, (int64_t)db);
        REQUIRE(sh && sh->db_url);
        char got[64];
        CHECK(shard_lookup_u64(sh->db_url, (uint64_t)i, got, sizeof got) > 0);
        snprintf(v, sizeof v, "value-%lld", (long long)i);
        CHECK_STR(got, v);
    }
    uint64_t db42;
    CHECK_OK(shardy_route_hash(&k42, 8, &db42, NULL));
    char got[64];
    CHECK(shard_lookup_u64(sy_manifest_find_shard(m, (int64_t)db42)->db_url, 42, got, sizeof got) == 6);
    CHECK_STR(got, "new-42");
    /* Staging is gone; the run record says succeeded. */
    char staging[4300];
    snprintf(staging, sizeof staging, "%s/.staging", snap);
    CHECK_EQ_INT(count_files(staging), 0);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "grep -l '\"status\": \"succeeded\"' '%s'/runs/*/run.yaml | wc -l", snap);
    FILE *pp = popen(cmd, "r");
    int nrec = 0;
    CHECK(pp && fscanf(pp, "%d", &nrec) == 1 && nrec == 1);
    if (pp) pclose(pp);
    free(ref);
    sy_manifest_free(&m);
    shardy_build_result_free(&res);
}

static void test_spills_and_last_write_wins(void) {
    const char *dir = test_tmpdir("builder-spill");
    char snap[4200];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    shardy_build_opts o = opts_for(snap, 3);
    o.memory_limit = 256 << 10; /* forces many spills */
    o.batch_size = 1000;
    shardy_builder *b = NULL;
    CHECK_OK(shardy_builder_open(&o, &b));
    REQUIRE(b);
    char v[300];
    for (int round = 0; round < 5; round++) {
        for (int64_t i = 0; i < 5000; i++) {
            shardy_key k = shardy_key_int(i);
            int n = snprintf(v, sizeof v, "r%d-%lld-%0200d", round, (long long)i, 0);
            CHECK_OK(shardy_builder_add(b, &k, v, (size_t)n));
        }
    }
    shardy_build_result *res = NULL;
    CHECK_OK(shardy_builder_finish(b, &res));
    CHECK(res && strstr(shardy_build_result_json(res), "\"duplicates\": 20000"));
    sy_manifest *m = load_current_manifest(snap, NULL);
    REQUIRE(m);
    for (int64_t i = 0; i < 5000; i += 31) {
        shardy_key k = shardy_key_int(i);
        uint64_t db;
        CHECK_OK(shardy_route_hash(&k, 3, &db, NULL));
        char got[300];
        CHECK(shard_lookup_u64(sy_manifest_find_shard(m, (int64_t)db)->db_url, (uint64_t)i, got, sizeof got) > 0);
        snprintf(v, sizeof v, "r4-%lld-", (long long)i);
        CHECK(strncmp(got, v, strlen(v)) == 0);
    }
    sy_manifest_free(&m);
    shardy_build_result_free(&res);
    shardy_builder_close(&b);
}

static void test_empty_input(void) {
    const char *dir = test_tmpdir("builder-empty");
    char snap[4200];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    shardy_build_opts o = opts_for(snap, 4);
    shardy_builder *b = NULL;
    shardy_build_result *res = NULL;
    CHECK_OK(shardy_builder_open(&o, &b));
    CHECK_OK(shardy_builder_finish(b, &res));
    shardy_builder_close(&b);
    sy_manifest *m = load_current_manifest(snap, NULL);
    REQUIRE(m);
    CHECK_EQ_INT(m->num_dbs, 4);
    CHECK_EQ_INT(m->n_shards, 0); /* empty shards have no rows */
    sy_manifest_free(&m);
    shardy_build_result_free(&res);
}

static void test_abort_keeps_previous(void) {
    const char *dir = test_tmpdir("builder-abort");
    char snap[4200], cur[4300];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    snprintf(cur, sizeof cur, "%s/_CURRENT", snap);
    shardy_build_opts o = opts_for(snap, 2);
    shardy_builder *b = NULL;
    shardy_build_result *res = NULL;
    CHECK_OK(shardy_builder_open(&o, &b));
    shardy_key k = shardy_key_int(1);
    CHECK_OK(shardy_builder_add(b, &k, "one", 3));
    CHECK_OK(shardy_builder_finish(b, &res));
    shardy_builder_close(&b);
    shardy_build_result_free(&res);
    size_t n0, n1;
    char *before = read_file(cur, &n0);
    int files_before = count_files(snap);
    /* A second build abandoned before finish publishes nothing and removes its uploads. */
    o.run_id = "abandoned";
    CHECK_OK(shardy_builder_open(&o, &b));
    CHECK_OK(shardy_builder_add(b, &k, "two", 3));
    shardy_builder_close(&b);
    char *after = read_file(cur, &n1);
    CHECK(before && after && n0 == n1 && !memcmp(before, after, n0));
    /* Only the failed run record was added. */
    CHECK_EQ_INT(count_files(snap), files_before + 1);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "grep -l '\"status\": \"failed\"' '%s'/runs/*abandoned*/run.yaml | wc -l", snap);
    FILE *pp = popen(cmd, "r");
    int nrec = 0;
    CHECK(pp && fscanf(pp, "%d", &nrec) == 1 && nrec == 1);
    if (pp) pclose(pp);
    free(before);
    free(after);
}

static void test_second_build_switches_current(void) {
    const char *dir = test_tmpdir("builder-second");
    char snap[4200];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    char *refs[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        shardy_build_opts o = opts_for(snap, 2);
        o.key_encoding = SHARDY_KEYENC_UTF8;
        shardy_builder *b = NULL;
        shardy_build_result *res = NULL;
        CHECK_OK(shardy_builder_open(&o, &b));
        shardy_key k = shardy_key_str("h\xc3\xa9llo", 6);
        CHECK_OK(shardy_builder_add(b, &k, i ? "second" : "first", i ? 6 : 5));
        CHECK_OK(shardy_builder_finish(b, &res));
        refs[i] = strdup(shardy_build_result_manifest_ref(res));
        shardy_build_result_free(&res);
        shardy_builder_close(&b);
    }
    char *ref = NULL;
    sy_manifest *m = load_current_manifest(snap, &ref);
    REQUIRE(m);
    CHECK_STR(ref, refs[1]);
    CHECK(strcmp(refs[0], refs[1]) != 0);
    CHECK(access(refs[0] + 7, F_OK) == 0); /* old manifests are kept (history) */
    CHECK_EQ_INT(m->key_encoding, SHARDY_KEYENC_UTF8);
    REQUIRE(m->n_shards == 1);
    CHECK(m->shards[0].min_key.kind == SY_SCALAR_STR && !strcmp(m->shards[0].min_key.str, "h\xc3\xa9llo"));
    sy_manifest_free(&m);
    free(ref);
    free(refs[0]);
    free(refs[1]);
}

static void test_bad_options(void) {
    shardy_build_opts o;
    shardy_builder *b = NULL;
    shardy_build_opts_init(&o);
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("prefix");
    o.prefix = "/tmp/shardy-never";
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("num_dbs");
    o.num_dbs = 4;
    o.run_id = "bad/id";
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("bad/id");
    o.run_id = NULL;
    o.db_path_template = "db={db_id:x}";
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    o.db_path_template = NULL;
    o.custom_json = "[1]";
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("JSON object");
    o.custom_json = NULL;
    o.page_size = 5000;
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    o.page_size = 0;
    o.prefix = "http://nope/x";
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK(b == NULL);
    CHECK_EQ_INT(shardy_num_dbs_for_rows(0, 10), 1);
    CHECK_EQ_INT(shardy_num_dbs_for_rows(101, 10), 11);
    CHECK_EQ_INT(shardy_num_dbs_for_rows(100, 10), 10);
    CHECK_EQ_INT(shardy_num_dbs_for_rows(100, 0), 0);
    shardy_builder_close(NULL);
    shardy_builder_close(&b);
}

static void test_store_failure_publishes_nothing(void) {
    /* The snapshot root becomes unwritable for objects: a regular file where shards/ must go. */
    const char *dir = test_tmpdir("builder-storefail");
    char snap[4200], blocker[4300];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    snprintf(blocker, sizeof blocker, "%s/shards", snap);
    REQUIRE(mkdir(snap, 0777) == 0);
    FILE *f = fopen(blocker, "w");
    REQUIRE(f);
    fclose(f);
    shardy_build_opts o = opts_for(snap, 2);
    shardy_builder *b = NULL;
    shardy_build_result *res = NULL;
    CHECK_OK(shardy_builder_open(&o, &b));
    shardy_key k = shardy_key_int(7);
    CHECK_OK(shardy_builder_add(b, &k, "seven", 5));
    CHECK(shardy_builder_finish(b, &res) != SHARDY_OK);
    CHECK_ERRMSG_HAS("shard db_id=");
    CHECK(res == NULL);
    shardy_builder_close(&b);
    char cur[4300];
    snprintf(cur, sizeof cur, "%s/_CURRENT", snap);
    CHECK(access(cur, F_OK) != 0);
}

/* shard_retry: attempt 0 of shard 0 cannot be stored (a regular file where its attempt directory
 * must go → SHARDY_EIO), so the shard is written again as attempt 1, which wins; without retries
 * the same build fails naming the shard. Bad retry options are refused. */
static void test_shard_retry(void) {
    const char *dir = test_tmpdir("builder-retry");
    char snap[4200], blocker[4400];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    for (int retry = 1; retry >= 0; retry--) {
        snprintf(blocker, sizeof blocker, "%s/shards/run_id=retry%d/db=00000/attempt=00", snap, retry);
        char parent[4400];
        snprintf(parent, sizeof parent, "%s/shards/run_id=retry%d/db=00000", snap, retry);
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' && touch '%s'", parent, blocker);
        REQUIRE(system(cmd) == 0);
        shardy_build_opts o = opts_for(snap, 2);
        o.run_id = retry ? "retry1" : "retry0";
        o.shard_retry_max = retry ? 2 : 0;
        o.shard_retry_backoff_s = 0.01;
        shardy_builder *b = NULL;
        shardy_build_result *res = NULL;
        CHECK_OK(shardy_builder_open(&o, &b));
        for (int64_t i = 0; i < 200; i++) {
            shardy_key k = shardy_key_int(i);
            char v[32];
            int n = snprintf(v, sizeof v, "v%lld", (long long)i);
            CHECK_OK(shardy_builder_add(b, &k, v, (size_t)n));
        }
        shardy_status st = shardy_builder_finish(b, &res);
        if (retry) {
            CHECK_OK(st);
            const char *json = res ? shardy_build_result_json(res) : "";
            CHECK(strstr(json, "db=00000/attempt=01") != NULL);
            CHECK(strstr(json, "db=00001/attempt=00") != NULL);
            char *ref = NULL;
            sy_manifest *m = load_current_manifest(snap, &ref);
            REQUIRE(m != NULL);
            CHECK_EQ_INT(sy_manifest_find_shard(m, 0)->attempt, 1);
            char got[32];
            int found = 0;
            for (uint64_t i = 0; i < 200; i++)
                for (int64_t db = 0; db < 2; db++)
                    found += shard_lookup_u64(sy_manifest_find_shard(m, db)->db_url, i, got, sizeof got) > 0;
            CHECK_EQ_INT(found, 200);
            sy_manifest_free(&m);
            sy_free(ref);
        } else {
            CHECK_ST(st, SHARDY_EIO);
            CHECK_ERRMSG_HAS("db_id=0");
        }
        shardy_build_result_free(&res);
        shardy_builder_close(&b);
    }
    /* bad retry options */
    shardy_build_opts o = opts_for(snap, 2);
    shardy_builder *b = NULL;
    o.shard_retry_multiplier = 0.5;
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("shard_retry_multiplier");
    o.shard_retry_multiplier = 2;
    o.shard_retry_backoff_s = -1;
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("shard_retry_backoff_s");
    CHECK(b == NULL);
}

TEST_MAIN(test_build_and_verify, test_spills_and_last_write_wins, test_empty_input, test_abort_keeps_previous,
          test_second_build_switches_current, test_bad_options, test_store_failure_publishes_nothing, test_shard_retry)
