#!/usr/bin/env bash
# The Slurm job-array script and the Kubernetes Indexed Job manifest, run locally: their own command lines, with
# SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX set for each index (a smaller campaign than theirs), merged, must give
# the unsharded campaign's lines apart from timing.
# Usage: cluster_scripts_test.sh PATH/TO/rrefsim
scripts=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../scripts")
source "$(dirname "${BASH_SOURCE[0]}")/test_lib.sh"
export PATH="$(dirname "$rrefsim"):$PATH"  # the manifest calls `rrefsim` from PATH
campaign="--scenario s3_user_to_user --seeds 90 --faults lossy"
check_merge() {  # check_merge WHAT DIR
  if "$rrefsim" merge "$2"/shard-*.jsonl >"$2.merged" 2>"$2.err"; [[ $? -le 1 ]] &&
     cmp -s <(untimed "$2.merged") <(untimed whole.jsonl); then
    echo "ok: $1: the shards merged equal the unsharded campaign"
  else
    echo "FAIL: $1: $(cat "$2.err")"
    diff <(untimed "$2.merged") <(untimed whole.jsonl) | head -5 | sed 's/^/  | /'
    failures=$((failures + 1))
  fi
}
# shellcheck disable=SC2086
rrefsim run $campaign --json --out whole-traces >whole.jsonl

# Slurm: the script itself, as sbatch would start it for each array task (an array of 3).
for i in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=3 SLURM_CPUS_PER_TASK=2 RRSIM_RESULTS="$tmp/slurm" \
    RRSIM_CAMPAIGN="$campaign" bash "$scripts/slurm/rrefsim-array.sbatch" >/dev/null 2>&1 ||
    { echo "FAIL: slurm task $i: exit $?"; failures=$((failures + 1)); }
done
check_merge "slurm array" slurm

# Kubernetes: the container's command line from the manifest, with its env, for each completion index; the
# campaign is overridden, the shard count is the manifest's own `completions`.
yaml="$scripts/k8s/rrefsim-indexed-job.yaml"
command=$(sed -n '/^ *args:/{n;s/^ *- //p}' "$yaml")
completions=$(sed -n 's/^ *completions: *//p' "$yaml")
shards=$(grep -A1 'name: SHARDS' "$yaml" | sed -n 's/^ *value: *"\(.*\)"/\1/p')
[[ $shards == "$completions" && -n $command ]] || { echo "FAIL: manifest: SHARDS $shards, completions $completions"; failures=$((failures + 1)); }
mkdir -p k8s
for ((i = 0; i < completions; ++i)); do
  JOB_COMPLETION_INDEX=$i SHARDS=$completions CAMPAIGN="$campaign" RESULTS="$tmp/k8s" /bin/sh -c "$command" \
    >/dev/null 2>&1 || { echo "FAIL: k8s index $i: exit $?"; failures=$((failures + 1)); }
done
[[ $(ls k8s/shard-*.jsonl | wc -l) -eq $completions ]] || { echo "FAIL: k8s: $(ls k8s)"; failures=$((failures + 1)); }
check_merge "kubernetes indexed job ($completions indexes)" k8s

echo "$failures failed"
[[ $failures -eq 0 ]]
