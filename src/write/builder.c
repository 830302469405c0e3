/*
 * builder.c — the native single-host build pipeline behind shardy_builder_* (spec writer §5,
 * DESIGN §3 "Write pipeline").
 *
 * What it owns
 *   A sy_driver (options, object store, run id, CEL state, run record; write/driver.h), one
 *   sy_rowbuf per shard and the local staging directory <local_dir>/run_id=<run_id>.<random>/.
 *
 * Pipeline
 *   add:    route (xxh3 mod num_dbs) → encode key → append to the shard's buffer. When the bytes
 *           buffered exceed memory_limit every shard buffer is sorted and spilled to a run file.
 *   finish: `threads` workers take shards in turn and write attempt 0 of each
 *           (sy_shard_write_attempt, write/shardwrite.h: merge in key order, last added wins →
 *           SQLite → seal → checkpoint id → upload). Then sy_driver_publish selects winners,
 *           publishes the manifest and _CURRENT (two phases), sweeps non-winning attempts under
 *           the run and marks the run record succeeded — the same sequence as shardy_run_publish.
 *
 * Failure behaviour
 *   Any error in finish stops the other workers, marks the run failed and deletes what this run
 *   uploaded (unless the manifest was already published, which only happens when the _CURRENT
 *   PUT failed). _CURRENT is written last, so readers never see a partial snapshot; a process
 *   killed at any point leaves the previous snapshot untouched (leftovers: staging files and
 *   unreferenced attempt objects, which `cleanup` removes).
 *
 * Threads: the builder handle is used from one thread; finish runs its own worker threads, each
 *   owning the shards it took (no shared mutable state besides the atomic shard counter, the
 *   abort flag and the error slot under a mutex).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/localfs.h"
#include "core/timeutil.h"
#include "write/attempt.h"
#include "write/driver.h"
#include "write/options.h"
#include "write/rowbuf.h"
#include "write/shardwrite.h"
#include "write/wcel.h"

#define BUILDER_MAGIC 0x53484255u /* "SHBU" */
enum { B_OPEN = SY_HANDLE_OPEN, B_FINISHED = SY_HANDLE_DONE, B_FAILED = SY_HANDLE_FAILED };

struct shardy_builder {
    uint32_t magic;
    int state;
    sy_driver d;          /* options, store, run id, CEL state, run record (write/driver.h) */
    char *staging;        /* local staging dir of this run */
    sy_rowbuf *bufs;      /* num_dbs */
    uint32_t num_dbs;     /* shards routed so far (CEL direct mode grows it) */
    uint32_t cap_dbs;     /* allocated entries of bufs/attempts/attempt_dups */
    uint64_t seq;
    uint64_t mem_bytes;   /* sum of buffer memory */
    unsigned spills;
    int64_t last_progress_ns;
    atomic_int uploaded_any; /* set by writer threads before their first upload */

    /* finish-time shared state */
    sy_shardwrite_cfg wcfg;
    atomic_uint next_shard;
    atomic_uint shards_done;
    atomic_int abort_flag;
    pthread_mutex_t err_mu;
    shardy_status err_st;
    char err_msg[SY_ERRMSG_MAX];
    sy_attempt *attempts; /* num_dbs, one per shard (the native writer makes attempt 0 only) */
    uint64_t *attempt_dups; /* num_dbs: superseded duplicate rows per shard */
};

/* ---- open / add ----------------------------------------------------------------------------------- */

shardy_status shardy_builder_open(const shardy_build_opts *opts, shardy_builder **out) {
    shardy_status st;
    char rnd[33];
    if (!opts || !out) return sy_err(SHARDY_EINVAL, "shardy_builder_open: NULL argument");
    *out = NULL;
    shardy_builder *b = sy_calloc(1, sizeof *b);
    if (!b) return sy_err(SHARDY_ENOMEM, "out of memory creating a builder");
    b->magic = BUILDER_MAGIC;
    b->state = B_OPEN;
    pthread_mutex_init(&b->err_mu, NULL);
    SY_TRY(sy_driver_init(&b->d, opts, SY_WOPTS_NEED_NUM_DBS));
    SY_TRY(sy_uuid4_hex(rnd));
    b->num_dbs = b->d.o.num_dbs;
    b->cap_dbs = b->num_dbs ? b->num_dbs : 16;
    b->staging = sy_asprintf("%s/run_id=%s.%.8s", b->d.o.local_dir, b->d.run_id, rnd);
    b->bufs = sy_calloc(b->cap_dbs, sizeof *b->bufs);
    b->attempts = sy_calloc(b->cap_dbs, sizeof *b->attempts);
    b->attempt_dups = sy_calloc(b->cap_dbs, sizeof *b->attempt_dups);
    if (!b->staging || !b->bufs || !b->attempts || !b->attempt_dups) {
        st = sy_err(SHARDY_ENOMEM, "out of memory creating a builder for %u shards", b->num_dbs);
        goto done;
    }
    for (uint32_t i = 0; i < b->cap_dbs; i++) sy_rowbuf_init(&b->bufs[i]);
    SY_TRY(sy_mkdirs(b->staging));
    sy_driver_start_run(&b->d);
    b->last_progress_ns = sy_mono_ns();
done:
    if (st) {
        b->state = B_FAILED; /* close must not replace the message */
        shardy_builder_close(&b);
        return st;
    }
    *out = b;
    return SHARDY_OK;
}

