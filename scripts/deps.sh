#!/usr/bin/env bash
# deps.sh — installs the Debian packages shardy needs to build and test, only those missing.
# Usage: scripts/deps.sh [--test]   (--test adds the test-only tools: clang, valgrind, sqlite3 CLI,
# curl and python3-venv for the S3 test servers of tests/s3/servers.sh and the Python package tests,
# Java 17 for the Spark tests; tests/s3/servers.sh also needs
# cargo (rustc >= 1.92) to build s3s-fs, which Debian's cargo is too old for: it must come with the
# machine's Rust toolchain)
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config libsqlite3-dev libjson-c-dev libxxhash-dev
      libcurl4-openssl-dev libxml2-dev libssl-dev)
if [ "${1:-}" = "--test" ]; then
  PKGS+=(sqlite3 clang valgrind python3 python3-venv python3-pip curl openjdk-17-jre-headless)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
