/*
 * shardy.h — the one public header of libshardy (shardyfusion in C).
 *
 * libshardy turns batches of key→value records into immutable, sharded snapshots on object storage
 * (a local folder or S3) and serves point lookups from them. Snapshots are schema-compatible with the
 * Python shardyfusion project (manifest format 4).
 *
 * Conventions used by every function in this header:
 *   - Every fallible function returns a shardy_status; 0 (SHARDY_OK) is success.
 *   - On failure, shardy_errmsg() returns a message for the calling thread that says what failed and
 *     where (URL, table, column, value). It stays valid until the next libshardy call on that thread.
 *   - Pointers returned through out-parameters are owned as documented next to each function.
 *   - Close/free functions take T ** (or T *), accept NULL and set the pointer to NULL.
 *   - Unless stated otherwise functions are thread-safe when called on different handles.
 */
#ifndef SHARDY_H
#define SHARDY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(SHARDY_BUILDING)
#define SHARDY_API __attribute__((visibility("default")))
#else
#define SHARDY_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Status codes, grouped by range.
 *   1xx usage/config   2xx local I/O   3xx object store   4xx format/corruption   5xx routing
 * ------------------------------------------------------------------------------------------- */
typedef enum shardy_status {
    SHARDY_OK = 0,

    SHARDY_EINVAL = 100,   /* invalid argument or configuration */
    SHARDY_ENOMEM = 101,   /* allocation failed */
    SHARDY_ECLOSED = 102,  /* handle used after close */
    SHARDY_ERANGE = 103,   /* value out of range (e.g. key for its encoding) */
    SHARDY_ETYPE = 104,    /* value of the wrong type (e.g. str key on a u64be snapshot) */
    SHARDY_EUNSUPPORTED = 105, /* feature not available in this build / snapshot kind */
    SHARDY_EINTERNAL = 106, /* a bug: an invariant did not hold */

    SHARDY_EIO = 200,      /* local file-system or OS error */
    SHARDY_ENOTFOUND = 201, /* object, file or key does not exist */
    SHARDY_EEXIST = 202,    /* object already exists */

    SHARDY_ESTORE = 300,   /* object store request failed */
    SHARDY_EAUTH = 301,    /* object store rejected the credentials */
    SHARDY_ETIMEOUT = 302, /* object store request timed out */

    SHARDY_EFORMAT = 400,  /* malformed or corrupt data (manifest, _CURRENT, shard file, input row) */
    SHARDY_EVERSION = 401, /* well-formed but unsupported format version */
    SHARDY_ESQLITE = 402,  /* SQLite reported an error on a shard or manifest */

    SHARDY_EROUTE = 500    /* key cannot be routed (wrong type, out of range, unknown token) */
} shardy_status;

/* Static text naming the status ("invalid argument", ...). Never NULL. */
SHARDY_API const char *shardy_strerror(shardy_status st);

/* Message describing the last failure on the calling thread ("" if none). Valid until the next
 * libshardy call on this thread. */
SHARDY_API const char *shardy_errmsg(void);

/* Library version, e.g. "0.1.0". Static string. */
SHARDY_API const char *shardy_version(void);

/* ---------------------------------------------------------------------------------------------
 * Keys and routing (spec formats §4, §5).
 *
 * A key is an integer, a text string (UTF-8) or a byte string. Integers are a single logical type
 * (like Python's int): SHARDY_KEY_INT carries an int64_t, SHARDY_KEY_UINT carries a uint64_t for
 * values that do not fit int64 (only u64be can store those, and they cannot be hash-routed).
 * ------------------------------------------------------------------------------------------- */
typedef enum shardy_key_type {
    SHARDY_KEY_INT = 1,
    SHARDY_KEY_UINT = 2,
    SHARDY_KEY_STR = 3,
    SHARDY_KEY_BYTES = 4
} shardy_key_type;

typedef struct shardy_key {
    shardy_key_type type;
    int64_t i;        /* SHARDY_KEY_INT */
    uint64_t u;       /* SHARDY_KEY_UINT */
    const void *data; /* SHARDY_KEY_STR / SHARDY_KEY_BYTES: borrowed, not NUL-terminated */
    size_t len;
} shardy_key;

static inline shardy_key shardy_key_int(int64_t v) {
    shardy_key k = {SHARDY_KEY_INT, v, 0, 0, 0};
    return k;
}
static inline shardy_key shardy_key_uint(uint64_t v) {
    shardy_key k = {SHARDY_KEY_UINT, 0, v, 0, 0};
    return k;
}
static inline shardy_key shardy_key_str(const char *s, size_t n) {
    shardy_key k = {SHARDY_KEY_STR, 0, 0, s, n};
    return k;
}
static inline shardy_key shardy_key_bytes(const void *p, size_t n) {
    shardy_key k = {SHARDY_KEY_BYTES, 0, 0, p, n};
    return k;
}

/* Stored-key encodings (manifest build_meta.key_encoding). */
typedef enum shardy_key_encoding {
    SHARDY_KEYENC_U64BE = 0, /* default: 8-byte unsigned big-endian integer */
    SHARDY_KEYENC_U32BE = 1, /* 4-byte unsigned big-endian integer */
    SHARDY_KEYENC_UTF8 = 2,  /* str → UTF-8, bytes verbatim */
    SHARDY_KEYENC_RAW = 3    /* same bytes as utf8 */
} shardy_key_encoding;

