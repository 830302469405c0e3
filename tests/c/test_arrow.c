/* test_arrow.c — Arrow batches: HASH and CEL routing against the scalar references, the row
 * iterator behind shardy_attempt_add_arrow, and every malformed-input error. */
#include "check.h"

#include "arrow_fix.h"
#include "write/arrow.h"

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t rnd(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int32_t scalar_db(shardy_key k, uint64_t num_dbs) {
    uint64_t db = 0;
    if (shardy_route_hash(&k, num_dbs, &db, NULL)) return -1;
    return (int32_t)db;
}

#define N 64
#define PAD 3 /* child offset */
#define SOFF 2 /* struct offset */

/* Every integer type, with a child offset and a struct offset, routes like the int64 value. */
#define INT_CASE(CTYPE, FMT, SIGNED)                                                               \
    do {                                                                                           \
        CTYPE vals[N + PAD + SOFF];                                                                \
        for (size_t i = 0; i < N + PAD + SOFF; i++) vals[i] = (CTYPE)rnd();                        \
        if (SIGNED) vals[PAD + SOFF] = (CTYPE)-1;                                                  \
        vals[PAD + SOFF + 1] = 5;                                                                  \
        af_batch b;                                                                                \
        af_init(&b, N, SOFF);                                                                      \
        af_add(&b, "other", "n", N + SOFF, 0, NULL, 0, NULL, NULL);                                \
        af_add(&b, "k", FMT, N + SOFF, PAD, NULL, 0, vals, NULL);                                  \
        int32_t out[N];                                                                            \
        for (uint64_t nd = 1; nd < 300; nd += 37) {                                                \
            CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "k", nd, out));                           \
            for (int i = 0; i < N; i++) {                                                          \
                CTYPE v = vals[PAD + SOFF + i];                                                    \
                int64_t iv = (int64_t)v;                                                           \
                CHECK_EQ_INT(out[i], scalar_db(shardy_key_int(iv), nd));                           \
            }                                                                                      \
        }                                                                                          \
        CHECK_EQ_INT(out[1], scalar_db(shardy_key_int(5), 297));                                   \
    } while (0)

static void test_hash_int_types(void) {
    INT_CASE(int8_t, "c", 1);
    INT_CASE(int16_t, "s", 1);
    INT_CASE(int32_t, "i", 1);
    INT_CASE(int64_t, "l", 1);
    INT_CASE(uint8_t, "C", 0);
    INT_CASE(uint16_t, "S", 0);
    INT_CASE(uint32_t, "I", 0);
    /* uint64 within int64 range */
    uint64_t u[N];
    for (int i = 0; i < N; i++) u[i] = rnd() >> 1;
    u[0] = (uint64_t)INT64_MAX;
    af_batch b;
    af_init(&b, N, 0);
    af_add(&b, "k", "L", N, 0, NULL, 0, u, NULL);
    int32_t out[N];
    CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "k", 1000, out));
    for (int i = 0; i < N; i++) CHECK_EQ_INT(out[i], scalar_db(shardy_key_uint(u[i]), 1000));
    /* and above: the row is named */
    u[7] = (uint64_t)INT64_MAX + 1;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "k", 1000, out), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("at row 7");
    CHECK_ERRMSG_HAS("9223372036854775808");
}

