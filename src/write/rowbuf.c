/* rowbuf.c — per-shard row arena, sort, spill runs and key-ordered merge; see rowbuf.h. */
#include "write/rowbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

#define CHUNK_MIN (64u << 10)
#define CHUNK_MAX (4u << 20)
#define NATURAL_RUNS_MAX 8 /* at most this many ascending stretches are merged, not radix sorted */

struct sy_rowchunk {
    sy_rowchunk *next;
    size_t used, cap;
    unsigned char data[];
};

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The record at p fits in the left bytes with key and value within the limits: 1 and its lengths,
 * else 0 (truncated or corrupt). */
static int rec_fits(const unsigned char *p, size_t left, size_t *kl, size_t *vl) {
    if (left < 8) return 0;
    *kl = rd32(p);
    *vl = rd32(p + 4);
    return *kl <= SY_MAX_KEY_BYTES && *vl <= SY_MAX_VALUE_BYTES && *kl + *vl <= left - 8;
}

static uint64_t key_prefix(const unsigned char *k, size_t n) {
    uint64_t p = 0;
    for (size_t i = 0; i < 8; i++) p = p << 8 | (i < n ? k[i] : 0);
    return p;
}

void sy_rowbuf_init(sy_rowbuf *b) { memset(b, 0, sizeof *b); }

static void free_memory(sy_rowbuf *b) {
    sy_rowchunk *c = b->chunks;
    while (c) {
        sy_rowchunk *next = c->next;
        sy_free(c);
        c = next;
    }
    b->chunks = NULL;
    for (size_t i = 0; i < b->nmaps; i++) munmap(b->maps[i].addr, b->maps[i].len);
    sy_free(b->maps);
    b->maps = NULL;
    b->nmaps = 0;
    sy_free(b->ents);
    b->ents = NULL;
    b->n = b->cap = 0;
    b->mem_bytes = 0;
}

void sy_rowbuf_free(sy_rowbuf *b) {
    free_memory(b);
    for (size_t i = 0; i < b->nruns; i++) {
        if (b->runs[i].owned) unlink(b->runs[i].path);
        sy_free(b->runs[i].path);
    }
    sy_free(b->runs);
    b->runs = NULL;
    b->nruns = 0;
}

static shardy_status reserve_ents(sy_rowbuf *b, size_t more) {
    if (more <= b->cap - b->n) return SHARDY_OK;
    size_t cap = b->cap ? b->cap * 2 : 1024;
    if (cap < b->n + more) cap = b->n + more;
    if (cap > SIZE_MAX / sizeof *b->ents) return sy_err(SHARDY_ENOMEM, "cannot index %zu buffered rows", cap);
    sy_rowent *e = sy_realloc(b->ents, cap * sizeof *e);
    if (!e) return sy_err(SHARDY_ENOMEM, "out of memory indexing %zu buffered rows", cap);
    b->ents = e;
    b->cap = cap;
    return SHARDY_OK;
}

shardy_status sy_rowbuf_add(sy_rowbuf *b, const void *k, uint32_t klen, const void *v, uint32_t vlen, uint64_t seq) {
    size_t need = 8 + (size_t)klen + vlen;
    sy_rowchunk *c = b->chunks;
    if (!c || c->cap - c->used < need) {
        /* Chunks grow with the shard (64 KiB doubling to 4 MiB) so thousands of small shards do
         * not each pin a large chunk. */
        size_t cap = c ? (c->cap >= CHUNK_MAX ? CHUNK_MAX : c->cap * 2) : CHUNK_MIN;
        if (cap < need) cap = need;
        c = sy_malloc(sizeof *c + cap);
        if (!c) return sy_err(SHARDY_ENOMEM, "out of memory buffering rows (%zu-byte chunk)", cap);
        c->used = 0;
        c->cap = cap;
        c->next = b->chunks;
        b->chunks = c;
    }
    shardy_status st = reserve_ents(b, 1);
    if (st) return st;
    unsigned char *rec = c->data + c->used;
    sy_rowrec_put(rec, k, klen, v, vlen);
    c->used += need;
    b->mem_bytes += need + sizeof *b->ents;
    b->ents[b->n].prefix = key_prefix(rec + 8, klen);
    b->ents[b->n].rec = rec;
    b->ents[b->n].seq = seq;
    b->n++;
    b->rows_total++;
    return SHARDY_OK;
}

