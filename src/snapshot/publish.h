/*
 * publish.h — the driver-side steps every engine shares (spec formats §1.5, writer §5.19, §11):
 * two-phase publish (manifest, then _CURRENT), the sweep of non-winning attempts, and the run
 * record lifecycle with its heartbeat thread.
 *
 * Failure behaviour
 *   - sy_publish: a failed manifest PUT leaves readers untouched (phase SY_PUBLISH_MANIFEST); a
 *     failed _CURRENT PUT leaves the manifest in place but readers still see the old snapshot
 *     (phase SY_PUBLISH_CURRENT, *manifest_ref set so the caller can report it or retry).
 *   - The sweep and the run record are best effort: their failures are counted/remembered, never
 *     turned into a failed build.
 */
#ifndef SY_SNAPSHOT_PUBLISH_H
#define SY_SNAPSHOT_PUBLISH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/manifest.h"
#include "snapshot/runrecord.h"
#include "store/store.h"

enum { SY_PUBLISH_OK = 0, SY_PUBLISH_MANIFEST = 1, SY_PUBLISH_CURRENT = 2 };

/* Serialises m (created_at is set to now), PUTs it to <prefix>/manifests/<TS>_run_id=<run_id>/manifest
 * and then PUTs <prefix>/_CURRENT pointing at it. *manifest_ref (sy_free) is set once the manifest
 * PUT succeeded, also when the _CURRENT PUT then fails. *phase tells which step failed. */
shardy_status sy_publish(sy_store *store, const char *prefix, sy_manifest *m, char **manifest_ref,
                         int *phase) SY_NODISCARD;

/* Rewrites _CURRENT at <prefix>/_CURRENT to point at ref (rollback / publish retry). */
shardy_status sy_publish_current(sy_store *store, const char *prefix, const char *ref, const char *run_id) SY_NODISCARD;

/* Deletes every object under <prefix>/<shard_prefix>/run_id=<run_id>/ that is not inside one of
 * the winner attempt directories (winner_urls: db_urls, no trailing '/'). Best effort: *deleted
 * and *failed (may be NULL) count objects. Returns the first error, if any, after trying all. */
shardy_status sy_sweep_losers(sy_store *store, const char *prefix, const char *shard_prefix, const char *run_id,
                              const char *const *winner_urls, size_t nwinners, size_t *deleted, size_t *failed);

/* Run record lifecycle: creates run.yaml (status running) and a heartbeat thread that rewrites
 * it every interval; finish writes the terminal state and joins the thread. All store failures
 * are swallowed (counted in write_failures). */
typedef struct sy_run_lifecycle {
    sy_store *store;            /* borrowed */
    char *url;                  /* run.yaml URL */
    sy_run_record rec;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int thread_started;
    int stop;
    int heartbeat_seconds;
    int created;                /* the first PUT succeeded */
    unsigned write_failures;
} sy_run_lifecycle;

shardy_status sy_run_lifecycle_start(sy_run_lifecycle *lc, sy_store *store, const char *prefix,
                                     const char *runs_prefix, const char *run_id, const char *writer_type,
                                     const char *shard_prefix, const char *db_path_template,
                                     int heartbeat_seconds) SY_NODISCARD;
void sy_run_lifecycle_set_manifest_ref(sy_run_lifecycle *lc, const char *ref);
/* Terminal write (idempotent: the first terminal state wins), stops the heartbeat. */
void sy_run_lifecycle_finish(sy_run_lifecycle *lc, sy_run_status status, const char *error_type,
                             const char *error_message);
/* Frees everything (calls finish(failed) first if still running). */
void sy_run_lifecycle_free(sy_run_lifecycle *lc);

#endif
