/*
 * state.c — one reader state: a padded manifest, its shard files and their handle pools.
 *
 * Owns: sy_rstate and everything it points to (manifest, ref, per-shard paths, pools, handles).
 *
 * Invariants
 *   - shards[db] is NULL exactly for the empty shards (db_url NULL); lookups routed there answer
 *     "not found" with no I/O.
 *   - Every non-empty shard's file is local and immutable while the state lives: file:// shards
 *     are opened in place; shards of other stores are downloaded once into
 *     <local_root>/shard=<db_id:05d>/<xxh3(db_url, checkpoint_id)>/shard.db, a path that names
 *     that exact object, so a later snapshot never replaces a file an older state still opens.
 *   - Pool slots hold idle handles; a handle taken from a slot belongs to the taker until given
 *     back. Slot count: max(8, 2 × online CPUs), at most 64 — enough for every thread of a busy
 *     process to have its own handle per shard without reopening.
 *
 * Failure behaviour: building fails as a whole (every handle opened so far is closed, the
 * manifest freed). Lookups never fail because of the pool: an empty pool opens a new handle.
 *
 * Lock discipline: none. refs and slots are atomics (see read.h). Freeing happens in whichever
 * thread drops the last reference.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/url.h"
#include "read/read.h"
#include "route/key.h"
#include "snapshot/cel_sharding.h"

#define POOL_MIN_SLOTS 8u
#define POOL_MAX_SLOTS 64u

static uint32_t pool_slots(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t s = n > 0 ? (uint32_t)(n > 32 ? 64 : 2 * n) : POOL_MIN_SLOTS;
    if (s < POOL_MIN_SLOTS) s = POOL_MIN_SLOTS;
    return s > POOL_MAX_SLOTS ? POOL_MAX_SLOTS : s;
}

static void rstate_free(sy_rstate *s) {
    for (uint32_t i = 0; i < s->n_nonempty && s->shard_store; i++) {
        sy_rshard *sh = &s->shard_store[i];
        for (uint32_t k = 0; k < sh->nslots && sh->slots; k++) {
            sy_shard_reader *h = atomic_exchange(&sh->slots[k], NULL);
            sy_shard_reader_close(&h);
        }
        sy_free(sh->slots);
        sy_free(sh->path);
    }
    sy_free(s->shard_store);
    sy_free(s->shards);
    sy_cel_router_free(&s->cel);
    sy_manifest_free(&s->m);
    sy_free(s->ref);
    sy_free(s);
}

void sy_rstate_retain(sy_rstate *s) { atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); }

void sy_rstate_release(sy_rstate *s) {
    if (!s) return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) rstate_free(s);
}

shardy_status sy_rstate_take(sy_rstate *s, sy_rshard *sh, sy_shard_reader **h) {
    for (uint32_t k = 0; k < sh->nslots; k++) {
        if (!atomic_load_explicit(&sh->slots[k], memory_order_relaxed)) continue;
        sy_shard_reader *got = atomic_exchange_explicit(&sh->slots[k], NULL, memory_order_acquire);
        if (got) {
            *h = got;
            return SHARDY_OK;
        }
    }
    sy_shard_reader_opts ro = {0, 0};
    return sy_shard_reader_open_with(s->ops, sh->path, &ro, h);
}

void sy_rstate_give(sy_rshard *sh, sy_shard_reader *h) {
    if (!h) return;
    for (uint32_t k = 0; k < sh->nslots; k++) {
        sy_shard_reader *expect = NULL;
        if (atomic_load_explicit(&sh->slots[k], memory_order_relaxed)) continue;
        if (atomic_compare_exchange_strong_explicit(&sh->slots[k], &expect, h, memory_order_release,
                                                    memory_order_relaxed))
            return;
    }
    sy_shard_reader_close(&h);
}

shardy_status sy_rstate_route(const sy_rstate *s, const shardy_key *key, unsigned char scratch[8], uint32_t *db,
                              const void **k, size_t *klen) {
    return sy_rstate_route_with(s, key, -1, scratch, db, k, klen);
}

shardy_status sy_rstate_route_with(const sy_rstate *s, const shardy_key *key, int64_t forced, unsigned char scratch[8],
                                   uint32_t *db, const void **k, size_t *klen) {
    unsigned char canon[8];
    const void *cp = NULL;
    size_t cn = 0;
    shardy_status st = sy_key_encoded(s->enc, SHARDY_ENCODE_LOOKUP, key, scratch, k, klen);
    if (st != SHARDY_OK) return st;
    if (forced >= 0) {
        *db = (uint32_t)forced;
        return SHARDY_OK;
    }
    if (s->cel) return sy_cel_router_route_key(s->cel, key, db);
    st = sy_key_canonical(key, canon, &cp, &cn);
    if (st != SHARDY_OK) return st;
    *db = (uint32_t)(sy_xxh3(cp, cn) % (uint64_t)s->num_dbs);
    return SHARDY_OK;
}

shardy_status sy_rstate_route_ctx(const sy_rstate *s, const shardy_routing_ctx *ctx, uint32_t *db) {
    shardy_status st = SHARDY_OK;
    sy_cel_value local[16];
    char *owned_local[16];
    if (!ctx || (ctx->n && (!ctx->names || !ctx->values))) return sy_err(SHARDY_EINVAL, "routing context: NULL argument");
    if (!s->cel) return sy_err(SHARDY_EINVAL, "route_with_context requires CEL sharding strategy");
    size_t nv = sy_cel_router_nvars(s->cel);
    sy_cel_value *args = nv <= 16 ? local : sy_calloc(nv, sizeof *args);
    char **owned = nv <= 16 ? owned_local : sy_calloc(nv, sizeof *owned);
    if (!args || !owned) {
        st = sy_err(SHARDY_ENOMEM, "out of memory for a routing context");
        goto done;
    }
    memset(args, 0, nv * sizeof *args);
    memset(owned, 0, nv * sizeof *owned);
    for (size_t i = 0; i < ctx->n; i++) {
        if (!ctx->names[i] || !ctx->values[i]) SY_TRY(sy_err(SHARDY_EINVAL, "routing context entry %zu is NULL", i));
        int idx = sy_cel_router_var_index(s->cel, ctx->names[i]);
        if (idx < 0) continue; /* extra names are ignored (spec cel.md §1.10) */
        sy_free(owned[idx]);
        owned[idx] = NULL;
        st = sy_cel_router_bind_text(s->cel, ctx->names[i], ctx->values[i], args, &owned[idx]);
        if (st) {
            st = sy_err_wrap(SHARDY_EINVAL, "routing context");
            goto done;
        }
    }
    st = sy_cel_router_route(s->cel, args, db);
