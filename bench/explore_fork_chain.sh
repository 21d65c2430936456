#!/usr/bin/env bash
# The exhaustive explorer's benchmark (issue 8, docs/explore.md): the user->user fork chain of 5 users
# (catalog: fork_chain_5), reordering only, pytorch mode, on one core, with and without sleep sets. Prints one JSON
# line: verdict, and per search transitions, distinct states, runs, replayed steps, seconds and states/s.
# Usage: bench/explore_fork_chain.sh PATH/TO/rrefsim [extra explore flags, e.g. --max-runs 100000]
set -euo pipefail
rrefsim=${1:?usage: $0 PATH/TO/rrefsim [explore flags]}
shift
exec "$rrefsim" explore fork_chain_5 --compare --json "$@"
