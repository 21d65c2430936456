#!/usr/bin/env bash
# Installs the Debian packages rrefsim needs to build and test. Fast path: when every package is already installed,
# apt is not touched at all (no network, no lock). Uses sudo only when not running as root.
set -euo pipefail

# python3-jsonschema: the test that checks every scenarios/catalog/ file against scenarios/scenario.schema.json.
# python3-torch (1.13.1+dfsg-4): the conformance tests run the catalog on real torch.distributed.rpc
# (docs/conformance.md), always with Debian's /usr/bin/python3.
# libjemalloc-dev: the rrefsim command's allocator (cli/CMakeLists.txt says why).
# libabsl-dev: Abseil's flat hash map, the explorer's table of visited states (explore/src/state_table.h says why).
packages=(g++ cmake make libboost-fiber-dev libboost-context-dev librapidcheck-dev nlohmann-json3-dev libgtest-dev
          libcli11-dev libjemalloc-dev libabsl-dev python3-jsonschema python3-torch)

missing=()
for package in "${packages[@]}"; do
  # `dpkg -s` also succeeds for removed-but-configured packages, so look at the status line itself.
  if ! dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi

echo "setup: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
