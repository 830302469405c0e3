#!/usr/bin/env bash
# End to end with the CLI only: build → get/multiget/info/shards/route/history → second build →
# reads follow the new _CURRENT, --ref/--offset pin the older snapshot; a failed build changes nothing.
source "$(dirname "$0")/lib.sh"
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-e2e-$$
rm -rf "$T"; mkdir -p "$T/tmp"
export TMPDIR=$T/tmp SHARDY_CURRENT=$T/snap

python3 - "$T" <<'EOF2'
import json, sys
d = sys.argv[1]
with open(f"{d}/v1.jsonl", "w") as f:
    for i in range(20000):
        f.write(json.dumps({"id": i, "v": f"one-{i}"}) + "\n")
with open(f"{d}/v2.jsonl", "w") as f:
    for i in range(0, 30000, 2):
        f.write(json.dumps({"id": i, "v": f"two-{i}"}) + "\n")
EOF2

run "$SHARDY" build --input "$T/v1.jsonl" --key-col id --value-col v --num-dbs 16 --prefix "$T/snap" --run-id v1
expect_eq "$RC" 0 "first build"
REF1=$(sed 's/.*"manifest_ref": "\([^"]*\)".*/\1/' <<<"$OUT")

run "$SHARDY" --value-encoding utf8 get 12345
expect_eq "$OUT" '{"op": "get", "key": "12345", "found": true, "value": "one-12345"}' "get after build"
run "$SHARDY" --output-format text --value-encoding utf8 multiget 1 20000 3
expect_eq "$OUT" $'1=one-1\n20000=null\n3=one-3' "multiget"
run "$SHARDY" info
expect_contains "$OUT" '"run_id": "v1", "num_dbs": 16'
expect_contains "$OUT" '"row_count": 20000'
run "$SHARDY" shards
expect_eq "$(grep -o '"db_id"' <<<"$OUT" | wc -l)" 16 "16 shards listed"
run "$SHARDY" route 42
expect_eq "$OUT" "{\"op\": \"route\", \"key\": \"42\", \"db_id\": $("$SHARDY" hash --num-dbs 16 42 | sed 's/.*"db_id": \([0-9]*\).*/\1/')}" "route agrees with hash"

run "$SHARDY" build --input "$T/v2.jsonl" --key-col id --value-col v --num-dbs 16 --prefix "$T/snap" --run-id v2
expect_eq "$RC" 0 "second build"
REF2=$(sed 's/.*"manifest_ref": "\([^"]*\)".*/\1/' <<<"$OUT")
run "$SHARDY" --value-encoding utf8 get 12344
expect_eq "$OUT" '{"op": "get", "key": "12344", "found": true, "value": "two-12344"}' "reads follow _CURRENT"
run "$SHARDY" get 1
expect_contains "$OUT" '"found": false' "key removed in v2"
run "$SHARDY" --value-encoding utf8 --ref "$REF1" get 1
expect_eq "$OUT" '{"op": "get", "key": "1", "found": true, "value": "one-1"}' "--ref pins v1"
run "$SHARDY" --value-encoding utf8 --offset 1 get 12344
expect_eq "$OUT" '{"op": "get", "key": "12344", "found": true, "value": "one-12344"}' "--offset 1 pins v1"
run "$SHARDY" --offset 0 info
expect_contains "$OUT" "\"manifest_ref\": \"$REF2\""
run "$SHARDY" --offset 2 info
expect_eq "$RC" 1 "offset out of range"; expect_contains "$ERR" "Offset 2 out of range"
run "$SHARDY" --output-format text history
expect_eq "$(wc -l <<<"$OUT")" 2 "two manifests in history"
expect_contains "$(head -1 <<<"$OUT")" "run_id=v2"

# A failing build (bad row) leaves every answer unchanged.
printf '{"id": 1, "v": "bad"}\n{"id": "x", "v": "bad"}\n' > "$T/bad.jsonl"
run "$SHARDY" build --input "$T/bad.jsonl" --key-col id --value-col v --num-dbs 16 --prefix "$T/snap"
expect_eq "$RC" 1 "bad build fails"
run "$SHARDY" info
expect_contains "$OUT" "\"manifest_ref\": \"$REF2\""
run "$SHARDY" get 1
expect_contains "$OUT" '"found": false' "still v2"

# Readers can open the prefix with a file:// URL or the _CURRENT object itself.
run "$SHARDY" --current-url "file://$T/snap/_CURRENT" --value-encoding utf8 get 2
expect_eq "$OUT" '{"op": "get", "key": "2", "found": true, "value": "two-2"}' "_CURRENT URL"
rm -rf "$T"
finish
