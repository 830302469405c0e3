/*
 * exchange.c — shardy_exchange_*: stage 1 of a two-stage distributed build, and the section
 * reader that stage 2's attempt writers use (shardy.h "Two-stage builds"; DESIGN §3).
 *
 * What it owns
 *   An exchange writer owns a sy_driver (option copy, prefix, run id, store; no run record), one
 *   small append buffer per shard id seen so far (the table grows on demand: CEL direct mode has
 *   no num_dbs), the list of sections written so far, the object file being written (created at
 *   the first flush) and the local staging directory <local_dir>/run_id=<run_id>.<random>/ (the
 *   object itself for non-file stores).
 *
 * Invariants
 *   - Stage 1 neither sorts nor deduplicates: a row is encoded, appended to its shard's buffer as a
 *     run-format record, and a full buffer is appended to the object as one section. The rows of a
 *     shard are therefore spread over several sections, in arrival order: section order in the
 *     object, then record order inside a section. Stage 2 indexes a shard's sections in that order
 *     (sy_rowbuf_add_records) and sorts once, so "the last row of a key wins" carries over.
 *   - Buffers start at 64 KiB and double at each flush up to 1 MiB while their total is under
 *     16 MiB (so that they stay in the CPU cache); the total also stays within memory_limit (past
 *     it every buffer is flushed and released). A record larger than the largest
 *     buffer is written as a section of its own. No per-row allocation.
 *   - Nothing touches the object store before finish; the object path depends only on
 *     (partition, attempt), so concurrent attempts of one partition never share an object.
 *   - A file:// object is written straight into its final directory (temp name, then rename at
 *     finish; no fsync: the exchange is scratch that a crash makes useless anyway). Stage 2 maps
 *     its sections in place, so their number costs nothing.
 *   - Any other object is staged locally, and at finish rewritten in shard order before upload,
 *     each shard's sections concatenated (in object order) into ONE section: stage 2 fetches a
 *     section with ranged GETs of up to 8 MiB, and thousands of 1 MiB sections would otherwise
 *     cost a request each. A shard's records stay in arrival order, so the result is the same.
 *     The copy is in the kernel (copy_file_range, else pread/write), and the copied ranges of the
 *     first file are punched out as it goes, so the staging disk holds about one copy.
 *
 * Failure behaviour: row errors (key type/range, shard id) leave the writer usable and add
 *   nothing; a failed write makes it unusable; finish removes its partial object, and so does
 *   close of an unfinished writer. One thread at a time per writer.
 */
#define _GNU_SOURCE /* qsort_r, fallocate */
#include "write/exchange.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
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
#define XBUF_MIN ((size_t)64 << 10)
#define XBUF_MAX ((size_t)1 << 20)
#define XBUF_CACHE ((size_t)16 << 20) /* buffers stop growing past this total: keep them in cache */

enum { X_OPEN = SY_HANDLE_OPEN, X_FINISHED = SY_HANDLE_DONE, X_FAILED = SY_HANDLE_FAILED };

typedef struct xbuf {
    unsigned char *data;
    size_t used, cap;
    uint64_t rows;
} xbuf;

typedef struct xsec {
    uint32_t db_id;
    uint64_t off, len, rows;
} xsec;

struct shardy_exchange_writer {
    uint32_t magic;
    int state;
    sy_driver d;
    shardy_exchange_info info;
    char *staging;
    xbuf *bufs;        /* bufs[db_id], nbufs = highest id seen + 1 (rounded up) */
    size_t nbufs;
    uint32_t limit;    /* ids must be < limit */
    uint64_t buffered; /* sum of the buffers' capacities */
    char *url;         /* the object's URL */
    char *path;        /* the local file being written: url's temp name (file://) or in staging */
    int fd;            /* -1 until the first flush */
    uint64_t bytes, rows;
    xsec *secs;
    size_t nsecs, capsecs;
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
                                      uint64_t length, uint64_t rows, uint64_t seq0, const char *staging,
                                      unsigned n) {
    const char *local = sy_exchange_local_path(url);
    if (local) return sy_rowbuf_add_records(rb, local, offset, length, rows, seq0);
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
    /* Mapped and indexed in place; the mapping keeps the bytes after the unlink below. */
    st = sy_rowbuf_add_records(rb, path, 0, length, rows, seq0);
done:
    if (f) fclose(f);
    if (path) unlink(path);
    sy_free(chunk);
    sy_free(path);
    return st;
}

