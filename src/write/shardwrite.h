/*
 * shardwrite.h — one shard attempt from buffered rows to an uploaded, sealed SQLite file (spec
 * writer §5.12), shared by the native builder (one attempt per shard, many threads) and the
 * distributed attempt writer (one attempt per task).
 *
 * What it owns
 *   sy_shard_rows_add: key encoding, size limits and the append to a shard's sy_rowbuf.
 *   sy_shard_rows_spill: the spill-file naming under a staging directory.
 *   sy_shard_write_attempt: merge the buffer in key order (last added wins) → SQLite writer (rate
 *   limited per batch) → seal → checkpoint id (stamped only after a successful seal) → upload to
 *   <db_url>/shard.db → delete the local file. The local file lives at
 *   <staging>/db=NNNNN/attempt=NN/shard.db.
 *
 * Invariants: a buffer without rows writes and uploads nothing (a->db_url stays NULL: an empty
 *   shard, spec §5.12). The buffer is freed (memory and spill files) whatever the outcome.
 *
 * Failure behaviour: the message is prefixed "shard db_id=N"; the partial local file is deleted.
 *   An upload that failed part way may leave an object at db_url: the caller owns the cleanup of
 *   the attempt directory (it knows whether anything was uploaded through cfg->uploaded).
 *   Thread-safe for distinct buffers/attempts (the store is shared and thread-safe).
 */
#ifndef SY_WRITE_SHARDWRITE_H
#define SY_WRITE_SHARDWRITE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "write/attempt.h"
#include "write/rowbuf.h"

typedef struct sy_shardwrite_cfg {
    sy_store *store;
    const char *prefix;           /* normalised snapshot root URL */
    const char *shard_prefix;
    const char *run_id;
    const char *db_path_template;
    const char *staging;          /* local scratch directory of this writer */
    int page_size;
    size_t batch_size;
    double max_writes_per_second;
    double max_write_bytes_per_second;
    atomic_int *abort_flag;       /* may be NULL: set by another thread → stop early */
    atomic_int *uploaded;         /* may be NULL: set to 1 just before the upload starts */
    int keep_rows_on_failure;     /* 1: a failed write leaves rb intact for another attempt */
} sy_shardwrite_cfg;

/* Encodes key with enc (purpose write; *kp may point into scratch) and checks the key/value size
 * limits: SHARDY_ETYPE/ERANGE for a row that cannot be stored. */
shardy_status sy_shard_row_encode(shardy_key_encoding enc, const shardy_key *key, size_t value_len,
                                  unsigned char scratch[8], const void **kp, size_t *kn) SY_NODISCARD;

/* Encodes key with enc (purpose write), checks the key/value size limits and appends the row to rb
 * with sequence number seq. SHARDY_ETYPE/ERANGE for a key or value that cannot be stored (nothing
 * added). */
shardy_status sy_shard_rows_add(sy_rowbuf *rb, shardy_key_encoding enc, const shardy_key *key, const void *value,
                                size_t value_len, uint64_t seq) SY_NODISCARD;

/* Spills rb (if it holds rows) to <staging>/spill-db<db_id:05d>-<n>.run. */
shardy_status sy_shard_rows_spill(sy_rowbuf *rb, const char *staging, uint32_t db_id, unsigned n) SY_NODISCARD;

/* Writes attempt `attempt` of shard db_id from rb (see above) and fills a: db_id, attempt,
 * row_count (rows added, duplicates counted), db_url, db_bytes, min/max encoded keys,
 * checkpoint_id, duration_ms. a->stage_id / a->task_attempt_id are left as the caller set them.
 * *dups (may be NULL) = superseded duplicate rows. rb is freed afterwards, except after a failure
 * when cfg->keep_rows_on_failure is set (a retry merges it again; the caller frees it then). */
shardy_status sy_shard_write_attempt(const sy_shardwrite_cfg *cfg, sy_rowbuf *rb, uint32_t db_id, uint32_t attempt,
                                     sy_attempt *a, uint64_t *dups) SY_NODISCARD;

#endif
