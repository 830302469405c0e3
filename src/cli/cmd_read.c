/*
 * cmd_read.c — the read subcommands of `shardy` (spec reader-cli §7.5–7.8): get, multiget, info,
 * shards, route, history; plus building the reader from the global flags (§7.4).
 *
 * Reader construction: URL from --current-url, else $SHARDY_CURRENT (empty = unset), else
 * "Error: CURRENT URL is required ..." (exit 1). --ref/--offset are exclusive (usage error, exit 2);
 * --offset N is resolved from the history listing first ("Error: Offset N out of range ..." exit 1)
 * and then pins the reader by ref. Open failures print "Error: Failed to initialise reader: <msg>"
 * (exit 1). Operation errors are error results on stderr in the configured format (exit 1).
 *
 * Keys (§7.7) are coerced by the snapshot's key_encoding: u64be/u32be parse Python int() syntax,
 * raw → bytes of the string, utf8 → the string. Displayed keys are always the original text.
 * Values (§7.6) are printed base64 (default), hex or utf8 (invalid sequences → U+FFFD, like
 * Python's errors="replace").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/timeutil.h"

#define OPT_END {NULL, 0, NULL, 0, NULL, NULL, 0}

/* ---- reader construction ------------------------------------------------------------------------ */

static const char *current_url(const cli_ctx *ctx) {
    const char *u = ctx->current_url;
    if (!u || !*u) u = getenv("SHARDY_CURRENT");
    return u && *u ? u : NULL;
}

static int require_url(const cli_ctx *ctx, const char **url) {
    *url = current_url(ctx);
    if (*url) return CLI_OK;
    return cli_fail("CURRENT URL is required. Provide it via --current-url, set SHARDY_CURRENT env var, or set "
                    "current_url in reader.toml.");
}

/* Parses a non-negative int option; CLI_USAGE (message printed) when it is not one. */
static int parse_count(cli_ctx *ctx, const cli_cmd *cmd, const char *name, const char *text, long *out) {
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (!*text || *end) return cli_usage_error(ctx, cmd, "Invalid value for '%s': '%s' is not a valid integer.", name, text);
    *out = v;
    return CLI_OK;
}

static int open_reader(cli_ctx *ctx, const cli_cmd *cmd, shardy_reader **out) {
    const char *url = NULL;
    shardy_manifest_entry *e = NULL;
    size_t n = 0;
    shardy_reader_opts o;
    int rc = require_url(ctx, &url);
    *out = NULL;
    if (rc || (rc = cli_s3_setup(ctx))) return rc;
    shardy_reader_opts_init(&o);
    o.current_url = url;
    cli_s3_reader_opts(ctx, &o);
    o.ref = ctx->ref;
    if (ctx->offset) {
        long off = 0;
        if (ctx->ref) return cli_usage_error(ctx, cmd, "--ref and --offset are mutually exclusive");
        if ((rc = parse_count(ctx, cmd, "--offset", ctx->offset, &off))) return rc;
        if (off < 0) return cli_usage_error(ctx, cmd, "--offset must be >= 0");
        if (off > 1000000) return cli_fail("Offset %ld out of range", off);
        if (shardy_history_opts(&o, (size_t)off + 1, &e, &n) != SHARDY_OK) return cli_fail("%s", shardy_errmsg());
        if (n <= (size_t)off) {
            shardy_manifest_entries_free(&e, n);
            return cli_fail("Offset %ld out of range (only %zu manifests available)", off, n);
        }
        o.ref = e[off].ref;
    }
    if (shardy_reader_open(&o, out) != SHARDY_OK) rc = cli_fail("Failed to initialise reader: %s", shardy_errmsg());
    shardy_manifest_entries_free(&e, n);
    return rc;
}

static int key_encoding(shardy_reader *r, shardy_key_encoding *enc) {
    shardy_snapshot_info *info = NULL;
    if (shardy_reader_info(r, &info) != SHARDY_OK) return -1;
    *enc = info->key_encoding;
    shardy_snapshot_info_free(&info);
    return 0;
}

/* ---- keys and values -------------------------------------------------------------------------------- */

