/*
 * exchange.h — the exchange of a two-stage distributed build (shardy.h "Two-stage builds"):
 * helpers shared by the exchange writer (exchange.c) and the attempt writer's sections
 * (attempt_writer.c).
 */
#ifndef SY_WRITE_EXCHANGE_H
#define SY_WRITE_EXCHANGE_H

#include "core/error.h"
#include "store/store.h"
#include "write/driver.h"
#include "write/rowbuf.h"

/* "<prefix>/<shard_prefix>/run_id=<run_id>/_exchange/" (malloc'd; NULL when out of memory). */
char *sy_exchange_prefix(const sy_driver *d);

/* The local path of a file:// URL, or NULL for other stores. */
const char *sy_exchange_local_path(const char *url);

/* Adds section [offset, offset + length) of the exchange object url — `rows` records in arrival
 * order — to rb as in-memory rows with sequence numbers seq0, seq0 + 1, ... (sy_rowbuf_add_records):
 * a file:// object mapped in place, any other store's section fetched (ranged GETs) to
 * <staging>/section-<n>.run, mapped, and the file unlinked at once. */
shardy_status sy_exchange_add_section(sy_store *store, sy_rowbuf *rb, const char *url, uint64_t offset,
                                      uint64_t length, uint64_t rows, uint64_t seq0, const char *staging,
                                      unsigned n) SY_NODISCARD;

#endif
