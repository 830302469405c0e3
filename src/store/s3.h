/*
 * s3.h — the s3:// backend: connection options (sy_s3_opts), their parsers, credential sources,
 * and the few S3-only operations tests and tools need (bucket creation, multipart census).
 *
 * Options (s3conf.c) are plain data: every field starts "unset" (sy_s3_opts_init) and is resolved
 * when a store is opened (sy_store_s3_open copies what it needs; the caller keeps ownership of its
 * sy_s3_opts and may free it right after the open). Strings in sy_s3_opts are owned by the struct
 * (sy_malloc'd, freed by sy_s3_opts_free); set them with sy_s3_opts_set or sy_s3_opts_set_str.
 *
 * Resolution when the store is opened (first hit wins; empty environment values count as unset):
 *   identity:  the options' access_key_id/secret_access_key/session_token when any of them is set
 *              (a "static provider": the environment is then not consulted for identity);
 *              else S3_ACCESS_KEY_ID/AWS_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY/AWS_SECRET_ACCESS_KEY,
 *              S3_SESSION_TOKEN/AWS_SESSION_TOKEN (each field S3_* first, spec reader-cli §8.3)
 *              when an access key and a secret are both found that way;
 *              else the AWS shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
 *              ~/.aws/credentials), then the AWS config file (AWS_CONFIG_FILE or ~/.aws/config),
 *              section of profile opts.aws_profile, else AWS_PROFILE, else "default";
 *              else anonymous (unsigned requests; public buckets only).
 *   region:    options; S3_REGION; AWS_REGION; AWS_DEFAULT_REGION; AWS config file "region" of the
 *              profile; "us-east-1".
 *   endpoint:  options; AWS_ENDPOINT_URL_S3; AWS_ENDPOINT_URL; SLATEDB_S3_ENDPOINT_URL; AWS config
 *              file "endpoint_url" of the profile; else AWS: https://s3.<region>.amazonaws.com.
 *   addressing: path | virtual | auto (default). auto = path-style for a custom endpoint whose host
 *              is an IP address or "localhost" (MinIO, moto, s3s, LocalStack on a laptop), and for
 *              bucket names that are not valid DNS labels (dots, upper case, underscores: they
 *              break virtual-hosted TLS); virtual-hosted otherwise (AWS and named custom hosts).
 * Secrets never leave memory except inside signed requests: they are not put in URLs, messages,
 * or argv, and curl's verbose mode is never enabled.
 *
 * Thread-safety: option functions work on the caller's struct (no shared state); they read the
 * process environment and files, nothing else.
 *
 * Wiring (what the CLI, builder and reader call; spec reader-cli §7.2 and §8.2):
 *   sy_s3_opts o; sy_s3_opts_init(&o);
 *   char *path = NULL, *warning = NULL;
 *   st = sy_s3_credentials_file(cli_credentials_flag_or_NULL, &path);
 *   if (path) st = sy_s3_opts_load_profile(&o, path, profile_name_or_NULL, &warning);
 *   if (warning) fprintf(stderr, "%s
", warning);          -- then sy_free(warning), sy_free(path)
 *   for each --s3-option arg: st = sy_s3_opts_parse(&o, arg); -- usage error on failure
 *   sy_store_opts so = {.s3 = &o};
 *   st = sy_store_open_opts(url, &so, &store);              -- o is copied; free it after
 *   sy_s3_opts_free(&o);
 * Without any of this, sy_store_open(url, &store) uses defaults + environment + AWS files.
 */
#ifndef SY_STORE_S3_H
#define SY_STORE_S3_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sy_store sy_store;

typedef enum sy_s3_addressing {
    SY_S3_ADDR_UNSET = 0,
    SY_S3_ADDR_AUTO,
    SY_S3_ADDR_PATH,
    SY_S3_ADDR_VIRTUAL
} sy_s3_addressing;

#define SY_S3_UNSET (-1) /* value of an integer option that was not given */

/* Defaults applied to unset fields when a store is opened. */
#define SY_S3_DEFAULT_REGION "us-east-1"
#define SY_S3_DEFAULT_CONNECT_TIMEOUT 10   /* seconds */
#define SY_S3_DEFAULT_READ_TIMEOUT 30      /* seconds without receiving or sending a byte */
#define SY_S3_DEFAULT_MAX_ATTEMPTS 6       /* 1 + 5 retries (spec reader-cli §8.1 library default) */
#define SY_S3_PROFILE_MAX_ATTEMPTS 3       /* what a credentials.toml profile sets when absent */
#define SY_S3_DEFAULT_PART_SIZE (16ll << 20)
#define SY_S3_DEFAULT_MULTIPART_THRESHOLD (64ll << 20)
#define SY_S3_DEFAULT_PARALLEL_PARTS 4
#define SY_S3_DEFAULT_RETRY_BASE_MS 200
#define SY_S3_DEFAULT_RETRY_CAP_MS 4000
#define SY_S3_MIN_PART_SIZE (5ll << 20)    /* S3's minimum for every part but the last */
#define SY_S3_MAX_PART_SIZE (5ll << 30)
#define SY_S3_MAX_PARTS 10000

