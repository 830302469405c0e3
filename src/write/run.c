/*
 * run.c — shardy_run_*: the driver of a distributed build (spec writer §5.16, §5.19, §11, §12;
 * shardy.h "Distributed builds").
 *
 * What it owns: a sy_driver (options, store, run id, CEL state, run record + heartbeat) from open
 *   until close. Engine tasks write attempts with shardy_attempt_* and hand their result JSON back;
 *   publish parses them (attempt.c), checks that every db_url is the attempt URL of its (db_id,
 *   attempt) in THIS run (so a result of another run or prefix can never be published or swept),
 *   discovers num_dbs in CEL direct mode and runs the finish sequence shared with the native
 *   builder (sy_driver_publish).
 *
 * CEL direct mode: ids that count are those whose winner has rows; they must be exactly 0..max.
 *   Records at or beyond the discovered num_dbs are all empty or losers and are left out of the
 *   coverage check (their objects, if any, are swept). Ids ≥ 1,000,000 are a coverage error.
 *
 * Failure behaviour: any failure of publish (malformed input, coverage, store) marks the run
 *   record failed and deletes every object under the run unless the manifest was published
 *   (then only _CURRENT failed and the manifest keeps referencing the winners). A run that is
 *   failed or closed unpublished deletes what its tasks uploaded. One thread at a time per run.
 */
#include <stdio.h>
#include <string.h>

#include "cel/cel.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "snapshot/layout.h"
#include "write/attempt.h"
#include "write/driver.h"
#include "write/options.h"

#define RUN_MAGIC 0x53485255u /* "SHRU" */
#define DIRECT_MAX_DBS 1000000u
enum { R_OPEN = SY_HANDLE_OPEN, R_PUBLISHED = SY_HANDLE_DONE, R_FAILED = SY_HANDLE_FAILED };

struct shardy_run {
    uint32_t magic;
    int state;
    sy_driver d;
};

shardy_status shardy_run_open(const shardy_build_opts *o, shardy_run **out) {
    shardy_status st;
    if (!o || !out) return sy_err(SHARDY_EINVAL, "shardy_run_open: NULL argument");
    *out = NULL;
    shardy_run *r = sy_calloc(1, sizeof *r);
    if (!r) return sy_err(SHARDY_ENOMEM, "out of memory creating a run");
    r->magic = RUN_MAGIC;
    r->state = R_OPEN;
    SY_TRY(sy_driver_init(&r->d, o, SY_WOPTS_NEED_NUM_DBS));
    sy_driver_start_run(&r->d);
done:
    if (st) {
        r->state = R_FAILED; /* close must not replace the message */
        shardy_run_close(&r);
        return st;
    }
    *out = r;
    return SHARDY_OK;
}

const char *shardy_run_id(const shardy_run *r) { return r && r->magic == RUN_MAGIC ? r->d.run_id : NULL; }

static shardy_status check_run(const shardy_run *r, const char *fn) {
    return sy_handle_check(r, r && r->magic == RUN_MAGIC, r ? r->state : 0, fn, "run", "published");
}

/* Parses every element and checks its db_url against the layout of this run. */
static shardy_status parse_attempts(sy_driver *d, json_object *arr, sy_attempt *as) {
    shardy_status st = SHARDY_OK;
    char *want = NULL;
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n && !st; i++) {
        sy_attempt *a = &as[i];
        SY_TRY(sy_attempt_from_json(json_object_array_get_idx(arr, i), i, d->o.key_encoding, a));
        if (!a->db_url) continue;
        SY_TRY(sy_layout_shard_url(d->prefix, d->o.shard_prefix, d->run_id, d->o.db_path_template, a->db_id,
                                   a->attempt, &want));
        if (strcmp(want, a->db_url) != 0)
            st = sy_err(SHARDY_EFORMAT, "attempts[%zu].db_url: %s is not the URL of db_id=%u attempt=%u in run %s (%s)",
                        i, a->db_url, a->db_id, a->attempt, d->run_id, want);
        sy_free(want);
        want = NULL;
    }
done:
    sy_free(want);
    return st;
}

/* CEL direct mode: num_dbs from the ids whose winner has rows (spec cel.md §1.7), then drops the
 * records at or beyond it (empty or losing attempts of ids that do not exist). */
static shardy_status discover_num_dbs(sy_attempt *as, size_t *idx, size_t *n, uint32_t *num_dbs) {
    uint32_t bound = 0, nids = 0;
    for (size_t i = 0; i < *n; i++)
        if (as[i].db_id >= bound) bound = as[i].db_id < DIRECT_MAX_DBS ? as[i].db_id + 1 : DIRECT_MAX_DBS;
    const sy_attempt **w = sy_calloc(bound ? bound : 1, sizeof *w);
    uint32_t *ids = sy_calloc(bound ? bound : 1, sizeof *ids);
    shardy_status st = w && ids ? SHARDY_OK : sy_err(SHARDY_ENOMEM, "out of memory discovering num_dbs");
    if (!st) st = sy_select_winners(as, *n, bound, w); /* ids >= 1,000,000: coverage error */
    for (uint32_t i = 0; !st && i < bound; i++)
        if (w[i]) ids[nids++] = i;
    if (!st) st = sy_cel_discover_num_dbs(ids, nids, num_dbs);
    sy_free(w);
    sy_free(ids);
    if (st) return st;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (as[i].db_id < *num_dbs) {
            sy_attempt t = as[kept];
            size_t ti = idx[kept];
            as[kept] = as[i];
            idx[kept++] = idx[i];
            as[i] = t;
            idx[i] = ti;
        }
    }
    /* dropped records stay allocated after `kept`; the caller clears all *n originally parsed */
    *n = kept;
    return SHARDY_OK;
}

