#!/usr/bin/env bash
# `rrefsim explore` and `run --strategy exhaustive` as a user meets them: verdicts, exit codes, a counterexample
# trace that replay and render accept, JSON output, and bad input.
# Usage: explore_cli_test.sh PATH/TO/rrefsim
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
says() {  # says TEXT DESCRIPTION: the last command's stdout contains TEXT
  if grep -qF -- "$1" "$tmp/out"; then echo "ok: $2"; else echo "FAIL: $2: no '$1'"; failures=$((failures + 1)); fi
}
says_not() {  # says_not TEXT DESCRIPTION: the last command's stdout does not contain TEXT
  if grep -qF -- "$1" "$tmp/out"; then echo "FAIL: $2: '$1'"; failures=$((failures + 1)); else echo "ok: $2"; fi
}

says_err() {  # says_err TEXT DESCRIPTION: the last command's stderr contains TEXT
  if grep -qF -- "$1" "$tmp/err"; then echo "ok: $2"; else echo "FAIL: $2: no '$1' on stderr"; failures=$((failures + 1)); fi
}

expect 0 "a complete search without counterexample" -- "$rrefsim" explore s2_remote_to_self
says "all schedules within the bound satisfy every invariant" "the verdict says so"
says "distinct" "the statistics are printed"
says_not "races" "a search without DPOR prints no DPOR races"
expect 0 "a DPOR search" -- "$rrefsim" explore s2_remote_to_self --dpor
says "races (" "a DPOR search prints its races"
expect 0 "run --strategy exhaustive is the same search" -- \
  "$rrefsim" run --scenario s2_remote_to_self --strategy exhaustive
says "all schedules within the bound satisfy every invariant" "run --strategy exhaustive prints the verdict"
expect 0 "run --strategy exhaustive takes explore's run budget" -- \
  "$rrefsim" run --scenario s3_user_to_user --strategy exhaustive --max-runs 5
says "INCOMPLETE" "run --strategy exhaustive stops at --max-runs"
expect 0 "run --strategy exhaustive takes a depth bound" -- \
  "$rrefsim" run --scenario s2_remote_to_self --strategy exhaustive --max-depth 3
says "choice points <= 3" "the bound printed is the one given"
expect 1 "run --strategy exhaustive --duplicates 1 finds P4 on remote to self" -- \
  "$rrefsim" run --scenario s2_remote_to_self --strategy exhaustive --duplicates 1 --shortest --out "$tmp/runcex"
says "duplicates <= 1, drops <= 0" "the duplicate bound reached the search"
says "COUNTEREXAMPLE" "and the search found the duplicate's defect"
says "choice points unbounded (searched depth by depth" "the bound says --shortest searched depth by depth"
expect 1 "a deviation bound finds P4 with the fewest deviations from the default schedule" -- \
  "$rrefsim" explore s2_remote_to_self --duplicates 1 --max-deviations 4 --out "$tmp/devcex"
says "deviations from the default schedule <= 4 (searched with 0, 1, ... deviations" "the bound names the deviations"
says "held to the default at 1 deviation," "the search stopped at the first bound that failed"
says "without sleep sets (off under a deviation bound)" "the reduction line says sleep sets are off"
says "symmetry group: 1 permutation" "and symmetry is off too"
devtrace=$(ls "$tmp"/devcex/s2_remote_to_self-exhaustive-*.json | head -1)
expect 0 "the deviation bound's counterexample replays" -- "$rrefsim" replay "$devtrace"
expect 0 "run --strategy exhaustive takes a deviation bound" -- \
  "$rrefsim" run --scenario s3_user_to_user --strategy exhaustive --max-deviations 2 --json
says '"deviations":2' "the JSON line holds the last search's bound"
expect 0 "a deviation bound's search cut short by the run budget" -- \
  "$rrefsim" explore fork_chain_5 --max-deviations 5 --max-runs 100000
says "INCOMPLETE: the run budget ran out before every schedule was explored (every schedule within 3 deviations satisfies every invariant)" \
  "the verdict keeps what the searches with fewer deviations proved"
