/*
 * s3.c — the s3:// object-store backend: libcurl (SigV4 signing by CURLOPT_AWS_SIGV4) over a pool
 * of reusable easy handles, libxml2 for response documents, OpenSSL's libcrypto for the few digests
 * S3 asks for (Content-MD5 of DeleteObjects, SHA-256 of small signed payloads, the multipart ETag).
 *
 * Owns: the resolved configuration (s3conf.c), a mutex-guarded stack of idle CURL handles (each
 * keeps its own live connections, so reuse is connection reuse), and nothing else: every request's
 * state lives on the caller's stack.
 *
 * Request model: one s3_req describes a request (method, bucket, key, canonical query, body source,
 * response sink); s3_perform runs it with retries. Every attempt starts from a clean sink (a
 * get_file begins a new temp file, a buffer is reset), so a retried transfer never mixes bytes of
 * two responses. Retried: connection failures, timeouts, truncated bodies (Content-Length
 * mismatch), HTTP 5xx, 429 and 408, and the S3 codes SlowDown/RequestTimeout/InternalError; with
 * exponential backoff and full jitter (sleep rand[0, min(cap, base * 2^(n-1))) ms), at most
 * max_attempts attempts in all. Anything else is permanent.
 *
 * Signing details that matter with libcurl 7.88: curl signs the path and query exactly as given,
 * so paths are encoded canonically here (RFC 3986 unreserved bytes and '/' kept, the rest %XX) and
 * query strings are built sorted and encoded, with "name=" for valueless parameters; curl takes the
 * payload hash from our x-amz-content-sha256 header (UNSIGNED-PAYLOAD for streamed bodies).
 *
 * Failure behaviour: messages are "<op> <url>: HTTP <status> <Code>: <Message>" for S3 errors
 * (with "(after N attempts)" when retried, and the credential source for 401/403) and
 * "<op> <url>: <curl text> (<detail>)" for transport failures. 401/403 → SHARDY_EAUTH, 404 →
 * SHARDY_ENOTFOUND (SHARDY_ESTORE for writes: a missing bucket or upload is not "object not
 * found"), timeouts → SHARDY_ETIMEOUT, other failures SHARDY_ESTORE; local file errors keep their
 * OS status. A multipart upload that fails is aborted (with retries); if even the abort fails, the
 * message names the upload id left behind.
 * Thread-safety: a store may be used from any number of threads; the pool mutex is the only shared
 * mutable state. Library-wide initialisation (curl_global_init, xmlInitParser) runs once.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "store/s3.h"
#include "store/store.h"

#ifndef SHARDY_VERSION_STRING
#define SHARDY_VERSION_STRING "dev"
#endif

#define POOL_MAX 32
#define ERR_BODY_MAX (64u << 10)       /* bytes of an error response kept for its message */
#define XML_BODY_MAX (64u << 20)       /* largest XML response accepted */
#define SIGNED_PAYLOAD_MAX (64u << 10) /* in-memory bodies up to this size get a real SHA-256 */
#define LIST_PAGE_MAX 1000
#define BUCKET_MAX 255
/* Out of memory inside a function whose cleanup label names what failed. */
#define OOM_DONE()                                                                                 \
    do {                                                                                           \
        st = SHARDY_ENOMEM;                                                                        \
        goto done;                                                                                 \
    } while (0)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct s3_store {
    sy_store base; /* first: a sy_store * is an s3_store * */
    sy_s3_config cfg;
    char *sigv4;    /* "aws:amz:<region>:s3" */
    char *describe; /* sy_s3_describe */
    pthread_mutex_t mu;
    CURL *idle[POOL_MAX];
    size_t nidle;
    atomic_ulong n_requests, n_connects; /* HTTP attempts, new connections (sy_s3_counters) */
} s3_store;

static s3_store *S3(sy_store *s) { return (s3_store *)s; }

/* ------------------------------------------------------------------------------------------ */
/* Library initialisation and handle pool                                                      */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init(void) {
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

static CURL *pool_get(s3_store *s) {
    CURL *h = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->nidle) h = s->idle[--s->nidle];
    pthread_mutex_unlock(&s->mu);
    return h ? h : curl_easy_init();
}