/* "u64be", "u32be", "utf8", "raw"; NULL for an invalid value. */
SHARDY_API const char *shardy_key_encoding_name(shardy_key_encoding enc);
/* Parses the lowercase name. SHARDY_EINVAL for anything else. */
SHARDY_API shardy_status shardy_key_encoding_parse(const char *name, shardy_key_encoding *out);

/* xxh3_64 (seed 0) of the key's canonical bytes: int → 8-byte signed little-endian, str → UTF-8,
 * bytes → as is. SHARDY_EROUTE for a SHARDY_KEY_UINT above INT64_MAX. */
SHARDY_API shardy_status shardy_key_digest(const shardy_key *key, uint64_t *digest);

/* HASH routing: db_id = digest mod num_dbs (unsigned 64-bit). num_dbs must be > 0. Either out
 * pointer may be NULL. */
SHARDY_API shardy_status shardy_route_hash(const shardy_key *key, uint64_t num_dbs, uint64_t *db_id,
                                           uint64_t *digest);

/* Encodes a key to the bytes stored in (or looked up from) a shard.
 *   purpose 0 = write: u64be/u32be accept only integers; utf8/raw accept str and bytes.
 *   purpose 1 = lookup: additionally u64be/u32be accept a bytes key of exactly 8/4 bytes, verbatim.
 * Writes at most cap bytes to out and always sets *out_len to the encoded length; SHARDY_ERANGE if
 * cap is too small (nothing written), or if an integer is out of range for the encoding;
 * SHARDY_ETYPE for a key of the wrong type. */
#define SHARDY_ENCODE_WRITE 0
#define SHARDY_ENCODE_LOOKUP 1
SHARDY_API shardy_status shardy_key_encode(shardy_key_encoding enc, int purpose, const shardy_key *key,
                                           void *out, size_t cap, size_t *out_len);


/* ---------------------------------------------------------------------------------------------
 * Memory returned by the library
 * ------------------------------------------------------------------------------------------- */
/* Frees memory the library documents as "free with shardy_free". NULL is fine. */
SHARDY_API void shardy_free(void *p);

/* ---------------------------------------------------------------------------------------------
 * Building snapshots (spec writer §5; DESIGN §3 "Write pipeline").
 *
 *   shardy_build_opts o; shardy_build_opts_init(&o);
 *   o.prefix = "/data/snap"; o.num_dbs = 16;
 *   shardy_builder *b; shardy_builder_open(&o, &b);
 *   for each row: shardy_builder_add(b, &key, value, value_len);
 *   shardy_build_result *res; shardy_builder_finish(b, &res);   // writes shards, publishes
 *   shardy_builder_close(&b); shardy_build_result_free(&res);
 *
 * Rows are routed (xxh3_64 of the key's canonical bytes mod num_dbs), encoded with key_encoding,
 * buffered per shard (sorted runs spilled to local_dir beyond memory_limit), and at finish each
 * shard is merged in key order into its own SQLite file by a pool of writer threads, uploaded to
 * <prefix>/<shard_prefix>/run_id=<run_id>/<db_path_template>/attempt=NN/shard.db, then the manifest
 * and finally _CURRENT are published. Duplicate keys: the last added wins. A builder that is closed
 * without a successful finish publishes nothing and leaves the current snapshot untouched.
 * A builder handle is used from one thread at a time.
 * ------------------------------------------------------------------------------------------- */
typedef struct shardy_builder shardy_builder;
typedef struct shardy_build_result shardy_build_result;

typedef struct shardy_build_opts {
    const char *prefix;               /* required: snapshot root (local path, file:// URL) */
    uint32_t num_dbs;                 /* number of shards, > 0 (see shardy_num_dbs_for_rows) */
    shardy_key_encoding key_encoding; /* default SHARDY_KEYENC_U64BE */
    const char *key_col;              /* manifest build_meta.key_col; default "_key" */
    const char *run_id;               /* NULL → random uuid4 hex; else [A-Za-z0-9._-]{1,128} */
    const char *shard_prefix;         /* default "shards" */
    const char *db_path_template;     /* default "db={db_id:05d}" */
    const char *run_registry_prefix;  /* default "runs" */
    const char *local_dir;            /* staging root; NULL → $TMPDIR (or /tmp) + "/shardyfusion" */
    const char *custom_json;          /* extra manifest `custom` fields: JSON object text, or NULL */
    const char *writer_type;          /* run record writer_type; default "c" */
    int threads;                      /* shard writer threads; 0 → number of online CPUs */
    size_t batch_size;                /* rows per insert batch and rate-limit unit; default 50000 */
    uint64_t memory_limit;            /* bytes of buffered rows before spilling; default 1 GiB */
    double max_writes_per_second;     /* per shard writer, rows/s; 0 = unlimited */
    double max_write_bytes_per_second;/* per shard writer, key+value bytes/s; 0 = unlimited */
    int page_size;                    /* SQLite page size 4096..65536; 0 → 4096; -1 → auto (spec §7.4) */
    int progress;                     /* 1 → progress lines on stderr while building */
    int heartbeat_seconds;            /* run-record heartbeat interval; 0 → 60 */
    /* Object-store connection settings (used by s3:// only; validated for every scheme). Defaults
     * (all NULL/0): environment and AWS shared files, see README "S3". s3_options are "KEY=VALUE"
     * strings as for the CLI's --s3-option (endpoint_url, region_name, addressing_style, verify_ssl,
     * connect_timeout, read_timeout, max_attempts, multipart_*, retry_*; identity keys refused);
     * a bad one → SHARDY_EINVAL naming it. credentials_file: a shardyfusion credentials.toml whose
     * profile credentials_profile (NULL → "default") is loaded first, the options then override
     * it; a profile without a file is SHARDY_EINVAL. Borrowed: only read while opening. */
    const char *const *s3_options;
    size_t n_s3_options;
    const char *credentials_file;
    const char *credentials_profile;
    /* CEL routing (see "CEL routing" below); all NULL/0 = HASH routing. */
    const char *cel_expr;                   /* non-NULL: CEL sharding with this expression */
    const char *const *cel_columns;         /* "name:type", type int|uint|double|string|bytes|bool */
    size_t n_cel_columns;
    const char *const *routing_values;      /* non-NULL (even with n 0): categorical mode, as text */
    size_t n_routing_values;
    int routing_values_are_ints;            /* 1: routing_values are decimal integers */
    /* Shard-level retry (spec writer §6.3; the builder only — distributed tasks retry themselves):
     * a shard whose write fails with a retryable status (SHARDY_EIO, SHARDY_ESTORE,
     * SHARDY_ETIMEOUT) is written again from its buffered rows as the next attempt number, up to
     * shard_retry_max more times, waiting shard_retry_backoff_s seconds first (multiplied by
     * shard_retry_multiplier after each retry). 0 = no retry. The failed tries' uploads are not
     * winners: publish sweeps them. */
    unsigned shard_retry_max;
    double shard_retry_backoff_s;           /* >= 0; default 1.0 */
    double shard_retry_multiplier;          /* >= 1; default 2.0 */
} shardy_build_opts;

