// What a campaign reports: one line per seed and the counts of a scenario or a whole campaign, as JSON Lines
// (docs/results-format.md) and as text. `rrefsim merge` rebuilds the same counts from the JSON lines of shards.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "campaign_coverage.h"
#include "seed_result.h"

namespace rrefsim::cli {

// One seed's line: everything but `elapsed_us` is a pure function of the seed and the campaign's flags.
struct SeedLine {
  std::string scenario;
  std::uint64_t seed = 0;
  std::string outcome;
  std::string verdict;    // the first violated checker, or "" (null)
  std::string violation;  // "checker: text (step N)", or "" (null)
  std::vector<std::string> expected_defects;  // checkers the scenario declares that fired (not failures)
  std::uint64_t run_hash = 0, delivery_order_hash = 0, steps = 0, messages = 0;
  std::uint64_t calls_issued = 0, calls_returned = 0, calls_raised = 0;  // sim::RunResult's application RPCs
  bool rechecked = false;
  std::uint64_t elapsed_us = 0;  // timing
};

SeedLine LineOf(const std::string& scenario, const SeedResult& result);
std::string SeedLineJson(const SeedLine& line);
// A line written by SeedLineJson, or nullopt with `error` set.
std::optional<SeedLine> ParseSeedLine(const std::string& text, std::string& error);

struct Tally {
  std::uint64_t runs = 0, failures = 0, steps = 0, messages = 0, run_us = 0;
  std::uint64_t calls_issued = 0, calls_returned = 0, calls_raised = 0;
  std::map<std::string, std::uint64_t> failures_by_invariant;
  std::map<std::string, std::uint64_t> expected_defect_runs;
  std::set<std::uint64_t> failing_seeds, run_hashes, delivery_orders;
  // Not in the seed lines (too big for every line): summed from each seed's result, and by merge from the summaries.
  bool coverage_counted = false;  // --coverage: the summary holds `coverage`
  checkers::CoverageCounts coverage;
  std::map<std::string, PctStats> pct;  // by scenario; empty unless --strategy pct
  void Add(const SeedLine& line);
  void Add(const Tally& other);
};

struct SummaryStatus {
  bool interrupted = false;
  bool max_failures_reached = false;
  std::uint64_t wall_us = 0;  // timing
  std::uint64_t shard_index = 0, shard_count = 1;  // --shard I/N (0/1 unsharded, and after merge)
  std::string protocol = "pytorch";  // --protocol
};
std::string SummaryJson(const Tally& tally, const SummaryStatus& status);
// Reads the status of a summary line written by SummaryJson (for merge), or nullopt.
std::optional<SummaryStatus> ParseSummaryStatus(const std::string& text);
// The coverage (if the campaign counted it: `counted`) and PCT counts of a summary line, into `tally` (for merge);
// false with `error` for bad ones.
bool AddSummaryCounts(const std::string& text, Tally& tally, bool& counted, std::string& error);

// The campaign-wide text summary: runs, failures by invariant, distinct failing seeds, application RPCs, rates.
void PrintHumanSummary(const Tally& tally, std::size_t scenarios, int threads, double seconds);
// "  application RPCs: N issued; R returned, E raised an error (x%), H never ended", when any was issued.
void PrintCalls(const Tally& tally);

}  // namespace rrefsim::cli
