# lib.sh — tiny assertion helpers for the CLI tests (sourced). Each failure prints the line and
# the values; the script exits non-zero at the end if any check failed.
SHARDY=${1:?usage: $0 path/to/shardy}
FAILS=0
CHECKS=0
fail() { FAILS=$((FAILS + 1)); echo "FAIL (line ${BASH_LINENO[1]}): $*" >&2; }
expect_eq() { # expect_eq GOT WANT [what]
  CHECKS=$((CHECKS + 1)); [ "$1" == "$2" ] || fail "${3:-value}: got [$1] want [$2]"; }
expect_contains() { # expect_contains HAYSTACK NEEDLE [what]
  CHECKS=$((CHECKS + 1)); [[ "$1" == *"$2"* ]] || fail "${3:-output} lacks [$2]: [$1]"; }
# run CMD...: sets OUT, ERR, RC
run() { local e; e=$(mktemp); OUT=$("$@" 2>"$e"); RC=$?; ERR=$(cat "$e"); rm -f "$e"; }
finish() { echo "$CHECKS checks, $FAILS failed"; [ "$FAILS" -eq 0 ]; }
