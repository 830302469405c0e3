/* manifest_image.c — the manifest as a SQLite database image: building it (sqlite3_serialize of
 * an in-memory database) and parsing it (sqlite3_deserialize of a private read-only copy, hardened
 * for hostile input). See manifest.h for the contract. */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "shard/shard.h"
#include "snapshot/manifest.h"

static const char sqlite_magic[16] = "SQLite format 3";

/* Each progress-handler call stands for 1000 VM instructions: 1e8 instructions in total, far more
 * than a manifest with SY_MANIFEST_MAX_NUM_DBS rows needs, and about a second of CPU at most. */
#define VM_STEP_GRANULE 1000
#define VM_BUDGET_CALLS 100000

static shardy_status oom(const char *what) { return sy_err(SHARDY_ENOMEM, "out of memory %s", what); }

/* =============================================================================================
 * Building
 * ============================================================================================= */

static shardy_status build_fail(sqlite3 *db, int rc, const char *step) {
    if (rc == SQLITE_NOMEM) return oom("building the manifest SQLite image");
    return sy_err(SHARDY_ESQLITE, "building the SQLite image failed (%s): %s", step,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static shardy_status exec_sql(sqlite3 *db, const char *sql, const char *step) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? SHARDY_OK : build_fail(db, rc, step);
}

/* Binds text or NULL. SQLITE_TRANSIENT: SQLite copies, so the caller's buffers may be temporary. */
static int bind_text(sqlite3_stmt *s, int i, const char *v, size_t n) {
    if (!v) return sqlite3_bind_null(s, i);
    return sqlite3_bind_text64(s, i, v, (sqlite3_uint64)n, SQLITE_TRANSIENT, SQLITE_UTF8);
}

static int bind_str(sqlite3_stmt *s, int i, const char *v) { return bind_text(s, i, v, v ? strlen(v) : 0); }

static shardy_status insert_build_meta(sqlite3 *db, const sy_manifest *m, const sy_buf *sharding,
                                       const sy_buf *custom) {
    static const char sql[] = "INSERT INTO build_meta (run_id, created_at, num_dbs, s3_prefix, key_col, sharding, "
                              "db_path_template, shard_prefix, format_version, key_encoding, custom) "
                              "VALUES (?,?,?,?,?,?,?,?,?,?,?)";
    char created[SY_TIME_STRLEN];
    sqlite3_stmt *s = NULL;
    shardy_status st = SHARDY_OK;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) SY_TRY(build_fail(db, rc, "prepare build_meta insert"));
    sy_time_format_iso(m->created_at_us, created);
    rc = bind_str(s, 1, m->run_id);
    if (!rc) rc = bind_str(s, 2, created);
    if (!rc) rc = sqlite3_bind_int64(s, 3, m->num_dbs);
    if (!rc) rc = bind_str(s, 4, m->s3_prefix);
    if (!rc) rc = bind_str(s, 5, m->key_col);
    if (!rc) rc = bind_text(s, 6, sharding->data, sharding->len);
    if (!rc) rc = bind_str(s, 7, m->db_path_template);
    if (!rc) rc = bind_str(s, 8, m->shard_prefix);
    if (!rc) rc = sqlite3_bind_int64(s, 9, SY_MANIFEST_FORMAT_VERSION);
    if (!rc) rc = bind_str(s, 10, shardy_key_encoding_name(m->key_encoding));
    if (!rc) rc = bind_text(s, 11, custom->data, custom->len);
    if (rc != SQLITE_OK) SY_TRY(build_fail(db, rc, "bind build_meta"));
    rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) SY_TRY(build_fail(db, rc, "insert build_meta"));
done:
    sqlite3_finalize(s);
    return st;
}

static int cmp_shard_ptr(const void *a, const void *b) {
    int64_t x = (*(const sy_shard *const *)a)->db_id, y = (*(const sy_shard *const *)b)->db_id;
    return (x > y) - (x < y);
}

/* Rows go in ascending db_id order whatever the order of m->shards, so the image bytes depend only
 * on the manifest's values. */
