/*
 * exchange.c — shardy_exchange_*: stage 1 of a two-stage distributed build, and the section
 * reader that stage 2's attempt writers use (shardy.h "Two-stage builds"; DESIGN §3).
 *
 * What it owns
 *   An exchange writer owns a sy_driver (option copy, prefix, run id, store; no run record), one
 *   sy_rowbuf per shard id seen so far (grown on demand: CEL direct mode has no num_dbs), the
 *   memory account across them, and the local staging directory
 *   <local_dir>/run_id=<run_id>.<random>/ (spill runs; the object itself for non-file stores).
 *
 * Invariants
 *   - Within a partition the last row added for a key wins (sequence numbers across all shards);
 *     each shard's section holds strictly increasing encoded keys — the run format of rowbuf.h,
 *     so stage 2 merges sections exactly like spill runs.
 *   - Nothing touches the object store before finish; the object path depends only on
 *     (partition, attempt), so concurrent attempts of one partition never share an object.
 *   - A file:// object is written straight to its final directory (temp name, then rename; no
 *     fsync: the exchange is scratch that a crash makes useless anyway).
 *
 * Failure behaviour: row errors (key type/range, shard id) leave the writer usable and add
 *   nothing; a failed spill or finish makes it unusable, and finish removes its partial object.
 *   One thread at a time per writer.
 */
#include "write/exchange.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/id.h"
#include "core/json.h"
#include "core/localfs.h"
#include "core/url.h"
#include "write/arrow.h"
#include "write/options.h"
#include "write/shardwrite.h"

#define EXCHANGE_MAGIC 0x53484558u /* "SHEX" */
#define DIRECT_MAX_IDS 1000000u    /* CEL direct mode: ids >= this are a coverage error anyway */
#define FETCH_CHUNK ((size_t)8 << 20)

enum { X_OPEN = SY_HANDLE_OPEN, X_FINISHED = SY_HANDLE_DONE, X_FAILED = SY_HANDLE_FAILED };

struct shardy_exchange_writer {
    uint32_t magic;
    int state;
    sy_driver d;
    shardy_exchange_info info;
    char *staging;
    sy_rowbuf *bufs;   /* bufs[db_id], nbufs = highest id seen + 1 */
    size_t nbufs;
    uint32_t limit;    /* ids must be < limit */
    uint64_t seq;
    uint64_t mem;      /* sum of the buffers' mem_bytes */
    unsigned spills;
    const int32_t *ids; /* during add_arrow */
};

/* ---- shared helpers -------------------------------------------------------------------------- */

char *sy_exchange_prefix(const sy_driver *d) {
    char *seg = sy_asprintf("run_id=%s", d->run_id);
    const char *parts[] = {d->o.shard_prefix, seg, "_exchange"};
    char *dir = seg ? sy_url_join(d->prefix, parts, 3) : NULL;
    char *out = dir ? sy_asprintf("%s/", dir) : NULL;
    sy_free(dir);
    sy_free(seg);
    return out;
}

const char *sy_exchange_local_path(const char *url) {
    return strncmp(url, "file://", 7) == 0 ? url + 7 : NULL;
}

shardy_status sy_exchange_add_section(sy_store *store, sy_rowbuf *rb, const char *url, uint64_t offset,
                                      uint64_t length, uint64_t rows, const char *staging, unsigned n) {
    const char *local = sy_exchange_local_path(url);
    if (local) return sy_rowbuf_add_run(rb, local, offset, length, rows, 0);
    shardy_status st = SHARDY_OK;
    char *path = sy_asprintf("%s/section-%u.run", staging, n);
    unsigned char *chunk = sy_malloc(length < FETCH_CHUNK ? (size_t)length + 1 : FETCH_CHUNK);
    FILE *f = NULL;
    if (!path || !chunk) {
        st = sy_err(SHARDY_ENOMEM, "out of memory fetching a section of %s", url);
        goto done;
    }
    f = fopen(path, "wb");
    if (!f) {
        st = sy_err_errno(errno, "cannot create section file", path);
        goto done;
    }
    for (uint64_t at = 0; at < length;) {
        size_t want = length - at < FETCH_CHUNK ? (size_t)(length - at) : FETCH_CHUNK, got = 0;
        SY_TRY(sy_store_get_range(store, url, offset + at, chunk, want, &got));
        if (got != want) {
            st = sy_err(SHARDY_EFORMAT, "exchange object %s ends before its section [%llu, %llu) does", url,
                        (unsigned long long)offset, (unsigned long long)(offset + length));
            goto done;
        }
        if (fwrite(chunk, 1, got, f) != got) {
            st = sy_err_errno(errno ? errno : EIO, "cannot write section file", path);
            goto done;
        }
        at += got;
    }
    if (fclose(f) != 0) {
        f = NULL;
        st = sy_err_errno(errno, "cannot write section file", path);
        goto done;
    }
    f = NULL;
    st = sy_rowbuf_add_run(rb, path, 0, length, rows, 1);
done:
    if (f) fclose(f);
    if (st && path) unlink(path);
    sy_free(chunk);
    sy_free(path);
    return st;
}

