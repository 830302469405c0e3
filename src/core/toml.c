/*
 * toml.c — the flat-TOML reader; see toml.h for the supported subset.
 *
 * A single pass over the text, line by line; a parser state (pos, line) and one cleanup path per
 * function. Values are appended to the document as they are read, so a failure part way leaves a
 * document that sy_toml_free releases (sy_toml_parse frees it before returning the error).
 */
#include "core/toml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

typedef struct parser {
    const char *p, *end;
    const char *name;
    int line;
    sy_toml *doc;
    char *table; /* current table name (owned) */
} parser;

static shardy_status perr(const parser *ps, const char *what) {
    return sy_err(SHARDY_EFORMAT, "%s:%d: %s", ps->name, ps->line, what);
}

static shardy_status oom(void) { return sy_err(SHARDY_ENOMEM, "TOML: out of memory"); }

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t')) ps->p++;
}

/* After a value or header: only whitespace and a comment may follow on the line. */
static shardy_status expect_eol(parser *ps) {
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '#') {
        while (ps->p < ps->end && *ps->p != '\n') ps->p++;
    }
    if (ps->p < ps->end && *ps->p == '\r') ps->p++;
    if (ps->p < ps->end && *ps->p != '\n') return perr(ps, "unexpected text after the value");
    return SHARDY_OK;
}

static int is_bare(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static shardy_status put_utf8(sy_buf *b, unsigned long cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sy_buf_append(b, u, n);
}

/* A basic ("...") or literal ('...') single-line string starting at ps->p; *out is allocated. */
static shardy_status read_string(parser *ps, char **out) {
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    char q = *ps->p++;
    if (ps->end - ps->p >= 2 && ps->p[0] == q && ps->p[1] == q) {
        st = perr(ps, "multi-line strings are not supported");
        goto done;
    }
    if (sy_buf_reserve(&b, 16) != SHARDY_OK) {
        st = oom();
        goto done;
    }
    for (;;) {
        if (ps->p >= ps->end || *ps->p == '\n') {
            st = perr(ps, "unterminated string");
            goto done;
        }
        char c = *ps->p++;
        if (c == q) break;
        if ((unsigned char)c < 0x20 && c != '\t') {
            st = perr(ps, "control character in a string");
            goto done;
        }
        if (c != '\\' || q == '\'') {
            if (sy_buf_putc(&b, c) != SHARDY_OK) {
                st = oom();
                goto done;
            }
            continue;
        }
        if (ps->p >= ps->end) {
            st = perr(ps, "unterminated string");
            goto done;
        }
        char e = *ps->p++;
        const char *simple = NULL;
        switch (e) {
        case 'b': simple = "\b"; break;
        case 't': simple = "\t"; break;
        case 'n': simple = "\n"; break;
        case 'f': simple = "\f"; break;
        case 'r': simple = "\r"; break;
        case '"': simple = "\""; break;
        case '\\': simple = "\\"; break;
        case 'u':
        case 'U': {
            int nd = e == 'u' ? 4 : 8;
            unsigned long cp = 0;
            for (int i = 0; i < nd; i++) {
                char h = ps->p < ps->end ? *ps->p++ : '\0';
                int v = h >= '0' && h <= '9' ? h - '0'
                      : h >= 'a' && h <= 'f' ? h - 'a' + 10
                      : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (v < 0) {
                    st = perr(ps, "bad \\u escape in a string");
                    goto done;
                }
                cp = cp * 16 + (unsigned long)v;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
                st = perr(ps, "\\u escape is not a valid Unicode scalar value (or is NUL)");
                goto done;
            }
            if (put_utf8(&b, cp) != SHARDY_OK) {
                st = oom();
                goto done;
            }
            continue;
        }
        default: st = perr(ps, "unknown escape sequence in a string"); goto done;
        }
        if (sy_buf_puts(&b, simple) != SHARDY_OK) {
            st = oom();
            goto done;
        }
    }
    b.data[b.len] = '\0'; /* reserve does not terminate an empty buffer */
    *out = sy_buf_take(&b);
done:
    sy_buf_free(&b);
    return st;
}

/* A key (bare or quoted) for a key/value line or one part of a table name. */
static shardy_status read_key(parser *ps, char **out) {
    *out = NULL;
    if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) return read_string(ps, out);
    const char *s = ps->p;
    while (ps->p < ps->end && is_bare(*ps->p)) ps->p++;
    if (ps->p == s) return perr(ps, "expected a key");
    *out = sy_strndup(s, (size_t)(ps->p - s));
    return *out ? SHARDY_OK : oom();
}

