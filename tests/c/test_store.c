/*
 * test_store.c — the object-store interface (src/store): one behavioural suite run against
 * file://, mem:// and s3:// (moto from tests/s3/servers.sh; skipped loudly without it; multipart
 * thresholds lowered so big objects go multipart), then file-specific tests (atomicity, OS errors, layout on
 * disk, directories and symlinks in listings, pruning, streaming from FIFOs, bare paths), mem://
 * namespaces, and allocation-failure injection on both backends.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "check.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "s3_env.h"
#include "store/s3.h"
#include "store/store.h"

enum { BK_FILE, BK_MEM, BK_S3 };

typedef struct fixture {
    int backend;
    const char *name;
    sy_store *s;
    char root[1024];  /* URL of the test's area, no trailing '/' */
    char dir[1024];   /* file backend: the directory behind root */
    char local[1024]; /* a local scratch directory (both backends) */
} fixture;

/* URL of key under the fixture's root. Rotating static buffers: valid for the next 15 calls. */
static const char *U(const fixture *f, const char *key) {
    static char bufs[16][2048];
    static unsigned next;
    char *b = bufs[next++ % 16];
    snprintf(b, sizeof bufs[0], "%s/%s", f->root, key);
    return b;
}

/* Local path under the fixture's scratch directory (same rotation). */
static const char *L(const fixture *f, const char *name) {
    static char bufs[8][2048];
    static unsigned next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", f->local, name);
    return b;
}

static void fixture_open(fixture *f, int backend, const char *test) {
    char name[256];
    memset(f, 0, sizeof *f);
    f->backend = backend;
    f->name = backend == BK_FILE ? "file" : backend == BK_MEM ? "mem" : "s3";
    snprintf(name, sizeof name, "store-%s-%s-local", f->name, test);
    snprintf(f->local, sizeof f->local, "%s", test_tmpdir(name));
    if (backend == BK_FILE) {
        snprintf(name, sizeof name, "store-%s-%s", f->name, test);
        snprintf(f->dir, sizeof f->dir, "%s", test_tmpdir(name));
        if (f->dir[0] != '/') { /* SHARDY_TEST_TMP may be relative */
            char cwd[1024];
            CHECK(getcwd(cwd, sizeof cwd) != NULL);
            char abs[1024];
            snprintf(abs, sizeof abs, "%s/%s", cwd, f->dir);
            snprintf(f->dir, sizeof f->dir, "%s", abs);
        }
        snprintf(f->root, sizeof f->root, "file://%s", f->dir);
        CHECK_OK(sy_store_file_open(&f->s));
    } else if (backend == BK_MEM) {
        snprintf(f->root, sizeof f->root, "mem://t/%s", test);
        CHECK_OK(sy_store_mem_open(&f->s));
    } else {
        sy_s3_opts o;
        s3_env_opts("S3", &o);
        o.multipart_threshold = 5ll << 20; /* the 5 MiB + 123 byte object goes multipart */
        o.part_size = 5ll << 20;
        o.parallel_parts = 2;
        snprintf(f->root, sizeof f->root, "s3://%s/%s", s3_env_bucket(), test);
        CHECK_OK(sy_store_s3_open(&o, &f->s));
        sy_s3_opts_free(&o);
    }
}

static void fixture_close(fixture *f) {
    sy_store_close(&f->s);
    CHECK(f->s == NULL);
}

static void put_str(const fixture *f, const char *key, const char *value) {
    CHECK_OK(sy_store_put(f->s, U(f, key), value, strlen(value), "text/plain"));
}

/* Checks that key holds exactly len bytes equal to want. */
static void check_get(const fixture *f, const char *key, const void *want, size_t len) {
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_store_get(f->s, U(f, key), &b));
    CHECK_EQ_U64(b.len, len);
    CHECK(b.len == len && (len == 0 || memcmp(b.data, want, len) == 0));
    CHECK(b.data != NULL && b.data[b.len] == '\0');
    sy_buf_free(&b);
}

static void check_get_str(const fixture *f, const char *key, const char *want) {
    check_get(f, key, want, strlen(want));
}

/* Deterministic bytes with every value 0..255 (NULs included). */
static void fill_pattern(unsigned char *p, size_t n, unsigned seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x >> 7);
    }
}

/* Number of entries named .shardy-tmp-* anywhere below dir. */
static int count_temp_files(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!strncmp(e->d_name, SY_STORE_TMP_PREFIX, strlen(SY_STORE_TMP_PREFIX))) n++;
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) n += count_temp_files(p);
    }
    closedir(d);
    return n;
}

static int path_exists(const char *p) {
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void write_local(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    REQUIRE(fp != NULL);
    CHECK_EQ_U64(fwrite(data, 1, len, fp), len);
    CHECK_EQ_INT(fclose(fp), 0);
}

/* Reads a whole local file into a malloc'd buffer (NULL if missing). */
static unsigned char *read_local(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, fp);
    fclose(fp);
    return p;
}

/* Compares a listing with the expected keys (relative to the root; a key ending in '/' must be a
 * common prefix; an object's size must be strlen(key), since tests store each key as its value). */
static void check_list_at(int line, const fixture *f, const sy_list *l, int truncated,
                          const char *const *keys, size_t n) {
    int before = check_failures;
    CHECK_EQ_U64(l->n, n);
    CHECK_EQ_INT(l->truncated, truncated);
    for (size_t i = 0; i < n && i < l->n; i++) {
        size_t klen = strlen(keys[i]);
        int prefix = klen > 0 && keys[i][klen - 1] == '/';
        CHECK_STR(l->items[i].url, U(f, keys[i]));
        CHECK_EQ_INT(l->items[i].is_prefix, prefix);
        CHECK_EQ_U64(l->items[i].size, prefix ? 0 : klen);
    }
    if (check_failures != before) {
        fprintf(stderr, "  (listing checked at line %d, backend %s), got:\n", line, f->name);
        for (size_t i = 0; i < l->n; i++)
            fprintf(stderr, "    %s%s\n", l->items[i].url, l->items[i].is_prefix ? " (prefix)" : "");
    }
}
#define CHECK_LIST(f, l, truncated, ...)                                                           \
    do {                                                                                           \
        const char *const keys_[] = {__VA_ARGS__};                                                 \
        check_list_at(__LINE__, (f), (l), (truncated), keys_, sizeof keys_ / sizeof keys_[0]);    \
    } while (0)
#define CHECK_LIST_EMPTY(l)                                                                        \
    do {                                                                                           \
        CHECK_EQ_U64((l)->n, 0);                                                                   \
        CHECK_EQ_INT((l)->truncated, 0);                                                           \
    } while (0)

/* Puts every key with itself as the value. */
static void put_keys(const fixture *f, const char *const *keys, size_t n) {
    for (size_t i = 0; i < n; i++) put_str(f, keys[i], keys[i]);
}

/* ============================================================================================ */
/* The behavioural suite, run against every backend.                                            */

