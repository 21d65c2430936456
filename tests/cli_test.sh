#!/usr/bin/env bash
# The rrefsim command line as a user meets it: exit codes, bad input, and determinism across processes.
# Usage: cli_test.sh PATH/TO/rrefsim
set -uo pipefail
rrefsim=$1
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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

expect 0 "help" -- "$rrefsim" --help
expect 0 "list" -- "$rrefsim" list
expect 0 "a passing campaign" -- "$rrefsim" run --scenario s3_user_to_user --seeds 20
expect 0 "a scenario that must deadlock does" -- "$rrefsim" run --scenario pool_exhaustion --seeds 5
expect 1 "a failing campaign (PyTorch under loss)" -- "$rrefsim" run --scenario s3_user_to_user --seeds 60 --faults lossy
expect 0 "a scenario's own fault settings (faulty agent, 3 failing sends)" -- "$rrefsim" run --scenario s3_faulty_agent --seeds 10
expect 1 "--fault overrides the scenario's settings (6 failing sends abort a worker)" -- \
  "$rrefsim" run --scenario s3_faulty_agent --seeds 10 --fault num_fail_sends=6
expect 2 "unknown scenario" -- "$rrefsim" run --scenario nope
expect 2 "unknown profile" -- "$rrefsim" run --scenario s1_remote_to_here --faults nope
expect 2 "fault value out of range" -- "$rrefsim" run --scenario s1_remote_to_here --fault drop=2
expect 2 "unknown fault key" -- "$rrefsim" run --scenario s1_remote_to_here --fault dorp=0.1
expect 2 "bad seed range" -- "$rrefsim" run --scenario s1_remote_to_here --seed-range 5:2
expect 2 "unknown flag" -- "$rrefsim" run --scenario s1_remote_to_here --bogus
expect 2 "no subcommand" -- "$rrefsim"
expect 2 "a negative seed" -- "$rrefsim" run --scenario s1_remote_to_here --seed -1
expect 2 "a seed with no room for seed + 1" -- "$rrefsim" run --scenario s1_remote_to_here --seed 18446744073709551615
expect 2 "zero seeds" -- "$rrefsim" run --scenario s1_remote_to_here --seeds 0
expect 2 "--pct-depth without --strategy" -- "$rrefsim" run --scenario s1_remote_to_here --pct-depth 3
expect 0 "version" -- "$rrefsim" --version

# Scenario files: a catalog file runs as its name does; a bad file exits 2 with the file, the place and what was
# expected; a missing file exits 2.
catalog=$(dirname "${BASH_SOURCE[0]}")/../scenarios/catalog
expect 0 "a scenario file" -- "$rrefsim" run --scenario "$catalog/s3_faulty_agent.json" --seeds 5
sed 's/"workers": 4/"workers": 99/' "$catalog/s1_remote_to_here.json" >"$tmp/bad.json"
expect 2 "a bad scenario file" -- "$rrefsim" run --scenario "$tmp/bad.json"
if grep -q "bad.json: /workers: 99 is out of range (expected the world size, an integer from 1 to 64)" "$tmp/err"; then
  echo "ok: the error names the file, the place and what was expected"
else
  echo "FAIL: the bad file's error is: $(cat "$tmp/err")"
  failures=$((failures + 1))
fi
printf '{"name": "x",' >"$tmp/broken.json"
expect 2 "a scenario file that is not JSON" -- "$rrefsim" run --scenario "$tmp/broken.json"
expect 2 "a missing scenario file" -- "$rrefsim" run --scenario "$tmp/missing.json"
expect 0 "list shows the PyTorch test each scenario mirrors" -- grep -q "rpc_test.py #25 test_rref_forward_chain" \
  <("$rrefsim" list)

# Interrupted: SIGINT stops after the current run, keeps what was printed (also into a pipe or file) and exits 130.
"$rrefsim" run --scenario s10_nested_rref_stress --seeds 100000000 --faults lossy >"$tmp/interrupted" 2>&1 &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
code=$?
if [[ $code -eq 130 ]] && grep -q '^FAIL s10_nested_rref_stress seed ' "$tmp/interrupted" &&
   grep -q '^interrupted: ' "$tmp/interrupted"; then
  echo "ok: an interrupted campaign keeps its results and exits 130"
else
  echo "FAIL: interrupted campaign: exit $code"
  sed 's/^/  | /' "$tmp/interrupted" | head -10
  failures=$((failures + 1))
fi

# The failure report names the replay command, and the replay reproduces the same failure.
"$rrefsim" run --scenario s3_user_to_user --seeds 60 --faults lossy >"$tmp/campaign" 2>&1
replay=$(grep -m1 '^  replay: ' "$tmp/campaign" | sed 's/^  replay: //')
if [[ -z $replay ]]; then
  echo "FAIL: no replay command in a failing campaign's output"
  failures=$((failures + 1))
else
  # The command names this very binary (argv[0]), so it can be pasted as printed.
  expect 1 "the printed replay command reproduces the failure" -- $replay
fi

# Same seed, same trace, byte for byte, in two processes.
"$rrefsim" run --scenario s9_gated_on_two_forks --seed 17 --faults chaos --trace >"$tmp/a" 2>&1
"$rrefsim" run --scenario s9_gated_on_two_forks --seed 17 --faults chaos --trace >"$tmp/b" 2>&1
# (Rates are wall-clock; sanitizer builds print one warning line per process with addresses in it.)
keep() { grep -v -e 'runs/s' -e '^==[0-9]*==' "$1"; }
if cmp -s <(keep "$tmp/a") <(keep "$tmp/b"); then
  echo "ok: same seed, same trace in two processes"
else
  echo "FAIL: two processes traced seed 17 differently"
  failures=$((failures + 1))
fi

echo "$failures failed"
[[ $failures -eq 0 ]]
