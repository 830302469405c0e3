/* test_distributed.c — distributed builds through the public API: engine tasks write shard attempts
 * with shardy_attempt_*, the driver publishes them with shardy_run_*; checked with readers, the
 * files on disk (file://) and, when the servers are up, on s3:// (moto). */
#include <json-c/json.h>

#include "check.h"
#include "s3_env.h"
#include "core/buf.h"
#include "core/json.h"
#include "store/store.h"
#include "write/attempt.h"

/* Store settings applied to every option struct (set for the s3:// run). */
static const char *const *g_s3o;
static size_t g_ns3o;

/* Fresh scratch dir for test `name`: snap = <dir>/snap, local = <dir>/local (4200 bytes each). */
static const char *test_dirs(const char *name, char *snap, char *local) {
    const char *tmp = test_tmpdir(name);
    snprintf(snap, 4200, "%s/snap", tmp);
    snprintf(local, 4200, "%s/local", tmp);
    return tmp;
}

static shardy_build_opts opts_for(const char *snap, const char *local, uint32_t num_dbs, const char *run_id) {
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.prefix = snap;
    o.num_dbs = num_dbs;
    o.run_id = run_id;
    o.local_dir = local;
    o.heartbeat_seconds = 1;
    o.s3_options = g_s3o;
    o.n_s3_options = g_ns3o;
    return o;
}

static uint32_t route(int64_t key, uint32_t num_dbs) {
    shardy_key k = shardy_key_int(key);
    uint64_t db = 0;
    if (shardy_route_hash(&k, num_dbs, &db, NULL) != SHARDY_OK) abort();
    return (uint32_t)db;
}

/* Writes one attempt of shard db: every key in [0, nkeys) routed there (HASH over num_dbs, or
 * key % num_dbs when cel) with value "<tag>-<key>". Returns the attempt JSON (shardy_free). */
static char *write_attempt(const shardy_build_opts *o, uint32_t db, uint32_t attempt, int64_t task, int64_t nkeys,
                           uint32_t num_dbs, int cel, const char *tag) {
    shardy_attempt_info info = {db, attempt, 42, task};
    shardy_attempt_writer *w = NULL;
    char *json = NULL;
    if (shardy_attempt_open(o, &info, &w) != SHARDY_OK) {
        fprintf(stderr, "attempt open: %s\n", shardy_errmsg());
        return NULL;
    }
    for (int64_t k = 0; k < nkeys; k++) {
        uint32_t d = cel ? (uint32_t)(k % num_dbs) : route(k, num_dbs);
        if (d != db) continue;
        char v[64];
        int n = snprintf(v, sizeof v, "%s-%lld", tag, (long long)k);
        shardy_key key = shardy_key_int(k);
        if (shardy_attempt_add(w, &key, v, (size_t)n) != SHARDY_OK) abort();
    }
    if (shardy_attempt_finish(w, &json) != SHARDY_OK) fprintf(stderr, "attempt finish: %s\n", shardy_errmsg());
    shardy_attempt_close(&w);
    return json;
}

/* "[a,b,...]" of n JSON texts (frees them). */
static char *join(char **parts, size_t n) {
    sy_buf b = SY_BUF_INIT;
    if (sy_buf_putc(&b, '[')) abort();
    for (size_t i = 0; i < n; i++) {
        if (!parts[i]) abort();
        if ((i && sy_buf_putc(&b, ',')) || sy_buf_puts(&b, parts[i])) abort();
        shardy_free(parts[i]);
    }
    if (sy_buf_putc(&b, ']')) abort();
    return sy_buf_take(&b);
}

static shardy_reader *open_reader(const char *snap) {
    shardy_reader_opts ro;
    shardy_reader_opts_init(&ro);
    ro.current_url = snap;
    ro.s3_options = g_s3o;
    ro.n_s3_options = g_ns3o;
    shardy_reader *r = NULL;
    if (shardy_reader_open(&ro, &r) != SHARDY_OK) fprintf(stderr, "reader open: %s\n", shardy_errmsg());
    return r;
}

/* 1 if key maps to "<tag>-<key>" (tag NULL: the key is absent). */
static int value_is(shardy_reader *r, int64_t key, const char *tag) {
    shardy_key k = shardy_key_int(key);
    char buf[64], want[64];
    size_t vl = 0;
    int found = -1;
    if (shardy_reader_get(r, &k, buf, sizeof buf - 1, &vl, &found) != SHARDY_OK) return 0;
    if (!tag) return found == 0;
    buf[found ? vl : 0] = 0;
    snprintf(want, sizeof want, "%s-%lld", tag, (long long)key);
    if (!found || strcmp(buf, want)) fprintf(stderr, "key %lld: got %s, want %s\n", (long long)key, found ? buf : "(miss)", want);
    return found && !strcmp(buf, want);
}

static int count_files(const char *dir) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "find '%s' -type f 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

/* 1 if the run record of run_id under snap/runs says "status": "<status>". */
static int run_status_is(const char *snap, const char *run_id, const char *status) {
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "grep -l '\"status\": \"%s\"' '%s'/runs/*_run_id=%s_*/run.yaml >/dev/null 2>&1", status, snap,
             run_id);
    return system(cmd) == 0;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *p = calloc(1, 1 << 16);
    if (p && fread(p, 1, (1 << 16) - 1, f) == 0) p[0] = 0;
    fclose(f);
    return p;
}

static json_object *parse(const char *text) {
    json_object *o = NULL;
    if (sy_json_parse(text, strlen(text), "test", &o) != SHARDY_OK) return NULL;
    return o;
}

/* ---- winners, losers, empty shards ------------------------------------------------------------ */