/* utf8/binary in 32- and 64-bit offset flavours, with offsets that do not start at 0. */
static void test_hash_var_types(void) {
    enum { R = 200 };
    char data[R * 20];
    int32_t o32[R + 10];
    int64_t o64[R + 10];
    size_t pos = 7;
    memset(data, 'x', sizeof data);
    o32[0] = o64[0] = (int32_t)pos;
    for (int i = 0; i < R + 9; i++) {
        size_t len = rnd() % 17;
        if (pos + len > sizeof data) len = 0;
        for (size_t k = 0; k < len; k++) data[pos + k] = (char)(rnd() & 0x7F);
        pos += len;
        o32[i + 1] = (int32_t)pos;
        o64[i + 1] = (int64_t)pos;
    }
    const char *fmts[] = {"u", "U", "z", "Z"};
    for (int f = 0; f < 4; f++) {
        int large = fmts[f][0] == 'U' || fmts[f][0] == 'Z';
        af_batch b;
        af_init(&b, R - 5, 4);
        af_add(&b, "s", fmts[f], R + 5, 1, NULL, 0, large ? (const void *)o64 : (const void *)o32, data);
        int32_t out[R];
        for (int t = 0; t < 20; t++) {
            uint64_t nd = 1 + rnd() % (t < 10 ? 50 : 100000);
            CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "s", nd, out));
            for (int i = 0; i < R - 5; i++) {
                int64_t e = 1 + 4 + i;
                shardy_key k = fmts[f][0] == 'u' || fmts[f][0] == 'U'
                                   ? shardy_key_str(data + o32[e], (size_t)(o32[e + 1] - o32[e]))
                                   : shardy_key_bytes(data + o32[e], (size_t)(o32[e + 1] - o32[e]));
                CHECK_EQ_INT(out[i], scalar_db(k, nd));
            }
        }
    }
    /* all values empty: the data buffer may be NULL */
    int32_t zero[4] = {0, 0, 0, 0};
    af_batch b;
    af_init(&b, 3, 0);
    af_add(&b, "s", "u", 3, 0, NULL, 0, zero, NULL);
    int32_t out[3];
    CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "s", 7, out));
    CHECK_EQ_INT(out[2], scalar_db(shardy_key_str("", 0), 7));
    /* offsets going backwards */
    int32_t bad[4] = {0, 3, 2, 4};
    af_init(&b, 3, 0);
    af_add(&b, "s", "z", 3, 0, NULL, 0, bad, "abcd");
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "s", 7, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("malformed offsets at row 1");
}

static void test_hash_nulls(void) {
    int64_t v[20];
    uint8_t valid[3] = {0xFF, 0xFF, 0xFF}, svalid[3] = {0xFF, 0xFF, 0xFF};
    for (int i = 0; i < 20; i++) v[i] = i * 1000;
    af_set_bit(valid, 13, 0); /* child offset 2 + struct offset 1 → batch row 10 */
    af_batch b;
    af_init(&b, 16, 1);
    af_add(&b, "id", "l", 18, 2, valid, 1, v, NULL);
    int32_t out[16];
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "id", 8, out), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("key column 'id' is null at row 10");
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(out[i], scalar_db(shardy_key_int(v[3 + i]), 8));
    /* null_count 0 → the bitmap is not read */
    b.cols[0].a.null_count = 0;
    CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "id", 8, out));
    /* a null struct row is a null key */
    b.bufs[0] = svalid;
    b.a.null_count = 1;
    af_set_bit(svalid, 5, 0); /* struct offset 1 → row 4 */
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "id", 8, out), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("is null at row 4");
    /* null_count -1 (unknown) with a bitmap */
    b.a.null_count = 0;
    b.cols[0].a.null_count = -1;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "id", 8, out), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("is null at row 10");
    /* a column of type null */
    af_init(&b, 2, 0);
    af_add(&b, "id", "n", 2, 0, NULL, 2, NULL, NULL);
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "id", 8, out), SHARDY_ETYPE);
    CHECK_ERRMSG_HAS("format 'n'");
    /* empty batch */
    af_init(&b, 0, 0);
    af_add(&b, "id", "l", 0, 0, NULL, 0, NULL, NULL);
    CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "id", 8, NULL));
}