typedef struct sy_s3_opts {
    char *endpoint_url;      /* "http(s)://host[:port][/base/path]"; NULL = resolved (above) */
    char *region;            /* NULL = resolved */
    sy_s3_addressing addressing_style;
    char *access_key_id;     /* static identity; any of the three set → env identity not used */
    char *secret_access_key;
    char *session_token;
    char *aws_profile;       /* profile of ~/.aws/{credentials,config}; NULL = AWS_PROFILE/default */
    int verify_ssl;          /* 1/0; UNSET = 1 */
    char *ca_bundle;         /* CA file (verify_ssl given as a path string); NULL = system CAs */
    long connect_timeout;    /* seconds; 0 = curl's default (300 s); UNSET = 10 */
    long read_timeout;       /* seconds without a byte in either direction before a transfer is
                              * abandoned (SHARDY_ETIMEOUT, retried); 0 = none; UNSET = 30 */
    int max_attempts;        /* total attempts per request, >= 1; UNSET = default */
    long long part_size;     /* multipart part size in bytes, 5 MiB..5 GiB (grown for >10000 parts) */
    long long multipart_threshold; /* objects of at least this many bytes go multipart; >= 1 */
    int parallel_parts;      /* concurrent part uploads per object, 1..64 */
    long retry_base_ms;      /* backoff: attempt n sleeps rand[0, min(cap, base * 2^(n-1))) ms */
    long retry_cap_ms;
} sy_s3_opts;

/* Sets every field to unset (NULL / SY_S3_UNSET / SY_S3_ADDR_UNSET). */
void sy_s3_opts_init(sy_s3_opts *o);
/* Frees the strings and re-initialises; accepts NULL. */
void sy_s3_opts_free(sy_s3_opts *o);
/* Deep copy into dst (initialised by the call; free with sy_s3_opts_free). */
shardy_status sy_s3_opts_copy(sy_s3_opts *dst, const sy_s3_opts *src) SY_NODISCARD;
/* Replaces a string field with a copy of value (NULL or "" unsets it). */
shardy_status sy_s3_opts_set_str(char **field, const char *value) SY_NODISCARD;

/* Sets one option by name, with the coercions of spec reader-cli §8.2. Keys: endpoint_url,
 * region_name (alias region), addressing_style (path|virtual|auto), signature_version (s3v4|s3;
 * accepted, no effect), verify_ssl (true/1/yes, false/0/no case-insensitively, else SHARDY_EINVAL
 * "Cannot coerce '<v>' to bool for option 'verify_ssl'"), connect_timeout, read_timeout,
 * max_attempts (integers: "Cannot coerce '<v>' to int for option '<key>'"), and ours:
 * multipart_part_size, multipart_threshold (bytes, with optional K/M/G suffix = KiB/MiB/GiB),
 * multipart_parallel, retry_base_ms, retry_cap_ms. Identity keys (access_key_id,
 * secret_access_key, session_token) are refused here — this parser serves command lines, and
 * secrets do not belong in argv — as is any unknown key ("unknown S3 option '<key>'", listing the
 * known ones). On failure *o is unchanged. */
shardy_status sy_s3_opts_set(sy_s3_opts *o, const char *key, const char *value) SY_NODISCARD;
/* "KEY=VALUE" (the CLI's --s3-option): splits at the first '=' and calls sy_s3_opts_set. A missing
 * '=' or an empty key is SHARDY_EINVAL "--s3-option expects KEY=VALUE, got '<arg>'". */
shardy_status sy_s3_opts_parse(sy_s3_opts *o, const char *key_eq_value) SY_NODISCARD;

/* Loads profile `profile` (NULL = "default") of a shardyfusion credentials.toml (spec reader-cli
 * §7.2) into o: endpoint_url, region, access_key_id, secret_access_key, session_token,
 * addressing_style, signature_version (ignored), verify_ssl (bool or CA-bundle path),
 * connect_timeout, read_timeout, max_attempts; "" counts as absent; unknown keys are ignored.
 * Like the Python CLI, verify_ssl (1), connect_timeout (10), read_timeout (30) and max_attempts
 * (3) are always set when a profile is loaded. Fields given in the file overwrite o's.
 * Errors (o unchanged): missing/unreadable file SHARDY_ENOTFOUND/SHARDY_EIO naming the path,
 * invalid TOML SHARDY_EFORMAT "<path>:<line>: ...", missing profile SHARDY_ENOTFOUND
 * "Credentials profile '<name>' not found in <path>", a value of the wrong type SHARDY_EINVAL.
 * If warning is not NULL it receives NULL, or (when the file is readable by group or others) an
 * allocated text "Warning: credentials file <path> has permissions 0o644 — consider restricting
 * to 0600." for the caller to print (free with sy_free). */
shardy_status sy_s3_opts_load_profile(sy_s3_opts *o, const char *path, const char *profile,
                                      char **warning) SY_NODISCARD;

/* The credentials.toml to use (spec reader-cli §7.2 search order): explicit (the --credentials
 * value) if not NULL/empty, else $SHARDY_CREDENTIALS, else ./credentials.toml if it exists, else
 * ~/.config/shardy/credentials.toml if it exists, else *out = NULL (no profile: ambient
 * credentials). An explicit or $SHARDY_CREDENTIALS path is returned even if missing, so that
 * loading it reports the error. Caller frees *out. */