done:
    if (owned)
        for (size_t i = 0; i < nv; i++) sy_free(owned[i]);
    if (args != local) sy_free(args);
    if (owned != owned_local) sy_free(owned);
    return st;
}

/* Shard backend from custom.shard_format (absent → sqlite). */
static shardy_status pick_backend(const sy_manifest *m, const char *ref, const sy_shard_ops **out) {
    json_object *v = NULL;
    const char *name = "sqlite";
    if (m->custom && json_object_object_get_ex(m->custom, "shard_format", &v) && v) {
        if (!json_object_is_type(v, json_type_string))
            return sy_err(SHARDY_EFORMAT, "manifest %s: custom.shard_format must be a string", ref);
        name = json_object_get_string(v);
    }
    *out = sy_shard_ops_by_name(name);
    if (!*out)
        return sy_err(SHARDY_EUNSUPPORTED, "manifest %s: shard_format '%.64s' is not supported by this build", ref,
                      name);
    return SHARDY_OK;
}

/* Local path of shard sh's file: in place for file://, else the download cache. */
static shardy_status shard_local_path(const sy_shard *sh, const sy_rstate_env *env, char **out) {
    shardy_status st = SHARDY_OK;
    const char *parts[] = {"shard.db"};
    char *url = sy_url_join(sh->db_url, parts, 1);
    sy_scheme scheme;
    *out = NULL;
    if (!url) return sy_err(SHARDY_ENOMEM, "out of memory for a shard URL");
    SY_TRY(sy_url_scheme(url, &scheme));
    if (scheme == SY_SCHEME_FILE) {
        *out = sy_strdup(sy_url_file_path(url));
        if (!*out) st = sy_err(SHARDY_ENOMEM, "out of memory for a shard path");
        goto done;
    }
    uint64_t id = sy_xxh3(sh->db_url, strlen(sh->db_url));
    if (sh->checkpoint_id) id ^= sy_xxh3(sh->checkpoint_id, strlen(sh->checkpoint_id)) * 31u;
    char *path = sy_asprintf("%s/shard=%05" PRId64 "/%016" PRIx64 "/shard.db", env->local_root, sh->db_id, id);
    if (!path) {
        st = sy_err(SHARDY_ENOMEM, "out of memory for a shard cache path");
        goto done;
    }
    if (access(path, R_OK) != 0) {
        if (!env->store || env->store->scheme != scheme) {
            st = sy_err(SHARDY_EUNSUPPORTED, "shard %s: no store for this URL's scheme", url);
        } else {
            st = sy_store_get_file(env->store, url, path);
        }
    }
    if (st == SHARDY_OK) *out = path;
    else sy_free(path);
done:
    sy_free(url);
    return st;
}

