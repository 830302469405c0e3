/* s3opts.c — the CLI's S3 settings: --s3-option (repeatable) and --credentials / SHARDY_CREDENTIALS
 * (spec reader-cli §7.1, §7.2, §8.2), turned into the s3_options / credentials_file fields of the
 * library's build and reader options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "store/s3.h"

/* Also referenced from here so that an early exit from main does not count as a leak. */
static const char **g_s3_options;

int cli_s3_add_option(cli_ctx *ctx, const char *arg, int argc) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return cli_usage_error(ctx, NULL, "--s3-option must be KEY=VALUE, got: '%s'", arg);
    /* Typed values are checked now (no I/O), so a bad one is a usage error before any work. */
    sy_s3_opts o;
    sy_s3_opts_init(&o);
    shardy_status st = sy_s3_opts_parse(&o, arg);
    sy_s3_opts_free(&o);
    if (st != SHARDY_OK) return cli_usage_error(ctx, NULL, "%s", shardy_errmsg());
    if (!ctx->s3_options) {
        ctx->s3_options = g_s3_options = calloc((size_t)argc + 1, sizeof *ctx->s3_options);
        if (!ctx->s3_options) return cli_fail("out of memory");
    }
    ctx->s3_options[ctx->n_s3_options++] = arg;
    return CLI_OK;
}

int cli_s3_setup(cli_ctx *ctx) {
    char *warning = NULL;
    sy_s3_opts o;
    if (ctx->s3_ready) return CLI_OK;
    if (sy_s3_credentials_file(ctx->credentials, &ctx->credentials_file) != SHARDY_OK)
        return cli_fail("%s", shardy_errmsg());
    if (ctx->credentials_file) {
        /* Loaded here once to report errors early and print the permission warning; the library
         * loads it again when it opens its store. */
        sy_s3_opts_init(&o);
        shardy_status st = sy_s3_opts_load_profile(&o, ctx->credentials_file, NULL, &warning);
        sy_s3_opts_free(&o);
        if (warning) {
            fprintf(stderr, "%s\n", warning);
            sy_free(warning);
        }
        if (st != SHARDY_OK) return cli_fail("%s", shardy_errmsg());
    }
    ctx->s3_ready = 1;
    return CLI_OK;
}

void cli_s3_reader_opts(const cli_ctx *ctx, shardy_reader_opts *o) {
    o->s3_options = ctx->s3_options;
    o->n_s3_options = ctx->n_s3_options;
    o->credentials_file = ctx->credentials_file;
}

void cli_s3_build_opts(const cli_ctx *ctx, shardy_build_opts *o) {
    o->s3_options = ctx->s3_options;
    o->n_s3_options = ctx->n_s3_options;
    o->credentials_file = ctx->credentials_file;
}

void cli_s3_free(cli_ctx *ctx) {
    free(ctx->s3_options);
    ctx->s3_options = g_s3_options = NULL;
    ctx->n_s3_options = 0;
    sy_free(ctx->credentials_file);
    ctx->credentials_file = NULL;
}
