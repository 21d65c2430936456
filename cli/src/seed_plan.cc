#include "seed_plan.h"

#include <stdexcept>

namespace rrefsim::cli {

ShardParse ParseShard(const std::string& text) {
  ShardParse out;
  const std::string usage = "--shard " + text + ": expected I/N with 0 <= I < N (0-based), e.g. --shard 0/4";
  std::size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size() || text[0] == '-' || text[slash + 1] == '-') {
    out.error = usage;
    return out;
  }
  Shard shard;
  try {
    std::size_t used = 0;
    shard.index = std::stoull(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument(text);
    std::string rest = text.substr(slash + 1);
    shard.count = std::stoull(rest, &used);
    if (used != rest.size()) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    out.error = usage;
    return out;
  }
  if (shard.count == 0) {
    out.error = "--shard " + text + ": N must be at least 1";
  } else if (shard.index >= shard.count) {
    out.error = "--shard " + text + ": I must be below N (0-based: the shards of " + std::to_string(shard.count) +
                " are 0/" + std::to_string(shard.count) + " to " + std::to_string(shard.count - 1) + "/" +
                std::to_string(shard.count) + ")";
  } else {
    out.shard = shard;
  }
  return out;
}

SeedPlan::SeedPlan(std::uint64_t begin, std::uint64_t end, Shard shard) : step_(shard.count) {
  std::uint64_t offset = (shard.index + shard.count - begin % shard.count) % shard.count;
  if (begin >= end || end - begin <= offset) return;
  first_ = begin + offset;
  size_ = (end - 1 - first_) / step_ + 1;
}

namespace {
std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

bool RecheckChosen(std::uint64_t seed, double share) {
  double u = static_cast<double>(SplitMix64(seed ^ 0x7265636865636bULL) >> 11) * 0x1.0p-53;  // "recheck"
  return u < share;
}

}  // namespace rrefsim::cli
