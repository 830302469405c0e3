/*
 * manifest.h — the manifest: an in-memory model, the SQLite-image builder and the parser
 * (spec formats §3; reader-cli §1.3 for the Python error texts).
 *
 * Owns: struct sy_manifest and everything hanging off it; the exact DDL of §3.2; the JSON
 * encodings of the `sharding`, `custom`, `min_key`/`max_key` and `writer_info` columns; every
 * validation rule of §3.9.
 *
 * Invariants of a manifest returned by sy_manifest_parse (and required by sy_manifest_serialize):
 *   - format_version == 4, 0 < num_dbs <= SY_MANIFEST_MAX_NUM_DBS;
 *   - shards[] is sorted by db_id, ids unique and in [0, num_dbs), n_shards <= num_dbs, all
 *     counters >= 0;
 *   - sharding obeys §3.4 (hash: no CEL fields; cel: non-empty expr and columns, column types in
 *     {int,string,bytes,double,bool,uint}, routing values unique, all int or all str);
 *   - custom is a JSON object (never NULL) and has no `vector` object without a truthy `unified`;
 *   - every string is valid UTF-8 without NUL bytes (sy_scalar strings may contain NULs).
 *
 * Decisions (documented divergences from the lax Python/pydantic reader):
 *   - Integer columns must hold SQLite INTEGER values and TEXT columns SQLite TEXT values; pydantic
 *     would also take the TEXT '4' or a BLOB. With the §3.2 DDL the column affinities make such
 *     values impossible, so only hand-made manifests are affected.
 *   - created_at must be an ISO-8601 string (pydantic would also take a Unix timestamp number).
 *   - num_dbs is capped at SY_MANIFEST_MAX_NUM_DBS (Python has no cap) because sy_manifest_pad
 *     allocates one row per db_id.
 *   - min_key/max_key and routing values must be JSON integers in [-2^63, 2^64-1] or strings;
 *     floats and booleans are refused (pydantic would coerce 1.0 and true to 1).
 *   - JSON nested deeper than SY_JSON_MAX_DEPTH and TEXT/JSON values over SY_MANIFEST_MAX_VALUE
 *     bytes are refused.
 *   - A WAL-format image (header bytes 18/19 == 2) is refused, like Python's deserialize refuses
 *     it: the message says the image is WAL-mode and that manifests must be rollback-journal files.
 *   - `custom.vector` without a truthy `unified` is refused here with SHARDY_EUNSUPPORTED (Python
 *     refuses it one layer up, in the generic KV reader, with ConfigValidationError).
 *
 * Failure behaviour: every failure names the manifest URL and, where it applies, the table,
 * column, row and offending value, e.g.
 *   "manifest file:///x/manifests/…/manifest: table shards has no column db_bytes",
 *   "manifest s3://b/p/…/manifest: Manifest validation failed: table shards row db_id=3 column
 *    attempt: must be >= 0, got -1",
 *   "manifest …: Unsupported manifest format_version: 5. Supported: [4]".
 * Status codes: SHARDY_EFORMAT (malformed or invalid), SHARDY_EVERSION (format_version != 4),
 * SHARDY_EUNSUPPORTED (vector manifest), SHARDY_ENOMEM, SHARDY_EINVAL (builder given a
 * C-writer-invalid setting such as an unsafe run_id or a bytes routing value). The parser never
 * crashes or runs unbounded on hostile input: the image is opened read-only from a private copy
 * with SQLite's defensive settings (no views, no triggers, untrusted schema, length limit) and a
 * work budget on every query.
 *
 * Thread-safety: functions touch only their arguments; a manifest may be read from many threads
 * but must not be modified concurrently.
 */
#ifndef SY_SNAPSHOT_MANIFEST_H
#define SY_SNAPSHOT_MANIFEST_H

#include <json-c/json.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define SY_MANIFEST_FORMAT_VERSION 4
#define SY_MANIFEST_CONTENT_TYPE "application/x-sqlite3"
#define SY_MANIFEST_MAX_NUM_DBS 1000000
#define SY_MANIFEST_MAX_VALUE (64 * 1024 * 1024)

/* The exact DDL of spec §3.2 (what sqlite_master.sql holds). */
extern const char sy_manifest_ddl_build_meta[];
extern const char sy_manifest_ddl_shards[];

/* ---- scalars: min_key / max_key / routing values ------------------------------------------ */

typedef enum sy_scalar_kind {
    SY_SCALAR_NULL = 0,  /* absent / JSON null / SQL NULL */
    SY_SCALAR_INT = 1,   /* i */
    SY_SCALAR_UINT = 2,  /* u, always > INT64_MAX (smaller values are SY_SCALAR_INT) */
    SY_SCALAR_STR = 3,   /* str[0..len), valid UTF-8 */
    SY_SCALAR_BYTES = 4  /* str[0..len), raw bytes: never produced by the parser; refused as a
                            routing value by the builder (cannot round-trip through JSON) */
} sy_scalar_kind;

