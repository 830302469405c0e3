#!/usr/bin/env bash
# json_cols / binary_col of Arrow batches are byte-identical to Python's json.dumps (the expected
# bytes are computed by python3's stdlib json from the same generated rows, never hard-coded).
source "$(dirname "$0")/lib.sh"
tool=$(dirname "$SHARDY")/arrow_json
checker=${SHARDY_SOURCE_DIR:-$(dirname "$0")/../..}/tests/tools/arrow_json_check.py
if ! command -v python3 >/dev/null; then echo "SKIP: python3 not found"; exit 0; fi
for seed in 1 2 3; do
  run python3 "$checker" "$tool" --seed "$seed" --batches 200
  expect_eq "$RC" 0 "seed $seed: $ERR"
  expect_contains "$OUT" "byte-identical" "seed $seed"
done
finish
