/* json.c — JSON parsing via json-c and Python-compatible JSON emitting; see json.h. */
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* json-c is laxer than RFC 8259 and Python's json module in three ways that matter here: it
 * silently saturates integer literals outside [INT64_MIN, UINT64_MAX], it accepts raw control
 * characters inside strings, and its UTF-8 check lets overlong forms, encoded surrogates and code
 * points above U+10FFFF through. Checks an already well-formed document for all three; returns the
 * reason (and *at, the byte offset) or NULL. */
static const char *post_check(const char *s, size_t len, size_t *at) {
    static const char max_neg[] = "9223372036854775808", max_pos[] = "18446744073709551615";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        if (u[i] >= 0x80) {
            size_t l = utf8_decode(u + i, len - i, &cp);
            if (!l) {
                *at = i;
                return "invalid UTF-8";
            }
            i += l;
            continue;
        }
        char c = s[i];
        if (c == '"') { /* a string literal: escapes are skipped, raw controls refused */
            for (i++; i < len && s[i] != '"'; i++) {
                if (u[i] < 0x20) {
                    *at = i;
                    return "raw control character inside a string";
                }
                if (u[i] >= 0x80) {
                    size_t l = utf8_decode(u + i, len - i, &cp);
                    if (!l) {
                        *at = i;
                        return "invalid UTF-8";
                    }
                    i += l - 1;
                } else if (s[i] == '\\') {
                    i++;
                }
            }
            i++;
            continue;
        }
        if (c != '-' && !(c >= '0' && c <= '9')) {
            i++;
            continue;
        }
        size_t start = i, d0;
        int neg = c == '-';
        if (neg) i++;
        d0 = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        size_t nd = i - d0;
        if (i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) { /* a double: skip it */
            while (i < len && strchr("0123456789.eE+-", s[i])) i++;
            continue;
        }
        const char *lim = neg ? max_neg : max_pos;
        size_t limn = strlen(lim);
        if (nd > limn || (nd == limn && memcmp(s + d0, lim, limn) > 0)) {
            *at = start;
            return "integer outside the 64-bit range [-2^63, 2^64-1]";
        }
    }
    return NULL;
}

shardy_status sy_json_parse(const char *text, size_t len, const char *what, json_object **out) {
    *out = NULL;
    if (len == 0) return sy_err(SHARDY_EFORMAT, "%s: empty document, expected JSON", what);
    if (memchr(text, '\0', len)) return sy_err(SHARDY_EFORMAT, "%s: invalid JSON: contains a NUL byte", what);
    /* json-c needs to see the terminator to finish a top-level number. */
    char *copy = sy_strndup(text, len);
    if (!copy) return sy_err(SHARDY_ENOMEM, "%s: out of memory parsing JSON", what);
    json_tokener *tok = json_tokener_new_ex(SY_JSON_MAX_DEPTH);
    if (!tok) {
        sy_free(copy);
        return sy_err(SHARDY_ENOMEM, "%s: out of memory parsing JSON", what);
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, copy, (int)(len + 1 > 0x7fffffff ? 0x7fffffff : len + 1));
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    shardy_status st = SHARDY_OK;
    if (len >= 0x7fffffff) {
        st = sy_err(SHARDY_EFORMAT, "%s: JSON document too large (%zu bytes)", what, len);
    } else if (e != json_tokener_success) { /* o == NULL with success is the JSON literal null */
        st = sy_err(SHARDY_EFORMAT, "%s: invalid JSON at byte %zu: %s", what, end, json_tokener_error_desc(e));
    } else if (end < len) {
        /* json-c stops at the end of the value; anything but whitespace after it is garbage. */
        for (size_t i = end; i < len; i++) {
            if (!strchr(" \t\r\n", copy[i])) {
                st = sy_err(SHARDY_EFORMAT, "%s: invalid JSON: unexpected data after the value at byte %zu", what, i);
                break;
            }
        }
    }
    if (!st) {
        size_t at = 0;
        const char *why = post_check(copy, len, &at);
        if (why) st = sy_err(SHARDY_EFORMAT, "%s: invalid JSON at byte %zu: %s", what, at, why);
    }
    json_tokener_free(tok);
    sy_free(copy);
    if (st) {
        json_object_put(o);
        return st;
    }
    *out = o;
    return SHARDY_OK;
}

