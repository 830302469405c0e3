/* cmd_build.c — `shardy build`: JSONL/CSV file → published sharded snapshot (native pipeline). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/json.h"
#include "cel/cel.h"
#include "core/alloc.h"
#include "write/input.h"
#include "write/wcel.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    if (interrupted) _exit(128 + sig); /* second signal: stop right now */
    interrupted = sig;
}

enum {
    O_INPUT, O_FORMAT, O_KEY_COL, O_VALUE_COL, O_VALUE_JSON, O_NUM_DBS, O_MAX_KEYS, O_PREFIX, O_KEY_TYPE,
    O_KEY_ENC, O_BATCH, O_THREADS, O_MAX_WPS, O_MAX_BPS, O_RUN_ID, O_MEM, O_SKIP_BAD, O_PROGRESS, O_LOCAL_DIR,
    O_PAGE_SIZE, O_CUSTOM, O_CEL_EXPR, O_CEL_COLUMN, O_ROUTING_VALUES, O_INFER, O_RETRY, O_RETRY_BACKOFF, O_COUNT
};

/* Parses a size with an optional K/M/G (powers of 1024) suffix. */
static int parse_size(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (!*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K') mul = 1ULL << 10, end++;
    else if (*end == 'm' || *end == 'M') mul = 1ULL << 20, end++;
    else if (*end == 'g' || *end == 'G') mul = 1ULL << 30, end++;
    if (*end == 'i' || *end == 'B') end++;
    if (*end == 'B') end++;
    if (*end) return -1;
    if (v > UINT64_MAX / mul) return -1;
    *out = v * mul;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    if (!*s || *s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s) return -1;
    *out = v;
    return 0;
}

static int parse_rate(const char *s, double *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || v < 0 || v != v) return -1;
    *out = v;
    return 0;
}

/* Splits "a,b,c" in place into cols (malloc'd array). */
static size_t split_cols(char *s, char ***cols) {
    size_t n = 1;
    for (char *p = s; *p; p++) n += *p == ',';
    *cols = calloc(n, sizeof **cols);
    if (!*cols) return 0;
    size_t i = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) (*cols)[i++] = tok;
    return i;
}

/* Copies stdin to a temporary file (for the counting pass of --max-keys-per-shard). */
static int spool_stdin(char *path, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, cap, "%s/shardy-stdin-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        if (write(fd, buf, n) != (ssize_t)n) rc = -1;
    if (ferror(stdin)) rc = -1;
    if (close(fd) != 0) rc = -1;
    return rc;
}

static int count_rows(const char *path, const sy_input_opts *io, uint64_t *rows) {
    sy_input *in = NULL;
    shardy_key k;
    const void *v;
    size_t vl;
    shardy_status st;
    int r;
    *rows = 0;
    if (sy_input_open(path, io, &in) != SHARDY_OK) return cli_fail("%s", shardy_errmsg());
    while ((r = sy_input_next(in, &k, &v, &vl, &st)) != 0) {
        if (r > 0) (*rows)++;
        else if (st != SHARDY_EFORMAT) break;
    }
    sy_input_close(&in);
    return r < 0 ? cli_fail("%s", shardy_errmsg()) : CLI_OK;
}

/* Binds the CEL columns of router r from the current row: JSON numbers/bools as they are, text
 * (CSV fields, JSON strings) converted by the declared type; a `key` column absent from the row
 * binds the row key (DESIGN §3). owned[i] gets memory to free after the row. -1: bad row
 * (SHARDY_EFORMAT, "<file>:<line>: ..."). */
