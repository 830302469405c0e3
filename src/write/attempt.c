/* attempt.c — attempt results and deterministic winner selection; see attempt.h. */
#include "write/attempt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "route/key.h"

void sy_attempt_clear(sy_attempt *a) {
    sy_free(a->db_url);
    sy_free(a->min_key);
    sy_free(a->max_key);
    a->db_url = NULL;
    a->min_key = a->max_key = NULL;
    a->min_len = a->max_len = 0;
}

int sy_attempt_cmp(const sy_attempt *a, const sy_attempt *b) {
    if (a->attempt != b->attempt) return a->attempt < b->attempt ? -1 : 1;
    int64_t ta = a->task_attempt_id == SY_NO_ID ? INT64_MAX : a->task_attempt_id;
    int64_t tb = b->task_attempt_id == SY_NO_ID ? INT64_MAX : b->task_attempt_id;
    if (ta != tb) return ta < tb ? -1 : 1;
    return strcmp(a->db_url ? a->db_url : "", b->db_url ? b->db_url : "");
}

shardy_status sy_select_winners(const sy_attempt *attempts, size_t n, uint32_t num_dbs, const sy_attempt **winners) {
    sy_buf extra = SY_BUF_INIT;
    shardy_status st = SHARDY_OK;
    size_t nextra = 0;
    for (uint32_t i = 0; i < num_dbs; i++) winners[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        if (attempts[i].db_id < num_dbs) continue;
        st = sy_buf_printf(&extra, "%s%u", nextra++ ? ", " : "", attempts[i].db_id);
        if (st) goto done;
    }
    if (nextra) {
        st = sy_err(SHARDY_EROUTE, "Shard coverage mismatch; extra=[%s] (num_dbs=%u)", extra.data, num_dbs);
        goto done;
    }
    /* best[db_id] = best attempt so far, empty ones included so an empty attempt 0 beats a later
     * non-empty attempt exactly as the comparator says. */
    for (size_t i = 0; i < n; i++) {
        const sy_attempt *a = &attempts[i];
        if (!winners[a->db_id] || sy_attempt_cmp(a, winners[a->db_id]) < 0) winners[a->db_id] = a;
    }
    for (uint32_t i = 0; i < num_dbs; i++)
        if (winners[i] && !winners[i]->db_url) winners[i] = NULL;
done:
    sy_buf_free(&extra);
    return st;
}

/* ---- attempt result JSON ------------------------------------------------------------------------ */

shardy_key sy_attempt_key(shardy_key_encoding enc, const unsigned char *k, size_t n) {
    if (enc == SHARDY_KEYENC_U64BE || enc == SHARDY_KEYENC_U32BE) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) v = v << 8 | k[i];
        return v > (uint64_t)INT64_MAX ? shardy_key_uint(v) : shardy_key_int((int64_t)v);
    }
    return shardy_key_str((const char *)k, n);
}

static json_object *key_to_json(shardy_key_encoding enc, const unsigned char *k, size_t n) {
    static const char digits[] = "0123456789abcdef";
    if (!k) return NULL;
    shardy_key key = sy_attempt_key(enc, k, n);
    if (key.type == SHARDY_KEY_INT) return json_object_new_int64(key.i);
    if (key.type == SHARDY_KEY_UINT) return json_object_new_uint64(key.u);
    if (sy_utf8_valid((const char *)k, n)) return json_object_new_string_len((const char *)k, (int)n);
    char *hex = sy_malloc(2 * n + 1);
    if (!hex) return NULL;
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[k[i] >> 4];
        hex[2 * i + 1] = digits[k[i] & 15];
    }
    hex[2 * n] = 0;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "hex", json_object_new_string(hex));
    sy_free(hex);
    return o;
}

static json_object *id_or_null(int64_t v) { return v == SY_NO_ID ? NULL : json_object_new_int64(v); }

shardy_status sy_attempt_to_json(const sy_attempt *a, shardy_key_encoding enc, json_object **out) {
    json_object *o = json_object_new_object(), *wi = json_object_new_object(), *urls = json_object_new_array();
    *out = NULL;
    if (!o || !wi || !urls) {
        json_object_put(o);
        json_object_put(wi);
        json_object_put(urls);
        return sy_err(SHARDY_ENOMEM, "out of memory building an attempt result");
    }
    json_object_object_add(o, "db_id", json_object_new_int64(a->db_id));
    json_object_object_add(o, "db_url", a->db_url ? json_object_new_string(a->db_url) : NULL);
    json_object_object_add(o, "attempt", json_object_new_int64(a->attempt));
    json_object_object_add(o, "row_count", json_object_new_uint64(a->row_count));
    json_object_object_add(o, "db_bytes", json_object_new_uint64(a->db_bytes));
    json_object_object_add(o, "min_key", key_to_json(enc, a->min_key, a->min_len));
    json_object_object_add(o, "max_key", key_to_json(enc, a->max_key, a->max_len));
    json_object_object_add(o, "checkpoint_id", a->checkpoint_id[0] ? json_object_new_string(a->checkpoint_id) : NULL);
    json_object_object_add(wi, "stage_id", id_or_null(a->stage_id));
    json_object_object_add(wi, "task_attempt_id", id_or_null(a->task_attempt_id));
    json_object_object_add(wi, "attempt", json_object_new_int64(a->attempt));
    json_object_object_add(wi, "duration_ms", json_object_new_int64(a->duration_ms));
    json_object_object_add(o, "writer_info", wi);
    if (a->db_url) json_object_array_add(urls, json_object_new_string(a->db_url));
    json_object_object_add(o, "all_attempt_urls", urls);
    *out = o;
    return SHARDY_OK;
}

