/* error.c — thread-local error messages and status names; see error.h. */
#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char tl_msg[SY_ERRMSG_MAX];

shardy_status sy_err(shardy_status st, const char *fmt, ...) {
    char msg[SY_ERRMSG_MAX]; /* an argument may be shardy_errmsg() itself: format aside, then copy */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(tl_msg, msg, sizeof tl_msg);
    return st;
}

shardy_status sy_err_wrap(shardy_status st, const char *fmt, ...) {
    char prefix[SY_ERRMSG_MAX];
    char old[SY_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tl_msg, sizeof old);
    if (old[0])
        snprintf(tl_msg, sizeof tl_msg, "%s: %s", prefix, old);
    else
        snprintf(tl_msg, sizeof tl_msg, "%s: %s", prefix, shardy_strerror(st));
    return st;
}

shardy_status sy_status_from_errno(int err) {
    switch (err) {
    case ENOENT:
    case ENOTDIR: return SHARDY_ENOTFOUND;
    case ENOMEM: return SHARDY_ENOMEM;
    case EEXIST: return SHARDY_EEXIST;
    default: return SHARDY_EIO;
    }
}

shardy_status sy_err_errno(int err, const char *what, const char *path) {
    char buf[256];
    const char *text = buf;
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    text = strerror_r(err, buf, sizeof buf);
#else
    if (strerror_r(err, buf, sizeof buf) != 0) snprintf(buf, sizeof buf, "errno %d", err);
#endif
    return sy_err(sy_status_from_errno(err), "%s %s: %s", what, path, text);
}

void sy_err_clear(void) { tl_msg[0] = '\0'; }

const char *shardy_errmsg(void) { return tl_msg; }

const char *shardy_strerror(shardy_status st) {
    switch (st) {
    case SHARDY_OK: return "ok";
    case SHARDY_EINVAL: return "invalid argument";
    case SHARDY_ENOMEM: return "out of memory";
    case SHARDY_ECLOSED: return "handle is closed";
    case SHARDY_ERANGE: return "value out of range";
    case SHARDY_ETYPE: return "value of the wrong type";
    case SHARDY_EUNSUPPORTED: return "not supported";
    case SHARDY_EINTERNAL: return "internal error";
    case SHARDY_EIO: return "I/O error";
    case SHARDY_ENOTFOUND: return "not found";
    case SHARDY_EEXIST: return "already exists";
    case SHARDY_ESTORE: return "object store error";
    case SHARDY_EAUTH: return "object store authentication failed";
    case SHARDY_ETIMEOUT: return "object store timeout";
    case SHARDY_EFORMAT: return "malformed data";
    case SHARDY_EVERSION: return "unsupported format version";
    case SHARDY_ESQLITE: return "SQLite error";
    case SHARDY_EROUTE: return "routing error";
    }
    return "unknown status";
}

const char *shardy_version(void) { return SHARDY_VERSION_STRING; }
