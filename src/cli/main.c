/* main.c — `shardy` entry point: global flags, subcommand dispatch, top-level help. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

static const cli_cmd *const COMMANDS[] = {&cli_cmd_build, &cli_cmd_get,   &cli_cmd_multiget, &cli_cmd_info,
                                           &cli_cmd_shards, &cli_cmd_route, &cli_cmd_history,  &cli_cmd_hash};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_main_help(const cli_ctx *ctx) {
    printf("Usage: %s [OPTIONS] COMMAND [ARGS]...\n\n"
           "  shardy: build and query sharded key-value snapshots on object storage.\n\n"
           "Options:\n"
           "  --current-url URL                        _CURRENT URL or snapshot prefix (default $SHARDY_CURRENT).\n"
           "  --ref REF                                Pin reads to this manifest URL.\n"
           "  --offset N                               Pin reads to the N-th newest manifest (0 = newest).\n"
           "  --s3-option KEY=VALUE                    S3 connection option, repeatable (e.g. endpoint_url=URL).\n"
           "  --credentials PATH                       credentials.toml (default $SHARDY_CREDENTIALS, search).\n"
           "  --output-format [json|jsonl|table|text]  Result format (default jsonl).\n"
           "  --value-encoding [base64|utf8|hex]       How values are printed (default base64).\n"
           "  --version                                Show the version and exit.\n"
           "  -h, --help                               Show this message and exit.\n\n"
           "Commands:\n",
           ctx->prog);
    for (size_t i = 0; i < NCOMMANDS; i++) printf("  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
}

static int parse_format(const char *v, cli_format *out) {
    static const struct { const char *name; cli_format f; } F[] = {
        {"jsonl", CLI_FMT_JSONL}, {"json", CLI_FMT_JSON}, {"table", CLI_FMT_TABLE}, {"text", CLI_FMT_TEXT}};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++)
        if (!strcasecmp(v, F[i].name)) {
            *out = F[i].f;
            return 0;
        }
    return -1;
}

static int parse_venc(const char *v, cli_venc *out) {
    static const struct { const char *name; cli_venc e; } E[] = {
        {"base64", CLI_VENC_BASE64}, {"utf8", CLI_VENC_UTF8}, {"hex", CLI_VENC_HEX}};
    for (size_t i = 0; i < sizeof E / sizeof E[0]; i++)
        if (!strcasecmp(v, E[i].name)) {
            *out = E[i].e;
            return 0;
        }
    return -1;
}

/* Matches a global option taking a value ("--name V" or "--name=V"). Returns 1 and sets *v (NULL if
 * the value is missing), or 0 if argv[*i] is not this option. */
static int global_value(const char *name, int argc, char **argv, int *i, const char **v) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '=')) return 0;
    *v = a[n] == '=' ? a + n + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    return 1;
}

int main(int argc, char **argv) {
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.format = CLI_FMT_JSONL;
    ctx.prog = "shardy";
    ctx.value_encoding = CLI_VENC_BASE64;
    int i = 1, rc = CLI_OK;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *v = NULL;
        const char **slot = NULL;
        if (global_value("--current-url", argc, argv, &i, &v)) slot = &ctx.current_url;
        else if (global_value("--ref", argc, argv, &i, &v)) slot = &ctx.ref;
        else if (global_value("--offset", argc, argv, &i, &v)) slot = &ctx.offset;
        else if (global_value("--credentials", argc, argv, &i, &v)) slot = &ctx.credentials;
        if (slot) {
            if (!v) return cli_usage_error(&ctx, NULL, "Option '%s' requires an argument.", a);
            *slot = v;
            continue;
        }
        if (global_value("--s3-option", argc, argv, &i, &v)) {
            if (!v) return cli_usage_error(&ctx, NULL, "Option '--s3-option' requires an argument.");
            if ((rc = cli_s3_add_option(&ctx, v, argc))) goto out;
            continue;
        }
        if (global_value("--value-encoding", argc, argv, &i, &v)) {
            if (!v) return cli_usage_error(&ctx, NULL, "Option '--value-encoding' requires an argument.");
            if (parse_venc(v, &ctx.value_encoding))
                return cli_usage_error(&ctx, NULL,
                                       "Invalid value for '--value-encoding': '%s' is not one of 'base64', 'utf8', "
                                       "'hex'.",
                                       v);
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_main_help(&ctx);
            return CLI_OK;
        }
        if (!strcmp(a, "--version")) {
            printf("shardy, version %s\n", shardy_version());
            return CLI_OK;
        }
        if (global_value("--output-format", argc, argv, &i, &v)) {
            if (!v) return cli_usage_error(&ctx, NULL, "Option '--output-format' requires an argument.");
            if (parse_format(v, &ctx.format))
                return cli_usage_error(&ctx, NULL,
                                       "Invalid value for '--output-format': '%s' is not one of 'json', 'jsonl', "
                                       "'table', 'text'.",
                                       v);
            continue;
        }
        return cli_usage_error(&ctx, NULL, "No such option: %s", a);
    }
    if (i >= argc) {
        print_main_help(&ctx);
        return CLI_OK;
    }
    for (size_t c = 0; c < NCOMMANDS; c++)
        if (!strcmp(argv[i], COMMANDS[c]->name)) {
            rc = COMMANDS[c]->run(&ctx, argc - i, argv + i);
            goto out;
        }
    rc = cli_usage_error(&ctx, NULL, "No such command '%s'.", argv[i]);
out:
    cli_s3_free(&ctx);
    return rc;
}