/* §7.7: coerces text; on failure writes the message to err and returns -1. Strings are borrowed. */
static int coerce_key(shardy_key_encoding enc, const char *text, shardy_key *k, char *err, size_t errcap) {
    if (enc == SHARDY_KEYENC_U64BE || enc == SHARDY_KEYENC_U32BE) {
        int r = cli_parse_int_key(text, k);
        if (r == -1) {
            snprintf(err, errcap, "Key '%s' is not a valid integer (required by %s encoding)", text,
                     shardy_key_encoding_name(enc));
            return -1;
        }
        if (r == -2) {
            snprintf(err, errcap, "Key '%s' is out of range for %s encoding", text, shardy_key_encoding_name(enc));
            return -1;
        }
        return 0;
    }
    *k = enc == SHARDY_KEYENC_RAW ? shardy_key_bytes(text, strlen(text)) : shardy_key_str(text, strlen(text));
    return 0;
}

static shardy_status put_base64(sy_buf *b, const unsigned char *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    shardy_status st = sy_buf_reserve(b, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n && !st; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=', i + 2 < n ? A[v & 63] : '='};
        st = sy_buf_append(b, q, 4);
    }
    return st;
}

static shardy_status put_hex(sy_buf *b, const unsigned char *p, size_t n) {
    static const char H[] = "0123456789abcdef";
    shardy_status st = sy_buf_reserve(b, 2 * n);
    for (size_t i = 0; i < n && !st; i++) {
        char q[2] = {H[p[i] >> 4], H[p[i] & 15]};
        st = sy_buf_append(b, q, 2);
    }
    return st;
}

/* UTF-8 decoding with Python's errors="replace": each maximal ill-formed subpart becomes U+FFFD. */
static shardy_status put_utf8_replace(sy_buf *b, const unsigned char *p, size_t n) {
    shardy_status st = SHARDY_OK;
    size_t i = 0;
    while (i < n && !st) {
        unsigned c = p[i];
        size_t need = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            st = sy_buf_putc(b, (char)c);
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) need = 2, lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
        else if (c == 0xED) need = 2, hi = 0x9F;
        else if (c == 0xF0) need = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) need = 3, hi = 0x8F;
        size_t j = i + 1, k = 0;
        while (k < need && j < n) {
            unsigned d = p[j];
            if (k == 0 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) break;
            j++, k++;
        }
        if (need && k == need) st = sy_buf_append(b, p + i, j - i);
        else st = sy_buf_puts(b, "\xEF\xBF\xBD");
        i = need ? j : i + 1;
    }
    return st;
}

static json_object *encode_value(const cli_ctx *ctx, const void *v, size_t n) {
    sy_buf b = SY_BUF_INIT;
    shardy_status st = sy_buf_reserve(&b, 1);
    if (!st) {
        if (ctx->value_encoding == CLI_VENC_HEX) st = put_hex(&b, v, n);
        else if (ctx->value_encoding == CLI_VENC_UTF8) st = put_utf8_replace(&b, v, n);
        else st = put_base64(&b, v, n);
    }
    json_object *o = st ? NULL : json_object_new_string_len(b.data, (int)b.len);
    sy_buf_free(&b);
    return o;
}

/* ---- shared command plumbing ----------------------------------------------------------------------- */

/* Parses argv; prints help (returns CLI_OK with *stop set) or usage errors. Checks the positional
 * count is within [min, max] (max < 0: unbounded). */
static int parse_cmd(cli_ctx *ctx, const cli_cmd *cmd, cli_opt *opts, int argc, char **argv, char ***pos,
                     size_t *npos, int min, int max, const char *argname, int *stop) {
    int help = 0;
    *stop = 1;
    int rc = cli_parse(ctx, cmd, opts, argc, argv, pos, npos, &help);
    if (rc) return rc;
    if (help) {
        cli_print_help(ctx, cmd, opts);
        return CLI_OK;
    }
    if ((int)*npos < min) return cli_usage_error(ctx, cmd, "Missing argument '%s'.", argname);
    if (max >= 0 && (int)*npos > max) return cli_usage_error(ctx, cmd, "Got unexpected extra argument (%s)", (*pos)[max]);
    *stop = 0;
    return CLI_OK;
}

