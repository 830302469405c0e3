/* output.c — rendering of CLI result objects in jsonl, json, text and table (reader-cli §7.6). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/json.h"

static const char *str_field(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* Text template for ops that have one; returns 0 if the op has no template. */
static int render_text(json_object *r, sy_buf *out) {
    json_object *err;
    shardy_status st = SHARDY_OK;
    if (json_object_object_get_ex(r, "error", &err)) {
        st = sy_buf_printf(out, "error: %s", json_object_get_string(err));
        return st ? -1 : 1;
    }
    const char *op = str_field(r, "op");
    if (!strcmp(op, "hash")) {
        st = sy_buf_printf(out, "%s -> shard %s  digest=%s (%s)", str_field(r, "key"), str_field(r, "db_id"),
                           str_field(r, "digest"), str_field(r, "digest_decimal"));
        return st ? -1 : 1;
    }
    return 0;
}

int cli_emit(cli_ctx *ctx, json_object *result) {
    sy_buf out = SY_BUF_INIT;
    shardy_status st = SHARDY_OK;
    int done = 0;
    if (ctx->format == CLI_FMT_TEXT || ctx->format == CLI_FMT_TABLE) {
        done = render_text(result, &out);
        if (done < 0) st = SHARDY_ENOMEM;
    }
    if (!done) {
        int flags = SY_JSON_NO_SORT | SY_JSON_RAW_UTF8;
        if (ctx->format != CLI_FMT_JSONL) flags |= SY_JSON_INDENT2;
        st = sy_json_dump(result, flags, &out);
    }
    if (!st) st = sy_buf_putc(&out, '\n');
    json_object_put(result);
    if (st) {
        sy_buf_free(&out);
        return cli_fail("cannot render result: %s", shardy_errmsg());
    }
    fwrite(out.data, 1, out.len, stdout);
    sy_buf_free(&out);
    return fflush(stdout) == 0 ? CLI_OK : cli_fail("cannot write to stdout");
}
