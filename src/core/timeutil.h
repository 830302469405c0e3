/*
 * timeutil.h — wall-clock time in microseconds since the Unix epoch (UTC) and the timestamp
 * spellings of the snapshot formats (spec formats §1.2 and Appendix B).
 */
#ifndef SY_CORE_TIMEUTIL_H
#define SY_CORE_TIMEUTIL_H

#include <stdint.h>

#include "core/error.h"

#define SY_TIME_STRLEN 40

int64_t sy_now_us(void);
/* Monotonic clock in nanoseconds, for durations and rate limits. */
int64_t sy_mono_ns(void);

/* Pydantic form: 2026-03-14T10:30:00Z or 2026-03-14T10:30:00.120000Z (fraction only if µs != 0). */
void sy_time_format_iso(int64_t us, char out[SY_TIME_STRLEN]);
/* Object-key form: always 6 fractional digits, 2026-03-14T10:30:00.000000Z. */
void sy_time_format_key(int64_t us, char out[SY_TIME_STRLEN]);

/* Parses YYYY-MM-DD[T| ]HH:MM[:SS[.f{1,9}]][Z|z|±HH[:]MM] (naive = UTC; fraction truncated to µs).
 * SHARDY_EFORMAT with a message naming the text on failure. */
shardy_status sy_time_parse_iso(const char *s, int64_t *us_out) SY_NODISCARD;

#endif