static void case_roundtrip(fixture *f) {
    put_str(f, "a/b.txt", "hello");
    check_get_str(f, "a/b.txt", "hello");
    uint64_t size = 99;
    CHECK_OK(sy_store_size(f->s, U(f, "a/b.txt"), &size));
    CHECK_EQ_U64(size, 5);

    /* 0-byte object, data may be NULL */
    CHECK_OK(sy_store_put(f->s, U(f, "empty"), NULL, 0, NULL));
    check_get(f, "empty", "", 0);
    CHECK_OK(sy_store_size(f->s, U(f, "empty"), &size));
    CHECK_EQ_U64(size, 0);

    /* multi-MB object with every byte value */
    size_t big_len = (5u << 20) + 123;
    unsigned char *big = malloc(big_len);
    REQUIRE(big != NULL);
    fill_pattern(big, big_len, 7);
    CHECK_OK(sy_store_put(f->s, U(f, "big/object.bin"), big, big_len, "application/octet-stream"));
    check_get(f, "big/object.bin", big, big_len);
    CHECK_OK(sy_store_size(f->s, U(f, "big/object.bin"), &size));
    CHECK_EQ_U64(size, big_len);

    /* ranged read across the middle of the big object */
    unsigned char *part = malloc(1u << 20);
    size_t got = 0;
    CHECK_OK(sy_store_get_range(f->s, U(f, "big/object.bin"), 3u << 20, part, 1u << 20, &got));
    CHECK_EQ_U64(got, 1u << 20);
    CHECK(memcmp(part, big + (3u << 20), 1u << 20) == 0);
    /* tail: only what is left */
    CHECK_OK(sy_store_get_range(f->s, U(f, "big/object.bin"), big_len - 100, part, 1u << 20, &got));
    CHECK_EQ_U64(got, 100);
    CHECK(memcmp(part, big + big_len - 100, 100) == 0);
    free(part);
    free(big);

    /* the buffer is reset, not appended to */
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_buf_puts(&b, "stale content"));
    CHECK_OK(sy_store_get(f->s, U(f, "a/b.txt"), &b));
    CHECK_STR(b.data, "hello");
    sy_buf_free(&b);
}

static void case_overwrite(fixture *f) {
    put_str(f, "x", "first, longer version");
    put_str(f, "x", "2nd");
    check_get_str(f, "x", "2nd"); /* no stale tail from the longer version */
    uint64_t size = 0;
    CHECK_OK(sy_store_size(f->s, U(f, "x"), &size));
    CHECK_EQ_U64(size, 3);
    put_str(f, "x", "third version is longest of all");
    check_get_str(f, "x", "third version is longest of all");
}

static void case_missing(fixture *f) {
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_buf_puts(&b, "left over"));
    const char *url = U(f, "no/such/object");
    CHECK_ST(sy_store_get(f->s, url, &b), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(url);
    CHECK_EQ_U64(b.len, 0);
    sy_buf_free(&b);

    uint64_t size = 42;
    CHECK_ST(sy_store_size(f->s, url, &size), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(url);
    char dst[8];
    size_t got = 5;
    CHECK_ST(sy_store_get_range(f->s, url, 0, dst, sizeof dst, &got), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(url);
    CHECK_EQ_U64(got, 0);
    CHECK_ST(sy_store_get_file(f->s, url, L(f, "dl/never")), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(url);
    CHECK(!path_exists(L(f, "dl/never")));
    CHECK_EQ_INT(count_temp_files(f->local), 0);
    /* a "directory" is not an object */
    put_str(f, "dir/child", "c");
    CHECK_ST(sy_store_get(f->s, U(f, "dir"), &b), SHARDY_ENOTFOUND);
    CHECK_ST(sy_store_size(f->s, U(f, "dir"), &size), SHARDY_ENOTFOUND);
    sy_buf_free(&b);
}

static void case_range(fixture *f) {
    static const struct {
        uint64_t off;
        size_t len;
        const char *want;
    } cases[] = {
        {0, 4, "0123"},   {8, 4, "89"},  {9, 1, "9"},          {10, 4, ""},  {100, 4, ""},
        {3, 0, ""},       {0, 10, "0123456789"}, {0, 100, "0123456789"}, {UINT64_MAX, 4, ""},
        {UINT64_MAX - 2, 100, ""}, {5, 3, "567"},
    };
    put_str(f, "r", "0123456789");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int before = check_failures;
        char dst[128];
        size_t got = 777;
        memset(dst, '#', sizeof dst);
        CHECK_OK(sy_store_get_range(f->s, U(f, "r"), cases[i].off, dst, cases[i].len, &got));
        CHECK_EQ_U64(got, strlen(cases[i].want));
        CHECK(memcmp(dst, cases[i].want, strlen(cases[i].want)) == 0);
        CHECK(dst[strlen(cases[i].want)] == '#'); /* nothing written past what was read */
        if (check_failures != before) fprintf(stderr, "  (range case %zu)\n", i);
    }
}

static const char *const list_keys[] = {
    "k",         /* before the prefix */
    "l/a",      "l/b.txt", "l/b/c", "l/b/d", "l/ba/x", "l/c", "l/manifests/m1/manifest",
    "l/manifests/m2/manifest",
    "l2/x",      /* after the prefix "l/" but matches "l" */
};

static void case_list(fixture *f) {
    sy_list l;
    put_keys(f, list_keys, sizeof list_keys / sizeof list_keys[0]);

    /* recursive, sorted by byte order ('.' < '/' < 'a') */
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), NULL, &l));
    CHECK_LIST(f, &l, 0, "l/a", "l/b.txt", "l/b/c", "l/b/d", "l/ba/x", "l/c", "l/manifests/m1/manifest",
               "l/manifests/m2/manifest");
    sy_list_free(&l);
    CHECK(l.items == NULL && l.n == 0);

    /* paged */
    sy_list_opts o = {0, NULL, 3};
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &o, &l));
    CHECK_LIST(f, &l, 1, "l/a", "l/b.txt", "l/b/c");
    sy_list_free(&l);
    o.start_after = U(f, "l/b/c");
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &o, &l));
    CHECK_LIST(f, &l, 1, "l/b/d", "l/ba/x", "l/c");
    sy_list_free(&l);
    o.start_after = U(f, "l/c");
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &o, &l));
    CHECK_LIST(f, &l, 0, "l/manifests/m1/manifest", "l/manifests/m2/manifest");
    sy_list_free(&l);
    /* a page that ends exactly at the last entry is not truncated */
    o.start_after = U(f, "l/ba/x");
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &o, &l));
    CHECK_LIST(f, &l, 0, "l/c", "l/manifests/m1/manifest", "l/manifests/m2/manifest");
    sy_list_free(&l);
    /* start_after that is not itself a key, and one before the prefix */
    o.start_after = U(f, "l/b/cz");
    o.max_keys = 2;
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &o, &l));
    CHECK_LIST(f, &l, 1, "l/b/d", "l/ba/x");
    sy_list_free(&l);
    o.start_after = U(f, "a");
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &o, &l));
    CHECK_LIST(f, &l, 1, "l/a", "l/b.txt");
    sy_list_free(&l);
    o.start_after = U(f, "zzz");
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &o, &l));
    CHECK_LIST_EMPTY(&l);
    sy_list_free(&l);

    /* delimiter: common prefixes in sort position */
    sy_list_opts d = {'/', NULL, 0};
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &d, &l));
    CHECK_LIST(f, &l, 0, "l/a", "l/b.txt", "l/b/", "l/ba/", "l/c", "l/manifests/");
    sy_list_free(&l);
    d.max_keys = 2;
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &d, &l));
    CHECK_LIST(f, &l, 1, "l/a", "l/b.txt");
    sy_list_free(&l);
    d.start_after = U(f, "l/b.txt");
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &d, &l));
    CHECK_LIST(f, &l, 1, "l/b/", "l/ba/");
    sy_list_free(&l);
    d.start_after = U(f, "l/ba/");
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &d, &l));
    CHECK_LIST(f, &l, 0, "l/c", "l/manifests/");
    sy_list_free(&l);
    /* start_after inside a rolled-up prefix: that prefix is not returned again */
    d.start_after = U(f, "l/b/c");
    d.max_keys = 0;
    CHECK_OK(sy_store_list(f->s, U(f, "l/"), &d, &l));
    CHECK_LIST(f, &l, 0, "l/ba/", "l/c", "l/manifests/");
    sy_list_free(&l);

    /* prefix ending mid-name */
    CHECK_OK(sy_store_list(f->s, U(f, "l/manif"), NULL, &l));
    CHECK_LIST(f, &l, 0, "l/manifests/m1/manifest", "l/manifests/m2/manifest");
    sy_list_free(&l);
    d.start_after = NULL;
    CHECK_OK(sy_store_list(f->s, U(f, "l/manif"), &d, &l));
    CHECK_LIST(f, &l, 0, "l/manifests/");
    sy_list_free(&l);
    CHECK_OK(sy_store_list(f->s, U(f, "l/manifests/"), &d, &l));
    CHECK_LIST(f, &l, 0, "l/manifests/m1/", "l/manifests/m2/");
    sy_list_free(&l);
    CHECK_OK(sy_store_list(f->s, U(f, "l/b"), &d, &l));
    CHECK_LIST(f, &l, 0, "l/b.txt", "l/b/", "l/ba/");
    sy_list_free(&l);
    CHECK_OK(sy_store_list(f->s, U(f, "l"), &d, &l));
    CHECK_LIST(f, &l, 0, "l/", "l2/");
    sy_list_free(&l);
    CHECK_OK(sy_store_list(f->s, U(f, "l/b/c"), NULL, &l)); /* a prefix equal to a key */
    CHECK_LIST(f, &l, 0, "l/b/c");
    sy_list_free(&l);

    /* nothing there: empty, not an error */
    CHECK_OK(sy_store_list(f->s, U(f, "nothing/here/"), NULL, &l));
    CHECK_LIST_EMPTY(&l);
    sy_list_free(&l);
    CHECK_OK(sy_store_list(f->s, U(f, "l/a/"), &d, &l)); /* "a" is an object, not a directory */
    CHECK_LIST_EMPTY(&l);
    sy_list_free(&l);

    /* list_all concatenates every page */
    CHECK_OK(sy_store_list_all(f->s, U(f, "l"), 0, &l));
    CHECK_LIST(f, &l, 0, "l/a", "l/b.txt", "l/b/c", "l/b/d", "l/ba/x", "l/c", "l/manifests/m1/manifest",
               "l/manifests/m2/manifest", "l2/x");
    sy_list_free(&l);
    CHECK_OK(sy_store_list_all(f->s, U(f, "l/"), '/', &l));
    CHECK_LIST(f, &l, 0, "l/a", "l/b.txt", "l/b/", "l/ba/", "l/c", "l/manifests/");
    sy_list_free(&l);
}

