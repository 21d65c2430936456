#!/usr/bin/env bash
# The exhaustive explorer's benchmark (issue 8, docs/explore.md): the user->user fork chain of 5 users
# (catalog: fork_chain_5), reordering only, pytorch mode, on one core, with and without sleep sets. Prints one JSON
# line: verdict, and per search transitions, distinct states, runs, replayed steps, seconds and states/s. The
# explorer's seconds are wall time, which other work on a shared machine inflates; the CPU time of both searches
# together follows on stderr (bash's `times`: user, then system time of the explorer process).
# Usage: bench/explore_fork_chain.sh PATH/TO/rrefsim [extra explore flags, e.g. --max-runs 100000]
# With --persistent-sets the reduced search uses persistent sets (docs/explore.md, "Persistent sets", session 14:
# 324,437 states in 3.3-3.6 s on 2026-11-27); the search without reduction beside it (--compare: state hashing
# only) still takes many minutes.
set -euo pipefail
rrefsim=${1:?usage: $0 PATH/TO/rrefsim [explore flags]}
shift
status=0
"$rrefsim" explore fork_chain_5 --compare --json "$@" || status=$?
echo "cpu time (user system) of this script, then of the explorer:" >&2
times >&2
exit "$status"
