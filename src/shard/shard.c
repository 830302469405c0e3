/* shard.c — backend-neutral shard writer/reader: argument and state checks, counters, get_copy,
 * dispatch through sy_shard_ops; see shard.h. Owns no storage itself. */
#include "shard/shard.h"

#include <string.h>

static const char empty_bytes[1] = {0};

const sy_shard_ops *sy_shard_ops_by_name(const char *name) {
    if (name && strcmp(name, sy_shard_sqlite_ops.name) == 0) return &sy_shard_sqlite_ops;
    return NULL;
}

const char *sy_shard_ops_name(const sy_shard_ops *ops) { return ops ? ops->name : NULL; }

/* ---- writer --------------------------------------------------------------------------------- */

shardy_status sy_shard_writer_open(const char *local_path, const sy_shard_writer_opts *o,
                                   sy_shard_writer **out) {
    return sy_shard_writer_open_with(NULL, local_path, o, out);
}

shardy_status sy_shard_writer_open_with(const sy_shard_ops *ops, const char *local_path,
                                        const sy_shard_writer_opts *o, sy_shard_writer **out) {
    static const sy_shard_writer_opts defaults = {0, 0, 0, 0};
    if (!out) return sy_err(SHARDY_EINVAL, "shard writer: no output handle");
    *out = NULL;
    if (!local_path || !*local_path) return sy_err(SHARDY_EINVAL, "shard writer: empty local path");
    if (!ops) ops = &sy_shard_sqlite_ops;
    return ops->writer_open(local_path, o ? o : &defaults, out);
}

/* Common state check for put/put_batch/seal. */
static shardy_status writer_usable(const sy_shard_writer *w, const char *op) {
    if (!w || w->magic != SY_SHARD_WRITER_MAGIC)
        return sy_err(SHARDY_ECLOSED, "shard writer: %s on a closed writer", op);
    switch (w->state) {
    case SY_SHARD_W_OPEN: return SHARDY_OK;
    case SY_SHARD_W_SEALED:
        return sy_err(SHARDY_ECLOSED, "shard %s: %s after seal (the shard is final)", w->path, op);
    default:
        return sy_err(SHARDY_ECLOSED, "shard %s: %s after an earlier failure (close it and retry the shard)",
                      w->path, op);
    }
}

shardy_status sy_shard_writer_put(sy_shard_writer *w, const void *k, size_t klen, const void *v,
                                  size_t vlen) {
    shardy_status st = writer_usable(w, "put");
    if (st != SHARDY_OK) return st;
    if ((!k && klen) || (!v && vlen))
        return sy_err(SHARDY_EINVAL, "shard %s: put with a NULL %s of length %zu", w->path, k ? "value" : "key",
                      k ? vlen : klen);
    st = w->ops->writer_put(w, k ? k : empty_bytes, klen, v ? v : empty_bytes, vlen);
    if (st != SHARDY_OK) {
        w->state = SY_SHARD_W_FAILED;
        return st;
    }
    w->stats.rows_put++;
    w->stats.bytes_put += (uint64_t)klen + vlen;
    return SHARDY_OK;
}

shardy_status sy_shard_writer_put_batch(sy_shard_writer *w, const sy_kv *rows, size_t n) {
    shardy_status st = writer_usable(w, "put_batch");
    if (st != SHARDY_OK) return st;
    if (n == 0) return SHARDY_OK;
    if (!rows) return sy_err(SHARDY_EINVAL, "shard %s: put_batch of %zu rows with no row array", w->path, n);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if ((!rows[i].k && rows[i].klen) || (!rows[i].v && rows[i].vlen))
            return sy_err(SHARDY_EINVAL, "shard %s: put_batch row %zu has a NULL %s with a non-zero length",
                          w->path, i, rows[i].k || !rows[i].klen ? "value" : "key");
        bytes += (uint64_t)rows[i].klen + rows[i].vlen;
    }
    st = w->ops->writer_put_batch(w, rows, n);
    if (st != SHARDY_OK) {
        w->state = SY_SHARD_W_FAILED;
        return st;
    }
    w->stats.rows_put += n;
    w->stats.bytes_put += bytes;
    return SHARDY_OK;
}

