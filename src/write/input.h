/*
 * input.h — record sources for the native build: JSON Lines and CSV files (or stdin), turned into
 * (typed key, value bytes) rows.
 *
 * Rows
 *   key:   the key column, typed by key_type: int (JSON integer, or decimal text in CSV), str (text),
 *          bytes (hex text, e.g. "00ff").
 *   value: value_col → that column's text as UTF-8 bytes (JSON null → empty value; numbers,
 *          objects... are refused: use value_json_cols); value_json_cols → the Python
 *          json.dumps(sort_keys=True, separators=(",", ":")) text of {col: value, ...} (missing
 *          columns → null), exactly like ValueSpec.json_cols (spec formats §6); both NULL → the
 *          whole row as that JSON.
 *   CSV:   RFC 4180 with a header line: fields separated by ',', optional double quotes, "" inside
 *          quotes, CRLF or LF, newlines inside quoted fields. Every field is text (so JSON values
 *          built from CSV are strings).
 *
 * Errors: a malformed row returns -1 from sy_input_next with SHARDY_EFORMAT and a message
 *   "<file>:<line>: <reason>" (line = first line of the record); the source stays usable, so the
 *   caller may skip the row and continue. I/O errors are fatal (SHARDY_EIO) and say so.
 *
 * Memory: the key and value returned by next point into the source and are valid until the next
 *   call; no allocation per row beyond json-c's parse of a JSON line.
 *
 * Why our own CSV reader: it is a small state machine that must report the record's line number
 * and stream records of any size; packaged CSV libraries add callbacks and buffering but not that.
 */
#ifndef SY_WRITE_INPUT_H
#define SY_WRITE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum sy_input_format { SY_INPUT_JSONL = 1, SY_INPUT_CSV = 2 } sy_input_format;
typedef enum sy_key_type { SY_KEYTYPE_INT = 1, SY_KEYTYPE_STR = 2, SY_KEYTYPE_BYTES = 3 } sy_key_type;

typedef struct sy_input_opts {
    sy_input_format format;
    const char *key_col;             /* required */
    const char *value_col;           /* one of value_col / value_json_cols, or neither (whole row) */
    const char *const *value_json_cols;
    size_t n_value_json_cols;
    sy_key_type key_type;
} sy_input_opts;

typedef struct sy_input sy_input;

/* path "-" reads stdin (named "<stdin>" in messages). */
shardy_status sy_input_open(const char *path, const sy_input_opts *o, sy_input **out) SY_NODISCARD;
/* 1: a row (key/value valid until the next call); 0: end of input; -1: error (*st set; for
 * SHARDY_EFORMAT the row is skipped and the source can continue). */
int sy_input_next(sy_input *in, shardy_key *key, const void **val, size_t *vlen, shardy_status *st);
/* Another column of the last row returned (CEL routing columns): 1 and *jv (JSONL, may be NULL
 * for JSON null) or *text and *len (CSV); 0 when the row has no such column. */
struct json_object;
int sy_input_field(sy_input *in, const char *name, struct json_object **jv, const char **text, size_t *len);
/* Line number (1-based) of the first line of the last record returned or rejected. */
uint64_t sy_input_line(const sy_input *in);
void sy_input_close(sy_input **in);

/* Format from a file name: .jsonl/.ndjson/.json → JSONL, .csv → CSV; 0 if unknown. */
sy_input_format sy_input_format_for(const char *path);

#endif