/* Fills o with the defaults above (all pointers NULL). Always call it before setting fields. */
SHARDY_API void shardy_build_opts_init(shardy_build_opts *o);

/* num_dbs for max_keys_per_shard: max(1, ceil(rows / max_keys_per_shard)); 0 if max_keys is 0. */
SHARDY_API uint32_t shardy_num_dbs_for_rows(uint64_t rows, uint64_t max_keys_per_shard);

/* Validates options (no I/O beyond creating local_dir), writes the run record (status running). */
SHARDY_API shardy_status shardy_builder_open(const shardy_build_opts *o, shardy_builder **out);

/* Adds one row. The key and value are copied. SHARDY_EROUTE / SHARDY_ERANGE / SHARDY_ETYPE for a key
 * that cannot be routed or encoded (the builder stays usable: the row is simply not added). */
SHARDY_API shardy_status shardy_builder_add(shardy_builder *b, const shardy_key *key, const void *value,
                                            size_t value_len);

/* Adds one row to an explicit shard (routing done by the caller, e.g. CEL). db_id < num_dbs. */
SHARDY_API shardy_status shardy_builder_add_routed(shardy_builder *b, uint32_t db_id, const shardy_key *key,
                                                   const void *value, size_t value_len);

/* ---- CEL routing (spec cel.md §1.6–1.11; DESIGN §3 "Routing") --------------------------------
 * Set o.cel_expr and o.cel_columns to route rows by a CEL expression instead of HASH:
 *   - direct mode (routing_values NULL): the result (int/uint) is the db_id, no modulo. num_dbs is
 *     discovered from the data (o.num_dbs is ignored): at finish the ids seen must be exactly
 *     0..max ("non-consecutive" → SHARDY_EROUTE); no rows → num_dbs 1. Negative ids and ids
 *     ≥ 1,000,000 are refused per row.
 *   - categorical mode (routing_values non-NULL): token position in routing_values is the db_id,
 *     num_dbs = max(1, n). Values are strings, or integers when routing_values_are_ints. Inferred
 *     routing values need a first pass over the data: collect the distinct tokens, sort them
 *     (integers numerically, strings by UTF-8 bytes) and pass them here (`shardy build
 *     --infer-routing-values` does exactly that).
 * Per row: the variable `key` binds to the row key when no argument named `key` is given
 * (DESIGN §3), so shardy_builder_add works when the expression reads only `key`. Evaluation
 * errors, wrong result kinds, out-of-range ids and unknown categorical tokens return
 * SHARDY_EROUTE (the row is not added; the builder stays usable). An expression that does not
 * compile or type-check fails shardy_builder_open with SHARDY_EINVAL, a caret and a fix hint.
 * ------------------------------------------------------------------------------------------- */
typedef enum shardy_cel_type {
    SHARDY_CEL_UNSET = 0, /* not bound: reading it is an evaluation error */
    SHARDY_CEL_NULL,
    SHARDY_CEL_BOOL,      /* b */
    SHARDY_CEL_INT,       /* i */
    SHARDY_CEL_UINT,      /* u */
    SHARDY_CEL_DOUBLE,    /* d */
    SHARDY_CEL_STRING,    /* data/len, UTF-8 */
    SHARDY_CEL_BYTES      /* data/len */
} shardy_cel_type;

typedef struct shardy_cel_arg {
    const char *name;     /* column name; NULL → positional: args[i] binds cel_columns[i] */
    shardy_cel_type type;
    int b;
    int64_t i;
    uint64_t u;
    double d;
    const void *data;     /* borrowed for the call */
    size_t len;
} shardy_cel_arg;

/* Adds one row routed by the CEL expression with args[0..nargs) bound to the columns (names that
 * are not columns → SHARDY_EINVAL). Key and value are copied. No allocation per row beyond the
 * row buffer. SHARDY_EINVAL on a builder without cel_expr. */
SHARDY_API shardy_status shardy_builder_add_cel(shardy_builder *b, const shardy_key *key, const shardy_cel_arg *args,
                                                size_t nargs, const void *value, size_t value_len);

