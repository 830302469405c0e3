/* test_manifest.c — manifest model, SQLite image builder and parser (spec formats §3, Appendices A/B,
 * reader-cli §1.3). */
#include <sqlite3.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "snapshot/manifest.h"

#define URL "file:///x/manifests/2026-03-14T10:30:01.000042Z_run_id=r1/manifest"
#define RID "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210"
#define PREFIX "s3://my-bucket/snapshots/users"
#define CP "0123456789abcdef0123456789abcdef"

/* The DDL exactly as printed in spec §3.2 (kept independent of the library's constants). */
static const char spec_ddl_build_meta[] =
    "CREATE TABLE build_meta (\n    run_id           TEXT    NOT NULL,\n    created_at       TEXT    NOT NULL,\n"
    "    num_dbs          INTEGER NOT NULL,\n    s3_prefix        TEXT    NOT NULL,\n"
    "    key_col          TEXT    NOT NULL,\n    sharding         TEXT    NOT NULL,\n"
    "    db_path_template TEXT    NOT NULL,\n    shard_prefix     TEXT    NOT NULL,\n"
    "    format_version   INTEGER NOT NULL,\n    key_encoding     TEXT    NOT NULL,\n"
    "    custom           TEXT    NOT NULL DEFAULT '{}'\n)";
static const char spec_ddl_shards[] =
    "CREATE TABLE shards (\n    db_id         INTEGER NOT NULL PRIMARY KEY,\n    db_url        TEXT,\n"
    "    attempt       INTEGER NOT NULL,\n    row_count     INTEGER NOT NULL,\n    db_bytes      INTEGER NOT NULL,\n"
    "    min_key       TEXT,\n    max_key       TEXT,\n    checkpoint_id TEXT,\n"
    "    writer_info   TEXT    NOT NULL DEFAULT '{}'\n)";

static const char hash_sharding[] = "{\"cel_columns\": null, \"cel_expr\": null, \"hash_algorithm\": \"xxh3_64\", "
                                    "\"routing_values\": null, \"strategy\": \"hash\"}";
static const char default_wi[] = "{\"attempt\": 0, \"duration_ms\": 0, \"stage_id\": null, \"task_attempt_id\": null}";

static int64_t ts(const char *iso) {
    int64_t us = 0;
    if (sy_time_parse_iso(iso, &us)) fprintf(stderr, "bad test timestamp %s\n", iso);
    return us;
}

static char *xstrdup(const char *s) { return s ? sy_strdup(s) : NULL; }

/* ---- the §3.10 worked example ---------------------------------------------------------------- */

static void add_example_shard(sy_manifest *m, int64_t key) {
    uint64_t db = 0;
    shardy_key k = shardy_key_int(key);
    sy_shard *sh = NULL;
    CHECK_OK(shardy_route_hash(&k, 8, &db, NULL));
    if (sy_manifest_add_shard(m, &sh)) return;
    sh->db_id = (int64_t)db;
    sh->db_url = sy_asprintf(PREFIX "/shards/run_id=" RID "/db=%05d/attempt=00", (int)db);
    sh->row_count = 1;
    sh->db_bytes = 8192;
    sh->checkpoint_id = xstrdup(CP);
    CHECK_OK(sy_shard_set_key_range(sh, &k, &k));
}

static sy_manifest *example(void) {
    sy_manifest *m = sy_manifest_new();
    if (!m) return NULL;
    m->run_id = xstrdup(RID);
    m->created_at_us = ts("2026-03-14T10:30:00.123456Z");
    m->num_dbs = 8;
    m->s3_prefix = xstrdup(PREFIX);
    m->key_col = xstrdup("_key");
    m->db_path_template = xstrdup("db={db_id:05d}");
    m->shard_prefix = xstrdup("shards");
    add_example_shard(m, 1);
    add_example_shard(m, 42);
    add_example_shard(m, 123456789);
    return m;
}

static sqlite3 *open_image(const sy_buf *img) {
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return db;
    unsigned char *copy = sqlite3_malloc64(img->len);
    memcpy(copy, img->data, img->len);
    if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)img->len, (sqlite3_int64)img->len,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
        fprintf(stderr, "deserialize failed: %s\n", sqlite3_errmsg(db));
    return db;
}

/* First column of the first row of a query as text (static buffer); "<NULL>" for SQL NULL. */
static const char *query1(sqlite3 *db, const char *sql) {
    static char out[4096];
    sqlite3_stmt *s = NULL;
    snprintf(out, sizeof out, "<error>");
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "query1 %s: %s\n", sql, sqlite3_errmsg(db));
        return out;
    }
    if (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(out, sizeof out, "%s", t ? (const char *)t : "<NULL>");
    } else {
        snprintf(out, sizeof out, "<no row>");
    }
    sqlite3_finalize(s);
    return out;
}

static void test_worked_example(void) {
    sy_manifest *m = example();
    REQUIRE(m != NULL);
    /* §3.10: keys 1, 42, 123456789 route to shards 6, 0, 5 */
    CHECK_EQ_INT(m->shards[0].db_id, 6);
    CHECK_EQ_INT(m->shards[1].db_id, 0);
    CHECK_EQ_INT(m->shards[2].db_id, 5);
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, URL, &img));
    REQUIRE(img.len > 100);
    const unsigned char *h = (const unsigned char *)img.data;
    CHECK(!memcmp(h, "SQLite format 3\0", 16));
    CHECK_EQ_INT(h[16] << 8 | h[17], 4096); /* page size */
    CHECK_EQ_INT(h[18], 1);                 /* rollback journal, not WAL */
    CHECK_EQ_INT(h[19], 1);
    CHECK_EQ_INT(h[20], 0);                 /* reserved bytes */
    CHECK_EQ_INT(h[44] << 24 | h[45] << 16 | h[46] << 8 | h[47], 4); /* schema format */
    CHECK_EQ_INT(h[56] << 24 | h[57] << 16 | h[58] << 8 | h[59], 1); /* UTF-8 */
    CHECK_EQ_INT(h[52] << 24 | h[53] << 16 | h[54] << 8 | h[55], 0); /* auto_vacuum off */
    CHECK_EQ_INT(img.len, 12288);           /* 3 pages, like Python */

    sqlite3 *db = open_image(&img);
    REQUIRE(db != NULL);
    CHECK_STR(query1(db, "SELECT sql FROM sqlite_master WHERE name='build_meta'"), spec_ddl_build_meta);
    CHECK_STR(query1(db, "SELECT sql FROM sqlite_master WHERE name='shards'"), spec_ddl_shards);
    CHECK_STR(query1(db, "SELECT count(*) FROM sqlite_master"), "2");
    CHECK_STR(query1(db, "SELECT count(*) FROM build_meta"), "1");
    CHECK_STR(query1(db, "SELECT json_array(run_id, created_at, num_dbs, s3_prefix, key_col, sharding, "
                         "db_path_template, shard_prefix, format_version, key_encoding, custom) FROM build_meta"),
              "[\"" RID "\",\"2026-03-14T10:30:00.123456Z\",8,\"" PREFIX "\",\"_key\","
              "\"{\\\"cel_columns\\\": null, \\\"cel_expr\\\": null, \\\"hash_algorithm\\\": \\\"xxh3_64\\\", "
              "\\\"routing_values\\\": null, \\\"strategy\\\": \\\"hash\\\"}\",\"db={db_id:05d}\",\"shards\",4,"
              "\"u64be\",\"{}\"]");
    CHECK_STR(query1(db, "SELECT sharding FROM build_meta"), hash_sharding);
    CHECK_STR(query1(db, "SELECT typeof(num_dbs) || typeof(format_version) || typeof(custom) FROM build_meta"),
              "integerintegertext");
    CHECK_STR(query1(db, "SELECT count(*) FROM shards"), "3");
    CHECK_STR(query1(db, "SELECT json_array(db_id, db_url, attempt, row_count, db_bytes, min_key, max_key, "
                         "checkpoint_id, writer_info) FROM shards WHERE db_id = 0"),
              "[0,\"" PREFIX "/shards/run_id=" RID "/db=00000/attempt=00\",0,1,8192,\"42\",\"42\",\"" CP "\","
              "\"{\\\"attempt\\\": 0, \\\"duration_ms\\\": 0, \\\"stage_id\\\": null, \\\"task_attempt_id\\\": "
              "null}\"]");
    CHECK_STR(query1(db, "SELECT group_concat(db_id) FROM shards"), "0,5,6");
    CHECK_STR(query1(db, "SELECT min_key || '|' || typeof(min_key) FROM shards WHERE db_id = 5"), "123456789|text");
    CHECK_STR(query1(db, "PRAGMA integrity_check"), "ok");
    sqlite3_close(db);

    /* and it parses back to the same values */
    sy_manifest *p = NULL;
    CHECK_OK(sy_manifest_parse(img.data, img.len, URL, &p));
    REQUIRE(p != NULL);
    CHECK_STR(p->run_id, RID);
    CHECK_STR(p->created_at, "2026-03-14T10:30:00.123456Z");
    CHECK_EQ_INT(p->created_at_us, m->created_at_us);
    CHECK_EQ_INT(p->num_dbs, 8);
    CHECK_EQ_INT(p->n_shards, 3);
    CHECK_EQ_INT(p->shards[0].db_id, 0); /* sorted */
    CHECK_EQ_INT(p->shards[1].db_id, 5);
    CHECK_EQ_INT(p->shards[2].db_id, 6);
    CHECK_STR(p->shards[0].min_key_json, "42");
    CHECK_EQ_INT(p->shards[0].min_key.kind, SY_SCALAR_INT);
    CHECK_EQ_INT(p->shards[0].max_key.i, 42);
    CHECK_EQ_INT(p->shards[2].min_key.i, 1);
    CHECK_STR(p->shards[0].checkpoint_id, CP);
    CHECK_EQ_INT(p->shards[0].db_bytes, 8192);
    sy_manifest_free(&p);
    sy_manifest_free(&m);
    CHECK(m == NULL);
    sy_manifest_free(&m);
    sy_manifest_free(NULL);
    sy_buf_free(&img);
}

