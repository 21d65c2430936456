#!/usr/bin/env bash
# The rrefsim command line as a user meets it: exit codes, bad input, and determinism across processes.
# Usage: cli_test.sh PATH/TO/rrefsim
catalog_file=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../scenarios/catalog/s1_remote_to_here.json")
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"

expect 0 "help" -- "$rrefsim" --help
expect 0 "list" -- "$rrefsim" list
expect 0 "a passing campaign" -- "$rrefsim" run --scenario s3_user_to_user --seeds 20
expect 0 "a scenario that must deadlock does" -- "$rrefsim" run --scenario pool_exhaustion --seeds 5
expect 1 "a failing campaign (PyTorch under loss)" -- "$rrefsim" run --scenario s3_user_to_user --seeds 60 --faults lossy --out "$tmp/traces"
expect 0 "a scenario's own fault settings (faulty agent, 3 failing sends)" -- "$rrefsim" run --scenario s3_faulty_agent --seeds 10
expect 1 "--fault overrides the scenario's settings (6 failing sends abort a worker)" -- \
  "$rrefsim" run --scenario s3_faulty_agent --seeds 10 --fault num_fail_sends=6 --out "$tmp/traces"
expect 0 "generated scenarios pass every checker under reorder" -- "$rrefsim" run --generate --seeds 100
expect 1 "generated scenarios under chaos" -- "$rrefsim" run --generate --seeds 20 --faults chaos --out "$tmp/gen"
generated=$(ls "$tmp"/gen/generated-seed*.json | head -1)
expect 0 "a generated failure replays from its trace alone" -- "$rrefsim" replay "$generated"
expect 2 "run without a scenario" -- "$rrefsim" run --seeds 3
expect 2 "--scenario and --generate together" -- "$rrefsim" run --generate --scenario s1_remote_to_here
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
# Scale flags: a bad value exits 2 with a message that says what to change.
bad_flag() {  # bad_flag FLAG VALUE EXPECTED-MESSAGE-PART
  expect 2 "$1 $2" -- "$rrefsim" run --scenario s1_remote_to_here --seeds 3 "$1" "$2"
  grep -qF -- "$3" "$tmp/err" || { echo "FAIL: $1 $2: no '$3' in: $(cat "$tmp/err")"; failures=$((failures + 1)); }
}
bad_flag --shard 3/3 "--shard 3/3: I must be below N (0-based: the shards of 3 are 0/3 to 2/3)"
bad_flag --shard 1/0 "--shard 1/0: N must be at least 1"
bad_flag --shard x "--shard x: expected I/N with 0 <= I < N (0-based), e.g. --shard 0/4"
bad_flag --threads 0 "--threads 0: give 1 to 1024 OS threads"
bad_flag --recheck 2 "--recheck 2: give a share from 0 to 1, e.g. 0.01 to re-run 1% of seeds"
bad_flag --json --trace "--json and --trace: --trace prints every step on stdout"
bad_flag --max-failures 0 "--max-failures 0: give K >= 1, or leave the flag out to run every seed"
expect 2 "merge of a file that is not JSON lines" -- "$rrefsim" merge "$catalog_file"
expect 2 "merge of a missing file" -- "$rrefsim" merge "$tmp/none.jsonl"
for i in 0 1 2; do "$rrefsim" run --scenario s1_remote_to_here --seeds 12 --shard "$i/3" --json >"$tmp/part-$i.jsonl"; done
expect 0 "merge of every shard" -- "$rrefsim" merge "$tmp/part-0.jsonl" "$tmp/part-1.jsonl" "$tmp/part-2.jsonl"
expect 2 "merge with a shard left out" -- "$rrefsim" merge "$tmp/part-0.jsonl" "$tmp/part-2.jsonl"
grep -qF "shard 1/3 is missing" "$tmp/err" || { echo "FAIL: the missing shard is not named: $(cat "$tmp/err")"; failures=$((failures + 1)); }
expect 2 "merge of one shard twice" -- "$rrefsim" merge "$tmp/part-0.jsonl" "$tmp/part-0.jsonl"
expect 0 "--json: one line per seed, then a summary" -- "$rrefsim" run --scenario s3_user_to_user --seeds 5 --json
[[ $(grep -c '^{"kind":"seed",' "$tmp/out") -eq 5 && $(tail -1 "$tmp/out") == '{"kind":"summary",'* ]] ||
  { echo "FAIL: --json lines: $(head -2 "$tmp/out")"; failures=$((failures + 1)); }

