/*
 * wcel.h — CEL routing for the native builder (spec cel.md §1.6–1.9; DESIGN §3 "Routing").
 *
 * Owns: the writer's CEL router (built from shardy_build_opts.cel_*), owned copies of the
 * expression, columns and routing values, and one argument array reused for every row (no
 * allocation per row).
 *
 * Binding: the variable `key` binds to the row key (sy_cel_value_from_key, by the declared type)
 * when the caller left it unset, i.e. when no column named `key` was supplied (DESIGN §3).
 * Failure behaviour: open → SHARDY_EINVAL (bad NAME:TYPE, bad routing value, compile/type error
 * with caret and fix hint). route → SHARDY_EROUTE for evaluation errors, rejected results,
 * direct ids out of range and unknown categorical tokens (ShardAssignmentError on write).
 * sy_wcel_args/sy_wcel_route/sy_wcel_route_args use the sy_wcel's own argument array: one thread.
 * sy_wcel_bind_args/sy_wcel_route_values take the caller's array and may run on many threads.
 */
#ifndef SY_WRITE_WCEL_H
#define SY_WRITE_WCEL_H

#include "cel/cel.h"
#include "snapshot/manifest.h"

typedef struct sy_wcel sy_wcel;

/* Returns SHARDY_OK with *out NULL when o->cel_expr is NULL (HASH routing). */
shardy_status sy_wcel_open(const shardy_build_opts *o, sy_wcel **out) SY_NODISCARD;
void sy_wcel_free(sy_wcel **w);

/* Categorical: max(1, number of routing values). Direct: 0 (discovered from the data). */
uint32_t sy_wcel_fixed_num_dbs(const sy_wcel *w);
const sy_cel_router *sy_wcel_router(const sy_wcel *w);

/* The argument array (sy_cel_router_nvars entries), cleared to unset; fill it, then route. */
sy_cel_value *sy_wcel_args(sy_wcel *w);
/* Routes the row whose columns are in sy_wcel_args (binding `key` as described above). */
shardy_status sy_wcel_route(sy_wcel *w, const shardy_key *key, uint32_t *db) SY_NODISCARD;
/* Thread-safe forms for a shared, immutable sy_wcel (shardy_cel_router): the caller owns the
 * argument array (sy_cel_router_nvars entries, cleared to unset). bind_args stores public typed
 * arguments (by name, or positional when name is NULL) into it; route_values binds `key` as above
 * when it is still unset and routes. */
shardy_status sy_wcel_bind_args(const sy_wcel *w, const shardy_cel_arg *args, size_t nargs,
                                sy_cel_value *v) SY_NODISCARD;
shardy_status sy_wcel_route_values(const sy_wcel *w, const shardy_key *key, sy_cel_value *args,
                                   uint32_t *db) SY_NODISCARD;
/* Public typed arguments (by name, or positional when name is NULL) → route. */
shardy_status sy_wcel_route_args(sy_wcel *w, const shardy_key *key, const shardy_cel_arg *args, size_t nargs,
                                 uint32_t *db) SY_NODISCARD;

/* Writes strategy cel, cel_expr, cel_columns and (categorical) routing_values into sh. */
shardy_status sy_wcel_sharding(const sy_wcel *w, sy_sharding *sh) SY_NODISCARD;

/* Builder hooks (builder.c) for the CLI: the builder's CEL router state (NULL for HASH), and
 * adding a row routed with the values the caller stored in sy_wcel_args(sy_builder_cel(b)). */
sy_wcel *sy_builder_cel(shardy_builder *b);
shardy_status sy_builder_add_cel_values(shardy_builder *b, const shardy_key *key, const void *value,
                                        size_t value_len) SY_NODISCARD;

#endif