static void test_sqlite_cli(void) {
    if (access("/usr/bin/sqlite3", X_OK) != 0) {
        printf("SKIP test_sqlite_cli: /usr/bin/sqlite3 not available\n");
        return;
    }
    sy_manifest *m = example();
    REQUIRE(m != NULL);
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &img));
    const char *dir = test_tmpdir("manifest-cli");
    char path[4200], cmd[8600], out[256] = "";
    snprintf(path, sizeof path, "%s/manifest", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    CHECK_EQ_INT(fwrite(img.data, 1, img.len, f), img.len);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/sqlite3 -readonly '%s' 'SELECT num_dbs FROM build_meta' 'PRAGMA journal_mode' "
             "'SELECT count(*) FROM shards' 'PRAGMA integrity_check' 2>&1",
             path);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK_EQ_INT(pclose(p), 0);
    CHECK_STR(out, "8\ndelete\n3\nok\n");
    sy_buf_free(&img);
    sy_manifest_free(&m);
}

/* Python's sqlite3 + json (what the Python reader uses) read the image, when available. */
static void test_python_reads(void) {
    if (system("python3 -c 'import sqlite3, json; sqlite3.connect(\":memory:\").deserialize' >/dev/null 2>&1")) {
        printf("SKIP test_python_reads: python3 with sqlite3.deserialize not available\n");
        return;
    }
    sy_manifest *m = example();
    REQUIRE(m != NULL);
    m->sharding.strategy = SY_STRATEGY_CEL;
    m->sharding.cel_expr = xstrdup("region");
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "region", "string"));
    static const char *const tok[] = {"ap", "eu", "us", "z\xc3\xa9", "\xf0\x9f\x98\x80", "a\"b", "k0", "k1"};
    for (int i = 0; i < 8; i++) {
        sy_scalar v = {SY_SCALAR_STR, 0, 0, (char *)tok[i], strlen(tok[i])};
        CHECK_OK(sy_sharding_add_routing_value(&m->sharding, &v));
    }
    shardy_key smin = shardy_key_str("z\xc3\xa9", 3), smax = shardy_key_uint(UINT64_MAX);
    CHECK_OK(sy_shard_set_key_range(&m->shards[0], &smin, &smax));
    json_object_put(m->custom);
    m->custom = json_tokener_parse("{\"team\": \"\\u00e9quipe\", \"n\": [1, 2.5, null, true]}");
    m->shards[1].writer_info = (sy_writer_info){1, 845, 1, 3, 1, 17};
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &img));
    const char *dir = test_tmpdir("manifest-py");
    char path[4200], cmd[8800], out[256] = "";
    snprintf(path, sizeof path, "%s/manifest", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fwrite(img.data, 1, img.len, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "python3 -c '\n"
             "import sys, sqlite3, json\n"
             "p = open(sys.argv[1], \"rb\").read()\n"
             "assert p[:16] == b\"SQLite format 3\\x00\"\n"
             "con = sqlite3.connect(\":memory:\"); con.row_factory = sqlite3.Row; con.deserialize(p)\n"
             "r = con.execute(\"SELECT * FROM build_meta LIMIT 1\").fetchone()\n"
             "s = json.loads(r[\"sharding\"])\n"
             "assert s == {\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"region\",\n"
             "  \"cel_columns\": {\"region\": \"string\"}, \"routing_values\": [\"ap\", \"eu\", \"us\", \"z\\u00e9\",\n"
             "  \"\\U0001F600\", \"a\\\"b\", \"k0\", \"k1\"]}, s\n"
             "assert json.loads(r[\"custom\"]) == {\"team\": \"\\u00e9quipe\", \"n\": [1, 2.5, None, True]}\n"
             "assert r[\"num_dbs\"] == 8 and r[\"format_version\"] == 4 and r[\"created_at\"] == "
             "\"2026-03-14T10:30:00.123456Z\"\n"
             "rows = con.execute(\"SELECT * FROM shards ORDER BY db_id\").fetchall()\n"
             "assert [x[\"db_id\"] for x in rows] == [0, 5, 6]\n"
             "k = {x[\"db_id\"]: (json.loads(x[\"min_key\"]), json.loads(x[\"max_key\"])) for x in rows}\n"
             "assert k[6] == (\"z\\u00e9\", 18446744073709551615), k[6]\n"
             "assert k[0] == (42, 42)\n"
             "assert json.loads(rows[0][\"writer_info\"]) == {\"attempt\": 1, \"duration_ms\": 845, \"stage_id\": 3,\n"
             "  \"task_attempt_id\": 17}\n"
             "print(\"OK\")' '%s' 2>&1",
             path);
    FILE *p = popen(cmd, "r");
    REQUIRE(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK_EQ_INT(pclose(p), 0);
    CHECK_STR(out, "OK\n");
    sy_buf_free(&img);
    sy_manifest_free(&m);
}

/* ---- verified JSON texts ---------------------------------------------------------------------- */

static void check_sharding_text(const sy_sharding *s, const char *want) {
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_sharding_json(s, &b));
    CHECK_STR(b.data, want);
    sy_buf_free(&b);
}

static void test_sharding_texts(void) {
    sy_sharding s = {0};
    check_sharding_text(&s, hash_sharding);
    s.strategy = SY_STRATEGY_CEL;
    s.cel_expr = xstrdup("key % 16u");
    CHECK_OK(sy_sharding_add_cel_column(&s, "key", "int"));
    check_sharding_text(&s, "{\"cel_columns\": {\"key\": \"int\"}, \"cel_expr\": \"key % 16u\", \"hash_algorithm\": "
                            "\"xxh3_64\", \"routing_values\": null, \"strategy\": \"cel\"}");
    sy_sharding_clear(&s);
    CHECK(s.cel_expr == NULL && s.n_cel_columns == 0);
    s.strategy = SY_STRATEGY_CEL;
    s.cel_expr = xstrdup("region");
    CHECK_OK(sy_sharding_add_cel_column(&s, "region", "string"));
    static const char *const tok[] = {"ap", "eu", "us"};
    for (int i = 0; i < 3; i++) {
        sy_scalar v = {SY_SCALAR_STR, 0, 0, (char *)tok[i], 2};
        CHECK_OK(sy_sharding_add_routing_value(&s, &v));
    }
    check_sharding_text(&s, "{\"cel_columns\": {\"region\": \"string\"}, \"cel_expr\": \"region\", \"hash_algorithm\": "
                            "\"xxh3_64\", \"routing_values\": [\"ap\", \"eu\", \"us\"], \"strategy\": \"cel\"}");
    sy_sharding_clear(&s);
    /* int routing values (full u64 range), columns sorted on output */
    s.strategy = SY_STRATEGY_CEL;
    s.cel_expr = xstrdup("b + a");
    CHECK_OK(sy_sharding_add_cel_column(&s, "b", "uint"));
    CHECK_OK(sy_sharding_add_cel_column(&s, "a", "int"));
    sy_scalar v1 = {SY_SCALAR_INT, -5, 0, NULL, 0}, v2 = {SY_SCALAR_UINT, 0, UINT64_MAX, NULL, 0};
    CHECK_OK(sy_sharding_add_routing_value(&s, &v1));
    CHECK_OK(sy_sharding_add_routing_value(&s, &v2));
    check_sharding_text(&s, "{\"cel_columns\": {\"a\": \"int\", \"b\": \"uint\"}, \"cel_expr\": \"b + a\", "
                            "\"hash_algorithm\": \"xxh3_64\", \"routing_values\": [-5, 18446744073709551615], "
                            "\"strategy\": \"cel\"}");
    sy_sharding_clear(&s);
}

static void test_custom_and_writer_info(void) {
    /* §3.5 verified custom text */
    json_object *o = json_tokener_parse("{\"zeta\": 1, \"sqlite_sidecar\": {\"page_size\": 4096, \"format_version\": 8,"
                                        " \"filename\": \"shard.sidecar\", \"codec\": \"zstd\"}, \"alpha\": {\"b\": "
                                        "[1, 2], \"a\": \"\\u00e9\"}}");
    REQUIRE(o != NULL);
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_json_dump(o, 0, &b));
    CHECK_STR(b.data, "{\"alpha\": {\"a\": \"\\u00e9\", \"b\": [1, 2]}, \"sqlite_sidecar\": {\"codec\": \"zstd\", "
                      "\"filename\": \"shard.sidecar\", \"format_version\": 8, \"page_size\": 4096}, \"zeta\": 1}");
    json_object_put(o);
    /* §3.6.2 verified writer_info texts */
    sy_writer_info w = {0};
    sy_buf_reset(&b);
    CHECK_OK(sy_writer_info_json(&w, &b));
    CHECK_STR(b.data, default_wi);
    w = (sy_writer_info){1, 845, 1, 3, 1, 17};
    sy_buf_reset(&b);
    CHECK_OK(sy_writer_info_json(&w, &b));
    CHECK_STR(b.data, "{\"attempt\": 1, \"duration_ms\": 845, \"stage_id\": 3, \"task_attempt_id\": 17}");
    sy_buf_free(&b);
}

