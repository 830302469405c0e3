/* runrecord.c — run.yaml records: lifecycle, YAML-safe JSON flow serialisation, parsing; see
 * runrecord.h. */
#include "snapshot/runrecord.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/timeutil.h"

static shardy_status oom(void) { return sy_err(SHARDY_ENOMEM, "out of memory building a run record"); }

const char *sy_run_status_name(sy_run_status s) {
    switch (s) {
    case SY_RUN_RUNNING: return "running";
    case SY_RUN_SUCCEEDED: return "succeeded";
    case SY_RUN_FAILED: return "failed";
    }
    return NULL;
}

void sy_run_record_clear(sy_run_record *r) {
    if (!r) return;
    sy_free(r->run_id);
    sy_free(r->writer_type);
    sy_free(r->s3_prefix);
    sy_free(r->shard_prefix);
    sy_free(r->db_path_template);
    sy_free(r->manifest_ref);
    sy_free(r->error_type);
    sy_free(r->error_message);
    memset(r, 0, sizeof *r);
}

void sy_run_record_free(sy_run_record **r) {
    if (!r || !*r) return;
    sy_run_record_clear(*r);
    sy_free(*r);
    *r = NULL;
}

/* Replaces *field with a copy of v (NULL allowed). */
static shardy_status set_str(char **field, const char *v) {
    char *c = NULL;
    if (v && !(c = sy_strdup(v))) return oom();
    sy_free(*field);
    *field = c;
    return SHARDY_OK;
}

shardy_status sy_run_record_init(sy_run_record *r, const char *run_id, const char *s3_prefix, const char *shard_prefix,
                                 const char *db_path_template, int64_t now_us) {
    shardy_status st;
    memset(r, 0, sizeof *r);
    if (!run_id || !s3_prefix || !shard_prefix || !db_path_template)
        return sy_err(SHARDY_EINVAL, "run record: run_id, s3_prefix, shard_prefix and db_path_template are required");
    SY_TRY(set_str(&r->run_id, run_id));
    SY_TRY(set_str(&r->writer_type, SY_RUN_WRITER_TYPE));
    SY_TRY(set_str(&r->s3_prefix, s3_prefix));
    SY_TRY(set_str(&r->shard_prefix, shard_prefix));
    SY_TRY(set_str(&r->db_path_template, db_path_template));
    r->format_version = SY_RUN_RECORD_FORMAT_VERSION;
    r->status = SY_RUN_RUNNING;
    r->started_at_us = r->updated_at_us = now_us;
    r->lease_expires_at_us = now_us + SY_RUN_LEASE_US;
done:
    if (st) sy_run_record_clear(r);
    return st;
}

shardy_status sy_run_record_heartbeat(sy_run_record *r, int64_t now_us) {
    if (r->status != SY_RUN_RUNNING)
        return sy_err(SHARDY_EINVAL, "run record %s is %s; heartbeats stop after the terminal write",
                      r->run_id ? r->run_id : "?", sy_run_status_name(r->status) ? sy_run_status_name(r->status) : "?");
    r->updated_at_us = now_us;
    r->lease_expires_at_us = now_us + SY_RUN_LEASE_US;
    return SHARDY_OK;
}

shardy_status sy_run_record_set_manifest_ref(sy_run_record *r, const char *ref) { return set_str(&r->manifest_ref, ref); }

shardy_status sy_run_record_finish(sy_run_record *r, sy_run_status status, int64_t now_us, const char *error_type,
                                   const char *error_message) {
    shardy_status st;
    if (status != SY_RUN_SUCCEEDED && status != SY_RUN_FAILED)
        return sy_err(SHARDY_EINVAL, "run record: terminal status must be succeeded or failed");
    if (r->status != SY_RUN_RUNNING)
        return sy_err(SHARDY_EINVAL, "run record %s already finished as %s", r->run_id ? r->run_id : "?",
                      sy_run_status_name(r->status) ? sy_run_status_name(r->status) : "?");
    if (status == SY_RUN_SUCCEEDED && (error_type || error_message))
        return sy_err(SHARDY_EINVAL, "run record: a succeeded run has no error_type/error_message");
    SY_TRY(set_str(&r->error_type, error_type));
    SY_TRY(set_str(&r->error_message, error_message));
    r->status = status;
    r->updated_at_us = r->lease_expires_at_us = now_us;
done:
    return st;
}

/* ---- serialisation ------------------------------------------------------------------------- */

static shardy_status add(json_object *o, const char *key, json_object *v, int want) {
    if (want && !v) return oom();
    if (json_object_object_add(o, key, v)) {
        json_object_put(v);
        return oom();
    }
    return SHARDY_OK;
}

static shardy_status add_str(json_object *o, const char *key, const char *v, int nullable) {
    if (!v) {
        if (nullable) return add(o, key, NULL, 0);
        return sy_err(SHARDY_EINVAL, "run record: field %s must not be NULL", key);
    }
    if (!sy_utf8_valid(v, strlen(v))) return sy_err(SHARDY_EINVAL, "run record: field %s is not valid UTF-8", key);
    return add(o, key, json_object_new_string(v), 1);
}

static shardy_status add_time(json_object *o, const char *key, int64_t us) {
    char ts[SY_TIME_STRLEN];
    sy_time_format_iso(us, ts);
    return add(o, key, json_object_new_string(ts), 1);
}

