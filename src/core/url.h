/*
 * url.h — object URLs: scheme detection, bare-path normalisation and the path-join rule of spec
 * formats §1.1 (base with trailing '/' removed, then each non-empty part with leading and trailing
 * '/' removed, separated by single '/').
 *
 * Supported schemes: file:///abs/path (a bare path means file://), s3://bucket/key, mem://name/key.
 */
#ifndef SY_CORE_URL_H
#define SY_CORE_URL_H

#include <stddef.h>

#include "core/error.h"

typedef enum sy_scheme { SY_SCHEME_FILE = 1, SY_SCHEME_S3 = 2, SY_SCHEME_MEM = 3 } sy_scheme;

/* Scheme of a URL; SHARDY_EINVAL naming the URL for unknown schemes. Bare paths are not accepted
 * here (normalise first). */
shardy_status sy_url_scheme(const char *url, sy_scheme *out) SY_NODISCARD;

/* Turns a user-supplied location into a URL: "s3://..", "mem://.." and "file:///.." are returned
 * as copies; a bare path (absolute or relative) becomes file://<absolute path> (relative paths are
 * resolved against the current directory, "." and ".." segments folded). Caller frees *out. */
shardy_status sy_url_normalize(const char *in, char **out) SY_NODISCARD;

/* Joins per §1.1; parts may be NULL or empty (skipped). Returns a new string or NULL (ENOMEM). */
char *sy_url_join(const char *base, const char *const *parts, size_t nparts);

/* Local file-system path of a file:// URL (pointer into url), or NULL if it is not file://. */
const char *sy_url_file_path(const char *url);

#endif