/* ---- writer ---------------------------------------------------------------------------------- */

shardy_status shardy_exchange_open(const shardy_build_opts *o, const shardy_exchange_info *info,
                                   shardy_exchange_writer **out) {
    shardy_status st;
    char rnd[33];
    if (!o || !info || !out) return sy_err(SHARDY_EINVAL, "shardy_exchange_open: NULL argument");
    *out = NULL;
    shardy_exchange_writer *w = sy_calloc(1, sizeof *w);
    if (!w) return sy_err(SHARDY_ENOMEM, "out of memory creating an exchange writer");
    w->magic = EXCHANGE_MAGIC;
    w->state = X_OPEN;
    w->info = *info;
    shardy_build_opts no_cel = *o; /* the caller routes; only num_dbs bounds the ids */
    no_cel.cel_expr = NULL;
    no_cel.cel_columns = no_cel.routing_values = NULL;
    no_cel.n_cel_columns = no_cel.n_routing_values = 0;
    SY_TRY(sy_driver_init(&w->d, &no_cel, SY_WOPTS_NEED_RUN_ID));
    w->limit = o->num_dbs ? o->num_dbs : DIRECT_MAX_IDS;
    SY_TRY(sy_uuid4_hex(rnd));
    w->staging = sy_asprintf("%s/run_id=%s.%.8s", w->d.o.local_dir, w->d.run_id, rnd);
    if (!w->staging) {
        st = sy_err(SHARDY_ENOMEM, "out of memory creating an exchange writer");
        goto done;
    }
    SY_TRY(sy_mkdirs(w->staging));
done:
    if (st) {
        w->state = X_FAILED;
        shardy_exchange_close(&w);
        return st;
    }
    *out = w;
    return SHARDY_OK;
}

static shardy_status check_writer(const shardy_exchange_writer *w, const char *fn) {
    return sy_handle_check(w, w && w->magic == EXCHANGE_MAGIC, w ? w->state : 0, fn, "exchange writer", "finished");
}

static shardy_status grow(shardy_exchange_writer *w, size_t need) {
    size_t n = w->nbufs ? w->nbufs : 16;
    while (n < need) n *= 2;
    if (n > w->limit) n = w->limit;
    sy_rowbuf *nb = sy_realloc(w->bufs, n * sizeof *nb);
    if (!nb) return sy_err(SHARDY_ENOMEM, "out of memory growing the exchange's shard table to %zu", n);
    for (size_t i = w->nbufs; i < n; i++) sy_rowbuf_init(&nb[i]);
    w->bufs = nb;
    w->nbufs = n;
    return SHARDY_OK;
}

static shardy_status spill_all(shardy_exchange_writer *w) {
    for (size_t i = 0; i < w->nbufs; i++) {
        shardy_status st = sy_shard_rows_spill(&w->bufs[i], w->staging, (uint32_t)i, w->spills);
        if (st) return sy_err_wrap(st, "spilling buffered rows to %s", w->staging);
    }
    w->spills++;
    w->mem = 0;
    return SHARDY_OK;
}

