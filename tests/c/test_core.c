/* test_core.c — core helpers: JSON emitting/parsing, timestamps, URLs, ids, buffers, allocation hook, local files. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "core/localfs.h"
#include "core/timeutil.h"
#include "core/url.h"

/* Parses text, dumps it with flags, compares with want. */
static void roundtrip(const char *text, int flags, const char *want) {
    json_object *o = NULL;
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_json_parse(text, strlen(text), "test", &o));
    if (o) CHECK_OK(sy_json_dump(o, flags, &b));
    CHECK_STR(b.data ? b.data : "", want);
    json_object_put(o);
    sy_buf_free(&b);
}

static void test_json_python_style(void) {
    /* Appendix A verified samples. */
    roundtrip("{\"Z\":5,\"a\":2,\"_\":3,\"B\":1,\"\xc3\xa9\":4}", SY_JSON_COMPACT,
              "{\"B\":1,\"Z\":5,\"_\":3,\"a\":2,\"\\u00e9\":4}");
    roundtrip("\"\\u007f\\u001f\\b\\f\\r \xc3\xa9\"", 0, "\"\\u007f\\u001f\\b\\f\\r \\u00e9\"");
    roundtrip("{\"\xf0\x9f\x98\x80\":3,\"\xc3\xa9\":1,\"z\":2,\"\xef\xbf\xbf\":4}", 0,
              "{\"z\": 2, \"\\u00e9\": 1, \"\\uffff\": 4, \"\\ud83d\\ude00\": 3}");
    roundtrip("{\"alpha\": {\"b\": [1, 2], \"a\": \"\\u00e9\"}, \"zeta\": 1}", 0,
              "{\"alpha\": {\"a\": \"\\u00e9\", \"b\": [1, 2]}, \"zeta\": 1}");
    roundtrip("[18446744073709551615, -9223372036854775808, 0, true, false, null, \"a/b\"]", 0,
              "[18446744073709551615, -9223372036854775808, 0, true, false, null, \"a/b\"]");
    roundtrip("{}", 0, "{}");
    /* CLI output styles: insertion order, raw UTF-8, Python indent=2. */
    roundtrip("{\"op\": \"get\", \"key\": \"\u00e9\", \"found\": true}", SY_JSON_NO_SORT | SY_JSON_RAW_UTF8,
              "{\"op\": \"get\", \"key\": \"\xc3\xa9\", \"found\": true}");
    roundtrip("{\"op\": \"x\", \"a\": [1, {}], \"e\": []}", SY_JSON_NO_SORT | SY_JSON_INDENT2,
              "{\n  \"op\": \"x\",\n  \"a\": [\n    1,\n    {}\n  ],\n  \"e\": []\n}");
    roundtrip("\"\\u007f\\u0001\"", SY_JSON_RAW_UTF8, "\"\x7f\\u0001\"");
    roundtrip("[]", SY_JSON_COMPACT, "[]");
    /* run.yaml escaping: raw UTF-8 except controls, DEL..0x9F, U+2028/9, U+FEFF, U+FFFE/F. */
    roundtrip("\"\xc3\xa9\xf0\x9f\x98\x80\\u007f\\u2028\\ufeff\\n\\\"\"", SY_JSON_YAML_SAFE,
              "\"\xc3\xa9\xf0\x9f\x98\x80\\u007f\\u2028\\ufeff\\n\\\"\"");
}

static void check_double(double d, const char *want) {
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_json_put_double(&b, d));
    CHECK_STR(b.data, want);
    sy_buf_free(&b);
}

static void test_python_float_repr(void) {
    check_double(1.0, "1.0");
    check_double(100.0, "100.0");
    check_double(1e16, "1e+16");
    check_double(1.2345678901234568e+17, "1.2345678901234568e+17");
    check_double(1e-07, "1e-07");
    check_double(5e-324, "5e-324");
    check_double(-0.0, "-0.0");
    check_double(0.1, "0.1");
    check_double(0.0001, "0.0001");
    check_double(123456789012345.6, "123456789012345.6");
    check_double(9999999999999998.0, "9999999999999998.0");
    check_double(1.5, "1.5");
    check_double(-2.5e-5, "-2.5e-05");
    check_double(NAN, "NaN");
    check_double(INFINITY, "Infinity");
    check_double(-INFINITY, "-Infinity");
}

