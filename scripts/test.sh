#!/usr/bin/env bash
# test.sh — the whole test suite, exactly as CI runs it (see .ci/run and README):
#   1. Debian dependencies (installed if missing); the S3 test servers (moto, s3s-fs: installed on
#      first use under build/, started on loopback, stopped on exit; see tests/s3/servers.sh)
#   2. optimised build with -Werror, every ctest (C unit/integration tests and CLI tests)
#   2b. the shardyfusion Python package installed into a fresh venv (pip install .[spark]) and its
#       pytest suite: configs, Python writer, ShardedReader, S3, and the PySpark writer on real Spark
#       (local mode and a standalone master + two workers on loopback; tests/python/spark)
#   3. the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#   4. ThreadSanitizer build of the threaded tests (reader stress + refresh, builder, store)
#   5. the C test binaries under valgrind (memcheck, leaks are errors; --fair-sched=yes: without it the
#      reader stress test's 8 lookup threads can starve the publishing thread for half an hour)
#   6. short libFuzzer runs of every parser of outside input (SHARDY_FUZZ_SECONDS, default 20)
# Environment: SHARDY_SKIP_VALGRIND=1 / SHARDY_SKIP_FUZZ=1 skip stages (for quick local runs only).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc 2>/dev/null || echo 2)

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
bash scripts/deps.sh --test

step "S3 test servers (moto, s3s-fs)"
trap 'tests/s3/servers.sh stop >/dev/null 2>&1 || true' EXIT
S3_ENV=$(tests/s3/servers.sh start) # an assignment, so that a failed start stops the script
eval "$S3_ENV"
export SHARDY_REQUIRE_S3=1 # a missing server fails the S3 tests instead of skipping them

step "build (RelWithDebInfo, -Werror) and test"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
ctest --test-dir build --output-on-failure -j "$JOBS"

step "Python package (pip install .[spark] into a fresh venv) and its tests, Spark local + standalone"
bash tests/python/run.sh -q

step "ASan + UBSan build and test"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSHARDY_SANITIZE=ON >/dev/null
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS"

step "ThreadSanitizer: concurrent readers, refresh and the threaded builder"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSHARDY_TSAN=ON -DSHARDY_BUILD_BENCH=OFF >/dev/null
ninja -C build-tsan
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure -j "$JOBS" -R '^(test_reader|test_builder|test_e2e|test_store)$'

if [ "${SHARDY_SKIP_VALGRIND:-0}" != 1 ]; then
  step "valgrind (memcheck) on the C tests"
  export SHARDY_TEST_TMP="$ROOT/build/test-tmp" SHARDY_BIN="$ROOT/build/shardy" SHARDY_SOURCE_DIR="$ROOT"
  for t in build/tests/c/test_*; do
    [ -x "$t" ] || continue
    echo "valgrind $t"
    SHARDY_UNDER_VALGRIND=1 valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible \
      --track-fds=no "$t" >/dev/null
  done
fi

if [ "${SHARDY_SKIP_FUZZ:-0}" != 1 ] && [ -x tests/fuzz/run.sh ]; then
  step "fuzzing (${SHARDY_FUZZ_SECONDS:-20}s per target)"
  tests/fuzz/run.sh "${SHARDY_FUZZ_SECONDS:-20}"
fi

step "all tests passed"
