/* options.c — owned copies and validation of build options; see options.h. */
#include "write/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/json.h"
#include "shard/shard.h"
#include "snapshot/layout.h"

void shardy_build_opts_init(shardy_build_opts *o) {
    memset(o, 0, sizeof *o);
    o->key_encoding = SHARDY_KEYENC_U64BE;
    o->batch_size = 50000;
    o->memory_limit = (uint64_t)1 << 30;
    o->shard_retry_backoff_s = 1.0;
    o->shard_retry_multiplier = 2.0;
}

uint32_t shardy_num_dbs_for_rows(uint64_t rows, uint64_t max_keys_per_shard) {
    if (max_keys_per_shard == 0) return 0;
    uint64_t n = rows == 0 ? 1 : (rows + max_keys_per_shard - 1) / max_keys_per_shard;
    if (n < 1) n = 1;
    return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static shardy_status dup_opt(const char *in, const char *def, const char **out) {
    const char *v = in ? in : def;
    *out = NULL;
    if (!v) return SHARDY_OK;
    char *c = sy_strdup(v);
    if (!c) return sy_err(SHARDY_ENOMEM, "out of memory copying build options");
    *out = c;
    return SHARDY_OK;
}

void sy_wopts_free(shardy_build_opts *o) {
    sy_free((char *)o->prefix);
    sy_free((char *)o->key_col);
    sy_free((char *)o->run_id);
    sy_free((char *)o->shard_prefix);
    sy_free((char *)o->db_path_template);
    sy_free((char *)o->run_registry_prefix);
    sy_free((char *)o->local_dir);
    sy_free((char *)o->custom_json);
    sy_free((char *)o->writer_type);
    memset(o, 0, sizeof *o);
}

shardy_status sy_wopts_copy(const shardy_build_opts *in, shardy_build_opts *o) {
    shardy_status st;
    *o = *in;
    o->prefix = o->key_col = o->run_id = o->shard_prefix = o->db_path_template = NULL;
    o->run_registry_prefix = o->local_dir = o->custom_json = o->writer_type = NULL;
    o->s3_options = NULL; /* S3 settings are borrowed: used once, while opening */
    o->n_s3_options = 0;
    o->credentials_file = o->credentials_profile = NULL;
    o->cel_expr = NULL; /* CEL settings are borrowed: compiled once, while opening */
    o->cel_columns = o->routing_values = NULL;
    o->n_cel_columns = o->n_routing_values = 0;
    const char *tmp = getenv("TMPDIR");
    char deflocal[4096];
    snprintf(deflocal, sizeof deflocal, "%s/shardyfusion", tmp && *tmp ? tmp : "/tmp");
    SY_TRY(dup_opt(in->prefix, NULL, &o->prefix));
    SY_TRY(dup_opt(in->key_col, "_key", &o->key_col));
    SY_TRY(dup_opt(in->run_id, NULL, &o->run_id));
    SY_TRY(dup_opt(in->shard_prefix, "shards", &o->shard_prefix));
    SY_TRY(dup_opt(in->db_path_template, "db={db_id:05d}", &o->db_path_template));
    SY_TRY(dup_opt(in->run_registry_prefix, "runs", &o->run_registry_prefix));
    SY_TRY(dup_opt(in->local_dir, deflocal, &o->local_dir));
    SY_TRY(dup_opt(in->custom_json, NULL, &o->custom_json));
    SY_TRY(dup_opt(in->writer_type, "c", &o->writer_type));
    if (o->threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n > 0 ? (int)n : 1;
    }
    if (o->batch_size == 0) o->batch_size = 50000;
    if (o->memory_limit == 0) o->memory_limit = (uint64_t)1 << 30;
    if (o->heartbeat_seconds <= 0) o->heartbeat_seconds = 60;
done:
    return st;
}

shardy_status sy_wopts_validate(const shardy_build_opts *o, const shardy_build_opts *caller, int flags) {
    shardy_status st = SHARDY_OK;
    if (!o->prefix || !*o->prefix) return sy_err(SHARDY_EINVAL, "build option prefix is required");
    if ((flags & SY_WOPTS_NEED_NUM_DBS) && o->num_dbs == 0 && !caller->cel_expr)
        return sy_err(SHARDY_EINVAL, "num_dbs must be greater than 0");
    if ((flags & SY_WOPTS_NEED_RUN_ID) && !o->run_id)
        return sy_err(SHARDY_EINVAL, "build option run_id is required (every task passes the driver's run id)");
    if (!shardy_key_encoding_name(o->key_encoding))
        return sy_err(SHARDY_EINVAL, "key_encoding %d is not a valid encoding", (int)o->key_encoding);
    if (o->run_id) SY_TRY(sy_run_id_check(o->run_id));
    SY_TRY(sy_layout_check_segment("shard_prefix", o->shard_prefix));
    SY_TRY(sy_layout_check_segment("run_registry_prefix", o->run_registry_prefix));
    SY_TRY(sy_layout_check_db_template(o->db_path_template));
    if (o->page_size != 0 && o->page_size != SY_PAGE_SIZE_AUTO &&
        (o->page_size < 4096 || o->page_size > 65536 || (o->page_size & (o->page_size - 1))))
        return sy_err(SHARDY_EINVAL, "page_size %d must be 4096, 8192, 16384, 32768, 65536 or -1 (auto)", o->page_size);
    if (o->max_writes_per_second < 0 || o->max_write_bytes_per_second < 0)
        return sy_err(SHARDY_EINVAL, "rate limits must be >= 0");
    if (o->shard_retry_max > 1000)
        return sy_err(SHARDY_EINVAL, "shard_retry_max %u is above 1000", o->shard_retry_max);
    if (!(o->shard_retry_backoff_s >= 0 && o->shard_retry_backoff_s <= 3600))
        return sy_err(SHARDY_EINVAL, "shard_retry_backoff_s must be between 0 and 3600 seconds");
    if (!(o->shard_retry_multiplier >= 1 && o->shard_retry_multiplier <= 100))
        return sy_err(SHARDY_EINVAL, "shard_retry_multiplier must be between 1 and 100");
    if (o->custom_json) {
        json_object *c = NULL;
        SY_TRY(sy_json_parse(o->custom_json, strlen(o->custom_json), "custom manifest fields", &c));
        int ok = json_object_get_type(c) == json_type_object;
        json_object_put(c);
        if (!ok) return sy_err(SHARDY_EINVAL, "custom manifest fields must be a JSON object");
    }
done:
    return st;
}
