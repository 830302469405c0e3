#!/usr/bin/env bash
# The kill test on s3:// (moto): a build killed at a random moment (SIGKILL or SIGINT) leaves
# readers on a complete snapshot — the previous one, or the new one if it had already published.
source "$(dirname "$0")/lib.sh"
if [ -z "${SHARDY_TEST_S3_ENDPOINT:-}" ]; then
  echo "*** SKIPPED: test_kill_s3.sh — SHARDY_TEST_S3_ENDPOINT not set (eval \"\$(tests/s3/servers.sh start)\")" >&2
  [ "${SHARDY_REQUIRE_S3:-}" = 1 ] && { echo "SHARDY_REQUIRE_S3=1: a missing S3 server is a failure" >&2; exit 1; }
  exit 0
fi
SHARDY=$(readlink -f "$SHARDY")
ROUNDS=${SHARDY_KILL_ROUNDS:-12}
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-kill-s3-$$
rm -rf "$T"; mkdir -p "$T/tmp"
export TMPDIR=$T/tmp HOME=$T
cd "$T"
unset SHARDY_CREDENTIALS AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
export AWS_ACCESS_KEY_ID=$SHARDY_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SHARDY_TEST_S3_SECRET_KEY
BUCKET=shardy-kill-$$-$RANDOM
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$SHARDY_TEST_S3_ENDPOINT/$BUCKET")" 200 "create bucket"
S3=("$SHARDY" --s3-option "endpoint_url=$SHARDY_TEST_S3_ENDPOINT" --s3-option region_name=us-east-1)
export SHARDY_CURRENT=s3://$BUCKET/snap

python3 - "$T" <<'EOF'
import json, sys
d = sys.argv[1]
with open(f"{d}/a.jsonl", "w") as f:
    for i in range(3000):
        f.write(json.dumps({"id": i, "v": f"a{i}"}) + "\n")
with open(f"{d}/b.jsonl", "w") as f:
    for i in range(100000):
        f.write(json.dumps({"id": i, "v": f"b{i}" + "x" * 40}) + "\n")
EOF
seq 0 2999 > "$T/keys"

run "${S3[@]}" build --input "$T/a.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "s3://$BUCKET/snap" --run-id base
expect_eq "$RC" 0 "base build"
"${S3[@]}" --output-format text --value-encoding utf8 multiget - < "$T/keys" > "$T/base.txt"
expect_eq "$(grep -c '=a' "$T/base.txt")" 3000 "base readable"

published=0
for i in $(seq 1 "$ROUNDS"); do
  sig=KILL; [ $((i % 3)) -eq 0 ] && sig=INT
  "${S3[@]}" build --input "$T/b.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "s3://$BUCKET/snap" \
    --run-id "k$i" >/dev/null 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 1000)))"
  kill -s "$sig" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  run "${S3[@]}" --output-format text --value-encoding utf8 multiget - < "$T/keys"
  CHECKS=$((CHECKS + 1))
  if [ "$RC" != 0 ]; then
    fail "round $i ($sig): snapshot not readable: $ERR"
  elif [ "$OUT" == "$(cat "$T/base.txt")" ]; then
    :
  elif [ "$(grep -c '=b' <<<"$OUT")" == 3000 ]; then
    published=$((published + 1)) # the build had published; the new snapshot is complete
    # Go back to a base snapshot (same contents) for the next round.
    run "${S3[@]}" build --input "$T/a.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "s3://$BUCKET/snap" --run-id "base$i"
    expect_eq "$RC" 0 "rebuild base after round $i"
  else
    fail "round $i ($sig): readers see a mixed or partial snapshot"
  fi
done
echo "kill test on s3: $ROUNDS rounds, $published finished before the kill" >&2
rm -rf "$T"
finish