shardy_status sy_s3_credentials_file(const char *explicit_path, char **out) SY_NODISCARD;

/* Opens an s3:// store with these options (NULL = all unset: defaults + environment). The options
 * are resolved and copied; o may be freed after the call. Fails with SHARDY_EINVAL for invalid
 * options (bad endpoint URL, part size out of range, only one of access key / secret) and
 * SHARDY_EFORMAT/EIO for unreadable AWS shared files that exist. Never contacts the server. */
shardy_status sy_store_s3_open(const sy_s3_opts *o, sy_store **out) SY_NODISCARD;

/* S3-only operations (s3.c), for tests, benchmarks and tools. s must be an s3:// store. */
/* Creates a bucket (region constraint from the store's region unless us-east-1). An existing
 * bucket owned by us is fine. */
shardy_status sy_s3_bucket_create(sy_store *s, const char *bucket) SY_NODISCARD;
/* Number of multipart uploads in progress whose key starts with prefix_url's key. */
shardy_status sy_s3_multipart_count(sy_store *s, const char *prefix_url, size_t *count) SY_NODISCARD;
/* The http(s) URL a request for s3_url goes to (addressing style applied, key encoded as signed),
 * e.g. "http://127.0.0.1:9000/bucket/a%20b" or "https://bucket.s3.eu-west-1.amazonaws.com/a%20b".
 * Caller frees *out with sy_free. For tests and diagnostics. */
shardy_status sy_s3_request_url(sy_store *s, const char *s3_url, char **out) SY_NODISCARD;
/* HTTP requests sent (attempts, retries included) and new connections opened by this store so far;
 * fewer connections than requests means connections were reused. */
void sy_s3_counters(sy_store *s, uint64_t *requests, uint64_t *connections);
/* HTTP requests (attempts) sent by every s3:// store of the process so far, by method; for
 * benchmarks that count the requests a build or a cold read makes (take a difference). */
enum { SY_S3_GET, SY_S3_PUT, SY_S3_HEAD, SY_S3_POST, SY_S3_DELETE, SY_S3_OTHER, SY_S3_METHOD_N };
void sy_s3_method_counts(uint64_t out[SY_S3_METHOD_N]);
/* Human-readable summary of the resolved configuration, without secrets, e.g.
 * "endpoint http://127.0.0.1:9000 (path-style), region us-east-1, credentials from environment
 * (access key AKIA...)". Returns a pointer valid until the store is closed. */
const char *sy_s3_describe(sy_store *s);

/* ---------------------------------------------------------------------------------------------
 * Resolved configuration (s3conf.c → s3.c). Internal to the backend.
 * ------------------------------------------------------------------------------------------- */
typedef struct sy_s3_config {
    int https;               /* endpoint scheme */
    char *host;              /* endpoint "host[:port]" (no bucket) */
    char *base_path;         /* "" or "/path" (no trailing '/') in front of every request path */
    int custom_endpoint;     /* endpoint came from options, environment or the AWS config file */
    int host_is_local;       /* host is an IP literal or "localhost" */
    sy_s3_addressing addressing; /* PATH, VIRTUAL or AUTO (never UNSET) */
    char *region;
    char *access_key_id;     /* NULL for anonymous requests */
    char *secret_access_key;
    char *session_token;     /* may be NULL */
    char *cred_source;       /* "options", "environment", "<file> [profile]", "none" (no secrets) */
    int verify_ssl;
    char *ca_bundle;
    long connect_timeout, read_timeout;
    int max_attempts;
    long long part_size, multipart_threshold;
    int parallel_parts;
    long retry_base_ms, retry_cap_ms;
} sy_s3_config;

/* Applies the resolution rules of the header comment to o (NULL = all unset). *out is overwritten;
 * free with sy_s3_config_free (also after a failure). */
shardy_status sy_s3_config_resolve(const sy_s3_opts *o, sy_s3_config *out) SY_NODISCARD;
/* Frees the strings (the secret is overwritten first); accepts NULL. */
void sy_s3_config_free(sy_s3_config *c);

#endif

/* ---------------------------------------------------------------------------------------------
 * Public-API wiring (open_cfg.c): what shardy_build_opts / shardy_reader_opts carry.
 * ------------------------------------------------------------------------------------------- */
/* Builds an sy_s3_opts from a credentials.toml profile (credentials_file NULL = none: environment
 * and AWS files; profile NULL = "default"; a profile without a file is SHARDY_EINVAL) followed by
 * n "KEY=VALUE" option strings (sy_s3_opts_parse; the first bad one fails with SHARDY_EINVAL
 * naming it), then opens url's store with them. The options are validated for every scheme, used
 * only by s3://. A credentials-file permission warning is discarded (the CLI prints its own). */
shardy_status sy_store_open_cfg(const char *url, const char *const *s3_options, size_t n_s3_options,
                                const char *credentials_file, const char *credentials_profile,
                                sy_store **out) SY_NODISCARD;