shardy_status sy_shard_writer_seal(sy_shard_writer *w, uint64_t *db_bytes) {
    if (db_bytes) *db_bytes = 0;
    shardy_status st = writer_usable(w, "seal");
    if (st != SHARDY_OK) return st;
    st = w->ops->writer_seal(w);
    if (st != SHARDY_OK) {
        w->state = SY_SHARD_W_FAILED;
        w->stats.db_bytes = 0;
        w->stats.page_size = 0;
        return st;
    }
    w->state = SY_SHARD_W_SEALED;
    if (db_bytes) *db_bytes = w->stats.db_bytes;
    return SHARDY_OK;
}

sy_shard_writer_stats sy_shard_writer_stats_get(const sy_shard_writer *w) {
    sy_shard_writer_stats none = {0, 0, 0, 0};
    return w ? w->stats : none;
}

const char *sy_shard_writer_path(const sy_shard_writer *w) { return w ? w->path : NULL; }

void sy_shard_writer_close(sy_shard_writer **w) {
    if (!w || !*w) return;
    sy_shard_writer *h = *w;
    *w = NULL;
    h->ops->writer_free(h, h->state != SY_SHARD_W_SEALED);
}

/* ---- reader --------------------------------------------------------------------------------- */

shardy_status sy_shard_reader_open(const char *local_path, sy_shard_reader **out) {
    return sy_shard_reader_open_with(NULL, local_path, NULL, out);
}

shardy_status sy_shard_reader_open_with(const sy_shard_ops *ops, const char *local_path,
                                        const sy_shard_reader_opts *o, sy_shard_reader **out) {
    static const sy_shard_reader_opts defaults = {0, 0};
    if (!out) return sy_err(SHARDY_EINVAL, "shard reader: no output handle");
    *out = NULL;
    if (!local_path || !*local_path) return sy_err(SHARDY_EINVAL, "shard reader: empty local path");
    if (!ops) ops = &sy_shard_sqlite_ops;
    return ops->reader_open(local_path, o ? o : &defaults, out);
}

shardy_status sy_shard_reader_get(sy_shard_reader *r, const void *k, size_t klen, const void **v,
                                  size_t *vlen) {
    if (!r || r->magic != SY_SHARD_READER_MAGIC)
        return sy_err(SHARDY_ECLOSED, "shard reader: get on a closed reader");
    if ((!k && klen) || !v || !vlen)
        return sy_err(SHARDY_EINVAL, "shard %s: get with a NULL key or output pointer", r->path);
    return r->ops->reader_get(r, k ? k : empty_bytes, klen, v, vlen);
}

shardy_status sy_shard_reader_get_copy(sy_shard_reader *r, const void *k, size_t klen, void *buf,
                                       size_t cap, size_t *vlen) {
    const void *view = NULL;
    size_t n = 0;
    if (vlen) *vlen = 0;
    if (!vlen || (!buf && cap)) {
        return sy_err(SHARDY_EINVAL, "shard %s: get_copy with a NULL length or buffer pointer",
                      r && r->magic == SY_SHARD_READER_MAGIC ? r->path : "?");
    }
    shardy_status st = sy_shard_reader_get(r, k, klen, &view, &n);
    if (st != SHARDY_OK) return st;
    *vlen = n;
    if (n > cap)
        return sy_err(SHARDY_ERANGE, "shard %s: value is %zu bytes, the buffer holds %zu", r->path, n, cap);
    if (n) memcpy(buf, view, n);
    return SHARDY_OK;
}

const char *sy_shard_reader_path(const sy_shard_reader *r) { return r ? r->path : NULL; }

void sy_shard_reader_close(sy_shard_reader **r) {
    if (!r || !*r) return;
    sy_shard_reader *h = *r;
    *r = NULL;
    h->ops->reader_free(h);
}