static shardy_status insert_shards(sqlite3 *db, const sy_manifest *m) {
    static const char sql[] = "INSERT INTO shards (db_id, db_url, attempt, row_count, db_bytes, min_key, max_key, "
                              "checkpoint_id, writer_info) VALUES (?,?,?,?,?,?,?,?,?)";
    sqlite3_stmt *s = NULL;
    sy_buf mk = SY_BUF_INIT, xk = SY_BUF_INIT, wi = SY_BUF_INIT;
    const sy_shard **order = NULL;
    shardy_status st = SHARDY_OK;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) SY_TRY(build_fail(db, rc, "prepare shards insert"));
    if (m->n_shards && !(order = sy_malloc(m->n_shards * sizeof *order))) SY_TRY(oom("sorting shard rows"));
    for (size_t i = 0; i < m->n_shards; i++) order[i] = &m->shards[i];
    if (m->n_shards) qsort(order, m->n_shards, sizeof *order, cmp_shard_ptr);
    for (size_t i = 0; i < m->n_shards; i++) {
        const sy_shard *sh = order[i];
        if (!sh->db_url) continue; /* empty shard: no row (spec §3.6, §3.7) */
        sy_buf_reset(&mk);
        sy_buf_reset(&xk);
        sy_buf_reset(&wi);
        if (sh->min_key.kind != SY_SCALAR_NULL) SY_TRY(sy_scalar_to_json(&sh->min_key, &mk));
        if (sh->max_key.kind != SY_SCALAR_NULL) SY_TRY(sy_scalar_to_json(&sh->max_key, &xk));
        SY_TRY(sy_writer_info_json(&sh->writer_info, &wi));
        rc = sqlite3_bind_int64(s, 1, sh->db_id);
        if (!rc) rc = bind_str(s, 2, sh->db_url);
        if (!rc) rc = sqlite3_bind_int64(s, 3, sh->attempt);
        if (!rc) rc = sqlite3_bind_int64(s, 4, sh->row_count);
        if (!rc) rc = sqlite3_bind_int64(s, 5, sh->db_bytes);
        if (!rc) rc = bind_text(s, 6, sh->min_key.kind != SY_SCALAR_NULL ? mk.data : NULL, mk.len);
        if (!rc) rc = bind_text(s, 7, sh->max_key.kind != SY_SCALAR_NULL ? xk.data : NULL, xk.len);
        if (!rc) rc = bind_str(s, 8, sh->checkpoint_id);
        if (!rc) rc = bind_text(s, 9, wi.data, wi.len);
        if (rc != SQLITE_OK) SY_TRY(build_fail(db, rc, "bind shards"));
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE) SY_TRY(build_fail(db, rc, "insert shards"));
        sqlite3_reset(s);
    }
done:
    sqlite3_finalize(s);
    sy_free(order);
    sy_buf_free(&mk);
    sy_buf_free(&xk);
    sy_buf_free(&wi);
    return st;
}

shardy_status sy_manifest_serialize(const sy_manifest *m, const char *url, sy_buf *out) {
    sy_buf sharding = SY_BUF_INIT, custom = SY_BUF_INIT;
    sqlite3 *db = NULL;
    unsigned char *img = NULL;
    sqlite3_int64 size = 0;
    int validated = 0;
    shardy_status st;
    SY_TRY(sy_manifest_validate(m, 1, url));
    validated = 1;
    if ((st = sy_sharding_json(&m->sharding, &sharding))) {
        sy_err_wrap(st, "table build_meta column sharding");
        goto done;
    }
    if ((st = sy_json_dump(m->custom, 0, &custom))) {
        st = sy_err_wrap(st == SHARDY_EFORMAT ? SHARDY_EINVAL : st, "table build_meta column custom");
        goto done;
    }
    sy_sqlite_global_init();
    int rc = sqlite3_open(":memory:", &db);
    if (rc != SQLITE_OK) SY_TRY(build_fail(db, rc, "open :memory:"));
    SY_TRY(exec_sql(db, "PRAGMA page_size = 4096; PRAGMA encoding = 'UTF-8'", "pragmas"));
    SY_TRY(exec_sql(db, sy_manifest_ddl_build_meta, "create build_meta"));
    SY_TRY(exec_sql(db, sy_manifest_ddl_shards, "create shards"));
    SY_TRY(exec_sql(db, "BEGIN", "begin"));
    SY_TRY(insert_build_meta(db, m, &sharding, &custom));
    SY_TRY(insert_shards(db, m));
    SY_TRY(exec_sql(db, "COMMIT", "commit"));
    img = sqlite3_serialize(db, "main", &size, 0);
    if (!img) SY_TRY(oom("serialising the manifest image"));
    if (size < 100 || img[18] != 1 || img[19] != 1)
        SY_TRY(sy_err(SHARDY_EINTERNAL, "serialised manifest is not a rollback-journal image (%lld bytes)",
                      (long long)size));
    SY_TRY(sy_buf_append(out, img, (size_t)size));
done:
    sqlite3_free(img);
    sqlite3_close(db);
    sy_buf_free(&sharding);
    sy_buf_free(&custom);
    if (st && validated) sy_err_wrap(st, "manifest %.400s", url ? url : "(unpublished)");
    return st;
}

/* =============================================================================================
 * Parsing
 * ============================================================================================= */

typedef struct parse_ctx {
    sqlite3 *db;
    const char *table;    /* "build_meta" or "shards" */
    size_t rowno;         /* 0-based row number in shards */
    int have_db_id;       /* db_id of the current shards row is known */
    int64_t db_id;
    int budget_calls;
} parse_ctx;

