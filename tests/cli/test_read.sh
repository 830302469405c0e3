#!/usr/bin/env bash
# The read commands of `shardy` end to end (spec reader-cli §7.1, §7.5–7.8): get, multiget, info,
# shards, route, history in every output format, value encodings, key coercion, pinning, exit codes.
# Snapshots come from the test-only generator built next to the shardy binary.
source "$(dirname "$0")/lib.sh"
MK=${SHARDY_MAKE_SNAPSHOT:-$(dirname "$SHARDY")/make_snapshot}
ROOT=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-read-$$
rm -rf "$ROOT" && mkdir -p "$ROOT"
trap 'rm -rf "$ROOT"' EXIT
unset SHARDY_CURRENT

SNAP=$ROOT/snap
R1=$("$MK" "$SNAP" u64be r1 2026-01-01T00:00:00Z) || fail "make_snapshot r1"
R2=$("$MK" "$SNAP" u64be r2 2026-03-14T10:30:00.123456Z) || fail "make_snapshot r2"
U="--current-url $SNAP"
M2="file://$SNAP/manifests/2026-03-14T10:30:00.123456Z_run_id=r2/manifest"
M1="file://$SNAP/manifests/2026-01-01T00:00:00.000000Z_run_id=r1/manifest"
expect_eq "$R2" "$M2" "generator prints the manifest ref"

# ---- get -------------------------------------------------------------------------------------------
run "$SHARDY" $U get 1
expect_eq "$RC" 0 "get hit"
expect_eq "$OUT" '{"op": "get", "key": "1", "found": true, "value": "b25l"}' "get jsonl"
run "$SHARDY" $U get 999
expect_eq "$RC" 0 "get miss without --strict"
expect_eq "$OUT" '{"op": "get", "key": "999", "found": false, "value": "null"}' "get miss jsonl"
run "$SHARDY" $U get 999 --strict
expect_eq "$RC" 1 "get --strict miss"
expect_eq "$OUT" '{"op": "get", "key": "999", "found": false, "value": "null"}' "strict miss on stdout"
run "$SHARDY" $U get --strict 1
expect_eq "$RC" 0 "get --strict hit"
run "$SHARDY" $U --output-format json get 1
expect_eq "$OUT" $'{\n  "op": "get",\n  "key": "1",\n  "found": true,\n  "value": "b25l"\n}' "get json"
run "$SHARDY" $U --output-format text get 1
expect_eq "$OUT" "1=b25l" "get text"
run "$SHARDY" $U --output-format TEXT get 999
expect_eq "$OUT" "999=null" "get text miss (format is case-insensitive)"
run "$SHARDY" $U --output-format table get 1
expect_eq "$OUT" $'{\n  "op": "get",\n  "key": "1",\n  "found": true,\n  "value": "b25l"\n}' "get table = pretty json"
# Key coercion (§7.7): Python int() syntax.
run "$SHARDY" $U --output-format text get " 1_0 "
expect_eq "$OUT" " 1_0 =null" "underscores and spaces parse; key 10 misses; display keeps the text"
run "$SHARDY" $U --output-format text get +0005
expect_eq "$OUT" "+0005=dmFsdWUtNQ==" "sign and leading zeros"

# Value encodings.
run "$SHARDY" $U --value-encoding hex get 2
expect_eq "$OUT" '{"op": "get", "key": "2", "found": true, "value": "68c3a96c6c6f"}' "hex"
run "$SHARDY" $U --value-encoding utf8 get 2
expect_eq "$OUT" '{"op": "get", "key": "2", "found": true, "value": "héllo"}' "utf8 raw in jsonl"
run "$SHARDY" $U --value-encoding utf8 --output-format text get 3
expect_eq "$OUT" $'3=\xef\xbf\xbd\xef\xbf\xbdA' "invalid utf8 → U+FFFD per bad byte"
run "$SHARDY" $U --value-encoding base64 get 3
expect_contains "$OUT" '"value": "//5B"' "base64 with the standard alphabet"
run "$SHARDY" $U --value-encoding rot13 get 1
expect_eq "$RC" 2 "unknown value encoding is a usage error"
expect_contains "$ERR" "Invalid value for '--value-encoding'"

