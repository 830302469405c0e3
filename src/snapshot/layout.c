/* layout.c — snapshot object URLs and layout settings; see layout.h. */
#include "snapshot/layout.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "core/url.h"

static int is_ctl(unsigned char c) { return c < 0x20 || c == 0x7F; }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static shardy_status oom(const char *what) { return sy_err(SHARDY_ENOMEM, "out of memory building %s", what); }

/* Refuses "." and ".." segments in path[0..n). */
static shardy_status check_path_segments(const char *what, const char *url, const char *path) {
    const char *p = path;
    while (*p) {
        while (*p == '/') p++;
        const char *seg = p;
        while (*p && *p != '/') p++;
        size_t n = (size_t)(p - seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return sy_err(SHARDY_EINVAL, "%s '%.300s' must not contain '.' or '..' path segments", what, url);
    }
    return SHARDY_OK;
}

static int has_non_slash(const char *p) {
    for (; *p; p++)
        if (*p != '/') return 1;
    return 0;
}

shardy_status sy_layout_check_prefix(const char *what, const char *url) {
    if (!what) what = "prefix";
    if (!url || !*url) return sy_err(SHARDY_EINVAL, "%s is empty; expected s3://bucket/prefix or file:///path", what);
    for (const char *p = url; *p; p++)
        if (is_ctl((unsigned char)*p))
            return sy_err(SHARDY_EINVAL, "%s '%.300s' contains control character 0x%02x", what, url,
                          (unsigned char)*p);
    const char *path;
    if (!strncmp(url, "s3://", 5)) {
        const char *bucket = url + 5;
        const char *slash = strchr(bucket, '/');
        if (bucket[0] == '\0' || bucket[0] == '/')
            return sy_err(SHARDY_EINVAL, "%s '%.300s' must be parseable as s3://bucket/prefix (no bucket)", what, url);
        if (!slash || !has_non_slash(slash))
            return sy_err(SHARDY_EINVAL, "%s '%.300s' must include a non-empty key prefix, e.g. s3://bucket/prefix",
                          what, url);
        path = slash;
    } else if (!strncmp(url, "file://", 7)) {
        path = url + 7;
        if (path[0] != '/')
            return sy_err(SHARDY_EINVAL, "%s '%.300s': file:// URLs need an absolute path (file:///dir)", what, url);
        if (!has_non_slash(path))
            return sy_err(SHARDY_EINVAL, "%s '%.300s' must name a directory below the file-system root", what, url);
    } else if (!strncmp(url, "mem://", 6)) {
        path = url + 6;
        if (path[0] == '\0' || path[0] == '/')
            return sy_err(SHARDY_EINVAL, "%s '%.300s' must be mem://name[/key]", what, url);
    } else {
        return sy_err(SHARDY_EINVAL, "%s '%.300s' must be an s3://bucket/prefix or file:///path URL", what, url);
    }
    return check_path_segments(what, url, path);
}

shardy_status sy_layout_check_segment(const char *what, const char *segment) {
    if (!what) what = "path segment";
    if (!segment || !*segment) return sy_err(SHARDY_EINVAL, "%s must be non-empty", what);
    if (strstr(segment, "..")) return sy_err(SHARDY_EINVAL, "%s '%.200s' must not contain '..'", what, segment);
    for (const char *p = segment; *p; p++) {
        char c = *p;
        if (c == '/' || c == '\\')
            return sy_err(SHARDY_EINVAL, "%s '%.200s' must be a single path segment", what, segment);
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '_' || c == '-';
        if (!ok)
            return sy_err(SHARDY_EINVAL,
                          "%s '%.200s' contains unsupported character 0x%02x at position %zu; allowed: [A-Za-z0-9._-]",
                          what, segment, (unsigned char)c, (size_t)(p - segment));
    }
    return SHARDY_OK;
}

/* The parsed shape of a db_path_template: text[0..ph) + number + text[ph+ph_len..]. */
typedef struct tmpl_shape {
    size_t ph, ph_len;
    int width; /* 0 for {db_id} */
} tmpl_shape;

/* Recognises a placeholder at s; returns its length (0 if none) and the width. */
static size_t match_placeholder(const char *s, int *width) {
    if (!strncmp(s, "{db_id}", 7)) {
        *width = 0;
        return 7;
    }
    if (strncmp(s, "{db_id:0", 8)) return 0;
    const char *p = s + 8;
    if (*p < '1' || *p > '9') return 0;
    int w = *p++ - '0';
    if (is_digit(*p)) w = w * 10 + (*p++ - '0');
    if (p[0] != 'd' || p[1] != '}' || w > SY_LAYOUT_TEMPLATE_MAX_WIDTH) return 0;
    *width = w;
    return (size_t)(p + 2 - s);
}

static shardy_status parse_template(const char *tmpl, tmpl_shape *shape) {
    static const char hint[] = "only {db_id} and {db_id:0Nd} (N = 1..20) are supported";
    if (!tmpl || !*tmpl) return sy_err(SHARDY_EINVAL, "db_path_template must be non-empty");
    size_t n = strlen(tmpl);
    if (n > SY_LAYOUT_TEMPLATE_MAX)
        return sy_err(SHARDY_EINVAL, "db_path_template is %zu bytes; at most %d are supported", n,
                      SY_LAYOUT_TEMPLATE_MAX);
    int found = 0;
    for (size_t i = 0; i < n;) {
        char c = tmpl[i];
        if (c == '{') {
            int w = 0;
            size_t len = match_placeholder(tmpl + i, &w);
            if (!len)
                return sy_err(SHARDY_EINVAL, "db_path_template '%s': unsupported '{' at position %zu; %s", tmpl, i,
                              hint);
            if (found)
                return sy_err(SHARDY_EINVAL, "db_path_template '%s': more than one {db_id} placeholder", tmpl);
            found = 1;
            shape->ph = i;
            shape->ph_len = len;
            shape->width = w;
            i += len;
            continue;
        }
        if (c == '}')
            return sy_err(SHARDY_EINVAL, "db_path_template '%s': unsupported '}' at position %zu; %s", tmpl, i, hint);
        if (c == '/' || c == '\\')
            return sy_err(SHARDY_EINVAL, "db_path_template '%s' must format to a single path segment (no '%c')", tmpl,
                          c);
        if (is_ctl((unsigned char)c))
            return sy_err(SHARDY_EINVAL, "db_path_template contains control character 0x%02x at position %zu",
                          (unsigned char)c, i);
        i++;
    }
    if (!found) return sy_err(SHARDY_EINVAL, "db_path_template '%s' must contain {db_id} or {db_id:0Nd}", tmpl);
    /* The placeholder always produces digits, so ".." can only come from one literal side. */
    const char *dots = strstr(tmpl, "..");
    if (dots && (dots < tmpl + shape->ph || dots >= tmpl + shape->ph + shape->ph_len))
        return sy_err(SHARDY_EINVAL, "db_path_template '%s' must not contain '..'", tmpl);
    return SHARDY_OK;
}

shardy_status sy_layout_check_db_template(const char *tmpl) {
    tmpl_shape shape;
    return parse_template(tmpl, &shape);
}

shardy_status sy_layout_db_path(const char *tmpl, int64_t db_id, char **out) {
    tmpl_shape shape;
    *out = NULL;
    shardy_status st = parse_template(tmpl, &shape);
    if (st) return st;
    if (db_id < 0) return sy_err(SHARDY_EINVAL, "db_id must be >= 0, got %lld", (long long)db_id);
    *out = sy_asprintf("%.*s%0*lld%s", (int)shape.ph, tmpl, shape.width, (long long)db_id,
                       tmpl + shape.ph + shape.ph_len);
    return *out ? SHARDY_OK : oom("a db path");
}

shardy_status sy_layout_attempt_segment(int64_t attempt, char out[SY_LAYOUT_ATTEMPT_MAX]) {
    if (attempt < 0) {
        out[0] = '\0';
        return sy_err(SHARDY_EINVAL, "attempt must be >= 0, got %lld", (long long)attempt);
    }
    snprintf(out, SY_LAYOUT_ATTEMPT_MAX, "attempt=%02lld", (long long)attempt);
    return SHARDY_OK;
}

static shardy_status join_into(char **out, const char *what, const char *prefix, const char *const *parts,
                               size_t n) {
    *out = sy_url_join(prefix, parts, n);
    return *out ? SHARDY_OK : oom(what);
}

shardy_status sy_layout_current_url(const char *prefix, char **out) {
    const char *parts[] = {SY_LAYOUT_CURRENT_KEY};
    return join_into(out, "the _CURRENT URL", prefix, parts, 1);
}

shardy_status sy_layout_manifests_prefix_url(const char *prefix, char **out) {
    const char *parts[] = {SY_LAYOUT_MANIFESTS_DIR};
    char *u = NULL;
    shardy_status st = join_into(&u, "the manifests prefix", prefix, parts, 1);
    if (st) {
        *out = NULL;
        return st;
    }
    *out = sy_asprintf("%s/", u);
    sy_free(u);
    return *out ? SHARDY_OK : oom("the manifests prefix");
}

shardy_status sy_layout_manifest_dir(const char *run_id, int64_t ts_us, char **out) {
    char ts[SY_TIME_STRLEN];
    *out = NULL;
    shardy_status st = sy_run_id_check(run_id);
    if (st) return st;
    sy_time_format_key(ts_us, ts);
    *out = sy_asprintf("%s_run_id=%s", ts, run_id);
    return *out ? SHARDY_OK : oom("a manifest directory name");
}

shardy_status sy_layout_manifest_url(const char *prefix, const char *run_id, int64_t ts_us, char **out) {
    char *dir = NULL;
    shardy_status st;
    *out = NULL;
    SY_TRY(sy_layout_manifest_dir(run_id, ts_us, &dir));
    const char *parts[] = {SY_LAYOUT_MANIFESTS_DIR, dir, SY_LAYOUT_MANIFEST_NAME};
    SY_TRY(join_into(out, "a manifest URL", prefix, parts, 3));
done:
    sy_free(dir);
    return st;
}

shardy_status sy_layout_manifest_url_from_dir(const char *prefix, const char *dir_name, char **out) {
    *out = NULL;
    if (!dir_name || !has_non_slash(dir_name))
        return sy_err(SHARDY_EINVAL, "manifest directory name is empty");
    const char *parts[] = {SY_LAYOUT_MANIFESTS_DIR, dir_name, SY_LAYOUT_MANIFEST_NAME};
    return join_into(out, "a manifest URL", prefix, parts, 3);
}

shardy_status sy_layout_shard_url(const char *prefix, const char *shard_prefix, const char *run_id,
                                  const char *db_path_template, int64_t db_id, int64_t attempt, char **out) {
    char *db_path = NULL, *run_seg = NULL;
    char att[SY_LAYOUT_ATTEMPT_MAX];
    shardy_status st;
    *out = NULL;
    SY_TRY(sy_layout_check_segment("shard_prefix", shard_prefix));
    SY_TRY(sy_run_id_check(run_id));
    SY_TRY(sy_layout_db_path(db_path_template, db_id, &db_path));
    SY_TRY(sy_layout_attempt_segment(attempt, att));
    run_seg = sy_asprintf("run_id=%s", run_id);
    if (!run_seg) SY_TRY(oom("a shard URL"));
    const char *parts[] = {shard_prefix, run_seg, db_path, att};
    SY_TRY(join_into(out, "a shard URL", prefix, parts, 4));
done:
    sy_free(db_path);
    sy_free(run_seg);
    return st;
}

static int is_uuid_hex(const char *s) {
    size_t i = 0;
    for (; s[i]; i++)
        if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) return 0;
    return i == 32;
}