static json_object *result(const char *op) {
    json_object *r = json_object_new_object();
    if (r) json_object_object_add(r, "op", json_object_new_string(op));
    return r;
}

/* --routing-context NAME=VALUE (repeatable) → a routing context; names/values malloc'd arrays that
 * point into the option values (split in place). 0 when the option is absent (*has = 0). */
#define RCTX_OPT {"routing-context", 1, "NAME=VALUE for CEL snapshots (repeatable; typed by the manifest's columns).", 0, NULL, NULL, 0}
static int routing_ctx(const cli_opt *o, shardy_routing_ctx *rc, char ***names, char ***vals, int *has) {
    memset(rc, 0, sizeof *rc);
    *has = o->nvalues > 0;
    if (!*has) return 0;
    *names = calloc(o->nvalues, sizeof **names);
    *vals = calloc(o->nvalues, sizeof **vals);
    if (!*names || !*vals) return -1;
    for (size_t i = 0; i < o->nvalues; i++) {
        char *eq = strchr(o->values[i], '=');
        if (!eq || eq == o->values[i]) return -1;
        *eq = '\0';
        (*names)[i] = (char *)o->values[i];
        (*vals)[i] = eq + 1;
    }
    rc->names = (const char *const *)*names;
    rc->values = (const char *const *)*vals;
    rc->n = o->nvalues;
    return 0;
}

/* ---- get ------------------------------------------------------------------------------------------- */

static int run_get(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[] = {{"strict", 0, "Exit with status 1 when the key is not found.", 0, NULL, NULL, 0}, RCTX_OPT,
                      OPT_END};
    char **pos = NULL, err[512], **cn = NULL, **cv = NULL;
    shardy_routing_ctx rctx;
    int has_ctx = 0;
    size_t npos = 0;
    int stop = 0, found = 0;
    shardy_reader *r = NULL;
    shardy_key_encoding enc = SHARDY_KEYENC_U64BE;
    shardy_key k;
    void *val = NULL;
    size_t vlen = 0;
    int rc = parse_cmd(ctx, &cli_cmd_get, opts, argc, argv, &pos, &npos, 1, 1, "KEY", &stop);
    if (rc || stop) goto done;
    if (routing_ctx(&opts[1], &rctx, &cn, &cv, &has_ctx)) {
        rc = cli_usage_error(ctx, &cli_cmd_get, "--routing-context takes NAME=VALUE");
        goto done;
    }
    if ((rc = open_reader(ctx, &cli_cmd_get, &r))) goto done;
    const char *text = pos[0];
    if (key_encoding(r, &enc)) {
        rc = cli_emit_error(ctx, "get", shardy_errmsg(), text);
        goto done;
    }
    if (coerce_key(enc, text, &k, err, sizeof err)) {
        rc = cli_emit_error(ctx, "get", err, text);
        goto done;
    }
    if ((has_ctx ? shardy_reader_get_ctx(r, &k, &rctx, &val, &vlen, &found)
                 : shardy_reader_get_alloc(r, &k, &val, &vlen, &found)) != SHARDY_OK) {
        rc = cli_emit_error(ctx, "get", shardy_errmsg(), text);
        goto done;
    }
    json_object *res = result("get");
    json_object_object_add(res, "key", json_object_new_string(text));
    json_object_object_add(res, "found", json_object_new_boolean(found));
    json_object_object_add(res, "value", found ? encode_value(ctx, val, vlen) : json_object_new_string("null"));
    rc = cli_emit(ctx, res);
    if (!rc && !found && opts[0].seen) rc = CLI_FAIL;
done:
    free(cn);
    free(cv);
    shardy_free(val);
    shardy_reader_close(&r);
    free(pos);
    cli_opts_free(opts);
    return rc;
}

/* ---- multiget ---------------------------------------------------------------------------------------- */

/* Reads keys from stdin: one per line, surrounding whitespace trimmed, blank lines dropped. The
 * array and its strings are malloc'd (free with free_lines). */
