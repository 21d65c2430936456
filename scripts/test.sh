#!/usr/bin/env bash
# The whole test suite: install dependencies, build and test the release preset, build and test the asan preset
# (AddressSanitizer + UndefinedBehaviorSanitizer), then install rrefsim into a temporary prefix and build and run the
# embedding example against it, as an outside project would. Prints the time of each stage; exits non-zero on the
# first failure. Works from any directory.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

prefix=$(mktemp -d "${TMPDIR:-/tmp}/rrefsim-test.XXXXXX")
stages=()   # "name seconds" lines, in order
current=""

summary() {
  local status=$?
  rm -rf "$prefix"
  echo
  echo "=== test.sh summary ==="
  local line
  for line in "${stages[@]}"; do
    printf '  %-14s %8.1f s\n' ${line}
  done
  if [[ $status -ne 0 ]]; then
    echo "  FAILED in stage: ${current:-?} (exit $status)"
  else
    echo "  all stages passed"
  fi
}
trap summary EXIT

# stage NAME COMMAND...: runs COMMAND and records how long it took. Under `set -e` a failing command ends the
# script, and the EXIT trap names the stage.
stage() {
  current=$1
  shift
  echo
  echo "=== $current ==="
  local start=$EPOCHREALTIME
  "$@"
  stages+=("$current $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')")
  current=""
}

build() {  # build PRESET: configure and build
  cmake --preset "$1"
  cmake --build --preset "$1"
}

example() {
  cmake --install build/release --prefix "$prefix/install"
  cmake -S examples/threads -B "$prefix/example" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_PREFIX_PATH="$prefix/install"
  cmake --build "$prefix/example" -j2
  timeout 120 "$prefix/example/rrefsim_threads_example"  # its own waits are bounded; this guards a deadlock
}

stage install       ./scripts/setup.sh
stage build-release build release
stage test-release  ctest --preset release
stage build-asan    build asan
stage test-asan     ctest --preset asan
stage example       example
