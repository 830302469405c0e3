/*
 * sqbulk.h — bulk loader that writes a shard's SQLite database file directly from rows given in
 * strictly increasing key order (used by the SQLite writer, sqlite.c).
 *
 * Why hand-written: SQLite has no bulk-load API — every row would go through the VDBE, the B-tree
 * balancer and the pager, which costs ~1 µs per row even in sorted order. The file written here is
 * the one the writer's statements would produce, logically: page 1 with the database header and
 * the sqlite_schema row of "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
 * and the table's index B-tree of (k, v) records, built bottom-up with full pages. Format facts
 * come from the public file-format document (https://www.sqlite.org/fileformat2.html); tests check
 * the result with SQLite itself (PRAGMA integrity_check, reads, header fields equal to a file the
 * SQLite library wrote).
 *
 * File properties (spec formats §7.2–§7.3): rollback-journal format (header bytes 18/19 = 1), no
 * reserved bytes per page, UTF-8, schema format 4, no freelist, no pointer map (auto_vacuum off),
 * every page in use, all leaves at the same depth.
 *
 * Failure behaviour: I/O errors name the path and the OS error; the caller deletes the partial
 * file. Not thread-safe (one loader per thread).
 */
#ifndef SY_SHARD_SQBULK_H
#define SY_SHARD_SQBULK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sy_sqbulk sy_sqbulk;

/* Creates (truncates) the file at path for a database of page_size bytes per page (4096..65536,
 * a power of two). */
shardy_status sy_sqbulk_open(const char *path, int page_size, sy_sqbulk **out) SY_NODISCARD;
/* on → while loading, start the disk writes of what was written every few MiB (Linux
 * sync_file_range, asynchronous), for a file that will be fsynced right after: the disk then works
 * while the rows are encoded, and the final fsync waits only for the tail. Off by default (a file
 * that is uploaded elsewhere and deleted never needs to reach the disk). */
void sy_sqbulk_writeback(sy_sqbulk *b, int on);
/* Appends one row; its key must compare greater than the previous row's (memcmp order, shorter
 * first on a tie — SQLite's BLOB order). The caller checks the order (sy_sqbulk_key_cmp). */
shardy_status sy_sqbulk_add(sy_sqbulk *b, const void *k, size_t klen, const void *v, size_t vlen) SY_NODISCARD;
/* Writes the interior levels and page 1 and closes the file. */
shardy_status sy_sqbulk_finish(sy_sqbulk *b) SY_NODISCARD;
/* Frees the loader (accepts NULL); an unfinished file is left for the caller to delete. */
void sy_sqbulk_free(sy_sqbulk **b);
/* SQLite's BLOB comparison. */
int sy_sqbulk_key_cmp(const void *a, size_t an, const void *b, size_t bn);

#endif