/* ---- writer ---------------------------------------------------------------------------------- */

shardy_status shardy_exchange_open(const shardy_build_opts *o, const shardy_exchange_info *info,
                                   shardy_exchange_writer **out) {
    shardy_status st;
    char rnd[33];
    char *prefix = NULL;
    if (!o || !info || !out) return sy_err(SHARDY_EINVAL, "shardy_exchange_open: NULL argument");
    *out = NULL;
    shardy_exchange_writer *w = sy_calloc(1, sizeof *w);
    if (!w) return sy_err(SHARDY_ENOMEM, "out of memory creating an exchange writer");
    w->magic = EXCHANGE_MAGIC;
    w->state = X_OPEN;
    w->info = *info;
    w->fd = -1;
    shardy_build_opts no_cel = *o; /* the caller routes; only num_dbs bounds the ids */
    no_cel.cel_expr = NULL;
    no_cel.cel_columns = no_cel.routing_values = NULL;
    no_cel.n_cel_columns = no_cel.n_routing_values = 0;
    SY_TRY(sy_driver_init(&w->d, &no_cel, SY_WOPTS_NEED_RUN_ID));
    w->limit = o->num_dbs ? o->num_dbs : DIRECT_MAX_IDS;
    SY_TRY(sy_uuid4_hex(rnd));
    w->staging = sy_asprintf("%s/run_id=%s.%.8s", w->d.o.local_dir, w->d.run_id, rnd);
    prefix = sy_exchange_prefix(&w->d);
    w->url = prefix ? sy_asprintf("%spart=%05u/attempt=%u/rows.run", prefix, info->partition, info->attempt) : NULL;
    if (w->url) {
        const char *local = sy_exchange_local_path(w->url);
        w->path = local ? sy_asprintf("%s.tmp-%.16s", local, rnd) : sy_asprintf("%s/exchange.run", w->staging);
    }
    if (!w->staging || !w->path) {
        st = sy_err(SHARDY_ENOMEM, "out of memory creating an exchange writer");
        goto done;
    }
    SY_TRY(sy_mkdirs(w->staging));
done:
    sy_free(prefix);
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
    xbuf *nb = sy_realloc(w->bufs, n * sizeof *nb);
    if (!nb) return sy_err(SHARDY_ENOMEM, "out of memory growing the exchange's shard table to %zu", n);
    memset(nb + w->nbufs, 0, (n - w->nbufs) * sizeof *nb);
    w->bufs = nb;
    w->nbufs = n;
    return SHARDY_OK;
}

/* Creates the object file (and, for file://, its directory) at the first flush. */
static shardy_status open_object(shardy_exchange_writer *w) {
    if (sy_exchange_local_path(w->url)) {
        char *dir = sy_strdup(w->path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash) *slash = '\0';
        shardy_status st = dir ? sy_mkdirs(dir) : sy_err(SHARDY_ENOMEM, "out of memory creating an exchange object");
        sy_free(dir);
        if (st) return st;
    }
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) return sy_err_errno(errno, "cannot create exchange object", w->path);
    return SHARDY_OK;
}

