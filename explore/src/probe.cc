#include "probe.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "dpor.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::detail {
namespace {

std::uint64_t Mix(std::uint64_t h, std::uint64_t word) {
  h = (h ^ word) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

std::uint64_t LimitOf(const sim::ChoiceRequest& request, const Bounds& bounds, int duplicates, int drops) {
  switch (request.kind) {
    case sim::ChoiceKind::kStep:
    case sim::ChoiceKind::kWorkload:
      return request.options;
    case sim::ChoiceKind::kDuplicate:
      return duplicates < bounds.max_duplicates ? request.options : 1;
    case sim::ChoiceKind::kDrop:
      return drops < bounds.max_drops ? request.options : 1;
    default:  // delays, partitions, heal time, rates: option 0 only (ExploreFaultOverrides makes them single)
      return 1;
  }
}

}  // namespace

void Probe::CutHere(Cut::Why why) {
  steps_at_cut_ = steps_now();
  throw Cut{why};
}

Node* Probe::LastStepChoice() {
  for (std::size_t i = std::min(next_, path_.size()); i-- > 0;) {
    if (path_[i].kind == sim::ChoiceKind::kStep && !path_[i].items.empty()) return &path_[i];
  }
  return nullptr;
}

// What the step taken at the previous kStep choice (and any step forced after it) acted on, now that it ran.
void Probe::RecordFootprint() {
  Node* parent = LastStepChoice();
  if (parent == nullptr || view_ == nullptr) return;
  if (std::optional<sim::StepFootprint> seen = sim::StepsSinceChoice(*view_)) parent->footprints[parent->pick] = *seen;
  if (options_.dpor) AnalyseStep(path_, static_cast<std::size_t>(parent - path_.data()), reductions_);
}

std::uint64_t Probe::Pick(const sim::ChoiceRequest& request) {
  if (request.kind == sim::ChoiceKind::kStep && !request.items.empty()) RecordFootprint();
  const std::uint64_t pick = next_ < path_.size() ? Replay(request) : Extend(request);
  if (request.kind == sim::ChoiceKind::kDuplicate && pick == 1) ++spent_.duplicates;
  if (request.kind == sim::ChoiceKind::kDrop && pick == 1) ++spent_.drops;
  if (request.kind == sim::ChoiceKind::kStep && pick != 0) ++spent_.deviations;
  if (!fresh_ && next_ == path_.size()) {  // the last replayed choice: what follows is new
    fresh_ = true;
    fresh_steps_ = steps_now();
  }
  return pick;
}

std::uint64_t Probe::Replay(const sim::ChoiceRequest& request) {
  const Node& node = path_[next_];
  if (node.kind != request.kind || node.options != request.options) {
    throw std::logic_error("explore: the run did not replay its prefix at choice " + std::to_string(next_) + " (" +
                           std::string(sim::ChoiceKindName(request.kind)) + ", " +
                           std::to_string(request.options) + " options): the simulator is not deterministic");
  }
  ++next_;
  return node.pick;
}

std::uint64_t Probe::Extend(const sim::ChoiceRequest& request) {
  if (max_depth_ != 0 && next_ >= max_depth_) CutHere(Cut::Why::kDepth);
  if (request.kind == sim::ChoiceKind::kStep && !request.items.empty()) {
    throw std::logic_error("explore: a step choice that the world did not stop before (BeforeStepChoice)");
  }
  Node node;
  node.kind = request.kind;
  node.options = request.options;
  node.limit = LimitOf(request, options_.bounds, spent_.duplicates, spent_.drops);
  path_.push_back(std::move(node));
  ++next_;
  return path_.back().pick;
}

// Past the replayed part, a new step choice point is decided here, while the world waits before asking for it and
// not inside the world's call stack: a cut is a return value, not an exception through the simulator.
Probe::AtChoice Probe::BeforeStepChoice(const std::vector<std::uint64_t>& items, const PersistentChoice& persistent) {
  if (next_ < path_.size()) return {};
  const auto cut = [this](Cut::Why why) {
    steps_at_cut_ = steps_now();
    return AtChoice{why, false};
  };
  if (max_depth_ != 0 && next_ >= max_depth_) return cut(Cut::Why::kDepth);
  RecordFootprint();
  Node node;
  node.kind = sim::ChoiceKind::kStep;
  node.options = items.size();
  node.limit = items.size();
  const bool held = max_deviations_ && spent_.deviations >= *max_deviations_ && items.size() > 1;
  if (held) node.limit = 1;  // the deviations are spent: the default schedule's step only
  node.items = items;
  for (std::uint64_t item : node.items) {
    sim::StepFootprint unknown;  // what it does is known once it ran: until then, global
    unknown.global = true;
    const int worker = sim::StepWorker(*view_, item);
    if (worker >= 0 && worker < 63) unknown.workers = std::uint64_t{1} << worker;
    node.footprints.push_back(unknown);
  }
  if (options_.sleep_sets) node.sleep = InheritedSleep(node);
  const bool revisit = options_.state_hashing && !options_.dpor && CheckVisited(node);
  if (!revisit && persistent && node.limit > 1) {
    const std::optional<sim::StepFootprint> before = sim::StepsSinceChoice(*view_);
    if (const std::optional<std::vector<std::size_t>> set = persistent()) {
      node.left_out.assign(node.options, 1);
      for (std::size_t i : *set) node.left_out[i] = 0;
    }
    // The choice must not read the world's views: Pick records the footprint again, and those reads would count as
    // the last step's, which makes it depend on more steps than it does (sound, but the sleep sets prune less).
    if (sim::StepsSinceChoice(*view_) != before) {
      throw std::logic_error("explore: choosing a persistent set read the world's views");
    }
  }
  while (node.pick < node.limit && Skipped(node, node.pick)) ++node.pick;
  if (node.pick == node.limit) return cut(revisit ? Cut::Why::kRevisit : Cut::Why::kAsleep);
  if (held) ++held_;  // counted where the search goes on: a revisit's choices were counted at the visit before
  bool branches_here = HasAlternative(node);
  if (options_.dpor) {
    NoteOffered(path_, node, path_.size());
    node.todo[node.pick] = 1;
    // Races that later runs find may add a branch at any step choice, and a fault choice inside this step
    // branches from here.
    const Bounds& b = options_.bounds;
    branches_here = node.options > 1 || b.max_duplicates > 0 || b.max_drops > 0;
  }
  path_.push_back(std::move(node));  // the world's request for this choice then replays it
  return AtChoice{std::nullopt, branches_here};
}

// Sleep sets (Godefroid): an item stays asleep below a choice when the step taken there is independent of it, so
// that exploring it first would only reorder two commuting steps. Steps commute when they act on different workers
// and neither reaches beyond its own (sim::StepFootprint): each runs one worker's core, handler pool and fibers,
// and their sends get their fates by (sender, id) whichever runs first. What an option does is known once it ran
// (the options explored before the one taken here) or from where it fell asleep.
std::map<std::uint64_t, sim::StepFootprint> Probe::InheritedSleep(const Node& node) {
  const Node* parent = LastStepChoice();
  if (parent == nullptr) return {};
  const sim::StepFootprint& taken = parent->footprints[parent->pick];
  std::map<std::uint64_t, sim::StepFootprint> sleep;
  for (std::uint64_t i = 0; i < parent->items.size(); ++i) {
    if (i == parent->pick) continue;
    const std::uint64_t item = parent->items[i];
    const auto asleep = parent->sleep.find(item);
    const bool left_out = !parent->left_out.empty() && parent->left_out[i] != 0;
    const bool ran = parent->done.empty() ? !left_out && i < parent->pick : parent->done[i] != 0;
    const bool explored = ran && asleep == parent->sleep.end();
    if (!explored && asleep == parent->sleep.end()) continue;
    const sim::StepFootprint& footprint = explored ? parent->footprints[i] : asleep->second;
    if (!footprint.Independent(taken)) continue;
    if (std::find(node.items.begin(), node.items.end(), item) != node.items.end()) sleep.emplace(item, footprint);
  }
  return sleep;
}

// State caching with sleep sets (Godefroid): a state is explored again only for the steps that were asleep at every
// earlier visit and are awake now; with a depth bound, a visit with more depth left explores it again in full.
// Steps are compared by sim::StepIdentity, as sequence numbers and fiber ids differ between paths.
bool Probe::CheckVisited(Node& node) {
  // Under symmetry (sim/symmetry.h) the state and the steps are keyed in the renaming that gave the canonical state;
  // not with a caller's invariant, whose memory may name workers.
  const bool symmetry = options_.symmetry && options_.extra_invariant == nullptr;
  const std::optional<sim::CanonicalState> canonical = sim::CanonicalFingerprint(*view_, symmetry);
  if (!canonical) return false;
  std::uint64_t key = Mix(Mix(canonical->fingerprint, static_cast<std::uint64_t>(spent_.duplicates)),
                          static_cast<std::uint64_t>(spent_.drops));
  if (checkers_ == nullptr) throw std::logic_error("explore: a state keyed without the checkers (Probe::Monitor)");
  key = Mix(key, checkers_->Fingerprint(CheckerRenaming(symmetry, canonical->element)));
  if (extra_ != nullptr) key = Mix(key, extra_->Fingerprint());
  if (sent_ != nullptr) key = Mix(key, sent_->Hash());
  std::vector<std::uint64_t> ids;  // per option
  std::vector<std::uint64_t> asleep;
  for (std::uint64_t i = 0; i < node.items.size(); ++i) {
    ids.push_back(sim::CanonicalStepIdentity(*view_, node.items[i], symmetry, canonical->element));
    if (node.sleep.contains(node.items[i])) asleep.push_back(ids.back());
  }
  // Under a deviation bound what a schedule costs depends on the order of the options, which the fingerprint leaves
  // out (sequence numbers, fiber ids, the order of waiting fibers): that order is part of the key, so that two
  // visits of one key have the same options in the same order at every later choice under the same picks.
  if (max_deviations_) key = Mix(key, sim::OfferOrderFingerprint(*view_).value_or(0));
  const std::optional<std::uint32_t> deviations =
      max_deviations_ ? std::optional<std::uint32_t>(spent_.deviations) : std::nullopt;
  const StateTable::Asleep* before = visited_.states.Visit(key, next_, asleep, max_depth_ != 0, deviations);
  if (before == nullptr) return false;
  // Whatever was awake at an earlier visit has been explored from here: it sleeps now (what it does is unknown,
  // so it wakes at the next step).
  for (std::uint64_t i = 0; i < node.items.size(); ++i) {
    if (before->Contains(ids[i])) continue;
    node.sleep.emplace(node.items[i], node.footprints[i]);
  }
  return true;
}

// The checkers' memory names workers (fork ids' creators, per-worker maps), so under symmetry it is keyed in the
// renaming that gave the world's canonical state: two keys are equal only when the world and the checkers' memory of
// one are, together, a renaming of the other's, which the group guarantees run alike (docs/explore.md, "State
// hashing"). The identity element is a renaming too: every key of a search with a non-trivial group folds the
// checkers' maps the same way (as multisets). With a trivial group, no renaming (the plain walk).
const core::WorkerRenaming* Probe::CheckerRenaming(bool symmetry, std::size_t element) const {
  if (!symmetry) return nullptr;
  if (!visited_.symmetry || visited_.symmetry->size() != sim::SymmetryGroupSize(*view_)) {
    throw std::logic_error("explore: the search's symmetry group is not the world's (Visited::symmetry)");
  }
  if (visited_.symmetry->trivial()) return nullptr;
  return &visited_.symmetry->elements.at(element);
}

bool Skipped(const Node& node, std::uint64_t i) {
  if (!node.left_out.empty() && node.left_out[i] != 0) return true;
  return !node.items.empty() && node.sleep.contains(node.items[i]);
}

bool HasAlternative(const Node& node) {
  for (std::uint64_t i = node.pick + 1; i < node.limit; ++i) {
    if (!Skipped(node, i)) return true;
  }
  return false;
}

namespace {

// DPOR's step choices explore the options marked to do, in option order, skipping those asleep.
bool NextToDo(Node& node) {
  node.done[node.pick] = 1;
  for (std::uint64_t i = 0; i < node.limit; ++i) {
    if (node.todo[i] != 0 && node.done[i] == 0 && !node.sleep.contains(node.items[i])) {
      node.pick = i;
      node.analysed = false;
      return true;
    }
  }
  return false;
}

}  // namespace

bool Backtrack(std::vector<Node>& path) {
  while (!path.empty()) {
    Node& node = path.back();
    if (!node.todo.empty()) {
      if (NextToDo(node)) return true;
    } else {
      for (++node.pick; node.pick < node.limit; ++node.pick) {
        if (!Skipped(node, node.pick)) return true;
      }
    }
    path.pop_back();
  }
  return false;
}

}  // namespace rrefsim::explore::detail
