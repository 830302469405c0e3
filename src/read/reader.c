/*
 * reader.c — the reader's life cycle: open (locate, pin, load, cold-start fallback), refresh,
 * close, introspection (info, shards, route) and the lock-free state acquisition protocol.
 *
 * Open (spec reader-cli §2.2, §4.2)
 *   - Pinned by ref: that manifest (a bare path is normalised to file://); _CURRENT is not read.
 *   - Pinned by offset N: entry N of the history listing, else SHARDY_ERANGE
 *     "Offset N out of range (only K manifests available)".
 *   - Otherwise _CURRENT (missing → SHARDY_ENOTFOUND "CURRENT pointer not found: <url>").
 *   - A manifest that fails to parse (SHARDY_EFORMAT / SHARDY_EVERSION) on an unpinned reader
 *     triggers the cold-start fallback: the published manifests *older* than the failed one (or
 *     the newest ones when the failed ref is not in the listing — decision: Python's candidate
 *     list is the newest manifests whatever the failed one was, a QUIRK) are tried, at most
 *     max_fallback_attempts of them, newest first; a candidate that fails to parse is skipped, any
 *     other error stops the open. None left → SHARDY_EFORMAT "No valid manifest found after
 *     fallback". Pinned readers never fall back (decision: the user asked for that manifest).
 *
 * Refresh (§2.9): under refresh_mu. Pinned → changed 0. Missing _CURRENT → SHARDY_ENOTFOUND
 *   "CURRENT pointer not found during refresh". Same ref → changed 0 (no manifest GET). A
 *   malformed new manifest → changed 0, SHARDY_OK, the ref remembered so later refreshes skip it
 *   without downloading again until _CURRENT moves. Any other failure → error, old state kept.
 *   The new state is built while lookups go on; the swap is one atomic exchange.
 *
 * Close (§2.10): marks the reader closed, swaps the state out under refresh_mu (waiting for a
 *   refresh in progress to finish), waits for the acquire window to drain and drops the reader's
 *   reference: the state's handles close now or when the last lookup/cursor lets go.
 *
 * Lock discipline: see read.h. Only refresh and close take refresh_mu; lookups never do.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/url.h"
#include "read/read.h"
#include "snapshot/current.h"
#include "store/s3.h"

/* ---- state acquisition (grace periods) ------------------------------------------------------ */

sy_rstate *sy_reader_acquire(shardy_reader *r) {
    unsigned long e = atomic_load(&r->epoch) & 1u;
    atomic_fetch_add(&r->active[e], 1);
    sy_rstate *s = atomic_load(&r->cur);
    if (s) sy_rstate_retain(s);
    atomic_fetch_sub(&r->active[e], 1);
    return s;
}

/* Waits until every sy_reader_acquire that may have loaded the old `cur` has taken its reference.
 * Two flips: an acquirer may have read either parity before the exchange (see read.h). */
static void grace_period(shardy_reader *r) {
    for (int k = 0; k < 2; k++) {
        unsigned long e = atomic_fetch_add(&r->epoch, 1) & 1u;
        while (atomic_load(&r->active[e]) != 0) sched_yield();
    }
}

/* Publishes s as the current state (NULL on close) and drops the reader's reference to the old. */
static void swap_state(shardy_reader *r, sy_rstate *s) {
    sy_rstate *old = atomic_exchange(&r->cur, s);
    grace_period(r);
    sy_rstate_release(old);
}

int sy_reader_valid(const shardy_reader *r) { return r && r->magic == SY_READER_MAGIC; }

static void reader_free(shardy_reader *r) {
    sy_rstate_release(atomic_exchange(&r->cur, NULL));
    pthread_mutex_destroy(&r->refresh_mu);
    if (r->own_store) sy_store_close(&r->store);
    sy_free(r->prefix);
    sy_free(r->pointer_url);
    sy_free(r->local_root);
    sy_free(r->bad_ref);
    r->magic = 0;
    sy_free(r);
}

