// The flags that scale `rrefsim run` (--threads, --max-failures, --shard, --recheck, --json), checked after parsing
// so that each error says what to change.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "campaign.h"

namespace rrefsim::cli {

// The flags as typed.
struct ScaleFlags {
  long long threads = 0;
  long long max_failures = -1;
  std::string recheck = "0.01";
  std::string shard;
};

void AddScaleFlags(CLI::App* run_cmd, ScaleFlags& flags, CampaignOptions& run);

// Fills `run` from `flags` (threads default to every core); false after saying on stderr what to change.
bool ApplyScaleFlags(const ScaleFlags& flags, bool threads_given, bool max_given, bool shard_given,
                     CampaignOptions& run);

}  // namespace rrefsim::cli
