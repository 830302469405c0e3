#!/usr/bin/env bash
# `shardy build`: JSONL/CSV → published snapshot; bad input gets file:line errors and publishes nothing.
source "$(dirname "$0")/lib.sh"
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-build-$$
rm -rf "$T"; mkdir -p "$T"
export TMPDIR=$T/tmp; mkdir -p "$TMPDIR"

# Value stored under KEY (sqlite3 hex of the key bytes) in the snapshot at $1.
lookup() { # lookup SNAPDIR HEXKEY → value text or empty
  local ref m
  ref=$(sed 's/.*"manifest_ref":"file:\/\/\([^"]*\)".*/\1/' "$1/_CURRENT")
  for db in $(sqlite3 "$ref" "select db_url from shards"); do
    sqlite3 "${db#file://}/shard.db" "select cast(v as text) from kv where k = x'$2'"
  done
}
u64hex() { printf '%016x' "$1"; }

# --- JSONL with an int key and a value column ------------------------------------------------------
python3 - "$T/in.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(5000):
        f.write(json.dumps({"id": i, "payload": f"v{i}", "n": i * 2}) + "\n")
    f.write("\n")                      # blank lines are fine
    f.write(json.dumps({"id": 7, "payload": "seven-again"}) + "\n")   # last write wins
EOF
run "$SHARDY" build --input "$T/in.jsonl" --key-col id --value-col payload --num-dbs 4 --prefix "$T/snap" --run-id r1
expect_eq "$RC" 0 "jsonl build"
expect_contains "$OUT" '"op": "build"'
expect_contains "$OUT" '"rows_written": 5001'
expect_contains "$OUT" '"duplicates": 1'
expect_contains "$OUT" '"run_id": "r1"'
expect_eq "$(lookup "$T/snap" "$(u64hex 4999)")" "v4999" "value of 4999"
expect_eq "$(lookup "$T/snap" "$(u64hex 7)")" "seven-again" "last write wins"
expect_eq "$(lookup "$T/snap" "$(u64hex 5000)")" "" "absent key"
expect_eq "$(find "$TMPDIR" -type f | wc -l)" 0 "staging removed"

# --- --shard-retry: attempt 0 of shard 0 cannot be stored (a file where its directory must go) -------
mkdir -p "$T/snapr/shards/run_id=rr/db=00000" && touch "$T/snapr/shards/run_id=rr/db=00000/attempt=00"
run "$SHARDY" build --input "$T/in.jsonl" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapr" --run-id rr \
  --shard-retry 2 --shard-retry-backoff 0.01
expect_eq "$RC" 0 "build with shard retry"
expect_contains "$OUT" 'db=00000/attempt=01'
expect_contains "$OUT" 'db=00001/attempt=00'
expect_eq "$(lookup "$T/snapr" "$(u64hex 4999)")" "v4999" "value after a retried shard"
mkdir -p "$T/snapr2/shards/run_id=rr/db=00000" && touch "$T/snapr2/shards/run_id=rr/db=00000/attempt=00"
run "$SHARDY" build --input "$T/in.jsonl" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapr2" --run-id rr
expect_eq "$RC" 1 "no shard retry by default"; expect_contains "$ERR" "db_id=0"
expect_eq "$(test -e "$T/snapr2/_CURRENT" && echo yes || echo no)" "no" "failed build publishes nothing"
run "$SHARDY" build --input "$T/in.jsonl" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapx" --shard-retry -1
expect_eq "$RC" 2 "bad --shard-retry"; expect_contains "$ERR" "--shard-retry"

# --- value JSON columns: Python json.dumps(sort_keys, compact) --------------------------------------
printf '%s\n' '{"id": 1, "name": "Jos\u00e9", "score": 1.0, "tags": ["a", "\u00e9"], "none": null}' > "$T/j.jsonl"
run "$SHARDY" build --input "$T/j.jsonl" --key-col id --value-json-cols score,name,tags,none,missing --num-dbs 2 --prefix "$T/snapj"
expect_eq "$RC" 0 "json cols build"
expect_eq "$(lookup "$T/snapj" "$(u64hex 1)")" '{"missing":null,"name":"Jos\u00e9","none":null,"score":1.0,"tags":["a","\u00e9"]}' "json_cols value"

# --- CSV with string keys, quoting, and --max-keys-per-shard ------------------------------------------
printf 'user,city,note\n' > "$T/in.csv"
for i in $(seq 1 300); do printf 'user:%d,"City, %d","said ""hi""\nline2"\n' "$i" "$i" >> "$T/in.csv"; done
run "$SHARDY" build --input "$T/in.csv" --key-col user --key-type str --value-json-cols city,note --max-keys-per-shard 100 --prefix "file://$T/snapc"
expect_eq "$RC" 0 "csv build"
expect_contains "$OUT" '"num_dbs": 3'
key=$(printf 'user:42' | od -An -tx1 | tr -d ' \n')
expect_eq "$(lookup "$T/snapc" "$key")" '{"city":"City, 42","note":"said \"hi\"\nline2"}' "csv value with quotes and newline"
ref=$(sed 's/.*"manifest_ref":"file:\/\/\([^"]*\)".*/\1/' "$T/snapc/_CURRENT")
expect_eq "$(sqlite3 "$ref" 'select key_encoding, key_col from build_meta')" "utf8|user" "manifest key encoding"

# --- stdin, bytes keys ----------------------------------------------------------------------------------
printf '{"k": "00ff", "v": "a"}\n{"k": "0x0102", "v": "b"}\n' | "$SHARDY" build --input - --key-col k --key-type bytes --key-encoding raw --value-col v --num-dbs 2 --prefix "$T/snapb" > "$T/out.json"
expect_eq "$?" 0 "stdin build"
expect_eq "$(lookup "$T/snapb" 0102)" "b" "bytes key from hex"

