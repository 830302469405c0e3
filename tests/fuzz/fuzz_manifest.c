/*
 * fuzz_manifest.c — libFuzzer target for the manifest parser (spec formats §3.9).
 *
 * Input: arbitrary bytes handed to sy_manifest_parse. Oracles beyond "no crash, no leak, no UB":
 *   - the status and the out-pointer agree, and a failure always leaves a message;
 *   - a parsed manifest satisfies the documented invariants (manifest.h);
 *   - if the builder accepts the parsed manifest, its image parses back and rebuilds to the same
 *     bytes (build ∘ parse is a fixed point), and padding yields the full db_id table.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "snapshot/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

static void check_invariants(const sy_manifest *m) {
    ENSURE(m->format_version == SY_MANIFEST_FORMAT_VERSION);
    ENSURE(m->num_dbs > 0 && m->num_dbs <= SY_MANIFEST_MAX_NUM_DBS);
    ENSURE((int64_t)m->n_shards <= m->num_dbs);
    ENSURE(m->custom && json_object_is_type(m->custom, json_type_object));
    ENSURE(m->run_id && m->s3_prefix && m->key_col && m->db_path_template && m->shard_prefix && m->created_at);
    for (size_t i = 0; i < m->n_shards; i++) {
        const sy_shard *sh = &m->shards[i];
        ENSURE(sh->db_id >= 0 && sh->db_id < m->num_dbs);
        ENSURE(i == 0 || sh->db_id > m->shards[i - 1].db_id);
        ENSURE(sh->attempt >= 0 && sh->row_count >= 0 && sh->db_bytes >= 0);
        ENSURE((sh->min_key_json == NULL) <= (sh->min_key.kind == SY_SCALAR_NULL));
    }
    if (m->sharding.strategy == SY_STRATEGY_HASH)
        ENSURE(!m->sharding.cel_expr && !m->sharding.has_cel_columns && !m->sharding.has_routing_values);
    else
        ENSURE(m->sharding.cel_expr && m->sharding.n_cel_columns > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sy_manifest *m = NULL, *again = NULL;
    sy_buf img = SY_BUF_INIT, img2 = SY_BUF_INIT;
    shardy_status st = sy_manifest_parse(data, size, "fuzz://manifest", &m);
    ENSURE((st == SHARDY_OK) == (m != NULL));
    if (st != SHARDY_OK) {
        ENSURE(shardy_errmsg()[0] != '\0');
        return 0;
    }
    check_invariants(m);
    if (sy_manifest_serialize(m, NULL, &img) == SHARDY_OK) {
        ENSURE(sy_manifest_parse(img.data, img.len, "fuzz://rebuilt", &again) == SHARDY_OK);
        check_invariants(again);
        ENSURE(again->n_shards <= m->n_shards);
        ENSURE(sy_manifest_serialize(again, NULL, &img2) == SHARDY_OK);
        ENSURE(img.len == img2.len && memcmp(img.data, img2.data, img.len) == 0);
    }
    if (m->num_dbs <= 4096) { /* keep iterations fast; larger tables are covered by unit tests */
        ENSURE(sy_manifest_pad(m) == SHARDY_OK);
        ENSURE((int64_t)m->n_shards == m->num_dbs);
        for (size_t i = 0; i < m->n_shards; i++) ENSURE(m->shards[i].db_id == (int64_t)i);
    }
    sy_manifest_free(&again);
    sy_manifest_free(&m);
    sy_buf_free(&img);
    sy_buf_free(&img2);
    return 0;
}