static shardy_status add_table(parser *ps, char *name) {
    sy_toml *d = ps->doc;
    for (size_t i = 0; i < d->ntables; i++) {
        if (!strcmp(d->tables[i], name)) {
            sy_free(name);
            return perr(ps, "table defined twice");
        }
    }
    if (d->ntables == d->tcap) {
        size_t ncap = d->tcap ? d->tcap * 2 : 8;
        char **t = sy_realloc(d->tables, ncap * sizeof *t);
        if (!t) {
            sy_free(name);
            return oom();
        }
        d->tables = t;
        d->tcap = ncap;
    }
    d->tables[d->ntables++] = name;
    return SHARDY_OK;
}

/* "[name]" or "[a.b]"; ps->p is on '['. */
static shardy_status read_header(parser *ps) {
    shardy_status st = SHARDY_OK;
    sy_buf name = SY_BUF_INIT;
    char *part = NULL;
    ps->p++;
    if (ps->p < ps->end && *ps->p == '[') {
        st = perr(ps, "arrays of tables are not supported");
        goto done;
    }
    for (;;) {
        skip_ws(ps);
        SY_TRY(read_key(ps, &part));
        if ((name.len && sy_buf_putc(&name, '.') != SHARDY_OK) || sy_buf_puts(&name, part) != SHARDY_OK) {
            st = oom();
            goto done;
        }
        sy_free(part);
        part = NULL;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '.') {
            ps->p++;
            continue;
        }
        break;
    }
    if (ps->p >= ps->end || *ps->p != ']') {
        st = perr(ps, "expected ']' to close the table header");
        goto done;
    }
    ps->p++;
    SY_TRY(expect_eol(ps));
    if (!name.data && sy_buf_reserve(&name, 1) != SHARDY_OK) {
        st = oom();
        goto done;
    }
    sy_free(ps->table);
    ps->table = sy_strdup(name.data);
    if (!ps->table) {
        st = oom();
        goto done;
    }
    st = add_table(ps, sy_buf_take(&name));
done:
    sy_free(part);
    sy_buf_free(&name);
    return st;
}

/* Integer or float (or inf/nan/true/false handled by the caller) from the bare token [s, e). */
static shardy_status read_number(parser *ps, const char *s, const char *e, sy_toml_value *v) {
    char tmp[128];
    size_t n = 0;
    int is_float = 0, base = 10;
    const char *q = s;
    if ((size_t)(e - s) >= sizeof tmp) return perr(ps, "number too long");
    if (e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        q = s + 2;
    }
    for (; q < e; q++) {
        if (*q == '_') {
            if (q == s || q + 1 == e || !is_bare(q[-1]) || q[-1] == '_' || q[1] == '_')
                return perr(ps, "misplaced '_' in a number");
            continue;
        }
        if (base == 10 && (*q == '.' || *q == 'e' || *q == 'E')) is_float = 1;
        tmp[n++] = *q;
    }
    tmp[n] = '\0';
    if (n == 0) return perr(ps, "invalid value");
    char *endp = NULL;
    errno = 0;
    if (is_float) {
        v->type = SY_TOML_FLOAT;
        v->f = strtod(tmp, &endp);
    } else {
        if (base == 10 && n > 1 && (tmp[0] == '0' || ((tmp[0] == '+' || tmp[0] == '-') && tmp[1] == '0')))
            return perr(ps, "leading zeros are not allowed in integers");
        v->type = SY_TOML_INT;
        v->i = strtoll(tmp, &endp, base);
    }
    if (!endp || *endp != '\0' || tmp[0] == '.' || (base != 10 && (tmp[0] == '+' || tmp[0] == '-')))
        return perr(ps, "invalid value (strings need quotes; arrays, inline tables and dates are not supported)");
    if (errno == ERANGE) return perr(ps, "number out of range");
    return SHARDY_OK;
}

static shardy_status read_value(parser *ps, sy_toml_value *v) {
    if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '#')
        return perr(ps, "missing value after '='");
    char c = *ps->p;
    if (c == '"' || c == '\'') {
        v->type = SY_TOML_STRING;
        return read_string(ps, &v->str);
    }
    if (c == '[' || c == '{') return perr(ps, "arrays and inline tables are not supported");
    const char *s = ps->p;
    while (ps->p < ps->end && (is_bare(*ps->p) || *ps->p == '.' || *ps->p == '+' || *ps->p == ':'))
        ps->p++;
    size_t n = (size_t)(ps->p - s);
    if (n == 4 && !memcmp(s, "true", 4)) {
        v->type = SY_TOML_BOOL;
        v->b = 1;
        return SHARDY_OK;
    }
    if (n == 5 && !memcmp(s, "false", 5)) {
        v->type = SY_TOML_BOOL;
        v->b = 0;
        return SHARDY_OK;
    }
    const char *t = s + (n && (*s == '+' || *s == '-'));
    size_t tn = n - (size_t)(t - s);
    if (tn == 3 && (!memcmp(t, "inf", 3) || !memcmp(t, "nan", 3))) {
        v->type = SY_TOML_FLOAT;
        v->f = t[0] == 'i' ? (*s == '-' ? -HUGE_VAL : HUGE_VAL) : NAN;
        return SHARDY_OK;
    }
    if (memchr(s, ':', n) || (n >= 10 && s[4] == '-' && s[7] == '-'))
        return perr(ps, "dates and times are not supported");
    return read_number(ps, s, ps->p, v);
}

