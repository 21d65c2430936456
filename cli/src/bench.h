// `rrefsim bench`: the simulator's speed and memory, as one JSON object on stdout.
#pragma once

#include <cstdint>

namespace rrefsim::cli {

struct BenchOptions {
  std::uint64_t mix_seeds = 1000;   // seeds per catalog scenario for messages_per_second
  double s3_seconds = 2.0;          // how long to run S3 for runs_per_second
  std::uint64_t campaign_seeds = 300;  // seeds per catalog scenario for campaign_speedup_2_threads (0: skip)
  std::uint64_t protocol_seeds = 100;  // seeds per catalog scenario for the hardened/pytorch cost (0: skip)
};

int RunBench(const BenchOptions& options);

}  // namespace rrefsim::cli
