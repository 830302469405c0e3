/*
 * sqbulk.c — the SQLite bulk loader (see sqbulk.h for why it exists and what it writes).
 *
 * Layout choices
 *   - Pages are numbered in allocation order from 2: leaves and overflow pages as rows arrive,
 *     then each interior level bottom-up; page 1 (header + sqlite_schema) is written last, with
 *     the root page number of the kv index B-tree (any page may be a root).
 *   - Index B-tree: every entry is stored once. Leaves are filled completely; the row that does not
 *     fit becomes the divider to the parent and the next row starts a new leaf. A leaf (and an
 *     interior page) is held back until its successor receives its first cell, so that at the end
 *     no page is left empty: the held page's last cell then moves up and the pending divider moves
 *     down into the last page.
 *   - Cells of index leaves and interior pages share the payload layout and overflow thresholds
 *     (X = (U−12)·64/255 − 23, M = (U−12)·32/255 − 23), so a leaf cell's bytes serve unchanged as
 *     an interior cell after the 4-byte child pointer.
 *   - Page writes are coalesced: runs of consecutive page numbers go out in one pwrite.
 *
 * Memory: one page buffer per open page, the dividers of the level being built (one cell per
 * child page, at most X + 13 bytes each), a write-behind buffer of WB_PAGES pages. No allocation
 * per row (the divider list grows geometrically).
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sync_file_range */
#endif
#include "shard/sqbulk.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

#define SCHEMA_SQL "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
#define WB_PAGES 64
#define WRITEBACK_KICK ((off_t)8 << 20) /* writeback mode: start disk writes every 8 MiB */
#define LEAF_HDR 8
#define INTERIOR_HDR 12

typedef struct page {
    unsigned char *buf;
    uint32_t hdr_len;   /* 8 leaf, 12 interior */
    uint32_t ncells;
    uint32_t content;   /* start of the cell content area */
    uint32_t last_size; /* size of the last cell added */
    uint32_t right;     /* interior: right-most child */
} page;

/* Child pages of a level and the divider cells between them (n children, n − 1 dividers). */
typedef struct level {
    uint32_t *kids;
    size_t nkids, capkids;
    unsigned char *arena; /* divider cells, back to back */
    size_t alen, acap;
    size_t *off;          /* off[i] = start of divider i; its end is off[i + 1] or alen */
    size_t ndivs, capdivs;
} level;

struct sy_sqbulk {
    int fd;
    char *path;
    uint32_t U, X, M;
    uint32_t next_pgno;
    page leaf, held;
    int have_held;
    unsigned char *pend; /* pending divider: leaf cell bytes */
    size_t pend_len;
    level l1;
    unsigned char *wbuf;
    uint32_t wfirst, wn;
    unsigned char *ovf;  /* overflow page scratch */
    uint64_t rows;
    int writeback;       /* start writeback of written pages early (sy_sqbulk_writeback) */
    off_t wb_from;       /* bytes before this offset have had writeback started */
};

/* ---- small helpers --------------------------------------------------------------------------- */

