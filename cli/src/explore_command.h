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
  std::string command = "explore";    // what errors are prefixed with: "explore", or "run" for --strategy exhaustive
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

// The search's bound flags (--duplicates, --drops, --max-depth, --max-deviations, --max-runs, --shortest, --dpor),
// defined once for `explore` and `run --strategy exhaustive`; returns them so a caller can tell whether any was given.
std::vector<CLI::Option*> AddBoundFlags(CLI::App* command, explore::ExploreOptions& search);

// `run --strategy exhaustive`: the campaign's scenario, faults, protocol, --json and --out, with `search`'s bounds.
int RunExhaustive(const CampaignOptions& run, const explore::ExploreOptions& search);

int RunExplore(const ExploreCliOptions& options);

}  // namespace rrefsim::cli