# Bad keys → error result on stderr, exit 1.
run "$SHARDY" $U get abc
expect_eq "$RC" 1 "non-integer key"
expect_eq "$OUT" "" "nothing on stdout"
expect_eq "$ERR" '{"op": "get", "error": "Key '"'"'abc'"'"' is not a valid integer (required by u64be encoding)", "key": "abc"}' "error result"
run "$SHARDY" $U --output-format text get abc
expect_eq "$ERR" "error: Key 'abc' is not a valid integer (required by u64be encoding)" "text error"
run "$SHARDY" $U get -1
expect_eq "$RC" 1 "negative key"
expect_contains "$ERR" '"error": "u64be key -1 is negative'
run "$SHARDY" $U get 18446744073709551615
expect_eq "$RC" 1 "u64 max cannot be hash-routed"
expect_contains "$ERR" '"op": "get"'
run "$SHARDY" $U get 123456789012345678901234567890
expect_eq "$RC" 1 "huge key"
expect_contains "$ERR" "out of range for u64be encoding"

# Usage errors.
run "$SHARDY" $U get
expect_eq "$RC" 2 "missing KEY"; expect_contains "$ERR" "Missing argument 'KEY'"
run "$SHARDY" $U get 1 2
expect_eq "$RC" 2 "extra argument"
run "$SHARDY" $U get --bogus 1
expect_eq "$RC" 2 "unknown option"

# ---- multiget ---------------------------------------------------------------------------------------
run "$SHARDY" $U multiget 1 999 1 0
expect_eq "$RC" 0 "multiget"
expect_eq "$OUT" '{"op": "multiget", "results": [{"key": "1", "found": true, "value": "b25l"}, {"key": "999", "found": false}, {"key": "1", "found": true, "value": "b25l"}, {"key": "0", "found": true, "value": "cnVuPXIy"}]}' "multiget jsonl: input order, duplicates, misses without value"
run "$SHARDY" $U --output-format text multiget 1 999
expect_eq "$OUT" $'1=b25l\n999=null' "multiget text"
run "$SHARDY" $U --output-format table multiget 1 999
expect_eq "$OUT" $'KEY  VALUE\n----------\n1    b25l \n999  null ' "multiget table (spec example)"
run "$SHARDY" $U --output-format table multiget 5 1234
expect_eq "$OUT" $'KEY   VALUE       \n------------------\n5     dmFsdWUtNQ==\n1234  null        ' "multiget table widths"
run "$SHARDY" $U --output-format json multiget 999
expect_eq "$OUT" $'{\n  "op": "multiget",\n  "results": [\n    {\n      "key": "999",\n      "found": false\n    }\n  ]\n}' "multiget json"
OUT=$(printf '1\n\n   999  \n\t5\n' | "$SHARDY" $U --output-format text multiget -); RC=$?
expect_eq "$RC" 0 "multiget from stdin"
expect_eq "$OUT" $'1=b25l\n999=null\n5=dmFsdWUtNQ==' "stdin keys trimmed, blank lines dropped"
ERR=$(printf '\n  \n' | "$SHARDY" $U multiget - 2>&1 >/dev/null); RC=$?
expect_eq "$RC" 2 "empty stdin is a usage error"
expect_contains "$ERR" "No keys provided on stdin"
run "$SHARDY" $U multiget
expect_eq "$RC" 2 "multiget needs keys"
run "$SHARDY" $U multiget 1 x
expect_eq "$RC" 1 "bad key in multiget"
expect_eq "$ERR" '{"op": "multiget", "error": "Key '"'"'x'"'"' is not a valid integer (required by u64be encoding)"}' "multiget error has no key"