void sy_reader_unref(shardy_reader *r) {
    if (atomic_fetch_sub(&r->users, 1) == 1) reader_free(r);
}

static shardy_status closed_err(void) { return sy_err(SHARDY_ECLOSED, "Reader is closed"); }

/* ---- options ---------------------------------------------------------------------------------- */

void shardy_reader_opts_init(shardy_reader_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->offset = -1;
    o->max_fallback_attempts = 3;
}

static char *default_local_root(void) {
    const char *t = getenv("TMPDIR");
    if (!t || !*t) t = "/tmp";
    return sy_asprintf("%s/shardyfusion", t);
}

/* ---- loading ---------------------------------------------------------------------------------- */

static shardy_status build_from_ref(shardy_reader *r, const char *ref, sy_manifest **m, sy_rstate **out) {
    sy_rstate_env env = {r->store, r->local_root};
    return sy_rstate_build(m, ref, &env, out);
}

/* Cold-start fallback after the manifest at failed_ref did not parse (message of that failure is
 * in the thread's buffer and is kept in the final error). */
static shardy_status fallback(shardy_reader *r, const char *failed_ref, sy_rstate **out) {
    shardy_status st = SHARDY_OK;
    shardy_manifest_entry *e = NULL;
    size_t n = 0, start = 0, tried = 0;
    char first_err[SY_ERRMSG_MAX];
    snprintf(first_err, sizeof first_err, "%s", shardy_errmsg());
    SY_TRY(sy_read_list_manifests(r->store, r->prefix, 0, &e, &n));
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].ref, failed_ref)) {
            start = i + 1;
            break;
        }
    for (size_t i = start; i < n && tried < (size_t)r->max_fallback; i++) {
        if (!strcmp(e[i].ref, failed_ref)) continue;
        sy_manifest *m = NULL;
        tried++;
        st = sy_read_load_manifest(r->store, e[i].ref, &m);
        if (sy_read_is_parse_error(st)) continue;
        if (st != SHARDY_OK) goto done;
        SY_TRY(build_from_ref(r, e[i].ref, &m, out));
        goto done;
    }
    st = sy_err(SHARDY_EFORMAT, "No valid manifest found after fallback (tried %zu older manifest%s; %s)", tried,
                tried == 1 ? "" : "s", first_err);
done:
    shardy_manifest_entries_free(&e, n);
    return st;
}

static shardy_status initial_state(shardy_reader *r, const shardy_reader_opts *o, sy_buf *pointer, int found,
                                   sy_rstate **out) {
    shardy_status st = SHARDY_OK;
    sy_current *cur = NULL;
    shardy_manifest_entry *e = NULL;
    size_t n = 0;
    char *ref = NULL;
    sy_manifest *m = NULL;
    if (o->ref) {
        SY_TRY(sy_url_normalize(o->ref, &ref));
    } else if (o->offset >= 0) {
        SY_TRY(sy_read_list_manifests(r->store, r->prefix, (size_t)o->offset + 1, &e, &n));
        if (n <= (size_t)o->offset) {
            st = sy_err(SHARDY_ERANGE, "Offset %d out of range (only %zu manifests available)", o->offset, n);
            goto done;
        }
        ref = sy_strdup(e[o->offset].ref);
        if (!ref) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory"));
    } else {
        if (!found) {
            st = sy_err(SHARDY_ENOTFOUND, "CURRENT pointer not found: %s", r->pointer_url);
            goto done;
        }
        SY_TRY(sy_current_parse(pointer->data, pointer->len, r->pointer_url, &cur));
        ref = sy_strdup(cur->manifest_ref);
        if (!ref) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory"));
    }
    st = sy_read_load_manifest(r->store, ref, &m);
    if (sy_read_is_parse_error(st) && !r->pinned && r->max_fallback > 0) {
        st = fallback(r, ref, out);
        goto done;
    }
    if (st != SHARDY_OK) goto done;
    st = build_from_ref(r, ref, &m, out);
done:
    sy_manifest_free(&m);
    sy_current_free(&cur);
    shardy_manifest_entries_free(&e, n);
    sy_free(ref);
    return st;
}