expect 2 "a deviation bound does not combine with DPOR" -- "$rrefsim" explore s1_remote_to_here --max-deviations 1 --dpor
expect 2 "nor with --shortest" -- "$rrefsim" explore s1_remote_to_here --max-deviations 1 --shortest
expect 2 "a deviation bound beyond 200" -- "$rrefsim" explore s1_remote_to_here --max-deviations 201
expect 2 "a bound flag without --strategy exhaustive" -- "$rrefsim" run --scenario s1_remote_to_here --duplicates 1
expect 2 "a negative bound for run --strategy exhaustive" -- \
  "$rrefsim" run --scenario s1_remote_to_here --strategy exhaustive --drops -1
expect 2 "an unknown scenario for run --strategy exhaustive" -- \
  "$rrefsim" run --scenario no_such_scenario --strategy exhaustive
says_err "rrefsim run: " "the error names the command the user typed"
expect 2 "an unknown scenario for explore" -- "$rrefsim" explore no_such_scenario
says_err "rrefsim explore: " "and explore's names explore"
expect 0 "--compare reports both searches" -- "$rrefsim" explore s1_remote_to_here --compare
says "without reduction" "the search without reduction is reported"
expect 1 "one duplicate breaks PyTorch's remote to self (P4)" -- \
  "$rrefsim" explore s2_remote_to_self --duplicates 1 --out "$tmp/cex"
says "COUNTEREXAMPLE" "the verdict names the counterexample"
trace=$(ls "$tmp"/cex/s2_remote_to_self-exhaustive-*.json | head -1)
expect 0 "the counterexample replays" -- "$rrefsim" replay "$trace"
says "reproduces s2_remote_to_self the exhaustive search's counterexample" "replay names the run, not a seed"
expect 0 "the counterexample renders" -- "$rrefsim" render "$trace"
expect 1 "--json: one object per scenario" -- \
  "$rrefsim" explore s2_remote_to_self --duplicates 1 --json --out "$tmp/cex"
says '"verdict":"COUNTEREXAMPLE' "the JSON line holds the verdict"
expect 0 "hardened mode: no duplicate breaks remote to self (P4 fixed)" -- \
  "$rrefsim" explore s2_remote_to_self --protocol hardened --duplicates 1
says "all schedules within the bound satisfy every invariant" "the hardened search is complete and clean"
expect 0 "hardened mode: a lost message is resent, and the search with one drop ends" -- \
  "$rrefsim" explore s1_remote_to_here --protocol hardened --drops 1
says "drops <= 1, choice points unbounded, protocol hardened" "the bound names the drop and the mode"
expect 0 "a run budget leaves the search incomplete" -- "$rrefsim" explore s3_user_to_user --max-runs 5
says "INCOMPLETE" "the verdict says the search is incomplete"
says "hint: for a complete statement on a scenario this big, bound the schedules instead: --max-deviations" \
  "and points to the deviation bound"
expect 0 "interchangeable users: the search reduces by their symmetry group" -- \
  "$rrefsim" explore symmetric_users_3 --json --max-runs 2000
says '"symmetry_group":6' "the JSON line holds the group's size (S_3 on the three users)"
expect 0 "--no-symmetry searches without it" -- "$rrefsim" explore symmetric_users_3 --no-symmetry --max-runs 2000
says "symmetry group: 1 permutation" "the text output says no reduction by symmetry"
# An interrupted search (Ctrl-C, SIGTERM) reports what it covered and exits 130; fork_chain_5 takes minutes.
"$rrefsim" explore fork_chain_5 --json >"$tmp/interrupted" 2>"$tmp/interrupted.err" &
pid=$!
sleep 3
kill -INT "$pid"
wait "$pid"
code=$?
if [[ $code -eq 130 ]] && grep -q '"interrupted":true' "$tmp/interrupted" &&
   grep -q '"verdict":"INCOMPLETE: interrupted before every schedule was explored"' "$tmp/interrupted" &&
   grep -q '"distinct_states":[1-9]' "$tmp/interrupted"; then
  echo "ok: an interrupted search reports what it covered and exits 130"
else
  echo "FAIL: interrupted search: exit $code"
  sed 's/^/  | /' "$tmp/interrupted" "$tmp/interrupted.err" | head -10
  failures=$((failures + 1))
fi
expect 2 "unknown scenario" -- "$rrefsim" explore nope
expect 2 "bad fault override" -- "$rrefsim" explore s1_remote_to_here --fault drop=2
expect 2 "negative bound" -- "$rrefsim" explore s1_remote_to_here --duplicates -1

echo "$failures failed"
[[ $failures -eq 0 ]]