# ---- info -------------------------------------------------------------------------------------------
run "$SHARDY" $U info
expect_eq "$RC" 0 "info"
expect_eq "$OUT" '{"op": "info", "run_id": "r2", "num_dbs": 3, "sharding": "hash", "created_at": "2026-03-14T10:30:00.123456+00:00", "manifest_ref": "'"$M2"'", "row_count": 10, "key_encoding": "u64be", "hash_algorithm": "xxh3_64"}' "info jsonl"
run "$SHARDY" $U --output-format text info
expect_eq "$OUT" "run_id=r2
num_dbs=3
sharding=hash
created_at=2026-03-14T10:30:00.123456+00:00
manifest_ref=$M2
row_count=10
key_encoding=u64be
hash_algorithm=xxh3_64" "info text (enum values as plain strings)"
run "$SHARDY" $U --output-format table info
expect_contains "$OUT" $'{\n  "op": "info",' "info table = pretty json"
run "$SHARDY" --current-url "$SNAP/_CURRENT" --offset 1 info
expect_contains "$OUT" '"created_at": "2026-01-01T00:00:00+00:00"' "created_at without fraction"
expect_contains "$OUT" '"run_id": "r1"' "the _CURRENT URL works as well as the prefix"

# ---- shards -----------------------------------------------------------------------------------------
run "$SHARDY" $U shards
expect_eq "$RC" 0 "shards"
expect_eq "$OUT" '{"op": "shards", "shards": [{"db_id": 0, "row_count": 4, "min_key": 4, "max_key": 9, "db_url": "file://'"$SNAP"'/shards/run_id=r2/db=00000/attempt=00"}, {"db_id": 1, "row_count": 2, "min_key": 2, "max_key": 3, "db_url": "file://'"$SNAP"'/shards/run_id=r2/db=00001/attempt=00"}, {"db_id": 2, "row_count": 4, "min_key": 0, "max_key": 7, "db_url": "file://'"$SNAP"'/shards/run_id=r2/db=00002/attempt=00"}]}' "shards jsonl"
run "$SHARDY" $U --output-format text shards
expect_eq "$OUT" $'db_id=0  rows=4  min=4  max=9\ndb_id=1  rows=2  min=2  max=3\ndb_id=2  rows=4  min=0  max=7' "shards text"
run "$SHARDY" $U --output-format table shards
expect_eq "$OUT" "DB_ID      ROWS     MIN_KEY     MAX_KEY  URL
--------------------------------------------
    0         4           4           9  file://$SNAP/shards/run_id=r2/db=00000/attempt=00
    1         2           2           3  file://$SNAP/shards/run_id=r2/db=00001/attempt=00
    2         4           0           7  file://$SNAP/shards/run_id=r2/db=00002/attempt=00" "shards table (min 0 printed: QUIRK fixed)"
# Empty shards: db_url null, no min/max.
EMPTY=$ROOT/empty
"$MK" "$EMPTY" empty e1 2026-01-01T00:00:00Z >/dev/null || fail "make_snapshot empty"
run "$SHARDY" --current-url "$EMPTY" shards
expect_eq "$OUT" '{"op": "shards", "shards": [{"db_id": 0, "row_count": 0, "min_key": null, "max_key": null, "db_url": null}, {"db_id": 1, "row_count": 0, "min_key": null, "max_key": null, "db_url": null}, {"db_id": 2, "row_count": 0, "min_key": null, "max_key": null, "db_url": null}, {"db_id": 3, "row_count": 0, "min_key": null, "max_key": null, "db_url": null}]}' "empty shards jsonl"
run "$SHARDY" --current-url "$EMPTY" --output-format text shards
expect_eq "$OUT" $'db_id=0  rows=0\ndb_id=1  rows=0\ndb_id=2  rows=0\ndb_id=3  rows=0' "empty shards text"
run "$SHARDY" --current-url "$EMPTY" --output-format table shards
expect_contains "$OUT" $'\n    1         0                          None\n' "empty shard row in the table"
run "$SHARDY" --current-url "$EMPTY" get 1
expect_eq "$OUT" '{"op": "get", "key": "1", "found": false, "value": "null"}' "get on an empty snapshot"

