/*
 * bench_s3.c — s3:// throughput of libshardy against the curl command-line tool, measured in the
 * same run on the same server and the same objects (name=value lines, like bench/bench.c).
 *
 *   s3_put_mb_per_s    sy_store_put of N objects of S MiB from memory with the library's defaults
 *                      (multipart from 64 MiB: 16 MiB parts, 4 in parallel)
 *   s3_put_single_mb_per_s  the same with multipart off: one PUT per object, the request curl makes
 *                      (moto's CompleteMultipartUpload re-copies and re-hashes the whole object in
 *                      Python, ~0.35 s per 64 MiB whoever the client is, so against moto the
 *                      multipart figure measures moto; against S3 parallel parts are the fast way)
 *   s3_get_mb_per_s    sy_store_get of the same objects into memory
 *   curl_put_mb_per_s  `curl --aws-sigv4 ... -T file` of the same bytes, one process per object
 *   curl_get_mb_per_s  `curl --aws-sigv4 ... -o /dev/null`, one process per object
 *   *_ratio            ours / curl (target >= 0.8)
 *   exchange_*         a two-stage build (2 exchange partitions of 400k rows with 100-byte values,
 *                      16 shards): sections per exchange object as stage 1 wrote them locally
 *                      (exchange_sections_file, on a file:// prefix: many per shard) and as uploaded
 *                      to s3:// (exchange_sections_s3: regrouped, one per shard), and the GETs the
 *                      16 stage-2 attempts make on s3:// (exchange_stage2_gets)
 * curl gets its key and secret from a config file (mode 0600, deleted afterwards), never argv.
 *
 * Usage: shardy_bench_s3 [--endpoint URL] [--size MiB] [--count N] [--rounds R]
 *                        [--multipart-threshold MiB] [--part-size MiB] [--parallel N]
 * The endpoint and keys default to SHARDY_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY (see
 * tests/s3/servers.sh). Each figure is the best of R rounds (default 3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "shardy.h"
#include "core/buf.h"
#include "core/localfs.h"
#include "store/s3.h"
#include "store/store.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "bench_s3: %s: %s\n", what, detail);
    exit(1);
}

static void fill(unsigned char *p, size_t n, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
}

/* Runs argv (no shell), stdout and stderr to /dev/null; dies unless it exits 0. */
static void run(char *const argv[]) {
    pid_t pid = fork();
    if (pid < 0) die("fork", strerror(errno));
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    size_t n = 0;
    while (argv[n + 1]) n++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("curl failed for", argv[n]);
}

static uint64_t method_total(const uint64_t c[SY_S3_METHOD_N]) {
    uint64_t t = 0;
    for (int i = 0; i < SY_S3_METHOD_N; i++) t += c[i];
    return t;
}

/* The public API's S3 settings for the request counts: a 0600 credentials.toml in dir (path in
 * cred) and the endpoint option (in ep). */
static void write_credentials(char *cred, size_t ncred, char *ep, size_t nep, const char *dir, const char *endpoint,
                              const char *key, const char *secret) {
    snprintf(cred, ncred, "%s/credentials.toml", dir);
    FILE *fp = fopen(cred, "w");
    if (!fp) die("credentials file", strerror(errno));
    fprintf(fp, "[default]\naccess_key_id = \"%s\"\nsecret_access_key = \"%s\"\n", key, secret);
    fclose(fp);
    chmod(cred, 0600);
    snprintf(ep, nep, "endpoint_url=%s", endpoint);
}

/* Requests of the public API on s3://: PUTs of one 16-shard build (run record, shards, manifest,
 * _CURRENT), and every request a fresh reader makes up to its first get (pointer, manifest, shard
 * downloads). Identity through a 0600 credentials.toml in dir, endpoint through s3_options. */
