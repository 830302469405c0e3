/*
 * options.h — owned copies and validation of shardy_build_opts, shared by every writer entry point
 * (builder, attempt writer, run; spec writer §3, §5.1).
 *
 * What it owns: sy_wopts_copy duplicates every string option (defaults applied: key_col "_key",
 * shard_prefix "shards", db_path_template "db={db_id:05d}", run_registry_prefix "runs", writer_type
 * "c", local_dir $TMPDIR/shardyfusion) into a struct whose strings are freed by sy_wopts_free.
 * Borrowed settings that are only read while opening (s3_*, credentials_*, cel_*) are NOT copied:
 * they are set to NULL in the copy, so callers read them from the caller's struct.
 *
 * Failure behaviour: SHARDY_EINVAL naming the option and value; SHARDY_ENOMEM.
 */
#ifndef SY_WRITE_OPTIONS_H
#define SY_WRITE_OPTIONS_H

#include "core/error.h"

/* Copies in into *o with defaults (see above). On failure *o holds what was copied so far:
 * free it with sy_wopts_free. */
shardy_status sy_wopts_copy(const shardy_build_opts *in, shardy_build_opts *o) SY_NODISCARD;
void sy_wopts_free(shardy_build_opts *o);

enum {
    SY_WOPTS_NEED_NUM_DBS = 1 << 0, /* num_dbs > 0 unless cel_expr is set (builder, run) */
    SY_WOPTS_NEED_RUN_ID = 1 << 1   /* run_id required (attempt writer) */
};
/* Validates a copy made by sy_wopts_copy; cel_expr is taken from `caller` (the copy drops it). */
shardy_status sy_wopts_validate(const shardy_build_opts *o, const shardy_build_opts *caller, int flags) SY_NODISCARD;

#endif
