/* test_cel_routing.c — CEL-routed snapshots through the public API: direct mode with num_dbs
 * discovery, categorical mode with key-only and context lookups, errors (cel.md §1.6–1.10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shardy.h"

static shardy_reader *open_reader(const char *prefix) {
    shardy_reader_opts ro;
    shardy_reader *r = NULL;
    shardy_reader_opts_init(&ro);
    ro.current_url = prefix;
    CHECK_OK(shardy_reader_open(&ro, &r));
    return r;
}

static void test_direct(const char *dir) {
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s/direct", dir);
    const char *cols[] = {"key:int"};
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.prefix = prefix;
    o.cel_expr = "key % 4";
    o.cel_columns = cols;
    o.n_cel_columns = 1;
    o.threads = 2;
    shardy_builder *b = NULL;
    REQUIRE(shardy_builder_open(&o, &b) == SHARDY_OK);
    for (int64_t i = 0; i < 100; i++) {
        shardy_key k = shardy_key_int(i);
        char v[16];
        int n = snprintf(v, sizeof v, "v%d", (int)i);
        CHECK_OK(shardy_builder_add(b, &k, v, (size_t)n));
    }
    shardy_key neg = shardy_key_int(-5); /* -5 % 4 = -1: out of range, row refused */
    CHECK_ST(shardy_builder_add(b, &neg, "x", 1), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("range");
    shardy_build_result *res = NULL;
    CHECK_OK(shardy_builder_finish(b, &res));
    CHECK(strstr(shardy_build_result_json(res), "\"num_dbs\": 4") != NULL);
    shardy_build_result_free(&res);
    shardy_builder_close(&b);

    shardy_reader *r = open_reader(prefix);
    REQUIRE(r);
    shardy_snapshot_info *info = NULL;
    CHECK_OK(shardy_reader_info(r, &info));
    CHECK_STR(info->sharding, "cel");
    CHECK_EQ_INT(info->num_dbs, 4);
    shardy_snapshot_info_free(&info);
    for (int64_t i = 0; i < 100; i += 7) {
        shardy_key k = shardy_key_int(i);
        uint32_t db = 99;
        CHECK_OK(shardy_reader_route(r, &k, &db));
        CHECK_EQ_INT(db, i % 4);
        void *val = NULL;
        size_t vl = 0;
        int found = 0;
        CHECK_OK(shardy_reader_get_alloc(r, &k, &val, &vl, &found));
        char want[16];
        snprintf(want, sizeof want, "v%d", (int)i);
        CHECK_EQ_INT(found, 1);
        CHECK(val && vl == strlen(want) && !memcmp(val, want, vl));
        shardy_free(val);
    }
    shardy_reader_close(&r);

    /* ids {0, 2}: non-consecutive → ShardAssignment-style error at finish. */
    snprintf(prefix, sizeof prefix, "%s/gap", dir);
    o.prefix = prefix;
    o.cel_expr = "key";
    REQUIRE(shardy_builder_open(&o, &b) == SHARDY_OK);
    shardy_key k0 = shardy_key_int(0), k2 = shardy_key_int(2);
    CHECK_OK(shardy_builder_add(b, &k0, "a", 1));
    CHECK_OK(shardy_builder_add(b, &k2, "b", 1));
    CHECK_ST(shardy_builder_finish(b, &res), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("non-consecutive");
    shardy_builder_close(&b);

    /* the seed's `key % 16u` on an int column: a config error with the fix */
    o.cel_expr = "key % 16u";
    CHECK_ST(shardy_builder_open(&o, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("key % 16");
    CHECK(b == NULL);
}

static void test_categorical(const char *dir) {
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s/cat", dir);
    const char *cols[] = {"region:string", "tier:int"};
    const char *values[] = {"us:1", "eu:1", "us:2"};
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.prefix = prefix;
    o.key_encoding = SHARDY_KEYENC_UTF8;
    o.cel_expr = "region + \":\" + string(tier)";
    o.cel_columns = cols;
    o.n_cel_columns = 2;
    o.routing_values = values;
    o.n_routing_values = 3;
    shardy_builder *b = NULL;
    REQUIRE(shardy_builder_open(&o, &b) == SHARDY_OK);
    shardy_cel_arg args[2];
    memset(args, 0, sizeof args);
    args[0].name = "region";
    args[0].type = SHARDY_CEL_STRING;
    args[1].name = "tier";
    args[1].type = SHARDY_CEL_INT;
    const char *rows[][3] = {{"a", "us", "1"}, {"b", "eu", "1"}, {"c", "us", "2"}, {"d", "eu", "1"}};
    for (size_t i = 0; i < 4; i++) {
        shardy_key k = shardy_key_str(rows[i][0], 1);
        args[0].data = rows[i][1];
        args[0].len = 2;
        args[1].i = atoi(rows[i][2]);
        CHECK_OK(shardy_builder_add_cel(b, &k, args, 2, rows[i][0], 1));
    }
    shardy_key kx = shardy_key_str("x", 1);
    args[0].data = "ap";
    CHECK_ST(shardy_builder_add_cel(b, &kx, args, 2, "x", 1), SHARDY_EROUTE); /* unknown token */
    CHECK_ERRMSG_HAS("ap:1");
    args[1].type = SHARDY_CEL_UNSET; /* tier missing: evaluation error, not a token */
    args[0].data = "us";
    CHECK_ST(shardy_builder_add_cel(b, &kx, args, 2, "x", 1), SHARDY_EROUTE);
    shardy_build_result *res = NULL;
    CHECK_OK(shardy_builder_finish(b, &res));
    CHECK(strstr(shardy_build_result_json(res), "\"num_dbs\": 3") != NULL);
    shardy_build_result_free(&res);
    shardy_builder_close(&b);

    shardy_reader *r = open_reader(prefix);
    REQUIRE(r);
    const char *names[] = {"region", "tier", "other"};
    const char *vals[] = {"eu", "1", "ignored"};
    shardy_routing_ctx ctx = {names, vals, 3};
    uint32_t db = 9;
    CHECK_OK(shardy_reader_route_ctx(r, &ctx, &db));
    CHECK_EQ_INT(db, 1);
    shardy_key kd = shardy_key_str("d", 1), ka = shardy_key_str("a", 1);
    void *val = NULL;
    size_t vl = 0;
    int found = 0;
    CHECK_OK(shardy_reader_get_ctx(r, &kd, &ctx, &val, &vl, &found));
    CHECK(found == 1 && vl == 1 && val && !memcmp(val, "d", 1));
    shardy_free(val);
    CHECK_OK(shardy_reader_get_ctx(r, &ka, &ctx, &val, &vl, &found)); /* a lives in us:1 */
    CHECK_EQ_INT(found, 0);
    shardy_key keys[] = {kd, ka, shardy_key_str("b", 1)};
    shardy_values *mv = NULL;
    CHECK_OK(shardy_reader_multi_get_ctx(r, keys, 3, &ctx, &mv));
    const void *p;
    size_t pl;
    CHECK_EQ_INT(shardy_values_get(mv, 0, &p, &pl), 1);
    CHECK_EQ_INT(shardy_values_get(mv, 1, &p, &pl), 0);
    CHECK_EQ_INT(shardy_values_get(mv, 2, &p, &pl), 1);
    shardy_values_free(&mv);
    vals[0] = "ap"; /* unknown token: a miss in get, an error in route */
    CHECK_OK(shardy_reader_get_ctx(r, &kd, &ctx, &val, &vl, &found));
    CHECK_EQ_INT(found, 0);
    CHECK_ST(shardy_reader_route_ctx(r, &ctx, &db), SHARDY_EROUTE);
    vals[1] = "1x"; /* not an int */
    CHECK_ST(shardy_reader_get_ctx(r, &kd, &ctx, &val, &vl, &found), SHARDY_EINVAL);
    ctx.n = 1; /* tier missing: evaluation error */
    vals[0] = "us";
    CHECK_ST(shardy_reader_route_ctx(r, &ctx, &db), SHARDY_EROUTE);
    /* without a context the expression needs more than `key` */
    CHECK_ST(shardy_reader_get_alloc(r, &kd, &val, &vl, &found), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("routing_context");
    shardy_reader_close(&r);
}

static void run_all(void) {
    const char *dir = test_tmpdir("cel_routing");
    test_direct(dir);
    test_categorical(dir);
}

TEST_MAIN(run_all)