static void test_winners_and_sweep(void) {
    char snap[4200], local[4200], path[4400];
    (void)test_dirs("dist-winners", snap, local);
    const int64_t N = 400;
    shardy_build_opts ro = opts_for(snap, local, 4, NULL);
    shardy_run *run = NULL;
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    const char *run_id = shardy_run_id(run);
    REQUIRE(run_id && strlen(run_id) == 32);
    CHECK(run_status_is(snap, run_id, "running"));
    shardy_build_opts ao = opts_for(snap, local, 0, run_id);

    char *parts[8];
    size_t n = 0;
    /* db 0: speculative duplicates of attempt 0 (same data, same URL): smaller task id wins. */
    parts[n++] = write_attempt(&ao, 0, 0, 500, N, 4, 0, "a");
    parts[n++] = write_attempt(&ao, 0, 0, 300, N, 4, 0, "a");
    /* db 1: attempt 0 failed without a result; retries 2 and 1 reported → attempt 1 wins. */
    parts[n++] = write_attempt(&ao, 1, 2, 12, N, 4, 0, "loser");
    parts[n++] = write_attempt(&ao, 1, 1, 11, N, 4, 0, "b");
    /* db 2: attempt 3 without a task id beats attempt 4 with one (attempt compares first). */
    ao.key_col = NULL;
    parts[n++] = write_attempt(&ao, 2, 4, 1, N, 4, 0, "loser");
    parts[n++] = write_attempt(&ao, 2, 3, SHARDY_NO_ID, N, 4, 0, "c");
    /* db 3: an empty attempt (no rows routed: nkeys 0). */
    parts[n++] = write_attempt(&ao, 3, 0, 7, 0, 4, 0, "x");
    REQUIRE(parts[n - 1]);
    CHECK(strstr(parts[n - 1], "\"db_url\":null") && strstr(parts[n - 1], "\"all_attempt_urls\":[]") &&
          strstr(parts[n - 1], "\"checkpoint_id\":null") && strstr(parts[n - 1], "\"min_key\":null"));
    CHECK(strstr(parts[1], "\"task_attempt_id\":300") && strstr(parts[1], "\"stage_id\":42"));
    CHECK(strstr(parts[5], "\"task_attempt_id\":null"));
    /* Before publish the losers exist on disk. */
    snprintf(path, sizeof path, "%s/shards/run_id=%s/db=00001/attempt=02/shard.db", snap, run_id);
    CHECK(access(path, F_OK) == 0);
    char *all = join(parts, n);

    char *res = NULL;
    CHECK_OK(shardy_run_publish(run, all, &res));
    REQUIRE(res);
    json_object *rj = parse(res);
    REQUIRE(rj);
    json_object *v;
    CHECK(json_object_object_get_ex(rj, "num_attempts", &v) && json_object_get_int(v) == 7);
    CHECK(json_object_object_get_ex(rj, "num_dbs", &v) && json_object_get_int(v) == 4);
    CHECK(json_object_object_get_ex(rj, "num_winners", &v) && json_object_get_int(v) == 3);
    CHECK(json_object_object_get_ex(rj, "losers_deleted", &v) && json_object_get_int(v) == 2);
    CHECK(json_object_object_get_ex(rj, "winners", &v) && json_object_array_length(v) == 3);
    if (v && json_object_array_length(v) == 3) {
        const int64_t want_task[] = {300, 11, -1};
        const int want_attempt[] = {0, 1, 3};
        for (int i = 0; i < 3; i++) {
            json_object *w = json_object_array_get_idx(v, (size_t)i), *f, *wi, *t;
            CHECK(json_object_object_get_ex(w, "db_id", &f) && json_object_get_int(f) == i);
            CHECK(json_object_object_get_ex(w, "attempt", &f) && json_object_get_int(f) == want_attempt[i]);
            CHECK(json_object_object_get_ex(w, "writer_info", &wi) &&
                  json_object_object_get_ex(wi, "task_attempt_id", &t));
            if (want_task[i] < 0)
                CHECK(t == NULL);
            else
                CHECK(json_object_get_int64(t) == want_task[i]);
        }
    }
    json_object_put(rj);
    shardy_free(res);
    free(all);
    CHECK_ST(shardy_run_publish(run, "[]", &res), SHARDY_ECLOSED);
    CHECK(run_status_is(snap, run_id, "succeeded"));
    char run_id_copy[64];
    snprintf(run_id_copy, sizeof run_id_copy, "%s", run_id);
    shardy_run_close(&run);
    CHECK(run == NULL);
    CHECK(run_status_is(snap, run_id_copy, "succeeded"));

    /* Losers swept, winners kept. */
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/shards/run_id=%s/db=00002/attempt=04", snap, run_id_copy);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/shards/run_id=%s", snap, run_id_copy);
    CHECK_EQ_INT(count_files(path), 3);
    CHECK_EQ_INT(count_files(local), 0); /* staging cleaned */

    shardy_reader *r = open_reader(snap);
    REQUIRE(r);
    const char *tags[] = {"a", "b", "c", NULL};
    for (int64_t k = 0; k < N; k++) CHECK(value_is(r, k, tags[route(k, 4)]));
    shardy_shard_info *si = NULL;
    size_t ns = 0;
    CHECK_OK(shardy_reader_shards(r, &si, &ns));
    CHECK_EQ_INT(ns, 4);
    if (ns == 4) {
        CHECK(si[3].db_url == NULL);
        CHECK_EQ_INT(si[1].attempt, 1);
        CHECK_EQ_INT(si[2].attempt, 3);
        CHECK(si[0].checkpoint_id && strlen(si[0].checkpoint_id) == 32);
        CHECK(si[0].min_key != NULL);
    }
    shardy_shard_infos_free(&si, ns);
    shardy_reader_close(&r);
}

/* ---- attempt JSON round trip ------------------------------------------------------------------- */

static void roundtrip(const char *text, shardy_key_encoding enc) {
    json_object *o = parse(text);
    REQUIRE(o);
    sy_attempt a;
    CHECK_OK(sy_attempt_from_json(o, 0, enc, &a));
    json_object *back = NULL;
    CHECK_OK(sy_attempt_to_json(&a, enc, &back));
    sy_buf b = SY_BUF_INIT;
    if (back) CHECK_OK(sy_json_dump(back, SY_JSON_NO_SORT | SY_JSON_COMPACT | SY_JSON_RAW_UTF8, &b));
    CHECK_STR(b.data, text);
    sy_buf_free(&b);
    json_object_put(back);
    json_object_put(o);
    sy_attempt_clear(&a);
}