static void pool_put(s3_store *s, CURL *h) {
    if (!h) return;
    /* Drop every pointer into the finished request (error buffer, headers, callbacks' data): an
     * idle handle may still write an error while closing a connection. Live connections stay. */
    curl_easy_reset(h);
    pthread_mutex_lock(&s->mu);
    if (s->nidle < POOL_MAX) {
        s->idle[s->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (h) curl_easy_cleanup(h);
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers: random jitter, digests, encodings, XML                                        */

static uint64_t rnd_next(void) {
    static _Thread_local uint64_t state;
    if (!state) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts ^
                ((uint64_t)getpid() << 40) ^ 0x9E3779B97F4A7C15ull;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Full-jitter backoff before attempt number `next` (2, 3, ...). */
static void backoff(const sy_s3_config *c, int next) {
    long cap = c->retry_cap_ms, d = c->retry_base_ms;
    for (int i = 2; i < next && d < cap; i++) d *= 2;
    if (d > cap) d = cap;
    if (d > 0) sleep_ms((long)(rnd_next() % (uint64_t)(d + 1)));
}

static void hex(const unsigned char *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Digest of data with md (EVP_md5 / EVP_sha256) into out; returns its length, 0 on failure. */
static unsigned digest(const EVP_MD *md, const void *data, size_t len, unsigned char out[EVP_MAX_MD_SIZE]) {
    unsigned n = 0;
    return EVP_Digest(data, len, out, &n, md, NULL) == 1 ? n : 0;
}

/* Appends s[0..n) percent-encoded (AWS canonical form); '/' kept when keep_slash. */
static shardy_status uri_encode(sy_buf *b, const char *s, size_t n, int keep_slash) {
    static const char digits[] = "0123456789ABCDEF";
    shardy_status st = sy_buf_reserve(b, n * 3);
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = digits[c >> 4];
            b->data[b->len++] = digits[c & 15];
        }
    }
    b->data[b->len] = '\0';
    return SHARDY_OK;
}

/* Adds "&name=value" (or the first "name=value") to a query; callers add names in sorted order. */
static shardy_status qs_add(sy_buf *q, const char *name, const char *value) {
    shardy_status st = SHARDY_OK;
    if (q->len && (st = sy_buf_putc(q, '&'))) return st;
    if ((st = sy_buf_puts(q, name)) || (st = sy_buf_putc(q, '='))) return st;
    return value ? uri_encode(q, value, strlen(value), 0) : SHARDY_OK;
}

/* Decodes an S3 "encoding-type=url" value in place ('+' is a space, %XX a byte). */
static void url_decode(char *s) {
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char h[3] = {p[1], p[2], 0};
            *o++ = (char)strtol(h, NULL, 16);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static shardy_status xml_escape(sy_buf *b, const char *s) {
    shardy_status st = SHARDY_OK;
    for (; *s && !st; s++) {
        switch (*s) {
        case '&': st = sy_buf_puts(b, "&amp;"); break;
        case '<': st = sy_buf_puts(b, "&lt;"); break;
        case '>': st = sy_buf_puts(b, "&gt;"); break;
        case '"': st = sy_buf_puts(b, "&quot;"); break;
        case '\'': st = sy_buf_puts(b, "&apos;"); break;
        case '\r': st = sy_buf_puts(b, "&#13;"); break;
        default: st = sy_buf_putc(b, *s);
        }
    }
    return st;
}

static xmlDocPtr xml_parse(const sy_buf *b) {
    if (!b->len || b->len > XML_BODY_MAX) return NULL;
    return xmlReadMemory(b->data, (int)b->len, NULL, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
}

static int xml_is(xmlNodePtr n, const char *name) {
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNodePtr xml_child(xmlNodePtr parent, const char *name) {
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (xml_is(c, name)) return c;
    return NULL;
}

/* Text of the first child element `name` into out (truncated to cap); "" if absent. */
static void xml_text(xmlNodePtr parent, const char *name, char *out, size_t cap) {
    xmlNodePtr c = xml_child(parent, name);
    xmlChar *t = c ? xmlNodeGetContent(c) : NULL;
    snprintf(out, cap, "%s", t ? (const char *)t : "");
    if (t) xmlFree(t);
}

/* Text of the first child element `name` as a new sy_malloc string (NULL if absent or ENOMEM). */
static char *xml_text_dup(xmlNodePtr parent, const char *name, int *oom) {
    xmlNodePtr c = xml_child(parent, name);
    xmlChar *t = c ? xmlNodeGetContent(c) : NULL;
    char *r = t ? sy_strdup((const char *)t) : NULL;
    if (t && !r) *oom = 1;
    if (t) xmlFree(t);
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* URLs                                                                                        */

typedef struct s3_loc {
    char bucket[BUCKET_MAX + 1];
    const char *key; /* points into the URL; "" when the URL names only a bucket */
} s3_loc;

static shardy_status parse_url(const char *op, const char *url, s3_loc *loc) {
    const char *b = url + 5; /* after "s3://" (checked by store.c) */
    size_t n = strcspn(b, "/");
    if (n == 0) return sy_err(SHARDY_EINVAL, "%s %s: s3:// URL has no bucket", op, url);
    if (n > BUCKET_MAX) return sy_err(SHARDY_EINVAL, "%s %.300s: bucket name longer than %d", op, url, BUCKET_MAX);
    memcpy(loc->bucket, b, n);
    loc->bucket[n] = '\0';
    loc->key = b[n] ? b + n + 1 : b + n;
    return SHARDY_OK;
}

/* A bucket name that can be a DNS label of a virtual-hosted request. */
static int dns_bucket(const char *b) {
    size_t n = strlen(b);
    if (n < 3 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-')) return 0;
    return b[0] != '-' && b[n - 1] != '-';
}

static int path_style(const s3_store *s, const char *bucket) {
    if (s->cfg.addressing == SY_S3_ADDR_PATH) return 1;
    if (s->cfg.addressing == SY_S3_ADDR_VIRTUAL) return 0;
    return s->cfg.host_is_local || !dns_bucket(bucket);
}

/* http(s)://[bucket.]host[/base][/bucket]/key[?query] */
static shardy_status http_url(const s3_store *s, const char *bucket, const char *key, const char *query,
                              sy_buf *out) {
    shardy_status st = SHARDY_OK;
    int ps = path_style(s, bucket);
    sy_buf_reset(out);
    SY_TRY(sy_buf_puts(out, s->cfg.https ? "https://" : "http://"));
    if (!ps) SY_TRY(sy_buf_printf(out, "%s.", bucket));
    SY_TRY(sy_buf_puts(out, s->cfg.host));
    SY_TRY(sy_buf_puts(out, s->cfg.base_path));
    SY_TRY(sy_buf_putc(out, '/'));
    if (ps) {
        SY_TRY(uri_encode(out, bucket, strlen(bucket), 0));
        if (*key) SY_TRY(sy_buf_putc(out, '/'));
    }
    SY_TRY(uri_encode(out, key, strlen(key), 1));
    if (query && *query) SY_TRY(sy_buf_printf(out, "?%s", query));
done:
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Requests                                                                                    */

enum { SINK_DISCARD, SINK_BUF, SINK_MEM, SINK_FILE };

typedef struct s3_req {
    /* request */
    const char *op;  /* for messages: "get", "put", ... */
    const char *url; /* s3:// URL for messages */
    const char *method;
    const char *bucket;
    const char *key;
    const char *query; /* canonical (sorted, encoded) or NULL */
    int write_op;      /* 404 means a missing bucket/upload: SHARDY_ESTORE */
    const char *body;  /* in-memory body, or NULL with body_fd >= 0, or neither */
    int body_fd;
    uint64_t body_off, body_len;
    int has_body;
    const char *content_type;
    const char *content_md5;
    int has_range;
    uint64_t range_off, range_len;
    int ok_404, ok_416; /* statuses that are an answer, not an error */
    int min_attempts;   /* cleanup requests (abort, orphan listing) retry at least this often */
    /* response sink */
    int sink;
    sy_buf *buf;             /* SINK_BUF */
    char *mem;               /* SINK_MEM */
    size_t mem_cap, mem_got;
    sy_atomic_file *af;      /* SINK_FILE */
    const char *file_path, *file_ctx;
    /* results */
    long status;
    char etag[128];
    uint64_t content_length; /* from the response headers (HEAD: object size) */
    char code[64];           /* S3 error code of the last failed attempt */
    int attempts;            /* attempts made */
    /* per attempt */
    CURL *h;
    uint64_t sent, received, skip;
    int status_known;
    shardy_status sink_st;
    sy_buf err; /* body of a non-2xx response (capped) */
} s3_req;

static void req_init(s3_req *r, const char *op, const char *url, const char *method, const s3_loc *loc) {
    memset(r, 0, sizeof *r);
    r->op = op;
    r->url = url;
    r->method = method;
    r->bucket = loc->bucket;
    r->key = loc->key;
    r->body_fd = -1;
    r->sink = SINK_DISCARD;
}

static int is_2xx(long status) { return status >= 200 && status < 300; }

static int answered(const s3_req *r) {
    return is_2xx(r->status) || (r->ok_404 && r->status == 404) || (r->ok_416 && r->status == 416);
}

/* First body bytes of a successful response: prepare the sink. */
static shardy_status sink_open(s3_req *r) {
    curl_off_t cl = -1;
    shardy_status st = SHARDY_OK;
    curl_easy_getinfo(r->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (r->sink == SINK_BUF && cl > 0) {
        if ((uint64_t)cl >= SIZE_MAX - 1 || sy_buf_reserve(r->buf, (size_t)cl) != SHARDY_OK)
            return sy_err(SHARDY_ENOMEM, "%s %s: out of memory for %lld bytes", r->op, r->url, (long long)cl);
    }
    if (r->sink == SINK_MEM && r->status == 200) r->skip = r->range_off; /* server ignored Range */
    if (r->sink == SINK_FILE) st = sy_atomic_file_begin(r->af, r->file_path, r->file_ctx);
    return st;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    s3_req *r = ud;
    size_t len = size * nmemb;
    if (!r->status_known) {
        curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
        r->status_known = 1;
        if (is_2xx(r->status) && (r->sink_st = sink_open(r)) != SHARDY_OK) return 0;
    }
    r->received += len;
    if (!is_2xx(r->status)) {
        size_t room = ERR_BODY_MAX > r->err.len ? ERR_BODY_MAX - r->err.len : 0;
        if (room && sy_buf_append(&r->err, p, len < room ? len : room) != SHARDY_OK) {
            r->sink_st = sy_err(SHARDY_ENOMEM, "%s %s: out of memory", r->op, r->url);
            return 0;
        }
        return len;
    }
    switch (r->sink) {
    case SINK_BUF:
        if (sy_buf_append(r->buf, p, len) != SHARDY_OK) {
            r->sink_st = sy_err(SHARDY_ENOMEM, "%s %s: out of memory", r->op, r->url);
            return 0;
        }
        break;
    case SINK_MEM: {
        size_t off = 0;
        if (r->skip) {
            size_t k = r->skip < len ? (size_t)r->skip : len;
            r->skip -= k;
            off = k;
        }
        size_t room = r->mem_cap - r->mem_got, k = len - off < room ? len - off : room;
        if (k) memcpy(r->mem + r->mem_got, p + off, k);
        r->mem_got += k;
        break;
    }
    case SINK_FILE:
        if ((r->sink_st = sy_atomic_file_write(r->af, p, len)) != SHARDY_OK) return 0;
        break;
    default: break;
    }
    return len;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *ud) {
    s3_req *r = ud;
    uint64_t left = r->body_len - r->sent;
    size_t k = (size_t)(left < (uint64_t)(size * nmemb) ? left : (uint64_t)(size * nmemb));
    if (k == 0) return 0;
    if (r->body) {
        memcpy(dst, r->body + r->sent, k);
    } else {
        ssize_t n;
        while ((n = pread(r->body_fd, dst, k, (off_t)(r->body_off + r->sent))) < 0 && errno == EINTR) {
        }
        if (n <= 0) {
            r->sink_st = n < 0 ? sy_err_errno(errno, "read upload source for", r->url)
                               : sy_err(SHARDY_EIO, "%s %s: local file shrank while uploading", r->op, r->url);
            return CURL_READFUNC_ABORT;
        }
        k = (size_t)n;
    }
    r->sent += k;
    return k;
}

static int on_seek(void *ud, curl_off_t off, int origin) {
    s3_req *r = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len) return CURL_SEEKFUNC_CANTSEEK;
    r->sent = (uint64_t)off;
    return CURL_SEEKFUNC_OK;
}

/* Resets the per-attempt state and the sink. */
static void attempt_reset(s3_req *r) {
    r->sent = r->received = r->skip = 0;
    r->status = 0;
    r->status_known = 0;
    r->sink_st = SHARDY_OK;
    r->etag[0] = '\0';
    r->content_length = 0;
    sy_buf_reset(&r->err);
    if (r->sink == SINK_BUF) sy_buf_reset(r->buf);
    if (r->sink == SINK_MEM) r->mem_got = 0;
    if (r->sink == SINK_FILE) sy_atomic_file_abort(r->af);
}

/* Adds "name: value" (never an empty value: curl 7.88 would sign a header it does not send). */
static shardy_status add_header(struct curl_slist **h, const char *name, const char *value) {
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof line) return sy_err(SHARDY_EINVAL, "HTTP header too long");
    struct curl_slist *nh = curl_slist_append(*h, line);
    if (!nh) return sy_err(SHARDY_ENOMEM, "out of memory for HTTP headers");
    *h = nh;
    return SHARDY_OK;
}

/* The headers of one request (same for every attempt). */
static shardy_status build_headers(s3_store *s, const s3_req *r, struct curl_slist **hs) {
    shardy_status st = SHARDY_OK;
    char hash[2 * EVP_MAX_MD_SIZE + 1] = EMPTY_SHA256;
    char range[80];
    if (r->has_body && r->body && r->body_len <= SIGNED_PAYLOAD_MAX) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = digest(EVP_sha256(), r->body, (size_t)r->body_len, d);
        if (!n) return sy_err(SHARDY_EINTERNAL, "%s %s: SHA-256 failed", r->op, r->url);
        hex(d, n, hash);
    } else if (r->has_body) {
        snprintf(hash, sizeof hash, "UNSIGNED-PAYLOAD");
    }
    SY_TRY(add_header(hs, "x-amz-content-sha256", hash));
    if (r->has_body) SY_TRY(add_header(hs, "Content-Type", r->content_type ? r->content_type : "application/octet-stream"));
    if (r->content_md5) SY_TRY(add_header(hs, "Content-MD5", r->content_md5));
    if (r->has_range) {
        uint64_t last = r->range_off + r->range_len - 1;
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)r->range_off,
                 (unsigned long long)last);
        SY_TRY(add_header(hs, "Range", range));
    }
    if (s->cfg.access_key_id && s->cfg.session_token)
        SY_TRY(add_header(hs, "x-amz-security-token", s->cfg.session_token));
done:
    return st;
}

static void setup_handle(s3_store *s, s3_req *r, const char *http, struct curl_slist *hs, char *errbuf) {
    CURL *h = r->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, http);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libshardy/" SHARDY_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->cfg.connect_timeout);
    /* curl sends "Expect: 100-continue" with uploads (so S3 can refuse before the body). It cannot
     * be removed with "Expect:": curl 7.88 signs that empty header but does not send it. */
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 500L);
    if (s->cfg.read_timeout > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->cfg.read_timeout);
    }
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->cfg.verify_ssl ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->cfg.verify_ssl ? 2L : 0L);
    if (s->cfg.ca_bundle) curl_easy_setopt(h, CURLOPT_CAINFO, s->cfg.ca_bundle);
    if (s->cfg.access_key_id) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, s->cfg.access_key_id);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->cfg.secret_access_key);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (r->has_body) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
    }
}

