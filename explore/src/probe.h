// The explorer's side of one branch: a Chooser that replays the current path from a choice point (the root, or a
// snapshot of the world there) and extends it (first allowed option at each new choice point). At each new step
// choice it hashes the world's state and cuts the branch when the state was explored before, when every enabled step
// is asleep, or at the depth bound; otherwise it keeps a snapshot of the world there (docs/explore.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/checkers/global_view.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/symmetry.h"
#include "rrefsim/sim/world.h"
#include "message_ledger.h"
#include "state_table.h"

namespace rrefsim::explore::detail {

// The world (and everything that watches it) where a step choice is about to be made: branch.cc.
struct Snapshot;

// What DPOR's race analysis did (dpor.h): the races it found and the branches they added.
struct ReductionStats {
  std::uint64_t races = 0;
  std::uint64_t branches = 0;
};

// One choice point of the current path.
struct Node {
  sim::ChoiceKind kind = sim::ChoiceKind::kStep;
  std::uint64_t options = 0;
  std::uint64_t pick = 0;
  std::uint64_t limit = 0;             // picks in [0, limit) are within the bounds
  // kStep, per option, when a persistent set (ExploreOptions::persistent_sets) was taken here: whether the set left
  // it out. Such options are never explored, so never asleep below this choice. Empty without a set.
  std::vector<char> left_out;
  // kStep only: each option's identity (fiber id, or 1<<63 | network sequence); what each explored option did, up
  // to the next kStep choice (sim::StepsSinceChoice; unknown, hence global, until seen); and the items asleep on
  // arrival, each with what it does.
  std::vector<std::uint64_t> items;
  std::vector<sim::StepFootprint> footprints;
  std::map<std::uint64_t, sim::StepFootprint> sleep;
  std::shared_ptr<Snapshot> snapshot;  // kStep with an option left to explore: the world before this choice
  // DPOR (ExploreOptions::dpor), kStep only (dpor.h): per option, whether it is to be explored (the first awake one,
  // and those that races add) and whether it has been; per option, the path index of the step choice since which it
  // has been on offer without a break; and, once the step taken here ran, the step choices that happen before it
  // (a bitset over path indices).
  std::vector<char> todo;
  std::vector<char> done;
  std::vector<std::uint32_t> offered_since;
  std::vector<std::uint64_t> before;
  bool analysed = false;
};

// The states explored so far (StateTable: each with its depth and sleep set), and the scenario's symmetry group
// (sim::ScenarioSymmetry: the group the world's canonical fingerprint minimises over, in the same order), computed
// once per search when symmetry is on, to rename the checkers' memory by the element that gave the canonical state.
struct Visited {
  StateTable states;
  std::optional<sim::WorkerGroup> symmetry;
  std::size_t size() const { return states.size(); }
};

// What a run spent of its budgets so far: faults, and deviations from the default schedule (Bounds).
struct Spent {
  int duplicates = 0;
  int drops = 0;
  std::uint32_t deviations = 0;
};

// Why a run was cut short; thrown from the chooser, out of sim::Run.
struct Cut {
  enum class Why { kRevisit, kAsleep, kDepth } why;
};

class Probe : public sim::Chooser {
 public:
  // Replays `path` from choice `start` (0, or a node whose snapshot the branch starts from) with what the run spent
  // before it.
  // The search's bounds are `options`' with `max_depth` (iterative deepening) and `max_deviations` (fewest
  // deviations first) for this search's.
  Probe(std::vector<Node>& path, Visited& visited, const ExploreOptions& options, std::uint64_t max_depth,
        std::optional<std::uint32_t> max_deviations, std::size_t start, const Spent& spent,
        ReductionStats& races)
      : path_(path),
        visited_(visited),
        options_(options),
        max_depth_(max_depth),
        max_deviations_(max_deviations),
        next_(start),
        fresh_(start == path.size()),
        spent_(spent),
        reductions_(races) {}
  // The checkers of this branch and the caller's invariant (or null), whose memories are part of the state
  // (CheckerSet::Fingerprint, ExtraInvariant::Fingerprint); with persistent sets, what the path sent, which is too
  // (the messages that can still come depend on it).
  void Monitor(const checkers::CheckerSet& checkers, const ExtraInvariant* extra, const SentOnPath* sent = nullptr) {
    checkers_ = &checkers;
    extra_ = extra;
    sent_ = sent;
  }
  // The world it runs (its step count now is the branch's start); before the first step choice.
  void Attach(const checkers::GlobalView& view) {
    view_ = &view;
    start_steps_ = fresh_steps_ = view.step();
  }