/* Many objects: list_all and delete_prefix must page (pages hold 1000 entries). */
static void case_many(fixture *f) {
    enum { N = 1203 };
    char key[64];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "many/%c/%05d", 'a' + i % 3, i);
        put_str(f, key, key);
    }
    sy_list l;
    CHECK_OK(sy_store_list_all(f->s, U(f, "many/"), 0, &l));
    CHECK_EQ_U64(l.n, N);
    for (size_t i = 1; i < l.n; i++) CHECK(strcmp(l.items[i - 1].url, l.items[i].url) < 0);
    if (l.n == N) {
        CHECK_STR(l.items[0].url, U(f, "many/a/00000"));
        CHECK_STR(l.items[N - 1].url, U(f, "many/c/01202"));
    }
    sy_list_free(&l);
    sy_list_opts o = {0, NULL, 0};
    CHECK_OK(sy_store_list(f->s, U(f, "many/"), &o, &l));
    CHECK_EQ_U64(l.n, 1000); /* max_keys 0 means 1000 */
    CHECK_EQ_INT(l.truncated, 1);
    sy_list_free(&l);
    size_t deleted = 0;
    CHECK_OK(sy_store_delete_prefix(f->s, U(f, "many/"), &deleted));
    CHECK_EQ_U64(deleted, N);
    CHECK_OK(sy_store_list_all(f->s, U(f, "many/"), 0, &l));
    CHECK_LIST_EMPTY(&l);
    sy_list_free(&l);
}

static void case_delete(fixture *f) {
    sy_buf b = SY_BUF_INIT;
    put_str(f, "d/a", "a");
    put_str(f, "d/sub/x", "x");
    CHECK_OK(sy_store_delete(f->s, U(f, "d/a")));
    CHECK_ST(sy_store_get(f->s, U(f, "d/a"), &b), SHARDY_ENOTFOUND);
    CHECK_OK(sy_store_delete(f->s, U(f, "d/a")));           /* again: idempotent */
    CHECK_OK(sy_store_delete(f->s, U(f, "never/existed"))); /* never there */
    CHECK_OK(sy_store_delete(f->s, U(f, "d/sub")));         /* a "directory": nothing to delete */
    check_get_str(f, "d/sub/x", "x");
    sy_buf_free(&b);
}