shardy_status sy_reader_open_store(const shardy_reader_opts *o, sy_store *store, shardy_reader **out) {
    shardy_status st = SHARDY_OK;
    shardy_reader *r = NULL;
    char *url = NULL;
    sy_buf pointer = SY_BUF_INIT;
    sy_read_loc loc = {NULL, NULL};
    sy_rstate *s = NULL;
    int found = 0;
    if (!out) return sy_err(SHARDY_EINVAL, "shardy_reader_open: out is NULL");
    *out = NULL;
    if (!o || !o->current_url || !*o->current_url)
        return sy_err(SHARDY_EINVAL, "shardy_reader_open: current_url is required");
    if (o->ref && o->offset >= 0) return sy_err(SHARDY_EINVAL, "--ref and --offset are mutually exclusive");
    if (o->offset < -1) return sy_err(SHARDY_EINVAL, "--offset must be >= 0");
    if (o->max_fallback_attempts < 0) return sy_err(SHARDY_EINVAL, "max_fallback_attempts must be >= 0");

    r = sy_calloc(1, sizeof *r);
    if (!r) return sy_err(SHARDY_ENOMEM, "out of memory opening a reader");
    if (pthread_mutex_init(&r->refresh_mu, NULL) != 0) {
        sy_free(r);
        return sy_err(SHARDY_EIO, "cannot initialise a mutex");
    }
    r->magic = SY_READER_MAGIC;
    atomic_init(&r->closed, 0);
    atomic_init(&r->users, 1);
    atomic_init(&r->cur, NULL);
    atomic_init(&r->epoch, 0);
    atomic_init(&r->active[0], 0);
    atomic_init(&r->active[1], 0);
    r->pinned = o->ref != NULL || o->offset >= 0;
    r->max_fallback = o->max_fallback_attempts;
    r->local_root = o->local_root ? sy_strdup(o->local_root) : default_local_root();
    if (!r->local_root) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory opening a reader"));

    SY_TRY(sy_url_normalize(o->current_url, &url));
    if (store) {
        r->store = store;
    } else {
        SY_TRY(sy_store_open_cfg(url, o->s3_options, o->n_s3_options, o->credentials_file, o->credentials_profile,
                                 &r->store));
        r->own_store = 1;
    }
    SY_TRY(sy_read_locate(r->store, url, &loc, &pointer, &found));
    r->prefix = loc.prefix;
    r->pointer_url = loc.pointer_url;
    loc.prefix = loc.pointer_url = NULL;
    SY_TRY(initial_state(r, o, &pointer, found, &s));
    atomic_store(&r->cur, s);
done:
    sy_buf_free(&pointer);
    sy_read_loc_free(&loc);
    sy_free(url);
    if (st != SHARDY_OK) {
        reader_free(r);
        return st;
    }
    *out = r;
    return SHARDY_OK;
}

shardy_status shardy_reader_open(const shardy_reader_opts *o, shardy_reader **out) {
    return sy_reader_open_store(o, NULL, out);
}

/* ---- refresh / close -------------------------------------------------------------------------- */

