/* args.c — the option parser, help and error printing of the shardy CLI; see cli.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static cli_opt *find_opt(cli_opt *opts, const char *name, size_t n) {
    for (cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && !strncmp(o->name, name, n)) return o;
    return NULL;
}

static int add_value(cli_opt *o, const char *v) {
    const char **nv = realloc(o->values, (o->nvalues + 2) * sizeof *nv);
    if (!nv) return -1;
    o->values = nv;
    o->values[o->nvalues++] = v;
    o->values[o->nvalues] = NULL;
    o->value = v;
    return 0;
}

static int looks_negative_number(const char *a) {
    return a[0] == '-' && (isdigit((unsigned char)a[1]) || (a[1] == '.' && isdigit((unsigned char)a[2])));
}

int cli_parse(cli_ctx *ctx, const cli_cmd *cmd, cli_opt *opts, int argc, char **argv, char ***pos, size_t *npos,
              int *help) {
    char **p = calloc((size_t)argc + 1, sizeof *p);
    size_t np = 0;
    int only_pos = 0;
    *help = 0;
    if (!p) return cli_fail("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0' || looks_negative_number(a)) {
            p[np++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            continue;
        }
        if (a[1] != '-') {
            free(p);
            return cli_usage_error(ctx, cmd, "No such option: %s", a);
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = find_opt(opts, name, n);
        if (!o) {
            free(p);
            return cli_usage_error(ctx, cmd, "No such option: --%.*s", (int)n, name);
        }
        o->seen++;
        if (!o->has_arg) {
            if (eq) {
                free(p);
                return cli_usage_error(ctx, cmd, "Option '--%s' does not take a value.", o->name);
            }
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                free(p);
                return cli_usage_error(ctx, cmd, "Option '--%s' requires an argument.", o->name);
            }
            v = argv[++i];
        }
        if (add_value(o, v)) {
            free(p);
            return cli_fail("out of memory");
        }
    }
    *pos = p;
    *npos = np;
    return CLI_OK;
}

void cli_opts_free(cli_opt *opts) {
    for (cli_opt *o = opts; o && o->name; o++) {
        free(o->values);
        o->values = NULL;
        o->nvalues = 0;
    }
}

void cli_print_help(const cli_ctx *ctx, const cli_cmd *cmd, const cli_opt *opts) {
    printf("Usage: %s %s %s\n\n  %s\n\nOptions:\n", ctx->prog, cmd->name, cmd->args_usage, cmd->summary);
    for (const cli_opt *o = opts; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->name, o->has_arg ? " VALUE" : "");
        printf("  %-28s %s\n", left, o->help);
    }
    printf("  %-28s %s\n", "-h, --help", "Show this message and exit.");
}

int cli_usage_error(const cli_ctx *ctx, const cli_cmd *cmd, const char *fmt, ...) {
    va_list ap;
    if (cmd)
        fprintf(stderr, "Usage: %s %s %s\nTry '%s %s --help' for help.\n\n", ctx->prog, cmd->name, cmd->args_usage,
                ctx->prog, cmd->name);
    else
        fprintf(stderr, "Usage: %s [OPTIONS] COMMAND [ARGS]...\nTry '%s --help' for help.\n\n", ctx->prog, ctx->prog);
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

int cli_fail(const char *fmt, ...) {
    va_list ap;
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_parse_int_key(const char *text, shardy_key *out) {
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (!isdigit((unsigned char)*s)) return -1;
    uint64_t v = 0;
    int overflow = 0, prev_digit = 0;
    for (; *s && !isspace((unsigned char)*s); s++) {
        if (*s == '_') {
            if (!prev_digit || !isdigit((unsigned char)s[1])) return -1;
            prev_digit = 0;
            continue;
        }
        if (!isdigit((unsigned char)*s)) return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) overflow = 1;
        else v = v * 10 + d;
        prev_digit = 1;
    }
    while (isspace((unsigned char)*s)) s++;
    if (*s) return -1;
    /* Python int() refuses leading zeros only in literals, not in int("007"); accept them. */
    if (overflow) return -2;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return -2;
        *out = shardy_key_int(v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v);
    } else if (v > (uint64_t)INT64_MAX) {
        *out = shardy_key_uint(v);
    } else {
        *out = shardy_key_int((int64_t)v);
    }
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cli_parse_hex(const char *text, unsigned char **out, size_t *len) {
    if (!strncmp(text, "0x", 2) || !strncmp(text, "0X", 2)) text += 2;
    size_t n = strlen(text);
    if (n % 2) return -1;
    unsigned char *b = malloc(n / 2 + 1);
    if (!b) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -1;
        }
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    *out = b;
    *len = n / 2;
    return 0;
}