static void test_appendix_a(void) {
    sy_buf b = SY_BUF_INIT;
    json_object *o = json_tokener_parse("{\"a\":2,\"Z\":5,\"\\u00e9\":4,\"_\":3,\"B\":1}");
    REQUIRE(o != NULL);
    CHECK_OK(sy_json_dump(o, SY_JSON_COMPACT, &b));
    CHECK_STR(b.data, "{\"B\":1,\"Z\":5,\"_\":3,\"a\":2,\"\\u00e9\":4}");
    json_object_put(o);
    sy_buf_reset(&b);
    CHECK_OK(sy_json_put_string(&b, "\x7f\x1f\b\f\r \xc3\xa9", 8, 0));
    CHECK_STR(b.data, "\"\\u007f\\u001f\\b\\f\\r \\u00e9\"");
    sy_buf_reset(&b);
    o = json_tokener_parse("{\"\\ud83d\\ude00\": 3, \"\\uffff\": 4, \"z\": 2, \"\\u00e9\": 1}");
    REQUIRE(o != NULL);
    CHECK_OK(sy_json_dump(o, 0, &b));
    CHECK_STR(b.data, "{\"z\": 2, \"\\u00e9\": 1, \"\\uffff\": 4, \"\\ud83d\\ude00\": 3}");
    json_object_put(o);
    sy_buf_free(&b);
}

static void test_appendix_b(void) {
    static const char *const v[] = {"2026-03-14T10:30:00Z", "2026-03-14T10:30:00.000005Z",
                                    "2026-03-14T10:30:00.120000Z", "2026-03-14T10:30:00.123456Z"};
    for (int i = 0; i < 4; i++) {
        sy_manifest *m = example();
        REQUIRE(m != NULL);
        m->created_at_us = ts(v[i]);
        sy_buf img = SY_BUF_INIT;
        CHECK_OK(sy_manifest_serialize(m, NULL, &img));
        sqlite3 *db = open_image(&img);
        CHECK_STR(query1(db, "SELECT created_at FROM build_meta"), v[i]);
        sqlite3_close(db);
        sy_buf_free(&img);
        sy_manifest_free(&m);
    }
}

/* ---- §3.6.1 min/max key writer rule -------------------------------------------------------- */

static void check_key_json(shardy_key k, const char *want) {
    char *j = (char *)1;
    CHECK_OK(sy_manifest_key_json(&k, &j));
    if (want)
        CHECK_STR(j, want);
    else
        CHECK(j == NULL);
    sy_free(j);
}

static void test_key_json(void) {
    check_key_json(shardy_key_int(42), "42");
    check_key_json(shardy_key_int(-3), "-3");
    check_key_json(shardy_key_int(0), "0");
    check_key_json(shardy_key_int(INT64_MIN), "-9223372036854775808");
    check_key_json(shardy_key_int(INT64_MAX), "9223372036854775807");
    check_key_json(shardy_key_uint(UINT64_MAX), "18446744073709551615");
    check_key_json(shardy_key_uint(7), "7");
    check_key_json(shardy_key_str("z\xc3\xa9", 3), "\"z\\u00e9\"");
    check_key_json(shardy_key_str("", 0), "\"\"");
    check_key_json(shardy_key_str("\xf0\x9f\x98\x80\"\\/\n", 8), "\"\\ud83d\\ude00\\\"\\\\/\\n\"");
    check_key_json(shardy_key_bytes("abc", 3), "\"abc\"");
    check_key_json(shardy_key_bytes("a\0b", 3), "\"a\\u0000b\"");
    check_key_json(shardy_key_bytes("\xff\xfe", 2), NULL); /* not UTF-8 → SQL NULL */
    check_key_json(shardy_key_bytes("\xed\xa0\x80", 3), NULL); /* surrogate */
    check_key_json(shardy_key_str("\xc3", 1), NULL);
    sy_scalar s;
    shardy_key k = shardy_key_uint(5);
    CHECK_OK(sy_scalar_from_key(&k, &s));
    CHECK_EQ_INT(s.kind, SY_SCALAR_INT); /* small uint normalises to INT */
    CHECK_EQ_INT(s.i, 5);
    sy_scalar_clear(&s);
    k = shardy_key_bytes("\xff", 1);
    CHECK_OK(sy_scalar_from_key(&k, &s));
    CHECK_EQ_INT(s.kind, SY_SCALAR_NULL);
    /* a manifest with a non-UTF-8 key range writes SQL NULL and parses back as NULL */
    sy_manifest *m = example();
    REQUIRE(m != NULL);
    shardy_key bad = shardy_key_bytes("\x80", 1), good = shardy_key_bytes("zz", 2);
    CHECK_OK(sy_shard_set_key_range(&m->shards[1], &bad, &good));
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &img));
    sqlite3 *db = open_image(&img);
    CHECK_STR(query1(db, "SELECT quote(min_key) || ',' || quote(max_key) FROM shards WHERE db_id = 0"),
              "NULL,'\"zz\"'");
    sqlite3_close(db);
    sy_manifest *p = NULL;
    CHECK_OK(sy_manifest_parse(img.data, img.len, URL, &p));
    REQUIRE(p != NULL);
    CHECK_EQ_INT(p->shards[0].min_key.kind, SY_SCALAR_NULL);
    CHECK(p->shards[0].min_key_json == NULL);
    CHECK_EQ_INT(p->shards[0].max_key.kind, SY_SCALAR_STR);
    CHECK_STR(p->shards[0].max_key.str, "zz");
    sy_manifest_free(&p);
    sy_manifest_free(&m);
    sy_buf_free(&img);
}

/* ---- round trips --------------------------------------------------------------------------- */

static void test_round_trip_cel(void) {
    sy_manifest *m = sy_manifest_new();
    REQUIRE(m != NULL);
    m->run_id = xstrdup("123e4567-e89b-12d3-a456-426614174000");
    m->created_at_us = ts("2026-03-14T10:30:00Z");
    m->num_dbs = 3;
    m->s3_prefix = xstrdup("file:///data/snap/");
    m->key_col = xstrdup("user \xc3\xa9");
    m->db_path_template = xstrdup("{db_id}");
    m->shard_prefix = xstrdup("sh");
    m->key_encoding = SHARDY_KEYENC_UTF8;
    m->sharding.strategy = SY_STRATEGY_CEL;
    m->sharding.cel_expr = xstrdup("shard_hash(key) % 3u == 0u ? 1 : 2");
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "key", "string"));
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "age", "int"));
    int64_t ints[] = {10, -20, 30};
    for (int i = 0; i < 3; i++) {
        sy_scalar v = {SY_SCALAR_INT, ints[i], 0, NULL, 0};
        CHECK_OK(sy_sharding_add_routing_value(&m->sharding, &v));
    }
    json_object_put(m->custom);
    m->custom = json_tokener_parse("{\"shard_format\": \"sqlite\", \"vector\": {\"unified\": true, \"dim\": 4}}");
    sy_shard *sh;
    REQUIRE(sy_manifest_add_shard(m, &sh) == SHARDY_OK);
    sh->db_id = 2;
    sh->db_url = xstrdup("file:///data/snap/sh/run_id=x/2/attempt=03");
    sh->attempt = 3;
    sh->row_count = 1000000000000LL;
    sh->db_bytes = 1LL << 40;
    sh->writer_info = (sy_writer_info){3, 12, 0, 0, 1, INT64_MAX};
    shardy_key a = shardy_key_str("a", 1), z = shardy_key_str("\xe6\x97\xa5\xe6\x9c\xac", 6);
    CHECK_OK(sy_shard_set_key_range(sh, &a, &z));
    REQUIRE(sy_manifest_add_shard(m, &sh) == SHARDY_OK);
    sh->db_id = 0;
    sh->db_url = xstrdup("file:///data/snap/sh/run_id=x/0/attempt=00");
    REQUIRE(sy_manifest_add_shard(m, &sh) == SHARDY_OK);
    sh->db_id = 1; /* db_url NULL: an empty shard, never written */
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &img));
    sy_manifest *p = NULL;
    CHECK_OK(sy_manifest_parse(img.data, img.len, URL, &p));
    REQUIRE(p != NULL);
    CHECK_STR(p->run_id, m->run_id);
    CHECK_STR(p->created_at, "2026-03-14T10:30:00Z");
    CHECK_STR(p->s3_prefix, "file:///data/snap/");
    CHECK_STR(p->key_col, "user \xc3\xa9");
    CHECK_EQ_INT(p->key_encoding, SHARDY_KEYENC_UTF8);
    CHECK_EQ_INT(p->sharding.strategy, SY_STRATEGY_CEL);
    CHECK_STR(p->sharding.cel_expr, "shard_hash(key) % 3u == 0u ? 1 : 2");
    REQUIRE(p->sharding.n_cel_columns == 2);
    CHECK_STR(p->sharding.cel_columns[0].name, "age"); /* stored sorted */
    CHECK_STR(p->sharding.cel_columns[0].type, "int");
    CHECK_STR(p->sharding.cel_columns[1].name, "key");
    REQUIRE(p->sharding.n_routing_values == 3);
    CHECK(p->sharding.has_routing_values);
    CHECK_EQ_INT(p->sharding.routing_values[1].kind, SY_SCALAR_INT);
    CHECK_EQ_INT(p->sharding.routing_values[1].i, -20);
    json_object *v = NULL;
    CHECK(json_object_object_get_ex(p->custom, "shard_format", &v));
    CHECK_STR(json_object_get_string(v), "sqlite");
    REQUIRE(p->n_shards == 2);
    CHECK_EQ_INT(p->shards[0].db_id, 0);
    CHECK(p->shards[0].min_key_json == NULL);
    CHECK(p->shards[0].checkpoint_id == NULL);
    CHECK_EQ_INT(p->shards[0].writer_info.has_stage_id, 0);
    const sy_shard *s2 = &p->shards[1];
    CHECK_EQ_INT(s2->db_id, 2);
    CHECK_EQ_INT(s2->attempt, 3);
    CHECK_EQ_INT(s2->row_count, 1000000000000LL);
    CHECK_EQ_INT(s2->db_bytes, 1LL << 40);
    CHECK_STR(s2->max_key.str, "\xe6\x97\xa5\xe6\x9c\xac");
    CHECK_STR(s2->max_key_json, "\"\\u65e5\\u672c\"");
    CHECK_EQ_INT(s2->writer_info.attempt, 3);
    CHECK_EQ_INT(s2->writer_info.duration_ms, 12);
    CHECK_EQ_INT(s2->writer_info.has_task_attempt_id, 1);
    CHECK_EQ_INT(s2->writer_info.task_attempt_id, INT64_MAX);
    /* serialising the parsed manifest gives the same bytes back (deterministic builder) */
    sy_buf again = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(p, NULL, &again));
    CHECK_EQ_INT(again.len, img.len);
    CHECK(again.len == img.len && !memcmp(again.data, img.data, img.len));
    sy_buf_free(&again);
    sy_manifest_free(&p);
    sy_manifest_free(&m);
    sy_buf_free(&img);
}