static int read_stdin_keys(char ***keys, size_t *n) {
    char *line = NULL;
    size_t cap = 0, count = 0, kcap = 0;
    ssize_t got;
    char **k = NULL;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        char *s = line, *e = line + got;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\v' ||
                         e[-1] == '\f'))
            e--;
        if (e == s) continue;
        if (count == kcap) {
            kcap = kcap ? 2 * kcap : 64;
            char **nk = realloc(k, kcap * sizeof *nk);
            if (!nk) break;
            k = nk;
        }
        k[count] = strndup(s, (size_t)(e - s));
        if (!k[count]) break;
        count++;
    }
    free(line);
    *keys = k;
    *n = count;
    return 0;
}

static void free_lines(char **k, size_t n) {
    for (size_t i = 0; i < n; i++) free(k[i]);
    free(k);
}

static int run_multiget(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[] = {RCTX_OPT, OPT_END};
    char **pos = NULL, **lines = NULL, err[512], **cn = NULL, **cv = NULL;
    shardy_routing_ctx rctx;
    int has_ctx = 0;
    size_t npos = 0, nlines = 0;
    int stop = 0;
    shardy_reader *r = NULL;
    shardy_key *keys = NULL;
    shardy_values *vals = NULL;
    shardy_key_encoding enc = SHARDY_KEYENC_U64BE;
    int rc = parse_cmd(ctx, &cli_cmd_multiget, opts, argc, argv, &pos, &npos, 1, -1, "KEYS...", &stop);
    if (rc || stop) goto done;
    if (routing_ctx(&opts[0], &rctx, &cn, &cv, &has_ctx)) {
        rc = cli_usage_error(ctx, &cli_cmd_multiget, "--routing-context takes NAME=VALUE");
        goto done;
    }
    char **texts = pos;
    size_t n = npos;
    if (npos == 1 && !strcmp(pos[0], "-")) {
        read_stdin_keys(&lines, &nlines);
        if (!nlines) {
            rc = cli_usage_error(ctx, &cli_cmd_multiget, "No keys provided on stdin");
            goto done;
        }
        texts = lines;
        n = nlines;
    }
    if ((rc = open_reader(ctx, &cli_cmd_multiget, &r))) goto done;
    if (key_encoding(r, &enc)) {
        rc = cli_emit_error(ctx, "multiget", shardy_errmsg(), NULL);
        goto done;
    }
    keys = calloc(n, sizeof *keys);
    if (!keys) {
        rc = cli_fail("out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (coerce_key(enc, texts[i], &keys[i], err, sizeof err)) {
            rc = cli_emit_error(ctx, "multiget", err, NULL);
            goto done;
        }
    if ((has_ctx ? shardy_reader_multi_get_ctx(r, keys, n, &rctx, &vals) : shardy_reader_multi_get(r, keys, n, &vals)) !=
        SHARDY_OK) {
        rc = cli_emit_error(ctx, "multiget", shardy_errmsg(), NULL);
        goto done;
    }
    json_object *res = result("multiget"), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const void *p = NULL;
        size_t len = 0;
        int hit = shardy_values_get(vals, i, &p, &len);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "key", json_object_new_string(texts[i]));
        json_object_object_add(e, "found", json_object_new_boolean(hit));
        if (hit) json_object_object_add(e, "value", encode_value(ctx, p, len));
        json_object_array_add(arr, e);
    }
    json_object_object_add(res, "results", arr);
    rc = cli_emit(ctx, res);
done:
    free(cn);
    free(cv);
    shardy_values_free(&vals);
    free(keys);
    shardy_reader_close(&r);
    free_lines(lines, nlines);
    free(pos);
    cli_opts_free(opts);
    return rc;
}

/* ---- info / shards / route ------------------------------------------------------------------------- */

/* Python datetime.isoformat() of a UTC time: ...T10:30:00[.123456]+00:00. */
static json_object *isoformat(int64_t us) {
    char t[SY_TIME_STRLEN + 8];
    sy_time_format_iso(us, t);
    size_t n = strlen(t);
    if (n && t[n - 1] == 'Z') snprintf(t + n - 1, sizeof t - (n - 1), "+00:00");
    return json_object_new_string(t);
}

