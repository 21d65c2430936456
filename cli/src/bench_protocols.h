// `rrefsim bench`: what the hardened mode costs next to the pytorch mode under the reorder profile.
#pragma once

#include <cstdint>

namespace rrefsim::cli {

// One mode's runs: messages sent and virtual end times summed over them, and the wall time they took.
struct ModeTotals {
  std::uint64_t runs = 0, messages = 0;
  double virtual_seconds = 0, wall_seconds = 0;
};

struct ProtocolCost {
  ModeTotals pytorch, hardened;
};

// Every catalog scenario that ends `ok` in PyTorch (not a documented hang), under `reorder`, seeds 0..seeds-1, once
// per mode (0 seeds: nothing measured).
ProtocolCost MeasureProtocolCost(std::uint64_t seeds);

}  // namespace rrefsim::cli