static shardy_status refresh_locked(shardy_reader *r, int *changed) {
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    sy_current *cur = NULL;
    sy_manifest *m = NULL;
    sy_rstate *s = NULL;
    if (atomic_load(&r->closed)) return closed_err();
    if (r->pinned) return SHARDY_OK;
    st = sy_store_get(r->store, r->pointer_url, &b);
    if (st == SHARDY_ENOTFOUND) {
        st = sy_err(SHARDY_ENOTFOUND, "CURRENT pointer not found during refresh: %s", r->pointer_url);
        goto done;
    }
    if (st != SHARDY_OK) goto done;
    SY_TRY(sy_current_parse(b.data, b.len, r->pointer_url, &cur));
    /* We hold refresh_mu, so `cur` is stable and the reader's reference keeps it alive. */
    sy_rstate *active = atomic_load(&r->cur);
    if (!active) {
        st = closed_err();
        goto done;
    }
    if (!strcmp(active->ref, cur->manifest_ref)) goto done;
    if (r->bad_ref && !strcmp(r->bad_ref, cur->manifest_ref)) {
        sy_err(SHARDY_EFORMAT, "refresh: manifest %s was found malformed before; keeping %s", cur->manifest_ref,
               active->ref);
        goto done;
    }
    st = sy_read_load_manifest(r->store, cur->manifest_ref, &m);
    if (sy_read_is_parse_error(st)) {
        sy_free(r->bad_ref);
        r->bad_ref = sy_strdup(cur->manifest_ref);
        sy_err_wrap(st, "refresh: keeping %s", active->ref);
        st = SHARDY_OK;
        goto done;
    }
    if (st != SHARDY_OK) goto done;
    SY_TRY(build_from_ref(r, cur->manifest_ref, &m, &s));
    swap_state(r, s);
    *changed = 1;
done:
    sy_manifest_free(&m);
    sy_current_free(&cur);
    sy_buf_free(&b);
    return st;
}

shardy_status shardy_reader_refresh(shardy_reader *r, int *changed) {
    int dummy = 0;
    if (!changed) changed = &dummy;
    *changed = 0;
    if (!sy_reader_valid(r)) return closed_err();
    pthread_mutex_lock(&r->refresh_mu);
    shardy_status st = refresh_locked(r, changed);
    pthread_mutex_unlock(&r->refresh_mu);
    return st;
}

void shardy_reader_close(shardy_reader **rp) {
    if (!rp || !*rp) return;
    shardy_reader *r = *rp;
    *rp = NULL;
    if (!sy_reader_valid(r) || atomic_exchange(&r->closed, 1)) return;
    pthread_mutex_lock(&r->refresh_mu);
    swap_state(r, NULL);
    pthread_mutex_unlock(&r->refresh_mu);
    sy_reader_unref(r);
}

/* ---- introspection ---------------------------------------------------------------------------- */

static shardy_status acquire_or_closed(shardy_reader *r, sy_rstate **s) {
    if (!sy_reader_valid(r) || !(*s = sy_reader_acquire(r))) return closed_err();
    return SHARDY_OK;
}

shardy_status shardy_reader_route(shardy_reader *r, const shardy_key *key, uint32_t *db_id) {
    shardy_status st = SHARDY_OK;
    sy_rstate *s = NULL;
    unsigned char scratch[8];
    const void *k = NULL;
    size_t kn = 0;
    if (!key || !db_id) return sy_err(SHARDY_EINVAL, "shardy_reader_route: NULL argument");
    SY_TRY(acquire_or_closed(r, &s));
    st = sy_rstate_route(s, key, scratch, db_id, &k, &kn);
    if (st == SHARDY_ENOTFOUND) st = SHARDY_EROUTE; /* unknown categorical token (message set) */
done:
    sy_rstate_release(s);
    return st;
}

shardy_status shardy_reader_route_ctx(shardy_reader *r, const shardy_routing_ctx *ctx, uint32_t *db_id) {
    shardy_status st = SHARDY_OK;
    sy_rstate *s = NULL;
    if (!ctx || !db_id) return sy_err(SHARDY_EINVAL, "shardy_reader_route_ctx: NULL argument");
    SY_TRY(acquire_or_closed(r, &s));
    st = sy_rstate_route_ctx(s, ctx, db_id);
    if (st == SHARDY_ENOTFOUND) st = SHARDY_EROUTE;
done:
    sy_rstate_release(s);
    return st;
}