static int progress_cb(void *arg) {
    parse_ctx *c = arg;
    return ++c->budget_calls > VM_BUDGET_CALLS;
}

static void row_desc(const parse_ctx *c, char *out, size_t cap) {
    out[0] = '\0';
    if (strcmp(c->table, "shards")) return;
    if (c->have_db_id)
        snprintf(out, cap, " row db_id=%lld", (long long)c->db_id);
    else
        snprintf(out, cap, " row %zu", c->rowno);
}

/* "Manifest validation failed: table T[ row …] column C: <reason>" */
static shardy_status SY_PRINTF(4, 5) cfail(const parse_ctx *c, shardy_status st, const char *col, const char *fmt, ...) {
    char reason[640], rd[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    row_desc(c, rd, sizeof rd);
    return sy_err(st, "Manifest validation failed: table %s%s column %s: %s", c->table, rd, col, reason);
}

static shardy_status sql_fail(const parse_ctx *c, int rc, const char *doing) {
    if (rc == SQLITE_NOMEM) return oom("reading the manifest tables");
    if (rc == SQLITE_INTERRUPT)
        return sy_err(SHARDY_EFORMAT,
                      "Failed to read SQLite manifest tables: %s exceeded the work budget of %d million SQLite "
                      "instructions (corrupt or hostile image?)",
                      doing, VM_BUDGET_CALLS / 1000);
    return sy_err(SHARDY_EFORMAT, "Failed to read SQLite manifest tables: %s: %s", doing, sqlite3_errmsg(c->db));
}

/* Printable rendering of a byte string for messages: 'abc', escapes non-printables, truncates. */
static void quote_bytes(const unsigned char *p, size_t n, char *out, size_t cap) {
    size_t o = 0, i;
    out[o++] = '\'';
    for (i = 0; i < n && o + 8 < cap; i++) {
        unsigned char ch = p[i];
        if (ch < 0x20 || ch >= 0x7F || ch == '\'' || ch == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    out[o++] = '\'';
    out[o] = '\0';
    if (i < n && o + 4 < cap) snprintf(out + o, cap - o, "...");
}

/* Describes the SQLite value in column i for messages ("NULL", "TEXT '4'", "INTEGER 5"). */
static void describe_value(sqlite3_stmt *s, int i, char *out, size_t cap) {
    char q[200];
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_NULL: snprintf(out, cap, "NULL"); break;
    case SQLITE_INTEGER: snprintf(out, cap, "INTEGER %lld", (long long)sqlite3_column_int64(s, i)); break;
    case SQLITE_FLOAT: snprintf(out, cap, "REAL %.17g", sqlite3_column_double(s, i)); break;
    case SQLITE_TEXT: {
        const unsigned char *p = sqlite3_column_text(s, i);
        quote_bytes(p ? p : (const unsigned char *)"", p ? (size_t)sqlite3_column_bytes(s, i) : 0, q, sizeof q);
        snprintf(out, cap, "TEXT %s", q);
        break;
    }
    default: snprintf(out, cap, "a BLOB of %d bytes", sqlite3_column_bytes(s, i)); break;
    }
}

static shardy_status get_int(const parse_ctx *c, sqlite3_stmt *s, int i, const char *col, int64_t *out) {
    char d[240];
    if (sqlite3_column_type(s, i) == SQLITE_INTEGER) {
        *out = sqlite3_column_int64(s, i);
        return SHARDY_OK;
    }
    describe_value(s, i, d, sizeof d);
    return cfail(c, SHARDY_EFORMAT, col, "expected an INTEGER, got %s", d);
}

/* TEXT column → *out (owned copy, NUL-free valid UTF-8) and *len; SQL NULL → *out = NULL when
 * nullable. */
static shardy_status get_text(const parse_ctx *c, sqlite3_stmt *s, int i, const char *col, int nullable, char **out,
                              size_t *len) {
    char d[240];
    int t = sqlite3_column_type(s, i);
    *out = NULL;
    if (len) *len = 0;
    if (t == SQLITE_NULL && nullable) return SHARDY_OK;
    if (t != SQLITE_TEXT) {
        describe_value(s, i, d, sizeof d);
        return cfail(c, SHARDY_EFORMAT, col, "expected TEXT, got %s", d);
    }
    const unsigned char *p = sqlite3_column_text(s, i);
    if (!p) return sql_fail(c, sqlite3_errcode(c->db), "reading a TEXT value");
    size_t n = (size_t)sqlite3_column_bytes(s, i);
    if (memchr(p, '\0', n)) {
        describe_value(s, i, d, sizeof d);
        return cfail(c, SHARDY_EFORMAT, col, "contains a NUL byte: %s", d);
    }
    if (!sy_utf8_valid((const char *)p, n)) {
        describe_value(s, i, d, sizeof d);
        return cfail(c, SHARDY_EFORMAT, col, "is not valid UTF-8: %s", d);
    }
    *out = sy_strndup((const char *)p, n);
    if (!*out) return oom("copying a manifest value");
    if (len) *len = n;
    return SHARDY_OK;
}

/* TEXT column holding JSON → new json-c reference. */
static shardy_status get_json(const parse_ctx *c, sqlite3_stmt *s, int i, const char *col, json_object **out) {
    char *text = NULL, what[128], rd[48];
    size_t n = 0;
    *out = NULL;
    shardy_status st = get_text(c, s, i, col, 0, &text, &n);
    if (st) return st;
    row_desc(c, rd, sizeof rd);
    snprintf(what, sizeof what, "table %s%s column %s", c->table, rd, col);
    st = sy_json_parse(text, n, what, out);
    sy_free(text);
    if (st == SHARDY_EFORMAT) sy_err_wrap(st, "Failed to read SQLite manifest tables");
    return st;
}

/* Short text of a JSON value for messages (json-c escapes control characters). */
static const char *json_text(json_object *v) {
    return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null";
}

static const char *json_kind(json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "bool";
    case json_type_int: return "int";
    case json_type_double: return "float";
    case json_type_string: return "str";
    case json_type_array: return "array";
    case json_type_object: return "object";
    }
    return "unknown";
}

/* A JSON integer or string → scalar. `what` is used in messages. */
static shardy_status json_to_scalar(const parse_ctx *c, json_object *v, const char *col, const char *what,
                                    sy_scalar *out) {
    memset(out, 0, sizeof *out);
    if (!v) return SHARDY_OK; /* the text 'null': Python's json.loads gives None, which is accepted */
    if (json_object_is_type(v, json_type_int)) {
        if (sy_json_int_is_u64(v)) {
            out->kind = SY_SCALAR_UINT;
            out->u = json_object_get_uint64(v);
        } else {
            out->kind = SY_SCALAR_INT;
            out->i = json_object_get_int64(v);
        }
        return SHARDY_OK;
    }
    if (json_object_is_type(v, json_type_string)) {
        size_t n = (size_t)json_object_get_string_len(v);
        out->str = sy_strndup(json_object_get_string(v), n);
        if (!out->str) return oom("copying a manifest value");
        out->kind = SY_SCALAR_STR;
        out->len = n;
        return SHARDY_OK;
    }
    return cfail(c, SHARDY_EFORMAT, col, "%s must be a JSON integer or string, got %s %.80s", what, json_kind(v),
                 json_text(v));
}

/* ---- sharding JSON → struct (type-level rules; the model rules live in sy_manifest_validate) */

static shardy_status decode_sharding(const parse_ctx *c, json_object *o, sy_sharding *s) {
    static const char *const allowed[] = {"strategy", "hash_algorithm", "cel_expr", "cel_columns", "routing_values"};
    static const char col[] = "sharding";
    shardy_status st;
    json_object *v;
    if (!json_object_is_type(o, json_type_object))
        return cfail(c, SHARDY_EFORMAT, col, "must be a JSON object, got %s", json_kind(o));
    json_object_object_foreach(o, key, val) {
        (void)val;
        size_t i = 0;
        while (i < 5 && strcmp(key, allowed[i])) i++;
        if (i == 5) return cfail(c, SHARDY_EFORMAT, col, "unexpected key '%.64s' (extra keys are forbidden)", key);
    }
    s->strategy = SY_STRATEGY_HASH;
    if (json_object_object_get_ex(o, "strategy", &v)) {
        const char *t = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (t && !strcmp(t, "hash"))
            s->strategy = SY_STRATEGY_HASH;
        else if (t && !strcmp(t, "cel"))
            s->strategy = SY_STRATEGY_CEL;
        else
            return cfail(c, SHARDY_EFORMAT, col, "Unsupported sharding strategy: %.80s. Allowed: hash, cel",
                         json_text(v));
    }
    if (!json_object_object_get_ex(o, "hash_algorithm", &v) || json_object_is_type(v, json_type_null))
        return cfail(c, SHARDY_EFORMAT, col, "hash_algorithm is required");
    if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "xxh3_64") ||
        json_object_get_string_len(v) != 7)
        return cfail(c, SHARDY_EFORMAT, col, "Unsupported shard hash algorithm: %.80s. Allowed: xxh3_64",
                     json_text(v));
    if (json_object_object_get_ex(o, "cel_expr", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string))
            return cfail(c, SHARDY_EFORMAT, col, "cel_expr must be a string or null, got %s", json_kind(v));
        size_t n = (size_t)json_object_get_string_len(v);
        if (memchr(json_object_get_string(v), '\0', n))
            return cfail(c, SHARDY_EFORMAT, col, "cel_expr contains a NUL character");
        if (!(s->cel_expr = sy_strndup(json_object_get_string(v), n))) return oom("copying cel_expr");
    }
    if (json_object_object_get_ex(o, "cel_columns", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_object))
            return cfail(c, SHARDY_EFORMAT, col, "cel_columns must be an object or null, got %s", json_kind(v));
        s->has_cel_columns = 1;
        json_object_object_foreach(v, name, type) {
            if (!json_object_is_type(type, json_type_string))
                return cfail(c, SHARDY_EFORMAT, col, "cel_columns['%.64s'] must be a string, got %s", name,
                             json_kind(type));
            const char *t = json_object_get_string(type);
            if (strlen(t) != (size_t)json_object_get_string_len(type))
                return cfail(c, SHARDY_EFORMAT, col, "cel_columns['%.64s'] contains a NUL character", name);
            if ((st = sy_sharding_add_cel_column(s, name, t))) return st;
        }
    }
    if (json_object_object_get_ex(o, "routing_values", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_array))
            return cfail(c, SHARDY_EFORMAT, col, "routing_values must be an array or null, got %s", json_kind(v));
        s->has_routing_values = 1;
        size_t n = json_object_array_length(v);
        if (n > SY_MANIFEST_MAX_NUM_DBS)
            return cfail(c, SHARDY_EFORMAT, col, "routing_values has %zu entries; at most %d are supported", n,
                         SY_MANIFEST_MAX_NUM_DBS);
        if (n) {
            s->routing_values = sy_calloc(n, sizeof *s->routing_values);
            if (!s->routing_values) return oom("copying routing values");
        }
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            if (!e || json_object_is_type(e, json_type_null))
                return cfail(c, SHARDY_EFORMAT, col, "Routing values must not contain null values");
            if (json_object_is_type(e, json_type_boolean))
                return cfail(c, SHARDY_EFORMAT, col, "Routing values must not be boolean values");
            if (!json_object_is_type(e, json_type_int) && !json_object_is_type(e, json_type_string))
                return cfail(c, SHARDY_EFORMAT, col,
                             "Routing values must be int, str, or bytes values; got Routing values[%zu]=%.80s (%s)",
                             i, json_text(e), json_kind(e));
            char what[48];
            snprintf(what, sizeof what, "routing_values[%zu]", i);
            if ((st = json_to_scalar(c, e, col, what, &s->routing_values[i]))) return st;
            s->n_routing_values++;
        }
    }
    return SHARDY_OK;
}

