#include "observe.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "campaign_setup.h"
#include "exit_codes.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/scenario_json.h"
#include "rrefsim/sim/chooser.h"

namespace rrefsim::cli {
namespace {

// The checkers' verdict on a counter line is not part of what PyTorch shows.
std::string WithoutExpectation(const std::string& what) {
  std::size_t at = what.find(" (expected ");
  return at == std::string::npos || what.back() != ')' ? what : what.substr(0, at);
}

}  // namespace

std::string FormatObservation(const std::string& name, const sim::RunResult& run, const std::string& note) {
  std::vector<sim::Observation> entries = run.observations;
  std::stable_sort(entries.begin(), entries.end(), [](const sim::Observation& a, const sim::Observation& b) {
    if (a.worker != b.worker) return a.worker < b.worker;
    return scenarios::NaturalLess(a.where, b.where);
  });
  std::string text = "observation " + name + "\noutcome " + sim::OutcomeName(run.outcome) + "\n";
  if (!note.empty()) text += "# " + note + "\n";
  for (const sim::Observation& o : entries) {
    text += "worker " + std::to_string(o.worker) + " " + o.where + ": " + WithoutExpectation(o.what) + "\n";
  }
  return text;
}

int RunObserve(const ObserveOptions& options) {
  scenarios::ScenarioSelection selection = scenarios::SelectScenarios(options.scenario);
  if (!selection.error.empty()) {
    std::fprintf(stderr, "rrefsim observe: %s\n", selection.error.c_str());
    return kExitBadInput;
  }
  if (selection.entries.size() != 1) {
    std::fprintf(stderr, "rrefsim observe: '%s' names %zu scenarios (expected one: a catalog name or a file)\n",
                 options.scenario.c_str(), selection.entries.size());
    return kExitBadInput;
  }
  const scenarios::CatalogEntry& entry = selection.entries.front();
  sim::FaultConfigResult faults = FaultsOf(CampaignOptions{}, entry);
  if (!faults.config) {
    std::fprintf(stderr, "rrefsim observe: %s\n", faults.error.c_str());
    return kExitBadInput;
  }
  sim::RunConfig config;
  config.faults = *faults.config;
  config.mode = core::ProtocolMode::kPytorch;
  sim::RandomChooser chooser(options.seed);
  // A plain run, no checker: a checker would stop it at the first violation, before the end PyTorch reaches.
  sim::RunResult run = sim::Run(entry.scenario, config, chooser);
  std::string note = "rrefsim pytorch mode, seed " + std::to_string(options.seed) + ", faults " + entry.faults +
                     ", virtual time " + std::to_string(run.end_time / 1000) + " ms";
  std::fputs(FormatObservation(entry.name, run, note).c_str(), stdout);
  return kExitOk;
}

}  // namespace rrefsim::cli