static int retryable_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING: return 1;
    default: return 0;
    }
}

static int retryable_http(long status, const char *code) {
    if (status >= 500 || status == 429 || status == 408) return 1;
    return !strcmp(code, "SlowDown") || !strcmp(code, "RequestTimeout") || !strcmp(code, "InternalError");
}

/* Code and message of an S3 <Error> document (or defaults from the status). */
static void error_details(const s3_req *r, char *code, size_t ccap, char *msg, size_t mcap) {
    xmlDocPtr doc = xml_parse(&r->err);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    code[0] = msg[0] = '\0';
    if (xml_is(root, "Error")) {
        xml_text(root, "Code", code, ccap);
        xml_text(root, "Message", msg, mcap);
    }
    if (doc) xmlFreeDoc(doc);
    if (!code[0]) {
        const char *c = r->status == 404 ? "NotFound" : r->status == 403 ? "Forbidden"
                      : r->status == 401 ? "Unauthorized" : r->status == 503 ? "ServiceUnavailable"
                      : r->status == 429 ? "TooManyRequests" : r->status >= 500 ? "ServerError" : "Error";
        snprintf(code, ccap, "%s", c);
    }
    if (!msg[0]) {
        const char *m = !strcmp(r->method, "HEAD") ? "no details (HEAD responses have no body)" : "no details";
        if (r->status == 404 && !strcmp(r->method, "HEAD")) m = "no such object";
        snprintf(msg, mcap, "%s", m);
    }
}

static shardy_status status_of_http(const s3_req *r) {
    if (r->status == 401 || r->status == 403) return SHARDY_EAUTH;
    if (r->status == 404) return r->write_op ? SHARDY_ESTORE : SHARDY_ENOTFOUND;
    if (r->status == 408) return SHARDY_ETIMEOUT;
    return SHARDY_ESTORE;
}