typedef struct sy_scalar {
    sy_scalar_kind kind;
    int64_t i;
    uint64_t u;
    char *str;  /* STR/BYTES: owned, NUL-terminated (may also contain NULs; use len) */
    size_t len;
} sy_scalar;

/* Frees the string of s and resets it to SY_SCALAR_NULL. Accepts NULL. */
void sy_scalar_clear(sy_scalar *s);
/* Deep copy; *dst must be cleared/uninitialised storage (it is overwritten). */
shardy_status sy_scalar_copy(sy_scalar *dst, const sy_scalar *src) SY_NODISCARD;
/* 1 when a and b are the same Python value (ints by value, str/bytes by kind and bytes). */
int sy_scalar_equal(const sy_scalar *a, const sy_scalar *b);

/* The min_key/max_key writer rule of §3.6.1 for a raw key: int/uint → integer; str or bytes that
 * are valid UTF-8 → SY_SCALAR_STR; bytes (or str) that are not valid UTF-8 → SY_SCALAR_NULL (the
 * column is written as SQL NULL). *out is overwritten (owned by the caller, sy_scalar_clear). */
shardy_status sy_scalar_from_key(const shardy_key *key, sy_scalar *out) SY_NODISCARD;

/* Appends json.dumps(value) of s (Appendix A escaping): 42, 18446744073709551615, "z\u00e9".
 * SY_SCALAR_NULL → "null"; SY_SCALAR_BYTES → SHARDY_EINVAL. */
shardy_status sy_scalar_to_json(const sy_scalar *s, sy_buf *out) SY_NODISCARD;

/* The min_key/max_key column text for a raw key per §3.6.1, or *json = NULL (SQL NULL) for bytes
 * that are not valid UTF-8. Caller frees *json with sy_free. */
shardy_status sy_manifest_key_json(const shardy_key *key, char **json) SY_NODISCARD;

/* ---- sharding ------------------------------------------------------------------------------ */

typedef enum sy_strategy { SY_STRATEGY_HASH = 0, SY_STRATEGY_CEL = 1 } sy_strategy;

typedef struct sy_cel_column {
    char *name; /* owned */
    char *type; /* owned: int | string | bytes | double | bool | uint */
} sy_cel_column;

typedef struct sy_sharding {
    sy_strategy strategy;
    /* hash_algorithm is always "xxh3_64" (the only supported value; checked by the parser). */
    char *cel_expr;                /* owned; NULL = null/absent */
    int has_cel_columns;           /* 1 when cel_columns is an object (possibly empty) */
    sy_cel_column *cel_columns;    /* owned; JSON object order (emitted sorted) */
    size_t n_cel_columns;
    int has_routing_values;        /* 1 = categorical mode (array present, possibly empty) */
    sy_scalar *routing_values;     /* owned; all INT/UINT or all STR */
    size_t n_routing_values;
} sy_sharding;

/* Appends a cel column (copies name and type; sets has_cel_columns). */
shardy_status sy_sharding_add_cel_column(sy_sharding *s, const char *name, const char *type) SY_NODISCARD;
/* Appends a routing value (deep copy; sets has_routing_values). */
shardy_status sy_sharding_add_routing_value(sy_sharding *s, const sy_scalar *v) SY_NODISCARD;
/* Frees everything owned by s and zeroes it (strategy hash, no CEL fields). */
void sy_sharding_clear(sy_sharding *s);
/* Appends the `sharding` column text: json.dumps(d, sort_keys=True) with all five keys, e.g.
 * {"cel_columns": null, "cel_expr": null, "hash_algorithm": "xxh3_64", "routing_values": null,
 * "strategy": "hash"}. Does not validate (sy_manifest_validate does). */
shardy_status sy_sharding_json(const sy_sharding *s, sy_buf *out) SY_NODISCARD;

/* ---- shards -------------------------------------------------------------------------------- */

typedef struct sy_writer_info {
    int64_t attempt;          /* default 0 */
    int64_t duration_ms;      /* default 0 */
    int has_stage_id;         /* 0 = null */
    int64_t stage_id;
    int has_task_attempt_id;  /* 0 = null */
    int64_t task_attempt_id;
} sy_writer_info;

/* Appends the `writer_info` column text with all four keys, e.g. {"attempt": 0, "duration_ms": 0,
 * "stage_id": null, "task_attempt_id": null}. */
shardy_status sy_writer_info_json(const sy_writer_info *w, sy_buf *out) SY_NODISCARD;

