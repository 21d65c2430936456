// Identifiers and time as PyTorch's RRef protocol uses them.
//
// A GloballyUniqueId is (worker that generated it, value of that worker's local counter). RRefIds and ForkIds
// come from the same per-worker counter, exactly like PyTorch's `RRefContext::genGloballyUniqueId()`.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace rrefsim::core {

using WorkerId = std::int16_t;

// Time is an argument of every call into the core: microseconds on a clock the host chooses (virtual time in the
// simulator, a monotonic clock in a real runtime). The core never reads a clock.
using TimeUs = std::int64_t;
constexpr TimeUs kMillisecond = 1000;
constexpr TimeUs kSecond = 1000 * kMillisecond;

struct GloballyUniqueId {
  WorkerId created_on = -1;
  std::int64_t local_id = -1;

  friend auto operator<=>(const GloballyUniqueId&, const GloballyUniqueId&) = default;
  bool valid() const { return created_on >= 0; }
};

using RRefId = GloballyUniqueId;
using ForkId = GloballyUniqueId;

// PyTorch's text: "GloballyUniqueId(created_on=X, local_id=Y)".
std::string ToString(const GloballyUniqueId& id);

}  // namespace rrefsim::core