static void test_json_parse_errors(void) {
    json_object *o = NULL;
    const char *bad[] = {"", "{", "{\"a\":1} x", "[1,]", "nul", "{\"a\":1}\0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = i == 5 ? 8 : strlen(bad[i]);
        CHECK_ST(sy_json_parse(bad[i], len, "doc X", &o), SHARDY_EFORMAT);
        CHECK_ERRMSG_HAS("doc X");
        CHECK(o == NULL);
    }
    /* Deep nesting is refused, not a stack overflow. */
    char deep[2001];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = 0;
    CHECK_ST(sy_json_parse(deep, 2000, "deep", &o), SHARDY_EFORMAT);
    CHECK_OK(sy_json_parse(" 42 \n", 5, "ws", &o));
    CHECK(o && json_object_get_int64(o) == 42);
    json_object_put(o);
    /* Invalid UTF-8 inside a string. */
    CHECK_ST(sy_json_parse("\"\xff\"", 3, "utf", &o), SHARDY_EFORMAT);
    sy_buf b = SY_BUF_INIT;
    CHECK_ST(sy_json_put_string(&b, "\xc3", 1, 0), SHARDY_EFORMAT);
    CHECK_ST(sy_json_put_string(&b, "\xed\xa0\x80", 3, 0), SHARDY_EFORMAT); /* surrogate */
    sy_buf_free(&b);
    CHECK(sy_utf8_valid("h\xc3\xa9", 3));
    CHECK(!sy_utf8_valid("\xc0\x80", 2)); /* overlong */
}

static void test_time(void) {
    char s[SY_TIME_STRLEN];
    int64_t base = 1773484200LL * 1000000; /* 2026-03-14T10:30:00Z */
    sy_time_format_iso(base, s);
    CHECK_STR(s, "2026-03-14T10:30:00Z");
    sy_time_format_iso(base + 5, s);
    CHECK_STR(s, "2026-03-14T10:30:00.000005Z");
    sy_time_format_iso(base + 120000, s);
    CHECK_STR(s, "2026-03-14T10:30:00.120000Z");
    sy_time_format_iso(base + 123456, s);
    CHECK_STR(s, "2026-03-14T10:30:00.123456Z");
    sy_time_format_key(base, s);
    CHECK_STR(s, "2026-03-14T10:30:00.000000Z");
    sy_time_format_key(0, s);
    CHECK_STR(s, "1970-01-01T00:00:00.000000Z");

    int64_t us = 0;
    CHECK_OK(sy_time_parse_iso("2026-03-14T10:30:00.123456Z", &us));
    CHECK_EQ_INT(us, base + 123456);
    CHECK_OK(sy_time_parse_iso("2026-03-14T12:30:00+02:00", &us));
    CHECK_EQ_INT(us, base);
    CHECK_OK(sy_time_parse_iso("2026-03-14T10:30:00.1", &us)); /* naive = UTC */
    CHECK_EQ_INT(us, base + 100000);
    CHECK_OK(sy_time_parse_iso("2026-03-14 05:30:00-0500", &us));
    CHECK_EQ_INT(us, base);
    CHECK_OK(sy_time_parse_iso("2024-02-29T00:00:00Z", &us));
    const char *bad[] = {"", "2026-03-14", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-03-14T25:00:00Z",
                         "2026-03-14T10:30:00Zjunk", "2026-03-14T10:30:00.Z", "garbage", "2026-03-14T10:30:00+24:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(sy_time_parse_iso(bad[i], &us), SHARDY_EFORMAT);
        CHECK_ERRMSG_HAS("ISO-8601");
    }
    /* Format/parse round trip over a range of instants. */
    for (int64_t t = -86400LL * 1000000 * 400; t < 86400LL * 1000000 * 40000; t += 86400LL * 1000000 * 97 + 12345) {
        sy_time_format_iso(t, s);
        CHECK_OK(sy_time_parse_iso(s, &us));
        if (us != t) {
            CHECK_EQ_INT(us, t);
            break;
        }
    }
}