static void test_hash_malformed(void) {
    int64_t v[4] = {1, 2, 3, 4};
    double d[4] = {1, 2, 3, 4};
    int32_t out[4];
    af_batch b;
    af_init(&b, 4, 0);
    af_add(&b, "a", "l", 4, 0, NULL, 0, v, NULL);
    af_add(&b, "f", "g", 4, 0, NULL, 0, d, NULL);
    af_add(&b, "t", "tsu:UTC", 4, 0, NULL, 0, v, NULL);
    af_add(&b, "bo", "b", 4, 0, NULL, 0, v, NULL);
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "missing", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("'missing' is not in the batch (columns: a, f, t, bo)");
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "f", 4, out), SHARDY_ETYPE);
    CHECK_ERRMSG_HAS("float64");
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "bo", 4, out), SHARDY_ETYPE);
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "t", 4, out), SHARDY_ETYPE);
    CHECK_ERRMSG_HAS("column 't' has unsupported Arrow format 'tsu:UTC'");
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 0, out), SHARDY_EINVAL);
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, NULL), SHARDY_EINVAL);
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, NULL, 4, out), SHARDY_EINVAL);
    CHECK_ST(shardy_arrow_route_hash(NULL, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out));
    /* dictionary-encoded */
    struct ArrowSchema dict = b.cols[0].s;
    b.cols[0].s.dictionary = &dict;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_ETYPE);
    CHECK_ERRMSG_HAS("dictionary-encoded");
    b.cols[0].s.dictionary = NULL;
    /* buffers */
    b.cols[0].a.n_buffers = 3;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("column 'a' (Arrow format 'l') has 3 buffers, expected 2");
    b.cols[0].a.n_buffers = 2;
    b.cols[0].bufs[1] = NULL;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    b.cols[0].bufs[1] = v;
    b.cols[0].a.null_count = 1; /* but no bitmap */
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("without a validity bitmap");
    b.cols[0].a.null_count = 0;
    /* child shorter than the batch (also through the struct offset) */
    b.cols[0].a.length = 3;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("has 3 rows");
    b.cols[0].a.length = 4;
    b.a.offset = 1;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    b.a.offset = 0;
    /* struct-level problems */
    b.s.format = "+l";
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("struct array");
    b.s.format = "+s";
    b.a.n_children = 2;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    b.a.n_children = 4;
    b.arr[1] = NULL;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("column 1 is NULL");
    b.arr[1] = &b.cols[1].a;
    b.cols[0].s.format = NULL;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    b.cols[0].s.format = "l";
    b.a.release = NULL;
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("released");
    b.a.release = b.cols[0].a.release;
    b.cols[1].s.name = "a"; /* duplicate name */
    CHECK_ST(shardy_arrow_route_hash(&b.a, &b.s, "a", 4, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("more than once");
}

/* Many random batches: random type, offsets, num_dbs; routing == scalar routing. */
static void test_hash_random(void) {
    for (int t = 0; t < 300; t++) {
        enum { R = 100 };
        int64_t v[R + 16];
        for (int i = 0; i < R + 16; i++) v[i] = (int64_t)rnd();
        if (t % 3 == 0)
            for (int i = 0; i < R + 16; i++) v[i] %= 1000;
        int64_t soff = (int64_t)(rnd() % 8), coff = (int64_t)(rnd() % 8), len = (int64_t)(rnd() % R);
        uint64_t nd = t % 2 ? 1 + rnd() % 64 : 1 + rnd() % ((uint64_t)INT32_MAX + 1);
        af_batch b;
        af_init(&b, len, soff);
        af_add(&b, "k", "l", len + soff, coff, NULL, 0, v, NULL);
        int32_t out[R];
        CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "k", nd, out));
        for (int64_t i = 0; i < len; i++) CHECK_EQ_INT(out[i], scalar_db(shardy_key_int(v[soff + coff + i]), nd));
    }
}

/* ---- CEL ------------------------------------------------------------------------------------- */

static shardy_cel_router *router(const char *expr, const char *const *cols, size_t ncols, const char *const *values,
                                 size_t nvalues) {
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.cel_expr = expr;
    o.cel_columns = cols;
    o.n_cel_columns = ncols;
    o.routing_values = values;
    o.n_routing_values = nvalues;
    shardy_cel_router *r = NULL;
    if (shardy_cel_router_open(&o, &r)) fprintf(stderr, "router: %s\n", shardy_errmsg());
    return r;
}

