// The search loop: run a branch (from the deepest snapshot on the path), take its verdict, move to the next branch,
// until the tree is done, a run fails, or the run budget is spent.
#include "rrefsim/explore/explore.h"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <utility>

#include "branch.h"
#include "message_ledger.h"
#include "persistent.h"
#include "probe.h"
#include "rrefsim/core/fingerprint.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/random.h"
#include "rrefsim/sim/world.h"

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

// One depth-first search within `bounds` (this search's depth and deviations).
Search RunSearch(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, const ExploreOptions& options,
                 const detail::SearchBounds& bounds, const detail::PersistenceHooks& persistence) {
  if (options.on_search_start) options.on_search_start();
  Search search;
  sim::RunConfig stepped = config;  // the branches' runs; a counterexample runs again under `config`
  stepped.every_step_is_a_choice = options.dpor;
  std::vector<detail::Node> path;
  detail::Visited visited;
  detail::ReductionStats races;
  const auto start = std::chrono::steady_clock::now();  // the explorer's own speed, outside the simulated world
  for (;;) {
    ++search.stats.runs;
    detail::Branch branch = detail::RunBranch(entry, stepped, options, path, visited, bounds, races, persistence);
    search.stats.deviation_held += branch.held;
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
      so_far.deviations = bounds.max_deviations.value_or(0);
      so_far.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options.on_progress(so_far);
    }
    if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed)) {
      search.interrupted = true;
      break;
    }
  }
  search.stats.distinct_states = visited.size();
  search.stats.deviations = bounds.max_deviations.value_or(0);
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
  total.deviation_held = more.deviation_held;
  total.deviations = more.deviations;
  total.max_depth = std::max(total.max_depth, more.max_depth);
  total.seconds += more.seconds;
}

// A deviation bound's search keeps sleep sets off: a schedule and its reordering by commuting steps can cost
// different deviations, so the one a sleep set leaves may lie outside the bound (Coons, Musuvathi and McKinley,
// "Bounded partial-order reduction", OOPSLA 2013). Symmetry is off too: a renaming of workers keeps the state but
// not the order of the options, which the bound counts by.
ExploreOptions Checked(const scenarios::CatalogEntry& entry, const ExploreOptions& given) {
  if (given.persistent_sets) {
    const Bounds& b = given.bounds;
    const char* with = given.dpor                ? "DPOR"
                       : given.shortest          ? "--shortest"
                       : b.max_depth != 0        ? "a depth bound"
                       : b.max_deviations        ? "a deviation bound"
                       : b.max_duplicates > 0 || b.max_drops > 0 ? "duplicates or drops"
                                                                 : nullptr;
    if (with != nullptr) {
      throw std::invalid_argument("explore " + entry.name + ": persistent sets do not combine with " + with +
                                  " (docs/explore.md, \"Persistent sets\")");
    }
  }
  if (given.persistent_sets && given.symmetry) {
    // Symmetry cuts a renamed state's subtree, so the ledger would learn only what the representative paths send, and
    // the argument that a search learning nothing saw every send is not made under renaming: off.
    ExploreOptions without = given;
    without.symmetry = false;
    return Checked(entry, without);
  }
  if (given.dpor && (given.shortest || given.bounds.max_depth != 0)) {
    throw std::invalid_argument("explore " + entry.name +
                                ": DPOR does not combine with a depth bound or --shortest (a run cut short hides the "
                                "races past its end)");
  }
  if (!given.bounds.max_deviations) return given;
  if (given.dpor || given.shortest) {
    throw std::invalid_argument("explore " + entry.name + ": a deviation bound does not combine with " +
                                (given.dpor ? std::string("DPOR") : std::string("--shortest")) +
                                " (it searches with 0, 1, ... deviations itself, fewest first)");
  }
  ExploreOptions options = given;
  options.sleep_sets = false;
  options.symmetry = false;
  return options;
}

// Whether the search just done is the last: iterative deepening goes on while the depth bound cut runs, and the
// deviation bound's searches while they held choices to the default, until the given bound.
bool LastSearch(const ExploreOptions& options, const ExploreResult& result, const ExploreStats& search,
                const detail::SearchBounds& bounds) {
  if (result.counterexample || !result.complete || result.interrupted) return true;
  if (options.bounds.max_deviations) {
    return search.deviation_held == 0 || *bounds.max_deviations == *options.bounds.max_deviations;
  }
  return !options.shortest || search.depth_cut == 0 || bounds.max_depth == options.bounds.max_depth;
}

