// `rrefsim explore SCENARIO` (and `rrefsim run --strategy exhaustive`): every schedule of a scenario within fault
// and depth bounds (explore/, docs/explore.md), with the verdict, the search's statistics, and the first
// counterexample written as a trace that `replay` and `render` accept.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "campaign.h"
#include "rrefsim/explore/explore.h"

namespace rrefsim::cli {

struct ExploreCliOptions {
  std::string program = "rrefsim";
  std::string scenario;               // a catalog name, "all", or a scenario file ending in .json
  std::string profile;                // empty: the scenario's own
  std::vector<std::string> faults;    // --fault KEY=VALUE, after the scenario's own
  explore::ExploreOptions search;
  std::string protocol = "pytorch";   // the run-config's protocol mode: pytorch or hardened
  bool compare = false;               // also search without sleep sets, and report both
  bool json = false;
  std::string out_dir = "rrefsim-out";
};

class ExploreCommand {
 public:
  explicit ExploreCommand(CLI::App& app);
  // The exit code when `explore` was the command given.
  std::optional<int> Dispatch(const std::string& program);

 private:
  CLI::App* command_;
  ExploreCliOptions options_;
};

// `run --strategy exhaustive`: the campaign's scenario, faults, --json and --out, with the explorer's default bounds.
int RunExhaustive(const CampaignOptions& run);

int RunExplore(const ExploreCliOptions& options);

}  // namespace rrefsim::cli
