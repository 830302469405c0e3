/* driver.c — options, store, run record and the finish sequence of a build; see driver.h. */
#include "write/driver.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "core/url.h"
#include "snapshot/layout.h"
#include "snapshot/manifest.h"
#include "store/s3.h"
#include "write/options.h"

struct shardy_build_result {
    char *run_id;
    char *manifest_ref;
    uint64_t rows;
    char *json;
};

shardy_status sy_driver_init(sy_driver *d, const shardy_build_opts *opts, int flags) {
    shardy_status st;
    char uuid[33];
    d->started_ns = sy_mono_ns();
    SY_TRY(sy_wopts_copy(opts, &d->o));
    SY_TRY(sy_wopts_validate(&d->o, opts, flags));
    SY_TRY(sy_url_normalize(d->o.prefix, &d->prefix));
    SY_TRY(sy_layout_check_prefix("prefix", d->prefix));
    if (!d->o.run_id) SY_TRY(sy_uuid4_hex(uuid));
    if (!(d->run_id = sy_strdup(d->o.run_id ? d->o.run_id : uuid))) {
        st = sy_err(SHARDY_ENOMEM, "out of memory copying the run id");
        goto done;
    }
    SY_TRY(sy_wcel_open(opts, &d->cel));
    if (d->cel) d->o.num_dbs = sy_wcel_fixed_num_dbs(d->cel); /* 0 in direct mode: discovered */
    SY_TRY(sy_store_open_cfg(d->prefix, opts->s3_options, opts->n_s3_options, opts->credentials_file,
                             opts->credentials_profile, &d->store));
done:
    return st;
}

void sy_driver_start_run(sy_driver *d) {
    if (sy_run_lifecycle_start(&d->lc, d->store, d->prefix, d->o.run_registry_prefix, d->run_id, d->o.writer_type,
                               d->o.shard_prefix, d->o.db_path_template, d->o.heartbeat_seconds) == SHARDY_OK)
        d->have_lc = 1;
    else
        sy_run_lifecycle_free(&d->lc); /* the build continues without a run record (spec §1.5) */
}

int sy_driver_direct(const sy_driver *d) {
    return d->cel && sy_cel_router_mode(sy_wcel_router(d->cel)) == SY_CEL_DIRECT;
}

/* ---- manifest ------------------------------------------------------------------------------------ */

static shardy_status add_shard(sy_manifest *m, shardy_key_encoding enc, const sy_attempt *a) {
    sy_shard *sh;
    shardy_status st = sy_manifest_add_shard(m, &sh);
    if (st) return st;
    sh->db_id = a->db_id;
    sh->db_url = sy_strdup(a->db_url);
    sh->attempt = a->attempt;
    sh->row_count = (int64_t)a->row_count;
    sh->db_bytes = (int64_t)a->db_bytes;
    sh->checkpoint_id = a->checkpoint_id[0] ? sy_strdup(a->checkpoint_id) : NULL;
    sh->writer_info.attempt = a->attempt;
    sh->writer_info.duration_ms = a->duration_ms;
    if (a->stage_id != SY_NO_ID) {
        sh->writer_info.has_stage_id = 1;
        sh->writer_info.stage_id = a->stage_id;
    }
    if (a->task_attempt_id != SY_NO_ID) {
        sh->writer_info.has_task_attempt_id = 1;
        sh->writer_info.task_attempt_id = a->task_attempt_id;
    }
    if (!sh->db_url || (a->checkpoint_id[0] && !sh->checkpoint_id))
        return sy_err(SHARDY_ENOMEM, "out of memory building the manifest");
    if (a->min_key && a->max_key) {
        shardy_key lo = sy_attempt_key(enc, a->min_key, a->min_len);
        shardy_key hi = sy_attempt_key(enc, a->max_key, a->max_len);
        return sy_shard_set_key_range(sh, &lo, &hi);
    }
    return SHARDY_OK;
}

