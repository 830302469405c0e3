#!/usr/bin/env bash
# Builds on s3:// through a fault-injecting proxy (tests/s3/faultproxy.py in front of moto: 503s,
# 500s, 429s, resets, stalls, truncated bodies). Every build either completes with exactly the
# contents of a clean build, or fails with a clear error while the previous snapshot stays readable
# and unchanged; no multipart upload is left behind either way.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SHARDY=$(readlink -f "$SHARDY")
if [ -z "${SHARDY_TEST_S3_ENDPOINT:-}" ]; then
  echo "*** SKIPPED: test_faults_s3.sh — SHARDY_TEST_S3_ENDPOINT not set (eval \"\$(tests/s3/servers.sh start)\")" >&2
  [ "${SHARDY_REQUIRE_S3:-}" = 1 ] && { echo "SHARDY_REQUIRE_S3=1: a missing S3 server is a failure" >&2; exit 1; }
  exit 0
fi
ROUNDS=${SHARDY_FAULT_ROUNDS:-6}
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-faults-s3-$$
rm -rf "$T"; mkdir -p "$T/tmp"
export TMPDIR=$T/tmp HOME=$T
cd "$T"
unset SHARDY_CREDENTIALS AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
export AWS_ACCESS_KEY_ID=$SHARDY_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SHARDY_TEST_S3_SECRET_KEY
BUCKET=shardy-faults-$$-$RANDOM
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$SHARDY_TEST_S3_ENDPOINT/$BUCKET")" 200 "create bucket"

# curl reads the identity from a private config file, never from argv.
umask 077
printf 'user = "%s:%s"\naws-sigv4 = "aws:amz:us-east-1:s3"\nsilent\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > "$T/curl.cfg"
umask 022
open_uploads() { curl -K "$T/curl.cfg" "$SHARDY_TEST_S3_ENDPOINT/$BUCKET?uploads" | grep -o '<Upload>' | wc -l; }

# Two shards of ~12 MiB each, so every shard upload is a multipart upload (threshold 6 MiB).
python3 - "$T" <<'EOF'
import json, sys
d = sys.argv[1]
for name, n, tag in (("base", 2000, "base"), ("next", 50000, "next")):
    with open(f"{d}/{name}.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "v": f"{tag}-{i}-" + "x" * 480}) + "\n")
EOF
COMMON=(--s3-option region_name=us-east-1 --s3-option retry_base_ms=10 --s3-option retry_cap_ms=50
        --s3-option multipart_threshold=6M --s3-option multipart_part_size=5M --s3-option read_timeout=2)
DIRECT=("$SHARDY" --s3-option "endpoint_url=$SHARDY_TEST_S3_ENDPOINT" "${COMMON[@]}")

# Every key of the snapshot a prefix serves now, as "key=value-prefix" lines.
dump() { # dump PREFIX
  seq 0 49999 | "${DIRECT[@]}" --current-url "s3://$BUCKET/$1" --output-format text --value-encoding utf8 multiget - \
    | cut -c1-40
}

run "${DIRECT[@]}" build --input "$T/next.jsonl" --key-col id --value-col v --num-dbs 2 --prefix "s3://$BUCKET/clean"
expect_eq "$RC" 0 "clean reference build"
dump clean > "$T/want.txt"
expect_eq "$(grep -c '=next-' "$T/want.txt")" 50000 "reference has every key"

run "${DIRECT[@]}" build --input "$T/base.jsonl" --key-col id --value-col v --num-dbs 2 --prefix "s3://$BUCKET/snap"
expect_eq "$RC" 0 "base build"

ok=0; failed=0
# Rounds 1..ROUNDS: a few faults (retries usually absorb them); two more rounds: a storm (60% of
# requests, up to 30 faults) that exhausts the 3 attempts of some request, so the failure path is
# exercised too. The storm ends after its 30 faults, like a real outage, and the cleanup the failed
# build does then (aborting its multipart uploads) must leave nothing behind.
for round in $(seq 1 $((ROUNDS + 2))); do
  rate=0.25 max=8
  [ "$round" -gt "$ROUNDS" ] && rate=0.6 max=30
  dump snap > "$T/before.txt"
  "$HERE/../s3/faultproxy.py" --upstream "${SHARDY_TEST_S3_ENDPOINT#http://}" --random "$rate" --seed "$((round + ${SHARDY_FAULT_SEED:-0}))" \
    --max-faults "$max" --slow-seconds 3 --stats "$T/stats-$round" > "$T/proxy.out" 2>"$T/proxy.err" &
  proxy=$!
  for _ in $(seq 1 100); do grep -q '^PORT ' "$T/proxy.out" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -n 's/^PORT //p' "$T/proxy.out")
  run "$SHARDY" --s3-option "endpoint_url=http://127.0.0.1:$port" "${COMMON[@]}" --s3-option max_attempts=3 \
    build --input "$T/next.jsonl" --key-col id --value-col v --num-dbs 2 --prefix "s3://$BUCKET/snap" --run-id "f$round"
  kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null
  faults=$(awk '$1 != "ok" && $1 != "requests" {s += $2} END {print s + 0}' "$T/stats-$round" 2>/dev/null)
  [ "${faults:-0}" -gt 0 ] || fail "round $round: the proxy injected no fault"
  dump snap > "$T/after.txt"
  if [ "$RC" = 0 ]; then
    ok=$((ok + 1))
    cmp -s "$T/after.txt" "$T/want.txt" || fail "round $round: build succeeded under $faults faults but the snapshot differs from a clean build"
    CHECKS=$((CHECKS + 1))
  else
    failed=$((failed + 1))
    expect_contains "$ERR" "Error: build failed" "round $round: clear error"
    cmp -s "$T/after.txt" "$T/before.txt" || fail "round $round: a failed build changed what readers see"
    CHECKS=$((CHECKS + 1))
  fi
  left=$(open_uploads)
  expect_eq "$left" 0 "round $round: no multipart upload left behind"
  if [ "$left" != 0 ]; then # say which, and what the build printed, then clear them for the next round
    echo "build stderr: $ERR" >&2
    curl -K "$T/curl.cfg" "$SHARDY_TEST_S3_ENDPOINT/$BUCKET?uploads" | tr -d '\n' |
      grep -o '<Key>[^<]*</Key>[[:space:]]*<UploadId>[^<]*' | sed 's/<Key>//; s/<\/Key>[[:space:]]*<UploadId>/ /' |
      while read -r key id; do
        echo "left behind: $key upload $id" >&2
        curl -K "$T/curl.cfg" -X DELETE "$SHARDY_TEST_S3_ENDPOINT/$BUCKET/$key?uploadId=$id"
      done
  fi
  echo "round $round: rc=$RC, $faults faults injected" >&2
done
echo "fault test: $((ROUNDS + 2)) rounds, $ok builds completed, $failed failed cleanly" >&2
CHECKS=$((CHECKS + 1)); [ "$failed" -ge 1 ] || fail "the fault storm did not make any build fail"
rm -rf "$T"
finish