/* ---- writer_info JSON → struct ----------------------------------------------------------- */

static shardy_status wi_int(const parse_ctx *c, json_object *o, const char *key, int nullable, int *has,
                            int64_t *out) {
    json_object *v;
    if (has) *has = 0;
    if (!json_object_object_get_ex(o, key, &v)) return SHARDY_OK; /* default */
    if (nullable && json_object_is_type(v, json_type_null)) return SHARDY_OK;
    if (!json_object_is_type(v, json_type_int) || sy_json_int_is_u64(v))
        return cfail(c, SHARDY_EFORMAT, "writer_info", "%s must be an integer%s in the int64 range, got %.80s", key,
                     nullable ? " or null" : "", json_text(v));
    *out = json_object_get_int64(v);
    if (has) *has = 1;
    return SHARDY_OK;
}

static shardy_status decode_writer_info(const parse_ctx *c, json_object *o, sy_writer_info *w) {
    shardy_status st;
    memset(w, 0, sizeof *w);
    if (!json_object_is_type(o, json_type_object))
        return cfail(c, SHARDY_EFORMAT, "writer_info", "must be a JSON object, got %s %.80s", json_kind(o),
                     json_text(o));
    if ((st = wi_int(c, o, "attempt", 0, NULL, &w->attempt))) return st;
    if ((st = wi_int(c, o, "duration_ms", 0, NULL, &w->duration_ms))) return st;
    if ((st = wi_int(c, o, "stage_id", 1, &w->has_stage_id, &w->stage_id))) return st;
    return wi_int(c, o, "task_attempt_id", 1, &w->has_task_attempt_id, &w->task_attempt_id);
}

