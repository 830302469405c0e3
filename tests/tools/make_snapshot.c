/*
 * make_snapshot.c — test-only generator of small snapshots for the CLI tests (tests/cli/test_read.sh).
 *
 *   make_snapshot PREFIX KIND RUN_ID TIMESTAMP [--no-current]
 *
 * PREFIX is a local directory or file:// URL; TIMESTAMP an ISO-8601 UTC time used for the
 * manifest directory and created_at. KIND:
 *   u64be, u32be  3 shards, integer keys 0..9: 0 → "run=<RUN_ID>", 1 → "one",
 *                 2 → "h\u00e9llo" (UTF-8), 3 → bytes ff fe 41, others "value-<k>"
 *   utf8, raw     3 shards, keys alice, bob, h\u00e9llo, \u65e5\u672c → "A", "B", "H", "J"
 *   empty         4 shards, no rows
 *   garbage       a manifest object that is not a manifest
 * Prints the manifest URL. _CURRENT is pointed at it unless --no-current. Exit 1 on failure.
 */
#include "snapfix.h"

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s PREFIX KIND RUN_ID TIMESTAMP [--no-current]\n", argv[0]);
        return 2;
    }
    const char *kind = argv[2], *run_id = argv[3];
    int set_current = !(argc > 5 && !strcmp(argv[5], "--no-current"));
    int64_t ts = fx_ts(argv[4]);
    char *prefix = NULL, *ref = NULL, stage[] = "/tmp/shardy-mksnap-XXXXXX";
    sy_store *store = NULL;
    shardy_status st = sy_url_normalize(argv[1], &prefix);
    if (!st) st = sy_store_open(prefix, &store);
    if (st || !mkdtemp(stage)) {
        fprintf(stderr, "make_snapshot: %s\n", shardy_errmsg());
        return 1;
    }
    fx_row rows[10];
    char text[10][160];
    size_t n = 0;
    uint32_t num_dbs = 3;
    shardy_key_encoding enc = SHARDY_KEYENC_U64BE;
    if (!strcmp(kind, "u64be") || !strcmp(kind, "u32be")) {
        enc = !strcmp(kind, "u32be") ? SHARDY_KEYENC_U32BE : SHARDY_KEYENC_U64BE;
        for (int k = 0; k < 10; k++, n++) {
            if (k == 0) snprintf(text[k], sizeof text[k], "run=%.128s", run_id);
            else snprintf(text[k], sizeof text[k], "value-%d", k);
            rows[k].key = shardy_key_int(k);
            rows[k].v = k == 1 ? "one" : k == 2 ? "h\xc3\xa9llo" : k == 3 ? "\xff\xfe" "A" : text[k];
            rows[k].vn = strlen(rows[k].v);
        }
    } else if (!strcmp(kind, "utf8") || !strcmp(kind, "raw")) {
        static const char *keys[] = {"alice", "bob", "h\xc3\xa9llo", "\xe6\x97\xa5\xe6\x9c\xac"};
        static const char *vals[] = {"A", "B", "H", "J"};
        enc = !strcmp(kind, "raw") ? SHARDY_KEYENC_RAW : SHARDY_KEYENC_UTF8;
        for (; n < 4; n++) {
            rows[n].key = shardy_key_str(keys[n], strlen(keys[n]));
            rows[n].v = vals[n];
            rows[n].vn = 1;
        }
    } else if (!strcmp(kind, "empty")) {
        num_dbs = 4;
    } else if (!strcmp(kind, "garbage")) {
        st = fx_put_garbage_manifest(store, prefix, run_id, ts, &ref);
        if (!st && set_current) st = fx_set_current(store, prefix, ref, run_id);
        goto done;
    } else {
        fprintf(stderr, "make_snapshot: unknown kind %s\n", kind);
        st = SHARDY_EINVAL;
        goto done;
    }
    fx_snap sn = {prefix, stage, run_id, ts, num_dbs, enc, rows, n, set_current, 0, NULL};
    st = fx_publish(store, &sn, &ref);
done:
    if (!st) printf("%s\n", ref);
    else fprintf(stderr, "make_snapshot: %s\n", shardy_errmsg());
    rmdir(stage);
    sy_free(ref);
    sy_free(prefix);
    sy_store_close(&store);
    return st ? 1 : 0;
}
