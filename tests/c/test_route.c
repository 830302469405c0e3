/* test_route.c — canonical bytes, xxh3 routing vectors (spec formats §4.5) and key encodings (§5). */
#include "check.h"
#include "route/key.h"

typedef struct vec {
    const char *name;
    shardy_key_type type;
    int64_t i;
    const char *data; /* for str/bytes; NULL → use gen */
    size_t len;
    int gen;          /* 1 = "k"*17, 2 = "k"*129, 3 = bytes 0..255, 4 = "a"*300 */
    uint64_t digest;
    unsigned m8, m16, m10;
} vec;

static const vec VECTORS[] = {
    {"0", SHARDY_KEY_INT, 0, NULL, 0, 0, 0xc77b3abb6f87acd9ULL, 1, 9, 7},
    {"1", SHARDY_KEY_INT, 1, NULL, 0, 0, 0x2fbc593564db792eULL, 6, 14, 8},
    {"42", SHARDY_KEY_INT, 42, NULL, 0, 0, 0xd5a6f8c838df27c8ULL, 0, 8, 0},
    {"-1", SHARDY_KEY_INT, -1, NULL, 0, 0, 0x5111c7e47d784413ULL, 3, 3, 7},
    {"123456789", SHARDY_KEY_INT, 123456789, NULL, 0, 0, 0x27196ab4438f6ad5ULL, 5, 5, 9},
    {"int64 max", SHARDY_KEY_INT, INT64_MAX, NULL, 0, 0, 0xa233cf376558df46ULL, 6, 6, 2},
    {"int64 min", SHARDY_KEY_INT, INT64_MIN, NULL, 0, 0, 0x828f2476789a0e5fULL, 7, 15, 5},
    {"empty str", SHARDY_KEY_STR, 0, "", 0, 0, 0x2d06800538d394c2ULL, 2, 2, 8},
    {"empty bytes", SHARDY_KEY_BYTES, 0, "", 0, 0, 0x2d06800538d394c2ULL, 2, 2, 8},
    {"hello", SHARDY_KEY_STR, 0, "hello", 5, 0, 0x9555e8555c62dcfdULL, 5, 13, 9},
    {"user:1001", SHARDY_KEY_STR, 0, "user:1001", 9, 0, 0x783864580ee66e90ULL, 0, 0, 2},
    {"h\xc3\xa9llo", SHARDY_KEY_STR, 0, "h\xc3\xa9llo", 6, 0, 0x6a45b79a7b549b1fULL, 7, 15, 5},
    {"nihon", SHARDY_KEY_STR, 0, "\xe6\x97\xa5\xe6\x9c\xac", 6, 0, 0x2c17fb837f1a1bc0ULL, 0, 0, 6},
    {"b00", SHARDY_KEY_BYTES, 0, "\x00", 1, 0, 0xc44bdff4074eecdbULL, 3, 11, 3},
    {"bfffe0001", SHARDY_KEY_BYTES, 0, "\xff\xfe\x00\x01", 4, 0, 0x971bde743dabd2c2ULL, 2, 2, 2},
    {"b abc", SHARDY_KEY_BYTES, 0, "abc", 3, 0, 0x78af5f94892f3950ULL, 0, 0, 4},
    {"s abc", SHARDY_KEY_STR, 0, "abc", 3, 0, 0x78af5f94892f3950ULL, 0, 0, 4},
    {"k*17", SHARDY_KEY_STR, 0, NULL, 17, 1, 0x04fff59d43a9eec1ULL, 1, 1, 3},
    {"k*129", SHARDY_KEY_STR, 0, NULL, 129, 2, 0x99341f95fe4b04beULL, 6, 14, 8},
    {"bytes 0..255", SHARDY_KEY_BYTES, 0, NULL, 256, 3, 0x9408a4433b952d71ULL, 1, 1, 3},
    {"a*300", SHARDY_KEY_STR, 0, NULL, 300, 4, 0xc1d17581d8eb7e21ULL, 1, 1, 3},
};

