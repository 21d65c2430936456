// Symmetry reduction over interchangeable workers, for the exhaustive explorer's state hashing (docs/explore.md,
// "Reduction: symmetry"). A scenario whose programs, function bodies and expectations map onto themselves when its
// workers are renamed by a permutation runs the same way from a state and from its renamed image, so the explorer
// keys states by the smallest fingerprint over the group of such permutations (Ip and Dill's canonical state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "rrefsim/checkers/global_view.h"
#include "rrefsim/core/fingerprint.h"
#include "rrefsim/sim/scenario.h"

namespace rrefsim::sim {

// The permutations of worker ids that map a scenario onto itself, the identity first. Conservative: only
// permutations that fix worker 0, only scenarios of at most kMaxSymmetricWorkers workers, and when the group would
// have more than kMaxGroupSize elements, a subgroup (the stabiliser of worker 1, then of 2, ...) that has fewer.
struct WorkerGroup {
  std::vector<core::WorkerRenaming> elements;
  // Each worker mapped to the smallest worker of its orbit under the group (not a bijection: a signature, not a
  // renaming of the state).
  core::WorkerRenaming orbits;
  std::size_t size() const { return elements.size(); }
  bool trivial() const { return elements.size() <= 1; }
};
inline constexpr int kMaxSymmetricWorkers = 8;
inline constexpr std::size_t kMaxGroupSize = 120;

// Every permutation π fixing worker 0 such that, with every absolute destination ("to": N) renamed by π,
// programs[π(w)] equals programs[w] for every w, every function body equals itself, and the counter expectations
// map onto themselves. A scenario with a relative or computed destination ({"self": k}, {"args": k}) or a payload computed
// from the worker's own number gets the identity only: those do not commute with a renaming. The fault settings
// (FaultConfig) name no worker, so they never break a symmetry.
WorkerGroup ScenarioSymmetry(const Scenario& scenario);

// `block` with every absolute destination renamed by `renaming` (for ScenarioSymmetry, and tests).
Block RenameDestinations(const Block& block, const core::WorkerRenaming& renaming);

// A state's canonical fingerprint: the smallest fingerprint of the world under the renamings of its scenario's
// group that give the smallest sequence of per-worker orbit signatures (World::OrbitSignature; usually one renaming,
// more when workers are in equal states), and the element that gave it (the first such, in the group's order). Both
// minima are over the whole group, so a state and its renamed image get the same one. With symmetry off or a
// trivial group, exactly StateFingerprint and element 0. Nullopt when the view is not a simulated world.
struct CanonicalState {
  std::uint64_t fingerprint = 0;
  std::size_t element = 0;
};
std::optional<CanonicalState> CanonicalFingerprint(const checkers::GlobalView& view, bool symmetry);

// A kStep item's identity (StepIdentity) renamed by the group element that gave the canonical state, so that steps
// compare across two visits of one canonical state reached in different renamings.
std::uint64_t CanonicalStepIdentity(const checkers::GlobalView& view, std::uint64_t item, bool symmetry,
                                    std::size_t element);

// The world's fingerprint with its workers renamed by `renaming` (for tests); nullopt when not a simulated world.
std::optional<std::uint64_t> RenamedFingerprint(const checkers::GlobalView& view,
                                                const core::WorkerRenaming& renaming);

// The group of the view's scenario (1 element when not a simulated world).
std::size_t SymmetryGroupSize(const checkers::GlobalView& view);

}  // namespace rrefsim::sim
