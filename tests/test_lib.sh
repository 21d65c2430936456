# Sourced by the command-line test scripts with the rrefsim binary as $1. Sets $rrefsim (its absolute path),
# $failures (0), $tmp (a fresh directory, removed on exit, and the working directory), and untimed FILE (the
# file's JSON lines without their "timing" fields, docs/results-format.md), and expect CODE DESCRIPTION -- COMMAND.
set -uo pipefail
rrefsim=$(realpath "$1")
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1  # failing runs write traces into ./rrefsim-out unless told otherwise
untimed() { sed -E 's/,"timing":\{[^}]*\}//' "$1"; }
expect() {  # expect CODE DESCRIPTION -- COMMAND...: runs COMMAND and checks its exit code
  local code=$1 what=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -ne $code ]]; then
    echo "FAIL: $what: exit $got, expected $code"
    sed 's/^/  | /' "$tmp/out" "$tmp/err" | head -20
    failures=$((failures + 1))
  else
    echo "ok: $what"
  fi
}
