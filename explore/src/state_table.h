// The states the explorer has explored, for state caching with sleep sets (Probe::CheckVisited): each state's key,
// the shallowest depth it was reached at, and the steps asleep at every visit so far. Built for tens of millions of
// states (docs/explore.md, "The visited-state table"): an open-addressing table (Abseil's flat_hash_map, a Debian
// package) of 16-byte slots instead of a heap node per state, and the sleep sets end to end in large chunks instead
// of a heap vector per state, each step kept as 32 bits of its identity.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace rrefsim::explore::detail {

class StateTable {
 public:
  // The steps that were asleep at every earlier visit of a state: the only ones not yet explored from it.
  class Asleep {
   public:
    // Whether `step` (a sim::StepIdentity) is among them. Two identities that agree in their 32 kept bits count as
    // one, which can only wake a step that was explored (more work, never a schedule lost).
    bool Contains(std::uint64_t step) const;

   private:
    friend class StateTable;
    std::vector<std::uint32_t> ids_;  // sorted
  };

  // A visit of the state `key` at `depth` (a path index) with the steps `asleep` (sim::StepIdentity, any order);
  // under a deviation bound (Bounds::max_deviations), `deviations` is how many the path took to get here.
  // Returns nullptr when the state is to be explored in full: its first visit, or, under a depth bound
  // (`depth_bounded`) or a deviation bound, a visit with more of either budget left than the stored visit (the last
  // one explored in full) had. Otherwise it returns the steps asleep at every earlier visit (valid until the next
  // call), and keeps only those also asleep now; under a bound only at a visit with the stored budget, as one with
  // less left explores its awake steps within less.
  const Asleep* Visit(std::uint64_t key, std::uint64_t depth, const std::vector<std::uint64_t>& asleep,
                      bool depth_bounded, std::optional<std::uint32_t> deviations = std::nullopt);
  std::size_t size() const { return entries_.size(); }

 private:
  // Where a state's sleep set is: chunk `where >> kPosBits`, from position `where & kPosMask`, a length word then
  // the ids. Chunks never reallocate, so a set stays where it is, and it only ever shrinks in place.
  // The depth and deviations share a word, so that a slot stays 16 bytes: runs are far shorter than 2^24 choice
  // points, and the command line bounds deviations at 200.
  static constexpr unsigned kDepthBits = 24;
  static constexpr std::uint32_t kMaxDepth = (std::uint32_t{1} << kDepthBits) - 1;
  static constexpr std::uint32_t kMaxDeviations = (std::uint32_t{1} << (32 - kDepthBits)) - 1;
  struct Entry {
    std::uint32_t depth : kDepthBits = 0;
    std::uint32_t deviations : 32 - kDepthBits = 0;
    std::uint32_t where = 0;
  };
  static constexpr unsigned kPosBits = 20;  // 4 MB chunks; 4,096 of them at most (16 GB)
  static constexpr std::uint32_t kPosMask = (std::uint32_t{1} << kPosBits) - 1;

  Entry Store(std::uint64_t depth, std::uint32_t deviations);  // the ids in scratch_
  std::uint32_t* SetAt(std::uint32_t where) { return chunks_[where >> kPosBits].data() + (where & kPosMask); }

  absl::flat_hash_map<std::uint64_t, Entry> entries_;  // lookups only, never iterated
  std::vector<std::vector<std::uint32_t>> chunks_;
  std::vector<std::uint32_t> scratch_;  // the visit's sleep set, shortened and sorted
  Asleep before_;                       // the last revisit's earlier sleep set, handed to the caller
};

}  // namespace rrefsim::explore::detail
