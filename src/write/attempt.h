/*
 * attempt.h — the result of writing one shard attempt and deterministic winner selection
 * (spec writer §5.14, §5.16; DESIGN §3).
 *
 * Every engine (native threads, Spark tasks, Python/Dask/Ray workers) reports one sy_attempt per
 * shard attempt; the driver picks one winner per db_id: smallest (attempt, task_attempt_id with
 * "none" = 2^63-1, db_url). A db_id outside [0, num_dbs) is a coverage error. Winners with a NULL
 * db_url are empty shards and get no manifest row.
 */
#ifndef SY_WRITE_ATTEMPT_H
#define SY_WRITE_ATTEMPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SY_NO_ID INT64_MIN /* stage_id / task_attempt_id "null" */

typedef struct sy_attempt {
    uint32_t db_id;
    char *db_url;         /* attempt prefix (no trailing '/'); NULL = empty shard, nothing written */
    uint32_t attempt;
    uint64_t row_count;   /* rows routed to the shard, duplicates counted */
    uint64_t db_bytes;
    unsigned char *min_key; /* smallest / largest ENCODED key written (owned), NULL if none */
    size_t min_len;
    unsigned char *max_key;
    size_t max_len;
    char checkpoint_id[33]; /* "" = none */
    int64_t duration_ms;
    int64_t stage_id;     /* SY_NO_ID = null */
    int64_t task_attempt_id;
} sy_attempt;

/* Frees the strings of an attempt (not the struct). */
void sy_attempt_clear(sy_attempt *a);

/* Picks winners. winners[db_id] (array of num_dbs pointers into `attempts`, caller-allocated) is
 * the winning attempt or NULL when the shard is empty. SHARDY_EROUTE "Shard coverage mismatch;
 * extra=[...]" if any db_id >= num_dbs. */
shardy_status sy_select_winners(const sy_attempt *attempts, size_t n, uint32_t num_dbs,
                                const sy_attempt **winners) SY_NODISCARD;

/* Strict ordering used by winner selection (<0 when a wins over b). */
int sy_attempt_cmp(const sy_attempt *a, const sy_attempt *b);

#endif
