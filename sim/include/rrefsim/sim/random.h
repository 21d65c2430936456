// The simulator's own pseudo-random generator: SplitMix64 to expand seeds, xoshiro256** for the stream, and
// hand-written range mapping. Its output is fixed by this code alone (never std::*_distribution, whose results
// differ between standard libraries), so a seed means the same run everywhere.
#pragma once

#include <array>
#include <cstdint>

namespace rrefsim::sim {

// SplitMix64 (Steele, Lea, Flood): advances `state` by the golden gamma and returns the mixed value. Used to
// expand seeds and to derive independent sub-seeds from one run seed.
std::uint64_t SplitMix64(std::uint64_t& state);

// The sub-seed of component `stream` (scheduler, network, workload, ...) of run `seed`. Distinct streams of one
// seed give distinct, unrelated sub-seeds; the value is part of the replay contract and never changes.
std::uint64_t SubSeed(std::uint64_t seed, std::uint64_t stream);

// Not thread-safe; one Rng per component per run. Invalid arguments throw std::invalid_argument.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);                       // state = four SplitMix64 outputs (never all zero)
  explicit Rng(const std::array<std::uint64_t, 4>& state);  // raw state, for reference vectors; not all zero
  std::uint64_t Next();                   // xoshiro256**
  std::uint64_t Below(std::uint64_t n);   // uniform in [0, n) by multiply-shift (Lemire, unbiased); n > 0
  std::uint64_t Between(std::uint64_t lo, std::uint64_t hi);  // uniform in [lo, hi]; lo <= hi
  double Unit();                          // uniform in [0, 1) with 53 random bits
  bool Bernoulli(double p);               // true with probability p; always one draw, whatever p

 private:
  std::uint64_t s_[4];
};

}  // namespace rrefsim::sim
