/* timeutil.c — UTC timestamps and their spellings; see timeutil.h. */
#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t sy_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sy_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Days from civil date (proleptic Gregorian), after Howard Hinnant's public-domain algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static void split(int64_t us, int *Y, int *M, int *D, int *h, int *mi, int *s, int *frac) {
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    *frac = (int)(us - secs * 1000000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    civil_from_days(days, Y, M, D);
    *h = (int)(rem / 3600);
    *mi = (int)(rem % 3600 / 60);
    *s = (int)(rem % 60);
}

void sy_time_format_iso(int64_t us, char out[SY_TIME_STRLEN]) {
    int Y, M, D, h, mi, s, f;
    split(us, &Y, &M, &D, &h, &mi, &s, &f);
    if (f)
        snprintf(out, SY_TIME_STRLEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Y, M, D, h, mi, s, f);
    else
        snprintf(out, SY_TIME_STRLEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", Y, M, D, h, mi, s);
}

void sy_time_format_key(int64_t us, char out[SY_TIME_STRLEN]) {
    int Y, M, D, h, mi, s, f;
    split(us, &Y, &M, &D, &h, &mi, &s, &f);
    snprintf(out, SY_TIME_STRLEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Y, M, D, h, mi, s, f);
}

static int digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

shardy_status sy_time_parse_iso(const char *s, int64_t *us_out) {
    const char *p = s;
    int Y, M, D, h, mi, sec = 0, us = 0;
    if (!digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) || *p++ != '-' || !digits(&p, 2, &D))
        goto bad;
    if (*p != 'T' && *p != 't' && *p != ' ') goto bad;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) goto bad;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &sec)) goto bad;
        if (*p == '.' || *p == ',') {
            p++;
            int n = 0, scale = 100000;
            while (isdigit((unsigned char)*p)) {
                if (n < 6) us += (*p - '0') * scale;
                scale /= 10;
                n++;
                p++;
            }
            if (n == 0 || n > 9) goto bad;
        }
    }
    int offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (!digits(&p, 2, &oh)) goto bad;
        if (*p == ':') p++;
        if (!digits(&p, 2, &om)) goto bad;
        if (oh > 23 || om > 59) goto bad;
        offset_s = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0') goto bad;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (Y < 1 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 59) goto bad;
    if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0)) goto bad;
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    *us_out = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_s) * 1000000 + us;
    return SHARDY_OK;
bad:
    return sy_err(SHARDY_EFORMAT, "'%.64s' is not an ISO-8601 datetime", s);
}
