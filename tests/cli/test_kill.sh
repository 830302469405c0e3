#!/usr/bin/env bash
# A build killed at any moment (SIGKILL or SIGINT) never changes what readers see: _CURRENT keeps
# pointing at a complete snapshot (the previous one, or the new one if the build had already
# published), and the previous snapshot's files are untouched.
source "$(dirname "$0")/lib.sh"
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-kill-$$
ROUNDS=${SHARDY_KILL_ROUNDS:-40}
rm -rf "$T"; mkdir -p "$T/tmp"
export TMPDIR=$T/tmp

python3 - "$T/a.jsonl" "$T/b.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write(json.dumps({"id": i, "v": f"a{i}"}) + "\n")
with open(sys.argv[2], "w") as f:
    for i in range(150000):
        f.write(json.dumps({"id": i, "v": f"b{i}" + "x" * 50}) + "\n")
EOF

manifest_of() { sed 's/.*"manifest_ref":"file:\/\/\([^"]*\)".*/\1/' "$1/_CURRENT"; }

# Checks that the snapshot _CURRENT names is complete: manifest readable, every shard file present
# with as many rows as the manifest says (inputs have distinct keys).
check_complete() {
  local m rows db want got
  m=$(manifest_of "$T/snap")
  [ -f "$m" ] || { fail "manifest $m missing"; return; }
  while IFS='|' read -r db want; do
    got=$(sqlite3 "${db#file://}/shard.db" 'select count(*) from kv' 2>&1)
    [ "$got" == "$want" ] || fail "shard $db has [$got] rows, manifest says $want"
  done < <(sqlite3 "$m" 'select db_url, row_count from shards')
  rows=$(sqlite3 "$m" 'select sum(row_count) from shards')
  [ "$rows" == 2000 ] || [ "$rows" == 150000 ] || fail "snapshot has $rows rows"
}

run "$SHARDY" build --input "$T/a.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "$T/snap" --run-id base
expect_eq "$RC" 0 "base build"
BASE_MANIFEST=$(manifest_of "$T/snap")
BASE_SUM=$( (cat "$BASE_MANIFEST"; find "$T/snap/shards/run_id=base" -type f -name shard.db | sort | xargs cat) | md5sum)

published=0
for i in $(seq 1 "$ROUNDS"); do
  sig=KILL; [ $((i % 3)) -eq 0 ] && sig=INT
  "$SHARDY" build --input "$T/b.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "$T/snap" \
    --run-id "k$i" --threads 2 >/dev/null 2>&1 &
  pid=$!
  # Random moment within the build's lifetime (~0.3-1.5 s on this machine).
  sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  CHECKS=$((CHECKS + 1))
  check_complete
  if [ "$(manifest_of "$T/snap")" != "$BASE_MANIFEST" ]; then
    published=$((published + 1))
    # The build had already published; start from the base snapshot again via a new _CURRENT.
    printf '{"format_version":1,"manifest_content_type":"application/x-sqlite3","manifest_ref":"file://%s","run_id":"base","updated_at":"2026-01-01T00:00:00Z"}' "$BASE_MANIFEST" > "$T/snap/_CURRENT"
  fi
  now=$( (cat "$BASE_MANIFEST"; find "$T/snap/shards/run_id=base" -type f -name shard.db | sort | xargs cat) | md5sum)
  expect_eq "$now" "$BASE_SUM" "base snapshot files unchanged after round $i ($sig)"
done
echo "kill test: $ROUNDS rounds, $published finished before the kill"

# A later build still works next to the leftovers of killed ones.
run "$SHARDY" build --input "$T/a.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "$T/snap" --run-id after
expect_eq "$RC" 0 "build after kills"
check_complete
rm -rf "$T"
finish
