/* test_e2e.c — end to end through the public API only: build with shardy_builder_*, read with
 * shardy_reader_*, publish a second build and see refresh pick it up while a pinned reader stays. */
#include "check.h"
#include "s3_env.h"
#include "core/buf.h"
#include "store/store.h"

/* Store settings applied to every option struct below (set for the s3:// run). */
static const char *const *g_s3o;
static size_t g_ns3o;
static const char *g_cred;

static void apply_b(shardy_build_opts *o) {
    o->s3_options = g_s3o;
    o->n_s3_options = g_ns3o;
    o->credentials_file = g_cred;
}

static void apply_r(shardy_reader_opts *o) {
    o->s3_options = g_s3o;
    o->n_s3_options = g_ns3o;
    o->credentials_file = g_cred;
}

static const char *build(const char *snap, const char *run_id, int version, int64_t nkeys) {
    static char ref[4096];
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.prefix = snap;
    o.num_dbs = 5;
    o.run_id = run_id;
    o.threads = 2;
    apply_b(&o);
    shardy_builder *b = NULL;
    shardy_build_result *res = NULL;
    ref[0] = 0;
    if (shardy_builder_open(&o, &b)) return ref;
    char v[64];
    for (int64_t i = 0; i < nkeys; i++) {
        shardy_key k = shardy_key_int(i);
        int n = snprintf(v, sizeof v, "v%d-%lld", version, (long long)i);
        if (shardy_builder_add(b, &k, v, (size_t)n)) break;
    }
    if (shardy_builder_finish(b, &res) == SHARDY_OK) snprintf(ref, sizeof ref, "%s", shardy_build_result_manifest_ref(res));
    shardy_build_result_free(&res);
    shardy_builder_close(&b);
    return ref;
}

static int value_is(shardy_reader *r, int64_t key, int version) {
    char buf[64], want[64];
    size_t n = 0;
    int found = 0;
    shardy_key k = shardy_key_int(key);
    if (shardy_reader_get(r, &k, buf, sizeof buf - 1, &n, &found) != SHARDY_OK || !found) return 0;
    buf[n] = 0;
    snprintf(want, sizeof want, "v%d-%lld", version, (long long)key);
    return strcmp(buf, want) == 0;
}