/* {"winners": [the winners' input objects, ascending db_id], "num_attempts": total};
 * idx[i] = element index of as[i] in arr. */
static shardy_status winners_extra(json_object *arr, const sy_attempt *as, const size_t *idx, size_t n,
                                   size_t total, uint32_t num_dbs, json_object **out) {
    const sy_attempt **w = sy_calloc(num_dbs ? num_dbs : 1, sizeof *w);
    if (!w) return sy_err(SHARDY_ENOMEM, "out of memory selecting winners");
    shardy_status st = sy_select_winners(as, n, num_dbs, w);
    json_object *e = json_object_new_object(), *list = json_object_new_array();
    for (uint32_t i = 0; !st && i < num_dbs; i++)
        if (w[i]) json_object_array_add(list, json_object_get(json_object_array_get_idx(arr, idx[w[i] - as])));
    json_object_object_add(e, "winners", list);
    json_object_object_add(e, "num_attempts", json_object_new_uint64(total));
    sy_free(w);
    if (st) {
        json_object_put(e);
        return st;
    }
    *out = e;
    return SHARDY_OK;
}

static const char *failure_type(shardy_status st) {
    if (st == SHARDY_EROUTE && strstr(shardy_errmsg(), "Shard coverage mismatch")) return "ShardCoverageError";
    if (st == SHARDY_EFORMAT) return "ShardWriteError";
    return NULL; /* by status */
}

shardy_status shardy_run_publish(shardy_run *r, const char *attempts_json, char **result_json) {
    shardy_status st = check_run(r, "shardy_run_publish");
    json_object *arr = NULL, *extra = NULL;
    sy_attempt *as = NULL;
    size_t *idx = NULL, total = 0, n = 0;
    shardy_build_result *res = NULL;
    if (st) return st;
    if (!attempts_json || !result_json) return sy_err(SHARDY_EINVAL, "shardy_run_publish: NULL argument");
    *result_json = NULL;
    sy_driver *d = &r->d;
    int64_t write_ms = (sy_mono_ns() - d->started_ns) / 1000000;
    SY_TRY(sy_json_parse(attempts_json, strlen(attempts_json), "attempts", &arr));
    if (!arr || json_object_get_type(arr) != json_type_array) {
        st = sy_err(SHARDY_EFORMAT, "attempts: must be a JSON array of attempt results");
        goto done;
    }
    total = n = json_object_array_length(arr);
    as = sy_calloc(total ? total : 1, sizeof *as);
    idx = sy_calloc(total ? total : 1, sizeof *idx);
    if (!as || !idx) {
        st = sy_err(SHARDY_ENOMEM, "out of memory parsing %zu attempts", total);
        goto done;
    }
    SY_TRY(parse_attempts(d, arr, as));
    for (size_t i = 0; i < total; i++) idx[i] = i; /* discovery reorders as[]: idx follows */
    uint32_t num_dbs = d->o.num_dbs;
    if (sy_driver_direct(d)) SY_TRY(discover_num_dbs(as, idx, &n, &num_dbs));
    SY_TRY(winners_extra(arr, as, idx, n, total, num_dbs, &extra));
    st = sy_driver_publish(d, as, n, num_dbs, write_ms, 0, extra, &res);
    extra = NULL; /* consumed */
    if (st) goto done;
    *result_json = sy_strdup(shardy_build_result_json(res));
    if (!*result_json) st = sy_err(SHARDY_ENOMEM, "out of memory returning the build result");
    r->state = R_PUBLISHED; /* the snapshot is live even if the copy above failed */
done:
    if (st && r->state == R_OPEN) {
        r->state = R_FAILED;
        sy_driver_fail(d, st, failure_type(st), 1);
    }
    for (size_t i = 0; as && i < total; i++) sy_attempt_clear(&as[i]);
    sy_free(as);
    sy_free(idx);
    json_object_put(extra);
    json_object_put(arr);
    shardy_build_result_free(&res);
    return st;
}

shardy_status shardy_run_fail(shardy_run *r, const char *error_type, const char *message) {
    shardy_status st = check_run(r, "shardy_run_fail");
    if (st) return st;
    r->state = R_FAILED;
    sy_err(SHARDY_EINTERNAL, "%s", message ? message : "run failed");
    sy_driver_fail(&r->d, SHARDY_EINTERNAL, error_type ? error_type : "ShardWriteError", 1);
    sy_err_clear();
    return SHARDY_OK;
}

void shardy_run_close(shardy_run **pr) {
    shardy_run *r = pr ? *pr : NULL;
    if (!r || r->magic != RUN_MAGIC) return;
    if (r->state == R_OPEN && shardy_run_fail(r, "ShardWriteError", "run closed before publish") != SHARDY_OK) {
        /* cannot happen: the run is open */
    }
    sy_driver_close(&r->d);
    r->magic = 0;
    sy_free(r);
    *pr = NULL;
}
