/*
 * lookup.c — point lookups: get / get_alloc (copy out), multi_get (batched) and cursors
 * (zero-copy), spec reader-cli §2.4–2.5.
 *
 * Every lookup pins one state for its whole duration (sy_reader_acquire), so a refresh in the
 * middle of a multi_get never mixes snapshots, and the state's handles outlive the call.
 *
 *   get        acquire state → encode + route → empty shard: miss, no I/O → take a handle from
 *              the shard's pool → SELECT → copy → give the handle back → release.
 *   multi_get  one state for the batch; keys are encoded and routed, then sorted by (shard,
 *              encoded key) so each shard is read with one handle in B-tree order; equal keys are
 *              looked up once. Values are packed into one buffer; answers are in input order.
 *              All-or-nothing: a routing/encoding error or a shard error fails the whole call.
 *   cursor     owns handles taken from its state's pools (one per shard it touched) and keeps
 *              them between calls, so a lookup costs encode + route + SELECT, with no atomic
 *              read-modify-write and no allocation. On each call it compares its state with the
 *              reader's current one (one atomic load) and, if a refresh happened, gives its
 *              handles back, releases the old state and pins the new one.
 *
 * Ownership: values of get_alloc are sy_malloc'd (shardy_free); shardy_values owns its buffer;
 * a cursor's view belongs to the shard handle and lives until the next call on the cursor.
 * Thread-safety: get/get_alloc/multi_get on one reader from any number of threads; a cursor is
 * used by one thread at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "read/read.h"

static shardy_status closed_err(void) { return sy_err(SHARDY_ECLOSED, "Reader is closed"); }

/* Looks key up in state s. On a hit calls sink(ctx, value view) while the handle is held. */
typedef shardy_status (*value_sink)(void *ctx, const void *v, size_t n);

static shardy_status state_get(sy_rstate *s, const shardy_key *key, int64_t forced, int *found, value_sink sink,
                               void *ctx) {
    unsigned char scratch[8];
    const void *k = NULL, *v = NULL;
    size_t kn = 0, vn = 0;
    uint32_t db = 0;
    sy_shard_reader *h = NULL;
    *found = 0;
    shardy_status st = sy_rstate_route_with(s, key, forced, scratch, &db, &k, &kn);
    if (st == SHARDY_ENOTFOUND) return SHARDY_OK; /* unknown categorical token: a miss */
    if (st != SHARDY_OK) return st;
    sy_rshard *sh = s->shards[db];
    if (!sh) return SHARDY_OK;
    st = sy_rstate_take(s, sh, &h);
    if (st != SHARDY_OK) return st;
    st = sy_shard_reader_get(h, k, kn, &v, &vn);
    if (st == SHARDY_OK) {
        *found = 1;
        st = sink(ctx, v, vn);
    } else if (st == SHARDY_ENOTFOUND) {
        st = SHARDY_OK;
    }
    sy_rstate_give(sh, h);
    return st;
}

typedef struct copy_ctx {
    void *buf;
    size_t cap;
    size_t *vlen;
} copy_ctx;

static shardy_status copy_sink(void *c, const void *v, size_t n) {
    copy_ctx *cc = c;
    *cc->vlen = n;
    if (n > cc->cap) return sy_err(SHARDY_ERANGE, "value is %zu bytes, the buffer holds %zu", n, cc->cap);
    if (n) memcpy(cc->buf, v, n);
    return SHARDY_OK;
}

typedef struct alloc_ctx {
    void **val;
    size_t *vlen;
} alloc_ctx;

static shardy_status alloc_sink(void *c, const void *v, size_t n) {
    alloc_ctx *ac = c;
    void *p = sy_malloc(n ? n : 1);
    if (!p) return sy_err(SHARDY_ENOMEM, "out of memory for a %zu-byte value", n);
    if (n) memcpy(p, v, n);
    *ac->val = p;
    *ac->vlen = n;
    return SHARDY_OK;
}

shardy_status shardy_reader_get(shardy_reader *r, const shardy_key *key, void *buf, size_t cap, size_t *vlen,
                                 int *found) {
    if (!key || !vlen || !found || (!buf && cap)) return sy_err(SHARDY_EINVAL, "shardy_reader_get: NULL argument");
    *vlen = 0;
    *found = 0;
    sy_rstate *s = sy_reader_valid(r) ? sy_reader_acquire(r) : NULL;
    if (!s) return closed_err();
    copy_ctx cc = {buf, cap, vlen};
    shardy_status st = state_get(s, key, -1, found, copy_sink, &cc);
    sy_rstate_release(s);
    return st;
}