// A program barrier's last arrival reads every worker's pending futures and users (the flush): a step at one worker
// can change whether another worker's arrival opens it, which the persistent sets' analysis of one worker cannot see.
bool UsesProgramBarriers(const sim::Scenario& scenario) {
  for (const sim::Block& program : scenario.programs) {
    if (sim::TopLevelBarriers(program) > 0) return true;
  }
  return false;
}

// Notes every message a run sends, with the copies of it the run sent so far, in a ledger.
class LedgerSeeder : public checkers::RunObserver {
 public:
  explicit LedgerSeeder(detail::MessageLedger& ledger) : ledger_(ledger) {}
  void OnRecord(const checkers::StepRecord& record) override {
    if (record.kind != checkers::RecordKind::kSend || record.message == nullptr) return;
    const std::uint64_t message = core::MessageFingerprint(*record.message);
    sent_.Add(message);
    ledger_.Note(message, *record.message, sent_.Count(message));
  }
  bool OnStepEnd(const checkers::GlobalView&) override { return true; }

 private:
  detail::MessageLedger& ledger_;
  detail::SentOnPath sent_;
};

// Random where the search branches (steps, workloads) and option 0 where it does not (faults: persistent sets run
// without fault bounds, and the search takes the first option of every other choice), so that a seed run is one of
// the runs the search explores.
class ScheduleChooser : public sim::Chooser {
 public:
  explicit ScheduleChooser(std::uint64_t seed) : rng_(seed) {}

 protected:
  std::uint64_t Pick(const sim::ChoiceRequest& request) override {
    const bool branches = request.kind == sim::ChoiceKind::kStep || request.kind == sim::ChoiceKind::kWorkload;
    return branches ? rng_.Below(request.options) : 0;
  }

 private:
  sim::Rng rng_;
};

// The persistent sets' analysis and the ledger it learns, across the rounds of one exploration.
class Persistence {
 public:
  explicit Persistence(const ExploreOptions& options) : options_(options) {}
  // The search's hooks; none when persistent sets are off (or were turned off).
  detail::PersistenceHooks hooks() {
    if (sets_ == nullptr) return {};
    return {&ledger_, sets_.get(), round_};
  }
  void Start(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, ExploreStats& stats) {
    if (!options_.persistent_sets) return;
    if (UsesProgramBarriers(entry.scenario)) {
      stats.persistent_off = "the scenario has program barriers, whose flush reads every worker";
      return;
    }
    sets_ = std::make_unique<detail::PersistentSets>(ledger_, options_.persistent_max_local_states,
                                                     options_.persistent_cache, options_.persistent_blind_to_messages);
    Seed(entry, config);
  }
  // The ledger's first messages, from random runs among those the search explores (seeds 1, 2, ...: the same ledger
  // every time). Each is a message a run sends, so they only widen what the analysis assumes; a first search that
  // starts with all it will send learns nothing and stands alone, where one that learns must run again.
  void Seed(const scenarios::CatalogEntry& entry, const sim::RunConfig& config) {
    for (std::uint64_t seed = 1; seed <= options_.persistent_seed_runs; ++seed) {
      ScheduleChooser chooser(seed);
      LedgerSeeder seeder(ledger_);
      sim::Run(entry.scenario, config, chooser, &seeder);
    }
    ledger_.StartNextRound();
  }
  // After a search that ended complete and clean: whether its verdict needs another round, which it prepares.
  bool AnotherRound(ExploreStats& stats) {
    if (sets_ == nullptr) return false;
    Note(stats);
    const char* off = ledger_.abort_seen()            ? "a worker aborted, a step that reaches every worker"
                      : ledger_.unanswered_response() ? "a response was sent whose request was not"
                      : ledger_.slot_broken() ? "a message took a request's id, or answered a request, a second time"
                      : ledger_.learned() && round_ == kMaxRounds
                          ? "the ledger still learned messages after the most searches allowed"
                          : nullptr;
    if (off != nullptr) {  // the search runs again without persistent sets
      stats.persistent_off = off;
      sets_.reset();
      return true;
    }
    if (!ledger_.learned()) return false;
    ledger_.StartNextRound();
    sets_->ForgetVerdicts();
    ++round_;
    return true;
  }
  void Note(ExploreStats& stats) const {
    if (sets_ == nullptr) return;
    stats.persistent_singletons = sets_->singletons();
    stats.persistent_worker_sets = sets_->worker_sets();
    stats.persistent_none = sets_->none();
    stats.analysis_states = sets_->local_states();
    stats.analysis_cache_hits = sets_->cache_hits();
    stats.ledger_messages = ledger_.size();
  }

