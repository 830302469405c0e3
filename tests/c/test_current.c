/* test_current.c — _CURRENT pointer serialisation and parsing (spec formats §2, reader-cli §1.2). */
#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "snapshot/current.h"

#define URL "file:///x/_CURRENT"
#define PREFIX "CURRENT pointer validation failed:"

static const char verified[] =
    "{\"format_version\":1,\"manifest_content_type\":\"application/x-sqlite3\",\"manifest_ref\":\"s3://my-bucket/"
    "snapshots/users/manifests/2026-03-14T10:30:01.000042Z_run_id=5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/manifest\","
    "\"run_id\":\"5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210\",\"updated_at\":\"2026-03-14T10:30:01.250000Z\"}";

static int64_t ts(const char *iso) {
    int64_t us = 0;
    if (sy_time_parse_iso(iso, &us)) fprintf(stderr, "bad test timestamp %s\n", iso);
    return us;
}

static void test_serialize_verified(void) {
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_current_serialize("s3://my-bucket/snapshots/users/manifests/2026-03-14T10:30:01.000042Z_run_id="
                                  "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/manifest",
                                  "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210", ts("2026-03-14T10:30:01.250000Z"), &b));
    CHECK_STR(b.data, verified);
    CHECK_EQ_INT(b.len, strlen(verified)); /* no trailing newline */
    sy_buf_reset(&b);
    /* whole second: the fraction disappears */
    CHECK_OK(sy_current_serialize("s3://b/p/manifests/x/manifest", "r", ts("2026-03-14T10:30:01Z"), &b));
    CHECK_STR(b.data, "{\"format_version\":1,\"manifest_content_type\":\"application/x-sqlite3\",\"manifest_ref\":"
                      "\"s3://b/p/manifests/x/manifest\",\"run_id\":\"r\",\"updated_at\":\"2026-03-14T10:30:01Z\"}");
    sy_buf_reset(&b);
    /* ensure_ascii escaping, '/' not escaped */
    CHECK_OK(sy_current_serialize("file:///d/\xc3\xa9/\"q\"/\xf0\x9f\x98\x80", "r", ts("2026-03-14T10:30:01.000005Z"), &b));
    CHECK(strstr(b.data, "\"manifest_ref\":\"file:///d/\\u00e9/\\\"q\\\"/\\ud83d\\ude00\"") != NULL);
    CHECK(strstr(b.data, "\"updated_at\":\"2026-03-14T10:30:01.000005Z\"") != NULL);
    sy_buf_reset(&b);
    /* refusals leave out unchanged */
    CHECK_OK(sy_buf_puts(&b, "keep"));
    CHECK_ST(sy_current_serialize("", "r", 0, &b), SHARDY_EINVAL);
    CHECK_ST(sy_current_serialize("s3://b/m", NULL, 0, &b), SHARDY_EINVAL);
    CHECK_ST(sy_current_serialize("s3://b/\xff", "r", 0, &b), SHARDY_EINVAL);
    CHECK_STR(b.data, "keep");
    sy_buf_free(&b);
}

static void test_parse_verified(void) {
    sy_current *c = NULL;
    CHECK_OK(sy_current_parse(verified, strlen(verified), URL, &c));
    REQUIRE(c != NULL);
    CHECK_STR(c->manifest_ref, "s3://my-bucket/snapshots/users/manifests/2026-03-14T10:30:01.000042Z_run_id="
                               "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/manifest");
    CHECK_STR(c->run_id, "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210");
    CHECK_STR(c->manifest_content_type, "application/x-sqlite3");
    CHECK_STR(c->updated_at, "2026-03-14T10:30:01.250000Z");
    CHECK_EQ_INT(c->published_at_us, ts("2026-03-14T10:30:01.25Z"));
    CHECK_EQ_INT(c->format_version, 1);
    sy_current_free(&c);
    CHECK(c == NULL);
    sy_current_free(&c);  /* NULL-safe */
    sy_current_free(NULL);

    /* round trip */
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_current_serialize("file:///d/snap/manifests/2026-01-01T00:00:00.000000Z_run_id=r9/manifest", "r9",
                                  ts("2026-01-01T01:02:03.456789Z"), &b));
    CHECK_OK(sy_current_parse(b.data, b.len, URL, &c));
    REQUIRE(c != NULL);
    CHECK_STR(c->run_id, "r9");
    CHECK_EQ_INT(c->published_at_us, ts("2026-01-01T01:02:03.456789Z"));
    sy_current_free(&c);
    sy_buf_free(&b);
}

static void parse_ok(const char *text, const char *want_ref, int64_t want_us, int64_t want_version) {
    sy_current *c = NULL;
    CHECK_OK(sy_current_parse(text, strlen(text), URL, &c));
    if (!c) return;
    CHECK_STR(c->manifest_ref, want_ref);
    CHECK_EQ_INT(c->published_at_us, want_us);
    CHECK_EQ_INT(c->format_version, want_version);
    sy_current_free(&c);
}

