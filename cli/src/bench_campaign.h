// `rrefsim bench`'s campaign scaling: the same campaign on 1 and on 2 threads.
#pragma once

#include <cstdint>

namespace rrefsim::cli {

struct CampaignScaling {
  double seconds_1_thread = 0, seconds_2_threads = 0;  // wall clock
  double cpu_1_thread = 0, cpu_2_threads = 0;          // user + system CPU seconds of the process
  std::uint64_t runs = 0;                              // per campaign
  // Wall-clock speedup: what the user sees, and what other load on the machine distorts.
  double speedup() const { return seconds_2_threads > 0 ? seconds_1_thread / seconds_2_threads : 0; }
  // The speedup two free cores would give: 2 x the CPU one thread needs over the CPU two threads need.
  double cpu_bound_speedup() const { return cpu_2_threads > 0 ? 2 * cpu_1_thread / cpu_2_threads : 0; }
  // How many cores the 2-thread campaign really got (below 2: the machine was shared).
  double parallelism_2_threads() const { return seconds_2_threads > 0 ? cpu_2_threads / seconds_2_threads : 0; }
};

// Every catalog scenario under its own faults, seeds 0..seeds-1, as `rrefsim run --scenario all` runs it (checked,
// in seed order, no recheck), with nothing printed.
CampaignScaling MeasureCampaignScaling(std::uint64_t seeds);

}  // namespace rrefsim::cli
