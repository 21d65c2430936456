#include "state_table.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rrefsim::explore::detail {
namespace {

std::uint32_t Short(std::uint64_t id) { return static_cast<std::uint32_t>(id ^ (id >> 32)); }

}  // namespace

bool StateTable::Asleep::Contains(std::uint64_t step) const {
  return std::binary_search(ids_.begin(), ids_.end(), Short(step));
}

StateTable::Entry StateTable::Store(std::uint64_t depth, std::uint32_t deviations) {
  const std::size_t words = scratch_.size() + 1;
  if (words > kPosMask + 1) throw std::length_error("explore: a sleep set of " + std::to_string(words - 1) + " steps");
  if (depth > kMaxDepth) throw std::length_error("explore: a state at depth " + std::to_string(depth));
  if (deviations > kMaxDeviations) {
    throw std::length_error("explore: a state reached with " + std::to_string(deviations) + " deviations");
  }
  if (chunks_.empty() || kPosMask + 1 - chunks_.back().size() < words) {  // positions fit in kPosBits
    if (chunks_.size() == (std::size_t{1} << (32 - kPosBits))) {
      throw std::length_error("explore: the visited-state table holds 16 GB of sleep sets");
    }
    chunks_.emplace_back();
    chunks_.back().reserve(kPosMask + 1);
  }
  std::vector<std::uint32_t>& chunk = chunks_.back();
  const auto where = static_cast<std::uint32_t>(((chunks_.size() - 1) << kPosBits) | chunk.size());
  chunk.push_back(static_cast<std::uint32_t>(scratch_.size()));  // within the reserved capacity: no reallocation
  chunk.insert(chunk.end(), scratch_.begin(), scratch_.end());
  Entry entry;
  entry.depth = static_cast<std::uint32_t>(depth);
  entry.deviations = deviations;
  entry.where = where;
  return entry;
}

const StateTable::Asleep* StateTable::Visit(std::uint64_t key, std::uint64_t depth,
                                            const std::vector<std::uint64_t>& asleep, bool depth_bounded,
                                            std::optional<std::uint32_t> deviations) {
  scratch_.clear();
  for (std::uint64_t id : asleep) scratch_.push_back(Short(id));
  std::sort(scratch_.begin(), scratch_.end());
  scratch_.erase(std::unique(scratch_.begin(), scratch_.end()), scratch_.end());
  auto [it, inserted] = entries_.try_emplace(key);
  const Entry stored = it->second;
  const bool more_depth = depth_bounded && stored.depth > depth;
  const bool more_deviations = deviations && stored.deviations > *deviations;
  if (inserted || more_depth || more_deviations) {  // new, or explored with less of a budget left: in full
    try {
      it->second = Store(depth, deviations.value_or(0));
    } catch (...) {
      // Not left keyed to where 0, another state's sleep set, which a revisit would read and shrink.
      if (inserted) entries_.erase(it);
      throw;
    }
    return nullptr;
  }
  std::uint32_t* set = SetAt(it->second.where);
  before_.ids_.assign(set + 1, set + 1 + set[0]);
  // Under a depth bound a deeper visit explores its awake steps with less depth left than the stored depth has: for
  // a later visit between the two they are still unexplored, so the set keeps them. So for deviations.
  if ((depth_bounded && depth > stored.depth) || (deviations && *deviations > stored.deviations)) return &before_;
  std::uint32_t* end = std::set_intersection(before_.ids_.begin(), before_.ids_.end(), scratch_.begin(),
                                             scratch_.end(), set + 1);
  set[0] = static_cast<std::uint32_t>(end - (set + 1));
  return &before_;
}

}  // namespace rrefsim::explore::detail