static void test_attempt_json(void) {
    char snap[4200], local[4200];
    (void)test_dirs("dist-json", snap, local);
    /* A utf8 attempt with a non-UTF-8 key: {"hex": ...}; a UTF-8 key as a string. */
    shardy_build_opts o = opts_for(snap, local, 0, "run-json");
    o.key_encoding = SHARDY_KEYENC_UTF8;
    shardy_attempt_info info = {3, 5, SHARDY_NO_ID, 99};
    shardy_attempt_writer *w = NULL;
    REQUIRE(shardy_attempt_open(&o, &info, &w) == SHARDY_OK);
    shardy_key k1 = shardy_key_bytes("\x01\xff", 2), k2 = shardy_key_str("zé", 3);
    CHECK_OK(shardy_attempt_add(w, &k1, "1", 1));
    CHECK_OK(shardy_attempt_add(w, &k2, "2", 1));
    shardy_key ki = shardy_key_int(5);
    CHECK_ST(shardy_attempt_add(w, &ki, "x", 1), SHARDY_ETYPE); /* row refused, writer usable */
    char *json = NULL;
    CHECK_OK(shardy_attempt_finish(w, &json));
    CHECK_ST(shardy_attempt_finish(w, &json), SHARDY_ECLOSED);
    shardy_attempt_close(&w);
    REQUIRE(json);
    CHECK(strstr(json, "\"min_key\":{\"hex\":\"01ff\"}") && strstr(json, "\"max_key\":\"zé\""));
    CHECK(strstr(json, "\"db_id\":3,") && strstr(json, "\"attempt\":5,") && strstr(json, "attempt=05"));
    roundtrip(json, SHARDY_KEYENC_UTF8);
    shardy_free(json);
    roundtrip("{\"db_id\":1,\"db_url\":\"file:///x/shards/run_id=r/db=00001/attempt=00\",\"attempt\":0,"
              "\"row_count\":2,\"db_bytes\":8192,\"min_key\":0,\"max_key\":18446744073709551615,"
              "\"checkpoint_id\":\"0123456789abcdef0123456789abcdef\",\"writer_info\":{\"stage_id\":-4,"
              "\"task_attempt_id\":9223372036854775807,\"attempt\":0,\"duration_ms\":3},"
              "\"all_attempt_urls\":[\"file:///x/shards/run_id=r/db=00001/attempt=00\"]}",
              SHARDY_KEYENC_U64BE);

    /* Bad attempt options. */
    shardy_build_opts bad = opts_for(snap, local, 0, NULL);
    CHECK_ST(shardy_attempt_open(&bad, &info, &w), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("run_id");
    bad.run_id = "r";
    shardy_attempt_info big = {0, 100, SHARDY_NO_ID, SHARDY_NO_ID};
    CHECK_ST(shardy_attempt_open(&bad, &big, &w), SHARDY_EINVAL);
    CHECK(w == NULL);
    shardy_attempt_close(NULL);
}

/* ---- malformed attempts ----------------------------------------------------------------------- */

static void test_malformed(void) {
    char snap[4200], local[4200], runs_dir[4300];
    (void)test_dirs("dist-malformed", snap, local);
    snprintf(runs_dir, sizeof runs_dir, "%s/shards", snap);
    shardy_build_opts ao = opts_for(snap, local, 0, "run-good");
    char *good = write_attempt(&ao, 0, 0, 1, 50, 2, 0, "g");
    REQUIRE(good);
    char other_run[4096];
    /* The same record but claiming another run's URL. */
    char *p = strstr(good, "run_id=run-good");
    REQUIRE(p);
    snprintf(other_run, sizeof other_run, "[%.*srun_id=run-evil%s]", (int)(p - good), good, p + strlen("run_id=run-good"));
    char bad_type[4096];
    p = strstr(good, "\"row_count\":");
    REQUIRE(p);
    snprintf(bad_type, sizeof bad_type, "[%s,%.*s\"row_count\":\"many\",%s]", good, (int)(p - good), good,
             strchr(p, ',') + 1);
    struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"not json", "attempts"},
        {"{\"db_id\":0}", "JSON array"},
        {"[1]", "attempts[0]: must be a JSON object"},
        {"[{\"db_id\":0}]", "attempts[0]: missing field attempt"},
        {"[{\"db_id\":-1,\"attempt\":0}]", "attempts[0].db_id"},
        {bad_type, "attempts[1].row_count"},
        {other_run, "attempts[0].db_url"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shardy_build_opts ro = opts_for(snap, local, 2, "run-good");
        shardy_run *run = NULL;
        REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
        char *res = NULL;
        CHECK_ST(shardy_run_publish(run, cases[i].json, &res), SHARDY_EFORMAT);
        CHECK_ERRMSG_HAS(cases[i].msg);
        CHECK(res == NULL);
        CHECK(run_status_is(snap, "run-good", "failed"));
        shardy_run_close(&run);
    }
    /* The failed publish deleted the run's objects; nothing was published. */
    CHECK_EQ_INT(count_files(runs_dir), 0);
    char cur[4300];
    snprintf(cur, sizeof cur, "%s/_CURRENT", snap);
    CHECK(access(cur, F_OK) != 0);
    shardy_free(good);
}

/* ---- coverage error, run_fail, close without publish --------------------------------------------- */

static void publish_simple(const char *snap, const char *local, const char *run_id, const char *tag) {
    shardy_build_opts ro = opts_for(snap, local, 2, run_id);
    shardy_run *run = NULL;
    if (shardy_run_open(&ro, &run) != SHARDY_OK) abort();
    char *parts[2] = {write_attempt(&ro, 0, 0, 1, 100, 2, 0, tag), write_attempt(&ro, 1, 0, 2, 100, 2, 0, tag)};
    char *all = join(parts, 2), *res = NULL;
    CHECK_OK(shardy_run_publish(run, all, &res));
    shardy_free(res);
    free(all);
    shardy_run_close(&run);
}

/* Fresh dirs for test `name` and a first snapshot "<tag>-<key>" published; returns its _CURRENT
 * text (free). */
static char *setup_published(const char *name, const char *tag, char *snap, char *local, char *cur) {
    (void)test_dirs(name, snap, local);
    snprintf(cur, 4300, "%s/_CURRENT", snap);
    publish_simple(snap, local, "run-first", tag);
    return slurp(cur);
}