static void test_cel_direct(void) {
    const char *cols[] = {"key:int"};
    shardy_cel_router *r = router("shard_hash(key) % 16u", cols, 1, NULL, 0);
    REQUIRE(r);
    enum { R = 50 };
    int32_t v32[R + 2];
    for (int i = 0; i < R + 2; i++) v32[i] = (int32_t)rnd();
    af_batch b;
    af_init(&b, R, 1);
    af_add(&b, "id", "i", R + 1, 1, NULL, 0, v32, NULL);
    int32_t out[R], ref[R];
    /* `key` binds to key_col when no column is called key */
    CHECK_OK(shardy_arrow_route_cel(r, &b.a, &b.s, "id", out));
    CHECK_OK(shardy_arrow_route_hash(&b.a, &b.s, "id", 16, ref));
    for (int i = 0; i < R; i++) CHECK_EQ_INT(out[i], ref[i]);
    for (int i = 0; i < 5; i++) {
        shardy_cel_arg a = {NULL, SHARDY_CEL_INT, 0, v32[2 + i], 0, 0, NULL, 0};
        uint32_t db;
        CHECK_OK(shardy_cel_router_route(r, &a, 1, &db));
        CHECK_EQ_INT(db, out[i]);
    }
    /* a column literally called key wins over key_col */
    int64_t k64[R + 1];
    for (int i = 0; i <= R; i++) k64[i] = i;
    af_add(&b, "key", "l", R + 1, 0, NULL, 0, k64, NULL);
    CHECK_OK(shardy_arrow_route_cel(r, &b.a, &b.s, "id", out));
    CHECK_EQ_INT(out[0], scalar_db(shardy_key_int(1), 16));
    /* no key column and no key_col */
    af_init(&b, R, 0);
    af_add(&b, "id", "i", R, 0, NULL, 0, v32, NULL);
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, NULL, out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("CEL column 'key' is not in the batch");
    /* declared int, float column */
    double d[R];
    for (int i = 0; i < R; i++) d[i] = i;
    af_add(&b, "f", "g", R, 0, NULL, 0, d, NULL);
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, "f", out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("CEL column 'key' is declared int but batch column 'f' has Arrow type float64 (format 'g')");
    /* nulls */
    uint8_t valid[8];
    memset(valid, 0xFF, sizeof valid);
    af_set_bit(valid, 9, 0);
    b.cols[0].bufs[0] = valid;
    b.cols[0].a.null_count = 1;
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, "id", out), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("is null at row 9");
    shardy_cel_router_close(&r);
    CHECK(r == NULL);
    shardy_cel_router_close(&r);

    /* direct mode: the result is the id, in [0, 1000000) */
    const char *c2[] = {"n:int"};
    r = router("n - 1", c2, 1, NULL, 0);
    REQUIRE(r);
    int64_t n64[3] = {1, 7, 0};
    af_init(&b, 3, 0);
    af_add(&b, "n", "l", 3, 0, NULL, 0, n64, NULL);
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, "n", out), SHARDY_EROUTE);
    CHECK_EQ_INT(out[0], 0);
    CHECK_EQ_INT(out[1], 6);
    CHECK_ERRMSG_HAS("row 2");
    /* uint64 above INT64_MAX for an int variable */
    uint64_t u64[3] = {1, (uint64_t)INT64_MAX + 5, 3};
    af_init(&b, 3, 0);
    af_add(&b, "n", "L", 3, 0, NULL, 0, u64, NULL);
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, "n", out), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("at row 1");
    shardy_cel_router_close(&r);

    /* uint declared, signed column with a negative value */
    const char *c3[] = {"u:uint"};
    r = router("u % 4u", c3, 1, NULL, 0);
    REQUIRE(r);
    int8_t i8[3] = {3, 9, -2};
    af_init(&b, 3, 0);
    af_add(&b, "u", "c", 3, 0, NULL, 0, i8, NULL);
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, NULL, out), SHARDY_EROUTE);
    CHECK_EQ_INT(out[0], 3);
    CHECK_EQ_INT(out[1], 1);
    CHECK_ERRMSG_HAS("row 2");
    shardy_cel_router_close(&r);

    /* does not compile */
    const char *c4[] = {"key:int"};
    shardy_build_opts o;
    shardy_build_opts_init(&o);
    o.cel_expr = "key % 16u";
    o.cel_columns = c4;
    o.n_cel_columns = 1;
    CHECK_ST(shardy_cel_router_open(&o, &r), SHARDY_EINVAL);
    CHECK(r == NULL);
    o.cel_expr = NULL;
    CHECK_ST(shardy_cel_router_open(&o, &r), SHARDY_EINVAL);
}