/* Byte order of two keys. */
static int key_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static int ent_cmp(const void *pa, const void *pb) {
    const sy_rowent *a = pa, *b = pb;
    if (a->prefix != b->prefix) return a->prefix < b->prefix ? -1 : 1;
    uint32_t an = rd32(a->rec), bn = rd32(b->rec);
    if (an > 8 || bn > 8) {
        int c = key_cmp(a->rec + 8, an, b->rec + 8, bn);
        if (c) return c;
    } else if (an != bn) {
        return an < bn ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Orders entries [lo, hi) of equal prefix by (key, seq) when the prefix may hide different keys: a
 * key longer than 8 bytes, or keys of different lengths (the prefix is zero padded). Equal short
 * keys of equal length are the same key and are already in sequence order. */
static void sort_prefix_ties(sy_rowent *e, size_t lo, size_t hi) {
    uint32_t len = rd32(e[lo].rec);
    int mixed = len > 8;
    for (size_t i = lo + 1; i < hi && !mixed; i++) mixed = rd32(e[i].rec) != len;
    if (mixed) qsort(e + lo, hi - lo, sizeof *e, ent_cmp);
}

/* Stable merge of the k ascending (by prefix) stretches starting at starts[0..k) of e into tmp,
 * then back: on equal prefixes the earlier stretch (older rows) goes first. */
static void merge_stretches(sy_rowent *e, size_t n, const size_t *starts, size_t k, sy_rowent *tmp) {
    size_t pos[NATURAL_RUNS_MAX], end[NATURAL_RUNS_MAX];
    for (size_t r = 0; r < k; r++) {
        pos[r] = starts[r];
        end[r] = r + 1 < k ? starts[r + 1] : n;
    }
    for (size_t out = 0; out < n; out++) {
        size_t best = k;
        for (size_t r = 0; r < k; r++)
            if (pos[r] < end[r] && (best == k || e[pos[r]].prefix < e[pos[best]].prefix)) best = r;
        tmp[out] = e[pos[best]++];
    }
    memcpy(e, tmp, n * sizeof *e);
}

/* Sorts the index by (key, seq). Rows that arrive as a few ascending stretches (input sorted by
 * key, or a handful of sorted partitions — common for keys from a table) are merged stretch by
 * stretch; anything else gets an LSD radix sort on the 8-byte prefix (stable, so equal prefixes
 * keep insertion order = sequence order), skipping byte positions where every entry has the same
 * byte (integer keys of one range share their high bytes). Either way, ties of equal prefix are
 * then ordered by sort_prefix_ties. Without memory for the scratch copy it falls back to qsort. */
void sy_rowbuf_sort(sy_rowbuf *b) {
    size_t n = b->n;
    if (n < 2) return;
    sy_rowent *e = b->ents;
    size_t starts[NATURAL_RUNS_MAX], k = 1, i;
    starts[0] = 0;
    int ties = 0;
    for (i = 1; i < n && k <= NATURAL_RUNS_MAX; i++) {
        if (e[i].prefix < e[i - 1].prefix) {
            if (k < NATURAL_RUNS_MAX) starts[k] = i;
            k++;
        } else {
            ties |= e[i].prefix == e[i - 1].prefix;
        }
    }
    if (k == 1 && !ties) return; /* strictly increasing prefixes: sorted, no ties */
    sy_rowent *tmp = k > 1 && n >= 64 ? sy_malloc(n * sizeof *tmp) : NULL;
    if (k > 1 && !tmp) {
        qsort(e, n, sizeof *e, ent_cmp);
        return;
    }
    if (k > 1 && k <= NATURAL_RUNS_MAX) {
        merge_stretches(e, n, starts, k, tmp);
    } else if (k > 1) {
        size_t cnt[8][256]; /* 16 KiB of stack */
        memset(cnt, 0, sizeof cnt);
        for (i = 0; i < n; i++) {
            uint64_t p = e[i].prefix;
            for (int j = 0; j < 8; j++) cnt[j][(p >> (8 * j)) & 255]++;
        }
        sy_rowent *src = e, *dst = tmp;
        for (int j = 0; j < 8; j++) {
            const size_t *c = cnt[j];
            if (c[(src[0].prefix >> (8 * j)) & 255] == n) continue; /* one value: nothing to do */
            size_t off[256], sum = 0;
            for (int d = 0; d < 256; d++) {
                off[d] = sum;
                sum += c[d];
            }
            for (i = 0; i < n; i++) dst[off[(src[i].prefix >> (8 * j)) & 255]++] = src[i];
            sy_rowent *t = src;
            src = dst;
            dst = t;
        }
        if (src != e) memcpy(e, src, n * sizeof *e);
    }
    sy_free(tmp);
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo + 1;
        while (hi < n && e[hi].prefix == e[lo].prefix) hi++;
        if (hi - lo > 1) sort_prefix_ties(e, lo, hi);
        lo = hi;
    }
}

/* True when entry i is superseded by entry i+1 (same key, later sequence). */
static int superseded(const sy_rowbuf *b, size_t i) {
    if (i + 1 >= b->n) return 0;
    const sy_rowent *a = &b->ents[i], *c = &b->ents[i + 1];
    if (a->prefix != c->prefix) return 0;
    uint32_t an = rd32(a->rec), cn = rd32(c->rec);
    return an == cn && !memcmp(a->rec + 8, c->rec + 8, an);
}

shardy_status sy_rowbuf_spill(sy_rowbuf *b, const char *path) {
    shardy_status st = SHARDY_OK;
    char *copy = NULL;
    sy_rowrun *runs = NULL;
    FILE *f = NULL;
    uint64_t dropped = 0, bytes = 0;
    if (b->n == 0) return SHARDY_OK;
    sy_rowbuf_sort(b);
    copy = sy_strdup(path);
    runs = sy_realloc(b->runs, (b->nruns + 1) * sizeof *runs);
    if (!copy || !runs) {
        st = sy_err(SHARDY_ENOMEM, "out of memory recording spill run %s", path);
        goto done;
    }
    b->runs = runs;
    f = fopen(path, "wb");
    if (!f) {
        st = sy_err_errno(errno, "cannot create spill run", path);
        goto done;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    for (size_t i = 0; i < b->n; i++) {
        if (superseded(b, i)) {
            dropped++;
            continue;
        }
        const unsigned char *rec = b->ents[i].rec;
        size_t len = 8 + (size_t)rd32(rec) + rd32(rec + 4);
        if (fwrite(rec, 1, len, f) != len) {
            st = sy_err_errno(errno ? errno : EIO, "cannot write spill run", path);
            goto done;
        }
        bytes += len;
    }
    if (fclose(f) != 0) {
        f = NULL;
        st = sy_err_errno(errno, "cannot write spill run", path);
        goto done;
    }
    f = NULL;
    b->runs[b->nruns++] = (sy_rowrun){copy, 0, bytes, 1};
    copy = NULL;
    b->spill_dups += dropped;
    free_memory(b);
done:
    if (f) fclose(f);
    if (st) unlink(path);
    sy_free(copy);
    return st;
}

shardy_status sy_rowbuf_add_run(sy_rowbuf *b, const char *path, uint64_t off, uint64_t len, uint64_t rows,
                                int owned) {
    if (b->n) return sy_err(SHARDY_EINVAL, "sy_rowbuf_add_run: the buffer still holds rows added before");
    char *copy = sy_strdup(path);
    sy_rowrun *runs = sy_realloc(b->runs, (b->nruns + 1) * sizeof *runs);
    if (runs) b->runs = runs;
    if (!copy || !runs) {
        sy_free(copy);
        return sy_err(SHARDY_ENOMEM, "out of memory recording run %s", path);
    }
    b->runs[b->nruns++] = (sy_rowrun){copy, off, len, owned};
    b->rows_total += rows;
    return SHARDY_OK;
}

/* Maps bytes [off, off + len) of path read-only (page-aligned start); *base = the range's first
 * byte. populate → the page tables are filled up front (the caller reads every page anyway). */
static shardy_status map_range(const char *path, uint64_t off, uint64_t len, int populate, sy_rowmap *mp,
                               const unsigned char **base) {
    if (len > SIZE_MAX / 2 || off > UINT64_MAX - len)
        return sy_err(SHARDY_EFORMAT, "%s: byte range [%llu, +%llu) is not addressable", path,
                      (unsigned long long)off, (unsigned long long)len);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        shardy_status st = sy_err_errno(errno, "cannot open", path);
        if (fd >= 0) close(fd);
        return st;
    }
    if ((uint64_t)sb.st_size < off + len) {
        close(fd);
        return sy_err(SHARDY_EFORMAT, "%s is truncated: %llu bytes, the range needs [%llu, %llu)", path,
                      (unsigned long long)sb.st_size, (unsigned long long)off, (unsigned long long)(off + len));
    }
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    uint64_t start = off - off % page;
    size_t maplen = (size_t)(off + len - start);
    void *map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, (off_t)start);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return sy_err_errno(err, "cannot map", path);
    mp->addr = map;
    mp->len = maplen;
    *base = (const unsigned char *)map + (off - start);
    return SHARDY_OK;
}

