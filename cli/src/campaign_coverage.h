// What a campaign covered (docs/coverage.md): the (message type x receiver state) pairs its runs reached, and for
// PCT the bug-depth bound of Burckhardt et al. that its runs give, per scenario. Both go into the summary line, from
// which `rrefsim merge` adds up the shards.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "rrefsim/checkers/coverage.h"

namespace rrefsim::cli {

// One scenario's PCT runs: the quantities of the bound (sim/pct_bound.h).
struct PctStats {
  int depth = 0;                         // --pct-depth: d
  std::uint64_t change_point_steps = 0;  // change points are drawn in [1, this] (CalibratePctSteps)
  std::uint64_t runs = 0;                // R
  std::uint64_t max_steps = 0;           // the most steps (kStep choices with items) one run took
  std::uint64_t max_items = 0;           // the most distinct items (fibers and messages) one run offered: n
  bool one_run_per_program = false;      // --generate: every seed is another program, so R is 1 per program
  void Add(const PctStats& other);
};

// The statement of one scenario: "depth 3 bugs: found with probability >= ..." or why no bound applies.
std::string PctStatement(const PctStats& stats);

// The summary's "coverage" object: totals, and the count of every pair seen, in universe order.
nlohmann::ordered_json CoverageJson(const checkers::CoverageCounts& counts);
// The summary's "pct" object: per scenario, the quantities and the bound they give.
nlohmann::ordered_json PctJson(const std::map<std::string, PctStats>& pct);
// The inverses, for merge: nullopt with `error` naming the field at fault.
std::optional<checkers::CoverageCounts> ParseCoverageJson(const nlohmann::ordered_json& j, std::string& error);
std::optional<std::map<std::string, PctStats>> ParsePctJson(const nlohmann::ordered_json& j, std::string& error);

// The text report: one line of totals, then every pair of the universe with its count (unseen ones marked,
// impossible ones with their reason).
void PrintCoverage(const checkers::CoverageCounts& counts);

}  // namespace rrefsim::cli
