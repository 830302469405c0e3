/*
 * snapfix.h — test fixture: publishes small snapshots with the lower-level pieces (shard writer,
 * manifest builder, _CURRENT serialiser, object store), the way a writer would (spec formats
 * §1.5): shards first, then the manifest, then _CURRENT. Shared by tests/c/test_reader.c and the
 * CLI tests' generator tests/tools/make_snapshot.c. Header-only (static functions).
 */
#ifndef SHARDY_TEST_SNAPFIX_H
#define SHARDY_TEST_SNAPFIX_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "route/key.h"
#include "shard/shard.h"
#include "shardy.h"
#include "snapshot/current.h"
#include "snapshot/layout.h"
#include "snapshot/manifest.h"
#include "store/store.h"

typedef struct fx_row {
    shardy_key key;
    const void *v;
    size_t vn;
} fx_row;

typedef struct fx_snap {
    const char *prefix;        /* snapshot root URL (file:// or mem://) */
    const char *stage;         /* local dir for shard files before upload */
    const char *run_id;
    int64_t ts_us;             /* manifest dir timestamp; created_at = ts_us too */
    uint32_t num_dbs;
    shardy_key_encoding enc;
    const fx_row *rows;
    size_t n;
    int set_current;           /* 1: write _CURRENT pointing at the manifest */
    int strategy_cel;          /* 1: a CEL manifest (readers must refuse it) */
    const char *custom_json;   /* NULL or a JSON object text for `custom` */
} fx_snap;

static inline int64_t fx_ts(const char *iso) {
    int64_t us = 0;
    if (sy_time_parse_iso(iso, &us) != SHARDY_OK) fprintf(stderr, "fixture: bad timestamp %s\n", iso);
    return us;
}

/* Writes _CURRENT under prefix pointing at ref. */
static inline shardy_status fx_set_current(sy_store *store, const char *prefix, const char *ref, const char *run_id) {
    sy_buf b = SY_BUF_INIT;
    char *cur = NULL;
    shardy_status st = sy_layout_current_url(prefix, &cur);
    if (!st) st = sy_current_serialize(ref, run_id, sy_now_us(), &b);
    if (!st) st = sy_store_put(store, cur, b.data, b.len, SY_CURRENT_CONTENT_TYPE);
    sy_buf_free(&b);
    sy_free(cur);
    return st;
}

/* Publishes the snapshot; *ref_out (sy_free) gets the manifest URL. Returns a status; on failure
 * prints shardy_errmsg() to stderr. */