/* Field lookup: *v = the value (NULL for JSON null). Missing → SHARDY_EFORMAT. */
static shardy_status field(json_object *o, const char *name, size_t idx, const char *parent, json_object **v) {
    if (!json_object_object_get_ex(o, name, v))
        return sy_err(SHARDY_EFORMAT, "attempts[%zu]%s%s: missing field %s", idx, parent ? "." : "",
                      parent ? parent : "", name);
    return SHARDY_OK;
}

static shardy_status bad(size_t idx, const char *parent, const char *name, const char *why) {
    return sy_err(SHARDY_EFORMAT, "attempts[%zu].%s%s%s: %s", idx, parent ? parent : "", parent ? "." : "", name,
                  why);
}

/* An integer field in [lo, hi] (nullable: JSON null gives *out = SY_NO_ID). */
static shardy_status int_field(json_object *o, const char *name, size_t idx, const char *parent, int nullable,
                               int64_t lo, int64_t hi, int64_t *out) {
    json_object *v;
    shardy_status st = field(o, name, idx, parent, &v);
    if (st) return st;
    if (!v && nullable) {
        *out = SY_NO_ID;
        return SHARDY_OK;
    }
    if (!v || json_object_get_type(v) != json_type_int)
        return bad(idx, parent, name, nullable ? "must be an integer or null" : "must be an integer");
    int64_t x = json_object_get_int64(v);
    if (sy_json_int_is_u64(v) || x < lo || x > hi) {
        char why[96];
        snprintf(why, sizeof why, "out of range [%" PRId64 ", %" PRId64 "]", lo, hi);
        return bad(idx, parent, name, why);
    }
    *out = x;
    return SHARDY_OK;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A logical key (see the header) → its encoded bytes in *k (owned), or NULL for JSON null. */
static shardy_status key_field(json_object *o, const char *name, size_t idx, shardy_key_encoding enc,
                               unsigned char **k, size_t *n) {
    json_object *v, *hex;
    unsigned char scratch[8];
    const void *kp = NULL;
    size_t kn = 0;
    shardy_key key;
    shardy_status st = field(o, name, idx, NULL, &v);
    if (st || !v) return st;
    int ints = enc == SHARDY_KEYENC_U64BE || enc == SHARDY_KEYENC_U32BE;
    if (ints && json_object_get_type(v) == json_type_int) {
        key = sy_json_int_is_u64(v) ? shardy_key_uint(json_object_get_uint64(v))
                                    : shardy_key_int(json_object_get_int64(v));
    } else if (!ints && json_object_get_type(v) == json_type_string) {
        key = shardy_key_bytes(json_object_get_string(v), (size_t)json_object_get_string_len(v));
    } else if (!ints && json_object_get_type(v) == json_type_object && json_object_object_length(v) == 1 &&
               json_object_object_get_ex(v, "hex", &hex) && json_object_get_type(hex) == json_type_string) {
        const char *h = json_object_get_string(hex);
        size_t hl = (size_t)json_object_get_string_len(hex);
        if (hl % 2) return bad(idx, NULL, name, "hex key of odd length");
        if (!(*k = sy_malloc(hl / 2 + 1))) return sy_err(SHARDY_ENOMEM, "out of memory parsing attempts");
        for (size_t i = 0; i < hl / 2; i++) {
            int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
            if (hi < 0 || lo < 0) return bad(idx, NULL, name, "hex key with a non-hex character");
            (*k)[i] = (unsigned char)(hi << 4 | lo);
        }
        *n = hl / 2;
        return SHARDY_OK;
    } else {
        return bad(idx, NULL, name,
                   ints ? "must be an integer or null (integer key encoding)"
                        : "must be a string, {\"hex\": ...} or null (utf8/raw key encoding)");
    }
    if ((st = sy_key_encoded(enc, SHARDY_ENCODE_WRITE, &key, scratch, &kp, &kn)) != SHARDY_OK)
        return sy_err(SHARDY_EFORMAT, "attempts[%zu].%s: %s", idx, name, shardy_errmsg());
    if (!(*k = sy_malloc(kn + 1))) return sy_err(SHARDY_ENOMEM, "out of memory parsing attempts");
    if (kn) memcpy(*k, kp, kn);
    *n = kn;
    return SHARDY_OK;
}

static shardy_status string_field(json_object *o, const char *name, size_t idx, const char **out) {
    json_object *v;
    shardy_status st = field(o, name, idx, NULL, &v);
    if (st) return st;
    if (v && json_object_get_type(v) != json_type_string) return bad(idx, NULL, name, "must be a string or null");
    *out = v ? json_object_get_string(v) : NULL;
    return SHARDY_OK;
}

static shardy_status writer_info(json_object *o, size_t idx, sy_attempt *a) {
    json_object *wi;
    int64_t att = 0;
    shardy_status st = field(o, "writer_info", idx, NULL, &wi);
    if (st) return st;
    if (!wi || json_object_get_type(wi) != json_type_object) return bad(idx, NULL, "writer_info", "must be an object");
    SY_TRY(int_field(wi, "stage_id", idx, "writer_info", 1, INT64_MIN + 1, INT64_MAX, &a->stage_id));
    SY_TRY(int_field(wi, "task_attempt_id", idx, "writer_info", 1, INT64_MIN + 1, INT64_MAX, &a->task_attempt_id));
    SY_TRY(int_field(wi, "attempt", idx, "writer_info", 0, 0, 99, &att));
    SY_TRY(int_field(wi, "duration_ms", idx, "writer_info", 0, 0, INT64_MAX, &a->duration_ms));
    if (att != (int64_t)a->attempt) st = bad(idx, "writer_info", "attempt", "differs from the record's attempt");
done:
    return st;
}

static shardy_status urls_field(json_object *o, size_t idx) {
    json_object *v;
    if (!json_object_object_get_ex(o, "all_attempt_urls", &v)) return SHARDY_OK; /* "() when unknown" */
    if (!v || json_object_get_type(v) != json_type_array)
        return bad(idx, NULL, "all_attempt_urls", "must be an array of strings");
    for (size_t i = 0; i < json_object_array_length(v); i++)
        if (json_object_get_type(json_object_array_get_idx(v, i)) != json_type_string)
            return bad(idx, NULL, "all_attempt_urls", "must be an array of strings");
    return SHARDY_OK;
}

shardy_status sy_attempt_from_json(json_object *o, size_t idx, shardy_key_encoding enc, sy_attempt *a) {
    shardy_status st = SHARDY_OK;
    int64_t v = 0;
    const char *url = NULL, *ckpt = NULL;
    memset(a, 0, sizeof *a);
    if (!o || json_object_get_type(o) != json_type_object)
        return sy_err(SHARDY_EFORMAT, "attempts[%zu]: must be a JSON object", idx);
    SY_TRY(int_field(o, "db_id", idx, NULL, 0, 0, UINT32_MAX, &v));
    a->db_id = (uint32_t)v;
    SY_TRY(int_field(o, "attempt", idx, NULL, 0, 0, 99, &v));
    a->attempt = (uint32_t)v;
    SY_TRY(int_field(o, "row_count", idx, NULL, 0, 0, INT64_MAX, &v));
    a->row_count = (uint64_t)v;
    SY_TRY(int_field(o, "db_bytes", idx, NULL, 0, 0, INT64_MAX, &v));
    a->db_bytes = (uint64_t)v;
    SY_TRY(string_field(o, "db_url", idx, &url));
    SY_TRY(string_field(o, "checkpoint_id", idx, &ckpt));
    if (ckpt && (strlen(ckpt) != 32 || strspn(ckpt, "0123456789abcdef") != 32))
        SY_TRY(bad(idx, NULL, "checkpoint_id", "must be 32 lowercase hex characters"));
    if (ckpt) memcpy(a->checkpoint_id, ckpt, 33);
    SY_TRY(key_field(o, "min_key", idx, enc, &a->min_key, &a->min_len));
    SY_TRY(key_field(o, "max_key", idx, enc, &a->max_key, &a->max_len));
    if (!a->min_key != !a->max_key) SY_TRY(bad(idx, NULL, "max_key", "min_key and max_key must both be null or not"));
    SY_TRY(writer_info(o, idx, a));
    SY_TRY(urls_field(o, idx));
    if (url && !*url) SY_TRY(bad(idx, NULL, "db_url", "must not be empty"));
    if (url && !(a->db_url = sy_strdup(url))) st = sy_err(SHARDY_ENOMEM, "out of memory parsing attempts");
done:
    return st;
}
