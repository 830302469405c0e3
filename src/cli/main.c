/* main.c — `shardy` entry point: global flags, subcommand dispatch, top-level help. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

static const cli_cmd *const COMMANDS[] = {&cli_cmd_build, &cli_cmd_hash};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_main_help(const cli_ctx *ctx) {
    printf("Usage: %s [OPTIONS] COMMAND [ARGS]...\n\n"
           "  shardy: build and query sharded key-value snapshots on object storage.\n\n"
           "Options:\n"
           "  --output-format [json|jsonl|table|text]  Result format (default jsonl).\n"
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

int main(int argc, char **argv) {
    cli_ctx ctx = {CLI_FMT_JSONL, "shardy"};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_main_help(&ctx);
            return CLI_OK;
        }
        if (!strcmp(a, "--version")) {
            printf("shardy, version %s\n", shardy_version());
            return CLI_OK;
        }
        if (!strncmp(a, "--output-format", 15) && (a[15] == '\0' || a[15] == '=')) {
            const char *v = a[15] == '=' ? a + 16 : (i + 1 < argc ? argv[++i] : NULL);
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
        if (!strcmp(argv[i], COMMANDS[c]->name)) return COMMANDS[c]->run(&ctx, argc - i, argv + i);
    return cli_usage_error(&ctx, NULL, "No such command '%s'.", argv[i]);
}