typedef struct sy_shard {
    int64_t db_id;
    char *db_url;             /* owned; NULL = empty shard (never written as a row by the builder) */
    int64_t attempt;
    int64_t row_count;
    int64_t db_bytes;
    sy_scalar min_key;        /* SY_SCALAR_NULL when the column is NULL */
    sy_scalar max_key;
    char *min_key_json;       /* parse: the column text as stored (NULL for SQL NULL); the builder
                                 ignores it and emits sy_scalar_to_json(min_key) */
    char *max_key_json;
    char *checkpoint_id;      /* owned; nullable */
    sy_writer_info writer_info;
} sy_shard;

/* Sets min_key/max_key from raw keys with the §3.6.1 rule (either may be NULL = no key). */
shardy_status sy_shard_set_key_range(sy_shard *sh, const shardy_key *min, const shardy_key *max) SY_NODISCARD;

/* ---- manifest ------------------------------------------------------------------------------ */

typedef struct sy_manifest {
    char *run_id;
    int64_t created_at_us;    /* µs since the epoch, UTC */
    char *created_at;         /* parse: the text as stored; the builder ignores it and writes the
                                 pydantic form of created_at_us (Appendix B) */
    int64_t num_dbs;
    char *s3_prefix;
    char *key_col;
    sy_sharding sharding;
    char *db_path_template;
    char *shard_prefix;
    int64_t format_version;   /* SY_MANIFEST_FORMAT_VERSION */
    shardy_key_encoding key_encoding;
    json_object *custom;      /* owned reference (json_object_put), always an object */
    sy_shard *shards;         /* owned, see the invariants above */
    size_t n_shards;
    size_t cap_shards;
    int padded;               /* 1 after sy_manifest_pad */
} sy_manifest;

/* A new manifest with the defaults: format_version 4, key_encoding u64be, hash strategy,
 * custom = {}, everything else zero/NULL. NULL when out of memory (message set). Free with
 * sy_manifest_free. */
sy_manifest *sy_manifest_new(void);

/* Frees the manifest and everything it owns; *m becomes NULL. Accepts NULL and *m == NULL. */
void sy_manifest_free(sy_manifest **m);

/* Appends a zeroed shard row (db_url NULL, writer_info defaults) and returns it through *out.
 * The pointer is valid until the next add or sy_manifest_pad. Fill its strings with owned
 * allocations (sy_strdup); the manifest frees them. */
shardy_status sy_manifest_add_shard(sy_manifest *m, sy_shard **out) SY_NODISCARD;

/* Checks every rule of §3.9 (and, when for_write is non-zero, the C writer rules: run_id per
 * sy_run_id_check, s3_prefix per sy_layout_check_prefix, shard_prefix and db_path_template per
 * layout.h, UTF-8 text, no bytes routing values). Shards need not be sorted. `url` names the
 * manifest in messages (NULL → "(unpublished)"). */
shardy_status sy_manifest_validate(const sy_manifest *m, int for_write, const char *url) SY_NODISCARD;

/* Builds the manifest image: sqlite3_open(":memory:"), page size 4096, UTF-8, the exact §3.2 DDL,
 * one build_meta row (created_at in pydantic form, format_version 4), one shards row per shard
 * whose db_url is not NULL, then sqlite3_serialize. The bytes (rollback-journal header, bytes
 * 18/19 == 1) are appended to out. Refuses (sy_manifest_validate with for_write = 1) anything
 * the parser or DESIGN §3 would refuse; out is unchanged on failure. */
shardy_status sy_manifest_serialize(const sy_manifest *m, const char *url, sy_buf *out) SY_NODISCARD;

/* Parses a manifest image (spec §3.9, reader-cli §1.3). bytes[0..len) is only read (a private
 * copy is handed to SQLite). `url` names the manifest in messages. On success *out is a new
 * manifest (sy_manifest_free); on failure *out is NULL. */
shardy_status sy_manifest_parse(const void *bytes, size_t len, const char *url, sy_manifest **out) SY_NODISCARD;

/* Turns shards[] into the full table for db_id 0..num_dbs-1 (spec §3.7): afterwards
 * n_shards == num_dbs and shards[i].db_id == i; ids without a row get an empty shard (db_url
 * NULL, counters 0, keys NULL, writer_info defaults). Idempotent. Invalidates pointers into the
 * old shards[]. Requires a validated manifest (SHARDY_EINVAL otherwise). */
shardy_status sy_manifest_pad(sy_manifest *m) SY_NODISCARD;

/* The non-empty shard for db_id (a row whose db_url is not NULL), or NULL for an empty shard or an
 * id out of range. O(1) once padded, a linear scan before. The pointer lives as long as the row. */
const sy_shard *sy_manifest_find_shard(const sy_manifest *m, int64_t db_id);

#endif
