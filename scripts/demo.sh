#!/usr/bin/env bash
# The main job: install what is missing, build, and run the default campaign: every built-in scenario over 1000
# seeds under its own fault profile, in PyTorch-faithful mode. Each failure prints the command that replays it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target rrefsim
exec build/release/cli/rrefsim run --scenario all --seeds "${SEEDS:-1000}" "$@"
