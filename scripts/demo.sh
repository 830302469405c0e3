#!/usr/bin/env bash
# demo.sh — the README's first command: installs what is missing, builds shardy, generates a sample
# dataset of 1,000,000 users, builds a 16-shard snapshot in a local folder and reads keys back.
# Everything lands in ./demo (delete it to start over). DEMO_ROWS overrides the row count.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${DEMO_ROWS:-1000000}
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build >/dev/null
SHARDY=./build/shardy
mkdir -p demo
if [ ! -s demo/users.jsonl ] || [ "$(wc -l < demo/users.jsonl)" -ne "$ROWS" ]; then
  echo "# generating demo/users.jsonl ($ROWS rows)"
  awk -v n="$ROWS" 'BEGIN {
    srand(7);
    for (i = 0; i < n; i++)
      printf "{\"id\": %d, \"name\": \"user-%d\", \"email\": \"user%d@example.com\", \"score\": %d}\n", i, i, i, int(rand() * 1000)
  }' > demo/users.jsonl
fi

echo "# building a 16-shard snapshot in demo/snapshot"
$SHARDY build --input demo/users.jsonl --key-col id --value-json-cols name,email,score \
  --num-dbs 16 --prefix demo/snapshot --progress
echo
echo "# reading it back"
export SHARDY_CURRENT=demo/snapshot
set -x
$SHARDY info
$SHARDY --value-encoding utf8 get 42
$SHARDY --value-encoding utf8 --output-format table multiget 1 2 999999 "$ROWS"
$SHARDY --output-format text route 42
$SHARDY --output-format table history --limit 3
