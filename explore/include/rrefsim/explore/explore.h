// Exhaustive exploration of one scenario: every schedule (and every placement of at most D duplicates and L drops)
// of a bounded run, enumerated depth first through the same sim::Chooser interface the random and PCT strategies
// use, with every checker of checkers/ watching every step (docs/explore.md).
//
// The network is the asynchronous one: every message is due as soon as it is sent, so which in-flight message is
// delivered next, and when relative to the programs' steps, is entirely the kStep choice. That holds every order the
// `reorder` profile's delays can produce (its 25 ms are far below any RPC timeout). The world runs without fibers
// (sim::SteppedRun) and is copied at each step choice; a branch starts from the copy at its branch point instead of
// replaying its prefix from the start. The search is pruned by a hash of the world's state (sim::StateFingerprint)
// and by sleep sets over deliveries to different workers. A counterexample is run again from the start on fibers
// (sim::Run), so it is a normal run with a normal choice list.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/symmetry.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore {

struct Bounds {
  int max_duplicates = 0;        // D: duplicated messages per run
  int max_drops = 0;             // L: lost messages per run
  std::uint64_t max_depth = 0;   // choice points per run (0: no bound; runs end by themselves or at max_steps)
  // K: deviations per run from the default schedule (delay bounding, Emmi, Qadeer and Rakamaric, POPL 2011). The
  // default schedule takes the first option at every step choice: the ready fibers in the order they became ready,
  // then the oldest message due. A deviation is a step choice that takes another option, whichever. Runs keep
  // their full length, so a scenario too big to search in full gets a complete statement about every schedule
  // within K deviations, and a counterexample is searched for with 0, 1, ... K deviations, fewest first. Unset: no
  // bound. Sleep sets are off under it (two orders of commuting steps can cost different deviations), and it does
  // not combine with DPOR or `shortest` (docs/explore.md, "The deviation bound").
  std::optional<std::uint32_t> max_deviations;
};

// A caller's invariant that the search can copy with its history, as it copies the world and the checkers.
class ExtraInvariant : public checkers::RunObserver {
 public:
  virtual std::unique_ptr<ExtraInvariant> Clone() const = 0;
  // Its memory of the run so far, as the state of a monitor: state hashing treats two visits to one world state
  // with different memories as different states, so an invariant about the history (an order of events) is checked
  // on every history, not only on the first one that reached the state.
  virtual std::uint64_t Fingerprint() const = 0;
};

struct ExploreStats {
  std::uint64_t runs = 0;             // branches explored (each from a snapshot of the world, or the start)
  std::uint64_t transitions = 0;      // steps explored past the branch point: the edges of the search
  // Steps re-executed to reach a branch point: from the snapshot before the step choice that leads to it, so one
  // step when the branch point is a fault choice inside that step, and none when it is the step choice itself.
  std::uint64_t replayed_steps = 0;
  std::uint64_t distinct_states = 0;  // fingerprints seen (0 without state hashing)
  std::uint64_t revisits = 0;         // runs cut at a state already explored
  std::uint64_t sleep_pruned = 0;     // runs cut because every enabled step was asleep
  std::uint64_t depth_cut = 0;        // runs cut at the depth bound: the search is complete only within it
  // Step choices held to their first option because the run had spent its deviations: when none were, the last
  // search covered every schedule, as if without the deviation bound.
  std::uint64_t deviation_held = 0;
  std::uint32_t deviations = 0;       // under a deviation bound: the bound of the last search (fewest first)
  std::uint64_t races = 0;            // DPOR: pairs of dependent steps that could have run the other way round
  std::uint64_t race_branches = 0;    // DPOR: branches those races added (the others were covered already)
  std::uint64_t max_depth = 0;        // the most choice points on one run
  // Persistent sets (ExploreOptions::persistent_sets), over every round: new states where one step was taken
  // alone, where all the steps of one worker were (more than one, fewer than all), where no set could be; the states
  // the analysis played on copies; the verdicts found in its cache.
  std::uint64_t persistent_singletons = 0;
  std::uint64_t persistent_worker_sets = 0;
  std::uint64_t persistent_none = 0;
  std::uint64_t analysis_states = 0;
  std::uint64_t analysis_cache_hits = 0;
  // The searches run: with persistent sets, one more each time a search sent a message its ledger did not allow
  // (only the last, which sent none, gives the verdict), and the ledger's size then.
  std::uint32_t message_rounds = 0;
  std::uint64_t ledger_messages = 0;
  // Persistent sets were asked for but not used: why ("program barriers", "a worker aborted", ...), empty otherwise.
  std::string persistent_off;
  double seconds = 0;
  double states_per_second() const { return seconds > 0 ? static_cast<double>(transitions) / seconds : 0; }
};

inline constexpr std::uint64_t kProgressRuns = 65536;