static void request_counts(const char *dir, const char *bucket, const char *endpoint, const char *key,
                           const char *secret) {
    char cred[256], ep[512], prefix[256], cache[256];
    write_credentials(cred, sizeof cred, ep, sizeof ep, dir, endpoint, key, secret);
    const char *s3o[] = {ep, "region_name=us-east-1"};
    snprintf(prefix, sizeof prefix, "s3://%s/snap", bucket);
    snprintf(cache, sizeof cache, "%s/cache", dir);

    uint64_t c0[SY_S3_METHOD_N], c1[SY_S3_METHOD_N], c2[SY_S3_METHOD_N];
    shardy_build_opts bo;
    shardy_build_opts_init(&bo);
    bo.prefix = prefix;
    bo.num_dbs = 16;
    bo.s3_options = s3o;
    bo.n_s3_options = 2;
    bo.credentials_file = cred;
    bo.local_dir = dir;
    shardy_builder *b = NULL;
    shardy_build_result *res = NULL;
    sy_s3_method_counts(c0);
    if (shardy_builder_open(&bo, &b)) die("builder", shardy_errmsg());
    for (int64_t i = 0; i < 100000; i++) {
        shardy_key k = shardy_key_int(i);
        if (shardy_builder_add(b, &k, "value", 5)) die("add", shardy_errmsg());
    }
    if (shardy_builder_finish(b, &res)) die("build", shardy_errmsg());
    shardy_build_result_free(&res);
    shardy_builder_close(&b);
    sy_s3_method_counts(c1);

    shardy_reader_opts ro;
    shardy_reader_opts_init(&ro);
    ro.current_url = prefix;
    ro.s3_options = s3o;
    ro.n_s3_options = 2;
    ro.credentials_file = cred;
    ro.local_root = cache;
    shardy_reader *r = NULL;
    if (shardy_reader_open(&ro, &r)) die("reader", shardy_errmsg());
    char v[16];
    size_t vl = 0;
    int found = 0;
    shardy_key k = shardy_key_int(4242);
    if (shardy_reader_get(r, &k, v, sizeof v, &vl, &found) || !found) die("get", "key 4242 not found");
    sy_s3_method_counts(c2);
    shardy_reader_close(&r);
    printf("puts_per_build=%llu\n", (unsigned long long)(c1[SY_S3_PUT] - c0[SY_S3_PUT]));
    printf("requests_per_build=%llu\n", (unsigned long long)(method_total(c1) - method_total(c0)));
    printf("gets_per_cold_get=%llu\n", (unsigned long long)(method_total(c2) - method_total(c1)));
    unlink(cred);
}

/* Sections in an exchange result (its "sections" array), and, with w, each one of shard db added
 * to w (in order). */
static size_t exchange_sections(const char *json, shardy_attempt_writer *w, uint32_t db) {
    json_object *o = json_tokener_parse(json), *secs, *url, *f;
    if (!o || !json_object_object_get_ex(o, "sections", &secs) || !json_object_object_get_ex(o, "url", &url))
        die("exchange result", json);
    size_t n = json_object_array_length(secs);
    for (size_t i = 0; w && i < n; i++) {
        json_object *sec = json_object_array_get_idx(secs, i);
        uint64_t v[4];
        const char *names[4] = {"db_id", "offset", "length", "rows"};
        for (int k = 0; k < 4; k++) {
            if (!json_object_object_get_ex(sec, names[k], &f)) die("exchange section", json);
            v[k] = (uint64_t)json_object_get_int64(f);
        }
        if (v[0] == db && shardy_attempt_add_section(w, json_object_get_string(url), v[1], v[2], v[3]))
            die("add section", shardy_errmsg());
    }
    json_object_put(o);
    return n;
}

/* One two-stage build on prefix (see the header); returns the sections of the exchange objects and
 * the GETs (all stores count s3 requests only) of stage 2. */