/* Writes every shard, publishes manifest then _CURRENT, sweeps non-winning attempts, marks the run
 * record succeeded. On failure nothing is published (or, if only _CURRENT failed, the manifest
 * exists but readers still see the old snapshot) and the run record is marked failed.
 * *out (free with shardy_build_result_free) is set on success. finish may be called once. */
SHARDY_API shardy_status shardy_builder_finish(shardy_builder *b, shardy_build_result **out);

/* Rows added so far (duplicates counted). */
SHARDY_API uint64_t shardy_builder_rows(const shardy_builder *b);

/* Releases the builder; if finish did not succeed, removes staging files and uploaded attempts of
 * this run and marks the run record failed. Accepts NULL; sets *b to NULL. */
SHARDY_API void shardy_builder_close(shardy_builder **b);

/* Result accessors; strings valid until shardy_build_result_free. */
SHARDY_API const char *shardy_build_result_run_id(const shardy_build_result *r);
SHARDY_API const char *shardy_build_result_manifest_ref(const shardy_build_result *r);
SHARDY_API uint64_t shardy_build_result_rows(const shardy_build_result *r);
/* The whole result as one JSON object: run_id, manifest_ref, num_dbs, rows_written, duplicates,
 * shards [{db_id, row_count, db_bytes, db_url}], durations_ms {...}. */
SHARDY_API const char *shardy_build_result_json(const shardy_build_result *r);
SHARDY_API void shardy_build_result_free(shardy_build_result **r);

/* ---------------------------------------------------------------------------------------------
 * Reading snapshots (spec reader-cli §2).
 *
 * A reader loads _CURRENT → manifest → opens one shard handle per non-empty shard. All calls are
 * thread-safe. refresh() swaps to a newly published snapshot atomically; lookups in flight finish
 * on the old snapshot, whose shard handles are closed only after the last of them ends. A lookup
 * never waits for a refresh. Empty shards answer "not found" without I/O.
 *
 * Lookup keys: integers for u64be/u32be snapshots (a bytes key of exactly 8/4 bytes is accepted
 * but is *routed as bytes*, so it generally lands on the wrong shard — use integers); str or bytes
 * for utf8/raw snapshots.
 * ------------------------------------------------------------------------------------------- */
typedef struct shardy_reader shardy_reader;
typedef struct shardy_cursor shardy_cursor;

typedef struct shardy_reader_opts {
    const char *current_url;   /* URL or path of the _CURRENT object, or of the snapshot prefix
                                  (then "<prefix>/_CURRENT" is used) */
    const char *ref;           /* pin to this manifest URL instead of following _CURRENT */
    int offset;                /* pin to the N-th newest manifest (0 = newest); -1 = not pinned */
    const char *local_root;    /* cache dir for shards of remote stores; NULL → $TMPDIR/shardyfusion */
    int max_fallback_attempts; /* cold-start fallback depth on a corrupt manifest; default 3 */
    /* Object-store connection settings (used by s3:// only; validated for every scheme). Defaults
     * (all NULL/0): environment and AWS shared files, see README "S3". s3_options are "KEY=VALUE"
     * strings as for the CLI's --s3-option (endpoint_url, region_name, addressing_style, verify_ssl,
     * connect_timeout, read_timeout, max_attempts, multipart_*, retry_*; identity keys refused);
     * a bad one → SHARDY_EINVAL naming it. credentials_file: a shardyfusion credentials.toml whose
     * profile credentials_profile (NULL → "default") is loaded first, the options then override
     * it; a profile without a file is SHARDY_EINVAL. Borrowed: only read while opening (the
     * reader keeps its own store for refreshes and shard downloads). */
    const char *const *s3_options;
    size_t n_s3_options;
    const char *credentials_file;
    const char *credentials_profile;
} shardy_reader_opts;

/* Sets the defaults: everything NULL, offset -1, max_fallback_attempts 3. */
SHARDY_API void shardy_reader_opts_init(shardy_reader_opts *o);

/* Opens a reader; *out (close with shardy_reader_close) is NULL on failure.
 *   current_url: if an object exists at the URL it is the pointer (any name, e.g. _CURRENT_blue);
 *     else if <url>/_CURRENT exists, the URL is the snapshot prefix. A bare path means file://.
 *   Unpinned: reads _CURRENT (missing → SHARDY_ENOTFOUND "CURRENT pointer not found: <url>").
 *   ref / offset (exclusive, SHARDY_EINVAL): read that manifest; _CURRENT is not read; an offset
 *     past the history → SHARDY_ERANGE "Offset N out of range (only K manifests available)".
 *   A manifest that does not parse (SHARDY_EFORMAT / SHARDY_EVERSION) on an unpinned reader makes
 *     the reader try up to max_fallback_attempts older published manifests, newest first; none
 *     usable → SHARDY_EFORMAT "No valid manifest found after fallback ...". Pinned readers never
 *     fall back. CEL snapshots are routed as described at shardy_reader_get_ctx. Every non-empty
 *     shard is opened here
 *     (file:// in place; other stores are downloaded to local_root), so a missing or corrupt
 *     shard fails the open. */
SHARDY_API shardy_status shardy_reader_open(const shardy_reader_opts *o, shardy_reader **out);

/* Copy-out lookup. On a hit *found = 1 and *vlen = value length; the value is copied into buf when
 * it fits, else SHARDY_ERANGE (nothing copied; *vlen tells the size needed). On a miss *found = 0,
 * status SHARDY_OK. */
SHARDY_API shardy_status shardy_reader_get(shardy_reader *r, const shardy_key *key, void *buf, size_t cap,
                                           size_t *vlen, int *found);