/* ---- tables -------------------------------------------------------------------------------- */

/* Finds each wanted column by name (case-insensitive, like Python's sqlite3.Row). */
static shardy_status map_columns(const parse_ctx *c, sqlite3_stmt *s, const char *const *names, int *idx, size_t n) {
    int ncol = sqlite3_column_count(s);
    for (size_t k = 0; k < n; k++) {
        idx[k] = -1;
        for (int i = 0; i < ncol && idx[k] < 0; i++) {
            const char *cn = sqlite3_column_name(s, i);
            if (!cn) return oom("reading manifest column names");
            if (!sqlite3_stricmp(cn, names[k])) idx[k] = i;
        }
        if (idx[k] < 0) return sy_err(SHARDY_EFORMAT, "table %s has no column %s", c->table, names[k]);
    }
    return SHARDY_OK;
}

/* The table must exist and be an ordinary b-tree table (not a view or a virtual table). */
static shardy_status check_table(parse_ctx *c, const char *name) {
    sqlite3_stmt *s = NULL;
    shardy_status st = SHARDY_OK;
    int rc = sqlite3_prepare_v2(c->db, "SELECT type, rootpage FROM sqlite_master WHERE name = ?1 COLLATE NOCASE", -1,
                                &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (rc != SQLITE_OK) SY_TRY(sql_fail(c, rc, "reading the schema"));
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) SY_TRY(sy_err(SHARDY_EFORMAT, "Failed to read SQLite manifest tables: no such table: %s", name));
    if (rc != SQLITE_ROW) SY_TRY(sql_fail(c, rc, "reading the schema"));
    const unsigned char *type = sqlite3_column_text(s, 0);
    if (!type || strcmp((const char *)type, "table") || sqlite3_column_int64(s, 1) <= 0)
        SY_TRY(sy_err(SHARDY_EFORMAT,
                      "Failed to read SQLite manifest tables: %s is not an ordinary table (type %.20s)", name,
                      type ? (const char *)type : "?"));
done:
    sqlite3_finalize(s);
    return st;
}