# Scenario files: a catalog file runs as its name does; a bad file exits 2 with the file, the place and what was
# expected; a missing file exits 2.
catalog=$(dirname "$catalog_file")
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
"$rrefsim" run --scenario s10_nested_rref_stress --seeds 100000000 --faults lossy --out "$tmp/traces" >"$tmp/interrupted" 2>&1 &
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

# The failure report names the trace file, the replay command and the rerun command; the replay reproduces the run
# (exit 0) and the rerun the failure (exit 1). Both commands name this very binary (argv[0]), so they can be pasted.
"$rrefsim" run --scenario s3_user_to_user --seeds 60 --faults lossy --out "$tmp/campaign-traces" >"$tmp/campaign" 2>&1
replay=$(grep -m1 '^  replay: ' "$tmp/campaign" | sed 's/^  replay: //')
rerun=$(grep -m1 '^  rerun:  ' "$tmp/campaign" | sed 's/^  rerun:  //')
trace=$(grep -m1 '^  trace:  ' "$tmp/campaign" | sed 's/^  trace:  //')
if [[ -z $replay || -z $rerun || ! -f $trace ]]; then
  echo "FAIL: a failing campaign's output lacks the trace, replay or rerun line"
  sed 's/^/  | /' "$tmp/campaign" | head -10
  failures=$((failures + 1))
else
  expect 0 "the printed replay command reproduces the trace" -- $replay
  grep -q '^replay ok: .* reproduces s3_user_to_user seed ' "$tmp/out" || { echo "FAIL: no replay confirmation"; failures=$((failures + 1)); }
  expect 1 "the printed rerun command reproduces the failure" -- $rerun
fi
# At most 10 traces per first-violated checker and scenario, named <scenario>-seed<N>-<checker>.json.
per_checker=$(ls "$tmp/campaign-traces" | sed 's/^s3_user_to_user-seed[0-9]*-//' | sort | uniq -c | sort -rn | head -1)
if [[ ${per_checker%% [a-z]*} -le 10 && $(ls "$tmp/campaign-traces" | grep -vc '^s3_user_to_user-seed[0-9]*-[a-z_]*\.json$') -eq 0 ]]; then
  echo "ok: trace files are named by scenario, seed and checker, at most 10 per checker"
else
  echo "FAIL: trace files: $(ls "$tmp/campaign-traces" | head -3) ... ($per_checker)"
  failures=$((failures + 1))
fi

# Replay and render of a failing chaos trace.
"$rrefsim" run --scenario s5_owner_to_user --seed 0 --faults chaos --out "$tmp/chaos" >/dev/null 2>&1
chaos="$tmp/chaos/s5_owner_to_user-seed0-unique_fork_ids.json"
expect 0 "replay of a failing chaos trace" -- "$rrefsim" replay "$chaos" --dump "$tmp/dump.json"
if cmp -s "$chaos" "$tmp/dump.json"; then
  echo "ok: replay --dump is byte-identical to the trace"
else
  echo "FAIL: replay --dump differs from the trace"
  failures=$((failures + 1))
fi
expect 0 "render as text" -- "$rrefsim" render "$chaos"
grep -q '^  VIOLATION unique_fork_ids at step 8 ' "$tmp/out" && grep -q '^explanation:' "$tmp/out" ||
  { echo "FAIL: render text lacks the violation or the explanation"; failures=$((failures + 1)); }