static void test_parse_lenient(void) {
    /* format_version optional/any int, extra keys ignored, key order free, whitespace, offsets */
    parse_ok("{\"manifest_ref\":\"m\",\"manifest_content_type\":\"x\",\"run_id\":\"r\",\"updated_at\":"
             "\"2026-03-14T10:30:01Z\"}",
             "m", ts("2026-03-14T10:30:01Z"), 1);
    parse_ok(" {\"format_version\": 2, \"manifest_ref\": \"m2\", \"manifest_content_type\": \"application/json\",\n"
             "  \"run_id\": \"r\", \"updated_at\": \"2026-03-14T10:30:01.5+00:00\", \"extra\": {\"a\": [1, 2]}} \n",
             "m2", ts("2026-03-14T10:30:01.5Z"), 2);
    parse_ok("{\"format_version\":-7,\"manifest_ref\":\"m\",\"manifest_content_type\":\"\",\"run_id\":\"\","
             "\"updated_at\":\"2026-03-14T12:30:01+02:00\"}",
             "m", ts("2026-03-14T10:30:01Z"), -7);
    parse_ok("{\"manifest_ref\":\"m\",\"manifest_content_type\":\"x\",\"run_id\":\"r\",\"updated_at\":"
             "\"2026-03-14T10:30:01\"}",
             "m", ts("2026-03-14T10:30:01Z"), 1); /* naive = UTC */
    parse_ok("{\"manifest_ref\":\"first\",\"manifest_ref\":\"m\",\"manifest_content_type\":\"x\",\"run_id\":\"r\","
             "\"updated_at\":\"2026-03-14T10:30:01.123Z\"}",
             "m", ts("2026-03-14T10:30:01.123Z"), 1); /* duplicate key: last wins, like Python */
    parse_ok("{\"manifest_ref\":\"s3://b/\\u00e9\",\"manifest_content_type\":\"x\",\"run_id\":\"r\",\"updated_at\":"
             "\"2026-03-14T10:30:01Z\"}",
             "s3://b/\xc3\xa9", ts("2026-03-14T10:30:01Z"), 1);
}

static void parse_fail(const char *text, size_t len, const char *sub) {
    sy_current *c = (sy_current *)1;
    CHECK_ST(sy_current_parse(text, len, URL, &c), SHARDY_EFORMAT);
    CHECK(c == NULL);
    CHECK(!strncmp(shardy_errmsg(), PREFIX, strlen(PREFIX)));
    if (sub) CHECK_ERRMSG_HAS(sub);
    CHECK_ERRMSG_HAS(URL);
}

#define FAIL(text, sub) parse_fail(text, strlen(text), sub)

static void test_parse_missing_and_types(void) {
    static const char *const fields[] = {"manifest_ref", "manifest_content_type", "run_id", "updated_at"};
    const char *vals[] = {"\"m\"", "\"x\"", "\"r\"", "\"2026-03-14T10:30:01Z\""};
    for (int skip = 0; skip < 4; skip++) {
        char text[512], part[128];
        strcpy(text, "{\"format_version\":1");
        for (int i = 0; i < 4; i++) {
            if (i == skip) continue;
            snprintf(part, sizeof part, ",\"%s\":%s", fields[i], vals[i]);
            strcat(text, part);
        }
        strcat(text, "}");
        parse_fail(text, strlen(text), fields[skip]);
        CHECK_ERRMSG_HAS("is required");
        /* and each wrong type */
        static const char *const wrong[] = {"5", "null", "true", "[\"m\"]", "{}", "1.5"};
        for (size_t w = 0; w < sizeof wrong / sizeof wrong[0]; w++) {
            strcpy(text, "{");
            for (int i = 0; i < 4; i++) {
                snprintf(part, sizeof part, "%s\"%s\":%s", i ? "," : "", fields[i], i == skip ? wrong[w] : vals[i]);
                strcat(text, part);
            }
            strcat(text, "}");
            parse_fail(text, strlen(text), fields[skip]);
            CHECK_ERRMSG_HAS("must be a string");
        }
    }
    const char *base = "\"manifest_ref\":\"m\",\"manifest_content_type\":\"x\",\"run_id\":\"r\"";
    char t[512];
    snprintf(t, sizeof t, "{%s,\"updated_at\":\"yesterday\"}", base);
    FAIL(t, "updated_at");
    snprintf(t, sizeof t, "{%s,\"updated_at\":\"2026-02-30T00:00:00Z\"}", base);
    FAIL(t, "updated_at");
    snprintf(t, sizeof t, "{%s,\"updated_at\":\"\"}", base);
    FAIL(t, "updated_at");
    snprintf(t, sizeof t, "{%s,\"updated_at\":\"2026-03-14T10:30:01Z\",\"format_version\":\"1\"}", base);
    FAIL(t, "format_version");
    snprintf(t, sizeof t, "{%s,\"updated_at\":\"2026-03-14T10:30:01Z\",\"format_version\":null}", base);
    FAIL(t, "format_version");
    snprintf(t, sizeof t, "{%s,\"updated_at\":\"2026-03-14T10:30:01Z\",\"format_version\":1.0}", base);
    FAIL(t, "format_version");
    snprintf(t, sizeof t, "{%s,\"updated_at\":\"2026-03-14T10:30:01Z\",\"format_version\":100000000000000000000}",
             base);
    FAIL(t, "integer outside the 64-bit range");
    snprintf(t, sizeof t, "{\"manifest_ref\":\"a\\u0000b\",\"manifest_content_type\":\"x\",\"run_id\":\"r\","
                          "\"updated_at\":\"2026-03-14T10:30:01Z\"}");
    FAIL(t, "manifest_ref");
    CHECK_ERRMSG_HAS("NUL");
}

