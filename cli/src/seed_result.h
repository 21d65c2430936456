// The result of one seed of a campaign, as a worker thread hands it to the thread that reports in seed order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "rrefsim/checkers/coverage.h"
#include "rrefsim/scenarios/runner.h"

namespace rrefsim::cli {

struct SeedResult {
  std::uint64_t seed = 0;
  scenarios::CheckedRun checked;  // a passing run's choices, observations and views are dropped (only traces need them)
  std::string failure;            // the first violation, "checker: text (step N)", or "" when the run passed
  std::string checker;            // the first violated checker, or ""
  std::uint64_t elapsed_us = 0;   // wall clock of the run, for rates only
  bool rechecked = false;         // --recheck ran it a second time
  std::optional<std::uint64_t> recheck_hash;  // the second run's hash, when it differs from the first
  std::string error;              // what the run threw (an internal error), or ""
  checkers::CoverageCounts coverage;  // (message type x receiver state) pairs of the run (docs/coverage.md)
  std::uint64_t pct_steps = 0;        // --strategy pct: the run's steps and distinct items, as PctChooser counts them
  std::uint64_t pct_items = 0;
};

}  // namespace rrefsim::cli