static shardy_status build_manifest(sy_driver *d, const sy_attempt **winners, uint32_t num_dbs, sy_manifest **out) {
    shardy_status st = SHARDY_OK;
    json_object *custom = NULL;
    sy_manifest *m = sy_manifest_new();
    if (!m) return sy_err(SHARDY_ENOMEM, "out of memory building the manifest");
    m->run_id = sy_strdup(d->run_id);
    m->s3_prefix = sy_strdup(d->prefix); /* normalised: a bare path is recorded as its file:// URL */
    m->key_col = sy_strdup(d->o.key_col);
    m->db_path_template = sy_strdup(d->o.db_path_template);
    m->shard_prefix = sy_strdup(d->o.shard_prefix);
    m->num_dbs = num_dbs;
    m->key_encoding = d->o.key_encoding;
    if (!m->run_id || !m->s3_prefix || !m->key_col || !m->db_path_template || !m->shard_prefix) {
        st = sy_err(SHARDY_ENOMEM, "out of memory building the manifest");
        goto done;
    }
    if (d->o.custom_json) {
        SY_TRY(sy_json_parse(d->o.custom_json, strlen(d->o.custom_json), "custom manifest fields", &custom));
        json_object_put(m->custom);
        m->custom = custom;
        custom = NULL;
    }
    if (d->cel) SY_TRY(sy_wcel_sharding(d->cel, &m->sharding));
    /* Readers pick the shard backend from here (DESIGN §3). */
    json_object_object_add(m->custom, "shard_format", json_object_new_string("sqlite"));
    for (uint32_t i = 0; i < num_dbs; i++)
        if (winners[i]) SY_TRY(add_shard(m, d->o.key_encoding, winners[i]));
done:
    json_object_put(custom);
    if (st) {
        sy_manifest_free(&m);
        return st;
    }
    *out = m;
    return SHARDY_OK;
}

/* ---- result -------------------------------------------------------------------------------------- */

static json_object *result_json(sy_driver *d, const char *ref, const sy_attempt **winners, uint32_t num_dbs,
                                int64_t write_ms, int64_t publish_ms, uint64_t dups, size_t swept, uint64_t *rows_out) {
    uint64_t rows = 0, bytes = 0, nonempty = 0;
    json_object *r = json_object_new_object(), *shards = json_object_new_array();
    for (uint32_t i = 0; i < num_dbs; i++) {
        const sy_attempt *a = winners[i];
        if (!a) continue;
        rows += a->row_count;
        nonempty++;
        bytes += a->db_bytes;
        json_object *s = json_object_new_object();
        json_object_object_add(s, "db_id", json_object_new_int64(a->db_id));
        json_object_object_add(s, "attempt", json_object_new_int64(a->attempt));
        json_object_object_add(s, "row_count", json_object_new_uint64(a->row_count));
        json_object_object_add(s, "db_bytes", json_object_new_uint64(a->db_bytes));
        json_object_object_add(s, "duration_ms", json_object_new_int64(a->duration_ms));
        json_object_object_add(s, "db_url", json_object_new_string(a->db_url));
        json_object_array_add(shards, s);
    }
    json_object *du = json_object_new_object();
    int64_t total_ms = (sy_mono_ns() - d->started_ns) / 1000000;
    json_object_object_add(du, "sharding_ms", json_object_new_int64(0));
    json_object_object_add(du, "write_ms", json_object_new_int64(write_ms));
    json_object_object_add(du, "manifest_ms", json_object_new_int64(publish_ms));
    json_object_object_add(du, "total_ms", json_object_new_int64(total_ms));
    json_object_object_add(r, "run_id", json_object_new_string(d->run_id));
    json_object_object_add(r, "manifest_ref", json_object_new_string(ref));
    json_object_object_add(r, "num_dbs", json_object_new_int64(num_dbs));
    json_object_object_add(r, "rows_written", json_object_new_uint64(rows));
    json_object_object_add(r, "duplicates", json_object_new_uint64(dups));
    json_object_object_add(r, "distinct_keys", json_object_new_uint64(rows - dups));
    json_object_object_add(r, "num_winners", json_object_new_uint64(nonempty));
    json_object_object_add(r, "bytes_written", json_object_new_uint64(bytes));
    json_object_object_add(r, "losers_deleted", json_object_new_uint64(swept));
    json_object_object_add(r, "durations_ms", du);
    json_object_object_add(r, "rows_per_second",
                           json_object_new_double(total_ms > 0 ? (double)rows * 1000.0 / (double)total_ms : 0.0));
    json_object_object_add(r, "shards", shards);
    *rows_out = rows;
    return r;
}

