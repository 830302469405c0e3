/*
 * builder.c — the native single-host build pipeline behind shardy_builder_* (spec writer §5,
 * DESIGN §3 "Write pipeline").
 *
 * What it owns
 *   Options (copied), the object store, one sy_rowbuf per shard, the local staging directory
 *   <local_dir>/run_id=<run_id>.<random>/ and the run-record lifecycle.
 *
 * Pipeline
 *   add:    route (xxh3 mod num_dbs) → encode key → append to the shard's buffer. When the bytes
 *           buffered exceed memory_limit every shard buffer is sorted and spilled to a run file.
 *   finish: `threads` workers take shards in turn: merge the shard's runs and memory in key order
 *           (last added wins) → SQLite writer (rate limited per batch) → seal → checkpoint id →
 *           upload to <db_url>/shard.db → delete the staging file. Then winners are selected,
 *           the manifest and _CURRENT are published (two phases), non-winning attempts under the
 *           run are swept and the run record is marked succeeded.
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
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "core/localfs.h"
#include "core/timeutil.h"
#include "core/url.h"
#include "route/key.h"
#include "shard/shard.h"
#include "snapshot/layout.h"
#include "snapshot/manifest.h"
#include "snapshot/publish.h"
#include "store/s3.h"
#include "store/store.h"
#include "write/attempt.h"
#include "write/ratelimit.h"
#include "write/rowbuf.h"
#include "write/wcel.h"

#define BUILDER_MAGIC 0x53484255u /* "SHBU" */
enum { B_OPEN = 1, B_FINISHED = 2, B_FAILED = 3 };

struct shardy_build_result {
    char *run_id;
    char *manifest_ref;
    uint64_t rows;
    char *json;
};

struct shardy_builder {
    uint32_t magic;
    int state;
    shardy_build_opts o;  /* strings below are owned copies */
    char *prefix;         /* normalised URL */
    char *run_id;
    char *staging;        /* local staging dir of this run */
    sy_store *store;
    sy_rowbuf *bufs;      /* num_dbs */
    uint32_t cap_dbs;     /* allocated entries of bufs/attempts/attempt_dups (CEL direct mode grows) */
    sy_wcel *cel;         /* CEL routing, NULL = HASH */
    uint64_t seq;
    uint64_t mem_bytes;   /* sum of buffer memory */
    unsigned spills;
    int64_t started_ns;
    int64_t last_progress_ns;
    sy_run_lifecycle lc;
    int have_lc;
    atomic_int uploaded_any; /* set by writer threads before their first upload */
    int published_manifest;
    int discarded; /* discard_uploads ran */

    /* finish-time shared state */
    atomic_uint next_shard;
    atomic_uint shards_done;
    atomic_int abort_flag;
    pthread_mutex_t err_mu;
    shardy_status err_st;
    char err_msg[SY_ERRMSG_MAX];
    sy_attempt *attempts; /* num_dbs, one per shard (the native writer makes attempt 0 only) */
    uint64_t *attempt_dups; /* num_dbs: superseded duplicate rows per shard */
    uint64_t dup_rows;
};

/* ---- options ----------------------------------------------------------------------------------- */