/* Allocating lookup: *val (free with shardy_free) is NULL on a miss. */
SHARDY_API shardy_status shardy_reader_get_alloc(shardy_reader *r, const shardy_key *key, void **val, size_t *vlen,
                                                 int *found);

/* Batch lookup, grouped by shard internally; results in input order (duplicates repeated).
 * All-or-nothing: any shard failure fails the call. Free with shardy_values_free. */
typedef struct shardy_values shardy_values;
SHARDY_API shardy_status shardy_reader_multi_get(shardy_reader *r, const shardy_key *keys, size_t n,
                                                 shardy_values **out);
SHARDY_API size_t shardy_values_count(const shardy_values *v);
/* Value i: returns 1 and sets *p and *len (valid until shardy_values_free) on a hit, 0 on a miss. */
SHARDY_API int shardy_values_get(const shardy_values *v, size_t i, const void **p, size_t *len);
SHARDY_API void shardy_values_free(shardy_values **v);

/* Zero-copy lookups: a cursor belongs to one thread at a time. The view returned by
 * shardy_cursor_get is valid until the next call on that cursor or its close. A cursor keeps its
 * own shard handles (no locking, no allocation per lookup) and follows refreshes of its reader on
 * its next call. A cursor may outlive shardy_reader_close: its calls then return SHARDY_ECLOSED,
 * and the reader's memory is released when the last cursor is closed. */
SHARDY_API shardy_status shardy_cursor_open(shardy_reader *r, shardy_cursor **out);
SHARDY_API shardy_status shardy_cursor_get(shardy_cursor *c, const shardy_key *key, const void **val, size_t *vlen,
                                           int *found);
SHARDY_API void shardy_cursor_close(shardy_cursor **c);

/* Reloads _CURRENT; *changed (may be NULL) = 1 if the reader switched manifests (refs compare as
 * strings, so a rollback is a change). A pinned reader never changes. Missing _CURRENT →
 * SHARDY_ENOTFOUND. A new manifest that does not parse is skipped: SHARDY_OK with *changed = 0
 * (shardy_errmsg() says why) until _CURRENT moves again. On any failure the reader keeps serving
 * its current snapshot. Lookups never wait for a refresh; concurrent refreshes serialise. */
SHARDY_API shardy_status shardy_reader_refresh(shardy_reader *r, int *changed);

/* Shard a key routes to in the current snapshot (no lookup). */
SHARDY_API shardy_status shardy_reader_route(shardy_reader *r, const shardy_key *key, uint32_t *db_id);

/* Routing context for CEL snapshots: names[i] = values[i], each text converted by the manifest's
 * declared column type (int/uint strict decimal, double, bool true/false, string as is, bytes as
 * UTF-8 or "hex:..."). Only the context is evaluated: when the expression reads `key`, put it in
 * the context too. Names that are not columns are ignored. */
typedef struct shardy_routing_ctx {
    const char *const *names;
    const char *const *values;
    size_t n;
} shardy_routing_ctx;

/* CEL snapshots without a context: lookups bind the lookup key to the variable `key`; an
 * expression that reads other columns fails with SHARDY_EROUTE asking for a routing context. An
 * unknown categorical token is a miss in get/multi_get and SHARDY_EROUTE in route.
 * The _ctx variants evaluate ctx once and look every key up in that shard (SHARDY_EINVAL on a HASH
 * snapshot); evaluation errors → SHARDY_EROUTE with the reason; unknown token → every key misses. */
SHARDY_API shardy_status shardy_reader_get_ctx(shardy_reader *r, const shardy_key *key, const shardy_routing_ctx *ctx,
                                               void **val, size_t *vlen, int *found);
SHARDY_API shardy_status shardy_reader_multi_get_ctx(shardy_reader *r, const shardy_key *keys, size_t n,
                                                     const shardy_routing_ctx *ctx, shardy_values **out);
SHARDY_API shardy_status shardy_reader_route_ctx(shardy_reader *r, const shardy_routing_ctx *ctx, uint32_t *db_id);

typedef struct shardy_snapshot_info {
    char *run_id;
    char *manifest_ref;
    char *created_at;      /* as stored in the manifest (ISO-8601) */
    char *sharding;        /* "hash" or "cel" */
    char *hash_algorithm;  /* "xxh3_64" */
    uint32_t num_dbs;
    uint64_t row_count;    /* sum of shard row counts */
    shardy_key_encoding key_encoding;
    uint32_t num_nonempty_shards;
} shardy_snapshot_info;
/* Info of the current snapshot; free with shardy_snapshot_info_free. */
SHARDY_API shardy_status shardy_reader_info(shardy_reader *r, shardy_snapshot_info **out);
SHARDY_API void shardy_snapshot_info_free(shardy_snapshot_info **info);

typedef struct shardy_shard_info {
    uint32_t db_id;
    uint32_t attempt;
    uint64_t row_count;
    uint64_t db_bytes;
    char *db_url;          /* NULL for an empty shard */
    char *min_key;         /* JSON scalar text (e.g. 42 or "abc"), NULL if unknown */
    char *max_key;
    char *checkpoint_id;   /* NULL if absent */
} shardy_shard_info;
/* Every db_id 0..num_dbs-1 in order (empty shards included). Free with shardy_shard_infos_free. */
SHARDY_API shardy_status shardy_reader_shards(shardy_reader *r, shardy_shard_info **out, size_t *n);
SHARDY_API void shardy_shard_infos_free(shardy_shard_info **infos, size_t n);

