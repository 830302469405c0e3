/*
 * read.h — internals of the reader (spec reader-cli §2, §4; DESIGN §3 "Read and operate").
 *
 * What it owns
 *   A shardy_reader holds exactly one *state* at a time (sy_rstate): the parsed, padded manifest
 *   of one snapshot plus, per non-empty shard, the local shard file and a small lock-free pool of
 *   open shard handles. Lookups pin the state they start with (reference count) and finish on it
 *   even if a refresh swaps in a newer one; the state's shard handles are closed by whoever drops
 *   the last reference (refresh, close, the last in-flight lookup, or a cursor moving on).
 *
 * Files
 *   state.c    building a state (open/download shards), the handle pool, refcounting, freeing.
 *   locate.c   where _CURRENT and manifests/ are for a user-supplied URL; loading a manifest.
 *   history.c  listing published manifests (spec formats §9).
 *   reader.c   open (pinning, cold-start fallback), refresh, close, introspection, the lock-free
 *              state acquisition protocol.
 *   lookup.c   get, get_alloc, multi_get, cursors.
 *
 * Lock discipline
 *   - refresh_mu serialises refresh and close (and nothing else). It is held while a new state is
 *     built (I/O), never by a lookup. Lookups take no lock at all.
 *   - The current state pointer is published with an atomic exchange. A lookup acquires it with
 *     sy_reader_acquire: it announces itself in active[epoch & 1], loads `cur`, increments the
 *     state's refs and leaves. A swapper exchanges `cur` and then calls the grace-period wait
 *     (flip the epoch twice, each time waiting until the old parity has drained) before it drops
 *     the reader's own reference to the old state. So a state is never freed between a lookup's
 *     load of `cur` and its increment, and a lookup never waits for anything.
 *   - Pool slots are exchanged atomically: a slot holds a handle or NULL; take = exchange with
 *     NULL, give = compare-exchange NULL → handle. A handle is owned by exactly one party at a
 *     time (a slot, a lookup, or a cursor).
 *
 * Lifetimes
 *   - The reader struct lives while its user handle or any cursor refers to it (users count);
 *     after close it answers SHARDY_ECLOSED until the last cursor is closed.
 *   - A state lives while the reader (as the current state), a lookup or a cursor refers to it.
 */
#ifndef SY_READ_READ_H
#define SY_READ_READ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "shard/shard.h"
#include "snapshot/manifest.h"
#include "store/store.h"

#define SY_READER_MAGIC 0x52445231u /* "RDR1" */
#define SY_CURSOR_MAGIC 0x43555231u /* "CUR1" */

/* ---- state (state.c) --------------------------------------------------------------------- */

/* One non-empty shard of a state. */
typedef struct sy_rshard {
    char *path;                          /* local shard file (owned) */
    uint32_t nslots;
    _Atomic(sy_shard_reader *) *slots;   /* [nslots] idle handles, NULL = empty slot */
} sy_rshard;

typedef struct sy_rstate {
    _Atomic long refs;          /* the reader's (while current) + one per lookup/cursor */
    char pad_[64 - sizeof(long)]; /* keep the hot counter off the read-mostly fields' line */
    sy_manifest *m;             /* owned; validated and padded (n_shards == num_dbs) */
    char *ref;                  /* manifest URL (owned) */
    const sy_shard_ops *ops;    /* shard backend (custom.shard_format, default sqlite) */
    uint32_t num_dbs;
    shardy_key_encoding enc;
    sy_rshard **shards;         /* [num_dbs]; NULL = empty shard (lookups answer "not found") */
    sy_rshard *shard_store;     /* backing array of the non-empty shards */
    uint32_t n_nonempty;
    struct sy_cel_router *cel;  /* CEL snapshots: the manifest's router (owned), else NULL */
} sy_rstate;

/* Where shards of non-file stores are cached. */
typedef struct sy_rstate_env {
    sy_store *store;        /* used only to download shards of non-file:// URLs */
    const char *local_root; /* cache root for such downloads */
} sy_rstate_env;

/* Builds a state from a parsed manifest: refuses CEL (SHARDY_EUNSUPPORTED), pads, picks the shard
 * backend, locates (file://: in place) or downloads (others: into the local cache) every non-empty
 * shard and opens one handle per shard into its pool (so a missing or corrupt shard fails here,
 * not at lookup time). Takes ownership of *m (set to NULL) in every case. On success *out has
 * refs == 1 (the caller's). On failure everything opened so far is closed. */
shardy_status sy_rstate_build(sy_manifest **m, const char *ref, const sy_rstate_env *env,
                              sy_rstate **out) SY_NODISCARD;

/* refs + 1. The caller must already hold a reference (or be inside sy_reader_acquire). */
void sy_rstate_retain(sy_rstate *s);
/* refs − 1; the last release closes every handle and frees the state. Accepts NULL. */
void sy_rstate_release(sy_rstate *s);

/* Takes an idle handle of shard sh from the pool, or opens a new one (outside any lock). The
 * caller owns *h until it hands it back with sy_rstate_give. */
shardy_status sy_rstate_take(sy_rstate *s, sy_rshard *sh, sy_shard_reader **h) SY_NODISCARD;
/* Returns a handle to the pool (closes it when every slot is full). */
void sy_rstate_give(sy_rshard *sh, sy_shard_reader *h);

/* ---- locating a snapshot (locate.c) --------------------------------------------------------- */

