#!/usr/bin/env bash
# `shardy hash` prints the routing vectors of spec formats §4.5 and reports bad input clearly.
source "$(dirname "$0")/lib.sh"

# key-args | digest | %8 | %16 | %10
while IFS='|' read -r args digest m8 m16 m10; do
  [ -z "$args" ] && continue
  for n in 8 16 10; do
    eval "set -- $args"
    run "$SHARDY" hash --num-dbs "$n" "$@"
    expect_eq "$RC" 0 "exit code for $args"
    case $n in 8) want=$m8 ;; 16) want=$m16 ;; 10) want=$m10 ;; esac
    expect_contains "$OUT" "\"db_id\": $want," "db_id of $args mod $n"
    expect_contains "$OUT" "\"digest\": \"$digest\"" "digest of $args"
  done
done <<'VECTORS'
0|0xc77b3abb6f87acd9|1|9|7
1|0x2fbc593564db792e|6|14|8
42|0xd5a6f8c838df27c8|0|8|0
-1|0x5111c7e47d784413|3|3|7
123456789|0x27196ab4438f6ad5|5|5|9
9223372036854775807|0xa233cf376558df46|6|6|2
-9223372036854775808|0x828f2476789a0e5f|7|15|5
--str ''|0x2d06800538d394c2|2|2|8
--hex ''|0x2d06800538d394c2|2|2|8
--str hello|0x9555e8555c62dcfd|5|13|9
--str user:1001|0x783864580ee66e90|0|0|2
--str héllo|0x6a45b79a7b549b1f|7|15|5
--str 日本|0x2c17fb837f1a1bc0|0|0|6
--hex 00|0xc44bdff4074eecdb|3|11|3
--hex fffe0001|0x971bde743dabd2c2|2|2|2
--hex 616263|0x78af5f94892f3950|0|0|4
--str abc|0x78af5f94892f3950|0|0|4
--str kkkkkkkkkkkkkkkkk|0x04fff59d43a9eec1|1|1|3
--str $(printf 'k%.0s' {1..129})|0x99341f95fe4b04be|6|14|8
--hex $(for i in $(seq 0 255); do printf '%02x' $i; done)|0x9408a4433b952d71|1|1|3
--str $(printf 'a%.0s' {1..300})|0xc1d17581d8eb7e21|1|1|3
VECTORS

# Decimal digest and text format.
run "$SHARDY" --output-format text hash --num-dbs 8 1
expect_eq "$OUT" "1 -> shard 6  digest=0x2fbc593564db792e (3439722301264460078)" "text output"
run "$SHARDY" hash --num-dbs 8 1_000
expect_eq "$RC" 0 "underscore separators accepted"
run "$SHARDY" --output-format json hash --num-dbs 8 42
expect_contains "$OUT" $'{\n  "op": "hash",' "pretty json"

# Bad input: clear messages and the spec's exit codes.
run "$SHARDY" hash --num-dbs 0 1
expect_eq "$RC" 2 "num-dbs 0 is a usage error"; expect_contains "$ERR" "--num-dbs"
run "$SHARDY" hash --num-dbs x 1
expect_eq "$RC" 2 "non-numeric num-dbs"
run "$SHARDY" hash 1
expect_eq "$RC" 2 "missing num-dbs"; expect_contains "$ERR" "Missing option '--num-dbs'"
run "$SHARDY" hash --num-dbs 8
expect_eq "$RC" 2 "missing key"; expect_contains "$ERR" "Missing argument 'KEY'"
run "$SHARDY" hash --num-dbs 8 abc
expect_eq "$RC" 1 "non-integer key"; expect_contains "$ERR" "Key 'abc' is not a valid integer"
run "$SHARDY" hash --num-dbs 8 18446744073709551615
expect_eq "$RC" 1 "u64 key cannot be hash-routed"; expect_contains "$ERR" "out of range"
run "$SHARDY" hash --num-dbs 8 99999999999999999999999
expect_eq "$RC" 1 "huge key"; expect_contains "$ERR" "out of the 64-bit integer range"
run "$SHARDY" hash --num-dbs 8 --hex abc
expect_eq "$RC" 2 "odd hex"; expect_contains "$ERR" "not valid hex"
run "$SHARDY" hash --num-dbs 8 --bogus 1
expect_eq "$RC" 2 "unknown option"; expect_contains "$ERR" "No such option: --bogus"
run "$SHARDY" nosuch
expect_eq "$RC" 2 "unknown command"; expect_contains "$ERR" "No such command 'nosuch'"
run "$SHARDY" hash --help
expect_eq "$RC" 0 "hash --help"; expect_contains "$OUT" "Usage: shardy hash"
run "$SHARDY" --version
expect_eq "$OUT" "shardy, version 0.1.0" "--version"
finish
