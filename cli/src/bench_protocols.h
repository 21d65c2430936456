// `rrefsim bench`: what the hardened mode costs next to the pytorch mode under the reorder profile.
#pragma once

#include <cstdint>

namespace rrefsim::cli {

struct ProtocolCost {
  std::uint64_t runs = 0;                                  // per mode
  std::uint64_t pytorch_messages = 0, hardened_messages = 0;  // messages sent, summed over the runs
  double pytorch_virtual_seconds = 0, hardened_virtual_seconds = 0;  // virtual end times, summed
  double pytorch_wall_seconds = 0, hardened_wall_seconds = 0;
};

// Every catalog scenario that ends `ok` in PyTorch (not a documented hang), under `reorder`, seeds 0..seeds-1, once per mode
// (0 seeds: nothing measured).
ProtocolCost MeasureProtocolCost(std::uint64_t seeds);

}  // namespace rrefsim::cli