/* After a completed transfer with a 2xx status: did we get every byte announced? */
static int body_complete(const s3_req *r, char *why, size_t cap) {
    curl_off_t cl = -1;
    if (!strcmp(r->method, "HEAD")) return 1;
    curl_easy_getinfo(r->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (cl >= 0 && (uint64_t)cl != r->received) {
        snprintf(why, cap, "truncated body: received %llu of %lld bytes", (unsigned long long)r->received,
                 (long long)cl);
        return 0;
    }
    return 1;
}

/* Records ETag and Content-Length of a successful response. */
static void collect_headers(s3_req *r) {
    struct curl_header *hd = NULL;
    curl_off_t cl = -1;
    if (curl_easy_header(r->h, "ETag", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK && hd && hd->value)
        snprintf(r->etag, sizeof r->etag, "%s", hd->value);
    curl_easy_getinfo(r->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    r->content_length = cl > 0 ? (uint64_t)cl : 0;
}

/* curl_easy_perform with SIGPIPE blocked in this thread (a peer closing a TLS connection must not
 * kill the process; CURLOPT_NOSIGNAL stops curl from handling that itself). A SIGPIPE raised
 * meanwhile is consumed before the thread's mask is restored. */
/* Process-wide request counts by HTTP method (sy_s3_method_counts), for benchmarks. */
static atomic_ulong g_method_counts[SY_S3_METHOD_N];

static void count_method(const char *m) {
    int i = !strcmp(m, "GET") ? SY_S3_GET : !strcmp(m, "PUT") ? SY_S3_PUT : !strcmp(m, "HEAD") ? SY_S3_HEAD
          : !strcmp(m, "POST") ? SY_S3_POST : !strcmp(m, "DELETE") ? SY_S3_DELETE : SY_S3_OTHER;
    atomic_fetch_add(&g_method_counts[i], 1);
}

void sy_s3_method_counts(uint64_t out[SY_S3_METHOD_N]) {
    for (int i = 0; i < SY_S3_METHOD_N; i++) out[i] = atomic_load(&g_method_counts[i]);
}

static CURLcode perform_nosigpipe(CURL *h) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    int blocked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old) == 0 && !sigismember(&old, SIGPIPE);
    CURLcode rc = curl_easy_perform(h);
    if (blocked) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    return rc;
}

/* Runs r with retries. On success r->status is 2xx (or an accepted 404/416) and the sink holds
 * the body; on failure the message is set and the sink is reset. */
static shardy_status s3_perform(s3_store *s, s3_req *r) {
    shardy_status st = SHARDY_OK;
    struct curl_slist *hs = NULL;
    sy_buf http = SY_BUF_INIT;
    char errbuf[CURL_ERROR_SIZE];
    char why[CURL_ERROR_SIZE + 200];
    char msg[600];
    int attempt = 0;
    if (g_init_rc != CURLE_OK) {
        st = sy_err(SHARDY_ESTORE, "%s %s: libcurl initialisation failed: %s", r->op, r->url,
                    curl_easy_strerror(g_init_rc));
        goto done;
    }
    if (http_url(s, r->bucket, r->key, r->query, &http) != SHARDY_OK) {
        st = sy_err(SHARDY_ENOMEM, "%s %s: out of memory", r->op, r->url);
        goto done;
    }
    if ((st = build_headers(s, r, &hs)) != SHARDY_OK) {
        st = sy_err_wrap(st, "%s %s", r->op, r->url);
        goto done;
    }
    for (;;) {
        r->attempts = ++attempt;
        attempt_reset(r);
        errbuf[0] = '\0';
        r->code[0] = '\0';
        if (!(r->h = pool_get(s))) {
            st = sy_err(SHARDY_ENOMEM, "%s %s: cannot create a curl handle", r->op, r->url);
            goto done;
        }
        setup_handle(s, r, http.data, hs, errbuf);
        CURLcode rc = perform_nosigpipe(r->h);
        long nconn = 0;
        curl_easy_getinfo(r->h, CURLINFO_NUM_CONNECTS, &nconn);
        atomic_fetch_add(&s->n_requests, 1);
        count_method(r->method);
        if (nconn > 0) atomic_fetch_add(&s->n_connects, (unsigned long)nconn);
        if (!r->status_known) curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
        int retry = 0;
        if (r->sink_st != SHARDY_OK) { /* local failure (disk, memory, upload source): permanent */
            st = r->sink_st;
        } else if (rc != CURLE_OK) {
            retry = retryable_curl(rc);
            st = rc == CURLE_OPERATION_TIMEDOUT ? SHARDY_ETIMEOUT : SHARDY_ESTORE;
            snprintf(why, sizeof why, "%s%s%s%s", curl_easy_strerror(rc), errbuf[0] ? " (" : "", errbuf,
                     errbuf[0] ? ")" : "");
            sy_err(st, "%s %s: %s", r->op, r->url, why);
        } else if (answered(r)) {
            if (is_2xx(r->status) && !body_complete(r, why, sizeof why)) {
                retry = 1;
                st = sy_err(SHARDY_ESTORE, "%s %s: %s", r->op, r->url, why);
            } else {
                collect_headers(r);
                st = SHARDY_OK;
            }
        } else {
            char code[sizeof r->code];
            error_details(r, code, sizeof code, msg, sizeof msg);
            snprintf(r->code, sizeof r->code, "%s", code);
            retry = retryable_http(r->status, code);
            st = status_of_http(r);
            if (st == SHARDY_EAUTH)
                sy_err(st, "%s %s: HTTP %ld %s: %s [credentials: %s%s%s]", r->op, r->url, r->status, code, msg,
                       s->cfg.cred_source, s->cfg.access_key_id ? ", access key id " : "",
                       s->cfg.access_key_id ? s->cfg.access_key_id : "");
            else
                sy_err(st, "%s %s: HTTP %ld %s: %s", r->op, r->url, r->status, code, msg);
        }
        pool_put(s, r->h);
        r->h = NULL;
        if (st == SHARDY_OK) break;
        if (!retry || attempt >= (r->min_attempts > s->cfg.max_attempts ? r->min_attempts : s->cfg.max_attempts)) {
            if (attempt > 1) {
                char last[SY_ERRMSG_MAX];
                snprintf(last, sizeof last, "%s", shardy_errmsg());
                sy_err(st, "%s (gave up after %d attempts)", last, attempt);
            }
            attempt_reset(r);
            goto done;
        }
        backoff(&s->cfg, attempt + 1);
    }
done:
    if (r->h) pool_put(s, r->h);
    r->h = NULL;
    curl_slist_free_all(hs);
    sy_buf_free(&http);
    sy_buf_free(&r->err);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Objects                                                                                     */

static shardy_status put_mem(s3_store *s, const char *op, const char *url, const s3_loc *loc, const char *data,
                             uint64_t len, int fd, uint64_t off, const char *content_type) {
    s3_req r;
    req_init(&r, op, url, "PUT", loc);
    r.write_op = 1;
    r.has_body = 1;
    r.body = data;
    r.body_fd = fd;
    r.body_off = off;
    r.body_len = len;
    r.content_type = content_type;
    return s3_perform(s, &r);
}

/* --- multipart --- */

typedef struct mp_job {
    s3_store *s;
    const char *op, *url;
    const s3_loc *loc;
    const char *data; /* or fd */
    int fd;
    uint64_t total, part_size;
    int nparts;
    const char *upload_id;
    char (*etags)[128];
    pthread_mutex_t mu;
    int next, failed;
    shardy_status st;
    char msg[SY_ERRMSG_MAX];
} mp_job;

static shardy_status mp_query(char **out, int part, const char *upload_id) {
    sy_buf q = SY_BUF_INIT;
    char num[16];
    shardy_status st = SHARDY_OK;
    if (part > 0) {
        snprintf(num, sizeof num, "%d", part);
        SY_TRY(qs_add(&q, "partNumber", num));
    }
    SY_TRY(qs_add(&q, "uploadId", upload_id));
    *out = sy_buf_take(&q);
done:
    sy_buf_free(&q);
    return st;
}

static shardy_status upload_part(mp_job *j, int i) {
    shardy_status st = SHARDY_OK;
    char *query = NULL;
    char op[64];
    s3_req r;
    uint64_t off = (uint64_t)i * j->part_size;
    uint64_t len = off + j->part_size <= j->total ? j->part_size : j->total - off;
    snprintf(op, sizeof op, "%s (part %d of %d)", j->op, i + 1, j->nparts);
    if (mp_query(&query, i + 1, j->upload_id) != SHARDY_OK) {
        st = sy_err(SHARDY_ENOMEM, "%s %s: out of memory", op, j->url);
        goto done;
    }
    req_init(&r, op, j->url, "PUT", j->loc);
    r.write_op = 1;
    r.query = query;
    r.has_body = 1;
    r.body = j->data ? j->data + off : NULL;
    r.body_fd = j->fd;
    r.body_off = j->data ? 0 : off;
    r.body_len = len;
    SY_TRY(s3_perform(j->s, &r));
    if (!r.etag[0]) {
        st = sy_err(SHARDY_ESTORE, "%s %s: the server returned no ETag for the part", op, j->url);
        goto done;
    }
    snprintf(j->etags[i], sizeof j->etags[i], "%s", r.etag);
done:
    sy_free(query);
    return st;
}

static void *mp_worker(void *arg) {
    mp_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int i = j->failed || j->next >= j->nparts ? -1 : j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i < 0) break;
        shardy_status st = upload_part(j, i);
        if (st != SHARDY_OK) {
            pthread_mutex_lock(&j->mu);
            if (!j->failed) {
                j->failed = 1;
                j->st = st;
                snprintf(j->msg, sizeof j->msg, "%s", shardy_errmsg());
            }
            pthread_mutex_unlock(&j->mu);
            break;
        }
    }
    return NULL;
}

static shardy_status mp_abort(s3_store *s, const char *url, const s3_loc *loc, const char *upload_id);

/* Aborting a failed multipart upload (and finding orphans) matters more than failing fast: an upload
 * left behind keeps its parts (and their cost) until someone aborts it, so these cleanup requests
 * retry at least this many times, whatever max_attempts says. */
#define CLEANUP_MIN_ATTEMPTS 10

static shardy_status mp_scan(s3_store *s, const char *prefix_url, const s3_loc *loc, const char *exact_key,
                             const char *keep_id, int abort, size_t *count);

/* A CreateMultipartUpload that needed retries may have created uploads whose answers were lost.
 * They cannot be told apart from other uploads of the same key by anything S3 reports reliably
 * (moto, for one, reports a fixed Initiated time), so every other in-progress upload of exactly
 * this key is aborted. Best effort: failures are ignored. Keys we write are unique per attempt; a
 * concurrent writer of the very same key would see its upload fail, never a corrupt object. */
static void mp_sweep_orphans(s3_store *s, const char *url, const s3_loc *loc, const char *ours) {
    size_t n = 0;
    (void)mp_scan(s, url, loc, loc->key, ours, 1, &n);
}

