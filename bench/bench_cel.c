/*
 * bench_cel.c — CEL routing throughput next to plain HASH routing, measured in one run; prints one
 * name=value line per figure (not a test; run it on a quiet machine, Release build).
 *
 *   hash_rows_per_s              shardy_route_hash(int key, 16) — the baseline
 *   cel_shard_hash_rows_per_s    router for `shard_hash(key) % 16u` (key: int), sy_cel_router_route
 *   cel_shard_hash_eval_rows_per_s  the same program through sy_cel_eval with a reused scratch
 *   cel_categorical_rows_per_s   router for `a + ":" + b` (two string columns, 8 routing values)
 *   cel_shard_hash_vs_hash       ratio of the first two figures
 *   arrow_route_rows_per_s       shardy_arrow_route_hash over the same keys as one int64 Arrow column
 *                                (num_dbs 16; the batch kernel the PySpark/Dask/Ray writers call)
 *   arrow_route_vs_hash          its ratio to hash_rows_per_s (the scalar loop over the same values)
 *
 * Every figure is the best of --reps passes over the same N rows (random int64 keys, and string
 * pairs cycling through the 8 categories). A checksum of the ids is printed so that nothing is
 * optimised away, and the CEL and Arrow ids are verified against shardy_route_hash.
 *
 * Usage: shardy_bench_cel [--rows N] [--reps R]     (defaults 10,000,000 rows, 3 passes)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cel/cel.h"
#include "shardy.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void noop_schema(struct ArrowSchema *s) { (void)s; }
static void noop_array(struct ArrowArray *a) { (void)a; }

static void die(const char *what) {
    fprintf(stderr, "bench_cel: %s: %s\n", what, shardy_errmsg());
    exit(1);
}

int main(int argc, char **argv) {
    size_t rows = 10000000;
    int reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows"))
            rows = (size_t)strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--rows N] [--reps R]\n", argv[0]);
            return 2;
        }
    }
    if (rows == 0 || reps < 1) return 2;
    int64_t *keys = malloc(rows * sizeof *keys);
    uint32_t *ids = malloc(rows * sizeof *ids);
    if (!keys || !ids) return 1;
    for (size_t i = 0; i < rows; i++) keys[i] = (int64_t)rnd();

    /* baseline: HASH routing */
    double best_hash = 1e30;
    uint64_t sum_hash = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        uint64_t sum = 0;
        for (size_t i = 0; i < rows; i++) {
            shardy_key k = shardy_key_int(keys[i]);
            uint64_t db;
            if (shardy_route_hash(&k, 16, &db, NULL)) die("shardy_route_hash");
            ids[i] = (uint32_t)db;
            sum += db;
        }
        double t = now_s() - t0;
        if (t < best_hash) best_hash = t;
        sum_hash = sum;
    }

    /* CEL: shard_hash(key) % 16u through the router */
    sy_cel_colspec col[1] = {{"key", "int"}};
    sy_cel_router *router = NULL;
    if (sy_cel_router_new("shard_hash(key) % 16u", col, 1, NULL, 0, 0, 16, &router)) die("router");
    double best_cel = 1e30;
    uint64_t sum_cel = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        uint64_t sum = 0;
        for (size_t i = 0; i < rows; i++) {
            sy_cel_value arg = sy_cel_int(keys[i]);
            uint32_t db;
            if (sy_cel_router_route(router, &arg, &db)) die("route");
            sum += db;
            if (r == 0 && db != ids[i]) {
                fprintf(stderr, "bench_cel: row %zu routes to %u with CEL but %u with HASH\n", i, db, ids[i]);
                return 1;
            }
        }
        double t = now_s() - t0;
        if (t < best_cel) best_cel = t;
        sum_cel = sum;
    }

    /* the same program through sy_cel_eval */
    const sy_cel_program *prog = sy_cel_router_program(router);
    sy_cel_scratch scratch;
    sy_cel_scratch_init(&scratch);
    double best_eval = 1e30;
    uint64_t sum_eval = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        uint64_t sum = 0;
        for (size_t i = 0; i < rows; i++) {
            sy_cel_value arg = sy_cel_int(keys[i]), res;
            if (sy_cel_eval(prog, &arg, &scratch, &res)) die("eval");
            sum += res.v.u;
        }
        double t = now_s() - t0;
        if (t < best_eval) best_eval = t;
        sum_eval = sum;
    }
    sy_cel_scratch_release(&scratch);
    sy_cel_router_free(&router);

    /* categorical: two string columns joined with a separator, 8 routing values */
    static const char *const regions[] = {"us-east", "us-west", "eu-central", "ap-south"};
    static const char *const envs[] = {"prod", "dev"};
    char tokens[8][32];
    sy_cel_value values[8];
    for (int i = 0; i < 8; i++) {
        int n = snprintf(tokens[i], sizeof tokens[i], "%s:%s", regions[i / 2], envs[i % 2]);
        values[i] = sy_cel_str(tokens[i], (size_t)n);
    }
    sy_cel_colspec cols[2] = {{"a", "string"}, {"b", "string"}};
    if (sy_cel_router_new("a + \":\" + b", cols, 2, values, 8, 1, 0, &router)) die("categorical router");
    sy_cel_value pairs[8][2];
    for (int i = 0; i < 8; i++) {
        pairs[i][0] = sy_cel_str(regions[i / 2], strlen(regions[i / 2]));
        pairs[i][1] = sy_cel_str(envs[i % 2], strlen(envs[i % 2]));
    }
    double best_cat = 1e30;
    uint64_t sum_cat = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        uint64_t sum = 0;
        for (size_t i = 0; i < rows; i++) {
            uint32_t db;
            int c = (int)((uint64_t)keys[i] & 7);
            if (sy_cel_router_route(router, pairs[c], &db)) die("categorical route");
            if (r == 0 && db != (uint32_t)c) {
                fprintf(stderr, "bench_cel: category %d routed to %u\n", c, db);
                return 1;
            }
            sum += db;
        }
        double t = now_s() - t0;
        if (t < best_cat) best_cat = t;
        sum_cat = sum;
    }
    sy_cel_router_free(&router);

    /* Arrow: the keys as one int64 column of a struct batch, routed in one call */
    struct ArrowSchema col_schema = {"l", "key", NULL, 0, 0, NULL, NULL, noop_schema, NULL};
    struct ArrowSchema *schema_children[1] = {&col_schema};
    struct ArrowSchema batch_schema = {"+s", "", NULL, 0, 1, schema_children, NULL, noop_schema, NULL};
    const void *col_buffers[2] = {NULL, keys}, *batch_buffers[1] = {NULL};
    struct ArrowArray key_col = {(int64_t)rows, 0, 0, 2, 0, col_buffers, NULL, NULL, noop_array, NULL};
    struct ArrowArray *array_children[1] = {&key_col};
    struct ArrowArray batch = {(int64_t)rows, 0, 0, 1, 1, batch_buffers, array_children, NULL, noop_array, NULL};
    int32_t *arrow_ids = malloc(rows * sizeof *arrow_ids);
    if (!arrow_ids) return 1;
    double best_arrow = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        if (shardy_arrow_route_hash(&batch, &batch_schema, "key", 16, arrow_ids)) die("shardy_arrow_route_hash");
        double t = now_s() - t0;
        if (t < best_arrow) best_arrow = t;
    }
    uint64_t sum_arrow = 0;
    for (size_t i = 0; i < rows; i++) {
        if ((uint32_t)arrow_ids[i] != ids[i]) {
            fprintf(stderr, "bench_cel: row %zu routes to %d with Arrow but %u with HASH\n", i, arrow_ids[i], ids[i]);
            return 1;
        }
        sum_arrow += (uint64_t)arrow_ids[i];
    }
    free(arrow_ids);

    double hash_rps = (double)rows / best_hash, cel_rps = (double)rows / best_cel;
    printf("rows=%zu\n", rows);
    printf("hash_rows_per_s=%.0f\n", hash_rps);
    printf("cel_shard_hash_rows_per_s=%.0f\n", cel_rps);
    printf("cel_shard_hash_eval_rows_per_s=%.0f\n", (double)rows / best_eval);
    printf("cel_categorical_rows_per_s=%.0f\n", (double)rows / best_cat);
    printf("cel_shard_hash_vs_hash=%.3f\n", cel_rps / hash_rps);
    printf("arrow_route_rows_per_s=%.0f\n", (double)rows / best_arrow);
    printf("arrow_route_vs_hash=%.3f\n", (double)rows / best_arrow / hash_rps);
    printf("checksum=%" PRIu64 "\n", sum_hash + sum_cel + sum_eval + sum_cat + sum_arrow);
    free(keys);
    free(ids);
    return 0;
}