/* The whole flow on snapshot root snap; returns the open reader (on the second build) or NULL. */
static shardy_reader *flow(const char *snap) {
    char ref1[4096];
    snprintf(ref1, sizeof ref1, "%s", build(snap, "first", 1, 3000));
    CHECK(ref1[0]);
    if (!ref1[0]) return NULL;

    shardy_reader_opts ro;
    shardy_reader_opts_init(&ro);
    ro.current_url = snap;
    apply_r(&ro);
    shardy_reader *r = NULL;
    CHECK_OK(shardy_reader_open(&ro, &r));
    if (!r) return NULL;
    CHECK(value_is(r, 0, 1));
    CHECK(value_is(r, 2999, 1));
    shardy_key missing = shardy_key_int(3000);
    size_t n;
    int found = 1;
    char buf[8];
    CHECK_OK(shardy_reader_get(r, &missing, buf, sizeof buf, &n, &found));
    CHECK_EQ_INT(found, 0);

    /* multi_get answers in input order, misses included. */
    shardy_key keys[4] = {shardy_key_int(7), shardy_key_int(99999), shardy_key_int(7), shardy_key_int(1)};
    shardy_values *vals = NULL;
    CHECK_OK(shardy_reader_multi_get(r, keys, 4, &vals));
    CHECK(vals != NULL);
    if (!vals) return r;
    CHECK_EQ_INT(shardy_values_count(vals), 4);
    const void *p;
    size_t len;
    CHECK(shardy_values_get(vals, 0, &p, &len) && len == 4 && !memcmp(p, "v1-7", 4));
    CHECK(!shardy_values_get(vals, 1, &p, &len));
    CHECK(shardy_values_get(vals, 2, &p, &len) && len == 4 && !memcmp(p, "v1-7", 4)); /* duplicates repeated */
    CHECK(shardy_values_get(vals, 3, &p, &len) && len == 4 && !memcmp(p, "v1-1", 4));
    shardy_values_free(&vals);

    shardy_snapshot_info *info = NULL;
    CHECK_OK(shardy_reader_info(r, &info));
    CHECK(info != NULL);
    if (!info) return r;
    CHECK_STR(info->run_id, "first");
    CHECK_STR(info->manifest_ref, ref1);
    CHECK_EQ_U64(info->row_count, 3000);
    CHECK_EQ_INT(info->num_dbs, 5);
    shardy_snapshot_info_free(&info);

    /* Unchanged _CURRENT: refresh reports no change. */
    int changed = -1;
    CHECK_OK(shardy_reader_refresh(r, &changed));
    CHECK_EQ_INT(changed, 0);

    /* A pinned reader on the first manifest. */
    shardy_reader_opts po;
    shardy_reader_opts_init(&po);
    po.current_url = snap;
    apply_r(&po);
    po.ref = ref1;
    shardy_reader *pinned = NULL;
    CHECK_OK(shardy_reader_open(&po, &pinned));
    CHECK(pinned != NULL);

    /* Second build: more keys, new values. The open reader still serves v1 until refresh. */
    char ref2[4096];
    snprintf(ref2, sizeof ref2, "%s", build(snap, "second", 2, 4000));
    CHECK(ref2[0]);
    CHECK(strcmp(ref1, ref2) != 0);
    CHECK(value_is(r, 5, 1));
    CHECK_OK(shardy_reader_refresh(r, &changed));
    CHECK_EQ_INT(changed, 1);
    CHECK(value_is(r, 5, 2));
    CHECK(value_is(r, 3999, 2));
    CHECK_OK(shardy_reader_info(r, &info));
    CHECK(info && !strcmp(info->run_id, "second") && info->row_count == 4000);
    shardy_snapshot_info_free(&info);

    /* The pinned reader does not move. */
    CHECK_OK(shardy_reader_refresh(pinned, &changed));
    CHECK_EQ_INT(changed, 0);
    CHECK(value_is(pinned, 5, 1));

    /* offset 1 = the previous manifest. */
    shardy_reader_opts oo;
    shardy_reader_opts_init(&oo);
    oo.current_url = snap;
    apply_r(&oo);
    oo.offset = 1;
    shardy_reader *off = NULL;
    CHECK_OK(shardy_reader_open(&oo, &off));
    CHECK(off && value_is(off, 2, 1));
    shardy_reader_close(&off);

    /* History lists both, newest first. */
    shardy_manifest_entry *h = NULL;
    size_t hn = 0;
    CHECK_OK(shardy_history_opts(&ro, 10, &h, &hn));
    CHECK_EQ_INT(hn, 2);
    if (hn == 2) {
        CHECK_STR(h[0].ref, ref2);
        CHECK_STR(h[1].ref, ref1);
        CHECK_STR(h[0].run_id, "second");
    }
    shardy_manifest_entries_free(&h, hn);

    /* A failed third build (abandoned) changes nothing for readers. */
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.prefix = snap;
    o.num_dbs = 5;
    apply_b(&o);
    shardy_builder *b = NULL;
    CHECK_OK(shardy_builder_open(&o, &b));
    shardy_key k = shardy_key_int(5);
    CHECK_OK(shardy_builder_add(b, &k, "zzz", 3));
    shardy_builder_close(&b);
    CHECK_OK(shardy_reader_refresh(r, &changed));
    CHECK_EQ_INT(changed, 0);
    CHECK(value_is(r, 5, 2));

    shardy_reader_close(&pinned);
    return r;
}

static void test_build_read_refresh(void) {
    const char *dir = test_tmpdir("e2e");
    char snap[4200];
    snprintf(snap, sizeof snap, "%s/snap", dir);
    shardy_reader *r = flow(snap);
    CHECK(r != NULL);
    shardy_reader_close(&r);
    CHECK(r == NULL);
}