static int fill_cel(const sy_cel_router *r, sy_cel_value *args, char **owned, sy_input *in, const char *fname,
                    const shardy_key *key, shardy_status *st) {
    size_t nv = sy_cel_router_nvars(r);
    for (size_t i = 0; i < nv; i++) {
        const char *name = sy_cel_router_var_name(r, i);
        sy_cel_kind kind = sy_cel_router_var_kind(r, i);
        json_object *jv = NULL;
        const char *text = NULL;
        size_t len = 0;
        shardy_status cs = SHARDY_OK;
        if (!sy_input_field(in, name, &jv, &text, &len)) {
            if (!strcmp(name, "key")) cs = sy_cel_value_from_key(key, kind, &args[i]);
            if (cs) goto bad;
            continue;
        }
        if (!text && !jv) {
            args[i] = sy_cel_null();
            continue;
        }
        if (jv) {
            switch (json_object_get_type(jv)) {
            case json_type_int:
                args[i] = sy_json_int_is_u64(jv) ? sy_cel_uint(json_object_get_uint64(jv))
                                                 : sy_cel_int(json_object_get_int64(jv));
                if (kind == SY_CEL_UINT && args[i].kind == SY_CEL_INT && args[i].v.i >= 0)
                    args[i] = sy_cel_uint((uint64_t)args[i].v.i);
                if (kind == SY_CEL_DOUBLE) args[i] = sy_cel_double((double)json_object_get_int64(jv));
                continue;
            case json_type_double: args[i] = sy_cel_double(json_object_get_double(jv)); continue;
            case json_type_boolean: args[i] = sy_cel_bool(json_object_get_boolean(jv)); continue;
            case json_type_string:
                text = json_object_get_string(jv);
                len = (size_t)json_object_get_string_len(jv);
                break;
            default:
                cs = sy_err(SHARDY_EFORMAT, "CEL column '%s' must be a scalar", name);
                goto bad;
            }
        }
        cs = sy_cel_value_parse_text(kind, name, text, len, &args[i], &owned[i]);
        if (cs) goto bad;
        continue;
    bad:;
        char msg[1100];
        snprintf(msg, sizeof msg, "%s", shardy_errmsg());
        *st = sy_err(SHARDY_EFORMAT, "%s:%llu: %s", fname, (unsigned long long)sy_input_line(in), msg);
        return -1;
    }
    return 0;
}

static void free_owned(char **owned, size_t n) {
    for (size_t i = 0; i < n; i++) {
        sy_free(owned[i]);
        owned[i] = NULL;
    }
}

typedef struct build_args {
    const char *input;
    sy_input_opts io;
    shardy_build_opts bo;
    uint64_t max_keys;
    uint64_t skip_bad;
    char **cel_cols;         /* --cel-column values */
    char **rv;               /* --routing-values split, or inferred values as text */
    char *rv_text;
} build_args;

/* --infer-routing-values: first pass over the file; the sorted distinct tokens become the
 * routing values. Rows whose evaluation fails are left for the second pass to report. */
static int infer_values(build_args *a, const char *path) {
    shardy_build_opts o = a->bo;
    const char *none[1] = {NULL};
    sy_wcel *w = NULL;
    sy_input *in = NULL;
    sy_cel_token_set *set = NULL;
    sy_cel_scratch scratch;
    char **owned = NULL;
    int rc = CLI_OK, r;
    shardy_key k;
    const void *v;
    size_t vl, nv = 0;
    shardy_status st;
    sy_cel_scratch_init(&scratch);
    o.routing_values = none;
    o.n_routing_values = 0;
    if (sy_wcel_open(&o, &w) || sy_cel_token_set_new(&set) || sy_input_open(path, &a->io, &in)) {
        rc = cli_fail("%s", shardy_errmsg());
        goto done;
    }
    const sy_cel_router *router = sy_wcel_router(w);
    nv = sy_cel_router_nvars(router);
    owned = calloc(nv ? nv : 1, sizeof *owned);
    while ((r = sy_input_next(in, &k, &v, &vl, &st)) != 0) {
        if (r < 0) {
            if (st != SHARDY_EFORMAT) break;
            continue;
        }
        sy_cel_value *args = sy_wcel_args(w), tok;
        if (fill_cel(router, args, owned, in, a->input, &k, &st) == 0 &&
            sy_cel_router_token(router, args, &scratch, &tok) == SHARDY_OK && sy_cel_token_set_add(set, &tok)) {
            free_owned(owned, nv);
            rc = cli_fail("%s:%llu: %s", a->input, (unsigned long long)sy_input_line(in), shardy_errmsg());
            goto done;
        }
        free_owned(owned, nv);
    }
    if (r < 0) {
        rc = cli_fail("%s", shardy_errmsg());
        goto done;
    }
    const sy_cel_value *vals;
    size_t n;
    if (sy_cel_token_set_values(set, &vals, &n)) {
        rc = cli_fail("%s", shardy_errmsg());
        goto done;
    }
    a->rv = calloc(n ? n : 1, sizeof *a->rv);
    for (size_t i = 0; a->rv && i < n; i++) {
        if (vals[i].kind == SY_CEL_STRING) a->rv[i] = sy_strndup(vals[i].v.s, vals[i].len);
        else if (vals[i].kind == SY_CEL_UINT) a->rv[i] = sy_asprintf("%llu", (unsigned long long)vals[i].v.u);
        else a->rv[i] = sy_asprintf("%lld", (long long)vals[i].v.i);
        a->bo.routing_values_are_ints = vals[i].kind != SY_CEL_STRING;
    }
    a->bo.routing_values = (const char *const *)a->rv;
    a->bo.n_routing_values = n;
done:
    free(owned);
    sy_input_close(&in);
    sy_cel_token_set_free(&set);
    sy_cel_scratch_release(&scratch);
    sy_wcel_free(&w);
    return rc;
}