static int run_info(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[] = {OPT_END};
    char **pos = NULL;
    size_t npos = 0;
    int stop = 0;
    shardy_reader *r = NULL;
    shardy_snapshot_info *info = NULL;
    int rc = parse_cmd(ctx, &cli_cmd_info, opts, argc, argv, &pos, &npos, 0, 0, "", &stop);
    if (rc || stop) goto done;
    if ((rc = open_reader(ctx, &cli_cmd_info, &r))) goto done;
    if (shardy_reader_info(r, &info) != SHARDY_OK) {
        rc = cli_emit_error(ctx, "info", shardy_errmsg(), NULL);
        goto done;
    }
    int64_t created = 0;
    json_object *res = result("info");
    json_object_object_add(res, "run_id", json_object_new_string(info->run_id));
    json_object_object_add(res, "num_dbs", json_object_new_int64(info->num_dbs));
    json_object_object_add(res, "sharding", json_object_new_string(info->sharding));
    json_object_object_add(res, "created_at", sy_time_parse_iso(info->created_at, &created) == SHARDY_OK
                                                  ? isoformat(created)
                                                  : json_object_new_string(info->created_at));
    json_object_object_add(res, "manifest_ref", json_object_new_string(info->manifest_ref));
    json_object_object_add(res, "row_count", json_object_new_uint64(info->row_count));
    json_object_object_add(res, "key_encoding", json_object_new_string(shardy_key_encoding_name(info->key_encoding)));
    json_object_object_add(res, "hash_algorithm", json_object_new_string(info->hash_algorithm));
    rc = cli_emit(ctx, res);
done:
    shardy_snapshot_info_free(&info);
    shardy_reader_close(&r);
    free(pos);
    cli_opts_free(opts);
    return rc;
}

/* min_key/max_key JSON text → JSON value (NULL = JSON null). */
static json_object *json_scalar(const char *text) {
    return text ? json_tokener_parse(text) : NULL;
}

static int run_shards(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[] = {OPT_END};
    char **pos = NULL;
    size_t npos = 0, n = 0;
    int stop = 0;
    shardy_reader *r = NULL;
    shardy_shard_info *si = NULL;
    int rc = parse_cmd(ctx, &cli_cmd_shards, opts, argc, argv, &pos, &npos, 0, 0, "", &stop);
    if (rc || stop) goto done;
    if ((rc = open_reader(ctx, &cli_cmd_shards, &r))) goto done;
    if (shardy_reader_shards(r, &si, &n) != SHARDY_OK) {
        rc = cli_emit_error(ctx, "shards", shardy_errmsg(), NULL);
        goto done;
    }
    json_object *res = result("shards"), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "db_id", json_object_new_int64(si[i].db_id));
        json_object_object_add(e, "row_count", json_object_new_uint64(si[i].row_count));
        json_object_object_add(e, "min_key", json_scalar(si[i].min_key));
        json_object_object_add(e, "max_key", json_scalar(si[i].max_key));
        json_object_object_add(e, "db_url", si[i].db_url ? json_object_new_string(si[i].db_url) : NULL);
        json_object_array_add(arr, e);
    }
    json_object_object_add(res, "shards", arr);
    rc = cli_emit(ctx, res);
done:
    shardy_shard_infos_free(&si, n);
    shardy_reader_close(&r);
    free(pos);
    cli_opts_free(opts);
    return rc;
}

