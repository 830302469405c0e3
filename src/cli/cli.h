/*
 * cli.h — shared pieces of the `shardy` command-line tool: the tiny option parser, result output
 * in the four formats of spec reader-cli §7.6, and the exit-code conventions of §7.8
 * (0 ok, 1 operation error "Error: <msg>" on stderr, 2 usage error).
 */
#ifndef SHARDY_CLI_H
#define SHARDY_CLI_H

#include <json-c/json.h>
#include <stddef.h>

#include "shardy.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef enum cli_format { CLI_FMT_JSONL = 0, CLI_FMT_JSON, CLI_FMT_TABLE, CLI_FMT_TEXT } cli_format;

/* Value encodings of get/multiget results (§7.6). */
typedef enum cli_venc { CLI_VENC_BASE64 = 0, CLI_VENC_UTF8, CLI_VENC_HEX } cli_venc;

typedef struct cli_ctx {
    cli_format format;
    const char *prog; /* "shardy" */
    /* Global reader flags (§7.1); validated lazily by the commands that open a reader. */
    const char *current_url; /* --current-url (NULL → $SHARDY_CURRENT) */
    const char *ref;         /* --ref */
    const char *offset;      /* --offset text */
    cli_venc value_encoding; /* --value-encoding */
    /* S3 settings (§7.1, §8.2; s3opts.c), applied to every command that opens a store. */
    const char **s3_options;  /* --s3-option KEY=VALUE, in order (checked when parsed) */
    size_t n_s3_options;
    const char *credentials;  /* --credentials PATH */
    char *credentials_file;   /* resolved by cli_s3_setup (§7.2 search order); NULL = ambient */
    int s3_ready;
} cli_ctx;

/* One option of a subcommand. has_arg: 0 flag, 1 takes a value. Repeated values are collected. */
typedef struct cli_opt {
    const char *name; /* long name without "--" */
    int has_arg;
    const char *help;
    /* filled by cli_parse */
    int seen;
    const char *value;    /* last value */
    const char **values;  /* every value (repeatable options), NULL-terminated, owned by parser */
    size_t nvalues;
} cli_opt;

typedef struct cli_cmd {
    const char *name;
    const char *args_usage; /* e.g. "--num-dbs N [--str|--hex] KEY" */
    const char *summary;
    int (*run)(cli_ctx *ctx, int argc, char **argv);
} cli_cmd;

/* Parses argv[1..argc) against opts. Positional arguments (including negative numbers such as -1,
 * and everything after "--") are collected into *pos / *npos (pointers into argv; free *pos with
 * free()). "--help"/"-h" sets *help. Returns CLI_OK or CLI_USAGE after printing the error. */
int cli_parse(cli_ctx *ctx, const cli_cmd *cmd, cli_opt *opts, int argc, char **argv, char ***pos, size_t *npos,
              int *help);
void cli_opts_free(cli_opt *opts);
/* Prints "Usage: shardy <cmd> <args>" + option help to stdout. */
void cli_print_help(const cli_ctx *ctx, const cli_cmd *cmd, const cli_opt *opts);
/* Usage error: "Usage: ..." and "Error: <msg>" on stderr; returns CLI_USAGE. */
int cli_usage_error(const cli_ctx *ctx, const cli_cmd *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Operation error "Error: <msg>" on stderr; returns CLI_FAIL. */
int cli_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Prints a result object (json-c object with "op" first) on stdout in ctx->format. Takes ownership. */
int cli_emit(cli_ctx *ctx, json_object *result);
/* Prints an error result {op, error[, key]} on stderr in ctx->format; returns CLI_FAIL. */
int cli_emit_error(cli_ctx *ctx, const char *op, const char *message, const char *key);

/* Parses an integer with Python int() syntax (surrounding whitespace, sign, '_' between digits).
 * Returns 0 and sets *out (type SHARDY_KEY_INT, or SHARDY_KEY_UINT above INT64_MAX); -1 if the text
 * is not an integer; -2 if it is an integer outside [-2^63, 2^64-1]. */
int cli_parse_int_key(const char *text, shardy_key *out);

/* Decodes hex text (even length, [0-9a-fA-F], optional 0x prefix) into a malloc'd buffer. */
int cli_parse_hex(const char *text, unsigned char **out, size_t *len);

/* --s3-option / --credentials (s3opts.c). cli_s3_add_option checks one --s3-option (usage error
 * "--s3-option must be KEY=VALUE, got: '...'" or the coercion error; returns CLI_OK/CLI_USAGE).
 * cli_s3_setup resolves and loads the credentials file once (lazily: only commands that open a
 * store call it), printing its permission warning on stderr; CLI_FAIL on a missing/bad file.
 * cli_s3_reader_opts / cli_s3_build_opts copy the settings into the library's option structs. */
int cli_s3_add_option(cli_ctx *ctx, const char *arg, int argc);
int cli_s3_setup(cli_ctx *ctx);
void cli_s3_reader_opts(const cli_ctx *ctx, shardy_reader_opts *o);
void cli_s3_build_opts(const cli_ctx *ctx, shardy_build_opts *o);
void cli_s3_free(cli_ctx *ctx);

extern const cli_cmd cli_cmd_hash;
extern const cli_cmd cli_cmd_build;
/* Read commands (cmd_read.c). */
extern const cli_cmd cli_cmd_get;
extern const cli_cmd cli_cmd_multiget;
extern const cli_cmd cli_cmd_info;
extern const cli_cmd cli_cmd_shards;
extern const cli_cmd cli_cmd_route;
extern const cli_cmd cli_cmd_history;

#endif