/* _CURRENT still holds cur_before (freed here) and readers see "<tag>-<key>" for keys 0..99. */
static void check_unchanged(const char *snap, const char *cur, char *cur_before, const char *tag) {
    char *cur_after = slurp(cur);
    CHECK(cur_after && cur_before && !strcmp(cur_before, cur_after));
    free(cur_after);
    free(cur_before);
    shardy_reader *r = open_reader(snap);
    REQUIRE(r);
    for (int64_t k = 0; k < 100; k++) CHECK(value_is(r, k, tag));
    shardy_reader_close(&r);
}

static void test_coverage_and_fail(void) {
    char snap[4200], local[4200], cur[4300], rundir[4400];
    char *cur_before = setup_published("dist-coverage", "v1", snap, local, cur);
    REQUIRE(cur_before);

    /* db_id 5 with num_dbs 2 → coverage error; _CURRENT unchanged; the run's objects deleted. */
    shardy_build_opts ro = opts_for(snap, local, 2, "run-cov");
    shardy_run *run = NULL;
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    char *parts[2] = {write_attempt(&ro, 0, 0, 1, 100, 2, 0, "v2"), write_attempt(&ro, 5, 0, 2, 100, 6, 0, "v2")};
    char *all = join(parts, 2), *res = NULL;
    snprintf(rundir, sizeof rundir, "%s/shards/run_id=run-cov", snap);
    CHECK(count_files(rundir) == 2);
    CHECK_ST(shardy_run_publish(run, all, &res), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("Shard coverage mismatch; extra=[5]");
    free(all);
    shardy_run_close(&run);
    CHECK(run_status_is(snap, "run-cov", "failed"));
    CHECK_EQ_INT(count_files(rundir), 0);
    char *cur_after = slurp(cur);
    CHECK(cur_after && !strcmp(cur_before, cur_after));
    free(cur_after);

    /* run_fail deletes what the tasks uploaded. */
    ro.run_id = "run-abandon";
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    char *a = write_attempt(&ro, 1, 0, 1, 100, 2, 0, "v3");
    snprintf(rundir, sizeof rundir, "%s/shards/run_id=run-abandon", snap);
    CHECK_EQ_INT(count_files(rundir), 1);
    CHECK_OK(shardy_run_fail(run, "ShardWriteError", "task 7 lost its executor"));
    CHECK_ST(shardy_run_publish(run, "[]", &res), SHARDY_ECLOSED);
    CHECK_ST(shardy_run_fail(run, NULL, NULL), SHARDY_ECLOSED);
    shardy_run_close(&run);
    CHECK_EQ_INT(count_files(rundir), 0);
    CHECK(run_status_is(snap, "run-abandon", "failed"));
    shardy_free(a);

    /* Closed without publish: as run_fail. */
    ro.run_id = "run-closed";
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    a = write_attempt(&ro, 0, 0, 1, 100, 2, 0, "v4");
    shardy_run_close(&run);
    snprintf(rundir, sizeof rundir, "%s/shards/run_id=run-closed", snap);
    CHECK_EQ_INT(count_files(rundir), 0);
    CHECK(run_status_is(snap, "run-closed", "failed"));
    shardy_free(a);

    check_unchanged(snap, cur, cur_before, "v1"); /* readers still see v1 everywhere */

    /* Bad run options. */
    shardy_build_opts bad = opts_for(snap, local, 0, NULL);
    CHECK_ST(shardy_run_open(&bad, &run), SHARDY_EINVAL);
    CHECK(run == NULL);
    shardy_run_close(NULL);
    CHECK(shardy_run_id(NULL) == NULL);
}

/* ---- attempt writer closed without finish ------------------------------------------------------- */

static void test_attempt_close_without_finish(void) {
    char snap[4200], local[4200];
    (void)test_dirs("dist-close", snap, local);
    shardy_build_opts o = opts_for(snap, local, 0, "run-close");
    o.memory_limit = 4096; /* spill files in staging */
    shardy_attempt_info info = {0, 0, SHARDY_NO_ID, SHARDY_NO_ID};
    shardy_attempt_writer *w = NULL;
    REQUIRE(shardy_attempt_open(&o, &info, &w) == SHARDY_OK);
    for (int64_t k = 0; k < 2000; k++) {
        shardy_key key = shardy_key_int(k);
        CHECK_OK(shardy_attempt_add(w, &key, "value-value-value", 17));
    }
    CHECK(count_files(local) > 0);
    shardy_attempt_close(&w);
    CHECK(w == NULL);
    CHECK_EQ_INT(count_files(local), 0);
    CHECK_EQ_INT(count_files(snap), 0);
}

/* ---- CEL direct mode ---------------------------------------------------------------------------- */

static void test_cel_direct(void) {
    char snap[4200], local[4200];
    (void)test_dirs("dist-cel", snap, local);
    const char *cols[] = {"key:int"};
    shardy_build_opts ro = opts_for(snap, local, 0, "run-cel");
    ro.cel_expr = "key % 3";
    ro.cel_columns = cols;
    ro.n_cel_columns = 1;
    shardy_run *run = NULL;
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    char *parts[4];
    for (uint32_t db = 0; db < 3; db++) parts[db] = write_attempt(&ro, db, 0, db, 90, 3, 1, "cel");
    parts[3] = write_attempt(&ro, 7, 0, 9, 0, 3, 1, "none"); /* an empty record past the ids: ignored */
    char *all = join(parts, 4), *res = NULL;
    CHECK_OK(shardy_run_publish(run, all, &res));
    CHECK(res && strstr(res, "\"num_dbs\": 3") && strstr(res, "\"num_attempts\": 4"));
    shardy_free(res);
    free(all);
    shardy_run_close(&run);
    shardy_reader *r = open_reader(snap);
    REQUIRE(r);
    shardy_snapshot_info *info = NULL;
    CHECK_OK(shardy_reader_info(r, &info));
    if (info) {
        CHECK_STR(info->sharding, "cel");
        CHECK_EQ_INT(info->num_dbs, 3);
        shardy_snapshot_info_free(&info);
    }
    for (int64_t k = 0; k < 90; k++) CHECK(value_is(r, k, "cel"));
    shardy_reader_close(&r);

    /* Ids 0 and 2 only → non-consecutive. */
    ro.run_id = "run-cel-gap";
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    parts[0] = write_attempt(&ro, 0, 0, 1, 90, 3, 1, "gap");
    parts[1] = write_attempt(&ro, 2, 0, 2, 90, 3, 1, "gap");
    all = join(parts, 2);
    CHECK_ST(shardy_run_publish(run, all, &res), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("non-consecutive");
    free(all);
    shardy_run_close(&run);
    CHECK(run_status_is(snap, "run-cel-gap", "failed"));

    /* A bad expression fails the open. */
    ro.cel_expr = "key +";
    CHECK_ST(shardy_run_open(&ro, &run), SHARDY_EINVAL);
}

/* ---- failing store ------------------------------------------------------------------------------- */

static void test_store_failures(void) {
    char snap[4200], local[4200], cur[4300], blocker[4300];
    char *cur_before = setup_published("dist-storefail", "ok", snap, local, cur);
    REQUIRE(cur_before);

    /* A shard upload that cannot land: the attempt fails, naming the shard, uploads nothing. */
    char snap2[4300];
    snprintf(snap2, sizeof snap2, "%s2", snap);
    REQUIRE(mkdir(snap2, 0777) == 0);
    snprintf(blocker, sizeof blocker, "%s/shards", snap2);
    FILE *f = fopen(blocker, "w");
    REQUIRE(f);
    fclose(f);
    shardy_build_opts o2 = opts_for(snap2, local, 0, "run-x");
    shardy_attempt_info info = {0, 0, SHARDY_NO_ID, SHARDY_NO_ID};
    shardy_attempt_writer *w = NULL;
    REQUIRE(shardy_attempt_open(&o2, &info, &w) == SHARDY_OK);
    shardy_key k = shardy_key_int(1);
    CHECK_OK(shardy_attempt_add(w, &k, "v", 1));
    char *json = NULL;
    CHECK(shardy_attempt_finish(w, &json) != SHARDY_OK);
    CHECK_ERRMSG_HAS("shard db_id=0");
    CHECK(json == NULL);
    CHECK_ST(shardy_attempt_add(w, &k, "v", 1), SHARDY_ECLOSED);
    shardy_attempt_close(&w);
    CHECK_EQ_INT(count_files(snap2), 1); /* only the blocker */
    CHECK_EQ_INT(count_files(local), 0);

    /* The manifest PUT fails (a file where manifests/ must go): nothing changes for readers. */
    snprintf(blocker, sizeof blocker, "%s/manifests", snap);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "mv '%s' '%s.saved' && touch '%s'", blocker, blocker, blocker);
    REQUIRE(system(cmd) == 0);
    shardy_build_opts ro = opts_for(snap, local, 2, "run-nomanifest");
    shardy_run *run = NULL;
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    char *parts[2] = {write_attempt(&ro, 0, 0, 1, 100, 2, 0, "new"), write_attempt(&ro, 1, 0, 2, 100, 2, 0, "new")};
    char *all = join(parts, 2), *res = NULL;
    CHECK(shardy_run_publish(run, all, &res) != SHARDY_OK);
    CHECK_ERRMSG_HAS("manifest publish failed");
    CHECK(res == NULL);
    free(all);
    shardy_run_close(&run);
    CHECK(run_status_is(snap, "run-nomanifest", "failed"));
    char rundir[4400];
    snprintf(rundir, sizeof rundir, "%s/shards/run_id=run-nomanifest", snap);
    CHECK_EQ_INT(count_files(rundir), 0);
    snprintf(cmd, sizeof cmd, "rm '%s' && mv '%s.saved' '%s'", blocker, blocker, blocker);
    REQUIRE(system(cmd) == 0);
    check_unchanged(snap, cur, cur_before, "ok");
}

/* ---- s3:// on moto ---------------------------------------------------------------------------- */


/* ---- two-stage builds: exchange writers, then attempts built from their sections --------------- */

/* Writes partition `part` (attempt `attempt`) of an exchange: keys [lo, hi) with "<tag>-<key>",
 * routed by HASH over num_dbs; dup_key (>= 0) is first added with "old-" then again. */
static char *write_exchange(const shardy_build_opts *o, uint32_t part, uint32_t attempt, int64_t lo, int64_t hi,
                            int64_t dup_key, const char *tag) {
    shardy_exchange_info info = {part, attempt};
    shardy_exchange_writer *w = NULL;
    char *json = NULL;
    if (shardy_exchange_open(o, &info, &w) != SHARDY_OK) {
        fprintf(stderr, "exchange open: %s\n", shardy_errmsg());
        return NULL;
    }
    for (int64_t k = lo; k < hi; k++) {
        char v[64];
        shardy_key key = shardy_key_int(k);
        int n;
        if (k == dup_key) {
            n = snprintf(v, sizeof v, "old-%lld", (long long)k);
            if (shardy_exchange_add(w, route(k, o->num_dbs), &key, v, (size_t)n) != SHARDY_OK) abort();
        }
        n = snprintf(v, sizeof v, "%s-%lld", tag, (long long)k);
        if (shardy_exchange_add(w, route(k, o->num_dbs), &key, v, (size_t)n) != SHARDY_OK) abort();
    }
    if (shardy_exchange_finish(w, &json) != SHARDY_OK) fprintf(stderr, "exchange finish: %s\n", shardy_errmsg());
    shardy_exchange_close(&w);
    return json;
}

/* Adds db's section of every exchange result (in the given order) to w; returns sections added. */
static int add_sections(shardy_attempt_writer *w, char **xs, size_t n, uint32_t db) {
    int added = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *o = parse(xs[i]), *secs, *url;
        if (!o || !json_object_object_get_ex(o, "sections", &secs) || !json_object_object_get_ex(o, "url", &url)) abort();
        for (size_t j = 0; j < json_object_array_length(secs); j++) {
            json_object *s = json_object_array_get_idx(secs, j), *f;
            json_object_object_get_ex(s, "db_id", &f);
            if ((uint32_t)json_object_get_int64(f) != db) continue;
            uint64_t off, len, rows;
            json_object_object_get_ex(s, "offset", &f);
            off = (uint64_t)json_object_get_int64(f);
            json_object_object_get_ex(s, "length", &f);
            len = (uint64_t)json_object_get_int64(f);
            json_object_object_get_ex(s, "rows", &f);
            rows = (uint64_t)json_object_get_int64(f);
            if (shardy_attempt_add_section(w, json_object_get_string(url), off, len, rows) != SHARDY_OK)
                fprintf(stderr, "add_section: %s\n", shardy_errmsg());
            else
                added++;
        }
        json_object_put(o);
    }
    return added;
}

