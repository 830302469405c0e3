/*
 * attempt_writer.c — shardy_attempt_*: one shard attempt written by one engine task of a
 * distributed build (spec writer §5.12, §5.14, §6; shardy.h "Distributed builds").
 *
 * What it owns
 *   A sy_driver used only for its option copy, prefix, run id and store (no run record: that is
 *   the driver's), one sy_rowbuf, and the local staging directory
 *   <local_dir>/run_id=<run_id>.<random>/ (spill runs, fetched sections and the SQLite file).
 *   Exchange sections are indexed in place (sy_rowbuf_add_records: mapped, not copied) and
 *   sorted with the rows at finish; past memory_limit (index bytes) or SY_ROWBUF_MAPS_MAX
 *   mapped sections the buffer spills (a sorted run; the mappings go).
 *
 * Invariants
 *   - Nothing touches the object store before finish; a writer without rows never does.
 *   - Rows and sections count in the order they are added: for a key, the last added wins.
 *   - The attempt writes exactly <prefix>/<shard_prefix>/run_id=<run>/<db dir>/attempt=NN/shard.db
 *     (sy_shard_write_attempt, the same code path as the native builder's shards).
 *
 * Failure behaviour: a failed finish deletes what it uploaded under its own attempt directory
 *   (never anything else of the run) and its staging files; the writer is then unusable. add
 *   errors on a single row (type, range) leave the writer usable; a failed spill does not.
 *   A writer handle is used from one thread at a time.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "core/localfs.h"
#include "write/attempt.h"
#include "write/driver.h"
#include "write/exchange.h"
#include "write/options.h"
#include "write/rowbuf.h"
#include "write/shardwrite.h"

#define ATTEMPT_MAGIC 0x53484157u /* "SHAW" */
enum { W_OPEN = SY_HANDLE_OPEN, W_FINISHED = SY_HANDLE_DONE, W_FAILED = SY_HANDLE_FAILED };

struct shardy_attempt_writer {
    uint32_t magic;
    int state;
    sy_driver d;
    shardy_attempt_info info;
    char *staging;
    sy_rowbuf buf;
    uint64_t seq;
    unsigned spills;
    unsigned sections;
    char *exchange;   /* this run's exchange prefix (sections must lie under it) */
    atomic_int uploaded;
};

shardy_status shardy_attempt_open(const shardy_build_opts *o, const shardy_attempt_info *info,
                                  shardy_attempt_writer **out) {
    shardy_status st;
    char rnd[33];
    if (!o || !info || !out) return sy_err(SHARDY_EINVAL, "shardy_attempt_open: NULL argument");
    *out = NULL;
    if (info->attempt > 99) return sy_err(SHARDY_EINVAL, "attempt %u must be < 100", info->attempt);
    shardy_attempt_writer *w = sy_calloc(1, sizeof *w);
    if (!w) return sy_err(SHARDY_ENOMEM, "out of memory creating an attempt writer");
    w->magic = ATTEMPT_MAGIC;
    w->state = W_OPEN;
    w->info = *info;
    sy_rowbuf_init(&w->buf);
    shardy_build_opts no_cel = *o; /* routing is the driver's business: the attempt ignores cel_* */
    no_cel.cel_expr = NULL;
    no_cel.cel_columns = no_cel.routing_values = NULL;
    no_cel.n_cel_columns = no_cel.n_routing_values = 0;
    SY_TRY(sy_driver_init(&w->d, &no_cel, SY_WOPTS_NEED_RUN_ID));
    SY_TRY(sy_uuid4_hex(rnd));
    w->staging = sy_asprintf("%s/run_id=%s.%.8s", w->d.o.local_dir, w->d.run_id, rnd);
    if (!w->staging) {
        st = sy_err(SHARDY_ENOMEM, "out of memory creating an attempt writer");
        goto done;
    }
    SY_TRY(sy_mkdirs(w->staging));
done:
    if (st) {
        w->state = W_FAILED;
        shardy_attempt_close(&w);
        return st;
    }
    *out = w;
    return SHARDY_OK;
}

static shardy_status check_writer(const shardy_attempt_writer *w, const char *fn) {
    return sy_handle_check(w, w && w->magic == ATTEMPT_MAGIC, w ? w->state : 0, fn, "attempt writer", "finished");
}

shardy_status shardy_attempt_add(shardy_attempt_writer *w, const shardy_key *key, const void *value,
                                 size_t value_len) {
    shardy_status st = check_writer(w, "shardy_attempt_add");
    if (st) return st;
    if (!key || (!value && value_len)) return sy_err(SHARDY_EINVAL, "shardy_attempt_add: NULL key or value");
    st = sy_shard_rows_add(&w->buf, w->d.o.key_encoding, key, value, value_len, w->seq + 1);
    if (st) return st;
    w->seq++;
    if (w->buf.mem_bytes > w->d.o.memory_limit) {
        st = sy_shard_rows_spill(&w->buf, w->staging, w->info.db_id, w->spills++);
        if (st) {
            w->state = W_FAILED;
            return sy_err_wrap(st, "spilling buffered rows to %s", w->staging);
        }
    }
    return SHARDY_OK;
}