shardy_status sy_layout_run_record_url(const char *prefix, const char *runs_prefix, const char *run_id,
                                       int64_t ts_us, const char *uuidhex, char **out) {
    char ts[SY_TIME_STRLEN], fresh[33];
    char *dir = NULL;
    shardy_status st;
    *out = NULL;
    SY_TRY(sy_layout_check_segment("run_registry_prefix", runs_prefix));
    SY_TRY(sy_run_id_check(run_id));
    if (!uuidhex) {
        SY_TRY(sy_uuid4_hex(fresh));
        uuidhex = fresh;
    } else if (!is_uuid_hex(uuidhex)) {
        SY_TRY(sy_err(SHARDY_EINVAL, "run record suffix '%.64s' must be 32 lowercase hex characters", uuidhex));
    }
    sy_time_format_key(ts_us, ts);
    dir = sy_asprintf("%s_run_id=%s_%s", ts, run_id, uuidhex);
    if (!dir) SY_TRY(oom("a run record URL"));
    const char *parts[] = {runs_prefix, dir, SY_LAYOUT_RUN_RECORD_NAME};
    SY_TRY(join_into(out, "a run record URL", prefix, parts, 3));
done:
    sy_free(dir);
    return st;
}

/* Reads n ASCII digits at s. */
static int read_num(const char *s, int n, int *v) {
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i])) return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ": shape and calendar validity. */
#define KEY_TS_LEN 27
static int key_timestamp_valid(const char *s) {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    for (int i = 0; i < KEY_TS_LEN; i++) {
        if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i]) return 0;
    }
    int Y, M, D, h, mi, sec;
    read_num(s, 4, &Y);
    read_num(s + 5, 2, &M);
    read_num(s + 8, 2, &D);
    read_num(s + 11, 2, &h);
    read_num(s + 14, 2, &mi);
    read_num(s + 17, 2, &sec);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 59) return 0;
    if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0)) return 0;
    return 1;
}