shardy_status sy_run_record_serialize(const sy_run_record *r, sy_buf *out) {
    shardy_status st;
    sy_buf b = SY_BUF_INIT;
    json_object *o = json_object_new_object();
    if (!o) return oom();
    const char *status = sy_run_status_name(r->status);
    if (!status) SY_TRY(sy_err(SHARDY_EINVAL, "run record: invalid status %d", (int)r->status));
    SY_TRY(add_str(o, "db_path_template", r->db_path_template, 0));
    SY_TRY(add_str(o, "error_message", r->error_message, 1));
    SY_TRY(add_str(o, "error_type", r->error_type, 1));
    SY_TRY(add(o, "format_version", json_object_new_int64(r->format_version), 1));
    SY_TRY(add_time(o, "lease_expires_at", r->lease_expires_at_us));
    SY_TRY(add_str(o, "manifest_ref", r->manifest_ref, 1));
    SY_TRY(add_str(o, "run_id", r->run_id, 0));
    SY_TRY(add_str(o, "s3_prefix", r->s3_prefix, 0));
    SY_TRY(add_str(o, "shard_prefix", r->shard_prefix, 0));
    SY_TRY(add_time(o, "started_at", r->started_at_us));
    SY_TRY(add_str(o, "status", status, 0));
    SY_TRY(add_time(o, "updated_at", r->updated_at_us));
    SY_TRY(add_str(o, "writer_type", r->writer_type, 0));
    SY_TRY(sy_json_dump(o, SY_JSON_YAML_SAFE, &b));
    SY_TRY(sy_buf_putc(&b, '\n'));
    SY_TRY(sy_buf_append(out, b.data, b.len));
done:
    json_object_put(o);
    sy_buf_free(&b);
    return st;
}

/* ---- parsing ------------------------------------------------------------------------------- */

static shardy_status bad(const char *url, const char *field, const char *why) {
    return sy_err(SHARDY_EFORMAT, "run record %.400s: field '%s' %s", url, field, why);
}

static shardy_status get_str(json_object *o, const char *url, const char *field, int nullable, char **out) {
    json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, field, &v)) return nullable ? SHARDY_OK : bad(url, field, "is required");
    if (json_object_is_type(v, json_type_null)) return nullable ? SHARDY_OK : bad(url, field, "must not be null");
    if (!json_object_is_type(v, json_type_string)) return bad(url, field, "must be a string");
    size_t n = (size_t)json_object_get_string_len(v);
    if (memchr(json_object_get_string(v), '\0', n)) return bad(url, field, "contains a NUL character");
    *out = sy_strndup(json_object_get_string(v), n);
    return *out ? SHARDY_OK : oom();
}

static shardy_status get_time(json_object *o, const char *url, const char *field, int64_t *us) {
    char *s = NULL;
    shardy_status st = get_str(o, url, field, 0, &s);
    if (st) return st;
    if (sy_time_parse_iso(s, us)) st = bad(url, field, "is not an ISO-8601 datetime");
    sy_free(s);
    return st;
}

shardy_status sy_run_record_parse(const char *text, size_t len, const char *url, sy_run_record **out) {
    json_object *o = NULL, *v = NULL;
    sy_run_record *r = NULL;
    char *status = NULL;
    char what[440];
    shardy_status st;
    if (!url) url = "(unnamed)";
    *out = NULL;
    snprintf(what, sizeof what, "run record %.400s", url);
    SY_TRY(sy_json_parse(text ? text : "", text ? len : 0, what, &o));
    if (!json_object_is_type(o, json_type_object))
        SY_TRY(sy_err(SHARDY_EFORMAT, "run record %.400s: payload must decode to a mapping", url));
    if (!(r = sy_calloc(1, sizeof *r))) SY_TRY(oom());
    r->format_version = SY_RUN_RECORD_FORMAT_VERSION;
    if (json_object_object_get_ex(o, "format_version", &v)) {
        if (!json_object_is_type(v, json_type_int)) SY_TRY(bad(url, "format_version", "must be an integer"));
        r->format_version = sy_json_int_is_u64(v) ? INT64_MAX : json_object_get_int64(v);
    }
    SY_TRY(get_str(o, url, "run_id", 0, &r->run_id));
    SY_TRY(get_str(o, url, "writer_type", 0, &r->writer_type));
    SY_TRY(get_str(o, url, "status", 0, &status));
    if (!strcmp(status, "running"))
        r->status = SY_RUN_RUNNING;
    else if (!strcmp(status, "succeeded"))
        r->status = SY_RUN_SUCCEEDED;
    else if (!strcmp(status, "failed"))
        r->status = SY_RUN_FAILED;
    else
        SY_TRY(bad(url, "status", "must be one of running, succeeded, failed"));
    SY_TRY(get_time(o, url, "started_at", &r->started_at_us));
    SY_TRY(get_time(o, url, "updated_at", &r->updated_at_us));
    SY_TRY(get_time(o, url, "lease_expires_at", &r->lease_expires_at_us));
    SY_TRY(get_str(o, url, "s3_prefix", 0, &r->s3_prefix));
    SY_TRY(get_str(o, url, "shard_prefix", 0, &r->shard_prefix));
    SY_TRY(get_str(o, url, "db_path_template", 0, &r->db_path_template));
    SY_TRY(get_str(o, url, "manifest_ref", 1, &r->manifest_ref));
    SY_TRY(get_str(o, url, "error_type", 1, &r->error_type));
    SY_TRY(get_str(o, url, "error_message", 1, &r->error_message));
    *out = r;
    r = NULL;
done:
    sy_free(status);
    sy_run_record_free(&r);
    json_object_put(o);
    return st;
}