static shardy_status mp_create(s3_store *s, const char *op, const char *url, const s3_loc *loc,
                               const char *content_type, char **upload_id) {
    shardy_status st = SHARDY_OK;
    sy_buf body = SY_BUF_INIT;
    xmlDocPtr doc = NULL;
    int oom = 0;
    s3_req r;
    req_init(&r, op, url, "POST", loc);
    r.write_op = 1;
    r.query = "uploads=";
    r.has_body = 1;
    r.body = "";
    r.content_type = content_type;
    r.sink = SINK_BUF;
    r.buf = &body;
    if ((st = s3_perform(s, &r)) != SHARDY_OK) {
        if (r.attempts > 1 || r.status == 0 || r.status >= 500) { /* an earlier try may have worked */
            char msg[SY_ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s", shardy_errmsg());
            mp_sweep_orphans(s, url, loc, "");
            sy_err(st, "%s", msg);
        }
        goto done;
    }
    doc = xml_parse(&body);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    *upload_id = xml_is(root, "InitiateMultipartUploadResult") ? xml_text_dup(root, "UploadId", &oom) : NULL;
    if (oom) st = sy_err(SHARDY_ENOMEM, "%s %s: out of memory", op, url);
    else if (!*upload_id || !**upload_id) st = sy_err(SHARDY_ESTORE, "%s %s: CreateMultipartUpload returned no UploadId", op, url);
    else if (r.attempts > 1) mp_sweep_orphans(s, url, loc, *upload_id);
done:
    if (doc) xmlFreeDoc(doc);
    sy_buf_free(&body);
    return st;
}

static shardy_status mp_abort(s3_store *s, const char *url, const s3_loc *loc, const char *upload_id) {
    shardy_status st = SHARDY_OK;
    char *query = NULL;
    s3_req r;
    if (mp_query(&query, 0, upload_id) != SHARDY_OK) return sy_err(SHARDY_ENOMEM, "abort upload: out of memory");
    req_init(&r, "abort multipart upload", url, "DELETE", loc);
    r.min_attempts = CLEANUP_MIN_ATTEMPTS;
    r.query = query;
    r.ok_404 = 1; /* already gone */
    st = s3_perform(s, &r);
    sy_free(query);
    return st;
}

/* The ETag S3 gives a completed multipart object: hex MD5 of the parts' binary MD5s, "-N". */
static int expected_mp_etag(const mp_job *j, char *out, size_t cap) {
    unsigned char *cat = sy_malloc((size_t)j->nparts * 16);
    unsigned char d[EVP_MAX_MD_SIZE];
    int ok = cat != NULL;
    for (int i = 0; ok && i < j->nparts; i++) {
        const char *e = j->etags[i];
        if (*e == '"') e++;
        for (int k = 0; ok && k < 16; k++) {
            char h[3] = {e[2 * k], e[2 * k] ? e[2 * k + 1] : 0, 0};
            ok = isxdigit((unsigned char)h[0]) && isxdigit((unsigned char)h[1]);
            if (ok) cat[16 * i + k] = (unsigned char)strtol(h, NULL, 16);
        }
    }
    unsigned n = ok ? digest(EVP_md5(), cat, (size_t)j->nparts * 16, d) : 0;
    char hx[2 * EVP_MAX_MD_SIZE + 1];
    if (n) {
        hex(d, n, hx);
        snprintf(out, cap, "\"%s-%d\"", hx, j->nparts);
    }
    sy_free(cat);
    return n != 0;
}

static shardy_status mp_complete(mp_job *j) {
    shardy_status st = SHARDY_OK;
    sy_buf xml = SY_BUF_INIT, resp = SY_BUF_INIT;
    char *query = NULL;
    xmlDocPtr doc = NULL;
    char code[64], msg[600], want[128];
    s3_req r;
    if (mp_query(&query, 0, j->upload_id) != SHARDY_OK ||
        sy_buf_puts(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">") != SHARDY_OK)
        OOM_DONE();
    for (int i = 0; i < j->nparts; i++) {
        if (sy_buf_printf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1) != SHARDY_OK ||
            xml_escape(&xml, j->etags[i]) != SHARDY_OK || sy_buf_puts(&xml, "</ETag></Part>") != SHARDY_OK)
            OOM_DONE();
    }
    if (sy_buf_puts(&xml, "</CompleteMultipartUpload>") != SHARDY_OK) OOM_DONE();
    req_init(&r, j->op, j->url, "POST", j->loc);
    r.write_op = 1;
    r.query = query;
    r.has_body = 1;
    r.body = xml.data;
    r.body_len = xml.len;
    r.content_type = "application/xml";
    r.sink = SINK_BUF;
    r.buf = &resp;
    for (int tries = 0;; tries++) {
        st = s3_perform(j->s, &r);
        if (st == SHARDY_ESTORE && r.status == 404 && !strcmp(r.code, "NoSuchUpload")) {
            /* A retried Complete whose first try succeeded unseen: the object is there with the
             * ETag these parts make. */
            s3_req h;
            req_init(&h, j->op, j->url, "HEAD", j->loc);
            if (expected_mp_etag(j, want, sizeof want) && s3_perform(j->s, &h) == SHARDY_OK &&
                !strcmp(h.etag, want)) {
                st = SHARDY_OK;
                goto done;
            }
            st = sy_err(SHARDY_ESTORE, "%s %s: CompleteMultipartUpload: the upload vanished (NoSuchUpload)",
                        j->op, j->url);
            goto done;
        }
        if (st) goto done;
        /* A 200 response may still carry an <Error> (S3 reports late failures that way). */
        doc = xml_parse(&resp);
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!xml_is(root, "Error")) break;
        xml_text(root, "Code", code, sizeof code);
        xml_text(root, "Message", msg, sizeof msg);
        xmlFreeDoc(doc);
        doc = NULL;
        st = sy_err(SHARDY_ESTORE, "%s %s: CompleteMultipartUpload: %s: %s", j->op, j->url, code, msg);
        if (!retryable_http(500, code) || tries + 1 >= j->s->cfg.max_attempts) goto done;
        backoff(&j->s->cfg, tries + 2);
    }
done:
    if (st == SHARDY_ENOMEM) sy_err(st, "%s %s: out of memory", j->op, j->url);
    if (doc) xmlFreeDoc(doc);
    sy_free(query);
    sy_buf_free(&xml);
    sy_buf_free(&resp);
    return st;
}

/* Multipart upload of data (or fd) of total bytes: create, parts on parallel threads, complete;
 * abort on any failure. */
static shardy_status put_multipart(s3_store *s, const char *op, const char *url, const s3_loc *loc,
                                   const char *data, int fd, uint64_t total, const char *content_type) {
    shardy_status st = SHARDY_OK;
    char *upload_id = NULL;
    pthread_t th[64];
    int nth = 0;
    mp_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    j.op = op;
    j.url = url;
    j.loc = loc;
    j.data = data;
    j.fd = fd;
    j.total = total;
    j.part_size = (uint64_t)s->cfg.part_size;
    while ((total + j.part_size - 1) / j.part_size > SY_S3_MAX_PARTS) j.part_size += 1u << 20;
    j.nparts = (int)((total + j.part_size - 1) / j.part_size);
    pthread_mutex_init(&j.mu, NULL);
    if (!(j.etags = sy_calloc((size_t)j.nparts, sizeof *j.etags))) {
        st = sy_err(SHARDY_ENOMEM, "%s %s: out of memory", op, url);
        goto done;
    }
    SY_TRY(mp_create(s, op, url, loc, content_type, &upload_id));
    j.upload_id = upload_id;
    int want = s->cfg.parallel_parts < j.nparts ? s->cfg.parallel_parts : j.nparts;
    for (int i = 1; i < want; i++) { /* the calling thread is worker 0 */
        if (pthread_create(&th[nth], NULL, mp_worker, &j) != 0) break;
        nth++;
    }
    mp_worker(&j);
    for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
    if (j.failed) st = sy_err(j.st, "%s", j.msg);
    else st = mp_complete(&j);
    if (st) {
        char first[SY_ERRMSG_MAX];
        snprintf(first, sizeof first, "%s", shardy_errmsg());
        if (mp_abort(s, url, loc, upload_id) == SHARDY_OK) {
            sy_err(st, "%s; the multipart upload was aborted", first);
        } else {
            char why[SY_ERRMSG_MAX]; /* sy_err writes the buffer shardy_errmsg() points at */
            snprintf(why, sizeof why, "%s", shardy_errmsg());
            sy_err(st, "%s; aborting multipart upload %s failed too (%s)", first, upload_id, why);
        }
    }
done:
    sy_free(upload_id);
    sy_free(j.etags);
    pthread_mutex_destroy(&j.mu);
    return st;
}

static shardy_status s3_put(sy_store *st_, const char *url, const void *data, size_t len, const char *ct) {
    s3_store *s = S3(st_);
    s3_loc loc;
    shardy_status st = parse_url("put", url, &loc);
    if (st) return st;
    if ((long long)len >= s->cfg.multipart_threshold && len > 0)
        return put_multipart(s, "put", url, &loc, data, -1, len, ct);
    return put_mem(s, "put", url, &loc, data, len, -1, 0, ct);
}

