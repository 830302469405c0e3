/*
 * gen_seeds.c — writes a seed corpus for the fuzz targets: files in <dir>/manifest are valid manifest
 * images of every shape the builder makes (hash, CEL direct, CEL categorical with str and int
 * tokens, no shard rows, every key kind, custom objects); files in <dir>/current are pointers and run
 * records made by the serialisers. Usage: fuzz_gen_seeds <dir>. Exit status 0 on success.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "snapshot/current.h"
#include "snapshot/manifest.h"
#include "snapshot/runrecord.h"

static int failures;

static void write_file(const char *dir, const char *sub, const char *name, const sy_buf *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data, 1, b->len, f) != b->len) failures++;
    if (f) fclose(f);
}

static void need(shardy_status st) {
    if (st) {
        fprintf(stderr, "gen_seeds: %s\n", shardy_errmsg());
        failures++;
    }
}

static sy_manifest *base(int64_t num_dbs) {
    sy_manifest *m = sy_manifest_new();
    if (!m) return NULL;
    m->run_id = sy_strdup("5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210");
    m->created_at_us = 1773484200123456LL;
    m->num_dbs = num_dbs;
    m->s3_prefix = sy_strdup("s3://my-bucket/snapshots/users");
    m->key_col = sy_strdup("_key");
    m->db_path_template = sy_strdup("db={db_id:05d}");
    m->shard_prefix = sy_strdup("shards");
    return m;
}

static void add_shard(sy_manifest *m, int64_t id, shardy_key lo, shardy_key hi) {
    sy_shard *sh = NULL;
    need(sy_manifest_add_shard(m, &sh));
    if (!sh) return;
    sh->db_id = id;
    sh->db_url = sy_asprintf("s3://my-bucket/snapshots/users/shards/run_id=r/db=%05lld/attempt=00", (long long)id);
    sh->row_count = 10 + id;
    sh->db_bytes = 8192;
    sh->checkpoint_id = sy_strdup("0123456789abcdef0123456789abcdef");
    sh->writer_info = (sy_writer_info){(int64_t)id % 2, 845, 1, 3, (int)(id % 2), 17};
    need(sy_shard_set_key_range(sh, &lo, &hi));
}

static void emit(const char *dir, const char *name, sy_manifest *m) {
    sy_buf b = SY_BUF_INIT;
    if (!m) {
        failures++;
        return;
    }
    need(sy_manifest_serialize(m, NULL, &b));
    write_file(dir, "manifest", name, &b);
    sy_buf_free(&b);
    sy_manifest_free(&m);
}

static void add_token(sy_manifest *m, const char *s) {
    sy_scalar v = {SY_SCALAR_STR, 0, 0, (char *)s, strlen(s)};
    need(sy_sharding_add_routing_value(&m->sharding, &v));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    mkdir(dir, 0777);

    sy_manifest *m = base(8);
    if (m) {
        add_shard(m, 0, shardy_key_int(42), shardy_key_int(42));
        add_shard(m, 5, shardy_key_int(123456789), shardy_key_uint(UINT64_MAX));
        add_shard(m, 6, shardy_key_int(1), shardy_key_int(1));
    }
    emit(dir, "hash_example", m);

    m = base(3);
    if (m) {
        m->key_encoding = SHARDY_KEYENC_UTF8;
        m->sharding.strategy = SY_STRATEGY_CEL;
        m->sharding.cel_expr = sy_strdup("region");
        need(sy_sharding_add_cel_column(&m->sharding, "region", "string"));
        add_token(m, "ap");
        add_token(m, "eu");
        add_token(m, "\xc3\xa9u");
        json_object_put(m->custom);
        m->custom = json_tokener_parse("{\"sqlite_sidecar\": {\"codec\": \"zstd\", \"filename\": \"shard.sidecar\", "
                                       "\"format_version\": 8, \"page_size\": 4096}, \"shard_format\": \"sqlite\", "
                                       "\"vector\": {\"unified\": true}, \"x\": [1.5, null, true, \"\\u00e9\"]}");
        add_shard(m, 1, shardy_key_str("a", 1), shardy_key_str("z\xc3\xa9", 3));
        add_shard(m, 2, shardy_key_bytes("abc", 3), shardy_key_bytes("\xff", 1));
    }
    emit(dir, "cel_categorical", m);

    m = base(4);
    if (m) {
        m->key_encoding = SHARDY_KEYENC_U32BE;
        m->sharding.strategy = SY_STRATEGY_CEL;
        m->sharding.cel_expr = sy_strdup("key % 4");
        need(sy_sharding_add_cel_column(&m->sharding, "key", "int"));
        need(sy_sharding_add_cel_column(&m->sharding, "tag", "bytes"));
        for (int64_t i = 0; i < 4; i++) add_shard(m, i, shardy_key_int(i), shardy_key_int(1000 + i));
    }
    emit(dir, "cel_direct", m);

    m = base(4);
    if (m) {
        m->sharding.strategy = SY_STRATEGY_CEL;
        m->sharding.cel_expr = sy_strdup("x");
        need(sy_sharding_add_cel_column(&m->sharding, "x", "uint"));
        int64_t toks[] = {-1, 0, 7, INT64_MAX};
        for (int i = 0; i < 4; i++) {
            sy_scalar v = {SY_SCALAR_INT, toks[i], 0, NULL, 0};
            need(sy_sharding_add_routing_value(&m->sharding, &v));
        }
    }
    emit(dir, "cel_int_tokens_no_rows", m);

    m = base(1);
    emit(dir, "one_db_no_rows", m);

    sy_buf b = SY_BUF_INIT;
    need(sy_current_serialize("s3://my-bucket/snapshots/users/manifests/2026-03-14T10:30:01.000042Z_run_id="
                              "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210/manifest",
                              "5b2f1c0a4d3a4e6f9b8c7a6d5e4f3210", 1773484201250000LL, &b));
    write_file(dir, "current", "pointer", &b);
    sy_buf_reset(&b);
    sy_run_record r = {0};
    need(sy_run_record_init(&r, "0123", "s3://bucket/snap", "shards", "db={db_id:05d}", 1773484200123456LL));
    need(sy_run_record_serialize(&r, &b));
    write_file(dir, "current", "run_record_running", &b);
    sy_buf_reset(&b);
    need(sy_run_record_finish(&r, SY_RUN_FAILED, 1773484260000000LL, "ValueError", "bad \xc3\xa9\n\"row\""));
    need(sy_run_record_serialize(&r, &b));
    write_file(dir, "current", "run_record_failed", &b);
    sy_run_record_clear(&r);
    sy_buf_free(&b);
    return failures ? 1 : 0;
}