int sy_json_int_is_u64(json_object *o) {
    return json_object_get_type(o) == json_type_int && json_object_get_int64(o) == INT64_MAX &&
           json_object_get_uint64(o) > (uint64_t)INT64_MAX;
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length (0 if invalid) and the code point. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
        len = 2; *cp = c & 0x1F; min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3; *cp = c & 0x0F; min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4; *cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
    return len;
}

int sy_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_decode(p + i, n - i, &cp);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

static int yaml_needs_escape(uint32_t cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF ||
           cp == 0xFFFE || cp == 0xFFFF;
}

shardy_status sy_json_put_string(sy_buf *out, const char *s, size_t n, int flags) {
    const unsigned char *p = (const unsigned char *)s;
    shardy_status st = sy_buf_reserve(out, n + 2);
    if (st) return st;
    out->data[out->len++] = '"';
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_decode(p + i, n - i, &cp);
        if (!l) return sy_err(SHARDY_EFORMAT, "string is not valid UTF-8 at byte %zu", i);
        char esc[16];
        const char *rep = NULL;
        size_t replen = 0;
        switch (cp) {
        case '"': rep = "\\\""; break;
        case '\\': rep = "\\\\"; break;
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        case '\t': rep = "\\t"; break;
        case '\b': rep = "\\b"; break;
        case '\f': rep = "\\f"; break;
        default: break;
        }
        if (rep) {
            replen = 2;
        } else if (flags & (SY_JSON_YAML_SAFE | SY_JSON_RAW_UTF8)) {
            if ((flags & SY_JSON_YAML_SAFE) ? yaml_needs_escape(cp) : cp < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
                rep = esc;
                replen = 6;
            }
        } else if (cp < 0x20 || cp > 0x7E) {
            if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                snprintf(esc, sizeof esc, "\\u%04x\\u%04x", (unsigned)(0xD800 + (v >> 10)),
                         (unsigned)(0xDC00 + (v & 0x3FF)));
                replen = 12;
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
                replen = 6;
            }
            rep = esc;
        }
        if (rep)
            st = sy_buf_append(out, rep, replen);
        else
            st = sy_buf_append(out, s + i, l);
        if (st) return st;
        i += l;
    }
    return sy_buf_putc(out, '"');
}

shardy_status sy_json_put_uint(sy_buf *out, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return sy_buf_append(out, tmp + sizeof tmp - n, n);
}

shardy_status sy_json_put_int(sy_buf *out, int64_t v) {
    if (v >= 0) return sy_json_put_uint(out, (uint64_t)v);
    shardy_status st = sy_buf_putc(out, '-');
    return st ? st : sy_json_put_uint(out, 0 - (uint64_t)v);
}

shardy_status sy_json_put_double(sy_buf *out, double d) {
    if (isnan(d)) return sy_buf_puts(out, "NaN");
    if (isinf(d)) return sy_buf_puts(out, d > 0 ? "Infinity" : "-Infinity");
    /* Shortest digits that round-trip, like Python's repr. */
    char digits[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(digits, sizeof digits, "%.*e", prec - 1, d);
        if (strtod(digits, NULL) == d) break;
    }
    /* digits = [-]D[.DDD]e[+-]XX */
    char mant[32];
    size_t m = 0;
    const char *q = digits;
    int neg = 0;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q != '.') mant[m++] = *q;
    mant[m] = '\0';
    int exp10 = atoi(q + 1); /* value = 0.mant * 10^(exp10+1) */
    while (m > 1 && mant[m - 1] == '0') mant[--m] = '\0';
    char res[64];
    size_t r = 0;
    if (neg) res[r++] = '-';
    if (exp10 < -4 || exp10 >= 16) {
        res[r++] = mant[0];
        if (m > 1) {
            res[r++] = '.';
            memcpy(res + r, mant + 1, m - 1);
            r += m - 1;
        }
        r += (size_t)snprintf(res + r, sizeof res - r, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        res[r++] = '0';
        res[r++] = '.';
        for (int z = 0; z < -exp10 - 1; z++) res[r++] = '0';
        memcpy(res + r, mant, m);
        r += m;
    } else {
        size_t intdigits = (size_t)exp10 + 1;
        for (size_t k = 0; k < intdigits; k++) res[r++] = k < m ? mant[k] : '0';
        res[r++] = '.';
        if (m > intdigits) {
            memcpy(res + r, mant + intdigits, m - intdigits);
            r += m - intdigits;
        } else {
            res[r++] = '0';
        }
    }
    return sy_buf_append(out, res, r);
}