/* The same flow on s3://<bucket>/snap on moto, with the endpoint given as an s3_options string and
 * the identity as a credentials.toml profile; then refreshes that fail keep the snapshot. */
static void test_s3(void) {
    if (!s3_env_ready("S3", "test_e2e on s3://")) return;
    const char *dir = test_tmpdir("e2e-s3");
    char cred[4200], ep[512], snap[256], cur[300];
    snprintf(cred, sizeof cred, "%s/credentials.toml", dir);
    FILE *f = fopen(cred, "w");
    REQUIRE(f);
    fprintf(f, "[moto]\naccess_key_id = \"%s\"\nsecret_access_key = \"%s\"\n", getenv("SHARDY_TEST_S3_ACCESS_KEY"),
            getenv("SHARDY_TEST_S3_SECRET_KEY"));
    fclose(f);
    snprintf(ep, sizeof ep, "endpoint_url=%s", getenv("SHARDY_TEST_S3_ENDPOINT"));
    const char *s3o[] = {ep, "region_name=us-east-1", "retry_base_ms=20", "retry_cap_ms=200"};

    sy_store *st = s3_env_store_with_bucket("S3");
    REQUIRE(st);
    snprintf(snap, sizeof snap, "s3://%s/snap", s3_env_bucket());
    snprintf(cur, sizeof cur, "%s/_CURRENT", snap);

    /* Wrong settings are refused up front, naming the option / profile. */
    shardy_build_opts bo;
    shardy_build_opts_init(&bo);
    bo.prefix = snap;
    bo.num_dbs = 2;
    const char *bad[] = {ep, "max_attempts=lots"};
    bo.s3_options = bad;
    bo.n_s3_options = 2;
    shardy_builder *b = NULL;
    CHECK_ST(shardy_builder_open(&bo, &b), SHARDY_EINVAL);
    CHECK(strstr(shardy_errmsg(), "s3_options[1]") && strstr(shardy_errmsg(), "max_attempts"));
    bo.n_s3_options = 1;
    bo.credentials_file = cred;
    bo.credentials_profile = "nope";
    CHECK_ST(shardy_builder_open(&bo, &b), SHARDY_ENOTFOUND);
    CHECK(strstr(shardy_errmsg(), "'nope'") != NULL);
    CHECK(b == NULL);

    g_s3o = s3o;
    g_ns3o = 4;
    g_cred = cred;
    /* flow() passes no profile: give the moto section the default name too. */
    f = fopen(cred, "a");
    REQUIRE(f);
    fprintf(f, "[default]\naccess_key_id = \"%s\"\nsecret_access_key = \"%s\"\n", getenv("SHARDY_TEST_S3_ACCESS_KEY"),
            getenv("SHARDY_TEST_S3_SECRET_KEY"));
    fclose(f);
    shardy_reader *r = flow(snap);
    CHECK(r != NULL);
    if (r) {
        /* A refresh that cannot read the pointer fails and the reader keeps serving v2. */
        sy_buf saved = SY_BUF_INIT;
        CHECK_OK(sy_store_get(st, cur, &saved));
        CHECK_OK(sy_store_delete(st, cur));
        int changed = -1;
        CHECK_ST(shardy_reader_refresh(r, &changed), SHARDY_ENOTFOUND);
        CHECK(value_is(r, 5, 2));
        CHECK_OK(sy_store_put(st, cur, "{not json", 9, "application/json"));
        CHECK(shardy_reader_refresh(r, &changed) != SHARDY_OK);
        CHECK(value_is(r, 3999, 2));
        CHECK_OK(sy_store_put(st, cur, saved.data, saved.len, "application/json"));
        CHECK_OK(shardy_reader_refresh(r, &changed));
        CHECK_EQ_INT(changed, 0);
        CHECK(value_is(r, 6, 2));
        sy_buf_free(&saved);
    }
    shardy_reader_close(&r);
    g_s3o = NULL;
    g_ns3o = 0;
    g_cred = NULL;
    sy_store_close(&st);
}

TEST_MAIN(test_build_read_refresh, test_s3)