expect 0 "render as mermaid" -- "$rrefsim" render "$chaos" --format mermaid
grep -q '^sequenceDiagram$' "$tmp/out" && grep -q '^  w1->>w2: s8 PYTHON_CALL ' "$tmp/out" ||
  { echo "FAIL: render mermaid lacks the diagram or the message arrow"; failures=$((failures + 1)); }
expect 2 "render with an unknown format" -- "$rrefsim" render "$chaos" --format svg

# A trace with one choice altered (the delay drawn for the first send) replays to a named divergent step.
sed '0,/"kind":"delay","options":25001,"pick":3676,/s//"kind":"delay","options":25001,"pick":3000,/' "$chaos" >"$tmp/altered.json"
expect 3 "replay of an altered trace" -- "$rrefsim" replay "$tmp/altered.json"
grep -q '^replay DIVERGED: .*: first difference at step 5 (event 1)$' "$tmp/out" && grep -q '^  expected: .*+3676us' "$tmp/out" &&
  grep -q '^  got:      .*+3000us' "$tmp/out" || { echo "FAIL: the divergence report"; sed 's/^/  | /' "$tmp/out"; failures=$((failures + 1)); }
sed 's/"kind":"step","options":4,"pick":1,/"kind":"step","options":5,"pick":1,/' "$chaos" >"$tmp/reshaped.json"
expect 3 "replay of a trace whose choices no longer fit the run" -- "$rrefsim" replay "$tmp/reshaped.json"

# Malformed traces exit 2 with the file, the place and what was expected.
bad() {  # bad DESCRIPTION EXPECTED-MESSAGE-PART SED-EXPRESSION
  sed "$3" "$chaos" >"$tmp/bad.json"
  expect 2 "replay: $1" -- "$rrefsim" replay "$tmp/bad.json"
  grep -qF -- "$2" "$tmp/err" || { echo "FAIL: $1: no '$2' in: $(cat "$tmp/err")"; failures=$((failures + 1)); }
}
bad "not JSON" "bad.json:23:13: not valid JSON" 's/"seed": 0,/"seed": 0,,/'
bad "a wrong type" "bad.json: /seed: expected an integer" 's/"seed": 0,/"seed": "0",/'
bad "a missing field" 'bad.json: /: missing field "seed"' '/"seed": 0,/d'
bad "an unknown field" 'bad.json: /sede: unknown field' 's/"seed": 0,/"seed": 0, "sede": 1,/'
bad "an unknown message type" 'bad.json: /events/1/message/type: unknown message type "PYTHON_CAL"' '0,/"PYTHON_CALL"/s//"PYTHON_CAL"/'
bad "an unknown choice kind" 'bad.json: /choices/0/kind: unknown choice kind "hael"' 's/"heal"/"hael"/'
bad "an unknown record kind" 'bad.json: /events/1/kind: unknown event kind "sent"' '0,/"kind":"send"/s//"kind":"sent"/'
bad "a number out of range" 'bad.json: /events/3/worker: 70000 is out of range' 's/"worker":2,"fiber":"network"/"worker":70000,"fiber":"network"/'
bad "another format version" 'bad.json: /format_version: unsupported trace format version 2' 's/"format_version": 1/"format_version": 2/'
bad "a scenario out of range" 'bad.json: /scenario/programs/1/ops/1/to: 9 is out of range' 's/"function":"fetch","op":"rpc_sync","to":2/"function":"fetch","op":"rpc_sync","to":9/'
expect 2 "replay: a file that does not exist" -- "$rrefsim" replay "$tmp/nope.json"
grep -qF "nope.json: cannot read: No such file or directory" "$tmp/err" || { echo "FAIL: unreadable file message"; failures=$((failures + 1)); }
expect 2 "render: a directory" -- "$rrefsim" render "$tmp"
expect 2 "replay without a trace" -- "$rrefsim" replay
expect 2 "run --out into a file" -- "$rrefsim" run --scenario s5_owner_to_user --seed 0 --faults chaos --out "$chaos"

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