static void case_delete_prefix(fixture *f) {
    static const char *const keys[] = {"p/b.txt", "p/b/c", "p/b/d", "p/ba/x", "p/c", "p/m/1", "q/keep"};
    put_keys(f, keys, sizeof keys / sizeof keys[0]);
    size_t deleted = 99;
    CHECK_OK(sy_store_delete_prefix(f->s, U(f, "p/b"), &deleted)); /* mid-name: b.txt, b/, ba/ */
    CHECK_EQ_U64(deleted, 4);
    sy_list l;
    CHECK_OK(sy_store_list(f->s, U(f, "p/"), NULL, &l));
    CHECK_LIST(f, &l, 0, "p/c", "p/m/1");
    sy_list_free(&l);
    CHECK_OK(sy_store_delete_prefix(f->s, U(f, "p/"), &deleted));
    CHECK_EQ_U64(deleted, 2);
    CHECK_OK(sy_store_list(f->s, U(f, "p/"), NULL, &l));
    CHECK_LIST_EMPTY(&l);
    sy_list_free(&l);
    check_get_str(f, "q/keep", "q/keep");
    CHECK_OK(sy_store_delete_prefix(f->s, U(f, "p/"), NULL)); /* nothing left: fine */
    CHECK_OK(sy_store_delete_prefix(f->s, U(f, "p/"), &deleted));
    CHECK_EQ_U64(deleted, 0);

    /* a prefix with an empty key would wipe the whole store */
    char s3_all[128], s3_bucket[128];
    snprintf(s3_all, sizeof s3_all, "s3://%s/", s3_env_bucket());
    snprintf(s3_bucket, sizeof s3_bucket, "s3://%s", s3_env_bucket());
    const char *all = f->backend == BK_FILE ? "file:///" : f->backend == BK_MEM ? "mem://t/" : s3_all;
    CHECK_ST(sy_store_delete_prefix(f->s, all, &deleted), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS(all);
    CHECK_ST(sy_store_delete_prefix(f->s, f->backend == BK_FILE ? "file://" : f->backend == BK_MEM ? "mem://t" : s3_bucket,
                                    NULL),
             SHARDY_EINVAL);
    CHECK_ST(sy_store_abort_uploads(f->s, all, NULL), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS(all);
    /* no unfinished uploads here (file/mem have none at all): nothing found, nothing touched */
    size_t aborted = 99;
    CHECK_OK(sy_store_abort_uploads(f->s, U(f, "q/"), &aborted));
    CHECK_EQ_U64(aborted, 0);
    check_get_str(f, "q/keep", "q/keep");
}

static void case_files(fixture *f) {
    size_t len = (3u << 20) + 7, got_len = 0;
    unsigned char *data = malloc(len);
    REQUIRE(data != NULL);
    fill_pattern(data, len, 3);
    write_local(L(f, "src.bin"), data, len);
    CHECK_OK(sy_store_put_file(f->s, U(f, "up/loaded.bin"), L(f, "src.bin"), "application/octet-stream"));
    check_get(f, "up/loaded.bin", data, len);

    /* download into missing directories, then over an existing file */
    CHECK_OK(sy_store_get_file(f->s, U(f, "up/loaded.bin"), L(f, "deep/er/copy.bin")));
    unsigned char *back = read_local(L(f, "deep/er/copy.bin"), &got_len);
    CHECK(back != NULL && got_len == len && memcmp(back, data, len) == 0);
    free(back);
    put_str(f, "small", "tiny");
    CHECK_OK(sy_store_get_file(f->s, U(f, "small"), L(f, "deep/er/copy.bin")));
    back = read_local(L(f, "deep/er/copy.bin"), &got_len);
    CHECK(back != NULL && got_len == 4 && memcmp(back, "tiny", 4) == 0);
    free(back);
    CHECK_EQ_INT(count_temp_files(f->local), 0);

    /* empty local file */
    write_local(L(f, "empty"), "", 0);
    CHECK_OK(sy_store_put_file(f->s, U(f, "up/empty"), L(f, "empty"), NULL));
    check_get(f, "up/empty", "", 0);

    /* bad local sources */
    CHECK_ST(sy_store_put_file(f->s, U(f, "up/x"), L(f, "missing.bin"), NULL), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(L(f, "missing.bin"));
    CHECK_ERRMSG_HAS(U(f, "up/x"));
    CHECK_ST(sy_store_put_file(f->s, U(f, "up/x"), f->local, NULL), SHARDY_EIO);
    CHECK_ERRMSG_HAS(strerror(EISDIR));
    sy_buf b = SY_BUF_INIT;
    CHECK_ST(sy_store_get(f->s, U(f, "up/x"), &b), SHARDY_ENOTFOUND);

    /* move_file: the local file becomes the object (file://: renamed into place) and is gone */
    write_local(L(f, "mv.bin"), data, len);
    CHECK_OK(sy_store_move_file(f->s, U(f, "mv/deep/moved.bin"), L(f, "mv.bin"), NULL));
    check_get(f, "mv/deep/moved.bin", data, len);
    CHECK(access(L(f, "mv.bin"), F_OK) != 0);
    write_local(L(f, "mv2.bin"), "second", 6); /* over an existing object */
    CHECK_OK(sy_store_move_file(f->s, U(f, "mv/deep/moved.bin"), L(f, "mv2.bin"), NULL));
    check_get_str(f, "mv/deep/moved.bin", "second");
    CHECK(access(L(f, "mv2.bin"), F_OK) != 0);
    CHECK_ST(sy_store_move_file(f->s, U(f, "mv/x"), L(f, "missing.bin"), NULL), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS(L(f, "missing.bin"));
    CHECK_ERRMSG_HAS(U(f, "mv/x"));
    CHECK(sy_store_move_file(f->s, U(f, "mv/x"), f->local, NULL) != SHARDY_OK); /* a directory */
    CHECK(access(f->local, F_OK) == 0);
    CHECK_ST(sy_store_get(f->s, U(f, "mv/x"), &b), SHARDY_ENOTFOUND);
    sy_buf_free(&b);
    free(data);
}

static void case_bad_args(fixture *f) {
    sy_buf b = SY_BUF_INIT;
    sy_list l;
    size_t got = 0;
    uint64_t size = 0;
    const char *other = f->backend == BK_FILE ? "mem://t/x" : "file:///tmp/x";
    CHECK_ST(sy_store_put(NULL, U(f, "x"), "v", 1, NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_put(f->s, NULL, "v", 1, NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_put(f->s, U(f, "x"), NULL, 1, NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_put(f->s, other, "v", 1, NULL), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS(other);
    CHECK_ST(sy_store_get(f->s, other, &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS(other);
    CHECK_ST(sy_store_get(f->s, "/tmp/bare/path", &b), SHARDY_EINVAL);
    CHECK_ERRMSG_HAS("/tmp/bare/path");
    CHECK_ST(sy_store_get(f->s, U(f, "x"), NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_size(f->s, other, &size), SHARDY_EINVAL);
    CHECK_ST(sy_store_size(f->s, U(f, "x"), NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_get_range(f->s, other, 0, &size, 1, &got), SHARDY_EINVAL);
    CHECK_ST(sy_store_get_range(f->s, U(f, "x"), 0, &size, 1, NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_get_range(f->s, U(f, "x"), 0, NULL, 1, &got), SHARDY_EINVAL);
    CHECK_ST(sy_store_get_file(f->s, other, L(f, "x")), SHARDY_EINVAL);
    CHECK_ST(sy_store_get_file(f->s, U(f, "x"), NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_put_file(f->s, other, L(f, "x"), NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_put_file(f->s, U(f, "x"), "", NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_delete(f->s, other), SHARDY_EINVAL);
    CHECK_ST(sy_store_delete_prefix(f->s, other, NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_list(f->s, other, NULL, &l), SHARDY_EINVAL);
    CHECK(l.n == 0 && l.items == NULL);
    CHECK_ST(sy_store_list(f->s, U(f, ""), NULL, NULL), SHARDY_EINVAL);
    sy_list_opts comma = {',', NULL, 0};
    CHECK_ST(sy_store_list(f->s, U(f, ""), &comma, &l), SHARDY_EINVAL);
    CHECK_ST(sy_store_list_all(f->s, other, 0, &l), SHARDY_EINVAL);
    CHECK(l.n == 0 && l.items == NULL);

    /* keys that could not round-trip through every backend */
    static const char *const bad_keys[] = {"a/../b", "a/./b", "a//b", "dir/", "..", SY_STORE_TMP_PREFIX "x",
                                           "d/" SY_STORE_TMP_PREFIX "1/x"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        CHECK_ST(sy_store_put(f->s, U(f, bad_keys[i]), "v", 1, NULL), SHARDY_EINVAL);
        CHECK_ERRMSG_HAS(U(f, bad_keys[i]));
        CHECK_ST(sy_store_delete(f->s, U(f, bad_keys[i])), SHARDY_EINVAL);
    }
    /* URLs without a key */
    static const char *const no_key[][3] = {{"file:///", "file://", "file:///"},
                                            {"mem://t", "mem://t/", "mem://"},
                                            {"s3://b", "s3://b/", "s3://"}};
    for (size_t i = 0; i < 3; i++) {
        const char *u = no_key[f->backend][i];
        CHECK_ST(sy_store_put(f->s, u, "v", 1, NULL), SHARDY_EINVAL);
        CHECK_ERRMSG_HAS(u);
    }
    CHECK_OK(sy_store_list(f->s, U(f, ""), NULL, &l));
    CHECK_LIST_EMPTY(&l); /* none of them was written */
    sy_list_free(&l);
    /* names that merely look special are fine */
    put_str(f, "a/..b/.c/...", "ok");
    check_get_str(f, "a/..b/.c/...", "ok");
    sy_list_free(NULL);
    sy_store_close(NULL);
}

/* Writers overwrite one shared key with distinct, uniform payloads while readers check they only
 * ever see a whole payload; each writer also puts its own keys. */
enum { WRITERS = 6, READERS = 2, PER_WRITER = 25 };

typedef struct conc {
    const fixture *f;
    int id;
    atomic_int *writers_left;
    int errors;
    long reads;
} conc;

static size_t payload_len(int id) { return 1000 + (size_t)id * 997; }

static void *writer_main(void *arg) {
    conc *c = arg;
    char url[2048];
    size_t len = payload_len(c->id);
    char *payload = malloc(len);
    memset(payload, 'A' + c->id, len);
    for (int i = 0; i < PER_WRITER; i++) {
        snprintf(url, sizeof url, "%s/conc/w%d/k%03d", c->f->root, c->id, i);
        if (sy_store_put(c->f->s, url, url, strlen(url), NULL) != SHARDY_OK) c->errors++;
        snprintf(url, sizeof url, "%s/conc/shared", c->f->root);
        if (sy_store_put(c->f->s, url, payload, len, NULL) != SHARDY_OK) c->errors++;
    }
    free(payload);
    atomic_fetch_sub(c->writers_left, 1);
    return NULL;
}

/* 1 if b is a whole payload of one writer. */
static int whole_payload(const sy_buf *b) {
    if (b->len == 0) return 0;
    int id = b->data[0] - 'A';
    if (id < 0 || id >= WRITERS || b->len != payload_len(id)) return 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != b->data[0]) return 0;
    return 1;
}

static void *reader_main(void *arg) {
    conc *c = arg;
    char url[2048];
    sy_buf b = SY_BUF_INIT;
    snprintf(url, sizeof url, "%s/conc/shared", c->f->root);
    for (;;) {
        int last = atomic_load(c->writers_left) == 0; /* one more read after the writers are done */
        shardy_status st = sy_store_get(c->f->s, url, &b);
        if (st != SHARDY_ENOTFOUND || last) { /* ENOTFOUND: not written yet */
            c->reads++;
            if (st != SHARDY_OK || !whole_payload(&b)) c->errors++;
        }
        if (last) break;
    }
    sy_buf_free(&b);
    return NULL;
}

static void case_concurrent(fixture *f) {
    pthread_t th[WRITERS + READERS];
    conc cs[WRITERS + READERS];
    atomic_int left = WRITERS;
    for (int i = 0; i < WRITERS + READERS; i++) {
        cs[i] = (conc){f, i, &left, 0, 0};
        CHECK_EQ_INT(pthread_create(&th[i], NULL, i < WRITERS ? writer_main : reader_main, &cs[i]), 0);
    }
    for (int i = 0; i < WRITERS + READERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(cs[i].errors, 0);
    }
    for (int i = WRITERS; i < WRITERS + READERS; i++) CHECK(cs[i].reads > 0);
    sy_list l;
    CHECK_OK(sy_store_list_all(f->s, U(f, "conc/"), 0, &l));
    CHECK_EQ_U64(l.n, WRITERS * PER_WRITER + 1);
    sy_list_free(&l);
    char key[64];
    for (int w = 0; w < WRITERS; w++) {
        for (int i = 0; i < PER_WRITER; i += 7) {
            snprintf(key, sizeof key, "conc/w%d/k%03d", w, i);
            check_get_str(f, key, U(f, key));
        }
    }
    sy_buf b = SY_BUF_INIT;
    CHECK_OK(sy_store_get(f->s, U(f, "conc/shared"), &b));
    CHECK(whole_payload(&b));
    sy_buf_free(&b);
}

typedef struct suite_case {
    const char *name;
    void (*fn)(fixture *f);
} suite_case;

static const suite_case suite[] = {
    {"roundtrip", case_roundtrip}, {"overwrite", case_overwrite},       {"missing", case_missing},
    {"range", case_range},         {"list", case_list},                 {"many", case_many},
    {"delete", case_delete},       {"delete_prefix", case_delete_prefix}, {"files", case_files},
    {"bad_args", case_bad_args},   {"concurrent", case_concurrent},
};

static void run_suite(int backend) {
    for (size_t i = 0; i < sizeof suite / sizeof suite[0]; i++) {
        fixture f;
        int before = check_failures;
        fixture_open(&f, backend, suite[i].name);
        if (f.s) suite[i].fn(&f);
        if (backend == BK_FILE) CHECK_EQ_INT(count_temp_files(f.dir), 0); /* nothing left behind */
        fixture_close(&f);
        if (check_failures != before) fprintf(stderr, "  ^ in case %s, backend %s\n", suite[i].name, f.name);
    }
}

static void test_suite_file(void) { run_suite(BK_FILE); }
static void test_suite_mem(void) { run_suite(BK_MEM); }

static void test_suite_s3(void) {
    sy_store *s = NULL;
    sy_s3_opts o;
    if (!s3_env_ready("S3", "the store suite on s3:// (moto)")) return;
    s3_env_opts("S3", &o);
    CHECK_OK(sy_store_s3_open(&o, &s));
    sy_s3_opts_free(&o);
    REQUIRE(s != NULL);
    CHECK_OK(sy_s3_bucket_create(s, s3_env_bucket()));
    run_suite(BK_S3);
    size_t uploads = 99;
    char root[128];
    snprintf(root, sizeof root, "s3://%s/", s3_env_bucket());
    CHECK_OK(sy_s3_multipart_count(s, root, &uploads));
    CHECK_EQ_U64(uploads, 0); /* every multipart upload of the suite was completed */
    sy_store_close(&s);
}

/* ============================================================================================ */
/* file:// specifics                                                                            */

static void test_file_open_paths(void) {
    sy_store *s = NULL;
    const char *dir = test_tmpdir("store-open");
    char url[2048], path[2048];

    CHECK_OK(sy_store_open(dir, &s)); /* bare absolute path */
    REQUIRE(s != NULL);
    CHECK_EQ_INT(s->scheme, SY_SCHEME_FILE);
    CHECK_STR(s->ops->name, "file");
    /* the store serves plain file:// URLs: the object is the file at the raw path */
    snprintf(url, sizeof url, "file://%s/a b/c%%20d", dir);
    CHECK_OK(sy_store_put(s, url, "xyz", 3, NULL));
    snprintf(path, sizeof path, "%s/a b/c%%20d", dir);
    size_t n = 0;
    unsigned char *p = read_local(path, &n);
    CHECK(p != NULL && n == 3 && !memcmp(p, "xyz", 3));
    free(p);
    struct stat sb;
    mode_t um = umask(0);
    umask(um);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == (0666 & ~um));
    snprintf(path, sizeof path, "%s/a b", dir);
    CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == (0777 & ~um));
    sy_store_close(&s);
    CHECK(s == NULL);

    CHECK_OK(sy_store_open("relative/dir/not/created", &s)); /* relative path */
    CHECK(s != NULL && s->scheme == SY_SCHEME_FILE);
    CHECK(!path_exists("relative")); /* opening does not create anything */
    sy_store_close(&s);
    snprintf(url, sizeof url, "file://%s", dir);
    CHECK_OK(sy_store_open(url, &s));
    CHECK(s != NULL && s->scheme == SY_SCHEME_FILE);
    sy_store_close(&s);
    CHECK_OK(sy_store_open("mem://anything", &s));
    CHECK(s != NULL && s->scheme == SY_SCHEME_MEM);
    sy_store_close(&s);
    CHECK_OK(sy_store_open("s3://bucket/prefix", &s)); /* opening contacts no server */
    CHECK(s != NULL && s->scheme == SY_SCHEME_S3);
    sy_store_close(&s);

    static const struct {
        const char *loc;
        shardy_status want;
        const char *msg;
    } bad[] = {
        {"s3:///prefix", SHARDY_EINVAL, "s3:// URL has no bucket"},
        {"ftp://host/x", SHARDY_EINVAL, "ftp://host/x"},
        {"file://relative/x", SHARDY_EINVAL, "file://relative/x"},
        {"", SHARDY_EINVAL, "empty location"},
        {NULL, SHARDY_EINVAL, "NULL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = (sy_store *)&s; /* garbage in: must come back NULL */
        CHECK_ST(sy_store_open(bad[i].loc, &s), bad[i].want);
        CHECK_ERRMSG_HAS(bad[i].msg);
        CHECK(s == NULL);
    }
    CHECK_ST(sy_store_open("/x", NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_file_open(NULL), SHARDY_EINVAL);
    CHECK_ST(sy_store_mem_open(NULL), SHARDY_EINVAL);
}

static void test_file_os_errors(void) {
    fixture f;
    sy_buf b = SY_BUF_INIT;
    fixture_open(&f, BK_FILE, "oserr");
    REQUIRE(f.s != NULL);

    /* a path component that is a regular file */
    put_str(&f, "f", "file content");
    const char *url = U(&f, "f/sub/obj");
    CHECK_ST(sy_store_put(f.s, url, "v", 1, NULL), SHARDY_EIO);
    CHECK_ERRMSG_HAS(url);
    CHECK_ERRMSG_HAS(strerror(ENOTDIR));
    CHECK_ST(sy_store_put(f.s, U(&f, "f/obj"), "v", 1, NULL), SHARDY_EIO);
    CHECK_ERRMSG_HAS(strerror(ENOTDIR));
    CHECK_ST(sy_store_get(f.s, url, &b), SHARDY_ENOTFOUND); /* reading through a file: no object */
    check_get_str(&f, "f", "file content");

    /* a put onto a directory fails in rename and leaves the directory alone */
    put_str(&f, "d/x", "inside");
    CHECK_ST(sy_store_put(f.s, U(&f, "d"), "v", 1, NULL), SHARDY_EIO);
    CHECK_ERRMSG_HAS(U(&f, "d"));
    CHECK_ERRMSG_HAS("rename");
    check_get_str(&f, "d/x", "inside");
    CHECK_EQ_INT(count_temp_files(f.dir), 0);

    /* a directory the process may not write to (root ignores permissions: skip) */
    put_str(&f, "ro/obj", "old value");
    if (geteuid() != 0) {
        char ro[2048];
        snprintf(ro, sizeof ro, "%s/ro", f.dir);
        CHECK_EQ_INT(chmod(ro, 0555), 0);
        CHECK_ST(sy_store_put(f.s, U(&f, "ro/obj"), "new value", 9, NULL), SHARDY_EIO);
        CHECK_ERRMSG_HAS(U(&f, "ro/obj"));
        CHECK_ERRMSG_HAS(strerror(EACCES));
        CHECK_ST(sy_store_put(f.s, U(&f, "ro/new/obj"), "v", 1, NULL), SHARDY_EIO);
        CHECK_ERRMSG_HAS(strerror(EACCES));
        CHECK_EQ_INT(chmod(ro, 0755), 0);
    } else {
        printf("test_file_os_errors: read-only directory case skipped (running as root)\n");
    }
    check_get_str(&f, "ro/obj", "old value");
    CHECK_EQ_INT(count_temp_files(f.dir), 0);
    sy_buf_free(&b);
    fixture_close(&f);
}

/* move_file across file systems (EXDEV: the scratch file on /dev/shm, the store elsewhere) copies
 * and then deletes the local file; skipped when /dev/shm is missing or on the same device. */
static void test_file_move_cross_device(void) {
    fixture f;
    struct stat a, b;
    fixture_open(&f, BK_FILE, "mvxdev");
    REQUIRE(f.s != NULL);
    char local[256];
    snprintf(local, sizeof local, "/dev/shm/shardy-test-move-%ld", (long)getpid());
    if (stat("/dev/shm", &a) != 0 || stat(f.dir, &b) != 0 || a.st_dev == b.st_dev) {
        printf("test_file_move_cross_device: skipped (no /dev/shm on another file system)\n");
        fixture_close(&f);
        return;
    }
    write_local(local, "across devices", 14);
    CHECK_OK(sy_store_move_file(f.s, U(&f, "x/moved"), local, NULL));
    check_get_str(&f, "x/moved", "across devices");
    CHECK(access(local, F_OK) != 0);
    CHECK_EQ_INT(count_temp_files(f.dir), 0);
    unlink(local);
    fixture_close(&f);
}

/* A write that fails half way (file-size limit → EFBIG) leaves the old object and no temp file;
 * works as root too. */
static void test_file_write_failure(void) {
    fixture f;
    struct rlimit old, lim;
    size_t len = 1u << 20;
    fixture_open(&f, BK_FILE, "wfail");
    REQUIRE(f.s != NULL);
    char *big = malloc(len);
    memset(big, 'n', len);
    write_local(L(&f, "big.bin"), big, len);
    put_str(&f, "obj", "old value");
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);

    shardy_status st_put = sy_store_put(f.s, U(&f, "obj"), big, len, NULL);
    char msg_put[SY_ERRMSG_MAX];
    snprintf(msg_put, sizeof msg_put, "%s", shardy_errmsg());
    shardy_status st_file = sy_store_put_file(f.s, U(&f, "obj"), L(&f, "big.bin"), NULL);
    char msg_file[SY_ERRMSG_MAX];
    snprintf(msg_file, sizeof msg_file, "%s", shardy_errmsg());
    shardy_status st_get = sy_store_get_file(f.s, U(&f, "obj"), L(&f, "dl.bin")); /* small: fits */

    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK_EQ_INT(st_put, SHARDY_EIO);
    CHECK(strstr(msg_put, U(&f, "obj")) && strstr(msg_put, strerror(EFBIG)));
    CHECK_EQ_INT(st_file, SHARDY_EIO);
    CHECK(strstr(msg_file, U(&f, "obj")) && strstr(msg_file, strerror(EFBIG)));
    if (!strstr(msg_file, strerror(EFBIG))) fprintf(stderr, "  put_file message: %s\n", msg_file);
    CHECK_OK(st_get);
    check_get_str(&f, "obj", "old value");
    CHECK_EQ_INT(count_temp_files(f.dir), 0);
    CHECK_EQ_INT(count_temp_files(f.local), 0);
    free(big);
    fixture_close(&f);
}

typedef struct fifo_writer {
    const char *path;
    const unsigned char *data;
    size_t len;
} fifo_writer;

static void *fifo_main(void *arg) {
    fifo_writer *w = arg;
    FILE *fp = fopen(w->path, "wb");
    if (fp) {
        fwrite(w->data, 1, w->len, fp);
        fclose(fp);
    }
    return NULL;
}

/* put_file from a non-regular file (pipe) takes the read/write path and streams everything. */
static void test_file_put_from_fifo(void) {
    fixture f;
    pthread_t th;
    size_t len = 700 * 1024 + 3;
    unsigned char *data = malloc(len);
    fill_pattern(data, len, 11);
    fixture_open(&f, BK_FILE, "fifo");
    REQUIRE(f.s != NULL);
    REQUIRE(mkfifo(L(&f, "pipe"), 0600) == 0);
    fifo_writer w = {L(&f, "pipe"), data, len};
    void (*prev)(int) = signal(SIGPIPE, SIG_IGN); /* if put_file fails, the writer must not die */
    REQUIRE(pthread_create(&th, NULL, fifo_main, &w) == 0);
    shardy_status st = sy_store_put_file(f.s, U(&f, "from/pipe"), w.path, NULL);
    CHECK_OK(st);
    if (st != SHARDY_OK) { /* unblock a writer still waiting for a reader */
        int fd = open(w.path, O_RDONLY | O_NONBLOCK);
        if (fd >= 0) close(fd);
    }
    pthread_join(th, NULL);
    signal(SIGPIPE, prev);
    check_get(&f, "from/pipe", data, len);
    /* a FIFO inside the tree is not an object, and reading it does not block */
    char fifo_in_tree[2048];
    snprintf(fifo_in_tree, sizeof fifo_in_tree, "%s/from/fifo", f.dir);
    REQUIRE(mkfifo(fifo_in_tree, 0600) == 0);
    sy_buf b = SY_BUF_INIT;
    CHECK_ST(sy_store_get(f.s, U(&f, "from/fifo"), &b), SHARDY_ENOTFOUND);
    sy_list l;
    CHECK_OK(sy_store_list(f.s, U(&f, "from/"), NULL, &l));
    CHECK_EQ_U64(l.n, 1);
    if (l.n == 1) {
        CHECK_STR(l.items[0].url, U(&f, "from/pipe"));
        CHECK_EQ_U64(l.items[0].size, len);
    }
    sy_list_free(&l);
    sy_buf_free(&b);
    free(data);
    fixture_close(&f);
}

static void mkdirs(const fixture *f, const char *rel) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", f->dir, rel);
    CHECK_EQ_INT(system(cmd), 0);
}

static void touch(const fixture *f, const char *rel, const char *content) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", f->dir, rel);
    write_local(p, content, strlen(content));
}

/* Directories, temp files and symlinks as listings see them. */
static void test_file_list_tree(void) {
    fixture f;
    sy_list l;
    sy_buf b = SY_BUF_INIT;
    char p[2048];
    fixture_open(&f, BK_FILE, "tree");
    REQUIRE(f.s != NULL);
    mkdirs(&f, "e/empty");
    mkdirs(&f, "e/nested/deeper/still");
    mkdirs(&f, "e/onlytmp");
    touch(&f, "e/onlytmp/" SY_STORE_TMP_PREFIX "0123", "partial");
    touch(&f, "e/" SY_STORE_TMP_PREFIX "abcd", "partial");
    put_str(&f, "e/real/x", "e/real/x");
    put_str(&f, "e/deep/a/b/c/obj", "e/deep/a/b/c/obj");
    snprintf(p, sizeof p, "%s/e/link_to_file", f.dir);
    CHECK_EQ_INT(symlink("real/x", p), 0);
    snprintf(p, sizeof p, "%s/e/loop", f.dir);
    CHECK_EQ_INT(symlink(".", p), 0); /* a directory loop: must not be followed */
    snprintf(p, sizeof p, "%s/e/dangling", f.dir);
    CHECK_EQ_INT(symlink("nowhere", p), 0);

    CHECK_OK(sy_store_list(f.s, U(&f, "e/"), NULL, &l));
    CHECK_EQ_U64(l.n, 3);
    if (l.n == 3) {
        CHECK_STR(l.items[0].url, U(&f, "e/deep/a/b/c/obj"));
        CHECK_STR(l.items[1].url, U(&f, "e/link_to_file"));
        CHECK_EQ_U64(l.items[1].size, strlen("e/real/x")); /* size of the target */
        CHECK_STR(l.items[2].url, U(&f, "e/real/x"));
    }
    sy_list_free(&l);
    sy_list_opts d = {'/', NULL, 0};
    CHECK_OK(sy_store_list(f.s, U(&f, "e/"), &d, &l));
    /* empty directories and directories holding only temp files are not prefixes */
    CHECK_EQ_U64(l.n, 3);
    if (l.n == 3) {
        CHECK_STR(l.items[0].url, U(&f, "e/deep/"));
        CHECK_EQ_INT(l.items[0].is_prefix, 1);
        CHECK_STR(l.items[1].url, U(&f, "e/link_to_file"));
        CHECK_EQ_INT(l.items[1].is_prefix, 0);
        CHECK_STR(l.items[2].url, U(&f, "e/real/"));
        CHECK_EQ_INT(l.items[2].is_prefix, 1);
    }
    sy_list_free(&l);
    check_get_str(&f, "e/link_to_file", "e/real/x");
    CHECK_ST(sy_store_get(f.s, U(&f, "e/empty"), &b), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("directory");
    CHECK_ST(sy_store_get(f.s, U(&f, "e/dangling"), &b), SHARDY_ENOTFOUND);
    CHECK_OK(sy_store_delete(f.s, U(&f, "e/empty"))); /* a directory is not an object */
    CHECK(path_exists(U(&f, "e/empty") + 7));

    /* start_after skips whole subtrees */
    sy_list_opts o = {0, U(&f, "e/deep/a/b/c/obj"), 1};
    CHECK_OK(sy_store_list(f.s, U(&f, "e/"), &o, &l));
    CHECK_EQ_U64(l.n, 1);
    if (l.n == 1) CHECK_STR(l.items[0].url, U(&f, "e/link_to_file"));
    CHECK_EQ_INT(l.truncated, 1);
    sy_list_free(&l);

    /* an unreadable directory is an error naming it (root reads anything: skip) */
    if (geteuid() != 0) {
        snprintf(p, sizeof p, "%s/e/deep", f.dir);
        CHECK_EQ_INT(chmod(p, 0), 0);
        CHECK_ST(sy_store_list(f.s, U(&f, "e/"), NULL, &l), SHARDY_EIO);
        CHECK_ERRMSG_HAS(strerror(EACCES));
        CHECK_ERRMSG_HAS(U(&f, "e/"));
        CHECK(l.n == 0 && l.items == NULL);
        CHECK_EQ_INT(chmod(p, 0755), 0);
    }
    sy_buf_free(&b);
    fixture_close(&f);
}

/* delete_prefix removes the directories it empties, within the prefix only. */
static void test_file_prune(void) {
    fixture f;
    size_t n = 0;
    char p[2048];
    fixture_open(&f, BK_FILE, "prune");
    REQUIRE(f.s != NULL);
    put_str(&f, "snap/shards/run=1/db=0/attempt=00/shard.db", "winner");
    put_str(&f, "snap/shards/run=1/db=0/attempt=01/shard.db", "loser");
    put_str(&f, "snap/shards/run=1/db=0/attempt=01/wal/0001", "loser");
    put_str(&f, "snap/other/y", "y");
    mkdirs(&f, "snap/shards/run=1/db=0/attempt=01/empty/sub");

    CHECK_OK(sy_store_delete_prefix(f.s, U(&f, "snap/shards/run=1/db=0/attempt=01/"), &n));
    CHECK_EQ_U64(n, 2);
    snprintf(p, sizeof p, "%s/snap/shards/run=1/db=0/attempt=01", f.dir);
    CHECK(!path_exists(p));
    snprintf(p, sizeof p, "%s/snap/shards/run=1/db=0/attempt=00/shard.db", f.dir);
    CHECK(path_exists(p));

    CHECK_OK(sy_store_delete_prefix(f.s, U(&f, "snap/shards/"), &n));
    CHECK_EQ_U64(n, 1);
    snprintf(p, sizeof p, "%s/snap/shards", f.dir);
    CHECK(!path_exists(p));
    snprintf(p, sizeof p, "%s/snap", f.dir);
    CHECK(path_exists(p)); /* above the prefix: untouched */
    check_get_str(&f, "snap/other/y", "y");

    /* mid-name prefix: the matching directory goes, its parent stays even if empty */
    put_str(&f, "mid/attempt=01/x", "x");
    put_str(&f, "mid/attempt=010/x", "x");
    CHECK_OK(sy_store_delete_prefix(f.s, U(&f, "mid/attempt=01"), &n));
    CHECK_EQ_U64(n, 2);
    snprintf(p, sizeof p, "%s/mid", f.dir);
    CHECK(path_exists(p));
    snprintf(p, sizeof p, "%s/mid/attempt=01", f.dir);
    CHECK(!path_exists(p));

    /* an in-flight put (its temp file) keeps its directory alive */
    put_str(&f, "busy/d/x", "x");
    touch(&f, "busy/d/" SY_STORE_TMP_PREFIX "inflight", "partial");
    CHECK_OK(sy_store_delete_prefix(f.s, U(&f, "busy/"), &n));
    CHECK_EQ_U64(n, 1);
    snprintf(p, sizeof p, "%s/busy/d/" SY_STORE_TMP_PREFIX "inflight", f.dir);
    CHECK(path_exists(p));
    unlink(p);
    fixture_close(&f);
}

/* Each mem store is its own namespace. */
static void test_mem_namespaces(void) {
    sy_store *a = NULL, *b = NULL;
    sy_buf buf = SY_BUF_INIT;
    CHECK_OK(sy_store_open("mem://ns", &a));
    CHECK_OK(sy_store_mem_open(&b));
    REQUIRE(a && b);
    CHECK_STR(a->ops->name, "mem");
    CHECK_OK(sy_store_put(a, "mem://ns/k", "in a", 4, NULL));
    CHECK_ST(sy_store_get(b, "mem://ns/k", &buf), SHARDY_ENOTFOUND);
    CHECK_ERRMSG_HAS("mem://ns/k");
    CHECK_OK(sy_store_get(a, "mem://ns/k", &buf));
    CHECK_STR(buf.data, "in a");
    sy_buf_free(&buf);
    sy_store_close(&a);
    sy_store_close(&b);
    CHECK(a == NULL && b == NULL);
}

/* ============================================================================================ */
/* Allocation failures: every failing allocation surfaces as SHARDY_ENOMEM with a message, leaks
 * nothing (ASan/valgrind), and never damages an existing object or leaves a temp file.          */

#define STEP(expr)                                                                                 \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != SHARDY_OK) goto done;                                                            \
    } while (0)

static shardy_status alloc_scenario(int backend, const char *dir, const char *local) {
    shardy_status st = SHARDY_OK;
    sy_store *s = NULL;
    sy_buf b = SY_BUF_INIT;
    sy_list l = {NULL, 0, 0};
    char root[1100], u[1200], p[1200];
    char range[16];
    size_t got = 0, n = 0;
    uint64_t size = 0;
    static char big[100000];
    memset(big, 'b', sizeof big);
    if (backend == BK_FILE) {
        snprintf(root, sizeof root, "file://%s", dir);
        STEP(sy_store_open(dir, &s));
    } else {
        snprintf(root, sizeof root, "mem://fail");
        STEP(sy_store_open(root, &s));
        snprintf(u, sizeof u, "%s/k1", root);
        STEP(sy_store_put(s, u, "v1-old", 6, NULL));
    }
    snprintf(u, sizeof u, "%s/k1", root);
    STEP(sy_store_put(s, u, "v1-new", 6, NULL));
    STEP(sy_store_get(s, u, &b));
    STEP(sy_store_get_range(s, u, 1, range, sizeof range, &got));
    STEP(sy_store_size(s, u, &size));
    snprintf(u, sizeof u, "%s/d/big", root);
    STEP(sy_store_put(s, u, big, sizeof big, NULL));
    for (int i = 0; i < 5; i++) {
        snprintf(u, sizeof u, "%s/d/sub%d/o", root, i);
        STEP(sy_store_put(s, u, "o", 1, NULL));
    }
    snprintf(u, sizeof u, "%s/", root);
    STEP(sy_store_list(s, u, NULL, &l));
    sy_list_free(&l);
    sy_list_opts o = {'/', NULL, 2};
    STEP(sy_store_list(s, u, &o, &l));
    sy_list_free(&l);
    STEP(sy_store_list_all(s, u, '/', &l));
    sy_list_free(&l);
    snprintf(u, sizeof u, "%s/d/big", root);
    snprintf(p, sizeof p, "%s/dl/big", local);
    STEP(sy_store_get_file(s, u, p));
    snprintf(u, sizeof u, "%s/d/uploaded", root);
    STEP(sy_store_put_file(s, u, p, NULL));
    STEP(sy_store_delete(s, u));
    snprintf(u, sizeof u, "%s/d/", root);
    STEP(sy_store_delete_prefix(s, u, &n));
done:
    sy_list_free(&l);
    sy_buf_free(&b);
    sy_store_close(&s);
    return st;
}

static void run_alloc_failures(int backend) {
    const char *tmp = test_tmpdir(backend == BK_FILE ? "store-alloc-file" : "store-alloc-mem");
    char dir[1024], local[1100], k1[1100];
    snprintf(dir, sizeof dir, "%s", tmp);
    snprintf(local, sizeof local, "%s/local", dir);
    snprintf(k1, sizeof k1, "%s/k1", dir);
    int completed = 0;
    long n;
    for (n = 0; n < 20000 && !completed; n++) {
        if (backend == BK_FILE) write_local(k1, "v1-old", 6);
        sy_err_clear();
        sy_alloc_fail_after(n);
        shardy_status st = alloc_scenario(backend, dir, local);
        sy_alloc_fail_after(-1);
        if (st == SHARDY_OK) {
            completed = 1;
            break;
        }
        CHECK_EQ_INT(st, SHARDY_ENOMEM);
        CHECK_ERRMSG_HAS("out of memory");
        if (backend == BK_FILE) {
            size_t len = 0;
            unsigned char *v = read_local(k1, &len);
            CHECK(v && len == 6 && (!memcmp(v, "v1-old", 6) || !memcmp(v, "v1-new", 6)));
            free(v);
            CHECK_EQ_INT(count_temp_files(dir), 0);
        }
        if (check_failures) {
            fprintf(stderr, "  (allocation %ld failed, backend %s: %s)\n", n, backend == BK_FILE ? "file" : "mem",
                    shardy_errmsg());
            break;
        }
    }
    CHECK(completed);
    CHECK(n > 20); /* the scenario really allocates, so the failures were exercised */
    printf("alloc failures (%s): %ld failure points\n", backend == BK_FILE ? "file" : "mem", n);
}

static void test_alloc_failures_file(void) { run_alloc_failures(BK_FILE); }
static void test_alloc_failures_mem(void) { run_alloc_failures(BK_MEM); }

TEST_MAIN(test_suite_file, test_suite_mem, test_suite_s3, test_file_open_paths, test_file_os_errors,
          test_file_write_failure, test_file_move_cross_device, test_file_put_from_fifo, test_file_list_tree, test_file_prune,
          test_mem_namespaces, test_alloc_failures_file, test_alloc_failures_mem)