static shardy_status check_handle(const shardy_builder *b, const char *fn) {
    return sy_handle_check(b, b && b->magic == BUILDER_MAGIC, b ? b->state : 0, fn, "builder", "finished");
}

static shardy_status spill_all(shardy_builder *b) {
    shardy_status st = SHARDY_OK;
    for (uint32_t i = 0; i < b->num_dbs && !st; i++) st = sy_shard_rows_spill(&b->bufs[i], b->staging, i, b->spills);
    b->spills++;
    b->mem_bytes = 0;
    for (uint32_t i = 0; i < b->num_dbs; i++) b->mem_bytes += b->bufs[i].mem_bytes;
    return st;
}

static void progress_add(shardy_builder *b) {
    int64_t now = sy_mono_ns();
    if (now - b->last_progress_ns < 1000000000LL) return;
    b->last_progress_ns = now;
    double secs = (double)(now - b->d.started_ns) / 1e9;
    fprintf(stderr, "shardy build: %" PRIu64 " rows read (%.0f rows/s)\n", b->seq, secs > 0 ? (double)b->seq / secs : 0.0);
}

shardy_status shardy_builder_add_routed(shardy_builder *b, uint32_t db_id, const shardy_key *key, const void *value,
                                        size_t value_len) {
    shardy_status st = check_handle(b, "shardy_builder_add");
    if (st) return st;
    if (!key || (!value && value_len)) return sy_err(SHARDY_EINVAL, "shardy_builder_add: NULL key or value");
    if (db_id >= b->num_dbs) return sy_err(SHARDY_EROUTE, "db_id %u out of range [0, %u)", db_id, b->num_dbs);
    sy_rowbuf *rb = &b->bufs[db_id];
    uint64_t before = rb->mem_bytes;
    st = sy_shard_rows_add(rb, b->d.o.key_encoding, key, value, value_len, b->seq + 1);
    if (st) return st;
    b->seq++;
    b->mem_bytes += rb->mem_bytes - before;
    if (b->mem_bytes > b->d.o.memory_limit) {
        st = spill_all(b);
        if (st) {
            b->state = B_FAILED;
            return sy_err_wrap(st, "spilling buffered rows to %s", b->staging);
        }
    }
    if (b->d.o.progress && (b->seq & 0xFFFF) == 0) progress_add(b);
    return SHARDY_OK;
}

/* CEL direct mode: makes db_id a valid shard, growing the per-shard arrays (ids < 1,000,000). */
static shardy_status ensure_db(shardy_builder *b, uint32_t db) {
    if (db < b->num_dbs) return SHARDY_OK;
    if (db >= b->cap_dbs) {
        uint32_t cap = b->cap_dbs;
        while (cap <= db) cap = cap > UINT32_MAX / 2 ? db + 1 : cap * 2;
        sy_rowbuf *nb = sy_realloc(b->bufs, cap * sizeof *nb);
        if (nb) b->bufs = nb;
        sy_attempt *na = nb ? sy_realloc(b->attempts, cap * sizeof *na) : NULL;
        if (na) b->attempts = na;
        uint64_t *nd = na ? sy_realloc(b->attempt_dups, cap * sizeof *nd) : NULL;
        if (nd) b->attempt_dups = nd;
        if (!nd) return sy_err(SHARDY_ENOMEM, "out of memory for %u shards", cap);
        for (uint32_t i = b->cap_dbs; i < cap; i++) sy_rowbuf_init(&b->bufs[i]);
        memset(b->attempts + b->cap_dbs, 0, (cap - b->cap_dbs) * sizeof *na);
        memset(b->attempt_dups + b->cap_dbs, 0, (cap - b->cap_dbs) * sizeof *nd);
        b->cap_dbs = cap;
    }
    b->num_dbs = db + 1;
    return SHARDY_OK;
}

static shardy_status add_cel_routed(shardy_builder *b, shardy_status st, uint32_t db, const shardy_key *key,
                                    const void *value, size_t value_len) {
    if (st) return st;
    if ((st = ensure_db(b, db)) != SHARDY_OK) return st;
    return shardy_builder_add_routed(b, db, key, value, value_len);
}