typedef struct kv_ref {
    const char *key;
    json_object *val;
} kv_ref;

static int kv_cmp(const void *a, const void *b) {
    /* strcmp compares as unsigned char: UTF-8 byte order == code point order. */
    return strcmp(((const kv_ref *)a)->key, ((const kv_ref *)b)->key);
}

static shardy_status newline_indent(sy_buf *out, int flags, int depth) {
    if (!(flags & SY_JSON_INDENT2)) return SHARDY_OK;
    shardy_status st = sy_buf_putc(out, '\n');
    for (int i = 0; i < depth && !st; i++) st = sy_buf_puts(out, "  ");
    return st;
}

static shardy_status dump(json_object *o, int flags, sy_buf *out, int depth) {
    const char *item_sep = (flags & (SY_JSON_COMPACT | SY_JSON_INDENT2)) ? "," : ", ";
    const char *key_sep = (flags & SY_JSON_COMPACT) ? ":" : ": ";
    shardy_status st = SHARDY_OK;
    if (depth > SY_JSON_MAX_DEPTH) return sy_err(SHARDY_EINVAL, "JSON value nested deeper than %d", SY_JSON_MAX_DEPTH);
    switch (json_object_get_type(o)) {
    case json_type_null: return sy_buf_puts(out, "null");
    case json_type_boolean: return sy_buf_puts(out, json_object_get_boolean(o) ? "true" : "false");
    case json_type_int:
        if (sy_json_int_is_u64(o)) return sy_json_put_uint(out, json_object_get_uint64(o));
        return sy_json_put_int(out, json_object_get_int64(o));
    case json_type_double: return sy_json_put_double(out, json_object_get_double(o));
    case json_type_string:
        return sy_json_put_string(out, json_object_get_string(o), (size_t)json_object_get_string_len(o), flags);
    case json_type_array: {
        size_t n = json_object_array_length(o);
        if ((st = sy_buf_putc(out, '['))) return st;
        for (size_t i = 0; i < n && !st; i++) {
            if (i) st = sy_buf_puts(out, item_sep);
            if (!st) st = newline_indent(out, flags, depth + 1);
            if (!st) st = dump(json_object_array_get_idx(o, i), flags, out, depth + 1);
        }
        if (!st && n) st = newline_indent(out, flags, depth);
        return st ? st : sy_buf_putc(out, ']');
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(o), i = 0;
        kv_ref *kv = sy_calloc(n ? n : 1, sizeof *kv);
        if (!kv) return sy_err(SHARDY_ENOMEM, "out of memory serialising JSON");
        json_object_object_foreach(o, k, v) {
            kv[i].key = k;
            kv[i].val = v;
            i++;
        }
        if (!(flags & SY_JSON_NO_SORT)) qsort(kv, n, sizeof *kv, kv_cmp);
        st = sy_buf_putc(out, '{');
        for (i = 0; i < n && !st; i++) {
            if (i) st = sy_buf_puts(out, item_sep);
            if (!st) st = newline_indent(out, flags, depth + 1);
            if (!st) st = sy_json_put_string(out, kv[i].key, strlen(kv[i].key), flags);
            if (!st) st = sy_buf_puts(out, key_sep);
            if (!st) st = dump(kv[i].val, flags, out, depth + 1);
        }
        if (!st && n) st = newline_indent(out, flags, depth);
        if (!st) st = sy_buf_putc(out, '}');
        sy_free(kv);
        return st;
    }
    }
    return sy_err(SHARDY_EINTERNAL, "unknown json-c type");
}

shardy_status sy_json_dump(json_object *o, int flags, sy_buf *out) { return dump(o, flags, out, 0); }
