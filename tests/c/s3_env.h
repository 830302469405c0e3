/*
 * s3_env.h — how C tests reach the real S3 servers started by tests/s3/servers.sh: options for moto
 * (SHARDY_TEST_S3_*) or s3s-fs (SHARDY_TEST_S3S_*), one bucket name per test process, and a loud
 * skip when the servers are not configured (a failure instead when SHARDY_REQUIRE_S3=1, as in CI).
 */
#ifndef SHARDY_TEST_S3_ENV_H
#define SHARDY_TEST_S3_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store/s3.h"
#include "store/store.h"

/* 1 if the variables for server `which` ("S3" = moto, "S3S" = s3s-fs) are set. Otherwise prints a
 * loud skip notice for `what` and returns 0 (and counts a failure when SHARDY_REQUIRE_S3=1). */
static int s3_env_ready(const char *which, const char *what) {
    char name[64];
    snprintf(name, sizeof name, "SHARDY_TEST_%s_ENDPOINT", which);
    if (getenv(name) && *getenv(name)) return 1;
    fprintf(stderr,
            "\n**********************************************************************\n"
            "*** SKIPPED: %s — %s is not set.\n"
            "*** Start the test servers first:  eval \"$(tests/s3/servers.sh start)\"\n"
            "**********************************************************************\n\n",
            what, name);
    printf("SKIPPED %s (no %s)\n", what, name);
    if (getenv("SHARDY_REQUIRE_S3") && !strcmp(getenv("SHARDY_REQUIRE_S3"), "1")) {
        check_failures++;
        fprintf(stderr, "SHARDY_REQUIRE_S3=1: a missing S3 server is a failure\n");
    }
    return 0;
}

/* Options for server `which` with test-friendly retry timing; o is initialised here. */
static void s3_env_opts(const char *which, sy_s3_opts *o) {
    char name[64];
    sy_s3_opts_init(o);
    snprintf(name, sizeof name, "SHARDY_TEST_%s_ENDPOINT", which);
    if (sy_s3_opts_set_str(&o->endpoint_url, getenv(name))) abort();
    snprintf(name, sizeof name, "SHARDY_TEST_%s_ACCESS_KEY", which);
    if (sy_s3_opts_set_str(&o->access_key_id, getenv(name))) abort();
    snprintf(name, sizeof name, "SHARDY_TEST_%s_SECRET_KEY", which);
    if (sy_s3_opts_set_str(&o->secret_access_key, getenv(name))) abort();
    if (sy_s3_opts_set_str(&o->region, "us-east-1")) abort();
    o->retry_base_ms = 20;
    o->retry_cap_ms = 200;
}

/* A bucket name unique to this process ("shardy-t-<pid>-<n>"), made on first use. */
static const char *s3_env_bucket(void) {
    static char name[64];
    if (!name[0]) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(name, sizeof name, "shardy-t-%d-%ld", (int)getpid(), (long)(ts.tv_nsec % 1000000));
    }
    return name;
}

/* A store for server `which` with this process's bucket created; NULL (and a counted failure) if
 * either step fails. Close with sy_store_close. */
static inline sy_store *s3_env_store_with_bucket(const char *which) {
    sy_s3_opts so;
    s3_env_opts(which, &so);
    sy_store_opts sto = {&so};
    sy_store *st = NULL;
    CHECK_OK(sy_store_open_opts("s3://x/y", &sto, &st));
    sy_s3_opts_free(&so);
    if (st && sy_s3_bucket_create(st, s3_env_bucket()) != SHARDY_OK) {
        check_failures++;
        fprintf(stderr, "creating bucket %s: %s\n", s3_env_bucket(), shardy_errmsg());
    }
    return st;
}

#endif
