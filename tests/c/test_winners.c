/* test_winners.c — deterministic winner selection and the rate limiter's debt rule. */
#include "check.h"
#include "core/timeutil.h"
#include "write/attempt.h"
#include "write/ratelimit.h"

static sy_attempt att(uint32_t db, const char *url, uint32_t attempt, int64_t task) {
    sy_attempt a;
    memset(&a, 0, sizeof a);
    a.db_id = db;
    a.db_url = (char *)url;
    a.attempt = attempt;
    a.stage_id = SY_NO_ID;
    a.task_attempt_id = task;
    return a;
}

static void test_winner_order(void) {
    sy_attempt a[] = {
        att(0, "u/db=0/attempt=01", 1, 5),
        att(0, "u/db=0/attempt=00", 0, 9),
        att(0, "u/db=0/attempt=00b", 0, 7),     /* same attempt, lower task id wins */
        att(1, "u/db=1/attempt=00", 0, SY_NO_ID), /* null task id counts as 2^63-1 */
        att(1, "u/db=1/attempt=00-x", 0, 100),
        att(2, "u/b", 0, SY_NO_ID),
        att(2, "u/a", 0, SY_NO_ID),             /* URL tie-break */
        att(3, NULL, 0, SY_NO_ID),              /* empty shard */
    };
    const sy_attempt *w[5];
    CHECK_OK(sy_select_winners(a, sizeof a / sizeof a[0], 5, w));
    CHECK(w[0] == &a[2]);
    CHECK(w[1] == &a[4]);
    CHECK(w[2] == &a[6]);
    CHECK(w[3] == NULL);
    CHECK(w[4] == NULL);
    /* Input order does not matter. */
    sy_attempt b[] = {a[6], a[5], a[4], a[3], a[2], a[1], a[0]};
    CHECK_OK(sy_select_winners(b, 7, 5, w));
    CHECK_STR(w[0]->db_url, "u/db=0/attempt=00b");
    CHECK_STR(w[2]->db_url, "u/a");
}

static void test_coverage_error(void) {
    sy_attempt a[] = {att(0, "x", 0, SY_NO_ID), att(7, "y", 0, SY_NO_ID), att(9, "z", 0, SY_NO_ID)};
    const sy_attempt *w[4];
    CHECK_ST(sy_select_winners(a, 3, 4, w), SHARDY_EROUTE);
    CHECK_ERRMSG_HAS("Shard coverage mismatch; extra=[7, 9]");
}

static void test_bucket(void) {
    sy_bucket b;
    sy_bucket_init(&b, 0);
    CHECK_EQ_INT(sy_bucket_acquire(&b, 1e9), 0); /* unlimited */
    /* 1000 tokens/s: the first 1000 are free, then ~100 ms for 100 more. */
    sy_bucket_init(&b, 1000);
    int64_t t0 = sy_mono_ns();
    CHECK_EQ_INT(sy_bucket_acquire(&b, 1000), 0);
    sy_bucket_acquire(&b, 100);
    int64_t el = sy_mono_ns() - t0;
    CHECK(el >= 90 * 1000000LL);
    CHECK(el < 2000 * 1000000LL);
    /* Over capacity: granted when full, leaves debt, does not hang. */
    sy_bucket_init(&b, 1000);
    t0 = sy_mono_ns();
    sy_bucket_acquire(&b, 1500);
    CHECK(sy_mono_ns() - t0 < 100 * 1000000LL);
    CHECK(b.tokens < -400);
    t0 = sy_mono_ns();
    sy_bucket_acquire(&b, 1); /* must repay the debt first: ~0.5 s at 1000/s */
    CHECK(sy_mono_ns() - t0 > 300 * 1000000LL);
}

TEST_MAIN(test_winner_order, test_coverage_error, test_bucket)
