/*
 * toml.h — a reader for the flat TOML our configuration files use (credentials.toml, reader.toml):
 * [table] headers and `key = scalar` lines.
 *
 * Supported: comments, blank lines, table headers with bare, quoted or dotted names ([a.b] is the
 * table "a.b"), bare and quoted keys, basic strings (all TOML escapes, \uXXXX and \UXXXXXXXX
 * encoded as UTF-8), literal strings, integers (decimal with '_' separators, 0x/0o/0b), floats
 * (fraction, exponent, inf, nan), booleans. Anything else — arrays, inline tables, multi-line
 * strings, dates, dotted keys — is refused with a clear message rather than misread. Duplicate keys
 * and repeated table headers are errors, as in TOML. Keys before any header belong to table "".
 *
 * Failure behaviour: SHARDY_EFORMAT "<name>:<line>: <what>"; SHARDY_ENOMEM; sy_toml_load maps OS
 * errors (SHARDY_ENOTFOUND for a missing file) and names the path. The document owns every string.
 * Thread-safety: a parsed document is immutable; concurrent readers are fine.
 */
#ifndef SY_CORE_TOML_H
#define SY_CORE_TOML_H

#include <stddef.h>

#include "core/error.h"

typedef enum sy_toml_type { SY_TOML_STRING, SY_TOML_INT, SY_TOML_FLOAT, SY_TOML_BOOL } sy_toml_type;

typedef struct sy_toml_value {
    sy_toml_type type;
    char *str;     /* SY_TOML_STRING: NUL-terminated UTF-8 (may contain no NUL) */
    long long i;   /* SY_TOML_INT */
    double f;      /* SY_TOML_FLOAT */
    int b;         /* SY_TOML_BOOL: 0 or 1 */
    int line;      /* 1-based line of the key, for messages */
} sy_toml_value;

typedef struct sy_toml_entry {
    char *table;
    char *key;
    sy_toml_value v;
} sy_toml_entry;

typedef struct sy_toml {
    sy_toml_entry *items; /* in file order */
    size_t n, cap;
    char **tables;        /* table names in header order ("" is never listed) */
    size_t ntables, tcap;
} sy_toml;

#define SY_TOML_INIT {NULL, 0, 0, NULL, 0, 0}

/* Parses text[0..len) (NUL bytes are an error); name is used in messages. *out starts empty. */
shardy_status sy_toml_parse(const char *text, size_t len, const char *name, sy_toml *out) SY_NODISCARD;
/* Reads and parses a file. */
shardy_status sy_toml_load(const char *path, sy_toml *out) SY_NODISCARD;
/* 1 if [table] appears as a header. */
int sy_toml_has_table(const sy_toml *t, const char *table);
/* The value of table.key, or NULL. Valid until sy_toml_free. */
const sy_toml_value *sy_toml_get(const sy_toml *t, const char *table, const char *key);
/* Frees everything; accepts NULL; leaves SY_TOML_INIT. */
void sy_toml_free(sy_toml *t);

#endif