  // Where the world stopped before a step choice among `items` (sim::SteppedRun::pending_items): past the replayed
  // part, the new choice point is cut here, or goes on the path (`snapshot`: with an option left for a later branch,
  // so the caller keeps a copy of the world for it). At a state not visited before, `persistent` (when given) names
  // an option that is a persistent set alone, or none.
  struct AtChoice {
    std::optional<Cut::Why> cut;
    bool snapshot = false;
  };
  using PersistentChoice = std::function<std::optional<std::vector<std::size_t>>()>;
  AtChoice BeforeStepChoice(const std::vector<std::uint64_t>& items, const PersistentChoice& persistent = {});
  // The run ended: what its last step did (for DPOR's race analysis).
  void AfterLastStep() { RecordFootprint(); }

  // The branch's steps that replayed the path (at most the one step from the snapshot to the changed choice), and
  // those it explored past it, up to `end_steps` (the world's step count at its end or cut).
  std::uint64_t replayed_steps(std::uint64_t end_steps) const { return (fresh_ ? fresh_steps_ : end_steps) - start_steps_; }
  std::uint64_t new_steps(std::uint64_t end_steps) const { return fresh_ ? end_steps - fresh_steps_ : 0; }
  std::uint64_t steps_at_cut() const { return steps_at_cut_; }  // the world's step count when it was cut short
  std::uint64_t depth() const { return next_; }
  const Spent& spent() const { return spent_; }
  // New step choices held to their first option because the deviations were spent (ExploreStats::deviation_held).
  std::uint64_t held() const { return held_; }

 protected:
  std::uint64_t Pick(const sim::ChoiceRequest& request) override;

 private:
  std::uint64_t Replay(const sim::ChoiceRequest& request);
  std::uint64_t Extend(const sim::ChoiceRequest& request);
  std::map<std::uint64_t, sim::StepFootprint> InheritedSleep(const Node& node);
  Node* LastStepChoice();
  void RecordFootprint();
  bool CheckVisited(Node& node);  // true: a revisit (node.sleep now holds what was explored before)
  const core::WorkerRenaming* CheckerRenaming(bool symmetry, std::size_t element) const;
  std::uint64_t steps_now() const { return view_ != nullptr ? view_->step() : 0; }
  [[noreturn]] void CutHere(Cut::Why why);

  std::vector<Node>& path_;
  Visited& visited_;
  const ExploreOptions& options_;
  std::uint64_t max_depth_;
  std::optional<std::uint32_t> max_deviations_;
  const checkers::GlobalView* view_ = nullptr;
  const checkers::CheckerSet* checkers_ = nullptr;
  const ExtraInvariant* extra_ = nullptr;
  const SentOnPath* sent_ = nullptr;
  std::size_t next_;                      // the index of the next choice on the path
  bool fresh_;                            // past the replayed part of the path
  std::uint64_t start_steps_ = 0;
  std::uint64_t fresh_steps_ = 0;
  std::uint64_t steps_at_cut_ = 0;
  Spent spent_;                           // so far on this run
  std::uint64_t held_ = 0;
  ReductionStats& reductions_;
};

// Whether a choice has an option to explore after its pick that is within the bounds and awake: a branch to come.
bool HasAlternative(const Node& node);
// Whether option i of a choice is not taken there: asleep, or left out by a persistent set.
bool Skipped(const Node& node, std::uint64_t i);

// Moves `path` to the next unexplored branch (last choice point with an allowed pick left, whose step is not
// asleep); false when the whole tree is done.
bool Backtrack(std::vector<Node>& path);

}  // namespace rrefsim::explore::detail
