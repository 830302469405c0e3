/* current.c — the _CURRENT pointer: exact serialisation and reader-rule parsing; see current.h. */
#include "snapshot/current.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "snapshot/manifest.h"

#define FAIL_PREFIX "CURRENT pointer validation failed: "

shardy_status sy_current_serialize(const char *manifest_ref, const char *run_id, int64_t updated_at_us, sy_buf *out) {
    char ts[SY_TIME_STRLEN];
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    if (!manifest_ref || !*manifest_ref || !sy_utf8_valid(manifest_ref, strlen(manifest_ref)))
        return sy_err(SHARDY_EINVAL, "_CURRENT: manifest_ref must be a non-empty UTF-8 string");
    if (!run_id || !*run_id || !sy_utf8_valid(run_id, strlen(run_id)))
        return sy_err(SHARDY_EINVAL, "_CURRENT: run_id must be a non-empty UTF-8 string");
    sy_time_format_iso(updated_at_us, ts);
    /* Keys in sorted order, compact separators (json.dumps(sort_keys=True, separators=(",", ":"))). */
    SY_TRY(sy_buf_printf(&b, "{\"format_version\":%d,\"manifest_content_type\":", SY_CURRENT_FORMAT_VERSION));
    SY_TRY(sy_json_put_string(&b, SY_MANIFEST_CONTENT_TYPE, strlen(SY_MANIFEST_CONTENT_TYPE), SY_JSON_COMPACT));
    SY_TRY(sy_buf_puts(&b, ",\"manifest_ref\":"));
    SY_TRY(sy_json_put_string(&b, manifest_ref, strlen(manifest_ref), SY_JSON_COMPACT));
    SY_TRY(sy_buf_puts(&b, ",\"run_id\":"));
    SY_TRY(sy_json_put_string(&b, run_id, strlen(run_id), SY_JSON_COMPACT));
    SY_TRY(sy_buf_puts(&b, ",\"updated_at\":"));
    SY_TRY(sy_json_put_string(&b, ts, strlen(ts), SY_JSON_COMPACT));
    SY_TRY(sy_buf_putc(&b, '}'));
    SY_TRY(sy_buf_append(out, b.data, b.len));
done:
    sy_buf_free(&b);
    return st;
}

void sy_current_free(sy_current **cur) {
    if (!cur || !*cur) return;
    sy_free((*cur)->manifest_ref);
    sy_free((*cur)->run_id);
    sy_free((*cur)->manifest_content_type);
    sy_free((*cur)->updated_at);
    sy_free(*cur);
    *cur = NULL;
}

static const char *kind(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_int: return "an integer";
    case json_type_double: return "a number";
    case json_type_string: return "a string";
    case json_type_array: return "an array";
    case json_type_object: return "an object";
    }
    return "unknown";
}

/* Required string field → owned copy. */
static shardy_status req_string(json_object *o, const char *field, const char *url, char **out) {
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, field, &v))
        return sy_err(SHARDY_EFORMAT, FAIL_PREFIX "field '%s' is required (in %.400s)", field, url);
    if (!json_object_is_type(v, json_type_string))
        return sy_err(SHARDY_EFORMAT, FAIL_PREFIX "field '%s' must be a string, got %s (in %.400s)", field, kind(v),
                      url);
    size_t n = (size_t)json_object_get_string_len(v);
    const char *s = json_object_get_string(v);
    if (memchr(s, '\0', n))
        return sy_err(SHARDY_EFORMAT, FAIL_PREFIX "field '%s' contains a NUL character (in %.400s)", field, url);
    *out = sy_strndup(s, n);
    return *out ? SHARDY_OK : sy_err(SHARDY_ENOMEM, "out of memory parsing _CURRENT %.400s", url);
}

shardy_status sy_current_parse(const char *text, size_t len, const char *url, sy_current **out) {
    json_object *o = NULL, *v = NULL;
    sy_current *c = NULL;
    shardy_status st;
    char what[480];
    if (!url) url = "(unnamed)";
    *out = NULL;
    snprintf(what, sizeof what, FAIL_PREFIX "%.400s", url);
    if (!text && len) SY_TRY(sy_err(SHARDY_EINVAL, "sy_current_parse: NULL text"));
    SY_TRY(sy_json_parse(text ? text : "", len, what, &o));
    if (!json_object_is_type(o, json_type_object))
        SY_TRY(sy_err(SHARDY_EFORMAT, FAIL_PREFIX "expected a JSON object, got %s (in %.400s)", kind(o), url));
    if (!(c = sy_calloc(1, sizeof *c))) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory parsing _CURRENT %.400s", url));
    c->format_version = SY_CURRENT_FORMAT_VERSION;
    if (json_object_object_get_ex(o, "format_version", &v)) {
        if (!json_object_is_type(v, json_type_int))
            SY_TRY(sy_err(SHARDY_EFORMAT, FAIL_PREFIX "field 'format_version' must be an integer, got %s (in %.400s)",
                          kind(v), url));
        c->format_version = sy_json_int_is_u64(v) ? INT64_MAX : json_object_get_int64(v);
    }
    SY_TRY(req_string(o, "manifest_ref", url, &c->manifest_ref));
    SY_TRY(req_string(o, "manifest_content_type", url, &c->manifest_content_type));
    SY_TRY(req_string(o, "run_id", url, &c->run_id));
    SY_TRY(req_string(o, "updated_at", url, &c->updated_at));
    if (sy_time_parse_iso(c->updated_at, &c->published_at_us))
        SY_TRY(sy_err(SHARDY_EFORMAT, FAIL_PREFIX "field 'updated_at': '%.64s' is not an ISO-8601 datetime (in %.400s)",
                      c->updated_at, url));
    *out = c;
    c = NULL;
done:
    sy_current_free(&c);
    json_object_put(o);
    return st;
}
