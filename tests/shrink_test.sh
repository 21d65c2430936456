#!/usr/bin/env bash
# The shrink benchmark (docs/cli.md, Shrinking): every failing trace in tests/shrink/NAME.json is shrunk within a time
# limit; the result must replay strictly, fail with the same first checker, and be at most 2x as long as the
# hand-minimised reference NAME.ref.json, in events (the length, docs/cli.md) and also in ops + choices (o+c).
# Prints one line per case with the sizes, the ratios and the time.
# Also: bad input and a trace that does not fail exit 2.
# Usage: shrink_test.sh PATH/TO/rrefsim [TIME_LIMIT_SECONDS [CASE]]   (CASE: only tests/shrink/CASE.json)
set -uo pipefail
rrefsim=$(realpath "$1")
limit=${2:-30}
only=${3:-}
cases=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/shrink
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# measure FILE WHAT: the first checker, the events, or the scenario's ops (nested ones included) plus the choices.
cat >"$tmp/measure.py" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
def ops(block):
    return sum(1 + ops(op.get("then", [])) + ops(op.get("else", [])) for op in block)
s = t["scenario"]
print({"checker": lambda: t["verdict"]["violations"][0]["checker"] if t["verdict"]["violations"] else "",
       "events": lambda: len(t["events"]),
       "ops_choices": lambda: sum(ops(p["ops"]) for p in s["programs"]) +
                              sum(ops(f["body"]) for f in s.get("functions", [])) + len(t["choices"])}[sys.argv[2]]())
PY
measure() { /usr/bin/python3 "$tmp/measure.py" "$1" "$2"; }
checker() { measure "$1" checker; }
ratio() { /usr/bin/python3 -c "print(f'{$1 / $2:.2f}')"; }

printf '%-38s %20s %20s %20s %6s %6s %7s\n' case "input events (o+c)" "shrunk events (o+c)" "ref events (o+c)" \
  ratio "(o+c)" seconds
for input in "$cases"/*.json; do
  [[ $input == *.ref.json ]] && continue
  name=$(basename "$input" .json)
  [[ -n $only && $name != "$only" ]] && continue
  ref=$cases/$name.ref.json
  out=$tmp/$name.min.json
  start=$(date +%s%N)
  if ! "$rrefsim" shrink "$input" -o "$out" --time-limit "$limit" >"$tmp/log" 2>&1; then
    fail "$name: rrefsim shrink exited non-zero"; sed 's/^/  | /' "$tmp/log"; continue
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  "$rrefsim" replay "$out" >/dev/null || fail "$name: the shrunk trace does not replay strictly"
  "$rrefsim" replay "$ref" >/dev/null || fail "$name: the reference does not replay strictly"
  want=$(checker "$input")
  [[ $(checker "$out") == "$want" ]] || fail "$name: the shrunk trace fails with $(checker "$out"), not $want"
  [[ $(checker "$ref") == "$want" ]] || fail "$name: the reference fails with $(checker "$ref"), not $want"
  declare -A n
  for kind in events ops_choices; do
    for which in input out ref; do n[$which.$kind]=$(measure "${!which}" $kind); done
  done
  printf '%-38s %20s %20s %20s %6s %6s %3d.%03d\n' "$name" "${n[input.events]} (${n[input.ops_choices]})" \
    "${n[out.events]} (${n[out.ops_choices]})" "${n[ref.events]} (${n[ref.ops_choices]})" \
    "$(ratio "${n[out.events]}" "${n[ref.events]}")" "$(ratio "${n[out.ops_choices]}" "${n[ref.ops_choices]}")" \
    $((ms / 1000)) $((ms % 1000))
  for kind in events ops_choices; do
    (( n[out.$kind] <= 2 * n[ref.$kind] )) ||
      fail "$name: $kind ${n[out.$kind]} is more than 2x the reference's ${n[ref.$kind]}"
  done
  unset n
done

expect2() {  # expect2 DESCRIPTION PATTERN -- COMMAND...: exit 2 and stderr matching PATTERN
  local what=$1 pattern=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [[ $got -eq 2 ]] && grep -q -- "$pattern" "$tmp/err"; then echo "ok: $what"; else
    fail "$what: exit $got, stderr: $(cat "$tmp/err")"; fi
}
first=$(ls "$cases"/*.ref.json | head -1)
expect2 "a missing trace" "cannot read" -- "$rrefsim" shrink "$tmp/missing.json" -o "$tmp/x.json"
printf '{"format_version": 1,' >"$tmp/broken.json"
expect2 "a trace that is not JSON" "broken.json:" -- "$rrefsim" shrink "$tmp/broken.json" -o "$tmp/x.json"
/usr/bin/python3 -c "
import json, sys
t = json.load(open(sys.argv[1])); t['verdict']['violations'] = []
json.dump(t, open(sys.argv[2], 'w'))" "$first" "$tmp/passing.json"
expect2 "a trace that does not fail" "nothing to shrink" -- "$rrefsim" shrink "$tmp/passing.json" -o "$tmp/x.json"
expect2 "no -o" "required" -- "$rrefsim" shrink "$first"
expect2 "a time limit of 0" "greater than 0" -- "$rrefsim" shrink "$first" -o "$tmp/x.json" --time-limit 0

if [[ $failures -ne 0 ]]; then echo "$failures failure(s)"; exit 1; fi
echo "all shrink checks passed"