shardy_status sy_rowbuf_add_records(sy_rowbuf *b, const char *path, uint64_t off, uint64_t len, uint64_t rows,
                                    uint64_t seq0) {
    shardy_status st = SHARDY_OK;
    sy_rowmap mp = {NULL, 0};
    const unsigned char *p, *end;
    if (len / 8 < rows || (len && !rows))
        return sy_err(SHARDY_EFORMAT, "section [%llu, +%llu) of %s cannot hold %llu records", (unsigned long long)off,
                      (unsigned long long)len, path, (unsigned long long)rows);
    if (len == 0) return SHARDY_OK;
    sy_rowmap *maps = sy_realloc(b->maps, (b->nmaps + 1) * sizeof *maps);
    if (!maps) return sy_err(SHARDY_ENOMEM, "out of memory mapping a section of %s", path);
    b->maps = maps;
    SY_TRY(reserve_ents(b, (size_t)rows));
    SY_TRY(map_range(path, off, len, 1, &mp, &p));
    end = p + len;
    sy_rowent *e = b->ents + b->n;
    for (uint64_t i = 0; i < rows; i++) {
        size_t kl, vl;
        if (!rec_fits(p, (size_t)(end - p), &kl, &vl)) goto corrupt;
        e[i].prefix = key_prefix(p + 8, kl);
        e[i].rec = p;
        e[i].seq = seq0 + i;
        p += 8 + kl + vl;
    }
    if (p != end) {
        st = sy_err(SHARDY_EFORMAT, "section [%llu, +%llu) of %s holds more than its %llu records (byte %llu)",
                    (unsigned long long)off, (unsigned long long)len, path, (unsigned long long)rows,
                    (unsigned long long)(off + (uint64_t)(p - (end - len))));
        goto done;
    }
    b->maps[b->nmaps++] = mp;
    mp.addr = NULL;
    b->n += (size_t)rows;
    b->rows_total += rows;
    b->mem_bytes += rows * sizeof *b->ents;
    goto done;
corrupt:
    st = sy_err(SHARDY_EFORMAT, "section [%llu, +%llu) of %s is truncated or corrupt at byte %llu (%llu records expected)",
                (unsigned long long)off, (unsigned long long)len, path,
                (unsigned long long)(off + (uint64_t)(p - (end - len))), (unsigned long long)rows);
done:
    if (mp.addr) munmap(mp.addr, mp.len);
    return st;
}