shardy_status shardy_builder_add_cel(shardy_builder *b, const shardy_key *key, const shardy_cel_arg *args, size_t nargs,
                                     const void *value, size_t value_len) {
    uint32_t db = 0;
    shardy_status st = check_handle(b, "shardy_builder_add_cel");
    if (st) return st;
    if (!b->d.cel) return sy_err(SHARDY_EINVAL, "shardy_builder_add_cel: the builder has no cel_expr");
    if (!key) return sy_err(SHARDY_EINVAL, "shardy_builder_add_cel: NULL key");
    st = sy_wcel_route_args(b->d.cel, key, args, nargs, &db);
    return add_cel_routed(b, st, db, key, value, value_len);
}

shardy_status sy_builder_add_cel_values(shardy_builder *b, const shardy_key *key, const void *value, size_t value_len) {
    uint32_t db = 0;
    shardy_status st = check_handle(b, "shardy_builder_add_cel");
    if (st) return st;
    st = sy_wcel_route(b->d.cel, key, &db);
    return add_cel_routed(b, st, db, key, value, value_len);
}

sy_wcel *sy_builder_cel(shardy_builder *b) { return b && b->magic == BUILDER_MAGIC ? b->d.cel : NULL; }

shardy_status shardy_builder_add(shardy_builder *b, const shardy_key *key, const void *value, size_t value_len) {
    uint64_t db;
    shardy_status st = check_handle(b, "shardy_builder_add");
    if (st) return st;
    if (!key) return sy_err(SHARDY_EINVAL, "shardy_builder_add: NULL key");
    if (b->d.cel) return shardy_builder_add_cel(b, key, NULL, 0, value, value_len);
    st = shardy_route_hash(key, b->num_dbs, &db, NULL);
    if (st) return st;
    return shardy_builder_add_routed(b, (uint32_t)db, key, value, value_len);
}

uint64_t shardy_builder_rows(const shardy_builder *b) { return b && b->magic == BUILDER_MAGIC ? b->seq : 0; }

/* ---- finish: shard writers -------------------------------------------------------------------- */

static void record_error(shardy_builder *b, shardy_status st) {
    pthread_mutex_lock(&b->err_mu);
    if (!b->err_st) {
        b->err_st = st;
        snprintf(b->err_msg, sizeof b->err_msg, "%s", shardy_errmsg());
    }
    pthread_mutex_unlock(&b->err_mu);
    atomic_store(&b->abort_flag, 1);
}

/* Statuses worth another attempt of a shard (spec writer §6.3: I/O and object-store failures). */
static int retryable(shardy_status st) { return st == SHARDY_EIO || st == SHARDY_ESTORE || st == SHARDY_ETIMEOUT; }

/* Sleeps up to seconds, waking early when another shard failed. */
static void backoff_sleep(shardy_builder *b, double seconds) {
    int64_t end = sy_mono_ns() + (int64_t)(seconds * 1e9);
    while (!atomic_load(&b->abort_flag)) {
        int64_t left = end - sy_mono_ns();
        if (left <= 0) break;
        struct timespec ts = {0, left > 50000000 ? 50000000 : (long)left};
        nanosleep(&ts, NULL);
    }
}

/* Writes shard db: attempt 0, then (shard_retry_max > 0) further attempts after retryable
 * failures. The failed attempts' uploads are left for the publish sweep. */
static shardy_status write_shard(shardy_builder *b, unsigned db) {
    sy_attempt *a = &b->attempts[db];
    double backoff = b->d.o.shard_retry_backoff_s;
    for (uint32_t attempt = 0;; attempt++) {
        a->stage_id = a->task_attempt_id = SY_NO_ID;
        shardy_status st = sy_shard_write_attempt(&b->wcfg, &b->bufs[db], db, attempt, a, &b->attempt_dups[db]);
        if (!st) return SHARDY_OK;
        if (attempt >= b->d.o.shard_retry_max || !retryable(st) || atomic_load(&b->abort_flag)) {
            if (b->wcfg.keep_rows_on_failure) sy_rowbuf_free(&b->bufs[db]); /* else already freed */
            if (attempt > 0) sy_err_wrap(st, "after %u attempts", attempt + 1);
            return st;
        }
        if (b->d.o.progress)
            fprintf(stderr, "shardy build: shard %u attempt %u failed (%s); retrying in %.2f s\n", db, attempt,
                    shardy_errmsg(), backoff);
        sy_attempt_clear(a);
        backoff_sleep(b, backoff);
        backoff *= b->d.o.shard_retry_multiplier;
    }
}

static void *worker_main(void *arg) {
    shardy_builder *b = arg;
    for (;;) {
        if (atomic_load(&b->abort_flag)) break;
        unsigned db = atomic_fetch_add(&b->next_shard, 1);
        if (db >= b->num_dbs) break;
        sy_attempt *a = &b->attempts[db];
        shardy_status st = write_shard(b, db);
        if (st) {
            record_error(b, st);
            break;
        }
        unsigned done = atomic_fetch_add(&b->shards_done, 1) + 1;
        if (b->d.o.progress)
            fprintf(stderr, "shardy build: shard %u done (%u/%u), %" PRIu64 " rows\n", db, done, b->num_dbs,
                    a->row_count);
    }
    return NULL;
}