static shardy_status s3_put_file(sy_store *st_, const char *url, const char *local_path, const char *ct) {
    s3_store *s = S3(st_);
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    struct stat sb;
    s3_loc loc;
    int fd = -1;
    SY_TRY(parse_url("put_file", url, &loc));
    fd = open(local_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = sy_err_wrap(sy_err_errno(errno, "open", local_path), "put_file %s", url);
        goto done;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = sy_err_wrap(sy_err_errno(EISDIR, "open", local_path), "put_file %s", url);
        goto done;
    }
    if (S_ISREG(sb.st_mode)) {
        uint64_t size = (uint64_t)sb.st_size;
        if ((long long)size >= s->cfg.multipart_threshold && size > 0)
            st = put_multipart(s, "put_file", url, &loc, NULL, fd, size, ct);
        else
            st = put_mem(s, "put_file", url, &loc, NULL, size, fd, 0, ct);
        goto done;
    }
    /* A pipe or device: its size is unknown and it cannot be re-read for a retry, so it is
     * buffered in memory first. */
    for (;;) {
        if (sy_buf_reserve(&b, 1u << 20) != SHARDY_OK) {
            st = sy_err(SHARDY_ENOMEM, "put_file %s: out of memory buffering %s", url, local_path);
            goto done;
        }
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            st = sy_err_wrap(sy_err_errno(errno, "read", local_path), "put_file %s", url);
            goto done;
        }
        if (n == 0) break;
        b.len += (size_t)n;
    }
    if ((long long)b.len >= s->cfg.multipart_threshold && b.len > 0)
        st = put_multipart(s, "put_file", url, &loc, b.data, -1, b.len, ct);
    else
        st = put_mem(s, "put_file", url, &loc, b.data ? b.data : "", b.len, -1, 0, ct);
done:
    if (fd >= 0) close(fd);
    sy_buf_free(&b);
    return st;
}

static shardy_status s3_get(sy_store *st_, const char *url, sy_buf *out) {
    s3_store *s = S3(st_);
    s3_loc loc;
    s3_req r;
    shardy_status st = parse_url("get", url, &loc);
    if (st) return st;
    req_init(&r, "get", url, "GET", &loc);
    r.sink = SINK_BUF;
    r.buf = out;
    if ((st = s3_perform(s, &r))) return st;
    if (!out->data && sy_buf_reserve(out, 0) != SHARDY_OK)
        return sy_err(SHARDY_ENOMEM, "get %s: out of memory", url);
    out->data[out->len] = '\0';
    return SHARDY_OK;
}

static shardy_status s3_size(sy_store *st_, const char *url, uint64_t *size) {
    s3_store *s = S3(st_);
    s3_loc loc;
    s3_req r;
    shardy_status st = parse_url("size", url, &loc);
    if (st) return st;
    req_init(&r, "size", url, "HEAD", &loc);
    if ((st = s3_perform(s, &r))) return st;
    *size = r.content_length;
    return SHARDY_OK;
}

static shardy_status s3_get_range(sy_store *st_, const char *url, uint64_t offset, void *dst, size_t len,
                                  size_t *got) {
    s3_store *s = S3(st_);
    s3_loc loc;
    s3_req r;
    uint64_t size = 0;
    shardy_status st = parse_url("get_range", url, &loc);
    *got = 0;
    if (st) return st;
    if (len == 0 || offset >= ((uint64_t)1 << 62)) {
        /* Nothing to read (or an offset beyond any object): only existence matters. */
        st = s3_size(st_, url, &size);
        return st ? sy_err_wrap(st, "get_range %s", url) : SHARDY_OK;
    }
    req_init(&r, "get_range", url, "GET", &loc);
    r.has_range = 1;
    r.range_off = offset;
    r.range_len = len;
    r.ok_416 = 1; /* offset at or past the end */
    r.sink = SINK_MEM;
    r.mem = dst;
    r.mem_cap = len;
    if ((st = s3_perform(s, &r))) return st;
    *got = r.status == 416 ? 0 : r.mem_got;
    return SHARDY_OK;
}

static shardy_status s3_get_file(sy_store *st_, const char *url, const char *local_path) {
    s3_store *s = S3(st_);
    sy_atomic_file af = SY_ATOMIC_FILE_INIT;
    char ctx[SY_ERRMSG_MAX];
    s3_loc loc;
    s3_req r;
    shardy_status st = parse_url("get_file", url, &loc);
    if (st) return st;
    snprintf(ctx, sizeof ctx, "get_file %s to %s", url, local_path);
    req_init(&r, "get_file", url, "GET", &loc);
    r.sink = SINK_FILE;
    r.af = &af;
    r.file_path = local_path;
    r.file_ctx = ctx;
    SY_TRY(s3_perform(s, &r));
    if (af.fd < 0) SY_TRY(sy_atomic_file_begin(&af, local_path, ctx)); /* empty object: no body */
    st = sy_atomic_file_commit(&af);
done:
    sy_atomic_file_abort(&af);
    return st;
}

static shardy_status s3_del(sy_store *st_, const char *url) {
    s3_store *s = S3(st_);
    s3_loc loc;
    s3_req r;
    shardy_status st = parse_url("delete", url, &loc);
    if (st) return st;
    req_init(&r, "delete", url, "DELETE", &loc);
    r.ok_404 = 1; /* some servers answer 404 for a missing key: deletes are idempotent */
    return s3_perform(s, &r);
}

/* ------------------------------------------------------------------------------------------ */
/* Listing                                                                                     */

typedef struct page_ent {
    char *url;
    uint64_t size;
    int is_prefix;
} page_ent;

static int page_ent_cmp(const void *a, const void *b) {
    return strcmp(((const page_ent *)a)->url, ((const page_ent *)b)->url);
}

static void page_free(page_ent *v, size_t n) {
    for (size_t i = 0; i < n; i++) sy_free(v[i].url);
    sy_free(v);
}

/* Collects the Contents and CommonPrefixes of one ListObjectsV2 response as sorted entries. */
static shardy_status parse_list_page(const char *ctx, const char *bucket, xmlNodePtr root, page_ent **out,
                                     size_t *n) {
    shardy_status st = SHARDY_OK;
    size_t cap = 0;
    int oom = 0;
    *out = NULL;
    *n = 0;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        int is_prefix = xml_is(c, "CommonPrefixes");
        if (!is_prefix && !xml_is(c, "Contents")) continue;
        char *k = xml_text_dup(c, is_prefix ? "Prefix" : "Key", &oom);
        if (!k) {
            if (oom) goto oom;
            continue;
        }
        url_decode(k);
        char size_txt[32];
        if (!is_prefix) xml_text(c, "Size", size_txt, sizeof size_txt);
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            page_ent *v = sy_realloc(*out, ncap * sizeof *v);
            if (!v) {
                sy_free(k);
                goto oom;
            }
            *out = v;
            cap = ncap;
        }
        (*out)[*n].url = sy_asprintf("s3://%s/%s", bucket, k);
        (*out)[*n].size = is_prefix ? 0 : strtoull(size_txt, NULL, 10);
        (*out)[*n].is_prefix = is_prefix;
        sy_free(k);
        if (!(*out)[*n].url) goto oom;
        (*n)++;
    }
    if (*n > 1) qsort(*out, *n, sizeof **out, page_ent_cmp);
    return SHARDY_OK;
oom:
    st = sy_err(SHARDY_ENOMEM, "%s: out of memory", ctx);
    page_free(*out, *n);
    *out = NULL;
    *n = 0;
    return st;
}