/* Stage 2 and publish for 4 shards: one attempt per shard d from its sections of the n exchange
 * results (added[d] = sections added), then publish; the result must contain want. Closes *run. */
static void publish_from_sections(const shardy_build_opts *o, shardy_run **run, char **xs, size_t n, int added[4],
                                  const char *want) {
    char *attempts[4];
    for (int d = 0; d < 4; d++) added[d] = 0;
    for (uint32_t d = 0; d < 4; d++) {
        shardy_attempt_info info = {d, 0, 7, (int64_t)d};
        shardy_attempt_writer *w = NULL;
        REQUIRE(shardy_attempt_open(o, &info, &w) == SHARDY_OK);
        added[d] = add_sections(w, xs, n, d);
        CHECK_OK(shardy_attempt_finish(w, &attempts[d]));
        shardy_attempt_close(&w);
    }
    char *all = join(attempts, 4), *res = NULL;
    CHECK_OK(shardy_run_publish(*run, all, &res));
    CHECK(res && strstr(res, want));
    shardy_free(res);
    free(all);
    shardy_run_close(run);
}

/* Objects under <run>/_exchange/ (store listing). */
static size_t exchange_objects(sy_store *st, const char *root_url, const char *run_id) {
    char lp[4400];
    snprintf(lp, sizeof lp, "%s/shards/run_id=%s/_exchange/", root_url, run_id);
    sy_list l = {0};
    if (sy_store_list_all(st, lp, 0, &l) != SHARDY_OK) return (size_t)-1;
    size_t n = l.n;
    sy_list_free(&l);
    return n;
}