typedef struct sy_read_loc {
    char *prefix;      /* snapshot root (owned) */
    char *pointer_url; /* _CURRENT object URL (owned) */
} sy_read_loc;

/* Resolves a normalised URL that names either the _CURRENT object or the snapshot prefix:
 *   1. the object at url exists → it is the pointer; prefix = url up to its last '/';
 *   2. else <url>/_CURRENT exists → that is the pointer; prefix = url;
 *   3. else <url>/manifests/ lists anything → prefix = url, pointer = <url>/_CURRENT;
 *   4. else url is taken as the pointer URL (prefix = parent), like the CLI split of §7.4.
 * When the pointer object was read, its bytes are left in *pointer (may be NULL to not keep
 * them) and *found = 1; else *found = 0. Free loc with sy_read_loc_free. */
shardy_status sy_read_locate(sy_store *store, const char *url, sy_read_loc *loc, sy_buf *pointer,
                             int *found) SY_NODISCARD;
void sy_read_loc_free(sy_read_loc *loc);

/* GETs and parses the manifest at ref. Parse/validation failures keep their status
 * (SHARDY_EFORMAT / SHARDY_EVERSION: the "ManifestParseError" kinds that trigger fallback);
 * store errors keep theirs. *out owned by the caller. */
shardy_status sy_read_load_manifest(sy_store *store, const char *ref, sy_manifest **out) SY_NODISCARD;

/* 1 for the statuses the spec calls ManifestParseError (fallback / refresh-skip triggers). */
int sy_read_is_parse_error(shardy_status st);

/* ---- history (history.c) ------------------------------------------------------------------- */

/* Published manifests under prefix, newest first (ties: listing order), at most limit entries
 * (0 = all). Entries as in shardy.h (free with shardy_manifest_entries_free). */
shardy_status sy_read_list_manifests(sy_store *store, const char *prefix, size_t limit,
                                     shardy_manifest_entry **out, size_t *n) SY_NODISCARD;

/* shardy_history on an already opened store (tests use in-memory stores this way). */
shardy_status sy_history_store(sy_store *store, const char *current_url, size_t limit,
                               shardy_manifest_entry **out, size_t *n) SY_NODISCARD;

/* ---- the reader (reader.c) ------------------------------------------------------------------ */

struct shardy_reader {
    uint32_t magic;
    _Atomic int closed;
    _Atomic long users;          /* 1 for the open handle + 1 per open cursor */
    sy_store *store;
    int own_store;
    char *prefix;                /* snapshot root */
    char *pointer_url;           /* _CURRENT URL */
    char *local_root;
    int pinned;                  /* --ref / --offset: refresh never changes the state */
    int max_fallback;
    pthread_mutex_t refresh_mu;  /* serialises refresh and close; never taken by lookups */
    char *bad_ref;               /* last ref whose manifest refresh found malformed (refresh_mu) */
    char pad0_[64];
    _Atomic(sy_rstate *) cur;    /* current state; NULL once closed */
    char pad1_[64];
    _Atomic unsigned long epoch; /* grace-period epoch (see the header comment) */
    _Atomic long active[2];      /* lookups inside the acquire window, by epoch parity */
    char pad2_[64];
};

struct shardy_cursor {
    uint32_t magic;
    shardy_reader *r;           /* holds one of r->users */
    sy_rstate *s;               /* pinned state (one reference) or NULL */
    sy_shard_reader **h;        /* [hcap] handles taken from s's pools, NULL = none yet */
    uint32_t hcap;
};

/* Pins the current state (one reference, release with sy_rstate_release), or NULL when the
 * reader is closed. Lock-free; never waits. */
sy_rstate *sy_reader_acquire(shardy_reader *r);

/* 1 if r looks like an open reader handle (magic intact). */
int sy_reader_valid(const shardy_reader *r);

/* Drops one of r->users; the last one frees the reader struct. */
void sy_reader_unref(shardy_reader *r);

/* shardy_reader_open with an existing store (borrowed: it must outlive the reader). Tests use
 * it with mem:// stores, which are private to the handle that created them. */
shardy_status sy_reader_open_store(const shardy_reader_opts *o, sy_store *store, shardy_reader **out) SY_NODISCARD;

/* Routing + lookup encoding of one key for state s: *db gets the shard, *k and *klen the encoded
 * bytes (pointing into the key or into scratch). */
shardy_status sy_rstate_route(const sy_rstate *s, const shardy_key *key, unsigned char scratch[8], uint32_t *db,
                              const void **k, size_t *klen) SY_NODISCARD;

/* Like sy_rstate_route, but forced >= 0 skips routing and uses that shard (routing context).
 * CEL: an unknown categorical token returns SHARDY_ENOTFOUND (callers: a miss). */
shardy_status sy_rstate_route_with(const sy_rstate *s, const shardy_key *key, int64_t forced, unsigned char scratch[8],
                                   uint32_t *db, const void **k, size_t *klen) SY_NODISCARD;
/* Evaluates a routing context on a CEL state: SHARDY_OK with *db, SHARDY_ENOTFOUND (unknown
 * categorical token), SHARDY_EROUTE (evaluation error), SHARDY_EINVAL (HASH snapshot, bad value). */
shardy_status sy_rstate_route_ctx(const sy_rstate *s, const shardy_routing_ctx *ctx, uint32_t *db) SY_NODISCARD;

#endif
