#!/usr/bin/env bash
# The CLI end to end on s3:// against the real local servers of tests/s3/servers.sh: moto for the
# build → get/multiget/info/shards/route/history → second build → --ref/--offset flow, s3s-fs (which
# checks signatures) for credentials.toml profiles, a wrong secret, and the permission warning.
# Without the servers' variables the test is skipped loudly (a failure when SHARDY_REQUIRE_S3=1).
source "$(dirname "$0")/lib.sh"
if [ -z "${SHARDY_TEST_S3_ENDPOINT:-}" ] || [ -z "${SHARDY_TEST_S3S_ENDPOINT:-}" ]; then
  echo "**********************************************************************" >&2
  echo "*** SKIPPED: test_e2e_s3.sh — SHARDY_TEST_S3_ENDPOINT / SHARDY_TEST_S3S_ENDPOINT not set." >&2
  echo "*** Start the test servers first:  eval \"\$(tests/s3/servers.sh start)\"" >&2
  echo "**********************************************************************" >&2
  [ "${SHARDY_REQUIRE_S3:-}" = 1 ] && { echo "SHARDY_REQUIRE_S3=1: a missing S3 server is a failure" >&2; exit 1; }
  exit 0
fi
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-e2e-s3-$$
rm -rf "$T"; mkdir -p "$T/tmp"
export TMPDIR=$T/tmp
unset SHARDY_CREDENTIALS AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 SLATEDB_S3_ENDPOINT_URL
cd "$T" # no ./credentials.toml here: ambient credentials unless --credentials is given
HOME=$T # nor ~/.config/shardy/credentials.toml, nor ~/.aws
BUCKET=shardy-cli-$$-$RANDOM

# ---- moto: identity from the environment, endpoint from --s3-option --------------------------
export AWS_ACCESS_KEY_ID=$SHARDY_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SHARDY_TEST_S3_SECRET_KEY
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$SHARDY_TEST_S3_ENDPOINT/$BUCKET")" 200 "create bucket on moto"
S3=("$SHARDY" --s3-option "endpoint_url=$SHARDY_TEST_S3_ENDPOINT" --s3-option region_name=us-east-1
    --s3-option retry_base_ms=20)
export SHARDY_CURRENT=s3://$BUCKET/snap

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

run "${S3[@]}" build --input "$T/v1.jsonl" --key-col id --value-col v --num-dbs 16 --prefix "s3://$BUCKET/snap" --run-id v1
expect_eq "$RC" 0 "first build on s3"; [ "$RC" = 0 ] || echo "$ERR" >&2
REF1=$(sed 's/.*"manifest_ref": "\([^"]*\)".*/\1/' <<<"$OUT")
expect_contains "$REF1" "s3://$BUCKET/snap/manifests/" "manifest on s3"

run "${S3[@]}" --value-encoding utf8 get 12345
expect_eq "$OUT" '{"op": "get", "key": "12345", "found": true, "value": "one-12345"}' "get after build"
run "${S3[@]}" --output-format text --value-encoding utf8 multiget 1 20000 3
expect_eq "$OUT" $'1=one-1\n20000=null\n3=one-3' "multiget"
run "${S3[@]}" info
expect_contains "$OUT" '"run_id": "v1", "num_dbs": 16'
expect_contains "$OUT" '"row_count": 20000'
run "${S3[@]}" shards
expect_eq "$(grep -o '"db_id"' <<<"$OUT" | wc -l)" 16 "16 shards listed"
expect_eq "$(grep -o "\"db_url\": \"s3://$BUCKET/snap/shards/run_id=v1/" <<<"$OUT" | wc -l)" 16 "shard urls on s3"
run "${S3[@]}" route 42
expect_eq "$OUT" "{\"op\": \"route\", \"key\": \"42\", \"db_id\": $("$SHARDY" hash --num-dbs 16 42 | sed 's/.*"db_id": \([0-9]*\).*/\1/')}" "route agrees with hash"

# Without the endpoint option the same command goes to AWS proper: it must not silently work.
run env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$SHARDY" --s3-option connect_timeout=2 --s3-option max_attempts=1 info
expect_eq "$RC" 1 "no endpoint → not moto"

run "${S3[@]}" build --input "$T/v2.jsonl" --key-col id --value-col v --num-dbs 16 --prefix "s3://$BUCKET/snap" --run-id v2
expect_eq "$RC" 0 "second build"
REF2=$(sed 's/.*"manifest_ref": "\([^"]*\)".*/\1/' <<<"$OUT")
run "${S3[@]}" --value-encoding utf8 get 12344
expect_eq "$OUT" '{"op": "get", "key": "12344", "found": true, "value": "two-12344"}' "reads follow _CURRENT"
run "${S3[@]}" get 1
expect_contains "$OUT" '"found": false' "key removed in v2"
run "${S3[@]}" --value-encoding utf8 --ref "$REF1" get 1
expect_eq "$OUT" '{"op": "get", "key": "1", "found": true, "value": "one-1"}' "--ref pins v1"
run "${S3[@]}" --value-encoding utf8 --offset 1 get 12344
expect_eq "$OUT" '{"op": "get", "key": "12344", "found": true, "value": "one-12344"}' "--offset 1 pins v1"
run "${S3[@]}" --offset 0 info
expect_contains "$OUT" "\"manifest_ref\": \"$REF2\""
run "${S3[@]}" --offset 2 info
expect_eq "$RC" 1 "offset out of range"; expect_contains "$ERR" "Offset 2 out of range"
run "${S3[@]}" --output-format text history
expect_eq "$(wc -l <<<"$OUT")" 2 "two manifests in history"
expect_contains "$(head -1 <<<"$OUT")" "run_id=v2"
run "${S3[@]}" --current-url "s3://$BUCKET/snap/_CURRENT" --value-encoding utf8 get 2
expect_eq "$OUT" '{"op": "get", "key": "2", "found": true, "value": "two-2"}' "_CURRENT URL"