shardy_status sy_rstate_build(sy_manifest **mp, const char *ref, const sy_rstate_env *env, sy_rstate **out) {
    shardy_status st = SHARDY_OK;
    sy_manifest *m = *mp;
    sy_rstate *s = NULL;
    uint32_t nslots = pool_slots();
    *mp = NULL;
    *out = NULL;
    SY_TRY(sy_manifest_pad(m));
    s = sy_calloc(1, sizeof *s);
    if (!s) {
        st = sy_err(SHARDY_ENOMEM, "out of memory for a reader state");
        goto done;
    }
    atomic_init(&s->refs, 1);
    s->m = m;
    m = NULL;
    s->num_dbs = (uint32_t)s->m->num_dbs;
    s->enc = s->m->key_encoding;
    s->ref = sy_strdup(ref);
    s->shards = sy_calloc(s->num_dbs, sizeof *s->shards);
    uint32_t nonempty = 0;
    for (uint32_t i = 0; i < s->num_dbs; i++) nonempty += s->m->shards[i].db_url != NULL;
    s->shard_store = sy_calloc(nonempty ? nonempty : 1, sizeof *s->shard_store);
    if (!s->ref || !s->shards || !s->shard_store) {
        st = sy_err(SHARDY_ENOMEM, "out of memory for a reader state");
        goto done;
    }
    SY_TRY(pick_backend(s->m, ref, &s->ops));
    if (s->m->sharding.strategy == SY_STRATEGY_CEL &&
        (st = sy_sharding_cel_router(&s->m->sharding, s->m->num_dbs, &s->cel)) != SHARDY_OK) {
        sy_err_wrap(st, "manifest %s", ref);
        goto done;
    }
    for (uint32_t i = 0; i < s->num_dbs; i++) {
        const sy_shard *row = &s->m->shards[i];
        if (!row->db_url) continue;
        sy_rshard *sh = &s->shard_store[s->n_nonempty++];
        sh->slots = sy_calloc(nslots, sizeof *sh->slots);
        if (!sh->slots) {
            st = sy_err(SHARDY_ENOMEM, "out of memory for a shard pool");
            goto done;
        }
        sh->nslots = nslots;
        for (uint32_t k = 0; k < nslots; k++) atomic_init(&sh->slots[k], NULL);
        SY_TRY(shard_local_path(row, env, &sh->path));
        sy_shard_reader *h = NULL;
        SY_TRY(sy_rstate_take(s, sh, &h));
        atomic_store(&sh->slots[0], h);
        s->shards[i] = sh;
    }
done:
    if (st != SHARDY_OK) {
        if (s) rstate_free(s);
        sy_manifest_free(&m);
        return st;
    }
    *out = s;
    return SHARDY_OK;
}