static int run_rows(cli_ctx *ctx, build_args *a, const char *path) {
    shardy_builder *b = NULL;
    shardy_build_result *res = NULL;
    sy_input *in = NULL;
    json_object *bad_examples = json_object_new_array();
    uint64_t bad_rows = 0;
    sy_wcel *cel = NULL;
    char **owned = NULL;
    size_t nv = 0;
    const char *fname = strcmp(path, "-") ? a->input : "<stdin>";
    int rc = CLI_OK, r;
    shardy_key k;
    const void *v;
    size_t vl;
    shardy_status st;
    if (sy_input_open(path, &a->io, &in) != SHARDY_OK) {
        rc = cli_fail("%s", shardy_errmsg());
        goto done;
    }
    if ((rc = cli_s3_setup(ctx))) goto done;
    cli_s3_build_opts(ctx, &a->bo);
    if (shardy_builder_open(&a->bo, &b) != SHARDY_OK) {
        rc = cli_fail("%s", shardy_errmsg());
        goto done;
    }
    if ((cel = sy_builder_cel(b)) != NULL) {
        nv = sy_cel_router_nvars(sy_wcel_router(cel));
        owned = calloc(nv ? nv : 1, sizeof *owned);
    }
    for (;;) {
        if (interrupted) {
            rc = cli_fail("interrupted by signal %d; nothing was published", (int)interrupted);
            goto done;
        }
        r = sy_input_next(in, &k, &v, &vl, &st);
        if (r == 0) break;
        if (r > 0 && cel) {
            if (fill_cel(sy_wcel_router(cel), sy_wcel_args(cel), owned, in, fname, &k, &st)) r = -1;
            else st = sy_builder_add_cel_values(b, &k, v, vl);
            free_owned(owned, nv);
        } else if (r > 0) {
            st = shardy_builder_add(b, &k, v, vl);
        }
        if (r > 0 && st != SHARDY_OK) {
            if (st != SHARDY_EROUTE && st != SHARDY_ERANGE && st != SHARDY_ETYPE) {
                rc = cli_fail("%s", shardy_errmsg());
                goto done;
            }
            /* A key the encoding or router refuses is a bad row: name where it is. */
            char msg[1100];
            snprintf(msg, sizeof msg, "%s", shardy_errmsg());
            sy_err(SHARDY_EFORMAT, "%s:%llu: %s", strcmp(path, "-") ? a->input : "<stdin>",
                   (unsigned long long)sy_input_line(in), msg);
            r = -1;
            st = SHARDY_EFORMAT;
        }
        if (r < 0) {
            if (st != SHARDY_EFORMAT || bad_rows >= a->skip_bad) {
                rc = cli_fail("%s%s", shardy_errmsg(),
                              st == SHARDY_EFORMAT ? (a->skip_bad ? " (more than --skip-bad-rows bad rows; nothing was published)"
                                                                  : " (nothing was published; --skip-bad-rows N tolerates bad rows)")
                                                   : "");
                goto done;
            }
            bad_rows++;
            if (json_object_array_length(bad_examples) < 10)
                json_object_array_add(bad_examples, json_object_new_string(shardy_errmsg()));
            fprintf(stderr, "warning: skipped bad row: %s\n", shardy_errmsg());
        }
    }
    if ((st = shardy_builder_finish(b, &res)) != SHARDY_OK) {
        rc = cli_fail("build failed, nothing new was published: %s%s", shardy_errmsg(),
                      st == SHARDY_EAUTH ? " (object store authentication failed: check the credentials)" : "");
        goto done;
    }
    json_object *lib = NULL;
    const char *text = shardy_build_result_json(res);
    if (sy_json_parse(text, strlen(text), "build result", &lib) != SHARDY_OK) {
        rc = cli_fail("%s", shardy_errmsg());
        goto done;
    }
    json_object *out = json_object_new_object();
    json_object_object_add(out, "op", json_object_new_string("build"));
    json_object_object_add(out, "input", json_object_new_string(strcmp(a->input, "-") ? a->input : "<stdin>"));
    json_object_object_foreach(lib, key, val) json_object_object_add(out, key, json_object_get(val));
    json_object_object_add(out, "bad_rows", json_object_new_uint64(bad_rows));
    json_object_object_add(out, "bad_row_examples", json_object_get(bad_examples));
    json_object_put(lib);
    rc = cli_emit(ctx, out);
done:
    free(owned);
    json_object_put(bad_examples);
    shardy_build_result_free(&res);
    shardy_builder_close(&b); /* without a successful finish this discards the run's uploads */
    sy_input_close(&in);
    return rc;
}