static void join_is(const char *base, const char *a, const char *b, const char *want) {
    const char *parts[2] = {a, b};
    char *got = sy_url_join(base, parts, 2);
    CHECK_STR(got, want);
    sy_free(got);
}

static void test_url(void) {
    const char *p4[] = {"manifests", "x/", "", "manifest"};
    char *j = sy_url_join("s3://b/p/", p4, 4);
    CHECK_STR(j, "s3://b/p/manifests/x/manifest");
    sy_free(j);
    join_is("file:///data/snap", "/_CURRENT", NULL, "file:///data/snap/_CURRENT");
    join_is("file:///", "a", "b", "file:///a/b");
    join_is("s3://bucket", "k", NULL, "s3://bucket/k");
    join_is("mem://t//", "//x//", "y", "mem://t/x/y");

    char *u = NULL;
    CHECK_OK(sy_url_normalize("/tmp/./a/../b//c/", &u));
    CHECK_STR(u, "file:///tmp/b/c");
    sy_free(u);
    CHECK_OK(sy_url_normalize("s3://bucket/pre", &u));
    CHECK_STR(u, "s3://bucket/pre");
    sy_free(u);
    CHECK_OK(sy_url_normalize("rel/dir", &u));
    CHECK(u && !strncmp(u, "file:///", 8) && strstr(u, "/rel/dir"));
    sy_free(u);
    CHECK_ST(sy_url_normalize("http://x/y", &u), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("http://x/y");
    CHECK_ST(sy_url_normalize("s3:///nobucket", &u), SHARDY_EINVAL);
    CHECK_ST(sy_url_normalize("file://relative", &u), SHARDY_EINVAL);
    CHECK_ST(sy_url_normalize("", &u), SHARDY_EINVAL);
    CHECK_STR(sy_url_file_path("file:///a/b"), "/a/b");
    CHECK(sy_url_file_path("s3://a/b") == NULL);
}

static void test_ids(void) {
    char a[33], b[33];
    CHECK_OK(sy_uuid4_hex(a));
    CHECK_OK(sy_uuid4_hex(b));
    CHECK_EQ_INT(strlen(a), 32);
    CHECK(strcmp(a, b) != 0);
    CHECK(a[12] == '4');
    CHECK(strchr("89ab", a[16]) != NULL);
    CHECK_EQ_INT(strspn(a, "0123456789abcdef"), 32);
    CHECK_OK(sy_run_id_check(a));
    CHECK_OK(sy_run_id_check("nightly-2026.11.24_a"));
    CHECK_ST(sy_run_id_check("a/b"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("a/b");
    CHECK_ST(sy_run_id_check(""), SHARDY_EINVAL);
    CHECK_ST(sy_run_id_check(".."), SHARDY_EINVAL);
    CHECK_ST(sy_run_id_check("sp ace"), SHARDY_EINVAL);
    char longid[130];
    memset(longid, 'x', 129);
    longid[129] = 0;
    CHECK_ST(sy_run_id_check(longid), SHARDY_EINVAL);
    longid[128] = 0;
    CHECK_OK(sy_run_id_check(longid));
}

static void test_buf_and_alloc(void) {
    sy_buf b = SY_BUF_INIT;
    for (int i = 0; i < 1000; i++) CHECK_OK(sy_buf_printf(&b, "%d,", i));
    CHECK_EQ_INT(b.len, strlen(b.data));
    CHECK(!strncmp(b.data, "0,1,2,", 6));
    sy_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK_STR(b.data, "");
    sy_buf_free(&b);

    sy_alloc_fail_after(0);
    CHECK_ST(sy_buf_puts(&b, "x"), SHARDY_ENOMEM);
    CHECK(sy_strdup("x") == NULL);
    json_object *o = json_object_new_object();
    sy_buf out = SY_BUF_INIT;
    CHECK_ST(sy_json_dump(o, 0, &out), SHARDY_ENOMEM);
    sy_alloc_fail_after(-1);
    CHECK_OK(sy_json_dump(o, 0, &out));
    CHECK_STR(out.data, "{}");
    json_object_put(o);
    sy_buf_free(&out);
    CHECK_STR(shardy_strerror(SHARDY_EFORMAT), "malformed data");
    CHECK_STR(shardy_version(), "0.1.0");
}

static void test_localfs(void) {
    const char *dir = test_tmpdir("localfs");
    char p[4200], keep[4200], link[4300], f[4300];
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    CHECK_OK(sy_mkdirs(p));
    CHECK_OK(sy_mkdirs(p)); /* existing is fine */
    snprintf(f, sizeof f, "%s/file", p);
    FILE *fp = fopen(f, "w");
    REQUIRE(fp);
    fclose(fp);
    CHECK_ST(sy_mkdirs(f), SHARDY_ENOTFOUND); /* a file in the way: ENOTDIR */
    CHECK_ERRMSG_HAS(f);
    /* rmtree removes the tree but does not follow a symlink out of it. */
    snprintf(keep, sizeof keep, "%s/keep", dir);
    CHECK_OK(sy_mkdirs(keep));
    snprintf(link, sizeof link, "%s/a/link", dir);
    REQUIRE(symlink(keep, link) == 0);
    snprintf(p, sizeof p, "%s/a", dir);
    CHECK_OK(sy_rmtree(p));
    CHECK(access(p, F_OK) != 0);
    CHECK(access(keep, F_OK) == 0);
    CHECK_OK(sy_rmtree(p)); /* missing is fine */

    /* sy_copy_range: ranges appended in any order, in the kernel and through the fallback. */
    size_t n = (3u << 20) + 17;
    unsigned char *src = malloc(n), *got = malloc(n + 16);
    REQUIRE(src && got);
    for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(i * 131u + (i >> 12));
    snprintf(f, sizeof f, "%s/src", dir);
    snprintf(p, sizeof p, "%s/dst", dir);
    fp = fopen(f, "wb");
    REQUIRE(fp && fwrite(src, 1, n, fp) == n && fclose(fp) == 0);
    const uint64_t ranges[][2] = {{2u << 20, (1u << 20) + 17}, {5, 1}, {0, 5}, {6, (2u << 20) - 6}, {7, 0}};
    for (int fb = 0; fb < 2; fb++) {
        int in = open(f, O_RDONLY), out = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), fallback = fb;
        REQUIRE(in >= 0 && out >= 0);
        size_t want = 0;
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            CHECK_OK(sy_copy_range(in, ranges[r][0], out, ranges[r][1], p, &fallback));
            want += (size_t)ranges[r][1];
        }
        CHECK(fb == 0 || fallback == 1);
        /* past the end of the source: an error naming the file written, nothing silently short */
        CHECK_ST(sy_copy_range(in, n - 3, out, 4, p, &fallback), SHARDY_EIO);
        CHECK_ERRMSG_HAS(p);
        close(in);
        close(out);
        fp = fopen(p, "rb");
        REQUIRE(fp);
        size_t have = fread(got, 1, n + 16, fp);
        fclose(fp);
        CHECK_EQ_INT(have, want + 3); /* the 3 bytes that were there went out before the error */
        size_t at = 0;
        for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
            CHECK(memcmp(got + at, src + ranges[r][0], (size_t)ranges[r][1]) == 0);
            at += (size_t)ranges[r][1];
        }
        CHECK(memcmp(got + want, src + n - 3, 3) == 0);
    }
    free(src);
    free(got);
}

TEST_MAIN(test_localfs, test_json_python_style, test_python_float_repr, test_json_parse_errors, test_time, test_url, test_ids,
          test_buf_and_alloc)