/* ---- merge ------------------------------------------------------------------------------------ */

/* A merge source: one mapped run, or the sorted in-memory rows. Runs are read through a read-only
 * mapping of their byte range, so a row handed out points into the page cache (no copy), and the
 * previous key of the same source is still addressable for the order check. */
typedef struct src {
    const char *path;          /* run file, or NULL for the memory source */
    unsigned char *map;        /* mapping of the run (page-aligned start), or NULL */
    size_t maplen;
    uint64_t map_off;          /* file offset of map */
    const unsigned char *p, *end; /* unread bytes of the run */
    const unsigned char *k, *v;
    size_t klen, vlen;
    uint64_t pfx;              /* first 8 key bytes, big-endian, zero padded */
    size_t idx;                /* position in srcs: higher = newer */
    int live;
} src;

struct sy_rowmerge {
    sy_rowbuf *b;
    src *srcs;     /* runs oldest first, memory last (newest) */
    size_t nsrcs;
    src **heap;    /* live sources, smallest key on top; equal keys: newest on top */
    size_t nheap;
    size_t mem_i;  /* next entry of the memory source */
    uint64_t dups;
    src *pending;  /* source of the row returned last; advanced on the next call */
};

/* Key order of two sources' current rows (prefix first, then the bytes). */
static int src_key_cmp(const src *a, const src *b) {
    if (a->pfx != b->pfx) return a->pfx < b->pfx ? -1 : 1;
    if (a->klen <= 8 && b->klen <= 8) return a->klen < b->klen ? -1 : a->klen > b->klen;
    return key_cmp(a->k, a->klen, b->k, b->klen);
}