static void test_pad(void) {
    sy_manifest *m = example();
    REQUIRE(m != NULL);
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &img));
    sy_manifest_free(&m);
    CHECK_OK(sy_manifest_parse(img.data, img.len, URL, &m));
    REQUIRE(m != NULL);
    CHECK(sy_manifest_find_shard(m, 5) == &m->shards[1]);
    CHECK(sy_manifest_find_shard(m, 1) == NULL);
    CHECK_OK(sy_manifest_pad(m));
    CHECK_OK(sy_manifest_pad(m)); /* idempotent */
    REQUIRE(m->n_shards == 8);
    for (int i = 0; i < 8; i++) {
        const sy_shard *sh = &m->shards[i];
        CHECK_EQ_INT(sh->db_id, i);
        int full = i == 0 || i == 5 || i == 6;
        CHECK_EQ_INT(sh->db_url != NULL, full);
        CHECK_EQ_INT(sh->row_count, full ? 1 : 0);
        CHECK_EQ_INT(sh->db_bytes, full ? 8192 : 0);
        CHECK_EQ_INT(sh->min_key.kind, full ? SY_SCALAR_INT : SY_SCALAR_NULL);
        CHECK_EQ_INT(sh->attempt, 0);
        CHECK_EQ_INT(sh->writer_info.has_stage_id, 0);
        CHECK(full || sh->checkpoint_id == NULL);
        CHECK((sy_manifest_find_shard(m, i) != NULL) == full);
    }
    CHECK_EQ_INT(m->shards[6].min_key.i, 1);
    CHECK(sy_manifest_find_shard(m, 8) == NULL);
    CHECK(sy_manifest_find_shard(m, -1) == NULL);
    /* a padded manifest serialises to the same rows (empty shards are not written) */
    sy_buf again = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &again));
    CHECK(again.len == img.len && !memcmp(again.data, img.data, img.len));
    sy_buf_free(&again);
    sy_manifest_free(&m);
    /* invalid input is refused, not corrupted */
    m = example();
    REQUIRE(m != NULL);
    m->shards[2].db_id = m->shards[0].db_id;
    CHECK_ST(sy_manifest_pad(m), SHARDY_EINVAL);
    CHECK_EQ_INT(m->n_shards, 3);
    m->shards[2].db_id = 99;
    CHECK_ST(sy_manifest_pad(m), SHARDY_EINVAL);
    sy_manifest_free(&m);
    sy_buf_free(&img);
}

/* ---- builder refusals ---------------------------------------------------------------------- */

static void expect_build_fail(sy_manifest *m, shardy_status want, const char *sub) {
    sy_buf out = SY_BUF_INIT;
    CHECK_OK(sy_buf_puts(&out, "keep"));
    CHECK_ST(sy_manifest_serialize(m, "s3://b/p/manifests/x/manifest", &out), want);
    CHECK_ERRMSG_HAS("manifest s3://b/p/manifests/x/manifest: ");
    if (sub) CHECK_ERRMSG_HAS(sub);
    CHECK_STR(out.data, "keep");
    sy_buf_free(&out);
    sy_manifest_free(&m);
}

static void test_build_refusals(void) {
    sy_manifest *m;
    sy_scalar bytes_tok = {SY_SCALAR_BYTES, 0, 0, (char *)"ab", 2};

    m = example();
    m->sharding.strategy = SY_STRATEGY_CEL;
    m->sharding.cel_expr = xstrdup("k");
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "k", "bytes"));
    for (int i = 0; i < 8; i++) CHECK_OK(sy_sharding_add_routing_value(&m->sharding, &bytes_tok));
    expect_build_fail(m, SHARDY_EINVAL, "bytes routing values are refused");

    m = example();
    sy_free(m->run_id);
    m->run_id = xstrdup("a/b");
    expect_build_fail(m, SHARDY_EINVAL, "column run_id");
    m = example();
    sy_free(m->run_id);
    m->run_id = NULL;
    expect_build_fail(m, SHARDY_EINVAL, "column run_id: must not be NULL");
    m = example();
    sy_free(m->db_path_template);
    m->db_path_template = xstrdup("db={db_id:x}");
    expect_build_fail(m, SHARDY_EINVAL, "db_path_template");
    m = example();
    sy_free(m->s3_prefix);
    m->s3_prefix = xstrdup("s3://bucket");
    expect_build_fail(m, SHARDY_EINVAL, "s3_prefix");
    m = example();
    sy_free(m->shard_prefix);
    m->shard_prefix = xstrdup("a/b");
    expect_build_fail(m, SHARDY_EINVAL, "shard_prefix");
    m = example();
    sy_free(m->key_col);
    m->key_col = xstrdup("\xff");
    expect_build_fail(m, SHARDY_EINVAL, "column key_col: is not valid UTF-8");
    m = example();
    m->num_dbs = 0;
    expect_build_fail(m, SHARDY_EFORMAT, "column num_dbs: must be > 0, got 0");
    m = example();
    m->format_version = 5;
    expect_build_fail(m, SHARDY_EVERSION, "Unsupported manifest format_version: 5. Supported: [4]");
    m = example();
    m->shards[2].db_id = 0;
    expect_build_fail(m, SHARDY_EFORMAT, "Manifest contains duplicate shard db_ids: [0, 0, 6]");
    m = example();
    m->num_dbs = 6;
    expect_build_fail(m, SHARDY_EFORMAT, "Manifest shard db_ids out of range [0, 6): [6]");
    m = example();
    m->num_dbs = 2;
    expect_build_fail(m, SHARDY_EFORMAT, "Manifest shard count exceeds num_dbs: 3 > 2");
    m = example();
    m->shards[0].attempt = -1;
    expect_build_fail(m, SHARDY_EFORMAT, "table shards row db_id=6 column attempt: must be >= 0, got -1");
    m = example();
    sy_scalar_clear(&m->shards[0].min_key);
    m->shards[0].min_key = (sy_scalar){SY_SCALAR_BYTES, 0, 0, sy_strdup("x"), 1};
    expect_build_fail(m, SHARDY_EINVAL, "min_key");
    m = example();
    m->created_at_us = ts("9999-12-31T23:59:59Z") + 1000000;
    expect_build_fail(m, SHARDY_EINVAL, "created_at");
    m = example();
    json_object_put(m->custom);
    m->custom = json_object_new_array();
    expect_build_fail(m, SHARDY_EFORMAT, "column custom: must be a JSON object");
    m = example();
    json_object_put(m->custom);
    m->custom = json_tokener_parse("{\"vector\": {\"dim\": 4, \"unified\": false}}");
    expect_build_fail(m, SHARDY_EUNSUPPORTED, "vector");
    m = example();
    json_object_put(m->custom);
    m->custom = json_object_new_object();
    json_object_object_add(m->custom, "k", json_object_new_string_len("\xff", 1));
    expect_build_fail(m, SHARDY_EINVAL, "custom");
    m = example();
    m->sharding.strategy = SY_STRATEGY_CEL;
    m->sharding.cel_expr = xstrdup("region");
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "region", "string"));
    for (int i = 0; i < 3; i++) {
        char t[2] = {(char)('a' + i), 0};
        sy_scalar v = {SY_SCALAR_STR, 0, 0, t, 1};
        CHECK_OK(sy_sharding_add_routing_value(&m->sharding, &v));
    }
    expect_build_fail(m, SHARDY_EFORMAT,
                      "Categorical CEL manifest num_dbs must match routing_values cardinality (expected 3, got 8)");
    m = example();
    m->sharding.cel_expr = xstrdup("x");
    expect_build_fail(m, SHARDY_EFORMAT, "cel_expr is only valid with CEL strategy");
    m = example();
    m->sharding.strategy = SY_STRATEGY_CEL;
    m->sharding.cel_expr = xstrdup("x");
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "x", "int"));
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "x", "int"));
    expect_build_fail(m, SHARDY_EINVAL, "twice");
    m = example();
    m->sharding.strategy = SY_STRATEGY_CEL;
    m->sharding.cel_expr = xstrdup("x");
    CHECK_OK(sy_sharding_add_cel_column(&m->sharding, "x", "timestamp"));
    expect_build_fail(m, SHARDY_EFORMAT, "expected one of int, string, bytes, double, bool, uint");
    m = example();
    m->key_encoding = (shardy_key_encoding)9;
    expect_build_fail(m, SHARDY_EFORMAT, "key_encoding");
}

/* ---- parser: raw images made with plain SQL -------------------------------------------------- */

