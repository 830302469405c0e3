/*
 * layout.h — where snapshot objects live (spec formats §1.1–1.4, §2.3, §9).
 *
 * Owns: validation of the user-supplied layout settings (prefix URL, shard_prefix,
 * run_registry_prefix, db_path_template), the spelling of every object URL a writer produces
 * (_CURRENT, manifests/<TS>_run_id=<id>/manifest, shard db_url, runs/.../run.yaml), and the two
 * parsers the history/rollback code needs (manifest directory names, run_id inside a ref).
 *
 * Invariants: every URL is built with sy_url_join (spec §1.1 join rule), so a prefix with or
 * without a trailing '/' gives the same result. Builders validate their inputs (run ids must pass
 * sy_run_id_check, DESIGN §3) and never return a URL the readers would refuse.
 *
 * Failure behaviour: SHARDY_EINVAL with a message naming the setting and the offending value;
 * SHARDY_ENOMEM when an allocation fails. Out-pointers are set to NULL on failure. Every returned
 * string is a fresh allocation owned by the caller (free with sy_free). All functions are
 * thread-safe (no shared state).
 */
#ifndef SY_SNAPSHOT_LAYOUT_H
#define SY_SNAPSHOT_LAYOUT_H

#include <stdint.h>

#include "core/error.h"

#define SY_LAYOUT_CURRENT_KEY "_CURRENT"
#define SY_LAYOUT_MANIFESTS_DIR "manifests"
#define SY_LAYOUT_MANIFEST_NAME "manifest"
#define SY_LAYOUT_RUN_RECORD_NAME "run.yaml"
#define SY_LAYOUT_DEFAULT_SHARD_PREFIX "shards"
#define SY_LAYOUT_DEFAULT_DB_TEMPLATE "db={db_id:05d}"
#define SY_LAYOUT_DEFAULT_RUNS_PREFIX "runs"

/* Longest accepted db_path_template (bytes). */
#define SY_LAYOUT_TEMPLATE_MAX 256
/* Widest zero padding accepted in {db_id:0Nd}. */
#define SY_LAYOUT_TEMPLATE_MAX_WIDTH 20

/* Checks a snapshot prefix URL:
 *   s3://bucket/key  — non-empty bucket and non-empty key path (spec §1.1, config.py rule);
 *   file:///abs/dir  — absolute, not the file-system root;
 *   mem://name[/key] — in-memory test store.
 * Refused everywhere: control characters (< 0x20, 0x7F), and "." or ".." path segments (they
 * would name different objects on S3 and on a file system). Bare paths must be normalised with
 * sy_url_normalize first. `what` names the setting in the message (e.g. "s3_prefix"). */
shardy_status sy_layout_check_prefix(const char *what, const char *url) SY_NODISCARD;

/* Checks shard_prefix / run_registry_prefix: a single non-empty path segment of [A-Za-z0-9._-]
 * that does not contain "..". `what` names the setting in the message. */
shardy_status sy_layout_check_segment(const char *what, const char *segment) SY_NODISCARD;

/* Checks a db_path_template: literal text around exactly one placeholder, "{db_id}" or
 * "{db_id:0Nd}" with N in 1..20 (no leading zero in N). Any other '{' or '}' (including Python's
 * "{{" escapes) is refused. The literal text must keep the result a single path segment: no '/',
 * '\\', control characters or "..". At most SY_LAYOUT_TEMPLATE_MAX bytes. */
shardy_status sy_layout_check_db_template(const char *tmpl) SY_NODISCARD;

/* Formats a validated template for db_id >= 0, like Python's tmpl.format(db_id=db_id):
 * "db={db_id:05d}" → "db=00003", "db=100000". Caller frees *out. */
shardy_status sy_layout_db_path(const char *tmpl, int64_t db_id, char **out) SY_NODISCARD;

/* Formats "attempt=" + attempt zero-padded to at least 2 digits (attempt=00, attempt=07,
 * attempt=100). attempt must be >= 0. out must hold SY_LAYOUT_ATTEMPT_MAX bytes. */
#define SY_LAYOUT_ATTEMPT_MAX 32
shardy_status sy_layout_attempt_segment(int64_t attempt, char out[SY_LAYOUT_ATTEMPT_MAX]) SY_NODISCARD;

/* <prefix>/_CURRENT. Caller frees *out. */
shardy_status sy_layout_current_url(const char *prefix, char **out) SY_NODISCARD;

/* <prefix>/manifests/ (with the trailing '/'): the listing prefix for history (spec §9). */
shardy_status sy_layout_manifests_prefix_url(const char *prefix, char **out) SY_NODISCARD;

/* Manifest directory name "<TS>_run_id=<run_id>" with TS = sy_time_format_key(ts_us). */
shardy_status sy_layout_manifest_dir(const char *run_id, int64_t ts_us, char **out) SY_NODISCARD;

/* <prefix>/manifests/<TS>_run_id=<run_id>/manifest, TS = sy_time_format_key(ts_us). The run id
 * must pass sy_run_id_check. Caller frees *out. */
shardy_status sy_layout_manifest_url(const char *prefix, const char *run_id, int64_t ts_us,
                                     char **out) SY_NODISCARD;

/* <prefix>/manifests/<dir without trailing '/'>/manifest for a directory name accepted by
 * sy_layout_parse_manifest_dir (the history listing's ref for that entry). */
shardy_status sy_layout_manifest_url_from_dir(const char *prefix, const char *dir_name, char **out) SY_NODISCARD;

/* Shard root URL (the manifest's db_url, no trailing slash):
 * join(prefix, shard_prefix, "run_id=" + run_id, format(db_path_template, db_id), attempt=NN).
 * Validates shard_prefix, the template, run_id, db_id >= 0 and attempt >= 0. Caller frees *out. */
shardy_status sy_layout_shard_url(const char *prefix, const char *shard_prefix, const char *run_id,
                                  const char *db_path_template, int64_t db_id, int64_t attempt,
                                  char **out) SY_NODISCARD;

/* <prefix>/<runs_prefix>/<TS>_run_id=<run_id>_<uuidhex>/run.yaml with TS = sy_time_format_key.
 * uuidhex must be 32 lowercase hex characters, or NULL to generate a fresh uuid4 hex. */
shardy_status sy_layout_run_record_url(const char *prefix, const char *runs_prefix, const char *run_id,
                                       int64_t ts_us, const char *uuidhex, char **out) SY_NODISCARD;

/* Parses a child name of <prefix>/manifests/ with the semantics of the Python regex
 * ^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)_run_id=([^/]+)/?$ (spec §9), where \d is an ASCII
 * digit and '$' also matches before one final "\n" as in Python. The timestamp must also be a
 * real date/time (Python's strptime would raise on month 13; we report "no match" instead).
 * Returns 1 on a match (*ts_us set, *run_id a new string the caller frees), 0 when the name does
 * not match (nothing allocated, no message), or -1 when out of memory (message set). */
int sy_layout_parse_manifest_dir(const char *name, int64_t *ts_us, char **run_id);

/* run_id of a manifest ref for rollback: the first match of the regex run_id=([^/]+) anywhere in
 * ref (spec §2.3). SHARDY_EINVAL "Cannot extract run_id from manifest ref: <ref>" when absent.
 * Caller frees *run_id. */
shardy_status sy_layout_ref_run_id(const char *ref, char **run_id) SY_NODISCARD;

#endif