static void exchange_roundtrip(const char *snap, const char *local, const char *root_url, sy_store *st) {
    shardy_build_opts o = opts_for(snap, local, 4, "run-x");
    shardy_run *run = NULL;
    REQUIRE(shardy_run_open(&o, &run) == SHARDY_OK);
    /* partition 0; partition 1 twice (attempt 0 is a loser that never reaches the driver); an empty
     * partition 2 */
    char *loser = write_exchange(&o, 1, 0, 500, 1500, -1, "lost");
    char *xs[3] = {write_exchange(&o, 0, 0, 0, 1000, 5, "p0"), write_exchange(&o, 1, 1, 500, 1500, -1, "p1"),
                   write_exchange(&o, 2, 0, 0, 0, -1, "none")};
    REQUIRE(loser && xs[0] && xs[1] && xs[2]);
    CHECK(strstr(xs[2], "\"url\":null") && strstr(xs[2], "\"sections\":[]"));
    CHECK(strstr(xs[0], "\"rows\":1001"));
    CHECK_EQ_INT(exchange_objects(st, root_url, "run-x"), 3);
    int added[4];
    publish_from_sections(&o, &run, xs, 3, added, "\"rows_written\": 2001");
    for (int d = 0; d < 4; d++) CHECK_EQ_INT(added[d], 2);
    CHECK_EQ_INT(exchange_objects(st, root_url, "run-x"), 0);
    shardy_reader *r = open_reader(snap);
    REQUIRE(r != NULL);
    for (int64_t k = 0; k < 1500; k += 7) CHECK(value_is(r, k, k < 500 ? "p0" : "p1"));
    CHECK(value_is(r, 5, "p0"));
    CHECK(value_is(r, 1499, "p1"));
    CHECK(value_is(r, 1500, NULL));
    shardy_reader_close(&r);
    shardy_free(loser);
    for (int i = 0; i < 3; i++) shardy_free(xs[i]);
}