static int run_build(cli_ctx *ctx, int argc, char **argv);

const cli_cmd cli_cmd_build = {
    "build",
    "--input FILE|- --key-col COL (--value-col COL | --value-json-cols A,B,..) (--num-dbs N | "
    "--max-keys-per-shard N) --prefix URL [OPTIONS]",
    "Build a sharded snapshot from a JSON Lines or CSV file and publish it (manifest, then _CURRENT). "
    "Prints the build result as JSON.",
    run_build,
};

static int run_build(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[O_COUNT + 1] = {
        [O_INPUT] = {"input", 1, "Input file, or - for stdin. Required.", 0, NULL, NULL, 0},
        [O_FORMAT] = {"format", 1, "jsonl or csv (default: from the file extension; jsonl for stdin).", 0, NULL, NULL, 0},
        [O_KEY_COL] = {"key-col", 1, "Column holding the key. Required.", 0, NULL, NULL, 0},
        [O_VALUE_COL] = {"value-col", 1, "Column whose text is the value.", 0, NULL, NULL, 0},
        [O_VALUE_JSON] = {"value-json-cols", 1, "Value = compact sorted JSON of these columns (A,B,..).", 0, NULL, NULL, 0},
        [O_NUM_DBS] = {"num-dbs", 1, "Number of shards.", 0, NULL, NULL, 0},
        [O_MAX_KEYS] = {"max-keys-per-shard", 1, "Derive num-dbs = ceil(rows / N) (counts the input first).", 0, NULL, NULL, 0},
        [O_PREFIX] = {"prefix", 1, "Snapshot location: local path, file:// or s3://bucket/prefix URL. Required.", 0, NULL, NULL, 0},
        [O_KEY_TYPE] = {"key-type", 1, "int, str or bytes (hex text). Default: int for u64be/u32be, else str.", 0, NULL, NULL, 0},
        [O_KEY_ENC] = {"key-encoding", 1, "u64be (default for int keys), u32be, utf8 (default for str/bytes), raw.", 0, NULL, NULL, 0},
        [O_BATCH] = {"batch-size", 1, "Rows per write batch / rate-limit unit (default 50000).", 0, NULL, NULL, 0},
        [O_THREADS] = {"threads", 1, "Shard writer threads (default: all cores).", 0, NULL, NULL, 0},
        [O_MAX_WPS] = {"max-writes-per-second", 1, "Per shard writer row rate limit.", 0, NULL, NULL, 0},
        [O_MAX_BPS] = {"max-write-bytes-per-second", 1, "Per shard writer byte rate limit.", 0, NULL, NULL, 0},
        [O_RUN_ID] = {"run-id", 1, "Run id ([A-Za-z0-9._-], default: random).", 0, NULL, NULL, 0},
        [O_MEM] = {"memory-limit", 1, "Bytes of rows buffered before spilling sorted runs (e.g. 512M; default 1G).", 0, NULL, NULL, 0},
        [O_SKIP_BAD] = {"skip-bad-rows", 1, "Tolerate up to N malformed rows (reported), default 0.", 0, NULL, NULL, 0},
        [O_PROGRESS] = {"progress", 0, "Progress on stderr (default when stderr is a terminal).", 0, NULL, NULL, 0},
        [O_LOCAL_DIR] = {"local-dir", 1, "Staging directory (default $TMPDIR/shardyfusion).", 0, NULL, NULL, 0},
        [O_PAGE_SIZE] = {"page-size", 1, "SQLite page size 4096..65536 or auto (default 4096).", 0, NULL, NULL, 0},
        [O_CUSTOM] = {"custom-json", 1, "Extra manifest custom fields (a JSON object).", 0, NULL, NULL, 0},
        [O_CEL_EXPR] = {"cel-expr", 1, "Route rows by this CEL expression (direct mode unless routing values are given).", 0, NULL, NULL, 0},
        [O_CEL_COLUMN] = {"cel-column", 1, "NAME:TYPE of a CEL variable, read from the input column NAME (repeatable; `key` falls back to the key column).", 0, NULL, NULL, 0},
        [O_ROUTING_VALUES] = {"routing-values", 1, "Categorical CEL routing: A,B,.. (token position = db_id).", 0, NULL, NULL, 0},
        [O_INFER] = {"infer-routing-values", 0, "Categorical CEL routing with the sorted distinct tokens of the input (two passes).", 0, NULL, NULL, 0},
        [O_RETRY] = {"shard-retry", 1, "Write a shard again, up to N more times, after an I/O or object-store failure (default 0).", 0, NULL, NULL, 0},
        [O_RETRY_BACKOFF] = {"shard-retry-backoff", 1, "Seconds before the first shard retry, doubling after each (default 1).", 0, NULL, NULL, 0},
        [O_COUNT] = {NULL, 0, NULL, 0, NULL, NULL, 0},
    };
    char **pos = NULL, **jcols = NULL, *jcols_text = NULL;
    size_t npos = 0;
    int help = 0, rc;
    char spool[4096] = "";
    build_args a;
    memset(&a, 0, sizeof a);
    shardy_build_opts_init(&a.bo);
    rc = cli_parse(ctx, &cli_cmd_build, opts, argc, argv, &pos, &npos, &help);
    if (rc) goto done;
    if (help) {
        cli_print_help(ctx, &cli_cmd_build, opts);
        goto done;
    }
#define USAGE(...)                                                                                 \
    do {                                                                                           \
        rc = cli_usage_error(ctx, &cli_cmd_build, __VA_ARGS__);                                    \
        goto done;                                                                                 \
    } while (0)
    if (npos) USAGE("Got unexpected extra argument (%s)", pos[0]);
    if (!opts[O_INPUT].seen) USAGE("Missing option '--input'.");
    if (!opts[O_KEY_COL].seen) USAGE("Missing option '--key-col'.");
    if (!opts[O_PREFIX].seen) USAGE("Missing option '--prefix'.");
    if (opts[O_VALUE_COL].seen && opts[O_VALUE_JSON].seen) USAGE("--value-col and --value-json-cols are mutually exclusive.");
    if (!opts[O_VALUE_COL].seen && !opts[O_VALUE_JSON].seen) USAGE("One of --value-col or --value-json-cols is required.");
    int use_cel = opts[O_CEL_EXPR].seen;
    if (!use_cel && (opts[O_CEL_COLUMN].seen || opts[O_ROUTING_VALUES].seen || opts[O_INFER].seen))
        USAGE("--cel-column, --routing-values and --infer-routing-values need --cel-expr.");
    if (use_cel && (opts[O_NUM_DBS].seen || opts[O_MAX_KEYS].seen))
        USAGE("--num-dbs and --max-keys-per-shard do not apply to CEL routing (num_dbs comes from the routing values or the data).");
    if (use_cel && !opts[O_CEL_COLUMN].seen) USAGE("--cel-expr needs at least one --cel-column NAME:TYPE.");
    if (opts[O_ROUTING_VALUES].seen && opts[O_INFER].seen)
        USAGE("infer_routing_values_from_data cannot be combined with routing_values.");
    if (!use_cel && opts[O_NUM_DBS].seen == opts[O_MAX_KEYS].seen) USAGE("Exactly one of --num-dbs or --max-keys-per-shard is required.");
    if (use_cel) {
        a.bo.cel_expr = opts[O_CEL_EXPR].value;
        a.bo.cel_columns = opts[O_CEL_COLUMN].values;
        a.bo.n_cel_columns = opts[O_CEL_COLUMN].nvalues;
        if (opts[O_ROUTING_VALUES].seen) {
            a.rv_text = strdup(opts[O_ROUTING_VALUES].value);
            a.bo.n_routing_values = a.rv_text && *a.rv_text ? split_cols(a.rv_text, &a.rv) : 0;
            if (!a.rv) a.rv = calloc(1, sizeof *a.rv);
            a.bo.routing_values = (const char *const *)a.rv;
        }
    }
    a.input = opts[O_INPUT].value;
    a.io.key_col = opts[O_KEY_COL].value;
    a.io.value_col = opts[O_VALUE_COL].value;
    if (opts[O_VALUE_JSON].seen) {
        jcols_text = strdup(opts[O_VALUE_JSON].value);
        a.io.n_value_json_cols = jcols_text ? split_cols(jcols_text, &jcols) : 0;
        if (!a.io.n_value_json_cols) USAGE("--value-json-cols needs at least one column name.");
        a.io.value_json_cols = (const char *const *)jcols;
    }
    if (opts[O_FORMAT].seen) {
        if (!strcmp(opts[O_FORMAT].value, "jsonl")) a.io.format = SY_INPUT_JSONL;
        else if (!strcmp(opts[O_FORMAT].value, "csv")) a.io.format = SY_INPUT_CSV;
        else USAGE("Invalid value for '--format': '%s' is not one of 'jsonl', 'csv'.", opts[O_FORMAT].value);
    } else if (!strcmp(a.input, "-")) {
        a.io.format = SY_INPUT_JSONL;
    } else if (!(a.io.format = sy_input_format_for(a.input))) {
        USAGE("Cannot tell the format of '%s' from its extension; give --format jsonl|csv.", a.input);
    }
    int enc_given = opts[O_KEY_ENC].seen;
    if (enc_given && shardy_key_encoding_parse(opts[O_KEY_ENC].value, &a.bo.key_encoding) != SHARDY_OK)
        USAGE("Invalid value for '--key-encoding': '%s' is not one of 'u64be', 'u32be', 'utf8', 'raw'.",
              opts[O_KEY_ENC].value);
    if (opts[O_KEY_TYPE].seen) {
        const char *t = opts[O_KEY_TYPE].value;
        if (!strcmp(t, "int")) a.io.key_type = SY_KEYTYPE_INT;
        else if (!strcmp(t, "str")) a.io.key_type = SY_KEYTYPE_STR;
        else if (!strcmp(t, "bytes")) a.io.key_type = SY_KEYTYPE_BYTES;
        else USAGE("Invalid value for '--key-type': '%s' is not one of 'int', 'str', 'bytes'.", t);
    } else {
        int int_enc = !enc_given || a.bo.key_encoding == SHARDY_KEYENC_U64BE || a.bo.key_encoding == SHARDY_KEYENC_U32BE;
        a.io.key_type = int_enc ? SY_KEYTYPE_INT : SY_KEYTYPE_STR;
    }
    if (!enc_given && a.io.key_type != SY_KEYTYPE_INT) a.bo.key_encoding = SHARDY_KEYENC_UTF8;
    uint64_t u;
    if (opts[O_NUM_DBS].seen) {
        if (parse_u64(opts[O_NUM_DBS].value, &u) || u == 0 || u > UINT32_MAX)
            USAGE("Invalid value for '--num-dbs': '%s' is not an integer in 1..4294967295.", opts[O_NUM_DBS].value);
        a.bo.num_dbs = (uint32_t)u;
    }
    if (opts[O_MAX_KEYS].seen && (parse_u64(opts[O_MAX_KEYS].value, &a.max_keys) || a.max_keys == 0))
        USAGE("Invalid value for '--max-keys-per-shard': '%s' is not a positive integer.", opts[O_MAX_KEYS].value);
    if (opts[O_BATCH].seen) {
        if (parse_u64(opts[O_BATCH].value, &u) || u == 0) USAGE("Invalid value for '--batch-size': '%s'.", opts[O_BATCH].value);
        a.bo.batch_size = (size_t)u;
    }
    if (opts[O_THREADS].seen) {
        if (parse_u64(opts[O_THREADS].value, &u) || u == 0 || u > 1024)
            USAGE("Invalid value for '--threads': '%s' (1..1024).", opts[O_THREADS].value);
        a.bo.threads = (int)u;
    }
    if (opts[O_MAX_WPS].seen && parse_rate(opts[O_MAX_WPS].value, &a.bo.max_writes_per_second))
        USAGE("Invalid value for '--max-writes-per-second': '%s'.", opts[O_MAX_WPS].value);
    if (opts[O_MAX_BPS].seen && parse_rate(opts[O_MAX_BPS].value, &a.bo.max_write_bytes_per_second))
        USAGE("Invalid value for '--max-write-bytes-per-second': '%s'.", opts[O_MAX_BPS].value);
    if (opts[O_RETRY].seen) {
        if (parse_u64(opts[O_RETRY].value, &u) || u > 1000)
            USAGE("Invalid value for '--shard-retry': '%s' (0..1000).", opts[O_RETRY].value);
        a.bo.shard_retry_max = (unsigned)u;
    }
    if (opts[O_RETRY_BACKOFF].seen &&
        (parse_rate(opts[O_RETRY_BACKOFF].value, &a.bo.shard_retry_backoff_s) || a.bo.shard_retry_backoff_s > 3600))
        USAGE("Invalid value for '--shard-retry-backoff': '%s' (seconds, 0..3600).", opts[O_RETRY_BACKOFF].value);
    if (opts[O_MEM].seen && (parse_size(opts[O_MEM].value, &a.bo.memory_limit) || a.bo.memory_limit == 0))
        USAGE("Invalid value for '--memory-limit': '%s' (bytes, optional K/M/G suffix).", opts[O_MEM].value);
    if (opts[O_SKIP_BAD].seen && parse_u64(opts[O_SKIP_BAD].value, &a.skip_bad))
        USAGE("Invalid value for '--skip-bad-rows': '%s'.", opts[O_SKIP_BAD].value);
    if (opts[O_PAGE_SIZE].seen) {
        if (!strcmp(opts[O_PAGE_SIZE].value, "auto")) a.bo.page_size = -1;
        else if (parse_u64(opts[O_PAGE_SIZE].value, &u) || u < 4096 || u > 65536 || (u & (u - 1)))
            USAGE("Invalid value for '--page-size': '%s' (4096..65536, a power of two, or auto).", opts[O_PAGE_SIZE].value);
        else a.bo.page_size = (int)u;
    }
    a.bo.prefix = opts[O_PREFIX].value;
    a.bo.run_id = opts[O_RUN_ID].value;
    a.bo.local_dir = opts[O_LOCAL_DIR].value;
    a.bo.custom_json = opts[O_CUSTOM].value;
    a.bo.key_col = a.io.key_col;
    a.bo.progress = opts[O_PROGRESS].seen || isatty(STDERR_FILENO);
    const char *path = a.input;
    if (a.max_keys) {
        uint64_t rows;
        if (!strcmp(path, "-")) {
            if (spool_stdin(spool, sizeof spool)) {
                rc = cli_fail("cannot copy stdin to %s for counting: %s", spool, strerror(errno));
                goto done;
            }
            path = spool;
        }
        if ((rc = count_rows(path, &a.io, &rows))) goto done;
        a.bo.num_dbs = shardy_num_dbs_for_rows(rows, a.max_keys);
    }
    if (opts[O_INFER].seen) {
        if (!strcmp(path, "-")) {
            if (spool_stdin(spool, sizeof spool)) {
                rc = cli_fail("cannot copy stdin to %s: %s", spool, strerror(errno));
                goto done;
            }
            path = spool;
        }
        if ((rc = infer_values(&a, path))) goto done;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = run_rows(ctx, &a, path);
#undef USAGE
done:
    if (spool[0] && strcmp(spool, "-")) unlink(spool);
    if (a.rv && !a.rv_text)
        for (size_t i = 0; i < a.bo.n_routing_values; i++) sy_free(a.rv[i]);
    free(a.rv);
    free(a.rv_text);
    free(jcols);
    free(jcols_text);
    free(pos);
    cli_opts_free(opts);
    return rc;
}