enum { BM_RUN_ID, BM_CREATED_AT, BM_NUM_DBS, BM_S3_PREFIX, BM_KEY_COL, BM_SHARDING, BM_DB_PATH_TEMPLATE,
       BM_SHARD_PREFIX, BM_FORMAT_VERSION, BM_KEY_ENCODING, BM_CUSTOM, BM_N };
static const char *const bm_cols[BM_N] = {"run_id", "created_at", "num_dbs", "s3_prefix", "key_col", "sharding",
                                          "db_path_template", "shard_prefix", "format_version", "key_encoding",
                                          "custom"};

static shardy_status read_build_meta(parse_ctx *c, sy_manifest *m) {
    sqlite3_stmt *s = NULL;
    json_object *j = NULL;
    char *text = NULL;
    size_t n = 0;
    int idx[BM_N];
    shardy_status st = SHARDY_OK;
    c->table = "build_meta";
    int rc = sqlite3_prepare_v2(c->db, "SELECT * FROM build_meta LIMIT 1", -1, &s, NULL);
    if (rc != SQLITE_OK) SY_TRY(sql_fail(c, rc, "SELECT * FROM build_meta"));
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) SY_TRY(sy_err(SHARDY_EFORMAT, "SQLite manifest has no build_meta row"));
    if (rc != SQLITE_ROW) SY_TRY(sql_fail(c, rc, "SELECT * FROM build_meta"));
    /* Version first: a future format deserves "unsupported version", not a column complaint. */
    if (map_columns(c, s, &bm_cols[BM_FORMAT_VERSION], &idx[BM_FORMAT_VERSION], 1) == SHARDY_OK &&
        sqlite3_column_type(s, idx[BM_FORMAT_VERSION]) == SQLITE_INTEGER &&
        sqlite3_column_int64(s, idx[BM_FORMAT_VERSION]) != SY_MANIFEST_FORMAT_VERSION)
        SY_TRY(sy_err(SHARDY_EVERSION, "Unsupported manifest format_version: %lld. Supported: [%d]",
                      (long long)sqlite3_column_int64(s, idx[BM_FORMAT_VERSION]), SY_MANIFEST_FORMAT_VERSION));
    SY_TRY(map_columns(c, s, bm_cols, idx, BM_N));
    SY_TRY(get_text(c, s, idx[BM_RUN_ID], "run_id", 0, &m->run_id, NULL));
    SY_TRY(get_text(c, s, idx[BM_CREATED_AT], "created_at", 0, &m->created_at, NULL));
    if (sy_time_parse_iso(m->created_at, &m->created_at_us))
        SY_TRY(cfail(c, SHARDY_EFORMAT, "created_at", "%s", shardy_errmsg()));
    SY_TRY(get_int(c, s, idx[BM_NUM_DBS], "num_dbs", &m->num_dbs));
    if (m->num_dbs <= 0)
        SY_TRY(cfail(c, SHARDY_EFORMAT, "num_dbs", "must be > 0, got %lld", (long long)m->num_dbs));
    if (m->num_dbs > SY_MANIFEST_MAX_NUM_DBS)
        SY_TRY(cfail(c, SHARDY_EFORMAT, "num_dbs", "%lld exceeds the supported maximum %d", (long long)m->num_dbs,
                     SY_MANIFEST_MAX_NUM_DBS));
    SY_TRY(get_text(c, s, idx[BM_S3_PREFIX], "s3_prefix", 0, &m->s3_prefix, NULL));
    SY_TRY(get_text(c, s, idx[BM_KEY_COL], "key_col", 0, &m->key_col, NULL));
    SY_TRY(get_json(c, s, idx[BM_SHARDING], "sharding", &j));
    SY_TRY(decode_sharding(c, j, &m->sharding));
    json_object_put(j);
    j = NULL;
    SY_TRY(get_text(c, s, idx[BM_DB_PATH_TEMPLATE], "db_path_template", 0, &m->db_path_template, NULL));
    SY_TRY(get_text(c, s, idx[BM_SHARD_PREFIX], "shard_prefix", 0, &m->shard_prefix, NULL));
    SY_TRY(get_int(c, s, idx[BM_FORMAT_VERSION], "format_version", &m->format_version));
    SY_TRY(get_text(c, s, idx[BM_KEY_ENCODING], "key_encoding", 0, &text, NULL));
    if (shardy_key_encoding_parse(text, &m->key_encoding))
        SY_TRY(cfail(c, SHARDY_EFORMAT, "key_encoding", "Unsupported key encoding: '%.64s'. Allowed: u64be, u32be, "
                     "utf8, raw", text));
    sy_free(text);
    text = NULL;
    /* custom: SQL NULL or '' → {} (Python: json.loads(v) if v else {}) */
    SY_TRY(get_text(c, s, idx[BM_CUSTOM], "custom", 1, &text, &n));
    if (text && n) {
        sy_free(text);
        text = NULL;
        SY_TRY(get_json(c, s, idx[BM_CUSTOM], "custom", &j));
        if (!json_object_is_type(j, json_type_object))
            SY_TRY(cfail(c, SHARDY_EFORMAT, "custom", "must be a JSON object, got %s %.80s", json_kind(j),
                         json_text(j)));
        json_object_put(m->custom);
        m->custom = j;
        j = NULL;
    }