/* Closes the reader and sets *r to NULL (accepts NULL). Lookups in flight on other threads finish
 * on the snapshot they started with; its shard handles close when the last of them ends. Calls
 * made after close through another copy of the pointer are undefined unless a cursor still holds
 * the reader (then they return SHARDY_ECLOSED). Waits for a refresh in progress to finish. */
SHARDY_API void shardy_reader_close(shardy_reader **r);

/* Published manifests under a snapshot prefix (or _CURRENT URL, resolved as for the reader),
 * newest first (spec reader-cli §4.1); at most limit entries, 0 = all. *out (free with
 * shardy_manifest_entries_free) may be NULL when *n is 0. */
typedef struct shardy_manifest_entry {
    char *ref;          /* manifest URL */
    char *run_id;
    int64_t published_us; /* timestamp of the manifest directory, µs since the epoch (UTC) */
} shardy_manifest_entry;
SHARDY_API shardy_status shardy_history(const char *current_url, size_t limit, shardy_manifest_entry **out, size_t *n);
/* Same, with the store settings of o (o->current_url, s3_options, credentials_file/profile; the
 * other fields are ignored). shardy_history(url, ...) = this with shardy_reader_opts_init defaults. */
SHARDY_API shardy_status shardy_history_opts(const shardy_reader_opts *o, size_t limit, shardy_manifest_entry **out,
                                             size_t *n);
SHARDY_API void shardy_manifest_entries_free(shardy_manifest_entry **e, size_t n);


/* ---------------------------------------------------------------------------------------------
 * Distributed builds (Spark, Dask, Ray, Python workers; spec writer §5.12–5.19, DESIGN §3).
 *
 * The driver opens a run (run record "running" + heartbeat), engine tasks each write ONE shard
 * attempt with a shardy_attempt_writer and hand the attempt's result (a small JSON object) back to
 * the driver, which publishes: winners (deterministic), coverage check, manifest, _CURRENT, sweep
 * of every non-winning attempt under the run, run record "succeeded". Both sides take a
 * shardy_build_opts; fields that do not apply are ignored (the attempt writer ignores num_dbs,
 * threads, cel_*, custom_json; the run ignores batch_size, memory_limit, rate limits, page_size).
 * ------------------------------------------------------------------------------------------- */
typedef struct shardy_attempt_writer shardy_attempt_writer;
typedef struct shardy_run shardy_run;

#define SHARDY_NO_ID INT64_MIN /* stage_id / task_attempt_id "none" */

typedef struct shardy_attempt_info {
    uint32_t db_id;           /* shard this attempt writes */
    uint32_t attempt;         /* attempt number in the path (.../attempt=NN), < 100 */
    int64_t stage_id;         /* engine ids for the result's writer_info; SHARDY_NO_ID = none */
    int64_t task_attempt_id;  /* used by winner selection; SHARDY_NO_ID = none (sorts last) */
} shardy_attempt_info;

/* Opens a writer for one shard attempt. o->prefix and o->run_id are required (every task of a
 * build passes the driver's run_id). Rows are buffered (spilling past memory_limit), written to
 * SQLite in key order at finish (last add of a key wins), sealed and uploaded to
 * <prefix>/<shard_prefix>/run_id=<run_id>/<db_path_template>/attempt=NN/shard.db. Nothing touches
 * the object store before finish; a writer that receives no row uploads nothing. The object path
 * depends only on (db_id, attempt): concurrent executions of one shard (speculative copies) must
 * get distinct attempt numbers (spec writer §6.2), or write identical rows, since the last upload
 * of a path wins whichever record is then selected. The writer does not route: the caller adds
 * only rows that belong to db_id. */
SHARDY_API shardy_status shardy_attempt_open(const shardy_build_opts *o, const shardy_attempt_info *info,
                                             shardy_attempt_writer **out);
/* Adds one row (copied). Key type/range errors as for shardy_builder_add (the row is not added). */
SHARDY_API shardy_status shardy_attempt_add(shardy_attempt_writer *w, const shardy_key *key, const void *value,
                                            size_t value_len);
/* Writes, seals and uploads the shard and returns the attempt result as a JSON object (free with
 * shardy_free):
 *   {"db_id":N,"db_url":"<attempt url>"|null,"attempt":N,"row_count":N,"db_bytes":N,
 *    "min_key":K|null,"max_key":K|null,"checkpoint_id":"<32 hex>"|null,
 *    "writer_info":{"stage_id":N|null,"task_attempt_id":N|null,"attempt":N,"duration_ms":N},
 *    "all_attempt_urls":["<attempt url>"]}
 * K is the logical key: a JSON integer for u64be/u32be, a JSON string for utf8/raw keys that are
 * valid UTF-8, else {"hex":"..."}. An attempt with no rows gives db_url null, row_count 0, keys and
 * checkpoint_id null, all_attempt_urls []. row_count counts every row added (duplicate keys
 * included, as the native builder's manifest rows do). finish may be called once; on failure the
 * writer removes what it uploaded (its own attempt directory only) and its staging files. */
SHARDY_API shardy_status shardy_attempt_finish(shardy_attempt_writer *w, char **result_json);
/* Releases the writer (accepts NULL; sets *w NULL). Not finished → staging files removed, nothing
 * uploaded. */
SHARDY_API void shardy_attempt_close(shardy_attempt_writer **w);