static shardy_status run_workers(shardy_builder *b) {
    unsigned n = (unsigned)b->d.o.threads;
    if (n > b->num_dbs) n = b->num_dbs;
    sy_shardwrite_cfg c = {b->d.store, b->d.prefix, b->d.o.shard_prefix, b->d.run_id, b->d.o.db_path_template,
                           b->staging, b->d.o.page_size, b->d.o.batch_size, b->d.o.max_writes_per_second,
                           b->d.o.max_write_bytes_per_second, &b->abort_flag, &b->uploaded_any,
                           b->d.o.shard_retry_max > 0};
    b->wcfg = c;
    pthread_t *th = sy_calloc(n ? n : 1, sizeof *th);
    if (!th) return sy_err(SHARDY_ENOMEM, "out of memory starting %u writer threads", n);
    unsigned started = 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, worker_main, b) != 0) break;
    if (started == 0) worker_main(b); /* could not start threads: do the work here */
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    sy_free(th);
    if (b->err_st) return sy_err(b->err_st, "%s", b->err_msg);
    return SHARDY_OK;
}

/* ---- finish: publish ------------------------------------------------------------------------------- */

static void fail_build(shardy_builder *b, shardy_status st) {
    b->state = B_FAILED;
    sy_driver_fail(&b->d, st, NULL, atomic_load(&b->uploaded_any));
    (void)sy_rmtree(b->staging); /* best effort: staging is scratch */
}

/* CEL direct mode: num_dbs from the ids that received rows (spec cel.md §1.7). */
static shardy_status discover_num_dbs(shardy_builder *b) {
    uint32_t *ids = sy_calloc(b->num_dbs ? b->num_dbs : 1, sizeof *ids), n = 0, num = 0;
    if (!ids) return sy_err(SHARDY_ENOMEM, "out of memory discovering num_dbs");
    for (uint32_t i = 0; i < b->num_dbs; i++)
        if (b->bufs[i].rows_total) ids[n++] = i;
    shardy_status st = sy_cel_discover_num_dbs(ids, n, &num);
    sy_free(ids);
    if (st) return st;
    if (num > b->num_dbs && (st = ensure_db(b, num - 1)) != SHARDY_OK) return st;
    b->num_dbs = num;
    return SHARDY_OK;
}

shardy_status shardy_builder_finish(shardy_builder *b, shardy_build_result **out) {
    shardy_status st = check_handle(b, "shardy_builder_finish");
    uint64_t dups = 0;
    if (st) return st;
    if (!out) return sy_err(SHARDY_EINVAL, "shardy_builder_finish: NULL result pointer");
    *out = NULL;
    if (sy_driver_direct(&b->d)) SY_TRY(discover_num_dbs(b));
    int64_t t_write = sy_mono_ns();
    SY_TRY(run_workers(b));
    for (uint32_t i = 0; i < b->num_dbs; i++) dups += b->attempt_dups[i];
    int64_t write_ms = (sy_mono_ns() - t_write) / 1000000;
    SY_TRY(sy_driver_publish(&b->d, b->attempts, b->num_dbs, b->num_dbs, write_ms, dups, NULL, out));
    b->state = B_FINISHED;
    (void)sy_rmtree(b->staging); /* best effort: staging is scratch */
done:
    if (st) fail_build(b, st);
    return st;
}

void shardy_builder_close(shardy_builder **pb) {
    shardy_builder *b = pb ? *pb : NULL;
    if (!b || b->magic != BUILDER_MAGIC) return;
    if (b->state == B_OPEN) {
        sy_err(SHARDY_ECLOSED, "builder closed before finish");
        fail_build(b, SHARDY_ECLOSED);
    } else if (b->state == B_FAILED) {
        sy_driver_discard(&b->d, atomic_load(&b->uploaded_any));
        if (b->staging) (void)sy_rmtree(b->staging); /* best effort: staging is scratch */
    }
    if (b->bufs)
        for (uint32_t i = 0; i < b->cap_dbs; i++) sy_rowbuf_free(&b->bufs[i]);
    if (b->attempts)
        for (uint32_t i = 0; i < b->cap_dbs; i++) sy_attempt_clear(&b->attempts[i]);
    sy_driver_close(&b->d);
    sy_free(b->bufs);
    sy_free(b->attempts);
    sy_free(b->attempt_dups);
    sy_free(b->staging);
    pthread_mutex_destroy(&b->err_mu);
    b->magic = 0;
    sy_free(b);
    *pb = NULL;
}
