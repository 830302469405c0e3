/*
 * id.h — random identifiers (uuid4 hex for run ids, checkpoint ids and run-record suffixes) and
 * validation of run ids as safe path segments (DESIGN §3: [A-Za-z0-9._-], 1–128 chars).
 */
#ifndef SY_CORE_ID_H
#define SY_CORE_ID_H

#include "core/error.h"

/* 32 lowercase hex chars of a random version-4 UUID, NUL-terminated. */
shardy_status sy_uuid4_hex(char out[33]) SY_NODISCARD;

/* SHARDY_EINVAL with a message naming the run id and the bad character when it is not a safe
 * path segment ("." and ".." are refused too). */
shardy_status sy_run_id_check(const char *run_id) SY_NODISCARD;

#endif