void shardy_build_opts_init(shardy_build_opts *o) {
    memset(o, 0, sizeof *o);
    o->key_encoding = SHARDY_KEYENC_U64BE;
    o->batch_size = 50000;
    o->memory_limit = (uint64_t)1 << 30;
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

static void free_opts(shardy_build_opts *o) {
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

static shardy_status copy_opts(const shardy_build_opts *in, shardy_build_opts *o) {
    shardy_status st;
    *o = *in;
    o->prefix = o->key_col = o->run_id = o->shard_prefix = o->db_path_template = NULL;
    o->run_registry_prefix = o->local_dir = o->custom_json = o->writer_type = NULL;
    o->s3_options = NULL; /* S3 settings are borrowed: used once, by shardy_builder_open */
    o->n_s3_options = 0;
    o->credentials_file = o->credentials_profile = NULL;
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

static shardy_status validate_opts(const shardy_build_opts *o) {
    shardy_status st = SHARDY_OK;
    if (!o->prefix || !*o->prefix) return sy_err(SHARDY_EINVAL, "build option prefix is required");
    if (o->num_dbs == 0 && !o->cel_expr) return sy_err(SHARDY_EINVAL, "num_dbs must be greater than 0");
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

/* ---- open / add ----------------------------------------------------------------------------------- */

shardy_status shardy_builder_open(const shardy_build_opts *opts, shardy_builder **out) {
    shardy_status st;
    char uuid[33], rnd[33];
    if (!opts || !out) return sy_err(SHARDY_EINVAL, "shardy_builder_open: NULL argument");
    *out = NULL;
    shardy_builder *b = sy_calloc(1, sizeof *b);
    if (!b) return sy_err(SHARDY_ENOMEM, "out of memory creating a builder");
    b->magic = BUILDER_MAGIC;
    b->state = B_OPEN;
    pthread_mutex_init(&b->err_mu, NULL);
    SY_TRY(copy_opts(opts, &b->o));
    SY_TRY(validate_opts(&b->o));
    SY_TRY(sy_url_normalize(b->o.prefix, &b->prefix));
    SY_TRY(sy_layout_check_prefix("prefix", b->prefix));
    if (b->o.run_id) {
        b->run_id = sy_strdup(b->o.run_id);
    } else {
        SY_TRY(sy_uuid4_hex(uuid));
        b->run_id = sy_strdup(uuid);
    }
    SY_TRY(sy_uuid4_hex(rnd));
    SY_TRY(sy_wcel_open(&b->o, &b->cel));
    b->o.cel_expr = NULL; /* borrowed from the caller: only b->cel is used from here on */
    b->o.cel_columns = b->o.routing_values = NULL;
    if (b->cel) b->o.num_dbs = sy_wcel_fixed_num_dbs(b->cel); /* 0 in direct mode: discovered */
    b->cap_dbs = b->o.num_dbs ? b->o.num_dbs : 16;
    b->staging = sy_asprintf("%s/run_id=%s.%.8s", b->o.local_dir, b->run_id ? b->run_id : "", rnd);
    b->bufs = sy_calloc(b->cap_dbs, sizeof *b->bufs);
    b->attempts = sy_calloc(b->cap_dbs, sizeof *b->attempts);
    b->attempt_dups = sy_calloc(b->cap_dbs, sizeof *b->attempt_dups);
    if (!b->run_id || !b->staging || !b->bufs || !b->attempts || !b->attempt_dups) {
        st = sy_err(SHARDY_ENOMEM, "out of memory creating a builder for %u shards", b->o.num_dbs);
        goto done;
    }
    for (uint32_t i = 0; i < b->cap_dbs; i++) sy_rowbuf_init(&b->bufs[i]);
    SY_TRY(sy_mkdirs(b->staging));
    SY_TRY(sy_store_open_cfg(b->prefix, opts->s3_options, opts->n_s3_options, opts->credentials_file,
                             opts->credentials_profile, &b->store));
    if (sy_run_lifecycle_start(&b->lc, b->store, b->prefix, b->o.run_registry_prefix, b->run_id, b->o.writer_type,
                               b->o.shard_prefix, b->o.db_path_template, b->o.heartbeat_seconds) == SHARDY_OK)
        b->have_lc = 1;
    else
        sy_run_lifecycle_free(&b->lc); /* the build continues without a run record (spec §1.5) */
    b->started_ns = b->last_progress_ns = sy_mono_ns();
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
    if (!b) return sy_err(SHARDY_EINVAL, "%s: NULL builder", fn);
    if (b->magic != BUILDER_MAGIC) return sy_err(SHARDY_ECLOSED, "%s: builder is closed", fn);
    if (b->state != B_OPEN)
        return sy_err(SHARDY_ECLOSED, "%s: builder already %s", fn, b->state == B_FINISHED ? "finished" : "failed");
    return SHARDY_OK;
}

static shardy_status spill_all(shardy_builder *b) {
    shardy_status st = SHARDY_OK;
    for (uint32_t i = 0; i < b->o.num_dbs && !st; i++) {
        if (b->bufs[i].n == 0) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/spill-db%05u-%u.run", b->staging, i, b->spills);
        st = sy_rowbuf_spill(&b->bufs[i], path);
    }
    b->spills++;
    b->mem_bytes = 0;
    for (uint32_t i = 0; i < b->o.num_dbs; i++) b->mem_bytes += b->bufs[i].mem_bytes;
    return st;
}

static void progress_add(shardy_builder *b) {
    int64_t now = sy_mono_ns();
    if (now - b->last_progress_ns < 1000000000LL) return;
    b->last_progress_ns = now;
    double secs = (double)(now - b->started_ns) / 1e9;
    fprintf(stderr, "shardy build: %" PRIu64 " rows read (%.0f rows/s)\n", b->seq, secs > 0 ? (double)b->seq / secs : 0.0);
}

shardy_status shardy_builder_add_routed(shardy_builder *b, uint32_t db_id, const shardy_key *key, const void *value,
                                        size_t value_len) {
    unsigned char scratch[8];
    const void *kp;
    size_t kn;
    shardy_status st = check_handle(b, "shardy_builder_add");
    if (st) return st;
    if (!key || (!value && value_len)) return sy_err(SHARDY_EINVAL, "shardy_builder_add: NULL key or value");
    if (db_id >= b->o.num_dbs) return sy_err(SHARDY_EROUTE, "db_id %u out of range [0, %u)", db_id, b->o.num_dbs);
    st = sy_key_encoded(b->o.key_encoding, SHARDY_ENCODE_WRITE, key, scratch, &kp, &kn);
    if (st) return st;
    if (kn > SY_MAX_KEY_BYTES)
        return sy_err(SHARDY_ERANGE, "key of %zu bytes is larger than the limit of %u bytes", kn, SY_MAX_KEY_BYTES);
    if (value_len > SY_MAX_VALUE_BYTES)
        return sy_err(SHARDY_ERANGE, "value of %zu bytes is larger than the limit of %u bytes", value_len,
                      SY_MAX_VALUE_BYTES);
    sy_rowbuf *rb = &b->bufs[db_id];
    uint64_t before = rb->mem_bytes;
    st = sy_rowbuf_add(rb, kp, (uint32_t)kn, value, (uint32_t)value_len, ++b->seq);
    if (st) return st;
    b->mem_bytes += rb->mem_bytes - before;
    if (b->mem_bytes > b->o.memory_limit) {
        st = spill_all(b);
        if (st) {
            b->state = B_FAILED;
            return sy_err_wrap(st, "spilling buffered rows to %s", b->staging);
        }
    }
    if (b->o.progress && (b->seq & 0xFFFF) == 0) progress_add(b);
    return SHARDY_OK;
}

/* CEL direct mode: makes db_id a valid shard, growing the per-shard arrays (ids < 1,000,000). */
static shardy_status ensure_db(shardy_builder *b, uint32_t db) {
    if (db < b->o.num_dbs) return SHARDY_OK;
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
    b->o.num_dbs = db + 1;
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
    if (!b->cel) return sy_err(SHARDY_EINVAL, "shardy_builder_add_cel: the builder has no cel_expr");
    if (!key) return sy_err(SHARDY_EINVAL, "shardy_builder_add_cel: NULL key");
    st = sy_wcel_route_args(b->cel, key, args, nargs, &db);
    return add_cel_routed(b, st, db, key, value, value_len);
}

shardy_status sy_builder_add_cel_values(shardy_builder *b, const shardy_key *key, const void *value, size_t value_len) {
    uint32_t db = 0;
    shardy_status st = check_handle(b, "shardy_builder_add_cel");
    if (st) return st;
    st = sy_wcel_route(b->cel, key, &db);
    return add_cel_routed(b, st, db, key, value, value_len);
}

sy_wcel *sy_builder_cel(shardy_builder *b) { return b && b->magic == BUILDER_MAGIC ? b->cel : NULL; }

shardy_status shardy_builder_add(shardy_builder *b, const shardy_key *key, const void *value, size_t value_len) {
    uint64_t db;
    shardy_status st = check_handle(b, "shardy_builder_add");
    if (st) return st;
    if (!key) return sy_err(SHARDY_EINVAL, "shardy_builder_add: NULL key");
    if (b->cel) return shardy_builder_add_cel(b, key, NULL, 0, value, value_len);
    st = shardy_route_hash(key, b->o.num_dbs, &db, NULL);
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

/* The raw key an encoded key came from (min/max keys for the manifest, spec formats §3.6.1):
 * u64be/u32be decode to integers; utf8/raw bytes are reported as text (the §3.6.1 rule then
 * writes a JSON string for valid UTF-8 and NULL otherwise). */
static shardy_key decode_key(shardy_key_encoding enc, const unsigned char *k, size_t n) {
    if (enc == SHARDY_KEYENC_U64BE || enc == SHARDY_KEYENC_U32BE) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) v = v << 8 | k[i];
        return v > (uint64_t)INT64_MAX ? shardy_key_uint(v) : shardy_key_int((int64_t)v);
    }
    return shardy_key_str((const char *)k, n);
}

static shardy_status copy_key(const void *k, size_t n, unsigned char **dst, size_t *cap, size_t *len) {
    if (n > *cap || !*dst) {
        unsigned char *nk = sy_realloc(*dst, n + 16);
        if (!nk) return sy_err(SHARDY_ENOMEM, "out of memory copying a key");
        *dst = nk;
        *cap = n + 16;
    }
    if (n) memcpy(*dst, k, n);
    *len = n;
    return SHARDY_OK;
}

static shardy_status write_one_shard(shardy_builder *b, uint32_t db) {
    shardy_status st = SHARDY_OK;
    sy_attempt *a = &b->attempts[db];
    sy_rowbuf *rb = &b->bufs[db];
    sy_shard_writer *w = NULL;
    sy_rowmerge *m = NULL;
    char *local = NULL, *dir = NULL, *shard_obj = NULL;
    size_t min_cap = 0, max_cap = 0;
    int64_t t0 = sy_mono_ns();
    a->db_id = db;
    a->attempt = 0;
    a->stage_id = a->task_attempt_id = SY_NO_ID;
    a->row_count = rb->rows_total;
    if (rb->rows_total == 0) goto done; /* empty shard: no adapter, no objects (spec §5.12) */
    SY_TRY(sy_layout_shard_url(b->prefix, b->o.shard_prefix, b->run_id, b->o.db_path_template, db, 0, &a->db_url));
    dir = sy_asprintf("%s/db=%05u/attempt=00", b->staging, db);
    local = dir ? sy_asprintf("%s/shard.db", dir) : NULL;
    shard_obj = sy_asprintf("%s/shard.db", a->db_url);
    if (!local || !shard_obj) {
        st = sy_err(SHARDY_ENOMEM, "out of memory writing shard %u", db);
        goto done;
    }
    SY_TRY(sy_mkdirs(dir));
    sy_shard_writer_opts wo = {b->o.page_size, 0};
    SY_TRY(sy_shard_writer_open(local, &wo, &w));
    SY_TRY(sy_rowmerge_open(rb, &m));
    sy_bucket ops, bytes;
    sy_bucket_init(&ops, b->o.max_writes_per_second);
    sy_bucket_init(&bytes, b->o.max_write_bytes_per_second);
    size_t in_batch = 0;
    uint64_t batch_bytes = 0;
    const void *k, *v;
    size_t kl, vl;
    int rc, first = 1;
    while ((rc = sy_rowmerge_next(m, &k, &kl, &v, &vl, &st)) == 1) {
        if (in_batch == 0 && (ops.rate > 0 || bytes.rate > 0)) {
            /* Limits are charged per batch before it is written (spec §5.12 batch flush). */
            sy_bucket_acquire(&ops, (double)b->o.batch_size);
            sy_bucket_acquire(&bytes, (double)batch_bytes);
        }
        SY_TRY(sy_shard_writer_put(w, k, kl, v, vl));
        if (first) {
            SY_TRY(copy_key(k, kl, &a->min_key, &min_cap, &a->min_len));
            first = 0;
        }
        SY_TRY(copy_key(k, kl, &a->max_key, &max_cap, &a->max_len));
        batch_bytes += kl + vl;
        if (++in_batch >= b->o.batch_size) {
            in_batch = 0;
            batch_bytes = 0;
        }
        if ((in_batch & 0x3FFF) == 0 && atomic_load(&b->abort_flag)) {
            st = sy_err(SHARDY_EINTERNAL, "shard %u stopped because another shard failed", db);
            goto done;
        }
    }
    if (rc < 0) goto done;
    b->attempt_dups[db] = sy_rowmerge_duplicates(m);
    sy_rowmerge_close(&m);
    SY_TRY(sy_shard_writer_seal(w, &a->db_bytes));
    sy_shard_writer_close(&w);
    SY_TRY(sy_uuid4_hex(a->checkpoint_id)); /* stamped after a successful seal (spec §5.12) */
    atomic_store(&b->uploaded_any, 1);
    SY_TRY(sy_store_put_file(b->store, shard_obj, local, "application/x-sqlite3"));
    unlink(local);
    rmdir(dir);
done:
    sy_rowmerge_close(&m);
    sy_shard_writer_close(&w); /* not sealed → deletes the partial file */
    sy_rowbuf_free(rb);        /* memory and run files of this shard are no longer needed */
    a->duration_ms = (sy_mono_ns() - t0) / 1000000;
    if (st) sy_err_wrap(st, "shard db_id=%u", db);
    sy_free(local);
    sy_free(dir);
    sy_free(shard_obj);
    return st;
}

static void *worker_main(void *arg) {
    shardy_builder *b = arg;
    for (;;) {
        if (atomic_load(&b->abort_flag)) break;
        unsigned db = atomic_fetch_add(&b->next_shard, 1);
        if (db >= b->o.num_dbs) break;
        shardy_status st = write_one_shard(b, db);
        if (st) {
            record_error(b, st);
            break;
        }
        unsigned done = atomic_fetch_add(&b->shards_done, 1) + 1;
        if (b->o.progress)
            fprintf(stderr, "shardy build: shard %u done (%u/%u), %" PRIu64 " rows\n", db, done, b->o.num_dbs,
                    b->attempts[db].row_count);
    }
    return NULL;
}

static shardy_status run_workers(shardy_builder *b) {
    unsigned n = (unsigned)b->o.threads;
    if (n > b->o.num_dbs) n = b->o.num_dbs;
    pthread_t *th = sy_calloc(n, sizeof *th);
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

/* ---- finish: manifest, publish, result ------------------------------------------------------------ */

static shardy_status build_manifest(shardy_builder *b, const sy_attempt **winners, sy_manifest **out) {
    shardy_status st = SHARDY_OK;
    json_object *custom = NULL;
    sy_manifest *m = sy_manifest_new();
    if (!m) return sy_err(SHARDY_ENOMEM, "out of memory building the manifest");
    m->run_id = sy_strdup(b->run_id);
    m->s3_prefix = sy_strdup(b->prefix); /* normalised: a bare path is recorded as its file:// URL */
    m->key_col = sy_strdup(b->o.key_col);
    m->db_path_template = sy_strdup(b->o.db_path_template);
    m->shard_prefix = sy_strdup(b->o.shard_prefix);
    m->num_dbs = b->o.num_dbs;
    m->key_encoding = b->o.key_encoding;
    if (!m->run_id || !m->s3_prefix || !m->key_col || !m->db_path_template || !m->shard_prefix) {
        st = sy_err(SHARDY_ENOMEM, "out of memory building the manifest");
        goto done;
    }
    if (b->o.custom_json) {
        SY_TRY(sy_json_parse(b->o.custom_json, strlen(b->o.custom_json), "custom manifest fields", &custom));
        json_object_put(m->custom);
        m->custom = custom;
        custom = NULL;
    }
    if (b->cel) SY_TRY(sy_wcel_sharding(b->cel, &m->sharding));
    /* Readers pick the shard backend from here (DESIGN §3). */
    json_object_object_add(m->custom, "shard_format", json_object_new_string("sqlite"));
    for (uint32_t i = 0; i < b->o.num_dbs; i++) {
        const sy_attempt *a = winners[i];
        if (!a) continue;
        sy_shard *sh;
        SY_TRY(sy_manifest_add_shard(m, &sh));
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
        if (!sh->db_url) {
            st = sy_err(SHARDY_ENOMEM, "out of memory building the manifest");
            goto done;
        }
        if (a->min_key && a->max_key) {
            shardy_key lo = decode_key(b->o.key_encoding, a->min_key, a->min_len);
            shardy_key hi = decode_key(b->o.key_encoding, a->max_key, a->max_len);
            SY_TRY(sy_shard_set_key_range(sh, &lo, &hi));
        }
    }
done:
    json_object_put(custom);
    if (st) {
        sy_manifest_free(&m);
        return st;
    }
    *out = m;
    return SHARDY_OK;
}

static shardy_status make_result(shardy_builder *b, const char *ref, const sy_attempt **winners, int64_t write_ms,
                                 int64_t publish_ms, size_t swept, shardy_build_result **out) {
    shardy_status st = SHARDY_OK;
    uint64_t rows = 0, dups = 0, bytes = 0, nonempty = 0;
    json_object *r = json_object_new_object(), *shards = json_object_new_array();
    for (uint32_t i = 0; i < b->o.num_dbs; i++) {
        const sy_attempt *a = &b->attempts[i];
        rows += a->row_count;
        if (!winners[i]) continue;
        nonempty++;
        bytes += a->db_bytes;
        json_object *s = json_object_new_object();
        json_object_object_add(s, "db_id", json_object_new_int64(a->db_id));
        json_object_object_add(s, "row_count", json_object_new_uint64(a->row_count));
        json_object_object_add(s, "db_bytes", json_object_new_uint64(a->db_bytes));
        json_object_object_add(s, "duration_ms", json_object_new_int64(a->duration_ms));
        json_object_object_add(s, "db_url", json_object_new_string(a->db_url));
        json_object_array_add(shards, s);
    }
    dups = b->dup_rows;
    json_object *d = json_object_new_object();
    int64_t total_ms = (sy_mono_ns() - b->started_ns) / 1000000;
    json_object_object_add(d, "sharding_ms", json_object_new_int64(0));
    json_object_object_add(d, "write_ms", json_object_new_int64(write_ms));
    json_object_object_add(d, "manifest_ms", json_object_new_int64(publish_ms));
    json_object_object_add(d, "total_ms", json_object_new_int64(total_ms));
    json_object_object_add(r, "run_id", json_object_new_string(b->run_id));
    json_object_object_add(r, "manifest_ref", json_object_new_string(ref));
    json_object_object_add(r, "num_dbs", json_object_new_int64(b->o.num_dbs));
    json_object_object_add(r, "rows_written", json_object_new_uint64(rows));
    json_object_object_add(r, "duplicates", json_object_new_uint64(dups));
    json_object_object_add(r, "distinct_keys", json_object_new_uint64(rows - dups));
    json_object_object_add(r, "num_winners", json_object_new_uint64(nonempty));
    json_object_object_add(r, "bytes_written", json_object_new_uint64(bytes));
    json_object_object_add(r, "losers_deleted", json_object_new_uint64(swept));
    json_object_object_add(r, "durations_ms", d);
    json_object_object_add(r, "rows_per_second",
                           json_object_new_double(total_ms > 0 ? (double)rows * 1000.0 / (double)total_ms : 0.0));
    json_object_object_add(r, "shards", shards);
    sy_buf text = SY_BUF_INIT;
    shardy_build_result *res = sy_calloc(1, sizeof *res);
    if (!res) {
        st = sy_err(SHARDY_ENOMEM, "out of memory building the result");
        goto done;
    }
    SY_TRY(sy_json_dump(r, SY_JSON_NO_SORT | SY_JSON_RAW_UTF8, &text));
    res->json = sy_buf_take(&text);
    res->run_id = sy_strdup(b->run_id);
    res->manifest_ref = sy_strdup(ref);
    res->rows = rows;
    if (!res->run_id || !res->manifest_ref) st = sy_err(SHARDY_ENOMEM, "out of memory building the result");
done:
    json_object_put(r);
    sy_buf_free(&text);
    if (st) {
        shardy_build_result_free(&res);
        return st;
    }
    *out = res;
    return SHARDY_OK;
}

static const char *status_type(shardy_status st) {
    switch (st) {
    case SHARDY_EINVAL: return "ConfigValidationError";
    case SHARDY_EROUTE: return "ShardAssignmentError";
    default: return "ShardWriteError";
    }
}

/* Removes what this run uploaded (nothing references it) and aborts its unfinished uploads (an
 * s3 multipart upload whose abort failed, or one created by a request whose answer was lost). */
static void discard_uploads(shardy_builder *b) {
    if (!b->store || !b->run_id || b->discarded) return;
    b->discarded = 1;
    char *seg = sy_asprintf("run_id=%s", b->run_id);
    const char *parts[] = {b->o.shard_prefix, seg};
    char *dir = seg ? sy_url_join(b->prefix, parts, 2) : NULL;
    char *with_slash = dir ? sy_asprintf("%s/", dir) : NULL;
    if (with_slash && atomic_load(&b->uploaded_any) && !b->published_manifest &&
        sy_store_delete_prefix(b->store, with_slash, NULL) != SHARDY_OK) {
        /* best effort; `cleanup` handles leftovers */
    }
    if (with_slash && sy_store_abort_uploads(b->store, with_slash, NULL) != SHARDY_OK) {
        /* best effort, as above */
    }
    sy_free(with_slash);
    sy_free(dir);
    sy_free(seg);
}

static void fail_build(shardy_builder *b, shardy_status st) {
    char msg[SY_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    b->state = B_FAILED;
    discard_uploads(b);
    if (b->have_lc) sy_run_lifecycle_finish(&b->lc, SY_RUN_FAILED, status_type(st), msg);
    (void)sy_rmtree(b->staging); /* best effort: staging is scratch */
    sy_err(st, "%s", msg); /* keep the original message for the caller */
}

/* CEL direct mode: num_dbs from the ids that received rows (spec cel.md §1.7). */
static shardy_status discover_num_dbs(shardy_builder *b) {
    uint32_t *ids = sy_calloc(b->o.num_dbs ? b->o.num_dbs : 1, sizeof *ids), n = 0, num = 0;
    if (!ids) return sy_err(SHARDY_ENOMEM, "out of memory discovering num_dbs");
    for (uint32_t i = 0; i < b->o.num_dbs; i++)
        if (b->bufs[i].rows_total) ids[n++] = i;
    shardy_status st = sy_cel_discover_num_dbs(ids, n, &num);
    sy_free(ids);
    if (st) return st;
    if (num > b->o.num_dbs && (st = ensure_db(b, num - 1)) != SHARDY_OK) return st;
    b->o.num_dbs = num;
    return SHARDY_OK;
}

shardy_status shardy_builder_finish(shardy_builder *b, shardy_build_result **out) {
    shardy_status st = check_handle(b, "shardy_builder_finish");
    const sy_attempt **winners = NULL;
    const char **winner_urls = NULL;
    sy_manifest *m = NULL;
    char *ref = NULL;
    size_t nwin = 0, swept = 0;
    int phase = 0;
    if (st) return st;
    if (!out) return sy_err(SHARDY_EINVAL, "shardy_builder_finish: NULL result pointer");
    *out = NULL;
    if (b->cel && sy_cel_router_mode(sy_wcel_router(b->cel)) == SY_CEL_DIRECT) SY_TRY(discover_num_dbs(b));
    int64_t t_write = sy_mono_ns();
    SY_TRY(run_workers(b));
    for (uint32_t i = 0; i < b->o.num_dbs; i++) b->dup_rows += b->attempt_dups[i];
    int64_t write_ms = (sy_mono_ns() - t_write) / 1000000;
    winners = sy_calloc(b->o.num_dbs, sizeof *winners);
    winner_urls = sy_calloc(b->o.num_dbs, sizeof *winner_urls);
    if (!winners || !winner_urls) {
        st = sy_err(SHARDY_ENOMEM, "out of memory selecting winners");
        goto done;
    }
    SY_TRY(sy_select_winners(b->attempts, b->o.num_dbs, b->o.num_dbs, winners));
    for (uint32_t i = 0; i < b->o.num_dbs; i++)
        if (winners[i]) winner_urls[nwin++] = winners[i]->db_url;
    SY_TRY(build_manifest(b, winners, &m));
    int64_t t_pub = sy_mono_ns();
    st = sy_publish(b->store, b->prefix, m, &ref, &phase);
    if (ref) b->published_manifest = 1;
    if (st) goto done;
    int64_t publish_ms = (sy_mono_ns() - t_pub) / 1000000;
    if (b->have_lc) sy_run_lifecycle_set_manifest_ref(&b->lc, ref);
    if (sy_sweep_losers(b->store, b->prefix, b->o.shard_prefix, b->run_id, winner_urls, nwin, &swept, NULL)) {
        /* best effort (spec §5.19) */
    }
    SY_TRY(make_result(b, ref, winners, write_ms, publish_ms, swept, out));
    if (b->have_lc) sy_run_lifecycle_finish(&b->lc, SY_RUN_SUCCEEDED, NULL, NULL);
    b->state = B_FINISHED;
    (void)sy_rmtree(b->staging); /* best effort: staging is scratch */
done:
    if (st) {
        if (phase == SY_PUBLISH_CURRENT)
            sy_err_wrap(st, "manifest %s was published but _CURRENT was not updated", ref ? ref : "?");
        fail_build(b, st);
    }
    sy_manifest_free(&m);
    sy_free(ref);
    sy_free(winners);
    sy_free(winner_urls);
    return st;
}

void shardy_builder_close(shardy_builder **pb) {
    shardy_builder *b = pb ? *pb : NULL;
    if (!b || b->magic != BUILDER_MAGIC) return;
    if (b->state == B_OPEN) {
        sy_err(SHARDY_ECLOSED, "builder closed before finish");
        fail_build(b, SHARDY_ECLOSED);
    } else if (b->state == B_FAILED) {
        discard_uploads(b);
        (void)sy_rmtree(b->staging); /* best effort: staging is scratch */
    }
    if (b->have_lc) sy_run_lifecycle_free(&b->lc);
    if (b->bufs)
        for (uint32_t i = 0; i < b->cap_dbs; i++) sy_rowbuf_free(&b->bufs[i]);
    if (b->attempts)
        for (uint32_t i = 0; i < b->cap_dbs; i++) sy_attempt_clear(&b->attempts[i]);
    sy_wcel_free(&b->cel);
    sy_free(b->bufs);
    sy_free(b->attempts);
    sy_free(b->attempt_dups);
    sy_store_close(&b->store);
    sy_free(b->prefix);
    sy_free(b->run_id);
    sy_free(b->staging);
    free_opts(&b->o);
    pthread_mutex_destroy(&b->err_mu);
    b->magic = 0;
    sy_free(b);
    *pb = NULL;
}

/* ---- result ------------------------------------------------------------------------------------------- */

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
