/*
 * arrow.h — Arrow C Data Interface batches (shardy.h "Arrow batches"; spec writer §2.7, §5.6–5.8).
 *
 * Public entry points live in arrow.c: shardy_arrow_route_hash, shardy_cel_router_*,
 * shardy_arrow_route_cel, shardy_attempt_add_arrow. This header exposes the row iterator that
 * shardy_attempt_add_arrow is a thin loop over, so that tests and other sinks (engines that buffer
 * rows themselves) can use the exact same key/value encoding.
 */
#ifndef SY_WRITE_ARROW_H
#define SY_WRITE_ARROW_H

#include "core/error.h"

/* Receives one row: the key (borrowed from the batch) and the encoded value (borrowed; valid until
 * the callback returns). A non-OK status stops the iteration; its message is prefixed with the
 * key column and the row. */
typedef shardy_status (*sy_arrow_row_fn)(void *ctx, int64_t row, const shardy_key *key, const void *value,
                                         size_t len);

/* Calls fn for every row of the batch in order, with the key from key_col (integers as
 * SHARDY_KEY_INT, or SHARDY_KEY_UINT above INT64_MAX; utf8 as SHARDY_KEY_STR; binary as
 * SHARDY_KEY_BYTES) and the value encoded per spec (shardy_value_spec). Validation of the batch
 * and of the columns the spec needs happens before the first call. Allocation: one value buffer
 * and one column table per call, none per row. */
shardy_status sy_arrow_rows(const struct ArrowArray *batch, const struct ArrowSchema *schema, const char *key_col,
                            const shardy_value_spec *spec, sy_arrow_row_fn fn, void *ctx) SY_NODISCARD;

#endif