struct ExploreOptions {
  Bounds bounds;
  bool state_hashing = true;     // prune states already explored (with at least the same budget left)
  bool sleep_sets = true;        // prune reorderings of deliveries to different workers
  // Dynamic partial-order reduction (source-DPOR, Abdulla et al. 2014) instead of state hashing: a stateless search
  // that runs one schedule per class of schedules equivalent up to reordering independent steps, adding a branch
  // only where a run showed two dependent steps that could have run the other way round (docs/explore.md). It uses
  // sleep sets and ignores state_hashing; it does not combine with a depth bound or `shortest`, as a run cut short
  // hides the races past its end.
  bool dpor = false;
  std::uint64_t max_runs = 0;    // 0: no budget; with one, the search may end incomplete
  // Search for the shortest counterexample: iterative deepening over max_depth (1, 2, 4, ... up to the bound).
  bool shortest = false;
  // Called with every run that reached its end (not cut short): for tests that compare what searches reach.
  std::function<void(const scenarios::CheckedRun&)> on_complete_run;
  // Called as each search starts (iterative deepening, deviations, persistent sets' rounds): a test that compares
  // what the last search reached forgets what it collected before.
  std::function<void()> on_search_start;
  // Read after every run: once it holds true, the search stops where it is, incomplete and `interrupted`, and
  // reports what it did so far (the command line sets it on SIGINT and SIGTERM).
  const std::atomic<bool>* stop = nullptr;
  // Called every kProgressRuns runs with the statistics so far (distinct states and seconds included): for a
  // progress line on long searches.
  std::function<void(const ExploreStats&)> on_progress;
  // An invariant of the caller's own (a test's seeded toy bug), watching every run beside the checkers: a run it
  // stops (OnStepEnd returns false) is a counterexample, reported as checker "extra_invariant". The search runs
  // copies of it (ExtraInvariant::Clone), started at the root by OnStart and copied with the world at each snapshot.
  const ExtraInvariant* extra_invariant = nullptr;
  // Persistent sets (docs/explore.md, "Persistent sets"; explore/src/persistent.h): at each new state, a step at some
  // worker that commutes with everything that worker can do before it is taken alone; where there is none, all the
  // steps of one worker that commute with everything else it can do before them. The messages that
  // can reach a worker are learned: a search that sends one its ledger does not allow is run again with it, and only
  // a search that sends none stands. Not with DPOR, a depth or deviation bound, `shortest`, fault bounds (duplicates
  // and drops), or a scenario with program barriers; a search that sees a worker abort is run again without them.
  // Symmetry is off under them.
  bool persistent_sets = false;
  // Tests only: the analysis's cache of verdicts by the worker's part of the world (off: every state analysed), and
  // how many states one worker's analysis may reach before it gives the step up.
  bool persistent_cache = true;
  std::size_t persistent_max_local_states = 4096;
  // The random runs (seeds 1..N) whose messages start the ledger before the first search (0: it starts empty).
  std::uint64_t persistent_seed_runs = 200;
  // Tests only, unsound on purpose: the analysis leaves out the messages still to come (persistent_test.cc shows the
  // oracle catching it).
  bool persistent_blind_to_messages = false;
  // Tests only: called at each state where a persistent set was taken, with the search's round (1, 2, ...: only the
  // last one's sets stand, ExploreStats::message_rounds), the state (the world's sim::StateFingerprint and the
  // checkers' memory, CheckerSet::Fingerprint) and the set's steps (sim::StepIdentity), in option order.
  std::function<void(std::uint32_t round, std::uint64_t world, std::uint64_t memory,
                     const std::vector<std::uint64_t>& steps)>
      on_persistent_set;
  // Symmetry reduction (docs/explore.md): states are keyed by their canonical fingerprint over the scenario's group
  // of interchangeable workers (sim::ScenarioSymmetry); nothing changes for a scenario whose group is the identity.
  // Off with an extra_invariant, whose memory may tell workers apart.
  bool symmetry = true;
};


struct ExploreResult {
  ExploreStats stats;
  bool complete = false;  // every schedule within the bounds was covered (no run budget ran out)
  bool interrupted = false;  // ExploreOptions::stop ended it
  // Under a deviation bound: the most deviations whose search (one of 0, 1, ...) ended complete without a
  // counterexample, so that a later search cut short by the run budget or a stop request loses no statement.
  std::optional<std::uint32_t> clean_within_deviations;
  // The first failing run (shortest with ExploreOptions::shortest): its choices replay it under `config`.
  std::optional<scenarios::CheckedRun> counterexample;
  // Known PyTorch defects the scenario declares (CatalogEntry::expected_violations) that some schedule showed:
  // checker id and the first text, once per checker.
  std::vector<checkers::Violation> expected_seen;
  sim::RunConfig config;                 // the configuration every run used
  std::vector<std::string> fault_overrides;  // the explorer's fault settings, after the scenario's own
};

// The explorer's fault settings for `bounds`: zero delays (reordering is the step choice), a fault phase that
// lasts the whole run, and duplicate/drop switched on when their bound allows any (the bound, not the probability,
// limits them). Appended to the scenario's own overrides; MakeFaultConfig(profile, those) gives the run's faults,
// so a counterexample's trace records them like any other run's.
std::vector<std::string> ExploreFaultOverrides(const Bounds& bounds);

// Explores `entry` with its fault profile and overrides plus ExploreFaultOverrides, in protocol mode `mode`.
// Throws std::invalid_argument when the resulting fault settings are invalid.
ExploreResult Explore(const scenarios::CatalogEntry& entry, const ExploreOptions& options,
                      core::ProtocolMode mode = core::ProtocolMode::kPytorch);

}  // namespace rrefsim::explore