int sy_layout_parse_manifest_dir(const char *name, int64_t *ts_us, char **run_id) {
    static const char tag[] = "_run_id=";
    *run_id = NULL;
    if (!name || strnlen(name, KEY_TS_LEN) < KEY_TS_LEN || !key_timestamp_valid(name)) return 0;
    if (strncmp(name + KEY_TS_LEN, tag, sizeof tag - 1)) return 0;
    const char *r = name + KEY_TS_LEN + sizeof tag - 1;
    /* ([^/]+)/?$ with Python's '$' (end, or before a final newline). */
    const char *slash = strchr(r, '/');
    size_t id_len;
    if (!slash) {
        id_len = strlen(r);
    } else {
        if (strcmp(slash, "/") && strcmp(slash, "/\n")) return 0;
        id_len = (size_t)(slash - r);
    }
    if (id_len == 0) return 0;
    char ts[KEY_TS_LEN + 1];
    memcpy(ts, name, KEY_TS_LEN);
    ts[KEY_TS_LEN] = '\0';
    int64_t us;
    if (sy_time_parse_iso(ts, &us)) return 0; /* cannot happen after key_timestamp_valid */
    *run_id = sy_strndup(r, id_len);
    if (!*run_id) {
        sy_err(SHARDY_ENOMEM, "out of memory parsing a manifest directory name");
        return -1;
    }
    *ts_us = us;
    return 1;
}

shardy_status sy_layout_ref_run_id(const char *ref, char **run_id) {
    static const char tag[] = "run_id=";
    *run_id = NULL;
    if (!ref) return sy_err(SHARDY_EINVAL, "Cannot extract run_id from manifest ref: (null)");
    for (const char *p = strstr(ref, tag); p; p = strstr(p + 1, tag)) {
        const char *v = p + sizeof tag - 1;
        size_t n = strcspn(v, "/");
        if (n == 0) continue;
        *run_id = sy_strndup(v, n);
        return *run_id ? SHARDY_OK : oom("a run id");
    }
    return sy_err(SHARDY_EINVAL, "Cannot extract run_id from manifest ref: %.400s", ref);
}
