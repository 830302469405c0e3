/* publish.c — two-phase publish, loser sweep and the run-record lifecycle; see publish.h. */
#include "snapshot/publish.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/id.h"
#include "core/timeutil.h"
#include "snapshot/current.h"
#include "snapshot/layout.h"

#define CT_SQLITE "application/x-sqlite3"

shardy_status sy_publish_current(sy_store *store, const char *prefix, const char *ref, const char *run_id) {
    sy_buf body = SY_BUF_INIT;
    char *url = NULL;
    shardy_status st;
    SY_TRY(sy_layout_current_url(prefix, &url));
    SY_TRY(sy_current_serialize(ref, run_id, sy_now_us(), &body));
    st = sy_store_put(store, url, body.data, body.len, "application/json");
    if (st) sy_err_wrap(st, "publish _CURRENT %s", url);
done:
    sy_buf_free(&body);
    sy_free(url);
    return st;
}

shardy_status sy_publish(sy_store *store, const char *prefix, sy_manifest *m, char **manifest_ref, int *phase) {
    sy_buf image = SY_BUF_INIT;
    char *url = NULL;
    shardy_status st;
    *manifest_ref = NULL;
    *phase = SY_PUBLISH_MANIFEST;
    m->created_at_us = sy_now_us();
    SY_TRY(sy_layout_manifest_url(prefix, m->run_id, sy_now_us(), &url));
    SY_TRY(sy_manifest_serialize(m, url, &image));
    st = sy_store_put(store, url, image.data, image.len, CT_SQLITE);
    if (st) {
        sy_err_wrap(st, "publish manifest %s", url);
        goto done;
    }
    *phase = SY_PUBLISH_CURRENT;
    *manifest_ref = url;
    url = NULL;
    SY_TRY(sy_publish_current(store, prefix, *manifest_ref, m->run_id));
    *phase = SY_PUBLISH_OK;
done:
    sy_buf_free(&image);
    sy_free(url);
    return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The attempt directory of an object URL: the prefix up to the end of the first path segment that
 * starts with "attempt=" after the run directory; 0 if there is none. */
static size_t attempt_dir_len(const char *url, size_t run_len) {
    const char *p = url + run_len;
    while ((p = strstr(p, "attempt=")) != NULL) {
        if (p[-1] == '/') {
            const char *end = strchr(p, '/');
            return end ? (size_t)(end - url) : strlen(url);
        }
        p++;
    }
    return 0;
}

shardy_status sy_sweep_losers(sy_store *store, const char *prefix, const char *shard_prefix, const char *run_id,
                              const char *const *winner_urls, size_t nwinners, size_t *deleted, size_t *failed) {
    shardy_status st = SHARDY_OK, first = SHARDY_OK;
    char *run_dir = NULL, *seg = NULL;
    const char **sorted = NULL;
    sy_list l = {0};
    size_t del = 0, fail = 0;
    seg = sy_asprintf("run_id=%s", run_id);
    const char *parts[] = {shard_prefix, seg, ""};
    if (!seg || !(run_dir = sy_url_join(prefix, parts, 2))) {
        st = sy_err(SHARDY_ENOMEM, "out of memory sweeping losers");
        goto done;
    }
    char *with_slash = sy_asprintf("%s/", run_dir);
    if (!with_slash) {
        st = sy_err(SHARDY_ENOMEM, "out of memory sweeping losers");
        goto done;
    }
    sy_free(run_dir);
    run_dir = with_slash;
    sorted = sy_calloc(nwinners ? nwinners : 1, sizeof *sorted);
    if (!sorted) {
        st = sy_err(SHARDY_ENOMEM, "out of memory sweeping losers");
        goto done;
    }
    memcpy(sorted, winner_urls, nwinners * sizeof *sorted);
    qsort(sorted, nwinners, sizeof *sorted, cmp_str);
    SY_TRY(sy_store_list_all(store, run_dir, 0, &l));
    for (size_t i = 0; i < l.n; i++) {
        const char *u = l.items[i].url;
        size_t n = attempt_dir_len(u, strlen(run_dir));
        int keep = 0;
        if (n) {
            char save = ((char *)u)[n];
            ((char *)u)[n] = '\0';
            keep = bsearch(&u, sorted, nwinners, sizeof *sorted, cmp_str) != NULL;
            ((char *)u)[n] = save;
        }
        if (keep) continue;
        shardy_status d = sy_store_delete(store, u);
        if (d) {
            fail++;
            if (!first) first = d;
        } else {
            del++;
        }
    }
    /* The empty directories the deletes left (file://); never touches one that holds an object. */
    if (del && store->ops->prune) store->ops->prune(store, run_dir);
    /* Winners are complete objects, so any upload still unfinished under the run is a loser's (a
     * failed attempt's, or a speculative one still writing: its completion then fails, harmlessly). */
    shardy_status a = sy_store_abort_uploads(store, run_dir, NULL);
    if (a && !first) first = a;
    st = first;
done:
    sy_list_free(&l);
    sy_free(sorted);
    sy_free(seg);
    sy_free(run_dir);
    if (deleted) *deleted = del;
    if (failed) *failed = fail;
    return st;
}

/* ---- run record lifecycle ------------------------------------------------------------------- */

/* Serialises and PUTs the record; caller holds lc->mu. */
static void write_record(sy_run_lifecycle *lc) {
    sy_buf b = SY_BUF_INIT;
    if (sy_run_record_serialize(&lc->rec, &b) != SHARDY_OK ||
        sy_store_put(lc->store, lc->url, b.data, b.len, "application/x-yaml") != SHARDY_OK)
        lc->write_failures++;
    else
        lc->created = 1;
    sy_buf_free(&b);
}

static void *heartbeat_main(void *arg) {
    sy_run_lifecycle *lc = arg;
    pthread_mutex_lock(&lc->mu);
    while (!lc->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += lc->heartbeat_seconds;
        int rc = 0;
        while (!lc->stop && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&lc->cv, &lc->mu, &ts);
        if (lc->stop) break;
        if (sy_run_record_heartbeat(&lc->rec, sy_now_us()) == SHARDY_OK) write_record(lc);
    }
    pthread_mutex_unlock(&lc->mu);
    return NULL;
}

shardy_status sy_run_lifecycle_start(sy_run_lifecycle *lc, sy_store *store, const char *prefix,
                                     const char *runs_prefix, const char *run_id, const char *writer_type,
                                     const char *shard_prefix, const char *db_path_template, int heartbeat_seconds) {
    char uuid[33];
    shardy_status st;
    memset(lc, 0, sizeof *lc);
    lc->store = store;
    lc->heartbeat_seconds = heartbeat_seconds > 0 ? heartbeat_seconds : 60;
    pthread_mutex_init(&lc->mu, NULL);
    pthread_cond_init(&lc->cv, NULL);
    int64_t now = sy_now_us();
    SY_TRY(sy_uuid4_hex(uuid));
    SY_TRY(sy_layout_run_record_url(prefix, runs_prefix, run_id, now, uuid, &lc->url));
    SY_TRY(sy_run_record_init(&lc->rec, run_id, prefix, shard_prefix, db_path_template, now));
    if (writer_type && strcmp(writer_type, lc->rec.writer_type)) {
        char *wt = sy_strdup(writer_type);
        if (!wt) {
            st = sy_err(SHARDY_ENOMEM, "out of memory");
            goto done;
        }
        sy_free(lc->rec.writer_type);
        lc->rec.writer_type = wt;
    }
    pthread_mutex_lock(&lc->mu);
    write_record(lc);
    pthread_mutex_unlock(&lc->mu);
    if (pthread_create(&lc->thread, NULL, heartbeat_main, lc) == 0) lc->thread_started = 1;
done:
    return st;
}

void sy_run_lifecycle_set_manifest_ref(sy_run_lifecycle *lc, const char *ref) {
    if (!lc->url) return;
    pthread_mutex_lock(&lc->mu);
    if (sy_run_record_set_manifest_ref(&lc->rec, ref) != SHARDY_OK) lc->write_failures++;
    pthread_mutex_unlock(&lc->mu);
}

void sy_run_lifecycle_finish(sy_run_lifecycle *lc, sy_run_status status, const char *error_type,
                             const char *error_message) {
    if (!lc->url) return;
    pthread_mutex_lock(&lc->mu);
    int already = lc->stop;
    lc->stop = 1;
    pthread_cond_broadcast(&lc->cv);
    if (!already && sy_run_record_finish(&lc->rec, status, sy_now_us(), error_type, error_message) == SHARDY_OK)
        write_record(lc);
    pthread_mutex_unlock(&lc->mu);
    if (lc->thread_started) {
        pthread_join(lc->thread, NULL);
        lc->thread_started = 0;
    }
}

void sy_run_lifecycle_free(sy_run_lifecycle *lc) {
    if (lc->url && !lc->stop) sy_run_lifecycle_finish(lc, SY_RUN_FAILED, "Aborted", "build was abandoned");
    if (lc->thread_started) {
        pthread_join(lc->thread, NULL);
        lc->thread_started = 0;
    }
    sy_run_record_clear(&lc->rec);
    sy_free(lc->url);
    lc->url = NULL;
    pthread_mutex_destroy(&lc->mu);
    pthread_cond_destroy(&lc->cv);
}
