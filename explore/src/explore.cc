// The search loop: run a branch (from the deepest snapshot on the path), take its verdict, move to the next branch,
// until the tree is done, a run fails, or the run budget is spent.
#include "rrefsim/explore/explore.h"

#include <chrono>
#include <stdexcept>
#include <utility>

#include "branch.h"
#include "probe.h"
#include "rrefsim/sim/network.h"

namespace rrefsim::explore {
namespace {

// The phase of faults lasts the whole run (an hour of virtual time, RunConfig::max_time), so the bounds alone decide
// how many faults a run gets; the probabilities only switch the choices on.
constexpr const char* kWholeRun = "3600000";

struct Search {
  ExploreStats stats;
  bool complete = false;
  bool interrupted = false;
  std::optional<scenarios::CheckedRun> counterexample;
  std::vector<checkers::Violation> expected_seen;
};

void NoteExpected(const scenarios::CheckedRun& run, std::vector<checkers::Violation>& seen) {
  for (const checkers::Violation& v : run.expected_violations) {
    bool known = false;
    for (const checkers::Violation& s : seen) known = known || s.checker == v.checker;
    if (!known) seen.push_back(v);
  }
}

// One depth-first search with depth bound `max_depth` (0: none).
Search RunSearch(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, const ExploreOptions& options,
                 std::uint64_t max_depth) {
  Search search;
  sim::RunConfig stepped = config;  // the branches' runs; a counterexample runs again under `config`
  stepped.every_step_is_a_choice = options.dpor;
  std::vector<detail::Node> path;
  detail::Visited visited;
  detail::ReductionStats races;
  const auto start = std::chrono::steady_clock::now();  // the explorer's own speed, outside the simulated world
  for (;;) {
    ++search.stats.runs;
    detail::Branch branch = detail::RunBranch(entry, stepped, options, path, visited, max_depth, races);
    if (branch.run) {
      NoteExpected(*branch.run, search.expected_seen);
      if (options.on_complete_run) options.on_complete_run(*branch.run);
      if (branch.failed) search.counterexample = detail::ReplayOnFibers(entry, config, options, branch.run->run.choices);
    } else {
      switch (*branch.cut) {
        case detail::Cut::Why::kRevisit:
          ++search.stats.revisits;
          break;
        case detail::Cut::Why::kAsleep:
          ++search.stats.sleep_pruned;
          break;
        case detail::Cut::Why::kDepth:
          ++search.stats.depth_cut;
          break;
      }
    }
    search.stats.replayed_steps += branch.replayed_steps;
    search.stats.transitions += branch.new_steps;
    search.stats.max_depth = std::max<std::uint64_t>(search.stats.max_depth, branch.depth);
    if (search.counterexample) break;
    if (!detail::Backtrack(path)) {
      search.complete = true;
      break;
    }
    if (options.max_runs != 0 && search.stats.runs >= options.max_runs) break;
    if (options.on_progress && search.stats.runs % kProgressRuns == 0) {
      ExploreStats so_far = search.stats;
      so_far.distinct_states = visited.size();
      so_far.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options.on_progress(so_far);
    }
    if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed)) {
      search.interrupted = true;
      break;
    }
  }
  search.stats.distinct_states = visited.size();
  search.stats.races = races.races;
  search.stats.race_branches = races.branches;
  search.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return search;
}

void Add(ExploreStats& total, const ExploreStats& more) {
  total.runs += more.runs;
  total.transitions += more.transitions;
  total.replayed_steps += more.replayed_steps;
  total.distinct_states += more.distinct_states;
  total.revisits += more.revisits;
  total.sleep_pruned += more.sleep_pruned;
  total.races += more.races;
  total.race_branches += more.race_branches;
  total.depth_cut = more.depth_cut;  // the last search's: whether the final bound cut anything
  total.max_depth = std::max(total.max_depth, more.max_depth);
  total.seconds += more.seconds;
}

}  // namespace

std::vector<std::string> ExploreFaultOverrides(const Bounds& bounds) {
  std::vector<std::string> overrides = {"delay_min_ms=0", "delay_max_ms=0", std::string("heal_min_ms=") + kWholeRun,
                                        std::string("heal_max_ms=") + kWholeRun};
  if (bounds.max_duplicates > 0) overrides.push_back("duplicate=0.5");
  if (bounds.max_drops > 0) overrides.push_back("drop=0.5");
  return overrides;
}

ExploreResult Explore(const scenarios::CatalogEntry& entry, const ExploreOptions& options, core::ProtocolMode mode) {
  if (options.dpor && (options.shortest || options.bounds.max_depth != 0)) {
    throw std::invalid_argument("explore " + entry.name +
                                ": DPOR does not combine with a depth bound or --shortest (a run cut short hides the "
                                "races past its end)");
  }
  ExploreResult result;
  result.fault_overrides = entry.fault_overrides;
  for (std::string& o : ExploreFaultOverrides(options.bounds)) result.fault_overrides.push_back(std::move(o));
  sim::FaultConfigResult faults = sim::MakeFaultConfig(entry.faults, result.fault_overrides);
  if (!faults.config) throw std::invalid_argument("explore " + entry.name + ": " + faults.error);
  result.config.faults = *faults.config;
  result.config.mode = mode;
  result.config.fingerprints = options.state_hashing && !options.dpor;
  // As scenarios::RunChecked decides it: the branches run the stepwise world directly, the counterexample on fibers.
  result.config.own_faults = scenarios::RunsUnderOwnFaults(entry, result.config.faults);

  // Iterative deepening: the first bound that shows a failure shows one of the fewest choice points.
  std::uint64_t depth = options.shortest ? 1 : options.bounds.max_depth;
  for (;;) {
    Search search = RunSearch(entry, result.config, options, depth);
    Add(result.stats, search.stats);
    for (checkers::Violation& v : search.expected_seen) {
      bool known = false;
      for (const checkers::Violation& s : result.expected_seen) known = known || s.checker == v.checker;
      if (!known) result.expected_seen.push_back(std::move(v));
    }
    result.complete = search.complete;
    result.interrupted = search.interrupted;
    result.counterexample = std::move(search.counterexample);
    const bool last = !options.shortest || result.counterexample || !search.complete || search.interrupted ||
                      search.stats.depth_cut == 0 || depth == options.bounds.max_depth;
    if (last) break;
    ++depth;
  }
  return result;
}

}  // namespace rrefsim::explore