shardy_status shardy_attempt_add_section(shardy_attempt_writer *w, const char *url, uint64_t offset,
                                         uint64_t length, uint64_t rows) {
    shardy_status st = check_writer(w, "shardy_attempt_add_section");
    if (st) return st;
    if (!url) return sy_err(SHARDY_EINVAL, "shardy_attempt_add_section: NULL url");
    if (!w->exchange && !(w->exchange = sy_exchange_prefix(&w->d)))
        return sy_err(SHARDY_ENOMEM, "out of memory adding a section");
    if (strncmp(url, w->exchange, strlen(w->exchange)) != 0 || strstr(url, "/../"))
        return sy_err(SHARDY_EINVAL, "section url %s is not under this run's exchange %s", url, w->exchange);
    if (offset > UINT64_MAX - length)
        return sy_err(SHARDY_EINVAL, "section [%llu, +%llu) of %s overflows", (unsigned long long)offset,
                      (unsigned long long)length, url);
    st = sy_exchange_add_section(w->d.store, &w->buf, url, offset, length, rows, w->seq + 1, w->staging,
                                 w->sections);
    if (st) return sy_err_wrap(st, "shard db_id=%u: adding section of %s", w->info.db_id, url);
    w->seq += rows;
    if (w->buf.mem_bytes > w->d.o.memory_limit || w->buf.nmaps >= SY_ROWBUF_MAPS_MAX) {
        st = sy_shard_rows_spill(&w->buf, w->staging, w->info.db_id, w->spills++);
        if (st) {
            w->state = W_FAILED;
            return sy_err_wrap(st, "spilling buffered rows to %s", w->staging);
        }
    }
    w->sections++;
    return SHARDY_OK;
}

/* Removes what a failed finish uploaded: its own attempt directory only. */
static void discard_attempt(shardy_attempt_writer *w, const char *db_url) {
    if (!db_url || !atomic_load(&w->uploaded)) return;
    char *dir = sy_asprintf("%s/", db_url);
    if (dir && sy_store_delete_prefix(w->d.store, dir, NULL) != SHARDY_OK) {
        /* best effort: the driver's sweep or `cleanup` removes leftovers */
    }
    if (dir && sy_store_abort_uploads(w->d.store, dir, NULL) != SHARDY_OK) {
        /* best effort, as above */
    }
    sy_free(dir);
}

shardy_status shardy_attempt_finish(shardy_attempt_writer *w, char **result_json) {
    shardy_status st = check_writer(w, "shardy_attempt_finish");
    sy_attempt a;
    json_object *j = NULL;
    sy_buf text = SY_BUF_INIT;
    if (st) return st;
    if (!result_json) return sy_err(SHARDY_EINVAL, "shardy_attempt_finish: NULL result pointer");
    *result_json = NULL;
    memset(&a, 0, sizeof a);
    a.stage_id = w->info.stage_id;
    a.task_attempt_id = w->info.task_attempt_id;
    sy_shardwrite_cfg c = {w->d.store, w->d.prefix, w->d.o.shard_prefix, w->d.run_id, w->d.o.db_path_template,
                           w->staging, w->d.o.page_size, w->d.o.batch_size, w->d.o.max_writes_per_second,
                           w->d.o.max_write_bytes_per_second, NULL, &w->uploaded, 0};
    SY_TRY(sy_shard_write_attempt(&c, &w->buf, w->info.db_id, w->info.attempt, &a, NULL));
    SY_TRY(sy_attempt_to_json(&a, w->d.o.key_encoding, &j));
    SY_TRY(sy_json_dump(j, SY_JSON_NO_SORT | SY_JSON_COMPACT | SY_JSON_RAW_UTF8, &text));
    *result_json = sy_buf_take(&text);
    w->state = W_FINISHED;
done:
    if (st) {
        char msg[SY_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", shardy_errmsg());
        w->state = W_FAILED;
        discard_attempt(w, a.db_url);
        sy_err(st, "%s", msg);
    }
    (void)sy_rmtree(w->staging); /* best effort: staging is scratch */
    json_object_put(j);
    sy_buf_free(&text);
    sy_attempt_clear(&a);
    return st;
}

void shardy_attempt_close(shardy_attempt_writer **pw) {
    shardy_attempt_writer *w = pw ? *pw : NULL;
    if (!w || w->magic != ATTEMPT_MAGIC) return;
    sy_rowbuf_free(&w->buf); /* deletes spill runs */
    if (w->staging) (void)sy_rmtree(w->staging);
    sy_driver_close(&w->d);
    sy_free(w->staging);
    sy_free(w->exchange);
    w->magic = 0;
    sy_free(w);
    *pw = NULL;
}
