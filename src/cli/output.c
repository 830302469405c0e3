/* output.c — rendering of CLI result objects in jsonl, json, text and table (reader-cli §7.6).
 *
 *   jsonl  one line, separators ", " and ": ", non-ASCII raw.
 *   json   the same pretty-printed with 2-space indentation.
 *   text   per-op templates (get, multiget, refresh, info, shards, history, route, hash); any
 *          result carrying "error" renders "error: <msg>" (the port's recommended behaviour, not
 *          Python's per-op QUIRK); ops without a template render as compact JSON (jsonl).
 *   table  tables for multiget, shards and history; errors and `hash` as in text; everything
 *          else pretty JSON.
 * Widths in tables count code points (Python's len), not bytes. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/json.h"

static json_object *field(json_object *o, const char *k) {
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str_field(json_object *o, const char *k) {
    json_object *v = field(o, k);
    return v ? json_object_get_string(v) : "";
}

/* Python str() of a JSON scalar: strings raw, null → "None", true/false → True/False. */
static const char *py_str(json_object *v) {
    if (!v) return "None";
    if (json_object_is_type(v, json_type_boolean)) return json_object_get_boolean(v) ? "True" : "False";
    return json_object_get_string(v);
}

static size_t u8len(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Appends s padded with spaces to width w (code points); right-aligned when right != 0. */
static shardy_status pad(sy_buf *out, const char *s, size_t w, int right) {
    size_t n = u8len(s);
    shardy_status st = SHARDY_OK;
    if (right)
        for (size_t i = n; i < w && !st; i++) st = sy_buf_putc(out, ' ');
    if (!st) st = sy_buf_puts(out, s);
    if (!right)
        for (size_t i = n; i < w && !st; i++) st = sy_buf_putc(out, ' ');
    return st;
}

static shardy_status dashes(sy_buf *out, size_t n) {
    shardy_status st = sy_buf_putc(out, '\n');
    for (size_t i = 0; i < n && !st; i++) st = sy_buf_putc(out, '-');
    return st;
}

static size_t list_len(json_object *a) { return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0; }

/* ---- text templates ----------------------------------------------------------------------------- */

static shardy_status text_kv_lines(json_object *r, const char *list, sy_buf *out) {
    json_object *a = field(r, list);
    shardy_status st = SHARDY_OK;
    for (size_t i = 0; i < list_len(a) && !st; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        json_object *found = field(e, "found");
        int hit = found && json_object_get_boolean(found);
        st = sy_buf_printf(out, "%s%s=%s", i ? "\n" : "", str_field(e, "key"), hit ? str_field(e, "value") : "null");
    }
    return st;
}

static shardy_status text_info(json_object *r, sy_buf *out) {
    shardy_status st = SHARDY_OK;
    int first = 1;
    json_object_object_foreach(r, k, v) {
        if (!strcmp(k, "op")) continue;
        st = sy_buf_printf(out, "%s%s=%s", first ? "" : "\n", k, py_str(v));
        first = 0;
        if (st) break;
    }
    return st;
}

static shardy_status text_shards(json_object *r, sy_buf *out) {
    json_object *a = field(r, "shards");
    shardy_status st = SHARDY_OK;
    for (size_t i = 0; i < list_len(a) && !st; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        json_object *mn = field(e, "min_key"), *mx = field(e, "max_key");
        st = sy_buf_printf(out, "%sdb_id=%s  rows=%s", i ? "\n" : "", str_field(e, "db_id"), str_field(e, "row_count"));
        if (!st && mn) st = sy_buf_printf(out, "  min=%s", py_str(mn));
        if (!st && mx) st = sy_buf_printf(out, "  max=%s", py_str(mx));
    }
    return st;
}

static shardy_status text_history(json_object *r, sy_buf *out) {
    json_object *a = field(r, "manifests");
    shardy_status st = SHARDY_OK;
    if (!list_len(a)) return sy_buf_puts(out, "(no manifests)");
    for (size_t i = 0; i < list_len(a) && !st; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        st = sy_buf_printf(out, "%s[%s] %s  run_id=%s", i ? "\n" : "", str_field(e, "offset"),
                           str_field(e, "published_at"), str_field(e, "run_id"));
    }
    return st;
}

/* Text template for ops that have one; returns 1 if rendered, 0 if the op has none, -1 on OOM. */
static int render_text(json_object *r, sy_buf *out) {
    shardy_status st = SHARDY_OK;
    const char *op = str_field(r, "op");
    if (field(r, "error")) {
        st = sy_buf_printf(out, "error: %s", str_field(r, "error"));
    } else if (!strcmp(op, "hash")) {
        st = sy_buf_printf(out, "%s -> shard %s  digest=%s (%s)", str_field(r, "key"), str_field(r, "db_id"),
                           str_field(r, "digest"), str_field(r, "digest_decimal"));
    } else if (!strcmp(op, "get")) {
        json_object *found = field(r, "found");
        int hit = found && json_object_get_boolean(found);
        st = sy_buf_printf(out, "%s=%s", str_field(r, "key"), hit ? str_field(r, "value") : "null");
    } else if (!strcmp(op, "multiget")) {
        st = text_kv_lines(r, "results", out);
    } else if (!strcmp(op, "refresh")) {
        json_object *c = field(r, "changed");
        st = sy_buf_printf(out, "changed=%s", c && json_object_get_boolean(c) ? "True" : "False");
    } else if (!strcmp(op, "info")) {
        st = text_info(r, out);
    } else if (!strcmp(op, "shards")) {
        st = text_shards(r, out);
    } else if (!strcmp(op, "history")) {
        st = text_history(r, out);
    } else if (!strcmp(op, "route")) {
        st = sy_buf_printf(out, "%s -> shard %s", str_field(r, "key"), str_field(r, "db_id"));
    } else {
        return 0;
    }
    return st ? -1 : 1;
}

/* ---- tables ----------------------------------------------------------------------------------------- */

static shardy_status table_multiget(json_object *r, sy_buf *out) {
    json_object *a = field(r, "results");
    size_t kw = 3, vw = 5;
    shardy_status st = SHARDY_OK;
    for (size_t i = 0; i < list_len(a); i++) {
        json_object *e = json_object_array_get_idx(a, i);
        json_object *found = field(e, "found");
        size_t kl = u8len(str_field(e, "key"));
        size_t vl = found && json_object_get_boolean(found) ? u8len(str_field(e, "value")) : 4;
        if (kl > kw) kw = kl;
        if (vl > vw) vw = vl;
    }
    st = pad(out, "KEY", kw, 0);
    if (!st) st = sy_buf_puts(out, "  ");
    if (!st) st = pad(out, "VALUE", vw, 0);
    if (!st) st = dashes(out, kw + 2 + vw);
    for (size_t i = 0; i < list_len(a) && !st; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        json_object *found = field(e, "found");
        st = sy_buf_putc(out, '\n');
        if (!st) st = pad(out, str_field(e, "key"), kw, 0);
        if (!st) st = sy_buf_puts(out, "  ");
        if (!st) st = pad(out, found && json_object_get_boolean(found) ? str_field(e, "value") : "null", vw, 0);
    }
    return st;
}

static shardy_status table_shards(json_object *r, sy_buf *out) {
    json_object *a = field(r, "shards");
    shardy_status st = sy_buf_printf(out, "%5s  %8s  %10s  %10s  %s", "DB_ID", "ROWS", "MIN_KEY", "MAX_KEY", "URL");
    if (!st) st = dashes(out, 5 + 2 + 8 + 2 + 10 + 2 + 10 + 2 + 3);
    for (size_t i = 0; i < list_len(a) && !st; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        json_object *mn = field(e, "min_key"), *mx = field(e, "max_key");
        /* Decision: a min/max of 0 or "" prints as itself (Python's falsy-blank is a QUIRK); null is blank. */
        st = sy_buf_putc(out, '\n');
        if (!st) st = pad(out, str_field(e, "db_id"), 5, 1);
        if (!st) st = sy_buf_puts(out, "  ");
        if (!st) st = pad(out, str_field(e, "row_count"), 8, 1);
        if (!st) st = sy_buf_puts(out, "  ");
        if (!st) st = pad(out, mn ? py_str(mn) : "", 10, 1);
        if (!st) st = sy_buf_puts(out, "  ");
        if (!st) st = pad(out, mx ? py_str(mx) : "", 10, 1);
        if (!st) st = sy_buf_puts(out, "  ");
        if (!st) st = sy_buf_puts(out, py_str(field(e, "db_url")));
    }
    return st;
}

static shardy_status table_history(json_object *r, sy_buf *out) {
    json_object *a = field(r, "manifests");
    shardy_status st = sy_buf_printf(out, "%3s  %26s  %s", "#", "PUBLISHED_AT", "RUN_ID");
    if (!st) st = dashes(out, 3 + 2 + 26 + 2 + 6);
    for (size_t i = 0; i < list_len(a) && !st; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        st = sy_buf_putc(out, '\n');
        if (!st) st = pad(out, str_field(e, "offset"), 3, 1);
        if (!st) st = sy_buf_puts(out, "  ");
        if (!st) st = pad(out, str_field(e, "published_at"), 26, 1);
        if (!st) st = sy_buf_puts(out, "  ");
        if (!st) st = sy_buf_puts(out, str_field(e, "run_id"));
    }
    return st;
}

/* Table for ops that have one (errors and `hash` use the text template); 0 if none. */
static int render_table(json_object *r, sy_buf *out) {
    shardy_status st;
    const char *op = str_field(r, "op");
    if (field(r, "error") || !strcmp(op, "hash")) return render_text(r, out);
    if (!strcmp(op, "multiget")) st = table_multiget(r, out);
    else if (!strcmp(op, "shards")) st = table_shards(r, out);
    else if (!strcmp(op, "history")) st = table_history(r, out);
    else return 0;
    return st ? -1 : 1;
}

static int emit_to(cli_ctx *ctx, json_object *result, FILE *f) {
    sy_buf out = SY_BUF_INIT;
    shardy_status st = SHARDY_OK;
    int done = 0;
    if (ctx->format == CLI_FMT_TEXT) done = render_text(result, &out);
    else if (ctx->format == CLI_FMT_TABLE) done = render_table(result, &out);
    if (done < 0) st = SHARDY_ENOMEM;
    if (!done) {
        int flags = SY_JSON_NO_SORT | SY_JSON_RAW_UTF8;
        if (ctx->format == CLI_FMT_JSON || ctx->format == CLI_FMT_TABLE) flags |= SY_JSON_INDENT2;
        st = sy_json_dump(result, flags, &out);
    }
    if (!st) st = sy_buf_putc(&out, '\n');
    json_object_put(result);
    if (st) {
        sy_buf_free(&out);
        return cli_fail("cannot render result: %s", shardy_errmsg());
    }
    fwrite(out.data, 1, out.len, f);
    sy_buf_free(&out);
    return fflush(f) == 0 ? CLI_OK : cli_fail("cannot write the result");
}

int cli_emit(cli_ctx *ctx, json_object *result) { return emit_to(ctx, result, stdout); }

int cli_emit_error(cli_ctx *ctx, const char *op, const char *message, const char *key) {
    json_object *r = json_object_new_object();
    if (!r) return cli_fail("%s", message);
    json_object_object_add(r, "op", json_object_new_string(op));
    json_object_object_add(r, "error", json_object_new_string(message));
    if (key) json_object_object_add(r, "key", json_object_new_string(key));
    emit_to(ctx, r, stderr);
    return CLI_FAIL;
}