static shardy_status make_result(sy_driver *d, const char *ref, json_object *r, uint64_t rows, json_object *extra,
                                 shardy_build_result **out) {
    shardy_status st = SHARDY_OK;
    sy_buf text = SY_BUF_INIT;
    if (extra) {
        json_object_object_foreach(extra, k, v) json_object_object_add(r, k, json_object_get(v));
    }
    shardy_build_result *res = sy_calloc(1, sizeof *res);
    if (!res) {
        st = sy_err(SHARDY_ENOMEM, "out of memory building the result");
        goto done;
    }
    SY_TRY(sy_json_dump(r, SY_JSON_NO_SORT | SY_JSON_RAW_UTF8, &text));
    res->json = sy_buf_take(&text);
    res->run_id = sy_strdup(d->run_id);
    res->manifest_ref = sy_strdup(ref);
    res->rows = rows;
    if (!res->run_id || !res->manifest_ref) st = sy_err(SHARDY_ENOMEM, "out of memory building the result");
done:
    sy_buf_free(&text);
    if (st) {
        shardy_build_result_free(&res);
        return st;
    }
    *out = res;
    return SHARDY_OK;
}

/* ---- finish sequence ------------------------------------------------------------------------------ */

shardy_status sy_driver_publish(sy_driver *d, const sy_attempt *attempts, size_t n, uint32_t num_dbs,
                                int64_t write_ms, uint64_t dups, json_object *extra, shardy_build_result **out) {
    shardy_status st = SHARDY_OK;
    const sy_attempt **winners = sy_calloc(num_dbs ? num_dbs : 1, sizeof *winners);
    const char **winner_urls = sy_calloc(num_dbs ? num_dbs : 1, sizeof *winner_urls);
    sy_manifest *m = NULL;
    json_object *r = NULL;
    char *ref = NULL;
    size_t nwin = 0, swept = 0;
    uint64_t rows = 0;
    int phase = 0;
    if (!winners || !winner_urls) {
        st = sy_err(SHARDY_ENOMEM, "out of memory selecting winners");
        goto done;
    }
    SY_TRY(sy_select_winners(attempts, n, num_dbs, winners));
    for (uint32_t i = 0; i < num_dbs; i++)
        if (winners[i]) winner_urls[nwin++] = winners[i]->db_url;
    SY_TRY(build_manifest(d, winners, num_dbs, &m));
    int64_t t_pub = sy_mono_ns();
    st = sy_publish(d->store, d->prefix, m, &ref, &phase);
    if (ref) d->published_manifest = 1;
    if (st) goto done;
    int64_t publish_ms = (sy_mono_ns() - t_pub) / 1000000;
    if (d->have_lc) sy_run_lifecycle_set_manifest_ref(&d->lc, ref);
    if (sy_sweep_losers(d->store, d->prefix, d->o.shard_prefix, d->run_id, winner_urls, nwin, &swept, NULL)) {
        /* best effort (spec §5.19) */
    }
    r = result_json(d, ref, winners, num_dbs, write_ms, publish_ms, dups, swept, &rows);
    SY_TRY(make_result(d, ref, r, rows, extra, out));
    if (d->have_lc) sy_run_lifecycle_finish(&d->lc, SY_RUN_SUCCEEDED, NULL, NULL);
done:
    if (st && phase == SY_PUBLISH_CURRENT)
        sy_err_wrap(st, "manifest %s was published but _CURRENT was not updated", ref ? ref : "?");
    else if (st && phase == SY_PUBLISH_MANIFEST)
        sy_err_wrap(st, "manifest publish failed");
    json_object_put(r);
    json_object_put(extra);
    sy_manifest_free(&m);
    sy_free(ref);
    sy_free(winners);
    sy_free(winner_urls);
    return st;
}