static shardy_status s3_list(sy_store *st_, const char *prefix_url, const sy_list_opts *opts, sy_list *out) {
    s3_store *s = S3(st_);
    shardy_status st = SHARDY_OK;
    sy_buf q = SY_BUF_INIT, body = SY_BUF_INIT;
    char *token = NULL;
    page_ent *ents = NULL;
    size_t nents = 0, cap = 0;
    xmlDocPtr doc = NULL;
    char ctx[SY_ERRMSG_MAX], bucket_root[BUCKET_MAX + 8];
    const char *sa_key = NULL, *sa = opts->start_after;
    s3_loc loc;
    int oom = 0, first = 1;
    snprintf(ctx, sizeof ctx, "list %s", prefix_url);
    SY_TRY(parse_url("list", prefix_url, &loc));
    snprintf(bucket_root, sizeof bucket_root, "s3://%s/", loc.bucket);
    if (sa) {
        size_t rl = strlen(bucket_root);
        if (!strncmp(sa, bucket_root, rl)) sa_key = sa + rl;
        else if (strcmp(sa, bucket_root) > 0) goto done; /* everything of this bucket sorts before */
        else sa = NULL;
    }
    for (;;) {
        /* We want max_keys entries after start_after plus one to know whether more exist; a
         * rolled-up start_after prefix may come back once more and is dropped. */
        size_t need = opts->max_keys + 2 - out->n;
        char mk[24];
        snprintf(mk, sizeof mk, "%zu", need < LIST_PAGE_MAX ? need : (size_t)LIST_PAGE_MAX);
        sy_buf_reset(&q);
        if (token && qs_add(&q, "continuation-token", token)) OOM_DONE();
        if (opts->delimiter && qs_add(&q, "delimiter", "/")) OOM_DONE();
        if (qs_add(&q, "encoding-type", "url") || qs_add(&q, "list-type", "2") || qs_add(&q, "max-keys", mk) ||
            qs_add(&q, "prefix", loc.key))
            OOM_DONE();
        if (first && sa_key && *sa_key && qs_add(&q, "start-after", sa_key)) OOM_DONE();
        first = 0;
        s3_req r;
        req_init(&r, "list", prefix_url, "GET", &loc);
        r.key = "";
        r.query = q.data;
        r.sink = SINK_BUF;
        r.buf = &body;
        SY_TRY(s3_perform(s, &r));
        doc = xml_parse(&body);
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!xml_is(root, "ListBucketResult")) {
            st = sy_err(SHARDY_ESTORE, "%s: the server's answer is not a ListBucketResult document", ctx);
            goto done;
        }
        SY_TRY(parse_list_page(ctx, loc.bucket, root, &ents, &nents));
        char trunc[16];
        xml_text(root, "IsTruncated", trunc, sizeof trunc);
        sy_free(token);
        token = xml_text_dup(root, "NextContinuationToken", &oom);
        if (oom) OOM_DONE();
        xmlFreeDoc(doc);
        doc = NULL;
        for (size_t i = 0; i < nents; i++) {
            if (sa && strcmp(ents[i].url, sa) <= 0) continue;
            if (out->n == opts->max_keys) {
                out->truncated = 1;
                goto done;
            }
            SY_TRY(sy_list_push(out, &cap, ents[i].url, strlen(ents[i].url), ents[i].size, ents[i].is_prefix));
        }
        page_free(ents, nents);
        ents = NULL;
        nents = 0;
        if (strcmp(trunc, "true") != 0) break;
        if (!token || !*token) {
            st = sy_err(SHARDY_ESTORE, "%s: truncated listing without a continuation token", ctx);
            goto done;
        }
    }
done:
    if (st == SHARDY_ENOMEM) sy_err(st, "%s: out of memory", ctx);
    if (doc) xmlFreeDoc(doc);
    page_free(ents, nents);
    sy_free(token);
    sy_buf_free(&q);
    sy_buf_free(&body);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Batch delete (DeleteObjects, up to 1000 keys of one bucket)                                  */

static shardy_status s3_del_batch(sy_store *st_, const char *const *urls, size_t n, size_t *deleted) {
    s3_store *s = S3(st_);
    shardy_status st = SHARDY_OK;
    sy_buf xml = SY_BUF_INIT, resp = SY_BUF_INIT;
    xmlDocPtr doc = NULL;
    unsigned char md5[EVP_MAX_MD_SIZE];
    char md5_b64[64];
    s3_loc loc, other;
    size_t errors = 0;
    *deleted = 0;
    if (n == 0) return SHARDY_OK;
    SY_TRY(parse_url("delete", urls[0], &loc));
    for (size_t i = 0; i < n; i++) {
        SY_TRY(parse_url("delete", urls[i], &other));
        if (strcmp(other.bucket, loc.bucket) != 0 || n > LIST_PAGE_MAX) { /* not one request: one by one */
            for (size_t k = 0; k < n; k++) {
                SY_TRY(s3_del(st_, urls[k]));
                (*deleted)++;
            }
            goto done;
        }
    }
    if (sy_buf_puts(&xml, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"))
        OOM_DONE();
    for (size_t i = 0; i < n; i++) {
        SY_TRY(parse_url("delete", urls[i], &other));
        if (sy_buf_puts(&xml, "<Object><Key>") || xml_escape(&xml, other.key) ||
            sy_buf_puts(&xml, "</Key></Object>"))
            OOM_DONE();
    }
    if (sy_buf_puts(&xml, "</Delete>")) OOM_DONE();
    unsigned dn = digest(EVP_md5(), xml.data, xml.len, md5);
    if (!dn) {
        st = sy_err(SHARDY_EINTERNAL, "delete %s...: MD5 failed", urls[0]);
        goto done;
    }
    EVP_EncodeBlock((unsigned char *)md5_b64, md5, (int)dn);
    s3_req r;
    req_init(&r, "delete (batch)", urls[0], "POST", &loc);
    r.key = "";
    r.query = "delete=";
    r.has_body = 1;
    r.body = xml.data;
    r.body_len = xml.len;
    r.content_type = "application/xml";
    r.content_md5 = md5_b64;
    r.sink = SINK_BUF;
    r.buf = &resp;
    SY_TRY(s3_perform(s, &r));
    doc = xml_parse(&resp);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!xml_is(root, "DeleteResult")) {
        st = sy_err(SHARDY_ESTORE, "delete (batch) %s ...: the server's answer is not a DeleteResult document",
                    urls[0]);
        goto done;
    }
    char key[1100] = "", code[64] = "", msg[600] = "";
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (!xml_is(c, "Error")) continue;
        if (!errors++) {
            xml_text(c, "Key", key, sizeof key);
            xml_text(c, "Code", code, sizeof code);
            xml_text(c, "Message", msg, sizeof msg);
        }
    }
    *deleted = n - errors;
    if (errors)
        st = sy_err(!strcmp(code, "AccessDenied") ? SHARDY_EAUTH : SHARDY_ESTORE,
                    "delete s3://%s/%s: %s: %s (%zu of %zu keys of the batch failed)", loc.bucket, key, code, msg,
                    errors, n);
done:
    if (st == SHARDY_ENOMEM) sy_err(st, "delete %s ...: out of memory", urls[0]);
    if (doc) xmlFreeDoc(doc);
    sy_buf_free(&xml);
    sy_buf_free(&resp);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* S3-only operations                                                                          */

shardy_status sy_s3_bucket_create(sy_store *st_, const char *bucket) {
    shardy_status st = SHARDY_OK;
    sy_buf body = SY_BUF_INIT;
    char url[BUCKET_MAX + 8];
    s3_loc loc;
    s3_req r;
    if (!st_ || !bucket || st_->scheme != SY_SCHEME_S3) return sy_err(SHARDY_EINVAL, "create bucket: not an s3:// store");
    s3_store *s = S3(st_);
    if (!*bucket || strlen(bucket) > BUCKET_MAX || strchr(bucket, '/'))
        return sy_err(SHARDY_EINVAL, "create bucket '%.300s': invalid bucket name", bucket);
    snprintf(url, sizeof url, "s3://%s", bucket);
    snprintf(loc.bucket, sizeof loc.bucket, "%s", bucket);
    loc.key = "";
    if (strcmp(s->cfg.region, "us-east-1") != 0 &&
        sy_buf_printf(&body, "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                             "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                      s->cfg.region) != SHARDY_OK)
        return sy_err(SHARDY_ENOMEM, "create bucket %s: out of memory", bucket);
    req_init(&r, "create bucket", url, "PUT", &loc);
    r.write_op = 1;
    r.has_body = 1;
    r.body = body.data ? body.data : "";
    r.body_len = body.len;
    r.content_type = "application/xml";
    st = s3_perform(s, &r);
    if (st && r.status == 409 && !strcmp(r.code, "BucketAlreadyOwnedByYou")) st = SHARDY_OK;
    sy_buf_free(&body);
    return st;
}

/* Lists the in-progress multipart uploads under loc's key (every page) and counts those whose key is
 * exact_key (NULL: any) and whose id is not keep_id (NULL: none); with abort set, aborts each of them
 * too (cleanup retries; an upload already gone counts as aborted). */
static shardy_status mp_scan(s3_store *s, const char *prefix_url, const s3_loc *ploc, const char *exact_key,
                             const char *keep_id, int abort, size_t *count) {
    shardy_status st = SHARDY_OK, ast = SHARDY_OK;
    char afirst[SY_ERRMSG_MAX] = "";
    sy_buf q = SY_BUF_INIT, body = SY_BUF_INIT;
    char *key_marker = NULL, *id_marker = NULL;
    xmlDocPtr doc = NULL;
    const s3_loc loc = *ploc;
    int oom = 0;
    *count = 0;
    for (;;) {
        sy_buf_reset(&q);
        if ((key_marker && qs_add(&q, "key-marker", key_marker)) || qs_add(&q, "prefix", loc.key) ||
            (id_marker && qs_add(&q, "upload-id-marker", id_marker)) || qs_add(&q, "uploads", NULL)) {
            st = sy_err(SHARDY_ENOMEM, "list multipart uploads: out of memory");
            goto done;
        }
        s3_req r;
        req_init(&r, "list multipart uploads", prefix_url, "GET", &loc);
        if (abort) r.min_attempts = CLEANUP_MIN_ATTEMPTS;
        r.key = "";
        r.query = q.data;
        r.sink = SINK_BUF;
        r.buf = &body;
        SY_TRY(s3_perform(s, &r));
        doc = xml_parse(&body);
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!xml_is(root, "ListMultipartUploadsResult")) {
            st = sy_err(SHARDY_ESTORE, "list multipart uploads %s: unexpected answer", prefix_url);
            goto done;
        }
        for (xmlNodePtr c = root->children; c; c = c->next) {
            if (!xml_is(c, "Upload")) continue;
            char key[1100], id[512];
            xml_text(c, "Key", key, sizeof key);
            xml_text(c, "UploadId", id, sizeof id);
            if ((exact_key && strcmp(key, exact_key) != 0) || (keep_id && !strcmp(id, keep_id))) continue;
            (*count)++;
            if (!abort) continue;
            s3_loc one = loc;
            one.key = key;
            char *url = sy_asprintf("s3://%s/%s", loc.bucket, key);
            shardy_status a = url ? mp_abort(s, url, &one, id) : sy_err(SHARDY_ENOMEM, "abort upload: out of memory");
            if (a && !ast) {
                ast = a;
                snprintf(afirst, sizeof afirst, "%s", shardy_errmsg());
            }
            sy_free(url);
        }
        char trunc[16];
        xml_text(root, "IsTruncated", trunc, sizeof trunc);
        sy_free(key_marker);
        sy_free(id_marker);
        key_marker = xml_text_dup(root, "NextKeyMarker", &oom);
        id_marker = xml_text_dup(root, "NextUploadIdMarker", &oom);
        xmlFreeDoc(doc);
        doc = NULL;
        if (oom) {
            st = sy_err(SHARDY_ENOMEM, "list multipart uploads: out of memory");
            goto done;
        }
        if (strcmp(trunc, "true") != 0 || !key_marker) break;
    }
    if (ast) st = sy_err(ast, "%s", afirst);
done:
    if (doc) xmlFreeDoc(doc);
    sy_free(key_marker);
    sy_free(id_marker);
    sy_buf_free(&q);
    sy_buf_free(&body);
    return st;
}

