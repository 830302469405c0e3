#!/usr/bin/env bash
# tests/python/run.sh [pytest args...] — installs the shardyfusion package into a fresh venv
# (build/python-venv, reused when present) with `pip install .[spark]` + pytest, and runs pytest on
# tests/python. The venv never sees the system site-packages: the package must install on its own.
#
# Environment: SHARDY_PYTHON (interpreter for the venv, default python3), SHARDY_PY_VENV (venv dir),
# SHARDY_PY_EXTRAS (default "spark"; "" installs the bare package). S3 tests run when
# SHARDY_TEST_S3_ENDPOINT is set: eval "$(tests/s3/servers.sh start)" first.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${SHARDY_PY_VENV:-$ROOT/build/python-venv}
PY=${SHARDY_PYTHON:-python3}
EXTRAS=${SHARDY_PY_EXTRAS-spark}

if [ ! -x "$VENV/bin/python" ]; then
  echo "run.sh: creating $VENV" >&2
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
SPEC="."
[ -n "$EXTRAS" ] && SPEC=".[$EXTRAS]"
echo "run.sh: pip install $SPEC pytest" >&2
"$VENV/bin/python" -m pip install -q "$SPEC" pytest

# Run from outside the source tree so `import shardyfusion` is the installed package (with _native).
cd "$ROOT/build"
exec "$VENV/bin/python" -m pytest -q "$ROOT/tests/python" "$@"
