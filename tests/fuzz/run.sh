#!/usr/bin/env bash
# run.sh [seconds] — builds the libFuzzer targets (clang, ASan + UBSan) and runs each one for the
# given time (default 60 s). Exits non-zero on any finding; crash inputs are kept under
# <build>/fuzz-artifacts/. Environment: SHARDY_FUZZ_BUILD (build dir, default <repo>/build-fuzz),
# SHARDY_FUZZ_JOBS (parallel fuzzing jobs per target, default 1).
set -euo pipefail

secs=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SHARDY_FUZZ_BUILD:-$root/build-fuzz}
jobs=${SHARDY_FUZZ_JOBS:-1}

CC=clang cmake -S "$root" -B "$build" -G Ninja -DSHARDY_FUZZ=ON -DSHARDY_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" >/dev/null
ninja -C "$build" fuzz_manifest fuzz_current fuzz_input fuzz_cel fuzz_arrow fuzz_exchange fuzz_gen_seeds

corpus=$build/fuzz-corpus
artifacts=$build/fuzz-artifacts
mkdir -p "$corpus/manifest" "$corpus/current" "$corpus/input" "$corpus/cel" "$corpus/arrow" "$corpus/exchange" "$artifacts"
"$build/tests/fuzz/fuzz_gen_seeds" "$corpus"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
for target in manifest current input cel arrow exchange; do
  echo "== fuzz_$target for ${secs}s"
  # The first corpus directory receives new inputs; the checked-in seeds are only read.
  par=()
  if [ "$jobs" -gt 1 ]; then par=(-fork="$jobs"); fi
  if [ -f "$root/tests/fuzz/$target.dict" ]; then par+=(-dict="$root/tests/fuzz/$target.dict"); fi
  if ! "$build/tests/fuzz/fuzz_$target" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
      "${par[@]}" -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
      "$corpus/$target" "$root/tests/fuzz/seeds/$target"; then
    echo "fuzz_$target: FINDING (see $artifacts)" >&2
    status=1
  fi
done
exit $status
