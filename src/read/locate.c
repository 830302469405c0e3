/*
 * locate.c — finding a snapshot's _CURRENT and prefix from the URL a user gives, and loading a
 * manifest (spec reader-cli §1.2–1.3, §7.4).
 *
 * Rule for the URL (documented in shardy.h): it may name the _CURRENT object (any name, e.g.
 * _CURRENT_blue) or the snapshot prefix. If an object exists at the URL it is the pointer. If not
 * and <url>/_CURRENT exists, that is the pointer and the URL is the prefix. If neither exists but
 * <url>/manifests/ holds anything, the URL is a prefix whose _CURRENT is missing. Otherwise the URL
 * is taken as the pointer's URL (missing), split at its last '/' like the Python CLI.
 *
 * Failure behaviour: store errors other than "not found" propagate with the store's message.
 * Thread-safe: touches only its arguments (the store is thread-safe).
 */
#include <string.h>

#include "core/alloc.h"
#include "core/url.h"
#include "read/read.h"
#include "snapshot/layout.h"

void sy_read_loc_free(sy_read_loc *loc) {
    if (!loc) return;
    sy_free(loc->prefix);
    sy_free(loc->pointer_url);
    loc->prefix = loc->pointer_url = NULL;
}

/* url without its last path segment (and without trailing '/'s). */
static char *parent_of(const char *url) {
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') n--;
    const char *root = strstr(url, "://");
    size_t min = root ? (size_t)(root - url) + 3 : 0;
    while (n > min && url[n - 1] != '/') n--;
    while (n > min + 1 && url[n - 1] == '/') n--;
    return sy_strndup(url, n);
}

static shardy_status oom(void) { return sy_err(SHARDY_ENOMEM, "out of memory locating the snapshot"); }

shardy_status sy_read_locate(sy_store *store, const char *url, sy_read_loc *loc, sy_buf *pointer, int *found) {
    shardy_status st = SHARDY_OK;
    sy_buf tmp = SY_BUF_INIT;
    sy_buf *bytes = pointer ? pointer : &tmp;
    char *cur = NULL, *mdir = NULL;
    sy_list l = {NULL, 0, 0};
    loc->prefix = loc->pointer_url = NULL;
    *found = 0;

    st = sy_store_get(store, url, bytes);
    if (st == SHARDY_OK) {
        *found = 1;
        loc->pointer_url = sy_strdup(url);
        loc->prefix = parent_of(url);
        if (!loc->pointer_url || !loc->prefix) st = oom();
        goto done;
    }
    if (st != SHARDY_ENOTFOUND) goto done;
    SY_TRY(sy_layout_current_url(url, &cur));
    st = sy_store_get(store, cur, bytes);
    if (st == SHARDY_OK) {
        *found = 1;
        loc->pointer_url = cur;
        cur = NULL;
        loc->prefix = sy_strdup(url);
        if (!loc->prefix) st = oom();
        goto done;
    }
    if (st != SHARDY_ENOTFOUND) goto done;
    SY_TRY(sy_layout_manifests_prefix_url(url, &mdir));
    sy_list_opts lo = {'/', NULL, 1};
    SY_TRY(sy_store_list(store, mdir, &lo, &l));
    if (l.n > 0) {
        loc->pointer_url = cur;
        cur = NULL;
        loc->prefix = sy_strdup(url);
    } else {
        loc->pointer_url = sy_strdup(url);
        loc->prefix = parent_of(url);
    }
    if (!loc->pointer_url || !loc->prefix) st = oom();
done:
    sy_list_free(&l);
    sy_free(cur);
    sy_free(mdir);
    sy_buf_free(&tmp);
    if (st != SHARDY_OK) sy_read_loc_free(loc);
    return st;
}

int sy_read_is_parse_error(shardy_status st) { return st == SHARDY_EFORMAT || st == SHARDY_EVERSION; }

shardy_status sy_read_load_manifest(sy_store *store, const char *ref, sy_manifest **out) {
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    *out = NULL;
    st = sy_store_get(store, ref, &b);
    if (st == SHARDY_OK) st = sy_manifest_parse(b.data, b.len, ref, out);
    sy_buf_free(&b);
    return st;
}