static void test_vectors(void) {
    unsigned char gen[300];
    for (size_t v = 0; v < sizeof VECTORS / sizeof VECTORS[0]; v++) {
        const vec *t = &VECTORS[v];
        shardy_key k;
        if (t->type == SHARDY_KEY_INT) {
            k = shardy_key_int(t->i);
        } else {
            const void *p = t->data;
            if (t->gen) {
                for (size_t j = 0; j < t->len; j++)
                    gen[j] = t->gen == 1 || t->gen == 2 ? 'k' : t->gen == 3 ? (unsigned char)j : 'a';
                p = gen;
            }
            k = t->type == SHARDY_KEY_STR ? shardy_key_str(p, t->len) : shardy_key_bytes(p, t->len);
        }
        uint64_t digest = 0, id8 = 99, id16 = 99, id10 = 99;
        CHECK_OK(shardy_key_digest(&k, &digest));
        CHECK_OK(shardy_route_hash(&k, 8, &id8, NULL));
        CHECK_OK(shardy_route_hash(&k, 16, &id16, NULL));
        CHECK_OK(shardy_route_hash(&k, 10, &id10, NULL));
        if (digest != t->digest || id8 != t->m8 || id16 != t->m16 || id10 != t->m10)
            fprintf(stderr, "vector %s: digest %016llx ids %llu/%llu/%llu\n", t->name, (unsigned long long)digest,
                    (unsigned long long)id8, (unsigned long long)id16, (unsigned long long)id10);
        CHECK_EQ_U64(digest, t->digest);
        CHECK_EQ_U64(id8, t->m8);
        CHECK_EQ_U64(id16, t->m16);
        CHECK_EQ_U64(id10, t->m10);
    }
}

