// What every seed of a campaign needs: the scenario of a seed, its fault settings, its chooser, and the commands
// that select it again.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "campaign.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/world.h"
#include "seed_result.h"

namespace rrefsim::cli {

// The scenario of each seed: one entry for every seed, or (--generate) the random generator's scenario for the seed.
// Cheap to copy; each thread uses its own copy.
class ScenarioSource {
 public:
  ScenarioSource(const scenarios::CatalogEntry* fixed, std::string argument)
      : fixed_(fixed), argument_(std::move(argument)) {}
  const scenarios::CatalogEntry& At(std::uint64_t seed);
  // How `rrefsim run` selects it again: "--scenario NAME" or "--generate".
  std::string Selection() const { return fixed_ ? "--scenario " + argument_ : "--generate"; }
  std::string Name() const { return fixed_ ? fixed_->name : "generated"; }

 private:
  const scenarios::CatalogEntry* fixed_;
  std::string argument_;
  scenarios::CatalogEntry generated_;
};

std::string ProfileOf(const CampaignOptions& o, const scenarios::CatalogEntry& entry);
// The fault settings of one scenario in this campaign: profile < scenario < command line.
sim::FaultConfigResult FaultsOf(const CampaignOptions& o, const scenarios::CatalogEntry& entry);
// --protocol: "pytorch" or "hardened" (checked by the flag parser).
core::ProtocolMode ProtocolOf(const CampaignOptions& o);
// PCT's k: the scheduling choices of a plain random run of the scenario (docs/cli.md, --strategy).
std::uint64_t CalibratePctSteps(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, std::uint64_t seed);
std::unique_ptr<sim::Chooser> MakeChooser(const CampaignOptions& o, std::uint64_t seed, std::uint64_t pct_steps);
// `PROGRAM run SELECTION --seed S --faults PROFILE ... --trace`: re-runs one seed printing every step.
std::string RerunCommand(const CampaignOptions& o, const std::string& selection, const std::string& profile,
                         std::uint64_t seed);
// Why a checked run failed: the first violation ("checker: text (step N)"), or "" when it passed.
std::string FailureOf(const scenarios::CheckedRun& checked);

// One scenario of a campaign, shared read-only by the threads that run its seeds.
struct SeedJob {
  const CampaignOptions* options = nullptr;
  ScenarioSource source{nullptr, ""};
  sim::RunConfig config;
  std::uint64_t pct_steps = 0;
};

// Runs one seed with every checker (and --recheck); called on any thread, it only reads `job`.
SeedResult RunSeed(const SeedJob& job, std::uint64_t seed);

}  // namespace rrefsim::cli