# --- empty input publishes a valid, empty snapshot ---------------------------------------------------
: > "$T/empty.jsonl"
run "$SHARDY" build --input "$T/empty.jsonl" --key-col id --value-col v --num-dbs 3 --prefix "$T/snape"
expect_eq "$RC" 0 "empty build"
expect_contains "$OUT" '"rows_written": 0'
ref=$(sed 's/.*"manifest_ref":"file:\/\/\([^"]*\)".*/\1/' "$T/snape/_CURRENT")
expect_eq "$(sqlite3 "$ref" 'select num_dbs, (select count(*) from shards) from build_meta')" "3|0" "empty manifest"

# --- bad rows: file:line and reason, nothing published -------------------------------------------------
cp "$T/snap/_CURRENT" "$T/current.before"
bad_build() { # bad_build CONTENT EXPECTED-SUBSTRING [extra args]
  printf '%b' "$1" > "$T/bad.jsonl"
  run "$SHARDY" build --input "$T/bad.jsonl" --key-col id --value-col payload --num-dbs 4 --prefix "$T/snap" "${@:3}"
  expect_eq "$RC" 1 "bad input exit code ($2)"
  expect_contains "$ERR" "$2"
  expect_contains "$ERR" "nothing was published"
  cmp -s "$T/snap/_CURRENT" "$T/current.before" || fail "_CURRENT changed by a failed build ($2)"
}
bad_build '{"id": 1, "payload": "a"}\n{"id": 2, "payload": "b"\n' "bad.jsonl:2: invalid JSON"
bad_build '{"id": 1, "payload": "a"}\n{"payload": "b"}\n' "bad.jsonl:2: key column 'id' is missing"
bad_build '{"id": null, "payload": "b"}\n' "bad.jsonl:1: key column 'id' is null"
bad_build '{"id": "x1", "payload": "b"}\n' "bad.jsonl:1: key column 'id' must be an integer (got string)"
bad_build '{"id": -4, "payload": "b"}\n' "bad.jsonl:1: u64be key -4 is negative"
bad_build '{"id": 1.5, "payload": "b"}\n' "bad.jsonl:1: key column 'id' must be an integer (got double)"
bad_build '\n\n{"id": 3, "payload": 12}\n' "bad.jsonl:3: value column 'payload' must be a string or null"
bad_build '[1, 2]\n' "bad.jsonl:1: row is not a JSON object"
bad_build '{"id": 99999999999999999999999, "payload": "x"}\n' "bad.jsonl:1:"
bad_build '{"id": 5000000000, "payload": "x"}\n' "bad.jsonl:1: u32be key 5000000000 is out of range" --key-encoding u32be

# --skip-bad-rows tolerates and reports them.
printf '{"id": 1, "payload": "a"}\nnot json\n{"id": 2}\n{"id": 3, "payload": "c"}\n' > "$T/some-bad.jsonl"
run "$SHARDY" build --input "$T/some-bad.jsonl" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapsk" --skip-bad-rows 2
expect_eq "$RC" 0 "skip-bad-rows build"
expect_contains "$OUT" '"bad_rows": 2'
expect_contains "$OUT" 'some-bad.jsonl:2:'
expect_contains "$OUT" 'some-bad.jsonl:3: value column'
expect_contains "$OUT" '"rows_written": 2'
run "$SHARDY" build --input "$T/some-bad.jsonl" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapsk2" --skip-bad-rows 1
expect_eq "$RC" 1 "more bad rows than tolerated"
[ -e "$T/snapsk2/_CURRENT" ] && fail "a failed build published _CURRENT"

# CSV shape errors.
printf 'id,payload\n1,a\n2,b,c\n' > "$T/bad.csv"
run "$SHARDY" build --input "$T/bad.csv" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapx"
expect_eq "$RC" 1 "csv field count"
expect_contains "$ERR" "bad.csv:3: row has 3 fields, the header has 2"
printf 'id,payload\n1,"abc\n' > "$T/bad2.csv"
run "$SHARDY" build --input "$T/bad2.csv" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapx"
expect_contains "$ERR" "bad2.csv:2: unterminated quoted field"
printf 'id,payload\n1,a\n' > "$T/nokey.csv"
run "$SHARDY" build --input "$T/nokey.csv" --key-col user --value-col payload --num-dbs 2 --prefix "$T/snapx"
expect_contains "$ERR" "key column 'user' is not in the CSV header"

# Unreadable input, usage errors.
run "$SHARDY" build --input "$T/nope.jsonl" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapx"
expect_eq "$RC" 1 "missing input"; expect_contains "$ERR" "nope.jsonl"; expect_contains "$ERR" "No such file"
run "$SHARDY" build --input "$T/in.jsonl" --key-col id --value-col payload --prefix "$T/snapx"
expect_eq "$RC" 2 "missing num-dbs"; expect_contains "$ERR" "Exactly one of --num-dbs or --max-keys-per-shard"
run "$SHARDY" build --input "$T/in.jsonl" --key-col id --value-col payload --num-dbs 0 --prefix "$T/snapx"
expect_eq "$RC" 2 "num-dbs 0"
run "$SHARDY" build --input "$T/in.txt" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapx"
expect_eq "$RC" 2 "unknown extension"; expect_contains "$ERR" "--format"
run "$SHARDY" build --input "$T/in.jsonl" --key-col id --value-col payload --num-dbs 2 --prefix "$T/snapx" --run-id 'a b'
expect_eq "$RC" 1 "bad run id"; expect_contains "$ERR" "run_id 'a b'"
run "$SHARDY" build --help
expect_eq "$RC" 0 "build --help"; expect_contains "$OUT" "--max-keys-per-shard"

rm -rf "$T"
finish