enum { NB = 11, NS = 9, MAXROWS = 4 };
static const char *const bm_cols[NB] = {"run_id", "created_at", "num_dbs", "s3_prefix", "key_col", "sharding",
                                        "db_path_template", "shard_prefix", "format_version", "key_encoding",
                                        "custom"};
static const char *const bm_types[NB] = {"TEXT", "TEXT", "INTEGER", "TEXT", "TEXT", "TEXT",
                                         "TEXT", "TEXT", "INTEGER", "TEXT", "TEXT"};
static const char *const sh_cols[NS] = {"db_id", "db_url", "attempt", "row_count", "db_bytes",
                                        "min_key", "max_key", "checkpoint_id", "writer_info"};
static const char *const sh_types[NS] = {"INTEGER", "TEXT", "INTEGER", "INTEGER", "INTEGER",
                                         "TEXT", "TEXT", "TEXT", "TEXT"};

typedef struct spec {
    const char *bm[NB];          /* SQL expressions; NULL = column absent */
    const char *bm_decl[NB];     /* column type override ("" = no affinity); NULL = spec type */
    int no_bm_row;
    int n_rows;
    const char *sh[MAXROWS][NS]; /* SQL expressions */
    int sh_omit[NS];
    int sh_no_pk;
    const char *pre;             /* SQL instead of the build_meta/shards DDL+rows (NULL = generate) */
    const char *extra;           /* extra SQL run at the end */
} spec;

static spec base(void) {
    spec s;
    memset(&s, 0, sizeof s);
    const char *bm[NB] = {"'r1'", "'2026-03-14T10:30:00.123456Z'", "8", "'s3://b/p'", "'_key'",
                          "'{\"hash_algorithm\": \"xxh3_64\", \"strategy\": \"hash\"}'", "'db={db_id:05d}'",
                          "'shards'", "4", "'u64be'", "'{}'"};
    memcpy(s.bm, bm, sizeof bm);
    s.n_rows = 1;
    const char *row[NS] = {"0", "'s3://b/p/shards/run_id=r1/db=00000/attempt=00'", "0", "1", "8192", "'42'", "'42'",
                           "'" CP "'", "'{}'"};
    memcpy(s.sh[0], row, sizeof row);
    return s;
}

/* Sets row r to a copy of row 0 with db_id = id. */
static void add_row(spec *s, const char *id) {
    memcpy(s->sh[s->n_rows], s->sh[0], sizeof s->sh[0]);
    s->sh[s->n_rows][0] = id;
    s->n_rows++;
}

static void cat(sy_buf *b, const char *t) {
    if (sy_buf_puts(b, t)) fprintf(stderr, "out of memory in test\n");
}

static unsigned char *spec_image(const spec *s, size_t *len) {
    sy_buf sql = SY_BUF_INIT;
    if (s->pre) {
        cat(&sql, s->pre);
    } else {
        cat(&sql, "CREATE TABLE build_meta (");
        int first = 1;
        for (int i = 0; i < NB; i++) {
            if (!s->bm[i]) continue;
            if (!first) cat(&sql, ", ");
            cat(&sql, bm_cols[i]);
            cat(&sql, " ");
            cat(&sql, s->bm_decl[i] ? s->bm_decl[i] : bm_types[i]);
            first = 0;
        }
        cat(&sql, ");\nCREATE TABLE shards (");
        first = 1;
        for (int i = 0; i < NS; i++) {
            if (s->sh_omit[i]) continue;
            if (!first) cat(&sql, ", ");
            cat(&sql, sh_cols[i]);
            cat(&sql, " ");
            cat(&sql, sh_types[i]);
            if (i == 0 && !s->sh_no_pk) cat(&sql, " PRIMARY KEY");
            first = 0;
        }
        cat(&sql, ");\n");
        if (!s->no_bm_row) {
            cat(&sql, "INSERT INTO build_meta VALUES (");
            first = 1;
            for (int i = 0; i < NB; i++) {
                if (!s->bm[i]) continue;
                if (!first) cat(&sql, ", ");
                cat(&sql, s->bm[i]);
                first = 0;
            }
            cat(&sql, ");\n");
        }
        for (int r = 0; r < s->n_rows; r++) {
            cat(&sql, "INSERT INTO shards VALUES (");
            first = 1;
            for (int i = 0; i < NS; i++) {
                if (s->sh_omit[i]) continue;
                if (!first) cat(&sql, ", ");
                cat(&sql, s->sh[r][i]);
                first = 0;
            }
            cat(&sql, ");\n");
        }
    }
    if (s->extra) cat(&sql, s->extra);
    sqlite3 *db = NULL;
    unsigned char *img = NULL;
    sqlite3_int64 n = 0;
    sqlite3_open(":memory:", &db);
    char *err = NULL;
    if (sqlite3_exec(db, sql.data, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "test SQL failed: %s\n%s\n", err, sql.data);
        sqlite3_free(err);
    } else {
        unsigned char *p = sqlite3_serialize(db, "main", &n, 0);
        if (p) {
            img = sy_malloc((size_t)n);
            memcpy(img, p, (size_t)n);
            sqlite3_free(p);
        }
    }
    sqlite3_close(db);
    sy_buf_free(&sql);
    *len = (size_t)n;
    return img;
}

/* Parses the image of s; checks status and message substrings (sub2 may be NULL). */
static void expect_parse_(const spec *s, shardy_status want, const char *sub, const char *sub2, int line) {
    int before = check_failures;
    size_t len = 0;
    unsigned char *img = spec_image(s, &len);
    CHECK(img != NULL);
    sy_manifest *m = (sy_manifest *)1;
    CHECK_ST(sy_manifest_parse(img, len, URL, &m), want);
    if (want != SHARDY_OK) {
        CHECK(m == NULL);
        CHECK(!strncmp(shardy_errmsg(), "manifest " URL ": ", strlen("manifest " URL ": ")));
        if (sub) CHECK_ERRMSG_HAS(sub);
        if (sub2) CHECK_ERRMSG_HAS(sub2);
    }
    sy_manifest_free(&m);
    sy_free(img);
    if (check_failures != before) fprintf(stderr, "  ^ from the case at line %d\n", line);
}
#define EXPECT_FAIL(s, st, sub, sub2) expect_parse_(&(s), st, sub, sub2, __LINE__)
#define EXPECT_OK(s) expect_parse_(&(s), SHARDY_OK, NULL, NULL, __LINE__)

static sy_manifest *parse_spec(const spec *s) {
    size_t len = 0;
    unsigned char *img = spec_image(s, &len);
    sy_manifest *m = NULL;
    CHECK_OK(sy_manifest_parse(img, len, URL, &m));
    sy_free(img);
    return m;
}

