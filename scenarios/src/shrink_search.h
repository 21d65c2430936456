// Internal to the shrinker: the current smallest failing run, the test that decides whether a candidate replaces
// it, and the reduction passes (shrink_choices.cc: faults and choices; shrink_scenario.cc: the scenario).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/traces/trace.h"

namespace rrefsim::scenarios::shrink {

// A run's inputs: what a trace needs besides its seed.
struct Candidate {
  CatalogEntry entry;
  traces::TraceConfig config;
  std::vector<sim::Choice> choices;
};

// What a kept candidate must make smaller, compared in this order: the run's records (a trace's events) plus the
// scenario's ops, functions, workers and counter expectations plus FaultWeight; then the non-zero picks; then the
// choices; then the scenario's JSON text. A strict decrease at every kept candidate is what ends the search.
using Cost = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t>;

// How far the faults are from the plainest: overrides, a profile other than reorder, and each setting that could be
// made plainer (a rate above 0, a delay or heal time drawn from a range).
std::size_t FaultWeight(const traces::TraceConfig& config);

class Search {
 public:
  // `seed` derives the fresh schedules that some passes try.
  Search(Candidate start, std::string checker, std::uint64_t seed, std::chrono::steady_clock::time_point deadline);
  // Runs `candidate` (if its scenario and config are valid) with a lenient replay of its choices. When the first
  // violation is the checker's, the candidate, its scenario as the reader returns it and the choices the run made
  // become the current run, if that costs less than the current run: true.
  bool Try(Candidate candidate);
  // The same, with the choices made by `chooser` instead (a fresh random schedule, say).
  bool Try(Candidate candidate, sim::Chooser& chooser);
  const Candidate& current() const { return current_; }
  std::uint64_t seed() const { return seed_; }
  // The search's wall-clock budget (--time-limit), outside every simulated run: each candidate run stays a pure
  // function of its inputs; only how many candidates are tried depends on the machine, so a search that stops at
  // its deadline may end elsewhere than one that reaches its fixpoint.
  bool expired() const { return std::chrono::steady_clock::now() >= deadline_; }
  std::uint64_t tried() const { return tried_; }
  std::uint64_t kept() const { return kept_; }

 private:
  Candidate current_;
  std::optional<Cost> cost_;  // of the current run; none before the first Try
  std::uint64_t steps_ = 0;   // of the current run
  std::string checker_;
  std::uint64_t seed_;
  std::chrono::steady_clock::time_point deadline_;
  std::uint64_t tried_ = 0;
  std::uint64_t kept_ = 0;
};

// An edit of the current run: the i-th candidate of a pass, or false when the i-th edit changes nothing. `count`
// bounds i for the current run.
struct Pass {
  const char* name;
  std::size_t (*count)(const Candidate&);
  bool (*edit)(const Candidate&, std::size_t i, Candidate* out);
};

// Tries every edit of `pass` in order, each with a lenient replay and then a few fresh schedules; after a kept edit
// the same index is tried again on the new current run (a deletion shifts what follows). True when something was kept.
bool RunPass(Search& search, const Pass& pass);

// Zeroes chunks of the non-zero picks, halving the chunk size down to one pick (ddmin's deletion of complements,
// without its re-merging). True when something was kept.
bool CutChoices(Search& search);

// Runs the current scenario and faults under `schedules` fresh random choosers (seeds derived from `seed`), as a
// seed search by hand would: a shorter failure from another schedule is kept. True when something was kept.
bool Reseed(Search& search, std::uint64_t schedules);

// The passes over faults (shrink_choices.cc) and over the scenario (shrink_scenario.cc), in the order they run.
const std::vector<Pass>& FaultPasses();
const std::vector<Pass>& ScenarioPasses();

// Every op list of the scenario: programs, then function bodies, each followed by its nested then/else lists.
std::vector<std::vector<sim::Op>*> Blocks(CatalogEntry& entry);
std::size_t CountOps(const CatalogEntry& entry);

}  // namespace rrefsim::scenarios::shrink
