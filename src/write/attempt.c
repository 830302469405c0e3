/* attempt.c — attempt results and deterministic winner selection; see attempt.h. */
#include "write/attempt.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

void sy_attempt_clear(sy_attempt *a) {
    sy_free(a->db_url);
    sy_free(a->min_key);
    sy_free(a->max_key);
    a->db_url = NULL;
    a->min_key = a->max_key = NULL;
    a->min_len = a->max_len = 0;
}

int sy_attempt_cmp(const sy_attempt *a, const sy_attempt *b) {
    if (a->attempt != b->attempt) return a->attempt < b->attempt ? -1 : 1;
    int64_t ta = a->task_attempt_id == SY_NO_ID ? INT64_MAX : a->task_attempt_id;
    int64_t tb = b->task_attempt_id == SY_NO_ID ? INT64_MAX : b->task_attempt_id;
    if (ta != tb) return ta < tb ? -1 : 1;
    return strcmp(a->db_url ? a->db_url : "", b->db_url ? b->db_url : "");
}

shardy_status sy_select_winners(const sy_attempt *attempts, size_t n, uint32_t num_dbs, const sy_attempt **winners) {
    sy_buf extra = SY_BUF_INIT;
    shardy_status st = SHARDY_OK;
    size_t nextra = 0;
    for (uint32_t i = 0; i < num_dbs; i++) winners[i] = NULL;
    for (size_t i = 0; i < n; i++) {
        if (attempts[i].db_id < num_dbs) continue;
        st = sy_buf_printf(&extra, "%s%u", nextra++ ? ", " : "", attempts[i].db_id);
        if (st) goto done;
    }
    if (nextra) {
        st = sy_err(SHARDY_EROUTE, "Shard coverage mismatch; extra=[%s] (num_dbs=%u)", extra.data, num_dbs);
        goto done;
    }
    /* best[db_id] = best attempt so far, empty ones included so an empty attempt 0 beats a later
     * non-empty attempt exactly as the comparator says. */
    for (size_t i = 0; i < n; i++) {
        const sy_attempt *a = &attempts[i];
        if (!winners[a->db_id] || sy_attempt_cmp(a, winners[a->db_id]) < 0) winners[a->db_id] = a;
    }
    for (uint32_t i = 0; i < num_dbs; i++)
        if (winners[i] && !winners[i]->db_url) winners[i] = NULL;
done:
    sy_buf_free(&extra);
    return st;
}
