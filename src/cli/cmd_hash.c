/* cmd_hash.c — `shardy hash`: offline HASH routing of one key (no snapshot needed). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int run_hash(cli_ctx *ctx, int argc, char **argv) {
    cli_opt opts[] = {
        {"num-dbs", 1, "Number of shards N (> 0). Required.", 0, NULL, NULL, 0},
        {"str", 0, "KEY is a string (hashed as its UTF-8 bytes).", 0, NULL, NULL, 0},
        {"hex", 0, "KEY is hex-encoded bytes (e.g. fffe0001).", 0, NULL, NULL, 0},
        {NULL, 0, NULL, 0, NULL, NULL, 0},
    };
    char **pos = NULL;
    size_t npos = 0;
    int help = 0, rc;
    unsigned char *bytes = NULL;
    rc = cli_parse(ctx, &cli_cmd_hash, opts, argc, argv, &pos, &npos, &help);
    if (rc) goto done;
    if (help) {
        cli_print_help(ctx, &cli_cmd_hash, opts);
        goto done;
    }
    if (!opts[0].seen) {
        rc = cli_usage_error(ctx, &cli_cmd_hash, "Missing option '--num-dbs'.");
        goto done;
    }
    if (opts[1].seen && opts[2].seen) {
        rc = cli_usage_error(ctx, &cli_cmd_hash, "--str and --hex are mutually exclusive.");
        goto done;
    }
    if (npos != 1) {
        rc = cli_usage_error(ctx, &cli_cmd_hash, npos ? "Got unexpected extra argument (%s)" : "Missing argument 'KEY'.",
                             npos ? pos[1] : "");
        goto done;
    }
    char *end = NULL;
    const char *nd = opts[0].value;
    unsigned long long num_dbs = strtoull(nd, &end, 10);
    if (!*nd || *end || nd[0] == '-' || num_dbs == 0 || num_dbs > UINT32_MAX) {
        rc = cli_usage_error(ctx, &cli_cmd_hash, "Invalid value for '--num-dbs': '%s' is not an integer in 1..%u.", nd,
                             (unsigned)UINT32_MAX);
        goto done;
    }
    const char *text = pos[0];
    shardy_key key;
    if (opts[1].seen) {
        key = shardy_key_str(text, strlen(text));
    } else if (opts[2].seen) {
        size_t n;
        if (cli_parse_hex(text, &bytes, &n)) {
            rc = cli_usage_error(ctx, &cli_cmd_hash, "Key '%s' is not valid hex (even number of 0-9a-f digits).", text);
            goto done;
        }
        key = shardy_key_bytes(bytes, n);
    } else {
        int r = cli_parse_int_key(text, &key);
        if (r) {
            rc = cli_fail(r == -1 ? "Key '%s' is not a valid integer (use --str or --hex for other key types)"
                                  : "Key '%s' is out of the 64-bit integer range",
                          text);
            goto done;
        }
    }
    uint64_t db_id = 0, digest = 0;
    if (shardy_route_hash(&key, num_dbs, &db_id, &digest) != SHARDY_OK) {
        rc = cli_fail("%s", shardy_errmsg());
        goto done;
    }
    char hex[32], dec[32];
    snprintf(hex, sizeof hex, "0x%016" PRIx64, digest);
    snprintf(dec, sizeof dec, "%" PRIu64, digest);
    json_object *r = json_object_new_object();
    json_object_object_add(r, "op", json_object_new_string("hash"));
    json_object_object_add(r, "key", json_object_new_string(text));
    json_object_object_add(r, "key_type",
                           json_object_new_string(opts[1].seen ? "str" : opts[2].seen ? "bytes" : "int"));
    json_object_object_add(r, "num_dbs", json_object_new_uint64(num_dbs));
    json_object_object_add(r, "db_id", json_object_new_uint64(db_id));
    json_object_object_add(r, "digest", json_object_new_string(hex));
    json_object_object_add(r, "digest_decimal", json_object_new_uint64(digest));
    rc = cli_emit(ctx, r);
done:
    free(bytes);
    free(pos);
    cli_opts_free(opts);
    return rc;
}

const cli_cmd cli_cmd_hash = {
    "hash",
    "--num-dbs N [--str | --hex] KEY",
    "Print the shard (db_id) and xxh3_64 digest HASH routing assigns to KEY; KEY is an integer unless --str or "
    "--hex is given. Works offline, without a snapshot.",
    run_hash,
};