static shardy_status add_entry(parser *ps, char *key, sy_toml_value *v) {
    shardy_status st = SHARDY_OK;
    sy_toml *d = ps->doc;
    char *table = NULL;
    if (sy_toml_get(d, ps->table, key)) {
        st = perr(ps, "key defined twice in the same table");
        goto done;
    }
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        sy_toml_entry *items = sy_realloc(d->items, ncap * sizeof *items);
        if (!items) {
            st = oom();
            goto done;
        }
        d->items = items;
        d->cap = ncap;
    }
    if (!(table = sy_strdup(ps->table))) {
        st = oom();
        goto done;
    }
    d->items[d->n].table = table;
    d->items[d->n].key = key;
    d->items[d->n].v = *v;
    d->n++;
    key = NULL;
    v->str = NULL;
done:
    sy_free(key);
    sy_free(v->str);
    v->str = NULL;
    return st;
}

static shardy_status read_keyval(parser *ps) {
    shardy_status st = SHARDY_OK;
    char *key = NULL;
    sy_toml_value v;
    memset(&v, 0, sizeof v);
    v.line = ps->line;
    SY_TRY(read_key(ps, &key));
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '.') {
        st = perr(ps, "dotted keys are not supported (use a [table] header)");
        goto done;
    }
    if (ps->p >= ps->end || *ps->p != '=') {
        st = perr(ps, "expected '=' after the key");
        goto done;
    }
    ps->p++;
    skip_ws(ps);
    SY_TRY(read_value(ps, &v));
    SY_TRY(expect_eol(ps));
    st = add_entry(ps, key, &v);
    key = NULL;
done:
    sy_free(key);
    sy_free(v.str);
    return st;
}

shardy_status sy_toml_parse(const char *text, size_t len, const char *name, sy_toml *out) {
    shardy_status st = SHARDY_OK;
    parser ps = {text, text + len, name ? name : "TOML", 1, out, NULL};
    memset(out, 0, sizeof *out);
    if (memchr(text, '\0', len)) {
        st = sy_err(SHARDY_EFORMAT, "%s: NUL byte in a text file", ps.name);
        goto done;
    }
    if (!(ps.table = sy_strdup(""))) {
        st = oom();
        goto done;
    }
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) ps.p += 3; /* UTF-8 byte-order mark */
    while (ps.p < ps.end) {
        skip_ws(&ps);
        if (ps.p < ps.end && *ps.p == '[') SY_TRY(read_header(&ps));
        else if (ps.p < ps.end && *ps.p != '\n' && *ps.p != '\r' && *ps.p != '#') SY_TRY(read_keyval(&ps));
        else SY_TRY(expect_eol(&ps));
        if (ps.p < ps.end) { /* on the '\n' */
            ps.p++;
            ps.line++;
        }
    }
done:
    sy_free(ps.table);
    if (st) sy_toml_free(out);
    return st;
}

shardy_status sy_toml_load(const char *path, sy_toml *out) {
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    char chunk[8192];
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return sy_err_errno(errno, "open", path);
    for (;;) {
        size_t n = fread(chunk, 1, sizeof chunk, fp);
        if (n && sy_buf_append(&b, chunk, n) != SHARDY_OK) {
            st = oom();
            goto done;
        }
        if (n < sizeof chunk) {
            if (ferror(fp)) {
                st = sy_err_errno(errno ? errno : EIO, "read", path);
                goto done;
            }
            break;
        }
        if (b.len > (1u << 24)) {
            st = sy_err(SHARDY_EFORMAT, "%s: larger than 16 MiB, not a configuration file", path);
            goto done;
        }
    }
    st = sy_toml_parse(b.data ? b.data : "", b.len, path, out);
done:
    fclose(fp);
    sy_buf_free(&b);
    return st;
}

int sy_toml_has_table(const sy_toml *t, const char *table) {
    for (size_t i = 0; i < t->ntables; i++)
        if (!strcmp(t->tables[i], table)) return 1;
    return 0;
}

const sy_toml_value *sy_toml_get(const sy_toml *t, const char *table, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->items[i].table, table) && !strcmp(t->items[i].key, key)) return &t->items[i].v;
    return NULL;
}

void sy_toml_free(sy_toml *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        sy_free(t->items[i].table);
        sy_free(t->items[i].key);
        sy_free(t->items[i].v.str);
    }
    for (size_t i = 0; i < t->ntables; i++) sy_free(t->tables[i]);
    sy_free(t->items);
    sy_free(t->tables);
    memset(t, 0, sizeof *t);
}
