#!/usr/bin/env bash
# tests/s3/servers.sh start|stop|env|install — the real S3 servers the C tests run against.
#
#   moto_server (PyPI "moto[server]", broad S3 API, accepts any credentials) and
#   s3s-fs      (crates.io, checks SigV4 signatures against one access key / secret)
# are installed on first use (a venv under build/moto-venv, cargo install --root build/s3s; versions
# pinned below), started on 127.0.0.1 on free ports, and waited for. `start` prints shell exports
# for the tests (eval "$(tests/s3/servers.sh start)"); `env` prints them again; `stop` ends the two
# servers this script started (by their recorded pids only). The s3s-fs key pair is random per start
# and only ever used against that loopback server; the env file holding it is mode 0600.
#
# Environment: SHARDY_S3_TOOLS_DIR (default build/: where the venv and s3s-fs live; point it at a
# cache directory to skip the ~4 minute cargo build on a fresh clone), SHARDY_S3_SERVERS_DIR
# (default build/s3-servers: pids, logs, data, env file).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
MOTO_VERSION=5.2.5
S3S_VERSION=0.14.1 # the newest s3s-fs that builds with rustc 1.95 (0.17 needs 1.96)
TOOLS=${SHARDY_S3_TOOLS_DIR:-$ROOT/build}
DIR=${SHARDY_S3_SERVERS_DIR:-$ROOT/build/s3-servers}
VENV=$TOOLS/moto-venv
S3S=$TOOLS/s3s
ENVFILE=$DIR/env

log() { printf 'servers.sh: %s\n' "$*" >&2; }

install_moto() {
  if [ -x "$VENV/bin/moto_server" ] && [ "$(cat "$VENV/.shardy-version" 2>/dev/null)" = "$MOTO_VERSION" ]; then
    return 0
  fi
  log "installing moto[server]==$MOTO_VERSION into $VENV"
  local t0=$SECONDS
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  echo "$MOTO_VERSION" > "$VENV/.shardy-version"
  log "moto installed in $((SECONDS - t0)) s"
}

install_s3s() {
  if [ -x "$S3S/bin/s3s-fs" ] && [ "$(cat "$S3S/.shardy-version" 2>/dev/null)" = "$S3S_VERSION" ]; then
    return 0
  fi
  local cargo
  cargo=$(command -v cargo || true)
  [ -z "$cargo" ] && [ -x "$HOME/.cargo/bin/cargo" ] && cargo=$HOME/.cargo/bin/cargo
  if [ -z "$cargo" ]; then
    log "cargo not found: s3s-fs $S3S_VERSION needs a Rust toolchain (rustc >= 1.92)"
    exit 1
  fi
  log "cargo install s3s-fs $S3S_VERSION into $S3S (takes a few minutes)"
  local t0=$SECONDS
  "$cargo" install -q s3s-fs --version "$S3S_VERSION" --features binary --locked --root "$S3S" >&2
  echo "$S3S_VERSION" > "$S3S/.shardy-version"
  log "s3s-fs built in $((SECONDS - t0)) s"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits until something answers HTTP on the port (any status), or fails after 60 s.
wait_http() {
  local name=$1 port=$2 pidfile=$3
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then return 0; fi
    if ! alive "$pidfile"; then
      log "$name exited during start-up; its log:"; tail -n 20 "$DIR/$name.log" >&2; exit 1
    fi
    sleep 0.2
  done
  log "$name did not answer on port $port within 60 s"; exit 1
}

start() {
  mkdir -p "$DIR"
  if alive "$DIR/moto.pid" && alive "$DIR/s3s.pid" && [ -f "$ENVFILE" ]; then
    cat "$ENVFILE"; return 0
  fi
  stop_servers
  install_moto
  install_s3s
  local mport sport key secret
  mport=$(free_port)
  sport=$(free_port)
  key="shardytest$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  secret=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
  rm -rf "$DIR/s3s-data"
  mkdir -p "$DIR/s3s-data"
  # setsid: the servers do not belong to the caller's process group (CI's job control).
  setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$mport" > "$DIR/moto.log" 2>&1 < /dev/null &
  echo $! > "$DIR/moto.pid"
  setsid "$S3S/bin/s3s-fs" --host 127.0.0.1 --port "$sport" --access-key "$key" --secret-key "$secret" \
    "$DIR/s3s-data" > "$DIR/s3s.log" 2>&1 < /dev/null &
  echo $! > "$DIR/s3s.pid"
  wait_http moto "$mport" "$DIR/moto.pid"
  wait_http s3s "$sport" "$DIR/s3s.pid"
  (umask 077; cat > "$ENVFILE" <<EOV
export SHARDY_TEST_S3_ENDPOINT=http://127.0.0.1:$mport
export SHARDY_TEST_S3_ACCESS_KEY=shardy-moto
export SHARDY_TEST_S3_SECRET_KEY=shardy-moto-secret
export SHARDY_TEST_S3S_ENDPOINT=http://127.0.0.1:$sport
export SHARDY_TEST_S3S_ACCESS_KEY=$key
export SHARDY_TEST_S3S_SECRET_KEY=$secret
export SHARDY_TEST_FAULTPROXY=$ROOT/tests/s3/faultproxy.py
EOV
  )
  log "moto on 127.0.0.1:$mport, s3s-fs on 127.0.0.1:$sport (logs in $DIR)"
  cat "$ENVFILE"
}

stop_servers() {
  for n in moto s3s; do
    if alive "$DIR/$n.pid"; then
      kill "$(cat "$DIR/$n.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$DIR/$n.pid" || break; sleep 0.1; done
      alive "$DIR/$n.pid" && kill -9 "$(cat "$DIR/$n.pid")" 2>/dev/null || true
    fi
    rm -f "$DIR/$n.pid"
  done
  rm -f "$ENVFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop_servers ;;
  env) [ -f "$ENVFILE" ] && cat "$ENVFILE" || { log "servers are not running (use start)"; exit 1; } ;;
  install) install_moto; install_s3s ;;
  *) echo "usage: $0 start|stop|env|install" >&2; exit 2 ;;
esac
