// The explorer's side of one run: a Chooser that replays the current path's prefix and extends it (first allowed
// option at each new choice point), and a RunObserver that learns each in-flight message's receiver and content. At
// each new step choice it hashes the world's state and cuts the run when the state was explored before, when every
// enabled step is asleep, or at the depth bound (docs/explore.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "rrefsim/checkers/global_view.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::detail {

// One choice point of the current path.
struct Node {
  sim::ChoiceKind kind = sim::ChoiceKind::kStep;
  std::uint64_t options = 0;
  std::uint64_t pick = 0;
  std::uint64_t limit = 0;             // picks in [0, limit) are within the bounds
  // kStep only: each option's identity (fiber id, or 1<<63 | network sequence); what each explored option did, up
  // to the next kStep choice (sim::StepsSinceChoice; unknown, hence global, until seen); and the items asleep on
  // arrival, each with what it does.
  std::vector<std::uint64_t> items;
  std::vector<sim::StepFootprint> footprints;
  std::map<std::uint64_t, sim::StepFootprint> sleep;
};

// What is known of a state already explored: the shallowest depth it was reached at, and the steps (by
// sim::StepIdentity) asleep at every visit so far, the only ones not yet explored from it.
struct Seen {
  std::uint64_t depth = 0;
  std::vector<std::uint64_t> sleep;  // sorted content hashes
};
using Visited = std::unordered_map<std::uint64_t, Seen>;  // lookups only, never iterated

// Why a run was cut short; thrown from the chooser, out of sim::Run.
struct Cut {
  enum class Why { kRevisit, kAsleep, kDepth } why;
};

class Probe : public sim::Chooser, public checkers::RunObserver {
 public:
  Probe(std::vector<Node>& path, Visited& visited, const ExploreOptions& options, std::uint64_t max_depth)
      : path_(path), visited_(visited), options_(options), max_depth_(max_depth), fresh_(path.empty()) {}

  // The steps of this run that replayed the prefix (the rest explored something new).
  std::uint64_t replayed_steps() const { return replayed_steps_; }
  std::uint64_t steps_at_cut() const { return steps_at_cut_; }  // the run's steps when it was cut short
  std::uint64_t depth() const { return next_; }

  void OnStart(const checkers::GlobalView& view) override;
  void OnRecord(const checkers::StepRecord& record) override;
  bool OnStepEnd(const checkers::GlobalView& view) override;
  // The step at which ExploreOptions::extra_invariant stopped the run, if it did.
  std::optional<std::uint64_t> extra_violation() const { return extra_violation_; }

 protected:
  std::uint64_t Pick(const sim::ChoiceRequest& request) override;

 private:
  std::uint64_t Replay(const sim::ChoiceRequest& request);
  std::uint64_t Extend(const sim::ChoiceRequest& request);
  std::map<std::uint64_t, sim::StepFootprint> InheritedSleep(const Node& node);
  Node* LastStepChoice();
  void RecordFootprint();
  bool CheckVisited(Node& node);  // true: a revisit (node.sleep now holds what was explored before)
  std::uint64_t steps_now() const { return view_ ? view_->step() : 0; }
  [[noreturn]] void CutHere(Cut::Why why);

  std::vector<Node>& path_;
  Visited& visited_;
  const ExploreOptions& options_;
  std::uint64_t max_depth_;
  const checkers::GlobalView* view_ = nullptr;
  std::size_t next_ = 0;                  // the index of the next choice on the path
  bool fresh_;                            // past the replayed prefix
  std::uint64_t replayed_steps_ = 0;
  std::uint64_t steps_at_cut_ = 0;
  std::optional<std::uint64_t> extra_violation_;
  int duplicates_ = 0;                    // faults taken so far on this run
  int drops_ = 0;
};

// Moves `path` to the next unexplored branch (last choice point with an allowed pick left, whose step is not
// asleep); false when the whole tree is done.
bool Backtrack(std::vector<Node>& path);

}  // namespace rrefsim::explore::detail