shardy_status shardy_reader_get_alloc(shardy_reader *r, const shardy_key *key, void **val, size_t *vlen,
                                      int *found) {
    if (!key || !val || !vlen || !found) return sy_err(SHARDY_EINVAL, "shardy_reader_get_alloc: NULL argument");
    *val = NULL;
    *vlen = 0;
    *found = 0;
    sy_rstate *s = sy_reader_valid(r) ? sy_reader_acquire(r) : NULL;
    if (!s) return closed_err();
    alloc_ctx ac = {val, vlen};
    shardy_status st = state_get(s, key, -1, found, alloc_sink, &ac);
    if (st != SHARDY_OK) *found = 0;
    sy_rstate_release(s);
    return st;
}

/* The shard a routing context selects: >= 0, or -2 for an unknown categorical token (all miss). */
static shardy_status ctx_shard(const sy_rstate *s, const shardy_routing_ctx *ctx, int64_t *forced) {
    uint32_t db = 0;
    shardy_status st = sy_rstate_route_ctx(s, ctx, &db);
    if (st == SHARDY_ENOTFOUND) {
        *forced = -2;
        return SHARDY_OK;
    }
    *forced = db;
    return st;
}

shardy_status shardy_reader_get_ctx(shardy_reader *r, const shardy_key *key, const shardy_routing_ctx *ctx,
                                    void **val, size_t *vlen, int *found) {
    int64_t forced = -1;
    if (!key || !ctx || !val || !vlen || !found) return sy_err(SHARDY_EINVAL, "shardy_reader_get_ctx: NULL argument");
    *val = NULL;
    *vlen = 0;
    *found = 0;
    sy_rstate *s = sy_reader_valid(r) ? sy_reader_acquire(r) : NULL;
    if (!s) return closed_err();
    alloc_ctx ac = {val, vlen};
    shardy_status st = ctx_shard(s, ctx, &forced);
    if (st == SHARDY_OK && forced >= 0) st = state_get(s, key, forced, found, alloc_sink, &ac);
    if (st != SHARDY_OK) *found = 0;
    sy_rstate_release(s);
    return st;
}

/* ---- multi_get -------------------------------------------------------------------------------- */

/* A key routed to a non-empty shard; stays in input order (p may point into buf). */
typedef struct mg_key {
    const void *p;
    size_t n;
    size_t idx; /* input position */
    unsigned char buf[8];
} mg_key;

/* Sort record: shard, then the first 8 key bytes big-endian (zero padded), then input order. */
typedef struct mg_rec {
    uint64_t k8;
    uint32_t db;
    uint32_t ki; /* index into the mg_key array */
} mg_rec;

typedef struct mg_item {
    size_t off;
    size_t len;
    int found;
} mg_item;

struct shardy_values {
    size_t n;
    mg_item *items; /* points just after the struct (one allocation) */
    char *data;     /* packed values (sy_buf memory) */
};

#define MG_INSERTION_MAX 48 /* below this, insertion sort beats the radix passes */
#define MG_STACK_KEYS 32     /* batches up to this size keep their sort buffers on the stack */

static uint64_t mg_k8(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) v = v << 8 | (i < n ? b[i] : 0);
    return v;
}

/* Full order of two records: (db, key bytes, key length, input order). */
static int mg_less(const mg_rec *x, const mg_rec *y, const mg_key *mk) {
    if (x->db != y->db) return x->db < y->db;
    if (x->k8 != y->k8) return x->k8 < y->k8;
    const mg_key *a = &mk[x->ki], *b = &mk[y->ki];
    size_t n = a->n < b->n ? a->n : b->n;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c) return c < 0;
    if (a->n != b->n) return a->n < b->n;
    return x->ki < y->ki;
}

static void mg_insertion(mg_rec *a, size_t n, const mg_key *mk) {
    for (size_t i = 1; i < n; i++) {
        mg_rec t = a[i];
        size_t j = i;
        for (; j > 0 && mg_less(&t, &a[j - 1], mk); j--) a[j] = a[j - 1];
        a[j] = t;
    }
}