static void test_cel_categorical(void) {
    const char *cols[] = {"region:string", "tier:int", "flag:bool"};
    const char *values[] = {"eu:1", "eu:2", "us:1", "us:2"};
    shardy_cel_router *r =
        router("flag ? region + \":\" + string(tier) : \"us:2\"", cols, 3, values, 4);
    REQUIRE(r);
    char regions[] = "euuseu";
    int32_t roff[5] = {0, 2, 4, 6, 6};
    int64_t tiers[4] = {1, 2, 2, 1};
    uint8_t flags[1] = {0x07}; /* rows 0..2 true, row 3 false */
    af_batch b;
    af_init(&b, 4, 0);
    af_add(&b, "tier", "l", 4, 0, NULL, 0, tiers, NULL);
    af_add(&b, "region", "U", 0, 0, NULL, 0, NULL, NULL); /* replaced below */
    int64_t roff64[5] = {0, 2, 4, 6, 6};
    b.cols[1].bufs[1] = roff64;
    b.cols[1].bufs[2] = regions;
    b.cols[1].a.length = 4;
    af_add(&b, "flag", "b", 4, 0, NULL, 0, flags, NULL);
    int32_t out[4];
    CHECK_OK(shardy_arrow_route_cel(r, &b.a, &b.s, "tier", out));
    CHECK_EQ_INT(out[0], 0); /* eu:1 */
    CHECK_EQ_INT(out[1], 3); /* us:2 */
    CHECK_EQ_INT(out[2], 1); /* eu:2 */
    CHECK_EQ_INT(out[3], 3); /* flag false */
    /* shardy_cel_router_route agrees */
    shardy_cel_arg args[3] = {{"region", SHARDY_CEL_STRING, 0, 0, 0, 0, "eu", 2},
                              {"tier", SHARDY_CEL_INT, 0, 2, 0, 0, NULL, 0},
                              {"flag", SHARDY_CEL_BOOL, 1, 0, 0, 0, NULL, 0}};
    uint32_t db;
    CHECK_OK(shardy_cel_router_route(r, args, 3, &db));
    CHECK_EQ_INT(db, 1);
    args[0].name = "nope";
    CHECK_ST(shardy_cel_router_route(r, args, 3, &db), SHARDY_EINVAL);
    /* unknown token: row named */
    tiers[2] = 9;
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, "tier", out), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("row 2");
    tiers[2] = 2;
    /* 32-bit offsets work the same; unused columns may be of any type */
    b.cols[1].s.format = "u";
    b.cols[1].bufs[1] = roff;
    CHECK_OK(shardy_arrow_route_cel(r, &b.a, &b.s, "tier", out));
    CHECK_EQ_INT(out[2], 1);
    /* invalid UTF-8 in a string input */
    regions[0] = (char)0xFF;
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, "tier", out), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS("not valid UTF-8 at row 0");
    regions[0] = 'e';
    /* bool declared, int column */
    b.cols[2].s.format = "C";
    CHECK_ST(shardy_arrow_route_cel(r, &b.a, &b.s, "tier", out), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("declared bool");
    shardy_cel_router_close(&r);
}

/* ---- rows (shardy_attempt_add_arrow's iterator) ------------------------------------------------ */

typedef struct rows_seen {
    int n;
    shardy_key keys[8];
    char vals[8][256];
    int fail_at;
} rows_seen;

static shardy_status collect(void *ctx, int64_t row, const shardy_key *key, const void *value, size_t len) {
    rows_seen *s = ctx;
    if (row == s->fail_at) return shardy_key_encode(SHARDY_KEYENC_U32BE, SHARDY_ENCODE_WRITE, key, NULL, 0, &len);
    s->keys[s->n] = *key;
    snprintf(s->vals[s->n], sizeof s->vals[0], "%.*s", (int)len, (const char *)value);
    s->n++;
    return SHARDY_OK;
}