/* ---- failure ---------------------------------------------------------------------------------------- */

const char *sy_driver_error_type(shardy_status st) {
    switch (st) {
    case SHARDY_EINVAL: return "ConfigValidationError";
    case SHARDY_EROUTE: return "ShardAssignmentError";
    default: return "ShardWriteError";
    }
}

void sy_driver_discard(sy_driver *d, int delete_objects) {
    if (!d->store || !d->run_id || d->discarded) return;
    d->discarded = 1;
    char *seg = sy_asprintf("run_id=%s", d->run_id);
    const char *parts[] = {d->o.shard_prefix, seg};
    char *dir = seg ? sy_url_join(d->prefix, parts, 2) : NULL;
    char *with_slash = dir ? sy_asprintf("%s/", dir) : NULL;
    if (with_slash && delete_objects && !d->published_manifest &&
        sy_store_delete_prefix(d->store, with_slash, NULL) != SHARDY_OK) {
        /* best effort; `cleanup` handles leftovers */
    }
    /* A two-stage build's exchange is scratch whatever happened to the manifest. */
    char *xdir = with_slash ? sy_asprintf("%s_exchange/", with_slash) : NULL;
    if (xdir && delete_objects && d->published_manifest && sy_store_delete_prefix(d->store, xdir, NULL) != SHARDY_OK) {
        /* best effort, as above */
    }
    sy_free(xdir);
    /* s3 multipart uploads whose abort failed, or created by a request whose answer was lost */
    if (with_slash && sy_store_abort_uploads(d->store, with_slash, NULL) != SHARDY_OK) {
        /* best effort, as above */
    }
    sy_free(with_slash);
    sy_free(dir);
    sy_free(seg);
}

void sy_driver_fail(sy_driver *d, shardy_status st, const char *error_type, int delete_objects) {
    char msg[SY_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    sy_driver_discard(d, delete_objects);
    if (d->have_lc) sy_run_lifecycle_finish(&d->lc, SY_RUN_FAILED, error_type ? error_type : sy_driver_error_type(st), msg);
    sy_err(st, "%s", msg); /* keep the original message for the caller */
}

void sy_driver_close(sy_driver *d) {
    if (d->have_lc) sy_run_lifecycle_free(&d->lc);
    d->have_lc = 0;
    sy_wcel_free(&d->cel);
    sy_store_close(&d->store);
    sy_free(d->prefix);
    sy_free(d->run_id);
    sy_wopts_free(&d->o);
    d->prefix = d->run_id = NULL;
}

shardy_status sy_handle_check(const void *h, int magic_ok, int state, const char *fn, const char *what,
                              const char *done_word) {
    if (!h) return sy_err(SHARDY_EINVAL, "%s: NULL %s", fn, what);
    if (!magic_ok) return sy_err(SHARDY_ECLOSED, "%s: %s is closed", fn, what);
    if (state != SY_HANDLE_OPEN)
        return sy_err(SHARDY_ECLOSED, "%s: %s already %s", fn, what, state == SY_HANDLE_DONE ? done_word : "failed");
    return SHARDY_OK;
}

/* ---- result accessors ---------------------------------------------------------------------------- */

const char *shardy_build_result_run_id(const shardy_build_result *r) { return r ? r->run_id : NULL; }
const char *shardy_build_result_manifest_ref(const shardy_build_result *r) { return r ? r->manifest_ref : NULL; }
uint64_t shardy_build_result_rows(const shardy_build_result *r) { return r ? r->rows : 0; }
const char *shardy_build_result_json(const shardy_build_result *r) { return r ? r->json : NULL; }

void shardy_build_result_free(shardy_build_result **pr) {
    shardy_build_result *r = pr ? *pr : NULL;
    if (!r) return;
    sy_free(r->run_id);
    sy_free(r->manifest_ref);
    sy_free(r->json);
    sy_free(r);
    *pr = NULL;
}