# ---- route ------------------------------------------------------------------------------------------
run "$SHARDY" $U route 5
expect_eq "$OUT" '{"op": "route", "key": "5", "db_id": 2}' "route jsonl (spec example)"
run "$SHARDY" $U --output-format text route 5
expect_eq "$OUT" "5 -> shard 2" "route text"
for kv in 4:0 9:0 2:1 15:1 1:2 10:2; do
  run "$SHARDY" $U --output-format text route "${kv%%:*}"
  expect_eq "$OUT" "${kv%%:*} -> shard ${kv##*:}" "route vector ${kv}"
done
run "$SHARDY" $U route nope
expect_eq "$RC" 1 "route bad key"
expect_contains "$ERR" '{"op": "route", "error": "Key '"'"'nope'"'"' is not a valid integer'
expect_contains "$ERR" '"key": "nope"}'

# ---- history ----------------------------------------------------------------------------------------
run "$SHARDY" $U history
expect_eq "$OUT" '{"op": "history", "manifests": [{"offset": 0, "run_id": "r2", "published_at": "2026-03-14T10:30:00.123456+00:00", "ref": "'"$M2"'"}, {"offset": 1, "run_id": "r1", "published_at": "2026-01-01T00:00:00+00:00", "ref": "'"$M1"'"}]}' "history jsonl"
run "$SHARDY" $U history --limit 1
expect_eq "$OUT" '{"op": "history", "manifests": [{"offset": 0, "run_id": "r2", "published_at": "2026-03-14T10:30:00.123456+00:00", "ref": "'"$M2"'"}]}' "history --limit"
run "$SHARDY" $U --output-format text history
expect_eq "$OUT" $'[0] 2026-03-14T10:30:00.123456+00:00  run_id=r2\n[1] 2026-01-01T00:00:00+00:00  run_id=r1' "history text"
run "$SHARDY" $U --output-format table history --limit 1
expect_eq "$OUT" $'  #                PUBLISHED_AT  RUN_ID\n---------------------------------------\n  0  2026-03-14T10:30:00.123456+00:00  r2' "history table (spec example)"
run "$SHARDY" $U --output-format text history --limit 0
expect_eq "$OUT" "(no manifests)" "empty history text"
run "$SHARDY" --current-url "$ROOT/nothing" history
expect_eq "$RC" 0 "history of a prefix with nothing"
expect_eq "$OUT" '{"op": "history", "manifests": []}' "empty history"
run "$SHARDY" $U history --limit x
expect_eq "$RC" 2 "bad --limit"
run "$SHARDY" $U --offset 1 history --limit 1
expect_contains "$OUT" '"run_id": "r2"' "history ignores the pin"

# ---- pinning (--ref / --offset) -----------------------------------------------------------------------
run "$SHARDY" $U --ref "$M1" get 0
expect_eq "$OUT" '{"op": "get", "key": "0", "found": true, "value": "cnVuPXIx"}' "--ref pins r1 (run=r1)"
run "$SHARDY" $U --ref "${M1#file://}" --output-format text info
expect_contains "$OUT" "run_id=r1" "--ref as a bare path"
run "$SHARDY" $U --offset 0 get 0
expect_contains "$OUT" '"value": "cnVuPXIy"' "--offset 0 = newest"
run "$SHARDY" $U --offset=1 get 0
expect_contains "$OUT" '"value": "cnVuPXIx"' "--offset=1"
run "$SHARDY" $U --offset 2 get 0
expect_eq "$RC" 1 "offset out of range"
expect_eq "$ERR" "Error: Offset 2 out of range (only 2 manifests available)" "offset message"
run "$SHARDY" $U --offset -1 get 0
expect_eq "$RC" 2 "negative offset"; expect_contains "$ERR" "--offset must be >= 0"
run "$SHARDY" $U --offset x get 0
expect_eq "$RC" 2 "non-integer offset"
run "$SHARDY" $U --ref "$M1" --offset 0 get 0
expect_eq "$RC" 2 "--ref with --offset"; expect_contains "$ERR" "--ref and --offset are mutually exclusive"
run "$SHARDY" $U --ref "file://$SNAP/manifests/nope/manifest" get 0
expect_eq "$RC" 1 "missing ref"; expect_contains "$ERR" "Error: Failed to initialise reader: "

