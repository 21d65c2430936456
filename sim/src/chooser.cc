#include "rrefsim/sim/chooser.h"

#include <algorithm>
#include <array>
#include <utility>

namespace rrefsim::sim {
namespace {

// Sub-seed streams of a run seed. Fixed forever: changing one changes what every recorded seed means.
constexpr std::uint64_t kScheduleStream = 1;
constexpr std::uint64_t kOtherStream = 2;

// Initial PCT priorities are drawn in [0, 2^62); priorities given at change points count down from -1, so every
// lowered item sits below every item that still has its initial priority.
constexpr std::uint64_t kInitialPriorityRange = std::uint64_t{1} << 62;

constexpr std::array<std::pair<ChoiceKind, std::string_view>, 8> kKindNames = {{
    {ChoiceKind::kStep, "step"},
    {ChoiceKind::kDrop, "drop"},
    {ChoiceKind::kDuplicate, "duplicate"},
    {ChoiceKind::kDelay, "delay"},
    {ChoiceKind::kPartition, "partition"},
    {ChoiceKind::kHeal, "heal"},
    {ChoiceKind::kRate, "rate"},
    {ChoiceKind::kWorkload, "workload"},
}};

// The one random policy shared by RandomChooser and by PctChooser's non-step kinds: a biased coin for a 2-option
// request that names its probability, otherwise a uniform pick.
std::uint64_t RandomPick(Rng& rng, const ChoiceRequest& request) {
  if (request.options == 2 && request.p_one >= 0) return rng.Bernoulli(request.p_one) ? 1 : 0;
  return rng.Below(request.options);
}

std::string Describe(ChoiceKind kind, std::uint64_t options, std::uint64_t key) {
  return "(" + std::string(ChoiceKindName(kind)) + ", " + std::to_string(options) + " options, key " +
         std::to_string(key) + ")";
}

// Floyd's algorithm: `count` distinct values uniform in [1, n], with exactly `count` draws.
std::vector<std::uint64_t> DistinctSortedSample(Rng& rng, std::uint64_t count, std::uint64_t n) {
  std::set<std::uint64_t> chosen;
  for (std::uint64_t i = 0; i < count; ++i) {  // j runs over [n - count + 1, n]; counting i avoids wrapping at 2^64
    const std::uint64_t j = n - count + 1 + i;
    const std::uint64_t t = rng.Between(1, j);
    chosen.insert(chosen.count(t) ? j : t);
  }
  return {chosen.begin(), chosen.end()};
}

}  // namespace

std::string_view ChoiceKindName(ChoiceKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<ChoiceKind> ChoiceKindFromName(std::string_view name) {
  for (const auto& [kind, n] : kKindNames) {
    if (n == name) return kind;
  }
  return std::nullopt;
}

ReplayDivergence::ReplayDivergence(std::uint64_t step, const std::string& what)
    : std::runtime_error("replay diverged at choice " + std::to_string(step) + ": " + what), step(step) {}

std::uint64_t Chooser::Choose(const ChoiceRequest& request) {
  if (request.options == 0) {
    throw std::invalid_argument("Chooser: a " + std::string(ChoiceKindName(request.kind)) +
                                " choice needs at least one option");
  }
  if (!request.items.empty() && request.items.size() != request.options) {
    throw std::invalid_argument("Chooser: " + std::to_string(request.items.size()) + " items for " +
                                std::to_string(request.options) + " options");
  }
  const std::uint64_t pick = Pick(request);
  if (pick >= request.options) {
    throw std::logic_error("Chooser: picked " + std::to_string(pick) + " of " + std::to_string(request.options) +
                           " options");
  }
  record_.push_back(Choice{request.kind, request.options, pick, request.key});
  return pick;
}

RandomChooser::RandomChooser(std::uint64_t seed)
    : schedule_(SubSeed(seed, kScheduleStream)), other_(SubSeed(seed, kOtherStream)) {}

std::uint64_t RandomChooser::Pick(const ChoiceRequest& request) {
  return RandomPick(request.kind == ChoiceKind::kStep ? schedule_ : other_, request);
}

// The change points are the first draws of the schedule stream; item priorities follow, as items appear.
PctChooser::PctChooser(std::uint64_t seed, int depth, std::uint64_t expected_steps)
    : schedule_(SubSeed(seed, kScheduleStream)), other_(SubSeed(seed, kOtherStream)), depth_(depth) {
  if (depth < 1) throw std::invalid_argument("PctChooser: depth must be >= 1, got " + std::to_string(depth));
  if (expected_steps < 1) throw std::invalid_argument("PctChooser: expected_steps must be >= 1");
  // With fewer steps than change points, every step is one; a second change at the same step would be a no-op.
  const auto count = std::min(static_cast<std::uint64_t>(depth - 1), expected_steps);
  change_points_ = DistinctSortedSample(schedule_, count, expected_steps);
}

// Items appear over the run (new fibers, new messages), so the paper's up-front random permutation of priorities
// is built online: each item draws a random value, and the order of independent uniform values is a uniformly
// random permutation of all items, whenever each one arrived. A value already taken is redrawn, so no two items
// tie.
std::int64_t PctChooser::PriorityOf(std::uint64_t item) {
  const auto found = priority_.find(item);
  if (found != priority_.end()) return found->second;
  std::int64_t priority = 0;
  do {
    priority = static_cast<std::int64_t>(schedule_.Below(kInitialPriorityRange));
  } while (!initial_priorities_.insert(priority).second);
  priority_.emplace(item, priority);
  return priority;
}

std::uint64_t PctChooser::Pick(const ChoiceRequest& request) {
  if (request.kind != ChoiceKind::kStep) return RandomPick(other_, request);
  if (request.items.empty()) return schedule_.Below(request.options);

  ++steps_;
  std::uint64_t best = 0;
  std::int64_t best_priority = PriorityOf(request.items[0]);
  for (std::uint64_t i = 1; i < request.items.size(); ++i) {
    const std::int64_t priority = PriorityOf(request.items[i]);
    if (priority > best_priority) {
      best = i;
      best_priority = priority;
    }
  }
  // At a change point the item just chosen drops below every other, including items lowered earlier, so the next
  // step goes to the highest of the rest and this one runs again only when nothing above it is enabled.
  if (std::binary_search(change_points_.begin(), change_points_.end(), steps_)) {
    priority_[request.items[best]] = next_low_--;
  }
  return best;
}

ReplayChooser::ReplayChooser(std::vector<Choice> recorded) : recorded_(std::move(recorded)) {}

std::uint64_t ReplayChooser::Pick(const ChoiceRequest& request) {
  const auto requested = [&] { return Describe(request.kind, request.options, request.key); };
  if (next_ >= recorded_.size()) {
    throw ReplayDivergence(next_, "the recorded list ended after " + std::to_string(recorded_.size()) +
                                      " choices; requested " + requested());
  }
  const Choice& recorded = recorded_[next_];
  const bool keys_match = recorded.key == 0 || request.key == 0 || recorded.key == request.key;
  if (recorded.kind != request.kind || recorded.options != request.options || !keys_match) {
    throw ReplayDivergence(next_, "recorded " + Describe(recorded.kind, recorded.options, recorded.key) +
                                      ", requested " + requested());
  }
  if (recorded.pick >= recorded.options) {
    throw ReplayDivergence(next_, "recorded pick " + std::to_string(recorded.pick) + " is out of range for " +
                                      requested());
  }
  ++next_;
  return recorded.pick;
}

LenientReplayChooser::LenientReplayChooser(const std::vector<Choice>& recorded) {
  for (const Choice& c : recorded) picks_[{c.kind, c.key}].push_back(c.pick);
}

std::uint64_t LenientReplayChooser::Pick(const ChoiceRequest& request) {
  const auto found = picks_.find({request.kind, request.key});
  if (found == picks_.end()) return 0;
  std::size_t& used = used_[found->first];
  if (used >= found->second.size()) return 0;
  const std::uint64_t pick = found->second[used++];
  if (pick >= request.options) return 0;
  ++matched_;
  return pick;
}

}  // namespace rrefsim::sim
