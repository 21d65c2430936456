#!/usr/bin/env bash
# The coverage statement of `rrefsim run` (docs/coverage.md): the pair totals and --coverage table, the counts in
# the --json summary, their sum by `rrefsim merge` (shards merged equal the unsharded campaign), the PCT bound per
# scenario, an interrupted campaign's counts, and a bad coverage object in a merged file.
# Usage: coverage_cli_test.sh PATH/TO/rrefsim
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"

check() {  # check DESCRIPTION -- COMMAND...: COMMAND must succeed
  local what=$1
  shift 2
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}
summary() { grep '"kind":"summary"' "$1"; }

# Text: the totals line and the table with --coverage, and no PCT bound for a random campaign.
expect 0 "a random campaign with --coverage" -- "$rrefsim" run --scenario s3_user_to_user --seeds 20 --coverage
cp "$tmp/out" text.out
check "the totals line says how many pairs were seen" -- \
  grep -qE '^coverage: [0-9]+ of [0-9]+ \(message type x receiver state\) pairs seen' text.out
# Every run of S3 without faults confirms its child fork through the parent's pendingChildren_ entry (20 runs).
check "the table counts a pair every run must see" -- \
  grep -qE '^  RREF_CHILD_ACCEPT @ parent:child-pending +20$' text.out
check "the table marks unseen pairs" -- grep -qE '^  RREF_FORK_REQUEST @ owner:freed +UNSEEN$' text.out
check "a random campaign states that no depth bound applies" -- grep -q '^no bug-depth bound' text.out
expect 0 "without --coverage" -- "$rrefsim" run --scenario s3_user_to_user --seeds 20
check "no coverage is counted or printed" -- bash -c "! grep -q -e '^coverage: ' -e ' @ ' '$tmp/out'"

# JSON: the summary holds the counts; shards merged give the unsharded summary (timing apart), PCT included.
pct=(--scenario s3_user_to_user --seeds 60 --strategy pct --pct-depth 2 --coverage)
"$rrefsim" run "${pct[@]}" --json >whole.jsonl
"$rrefsim" run "${pct[@]}" --json --shard 0/2 >s0.jsonl
"$rrefsim" run "${pct[@]}" --json --shard 1/2 >s1.jsonl
expect 0 "merge the PCT shards" -- "$rrefsim" merge s0.jsonl s1.jsonl
cp "$tmp/out" merged.jsonl
check "the summary has coverage counts" -- grep -q '"coverage":{"pairs_seen":[1-9]' <(summary whole.jsonl)
check "the summary has the PCT quantities of the scenario" -- \
  grep -q '"pct":{"s3_user_to_user":{"depth":2,"runs":60,' <(summary whole.jsonl)
check "merged shards sum the coverage and PCT counts to the unsharded summary" -- \
  cmp -s <(untimed whole.jsonl) <(untimed merged.jsonl)
check "the shards each counted only their own runs" -- grep -q '"runs":30,' <(summary s0.jsonl)

# Text PCT statement, with or without --coverage; a campaign without --coverage has no coverage in its summary.
expect 0 "a PCT campaign" -- "$rrefsim" run --scenario s3_user_to_user --seeds 60 --strategy pct --pct-depth 2
check "the PCT statement of the scenario" -- \
  grep -qE '^  PCT depth 2: a given depth-2 bug is found with probability >= [0-9.]+% .*60 runs' "$tmp/out"

"$rrefsim" run "${pct[@]:0:6}" --json --shard 1/2 >s1-uncounted.jsonl
check "a summary without --coverage has no coverage" -- bash -c "! grep -q '\"coverage\"' s1-uncounted.jsonl"
expect 2 "merge shards with and without --coverage" -- "$rrefsim" merge s0.jsonl s1-uncounted.jsonl
check "the error says to count in every shard or none" -- \
  grep -q 's1-uncounted.jsonl:31 has no coverage counts, but the first summary has them' "$tmp/err"

# A merged file whose coverage names a pair that does not exist is bad input.
sed 's/RREF_ACK @ awaited/RREF_ACK @ nowhere/' s0.jsonl >bad.jsonl
expect 2 "a summary with an unknown coverage pair" -- "$rrefsim" merge bad.jsonl s1.jsonl
check "the error names the file, the line and the pair" -- \
  grep -q 'bad.jsonl:31: coverage.counts: unknown pair "RREF_ACK @ nowhere"' "$tmp/err"

# Interrupted: the summary still carries the coverage of every run it reports.
"$rrefsim" run --scenario s10_nested_rref_stress --seeds 100000000 --coverage --json >interrupted.jsonl 2>/dev/null &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
code=$?
interrupted_summary=$(grep '"kind":"summary"' interrupted.jsonl)
check "an interrupted campaign exits 130 with coverage in its summary" -- \
  grep -q '"interrupted":true,.*"pairs_seen":[1-9]' <<<"$interrupted_summary"
check "...and exits 130" -- test "$code" -eq 130

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all coverage command-line checks passed"
