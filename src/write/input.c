/* input.c — JSON Lines and CSV record sources for the native build; see input.h. */
#include "write/input.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

struct sy_input {
    sy_input_opts o;
    FILE *f;
    int own_file;
    char *name;
    uint64_t line;        /* lines consumed so far */
    uint64_t rec_line;    /* first line of the current record */
    char *lbuf;           /* getline buffer */
    size_t lcap;
    json_object *row;     /* JSONL: current parsed row */
    sy_buf value;         /* current value bytes */
    sy_buf keybuf;        /* decoded bytes key */
    /* CSV */
    char **header;
    size_t ncols;
    sy_buf rec;           /* current record's fields, each NUL-terminated */
    size_t *fld_off, *fld_len;
    size_t nflds, fcap;
    long key_idx, value_idx;
    long *json_idx;       /* value_json_cols → column index or -1 */
};

sy_input_format sy_input_format_for(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return 0;
    if (!strcmp(dot, ".jsonl") || !strcmp(dot, ".ndjson") || !strcmp(dot, ".json")) return SY_INPUT_JSONL;
    if (!strcmp(dot, ".csv")) return SY_INPUT_CSV;
    return 0;
}

uint64_t sy_input_line(const sy_input *in) { return in->rec_line; }

static long col_index(const sy_input *in, const char *name);

int sy_input_field(sy_input *in, const char *name, json_object **jv, const char **text, size_t *len) {
    *jv = NULL;
    *text = NULL;
    *len = 0;
    if (in->o.format == SY_INPUT_CSV) {
        long i = col_index(in, name);
        if (i < 0 || (size_t)i >= in->nflds) return 0;
        *text = in->rec.data + in->fld_off[i];
        *len = in->fld_len[i];
        return 1;
    }
    return in->row && json_object_object_get_ex(in->row, name, jv);
}

static int bad(sy_input *in, shardy_status *st, const char *fmt, ...) SY_PRINTF(3, 4);
static int bad(sy_input *in, shardy_status *st, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *st = sy_err(SHARDY_EFORMAT, "%s:%llu: %s", in->name, (unsigned long long)in->rec_line, msg);
    return -1;
}

/* Reads one physical line (without the newline); 0 at EOF, 1 ok, -1 error. */
static int read_line(sy_input *in, size_t *len, shardy_status *st) {
    errno = 0;
    ssize_t n = getline(&in->lbuf, &in->lcap, in->f);
    if (n < 0) {
        if (ferror(in->f)) {
            *st = sy_err_errno(errno ? errno : EIO, "cannot read input", in->name);
            return -1;
        }
        return 0;
    }
    in->line++;
    if (n > 0 && in->lbuf[n - 1] == '\n') n--;
    if (n > 0 && in->lbuf[n - 1] == '\r') n--;
    in->lbuf[n] = '\0';
    *len = (size_t)n;
    return 1;
}

