/* test_runrecord.c — run.yaml records: lifecycle semantics, serialisation and parsing (spec §1.6). */
#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "snapshot/runrecord.h"

#define URL "s3://bucket/snap/runs/x/run.yaml"

static int64_t ts(const char *iso) {
    int64_t us = 0;
    if (sy_time_parse_iso(iso, &us)) fprintf(stderr, "bad test timestamp %s\n", iso);
    return us;
}

static const char typical[] =
    "{\"db_path_template\": \"db={db_id:05d}\", \"error_message\": null, \"error_type\": null, \"format_version\": 1, "
    "\"lease_expires_at\": \"2026-03-14T10:40:00.123456Z\", \"manifest_ref\": null, \"run_id\": "
    "\"0123456789abcdef0123456789abcdef\", \"s3_prefix\": \"s3://bucket/snap\", \"shard_prefix\": \"shards\", "
    "\"started_at\": \"2026-03-14T10:30:00.123456Z\", \"status\": \"running\", \"updated_at\": "
    "\"2026-03-14T10:30:00.123456Z\", \"writer_type\": \"c\"}\n";

static void test_typical(void) {
    sy_run_record r = {0};
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_run_record_init(&r, "0123456789abcdef0123456789abcdef", "s3://bucket/snap", "shards", "db={db_id:05d}",
                                ts("2026-03-14T10:30:00.123456Z")));
    CHECK_EQ_INT(r.status, SY_RUN_RUNNING);
    CHECK_STR(r.writer_type, "c");
    CHECK_EQ_INT(r.format_version, 1);
    CHECK_EQ_INT(r.lease_expires_at_us - r.updated_at_us, 600LL * 1000000);
    CHECK_OK(sy_run_record_serialize(&r, &b));
    CHECK_STR(b.data, typical);
    sy_buf_free(&b);
    sy_run_record_clear(&r);
    CHECK(r.run_id == NULL);
}

static void test_lifecycle(void) {
    sy_run_record r = {0};
    int64_t t0 = ts("2026-03-14T10:30:00Z");
    CHECK_OK(sy_run_record_init(&r, "run1", "s3://b/p", "shards", "db={db_id:05d}", t0));
    CHECK_EQ_INT(r.started_at_us, t0);
    CHECK_EQ_INT(r.updated_at_us, t0);
    CHECK_EQ_INT(r.lease_expires_at_us, ts("2026-03-14T10:40:00Z"));
    CHECK_OK(sy_run_record_heartbeat(&r, t0 + SY_RUN_HEARTBEAT_US));
    CHECK_EQ_INT(r.started_at_us, t0);
    CHECK_EQ_INT(r.updated_at_us, ts("2026-03-14T10:31:00Z"));
    CHECK_EQ_INT(r.lease_expires_at_us, ts("2026-03-14T10:41:00Z"));
    CHECK_OK(sy_run_record_set_manifest_ref(&r, "s3://b/p/manifests/x/manifest"));
    CHECK_ST(sy_run_record_finish(&r, SY_RUN_SUCCEEDED, t0, "ValueError", NULL), SHARDY_EINVAL);
    CHECK_ST(sy_run_record_finish(&r, SY_RUN_RUNNING, t0, NULL, NULL), SHARDY_EINVAL);
    int64_t t1 = ts("2026-03-14T10:32:30.5Z");
    CHECK_OK(sy_run_record_finish(&r, SY_RUN_SUCCEEDED, t1, NULL, NULL));
    CHECK_EQ_INT(r.status, SY_RUN_SUCCEEDED);
    CHECK_EQ_INT(r.updated_at_us, t1);
    CHECK_EQ_INT(r.lease_expires_at_us, t1); /* terminal: lease == updated_at */
    CHECK(r.error_type == NULL && r.error_message == NULL);
    CHECK_ST(sy_run_record_heartbeat(&r, t1 + 1), SHARDY_EINVAL);
    CHECK_ST(sy_run_record_finish(&r, SY_RUN_FAILED, t1 + 1, "X", "y"), SHARDY_EINVAL);
    CHECK_EQ_INT(r.updated_at_us, t1);
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_run_record_serialize(&r, &b));
    CHECK(strstr(b.data, "\"status\": \"succeeded\"") != NULL);
    CHECK(strstr(b.data, "\"lease_expires_at\": \"2026-03-14T10:32:30.500000Z\"") != NULL);
    CHECK(strstr(b.data, "\"updated_at\": \"2026-03-14T10:32:30.500000Z\"") != NULL);
    CHECK(strstr(b.data, "\"started_at\": \"2026-03-14T10:30:00Z\"") != NULL);
    CHECK(strstr(b.data, "\"manifest_ref\": \"s3://b/p/manifests/x/manifest\"") != NULL);
    sy_buf_free(&b);
    sy_run_record_clear(&r);

    CHECK_OK(sy_run_record_init(&r, "run2", "s3://b/p", "shards", "{db_id}", t0));
    CHECK_OK(sy_run_record_finish(&r, SY_RUN_FAILED, t1, "ValueError", "bad row 7"));
    CHECK_OK(sy_run_record_serialize(&r, &b));
    CHECK(strstr(b.data, "\"error_message\": \"bad row 7\", \"error_type\": \"ValueError\"") != NULL);
    CHECK(strstr(b.data, "\"status\": \"failed\"") != NULL);
    sy_buf_free(&b);
    sy_run_record_clear(&r);
    CHECK_ST(sy_run_record_init(&r, NULL, "s3://b/p", "shards", "{db_id}", t0), SHARDY_EINVAL);
}