void shardy_snapshot_info_free(shardy_snapshot_info **info) {
    if (!info || !*info) return;
    shardy_snapshot_info *i = *info;
    sy_free(i->run_id);
    sy_free(i->manifest_ref);
    sy_free(i->created_at);
    sy_free(i->sharding);
    sy_free(i->hash_algorithm);
    sy_free(i);
    *info = NULL;
}

shardy_status shardy_reader_info(shardy_reader *r, shardy_snapshot_info **out) {
    shardy_status st = SHARDY_OK;
    sy_rstate *s = NULL;
    shardy_snapshot_info *i = NULL;
    if (!out) return sy_err(SHARDY_EINVAL, "shardy_reader_info: out is NULL");
    *out = NULL;
    SY_TRY(acquire_or_closed(r, &s));
    i = sy_calloc(1, sizeof *i);
    if (!i) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory"));
    const sy_manifest *m = s->m;
    i->run_id = sy_strdup(m->run_id);
    i->manifest_ref = sy_strdup(s->ref);
    i->created_at = sy_strdup(m->created_at ? m->created_at : "");
    i->sharding = sy_strdup(m->sharding.strategy == SY_STRATEGY_CEL ? "cel" : "hash");
    i->hash_algorithm = sy_strdup("xxh3_64");
    i->num_dbs = s->num_dbs;
    i->key_encoding = s->enc;
    i->num_nonempty_shards = s->n_nonempty;
    for (uint32_t d = 0; d < s->num_dbs; d++) i->row_count += (uint64_t)m->shards[d].row_count;
    if (!i->run_id || !i->manifest_ref || !i->created_at || !i->sharding || !i->hash_algorithm)
        SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory"));
    *out = i;
    i = NULL;
done:
    shardy_snapshot_info_free(&i);
    sy_rstate_release(s);
    return st;
}

void shardy_shard_infos_free(shardy_shard_info **infos, size_t n) {
    if (!infos || !*infos) return;
    for (size_t d = 0; d < n; d++) {
        sy_free((*infos)[d].db_url);
        sy_free((*infos)[d].min_key);
        sy_free((*infos)[d].max_key);
        sy_free((*infos)[d].checkpoint_id);
    }
    sy_free(*infos);
    *infos = NULL;
}

static int dup_opt(char **dst, const char *src) {
    if (!src) return 0;
    *dst = sy_strdup(src);
    return *dst == NULL;
}

shardy_status shardy_reader_shards(shardy_reader *r, shardy_shard_info **out, size_t *n) {
    shardy_status st = SHARDY_OK;
    sy_rstate *s = NULL;
    shardy_shard_info *v = NULL;
    size_t count = 0;
    if (!out || !n) return sy_err(SHARDY_EINVAL, "shardy_reader_shards: NULL output pointer");
    *out = NULL;
    *n = 0;
    SY_TRY(acquire_or_closed(r, &s));
    count = s->num_dbs;
    v = sy_calloc(count, sizeof *v);
    if (!v) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory"));
    for (size_t d = 0; d < count; d++) {
        const sy_shard *sh = &s->m->shards[d];
        v[d].db_id = (uint32_t)sh->db_id;
        v[d].attempt = (uint32_t)sh->attempt;
        v[d].row_count = (uint64_t)sh->row_count;
        v[d].db_bytes = (uint64_t)sh->db_bytes;
        if (dup_opt(&v[d].db_url, sh->db_url) || dup_opt(&v[d].min_key, sh->min_key_json) ||
            dup_opt(&v[d].max_key, sh->max_key_json) || dup_opt(&v[d].checkpoint_id, sh->checkpoint_id))
            SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory"));
    }
    *out = v;
    *n = count;
    v = NULL;
done:
    shardy_shard_infos_free(&v, count);
    sy_rstate_release(s);
    return st;
}