/* Stable LSD radix sort by (db, k8): 8 key-byte passes then the db bytes, skipping passes where
 * every record has the same byte (e.g. the high bytes of small integers). All histograms come
 * from one read of the input. Returns the array that holds the result (a or tmp). Then runs of
 * equal (db, k8) whose keys are longer than 8 bytes or differ in length get a full comparison. */
static mg_rec *mg_sort(mg_rec *a, mg_rec *tmp, size_t n, uint32_t num_dbs, const mg_key *mk) {
    if (n < MG_INSERTION_MAX) {
        mg_insertion(a, n, mk);
        return a;
    }
    enum { PASSES = 12 };
    size_t (*hist)[256] = sy_calloc(PASSES, sizeof *hist);
    if (!hist) { /* out of memory: insertion sort is slow but correct */
        mg_insertion(a, n, mk);
        return a;
    }
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 8; b++) hist[b][(a[i].k8 >> (8 * b)) & 255]++;
        for (int b = 0; b < 4; b++) hist[8 + b][(a[i].db >> (8 * b)) & 255]++;
    }
    for (int pass = 0; pass < PASSES; pass++) {
        int shift = pass < 8 ? 8 * pass : 8 * (pass - 8);
        if (pass >= 8 && ((uint64_t)(num_dbs - 1) >> shift) == 0) break;
        unsigned first = (unsigned)((pass < 8 ? a[0].k8 : a[0].db) >> shift) & 255;
        if (hist[pass][first] == n) continue;
        size_t pos[256], sum = 0;
        for (int v = 0; v < 256; v++) pos[v] = sum, sum += hist[pass][v];
        for (size_t i = 0; i < n; i++) {
            unsigned v = (unsigned)((pass < 8 ? a[i].k8 : a[i].db) >> shift) & 255;
            tmp[pos[v]++] = a[i];
        }
        mg_rec *t = a;
        a = tmp;
        tmp = t;
    }
    sy_free(hist);
    for (size_t g = 0; g < n;) {
        size_t e = g + 1;
        int mixed = mk[a[g].ki].n > 8;
        for (; e < n && a[e].db == a[g].db && a[e].k8 == a[g].k8; e++)
            mixed |= mk[a[e].ki].n != mk[a[g].ki].n || mk[a[e].ki].n > 8;
        if (mixed && e - g > 1) mg_insertion(a + g, e - g, mk);
        g = e;
    }
    return a;
}

size_t shardy_values_count(const shardy_values *v) { return v ? v->n : 0; }

int shardy_values_get(const shardy_values *v, size_t i, const void **p, size_t *len) {
    if (!v || i >= v->n || !v->items[i].found) return 0;
    if (p) *p = v->data ? (const void *)(v->data + v->items[i].off) : (const void *)"";
    if (len) *len = v->items[i].len;
    return 1;
}

void shardy_values_free(shardy_values **v) {
    if (!v || !*v) return;
    sy_free((*v)->data);
    sy_free(*v);
    *v = NULL;
}

static int mg_same(const mg_rec *x, const mg_rec *y, const mg_key *mk) {
    const mg_key *a = &mk[x->ki], *b = &mk[y->ki];
    return x->db == y->db && x->k8 == y->k8 && a->n == b->n && (a->n <= 8 || !memcmp(a->p, b->p, a->n));
}

/* Reads the keys of recs[0..n) (sorted, all routed to shard sh) with one handle. */
static shardy_status mg_read_group(sy_rstate *s, sy_rshard *sh, const mg_rec *recs, size_t n, const mg_key *mk,
                                   mg_item *items, sy_buf *data) {
    sy_shard_reader *h = NULL;
    shardy_status st = sy_rstate_take(s, sh, &h);
    if (st != SHARDY_OK) return st;
    for (size_t i = 0; i < n; i++) {
        const mg_key *k = &mk[recs[i].ki];
        mg_item *it = &items[k->idx];
        if (i > 0 && mg_same(&recs[i], &recs[i - 1], mk)) { /* duplicate key: same answer */
            *it = items[mk[recs[i - 1].ki].idx];
            continue;
        }
        const void *v = NULL;
        size_t vn = 0;
        st = sy_shard_reader_get(h, k->p, k->n, &v, &vn);
        if (st == SHARDY_ENOTFOUND) {
            st = SHARDY_OK;
            continue;
        }
        if (st != SHARDY_OK) break;
        it->found = 1;
        it->off = data->len;
        it->len = vn;
        st = sy_buf_append(data, v, vn);
        if (st != SHARDY_OK) {
            st = sy_err(SHARDY_ENOMEM, "multi_get: out of memory for values");
            break;
        }
    }
    sy_rstate_give(sh, h);
    return st;
}

