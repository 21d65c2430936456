// One branch of the search: the world restored from the deepest snapshot on the path (or started at the root), the
// path replayed from there and extended until the run ends or the probe cuts it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "probe.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/stepped_run.h"

namespace rrefsim::explore::detail {

// The world before a step choice, with the checkers' and the caller's invariant's history and the faults taken.
struct Snapshot {
  sim::SteppedRun world;
  checkers::CheckerSet checkers;
  std::unique_ptr<ExtraInvariant> extra;
  int duplicates = 0;
  int drops = 0;
};

struct Branch {
  std::optional<scenarios::CheckedRun> run;  // the run reached its end (its choices are the path's)
  std::optional<Cut::Why> cut;               // or the probe cut it short
  std::uint64_t new_steps = 0;               // steps past the replayed part: transitions of the search
  std::uint64_t replayed_steps = 0;          // steps from the snapshot to the changed choice (0 or 1)
  std::uint64_t depth = 0;                   // choice points on the run
  bool failed = false;                       // a checker or the caller's invariant fired
};

Branch RunBranch(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, const ExploreOptions& options,
                 std::vector<Node>& path, Visited& visited, std::uint64_t max_depth, ReductionStats& races);

// The choices of path[0, depth) as a run on fibers makes them: without the single-option step choices that only
// DPOR's runs ask for (RunConfig::every_step_is_a_choice).
std::vector<sim::Choice> ChoicesOf(const std::vector<Node>& path, std::size_t depth);
// Their number, ChoicesOf(path, depth).size(), without building them: every branch reports its depth.
std::uint64_t ChoiceCount(const std::vector<Node>& path, std::size_t depth);

// The failing run of a branch, run again from the start on fibers (sim::Run) with the branch's choices: the normal
// run that the counterexample's trace records. Throws std::logic_error when it does not fail as the branch did.
scenarios::CheckedRun ReplayOnFibers(const scenarios::CatalogEntry& entry, const sim::RunConfig& config,
                                     const ExploreOptions& options, const std::vector<sim::Choice>& choices);

}  // namespace rrefsim::explore::detail