/* Appends iov to the object as one section of shard db holding `rows` records. */
static shardy_status write_section(shardy_exchange_writer *w, uint32_t db, struct iovec *iov, int n, uint64_t rows) {
    shardy_status st;
    uint64_t len = 0;
    for (int i = 0; i < n; i++) len += iov[i].iov_len;
    if (w->fd < 0 && (st = open_object(w)) != SHARDY_OK) return st;
    if (w->nsecs == w->capsecs) {
        size_t cap = w->capsecs ? w->capsecs * 2 : 64;
        xsec *ns = sy_realloc(w->secs, cap * sizeof *ns);
        if (!ns) return sy_err(SHARDY_ENOMEM, "out of memory recording %zu exchange sections", cap);
        w->secs = ns;
        w->capsecs = cap;
    }
    while (n > 0) {
        ssize_t got = writev(w->fd, iov, n);
        if (got < 0) {
            if (errno == EINTR) continue;
            return sy_err_errno(errno, "cannot write exchange object", w->path);
        }
        while (n > 0 && (size_t)got >= iov->iov_len) {
            got -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + got;
            iov->iov_len -= (size_t)got;
        }
    }
    w->secs[w->nsecs++] = (xsec){db, w->bytes, len, rows};
    w->bytes += len;
    return SHARDY_OK;
}

static shardy_status flush_buf(shardy_exchange_writer *w, uint32_t db) {
    xbuf *b = &w->bufs[db];
    if (!b->used) return SHARDY_OK;
    struct iovec iov = {b->data, b->used};
    shardy_status st = write_section(w, db, &iov, 1, b->rows);
    if (st) return st;
    b->used = 0;
    b->rows = 0;
    return SHARDY_OK;
}

/* Flushes every buffer and releases their memory (the memory budget is spent, or finish). */
static shardy_status flush_all(shardy_exchange_writer *w) {
    for (size_t i = 0; i < w->nbufs; i++) {
        shardy_status st = flush_buf(w, (uint32_t)i);
        if (st) return st;
        sy_free(w->bufs[i].data);
        w->bufs[i].data = NULL;
        w->bufs[i].cap = 0;
    }
    w->buffered = 0;
    return SHARDY_OK;
}

/* Makes room for a need-byte record in shard db's buffer: flush it, then grow it (doubling to
 * XBUF_MAX within the memory budget). *direct = 1 when the record is larger than any buffer. */
static shardy_status make_room(shardy_exchange_writer *w, uint32_t db, size_t need, int *direct) {
    xbuf *b = &w->bufs[db];
    *direct = 0;
    shardy_status st = flush_buf(w, db);
    if (st) return st;
    if (need > XBUF_MAX) {
        *direct = 1;
        return SHARDY_OK;
    }
    size_t cap = b->cap ? b->cap * 2 : XBUF_MIN;
    if (cap > XBUF_MAX) cap = XBUF_MAX;
    /* The copy into a buffer and the write out of it are cheap only while the buffers stay in the
     * CPU cache (measured: 4 MiB buffers for 16 shards cost ~0.4 s more per 10M rows than 1 MiB):
     * past XBUF_CACHE in total, a buffer grows only as far as the record needs. */
    if (b->cap && w->buffered - b->cap + cap > XBUF_CACHE) cap = b->cap;
    while (cap < need) cap *= 2;
    if (cap > XBUF_MAX) cap = XBUF_MAX; /* still >= need: need <= XBUF_MAX here */
    if (cap == b->cap) return SHARDY_OK;
    if (w->buffered - b->cap + cap > w->d.o.memory_limit) {
        SY_TRY(flush_all(w)); /* over budget: start every buffer small again */
        cap = need > XBUF_MIN ? need : XBUF_MIN;
    }
    unsigned char *data = sy_malloc(cap); /* empty after the flush: no copy needed */
    if (!data) return sy_err(SHARDY_ENOMEM, "out of memory buffering exchange rows (%zu bytes)", cap);
    w->buffered += cap - b->cap;
    sy_free(b->data);
    b->data = data;
    b->cap = cap;
done:
    return st;
}