static void test_escaping(void) {
    sy_run_record r = {0};
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_run_record_init(&r, "0123", "s3://b/p", "shards", "db={db_id:05d}", 0));
    CHECK_OK(sy_run_record_finish(&r, SY_RUN_FAILED, 0, "Err",
                                  "q\"b\\ \xc3\xa9 \xf0\x9f\x98\x80 \x7f\x1f\t\n \xe2\x80\xa8 \xef\xbb\xbf \xc2\x85 "
                                  "yes: no # [x]"));
    CHECK_OK(sy_run_record_serialize(&r, &b));
    CHECK(strstr(b.data, "\"run_id\": \"0123\"") != NULL); /* quoted: never loads as a number */
    CHECK(strstr(b.data, "\"error_message\": \"q\\\"b\\\\ \xc3\xa9 \xf0\x9f\x98\x80 \\u007f\\u001f\\t\\n "
                         "\\u2028 \\ufeff \\u0085 yes: no # [x]\"") != NULL);
    CHECK(strstr(b.data, "\\ud83d") == NULL); /* no surrogate escapes */
    CHECK(memchr(b.data, 0x7f, b.len) == NULL);
    sy_buf_free(&b);
    /* invalid UTF-8 is refused and leaves out untouched */
    CHECK_OK(sy_buf_puts(&b, "keep"));
    sy_free(r.error_message);
    r.error_message = sy_strdup("bad \xff");
    CHECK_ST(sy_run_record_serialize(&r, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("error_message");
    CHECK_STR(b.data, "keep");
    r.status = (sy_run_status)7;
    CHECK_ST(sy_run_record_serialize(&r, &b), SHARDY_EINVAL);
    sy_buf_free(&b);
    sy_run_record_clear(&r);
}

static void test_parse(void) {
    sy_run_record *p = NULL;
    CHECK_OK(sy_run_record_parse(typical, strlen(typical), URL, &p));
    REQUIRE(p != NULL);
    CHECK_STR(p->run_id, "0123456789abcdef0123456789abcdef");
    CHECK_STR(p->writer_type, "c");
    CHECK_EQ_INT(p->status, SY_RUN_RUNNING);
    CHECK_EQ_INT(p->started_at_us, ts("2026-03-14T10:30:00.123456Z"));
    CHECK_EQ_INT(p->lease_expires_at_us, ts("2026-03-14T10:40:00.123456Z"));
    CHECK_STR(p->s3_prefix, "s3://bucket/snap");
    CHECK_STR(p->shard_prefix, "shards");
    CHECK_STR(p->db_path_template, "db={db_id:05d}");
    CHECK(p->manifest_ref == NULL && p->error_type == NULL && p->error_message == NULL);
    CHECK_EQ_INT(p->format_version, 1);
    /* round trip of a finished record */
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_run_record_finish(p, SY_RUN_FAILED, ts("2026-03-14T10:31:00Z"), "OSError", "disk \xc3\xa9 full\n"));
    CHECK_OK(sy_run_record_serialize(p, &b));
    sy_run_record *q = NULL;
    CHECK_OK(sy_run_record_parse(b.data, b.len, URL, &q));
    REQUIRE(q != NULL);
    CHECK_EQ_INT(q->status, SY_RUN_FAILED);
    CHECK_STR(q->error_message, "disk \xc3\xa9 full\n");
    CHECK_STR(q->error_type, "OSError");
    CHECK_EQ_INT(q->updated_at_us, ts("2026-03-14T10:31:00Z"));
    sy_run_record_free(&q);
    sy_run_record_free(&p);
    CHECK(p == NULL);
    sy_run_record_free(NULL);
    sy_buf_free(&b);

    /* lenient: extra keys, any format_version, absent optionals */
    const char *lenient = "{\"format_version\": 9, \"run_id\": \"r\", \"writer_type\": \"python\", \"status\": "
                          "\"succeeded\", \"started_at\": \"2026-03-14T10:30:00Z\", \"updated_at\": "
                          "\"2026-03-14T10:30:00+00:00\", \"lease_expires_at\": \"2026-03-14T10:30:00Z\", "
                          "\"s3_prefix\": \"s3://b/p\", \"shard_prefix\": \"shards\", \"db_path_template\": "
                          "\"db={db_id:05d}\", \"unknown\": [1]}";
    CHECK_OK(sy_run_record_parse(lenient, strlen(lenient), URL, &p));
    REQUIRE(p != NULL);
    CHECK_EQ_INT(p->format_version, 9);
    CHECK_STR(p->writer_type, "python");
    sy_run_record_free(&p);

    /* failures name the field and the URL */
    struct {
        const char *text, *sub;
    } bad[] = {
        {"[]", "mapping"},
        {"", "empty"},
        {"status: running", "invalid JSON"},
        {"{\"run_id\": \"r\"}", "writer_type"},
        {"{\"run_id\": 5, \"writer_type\": \"c\"}", "run_id"},
        {"{\"run_id\": \"r\", \"writer_type\": \"c\", \"status\": \"RUNNING\"}", "status"},
        {"{\"run_id\": \"r\", \"writer_type\": \"c\", \"status\": \"running\", \"started_at\": \"soon\"}",
         "started_at"},
        {"{\"format_version\": \"1\"}", "format_version"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = (sy_run_record *)1;
        CHECK_ST(sy_run_record_parse(bad[i].text, strlen(bad[i].text), URL, &p), SHARDY_EFORMAT);
        CHECK(p == NULL);
        CHECK_ERRMSG_HAS(bad[i].sub);
        CHECK_ERRMSG_HAS(URL);
    }
}

/* Cross-check with PyYAML (the Python reader's loader) when it is available. */
static void test_pyyaml(void) {
    if (system("python3 -c 'import yaml' >/dev/null 2>&1") != 0) {
        printf("SKIP test_pyyaml: python3 with PyYAML not available\n");
        return;
    }
    sy_run_record r = {0};
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_run_record_init(&r, "0123", "s3://b/p", "shards", "db={db_id:05d}", ts("2026-03-14T10:30:00.5Z")));
    CHECK_OK(sy_run_record_finish(&r, SY_RUN_FAILED, ts("2026-03-14T10:31:00Z"), "null",
                                  "q\"b\\ \xc3\xa9 \xf0\x9f\x98\x80 \x7f\x1f\t\n\r \xe2\x80\xa8 \xef\xbb\xbf \xc2\x85 "
                                  "\xef\xbf\xbe yes: no # [x] {y} &a *b !t %p @ `"));
    CHECK_OK(sy_run_record_serialize(&r, &b));
    const char *dir = test_tmpdir("runrecord");
    char path[4200], cmd[8600];
    snprintf(path, sizeof path, "%s/run.yaml", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    /* Python checks the loaded mapping against the expected values and prints OK. */
    snprintf(cmd, sizeof cmd,
             "python3 -c '\n"
             "import sys, yaml\n"
             "d = yaml.safe_load(open(sys.argv[1], \"rb\"))\n"
             "exp = \"q\\\"b\\\\ \\u00e9 \\U0001F600 \\x7f\\x1f\\t\\n\\r \\u2028 \\ufeff \\x85 \\ufffe yes: no # [x] {y} "
             "&a *b !t %%p @ `\"\n"
             "assert d[\"run_id\"] == \"0123\", d[\"run_id\"]\n"
             "assert d[\"error_type\"] == \"null\"\n"
             "assert d[\"error_message\"] == exp, repr(d[\"error_message\"])\n"
             "assert d[\"started_at\"] == \"2026-03-14T10:30:00.500000Z\"\n"
             "assert d[\"format_version\"] == 1 and d[\"manifest_ref\"] is None\n"
             "assert d[\"status\"] == \"failed\" and d[\"writer_type\"] == \"c\"\n"
             "print(\"OK\")' '%s'",
             path);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    char out[64] = "";
    if (!fgets(out, sizeof out, p)) out[0] = '\0';
    int rc = pclose(p);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(out, "OK\n");
    sy_buf_free(&b);
    sy_run_record_clear(&r);
}

static void test_oom(void) {
    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
        sy_run_record r = {0};
        sy_buf b = SY_BUF_INIT;
        sy_alloc_fail_after(n);
        shardy_status st = sy_run_record_init(&r, "r", "s3://b/p", "shards", "{db_id}", 0);
        if (!st) st = sy_run_record_serialize(&r, &b);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            ok = 1;
            CHECK(strstr(b.data, "\"run_id\": \"r\"") != NULL);
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
        }
        sy_buf_free(&b);
        sy_run_record_clear(&r);
    }
    CHECK(ok);
}

TEST_MAIN(test_typical, test_lifecycle, test_escaping, test_parse, test_pyyaml, test_oom)
