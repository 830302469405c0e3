/*
 * attempt.h — the result of writing one shard attempt and deterministic winner selection
 * (spec writer §5.14, §5.16; DESIGN §3).
 *
 * Every engine (native threads, Spark tasks, Python/Dask/Ray workers) reports one sy_attempt per
 * shard attempt; the driver picks one winner per db_id: smallest (attempt, task_attempt_id with
 * "none" = 2^63-1, db_url). A db_id outside [0, num_dbs) is a coverage error. Winners with a NULL
 * db_url are empty shards and get no manifest row.
 *
 * Attempt result JSON (the transport between engine tasks and the driver, shardy.h "Distributed
 * builds"): sy_attempt_to_json / sy_attempt_from_json round-trip every field. Keys travel as logical
 * keys (integers for u64be/u32be, strings for UTF-8 utf8/raw keys, {"hex":...} otherwise) and are
 * stored here in their encoded form, so a parsed attempt is indistinguishable from a native one.
 * Parsing is strict: a missing field or a value of the wrong type or range is SHARDY_EFORMAT
 * naming "attempts[<index>].<field>".
 */
#ifndef SY_WRITE_ATTEMPT_H
#define SY_WRITE_ATTEMPT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

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

/* The logical key of an encoded key (u64be/u32be → integer; utf8/raw → the bytes as a text key,
 * borrowed from k). Used for manifest key ranges (spec formats §3.6.1) and the attempt JSON. */
shardy_key sy_attempt_key(shardy_key_encoding enc, const unsigned char *k, size_t n);

/* The attempt result JSON object of a (field order as in shardy.h); all_attempt_urls lists
 * a->db_url, or is empty for an empty shard. *out is a new reference. */
shardy_status sy_attempt_to_json(const sy_attempt *a, shardy_key_encoding enc, json_object **out) SY_NODISCARD;

/* Parses element `index` of an attempts array into *a (zeroed first; sy_attempt_clear it, also on
 * failure). Keys are encoded with enc. */
shardy_status sy_attempt_from_json(json_object *o, size_t index, shardy_key_encoding enc,
                                   sy_attempt *a) SY_NODISCARD;

#endif