static shardy_status add_one(shardy_exchange_writer *w, int64_t db_id, const shardy_key *key, const void *value,
                             size_t len) {
    if (db_id < 0 || db_id >= (int64_t)w->limit)
        return sy_err(SHARDY_EROUTE, "shard id %lld is outside [0, %u)", (long long)db_id, w->limit);
    if ((size_t)db_id >= w->nbufs) {
        shardy_status st = grow(w, (size_t)db_id + 1);
        if (st) return st;
    }
    sy_rowbuf *b = &w->bufs[db_id];
    uint64_t before = b->mem_bytes;
    shardy_status st = sy_shard_rows_add(b, w->d.o.key_encoding, key, value, len, w->seq + 1);
    if (st) return st;
    w->seq++;
    w->mem += b->mem_bytes - before;
    if (w->mem > w->d.o.memory_limit) {
        st = spill_all(w);
        if (st) w->state = X_FAILED;
    }
    return st;
}

shardy_status shardy_exchange_add(shardy_exchange_writer *w, uint32_t db_id, const shardy_key *key,
                                  const void *value, size_t value_len) {
    shardy_status st = check_writer(w, "shardy_exchange_add");
    if (st) return st;
    if (!key || (!value && value_len)) return sy_err(SHARDY_EINVAL, "shardy_exchange_add: NULL key or value");
    return add_one(w, db_id, key, value, value_len);
}

static shardy_status add_arrow_row(void *ctx, int64_t row, const shardy_key *key, const void *value, size_t len) {
    shardy_exchange_writer *w = ctx;
    return add_one(w, w->ids[row], key, value, len);
}

shardy_status shardy_exchange_add_arrow(shardy_exchange_writer *w, const struct ArrowArray *batch,
                                        const struct ArrowSchema *schema, const char *key_col,
                                        const shardy_value_spec *spec, const int32_t *db_ids) {
    shardy_status st = check_writer(w, "shardy_exchange_add_arrow");
    if (st) return st;
    if (!db_ids && batch && batch->length > 0)
        return sy_err(SHARDY_EINVAL, "shardy_exchange_add_arrow: NULL db_ids");
    w->ids = db_ids;
    st = sy_arrow_rows(batch, schema, key_col, spec, add_arrow_row, w);
    w->ids = NULL;
    return st;
}

/* Writes buffer b's merged rows to f; *len = bytes written. */
static shardy_status write_section(sy_rowbuf *b, FILE *f, const char *path, uint64_t *len) {
    shardy_status st = SHARDY_OK;
    sy_rowmerge *m = NULL;
    const void *k, *v;
    size_t kl, vl;
    int r;
    *len = 0;
    SY_TRY(sy_rowmerge_open(b, &m));
    while ((r = sy_rowmerge_next(m, &k, &kl, &v, &vl, &st)) > 0) {
        const unsigned char *rec = (const unsigned char *)k - 8; /* the record in place (rowbuf.h) */
        size_t n = 8 + kl + vl;
        if (fwrite(rec, 1, n, f) != n) {
            st = sy_err_errno(errno ? errno : EIO, "cannot write exchange object", path);
            goto done;
        }
        *len += n;
    }
done:
    sy_rowmerge_close(&m);
    return st;
}

