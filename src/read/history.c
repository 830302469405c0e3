/*
 * history.c — published manifests of a snapshot, newest first (spec formats §9, reader-cli §4.1).
 *
 * Lists the common prefixes under <prefix>/manifests/ (delimiter '/'), keeps the names matching
 * ^<TS>_run_id=<run_id>/?$ (sy_layout_parse_manifest_dir), sorts by the timestamp descending
 * (equal timestamps keep listing order, as Python's stable sort does) and names each entry's
 * manifest <prefix>/manifests/<dir>/manifest. Unparsable names are skipped silently; whether a
 * `manifest` object exists inside a directory is not checked (like Python).
 *
 * Failure behaviour: store errors propagate; on failure nothing is returned.
 * Thread-safe (no shared state).
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "read/read.h"
#include "snapshot/layout.h"
#include "store/s3.h"

typedef struct hist_item {
    shardy_manifest_entry e;
    size_t order; /* position in the listing (tie-break) */
} hist_item;

static int newest_first(const void *a, const void *b) {
    const hist_item *x = a, *y = b;
    if (x->e.published_us != y->e.published_us) return x->e.published_us > y->e.published_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void shardy_manifest_entries_free(shardy_manifest_entry **e, size_t n) {
    if (!e || !*e) return;
    for (size_t i = 0; i < n; i++) {
        sy_free((*e)[i].ref);
        sy_free((*e)[i].run_id);
    }
    sy_free(*e);
    *e = NULL;
}

shardy_status sy_read_list_manifests(sy_store *store, const char *prefix, size_t limit, shardy_manifest_entry **out,
                                     size_t *n) {
    shardy_status st = SHARDY_OK;
    char *mdir = NULL, *dir = NULL;
    sy_list l = {NULL, 0, 0};
    hist_item *items = NULL;
    size_t count = 0;
    *out = NULL;
    *n = 0;
    SY_TRY(sy_layout_manifests_prefix_url(prefix, &mdir));
    SY_TRY(sy_store_list_all(store, mdir, '/', &l));
    items = sy_calloc(l.n ? l.n : 1, sizeof *items);
    if (!items) {
        st = sy_err(SHARDY_ENOMEM, "out of memory listing %s", mdir);
        goto done;
    }
    size_t mlen = strlen(mdir);
    for (size_t i = 0; i < l.n; i++) {
        const char *url = l.items[i].url;
        if (!l.items[i].is_prefix || strncmp(url, mdir, mlen) != 0) continue;
        int64_t ts = 0;
        char *run_id = NULL;
        int r = sy_layout_parse_manifest_dir(url + mlen, &ts, &run_id);
        if (r < 0) {
            st = SHARDY_ENOMEM;
            goto done;
        }
        if (r == 0) continue;
        size_t dn = strlen(url + mlen);
        while (dn && url[mlen + dn - 1] == '/') dn--;
        dir = sy_strndup(url + mlen, dn);
        hist_item *it = &items[count];
        it->e.run_id = run_id;
        it->e.published_us = ts;
        it->order = i;
        count++;
        if (!dir) {
            st = sy_err(SHARDY_ENOMEM, "out of memory listing %s", mdir);
            goto done;
        }
        SY_TRY(sy_layout_manifest_url_from_dir(prefix, dir, &it->e.ref));
        sy_free(dir);
        dir = NULL;
    }
    qsort(items, count, sizeof *items, newest_first);
    size_t keep = limit && limit < count ? limit : count;
    shardy_manifest_entry *res = sy_calloc(keep ? keep : 1, sizeof *res);
    if (!res) {
        st = sy_err(SHARDY_ENOMEM, "out of memory listing %s", mdir);
        goto done;
    }
    for (size_t i = 0; i < keep; i++) {
        res[i] = items[i].e;
        items[i].e.ref = items[i].e.run_id = NULL;
    }
    *out = res;
    *n = keep;
done:
    for (size_t i = 0; items && i < count; i++) {
        sy_free(items[i].e.ref);
        sy_free(items[i].e.run_id);
    }
    sy_free(items);
    sy_free(dir);
    sy_free(mdir);
    sy_list_free(&l);
    return st;
}

shardy_status sy_history_store(sy_store *store, const char *current_url, size_t limit, shardy_manifest_entry **out,
                               size_t *n) {
    shardy_status st = SHARDY_OK;
    sy_read_loc loc = {NULL, NULL};
    int found = 0;
    SY_TRY(sy_read_locate(store, current_url, &loc, NULL, &found));
    SY_TRY(sy_read_list_manifests(store, loc.prefix, limit, out, n));
done:
    sy_read_loc_free(&loc);
    return st;
}

shardy_status shardy_history(const char *current_url, size_t limit, shardy_manifest_entry **out, size_t *n) {
    shardy_reader_opts o;
    shardy_reader_opts_init(&o);
    o.current_url = current_url;
    return shardy_history_opts(&o, limit, out, n);
}

shardy_status shardy_history_opts(const shardy_reader_opts *o, size_t limit, shardy_manifest_entry **out,
                                  size_t *n) {
    shardy_status st = SHARDY_OK;
    sy_store *store = NULL;
    char *url = NULL;
    const char *current_url = o ? o->current_url : NULL;
    if (!out || !n) return sy_err(SHARDY_EINVAL, "shardy_history: NULL output pointer");
    *out = NULL;
    *n = 0;
    if (!current_url) return sy_err(SHARDY_EINVAL, "shardy_history: current_url is NULL");
    SY_TRY(sy_url_normalize(current_url, &url));
    SY_TRY(sy_store_open_cfg(url, o->s3_options, o->n_s3_options, o->credentials_file, o->credentials_profile,
                             &store));
    SY_TRY(sy_history_store(store, url, limit, out, n));
done:
    sy_store_close(&store);
    sy_free(url);
    return st;
}
