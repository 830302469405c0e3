/* key.c — canonical routing bytes, xxh3 routing and stored-key encodings; see key.h. */
#include "route/key.h"

#include <string.h>
#include <xxhash.h>

static const char *type_name(shardy_key_type t) {
    switch (t) {
    case SHARDY_KEY_INT:
    case SHARDY_KEY_UINT: return "int";
    case SHARDY_KEY_STR: return "str";
    case SHARDY_KEY_BYTES: return "bytes";
    }
    return "unknown";
}

uint64_t sy_xxh3(const void *p, size_t n) { return XXH3_64bits(p, n); }

static void put_le64(unsigned char *o, uint64_t v) {
    for (int i = 0; i < 8; i++) o[i] = (unsigned char)(v >> (8 * i));
}

static void put_be(unsigned char *o, uint64_t v, int n) {
    for (int i = 0; i < n; i++) o[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

shardy_status sy_key_canonical(const shardy_key *k, unsigned char scratch[8], const void **p, size_t *n) {
    switch (k->type) {
    case SHARDY_KEY_INT:
        put_le64(scratch, (uint64_t)k->i);
        *p = scratch;
        *n = 8;
        return SHARDY_OK;
    case SHARDY_KEY_UINT:
        if (k->u > (uint64_t)INT64_MAX)
            return sy_err(SHARDY_EROUTE,
                          "Integer key %llu out of range [-9223372036854775808, 9223372036854775807] for hash routing",
                          (unsigned long long)k->u);
        put_le64(scratch, k->u);
        *p = scratch;
        *n = 8;
        return SHARDY_OK;
    case SHARDY_KEY_STR:
    case SHARDY_KEY_BYTES:
        if (!k->data && k->len) return sy_err(SHARDY_EINVAL, "key has length %zu but no data", k->len);
        *p = k->data ? k->data : "";
        *n = k->len;
        return SHARDY_OK;
    }
    return sy_err(SHARDY_EROUTE, "key type %d cannot be routed (use int, str or bytes)", (int)k->type);
}

shardy_status shardy_key_digest(const shardy_key *key, uint64_t *digest) {
    unsigned char scratch[8];
    const void *p;
    size_t n;
    if (!key || !digest) return sy_err(SHARDY_EINVAL, "shardy_key_digest: NULL argument");
    shardy_status st = sy_key_canonical(key, scratch, &p, &n);
    if (st) return st;
    *digest = XXH3_64bits(p, n);
    return SHARDY_OK;
}

shardy_status shardy_route_hash(const shardy_key *key, uint64_t num_dbs, uint64_t *db_id, uint64_t *digest) {
    uint64_t d;
    if (num_dbs == 0) return sy_err(SHARDY_EINVAL, "num_dbs must be greater than 0");
    shardy_status st = shardy_key_digest(key, &d);
    if (st) return st;
    if (db_id) *db_id = d % num_dbs;
    if (digest) *digest = d;
    return SHARDY_OK;
}

const char *shardy_key_encoding_name(shardy_key_encoding enc) {
    switch (enc) {
    case SHARDY_KEYENC_U64BE: return "u64be";
    case SHARDY_KEYENC_U32BE: return "u32be";
    case SHARDY_KEYENC_UTF8: return "utf8";
    case SHARDY_KEYENC_RAW: return "raw";
    }
    return NULL;
}

shardy_status shardy_key_encoding_parse(const char *name, shardy_key_encoding *out) {
    static const shardy_key_encoding all[] = {SHARDY_KEYENC_U64BE, SHARDY_KEYENC_U32BE, SHARDY_KEYENC_UTF8,
                                              SHARDY_KEYENC_RAW};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++) {
        if (!strcmp(name, shardy_key_encoding_name(all[i]))) {
            *out = all[i];
            return SHARDY_OK;
        }
    }
    return sy_err(SHARDY_EINVAL, "key_encoding '%.64s' is not one of u64be, u32be, utf8, raw", name ? name : "(null)");
}

/* Integer value of an int key as (negative flag, magnitude-as-uint64 when non-negative). */
static shardy_status int_encode(shardy_key_encoding enc, const shardy_key *k, unsigned char scratch[8],
                                const void **p, size_t *n) {
    int bytes = enc == SHARDY_KEYENC_U64BE ? 8 : 4;
    uint64_t max = bytes == 8 ? UINT64_MAX : UINT32_MAX;
    uint64_t v;
    if (k->type == SHARDY_KEY_INT) {
        if (k->i < 0)
            return sy_err(SHARDY_ERANGE, "%s key %lld is negative; the encoding stores 0..%llu",
                          shardy_key_encoding_name(enc), (long long)k->i, (unsigned long long)max);
        v = (uint64_t)k->i;
    } else {
        v = k->u;
    }
    if (v > max)
        return sy_err(SHARDY_ERANGE, "%s key %llu is out of range 0..%llu", shardy_key_encoding_name(enc),
                      (unsigned long long)v, (unsigned long long)max);
    put_be(scratch, v, bytes);
    *p = scratch;
    *n = (size_t)bytes;
    return SHARDY_OK;
}

shardy_status sy_key_encoded(shardy_key_encoding enc, int purpose, const shardy_key *k, unsigned char scratch[8],
                             const void **p, size_t *n) {
    int is_int = k->type == SHARDY_KEY_INT || k->type == SHARDY_KEY_UINT;
    switch (enc) {
    case SHARDY_KEYENC_U64BE:
    case SHARDY_KEYENC_U32BE: {
        size_t width = enc == SHARDY_KEYENC_U64BE ? 8 : 4;
        if (is_int) return int_encode(enc, k, scratch, p, n);
        if (k->type == SHARDY_KEY_BYTES && purpose == SHARDY_ENCODE_LOOKUP) {
            if (k->len != width)
                return sy_err(SHARDY_ERANGE, "%s key bytes must have length %zu, got %zu",
                              shardy_key_encoding_name(enc), width, k->len);
            *p = k->data;
            *n = k->len;
            return SHARDY_OK;
        }
        return sy_err(SHARDY_ETYPE, "%s key encoding requires integer %skeys, got %s", shardy_key_encoding_name(enc),
                      purpose == SHARDY_ENCODE_LOOKUP ? "lookup " : "", type_name(k->type));
    }
    case SHARDY_KEYENC_UTF8:
    case SHARDY_KEYENC_RAW:
        if (k->type == SHARDY_KEY_STR || k->type == SHARDY_KEY_BYTES) {
            if (!k->data && k->len) return sy_err(SHARDY_EINVAL, "key has length %zu but no data", k->len);
            *p = k->data ? k->data : "";
            *n = k->len;
            return SHARDY_OK;
        }
        return sy_err(SHARDY_ETYPE, "%s key encoding requires str or bytes keys, got %s", shardy_key_encoding_name(enc),
                      type_name(k->type));
    }
    return sy_err(SHARDY_EINVAL, "unknown key encoding %d", (int)enc);
}

shardy_status shardy_key_encode(shardy_key_encoding enc, int purpose, const shardy_key *key, void *out, size_t cap,
                                size_t *out_len) {
    unsigned char scratch[8];
    const void *p;
    size_t n;
    if (!key || !out_len || (cap && !out)) return sy_err(SHARDY_EINVAL, "shardy_key_encode: NULL argument");
    if (purpose != SHARDY_ENCODE_WRITE && purpose != SHARDY_ENCODE_LOOKUP)
        return sy_err(SHARDY_EINVAL, "shardy_key_encode: purpose must be SHARDY_ENCODE_WRITE or SHARDY_ENCODE_LOOKUP");
    shardy_status st = sy_key_encoded(enc, purpose, key, scratch, &p, &n);
    if (st) return st;
    *out_len = n;
    if (n > cap) return sy_err(SHARDY_ERANGE, "encoded key needs %zu bytes, buffer has %zu", n, cap);
    if (n) memcpy(out, p, n);
    return SHARDY_OK;
}
