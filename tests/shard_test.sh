#!/usr/bin/env bash
# Campaign results do not depend on how they are run: --threads 1 and 2 give the same per-seed lines (timing
# removed) and the same trace bytes; 3 shards merged give the unsharded campaign's lines; --max-failures stops at
# the same seeds on any number of threads.
# Usage: shard_test.sh PATH/TO/rrefsim
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"

same() {  # same DESCRIPTION FILE-A FILE-B: equal apart from timing fields
  if cmp -s <(untimed "$2") <(untimed "$3"); then
    echo "ok: $1"
  else
    echo "FAIL: $1"
    diff <(untimed "$2") <(untimed "$3") | head -5 | sed 's/^/  | /'
    failures=$((failures + 1))
  fi
}
run() {  # run OUTPUT-FILE ARGS...: a campaign with --json; exit 0 or 1 is fine
  local out=$1
  shift
  "$rrefsim" run "$@" --json >"$out" 2>"$out.err"
  local code=$?
  if [[ $code -gt 1 ]]; then
    echo "FAIL: rrefsim run $*: exit $code"
    sed 's/^/  | /' "$out.err" | head -5
    failures=$((failures + 1))
  fi
}

campaign=(--scenario all --seeds 40 --faults lossy)
run one.jsonl "${campaign[@]}" --threads 1 --out one-traces
run two.jsonl "${campaign[@]}" --threads 2 --out two-traces
same "--threads 1 and --threads 2 give the same per-seed lines" one.jsonl two.jsonl
scenarios=$(( ($("$rrefsim" list | wc -l) - 1) / 2 ))  # `list`: a header, then two lines per scenario
if [[ $(grep -c '"kind":"seed"' one.jsonl) -eq $((scenarios * 40)) && $(grep -c '"verdict":"' one.jsonl) -gt 0 ]]; then
  echo "ok: one line per seed, failures among them"
else
  echo "FAIL: $(grep -c '"kind":"seed"' one.jsonl) seed lines, $(grep -c '"verdict":"' one.jsonl) failing"
  failures=$((failures + 1))
fi
if diff -r one-traces two-traces >/dev/null && [[ -n $(ls one-traces) ]]; then
  echo "ok: --threads 1 and --threads 2 write the same trace files, byte for byte"
else
  echo "FAIL: the trace files differ between --threads 1 and 2"
  failures=$((failures + 1))
fi

for i in 0 1 2; do run "shard$i.jsonl" "${campaign[@]}" --shard "$i/3" --threads 2 --out "shard$i-traces"; done
"$rrefsim" merge shard0.jsonl shard1.jsonl shard2.jsonl >merged.jsonl 2>merge.err
[[ $? -le 1 ]] || { echo "FAIL: merge: $(cat merge.err)"; failures=$((failures + 1)); }
same "3 shards merged equal the unsharded campaign (seed lines and summary)" one.jsonl merged.jsonl

run max1.jsonl "${campaign[@]}" --threads 1 --max-failures 5 --out max1-traces
run max2.jsonl "${campaign[@]}" --threads 2 --max-failures 5 --out max2-traces
same "--max-failures 5 stops at the same seeds on 1 and 2 threads" max1.jsonl max2.jsonl
if [[ $(grep -c '"verdict":"' max1.jsonl) -eq 5 ]] && grep -q '"max_failures_reached":true' max1.jsonl; then
  echo "ok: --max-failures 5 reports 5 failing seeds"
else
  echo "FAIL: --max-failures 5: $(grep -c '"verdict":"' max1.jsonl) failing seeds"
  failures=$((failures + 1))
fi

run gen1.jsonl --generate --seeds 60 --faults chaos --threads 1 --recheck 1 --out gen1-traces
run gen2.jsonl --generate --seeds 60 --faults chaos --threads 2 --recheck 1 --out gen2-traces
same "generated scenarios, every seed rechecked: the same lines on 1 and 2 threads" gen1.jsonl gen2.jsonl
diff -r gen1-traces gen2-traces >/dev/null || { echo "FAIL: generated traces differ"; failures=$((failures + 1)); }

echo "$failures failed"
[[ $failures -eq 0 ]]
