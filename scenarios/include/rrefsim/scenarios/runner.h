// One checked run: a catalog entry on the simulator with every checker of checkers/ watching each step.
#pragma once

#include <vector>

#include "rrefsim/checkers/checker.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::scenarios {

struct CheckedRun {
  sim::RunResult run;
  // Every checker that fired at the failing step (or at the end), in CheckerIds order: the first names the failure.
  std::vector<checkers::Violation> violations;
  std::vector<checkers::Violation> expected_violations;  // known PyTorch defects the scenario declares
  bool failed() const { return !violations.empty(); }
};

// What the scenario declares legitimate (its expected end, assertions and known defects) and what the run's faults
// make legitimate, for the checkers.
checkers::CheckerConfig CheckerConfigOf(const CatalogEntry& entry, const sim::RunConfig& run);

// Whether `faults` are the scenario's own (its profile and overrides, nothing a campaign added).
bool RunsUnderOwnFaults(const CatalogEntry& entry, const sim::FaultConfig& faults);

// Runs `entry` under `config` with all checkers; the run stops at the first step where one fires. `also` (e.g. a
// trace recorder) sees the same records and views, after the checkers. Expectations that assume the scenario's own
// faults are judged only under them (sim::RunConfig::own_faults).
CheckedRun RunChecked(const CatalogEntry& entry, const sim::RunConfig& config, sim::Chooser& chooser,
                      checkers::RunObserver* also = nullptr);

}  // namespace rrefsim::scenarios