int sy_sqbulk_key_cmp(const void *a, size_t an, const void *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static size_t varint_len(uint64_t v) {
    if (v > 0x00FFFFFFFFFFFFFFull) return 9;
    size_t n = 1;
    while (v >>= 7) n++;
    return n;
}

static size_t put_varint(unsigned char *p, uint64_t v) {
    if (v > 0x00FFFFFFFFFFFFFFull) {
        p[8] = (unsigned char)v;
        v >>= 8;
        for (int i = 7; i >= 0; i--) {
            p[i] = (unsigned char)((v & 0x7f) | 0x80);
            v >>= 7;
        }
        return 9;
    }
    size_t n = varint_len(v);
    for (size_t i = n; i-- > 0;) {
        p[i] = (unsigned char)((v & 0x7f) | (i + 1 < n ? 0x80 : 0));
        v >>= 7;
    }
    return n;
}

static void put_be16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static shardy_status io_fail(const sy_sqbulk *b, int err, const char *what) {
    return sy_err(SHARDY_EIO, "%s %s: %s", what, b->path, strerror(err ? err : EIO));
}

/* ---- page output ----------------------------------------------------------------------------- */

static shardy_status flush_writes(sy_sqbulk *b) {
    size_t len = (size_t)b->wn * b->U, done = 0;
    off_t at = (off_t)(b->wfirst - 1) * b->U;
    while (done < len) {
        ssize_t w = pwrite(b->fd, b->wbuf + done, len - done, at + (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return io_fail(b, errno, "cannot write SQLite shard");
        done += (size_t)w;
    }
    b->wn = 0;
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
    off_t end = at + (off_t)len;
    if (b->writeback && end - b->wb_from >= WRITEBACK_KICK) {
        /* Asynchronous: queues the dirty range for the disk and returns. Best effort — the fsync
         * at the end reports any write error. */
        (void)sync_file_range(b->fd, b->wb_from, end - b->wb_from, SYNC_FILE_RANGE_WRITE);
        b->wb_from = end;
    }
#endif
    return SHARDY_OK;
}

static shardy_status write_page(sy_sqbulk *b, uint32_t pgno, const unsigned char *data) {
    if (b->wn && (pgno != b->wfirst + b->wn || b->wn == WB_PAGES)) {
        shardy_status st = flush_writes(b);
        if (st) return st;
    }
    if (!b->wn) b->wfirst = pgno;
    memcpy(b->wbuf + (size_t)b->wn * b->U, data, b->U);
    b->wn++;
    return SHARDY_OK;
}

/* ---- pages ----------------------------------------------------------------------------------- */

static void page_reset(sy_sqbulk *b, page *p, int interior) {
    memset(p->buf, 0, b->U);
    p->hdr_len = interior ? INTERIOR_HDR : LEAF_HDR;
    p->ncells = 0;
    p->content = b->U;
    p->last_size = 0;
    p->right = 0;
}

static int page_fits(const page *p, size_t cell) {
    return (size_t)p->hdr_len + 2u * (p->ncells + 1) + cell <= p->content;
}

/* Reserves a cell of size n (checked with page_fits) and returns where to write it. */
static unsigned char *page_cell(page *p, size_t n) {
    p->content -= (uint32_t)n;
    put_be16(p->buf + p->hdr_len + 2u * p->ncells, p->content);
    p->ncells++;
    p->last_size = (uint32_t)n;
    return p->buf + p->content;
}

/* Removes the last cell (its bytes stay readable until the page buffer is reused). */
static const unsigned char *page_pop(page *p, size_t *n) {
    const unsigned char *c = p->buf + p->content;
    *n = p->last_size;
    p->ncells--;
    p->content += p->last_size;
    put_be16(p->buf + p->hdr_len + 2u * p->ncells, 0);
    p->last_size = 0; /* one pop per page: the loader never pops twice */
    return c;
}

/* Fills in the page header and writes the page; *pgno = its new page number. */
static shardy_status page_write(sy_sqbulk *b, page *p, uint32_t *pgno) {
    unsigned char *h = p->buf;
    h[0] = p->hdr_len == INTERIOR_HDR ? 0x02 : 0x0a;
    put_be16(h + 1, 0);
    put_be16(h + 3, p->ncells);
    put_be16(h + 5, p->content == 65536 ? 0 : p->content);
    h[7] = 0;
    if (p->hdr_len == INTERIOR_HDR) put_be32(h + 8, p->right);
    *pgno = b->next_pgno++;
    return write_page(b, *pgno, p->buf);
}

/* ---- level lists ----------------------------------------------------------------------------- */

static shardy_status level_push(level *l, uint32_t kid, const unsigned char *div, size_t dlen, int has_div) {
    if (l->nkids == l->capkids) {
        size_t cap = l->capkids ? l->capkids * 2 : 256;
        uint32_t *k = sy_realloc(l->kids, cap * sizeof *k);
        if (!k) return sy_err(SHARDY_ENOMEM, "out of memory building a SQLite B-tree level");
        l->kids = k;
        l->capkids = cap;
    }
    l->kids[l->nkids++] = kid;
    if (!has_div) return SHARDY_OK;
    if (l->ndivs == l->capdivs) {
        size_t cap = l->capdivs ? l->capdivs * 2 : 256;
        size_t *o = sy_realloc(l->off, cap * sizeof *o);
        if (!o) return sy_err(SHARDY_ENOMEM, "out of memory building a SQLite B-tree level");
        l->off = o;
        l->capdivs = cap;
    }
    if (l->alen + dlen > l->acap) {
        size_t cap = l->acap ? l->acap : 65536;
        while (cap < l->alen + dlen) cap *= 2;
        unsigned char *a = sy_realloc(l->arena, cap);
        if (!a) return sy_err(SHARDY_ENOMEM, "out of memory building a SQLite B-tree level");
        l->arena = a;
        l->acap = cap;
    }
    l->off[l->ndivs++] = l->alen;
    memcpy(l->arena + l->alen, div, dlen);
    l->alen += dlen;
    return SHARDY_OK;
}

static const unsigned char *level_div(const level *l, size_t i, size_t *n) {
    size_t end = i + 1 < l->ndivs ? l->off[i + 1] : l->alen;
    *n = end - l->off[i];
    return l->arena + l->off[i];
}

static void level_free(level *l) {
    sy_free(l->kids);
    sy_free(l->arena);
    sy_free(l->off);
    memset(l, 0, sizeof *l);
}

/* ---- cells ----------------------------------------------------------------------------------- */

typedef struct payload {
    unsigned char hdr[24];
    size_t hlen;
    const unsigned char *k, *v;
    size_t klen, vlen;
    uint64_t total;  /* P */
    size_t local;
    int overflow;
} payload;

static void payload_init(const sy_sqbulk *b, payload *pl, const void *k, size_t kl, const void *v, size_t vl) {
    static const unsigned char empty[1] = {0};
    uint64_t sk = 2 * (uint64_t)kl + 12, sv = 2 * (uint64_t)vl + 12;
    size_t body = varint_len(sk) + varint_len(sv);
    size_t hsize = body + 1; /* header size varint is one byte: body <= 18 */
    pl->hlen = 0;
    pl->hlen += put_varint(pl->hdr, hsize);
    pl->hlen += put_varint(pl->hdr + pl->hlen, sk);
    pl->hlen += put_varint(pl->hdr + pl->hlen, sv);
    pl->k = kl ? k : empty;
    pl->v = vl ? v : empty;
    pl->klen = kl;
    pl->vlen = vl;
    pl->total = pl->hlen + (uint64_t)kl + vl;
    if (pl->total <= b->X) {
        pl->local = (size_t)pl->total;
        pl->overflow = 0;
    } else {
        uint64_t K = b->M + ((pl->total - b->M) % (b->U - 4));
        pl->local = K <= b->X ? (size_t)K : b->M;
        pl->overflow = 1;
    }
}

static size_t cell_size(const payload *pl) {
    return varint_len(pl->total) + pl->local + (pl->overflow ? 4 : 0);
}

/* Copies payload bytes [from, from + n) to dst. */
static void payload_copy(const payload *pl, unsigned char *dst, uint64_t from, size_t n) {
    const unsigned char *parts[3] = {pl->hdr, pl->k, pl->v};
    size_t lens[3] = {pl->hlen, pl->klen, pl->vlen};
    for (int i = 0; i < 3 && n; i++) {
        if (from >= lens[i]) {
            from -= lens[i];
            continue;
        }
        size_t take = lens[i] - (size_t)from < n ? lens[i] - (size_t)from : n;
        memcpy(dst, parts[i] + from, take);
        dst += take;
        n -= take;
        from = 0;
    }
}

/* Writes the cell into dst (cell_size bytes), writing its overflow pages first. */
static shardy_status write_cell(sy_sqbulk *b, const payload *pl, unsigned char *dst) {
    size_t at = put_varint(dst, pl->total);
    payload_copy(pl, dst + at, 0, pl->local);
    at += pl->local;
    if (!pl->overflow) return SHARDY_OK;
    uint64_t rest = pl->total - pl->local, from = pl->local;
    uint32_t per = b->U - 4;
    uint32_t first = b->next_pgno;
    uint64_t npages = (rest + per - 1) / per;
    if (npages > UINT32_MAX - first) return sy_err(SHARDY_ERANGE, "SQLite shard %s: too many pages", b->path);
    b->next_pgno += (uint32_t)npages;
    put_be32(dst + at, first);
    for (uint64_t i = 0; i < npages; i++) {
        size_t n = rest < per ? (size_t)rest : per;
        memset(b->ovf, 0, b->U);
        put_be32(b->ovf, i + 1 < npages ? first + (uint32_t)i + 1 : 0);
        payload_copy(pl, b->ovf + 4, from, n);
        shardy_status st = write_page(b, first + (uint32_t)i, b->ovf);
        if (st) return st;
        from += n;
        rest -= n;
    }
    return SHARDY_OK;
}

/* ---- public ---------------------------------------------------------------------------------- */

void sy_sqbulk_writeback(sy_sqbulk *b, int on) {
    if (b) b->writeback = on;
}

shardy_status sy_sqbulk_open(const char *path, int page_size, sy_sqbulk **out) {
    *out = NULL;
    if (page_size < 4096 || page_size > 65536 || (page_size & (page_size - 1)))
        return sy_err(SHARDY_EINVAL, "SQLite shard %s: page size %d is not a power of two in 4096..65536", path,
                      page_size);
    sy_sqbulk *b = sy_calloc(1, sizeof *b);
    if (!b) return sy_err(SHARDY_ENOMEM, "out of memory opening %s", path);
    b->fd = -1;
    b->U = (uint32_t)page_size;
    b->X = (b->U - 12) * 64 / 255 - 23;
    b->M = (b->U - 12) * 32 / 255 - 23;
    b->next_pgno = 2;
    b->path = sy_strdup(path);
    b->leaf.buf = sy_malloc(b->U);
    b->held.buf = sy_malloc(b->U);
    b->pend = sy_malloc(b->U);
    b->ovf = sy_malloc(b->U);
    b->wbuf = sy_malloc((size_t)WB_PAGES * b->U);
    /* level 1 starts with room for 256 leaves: small shards allocate nothing after open */
    b->l1.kids = sy_malloc(256 * sizeof *b->l1.kids);
    b->l1.off = sy_malloc(256 * sizeof *b->l1.off);
    b->l1.arena = sy_malloc(65536);
    b->l1.capkids = b->l1.capdivs = 256;
    b->l1.acap = 65536;
    if (!b->path || !b->leaf.buf || !b->held.buf || !b->pend || !b->ovf || !b->wbuf || !b->l1.kids || !b->l1.off ||
        !b->l1.arena) {
        sy_sqbulk_free(&b);
        return sy_err(SHARDY_ENOMEM, "out of memory opening %s", path);
    }
    b->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (b->fd < 0) {
        shardy_status st = io_fail(b, errno, "cannot create SQLite shard");
        sy_sqbulk_free(&b);
        return st;
    }
    page_reset(b, &b->leaf, 0);
    *out = b;
    return SHARDY_OK;
}

/* Writes the held leaf and records it with the pending divider in level 1. */
static shardy_status release_held(sy_sqbulk *b) {
    uint32_t pg;
    shardy_status st = page_write(b, &b->held, &pg);
    if (!st) st = level_push(&b->l1, pg, b->pend, b->pend_len, 1);
    b->have_held = 0;
    return st;
}

shardy_status sy_sqbulk_add(sy_sqbulk *b, const void *k, size_t klen, const void *v, size_t vlen) {
    payload pl;
    payload_init(b, &pl, k, klen, v, vlen);
    size_t cs = cell_size(&pl);
    shardy_status st;
    b->rows++;
    if (b->have_held) { /* the leaf is empty and the row after the divider has come */
        st = release_held(b);
        if (st) return st;
    } else if (!page_fits(&b->leaf, cs)) { /* leaf full: this row is the divider */
        page t = b->held;
        b->held = b->leaf;
        b->leaf = t;
        page_reset(b, &b->leaf, 0);
        b->have_held = 1;
        b->pend_len = cs;
        return write_cell(b, &pl, b->pend);
    }
    return write_cell(b, &pl, page_cell(&b->leaf, cs));
}

/* Builds the parent level of l (l has > 1 children) into *up. */
static shardy_status build_level(sy_sqbulk *b, const level *l, level *up) {
    shardy_status st = SHARDY_OK;
    page cur = {0}, held = {0};
    unsigned char *pdiv = NULL, *tmp = NULL;
    size_t pdiv_len = 0;
    int have_held = 0;
    uint32_t pg;
    cur.buf = sy_malloc(b->U);
    held.buf = sy_malloc(b->U);
    pdiv = sy_malloc(b->U);
    tmp = sy_malloc(b->U);
    if (!cur.buf || !held.buf || !pdiv || !tmp) {
        st = sy_err(SHARDY_ENOMEM, "out of memory building a SQLite B-tree level");
        goto done;
    }
    page_reset(b, &cur, 1);
    for (size_t i = 0; i + 1 < l->nkids; i++) {
        size_t dl;
        const unsigned char *d = level_div(l, i, &dl);
        size_t cs = 4 + dl;
        if (have_held) {
            SY_TRY(page_write(b, &held, &pg));
            SY_TRY(level_push(up, pg, pdiv, pdiv_len, 1));
            have_held = 0;
        } else if (!page_fits(&cur, cs)) {
            cur.right = l->kids[i];
            page t = held;
            held = cur;
            cur = t;
            page_reset(b, &cur, 1);
            memcpy(pdiv, d, dl);
            pdiv_len = dl;
            have_held = 1;
            continue;
        }
        unsigned char *c = page_cell(&cur, cs);
        put_be32(c, l->kids[i]);
        memcpy(c + 4, d, dl);
    }
    if (have_held) {
        /* cur would stay empty: held's last cell (c_j, d_j) comes out, held's right-most child
         * becomes c_j, the pending divider goes down into cur with held's old right-most child,
         * and d_j is the divider between held and cur. */
        size_t n;
        const unsigned char *c = page_pop(&held, &n);
        memcpy(tmp, c, n);
        uint32_t old_right = held.right;
        held.right = ((uint32_t)tmp[0] << 24) | ((uint32_t)tmp[1] << 16) | ((uint32_t)tmp[2] << 8) | tmp[3];
        unsigned char *cc = page_cell(&cur, 4 + pdiv_len);
        put_be32(cc, old_right);
        memcpy(cc + 4, pdiv, pdiv_len);
        SY_TRY(page_write(b, &held, &pg));
        SY_TRY(level_push(up, pg, tmp + 4, n - 4, 1));
    }
    cur.right = l->kids[l->nkids - 1];
    SY_TRY(page_write(b, &cur, &pg));
    SY_TRY(level_push(up, pg, NULL, 0, 0));
done:
    sy_free(cur.buf);
    sy_free(held.buf);
    sy_free(pdiv);
    sy_free(tmp);
    return st;
}

static shardy_status write_page1(sy_sqbulk *b, uint32_t root, uint32_t npages) {
    unsigned char *p = b->ovf;
    memset(p, 0, b->U);
    memcpy(p, "SQLite format 3", 16);
    put_be16(p + 16, b->U == 65536 ? 1 : b->U);
    p[18] = 1; /* write version: legacy (rollback journal) */
    p[19] = 1; /* read version */
    p[20] = 0; /* reserved bytes per page */
    p[21] = 64;
    p[22] = 32;
    p[23] = 32;
    put_be32(p + 24, 1);      /* file change counter */
    put_be32(p + 28, npages); /* database size in pages */
    put_be32(p + 40, 1);      /* schema cookie */
    put_be32(p + 44, 4);      /* schema format number */
    put_be32(p + 56, 1);      /* text encoding UTF-8 */
    put_be32(p + 92, 1);      /* version-valid-for = change counter */
    put_be32(p + 96, (uint32_t)sqlite3_libversion_number());
    /* sqlite_schema: one row (rowid 1) in a table leaf at offset 100 */
    static const char sql[] = SCHEMA_SQL;
    size_t sql_len = sizeof sql - 1;
    int rtype;
    size_t rbytes;
    if (root <= 127) rtype = 1, rbytes = 1;
    else if (root <= 32767) rtype = 2, rbytes = 2;
    else if (root <= 8388607) rtype = 3, rbytes = 3;
    else rtype = 4, rbytes = 4;
    unsigned char rec[256];
    size_t h = 1; /* header size byte, filled below */
    h += put_varint(rec + h, 2 * 5 + 13);
    h += put_varint(rec + h, 2 * 2 + 13);
    h += put_varint(rec + h, 2 * 2 + 13);
    h += put_varint(rec + h, (uint64_t)rtype);
    h += put_varint(rec + h, 2 * (uint64_t)sql_len + 13);
    rec[0] = (unsigned char)h;
    size_t n = h;
    memcpy(rec + n, "table", 5), n += 5;
    memcpy(rec + n, "kv", 2), n += 2;
    memcpy(rec + n, "kv", 2), n += 2;
    for (size_t i = 0; i < rbytes; i++) rec[n + i] = (unsigned char)(root >> (8 * (rbytes - 1 - i)));
    n += rbytes;
    memcpy(rec + n, sql, sql_len), n += sql_len;
    unsigned char cell[300];
    size_t c = put_varint(cell, n);
    c += put_varint(cell + c, 1);
    memcpy(cell + c, rec, n);
    c += n;
    uint32_t content = b->U - (uint32_t)c;
    memcpy(p + content, cell, c);
    unsigned char *t = p + 100;
    t[0] = 0x0d;
    put_be16(t + 3, 1);
    put_be16(t + 5, content);
    put_be16(t + 8, content);
    return write_page(b, 1, p);
}

shardy_status sy_sqbulk_finish(sy_sqbulk *b) {
    shardy_status st = SHARDY_OK;
    level cur = {0}, up = {0};
    uint32_t pg, root;
    if (b->have_held) {
        /* The last row became a divider: move it into the (empty) last leaf and lift the held
         * leaf's last row instead. A held leaf has >= 2 rows: any cell is under a quarter page. */
        size_t n;
        const unsigned char *c = page_pop(&b->held, &n);
        unsigned char *mine = sy_malloc(n);
        if (!mine) return sy_err(SHARDY_ENOMEM, "out of memory finishing %s", b->path);
        memcpy(mine, c, n);
        memcpy(page_cell(&b->leaf, b->pend_len), b->pend, b->pend_len);
        memcpy(b->pend, mine, n);
        b->pend_len = n;
        sy_free(mine);
        SY_TRY(release_held(b));
    }
    SY_TRY(page_write(b, &b->leaf, &pg));
    SY_TRY(level_push(&b->l1, pg, NULL, 0, 0));
    cur = b->l1;
    memset(&b->l1, 0, sizeof b->l1);
    while (cur.nkids > 1) {
        SY_TRY(build_level(b, &cur, &up));
        level_free(&cur);
        cur = up;
        memset(&up, 0, sizeof up);
    }
    root = cur.kids[0];
    SY_TRY(write_page1(b, root, b->next_pgno - 1));
    SY_TRY(flush_writes(b));
    if (close(b->fd) != 0) {
        b->fd = -1;
        st = io_fail(b, errno, "cannot close SQLite shard");
        goto done;
    }
    b->fd = -1;
done:
    level_free(&cur);
    level_free(&up);
    return st;
}

void sy_sqbulk_free(sy_sqbulk **pb) {
    sy_sqbulk *b = pb ? *pb : NULL;
    if (!b) return;
    if (b->fd >= 0) close(b->fd);
    level_free(&b->l1);
    sy_free(b->leaf.buf);
    sy_free(b->held.buf);
    sy_free(b->pend);
    sy_free(b->ovf);
    sy_free(b->wbuf);
    sy_free(b->path);
    sy_free(b);
    *pb = NULL;
}
