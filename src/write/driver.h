/*
 * driver.h — the driver side of a build, shared by the native builder (builder.c) and the
 * distributed run (run.c): options, object store, run record, and the finish sequence
 * (spec writer §5.16, §5.19, §11; DESIGN §3).
 *
 * What it owns
 *   sy_driver: the owned copy of the options, the normalised prefix, the run id, the store, the
 *   writer's CEL routing state (NULL for HASH) and the run-record lifecycle with its heartbeat.
 *
 * Finish sequence (sy_driver_publish): winners per db_id (sy_select_winners; coverage check) →
 *   manifest (build_meta from the options, sharding from the CEL state, one row per non-empty
 *   winner, custom.shard_format = "sqlite") → manifest PUT then _CURRENT PUT (sy_publish) → run
 *   record manifest_ref → sweep of every object under the run that is not inside a winner's
 *   attempt directory (best effort) → build result JSON → run record succeeded.
 *
 * Failure behaviour
 *   sy_driver_publish leaves the run record alone on failure and tells the caller through
 *   d->published_manifest whether the manifest PUT succeeded (then only _CURRENT failed, and the
 *   message starts "manifest <ref> was published but _CURRENT was not updated"). The caller then
 *   calls sy_driver_fail, which deletes the run's shard objects unless the manifest references
 *   them, aborts unfinished uploads, and marks the run record failed (error_type from the status).
 *   Run-record and sweep failures never fail a build (spec §11).
 * Threads: one thread at a time per sy_driver (the heartbeat thread is internal).
 */
#ifndef SY_WRITE_DRIVER_H
#define SY_WRITE_DRIVER_H

#include <json-c/json.h>
#include <stdint.h>

#include "snapshot/publish.h"
#include "store/store.h"
#include "write/attempt.h"
#include "write/wcel.h"

typedef struct sy_driver {
    shardy_build_opts o;  /* owned copy (write/options.h); o.num_dbs is 0 in CEL direct mode */
    char *prefix;         /* normalised URL */
    char *run_id;
    sy_store *store;
    sy_wcel *cel;         /* CEL routing, NULL = HASH */
    sy_run_lifecycle lc;
    int have_lc;
    int64_t started_ns;
    int published_manifest;
    int discarded;        /* sy_driver_discard ran */
} sy_driver;

/* Copies and validates opts (flags: SY_WOPTS_*), normalises the prefix, picks the run id (a fresh
 * uuid4 hex when opts->run_id is NULL), compiles the CEL routing and opens the store. No object
 * is written. d must be zeroed; on failure release it with sy_driver_close. */
shardy_status sy_driver_init(sy_driver *d, const shardy_build_opts *opts, int flags) SY_NODISCARD;

/* Writes the run record (status running) and starts its heartbeat; a failure only means the build
 * runs without a run record (spec §11). */
void sy_driver_start_run(sy_driver *d);

/* 1 when num_dbs is discovered from the data (CEL direct mode). */
int sy_driver_direct(const sy_driver *d);

/* The finish sequence above over attempts[0..n) for num_dbs shards. write_ms and duplicates go
 * into the result; extra (may be NULL; consumed) is an object whose members are appended to the
 * result JSON. *out (shardy_build_result_free) is set on success. */
shardy_status sy_driver_publish(sy_driver *d, const sy_attempt *attempts, size_t n, uint32_t num_dbs,
                                int64_t write_ms, uint64_t duplicates, json_object *extra,
                                shardy_build_result **out) SY_NODISCARD;

/* Deletes the shard objects under the run (when delete_objects and no manifest was published)
 * and aborts unfinished uploads under it. Best effort, runs once. */
void sy_driver_discard(sy_driver *d, int delete_objects);

/* After a failure with status st (message in shardy_errmsg()): sy_driver_discard, run record
 * failed with error_type = sy_driver_error_type(st) or `error_type` when non-NULL. The thread's
 * message is kept. */
void sy_driver_fail(sy_driver *d, shardy_status st, const char *error_type, int delete_objects);

/* "ConfigValidationError" / "ShardAssignmentError" / "ShardWriteError" for a status. */
const char *sy_driver_error_type(shardy_status st);

/* The state check every public handle of the write side makes (builder, attempt writer, run),
 * whose states are SY_HANDLE_OPEN / _DONE / _FAILED: h NULL → SHARDY_EINVAL "<fn>: NULL <what>";
 * magic gone → SHARDY_ECLOSED "<fn>: <what> is closed"; state not open → SHARDY_ECLOSED "<fn>:
 * <what> already <done_word>|failed". state is only read when h is non-NULL and magic_ok. */
enum { SY_HANDLE_OPEN = 1, SY_HANDLE_DONE = 2, SY_HANDLE_FAILED = 3 };
shardy_status sy_handle_check(const void *h, int magic_ok, int state, const char *fn, const char *what,
                              const char *done_word) SY_NODISCARD;

/* Releases everything (a run record still running is marked failed). Accepts a zeroed d. */
void sy_driver_close(sy_driver *d);

#endif