# ---- reader construction errors --------------------------------------------------------------------
run "$SHARDY" get 1
expect_eq "$RC" 1 "no CURRENT URL"
expect_eq "$ERR" "Error: CURRENT URL is required. Provide it via --current-url, set SHARDY_CURRENT env var, or set current_url in reader.toml." "missing URL message"
OUT=$(SHARDY_CURRENT=$SNAP "$SHARDY" --output-format text get 1 2>&1); RC=$?
expect_eq "$OUT" "1=b25l" "SHARDY_CURRENT"
OUT=$(SHARDY_CURRENT=$ROOT/nothing "$SHARDY" --current-url "$SNAP" --output-format text get 1 2>&1)
expect_eq "$OUT" "1=b25l" "--current-url overrides SHARDY_CURRENT"
run "$SHARDY" --current-url "$ROOT/nothing" get 1
expect_eq "$RC" 1 "no _CURRENT"
expect_contains "$ERR" "Error: Failed to initialise reader: CURRENT pointer not found"
run "$SHARDY" --current-url "$ROOT/nothing" info
expect_eq "$RC" 1 "info without a snapshot"
# Cold-start fallback: _CURRENT points at a corrupt manifest → the newest older one is served.
"$MK" "$SNAP" garbage r3 2026-04-01T00:00:00Z >/dev/null || fail "make_snapshot garbage"
run "$SHARDY" $U --output-format text get 0
expect_eq "$OUT" "0=cnVuPXIy" "fallback to r2"
run "$SHARDY" $U --ref "file://$SNAP/manifests/2026-04-01T00:00:00.000000Z_run_id=r3/manifest" get 0
expect_eq "$RC" 1 "pinned to a corrupt manifest: no fallback"
expect_contains "$ERR" "Failed to initialise reader: "

# ---- other key encodings ----------------------------------------------------------------------------
for enc in utf8 raw; do
  T=$ROOT/$enc
  "$MK" "$T" "$enc" t1 2026-01-01T00:00:00Z >/dev/null || fail "make_snapshot $enc"
  run "$SHARDY" --current-url "$T" --output-format text --value-encoding utf8 multiget alice héllo 日本 carol 42
  expect_eq "$OUT" $'alice=A\nhéllo=H\n日本=J\ncarol=null\n42=null' "$enc keys"
  run "$SHARDY" --current-url "$T" --output-format table --value-encoding utf8 multiget 日本 alice
  expect_eq "$OUT" $'KEY    VALUE\n------------\n日本     J    \nalice  A    ' "$enc table widths count code points"
  run "$SHARDY" --current-url "$T" info
  expect_contains "$OUT" "\"key_encoding\": \"$enc\"" "$enc info"
done
U32=$ROOT/u32
"$MK" "$U32" u32be t1 2026-01-01T00:00:00Z >/dev/null || fail "make_snapshot u32be"
run "$SHARDY" --current-url "$U32" --output-format text get 1
expect_eq "$OUT" "1=b25l" "u32be get"
run "$SHARDY" --current-url "$U32" get 4294967296
expect_eq "$RC" 1 "u32be out of range"
expect_contains "$ERR" "out of range 0..4294967295"
run "$SHARDY" --current-url "$U32" get x
expect_contains "$ERR" "(required by u32be encoding)"

# ---- help needs no snapshot -------------------------------------------------------------------------
for c in get multiget info shards route history; do
  run "$SHARDY" "$c" --help
  expect_eq "$RC" 0 "$c --help"
  expect_contains "$OUT" "Usage: shardy $c" "$c help text"
done
run "$SHARDY" --help
expect_contains "$OUT" "--current-url URL"
expect_contains "$OUT" "multiget"
finish