static int hexv(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Builds the typed key from text (CSV field or JSON string) or a JSON integer. */
static int make_key(sy_input *in, const char *text, size_t n, json_object *jv, shardy_key *key, shardy_status *st) {
    const char *col = in->o.key_col;
    switch (in->o.key_type) {
    case SY_KEYTYPE_INT: {
        if (jv) {
            if (json_object_get_type(jv) != json_type_int)
                return bad(in, st, "key column '%s' must be an integer (got %s)", col,
                           json_type_to_name(json_object_get_type(jv)));
            *key = sy_json_int_is_u64(jv) ? shardy_key_uint(json_object_get_uint64(jv))
                                          : shardy_key_int(json_object_get_int64(jv));
            return 1;
        }
        char *end = NULL;
        if (n == 0) return bad(in, st, "key column '%s' is empty", col);
        errno = 0;
        if (text[0] == '-') {
            long long v = strtoll(text, &end, 10);
            if (errno == ERANGE) return bad(in, st, "key '%s' is out of the 64-bit integer range", text);
            *key = shardy_key_int(v);
        } else {
            unsigned long long v = strtoull(text, &end, 10);
            if (errno == ERANGE) return bad(in, st, "key '%s' is out of the 64-bit integer range", text);
            *key = v > (unsigned long long)INT64_MAX ? shardy_key_uint(v) : shardy_key_int((int64_t)v);
        }
        if (!end || *end || end == text) return bad(in, st, "key '%.100s' in column '%s' is not an integer (use --key-type str for text keys)", text, col);
        return 1;
    }
    case SY_KEYTYPE_STR:
        *key = shardy_key_str(text, n);
        return 1;
    case SY_KEYTYPE_BYTES: {
        const char *p = text;
        size_t m = n;
        if (m >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2, m -= 2;
        if (m % 2) return bad(in, st, "bytes key '%.100s' in column '%s' is not hex (odd length)", text, col);
        sy_buf_reset(&in->keybuf);
        if (sy_buf_reserve(&in->keybuf, m / 2)) {
            *st = SHARDY_ENOMEM;
            return -1;
        }
        for (size_t i = 0; i < m; i += 2) {
            int hi = hexv(p[i]), lo = hexv(p[i + 1]);
            if (hi < 0 || lo < 0) return bad(in, st, "bytes key '%.100s' in column '%s' is not hex", text, col);
            in->keybuf.data[in->keybuf.len++] = (char)(hi << 4 | lo);
        }
        *key = shardy_key_bytes(in->keybuf.data ? in->keybuf.data : "", in->keybuf.len);
        return 1;
    }
    }
    *st = sy_err(SHARDY_EINVAL, "unknown key type");
    return -1;
}

/* ---- JSONL -------------------------------------------------------------------------------------- */

static int next_jsonl(sy_input *in, shardy_key *key, const void **val, size_t *vlen, shardy_status *st) {
    size_t n = 0;
    int r;
    for (;;) {
        if ((r = read_line(in, &n, st)) <= 0) return r;
        in->rec_line = in->line;
        size_t i = 0;
        while (i < n && (in->lbuf[i] == ' ' || in->lbuf[i] == '\t')) i++;
        if (i < n) break; /* blank lines are skipped */
    }
    json_object_put(in->row);
    in->row = NULL;
    if (sy_json_parse(in->lbuf, n, "row", &in->row) != SHARDY_OK) {
        char msg[SY_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", shardy_errmsg() + (strncmp(shardy_errmsg(), "row: ", 5) ? 0 : 5));
        return bad(in, st, "%s", msg);
    }
    if (json_object_get_type(in->row) != json_type_object) return bad(in, st, "row is not a JSON object");
    json_object *kv;
    if (!json_object_object_get_ex(in->row, in->o.key_col, &kv) || !kv)
        return bad(in, st, "key column '%s' is %s", in->o.key_col,
                   json_object_object_get_ex(in->row, in->o.key_col, &kv) ? "null" : "missing");
    if (in->o.key_type == SY_KEYTYPE_INT) {
        if (make_key(in, NULL, 0, kv, key, st) < 0) return -1;
    } else {
        if (json_object_get_type(kv) != json_type_string)
            return bad(in, st, "key column '%s' must be a string (got %s)", in->o.key_col,
                       json_type_to_name(json_object_get_type(kv)));
        if (make_key(in, json_object_get_string(kv), (size_t)json_object_get_string_len(kv), NULL, key, st) < 0)
            return -1;
    }
    sy_buf_reset(&in->value);
    if (in->o.value_col) {
        json_object *v;
        if (!json_object_object_get_ex(in->row, in->o.value_col, &v))
            return bad(in, st, "value column '%s' is missing", in->o.value_col);
        if (v) {
            if (json_object_get_type(v) != json_type_string)
                return bad(in, st,
                           "value column '%s' must be a string or null (got %s); use --value-json-cols for other types",
                           in->o.value_col, json_type_to_name(json_object_get_type(v)));
            if (sy_buf_append(&in->value, json_object_get_string(v), (size_t)json_object_get_string_len(v))) goto oom;
        }
    } else {
        json_object *obj = in->row;
        json_object *sel = NULL;
        if (in->o.n_value_json_cols) {
            sel = json_object_new_object();
            if (!sel) goto oom;
            for (size_t c = 0; c < in->o.n_value_json_cols; c++) {
                json_object *v = NULL;
                json_object_object_get_ex(in->row, in->o.value_json_cols[c], &v);
                json_object_object_add(sel, in->o.value_json_cols[c], json_object_get(v));
            }
            obj = sel;
        }
        shardy_status js = sy_json_dump(obj, SY_JSON_COMPACT, &in->value);
        json_object_put(sel);
        if (js) return bad(in, st, "cannot encode the value as JSON: %s", shardy_errmsg());
    }
    *val = in->value.data ? in->value.data : "";
    *vlen = in->value.len;
    return 1;
oom:
    *st = sy_err(SHARDY_ENOMEM, "out of memory reading %s", in->name);
    return -1;
}

/* ---- CSV ---------------------------------------------------------------------------------------- */

/* Ends the current field (which started at rec offset start). */
static shardy_status push_field(sy_input *in, size_t start) {
    if (in->nflds == in->fcap) {
        size_t cap = in->fcap ? in->fcap * 2 : 16;
        size_t *o = sy_realloc(in->fld_off, cap * sizeof *o);
        if (!o) return SHARDY_ENOMEM;
        in->fld_off = o;
        size_t *l = sy_realloc(in->fld_len, cap * sizeof *l);
        if (!l) return SHARDY_ENOMEM;
        in->fld_len = l;
        in->fcap = cap;
    }
    in->fld_off[in->nflds] = start;
    in->fld_len[in->nflds] = in->rec.len - start;
    in->nflds++;
    return sy_buf_putc(&in->rec, '\0');
}

/* Reads one CSV record into in->rec / fld_*; 0 at EOF, 1 ok, -1 error. */
static int read_record(sy_input *in, shardy_status *st) {
    size_t n = 0, start = 0, i = 0;
    int r, in_quotes = 0, was_quoted = 0;
    sy_buf_reset(&in->rec);
    in->nflds = 0;
    do {
        if ((r = read_line(in, &n, st)) <= 0) return r;
        in->rec_line = in->line;
    } while (n == 0); /* blank lines are skipped */
    for (;;) {
        const char *p = in->lbuf;
        if (i >= n) {
            if (!in_quotes) break;
            /* A newline inside a quoted field: the record continues on the next line. */
            if (sy_buf_putc(&in->rec, '\n')) goto oom;
            if ((r = read_line(in, &n, st)) < 0) return -1;
            if (r == 0) return bad(in, st, "unterminated quoted field at end of input");
            i = 0;
            continue;
        }
        char c = p[i++];
        if (in_quotes) {
            if (c != '"') {
                if (sy_buf_putc(&in->rec, c)) goto oom;
            } else if (i < n && p[i] == '"') {
                if (sy_buf_putc(&in->rec, '"')) goto oom;
                i++;
            } else {
                in_quotes = 0;
                if (i < n && p[i] != ',') return bad(in, st, "unexpected character after a closing quote");
            }
        } else if (c == ',') {
            if (push_field(in, start)) goto oom;
            start = in->rec.len;
            was_quoted = 0;
        } else if (c == '"') {
            if (in->rec.len != start || was_quoted)
                return bad(in, st, "unexpected quote inside an unquoted field");
            in_quotes = was_quoted = 1;
        } else if (sy_buf_putc(&in->rec, c)) {
            goto oom;
        }
    }
    if (push_field(in, start)) goto oom;
    return 1;
oom:
    *st = sy_err(SHARDY_ENOMEM, "out of memory reading %s", in->name);
    return -1;
}

static long col_index(const sy_input *in, const char *name) {
    for (size_t i = 0; i < in->ncols; i++)
        if (!strcmp(in->header[i], name)) return (long)i;
    return -1;
}

static shardy_status csv_header(sy_input *in) {
    shardy_status st = SHARDY_OK;
    int r = read_record(in, &st);
    if (r < 0) return st;
    if (r == 0) return SHARDY_OK; /* empty file: no rows */
    in->header = sy_calloc(in->nflds, sizeof *in->header);
    if (!in->header) return sy_err(SHARDY_ENOMEM, "out of memory reading the CSV header");
    in->ncols = in->nflds;
    for (size_t i = 0; i < in->nflds; i++)
        if (!(in->header[i] = sy_strdup(in->rec.data + in->fld_off[i])))
            return sy_err(SHARDY_ENOMEM, "out of memory reading the CSV header");
    if ((in->key_idx = col_index(in, in->o.key_col)) < 0)
        return sy_err(SHARDY_EINVAL, "%s:%llu: key column '%s' is not in the CSV header", in->name,
                      (unsigned long long)in->rec_line, in->o.key_col);
    in->value_idx = -1;
    if (in->o.value_col && (in->value_idx = col_index(in, in->o.value_col)) < 0)
        return sy_err(SHARDY_EINVAL, "%s:%llu: value column '%s' is not in the CSV header", in->name,
                      (unsigned long long)in->rec_line, in->o.value_col);
    if (in->o.n_value_json_cols) {
        in->json_idx = sy_calloc(in->o.n_value_json_cols, sizeof *in->json_idx);
        if (!in->json_idx) return sy_err(SHARDY_ENOMEM, "out of memory");
        for (size_t c = 0; c < in->o.n_value_json_cols; c++) in->json_idx[c] = col_index(in, in->o.value_json_cols[c]);
    }
    return SHARDY_OK;
}

static int next_csv(sy_input *in, shardy_key *key, const void **val, size_t *vlen, shardy_status *st) {
    if (!in->header) return 0;
    int r = read_record(in, st);
    if (r <= 0) return r;
    if (in->nflds != in->ncols) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%zu", in->nflds);
        snprintf(b, sizeof b, "%zu", in->ncols);
        return bad(in, st, "row has %s fields, the header has %s", a, b);
    }
    const char *kt = in->rec.data + in->fld_off[in->key_idx];
    if (make_key(in, kt, in->fld_len[in->key_idx], NULL, key, st) < 0) return -1;
    sy_buf_reset(&in->value);
    shardy_status js = SHARDY_OK;
    if (in->value_idx >= 0) {
        js = sy_buf_append(&in->value, in->rec.data + in->fld_off[in->value_idx], in->fld_len[in->value_idx]);
    } else {
        json_object *obj = json_object_new_object();
        if (!obj) goto oom;
        size_t n = in->o.n_value_json_cols ? in->o.n_value_json_cols : in->ncols;
        for (size_t c = 0; c < n; c++) {
            long idx = in->o.n_value_json_cols ? in->json_idx[c] : (long)c;
            const char *name = in->o.n_value_json_cols ? in->o.value_json_cols[c] : in->header[c];
            json_object *v = idx < 0 ? NULL
                                     : json_object_new_string_len(in->rec.data + in->fld_off[idx], (int)in->fld_len[idx]);
            json_object_object_add(obj, name, v);
        }
        js = sy_json_dump(obj, SY_JSON_COMPACT, &in->value);
        json_object_put(obj);
        if (js == SHARDY_EFORMAT) return bad(in, st, "cannot encode the value as JSON: %s", shardy_errmsg());
    }
    if (js) goto oom;
    *val = in->value.data ? in->value.data : "";
    *vlen = in->value.len;
    return 1;
oom:
    *st = sy_err(SHARDY_ENOMEM, "out of memory reading %s", in->name);
    return -1;
}

/* ---- common ------------------------------------------------------------------------------------- */

shardy_status sy_input_open(const char *path, const sy_input_opts *o, sy_input **out) {
    shardy_status st = SHARDY_OK;
    *out = NULL;
    if (!o->key_col || !*o->key_col) return sy_err(SHARDY_EINVAL, "a key column is required");
    if (o->value_col && o->n_value_json_cols)
        return sy_err(SHARDY_EINVAL, "give either a value column or JSON value columns, not both");
    sy_input *in = sy_calloc(1, sizeof *in);
    if (!in) return sy_err(SHARDY_ENOMEM, "out of memory opening input");
    in->o = *o;
    if (!strcmp(path, "-")) {
        in->f = stdin;
        in->name = sy_strdup("<stdin>");
    } else {
        in->f = fopen(path, "rb");
        in->own_file = 1;
        in->name = sy_strdup(path);
        if (!in->f) {
            st = sy_err_errno(errno, "cannot open input", path);
            goto done;
        }
    }
    if (!in->name) {
        st = sy_err(SHARDY_ENOMEM, "out of memory opening input");
        goto done;
    }
    if (in->o.format == SY_INPUT_CSV) SY_TRY(csv_header(in));
done:
    if (st) {
        sy_input_close(&in);
        return st;
    }
    *out = in;
    return SHARDY_OK;
}

int sy_input_next(sy_input *in, shardy_key *key, const void **val, size_t *vlen, shardy_status *st) {
    *st = SHARDY_OK;
    return in->o.format == SY_INPUT_CSV ? next_csv(in, key, val, vlen, st) : next_jsonl(in, key, val, vlen, st);
}

void sy_input_close(sy_input **pin) {
    sy_input *in = pin ? *pin : NULL;
    if (!in) return;
    if (in->f && in->own_file) fclose(in->f);
    free(in->lbuf); /* allocated by getline */
    json_object_put(in->row);
    sy_buf_free(&in->value);
    sy_buf_free(&in->keybuf);
    sy_buf_free(&in->rec);
    for (size_t i = 0; i < in->ncols; i++) sy_free(in->header[i]);
    sy_free(in->header);
    sy_free(in->fld_off);
    sy_free(in->fld_len);
    sy_free(in->json_idx);
    sy_free(in->name);
    sy_free(in);
    *pin = NULL;
}