static void test_parse_container(void) {
    sy_manifest *m = (sy_manifest *)1;
    static const char *const garbage[] = {"", "hello", "SQLite format 3", "SQLite format 2\0xxxxxxxxxxx", "{}",
                                          "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        CHECK_ST(sy_manifest_parse(garbage[i], strlen(garbage[i]) + (i == 3), URL, &m), SHARDY_EFORMAT);
        CHECK(m == NULL);
        CHECK_ERRMSG_HAS("manifest " URL ": Unsupported manifest format: expected SQLite (magic header not found)");
    }
    CHECK_ST(sy_manifest_parse(NULL, 0, URL, &m), SHARDY_EFORMAT);
    /* magic followed by junk */
    unsigned char junk[4096];
    memset(junk, 0xA5, sizeof junk);
    memcpy(junk, "SQLite format 3\0", 16);
    static const char not_db[] = "manifest " URL ": Failed to read SQLite manifest tables: reading the schema: "
                                 "file is not a database";
    CHECK_ST(sy_manifest_parse(junk, sizeof junk, URL, &m), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS(not_db);
    CHECK_ST(sy_manifest_parse(junk, 16, URL, &m), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS(not_db);
    CHECK_ST(sy_manifest_parse(junk, 100, URL, &m), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS(not_db);
    memset(junk + 16, 0, sizeof junk - 16);
    CHECK_ST(sy_manifest_parse(junk, sizeof junk, URL, &m), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS(not_db);
    CHECK(m == NULL);

    /* WAL-format image: refused with a clear message (Python cannot open it either) */
    sy_manifest *ex = example();
    REQUIRE(ex != NULL);
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(ex, NULL, &img));
    sy_manifest_free(&ex);
    img.data[18] = img.data[19] = 2;
    CHECK_ST(sy_manifest_parse(img.data, img.len, URL, &m), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS("WAL-mode image");
    CHECK_ERRMSG_HAS("rollback-journal");
    /* a real WAL-mode database file */
    const char *dir = test_tmpdir("manifest-wal");
    char path[4200];
    snprintf(path, sizeof path, "%s/wal.db", dir);
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(db);
    FILE *f = fopen(path, "rb");
    REQUIRE(f != NULL);
    unsigned char wal[65536];
    size_t n = fread(wal, 1, sizeof wal, f);
    fclose(f);
    CHECK_EQ_INT(wal[18], 2);
    CHECK_ST(sy_manifest_parse(wal, n, URL, &m), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS("WAL-mode image");
    sy_buf_free(&img);
}

static void test_parse_tables_and_columns(void) {
    spec s = base();
    EXPECT_OK(s);
    s.pre = "CREATE TABLE shards (db_id INTEGER);";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "Failed to read SQLite manifest tables: no such table: build_meta", NULL);
    s = base();
    s.pre = "CREATE TABLE build_meta (run_id TEXT);";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "no such table: shards", NULL);
    s = base();
    s.no_bm_row = 1;
    EXPECT_FAIL(s, SHARDY_EFORMAT, "manifest " URL ": SQLite manifest has no build_meta row", NULL);
    for (int i = 0; i < NB; i++) {
        s = base();
        s.bm[i] = NULL;
        char want[128];
        snprintf(want, sizeof want, "manifest " URL ": table build_meta has no column %s", bm_cols[i]);
        EXPECT_FAIL(s, SHARDY_EFORMAT, want, NULL);
    }
    for (int i = 1; i < NS; i++) {
        s = base();
        s.sh_omit[i] = 1;
        char want[128];
        snprintf(want, sizeof want, "manifest " URL ": table shards has no column %s", sh_cols[i]);
        EXPECT_FAIL(s, SHARDY_EFORMAT, want, NULL);
    }
    /* db_id missing: ORDER BY db_id cannot run */
    s = base();
    s.sh_omit[0] = 1;
    EXPECT_FAIL(s, SHARDY_EFORMAT, "Failed to read SQLite manifest tables", "db_id");
    /* extra columns and tables are ignored; column names are matched case-insensitively */
    s = base();
    s.extra = "ALTER TABLE build_meta ADD COLUMN future TEXT DEFAULT 'x';"
              "ALTER TABLE shards ADD COLUMN sidecar_bytes INTEGER DEFAULT 5;"
              "CREATE TABLE notes (n TEXT); INSERT INTO notes VALUES ('hi'); CREATE INDEX ix ON shards(db_url);";
    EXPECT_OK(s);
    s = base();
    s.pre = "CREATE TABLE BUILD_META (RUN_ID TEXT, Created_At TEXT, NUM_DBS INTEGER, S3_PREFIX TEXT, KEY_COL TEXT,"
            " SHARDING TEXT, DB_PATH_TEMPLATE TEXT, SHARD_PREFIX TEXT, FORMAT_VERSION INTEGER, KEY_ENCODING TEXT,"
            " CUSTOM TEXT); CREATE TABLE Shards (DB_ID INTEGER PRIMARY KEY, DB_URL TEXT, ATTEMPT INTEGER,"
            " ROW_COUNT INTEGER, DB_BYTES INTEGER, MIN_KEY TEXT, MAX_KEY TEXT, CHECKPOINT_ID TEXT, WRITER_INFO TEXT);"
            "INSERT INTO build_meta VALUES ('r', '2026-01-01T00:00:00Z', 1, 's3://b/p', 'k',"
            " '{\"hash_algorithm\":\"xxh3_64\"}', 'db={db_id:05d}', 'shards', 4, 'raw', NULL);";
    EXPECT_OK(s);
    /* only the first build_meta row counts */
    s = base();
    s.extra = "INSERT INTO build_meta VALUES ('r2', 'junk', -5, 0, 0, 'x', 0, 0, 99, 'bad', '[]');";
    EXPECT_OK(s);
    /* views and virtual tables are not manifest tables */
    s = base();
    s.pre = "CREATE TABLE bm (run_id TEXT); CREATE VIEW build_meta AS SELECT * FROM bm;"
            "CREATE TABLE shards (db_id INTEGER);";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "build_meta is not an ordinary table", NULL);
    s = base();
    s.extra = "DROP TABLE shards; CREATE VIRTUAL TABLE shards USING fts5(db_id);";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "shards is not an ordinary table", NULL);
}

static void test_parse_json_columns(void) {
    spec s = base();
    s.bm[5] = "'not json'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table build_meta column sharding: invalid JSON", NULL);
    s.bm[5] = "NULL";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table build_meta column sharding: expected TEXT, got NULL", NULL);
    s.bm[5] = "''";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column sharding", "empty");
    s = base();
    s.bm[10] = "'{\"a\": '";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table build_meta column custom: invalid JSON", NULL);
    s.bm[10] = "'[]'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table build_meta column custom: must be a JSON object, got array", NULL);
    s.bm[10] = "'null'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column custom: must be a JSON object, got null", NULL);
    s.bm[10] = "'5'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column custom: must be a JSON object", NULL);
    /* SQL NULL or empty custom → {} */
    s.bm[10] = "NULL";
    sy_manifest *m = parse_spec(&s);
    CHECK(m && json_object_is_type(m->custom, json_type_object) && json_object_object_length(m->custom) == 0);
    sy_manifest_free(&m);
    s.bm[10] = "''";
    m = parse_spec(&s);
    CHECK(m && json_object_is_type(m->custom, json_type_object) && json_object_object_length(m->custom) == 0);
    sy_manifest_free(&m);
    s = base();
    s.sh[0][5] = "'abc'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table shards row db_id=0 column min_key: invalid JSON", NULL);
    s.sh[0][5] = "''";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column min_key", "empty");
    s = base();
    s.sh[0][6] = "'{\"k\": 1}'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table shards row db_id=0 column max_key: max_key must be a JSON integer or string",
                NULL);
    s = base();
    s.sh[0][8] = "'{'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table shards row db_id=0 column writer_info: invalid JSON", NULL);
    s.sh[0][8] = "NULL";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column writer_info: expected TEXT, got NULL", NULL);
    s.sh[0][8] = "'null'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column writer_info: must be a JSON object, got null", NULL);
    s.sh[0][8] = "'[]'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column writer_info: must be a JSON object", NULL);
    s.sh[0][8] = "'{\"attempt\": \"1\"}'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column writer_info: attempt must be an integer", NULL);
    s.sh[0][8] = "'{\"attempt\": null}'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column writer_info: attempt must be an integer", NULL);
    s.sh[0][8] = "'{\"stage_id\": 1.5}'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column writer_info: stage_id must be an integer or null", NULL);
    s.sh[0][8] = "'{\"task_attempt_id\": 18446744073709551615}'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "task_attempt_id", NULL);
    /* {} → defaults; extra keys ignored */
    s.sh[0][8] = "'{\"attempt\": 2, \"stage_id\": null, \"host\": \"x\"}'";
    m = parse_spec(&s);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(m->shards[0].writer_info.attempt, 2);
    CHECK_EQ_INT(m->shards[0].writer_info.duration_ms, 0);
    CHECK_EQ_INT(m->shards[0].writer_info.has_stage_id, 0);
    sy_manifest_free(&m);
}

static void test_parse_types(void) {
    spec s;
    s = base();
    s.bm[2] = "0";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "Manifest validation failed: table build_meta column num_dbs: must be > 0, got 0",
                NULL);
    s.bm[2] = "-1";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column num_dbs: must be > 0, got -1", NULL);
    s.bm[2] = "'abc'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column num_dbs: expected an INTEGER, got TEXT 'abc'", NULL);
    s.bm[2] = "'8'"; /* INTEGER affinity turns '8' into 8 */
    EXPECT_OK(s);
    s.bm[2] = "2.5";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column num_dbs: expected an INTEGER, got REAL 2.5", NULL);
    s.bm[2] = "NULL";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column num_dbs: expected an INTEGER, got NULL", NULL);
    s.bm[2] = "1000001";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column num_dbs: 1000001 exceeds the supported maximum 1000000", NULL);
    s.bm[2] = "1000000";
    EXPECT_OK(s);
    s = base();
    s.bm[1] = "'yesterday'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column created_at", "yesterday");
    s.bm[1] = "'2026-02-30T00:00:00Z'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column created_at", NULL);
    s.bm[1] = "1700000000"; /* TEXT affinity stores '1700000000'; not a datetime string */
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column created_at: '1700000000' is not an ISO-8601 datetime", NULL);
    s.bm[1] = "'2026-03-14T10:30:00+02:00'";
    EXPECT_OK(s);
    s = base();
    s.bm[9] = "'U64BE'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column key_encoding: Unsupported key encoding: 'U64BE'", NULL);
    s.bm[9] = "'utf-8'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column key_encoding", NULL);
    static const char *const encs[] = {"'u64be'", "'u32be'", "'utf8'", "'raw'"};
    for (int i = 0; i < 4; i++) {
        s.bm[9] = encs[i];
        sy_manifest *m = parse_spec(&s);
        CHECK(m && (int)m->key_encoding == i);
        sy_manifest_free(&m);
    }
    s = base();
    s.bm[0] = "NULL";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column run_id: expected TEXT, got NULL", NULL);
    s.bm[0] = "X'6162'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column run_id: expected TEXT, got a BLOB of 2 bytes", NULL);
    s.bm[0] = "CAST(X'61FF62' AS TEXT)";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column run_id: is not valid UTF-8: TEXT 'a\\xffb'", NULL);
    s.bm[0] = "CAST(X'610062' AS TEXT)";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column run_id: contains a NUL byte", NULL);
    s = base();
    s.bm[3] = "5"; /* TEXT affinity stores '5': a valid (if odd) str, as in Python */
    EXPECT_OK(s);
    s.bm_decl[3] = "";  /* no affinity: the INTEGER 5 stays an INTEGER */
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column s3_prefix: expected TEXT, got INTEGER 5", NULL);
    s.bm[3] = "5.5";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column s3_prefix: expected TEXT, got REAL 5.5", NULL);
    s = base();
    s.bm[8] = "'4'";
    EXPECT_OK(s); /* affinity */
    s.bm[8] = "'four'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column format_version: expected an INTEGER, got TEXT 'four'", NULL);
    /* shards counters */
    static const int cols[] = {0, 2, 3, 4};
    for (int i = 0; i < 4; i++) {
        s = base();
        s.sh[0][cols[i]] = "-1";
        char want[128];
        snprintf(want, sizeof want, "Manifest validation failed: table shards row db_id=%s column %s: must be >= 0, "
                                    "got -1", cols[i] == 0 ? "-1" : "0", sh_cols[cols[i]]);
        EXPECT_FAIL(s, SHARDY_EFORMAT, want, NULL);
        s.sh[0][cols[i]] = "'x'";
        s.sh_no_pk = 1; /* an INTEGER PRIMARY KEY cannot hold 'x' */
        EXPECT_FAIL(s, SHARDY_EFORMAT, sh_cols[cols[i]], "expected an INTEGER, got TEXT 'x'");
    }
    s = base();
    s.sh[0][1] = "X'00'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "table shards row db_id=0 column db_url: expected TEXT, got a BLOB", NULL);
    s.sh[0][1] = "NULL"; /* explicit empty shard */
    EXPECT_OK(s);
    s = base();
    s.sh[0][7] = "NULL";
    EXPECT_OK(s);
    s.sh[0][7] = "X'07'";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "column checkpoint_id: expected TEXT, got a BLOB of 1 bytes", NULL);
}

