// The states the explorer has explored, for state caching with sleep sets (Probe::CheckVisited): each state's key,
// the shallowest depth it was reached at, and the steps asleep at every visit so far. Built for tens of millions of
// states (docs/explore.md, "The visited-state table"): an open-addressing table (Abseil's flat_hash_map, a Debian
// package) of 16-byte slots instead of a heap node per state, and the sleep sets end to end in large chunks instead
// of a heap vector per state, each step kept as 32 bits of its identity.
#pragma once

#include <cstdint>
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

  // A visit of the state `key` at `depth` (a path index) with the steps `asleep` (sim::StepIdentity, any order).
  // Returns nullptr when the state is to be explored in full: its first visit, or, under a depth bound
  // (`depth_bounded`), a visit with more depth left than every earlier one. Otherwise it returns the steps asleep at
  // every earlier visit (valid until the next call), and keeps only those also asleep now; under a depth bound only
  // at a visit at the stored depth, as a deeper one explores its awake steps with less depth left.
  const Asleep* Visit(std::uint64_t key, std::uint64_t depth, const std::vector<std::uint64_t>& asleep,
                      bool depth_bounded);
  std::size_t size() const { return entries_.size(); }

 private:
  // Where a state's sleep set is: chunk `where >> kPosBits`, from position `where & kPosMask`, a length word then
  // the ids. Chunks never reallocate, so a set stays where it is, and it only ever shrinks in place.
  struct Entry {
    std::uint32_t depth = 0;
    std::uint32_t where = 0;
  };
  static constexpr unsigned kPosBits = 20;  // 4 MB chunks; 4,096 of them at most (16 GB)
  static constexpr std::uint32_t kPosMask = (std::uint32_t{1} << kPosBits) - 1;

  Entry Store(std::uint64_t depth);  // the ids in scratch_
  std::uint32_t* SetAt(std::uint32_t where) { return chunks_[where >> kPosBits].data() + (where & kPosMask); }

  absl::flat_hash_map<std::uint64_t, Entry> entries_;  // lookups only, never iterated
  std::vector<std::vector<std::uint32_t>> chunks_;
  std::vector<std::uint32_t> scratch_;  // the visit's sleep set, shortened and sorted
  Asleep before_;                       // the last revisit's earlier sleep set, handed to the caller
};

}  // namespace rrefsim::explore::detail