 private:
  const ExploreOptions& options_;
  detail::MessageLedger ledger_;
  std::unique_ptr<detail::PersistentSets> sets_;
  std::uint32_t round_ = 1;
  static constexpr std::uint32_t kMaxRounds = 12;
};

}  // namespace

std::vector<std::string> ExploreFaultOverrides(const Bounds& bounds) {
  std::vector<std::string> overrides = {"delay_min_ms=0", "delay_max_ms=0", std::string("heal_min_ms=") + kWholeRun,
                                        std::string("heal_max_ms=") + kWholeRun};
  if (bounds.max_duplicates > 0) overrides.push_back("duplicate=0.5");
  if (bounds.max_drops > 0) overrides.push_back("drop=0.5");
  return overrides;
}

ExploreResult Explore(const scenarios::CatalogEntry& entry, const ExploreOptions& given, core::ProtocolMode mode) {
  const ExploreOptions options = Checked(entry, given);
  ExploreResult result;
  result.fault_overrides = entry.fault_overrides;
  for (std::string& o : ExploreFaultOverrides(options.bounds)) result.fault_overrides.push_back(std::move(o));
  sim::FaultConfigResult faults = sim::MakeFaultConfig(entry.faults, result.fault_overrides);
  if (!faults.config) throw std::invalid_argument("explore " + entry.name + ": " + faults.error);
  result.config.faults = *faults.config;
  result.config.mode = mode;
  // Fiber positions are kept (a counter per op) for state hashing, which keys on them, and for a caller's invariant,
  // which may too (the deviation bound's tests compare the states that two searches step through).
  result.config.fingerprints = (options.state_hashing && !options.dpor) || options.extra_invariant != nullptr;
  // As scenarios::RunChecked decides it: the branches run the stepwise world directly, the counterexample on fibers.
  result.config.own_faults = scenarios::RunsUnderOwnFaults(entry, result.config.faults);

  // Iterative deepening: the first bound that shows a failure shows one of the fewest choice points; so for
  // deviations.
  detail::SearchBounds bounds;
  bounds.max_depth = options.shortest ? 1 : options.bounds.max_depth;
  if (options.bounds.max_deviations) bounds.max_deviations = 0;
  Persistence persistence(options);
  persistence.Start(entry, result.config, result.stats);
  for (;;) {
    Search search = RunSearch(entry, result.config, options, bounds, persistence.hooks());
    ++result.stats.message_rounds;
    Add(result.stats, search.stats);
    for (checkers::Violation& v : search.expected_seen) {
      bool known = false;
      for (const checkers::Violation& s : result.expected_seen) known = known || s.checker == v.checker;
      if (!known) result.expected_seen.push_back(std::move(v));
    }
    result.complete = search.complete;
    result.interrupted = search.interrupted;
    result.counterexample = std::move(search.counterexample);
    if (bounds.max_deviations && result.complete && !result.counterexample) {
      result.clean_within_deviations = bounds.max_deviations;
    }
    // A counterexample is a run that happened, whatever the ledger assumed; an incomplete search gives no verdict.
    if (result.complete && !result.counterexample && !result.interrupted && persistence.AnotherRound(result.stats)) {
      result.stats.distinct_states -= search.stats.distinct_states;  // a round's states are counted again next round
      continue;
    }
    persistence.Note(result.stats);
    if (LastSearch(options, result, search.stats, bounds)) break;
    if (bounds.max_deviations) {
      ++*bounds.max_deviations;
    } else {
      ++bounds.max_depth;
    }
  }
  return result;
}

}  // namespace rrefsim::explore
