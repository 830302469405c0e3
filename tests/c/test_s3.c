/*
 * test_s3.c — the s3:// backend beyond the shared store suite (which test_store.c runs on moto):
 *   - options: KEY=VALUE coercions and messages, credentials.toml profiles, the flat TOML reader,
 *     resolution of identity/region/endpoint from options, environment and AWS shared files;
 *   - moto: multipart uploads (content, no upload left behind), listings of > 1000 objects in small
 *     pages, start_after on rolled-up prefixes, DeleteObjects batches, error mapping;
 *   - s3s-fs (checks signatures): right secret works, wrong secret or key is SHARDY_EAUTH with the
 *     S3 code, writes nothing, and never shows the secret;
 *   - faults: tests/s3/faultproxy.py between us and moto injects 503/500/429, resets, stalls and
 *     truncated bodies; every operation either succeeds with exactly the right bytes or fails with
 *     a clear message, and failed multipart uploads are aborted.
 * Server tests skip loudly without tests/s3/servers.sh (and fail when SHARDY_REQUIRE_S3=1).
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/toml.h"
#include "s3_env.h"
#include "store/s3.h"
#include "store/store.h"

extern char **environ;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x >> 7);
    }
}

static void write_file(const char *path, const void *data, size_t len, int mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        perror(path);
        abort();
    }
    if (write(fd, data, len) != (ssize_t)len) abort();
    fchmod(fd, (mode_t)mode);
    close(fd);
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, fp);
    fclose(fp);
    return p;
}

/* Checks that url holds exactly want[0..len). */
static void check_object(sy_store *s, const char *url, const void *want, size_t len) {
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_store_get(s, url, &b));
    CHECK_EQ_U64(b.len, len);
    CHECK(b.len == len && memcmp(b.data, want, len) == 0);
    sy_buf_free(&b);
}

/* ============================================================================================ */
/* Options                                                                                      */