static void test_exchange(void) {
    char snap[4200], local[4200], root[4300];
    test_dirs("exchange", snap, local);
    snprintf(root, sizeof root, "file://%s", snap);
    sy_store *st = NULL;
    REQUIRE(sy_store_open(root, &st) == SHARDY_OK);
    exchange_roundtrip(snap, local, root, st);

    /* Row errors leave the writer usable; ids are bounded by num_dbs (or 1e6 in direct mode). */
    shardy_build_opts o = opts_for(snap, local, 4, "run-x-err");
    shardy_exchange_info info = {0, 0};
    shardy_exchange_writer *w = NULL;
    shardy_key k = shardy_key_int(1);
    REQUIRE(shardy_exchange_open(&o, &info, &w) == SHARDY_OK);
    CHECK_ST(shardy_exchange_add(w, 4, &k, "v", 1), SHARDY_EROUTE);
    CHECK(strstr(shardy_errmsg(), "shard id 4 is outside [0, 4)") != NULL);
    shardy_key bad = shardy_key_str("not an int", 10);
    CHECK_ST(shardy_exchange_add(w, 0, &bad, "v", 1), SHARDY_ETYPE);
    CHECK_OK(shardy_exchange_add(w, 3, &k, "v", 1));
    shardy_exchange_close(&w); /* unfinished: nothing written */
    CHECK_EQ_INT(exchange_objects(st, root, "run-x-err"), 0);
    o.num_dbs = 0;
    REQUIRE(shardy_exchange_open(&o, &info, &w) == SHARDY_OK);
    CHECK_OK(shardy_exchange_add(w, 999999, &k, "v", 1));
    CHECK_ST(shardy_exchange_add(w, 1000000, &k, "v", 1), SHARDY_EROUTE);
    char *json = NULL;
    CHECK_OK(shardy_exchange_finish(w, &json));
    CHECK(json && strstr(json, "{\"db_id\":999999,\"offset\":0,\"length\":17,\"rows\":1}"));
    CHECK_ST(shardy_exchange_add(w, 0, &k, "v", 1), SHARDY_ECLOSED);
    shardy_exchange_close(&w);

    /* Sections: only this run's exchange; a section longer than its object fails at finish. */
    o.num_dbs = 4;
    shardy_attempt_info ai = {999999 % 4, 0, 1, 1};
    shardy_attempt_writer *aw = NULL;
    json_object *jo = parse(json), *url;
    REQUIRE(jo && json_object_object_get_ex(jo, "url", &url));
    REQUIRE(shardy_attempt_open(&o, &ai, &aw) == SHARDY_OK);
    char other[4400];
    snprintf(other, sizeof other, "%s/shards/run_id=run-x/_exchange/part=00000/attempt=0/rows.run", root);
    CHECK_ST(shardy_attempt_add_section(aw, other, 0, 17, 1), SHARDY_EINVAL);
    CHECK(strstr(shardy_errmsg(), "not under this run's exchange") != NULL);
    CHECK_ST(shardy_attempt_add_section(aw, json_object_get_string(url), 0, 20, 1), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "truncated") != NULL);
    CHECK_ST(shardy_attempt_add_section(aw, json_object_get_string(url), 0, 17, 3), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "cannot hold 3 records") != NULL);
    CHECK_ST(shardy_attempt_add_section(aw, json_object_get_string(url), 0, 17, 2), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "truncated or corrupt at byte 17") != NULL);
    CHECK_ST(shardy_attempt_add_section(aw, json_object_get_string(url), 0, 16, 1), SHARDY_EFORMAT);
    CHECK(strstr(shardy_errmsg(), "truncated or corrupt at byte 0") != NULL);
    char *res = NULL;
    shardy_attempt_close(&aw);
    /* More sections than a buffer keeps mapped: it spills and goes on (16400 copies of one row). */
    REQUIRE(shardy_attempt_open(&o, &ai, &aw) == SHARDY_OK);
    for (int i = 0; i < 16400; i++) {
        if (shardy_attempt_add_section(aw, json_object_get_string(url), 0, 17, 1) != SHARDY_OK) {
            CHECK_OK(SHARDY_EIO); /* report once */
            break;
        }
    }
    CHECK_OK(shardy_attempt_finish(aw, &res));
    CHECK(res && strstr(res, "\"row_count\":16400"));
    shardy_free(res);
    res = NULL;
    shardy_attempt_close(&aw);
    /* Rows and sections count in the order added: the last added wins. */
    REQUIRE(shardy_attempt_open(&o, &ai, &aw) == SHARDY_OK);
    shardy_key k2 = shardy_key_int(2);
    CHECK_OK(shardy_attempt_add(aw, &k, "first", 5));
    CHECK_OK(shardy_attempt_add_section(aw, json_object_get_string(url), 0, 17, 1));
    CHECK_OK(shardy_attempt_add(aw, &k2, "w", 1));
    CHECK_OK(shardy_attempt_finish(aw, &res));
    CHECK(res && strstr(res, "\"row_count\":3"));
    shardy_free(res);
    shardy_attempt_close(&aw);
    json_object_put(jo);
    shardy_free(json);
    sy_store_close(&st);
}

/* A partition bigger than the exchange buffers: each shard's rows span several sections (and a
 * tiny memory_limit forces the flush-everything path); the last row of a key wins across
 * sections, and a shard attempt is written from every section in object order. */
/* One exchange object bigger than its buffers (several sections per shard, late duplicates that
 * must win, a 5 MiB record of its own), then stage 2 and publish, read back. grouped: the store is
 * not file://, so finish must have regrouped the object to one section per shard. */
static void exchange_sections_roundtrip(const char *snap, const char *local, const char *run_id,
                                        uint64_t memory_limit, int grouped) {
    shardy_build_opts o = opts_for(snap, local, 4, run_id);
    if (memory_limit) o.memory_limit = memory_limit;
    shardy_run *run = NULL;
    REQUIRE(shardy_run_open(&o, &run) == SHARDY_OK);
    shardy_exchange_info info = {0, 0};
    shardy_exchange_writer *w = NULL;
    REQUIRE(shardy_exchange_open(&o, &info, &w) == SHARDY_OK);
    for (int64_t k = 0; k < 20000; k++) {
        char v[64];
        shardy_key key = shardy_key_int(k);
        int n = snprintf(v, sizeof v, "early-%lld", (long long)k);
        CHECK_OK(shardy_exchange_add(w, route(k, 4), &key, v, (size_t)n));
    }
    for (int64_t k = 0; k < 20000; k += 1000) { /* re-added later: these must win */
        char v[64];
        shardy_key key = shardy_key_int(k);
        int n = snprintf(v, sizeof v, "late-%lld", (long long)k);
        CHECK_OK(shardy_exchange_add(w, route(k, 4), &key, v, (size_t)n));
    }
    shardy_key kb = shardy_key_int(7);
    static char huge[(5u << 20) + 3]; /* larger than any buffer: a section of its own */
    memset(huge, 'h', sizeof huge);
    CHECK_OK(shardy_exchange_add(w, route(7, 4), &kb, huge, sizeof huge));
    char *json = NULL;
    CHECK_OK(shardy_exchange_finish(w, &json));
    shardy_exchange_close(&w);
    REQUIRE(json);
    json_object *jo = parse(json), *secs;
    REQUIRE(jo && json_object_object_get_ex(jo, "sections", &secs));
    size_t nsec = json_object_array_length(secs);
    if (grouped) { /* one section per shard, in shard order, back to back */
        CHECK_EQ_INT(nsec, 4);
        uint64_t at = 0;
        for (size_t j = 0; j < nsec; j++) {
            json_object *sec = json_object_array_get_idx(secs, j), *f;
            json_object_object_get_ex(sec, "db_id", &f);
            CHECK_EQ_INT(json_object_get_int64(f), (int64_t)j);
            json_object_object_get_ex(sec, "offset", &f);
            CHECK_EQ_INT(json_object_get_int64(f), (int64_t)at);
            json_object_object_get_ex(sec, "length", &f);
            at += (uint64_t)json_object_get_int64(f);
        }
    } else {
        CHECK(nsec > 8); /* several per shard */
    }
    json_object_put(jo);
    int added[4];
    publish_from_sections(&o, &run, &json, 1, added, "\"rows_written\": 20021");
    for (int d = 0; d < 4; d++) CHECK(grouped ? added[d] == 1 : added[d] >= 2);
    shardy_reader *r = open_reader(snap);
    REQUIRE(r != NULL);
    for (int64_t k = 0; k < 20000; k += 37) {
        if (k != 7) CHECK(value_is(r, k, k % 1000 ? "early" : "late"));
    }
    for (int64_t k = 0; k < 20000; k += 1000) CHECK(value_is(r, k, "late"));
    shardy_key k7 = shardy_key_int(7);
    void *val = NULL;
    size_t vlen = 0;
    int found = 0;
    CHECK_OK(shardy_reader_get_alloc(r, &k7, &val, &vlen, &found));
    CHECK(found && vlen == sizeof huge && ((char *)val)[0] == 'h' && ((char *)val)[vlen - 1] == 'h');
    shardy_free(val);
    shardy_reader_close(&r);
    shardy_free(json);
}