static void test_reader_vectors(void) {
    /* reader-cli §1.4: num_dbs=2: 1→0, 6→1, 0→1; num_dbs=3: 4,9→0; 2,15→1; 1,10→2. */
    const struct { int64_t key; uint64_t n, want; } cases[] = {
        {1, 2, 0}, {6, 2, 1}, {0, 2, 1}, {4, 3, 0}, {9, 3, 0}, {2, 3, 1}, {15, 3, 1}, {1, 3, 2}, {10, 3, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shardy_key k = shardy_key_int(cases[i].key);
        uint64_t id = 99;
        CHECK_OK(shardy_route_hash(&k, cases[i].n, &id, NULL));
        CHECK_EQ_U64(id, cases[i].want);
    }
}

static void test_uint_keys(void) {
    shardy_key small = shardy_key_uint(42), as_int = shardy_key_int(42);
    uint64_t a, b;
    CHECK_OK(shardy_key_digest(&small, &a));
    CHECK_OK(shardy_key_digest(&as_int, &b));
    CHECK_EQ_U64(a, b);
    shardy_key big = shardy_key_uint((uint64_t)INT64_MAX + 1);
    CHECK_ST(shardy_key_digest(&big, &a), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("out of range");
    CHECK_ST(shardy_route_hash(&as_int, 0, &a, NULL), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("num_dbs");
}

static void check_enc(shardy_key_encoding enc, int purpose, shardy_key k, const char *hex_want) {
    unsigned char out[64];
    size_t n = 0;
    char hex[140] = "";
    CHECK_OK(shardy_key_encode(enc, purpose, &k, out, sizeof out, &n));
    for (size_t i = 0; i < n && i < 64; i++) snprintf(hex + 2 * i, 3, "%02x", out[i]);
    CHECK_STR(hex, hex_want);
}

static void test_encodings(void) {
    check_enc(SHARDY_KEYENC_U64BE, SHARDY_ENCODE_WRITE, shardy_key_int(1), "0000000000000001");
    check_enc(SHARDY_KEYENC_U64BE, SHARDY_ENCODE_WRITE, shardy_key_int(42), "000000000000002a");
    check_enc(SHARDY_KEYENC_U64BE, SHARDY_ENCODE_WRITE, shardy_key_uint(UINT64_MAX), "ffffffffffffffff");
    check_enc(SHARDY_KEYENC_U32BE, SHARDY_ENCODE_WRITE, shardy_key_int(42), "0000002a");
    check_enc(SHARDY_KEYENC_U32BE, SHARDY_ENCODE_WRITE, shardy_key_int(4294967295LL), "ffffffff");
    check_enc(SHARDY_KEYENC_UTF8, SHARDY_ENCODE_WRITE, shardy_key_str("h\xc3\xa9llo", 6), "68c3a96c6c6f");
    check_enc(SHARDY_KEYENC_RAW, SHARDY_ENCODE_WRITE, shardy_key_bytes("\x00\xff", 2), "00ff");
    check_enc(SHARDY_KEYENC_RAW, SHARDY_ENCODE_WRITE, shardy_key_str("ab", 2), "6162");
    check_enc(SHARDY_KEYENC_UTF8, SHARDY_ENCODE_LOOKUP, shardy_key_str("user:1001", 9), "757365723a31303031");
    /* Lookup accepts pre-encoded bytes of the exact width. */
    check_enc(SHARDY_KEYENC_U64BE, SHARDY_ENCODE_LOOKUP, shardy_key_bytes("\0\0\0\0\0\0\0\x2a", 8), "000000000000002a");
    check_enc(SHARDY_KEYENC_U32BE, SHARDY_ENCODE_LOOKUP, shardy_key_bytes("\0\0\0\x2a", 4), "0000002a");

    unsigned char out[8];
    size_t n;
    shardy_key neg = shardy_key_int(-1), big32 = shardy_key_int(4294967296LL), s = shardy_key_str("5", 1);
    shardy_key b8 = shardy_key_bytes("12345678", 8), b7 = shardy_key_bytes("1234567", 7), i = shardy_key_int(5);
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_U64BE, 0, &neg, out, 8, &n), SHARDY_ERANGE);
    CHECK_ERRMSG_HAS("negative");
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_U32BE, 0, &big32, out, 8, &n), SHARDY_ERANGE);
    CHECK_ERRMSG_HAS("4294967296");
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_U64BE, 0, &s, out, 8, &n), SHARDY_ETYPE);
    CHECK_ERRMSG_HAS("requires integer");
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_U64BE, SHARDY_ENCODE_WRITE, &b8, out, 8, &n), SHARDY_ETYPE);
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_U64BE, SHARDY_ENCODE_LOOKUP, &b7, out, 8, &n), SHARDY_ERANGE);
    CHECK_ERRMSG_HAS("length 8");
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_UTF8, 0, &i, out, 8, &n), SHARDY_ETYPE);
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_RAW, 0, &i, out, 8, &n), SHARDY_ETYPE);
    /* Buffer too small: reports the needed size, writes nothing. */
    unsigned char tiny[4] = {0xAA, 0xAA, 0xAA, 0xAA};
    shardy_key i42 = shardy_key_int(42);
    CHECK_ST(shardy_key_encode(SHARDY_KEYENC_U64BE, 0, &i42, tiny, sizeof tiny, &n), SHARDY_ERANGE);
    CHECK_EQ_U64(n, 8);
    CHECK_EQ_INT(tiny[0], 0xAA);
}

static void test_encoding_names(void) {
    shardy_key_encoding e;
    const char *names[] = {"u64be", "u32be", "utf8", "raw"};
    for (int j = 0; j < 4; j++) {
        CHECK_OK(shardy_key_encoding_parse(names[j], &e));
        CHECK_STR(shardy_key_encoding_name(e), names[j]);
    }
    CHECK_ST(shardy_key_encoding_parse("U64BE", &e), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("U64BE");
    CHECK_ST(shardy_key_encoding_parse(NULL, &e), SHARDY_EINVAL);
}

TEST_MAIN(test_vectors, test_reader_vectors, test_uint_keys, test_encodings, test_encoding_names)
