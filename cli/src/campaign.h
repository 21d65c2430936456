// `rrefsim run`: a campaign of seeded runs of one scenario, and its summary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rrefsim/sim/world.h"

namespace rrefsim::cli {

struct CampaignOptions {
  std::string scenario;        // a catalog name, or "all"
  std::uint64_t seed_begin = 0;
  std::uint64_t seed_end = 1;  // half-open
  std::string profile;         // empty: the scenario's own profile
  std::vector<std::string> faults;
  std::string strategy = "random";
  int pct_depth = 3;
  std::string protocol = "pytorch";
  bool trace = false;          // print every step of every run
  int show_failures = 10;
};

// Why a run failed, or "" when it passed: an outcome other than the expected one, or a wrong to_here value.
std::string FailureOf(const sim::RunResult& result, sim::Outcome expected);

// Runs the campaign and prints its summary; returns the exit code.
int RunCampaign(const CampaignOptions& options);

}  // namespace rrefsim::cli
