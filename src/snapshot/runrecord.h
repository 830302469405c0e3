/*
 * runrecord.h — the run registry record run.yaml (spec formats §1.6).
 *
 * Owns: struct sy_run_record, its lifecycle rules (running with a 10-minute lease renewed by
 * heartbeats, then one terminal write whose lease equals updated_at) and its serialisation.
 *
 * Serialisation: one JSON-style flow mapping (JSON is valid YAML for yaml.safe_load), keys sorted,
 * ", "/": " separators, every string double-quoted with SY_JSON_YAML_SAFE escaping (raw UTF-8;
 * \uXXXX only for C0/C1 controls, DEL, U+2028/2029, U+FEFF, U+FFFE/FFFF), datetimes as pydantic
 * strings (Appendix B), null for absent optional fields, followed by one "\n". Because every
 * string is quoted, values such as run_id "0123" never load as YAML numbers.
 *
 * The parser reads that JSON form back (for cleanup tooling): the nine non-optional fields are
 * required, format_version defaults to 1 and may be any integer, manifest_ref / error_type /
 * error_message may be null or absent, status must be lowercase running|succeeded|failed, extra
 * keys are ignored. PyYAML block style is NOT accepted (not required).
 *
 * Failure behaviour: SHARDY_EINVAL for an unserialisable record (NULL or non-UTF-8 required
 * string, unknown status), SHARDY_EFORMAT naming the field and the URL for a bad payload,
 * SHARDY_ENOMEM. Thread-safe (no shared state).
 */
#ifndef SY_SNAPSHOT_RUNRECORD_H
#define SY_SNAPSHOT_RUNRECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define SY_RUN_RECORD_FORMAT_VERSION 1
#define SY_RUN_RECORD_CONTENT_TYPE "application/x-yaml"
#define SY_RUN_WRITER_TYPE "c"
#define SY_RUN_LEASE_US (600LL * 1000000)     /* DEFAULT_RUN_LEASE_DURATION: 10 minutes */
#define SY_RUN_HEARTBEAT_US (60LL * 1000000)  /* DEFAULT_RUN_HEARTBEAT_INTERVAL: 60 s */

typedef enum sy_run_status { SY_RUN_RUNNING = 0, SY_RUN_SUCCEEDED = 1, SY_RUN_FAILED = 2 } sy_run_status;

typedef struct sy_run_record {
    int64_t format_version;   /* SY_RUN_RECORD_FORMAT_VERSION */
    char *run_id;
    char *writer_type;        /* "c" for this library */
    sy_run_status status;
    int64_t started_at_us;
    int64_t updated_at_us;
    int64_t lease_expires_at_us;
    char *s3_prefix;
    char *shard_prefix;
    char *db_path_template;
    char *manifest_ref;       /* nullable */
    char *error_type;         /* nullable */
    char *error_message;      /* nullable */
} sy_run_record;
/* All char * fields are owned by the record (sy_run_record_clear / sy_run_record_free). */

/* "running", "succeeded", "failed"; NULL for an invalid value. */
const char *sy_run_status_name(sy_run_status s);

/* Starts a record for a new run: status running, writer_type "c", format_version 1,
 * started_at = updated_at = now_us, lease = now_us + 10 min, optional fields NULL. Copies the
 * strings. *r must be zeroed or cleared storage; on failure it is left cleared. */
shardy_status sy_run_record_init(sy_run_record *r, const char *run_id, const char *s3_prefix,
                                 const char *shard_prefix, const char *db_path_template,
                                 int64_t now_us) SY_NODISCARD;

/* Heartbeat: updated_at = now_us, lease = now_us + 10 min. SHARDY_EINVAL once terminal. */
shardy_status sy_run_record_heartbeat(sy_run_record *r, int64_t now_us) SY_NODISCARD;

/* Records the manifest ref once published (copied). */
shardy_status sy_run_record_set_manifest_ref(sy_run_record *r, const char *ref) SY_NODISCARD;

/* Terminal write: status succeeded/failed, updated_at = lease = now_us, error fields copied
 * (both must be NULL for succeeded). SHARDY_EINVAL for SY_RUN_RUNNING or a second finish. */
shardy_status sy_run_record_finish(sy_run_record *r, sy_run_status status, int64_t now_us, const char *error_type,
                                   const char *error_message) SY_NODISCARD;

/* Appends the serialised record (see above) to out; out is unchanged on failure. */
shardy_status sy_run_record_serialize(const sy_run_record *r, sy_buf *out) SY_NODISCARD;

/* Parses the JSON form from `url` (used in messages). *out is a new record (sy_run_record_free). */
shardy_status sy_run_record_parse(const char *text, size_t len, const char *url, sy_run_record **out) SY_NODISCARD;

/* Frees the strings of r and zeroes it. Accepts NULL. */
void sy_run_record_clear(sy_run_record *r);

/* Frees a record returned by sy_run_record_parse; *r becomes NULL. Accepts NULL. */
void sy_run_record_free(sy_run_record **r);

#endif