/* Every in-progress upload whose key starts with prefix_url's key: counted, or aborted too. */
static shardy_status mp_uploads(sy_store *st_, const char *prefix_url, int abort, size_t *count) {
    s3_loc loc;
    if (!st_ || !prefix_url || !count || st_->scheme != SY_SCHEME_S3 || strncmp(prefix_url, "s3://", 5))
        return sy_err(SHARDY_EINVAL, "list multipart uploads: bad arguments");
    *count = 0;
    shardy_status st = parse_url("list multipart uploads", prefix_url, &loc);
    return st ? st : mp_scan(S3(st_), prefix_url, &loc, NULL, NULL, abort, count);
}

shardy_status sy_s3_multipart_count(sy_store *s, const char *prefix_url, size_t *count) {
    return mp_uploads(s, prefix_url, 0, count);
}

static shardy_status s3_abort_uploads(sy_store *s, const char *prefix_url, size_t *aborted) {
    return mp_uploads(s, prefix_url, 1, aborted);
}

shardy_status sy_s3_request_url(sy_store *st_, const char *s3_url, char **out) {
    shardy_status st = SHARDY_OK;
    sy_buf b = SY_BUF_INIT;
    s3_loc loc;
    if (!st_ || !s3_url || !out || st_->scheme != SY_SCHEME_S3 || strncmp(s3_url, "s3://", 5))
        return sy_err(SHARDY_EINVAL, "request URL: bad arguments");
    *out = NULL;
    SY_TRY(parse_url("request URL", s3_url, &loc));
    if (http_url(S3(st_), loc.bucket, loc.key, NULL, &b) != SHARDY_OK) {
        st = sy_err(SHARDY_ENOMEM, "request URL %s: out of memory", s3_url);
        goto done;
    }
    *out = sy_buf_take(&b);
done:
    sy_buf_free(&b);
    return st;
}

void sy_s3_counters(sy_store *st_, uint64_t *requests, uint64_t *connections) {
    int ok = st_ && st_->scheme == SY_SCHEME_S3;
    if (requests) *requests = ok ? atomic_load(&S3(st_)->n_requests) : 0;
    if (connections) *connections = ok ? atomic_load(&S3(st_)->n_connects) : 0;
}

const char *sy_s3_describe(sy_store *s) {
    return s && s->scheme == SY_SCHEME_S3 ? S3(s)->describe : "";
}

/* ------------------------------------------------------------------------------------------ */

static void s3_close(sy_store *st_) {
    s3_store *s = S3(st_);
    for (size_t i = 0; i < s->nidle; i++) curl_easy_cleanup(s->idle[i]);
    pthread_mutex_destroy(&s->mu);
    sy_s3_config_free(&s->cfg);
    sy_free(s->sigv4);
    sy_free(s->describe);
    sy_free(s);
}

static const sy_store_ops s3_ops = {
    .name = "s3",
    .put = s3_put,
    .put_file = s3_put_file,
    .get = s3_get,
    .get_range = s3_get_range,
    .get_file = s3_get_file,
    .size = s3_size,
    .list = s3_list,
    .del = s3_del,
    .close = s3_close,
    .prune = NULL,
    .del_batch = s3_del_batch,
    .abort_uploads = s3_abort_uploads,
};

shardy_status sy_store_s3_open(const sy_s3_opts *o, sy_store **out) {
    shardy_status st = SHARDY_OK;
    s3_store *s = NULL;
    if (!out) return sy_err(SHARDY_EINVAL, "open s3:// store: out is NULL");
    *out = NULL;
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK)
        return sy_err(SHARDY_ESTORE, "open s3:// store: libcurl initialisation failed: %s",
                      curl_easy_strerror(g_init_rc));
    if (!(s = sy_calloc(1, sizeof *s))) return sy_err(SHARDY_ENOMEM, "open s3:// store: out of memory");
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        sy_free(s);
        return sy_err(SHARDY_EINTERNAL, "open s3:// store: cannot create a mutex");
    }
    s->base.ops = &s3_ops;
    s->base.scheme = SY_SCHEME_S3;
    if ((st = sy_s3_config_resolve(o, &s->cfg)) != SHARDY_OK) {
        st = sy_err_wrap(st, "open s3:// store");
        goto done;
    }
    s->sigv4 = sy_asprintf("aws:amz:%s:s3", s->cfg.region);
    s->describe = sy_asprintf("endpoint %s://%s%s (%s addressing), region %s, credentials: %s%s%s",
                              s->cfg.https ? "https" : "http", s->cfg.host, s->cfg.base_path,
                              s->cfg.addressing == SY_S3_ADDR_PATH      ? "path-style"
                              : s->cfg.addressing == SY_S3_ADDR_VIRTUAL ? "virtual-hosted"
                              : s->cfg.host_is_local                    ? "auto: path-style"
                                                                        : "auto: virtual-hosted",
                              s->cfg.region, s->cfg.cred_source,
                              s->cfg.access_key_id ? ", access key id " : " (anonymous requests)",
                              s->cfg.access_key_id ? s->cfg.access_key_id : "");
    if (!s->sigv4 || !s->describe) {
        st = sy_err(SHARDY_ENOMEM, "open s3:// store: out of memory");
        goto done;
    }
    *out = &s->base;
    s = NULL;
done:
    if (s) s3_close(&s->base);
    return st;
}
