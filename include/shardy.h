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

#ifdef __cplusplus
}
#endif
#endif /* SHARDY_H */
