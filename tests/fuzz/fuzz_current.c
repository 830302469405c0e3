/*
 * fuzz_current.c — libFuzzer target for the text parsers of the snapshot layer: the _CURRENT
 * pointer (spec formats §2), run records (§1.6) and the manifest-directory / ref parsers (§9, §2.3).
 *
 * Oracles beyond "no crash, no leak, no UB": status and out-pointer agree; a failed _CURRENT parse
 * always says "CURRENT pointer validation failed:"; whatever parses also serialises and parses back
 * to the same values (for timestamps inside years 1..9999, which the writer can spell).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "snapshot/current.h"
#include "snapshot/layout.h"
#include "snapshot/runrecord.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) __builtin_trap();                                                                \
    } while (0)

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in µs. */
#define MIN_US (-62135596800LL * 1000000)
#define MAX_US (253402300799LL * 1000000 + 999999)

static int writable_time(int64_t us) { return us >= MIN_US && us <= MAX_US; }

static void fuzz_current(const char *text, size_t size) {
    sy_current *c = NULL, *back = NULL;
    sy_buf b = SY_BUF_INIT;
    shardy_status st = sy_current_parse(text, size, "fuzz://_CURRENT", &c);
    ENSURE((st == SHARDY_OK) == (c != NULL));
    if (st != SHARDY_OK) {
        ENSURE(st == SHARDY_EFORMAT || st == SHARDY_ENOMEM);
        if (st == SHARDY_EFORMAT) ENSURE(!strncmp(shardy_errmsg(), "CURRENT pointer validation failed:", 34));
        return;
    }
    if (*c->manifest_ref && *c->run_id && writable_time(c->published_at_us)) {
        ENSURE(sy_current_serialize(c->manifest_ref, c->run_id, c->published_at_us, &b) == SHARDY_OK);
        ENSURE(sy_current_parse(b.data, b.len, "fuzz://again", &back) == SHARDY_OK);
        ENSURE(!strcmp(back->manifest_ref, c->manifest_ref) && !strcmp(back->run_id, c->run_id));
        ENSURE(back->published_at_us == c->published_at_us && back->format_version == 1);
    }
    sy_current_free(&back);
    sy_current_free(&c);
    sy_buf_free(&b);
}

static void fuzz_run_record(const char *text, size_t size) {
    sy_run_record *r = NULL, *back = NULL;
    sy_buf b = SY_BUF_INIT;
    shardy_status st = sy_run_record_parse(text, size, "fuzz://run.yaml", &r);
    ENSURE((st == SHARDY_OK) == (r != NULL));
    if (st != SHARDY_OK) return;
    if (writable_time(r->started_at_us) && writable_time(r->updated_at_us) && writable_time(r->lease_expires_at_us)) {
        ENSURE(sy_run_record_serialize(r, &b) == SHARDY_OK);
        ENSURE(sy_run_record_parse(b.data, b.len, "fuzz://again", &back) == SHARDY_OK);
        ENSURE(back->status == r->status && back->format_version == r->format_version);
        ENSURE(back->updated_at_us == r->updated_at_us && !strcmp(back->run_id, r->run_id));
        ENSURE((back->error_message == NULL) == (r->error_message == NULL));
        ENSURE(!r->error_message || !strcmp(back->error_message, r->error_message));
    }
    sy_run_record_free(&back);
    sy_run_record_free(&r);
    sy_buf_free(&b);
}

static void fuzz_names(const char *text, size_t size) {
    char *s = sy_strndup(text, size); /* stops at the first NUL, like any C string would */
    if (!s) return;
    int64_t us = 0;
    char *run = NULL;
    int r = sy_layout_parse_manifest_dir(s, &us, &run);
    ENSURE(r == 0 || r == 1);
    ENSURE((r == 1) == (run != NULL));
    if (r == 1) ENSURE(run[0] != '\0' && !strchr(run, '/'));
    sy_free(run);
    run = NULL;
    if (sy_layout_ref_run_id(s, &run) == SHARDY_OK) ENSURE(run && run[0] && !strchr(run, '/') && strstr(s, run));
    sy_free(run);
    sy_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    fuzz_current(text, size);
    fuzz_run_record(text, size);
    fuzz_names(text, size);
    return 0;
}