/* Heap order: smaller key first; on equal keys the newer source first. */
static int src_before(const src *a, const src *b) {
    int c = src_key_cmp(a, b);
    return c ? c < 0 : a->idx > b->idx;
}

static void heap_down(sy_rowmerge *m, size_t i) {
    src **h = m->heap;
    size_t n = m->nheap;
    src *x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && src_before(h[c + 1], h[c])) c++;
        if (!src_before(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* Advances a source; returns 0 ok (live may become 0 at end), <0 on error. */
static int src_next(sy_rowmerge *m, src *s, shardy_status *st) {
    if (!s->path) {
        sy_rowbuf *b = m->b;
        while (m->mem_i < b->n && superseded(b, m->mem_i)) {
            m->mem_i++;
            m->dups++;
        }
        if (m->mem_i >= b->n) {
            s->live = 0;
            return 0;
        }
        if (m->mem_i + 16 < b->n) __builtin_prefetch(b->ents[m->mem_i + 16].rec); /* records are scattered */
        const sy_rowent *e = &b->ents[m->mem_i++];
        s->klen = rd32(e->rec);
        s->vlen = rd32(e->rec + 4);
        s->k = e->rec + 8;
        s->v = e->rec + 8 + s->klen;
        s->pfx = e->prefix;
        s->live = 1;
        return 0;
    }
    size_t left = (size_t)(s->end - s->p);
    if (left == 0) {
        s->live = 0;
        return 0;
    }
    size_t kl, vl;
    if (!rec_fits(s->p, left, &kl, &vl)) goto corrupt;
    const unsigned char *k = s->p + 8;
    uint64_t pfx = key_prefix(k, kl);
    if (s->live && (pfx < s->pfx || (pfx == s->pfx && key_cmp(s->k, s->klen, k, kl) >= 0))) {
        *st = sy_err(SHARDY_EFORMAT, "run %s: keys not strictly increasing at byte %llu of the file", s->path,
                     (unsigned long long)(s->map_off + (uint64_t)(s->p - s->map)));
        return -1;
    }
    s->k = k;
    s->klen = kl;
    s->v = k + kl;
    s->vlen = vl;
    s->pfx = pfx;
    s->p = k + kl + vl;
    s->live = 1;
    return 0;
corrupt:
    *st = sy_err(SHARDY_EFORMAT, "run %s is truncated or corrupt: the record at byte %llu does not fit in the %zu bytes left",
                 s->path, (unsigned long long)(s->map_off + (uint64_t)(s->p - s->map)), left);
    return -1;
}

shardy_status sy_rowmerge_open(sy_rowbuf *b, sy_rowmerge **out) {
    shardy_status st = SHARDY_OK;
    *out = NULL;
    sy_rowmerge *m = sy_calloc(1, sizeof *m);
    if (!m) return sy_err(SHARDY_ENOMEM, "out of memory opening a merge");
    m->b = b;
    m->srcs = sy_calloc(b->nruns + 1, sizeof *m->srcs);
    m->heap = sy_calloc(b->nruns + 1, sizeof *m->heap);
    if (!m->srcs || !m->heap) {
        st = sy_err(SHARDY_ENOMEM, "out of memory opening a merge");
        goto done;
    }
    sy_rowbuf_sort(b);
    for (size_t i = 0; i < b->nruns; i++) {
        const sy_rowrun *r = &b->runs[i];
        src *s = &m->srcs[m->nsrcs];
        s->idx = m->nsrcs++;
        s->path = r->path;
        if (r->len == 0) continue;
        sy_rowmap mp;
        const unsigned char *base;
        SY_TRY(map_range(r->path, r->off, r->len, 0, &mp, &base));
        (void)madvise(mp.addr, mp.len, MADV_SEQUENTIAL);
        s->map = mp.addr;
        s->maplen = mp.len;
        s->map_off = r->off - (uint64_t)(base - (const unsigned char *)mp.addr);
        s->p = base;
        s->end = base + r->len;
    }
    m->srcs[m->nsrcs].idx = m->nsrcs; /* the memory source, newest */
    m->nsrcs++;
    for (size_t i = 0; i < m->nsrcs; i++) {
        src *s = &m->srcs[i];
        if (src_next(m, s, &st) < 0) goto done;
        if (s->live) m->heap[m->nheap++] = s;
    }
    for (size_t i = m->nheap / 2; i-- > 0;) heap_down(m, i);
done:
    if (st) {
        sy_rowmerge_close(&m);
        return st;
    }
    *out = m;
    return SHARDY_OK;
}

/* Advances the top source and restores the heap. */
static int advance_top(sy_rowmerge *m, shardy_status *st) {
    src *s = m->heap[0];
    if (src_next(m, s, st) < 0) return -1;
    if (!s->live) m->heap[0] = m->heap[--m->nheap];
    if (m->nheap) heap_down(m, 0);
    return 0;
}

int sy_rowmerge_next(sy_rowmerge *m, const void **k, size_t *klen, const void **v, size_t *vlen, shardy_status *st) {
    /* The row returned last time stays valid until now: advance its source first. */
    if (m->pending) {
        m->pending = NULL;
        if (advance_top(m, st) < 0) return -1;
    }
    if (!m->nheap) return 0;
    /* The top is the smallest key, from the newest source holding it; older copies are skipped.
     * Each is advanced while it is not on top, so the top's row stays in place meanwhile. */
    src *best = m->heap[0];
    for (;;) {
        size_t n = m->nheap, c = 1;
        if (n > 2 && src_before(m->heap[2], m->heap[1])) c = 2;
        if (c >= n || src_key_cmp(m->heap[c], best) != 0) break;
        src *old = m->heap[c];
        m->dups++;
        if (src_next(m, old, st) < 0) return -1;
        if (!old->live) {
            m->heap[c] = m->heap[--m->nheap];
            if (c == m->nheap) continue; /* it was the last slot */
        }
        heap_down(m, c);
    }
    *k = best->k;
    *klen = best->klen;
    *v = best->v;
    *vlen = best->vlen;
    m->pending = best;
    return 1;
}

uint64_t sy_rowmerge_duplicates(const sy_rowmerge *m) { return m->dups + m->b->spill_dups; }

void sy_rowmerge_close(sy_rowmerge **pm) {
    sy_rowmerge *m = pm ? *pm : NULL;
    if (!m) return;
    for (size_t i = 0; m->srcs && i < m->nsrcs; i++)
        if (m->srcs[i].map) munmap(m->srcs[i].map, m->srcs[i].maplen);
    sy_free(m->srcs);
    sy_free(m->heap);
    sy_free(m);
    *pm = NULL;
}