static void test_parse_keys(void) {
    struct {
        const char *sql;
        sy_scalar_kind kind;
        int64_t i;
        uint64_t u;
        const char *str;
    } ok[] = {
        {"'42'", SY_SCALAR_INT, 42, 0, NULL},
        {"'-3'", SY_SCALAR_INT, -3, 0, NULL},
        {"'18446744073709551615'", SY_SCALAR_UINT, 0, UINT64_MAX, NULL},
        {"'9223372036854775808'", SY_SCALAR_UINT, 0, 9223372036854775808ULL, NULL},
        {"'9223372036854775807'", SY_SCALAR_INT, INT64_MAX, 0, NULL},
        {"'-9223372036854775808'", SY_SCALAR_INT, INT64_MIN, 0, NULL},
        {"'\"z\\u00e9\"'", SY_SCALAR_STR, 0, 0, "z\xc3\xa9"},
        {"'\"abc\"'", SY_SCALAR_STR, 0, 0, "abc"},
        {"'null'", SY_SCALAR_NULL, 0, 0, NULL},
        {"NULL", SY_SCALAR_NULL, 0, 0, NULL},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
        spec s = base();
        s.sh[0][5] = ok[k].sql;
        sy_manifest *m = parse_spec(&s);
        if (!m) {
            fprintf(stderr, "  ^ key case %s\n", ok[k].sql);
            continue;
        }
        const sy_scalar *v = &m->shards[0].min_key;
        CHECK_EQ_INT(v->kind, ok[k].kind);
        if (ok[k].kind == SY_SCALAR_INT) CHECK_EQ_INT(v->i, ok[k].i);
        if (ok[k].kind == SY_SCALAR_UINT) CHECK_EQ_U64(v->u, ok[k].u);
        if (ok[k].kind == SY_SCALAR_STR) CHECK_STR(v->str, ok[k].str);
        sy_manifest_free(&m);
    }
    static const char *const bad[] = {"'1.5'", "'1.0'", "'1e3'", "'true'", "'[1]'", "'18446744073709551616'",
                                      "'-9223372036854775809'", "'NaN'"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        spec s = base();
        s.sh[0][6] = bad[k];
        EXPECT_FAIL(s, SHARDY_EFORMAT, "table shards row db_id=0 column max_key", NULL);
    }
}

static void test_parse_version_and_structure(void) {
    spec s = base();
    s.bm[8] = "5";
    EXPECT_FAIL(s, SHARDY_EVERSION, "manifest " URL ": Unsupported manifest format_version: 5. Supported: [4]", NULL);
    s.bm[8] = "3";
    EXPECT_FAIL(s, SHARDY_EVERSION, "Unsupported manifest format_version: 3. Supported: [4]", NULL);
    /* a future version is reported as such even when its columns differ */
    s.bm[8] = "5";
    s.bm[5] = NULL;
    EXPECT_FAIL(s, SHARDY_EVERSION, "Unsupported manifest format_version: 5", NULL);

    s = base();
    s.bm[2] = "1";
    add_row(&s, "1");
    EXPECT_FAIL(s, SHARDY_EFORMAT, "manifest " URL ": Manifest shard count exceeds num_dbs: 2 > 1", NULL);
    s = base();
    s.bm[2] = "2";
    add_row(&s, "1");
    add_row(&s, "2");
    add_row(&s, "3");
    EXPECT_FAIL(s, SHARDY_EFORMAT, "Manifest shard count exceeds num_dbs: 4 > 2", NULL);

    s = base();
    s.sh_no_pk = 1;
    add_row(&s, "0");
    add_row(&s, "1");
    EXPECT_FAIL(s, SHARDY_EFORMAT, "manifest " URL ": Manifest contains duplicate shard db_ids: [0, 0, 1]", NULL);

    s = base();
    s.bm[2] = "2";
    add_row(&s, "5");
    EXPECT_FAIL(s, SHARDY_EFORMAT, "manifest " URL ": Manifest shard db_ids out of range [0, 2): [5]", NULL);
    s = base();
    s.bm[2] = "3";
    s.sh[0][0] = "3";
    add_row(&s, "4");
    EXPECT_FAIL(s, SHARDY_EFORMAT, "Manifest shard db_ids out of range [0, 3): [3, 4]", NULL);

    /* zero shard rows is legitimate */
    s = base();
    s.n_rows = 0;
    sy_manifest *m = parse_spec(&s);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(m->n_shards, 0);
    CHECK_OK(sy_manifest_pad(m));
    CHECK_EQ_INT(m->n_shards, 8);
    sy_manifest_free(&m);
}

#define SHARDING(json) "'" json "'"

static void sharding_fail(const char *json, const char *sub) {
    spec s = base();
    s.bm[5] = json;
    char line[600];
    int before = check_failures;
    snprintf(line, sizeof line, "Manifest validation failed: table build_meta column sharding: %s", sub);
    expect_parse_(&s, SHARDY_EFORMAT, line, NULL, __LINE__);
    if (check_failures != before) fprintf(stderr, "  ^ sharding case %s\n", json);
}

static void sharding_ok(const char *json, const char *nbdbs) {
    spec s = base();
    s.bm[5] = json;
    if (nbdbs) s.bm[2] = nbdbs;
    int before = check_failures;
    expect_parse_(&s, SHARDY_OK, NULL, NULL, __LINE__);
    if (check_failures != before) fprintf(stderr, "  ^ sharding case %s\n", json);
}

static void test_parse_sharding(void) {
    sharding_ok(SHARDING("{\"hash_algorithm\":\"xxh3_64\"}"), NULL); /* compact, strategy defaults to hash */
    sharding_ok(SHARDING("{\"cel_columns\": null, \"cel_expr\": null, \"hash_algorithm\": \"xxh3_64\", "
                         "\"routing_values\": null, \"strategy\": \"hash\"}"),
                NULL);
    sharding_fail(SHARDING("{\"strategy\": \"hash\"}"), "hash_algorithm is required");
    sharding_fail(SHARDING("{\"strategy\": \"hash\", \"hash_algorithm\": null}"), "hash_algorithm is required");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"XXH3_64\"}"), "Unsupported shard hash algorithm: \"XXH3_64\"");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"murmur3\"}"), "Unsupported shard hash algorithm");
    sharding_fail(SHARDING("{\"hash_algorithm\": 64}"), "Unsupported shard hash algorithm: 64");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"foo\": 1}"),
                  "unexpected key 'foo' (extra keys are forbidden)");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"strategy\": \"HASH\"}"),
                  "Unsupported sharding strategy: \"HASH\"");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"strategy\": \"CEL\"}"), "Unsupported sharding strategy");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"strategy\": null}"), "Unsupported sharding strategy");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"x\"}"),
                  "cel_expr is only valid with CEL strategy");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"\"}"),
                  "cel_expr is only valid with CEL strategy");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"cel_columns\": {}}"),
                  "cel_columns are only valid with CEL strategy");
    sharding_fail(SHARDING("{\"hash_algorithm\": \"xxh3_64\", \"routing_values\": []}"),
                  "routing_values are only valid with CEL strategy");
    sharding_fail(SHARDING("[]"), "must be a JSON object, got array");
    sharding_fail(SHARDING("null"), "must be a JSON object, got null");
    /* CEL */
    const char *cel_ok = SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"key % 4\", "
                                  "\"cel_columns\": {\"key\": \"int\"}}");
    sharding_ok(cel_ok, NULL);
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_columns\": {\"k\": "
                           "\"int\"}}"),
                  "CEL strategy requires cel_expr");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"\", "
                           "\"cel_columns\": {\"k\": \"int\"}}"),
                  "CEL strategy requires cel_expr");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"k\"}"),
                  "CEL strategy requires cel_columns");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"k\", "
                           "\"cel_columns\": {}}"),
                  "CEL strategy requires cel_columns");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"cel_expr\": \"k\", \"cel_columns\": {\"k\": \"int\"}}"),
                  "hash_algorithm is required");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": 5, "
                           "\"cel_columns\": {\"k\": \"int\"}}"),
                  "cel_expr must be a string or null");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"k\", "
                           "\"cel_columns\": {\"k\": \"integer\"}}"),
                  "cel_columns['k'] has type 'integer'; expected one of int, string, bytes, double, bool, uint");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"k\", "
                           "\"cel_columns\": {\"k\": 1}}"),
                  "cel_columns['k'] must be a string");
    sharding_fail(SHARDING("{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"k\", "
                           "\"cel_columns\": [\"k\"]}"),
                  "cel_columns must be an object or null");
    static const char *const types[] = {"int", "string", "bytes", "double", "bool", "uint"};
    for (int i = 0; i < 6; i++) {
        char j[256];
        snprintf(j, sizeof j, "'{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"k\", "
                              "\"cel_columns\": {\"k\": \"%s\"}}'", types[i]);
        sharding_ok(j, NULL);
    }
