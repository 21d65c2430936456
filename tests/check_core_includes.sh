#!/usr/bin/env bash
# Include check for core/ (style.md, "Direction of dependencies"): the protocol engine may include only the pure
# parts of the C++ standard library and its own headers. No third-party library (Boost, JSON, test frameworks,
# CLI), nothing that reads a clock or a random source, starts a thread, synchronises, or does I/O, and no header of
# a folder that sits above core. core/tests/ is exempt (tests may use GoogleTest).
#
# Usage: check_core_includes.sh CORE_DIR. Exit 0 when clean; 1 listing every offender as FILE:LINE: TEXT.
set -euo pipefail

core_dir=${1:?usage: check_core_includes.sh CORE_DIR}
cd "$core_dir"

# Matched against what follows `#include` (the opening < or " included).
forbidden='[<"](boost/|nlohmann/|rapidcheck|gtest/|gmock/|CLI/|rrefsim/(sim|checkers|traces|scenarios|cli)/)'
forbidden+='|<(thread|chrono|random|mutex|shared_mutex|condition_variable|future|atomic|semaphore|latch|barrier'
forbidden+='|stop_token|iostream|fstream|filesystem|ctime|time\.h|pthread\.h|unistd\.h|sys/[^>]*)>'

# Every C/C++ file except those under the top-level tests/ folder.
offenders=$(find . -path ./tests -prune -o -type f \
    \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' -o -name '*.cxx' \
       -o -name '*.inc' -o -name '*.ipp' \) -print0 |
  sort -z |
  xargs -0 -r grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*(${forbidden})" |
  sed 's|^\./||' || true)

if [[ -n "$offenders" ]]; then
  echo "core/ must depend on the pure C++ standard library only; forbidden includes:"
  echo "$offenders" | sed -E 's/^([^:]+:[0-9]+):[[:space:]]*/  \1: /'
  echo "$(echo "$offenders" | wc -l) forbidden include(s) in $core_dir"
  exit 1
fi
echo "core/ includes: clean"