static int run_route(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[] = {RCTX_OPT, OPT_END};
    char **pos = NULL, err[512], **cn = NULL, **cv = NULL;
    shardy_routing_ctx rctx;
    int has_ctx = 0;
    size_t npos = 0;
    int stop = 0;
    shardy_reader *r = NULL;
    shardy_key_encoding enc = SHARDY_KEYENC_U64BE;
    shardy_key k;
    uint32_t db = 0;
    int rc = parse_cmd(ctx, &cli_cmd_route, opts, argc, argv, &pos, &npos, 1, 1, "KEY", &stop);
    if (rc || stop) goto done;
    if (routing_ctx(&opts[0], &rctx, &cn, &cv, &has_ctx)) {
        rc = cli_usage_error(ctx, &cli_cmd_route, "--routing-context takes NAME=VALUE");
        goto done;
    }
    if ((rc = open_reader(ctx, &cli_cmd_route, &r))) goto done;
    const char *text = pos[0];
    if (key_encoding(r, &enc)) {
        rc = cli_emit_error(ctx, "route", shardy_errmsg(), text);
        goto done;
    }
    if (coerce_key(enc, text, &k, err, sizeof err)) {
        rc = cli_emit_error(ctx, "route", err, text);
        goto done;
    }
    if ((has_ctx ? shardy_reader_route_ctx(r, &rctx, &db) : shardy_reader_route(r, &k, &db)) != SHARDY_OK) {
        rc = cli_emit_error(ctx, "route", shardy_errmsg(), text);
        goto done;
    }
    json_object *res = result("route");
    json_object_object_add(res, "key", json_object_new_string(text));
    json_object_object_add(res, "db_id", json_object_new_int64(db));
    rc = cli_emit(ctx, res);
done:
    free(cn);
    free(cv);
    shardy_reader_close(&r);
    free(pos);
    cli_opts_free(opts);
    return rc;
}

/* ---- history --------------------------------------------------------------------------------------- */

static int run_history(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[] = {{"limit", 1, "Number of manifests to list (default 10).", 0, NULL, NULL, 0}, OPT_END};
    char **pos = NULL;
    size_t npos = 0, n = 0;
    int stop = 0;
    long limit = 10;
    const char *url = NULL;
    shardy_manifest_entry *e = NULL;
    int rc = parse_cmd(ctx, &cli_cmd_history, opts, argc, argv, &pos, &npos, 0, 0, "", &stop);
    if (rc || stop) goto done;
    if (opts[0].seen && (rc = parse_count(ctx, &cli_cmd_history, "--limit", opts[0].value, &limit))) goto done;
    if (limit < 0) {
        rc = cli_usage_error(ctx, &cli_cmd_history, "--limit must be >= 0");
        goto done;
    }
    if ((rc = require_url(ctx, &url)) || (rc = cli_s3_setup(ctx))) goto done;
    shardy_reader_opts ho;
    shardy_reader_opts_init(&ho);
    ho.current_url = url;
    cli_s3_reader_opts(ctx, &ho);
    if (limit > 0 && shardy_history_opts(&ho, (size_t)limit, &e, &n) != SHARDY_OK) {
        rc = cli_emit_error(ctx, "history", shardy_errmsg(), NULL);
        goto done;
    }
    json_object *res = result("history"), *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "offset", json_object_new_int64((int64_t)i));
        json_object_object_add(m, "run_id", json_object_new_string(e[i].run_id));
        json_object_object_add(m, "published_at", isoformat(e[i].published_us));
        json_object_object_add(m, "ref", json_object_new_string(e[i].ref));
        json_object_array_add(arr, m);
    }
    json_object_object_add(res, "manifests", arr);
    rc = cli_emit(ctx, res);
done:
    shardy_manifest_entries_free(&e, n);
    free(pos);
    cli_opts_free(opts);
    return rc;
}

const cli_cmd cli_cmd_get = {"get", "[--strict] KEY", "Look up one key in the current snapshot.", run_get};
const cli_cmd cli_cmd_multiget = {"multiget", "KEY... | -",
                                  "Look up several keys (a sole '-' reads keys from stdin, one per line).",
                                  run_multiget};
const cli_cmd cli_cmd_info = {"info", "", "Show the snapshot's metadata.", run_info};
const cli_cmd cli_cmd_shards = {"shards", "", "List every shard (db_id, rows, key range, URL).", run_shards};
const cli_cmd cli_cmd_route = {"route", "KEY", "Show the shard KEY routes to (no lookup).", run_route};
const cli_cmd cli_cmd_history = {"history", "[--limit N]", "List published manifests, newest first.",
                                 run_history};