static void two_stage(const char *prefix, const char *run_id, const char *dir, const char *const *s3o, size_t ns3o,
                      const char *cred, size_t *sections, uint64_t *gets) {
    enum { PARTS = 2, DBS = 16, ROWS = 400000 };
    shardy_build_opts bo;
    shardy_build_opts_init(&bo);
    bo.prefix = prefix;
    bo.num_dbs = DBS;
    bo.run_id = run_id;
    bo.s3_options = s3o;
    bo.n_s3_options = ns3o;
    bo.credentials_file = cred;
    bo.local_dir = dir;
    shardy_run *run = NULL;
    if (shardy_run_open(&bo, &run)) die("run", shardy_errmsg());
    char *xs[PARTS];
    unsigned char value[100];
    memset(value, 'v', sizeof value);
    for (uint32_t p = 0; p < PARTS; p++) {
        shardy_exchange_info info = {p, 0};
        shardy_exchange_writer *x = NULL;
        if (shardy_exchange_open(&bo, &info, &x)) die("exchange", shardy_errmsg());
        for (int64_t i = 0; i < ROWS; i++) {
            int64_t key = i * PARTS + p;
            shardy_key k = shardy_key_int(key);
            memcpy(value, &key, sizeof key);
            if (shardy_exchange_add(x, (uint32_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 60), &k, value,
                                    sizeof value))
                die("exchange add", shardy_errmsg());
        }
        if (shardy_exchange_finish(x, &xs[p])) die("exchange finish", shardy_errmsg());
        shardy_exchange_close(&x);
    }
    *sections = 0;
    for (int p = 0; p < PARTS; p++) *sections += exchange_sections(xs[p], NULL, 0);
    uint64_t c0[SY_S3_METHOD_N], c1[SY_S3_METHOD_N];
    sy_s3_method_counts(c0);
    sy_buf all = SY_BUF_INIT;
    for (uint32_t d = 0; d < DBS; d++) {
        shardy_attempt_info info = {d, 0, SHARDY_NO_ID, (int64_t)d};
        shardy_attempt_writer *w = NULL;
        char *res = NULL;
        if (shardy_attempt_open(&bo, &info, &w)) die("attempt", shardy_errmsg());
        for (int p = 0; p < PARTS; p++) exchange_sections(xs[p], w, d);
        if (shardy_attempt_finish(w, &res)) die("attempt finish", shardy_errmsg());
        shardy_attempt_close(&w);
        if (sy_buf_printf(&all, "%s%s", d ? "," : "[", res)) die("out of memory", "");
        shardy_free(res);
    }
    sy_s3_method_counts(c1);
    *gets = c1[SY_S3_GET] - c0[SY_S3_GET];
    char *pub = NULL;
    if (sy_buf_puts(&all, "]") || shardy_run_publish(run, all.data, &pub)) die("publish", shardy_errmsg());
    shardy_free(pub);
    shardy_run_close(&run);
    sy_buf_free(&all);
    for (int p = 0; p < PARTS; p++) shardy_free(xs[p]);
}

static void exchange_counts(const char *dir, const char *bucket, const char *endpoint, const char *key,
                            const char *secret) {
    char cred[256], ep[512], prefix[320], local[256];
    write_credentials(cred, sizeof cred, ep, sizeof ep, dir, endpoint, key, secret);
    const char *s3o[] = {ep, "region_name=us-east-1"};
    size_t file_secs = 0, s3_secs = 0;
    uint64_t file_gets = 0, s3_gets = 0;
    snprintf(local, sizeof local, "%s/x-local", dir);
    snprintf(prefix, sizeof prefix, "file://%s/x-snap", dir);
    two_stage(prefix, "bench-x-file", local, NULL, 0, NULL, &file_secs, &file_gets);
    snprintf(prefix, sizeof prefix, "s3://%s/x-snap", bucket);
    two_stage(prefix, "bench-x-s3", local, s3o, 2, cred, &s3_secs, &s3_gets);
    printf("exchange_sections_file=%zu\n", file_secs);
    printf("exchange_sections_s3=%zu\n", s3_secs);
    printf("exchange_stage2_gets=%llu\n", (unsigned long long)s3_gets);
    unlink(cred);
}