static void test_opts_parse(void) {
    sy_s3_opts o;
    sy_s3_opts_init(&o);
    CHECK_EQ_INT(o.max_attempts, SY_S3_UNSET);
    CHECK(o.endpoint_url == NULL && o.addressing_style == SY_S3_ADDR_UNSET);

    CHECK_OK(sy_s3_opts_parse(&o, "endpoint_url=http://127.0.0.1:9000"));
    CHECK_STR(o.endpoint_url, "http://127.0.0.1:9000");
    CHECK_OK(sy_s3_opts_parse(&o, "region_name=eu-west-3"));
    CHECK_STR(o.region, "eu-west-3");
    CHECK_OK(sy_s3_opts_parse(&o, "region=us-west-2")); /* alias, same field */
    CHECK_STR(o.region, "us-west-2");
    CHECK_OK(sy_s3_opts_parse(&o, "addressing_style=virtual"));
    CHECK_EQ_INT(o.addressing_style, SY_S3_ADDR_VIRTUAL);
    CHECK_OK(sy_s3_opts_parse(&o, "addressing_style=PATH"));
    CHECK_EQ_INT(o.addressing_style, SY_S3_ADDR_PATH);
    CHECK_OK(sy_s3_opts_parse(&o, "signature_version=s3v4"));

    static const struct {
        const char *v;
        int want;
    } bools[] = {{"true", 1}, {"TRUE", 1}, {"1", 1}, {"Yes", 1}, {"false", 0}, {"No", 0}, {"0", 0}, {" no ", 0}};
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        char kv[64];
        o.verify_ssl = 7;
        snprintf(kv, sizeof kv, "verify_ssl=%s", bools[i].v);
        CHECK_OK(sy_s3_opts_parse(&o, kv));
        CHECK_EQ_INT(o.verify_ssl, bools[i].want);
    }
    o.verify_ssl = 1;
    CHECK_ST(sy_s3_opts_parse(&o, "verify_ssl=maybe"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("Cannot coerce 'maybe' to bool for option 'verify_ssl'");
    CHECK_EQ_INT(o.verify_ssl, 1); /* unchanged on failure */

    CHECK_OK(sy_s3_opts_parse(&o, "connect_timeout=5"));
    CHECK_EQ_INT(o.connect_timeout, 5);
    CHECK_OK(sy_s3_opts_parse(&o, "read_timeout=0"));
    CHECK_EQ_INT(o.read_timeout, 0);
    CHECK_OK(sy_s3_opts_parse(&o, "max_attempts=4"));
    CHECK_EQ_INT(o.max_attempts, 4);
    CHECK_ST(sy_s3_opts_parse(&o, "max_attempts=four"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("Cannot coerce 'four' to int for option 'max_attempts'");
    CHECK_ST(sy_s3_opts_parse(&o, "connect_timeout=1.5"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("Cannot coerce '1.5' to int for option 'connect_timeout'");
    CHECK_ST(sy_s3_opts_parse(&o, "max_attempts=0"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("max_attempts");
    CHECK_EQ_INT(o.max_attempts, 4);

    CHECK_OK(sy_s3_opts_parse(&o, "multipart_part_size=8M"));
    CHECK_EQ_INT(o.part_size, 8ll << 20);
    CHECK_OK(sy_s3_opts_parse(&o, "multipart_part_size=6MiB"));
    CHECK_EQ_INT(o.part_size, 6ll << 20);
    CHECK_OK(sy_s3_opts_parse(&o, "multipart_threshold=1G"));
    CHECK_EQ_INT(o.multipart_threshold, 1ll << 30);
    CHECK_ST(sy_s3_opts_parse(&o, "multipart_part_size=1M"), SHARDY_EINVAL); /* below S3's 5 MiB */
    CHECK_ERRMSG_HAS("multipart_part_size");
    CHECK_OK(sy_s3_opts_parse(&o, "multipart_parallel=8"));
    CHECK_EQ_INT(o.parallel_parts, 8);
    CHECK_OK(sy_s3_opts_parse(&o, "retry_base_ms=50"));
    CHECK_OK(sy_s3_opts_parse(&o, "retry_cap_ms=900"));
    CHECK(o.retry_base_ms == 50 && o.retry_cap_ms == 900);

    CHECK_ST(sy_s3_opts_parse(&o, "secret_access_key=hunter2"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("cannot be given on the command line");
    CHECK(!strstr(shardy_errmsg(), "hunter2"));
    CHECK(o.secret_access_key == NULL);
    CHECK_ST(sy_s3_opts_parse(&o, "endpoint=http://x"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("unknown S3 option 'endpoint'");
    CHECK_ST(sy_s3_opts_parse(&o, "no-equals-sign"), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("--s3-option expects KEY=VALUE, got 'no-equals-sign'");
    CHECK_ST(sy_s3_opts_parse(&o, "=x"), SHARDY_EINVAL);
    CHECK_OK(sy_s3_opts_parse(&o, "endpoint_url=")); /* empty: unset */
    CHECK(o.endpoint_url == NULL);

    sy_s3_opts c;
    CHECK_OK(sy_s3_opts_copy(&c, &o));
    CHECK_STR(c.region, "us-west-2");
    CHECK(c.region != o.region && c.max_attempts == 4 && c.parallel_parts == 8);
    sy_s3_opts_free(&c);
    sy_s3_opts_free(&o);
    CHECK(o.region == NULL && o.max_attempts == SY_S3_UNSET);
    sy_s3_opts_free(NULL);
}

static void test_toml(void) {
    sy_toml t = SY_TOML_INIT;
    const char *doc = "\xEF\xBB\xBF# comment\n"
                      "top = 1\n"
                      "[default]  # trailing comment\n"
                      "region = \"us-east-1\"\n"
                      "secret = 'lit\\eral'\n"
                      "esc = \"a\\tb\\\"c\\\\d\\u00e9\\U0001F600\"\n"
                      "n = -1_000\n"
                      "h = 0xff\n"
                      "f = 2.5e3\n"
                      "yes = true\n"
                      "no=false\n"
                      "\"quoted key\" = \"\"\n"
                      "[minio.local]\r\n"
                      "verify_ssl = false\r\n";
    CHECK_OK(sy_toml_parse(doc, strlen(doc), "creds.toml", &t));
    const sy_toml_value *v;
    CHECK((v = sy_toml_get(&t, "", "top")) && v->type == SY_TOML_INT && v->i == 1);
    CHECK((v = sy_toml_get(&t, "default", "region")) && v->type == SY_TOML_STRING && !strcmp(v->str, "us-east-1"));
    CHECK((v = sy_toml_get(&t, "default", "secret")) && !strcmp(v->str, "lit\\eral"));
    CHECK((v = sy_toml_get(&t, "default", "esc")) && !strcmp(v->str, "a\tb\"c\\d\xC3\xA9\xF0\x9F\x98\x80"));
    CHECK((v = sy_toml_get(&t, "default", "n")) && v->type == SY_TOML_INT && v->i == -1000);
    CHECK((v = sy_toml_get(&t, "default", "h")) && v->type == SY_TOML_INT && v->i == 255);
    CHECK((v = sy_toml_get(&t, "default", "f")) && v->type == SY_TOML_FLOAT && v->f == 2500.0);
    CHECK((v = sy_toml_get(&t, "default", "yes")) && v->type == SY_TOML_BOOL && v->b == 1);
    CHECK((v = sy_toml_get(&t, "default", "no")) && v->type == SY_TOML_BOOL && v->b == 0 && v->line == 11);
    CHECK((v = sy_toml_get(&t, "default", "quoted key")) && !strcmp(v->str, ""));
    CHECK((v = sy_toml_get(&t, "minio.local", "verify_ssl")) && v->b == 0);
    CHECK(sy_toml_has_table(&t, "default") && sy_toml_has_table(&t, "minio.local") && !sy_toml_has_table(&t, "x"));
    CHECK(sy_toml_get(&t, "default", "missing") == NULL);
    sy_toml_free(&t);

    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"a = 1\na = 2\n", "c.toml:2: key defined twice"},
        {"[x]\n[x]\n", "c.toml:2: table defined twice"},
        {"a = [1, 2]\n", "arrays and inline tables are not supported"},
        {"a = {b = 1}\n", "arrays and inline tables are not supported"},
        {"a = \"\"\"x\"\"\"\n", "multi-line strings are not supported"},
        {"a = 1979-05-27\n", "dates and times are not supported"},
        {"a.b = 1\n", "dotted keys are not supported"},
        {"a = \"open\n", "c.toml:1: unterminated string"},
        {"a = bare\n", "strings need quotes"},
        {"a = 1 2\n", "unexpected text after the value"},
        {"\n\na =\n", "c.toml:3: missing value after '='"},
        {"[[t]]\n", "arrays of tables are not supported"},
        {"[t\n", "expected ']'"},
        {"a = \"\\q\"\n", "unknown escape"},
        {"a = 012\n", "leading zeros"},
        {"a = 99999999999999999999\n", "out of range"},
        {"= 1\n", "expected a key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ST(sy_toml_parse(bad[i].text, strlen(bad[i].text), "c.toml", &t), SHARDY_EFORMAT);
        CHECK_ERRMSG_HAS(bad[i].msg);
        CHECK(t.n == 0 && t.items == NULL);
    }
    CHECK_ST(sy_toml_parse("a = 1\0", 6, "nul.toml", &t), SHARDY_EFORMAT);
    CHECK_ST(sy_toml_load("/nonexistent/creds.toml", &t), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("/nonexistent/creds.toml");
}

static void test_profile(void) {
    const char *dir = test_tmpdir("s3-profile");
    char path[1024], loose[1024];
    sy_s3_opts o;
    char *warn = NULL;
    snprintf(path, sizeof path, "%s/credentials.toml", dir);
    snprintf(loose, sizeof loose, "%s/loose.toml", dir);
    const char *text = "[default]\n"
                       "region = \"us-east-1\"\n"
                       "access_key_id = \"AKIAEXAMPLE\"\n"
                       "secret_access_key = \"example-secret\"\n"
                       "\n"
                       "[minio]\n"
                       "endpoint_url = \"http://127.0.0.1:9000\"\n"
                       "region = \"\"\n"
                       "access_key_id = \"minio\"\n"
                       "secret_access_key = \"minio123\"\n"
                       "addressing_style = \"path\"\n"
                       "verify_ssl = false\n"
                       "max_attempts = 5\n"
                       "unknown_key = 1\n"
                       "\n"
                       "[ca]\n"
                       "verify_ssl = \"/etc/ssl/certs/ca.pem\"\n"
                       "connect_timeout = 3\n"
                       "\n"
                       "[bad]\n"
                       "max_attempts = \"five\"\n"
                       "[bad2]\n"
                       "addressing_style = \"sideways\"\n";
    write_file(path, text, strlen(text), 0600);
    write_file(loose, text, strlen(text), 0644);

    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_load_profile(&o, path, NULL, &warn));
    CHECK(warn == NULL);
    CHECK_STR(o.region, "us-east-1");
    CHECK_STR(o.access_key_id, "AKIAEXAMPLE");
    CHECK_STR(o.secret_access_key, "example-secret");
    CHECK(o.endpoint_url == NULL);
    /* a loaded profile always sets these (spec reader-cli §7.2) */
    CHECK_EQ_INT(o.verify_ssl, 1);
    CHECK_EQ_INT(o.connect_timeout, 10);
    CHECK_EQ_INT(o.read_timeout, 30);
    CHECK_EQ_INT(o.max_attempts, 3);
    sy_s3_opts_free(&o);

    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_set_str(&o.region, "keep-me"));
    CHECK_OK(sy_s3_opts_load_profile(&o, path, "minio", NULL));
    CHECK_STR(o.endpoint_url, "http://127.0.0.1:9000");
    CHECK_STR(o.region, "keep-me"); /* "" counts as absent */
    CHECK_EQ_INT(o.addressing_style, SY_S3_ADDR_PATH);
    CHECK_EQ_INT(o.verify_ssl, 0);
    CHECK_EQ_INT(o.max_attempts, 5);
    /* then --s3-option overrides */
    CHECK_OK(sy_s3_opts_parse(&o, "max_attempts=7"));
    CHECK_EQ_INT(o.max_attempts, 7);
    sy_s3_opts_free(&o);

    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_load_profile(&o, path, "ca", NULL));
    CHECK_STR(o.ca_bundle, "/etc/ssl/certs/ca.pem");
    CHECK_EQ_INT(o.verify_ssl, 1);
    CHECK_EQ_INT(o.connect_timeout, 3);

    CHECK_ST(sy_s3_opts_load_profile(&o, path, "nosuch", NULL), SHARDY_ENOTFOUND);
    char want[1200];
    snprintf(want, sizeof want, "Credentials profile 'nosuch' not found in %s", path);
    CHECK_ERRMSG_HAS(want);
    CHECK_ST(sy_s3_opts_load_profile(&o, path, "bad", NULL), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("'max_attempts' must be an integer");
    CHECK_ST(sy_s3_opts_load_profile(&o, path, "bad2", NULL), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("sideways");
    CHECK_STR(o.ca_bundle, "/etc/ssl/certs/ca.pem"); /* unchanged by the failures */
    CHECK_EQ_INT(o.connect_timeout, 3);
    sy_s3_opts_free(&o);

    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_load_profile(&o, loose, "default", &warn));
    CHECK(warn != NULL);
    if (warn) {
        snprintf(want, sizeof want, "Warning: credentials file %s has permissions 0o644", loose);
        CHECK(strstr(warn, want) != NULL);
        CHECK(strstr(warn, "consider restricting to 0600.") != NULL);
        CHECK(strstr(warn, "example-secret") == NULL);
    }
    sy_free(warn);
    sy_s3_opts_free(&o);

    /* search order */
    char *found = NULL;
    CHECK_OK(sy_s3_credentials_file("/explicit/c.toml", &found));
    CHECK_STR(found, "/explicit/c.toml");
    sy_free(found);
    setenv("SHARDY_CREDENTIALS", path, 1);
    CHECK_OK(sy_s3_credentials_file(NULL, &found));
    CHECK_STR(found, path);
    sy_free(found);
    unsetenv("SHARDY_CREDENTIALS");
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", dir, 1);
    CHECK_OK(sy_s3_credentials_file("", &found));
    CHECK(found == NULL); /* nothing in ./ nor ~/.config/shardy */
    char cfgdir[1100], cfg[1200];
    snprintf(cfgdir, sizeof cfgdir, "%s/.config/shardy", dir);
    snprintf(cfg, sizeof cfg, "mkdir -p '%s'", cfgdir);
    CHECK_EQ_INT(system(cfg), 0);
    snprintf(cfg, sizeof cfg, "%s/credentials.toml", cfgdir);
    write_file(cfg, text, strlen(text), 0600);
    CHECK_OK(sy_s3_credentials_file(NULL, &found));
    CHECK_STR(found, cfg);
    sy_free(found);
    if (old_home) setenv("HOME", old_home, 1);
    free(old_home);
}

/* The environment variables resolution reads; saved, cleared for each case, restored. */
static const char *const env_names[] = {
    "S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "S3_SESSION_TOKEN",
    "AWS_SESSION_TOKEN", "S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
    "SLATEDB_S3_ENDPOINT_URL", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "HOME"};
#define NENV (sizeof env_names / sizeof env_names[0])

static void env_clear(void) {
    for (size_t i = 0; i < NENV; i++) unsetenv(env_names[i]);
}

static void test_resolution(void) {
    char *saved[NENV];
    sy_s3_config c;
    sy_s3_opts o;
    const char *dir = test_tmpdir("s3-resolve");
    char creds[1024], conf[1024];
    for (size_t i = 0; i < NENV; i++) saved[i] = getenv(env_names[i]) ? strdup(getenv(env_names[i])) : NULL;
    env_clear();

    /* nothing at all: AWS defaults, anonymous */
    CHECK_OK(sy_s3_config_resolve(NULL, &c));
    CHECK_STR(c.host, "s3.us-east-1.amazonaws.com");
    CHECK_EQ_INT(c.https, 1);
    CHECK_STR(c.region, "us-east-1");
    CHECK(c.access_key_id == NULL && c.secret_access_key == NULL);
    CHECK_STR(c.cred_source, "none");
    CHECK_EQ_INT(c.addressing, SY_S3_ADDR_AUTO);
    CHECK_EQ_INT(c.host_is_local, 0);
    CHECK_EQ_INT(c.max_attempts, SY_S3_DEFAULT_MAX_ATTEMPTS);
    CHECK_EQ_INT(c.part_size, SY_S3_DEFAULT_PART_SIZE);
    sy_s3_config_free(&c);

    /* environment: S3_* before AWS_*, per field; region and endpoint chains */
    setenv("AWS_ACCESS_KEY_ID", "aws-key", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "aws-secret", 1);
    setenv("S3_SECRET_ACCESS_KEY", "s3-secret", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    setenv("AWS_REGION", "eu-central-1", 1);
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    setenv("AWS_ENDPOINT_URL", "http://localhost:4566/base/", 1);
    setenv("S3_REGION", "", 1); /* empty counts as unset */
    CHECK_OK(sy_s3_config_resolve(NULL, &c));
    CHECK_STR(c.access_key_id, "aws-key");
    CHECK_STR(c.secret_access_key, "s3-secret");
    CHECK_STR(c.session_token, "tok");
    CHECK_STR(c.cred_source, "environment");
    CHECK_STR(c.region, "eu-central-1");
    CHECK_STR(c.host, "localhost:4566");
    CHECK_STR(c.base_path, "/base");
    CHECK_EQ_INT(c.https, 0);
    CHECK_EQ_INT(c.host_is_local, 1);
    sy_s3_config_free(&c);
    setenv("AWS_ENDPOINT_URL_S3", "https://minio.example.com", 1);
    setenv("S3_REGION", "us-west-1", 1);
    CHECK_OK(sy_s3_config_resolve(NULL, &c));
    CHECK_STR(c.host, "minio.example.com");
    CHECK_EQ_INT(c.host_is_local, 0);
    CHECK_STR(c.region, "us-west-1");
    sy_s3_config_free(&c);

    /* explicit options win; a static identity ignores the environment's */
    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_set_str(&o.access_key_id, "opt-key"));
    CHECK_OK(sy_s3_opts_set_str(&o.secret_access_key, "opt-secret"));
    CHECK_OK(sy_s3_opts_set_str(&o.endpoint_url, "http://10.1.2.3:9000"));
    CHECK_OK(sy_s3_opts_set_str(&o.region, "sa-east-1"));
    CHECK_OK(sy_s3_config_resolve(&o, &c));
    CHECK_STR(c.access_key_id, "opt-key");
    CHECK(c.session_token == NULL); /* not taken from AWS_SESSION_TOKEN */
    CHECK_STR(c.cred_source, "options");
    CHECK_STR(c.host, "10.1.2.3:9000");
    CHECK_EQ_INT(c.host_is_local, 1);
    CHECK_STR(c.region, "sa-east-1");
    sy_s3_config_free(&c);
    sy_s3_opts_free(&o);
    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_set_str(&o.access_key_id, "only-key"));
    CHECK_ST(sy_s3_config_resolve(&o, &c), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("access_key_id given without secret_access_key");
    sy_s3_config_free(&c);
    sy_s3_opts_free(&o);
    env_clear();
    setenv("AWS_ACCESS_KEY_ID", "half", 1);
    CHECK_ST(sy_s3_config_resolve(NULL, &c), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("no secret access key");
    sy_s3_config_free(&c);
    env_clear();

    /* bad endpoints */
    static const char *const bad_ep[] = {"ftp://x", "http://", "http://user:pw@host", "http://h/?q=1"};
    for (size_t i = 0; i < sizeof bad_ep / sizeof bad_ep[0]; i++) {
        sy_s3_opts_init(&o);
        CHECK_OK(sy_s3_opts_set_str(&o.endpoint_url, bad_ep[i]));
        CHECK_ST(sy_s3_config_resolve(&o, &c), SHARDY_EINVAL);
        CHECK(!strstr(shardy_errmsg(), "pw@"));
        sy_s3_config_free(&c);
        sy_s3_opts_free(&o);
    }

    /* AWS shared files: credentials [profile], config [profile name] / [default] */
    snprintf(creds, sizeof creds, "%s/credentials", dir);
    snprintf(conf, sizeof conf, "%s/config", dir);
    const char *ctext = "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = defsecret\n\n"
                        "# comment\n[work]\naws_access_key_id=WORKKEY\naws_secret_access_key = worksecret\n"
                        "aws_session_token = worktoken\n";
    const char *ftext = "[default]\nregion = us-east-2\n[profile work]\nregion = eu-north-1\n"
                        "endpoint_url = http://127.0.0.1:9999\ns3 =\n  addressing_style = path\n"
                        "[profile cfgonly]\naws_access_key_id = CFGKEY\naws_secret_access_key = cfgsecret\n";
    write_file(creds, ctext, strlen(ctext), 0600);
    write_file(conf, ftext, strlen(ftext), 0600);
    setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
    setenv("AWS_CONFIG_FILE", conf, 1);
    CHECK_OK(sy_s3_config_resolve(NULL, &c));
    CHECK_STR(c.access_key_id, "DEFKEY");
    CHECK_STR(c.region, "us-east-2");
    CHECK(strstr(c.cred_source, "[default]") != NULL);
    sy_s3_config_free(&c);
    setenv("AWS_PROFILE", "work", 1);
    CHECK_OK(sy_s3_config_resolve(NULL, &c));
    CHECK_STR(c.access_key_id, "WORKKEY");
    CHECK_STR(c.secret_access_key, "worksecret");
    CHECK_STR(c.session_token, "worktoken");
    CHECK_STR(c.region, "eu-north-1");
    CHECK_STR(c.host, "127.0.0.1:9999");
    sy_s3_config_free(&c);
    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_set_str(&o.aws_profile, "cfgonly"));
    CHECK_OK(sy_s3_config_resolve(&o, &c));
    CHECK_STR(c.access_key_id, "CFGKEY");
    CHECK(strstr(c.cred_source, "[profile cfgonly]") != NULL);
    sy_s3_config_free(&c);
    sy_s3_opts_free(&o);
    /* the environment's identity comes before the files */
    setenv("S3_ACCESS_KEY_ID", "envkey", 1);
    setenv("S3_SECRET_ACCESS_KEY", "envsecret", 1);
    CHECK_OK(sy_s3_config_resolve(NULL, &c));
    CHECK_STR(c.access_key_id, "envkey");
    sy_s3_config_free(&c);
    /* ~/.aws via HOME */
    env_clear();
    setenv("HOME", dir, 1);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/.aws' && cp '%s' '%s/.aws/credentials'", dir, creds, dir);
    CHECK_EQ_INT(system(cmd), 0);
    CHECK_OK(sy_s3_config_resolve(NULL, &c));
    CHECK_STR(c.access_key_id, "DEFKEY");
    sy_s3_config_free(&c);

    /* the description of an opened store names the source, never the secret */
    sy_store *s = NULL;
    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_set_str(&o.endpoint_url, "http://127.0.0.1:1"));
    CHECK_OK(sy_store_s3_open(&o, &s));
    if (s) {
        CHECK(strstr(sy_s3_describe(s), "DEFKEY") != NULL);
        CHECK(strstr(sy_s3_describe(s), "defsecret") == NULL);
        CHECK(strstr(sy_s3_describe(s), "path-style") != NULL);
    }
    sy_store_close(&s);
    sy_s3_opts_free(&o);

    /* where requests go: addressing styles, base paths, key encoding */
    env_clear();
    static const struct {
        const char *endpoint, *region, *style, *url, *want;
    } urls[] = {
        {"http://127.0.0.1:9000", NULL, NULL, "s3://bkt/a b/c", "http://127.0.0.1:9000/bkt/a%20b/c"},
        {"http://LOCALHOST:4566/", NULL, NULL, "s3://bkt/k", "http://localhost:4566/bkt/k"},
        {NULL, "eu-west-1", NULL, "s3://bkt/a b/c", "https://bkt.s3.eu-west-1.amazonaws.com/a%20b/c"},
        {NULL, "eu-west-1", NULL, "s3://my.bucket/k", "https://s3.eu-west-1.amazonaws.com/my.bucket/k"},
        {NULL, "eu-west-1", "path", "s3://bkt/k", "https://s3.eu-west-1.amazonaws.com/bkt/k"},
        {"http://localhost:9000", NULL, "virtual", "s3://bkt/k", "http://bkt.localhost:9000/k"},
        {"https://gw.example.com/s3/", NULL, NULL, "s3://bkt/k", "https://bkt.gw.example.com/s3/k"},
        {"https://gw.example.com/s3", NULL, "path", "s3://bkt/k", "https://gw.example.com/s3/bkt/k"},
        {"http://127.0.0.1:1", NULL, NULL, "s3://bkt/a+b=c~d/\xC3\xA9%/.x", "http://127.0.0.1:1/bkt/a%2Bb%3Dc~d/%C3%A9%25/.x"},
        {"http://127.0.0.1:1", NULL, NULL, "s3://bkt", "http://127.0.0.1:1/bkt"},
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        sy_s3_opts_init(&o);
        CHECK_OK(sy_s3_opts_set_str(&o.endpoint_url, urls[i].endpoint));
        CHECK_OK(sy_s3_opts_set_str(&o.region, urls[i].region));
        if (urls[i].style) CHECK_OK(sy_s3_opts_set(&o, "addressing_style", urls[i].style));
        char *got = NULL;
        CHECK_OK(sy_store_s3_open(&o, &s));
        if (s) CHECK_OK(sy_s3_request_url(s, urls[i].url, &got));
        CHECK_STR(got, urls[i].want);
        sy_free(got);
        sy_store_close(&s);
        sy_s3_opts_free(&o);
    }

    env_clear();
    for (size_t i = 0; i < NENV; i++) {
        if (saved[i]) setenv(env_names[i], saved[i], 1);
        free(saved[i]);
    }
}

/* ============================================================================================ */
/* Against moto                                                                                 */

static sy_store *moto_open(long long threshold, long long part, int parallel, int max_attempts) {
    sy_store *s = NULL;
    sy_s3_opts o;
    s3_env_opts("S3", &o);
    if (threshold) o.multipart_threshold = threshold;
    if (part) o.part_size = part;
    if (parallel) o.parallel_parts = parallel;
    if (max_attempts) o.max_attempts = max_attempts;
    CHECK_OK(sy_store_s3_open(&o, &s));
    sy_s3_opts_free(&o);
    return s;
}

static char *U(const char *key) {
    static char bufs[8][512];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "s3://%s/%s", s3_env_bucket(), key);
    return b;
}

static int moto_ready;

static void test_moto_setup(void) {
    if (!s3_env_ready("S3", "S3 tests against moto")) return;
    sy_store *s = moto_open(0, 0, 0, 0);
    REQUIRE(s != NULL);
    CHECK_OK(sy_s3_bucket_create(s, s3_env_bucket()));
    CHECK_OK(sy_s3_bucket_create(s, s3_env_bucket())); /* again: already ours, fine */
    moto_ready = check_failures == 0;
    sy_store_close(&s);
}

static void test_multipart(void) {
    if (!moto_ready) return;
    const size_t mib = 1u << 20;
    sy_store *s = moto_open(5 * mib, 5 * mib, 3, 0);
    REQUIRE(s != NULL);
    size_t len = 17 * mib + 4321; /* 4 parts, the last one short */
    unsigned char *data = malloc(len);
    fill_pattern(data, len, 21);
    CHECK_OK(sy_store_put(s, U("mp/buffer.bin"), data, len, "application/octet-stream"));
    check_object(s, U("mp/buffer.bin"), data, len);
    uint64_t size = 0;
    CHECK_OK(sy_store_size(s, U("mp/buffer.bin"), &size));
    CHECK_EQ_U64(size, len);

    /* put_file (pread by parallel parts) and get_file (streamed to disk) */
    const char *dir = test_tmpdir("s3-mp");
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/src.bin", dir);
    snprintf(dst, sizeof dst, "%s/sub/dst.bin", dir);
    fill_pattern(data, len, 22);
    write_file(src, data, len, 0644);
    CHECK_OK(sy_store_put_file(s, U("mp/file.bin"), src, NULL));
    CHECK_OK(sy_store_get_file(s, U("mp/file.bin"), dst));
    size_t got_len = 0;
    unsigned char *back = read_file(dst, &got_len);
    CHECK(back && got_len == len && memcmp(back, data, len) == 0);
    free(back);
    /* ranged read across a part boundary */
    unsigned char win[4096];
    size_t got = 0;
    CHECK_OK(sy_store_get_range(s, U("mp/file.bin"), 5 * mib - 1000, win, sizeof win, &got));
    CHECK_EQ_U64(got, sizeof win);
    CHECK(memcmp(win, data + 5 * mib - 1000, sizeof win) == 0);
    /* exactly at the threshold: multipart with one part */
    CHECK_OK(sy_store_put(s, U("mp/exact.bin"), data, 5 * mib, NULL));
    check_object(s, U("mp/exact.bin"), data, 5 * mib);

    size_t uploads = 99;
    CHECK_OK(sy_s3_multipart_count(s, U("mp/"), &uploads));
    CHECK_EQ_U64(uploads, 0);
    free(data);
    sy_store_close(&s);
}

static void test_pagination(void) {
    if (!moto_ready) return;
    enum { N = 1234, PAGE = 97 };
    sy_store *s = moto_open(0, 0, 0, 0);
    REQUIRE(s != NULL);
    char key[128];
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "pg/%s/%05d", i % 5 == 0 ? "deep/er" : "flat", i);
        CHECK_OK(sy_store_put(s, U(key), key, strlen(key), NULL));
    }
    printf("pagination: %d puts in %.1f s\n", N, now_s() - t0);

    /* small pages, following start_after = last URL */
    sy_list l;
    size_t total = 0, pages = 0;
    char last[512] = "";
    for (;;) {
        sy_list_opts o = {0, last[0] ? last : NULL, PAGE};
        CHECK_OK(sy_store_list(s, U("pg/"), &o, &l));
        pages++;
        for (size_t i = 0; i < l.n; i++) {
            if (last[0]) CHECK(strcmp(last, l.items[i].url) < 0);
            snprintf(last, sizeof last, "%s", l.items[i].url);
            CHECK(!l.items[i].is_prefix);
            CHECK_EQ_U64(l.items[i].size, strlen(l.items[i].url) - strlen(U("")));
        }
        total += l.n;
        int more = l.truncated;
        CHECK(more ? l.n == PAGE : l.n <= PAGE);
        sy_list_free(&l);
        if (!more || pages > N) break;
    }
    CHECK_EQ_U64(total, N);
    CHECK_EQ_U64(pages, (N + PAGE - 1) / PAGE);

    /* list_all (1000 per page, two server pages and a lookahead) */
    CHECK_OK(sy_store_list_all(s, U("pg/"), 0, &l));
    CHECK_EQ_U64(l.n, N);
    sy_list_free(&l);

    /* delimiter: the rolled-up prefix holds ~250 keys and is returned once; start_after on it
     * skips all of them */
    sy_list_opts d = {'/', NULL, 1};
    CHECK_OK(sy_store_list(s, U("pg/"), &d, &l));
    CHECK_EQ_U64(l.n, 1);
    CHECK(l.truncated == 1);
    if (l.n) CHECK_STR(l.items[0].url, U("pg/deep/"));
    sy_list_free(&l);
    d.start_after = U("pg/deep/");
    d.max_keys = 0;
    CHECK_OK(sy_store_list(s, U("pg/"), &d, &l));
    CHECK_EQ_U64(l.n, 1);
    CHECK_EQ_INT(l.truncated, 0);
    if (l.n) {
        CHECK_STR(l.items[0].url, U("pg/flat/"));
        CHECK_EQ_INT(l.items[0].is_prefix, 1);
    }
    sy_list_free(&l);
    /* start_after in another bucket: before ours → ignored; after → nothing */
    d.start_after = "s3://a/";
    CHECK_OK(sy_store_list(s, U("pg/"), &d, &l));
    CHECK_EQ_U64(l.n, 2);
    sy_list_free(&l);
    d.start_after = "s3://zzzz/";
    CHECK_OK(sy_store_list(s, U("pg/"), &d, &l));
    CHECK_EQ_U64(l.n, 0);
    sy_list_free(&l);

    /* batch delete: a mid-name prefix first, then everything (2 DeleteObjects batches) */
    size_t deleted = 0;
    CHECK_OK(sy_store_delete_prefix(s, U("pg/deep/er/0000"), &deleted));
    CHECK_EQ_U64(deleted, 2); /* 00000, 00005 */
    CHECK_OK(sy_store_delete_prefix(s, U("pg/"), &deleted));
    CHECK_EQ_U64(deleted, N - 2);
    CHECK_OK(sy_store_list_all(s, U("pg/"), 0, &l));
    CHECK_EQ_U64(l.n, 0);
    sy_list_free(&l);
    sy_store_close(&s);
}

/* Keys with characters that need encoding in paths, queries and XML. */
static void test_odd_keys(void) {
    if (!moto_ready) return;
    sy_store *s = moto_open(0, 0, 0, 0);
    REQUIRE(s != NULL);
    static const char *const keys[] = {"odd/a b", "odd/a+b", "odd/100%", "odd/x&y<z>\"'", "odd/\xC3\xA9t\xC3\xA9",
                                       "odd/q?x=1#f", "odd/~tilde", "odd/eq=run=1"};
    size_t n = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < n; i++) CHECK_OK(sy_store_put(s, U(keys[i]), keys[i], strlen(keys[i]), NULL));
    for (size_t i = 0; i < n; i++) check_object(s, U(keys[i]), keys[i], strlen(keys[i]));
    sy_list l;
    CHECK_OK(sy_store_list_all(s, U("odd/"), 0, &l));
    CHECK_EQ_U64(l.n, n);
    for (size_t i = 0; i < l.n; i++) {
        int found = 0;
        for (size_t k = 0; k < n; k++) found |= !strcmp(l.items[i].url, U(keys[k]));
        CHECK(found);
        if (!found) fprintf(stderr, "  unexpected listed URL %s\n", l.items[i].url);
    }
    sy_list_free(&l);
    sy_list_opts o = {0, U("odd/a b"), 0};
    CHECK_OK(sy_store_list(s, U("odd/a"), &o, &l));
    CHECK_EQ_U64(l.n, 1);
    if (l.n) CHECK_STR(l.items[0].url, U("odd/a+b"));
    sy_list_free(&l);
    size_t deleted = 0;
    CHECK_OK(sy_store_delete_prefix(s, U("odd/"), &deleted));
    CHECK_EQ_U64(deleted, n);
    sy_store_close(&s);
}

static void test_errors(void) {
    if (!moto_ready) return;
    sy_store *s = moto_open(0, 0, 0, 0);
    REQUIRE(s != NULL);
    sy_buf b = SY_BUF_INIT;
    CHECK_ST(sy_store_get(s, "s3://no-such-bucket-shardy/k", &b), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("get s3://no-such-bucket-shardy/k: HTTP 404 NoSuchBucket");
    CHECK_ST(sy_store_put(s, "s3://no-such-bucket-shardy/k", "v", 1, NULL), SHARDY_ESTORE);
    CHECK_ERRMSG_HAS("put s3://no-such-bucket-shardy/k: HTTP 404 NoSuchBucket");
    CHECK_OK(sy_store_put(s, U("err/obj"), "0123456789", 10, NULL));
    size_t got = 9;
    char dst[16];
    CHECK_OK(sy_store_get_range(s, U("err/obj"), 10, dst, sizeof dst, &got)); /* at the end: 416 */
    CHECK_EQ_U64(got, 0);
    CHECK_OK(sy_store_get_range(s, U("err/obj"), 8, dst, sizeof dst, &got));
    CHECK_EQ_U64(got, 2);
    CHECK(memcmp(dst, "89", 2) == 0);
    sy_store_close(&s);

    /* nothing listening: a connection error, retried, then a clear message */
    sy_s3_opts o;
    sy_s3_opts_init(&o);
    CHECK_OK(sy_s3_opts_parse(&o, "endpoint_url=http://127.0.0.1:9"));
    CHECK_OK(sy_s3_opts_parse(&o, "max_attempts=3"));
    CHECK_OK(sy_s3_opts_parse(&o, "retry_base_ms=10"));
    CHECK_OK(sy_store_s3_open(&o, &s));
    sy_s3_opts_free(&o);
    REQUIRE(s != NULL);
    double t0 = now_s();
    CHECK_ST(sy_store_get(s, "s3://b/k", &b), SHARDY_ESTORE);
    CHECK_ERRMSG_HAS("get s3://b/k: Couldn't connect to server");
    CHECK_ERRMSG_HAS("(gave up after 3 attempts)");
    CHECK_ERRMSG_HAS("Couldn't connect to server");
    CHECK(now_s() - t0 < 10);
    sy_store_close(&s);
    sy_buf_free(&b);
}

/* ============================================================================================ */
/* Against s3s-fs: signatures are checked                                                       */

static void test_auth(void) {
    if (!s3_env_ready("S3S", "S3 signature tests against s3s-fs")) return;
    char bucket[64], url[128], big_url[128], root[128], sec[128], evil[128], evil_big[128], evil2[128];
    snprintf(bucket, sizeof bucket, "shardy-auth-%d", (int)getpid());
    snprintf(root, sizeof root, "s3://%s/", bucket);
    snprintf(sec, sizeof sec, "s3://%s/secured/", bucket);
    snprintf(url, sizeof url, "s3://%s/secured/obj", bucket);
    snprintf(big_url, sizeof big_url, "s3://%s/secured/big", bucket);
    snprintf(evil, sizeof evil, "s3://%s/secured/evil", bucket);
    snprintf(evil_big, sizeof evil_big, "s3://%s/secured/evil-big", bucket);
    snprintf(evil2, sizeof evil2, "s3://%s/secured/evil2", bucket);
    sy_store *s = NULL, *bad = NULL;
    sy_s3_opts o;
    sy_buf b = SY_BUF_INIT;
    s3_env_opts("S3S", &o);
    o.multipart_threshold = 5ll << 20;
    o.part_size = 5ll << 20;
    CHECK_OK(sy_store_s3_open(&o, &s));
    REQUIRE(s != NULL);
    CHECK_OK(sy_s3_bucket_create(s, bucket));

    /* the right secret: every kind of request is accepted */
    CHECK_OK(sy_store_put(s, url, "signed", 6, "text/plain"));
    CHECK_OK(sy_store_get(s, url, &b));
    CHECK_STR(b.data, "signed");
    size_t len = (11u << 20) + 5;
    unsigned char *big = malloc(len);
    fill_pattern(big, len, 5);
    CHECK_OK(sy_store_put(s, big_url, big, len, NULL)); /* multipart */
    check_object(s, big_url, big, len);
    sy_list l;
    sy_list_opts d = {'/', NULL, 0};
    CHECK_OK(sy_store_list(s, root, &d, &l));
    CHECK_EQ_U64(l.n, 1);
    if (l.n) CHECK_STR(l.items[0].url, sec);
    sy_list_free(&l);

    /* connections are reused (s3s-fs keeps them alive; moto closes every one) */
    uint64_t reqs0 = 0, conns0 = 0, reqs = 0, conns = 0;
    sy_s3_counters(s, &reqs0, &conns0);
    for (int i = 0; i < 20; i++) {
        CHECK_OK(sy_store_put(s, url, "signed", 6, "text/plain"));
        CHECK_OK(sy_store_get(s, url, &b));
    }
    sy_s3_counters(s, &reqs, &conns);
    CHECK_EQ_U64(reqs - reqs0, 40);
    CHECK(conns - conns0 <= 1);
    if (conns - conns0 > 1) fprintf(stderr, "  %llu connections for 40 requests\n", (unsigned long long)(conns - conns0));

    /* a wrong secret: SHARDY_EAUTH, the S3 code, the URL, no secret, nothing written */
    const char *secret = o.secret_access_key;
    char wrong[128];
    snprintf(wrong, sizeof wrong, "%s-wrong", secret);
    sy_s3_opts w;
    CHECK_OK(sy_s3_opts_copy(&w, &o));
    CHECK_OK(sy_s3_opts_set_str(&w.secret_access_key, wrong));
    w.max_attempts = 3;
    CHECK_OK(sy_store_s3_open(&w, &bad));
    REQUIRE(bad != NULL);
    CHECK_ST(sy_store_put(bad, evil, "x", 1, NULL), SHARDY_EAUTH);
    char want[256];
    snprintf(want, sizeof want, "put %s: HTTP 403 SignatureDoesNotMatch", evil);
    CHECK_ERRMSG_HAS(want);
    CHECK_ERRMSG_HAS("credentials: options, access key id");
    CHECK(!strstr(shardy_errmsg(), wrong) && !strstr(shardy_errmsg(), secret));
    CHECK(!strstr(shardy_errmsg(), "gave up")); /* 403 is permanent: not retried */
    CHECK_ST(sy_store_put(bad, evil_big, big, len, NULL), SHARDY_EAUTH);
    CHECK_ST(sy_store_get(bad, url, &b), SHARDY_EAUTH);
    CHECK_EQ_U64(b.len, 0);
    uint64_t size = 0;
    CHECK_ST(sy_store_size(bad, url, &size), SHARDY_EAUTH);
    CHECK_ERRMSG_HAS("HTTP 403");
    CHECK_ST(sy_store_list(bad, root, NULL, &l), SHARDY_EAUTH);
    CHECK_ST(sy_store_delete(bad, url), SHARDY_EAUTH);
    CHECK_ST(sy_store_delete_prefix(bad, sec, NULL), SHARDY_EAUTH);
    sy_store_close(&bad);
    sy_s3_opts_free(&w);

    /* an unknown access key */
    CHECK_OK(sy_s3_opts_copy(&w, &o));
    CHECK_OK(sy_s3_opts_set_str(&w.access_key_id, "NOSUCHKEY"));
    CHECK_OK(sy_store_s3_open(&w, &bad));
    CHECK_ST(sy_store_put(bad, evil2, "x", 1, NULL), SHARDY_EAUTH);
    CHECK_ERRMSG_HAS("HTTP 403");
    sy_store_close(&bad);
    sy_s3_opts_free(&w);

    /* nothing was written by the rejected requests, and the good object is intact */
    CHECK_OK(sy_store_list_all(s, sec, 0, &l));
    CHECK_EQ_U64(l.n, 2);
    for (size_t i = 0; i < l.n; i++) CHECK(!strstr(l.items[i].url, "evil"));
    sy_list_free(&l);
    check_object(s, url, "signed", 6);
    size_t deleted = 0;
    CHECK_OK(sy_store_delete_prefix(s, sec, &deleted));
    CHECK_EQ_U64(deleted, 2);
    free(big);
    sy_buf_free(&b);
    sy_s3_opts_free(&o);
    sy_store_close(&s);
}

/* ============================================================================================ */
/* Fault injection: tests/s3/faultproxy.py between the client and moto                           */

typedef struct proxy {
    pid_t pid;
    int port;
    char stats[1024];
} proxy;

/* Starts the proxy with extra arguments (NULL-terminated); 0 on failure. */
static int proxy_start(proxy *p, const char *name, const char *const *extra) {
    const char *script = getenv("SHARDY_TEST_FAULTPROXY");
    const char *ep = getenv("SHARDY_TEST_S3_ENDPOINT");
    char upstream[128];
    const char *argv[40];
    int n = 0, fds[2];
    memset(p, 0, sizeof *p);
    if (!script || !ep || strncmp(ep, "http://", 7)) return 0;
    snprintf(upstream, sizeof upstream, "%s", ep + 7);
    snprintf(p->stats, sizeof p->stats, "%s/stats", test_tmpdir(name));
    argv[n++] = "python3";
    argv[n++] = script;
    argv[n++] = "--upstream";
    argv[n++] = upstream;
    argv[n++] = "--stats";
    argv[n++] = p->stats;
    argv[n++] = "--lifetime";
    argv[n++] = "900";
    for (size_t i = 0; extra[i] && n < 38; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    if (pipe(fds) != 0) return 0;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    int rc = posix_spawnp(&p->pid, "python3", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return 0;
    }
    char line[64] = "";
    FILE *fp = fdopen(fds[0], "r");
    if (!fp || !fgets(line, sizeof line, fp) || sscanf(line, "PORT %d", &p->port) != 1) {
        if (fp) fclose(fp);
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        return 0;
    }
    fclose(fp);
    return 1;
}

static void proxy_stop(proxy *p) {
    if (p->pid <= 0) return;
    kill(p->pid, SIGTERM);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

/* Count of fault `kind` from the proxy's stats file. */
static long proxy_count(const proxy *p, const char *kind) {
    char k[64];
    long v, found = 0;
    FILE *fp = fopen(p->stats, "r");
    if (!fp) return 0;
    while (fscanf(fp, "%63s %ld", k, &v) == 2)
        if (!strcmp(k, kind)) found = v;
    fclose(fp);
    return found;
}

/* A store that talks to moto through the proxy. */
static sy_store *proxied_store(const proxy *p, int max_attempts, long read_timeout, long long part) {
    sy_store *s = NULL;
    sy_s3_opts o;
    char ep[64];
    s3_env_opts("S3", &o);
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", p->port);
    if (sy_s3_opts_set_str(&o.endpoint_url, ep)) abort();
    o.max_attempts = max_attempts;
    o.read_timeout = read_timeout;
    o.connect_timeout = 5;
    o.retry_base_ms = 10;
    o.retry_cap_ms = 100;
    if (part) {
        o.part_size = part;
        o.multipart_threshold = part;
        o.parallel_parts = 2;
    }
    CHECK_OK(sy_store_s3_open(&o, &s));
    sy_s3_opts_free(&o);
    return s;
}

static void test_faults_each_kind(void) {
    if (!moto_ready) return;
    proxy p;
    size_t len = 300000;
    unsigned char *data = malloc(len);
    fill_pattern(data, len, 31);
    sy_store *direct = moto_open(0, 0, 0, 0);
    /* every fault once, on GETs, then on PUTs; 8 attempts are enough for all of them */
    const char *const sched[] = {"--schedule", "503,500,429,reset,reset-after,slow,truncate", "--slow-seconds", "3",
                                 "--only", "GET", NULL};
    REQUIRE(proxy_start(&p, "fault-get", sched));
    sy_store *s = proxied_store(&p, 8, 1, 0);
    CHECK_OK(sy_store_put(direct, U("fault/get.bin"), data, len, NULL));
    double t0 = now_s();
    check_object(s, U("fault/get.bin"), data, len);
    printf("faults on GET: %.1f s\n", now_s() - t0);
    static const char *const kinds[] = {"503", "500", "429", "reset", "reset-after", "slow", "truncate"};
    for (size_t i = 0; i < 7; i++) {
        CHECK_EQ_INT(proxy_count(&p, kinds[i]), 1);
        if (proxy_count(&p, kinds[i]) != 1) fprintf(stderr, "  fault %s not injected\n", kinds[i]);
    }
    /* get_file and get_range under the same faults */
    proxy_stop(&p);
    sy_store_close(&s);
    REQUIRE(proxy_start(&p, "fault-getfile", sched));
    s = proxied_store(&p, 8, 1, 0);
    const char *dir = test_tmpdir("s3-fault-files");
    char dst[1024];
    snprintf(dst, sizeof dst, "%s/got.bin", dir);
    CHECK_OK(sy_store_get_file(s, U("fault/get.bin"), dst));
    size_t got_len = 0;
    unsigned char *back = read_file(dst, &got_len);
    CHECK(back && got_len == len && memcmp(back, data, len) == 0);
    free(back);
    unsigned char win[1000];
    size_t got = 0;
    CHECK_OK(sy_store_get_range(s, U("fault/get.bin"), 1234, win, sizeof win, &got));
    CHECK_EQ_U64(got, sizeof win);
    CHECK(memcmp(win, data + 1234, sizeof win) == 0);
    CHECK(proxy_count(&p, "truncate") == 1);
    proxy_stop(&p);
    sy_store_close(&s);

    const char *const psched[] = {"--schedule", "503,500,429,reset,reset-after,slow,truncate", "--slow-seconds", "3",
                                  "--only", "PUT", NULL};
    REQUIRE(proxy_start(&p, "fault-put", psched));
    s = proxied_store(&p, 8, 1, 0);
    fill_pattern(data, len, 32);
    CHECK_OK(sy_store_put(s, U("fault/put.bin"), data, len, NULL));
    check_object(direct, U("fault/put.bin"), data, len);
    CHECK_EQ_INT(proxy_count(&p, "reset-after"), 1);
    proxy_stop(&p);
    sy_store_close(&s);

    /* retries exhausted: a clear message naming the last failure */
    const char *const always[] = {"--schedule", "503,503,503,503", NULL};
    REQUIRE(proxy_start(&p, "fault-giveup", always));
    s = proxied_store(&p, 3, 2, 0);
    sy_buf b = SY_BUF_INIT;
    CHECK_ST(sy_store_get(s, U("fault/get.bin"), &b), SHARDY_ESTORE);
    CHECK_ERRMSG_HAS("gave up after 3 attempts");
    CHECK_ERRMSG_HAS("HTTP 503 SlowDown");
    CHECK_ERRMSG_HAS(U("fault/get.bin"));
    CHECK_EQ_U64(b.len, 0);
    proxy_stop(&p);
    sy_store_close(&s);

    /* a truncated body with no attempt left is an error, never short data */
    const char *const trunc[] = {"--schedule", "truncate", NULL};
    REQUIRE(proxy_start(&p, "fault-trunc", trunc));
    s = proxied_store(&p, 1, 2, 0);
    CHECK_ST(sy_store_get(s, U("fault/get.bin"), &b), SHARDY_ESTORE);
    CHECK(strstr(shardy_errmsg(), "Transferred a partial file") || strstr(shardy_errmsg(), "truncated") ||
          strstr(shardy_errmsg(), "Failure when receiving data from the peer"));
    printf("truncated body, no retry left: %s\n", shardy_errmsg());
    CHECK_EQ_U64(b.len, 0);
    proxy_stop(&p);
    sy_store_close(&s);

    /* a stalled answer with no attempt left is a timeout */
    const char *const slow[] = {"--schedule", "slow", "--slow-seconds", "4", NULL};
    REQUIRE(proxy_start(&p, "fault-slow", slow));
    s = proxied_store(&p, 1, 1, 0);
    t0 = now_s();
    CHECK_ST(sy_store_get(s, U("fault/get.bin"), &b), SHARDY_ETIMEOUT);
    CHECK_ERRMSG_HAS("Timeout was reached");
    CHECK(now_s() - t0 < 3.5);
    proxy_stop(&p);
    sy_store_close(&s);
    sy_buf_free(&b);
    sy_store_close(&direct);
    free(data);
}

static void test_faults_multipart(void) {
    if (!moto_ready) return;
    proxy p;
    const long long part = 5ll << 20;
    size_t len = (size_t)(3 * part + 999);
    unsigned char *data = malloc(len);
    fill_pattern(data, len, 41);
    sy_store *direct = moto_open(0, 0, 0, 0);
    size_t uploads = 99;

    /* parts fail permanently (every PUT is refused): the upload is aborted, nothing is left */
    const char *const puts_fail[] = {"--schedule", "503,503,503,503,503,503,503,503,503,503,503,503", "--only", "PUT",
                                     NULL};
    REQUIRE(proxy_start(&p, "fault-mp-fail", puts_fail));
    sy_store *s = proxied_store(&p, 2, 2, part);
    CHECK_ST(sy_store_put(s, U("mpfault/failed.bin"), data, len, NULL), SHARDY_ESTORE);
    CHECK_ERRMSG_HAS("put (part ");
    CHECK_ERRMSG_HAS("HTTP 503 SlowDown");
    CHECK_ERRMSG_HAS("the multipart upload was aborted");
    CHECK_OK(sy_s3_multipart_count(direct, U("mpfault/"), &uploads));
    CHECK_EQ_U64(uploads, 0);
    uint64_t size = 0;
    CHECK_ST(sy_store_size(direct, U("mpfault/failed.bin"), &size), SHARDY_ENOTFOUND);
    proxy_stop(&p);
    sy_store_close(&s);

    /* parts and every abort attempt fail: the upload stays (the error says so), and
     * sy_store_abort_uploads over its prefix finds and aborts it */
    {
        char sched[40 * 4 + 1] = "";
        for (int i = 0; i < 40; i++) strcat(sched, i ? ",503" : "503");
        const char *const all_fail[] = {"--schedule", sched, "--only", "PUT,DELETE", NULL};
        REQUIRE(proxy_start(&p, "fault-mp-abort-fails", all_fail));
        s = proxied_store(&p, 2, 2, part);
        CHECK_ST(sy_store_put(s, U("mpfault/stuck/a.bin"), data, len, NULL), SHARDY_ESTORE);
        CHECK_ERRMSG_HAS("aborting multipart upload");
        CHECK_ERRMSG_HAS("failed too");
        CHECK_OK(sy_s3_multipart_count(direct, U("mpfault/"), &uploads));
        CHECK_EQ_U64(uploads, 1);
        size_t aborted = 99;
        CHECK_OK(sy_store_abort_uploads(direct, U("mpfault/other/"), &aborted)); /* another prefix */
        CHECK_EQ_U64(aborted, 0);
        CHECK_OK(sy_store_abort_uploads(direct, U("mpfault/stuck/"), &aborted));
        CHECK_EQ_U64(aborted, 1);
        CHECK_OK(sy_s3_multipart_count(direct, U("mpfault/"), &uploads));
        CHECK_EQ_U64(uploads, 0);
        CHECK_OK(sy_store_abort_uploads(direct, U("mpfault/stuck/"), &aborted)); /* nothing left */
        CHECK_EQ_U64(aborted, 0);
        proxy_stop(&p);
        sy_store_close(&s);
    }

    /* the Complete request succeeds upstream but its answer is lost: the retry finds
     * NoSuchUpload, and the object's ETag proves the first Complete worked */
    const char *const lost[] = {"--schedule", "ok,reset-after", "--only", "POST", NULL};
    REQUIRE(proxy_start(&p, "fault-mp-complete", lost));
    s = proxied_store(&p, 3, 2, part);
    CHECK_OK(sy_store_put(s, U("mpfault/lostanswer.bin"), data, len, NULL));
    CHECK_EQ_INT(proxy_count(&p, "reset-after"), 1);
    check_object(direct, U("mpfault/lostanswer.bin"), data, len);
    proxy_stop(&p);
    sy_store_close(&s);

    /* random faults on everything: each upload succeeds with the right bytes or fails cleanly;
     * either way no upload is left */
    const char *const rnd[] = {"--random", "0.25", "--seed", "7", "--slow-seconds", "2", NULL};
    REQUIRE(proxy_start(&p, "fault-mp-random", rnd));
    s = proxied_store(&p, 4, 1, part);
    int ok = 0, failed = 0;
    for (int i = 0; i < 4; i++) {
        char key[64];
        snprintf(key, sizeof key, "mpfault/rnd%d.bin", i);
        fill_pattern(data, len, 50 + (unsigned)i);
        shardy_status st = sy_store_put(s, U(key), data, len, NULL);
        if (st == SHARDY_OK) {
            ok++;
            check_object(direct, U(key), data, len);
        } else {
            failed++;
            CHECK(st == SHARDY_ESTORE || st == SHARDY_ETIMEOUT);
            CHECK_ERRMSG_HAS(U(key));
            CHECK(strstr(shardy_errmsg(), "aborted") != NULL);
            printf("random-fault upload %d failed cleanly: %s\n", i, shardy_errmsg());
            CHECK_ST(sy_store_size(direct, U(key), &size), SHARDY_ENOTFOUND);
        }
    }
    long injected = 0;
    static const char *const kinds[] = {"503", "500", "429", "reset", "reset-after", "slow", "truncate"};
    for (size_t i = 0; i < 7; i++) injected += proxy_count(&p, kinds[i]);
    printf("random faults on multipart: %d ok, %d failed, %ld faults injected in %ld requests\n", ok, failed,
           injected, proxy_count(&p, "requests"));
    CHECK(injected > 0);
    CHECK(ok > 0);
    CHECK_OK(sy_s3_multipart_count(direct, U("mpfault/"), &uploads));
    CHECK_EQ_U64(uploads, 0);
    proxy_stop(&p);
    sy_store_close(&s);

    /* random faults on small puts and gets: exact bytes or a clear error */
    const char *const rnd2[] = {"--random", "0.3", "--seed", "11", "--slow-seconds", "2", NULL};
    REQUIRE(proxy_start(&p, "fault-small-random", rnd2));
    s = proxied_store(&p, 3, 1, 0);
    int small_ok = 0, small_failed = 0;
    for (int i = 0; i < 30; i++) {
        char key[64], val[64];
        snprintf(key, sizeof key, "smallfault/%02d", i);
        snprintf(val, sizeof val, "value-%d-%s", i, key);
        shardy_status st = sy_store_put(s, U(key), val, strlen(val), NULL);
        sy_buf b = SY_BUF_INIT;
        if (st == SHARDY_OK) st = sy_store_get(s, U(key), &b);
        if (st == SHARDY_OK) {
            small_ok++;
            CHECK(b.len == strlen(val) && !memcmp(b.data, val, b.len));
        } else {
            small_failed++;
            CHECK(st == SHARDY_ESTORE || st == SHARDY_ETIMEOUT);
            CHECK_ERRMSG_HAS(U(key));
            CHECK_EQ_U64(b.len, 0);
        }
        sy_buf_free(&b);
    }
    printf("random faults on small put+get: %d ok, %d failed cleanly\n", small_ok, small_failed);
    CHECK(small_ok > 0);
    proxy_stop(&p);
    sy_store_close(&s);
    size_t deleted = 0;
    CHECK_OK(sy_store_delete_prefix(direct, U("mpfault/"), &deleted));
    CHECK_OK(sy_store_delete_prefix(direct, U("smallfault/"), &deleted));
    sy_store_close(&direct);
    free(data);
}

TEST_MAIN(test_opts_parse, test_toml, test_profile, test_resolution, test_moto_setup, test_multipart,
          test_pagination, test_odd_keys, test_errors, test_auth, test_faults_each_kind, test_faults_multipart)