#define CAT(rv) "'{\"strategy\": \"cel\", \"hash_algorithm\": \"xxh3_64\", \"cel_expr\": \"r\", " \
                "\"cel_columns\": {\"r\": \"string\"}, \"routing_values\": " rv "}'"
    sharding_ok(CAT("[\"ap\", \"eu\", \"us\"]"), "3");
    sharding_ok(CAT("[1, -2, 18446744073709551615]"), "3");
    sharding_ok(CAT("[]"), "1");
    sharding_ok(CAT("[\"only\"]"), "1");
    sharding_ok(CAT("null"), NULL); /* direct mode */
    sharding_fail(CAT("[1, \"a\"]"), "Routing values must all share the same type");
    sharding_fail(CAT("[\"a\", \"b\", \"a\"]"), "Routing values must be unique; duplicates=['a']");
    sharding_fail(CAT("[7, 8, 7]"), "Routing values must be unique; duplicates=[7]");
    sharding_fail(CAT("[true, false]"), "Routing values must not be boolean values");
    sharding_fail(CAT("[1, true]"), "Routing values must not be boolean values");
    sharding_fail(CAT("[\"a\", null]"), "Routing values must not contain null values");
    sharding_fail(CAT("[1.5]"), "Routing values must be int, str, or bytes values");
    sharding_fail(CAT("[[1]]"), "Routing values must be int, str, or bytes values");
    sharding_fail(CAT("\"abc\""), "routing_values must be an array or null");
    /* §3.9 rule 8: categorical num_dbs */
    spec s = base();
    s.bm[5] = CAT("[\"a\", \"b\", \"c\"]");
    s.bm[2] = "2";
    EXPECT_FAIL(s, SHARDY_EFORMAT,
                "manifest " URL ": Categorical CEL manifest num_dbs must match routing_values cardinality (expected 3, "
                "got 2)",
                NULL);
    s.bm[5] = CAT("[]");
    EXPECT_FAIL(s, SHARDY_EFORMAT, "(expected 1, got 2)", NULL);
    s.bm[5] = CAT("[\"a\", \"b\", \"c\"]");
    s.bm[2] = "3";
    sy_manifest *m = parse_spec(&s);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(m->sharding.strategy, SY_STRATEGY_CEL);
    REQUIRE(m->sharding.n_routing_values == 3);
    CHECK_STR(m->sharding.routing_values[2].str, "c");
    sy_manifest_free(&m);
}

static void test_parse_vector(void) {
    spec s = base();
    s.bm[10] = "'{\"vector\": {\"dim\": 4, \"metric\": \"cosine\"}}'";
    EXPECT_FAIL(s, SHARDY_EUNSUPPORTED, "manifest " URL ": This manifest contains unsupported or incomplete vector "
                                        "metadata",
                "ShardedVectorReader");
    s.bm[10] = "'{\"vector\": {\"unified\": false}}'";
    EXPECT_FAIL(s, SHARDY_EUNSUPPORTED, "vector", NULL);
    s.bm[10] = "'{\"vector\": {\"unified\": 0}}'";
    EXPECT_FAIL(s, SHARDY_EUNSUPPORTED, "vector", NULL);
    s.bm[10] = "'{\"vector\": {\"unified\": \"\"}}'";
    EXPECT_FAIL(s, SHARDY_EUNSUPPORTED, "vector", NULL);
    s.bm[10] = "'{\"vector\": {\"unified\": null}}'";
    EXPECT_FAIL(s, SHARDY_EUNSUPPORTED, "vector", NULL);
    s.bm[10] = "'{\"vector\": {\"unified\": true, \"dim\": 4}}'";
    EXPECT_OK(s);
    s.bm[10] = "'{\"vector\": {\"unified\": \"yes\"}}'";
    EXPECT_OK(s);
    s.bm[10] = "'{\"vector\": \"not a dict\"}'";
    EXPECT_OK(s);
    s.bm[10] = "'{\"vector\": null}'";
    EXPECT_OK(s);
}

/* ---- robustness ---------------------------------------------------------------------------- */

static int status_ok_for_bad_input(shardy_status st) {
    return st == SHARDY_OK || st == SHARDY_EFORMAT || st == SHARDY_EVERSION || st == SHARDY_EUNSUPPORTED;
}

static void test_truncated_and_flipped(void) {
    sy_manifest *m = example();
    REQUIRE(m != NULL);
    json_object_put(m->custom);
    m->custom = json_tokener_parse("{\"note\": \"x\"}");
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &img));
    sy_manifest_free(&m);
    size_t parsed = 0, bad_status = 0;
    for (size_t n = 0; n < img.len; n++) {
        sy_manifest *p = NULL;
        shardy_status st = sy_manifest_parse(img.data, n, URL, &p);
        if (st == SHARDY_OK) {
            parsed++;
            if (!p) bad_status++;
        } else if (!status_ok_for_bad_input(st) || p) {
            bad_status++;
        }
        sy_manifest_free(&p);
    }
    CHECK_EQ_INT(bad_status, 0);
    CHECK(parsed < img.len);
    /* short prefixes are refused with the SQLite-level messages */
    sy_manifest *p = NULL;
    CHECK_ST(sy_manifest_parse(img.data, 4096, URL, &p), SHARDY_EFORMAT);
    CHECK_ERRMSG_HAS("manifest " URL ": ");
    /* every single-byte corruption fails cleanly or parses */
    bad_status = 0;
    for (size_t i = 0; i < img.len; i++) {
        char saved = img.data[i];
        img.data[i] = (char)(saved ^ (i % 2 ? 0xFF : 0x41));
        p = NULL;
        shardy_status st = sy_manifest_parse(img.data, img.len, URL, &p);
        if (!status_ok_for_bad_input(st) || (st == SHARDY_OK) != (p != NULL)) bad_status++;
        sy_manifest_free(&p);
        img.data[i] = saved;
    }
    CHECK_EQ_INT(bad_status, 0);
    sy_buf_free(&img);
}

static void test_hostile_schema(void) {
    /* a generated column producing a huge value hits the length limit instead of allocating it */
    spec s = base();
    s.pre = "CREATE TABLE build_meta (run_id TEXT, created_at TEXT, num_dbs INTEGER, s3_prefix TEXT, key_col TEXT,"
            " sharding TEXT, db_path_template TEXT, shard_prefix TEXT, format_version INTEGER, key_encoding TEXT,"
            " custom TEXT, big BLOB AS (zeroblob(100000000)));"
            "CREATE TABLE shards (db_id INTEGER PRIMARY KEY, db_url TEXT, attempt INTEGER, row_count INTEGER,"
            " db_bytes INTEGER, min_key TEXT, max_key TEXT, checkpoint_id TEXT, writer_info TEXT);"
            "INSERT INTO build_meta VALUES ('r', '2026-01-01T00:00:00Z', 1, 's3://b/p', 'k',"
            " '{\"hash_algorithm\":\"xxh3_64\"}', 'db={db_id:05d}', 'shards', 4, 'raw', NULL);";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "Failed to read SQLite manifest tables", "too big");
    /* many rows behind a sort: bounded by num_dbs, refused once the count is exceeded */
    s = base();
    s.sh_no_pk = 1;
    s.bm[2] = "1000";
    s.extra = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)"
              " INSERT INTO shards SELECT x, NULL, 0, 0, 0, NULL, NULL, NULL, '{}' FROM c;";
    EXPECT_FAIL(s, SHARDY_EFORMAT, "Manifest shard count exceeds num_dbs: 5001 > 1000", NULL);
}

static void test_oom(void) {
    sy_manifest *m = example();
    REQUIRE(m != NULL);
    sy_buf img = SY_BUF_INIT;
    CHECK_OK(sy_manifest_serialize(m, NULL, &img));
    int ok = 0;
    for (long n = 0; n < 400 && !ok; n++) {
        sy_manifest *p = NULL;
        sy_alloc_fail_after(n);
        shardy_status st = sy_manifest_parse(img.data, img.len, URL, &p);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            ok = 1;
            CHECK_EQ_INT(p->n_shards, 3);
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
            CHECK(p == NULL);
        }
        sy_manifest_free(&p);
    }
    CHECK(ok);
    ok = 0;
    for (long n = 0; n < 400 && !ok; n++) {
        sy_buf out = SY_BUF_INIT;
        sy_alloc_fail_after(n);
        shardy_status st = sy_manifest_serialize(m, NULL, &out);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            ok = 1;
            CHECK(out.len == img.len && !memcmp(out.data, img.data, img.len));
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
            CHECK_EQ_INT(out.len, 0);
        }
        sy_buf_free(&out);
    }
    CHECK(ok);
    ok = 0;
    for (long n = 0; n < 100 && !ok; n++) {
        sy_manifest *p = NULL;
        CHECK_OK(sy_manifest_parse(img.data, img.len, URL, &p));
        if (!p) break;
        sy_alloc_fail_after(n);
        shardy_status st = sy_manifest_pad(p);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            ok = 1;
            CHECK_EQ_INT(p->n_shards, 8);
        } else {
            CHECK_EQ_INT(st, SHARDY_ENOMEM);
            CHECK_EQ_INT(p->n_shards, 3);
        }
        sy_manifest_free(&p);
    }
    CHECK(ok);
    sy_manifest_free(&m);
    sy_buf_free(&img);
}

TEST_MAIN(test_worked_example, test_sqlite_cli, test_python_reads, test_sharding_texts, test_custom_and_writer_info,
          test_appendix_a, test_appendix_b, test_key_json, test_round_trip_cel, test_pad, test_build_refusals,
          test_parse_container, test_parse_tables_and_columns, test_parse_json_columns, test_parse_types,
          test_parse_keys, test_parse_version_and_structure, test_parse_sharding, test_parse_vector,
          test_truncated_and_flipped, test_hostile_schema, test_oom)
