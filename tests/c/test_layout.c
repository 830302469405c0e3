/* test_layout.c — snapshot object URLs and layout settings (spec formats §1.1–1.4, §2.3, §9). */
#include "check.h"
#include "core/alloc.h"
#include "core/timeutil.h"
#include "snapshot/layout.h"

static int64_t ts(const char *iso) {
    int64_t us = 0;
    if (sy_time_parse_iso(iso, &us)) fprintf(stderr, "bad test timestamp %s\n", iso);
    return us;
}

static void test_prefix(void) {
    static const char *const ok[] = {"s3://bucket/snap", "s3://bucket/snap/", "s3://my-bucket/snapshots/users",
                                     "file:///data/snap", "file:///tmp/x/", "mem://t", "mem://t/p"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) CHECK_OK(sy_layout_check_prefix("s3_prefix", ok[i]));
    static const char *const bad[] = {"",
                                      "s3://bucket",
                                      "s3://bucket/",
                                      "s3://bucket//",
                                      "s3:///p",
                                      "http://x/y",
                                      "file://rel/x",
                                      "file:///",
                                      "s3://b/a/../c",
                                      "file:///a/./b",
                                      "s3://b/p\n",
                                      "s3://b/p\x7f",
                                      "mem://",
                                      "/abs/path"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(sy_layout_check_prefix("s3_prefix", bad[i]), SHARDY_EINVAL);
        CHECK_ERRMSG_HAS("s3_prefix");
    }
    CHECK_ST(sy_layout_check_prefix("s3_prefix", NULL), SHARDY_EINVAL);
    CHECK_ST(sy_layout_check_prefix("s3_prefix", "s3://bucket"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("non-empty key prefix");
}

static void test_segment(void) {
    CHECK_OK(sy_layout_check_segment("shard_prefix", "shards"));
    CHECK_OK(sy_layout_check_segment("run_registry_prefix", "my.runs-1_X"));
    static const char *const bad[] = {"", "a/b", "a..b", "..", "a b", "a\\b", "é", "a=b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(sy_layout_check_segment("shard_prefix", bad[i]), SHARDY_EINVAL);
        CHECK_ERRMSG_HAS("shard_prefix");
    }
    CHECK_ST(sy_layout_check_segment("shard_prefix", "a..b"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("must not contain '..'");
    CHECK_ST(sy_layout_check_segment("shard_prefix", "a/b"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("single path segment");
}

static void test_template(void) {
    CHECK_OK(sy_layout_check_db_template("db={db_id:05d}"));
    CHECK_OK(sy_layout_check_db_template("{db_id}"));
    CHECK_OK(sy_layout_check_db_template("shard-{db_id:020d}-x"));
    CHECK_OK(sy_layout_check_db_template("{db_id:01d}"));
    CHECK_OK(sy_layout_check_db_template("x.{db_id}."));
    static const char *const bad[] = {"db",          "{db_id:021d}", "{db_id:00d}", "{db_id:5d}",  "{db_id:05}",
                                      "{{db_id}}",   "{db_id}{db_id}", "db=}{db_id}", "a/{db_id}", "..{db_id}",
                                      "{id}",        "{db_id:005d}", "{db_id!r}",   "{db_id:0d}",  "{db_id:05x}",
                                      "{ db_id }",   "{db_id",       "",            "{db_id}\t",   "db\\{db_id}",
                                      "{db_id:05d}..", "{DB_ID}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(sy_layout_check_db_template(bad[i]), SHARDY_EINVAL);
        CHECK_ERRMSG_HAS("db_path_template");
    }
    CHECK_ST(sy_layout_check_db_template("{db_id:5d}"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("only {db_id} and {db_id:0Nd}");
    CHECK_ST(sy_layout_check_db_template("db"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("must contain {db_id}");
    CHECK_ST(sy_layout_check_db_template("{db_id}-{db_id}"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("more than one");
    CHECK_ST(sy_layout_check_db_template(NULL), SHARDY_EINVAL);
    char big[SY_LAYOUT_TEMPLATE_MAX + 8];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "{db_id}", 7);
    big[sizeof big - 1] = '\0';
    CHECK_ST(sy_layout_check_db_template(big), SHARDY_EINVAL);
}

static void check_db_path(const char *tmpl, int64_t id, const char *want) {
    char *p = NULL;
    CHECK_OK(sy_layout_db_path(tmpl, id, &p));
    CHECK_STR(p, want);
    sy_free(p);
}

static void test_db_path(void) {
    check_db_path("db={db_id:05d}", 3, "db=00003");
    check_db_path("db={db_id:05d}", 0, "db=00000");
    check_db_path("db={db_id:05d}", 99999, "db=99999");
    check_db_path("db={db_id:05d}", 100000, "db=100000");
    check_db_path("{db_id}", 0, "0");
    check_db_path("{db_id}", 1234567, "1234567");
    check_db_path("x{db_id:03d}y", 7, "x007y");
    check_db_path("s{db_id:020d}", 42, "s00000000000000000042");
    check_db_path("s{db_id:01d}", 42, "s42");
    char *p = (char *)1;
    CHECK_ST(sy_layout_db_path("db={db_id:05d}", -1, &p), SHARDY_EINVAL);
    CHECK(p == NULL);
    CHECK_ST(sy_layout_db_path("db={db_id:5d}", 1, &p), SHARDY_EINVAL);
}

static void test_attempt(void) {
    char a[SY_LAYOUT_ATTEMPT_MAX];
    CHECK_OK(sy_layout_attempt_segment(0, a));
    CHECK_STR(a, "attempt=00");
    CHECK_OK(sy_layout_attempt_segment(7, a));
    CHECK_STR(a, "attempt=07");
    CHECK_OK(sy_layout_attempt_segment(42, a));
    CHECK_STR(a, "attempt=42");
    CHECK_OK(sy_layout_attempt_segment(100, a));
    CHECK_STR(a, "attempt=100");
    CHECK_ST(sy_layout_attempt_segment(-1, a), SHARDY_EINVAL);
}

static void test_urls(void) {
    char *u = NULL;
    CHECK_OK(sy_layout_current_url("s3://b/p/", &u));
    CHECK_STR(u, "s3://b/p/_CURRENT");
    sy_free(u);
    CHECK_OK(sy_layout_current_url("file:///data/snap", &u));
    CHECK_STR(u, "file:///data/snap/_CURRENT");
    sy_free(u);
    CHECK_OK(sy_layout_manifests_prefix_url("s3://b/p/", &u));
    CHECK_STR(u, "s3://b/p/manifests/");
    sy_free(u);

    /* §2.2 verified manifest_ref */
    const char *rid = "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210";
    CHECK_OK(sy_layout_manifest_url("s3://my-bucket/snapshots/users", rid, ts("2026-03-14T10:30:01.000042Z"), &u));
    CHECK_STR(u, "s3://my-bucket/snapshots/users/manifests/2026-03-14T10:30:01.000042Z_run_id="
                 "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/manifest");
    sy_free(u);
    /* object-key timestamps always have 6 fractional digits (§1.2) */
    CHECK_OK(sy_layout_manifest_url("s3://my-bucket/snapshots/users/", "r1", ts("2026-03-14T10:30:00Z"), &u));
    CHECK_STR(u, "s3://my-bucket/snapshots/users/manifests/2026-03-14T10:30:00.000000Z_run_id=r1/manifest");
    sy_free(u);
    CHECK_OK(sy_layout_manifest_url("file:///data/snap", "r-1.x_y", ts("2026-03-14T10:30:00.5Z"), &u));
    CHECK_STR(u, "file:///data/snap/manifests/2026-03-14T10:30:00.500000Z_run_id=r-1.x_y/manifest");
    sy_free(u);
    u = (char *)1;
    CHECK_ST(sy_layout_manifest_url("s3://b/p", "a/b", 0, &u), SHARDY_EINVAL);
    CHECK(u == NULL);
    CHECK_ERRMSG_HAS("run_id");
    CHECK_ST(sy_layout_manifest_url("s3://b/p", "", 0, &u), SHARDY_EINVAL);

    char *d = NULL;
    CHECK_OK(sy_layout_manifest_dir("abc", ts("2026-03-14T10:30:00.123456Z"), &d));
    CHECK_STR(d, "2026-03-14T10:30:00.123456Z_run_id=abc");
    sy_free(d);
    CHECK_OK(sy_layout_manifest_url_from_dir("s3://b/p/", "2026-03-14T10:30:00.000000Z_run_id=x/", &u));
    CHECK_STR(u, "s3://b/p/manifests/2026-03-14T10:30:00.000000Z_run_id=x/manifest");
    sy_free(u);
    CHECK_ST(sy_layout_manifest_url_from_dir("s3://b/p/", "/", &u), SHARDY_EINVAL);

    /* §3.10 worked example db_url */
    CHECK_OK(sy_layout_shard_url("s3://my-bucket/snapshots/users", "shards", rid, "db={db_id:05d}", 0, 0, &u));
    CHECK_STR(u, "s3://my-bucket/snapshots/users/shards/run_id=5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/db=00000/attempt=00");
    sy_free(u);
    CHECK_OK(sy_layout_shard_url("s3://b/p/", "shards", "R", "db={db_id:05d}", 3, 0, &u));
    CHECK_STR(u, "s3://b/p/shards/run_id=R/db=00003/attempt=00");
    sy_free(u);
    CHECK_OK(sy_layout_shard_url("file:///data/snap/", "sh", "r", "{db_id}", 123456, 101, &u));
    CHECK_STR(u, "file:///data/snap/sh/run_id=r/123456/attempt=101");
    sy_free(u);
    CHECK_ST(sy_layout_shard_url("s3://b/p", "a/b", "r", "{db_id}", 0, 0, &u), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("shard_prefix");
    CHECK_ST(sy_layout_shard_url("s3://b/p", "shards", "r", "{db_id:x}", 0, 0, &u), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("db_path_template");
    CHECK_ST(sy_layout_shard_url("s3://b/p", "shards", "r", "{db_id}", 0, -1, &u), SHARDY_EINVAL);
    CHECK_ST(sy_layout_shard_url("s3://b/p", "shards", "r", "{db_id}", -5, 0, &u), SHARDY_EINVAL);
    CHECK(u == NULL);

    CHECK_OK(sy_layout_run_record_url("s3://bucket/snap", "runs", "0123456789abcdef0123456789abcdef",
                                      ts("2026-03-14T10:30:00.123456Z"), "00112233445566778899aabbccddeeff", &u));
    CHECK_STR(u, "s3://bucket/snap/runs/2026-03-14T10:30:00.123456Z_run_id=0123456789abcdef0123456789abcdef_"
                 "00112233445566778899aabbccddeeff/run.yaml");
    sy_free(u);
    CHECK_OK(sy_layout_run_record_url("s3://bucket/snap", "runs", "r", ts("2026-03-14T10:30:00Z"), NULL, &u));
    REQUIRE(u != NULL);
    const char *pre = "s3://bucket/snap/runs/2026-03-14T10:30:00.000000Z_run_id=r_";
    CHECK(!strncmp(u, pre, strlen(pre)));
    CHECK_EQ_INT(strlen(u), strlen(pre) + 32 + strlen("/run.yaml"));
    CHECK_STR(u + strlen(pre) + 32, "/run.yaml");
    sy_free(u);
    CHECK_ST(sy_layout_run_record_url("s3://b/p", "runs", "r", 0, "XYZ", &u), SHARDY_EINVAL);
    CHECK_ST(sy_layout_run_record_url("s3://b/p", "runs", "r", 0, "00112233445566778899AABBCCDDEEFF", &u),
             SHARDY_EINVAL);
    CHECK_ST(sy_layout_run_record_url("s3://b/p", "ru/ns", "r", 0, NULL, &u), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("run_registry_prefix");
}

static void expect_dir(const char *name, const char *want_ts, const char *want_run) {
    int64_t us = -1;
    char *run = NULL;
    int r = sy_layout_parse_manifest_dir(name, &us, &run);
    CHECK_EQ_INT(r, 1);
    if (r == 1) {
        CHECK_EQ_INT(us, ts(want_ts));
        CHECK_STR(run, want_run);
    }
    sy_free(run);
}

static void expect_no_dir(const char *name) {
    int64_t us = -1;
    char *run = (char *)1;
    int r = sy_layout_parse_manifest_dir(name, &us, &run);
    CHECK_EQ_INT(r, 0);
    CHECK(run == NULL);
    if (r) fprintf(stderr, "  unexpected match: %s\n", name);
}

static void test_parse_dir(void) {
    expect_dir("2026-03-14T10:30:00.000000Z_run_id=abc123/", "2026-03-14T10:30:00Z", "abc123");
    expect_dir("2026-03-14T10:30:00.000000Z_run_id=abc123", "2026-03-14T10:30:00Z", "abc123");
    expect_dir("2026-03-14T10:30:01.000042Z_run_id=5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/", "2026-03-14T10:30:01.000042Z",
               "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210");
    expect_dir("2024-02-29T23:59:59.999999Z_run_id=123e4567-e89b-12d3-a456-426614174000/",
               "2024-02-29T23:59:59.999999Z", "123e4567-e89b-12d3-a456-426614174000");
    expect_dir("2026-03-14T10:30:00.000000Z_run_id=x_y=z", "2026-03-14T10:30:00Z", "x_y=z");
    /* Python's '$' also matches before a final newline */
    expect_dir("2026-03-14T10:30:00.000000Z_run_id=abc/\n", "2026-03-14T10:30:00Z", "abc");
    expect_dir("2026-03-14T10:30:00.000000Z_run_id=abc\n", "2026-03-14T10:30:00Z", "abc\n");

    expect_no_dir("2026-03-14T10:30:00.000000Z_run_id=/");
    expect_no_dir("2026-03-14T10:30:00.000000Z_run_id=");
    expect_no_dir("2026-03-14T10:30:00.000000Z_run_id=a/b");
    expect_no_dir("2026-03-14T10:30:00.000000Z_run_id=a//");
    expect_no_dir("2026-03-14T10:30:00.000000Z_run_id=a/\n\n");
    expect_no_dir("2026-03-14T10:30:00.00000Z_run_id=a/");
    expect_no_dir("2026-03-14T10:30:00Z_run_id=a/");
    expect_no_dir("2026-13-14T10:30:00.000000Z_run_id=a/");
    expect_no_dir("2026-02-29T10:30:00.000000Z_run_id=a/");
    expect_no_dir("2026-03-14T24:30:00.000000Z_run_id=a/");
    expect_no_dir(" 2026-03-14T10:30:00.000000Z_run_id=a/");
    expect_no_dir("2026-03-14T10:30:00.000000_run_id=a/");
    expect_no_dir("2026-03-14 10:30:00.000000Z_run_id=a/");
    expect_no_dir("2026-03-14T10:30:00.000000Z_runid=a/");
    expect_no_dir("\xd9\xa2" "026-03-14T10:30:00.000000Z_run_id=a/"); /* Arabic-Indic digit */
    expect_no_dir("2026-03-14T10:30");
    expect_no_dir("");
    expect_no_dir("manifest");
}

static void test_ref_run_id(void) {
    char *r = NULL;
    CHECK_OK(sy_layout_ref_run_id("s3://my-bucket/snapshots/users/manifests/2026-03-14T10:30:01.000042Z_run_id="
                                  "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/manifest",
                                  &r));
    CHECK_STR(r, "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210");
    sy_free(r);
    CHECK_OK(sy_layout_ref_run_id("mem://manifests/run_id=r1/manifest", &r));
    CHECK_STR(r, "r1");
    sy_free(r);
    CHECK_OK(sy_layout_ref_run_id("s3://b/run_id=/x/run_id=second/y", &r)); /* first *match* */
    CHECK_STR(r, "second");
    sy_free(r);
    CHECK_OK(sy_layout_ref_run_id("s3://b/run_id=first/m/run_id=second", &r));
    CHECK_STR(r, "first");
    sy_free(r);
    CHECK_OK(sy_layout_ref_run_id("xrun_id=tail", &r));
    CHECK_STR(r, "tail");
    sy_free(r);
    r = (char *)1;
    CHECK_ST(sy_layout_ref_run_id("s3://b/x/manifest", &r), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("Cannot extract run_id from manifest ref: s3://b/x/manifest");
    CHECK(r == NULL);
    CHECK_ST(sy_layout_ref_run_id("s3://b/run_id=/x", &r), SHARDY_EINVAL);
}

static void test_oom(void) {
    /* Every allocation failure surfaces as SHARDY_ENOMEM (never a crash or a leak). */
    int saw_ok = 0;
    for (long n = 0; n < 20 && !saw_ok; n++) {
        char *u = NULL;
        sy_alloc_fail_after(n);
        shardy_status st = sy_layout_shard_url("s3://b/p", "shards", "r", "db={db_id:05d}", 1, 0, &u);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            saw_ok = 1;
            CHECK_STR(u, "s3://b/p/shards/run_id=r/db=00001/attempt=00");
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
            CHECK(u == NULL);
        }
        sy_free(u);
    }
    CHECK(saw_ok);
}

TEST_MAIN(test_prefix, test_segment, test_template, test_db_path, test_attempt, test_urls, test_parse_dir,
          test_ref_run_id, test_oom)
