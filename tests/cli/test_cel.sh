#!/usr/bin/env bash
# `shardy build --cel-expr` (direct, categorical explicit/inferred) and --routing-context reads.
source "$(dirname "$0")/lib.sh"
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-cel-$$
rm -rf "$T"; mkdir -p "$T"
export TMPDIR=$T/tmp; mkdir -p "$TMPDIR"
for i in $(seq 0 39); do echo "{\"id\": $i, \"v\": \"v$i\"}"; done > "$T/ints.jsonl"

# --- direct mode: key % 4 on an int column; `key` binds to the key column ---------------------------
run "$SHARDY" build --input "$T/ints.jsonl" --key-col id --value-col v --prefix "$T/d" --cel-expr 'key % 4' --cel-column key:int
expect_eq "$RC" 0 "direct build"
expect_contains "$OUT" '"num_dbs": 4'
run "$SHARDY" --current-url "$T/d" route 13
expect_contains "$OUT" '"db_id": 1'
run "$SHARDY" --current-url "$T/d" get 13
expect_contains "$OUT" '"found": true'

# --- shard_hash(key) % 8u puts every key where HASH routing with 8 shards would ---------------------
run "$SHARDY" build --input "$T/ints.jsonl" --key-col id --value-col v --prefix "$T/h" --cel-expr 'shard_hash(key) % 8u' --cel-column key:int
expect_eq "$RC" 0 "shard_hash build"
bad=0
for i in 0 5 17 33 39; do
  a=$("$SHARDY" --current-url "$T/h" route $i | sed 's/.*"db_id": \([0-9]*\).*/\1/')
  b=$("$SHARDY" hash --num-dbs 8 $i | sed 's/.*"db_id": \([0-9]*\).*/\1/')
  [ -n "$a" ] && [ "$a" == "$b" ] || bad=$((bad + 1))
done
expect_eq "$bad" 0 "cel shard_hash == hash routing"

# --- the seed's key % 16u on an int column: a clear type error with the fix ------------------------
run "$SHARDY" build --input "$T/ints.jsonl" --key-col id --value-col v --prefix "$T/bad" --cel-expr 'key % 16u' --cel-column key:int
expect_eq "$RC" 1 "type error exit"
expect_contains "$ERR" 'key % 16'
expect_contains "$ERR" '^'

# --- categorical, explicit values, CSV string column --------------------------------------------------
printf 'id,region,v\nk1,us,a\nk2,eu,b\nk3,us,c\n' > "$T/r.csv"
run "$SHARDY" build --input "$T/r.csv" --key-col id --key-type str --value-col v --prefix "$T/c" --cel-expr region --cel-column region:string --routing-values us,eu,ap
expect_eq "$RC" 0 "categorical build"
expect_contains "$OUT" '"num_dbs": 3'
run "$SHARDY" --current-url "$T/c" get k2 --routing-context region=eu
expect_contains "$OUT" '"found": true'
run "$SHARDY" --current-url "$T/c" get k2 --routing-context region=zz
expect_eq "$RC" 0 "unknown token on read is a miss"
expect_contains "$OUT" '"found": false'
run "$SHARDY" --current-url "$T/c" route k2 --routing-context region=ap
expect_contains "$OUT" '"db_id": 2'
run "$SHARDY" --current-url "$T/c" get k2
expect_eq "$RC" 1 "no context"
expect_contains "$ERR" 'routing_context'

# --- unknown token on write names the row ------------------------------------------------------------
printf 'id,region,v\nk1,us,a\nk2,xx,b\n' > "$T/u.csv"
run "$SHARDY" build --input "$T/u.csv" --key-col id --key-type str --value-col v --prefix "$T/u" --cel-expr region --cel-column region:string --routing-values us,eu
expect_eq "$RC" 1 "unknown token on write"
expect_contains "$ERR" "u.csv:3"
run "$SHARDY" build --input "$T/u.csv" --key-col id --key-type str --value-col v --prefix "$T/u" --cel-expr region --cel-column region:string --routing-values us,eu --skip-bad-rows 1
expect_eq "$RC" 0 "skip-bad-rows"
expect_contains "$OUT" '"bad_rows": 1'

# --- inferred values, multi-column with routing context ----------------------------------------------
printf '%s\n' '{"id":"a","region":"us","tier":1,"v":"1"}' '{"id":"b","region":"eu","tier":2,"v":"2"}' \
  '{"id":"c","region":"ap","tier":1,"v":"3"}' > "$T/m.jsonl"
run "$SHARDY" build --input "$T/m.jsonl" --key-col id --key-type str --value-col v --prefix "$T/m" --cel-expr 'region + ":" + string(tier)' --cel-column region:string --cel-column tier:int --infer-routing-values
expect_eq "$RC" 0 "inferred build"
expect_contains "$OUT" '"num_dbs": 3'
# sorted: ap:1, eu:2, us:1
run "$SHARDY" --current-url "$T/m" route b --routing-context region=eu --routing-context tier=2
expect_contains "$OUT" '"db_id": 1'
run "$SHARDY" --current-url "$T/m" get a --routing-context region=us --routing-context tier=1
expect_contains "$OUT" '"found": true'
run "$SHARDY" --current-url "$T/m" get a --routing-context region=us --routing-context tier=x
expect_eq "$RC" 1 "bad context value"
expect_contains "$ERR" "tier"
rm -rf "$T"
finish
