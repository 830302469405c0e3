/*
 * ratelimit.h — token bucket for write rate limits (spec writer §5.13, DESIGN §3).
 *
 * Capacity = rate tokens, starts full, refills continuously at `rate` tokens per second on the
 * monotonic clock. acquire(n) blocks until n tokens are available. A request larger than the
 * capacity never deadlocks: it is granted once the bucket is full and leaves the bucket in debt
 * (negative), which later requests repay, so the long-run average stays at `rate`.
 * A bucket is used by one thread (each shard writer owns its buckets).
 */
#ifndef SY_WRITE_RATELIMIT_H
#define SY_WRITE_RATELIMIT_H

#include <stdint.h>

typedef struct sy_bucket {
    double rate;      /* tokens per second; <= 0 means unlimited */
    double tokens;    /* may be negative (debt) */
    int64_t last_ns;  /* monotonic time of the last refill */
    uint64_t waits;   /* number of times acquire had to sleep */
} sy_bucket;

void sy_bucket_init(sy_bucket *b, double rate);
/* Blocks until n tokens can be taken (see above). Returns the nanoseconds slept. */
int64_t sy_bucket_acquire(sy_bucket *b, double n);

#endif
