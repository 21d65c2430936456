// The scenario's symmetry group and the canonical fingerprint over it (rrefsim/sim/symmetry.h, docs/explore.md).
//
// Why a renamed state runs the same way: a worker's core depends on worker ids only by comparing them (owner ==
// self, the parent of a fork), the World treats every worker alike (same pool, same config, same fault settings), and
// a permutation in the group maps each program and function body onto the renamed worker's own. What differs between
// a state and its renamed image is the order of keyed maps (folded as multisets) and, downstream, the order in which
// ids that are only labels (message ids, sequence numbers) get allocated: the same renaming argument that already
// lets the plain fingerprint leave out sequence numbers (fingerprint.cc).
#include "rrefsim/sim/symmetry.h"

#include <algorithm>
#include <numeric>

#include "world_impl.h"

namespace rrefsim::sim {
namespace {

bool Renamable(const IntExpr& to) { return to.base == IntExpr::Base::kLiteral; }

bool UsesDestination(const Op& op) { return op.kind == Op::Kind::kRemote || op.kind == Op::Kind::kRpcSync; }

// Whether every op of `block` commutes with a renaming: absolute destinations, payloads not computed from the
// worker's own number.
bool CommutesWithRenaming(const Block& block) {
  for (const Op& op : block.ops) {
    if (UsesDestination(op) && !Renamable(op.to)) return false;
    if (op.payload.base == IntExpr::Base::kSelf || op.to.base == IntExpr::Base::kSelf) return false;
    if (!CommutesWithRenaming(Block{op.then_ops}) || !CommutesWithRenaming(Block{op.else_ops})) return false;
  }
  return true;
}

std::uint64_t TagOf(const std::vector<core::WorkerId>& to) {
  core::StateHasher h;
  for (core::WorkerId w : to) h.Mix(static_cast<std::uint64_t>(w));
  return h.value();
}

bool MapsOntoItself(const Scenario& s, const core::WorkerRenaming& r) {
  for (int w = 0; w < s.workers; ++w) {
    const Block& image = s.programs[static_cast<std::size_t>(r(static_cast<core::WorkerId>(w)))];
    if (!(RenameDestinations(s.programs[static_cast<std::size_t>(w)], r) == image)) return false;
  }
  for (const FunctionDef& f : s.functions) {
    if (!(RenameDestinations(f.body, r) == f.body)) return false;
  }
  for (const CounterExpectation& c : s.counters) {
    CounterExpectation renamed = c;
    renamed.worker = r(static_cast<core::WorkerId>(c.worker));
    if (std::count(s.counters.begin(), s.counters.end(), c) !=
        std::count(s.counters.begin(), s.counters.end(), renamed)) {
      return false;
    }
  }
  return true;
}

// The subgroup of `group` that fixes `worker` (a stabiliser is a subgroup: the reduction stays sound).
WorkerGroup Stabiliser(const WorkerGroup& group, core::WorkerId worker) {
  WorkerGroup fixed;
  for (const core::WorkerRenaming& r : group.elements) {
    if (r(worker) == worker) fixed.elements.push_back(r);
  }
  return fixed;
}

}  // namespace

Block RenameDestinations(const Block& block, const core::WorkerRenaming& renaming) {
  Block renamed = block;
  for (Op& op : renamed.ops) {
    if (UsesDestination(op) && Renamable(op.to)) {
      const std::int64_t to = op.to.value;
      if (to >= 0 && to < static_cast<std::int64_t>(renaming.to.size())) {
        op.to.value = renaming(static_cast<core::WorkerId>(to));
      }
    }
    op.then_ops = RenameDestinations(Block{op.then_ops}, renaming).ops;
    op.else_ops = RenameDestinations(Block{op.else_ops}, renaming).ops;
  }
  return renamed;
}

WorkerGroup ScenarioSymmetry(const Scenario& scenario) {
  const int n = scenario.workers;
  std::vector<core::WorkerId> to(static_cast<std::size_t>(std::max(n, 0)));
  std::iota(to.begin(), to.end(), core::WorkerId{0});
  WorkerGroup group;
  group.elements.push_back(core::WorkerRenaming{to, TagOf(to)});  // the identity, always first
  if (n < 3 || n > kMaxSymmetricWorkers || static_cast<int>(scenario.programs.size()) != n) return group;
  bool commutes = std::all_of(scenario.programs.begin(), scenario.programs.end(), CommutesWithRenaming);
  for (const FunctionDef& f : scenario.functions) commutes = commutes && CommutesWithRenaming(f.body);
  if (!commutes) return group;
  while (std::next_permutation(to.begin() + 1, to.end())) {  // worker 0 stays; lexicographic after the identity
    core::WorkerRenaming r{to, TagOf(to)};
    if (MapsOntoItself(scenario, r)) group.elements.push_back(std::move(r));
  }
  for (core::WorkerId w = 1; group.size() > kMaxGroupSize; ++w) group = Stabiliser(group, w);
  group.orbits = group.elements.front();
  for (const core::WorkerRenaming& r : group.elements) {
    for (std::size_t w = 0; w < r.to.size(); ++w) group.orbits.to[w] = std::min(group.orbits.to[w], r.to[w]);
  }
  group.orbits.tag = TagOf(group.orbits.to);
  return group;
}

namespace detail {

const WorkerGroup& World::Symmetry() const {
  if (!symmetry_) symmetry_ = std::make_shared<const WorkerGroup>(ScenarioSymmetry(scenario_));
  return *symmetry_;
}

}  // namespace detail

std::optional<CanonicalState> CanonicalFingerprint(const checkers::GlobalView& view, bool symmetry) {
  const detail::World* world = detail::AsWorld(view);
  if (world == nullptr) return std::nullopt;
  if (!symmetry || world->Symmetry().trivial()) return CanonicalState{world->Fingerprint(), 0};
  const std::vector<core::WorkerRenaming>& elements = world->Symmetry().elements;
  // The renamed state's workers in order, by signature: the same sequence for a state and its renamed image, so the
  // renamings that make it smallest are those of the image, composed. Only they get the (costlier) fingerprint.
  std::vector<std::uint64_t> signature(static_cast<std::size_t>(world->workers()));
  for (int w = 0; w < world->workers(); ++w) signature[static_cast<std::size_t>(w)] = world->OrbitSignature(w);
  std::vector<std::uint64_t> renamed(signature.size());
  std::vector<std::uint64_t> smallest;
  std::optional<CanonicalState> best;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    for (std::size_t w = 0; w < signature.size(); ++w) {
      renamed[static_cast<std::size_t>(elements[i](static_cast<core::WorkerId>(w)))] = signature[w];
    }
    if (best && renamed > smallest) continue;
    const std::uint64_t fingerprint = world->Fingerprint(&elements[i]);
    if (!best || renamed < smallest || fingerprint < best->fingerprint) best = CanonicalState{fingerprint, i};
    smallest = renamed;
  }
  return best;
}

std::uint64_t CanonicalStepIdentity(const checkers::GlobalView& view, std::uint64_t item, bool symmetry,
                                    std::size_t element) {
  const detail::World* world = detail::AsWorld(view);
  if (world == nullptr) return 0;
  if (!symmetry || world->Symmetry().trivial()) return world->IdentityOfItem(item);
  return world->IdentityOfItem(item, &world->Symmetry().elements.at(element));
}

std::optional<std::uint64_t> RenamedFingerprint(const checkers::GlobalView& view,
                                                const core::WorkerRenaming& renaming) {
  const detail::World* world = detail::AsWorld(view);
  if (world == nullptr) return std::nullopt;
  return world->Fingerprint(&renaming);
}

std::size_t SymmetryGroupSize(const checkers::GlobalView& view) {
  const detail::World* world = detail::AsWorld(view);
  return world == nullptr ? 1 : world->Symmetry().size();
}

}  // namespace rrefsim::sim