static void test_exchange_sections(void) {
    char snap[4200], local[4200];
    test_dirs("exchange-sections", snap, local);
    exchange_sections_roundtrip(snap, local, "run-secs-0", 0, 0);
    exchange_sections_roundtrip(snap, local, "run-secs-1", 100000, 0);
    /* An unfinished writer that already flushed sections leaves no object behind. */
    shardy_build_opts o = opts_for(snap, local, 4, "run-secs-abandoned");
    shardy_exchange_info info = {3, 0};
    shardy_exchange_writer *w = NULL;
    REQUIRE(shardy_exchange_open(&o, &info, &w) == SHARDY_OK);
    char v[100];
    memset(v, 'v', sizeof v);
    for (int64_t k = 0; k < 20000; k++) {
        shardy_key key = shardy_key_int(k);
        CHECK_OK(shardy_exchange_add(w, 0, &key, v, sizeof v));
    }
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/shards/run_id=run-secs-abandoned/_exchange", snap);
    CHECK_EQ_INT(count_files(dir), 1); /* the temp object, written as buffers filled */
    shardy_exchange_close(&w);
    CHECK_EQ_INT(count_files(dir), 0);
}

static void test_s3(void) {
    if (!s3_env_ready("S3", "test_distributed on s3://")) return;
    const char *tmp = test_tmpdir("dist-s3");
    char ep[512], snap[256], local[4200];
    snprintf(local, sizeof local, "%s/local", tmp);
    snprintf(ep, sizeof ep, "endpoint_url=%s", getenv("SHARDY_TEST_S3_ENDPOINT"));
    sy_store *st = s3_env_store_with_bucket("S3");
    REQUIRE(st);
    snprintf(snap, sizeof snap, "s3://%s/dist", s3_env_bucket());
    /* The endpoint as an option, the identity from the standard environment variables. */
    setenv("AWS_ACCESS_KEY_ID", getenv("SHARDY_TEST_S3_ACCESS_KEY"), 1);
    setenv("AWS_SECRET_ACCESS_KEY", getenv("SHARDY_TEST_S3_SECRET_KEY"), 1);
    const char *s3o[] = {ep, "region_name=us-east-1", "retry_base_ms=20", "retry_cap_ms=200"};
    g_s3o = s3o;
    g_ns3o = 4;

    shardy_build_opts ro = opts_for(snap, local, 2, "run-s3");
    shardy_run *run = NULL;
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    char *parts[3] = {write_attempt(&ro, 0, 1, 1, 200, 2, 0, "s3"), write_attempt(&ro, 0, 2, 2, 200, 2, 0, "lose"),
                      write_attempt(&ro, 1, 0, 3, 200, 2, 0, "s3")};
    char *all = join(parts, 3), *res = NULL;
    CHECK_OK(shardy_run_publish(run, all, &res));
    CHECK(res && strstr(res, "\"losers_deleted\": 1"));
    shardy_free(res);
    free(all);
    shardy_run_close(&run);
    char lp[512];
    snprintf(lp, sizeof lp, "%s/shards/run_id=run-s3/", snap);
    sy_list l = {0};
    CHECK_OK(sy_store_list_all(st, lp, 0, &l));
    CHECK_EQ_INT(l.n, 2);
    for (size_t i = 0; i < l.n; i++) CHECK(strstr(l.items[i].url, "attempt=02") == NULL);
    sy_list_free(&l);
    shardy_reader *r = open_reader(snap);
    CHECK(r != NULL);
    for (int64_t k = 0; r && k < 200; k += 5) CHECK(value_is(r, k, "s3"));
    shardy_reader_close(&r);

    /* A failed publish on s3 deletes the run's objects. */
    ro.run_id = "run-s3-bad";
    REQUIRE(shardy_run_open(&ro, &run) == SHARDY_OK);
    parts[0] = write_attempt(&ro, 4, 0, 1, 200, 5, 0, "x");
    all = join(parts, 1);
    CHECK_ST(shardy_run_publish(run, all, &res), SHARDY_EROUTE);
    free(all);
    shardy_run_close(&run);
    snprintf(lp, sizeof lp, "%s/shards/run_id=run-s3-bad/", snap);
    CHECK_OK(sy_store_list_all(st, lp, 0, &l));
    CHECK_EQ_INT(l.n, 0);
    sy_list_free(&l);

    /* A two-stage build on s3: sections fetched with ranged GETs. */
    char xsnap[256];
    snprintf(xsnap, sizeof xsnap, "%s/exchange", snap);
    exchange_roundtrip(xsnap, local, xsnap, st);
    exchange_sections_roundtrip(xsnap, local, "run-secs-s3", 0, 1);
    exchange_sections_roundtrip(xsnap, local, "run-secs-s3-small", 100000, 1);
    g_s3o = NULL;
    g_ns3o = 0;
    sy_store_close(&st);
}

TEST_MAIN(test_exchange_sections, test_winners_and_sweep, test_attempt_json, test_malformed, test_coverage_and_fail,
          test_attempt_close_without_finish, test_cel_direct, test_store_failures, test_exchange, test_s3)