static shardy_status multi_get(shardy_reader *r, const shardy_key *keys, size_t n, const shardy_routing_ctx *ctx,
                               shardy_values **out) {
    int64_t forced = -1;
    shardy_status st = SHARDY_OK;
    sy_rstate *s = NULL;
    void *scratch = NULL, *heap = NULL;
    /* Small batches sort on the stack (one allocation less per call). */
    uint64_t small[MG_STACK_KEYS * (2 * sizeof(mg_rec) + sizeof(mg_key)) / sizeof(uint64_t)];
    shardy_values *res = NULL;
    sy_buf data = SY_BUF_INIT;
    if (!out || (!keys && n)) return sy_err(SHARDY_EINVAL, "shardy_reader_multi_get: NULL argument");
    *out = NULL;
    if (n > UINT32_MAX || n > SIZE_MAX / (sizeof(mg_key) + 2 * sizeof(mg_rec) + sizeof(mg_item)))
        return sy_err(SHARDY_ERANGE, "multi_get: %zu keys is too many", n);
    if (!sy_reader_valid(r) || !(s = sy_reader_acquire(r))) return closed_err();
    if (ctx) SY_TRY(ctx_shard(s, ctx, &forced));
    /* One block for the keys and both sort buffers (records first: they need 8-byte alignment). */
    res = sy_calloc(1, sizeof *res + n * sizeof(mg_item));
    if (n <= MG_STACK_KEYS) scratch = small;
    else heap = scratch = sy_malloc(n * (2 * sizeof(mg_rec) + sizeof(mg_key)));
    if (!res || !scratch) SY_TRY(sy_err(SHARDY_ENOMEM, "multi_get: out of memory for %zu keys", n));
    res->items = (mg_item *)(res + 1);
    mg_rec *recs = scratch, *tmp = recs + n;
    mg_key *mk = (mg_key *)(tmp + n);
    res->n = n;
    size_t m = 0; /* keys that route to a non-empty shard */
    for (size_t i = 0; i < n; i++) {
        mg_key *k = &mk[m];
        uint32_t db = 0;
        if (forced == -2) continue; /* unknown categorical token: every key misses */
        st = sy_rstate_route_with(s, &keys[i], forced, k->buf, &db, &k->p, &k->n);
        if (st == SHARDY_ENOTFOUND) {
            st = SHARDY_OK;
            continue;
        }
        if (st != SHARDY_OK) {
            sy_err_wrap(st, "multi_get key #%zu", i);
            goto done;
        }
        if (!s->shards[db]) continue; /* empty shard: a miss without I/O */
        k->idx = i;
        recs[m].k8 = mg_k8(k->p, k->n);
        recs[m].db = db;
        recs[m].ki = (uint32_t)m;
        m++;
    }
    mg_rec *sorted = mg_sort(recs, tmp, m, s->num_dbs, mk);
    /* A first guess at the values' size saves most regrowths (values are usually small). */
    if (m && sy_buf_reserve(&data, (m < 4096 ? m : 4096) * 64) != SHARDY_OK) SY_TRY(SHARDY_ENOMEM);
    for (size_t g = 0; g < m;) {
        size_t e = g + 1;
        while (e < m && sorted[e].db == sorted[g].db) e++;
        SY_TRY(mg_read_group(s, s->shards[sorted[g].db], sorted + g, e - g, mk, res->items, &data));
        g = e;
    }
    res->data = sy_buf_take(&data);
    *out = res;
    res = NULL;
done:
    sy_buf_free(&data);
    shardy_values_free(&res);
    sy_free(heap);
    sy_rstate_release(s);
    return st;
}

shardy_status shardy_reader_multi_get(shardy_reader *r, const shardy_key *keys, size_t n, shardy_values **out) {
    return multi_get(r, keys, n, NULL, out);
}