static inline shardy_status fx_publish(sy_store *store, const fx_snap *sn, char **ref_out) {
    shardy_status st = SHARDY_OK;
    sy_manifest *m = sy_manifest_new();
    sy_shard_writer **w = calloc(sn->num_dbs, sizeof *w);
    uint64_t *rows = calloc(sn->num_dbs, sizeof *rows);
    int *have_min = calloc(sn->num_dbs, sizeof *have_min);
    shardy_key *mins = calloc(sn->num_dbs, sizeof *mins), *maxs = calloc(sn->num_dbs, sizeof *maxs);
    char *ref = NULL, *path = NULL, *db_url = NULL, *obj = NULL;
    sy_buf img = SY_BUF_INIT;
    *ref_out = NULL;
    if (!m || !w || !rows || !have_min || !mins || !maxs) {
        st = SHARDY_ENOMEM;
        goto done;
    }
    m->run_id = sy_strdup(sn->run_id);
    m->created_at_us = sn->ts_us;
    m->num_dbs = sn->num_dbs;
    m->s3_prefix = sy_strdup(sn->prefix);
    m->key_col = sy_strdup("_key");
    m->db_path_template = sy_strdup(SY_LAYOUT_DEFAULT_DB_TEMPLATE);
    m->shard_prefix = sy_strdup(SY_LAYOUT_DEFAULT_SHARD_PREFIX);
    m->key_encoding = sn->enc;
    if (sn->custom_json) {
        json_object_put(m->custom);
        m->custom = json_tokener_parse(sn->custom_json);
    }
    if (sn->strategy_cel) {
        m->sharding.strategy = SY_STRATEGY_CEL;
        m->sharding.cel_expr = sy_strdup("shard_hash(key) % 4u");
        SY_TRY(sy_sharding_add_cel_column(&m->sharding, "key", "int"));
    }
    for (size_t i = 0; i < sn->n; i++) {
        const fx_row *r = &sn->rows[i];
        uint64_t db = 0;
        unsigned char kb[8];
        const void *kp = NULL;
        size_t kn = 0;
        SY_TRY(shardy_route_hash(&r->key, sn->num_dbs, &db, NULL));
        SY_TRY(sy_key_encoded(sn->enc, SHARDY_ENCODE_WRITE, &r->key, kb, &kp, &kn));
        if (!w[db]) {
            sy_free(path);
            path = sy_asprintf("%s/%s-%u.db", sn->stage, sn->run_id, (unsigned)db);
            if (!path) {
                st = SHARDY_ENOMEM;
                goto done;
            }
            SY_TRY(sy_shard_writer_open(path, NULL, &w[db]));
        }
        SY_TRY(sy_shard_writer_put(w[db], kp, kn, r->v, r->vn));
        rows[db]++;
        if (!have_min[db]) mins[db] = maxs[db] = r->key, have_min[db] = 1;
        maxs[db] = r->key; /* callers add keys in ascending order per shard */
    }
    for (uint32_t db = 0; db < sn->num_dbs; db++) {
        if (!w[db]) continue;
        uint64_t bytes = 0;
        sy_shard *sh = NULL;
        SY_TRY(sy_shard_writer_seal(w[db], &bytes));
        SY_TRY(sy_layout_shard_url(sn->prefix, SY_LAYOUT_DEFAULT_SHARD_PREFIX, sn->run_id,
                                   SY_LAYOUT_DEFAULT_DB_TEMPLATE, db, 0, &db_url));
        obj = sy_asprintf("%s/shard.db", db_url);
        SY_TRY(sy_store_put_file(store, obj, sy_shard_writer_path(w[db]), NULL));
        unlink(sy_shard_writer_path(w[db]));
        SY_TRY(sy_manifest_add_shard(m, &sh));
        sh->db_id = db;
        sh->db_url = db_url;
        db_url = NULL;
        sh->row_count = (int64_t)rows[db];
        sh->db_bytes = (int64_t)bytes;
        sh->checkpoint_id = sy_strdup("0123456789abcdef0123456789abcdef");
        SY_TRY(sy_shard_set_key_range(sh, &mins[db], &maxs[db]));
        sy_free(obj);
        obj = NULL;
    }
    SY_TRY(sy_layout_manifest_url(sn->prefix, sn->run_id, sn->ts_us, &ref));
    SY_TRY(sy_manifest_serialize(m, ref, &img));
    SY_TRY(sy_store_put(store, ref, img.data, img.len, SY_MANIFEST_CONTENT_TYPE));
    if (sn->set_current) SY_TRY(fx_set_current(store, sn->prefix, ref, sn->run_id));
    *ref_out = ref;
    ref = NULL;
done:
    if (st) fprintf(stderr, "fixture: publish %s failed: %s\n", sn->run_id, shardy_errmsg());
    for (uint32_t db = 0; w && db < sn->num_dbs; db++) sy_shard_writer_close(&w[db]);
    sy_buf_free(&img);
    sy_manifest_free(&m);
    free(w);
    free(rows);
    free(have_min);
    free(mins);
    free(maxs);
    sy_free(path);
    sy_free(ref);
    sy_free(db_url);
    sy_free(obj);
    return st;
}

/* Writes a manifest object that is not a valid manifest (fails the magic check). */
static inline shardy_status fx_put_garbage_manifest(sy_store *store, const char *prefix, const char *run_id,
                                                    int64_t ts_us, char **ref_out) {
    char *ref = NULL;
    shardy_status st = sy_layout_manifest_url(prefix, run_id, ts_us, &ref);
    if (!st) st = sy_store_put(store, ref, "not a sqlite manifest", 21, NULL);
    if (st) {
        sy_free(ref);
        ref = NULL;
    }
    *ref_out = ref;
    return st;
}

#endif