/* Two-stage builds (an exchange): for engines whose input partitions do not line up with shards
 * (Spark without a shuffle). Stage 1: one exchange writer per input partition attempt takes the
 * partition's rows with their shard ids and writes ONE object,
 * <prefix>/<shard_prefix>/run_id=<run_id>/_exchange/part=PPPPP/attempt=N/rows.run, made of
 * sections: each section holds rows of one shard as records (run format: repeated [u32 klen LE]
 * [u32 vlen LE][key][value]) in arrival order — stage 1 neither sorts nor drops duplicates, it only
 * encodes and appends (a shard's rows usually span several sections, in object order). Stage 2:
 * one attempt writer per shard adds the shard's sections of every partition with
 * shardy_attempt_add_section (partition order, and within a partition object order: for a key the
 * row added last wins — the last row of the highest partition) and finishes as usual; the sort
 * happens there, once. The exchange objects lie under the run, so the publish sweep (or a failed
 * run's cleanup) removes them. o->num_dbs > 0 bounds the shard ids (0 = CEL direct mode: ids
 * < 1,000,000). A file:// prefix is written in place (no copy, no fsync: the objects are scratch).
 * Any other store gets the object staged locally and, before upload, rewritten in shard order with
 * one section per shard (a shard's sections concatenated in object order), so that stage 2 reads
 * a shard's rows of one partition with as few ranged GETs as possible. */
typedef struct shardy_exchange_writer shardy_exchange_writer;

typedef struct shardy_exchange_info {
    uint32_t partition;  /* input partition (PPPPP in the path) */
    uint32_t attempt;    /* engine attempt of that partition; distinct concurrent attempts must differ */
} shardy_exchange_info;

/* Opens an exchange writer; o->prefix and o->run_id are required. */
SHARDY_API shardy_status shardy_exchange_open(const shardy_build_opts *o, const shardy_exchange_info *info,
                                              shardy_exchange_writer **out);
/* Adds one row of shard db_id (copied). Key rules as for shardy_attempt_add; a db_id out of range
 * → SHARDY_EROUTE. */
SHARDY_API shardy_status shardy_exchange_add(shardy_exchange_writer *w, uint32_t db_id, const shardy_key *key,
                                             const void *value, size_t value_len);
/* Writes and uploads the exchange object and returns (free with shardy_free):
 *   {"partition":P,"attempt":A,"url":"<object url>"|null,"rows":N,"bytes":N,
 *    "sections":[{"db_id":D,"offset":O,"length":L,"rows":R},...]}   (object order; a shard may
 * have several sections, to be added in this order; rows count every row added, duplicates
 * included). No rows → url null, no sections, nothing uploaded. On failure the partial object is
 * removed. */
SHARDY_API shardy_status shardy_exchange_finish(shardy_exchange_writer *w, char **result_json);
/* Releases the writer (accepts NULL; sets *w NULL); unfinished → nothing uploaded. */
SHARDY_API void shardy_exchange_close(shardy_exchange_writer **w);

/* Adds bytes [offset, offset + length) of the exchange object url (a section of this writer's
 * shard, from an exchange result of the same run) as rows of this attempt; rows = the section's
 * row count. The section is read now: a file:// object is mapped in place (no copy), others are
 * fetched to the local staging directory first; its records are indexed, and sorted with
 * everything else at finish. Rows and sections count in the order added (for a key the last
 * added wins). A url outside this run's _exchange/ → SHARDY_EINVAL; a section that does not hold
 * exactly `rows` well-formed records → SHARDY_EFORMAT naming the object and byte. */
SHARDY_API shardy_status shardy_attempt_add_section(shardy_attempt_writer *w, const char *url, uint64_t offset,
                                                    uint64_t length, uint64_t rows);

/* Opens a run on the driver: validates o (same rules as shardy_builder_open; run_id NULL → a fresh
 * uuid4 hex, readable with shardy_run_id), writes the run record (status running, writer_type
 * o->writer_type) and starts its heartbeat. HASH: o->num_dbs > 0. CEL: o->cel_expr etc. as for the
 * builder (compiled here: a bad expression fails the open with SHARDY_EINVAL); direct mode
 * discovers num_dbs from the attempts at publish. */
SHARDY_API shardy_status shardy_run_open(const shardy_build_opts *o, shardy_run **out);
SHARDY_API const char *shardy_run_id(const shardy_run *run);
/* Publishes from attempt results: attempts_json is a JSON array of objects as produced by
 * shardy_attempt_finish (any number per db_id, empty-shard records included; members not listed
 * there are ignored; all_attempt_urls may be absent). Keys are read with o->key_encoding. A
 * missing field, a value of the wrong type or range, or a db_url that is not the URL of its
 * (db_id, attempt) in THIS run and prefix → SHARDY_EFORMAT naming "attempts[<index>].<field>".
 * Steps: winner per db_id = smallest (attempt, task_attempt_id or 2^63-1, db_url or ""); a db_id
 * outside [0, num_dbs) → SHARDY_EROUTE "Shard coverage mismatch; extra=[...]"; CEL direct mode:
 * the ids whose winner has rows must be exactly 0..max (else SHARDY_EROUTE "non-consecutive";
 * none → num_dbs 1), records of higher ids (empty or losing) are then left out, ids ≥ 1,000,000
 * are a coverage error; manifest PUT (failure: SHARDY_ESTORE etc. with "manifest publish failed:
 * ..."), _CURRENT PUT (failure: message starts "manifest <ref> was published but _CURRENT was not
 * updated"), sweep of every object under the run not inside a winner's attempt directory (best
 * effort), run record succeeded.
 * *result_json (free with shardy_free) = the build result JSON of shardy_build_result_json plus
 * "winners": [the input objects of the winners, ascending db_id] and "num_attempts" (records
 * given); rows_written sums the winners; "duplicates" is 0 (attempts do not report them). On
 * failure the run record is marked failed and, unless the manifest was published, every object
 * under the run is deleted. publish may be called once (then SHARDY_ECLOSED, as after run_fail). */