done:
    sy_free(text);
    json_object_put(j);
    sqlite3_finalize(s);
    return st;
}

enum { SH_DB_ID, SH_DB_URL, SH_ATTEMPT, SH_ROW_COUNT, SH_DB_BYTES, SH_MIN_KEY, SH_MAX_KEY, SH_CHECKPOINT_ID,
       SH_WRITER_INFO, SH_N };
static const char *const sh_cols[SH_N] = {"db_id", "db_url", "attempt", "row_count", "db_bytes",
                                          "min_key", "max_key", "checkpoint_id", "writer_info"};

static shardy_status read_key(const parse_ctx *c, sqlite3_stmt *s, int i, const char *col, char **json_text_out,
                              sy_scalar *key) {
    json_object *j = NULL;
    shardy_status st = get_text(c, s, i, col, 1, json_text_out, NULL);
    if (st || !*json_text_out) return st;
    if ((st = get_json(c, s, i, col, &j))) return st;
    st = json_to_scalar(c, j, col, col, key);
    json_object_put(j);
    return st;
}

static shardy_status read_shard_row(parse_ctx *c, sqlite3_stmt *s, const int *idx, sy_shard *sh) {
    json_object *j = NULL;
    shardy_status st;
    c->have_db_id = 0;
    SY_TRY(get_int(c, s, idx[SH_DB_ID], "db_id", &sh->db_id));
    c->have_db_id = 1;
    c->db_id = sh->db_id;
    SY_TRY(get_text(c, s, idx[SH_DB_URL], "db_url", 1, &sh->db_url, NULL));
    SY_TRY(get_int(c, s, idx[SH_ATTEMPT], "attempt", &sh->attempt));
    SY_TRY(get_int(c, s, idx[SH_ROW_COUNT], "row_count", &sh->row_count));
    SY_TRY(get_int(c, s, idx[SH_DB_BYTES], "db_bytes", &sh->db_bytes));
    SY_TRY(read_key(c, s, idx[SH_MIN_KEY], "min_key", &sh->min_key_json, &sh->min_key));
    SY_TRY(read_key(c, s, idx[SH_MAX_KEY], "max_key", &sh->max_key_json, &sh->max_key));
    SY_TRY(get_text(c, s, idx[SH_CHECKPOINT_ID], "checkpoint_id", 1, &sh->checkpoint_id, NULL));
    SY_TRY(get_json(c, s, idx[SH_WRITER_INFO], "writer_info", &j));
    SY_TRY(decode_writer_info(c, j, &sh->writer_info));
done:
    json_object_put(j);
    return st;
}

