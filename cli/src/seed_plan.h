// Which seeds a campaign runs: a half-open range, optionally one shard of it (--shard I/N: the seeds with
// seed % N == I), and which of them are re-run to check determinism (--recheck P).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace rrefsim::cli {

struct Shard {
  std::uint64_t index = 0;
  std::uint64_t count = 1;
};

// "I/N" with 0 <= I < N, or an error that says what to change.
struct ShardParse {
  std::optional<Shard> shard;
  std::string error;
};
ShardParse ParseShard(const std::string& text);

class SeedPlan {
 public:
  SeedPlan(std::uint64_t begin, std::uint64_t end, Shard shard);
  std::uint64_t size() const { return size_; }
  std::uint64_t At(std::uint64_t index) const { return first_ + index * step_; }  // in increasing seed order

 private:
  std::uint64_t first_ = 0, step_ = 1, size_ = 0;
};

// Whether --recheck P re-runs `seed`: a fixed hash of the seed, mapped to [0, 1), is below P. It depends on the seed
// alone, so shards and thread counts recheck the same seeds.
bool RecheckChosen(std::uint64_t seed, double share);

}  // namespace rrefsim::cli