static shardy_status add_one(shardy_exchange_writer *w, int64_t db_id, const shardy_key *key, const void *value,
                             size_t len) {
    unsigned char scratch[8];
    const void *kp;
    size_t kn;
    if (db_id < 0 || db_id >= (int64_t)w->limit)
        return sy_err(SHARDY_EROUTE, "shard id %lld is outside [0, %u)", (long long)db_id, w->limit);
    shardy_status st = sy_shard_row_encode(w->d.o.key_encoding, key, len, scratch, &kp, &kn);
    if (st) return st;
    if ((size_t)db_id >= w->nbufs && (st = grow(w, (size_t)db_id + 1)) != SHARDY_OK) return st;
    uint32_t db = (uint32_t)db_id;
    xbuf *b = &w->bufs[db];
    size_t need = 8 + kn + len;
    if (b->cap - b->used < need) {
        int direct;
        st = make_room(w, db, need, &direct);
        if (!st && direct) {
            unsigned char hdr[8];
            sy_rowrec_header(hdr, (uint32_t)kn, (uint32_t)len);
            struct iovec iov[3] = {{hdr, 8}, {(void *)kp, kn}, {(void *)value, len}};
            st = write_section(w, db, iov, 3, 1);
            if (!st) w->rows++;
        }
        if (st) w->state = X_FAILED;
        if (st || direct) return st;
    }
    sy_rowrec_put(b->data + b->used, kp, (uint32_t)kn, value, (uint32_t)len);
    b->used += need;
    b->rows++;
    w->rows++;
    return SHARDY_OK;
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

static int cmp_sec_order(const void *a, const void *b, void *ctx) {
    const xsec *s = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (s[i].db_id != s[j].db_id) return s[i].db_id < s[j].db_id ? -1 : 1;
    return i < j ? -1 : i > j; /* stable: object order within a shard */
}

/* Rewrites the staged object (closed, w->path) in shard order with one section per shard (see the
 * header). Nothing to do when no shard has two sections. */
static shardy_status regroup(shardy_exchange_writer *w) {
    shardy_status st = SHARDY_OK;
    size_t n = w->nsecs, nout = 0;
    size_t *order = sy_malloc((n ? n : 1) * sizeof *order);
    xsec *out = sy_malloc((n ? n : 1) * sizeof *out);
    char *tmp = sy_asprintf("%s.grouped", w->path);
    int in = -1, fd = -1, fallback = 0;
    if (!order || !out || !tmp) {
        st = sy_err(SHARDY_ENOMEM, "out of memory regrouping exchange object %s", w->url);
        goto done;
    }
    for (size_t i = 0; i < n; i++) order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_sec_order, w->secs);
    int repeated = 0;
    for (size_t i = 1; i < n; i++) repeated |= w->secs[order[i]].db_id == w->secs[order[i - 1]].db_id;
    if (!repeated) goto done;
    in = open(w->path, O_RDWR | O_CLOEXEC);
    if (in < 0) {
        st = sy_err_errno(errno, "cannot reopen exchange object", w->path);
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = sy_err_errno(errno, "cannot create exchange object", tmp);
        goto done;
    }
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        const xsec *x = &w->secs[order[k]];
        SY_TRY(sy_copy_range(in, x->off, fd, x->len, tmp, &fallback));
        /* best effort: give the copied bytes' disk space back now, not at the unlink */
        (void)fallocate(in, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)x->off, (off_t)x->len);
        if (nout && out[nout - 1].db_id == x->db_id) {
            out[nout - 1].len += x->len;
            out[nout - 1].rows += x->rows;
        } else {
            out[nout++] = (xsec){x->db_id, at, x->len, x->rows};
        }
        at += x->len;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = sy_err_errno(errno, "cannot write exchange object", tmp);
        goto done;
    }
    fd = -1;
    if (rename(tmp, w->path) != 0) {
        st = sy_err_errno(errno, "cannot replace exchange object", w->path);
        goto done;
    }
    memcpy(w->secs, out, nout * sizeof *out);
    w->nsecs = nout;
