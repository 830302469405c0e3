/*
 * rowbuf.h — per-shard row buffering, sorted spill runs and the key-ordered merge that feeds a
 * shard writer.
 *
 * What it owns
 *   A sy_rowbuf holds the (encoded key, value) rows routed to one shard: an append-only arena of
 *   records in large chunks, read-only mappings of record ranges of files (exchange sections,
 *   indexed in place), plus an index of 24-byte entries (8-byte big-endian key prefix, record
 *   pointer, sequence number). sy_rowbuf_spill sorts the index, drops superseded duplicates and
 *   writes the rows to a run file in key order, then empties the buffer. A merge (sy_rowmerge)
 *   reads every run of the shard plus what is still in memory and yields each distinct key once,
 *   in ascending byte order of the encoded key, with the value of the LAST row added for that key
 *   (runs are ordered by time; within memory the sequence number decides).
 *
 * Invariants
 *   - Sequence numbers increase with every add across the whole builder, so "last added wins" is
 *     well defined across runs and memory.
 *   - Run files contain strictly increasing keys. Format: repeated [u32 klen LE][u32 vlen LE][key]
 *     [value]. Spill runs are local scratch; the same format is the exchange object's section
 *     format (write/exchange.c), where a section is a byte range of a bigger file whose records
 *     are in arrival order, not key order (so sections are indexed, not merged as runs).
 *   - Adding a row allocates only when a chunk or the index grows (amortised O(1), no per-row
 *     malloc).
 *
 * Failure behaviour: I/O errors name the run file and the OS error; a failed spill leaves the
 *   in-memory rows in place. Nothing here is thread-safe: one shard buffer is used by one thread
 *   at a time (the builder adds from one thread; each writer thread merges its own shards).
 */
#ifndef SY_WRITE_ROWBUF_H
#define SY_WRITE_ROWBUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define SY_MAX_KEY_BYTES (1u << 20)         /* 1 MiB: larger keys are refused */
#define SY_MAX_VALUE_BYTES (1000000000u)    /* SQLite's default blob limit is 1e9 bytes */
/* Mapped record ranges a buffer keeps before its owner should spill: each is one mapping, and a
 * process has a limit on those (vm.max_map_count, 65530 by default on Linux). */
#define SY_ROWBUF_MAPS_MAX 16384u

/* The run-format record header: [u32 klen LE][u32 vlen LE]. */
static inline void sy_rowrec_header(unsigned char *p, uint32_t klen, uint32_t vlen) {
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(klen >> (8 * i));
        p[4 + i] = (unsigned char)(vlen >> (8 * i));
    }
}

/* Writes a whole record (header, key, value) at p: 8 + klen + vlen bytes. */
static inline void sy_rowrec_put(unsigned char *p, const void *k, uint32_t klen, const void *v, uint32_t vlen) {
    sy_rowrec_header(p, klen, vlen);
    if (klen) memcpy(p + 8, k, klen);
    if (vlen) memcpy(p + 8 + klen, v, vlen);
}

typedef struct sy_rowent {
    uint64_t prefix;             /* first 8 key bytes, big-endian, zero padded */
    const unsigned char *rec;    /* [u32 klen][u32 vlen][key][value] */
    uint64_t seq;
} sy_rowent;

typedef struct sy_rowchunk sy_rowchunk;

/* A run: bytes [off, off + len) of a file in run format, keys strictly increasing. */
typedef struct sy_rowrun {
    char *path;
    uint64_t off, len;
    int owned;            /* deleted by sy_rowbuf_free */
} sy_rowrun;

/* A read-only mapping that in-memory entries point into (sy_rowbuf_add_records). */
typedef struct sy_rowmap {
    void *addr;
    size_t len;
} sy_rowmap;

typedef struct sy_rowbuf {
    sy_rowchunk *chunks;  /* newest first */
    sy_rowmap *maps;      /* mapped record ranges the entries may point into */
    size_t nmaps;
    sy_rowent *ents;
    size_t n, cap;
    uint64_t mem_bytes;   /* bytes of rows held (records + index entries; chunk slack not counted) */
    sy_rowrun *runs;      /* spill runs and added sections, oldest first */
    size_t nruns;
    uint64_t rows_total;  /* rows ever added (duplicates counted) */
    uint64_t spill_dups;  /* superseded rows dropped while spilling */
} sy_rowbuf;

void sy_rowbuf_init(sy_rowbuf *b);
/* Frees memory and deletes run files. */
void sy_rowbuf_free(sy_rowbuf *b);
/* Appends one row (copied). klen <= SY_MAX_KEY_BYTES, vlen <= SY_MAX_VALUE_BYTES. */
shardy_status sy_rowbuf_add(sy_rowbuf *b, const void *k, uint32_t klen, const void *v, uint32_t vlen,
                            uint64_t seq) SY_NODISCARD;
/* Sorts the in-memory rows by (key, seq). */
void sy_rowbuf_sort(sy_rowbuf *b);
/* Sorts and writes the in-memory rows to a new run file at path (copied), then frees the memory. */
shardy_status sy_rowbuf_spill(sy_rowbuf *b, const char *path) SY_NODISCARD;

/* Appends an existing run as the newest one: bytes [off, off + len) of path, in run format with
 * strictly increasing keys (a sorted run written by another process or an earlier spill). rows = the rows it
 * stands for (added to rows_total, duplicates included). owned → the file is deleted by
 * sy_rowbuf_free. Only between spills: the in-memory rows must be empty (they are newer). */
shardy_status sy_rowbuf_add_run(sy_rowbuf *b, const char *path, uint64_t off, uint64_t len, uint64_t rows,
                                int owned) SY_NODISCARD;

/* Adds every record of bytes [off, off + len) of path — records in run format in ANY key order (an
 * exchange section, write/exchange.c) — as in-memory rows with sequence numbers seq0, seq0 + 1, ...
 * in file order, without copying them: the range is mapped read-only and the index entries point
 * into the mapping, which lives until the memory is freed (spill or sy_rowbuf_free). The range
 * must hold exactly `rows` whole records, each within the key/value limits; otherwise
 * SHARDY_EFORMAT naming the file and byte, and nothing is added. mem_bytes grows by the index
 * only (the mapped bytes are page cache, not heap). */
shardy_status sy_rowbuf_add_records(sy_rowbuf *b, const char *path, uint64_t off, uint64_t len, uint64_t rows,
                                    uint64_t seq0) SY_NODISCARD;

/* Key-ordered merge over a shard's runs and its (sorted) in-memory rows. */
typedef struct sy_rowmerge sy_rowmerge;
/* Sorts the memory part if needed and opens every run. */
shardy_status sy_rowmerge_open(sy_rowbuf *b, sy_rowmerge **out) SY_NODISCARD;
/* Next distinct key: 1 with the row (pointers valid until the next call), 0 at the end, <0 on
 * error (message set, status in *st). The row is its run-format record in place: the 8 bytes
 * before *k are [u32 klen LE][u32 vlen LE] and *v follows the key, so (k - 8, 8 + klen + vlen) is
 * the whole record. */
int sy_rowmerge_next(sy_rowmerge *m, const void **k, size_t *klen, const void **v, size_t *vlen,
                     shardy_status *st);
/* Superseded rows (same key added again later) dropped so far, spills included. */
uint64_t sy_rowmerge_duplicates(const sy_rowmerge *m);
void sy_rowmerge_close(sy_rowmerge **m);

#endif
