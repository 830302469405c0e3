#!/usr/bin/env bash
# demo.sh — the README's first command: installs what is missing, builds shardy and runs the main job.
# At this stage of the project the main job is a smoke run of the offline routing command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build >/dev/null
echo "# shardy $(./build/shardy --version | awk '{print $3}'): where HASH routing puts a few keys in a 16-shard snapshot"
for k in 0 1 42 123456789; do ./build/shardy --output-format text hash --num-dbs 16 "$k"; done
./build/shardy --output-format text hash --num-dbs 16 --str user:1001