static void test_parse_garbage(void) {
    FAIL("", "empty");
    FAIL("null", "expected a JSON object");
    FAIL("[]", "expected a JSON object");
    FAIL("\"manifest_ref\"", "expected a JSON object");
    FAIL("42", "expected a JSON object");
    FAIL("{", "invalid JSON");
    FAIL("{}", "manifest_ref");
    FAIL("{} x", "invalid JSON");
    FAIL("   ", "invalid JSON");
    FAIL("{}{}", "invalid JSON");
    FAIL("{\"manifest_ref\":\"m\",}", "invalid JSON");
    FAIL("{'manifest_ref':'m'}", "invalid JSON");
    FAIL("\xef\xbb\xbf{}", "invalid JSON");
    FAIL("{\"manifest_ref\":\"\xff\"}", "invalid JSON");
    FAIL("s3://bucket/manifest", "invalid JSON");
    /* stricter than json-c: raw controls in strings and malformed UTF-8 are refused like Python does */
    FAIL("{\"manifest_ref\":\"a\x01" "b\"}", "raw control character inside a string");
    FAIL("{\"manifest_ref\":\"a\tb\"}", "raw control character inside a string");
    FAIL("{\"manifest_ref\":\"\xc1\x9d\"}", "invalid UTF-8"); /* overlong */
    FAIL("{\"manifest_ref\":\"\xed\xa0\x80\"}", "invalid UTF-8"); /* encoded surrogate */
    FAIL("{\"\xf4\x90\x80\x80\":1}", "invalid UTF-8"); /* above U+10FFFF */
    FAIL("{\"a\":1}\xc3", "invalid");
    /* NUL bytes inside the document */
    static const char with_nul[] = "{\"manifest_ref\":\"m\"}\0{}";
    parse_fail(with_nul, sizeof with_nul - 1, "NUL");
    static const char lead_nul[] = "\0{\"manifest_ref\":\"m\"}";
    parse_fail(lead_nul, sizeof lead_nul - 1, "NUL");
    parse_fail(verified, strlen(verified) - 1, "invalid JSON"); /* truncated */
    /* every prefix of the verified pointer fails cleanly */
    for (size_t n = 0; n < strlen(verified); n++) {
        sy_current *c = (sy_current *)1;
        CHECK_ST(sy_current_parse(verified, n, URL, &c), SHARDY_EFORMAT);
        CHECK(c == NULL);
    }
}

static void test_parse_deep(void) {
    /* Nesting beyond the limit in an ignored key is refused; very deep input never crashes. */
    size_t depth = 100000;
    char *t = sy_malloc(2 * depth + 64);
    REQUIRE(t != NULL);
    size_t o = 0;
    o += (size_t)sprintf(t, "{\"x\":");
    for (size_t i = 0; i < depth; i++) t[o++] = '[';
    for (size_t i = 0; i < depth; i++) t[o++] = ']';
    t[o++] = '}';
    parse_fail(t, o, "invalid JSON");
    sy_free(t);
    char buf[512];
    snprintf(buf, sizeof buf, "{\"x\":[[[[1]]]],\"manifest_ref\":\"m\",\"manifest_content_type\":\"x\",\"run_id\":"
                              "\"r\",\"updated_at\":\"2026-03-14T10:30:01Z\"}");
    parse_ok(buf, "m", ts("2026-03-14T10:30:01Z"), 1);
}

static void test_oom(void) {
    int ok = 0;
    for (long n = 0; n < 50 && !ok; n++) {
        sy_current *c = NULL;
        sy_alloc_fail_after(n);
        shardy_status st = sy_current_parse(verified, strlen(verified), URL, &c);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            ok = 1;
            CHECK_STR(c->run_id, "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210");
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
            CHECK(c == NULL);
        }
        sy_current_free(&c);
    }
    CHECK(ok);
}

TEST_MAIN(test_serialize_verified, test_parse_verified, test_parse_lenient, test_parse_missing_and_types,
          test_parse_garbage, test_parse_deep, test_oom)
