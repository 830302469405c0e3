/*
 * current.h — the _CURRENT pointer (spec formats §2, reader-cli §1.2).
 *
 * Owns: the exact serialisation a writer PUTs (compact, keys sorted, ASCII-escaped, no trailing
 * newline, pydantic datetime) and the reader-side parse with Python's acceptance rules:
 *   - manifest_ref, manifest_content_type, run_id, updated_at are required JSON strings;
 *   - updated_at is any ISO-8601 datetime sy_time_parse_iso accepts (Z, ±HH:MM, naive = UTC);
 *   - format_version is optional (default 1) and may be any JSON integer (not checked);
 *   - extra keys are ignored.
 * Decisions: JSON strictness is json-c's strict mode (no comments, no trailing commas), NUL bytes
 * and nesting deeper than SY_JSON_MAX_DEPTH are refused, strings containing "\u0000" are refused
 * for the four string fields, and format_version must be a JSON integer (pydantic would also take
 * 1.0 or "1").
 *
 * Failure behaviour: SHARDY_EFORMAT whose message starts with "CURRENT pointer validation failed:"
 * and names the field and the pointer URL, e.g. "CURRENT pointer validation failed: field
 * 'manifest_ref' is required (in file:///x/_CURRENT)". SHARDY_ENOMEM on allocation failure.
 * Thread-safe (no shared state).
 */
#ifndef SY_SNAPSHOT_CURRENT_H
#define SY_SNAPSHOT_CURRENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define SY_CURRENT_FORMAT_VERSION 1
/* Content-Type of the _CURRENT object itself (the manifest_content_type field inside it is
 * SY_MANIFEST_CONTENT_TYPE, "application/x-sqlite3"). */
#define SY_CURRENT_CONTENT_TYPE "application/json"

typedef struct sy_current {
    char *manifest_ref;           /* owned */
    char *run_id;                 /* owned */
    char *manifest_content_type;  /* owned */
    char *updated_at;             /* owned: the text as stored */
    int64_t published_at_us;      /* updated_at as µs since the epoch, UTC */
    int64_t format_version;       /* 1 when absent */
} sy_current;

/* Appends the pointer text for a manifest:
 * {"format_version":1,"manifest_content_type":"application/x-sqlite3","manifest_ref":"<ref>",
 *  "run_id":"<run_id>","updated_at":"<pydantic datetime of updated_at_us>"}
 * ref and run_id must be non-empty valid UTF-8 (SHARDY_EINVAL otherwise); out is unchanged on
 * failure. */
shardy_status sy_current_serialize(const char *manifest_ref, const char *run_id, int64_t updated_at_us,
                                   sy_buf *out) SY_NODISCARD;

/* Parses pointer bytes text[0..len) read from `url` (used in messages). On success *out is a new
 * sy_current (free with sy_current_free); on failure *out is NULL. */
shardy_status sy_current_parse(const char *text, size_t len, const char *url, sy_current **out) SY_NODISCARD;

/* Frees a pointer returned by sy_current_parse; *cur becomes NULL. Accepts NULL. */
void sy_current_free(sy_current **cur);

#endif