shardy_status shardy_exchange_finish(shardy_exchange_writer *w, char **result_json) {
    shardy_status st = check_writer(w, "shardy_exchange_finish");
    sy_buf out = SY_BUF_INIT, secs = SY_BUF_INIT;
    char *prefix = NULL, *url = NULL, *path = NULL;
    FILE *f = NULL;
    uint64_t rows = 0, bytes = 0;
    int uploaded = 0;
    char rnd[33];
    if (st) return st;
    if (!result_json) return sy_err(SHARDY_EINVAL, "shardy_exchange_finish: NULL result pointer");
    *result_json = NULL;
    for (size_t i = 0; i < w->nbufs; i++) rows += w->bufs[i].rows_total;
    if (rows) {
        prefix = sy_exchange_prefix(&w->d);
        url = prefix ? sy_asprintf("%spart=%05u/attempt=%u/rows.run", prefix, w->info.partition, w->info.attempt)
                     : NULL;
        if (!url) {
            st = sy_err(SHARDY_ENOMEM, "out of memory finishing an exchange writer");
            goto done;
        }
        const char *local = sy_exchange_local_path(url);
        SY_TRY(sy_uuid4_hex(rnd));
        if (local) {
            char *dir = sy_strdup(local);
            char *slash = dir ? strrchr(dir, '/') : NULL;
            if (slash) *slash = '\0';
            st = dir ? sy_mkdirs(dir) : sy_err(SHARDY_ENOMEM, "out of memory finishing an exchange writer");
            sy_free(dir);
            if (st) goto done;
            path = sy_asprintf("%s.tmp-%.16s", local, rnd);
        } else {
            path = sy_asprintf("%s/exchange-%.16s.run", w->staging, rnd);
        }
        if (!path) {
            st = sy_err(SHARDY_ENOMEM, "out of memory finishing an exchange writer");
            goto done;
        }
        f = fopen(path, "wb");
        if (!f) {
            st = sy_err_errno(errno, "cannot create exchange object", path);
            goto done;
        }
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        SY_TRY(sy_buf_putc(&secs, '['));
        for (size_t i = 0; i < w->nbufs; i++) {
            sy_rowbuf *b = &w->bufs[i];
            if (!b->rows_total) continue;
            uint64_t len;
            SY_TRY(write_section(b, f, path, &len));
            SY_TRY(sy_buf_printf(&secs, "%s{\"db_id\":%zu,\"offset\":%llu,\"length\":%llu,\"rows\":%llu}",
                                 secs.len > 1 ? "," : "", i, (unsigned long long)bytes, (unsigned long long)len,
                                 (unsigned long long)b->rows_total));
            bytes += len;
            sy_rowbuf_free(b); /* memory and spill runs go as soon as the section is out */
            sy_rowbuf_init(b);
        }
        SY_TRY(sy_buf_putc(&secs, ']'));
        if (fclose(f) != 0) {
            f = NULL;
            st = sy_err_errno(errno, "cannot write exchange object", path);
            goto done;
        }
        f = NULL;
        uploaded = 1;
        if (local) {
            if (rename(path, local) != 0) {
                st = sy_err_errno(errno, "cannot rename exchange object into place", local);
                goto done;
            }
        } else {
            SY_TRY(sy_store_put_file(w->d.store, url, path, "application/octet-stream"));
        }
    }
    SY_TRY(sy_buf_printf(&out, "{\"partition\":%u,\"attempt\":%u,\"url\":", w->info.partition, w->info.attempt));
    if (url) SY_TRY(sy_json_put_string(&out, url, strlen(url), SY_JSON_RAW_UTF8));
    else SY_TRY(sy_buf_puts(&out, "null"));
    SY_TRY(sy_buf_printf(&out, ",\"rows\":%llu,\"bytes\":%llu,\"sections\":%s}", (unsigned long long)rows,
                         (unsigned long long)bytes, secs.len ? secs.data : "[]"));
    *result_json = sy_buf_take(&out);
    w->state = X_FINISHED;
done:
    if (f) fclose(f);
    if (path && (st || !sy_exchange_local_path(url))) unlink(path);
    if (st) {
        char msg[SY_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", shardy_errmsg());
        w->state = X_FAILED;
        if (uploaded && url && sy_store_delete(w->d.store, url) != SHARDY_OK) {
            /* best effort: the run's sweep or failure cleanup removes it */
        }
        sy_err(st, "exchange partition=%u attempt=%u: %s", w->info.partition, w->info.attempt, msg);
    }
    (void)sy_rmtree(w->staging);
    sy_buf_free(&out);
    sy_buf_free(&secs);
    sy_free(prefix);
    sy_free(url);
    sy_free(path);
    return st;
}

void shardy_exchange_close(shardy_exchange_writer **pw) {
    shardy_exchange_writer *w = pw ? *pw : NULL;
    if (!w || w->magic != EXCHANGE_MAGIC) return;
    for (size_t i = 0; i < w->nbufs; i++) sy_rowbuf_free(&w->bufs[i]);
    sy_free(w->bufs);
    if (w->staging) (void)sy_rmtree(w->staging);
    sy_driver_close(&w->d);
    sy_free(w->staging);
    w->magic = 0;
    sy_free(w);
    *pw = NULL;
}