static shardy_status read_shards(parse_ctx *c, sy_manifest *m) {
    sqlite3_stmt *s = NULL;
    int idx[SH_N];
    shardy_status st = SHARDY_OK;
    c->table = "shards";
    int rc = sqlite3_prepare_v2(c->db, "SELECT * FROM shards ORDER BY db_id", -1, &s, NULL);
    if (rc != SQLITE_OK) SY_TRY(sql_fail(c, rc, "SELECT * FROM shards ORDER BY db_id"));
    SY_TRY(map_columns(c, s, sh_cols, idx, SH_N));
    for (c->rowno = 0; (rc = sqlite3_step(s)) == SQLITE_ROW; c->rowno++) {
        if ((int64_t)m->n_shards >= m->num_dbs) {
            /* Stop reading: the count alone makes the manifest invalid. */
            sqlite3_stmt *cnt = NULL;
            long long total = -1;
            if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM shards", -1, &cnt, NULL) == SQLITE_OK &&
                sqlite3_step(cnt) == SQLITE_ROW)
                total = sqlite3_column_int64(cnt, 0);
            sqlite3_finalize(cnt);
            if (total > m->num_dbs)
                SY_TRY(sy_err(SHARDY_EFORMAT, "Manifest shard count exceeds num_dbs: %lld > %lld", total,
                              (long long)m->num_dbs));
            SY_TRY(sy_err(SHARDY_EFORMAT, "Manifest shard count exceeds num_dbs: more than %lld rows > %lld",
                          (long long)m->num_dbs, (long long)m->num_dbs));
        }
        sy_shard *sh;
        SY_TRY(sy_manifest_add_shard(m, &sh));
        SY_TRY(read_shard_row(c, s, idx, sh));
    }
    if (rc != SQLITE_DONE) SY_TRY(sql_fail(c, rc, "SELECT * FROM shards ORDER BY db_id"));
done:
    sqlite3_finalize(s);
    return st;
}

/* Opens a private read-only copy of the image under SQLite's defensive settings. */
static shardy_status open_image(parse_ctx *c, unsigned char *copy, size_t len) {
    sy_sqlite_global_init();
    int rc = sqlite3_open_v2(":memory:", &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_NOMEM || !c->db) return oom("opening an in-memory SQLite database");
        return sy_err(SHARDY_ESQLITE, "cannot open an in-memory SQLite database: %s", sqlite3_errmsg(c->db));
    }
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)NULL);
    sqlite3_limit(c->db, SQLITE_LIMIT_LENGTH, SY_MANIFEST_MAX_VALUE);
    sqlite3_limit(c->db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_progress_handler(c->db, VM_STEP_GRANULE, progress_cb, c);
    rc = sqlite3_exec(c->db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sql_fail(c, rc, "PRAGMA cell_size_check");
    rc = sqlite3_deserialize(c->db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
                             SQLITE_DESERIALIZE_READONLY);
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_NOMEM) return oom("deserialising the manifest image");
        return sy_err(SHARDY_EFORMAT, "Manifest payload is not a valid SQLite database: %s", sqlite3_errmsg(c->db));
    }
    return SHARDY_OK;
}

shardy_status sy_manifest_parse(const void *bytes, size_t len, const char *url, sy_manifest **out) {
    parse_ctx c = {0};
    unsigned char *copy = NULL;
    sy_manifest *m = NULL;
    int wrapped = 0;
    shardy_status st;
    const unsigned char *b = bytes;
    if (!url) url = "(unnamed)";
    *out = NULL;
    if (!bytes || len < 16 || memcmp(b, sqlite_magic, 16))
        SY_TRY(sy_err(SHARDY_EFORMAT, "Unsupported manifest format: expected SQLite (magic header not found)"));
    if (len >= 20 && (b[18] == 2 || b[19] == 2))
        SY_TRY(sy_err(SHARDY_EFORMAT,
                      "Manifest payload is not a valid SQLite database: it is a WAL-mode image (header bytes 18/19 "
                      "= %d/%d); manifests must be rollback-journal databases (bytes 18/19 = 1)",
                      b[18], b[19]));
    if (len > (size_t)INT64_MAX / 2)
        SY_TRY(sy_err(SHARDY_EFORMAT, "Manifest payload of %zu bytes is too large", len));
    copy = sy_malloc(len);
    if (!copy) SY_TRY(oom("copying the manifest image"));
    memcpy(copy, bytes, len);
    SY_TRY(open_image(&c, copy, len));
    SY_TRY(check_table(&c, "build_meta"));
    SY_TRY(check_table(&c, "shards"));
    if (!(m = sy_manifest_new())) SY_TRY(SHARDY_ENOMEM);
    SY_TRY(read_build_meta(&c, m));
    SY_TRY(read_shards(&c, m));
    wrapped = 1; /* sy_manifest_validate names the URL itself */
    SY_TRY(sy_manifest_validate(m, 0, url));
    *out = m;
    m = NULL;
done:
    sy_manifest_free(&m);
    if (c.db) sqlite3_close(c.db);
    sy_free(copy);
    if (st && !wrapped) sy_err_wrap(st, "manifest %.400s", url);
    return st;
}
