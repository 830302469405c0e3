/*
 * json.h — JSON in and out.
 *
 * Parsing uses json-c (Debian libjson-c) with strict mode, a depth limit and a check for trailing
 * bytes and embedded NULs, so every caller gets the same "where and why" error text.
 *
 * Emitting is our own because the snapshot formats need byte-exact Python `json.dumps` output
 * (spec formats Appendix A: sorted keys, ensure_ascii escaping with surrogate pairs, Python float
 * repr), which no packaged C JSON library produces. sy_json_dump walks a json-c tree.
 */
#ifndef SY_CORE_JSON_H
#define SY_CORE_JSON_H

#include <json-c/json.h>

#include "core/buf.h"

enum {
    SY_JSON_COMPACT = 1 << 0,   /* separators "," ":" instead of Python's default ", " ": " */
    SY_JSON_YAML_SAFE = 1 << 1, /* run.yaml escaping: raw UTF-8, \uXXXX only for controls etc. */
    SY_JSON_RAW_UTF8 = 1 << 2,  /* ensure_ascii=False: non-ASCII raw, only controls escaped */
    SY_JSON_NO_SORT = 1 << 3,   /* keep json-c insertion order (CLI results: key order is contract) */
    SY_JSON_INDENT2 = 1 << 4    /* Python indent=2 pretty printing (item separator ",") */
};

#define SY_JSON_MAX_DEPTH 64

/* Parses exactly one JSON value from text[0..len). `what` names the source for errors, e.g.
 * "_CURRENT file:///x/_CURRENT". On success *out is a new reference (json_object_put it), or NULL
 * for the document `null` (json-c's representation of JSON null). Stricter than json-c alone:
 * integer literals outside [-2^63, 2^64-1] (json-c would silently saturate them), raw control
 * characters inside strings and invalid UTF-8 anywhere (overlong, surrogates, > U+10FFFF) are
 * refused, like Python's json module / pydantic do. */
shardy_status sy_json_parse(const char *text, size_t len, const char *what, json_object **out) SY_NODISCARD;

/* Appends the Python-compatible serialisation of o (sort_keys=True unless SY_JSON_NO_SORT) to out. Strings must be valid
 * UTF-8 (SHARDY_EFORMAT otherwise). Non-finite doubles are written as NaN/Infinity like Python. */
shardy_status sy_json_dump(json_object *o, int flags, sy_buf *out) SY_NODISCARD;

/* Appends one JSON string literal for s[0..n) with the escaping selected by flags. */
shardy_status sy_json_put_string(sy_buf *out, const char *s, size_t n, int flags) SY_NODISCARD;

/* Appends an integer in decimal (exact over the whole int64 / uint64 range). */
shardy_status sy_json_put_int(sy_buf *out, int64_t v) SY_NODISCARD;
shardy_status sy_json_put_uint(sy_buf *out, uint64_t v) SY_NODISCARD;

/* Appends Python's repr() of a double (shortest round-trip, ".0" for integral values, e+XX). */
shardy_status sy_json_put_double(sy_buf *out, double d) SY_NODISCARD;

/* True when a json-c int holds a value above INT64_MAX (json-c stores it as uint64). */
int sy_json_int_is_u64(json_object *o);

/* Validates UTF-8 (no surrogates, no overlongs). Returns 1 if valid. */
int sy_utf8_valid(const char *s, size_t n);

#endif
