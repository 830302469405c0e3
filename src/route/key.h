/*
 * key.h — canonical routing bytes and stored-key encodings (spec formats §4.2 and §5).
 *
 * Routing always hashes the canonical bytes (int → 8-byte signed little-endian, str → UTF-8,
 * bytes → as is), independent of key_encoding; key_encoding only decides the bytes stored in and
 * looked up from a shard. Both functions are allocation-free: results point into the key or into
 * caller scratch space.
 */
#ifndef SY_ROUTE_KEY_H
#define SY_ROUTE_KEY_H

#include "core/error.h"

/* Canonical bytes of a key. For integers they are written to scratch[8]. SHARDY_EROUTE for a
 * SHARDY_KEY_UINT above INT64_MAX or an unknown key type. */
shardy_status sy_key_canonical(const shardy_key *k, unsigned char scratch[8], const void **p, size_t *n);

/* Encoded bytes of a key for key_encoding enc (purpose SHARDY_ENCODE_WRITE or _LOOKUP); integers
 * are written to scratch[8], strings/bytes are returned by reference. */
shardy_status sy_key_encoded(shardy_key_encoding enc, int purpose, const shardy_key *k, unsigned char scratch[8],
                             const void **p, size_t *n);

/* xxh3_64 seed 0 of bytes. */
uint64_t sy_xxh3(const void *p, size_t n);

#endif
