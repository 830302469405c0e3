/* shardwrite.c — writing one shard attempt from its row buffer; see shardwrite.h. */
#include "write/shardwrite.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/localfs.h"
#include "core/timeutil.h"
#include "route/key.h"
#include "shard/shard.h"
#include "snapshot/layout.h"
#include "write/ratelimit.h"

shardy_status sy_shard_row_encode(shardy_key_encoding enc, const shardy_key *key, size_t value_len,
                                  unsigned char scratch[8], const void **kp, size_t *kn) {
    shardy_status st = sy_key_encoded(enc, SHARDY_ENCODE_WRITE, key, scratch, kp, kn);
    if (st) return st;
    if (*kn > SY_MAX_KEY_BYTES)
        return sy_err(SHARDY_ERANGE, "key of %zu bytes is larger than the limit of %u bytes", *kn, SY_MAX_KEY_BYTES);
    if (value_len > SY_MAX_VALUE_BYTES)
        return sy_err(SHARDY_ERANGE, "value of %zu bytes is larger than the limit of %u bytes", value_len,
                      SY_MAX_VALUE_BYTES);
    return SHARDY_OK;
}

shardy_status sy_shard_rows_add(sy_rowbuf *rb, shardy_key_encoding enc, const shardy_key *key, const void *value,
                                size_t value_len, uint64_t seq) {
    unsigned char scratch[8];
    const void *kp;
    size_t kn;
    shardy_status st = sy_shard_row_encode(enc, key, value_len, scratch, &kp, &kn);
    if (st) return st;
    return sy_rowbuf_add(rb, kp, (uint32_t)kn, value, (uint32_t)value_len, seq);
}

shardy_status sy_shard_rows_spill(sy_rowbuf *rb, const char *staging, uint32_t db_id, unsigned n) {
    if (rb->n == 0) return SHARDY_OK;
    char path[4200];
    snprintf(path, sizeof path, "%s/spill-db%05u-%u.run", staging, db_id, n);
    return sy_rowbuf_spill(rb, path);
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

/* Merges rb into the open writer w, tracking the key range in a. */
static shardy_status put_rows(const sy_shardwrite_cfg *c, sy_rowbuf *rb, sy_shard_writer *w, sy_attempt *a,
                              uint64_t *dups) {
    shardy_status st = SHARDY_OK;
    sy_rowmerge *m = NULL;
    size_t min_cap = 0, max_cap = 0;
    SY_TRY(sy_rowmerge_open(rb, &m));
    sy_bucket ops, bytes;
    sy_bucket_init(&ops, c->max_writes_per_second);
    sy_bucket_init(&bytes, c->max_write_bytes_per_second);
    size_t in_batch = 0;
    uint64_t batch_bytes = 0;
    const void *k, *v;
    size_t kl, vl;
    int rc, first = 1;
    while ((rc = sy_rowmerge_next(m, &k, &kl, &v, &vl, &st)) == 1) {
        if (in_batch == 0 && (ops.rate > 0 || bytes.rate > 0)) {
            /* Limits are charged per batch before it is written (spec §5.12 batch flush). */
            sy_bucket_acquire(&ops, (double)c->batch_size);
            sy_bucket_acquire(&bytes, (double)batch_bytes);
        }
        SY_TRY(sy_shard_writer_put(w, k, kl, v, vl));
        if (first) {
            SY_TRY(copy_key(k, kl, &a->min_key, &min_cap, &a->min_len));
            first = 0;
        }
        SY_TRY(copy_key(k, kl, &a->max_key, &max_cap, &a->max_len));
        batch_bytes += kl + vl;
        if (++in_batch >= c->batch_size) {
            in_batch = 0;
            batch_bytes = 0;
        }
        if ((in_batch & 0x3FFF) == 0 && c->abort_flag && atomic_load(c->abort_flag)) {
            st = sy_err(SHARDY_EINTERNAL, "shard %u stopped because another shard failed", a->db_id);
            goto done;
        }
    }
    if (rc < 0) goto done;
    if (dups) *dups = sy_rowmerge_duplicates(m);
done:
    sy_rowmerge_close(&m);
    return st;
}

shardy_status sy_shard_write_attempt(const sy_shardwrite_cfg *c, sy_rowbuf *rb, uint32_t db, uint32_t attempt,
                                     sy_attempt *a, uint64_t *dups) {
    shardy_status st = SHARDY_OK;
    sy_shard_writer *w = NULL;
    char *local = NULL, *dir = NULL, *shard_obj = NULL;
    int64_t t0 = sy_mono_ns();
    a->db_id = db;
    a->attempt = attempt;
    a->row_count = rb->rows_total;
    if (dups) *dups = 0;
    if (rb->rows_total == 0) goto done; /* empty shard: no adapter, no objects (spec §5.12) */
    SY_TRY(sy_layout_shard_url(c->prefix, c->shard_prefix, c->run_id, c->db_path_template, db, attempt, &a->db_url));
    dir = sy_asprintf("%s/db=%05u/attempt=%02u", c->staging, db, attempt);
    local = dir ? sy_asprintf("%s/shard.db", dir) : NULL;
    shard_obj = sy_asprintf("%s/shard.db", a->db_url);
    if (!local || !shard_obj) {
        st = sy_err(SHARDY_ENOMEM, "out of memory writing shard %u", db);
        goto done;
    }
    SY_TRY(sy_mkdirs(dir));
    /* file:// fsyncs the finished file into place: let the disk start on it while rows go in */
    sy_shard_writer_opts wo = {c->page_size, 0, 0, c->store->scheme == SY_SCHEME_FILE};
    SY_TRY(sy_shard_writer_open(local, &wo, &w));
    SY_TRY(put_rows(c, rb, w, a, dups));
    SY_TRY(sy_shard_writer_seal(w, &a->db_bytes));
    sy_shard_writer_close(&w);
    SY_TRY(sy_uuid4_hex(a->checkpoint_id)); /* stamped after a successful seal (spec §5.12) */
    if (c->uploaded) atomic_store(c->uploaded, 1);
    st = sy_store_move_file(c->store, shard_obj, local, "application/x-sqlite3");
    if (st) unlink(local);
    rmdir(dir);
done:
    sy_shard_writer_close(&w); /* not sealed → deletes the partial file */
    if (!st || !c->keep_rows_on_failure) sy_rowbuf_free(rb); /* its memory and run files are done with */
    a->duration_ms = (sy_mono_ns() - t0) / 1000000;
    if (st) sy_err_wrap(st, "shard db_id=%u", db);
    sy_free(local);
    sy_free(dir);
    sy_free(shard_obj);
    return st;
}
