/*
 * cel_sharding.h — glue between a manifest's `sharding` object (snapshot/manifest.h) and CEL
 * routers (cel/cel.h). It lives in the snapshot layer so that src/cel stays below it (DESIGN §2:
 * snapshot → cel → core).
 *
 * Owns nothing long-lived: it converts cel_columns and routing values (sy_scalar ↔ sy_cel_value).
 * Failure behaviour: SHARDY_EINVAL for a sharding object that is not CEL or that holds values a
 * router refuses (bytes routing values), the router's own errors otherwise, SHARDY_ENOMEM.
 */
#ifndef SY_SNAPSHOT_CEL_SHARDING_H
#define SY_SNAPSHOT_CEL_SHARDING_H

#include "cel/cel.h"
#include "snapshot/manifest.h"

/* The router of a CEL manifest: direct mode when routing_values is absent (num_dbs from the
 * manifest bounds the ids), categorical mode otherwise. Readers call this once per manifest. */
shardy_status sy_sharding_cel_router(const sy_sharding *sh, int64_t num_dbs, sy_cel_router **out) SY_NODISCARD;

/* Replaces sh->routing_values with values[0..n) (ints, uints or strings; copied) and marks the
 * sharding categorical, e.g. with the sorted tokens of sy_cel_token_set_values. */
shardy_status sy_sharding_set_routing_values(sy_sharding *sh, const sy_cel_value *values, size_t n) SY_NODISCARD;

#endif