# Usage errors of §7.1 / §8.2 (exit 2), for build too.
run "$SHARDY" --s3-option endpoint_url get 1
expect_eq "$RC" 2 "missing ="; expect_contains "$ERR" "--s3-option must be KEY=VALUE, got: 'endpoint_url'"
run "$SHARDY" --s3-option verify_ssl=maybe build --input "$T/v1.jsonl" --key-col id --num-dbs 2 --prefix "s3://$BUCKET/x"
expect_eq "$RC" 2 "bad bool"; expect_contains "$ERR" "Cannot coerce 'maybe' to bool for option 'verify_ssl'"
run "$SHARDY" --s3-option secret_access_key=hunter2 get 1
expect_eq "$RC" 2 "identity refused on the command line"
[[ "$ERR" == *hunter2* ]] && fail "secret echoed: $ERR"

# ---- s3s-fs: signatures checked; identity from credentials.toml ------------------------------
# (Readers name the _CURRENT object itself here: s3s-fs answers a GET of a key that is also a
# "directory" such as s3://b/auth with HTTP 500 instead of 404, so prefix detection cannot probe it.)
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
umask 077
printf 'user = "%s:%s"\n' "$SHARDY_TEST_S3S_ACCESS_KEY" "$SHARDY_TEST_S3S_SECRET_KEY" > "$T/curl.cfg" # not argv
SIGN=(--aws-sigv4 "aws:amz:us-east-1:s3" -K "$T/curl.cfg" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "${SIGN[@]}" -X PUT "$SHARDY_TEST_S3S_ENDPOINT/$BUCKET")" 200 "create bucket on s3s"
cat > "$T/good.toml" <<EOF2
[default]
endpoint_url = "$SHARDY_TEST_S3S_ENDPOINT"
region = "us-east-1"
access_key_id = "$SHARDY_TEST_S3S_ACCESS_KEY"
secret_access_key = "$SHARDY_TEST_S3S_SECRET_KEY"
EOF2
WRONG=wrong-$RANDOM-secret-value
sed "s/^secret_access_key = .*/secret_access_key = \"$WRONG\"/" "$T/good.toml" > "$T/bad.toml"

run "$SHARDY" --credentials "$T/bad.toml" build --input "$T/v1.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "s3://$BUCKET/auth"
expect_eq "$RC" 1 "wrong secret fails"
expect_contains "$ERR" "object store authentication failed" "clear auth error"
expect_contains "$ERR" "403 SignatureDoesNotMatch"
[[ "$ERR$OUT" == *"$WRONG"* || "$ERR$OUT" == *"$SHARDY_TEST_S3S_SECRET_KEY"* ]] && fail "a secret appears in the output"
LIST=$(curl -s "${SIGN[@]}" "$SHARDY_TEST_S3S_ENDPOINT/$BUCKET?list-type=2&prefix=auth%2F")
expect_contains "$LIST" "<KeyCount>0</KeyCount>" "wrong secret wrote nothing"
[[ "$LIST" == *"<Key>"* ]] && fail "objects written with a wrong secret: $LIST"
run "$SHARDY" --credentials "$T/good.toml" --current-url "s3://$BUCKET/auth/_CURRENT" info
expect_eq "$RC" 1 "no snapshot after the failed build"; expect_contains "$ERR" "CURRENT pointer not found"

# SHARDY_CREDENTIALS (no flag) with the right secret: build and read work, no warning at 0600.
run env SHARDY_CREDENTIALS="$T/good.toml" "$SHARDY" build --input "$T/v2.jsonl" --key-col id --value-col v --num-dbs 4 --prefix "s3://$BUCKET/auth" --run-id s3s
expect_eq "$RC" 0 "build with SHARDY_CREDENTIALS"; [ "$RC" = 0 ] || echo "$ERR" >&2
[[ "$ERR" == *Warning* ]] && fail "unexpected warning: $ERR"
run env SHARDY_CREDENTIALS="$T/good.toml" "$SHARDY" --current-url "s3://$BUCKET/auth/_CURRENT" --value-encoding utf8 get 10
expect_eq "$OUT" '{"op": "get", "key": "10", "found": true, "value": "two-10"}' "read via profile"
# ./credentials.toml is found by the search; readable by others → warning on stderr, still works.
cp "$T/good.toml" "$T/credentials.toml"; chmod 644 "$T/credentials.toml"
run "$SHARDY" --current-url "s3://$BUCKET/auth/_CURRENT" --output-format text history
expect_eq "$RC" 0 "history via ./credentials.toml"
expect_contains "$OUT" "run_id=s3s"
expect_contains "$ERR" "Warning: credentials file" "permission warning"
expect_contains "$ERR" "0o644"
# An explicit --credentials that does not exist is fatal.
run "$SHARDY" --credentials "$T/nope.toml" --current-url "s3://$BUCKET/auth/_CURRENT" info
expect_eq "$RC" 1 "missing credentials file"; expect_contains "$ERR" "nope.toml"

cd /; rm -rf "$T"
finish
