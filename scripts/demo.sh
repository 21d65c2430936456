#!/usr/bin/env bash
# The core demo (until the simulator exists): build the release preset, install it under build/, and build and run
# the embedding example, which drives three real threads through one RRef's life with rrefsim's protocol core.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target rrefsim_core   # the demo needs only the library
cmake --install build/release --prefix build/demo-prefix >/dev/null
cmake -S examples/threads -B build/example -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$PWD/build/demo-prefix" >/dev/null
cmake --build build/example -j2
exec build/example/rrefsim_threads_example