int main(int argc, char **argv) {
    const char *endpoint = getenv("SHARDY_TEST_S3_ENDPOINT");
    const char *key = getenv("SHARDY_TEST_S3_ACCESS_KEY");
    const char *secret = getenv("SHARDY_TEST_S3_SECRET_KEY");
    size_t size_mib = 64;
    long long threshold_mib = 0, part_mib = 0;
    int count = 4, rounds = 3, parallel = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--endpoint")) endpoint = argv[i + 1];
        else if (!strcmp(argv[i], "--size")) size_mib = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--count")) count = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--multipart-threshold")) threshold_mib = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--part-size")) part_mib = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--parallel")) parallel = atoi(argv[i + 1]);
        else die("unknown argument", argv[i]);
    }
    if (!endpoint || !*endpoint) die("no endpoint", "set SHARDY_TEST_S3_ENDPOINT (tests/s3/servers.sh start)");
    if (!key || !secret) key = secret = "bench";
    if (size_mib == 0 || count < 1 || rounds < 1) die("bad arguments", "size, count and rounds must be >= 1");
    size_t len = size_mib << 20;
    double total_mb = (double)len * count / 1e6;

    /* scratch: objects as local files for curl, a 0600 curl config with the credentials */
    char dir[] = "/tmp/shardy-bench-s3-XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp", strerror(errno));
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s/curl.conf", dir);
    mode_t old = umask(077);
    FILE *fp = fopen(cfg, "w");
    umask(old);
    if (!fp) die("curl config", strerror(errno));
    fprintf(fp, "user = \"%s:%s\"\naws-sigv4 = \"aws:amz:us-east-1:s3\"\nsilent\nshow-error\nfail\n"
                "header = \"x-amz-content-sha256: UNSIGNED-PAYLOAD\"\n",
            key, secret);
    fclose(fp);
    chmod(cfg, 0600);

    unsigned char **data = calloc((size_t)count, sizeof *data);
    char (*files)[256] = calloc((size_t)count, sizeof *files);
    for (int i = 0; i < count; i++) {
        data[i] = malloc(len);
        if (!data[i]) die("malloc", "out of memory");
        fill(data[i], len, (uint64_t)i + 1);
        snprintf(files[i], sizeof files[i], "%s/obj%d.bin", dir, i);
        FILE *f = fopen(files[i], "wb");
        if (!f || fwrite(data[i], 1, len, f) != len || fclose(f) != 0) die("write", files[i]);
    }

    sy_s3_opts o;
    sy_s3_opts_init(&o);
    if (sy_s3_opts_set_str(&o.endpoint_url, endpoint) || sy_s3_opts_set_str(&o.access_key_id, key) ||
        sy_s3_opts_set_str(&o.secret_access_key, secret) || sy_s3_opts_set_str(&o.region, "us-east-1"))
        die("options", shardy_errmsg());
    if (threshold_mib > 0) o.multipart_threshold = threshold_mib << 20;
    if (part_mib > 0) o.part_size = part_mib << 20;
    if (parallel > 0) o.parallel_parts = parallel;
    sy_store *s = NULL;
    if (sy_store_s3_open(&o, &s)) die("open", shardy_errmsg());
    sy_s3_opts_free(&o);
    char bucket[64];
    snprintf(bucket, sizeof bucket, "shardy-bench-%d", (int)getpid());
    if (sy_s3_bucket_create(s, bucket)) die("create bucket", shardy_errmsg());

    sy_s3_opts so;
    sy_s3_opts_init(&so);
    if (sy_s3_opts_set_str(&so.endpoint_url, endpoint) || sy_s3_opts_set_str(&so.access_key_id, key) ||
        sy_s3_opts_set_str(&so.secret_access_key, secret) || sy_s3_opts_set_str(&so.region, "us-east-1"))
        die("options", shardy_errmsg());
    so.multipart_threshold = 5ll << 40; /* never multipart */
    sy_store *single = NULL;
    if (sy_store_s3_open(&so, &single)) die("open", shardy_errmsg());
    sy_s3_opts_free(&so);

    double best[5] = {0, 0, 0, 0, 0}; /* s3 put, s3 get, curl put, curl get, s3 single put: MB/s */
    sy_buf b = SY_BUF_INIT;
    char url[512], http[512];
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        for (int i = 0; i < count; i++) {
            snprintf(url, sizeof url, "s3://%s/curl/obj%d", bucket, i);
            snprintf(http, sizeof http, "%s/%s/curl/obj%d", endpoint, bucket, i);
            char *av[] = {"curl", "-K", cfg, "-T", files[i], "-o", "/dev/null", http, NULL};
            run(av);
        }
        double mbps = total_mb / (now_s() - t0);
        if (mbps > best[2]) best[2] = mbps;

        t0 = now_s();
        for (int i = 0; i < count; i++) {
            snprintf(url, sizeof url, "s3://%s/ours/obj%d", bucket, i);
            if (sy_store_put(s, url, data[i], len, "application/octet-stream")) die("put", shardy_errmsg());
        }
        mbps = total_mb / (now_s() - t0);
        if (mbps > best[0]) best[0] = mbps;

        t0 = now_s();
        for (int i = 0; i < count; i++) {
            snprintf(url, sizeof url, "s3://%s/ours/obj%d", bucket, i);
            if (sy_store_put(single, url, data[i], len, "application/octet-stream")) die("put", shardy_errmsg());
        }
        mbps = total_mb / (now_s() - t0);
        if (mbps > best[4]) best[4] = mbps;

        t0 = now_s();
        for (int i = 0; i < count; i++) {
            snprintf(http, sizeof http, "%s/%s/ours/obj%d", endpoint, bucket, i);
            char *av[] = {"curl", "-K", cfg, "-o", "/dev/null", http, NULL};
            run(av);
        }
        mbps = total_mb / (now_s() - t0);
        if (mbps > best[3]) best[3] = mbps;

        t0 = now_s();
        for (int i = 0; i < count; i++) {
            snprintf(url, sizeof url, "s3://%s/ours/obj%d", bucket, i);
            if (sy_store_get(s, url, &b)) die("get", shardy_errmsg());
            if (b.len != len) die("get", "wrong length");
        }
        mbps = total_mb / (now_s() - t0);
        if (mbps > best[1]) best[1] = mbps;
    }
    /* what curl uploaded reads back identically through us (a correctness check, not timed) */
    for (int i = 0; i < count; i++) {
        snprintf(url, sizeof url, "s3://%s/curl/obj%d", bucket, i);
        if (sy_store_get(s, url, &b) || b.len != len || memcmp(b.data, data[i], len) != 0)
            die("verify", "object uploaded by curl differs");
    }
    request_counts(dir, bucket, endpoint, key, secret);
    exchange_counts(dir, bucket, endpoint, key, secret);
    size_t deleted = 0;
    snprintf(url, sizeof url, "s3://%s/snap/", bucket);
    if (sy_store_delete_prefix(s, url, &deleted)) die("cleanup", shardy_errmsg());
    snprintf(url, sizeof url, "s3://%s/x-snap/", bucket);
    if (sy_store_delete_prefix(s, url, &deleted)) die("cleanup", shardy_errmsg());
    snprintf(url, sizeof url, "s3://%s/curl/", bucket);
    if (sy_store_delete_prefix(s, url, &deleted)) die("cleanup", shardy_errmsg());
    snprintf(url, sizeof url, "s3://%s/ours/", bucket);
    if (sy_store_delete_prefix(s, url, &deleted)) die("cleanup", shardy_errmsg());

    printf("s3_objects=%d\ns3_object_mib=%zu\n", count, size_mib);
    printf("s3_put_mb_per_s=%.1f\ns3_get_mb_per_s=%.1f\n", best[0], best[1]);
    printf("curl_put_mb_per_s=%.1f\ncurl_get_mb_per_s=%.1f\n", best[2], best[3]);
    printf("s3_put_single_mb_per_s=%.1f\n", best[4]);
    printf("s3_put_ratio=%.2f\ns3_put_single_ratio=%.2f\ns3_get_ratio=%.2f\n", best[0] / best[2],
           best[4] / best[2], best[1] / best[3]);

    sy_buf_free(&b);
    sy_store_close(&single);
    sy_store_close(&s);
    for (int i = 0; i < count; i++) {
        unlink(files[i]);
        free(data[i]);
    }
    unlink(cfg);
    (void)sy_rmtree(dir); /* the request-count builds left snapshots and caches there */
    free(files);
    free(data);
    return 0;
}