static void test_rows(void) {
    uint64_t ids[4] = {1, 2, (uint64_t)INT64_MAX + 1, 4};
    char names[] = "annabobcy";
    int32_t noff[5] = {0, 4, 7, 7, 9};
    double score[4] = {0.5, -0.0, 1e16, 3};
    uint8_t valid[1] = {0x0B}; /* row 2 null */
    af_batch b;
    af_init(&b, 4, 0);
    af_add(&b, "id", "L", 4, 0, NULL, 0, ids, NULL);
    af_add(&b, "name", "u", 4, 0, valid, 1, noff, names);
    af_add(&b, "score", "g", 4, 0, NULL, 0, score, NULL);
    af_add(&b, "_shard", "i", 4, 0, NULL, 0, noff, NULL);
    af_add(&b, "blob", "z", 4, 0, NULL, 0, noff, names);
    rows_seen s = {0};
    s.fail_at = -1;
    const char *bc[] = {"name"};
    shardy_value_spec spec = {SHARDY_VALUE_BINARY_COL, bc, 1, NULL};
    CHECK_OK(sy_arrow_rows(&b.a, &b.s, "id", &spec, collect, &s));
    CHECK_EQ_INT(s.n, 4);
    CHECK_STR(s.vals[0], "anna");
    CHECK_STR(s.vals[2], ""); /* null → empty */
    CHECK_EQ_INT(s.keys[2].type, SHARDY_KEY_UINT);
    CHECK_EQ_U64(s.keys[2].u, (uint64_t)INT64_MAX + 1);
    CHECK_EQ_INT(s.keys[1].type, SHARDY_KEY_INT);
    CHECK_EQ_INT(s.keys[1].i, 2);
    /* string keys and binary keys */
    memset(&s, 0, sizeof s);
    s.fail_at = -1;
    bc[0] = "blob";
    CHECK_OK(sy_arrow_rows(&b.a, &b.s, "blob", &spec, collect, &s));
    CHECK_EQ_INT(s.keys[0].type, SHARDY_KEY_BYTES);
    CHECK_EQ_INT(s.keys[0].len, 4);
    bc[0] = "score";
    CHECK_ST(sy_arrow_rows(&b.a, &b.s, "id", &spec, collect, &s), SHARDY_ETYPE);
    CHECK_ERRMSG_HAS("binary_col expects bytes/bytearray/str");
    CHECK_ST(sy_arrow_rows(&b.a, &b.s, "score", &spec, collect, &s), SHARDY_ETYPE);
    /* json_cols: explicit columns, a missing one, the skipped one */
    const char *jc[] = {"score", "name", "missing", "_shard", "name"};
    shardy_value_spec js = {SHARDY_VALUE_JSON_COLS, jc, 5, "_shard"};
    memset(&s, 0, sizeof s);
    s.fail_at = -1;
    CHECK_OK(sy_arrow_rows(&b.a, &b.s, "id", &js, collect, &s));
    CHECK_STR(s.vals[0], "{\"_shard\":null,\"missing\":null,\"name\":\"anna\",\"score\":0.5}");
    CHECK_STR(s.vals[2], "{\"_shard\":null,\"missing\":null,\"name\":null,\"score\":1e+16}");
    /* json_cols of every column: binary refused */
    shardy_value_spec all = {SHARDY_VALUE_JSON_COLS, NULL, 0, "_shard"};
    CHECK_ST(sy_arrow_rows(&b.a, &b.s, "id", &all, collect, &s), SHARDY_ETYPE);
    CHECK_ERRMSG_HAS("'blob'");
    b.s.n_children = b.a.n_children = 4;
    memset(&s, 0, sizeof s);
    s.fail_at = -1;
    CHECK_OK(sy_arrow_rows(&b.a, &b.s, "id", &all, collect, &s));
    CHECK_STR(s.vals[3], "{\"id\":4,\"name\":\"cy\",\"score\":3.0}");
    /* a failing sink stops at its row, with the row named */
    memset(&s, 0, sizeof s);
    s.fail_at = 1;
    CHECK_ST(sy_arrow_rows(&b.a, &b.s, "id", &all, collect, &s), SHARDY_ERANGE);
    CHECK_EQ_INT(s.n, 1);
    CHECK_ERRMSG_HAS("key column 'id' row 1");
    /* null key */
    memset(&s, 0, sizeof s);
    s.fail_at = -1;
    CHECK_ST(sy_arrow_rows(&b.a, &b.s, "name", &all, collect, &s), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("key column 'name' is null at row 2");
    CHECK_EQ_INT(s.n, 2);
    CHECK_ST(sy_arrow_rows(&b.a, &b.s, "score", &all, collect, &s), SHARDY_ETYPE);
    CHECK_ST(sy_arrow_rows(&b.a, &b.s, "id", NULL, collect, &s), SHARDY_EINVAL);
    /* the public entry point */
    CHECK_ST(shardy_attempt_add_arrow(NULL, &b.a, &b.s, "id", &all), SHARDY_EINVAL);
}

TEST_MAIN(test_hash_int_types, test_hash_var_types, test_hash_nulls, test_hash_malformed, test_hash_random,
          test_cel_direct, test_cel_categorical, test_rows)
