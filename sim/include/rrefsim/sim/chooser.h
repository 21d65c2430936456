// Every nondeterministic decision of a simulated run goes through one Chooser: which ready step runs, the fate of
// each message (drop, duplicate, delay), fault rates and the heal time. Each decision is recorded as
// (kind, number of options, pick, stable key), so a recorded list reproduces the run exactly.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rrefsim/sim/random.h"

namespace rrefsim::sim {

enum class ChoiceKind : std::uint8_t {
  kStep,       // which enabled step runs next: a ready fiber or the delivery of a due message
  kDrop,       // drop this message? (2 options: 0 = deliver, 1 = drop)
  kDuplicate,  // deliver this message twice? (0 = once, 1 = twice)
  kDelay,      // the delay of this message, in microseconds above the profile's minimum
  kPartition,  // cut this link now? / the length of a partition
  kHeal,       // the heal time of the run
  kRate,       // a fault rate of the run (swarm), as a pick among discrete levels
  kWorkload,   // a workload decision (generated scenarios)
};

std::string_view ChoiceKindName(ChoiceKind kind);
std::optional<ChoiceKind> ChoiceKindFromName(std::string_view name);

struct Choice {
  ChoiceKind kind = ChoiceKind::kStep;
  std::uint64_t options = 0;
  std::uint64_t pick = 0;
  std::uint64_t key = 0;  // what the choice is about: a message id, a fiber id, a link
  friend bool operator==(const Choice&, const Choice&) = default;
};

// What the world asks. For kStep, `items` holds a stable key per option (fiber or message ids), in the order the
// options are numbered; PCT uses them as identities. `p_one` (only with 2 options) is the probability of pick 1 for
// random choosers: a biased coin such as a drop. Option 0 is always the benign one (no fault, oldest, shortest).
struct ChoiceRequest {
  ChoiceKind kind = ChoiceKind::kStep;
  std::uint64_t options = 1;
  std::uint64_t key = 0;
  double p_one = -1;
  std::span<const std::uint64_t> items;
};

// The world asked for something the recorded list does not hold at this step. `step` is the 0-based index of the
// choice in the recorded list; what() reads "replay diverged at choice <step>: <what>".
struct ReplayDivergence : std::runtime_error {
  ReplayDivergence(std::uint64_t step, const std::string& what);
  std::uint64_t step;
};

class Chooser {
 public:
  virtual ~Chooser() = default;
  // Returns a pick in [0, request.options) and records it. Throws std::invalid_argument if options is 0 or
  // `items` is non-empty with a size other than options, and std::logic_error if Pick breaks its contract.
  std::uint64_t Choose(const ChoiceRequest& request);
  const std::vector<Choice>& choices() const { return record_; }

 protected:
  virtual std::uint64_t Pick(const ChoiceRequest& request) = 0;

 private:
  std::vector<Choice> record_;
};

// Seeded random choices; separate sub-streams for scheduling (kStep, SubSeed(seed, 1)) and for everything else
// (SubSeed(seed, 2)), so that a change in the number of scheduling decisions does not shift the fault decisions
// and vice versa. A 2-option request with p_one >= 0 is a biased coin; any other request is a uniform pick.
class RandomChooser : public Chooser {
 public:
  explicit RandomChooser(std::uint64_t seed);

 protected:
  std::uint64_t Pick(const ChoiceRequest& request) override;

 private:
  Rng schedule_;
  Rng other_;
};

// PCT (Burckhardt et al., ASPLOS 2010) for kStep choices: each item gets a random priority when first seen, the
// highest-priority enabled item runs, and at d-1 change points (distinct steps drawn uniformly in
// [1, expected_steps]) the item just chosen drops below every other. Steps are counted over kStep requests that
// carry items; a kStep without items is a uniform pick. Other kinds are exactly RandomChooser's, from the same
// stream, so a seed makes the same fault decisions under either chooser. depth >= 1 (1: no change points) and
// expected_steps >= 1, or std::invalid_argument. A bug of depth d in a run of n items (threads) and k steps is
// found with probability at least 1/(n k^(d-1)) (the paper's theorem; note it is the steps that are raised to d-1).
class PctChooser : public Chooser {
 public:
  PctChooser(std::uint64_t seed, int depth, std::uint64_t expected_steps);
  const std::vector<std::uint64_t>& change_points() const { return change_points_; }
  // The quantities of the bound so far (docs/coverage.md): steps (kStep requests with items) and distinct items.
  std::uint64_t steps() const { return steps_; }
  std::uint64_t items() const { return priority_.size(); }

 protected:
  std::uint64_t Pick(const ChoiceRequest& request) override;

 private:
  std::int64_t PriorityOf(std::uint64_t item);  // draws a fresh initial priority the first time an item is seen

  Rng schedule_;
  Rng other_;
  int depth_;
  std::vector<std::uint64_t> change_points_;      // step numbers, sorted
  std::map<std::uint64_t, std::int64_t> priority_;  // item key -> priority (higher runs first)
  std::set<std::int64_t> initial_priorities_;       // the ones drawn so far, to keep them distinct
  std::uint64_t steps_ = 0;
  std::int64_t next_low_ = -1;                     // priorities given at change points go below every other
};

// Strict replay of a recorded list: each request must match the recorded kind and number of options (and key, when
// recorded non-zero) at the same position, or ReplayDivergence names the step and both sides.
class ReplayChooser : public Chooser {
 public:
  explicit ReplayChooser(std::vector<Choice> recorded);
  bool exhausted() const { return next_ == recorded_.size(); }

 protected:
  std::uint64_t Pick(const ChoiceRequest& request) override;

 private:
  std::vector<Choice> recorded_;
  std::size_t next_ = 0;
};

// Lenient replay, for shrinking: a recorded pick is found by its stable identity (kind and key), not by its
// position, so a run of a smaller scenario (or with fewer faults) still takes the recorded decisions that are still
// asked for. Picks of one (kind, key) are used in their recorded order; a request with no recorded pick left, or
// whose recorded pick is out of range, takes option 0 (no fault, the oldest message, the shortest delay). Never
// throws a ReplayDivergence; choices() re-records what was actually chosen, which a strict ReplayChooser replays.
// On the recorded run itself it makes exactly the recorded decisions.
class LenientReplayChooser : public Chooser {
 public:
  explicit LenientReplayChooser(const std::vector<Choice>& recorded);
  std::uint64_t matched() const { return matched_; }  // requests that found a recorded pick

 protected:
  std::uint64_t Pick(const ChoiceRequest& request) override;

 private:
  std::map<std::pair<ChoiceKind, std::uint64_t>, std::vector<std::uint64_t>> picks_;  // in recorded order
  std::map<std::pair<ChoiceKind, std::uint64_t>, std::size_t> used_;
  std::uint64_t matched_ = 0;
};

}  // namespace rrefsim::sim