SHARDY_API shardy_status shardy_run_publish(shardy_run *run, const char *attempts_json, char **result_json);
/* Marks the run failed (error_type e.g. "ShardWriteError", message: what went wrong) and deletes
 * what the run uploaded (nothing references it). For a driver that gives up before publish;
 * SHARDY_ECLOSED after publish or an earlier fail. */
SHARDY_API shardy_status shardy_run_fail(shardy_run *run, const char *error_type, const char *message);
/* Releases the run (accepts NULL; sets *run NULL). Neither published nor failed → as run_fail
 * with "ShardWriteError", "run closed before publish". */
SHARDY_API void shardy_run_close(shardy_run **run);

/* ---------------------------------------------------------------------------------------------
 * Arrow batches (the Arrow C Data Interface, https://arrow.apache.org/docs/format/CDataInterface.html).
 *
 * A batch is a struct array (as exported by pyarrow RecordBatch.__arrow_c_array__ or
 * _export_to_c) whose children are the columns, named by the schema's children. The library only
 * reads the batch (it never calls release). Supported column types: int8/16/32/64, uint8/16/32/64,
 * utf8 ("u"), large_utf8 ("U"), binary ("z"), large_binary ("Z"), bool ("b"), float32/64
 * ("f"/"g"), null ("n"); offsets and validity bitmaps honoured, including a nonzero offset.
 * Errors name the column, its Arrow format and the row (index within the batch).
 * ------------------------------------------------------------------------------------------- */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};
#endif

/* HASH routing of a batch: out[i] = shard of row i's value in column key_col (integers by value —
 * the same shard as shardy_route_hash of that integer — strings as UTF-8, binary as bytes).
 * out has batch->length entries; num_dbs in [1, 2^31]. A null key → SHARDY_EROUTE "key column 'c' is null at row N";
 * float/bool/null columns → SHARDY_ETYPE; a missing column → SHARDY_EINVAL listing the columns. */
SHARDY_API shardy_status shardy_arrow_route_hash(const struct ArrowArray *batch, const struct ArrowSchema *schema,
                                                 const char *key_col, uint64_t num_dbs, int32_t *out);

/* CEL routing of batches. A router is compiled once from the CEL fields of o (cel_expr,
 * cel_columns, routing_values...; SHARDY_EINVAL with the checker's message when it does not
 * compile). Each CEL variable binds to the batch column of the same name; `key` binds to key_col
 * when the batch has no column named `key` (DESIGN §3). out[i] = db_id of row i (direct mode: the
 * result, which must be in [0, 1000000)). Evaluation errors, nulls, unknown categorical tokens →
 * SHARDY_EROUTE naming the row. A router is immutable: route may run on several threads. */
typedef struct shardy_cel_router shardy_cel_router;
SHARDY_API shardy_status shardy_cel_router_open(const shardy_build_opts *o, shardy_cel_router **out);
SHARDY_API shardy_status shardy_arrow_route_cel(const shardy_cel_router *r, const struct ArrowArray *batch,
                                                const struct ArrowSchema *schema, const char *key_col, int32_t *out);
/* One row from named argument values (the reader-side reference used by verify_routing). */
SHARDY_API shardy_status shardy_cel_router_route(const shardy_cel_router *r, const shardy_cel_arg *args, size_t nargs,
                                                 uint32_t *db_id);
SHARDY_API void shardy_cel_router_close(shardy_cel_router **r);

/* How a row of a batch becomes the stored value (spec writer §2.7 ValueSpec). */
typedef enum shardy_value_kind {
    SHARDY_VALUE_BINARY_COL = 1, /* value = column cols[0]: binary/utf8 as is, null → empty */
    SHARDY_VALUE_JSON_COLS = 2   /* value = JSON object of cols (n_cols 0 → every column but
                                    skip_col), keys sorted, separators ',' ':', non-ASCII escaped
                                    \uXXXX, floats as Python repr — byte-identical to Python's
                                    json.dumps(d, sort_keys=True, separators=(",", ":")) for the
                                    supported types; binary columns → SHARDY_ETYPE */
} shardy_value_kind;
typedef struct shardy_value_spec {
    shardy_value_kind kind;
    const char *const *cols;
    size_t n_cols;
    const char *skip_col;        /* column never encoded (the shard-id column); may be NULL */
} shardy_value_spec;

/* Adds every row of a batch to an attempt writer: key from key_col (integers, strings or binary
 * as for shardy_attempt_add; a null key → SHARDY_EROUTE naming the row), value per spec. Stops at
 * the first bad row with an error naming the column and row; rows before it stay added. */
SHARDY_API shardy_status shardy_attempt_add_arrow(shardy_attempt_writer *w, const struct ArrowArray *batch,
                                                  const struct ArrowSchema *schema, const char *key_col,
                                                  const shardy_value_spec *spec);

/* Adds every row of a batch to an exchange writer; db_ids[i] (batch length entries) is row i's
 * shard (from shardy_arrow_route_hash / shardy_arrow_route_cel). Keys and values as for
 * shardy_attempt_add_arrow; an id out of range → SHARDY_EROUTE naming the row. */
SHARDY_API shardy_status shardy_exchange_add_arrow(shardy_exchange_writer *w, const struct ArrowArray *batch,
                                                   const struct ArrowSchema *schema, const char *key_col,
                                                   const shardy_value_spec *spec, const int32_t *db_ids);

#ifdef __cplusplus
}
#endif
#endif /* SHARDY_H */