done:
    if (in >= 0) close(in);
    if (fd >= 0) close(fd);
    if (st && tmp) unlink(tmp);
    sy_free(tmp);
    sy_free(out);
    sy_free(order);
    return st;
}

shardy_status shardy_exchange_finish(shardy_exchange_writer *w, char **result_json) {
    shardy_status st = check_writer(w, "shardy_exchange_finish");
    sy_buf out = SY_BUF_INIT;
    int uploaded = 0;
    if (st) return st;
    if (!result_json) return sy_err(SHARDY_EINVAL, "shardy_exchange_finish: NULL result pointer");
    *result_json = NULL;
    if (w->rows) {
        SY_TRY(flush_all(w));
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) != 0) {
            st = sy_err_errno(errno, "cannot write exchange object", w->path);
            goto done;
        }
        uploaded = 1;
        const char *local = sy_exchange_local_path(w->url);
        if (local) {
            if (rename(w->path, local) != 0) {
                st = sy_err_errno(errno, "cannot rename exchange object into place", local);
                goto done;
            }
        } else {
            SY_TRY(regroup(w));
            SY_TRY(sy_store_put_file(w->d.store, w->url, w->path, "application/octet-stream"));
        }
    }
    SY_TRY(sy_buf_printf(&out, "{\"partition\":%u,\"attempt\":%u,\"url\":", w->info.partition, w->info.attempt));
    if (w->rows) SY_TRY(sy_json_put_string(&out, w->url, strlen(w->url), SY_JSON_RAW_UTF8));
    else SY_TRY(sy_buf_puts(&out, "null"));
    SY_TRY(sy_buf_printf(&out, ",\"rows\":%llu,\"bytes\":%llu,\"sections\":[", (unsigned long long)w->rows,
                         (unsigned long long)w->bytes));
    for (size_t i = 0; i < w->nsecs; i++) {
        const xsec *x = &w->secs[i];
        SY_TRY(sy_buf_printf(&out, "%s{\"db_id\":%u,\"offset\":%llu,\"length\":%llu,\"rows\":%llu}", i ? "," : "",
                             x->db_id, (unsigned long long)x->off, (unsigned long long)x->len,
                             (unsigned long long)x->rows));
    }
    SY_TRY(sy_buf_puts(&out, "]}"));
    *result_json = sy_buf_take(&out);
    w->state = X_FINISHED;
done:
    if (st) {
        char msg[SY_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", shardy_errmsg());
        w->state = X_FAILED;
        if (uploaded && !sy_exchange_local_path(w->url) && sy_store_delete(w->d.store, w->url) != SHARDY_OK) {
            /* best effort: the run's sweep or failure cleanup removes it */
        }
        sy_err(st, "exchange partition=%u attempt=%u: %s", w->info.partition, w->info.attempt, msg);
    }
    if (w->path && (st || !sy_exchange_local_path(w->url))) unlink(w->path); /* temp, or the staged copy */
    (void)sy_rmtree(w->staging);
    sy_buf_free(&out);
    return st;
}

void shardy_exchange_close(shardy_exchange_writer **pw) {
    shardy_exchange_writer *w = pw ? *pw : NULL;
    if (!w || w->magic != EXCHANGE_MAGIC) return;
    for (size_t i = 0; i < w->nbufs; i++) sy_free(w->bufs[i].data);
    sy_free(w->bufs);
    if (w->fd >= 0) close(w->fd);
    if (w->path && w->state != X_FINISHED) unlink(w->path); /* an unfinished object goes */
    if (w->staging) (void)sy_rmtree(w->staging);
    sy_driver_close(&w->d);
    sy_free(w->staging);
    sy_free(w->url);
    sy_free(w->path);
    sy_free(w->secs);
    w->magic = 0;
    sy_free(w);
    *pw = NULL;
}