shardy_status shardy_reader_multi_get_ctx(shardy_reader *r, const shardy_key *keys, size_t n,
                                          const shardy_routing_ctx *ctx, shardy_values **out) {
    if (!ctx) return sy_err(SHARDY_EINVAL, "shardy_reader_multi_get_ctx: NULL routing context");
    return multi_get(r, keys, n, ctx, out);
}

/* ---- cursors ---------------------------------------------------------------------------------- */

static void cursor_unpin(shardy_cursor *c) {
    if (!c->s) return;
    for (uint32_t d = 0; d < c->hcap && d < c->s->num_dbs; d++) {
        if (c->h[d]) sy_rstate_give(c->s->shards[d], c->h[d]);
        c->h[d] = NULL;
    }
    sy_rstate_release(c->s);
    c->s = NULL;
}

/* Moves the cursor to the reader's current state. */
static shardy_status cursor_rebind(shardy_cursor *c) {
    cursor_unpin(c);
    sy_rstate *s = sy_reader_acquire(c->r);
    if (!s) return closed_err();
    if (s->num_dbs > c->hcap) {
        sy_shard_reader **h = sy_realloc(c->h, s->num_dbs * sizeof *h);
        if (!h) {
            sy_rstate_release(s);
            return sy_err(SHARDY_ENOMEM, "cursor: out of memory for %u shard handles", (unsigned)s->num_dbs);
        }
        memset(h + c->hcap, 0, (s->num_dbs - c->hcap) * sizeof *h);
        c->h = h;
        c->hcap = s->num_dbs;
    }
    c->s = s;
    return SHARDY_OK;
}

shardy_status shardy_cursor_open(shardy_reader *r, shardy_cursor **out) {
    if (!out) return sy_err(SHARDY_EINVAL, "shardy_cursor_open: out is NULL");
    *out = NULL;
    if (!sy_reader_valid(r) || atomic_load(&r->closed)) return closed_err();
    shardy_cursor *c = sy_calloc(1, sizeof *c);
    if (!c) return sy_err(SHARDY_ENOMEM, "out of memory for a cursor");
    c->magic = SY_CURSOR_MAGIC;
    c->r = r;
    atomic_fetch_add(&r->users, 1);
    shardy_status st = cursor_rebind(c);
    if (st != SHARDY_OK) {
        shardy_cursor_close(&c);
        return st;
    }
    *out = c;
    return SHARDY_OK;
}

shardy_status shardy_cursor_get(shardy_cursor *c, const shardy_key *key, const void **val, size_t *vlen,
                                int *found) {
    unsigned char scratch[8];
    const void *k = NULL;
    size_t kn = 0;
    uint32_t db = 0;
    shardy_status st;
    if (!c || c->magic != SY_CURSOR_MAGIC) return sy_err(SHARDY_ECLOSED, "cursor is closed");
    if (!key || !val || !vlen || !found) return sy_err(SHARDY_EINVAL, "shardy_cursor_get: NULL argument");
    *found = 0;
    *val = NULL;
    *vlen = 0;
    if (!c->s || atomic_load_explicit(&c->r->cur, memory_order_acquire) != c->s) {
        st = cursor_rebind(c);
        if (st != SHARDY_OK) return st;
    }
    sy_rstate *s = c->s;
    st = sy_rstate_route(s, key, scratch, &db, &k, &kn);
    if (st == SHARDY_ENOTFOUND) return SHARDY_OK; /* unknown categorical token: a miss */
    if (st != SHARDY_OK) return st;
    sy_rshard *sh = s->shards[db];
    if (!sh) return SHARDY_OK;
    if (!c->h[db]) {
        st = sy_rstate_take(s, sh, &c->h[db]);
        if (st != SHARDY_OK) return st;
    }
    st = sy_shard_reader_get(c->h[db], k, kn, val, vlen);
    if (st == SHARDY_OK) {
        *found = 1;
    } else if (st == SHARDY_ENOTFOUND) {
        st = SHARDY_OK;
    }
    return st;
}

void shardy_cursor_close(shardy_cursor **cp) {
    if (!cp || !*cp) return;
    shardy_cursor *c = *cp;
    *cp = NULL;
    if (c->magic != SY_CURSOR_MAGIC) return;
    cursor_unpin(c);
    c->magic = 0;
    sy_free(c->h);
    shardy_reader *r = c->r;
    sy_free(c);
    sy_reader_unref(r);
}
