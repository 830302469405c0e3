/* ratelimit.c — token bucket with debt for over-capacity requests; see ratelimit.h. */
#include "write/ratelimit.h"

#include <errno.h>
#include <time.h>

#include "core/timeutil.h"

void sy_bucket_init(sy_bucket *b, double rate) {
    b->rate = rate;
    b->tokens = rate;
    b->last_ns = sy_mono_ns();
    b->waits = 0;
}

static void refill(sy_bucket *b) {
    int64_t now = sy_mono_ns();
    b->tokens += (double)(now - b->last_ns) * 1e-9 * b->rate;
    if (b->tokens > b->rate) b->tokens = b->rate;
    b->last_ns = now;
}

static void sleep_ns(int64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int64_t sy_bucket_acquire(sy_bucket *b, double n) {
    if (b->rate <= 0 || n <= 0) return 0;
    int64_t slept = 0;
    /* Over-capacity requests wait only for a full bucket. */
    double need = n > b->rate ? b->rate : n;
    for (;;) {
        refill(b);
        if (b->tokens >= need) {
            b->tokens -= n;
            return slept;
        }
        int64_t wait = (int64_t)((need - b->tokens) / b->rate * 1e9) + 1;
        b->waits++;
        sleep_ns(wait);
        slept += wait;
    }
}
