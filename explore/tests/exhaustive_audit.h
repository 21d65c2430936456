// Test helper of the independence audit: the audit of audit_choice.h at every state of a small scenario within the
// explorer's bounds, not only along sampled walks. The states are enumerated depth first, keyed as the explorer keys
// them (the world's fingerprint, the memories of the checkers and of a test's own invariant, and the faults taken),
// without any reduction; a step branches on taking no fault or one fault at one of its fault choices (at most one
// per step, within the bounds).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "audit_choice.h"
#include "stepwise_config.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/network.h"

namespace rrefsim::explore::test_support {

class ExhaustiveAudit {
 public:
  // `extra`: a test's own invariant (explore::ExtraInvariant) watching every run beside the checkers, or null.
  ExhaustiveAudit(const scenarios::CatalogEntry& entry, core::ProtocolMode mode, const Bounds& bounds,
                  const ExtraInvariant* extra = nullptr)
      : entry_(entry), bounds_(bounds), config_(FingerprintedConfigOf(entry)), extra_(extra) {
    std::vector<std::string> overrides = entry.fault_overrides;
    for (std::string& o : ExploreFaultOverrides(bounds)) overrides.push_back(std::move(o));
    config_.faults = *sim::MakeFaultConfig(entry.faults, overrides).config;
    config_.mode = mode;
    config_.own_faults = scenarios::RunsUnderOwnFaults(entry, config_.faults);
    mode_ = mode == core::ProtocolMode::kPytorch ? "pytorch" : "hardened";
  }

  // Audits every state reachable within the bounds; false if there are more than `max_states`.
  bool Run(std::uint64_t max_states, Tally& tally) {
    auto root = std::make_unique<AuditBranch>(entry_.scenario, config_, scenarios::CheckerConfigOf(entry_, config_),
                                              extra_);
    if (!root->Start()) return true;
    stack_.push_back(Pending{std::move(root), 0, 0, 0});
    while (!stack_.empty()) {
      Pending at = std::move(stack_.back());
      stack_.pop_back();
      const sim::SteppedRun& world = at.branch->run();
      const std::array<std::uint64_t, 4> key = {*sim::StateFingerprint(world.view()), at.branch->memory(),
                                                static_cast<std::uint64_t>(at.duplicates),
                                                static_cast<std::uint64_t>(at.drops)};
      if (!visited_.insert(key).second) continue;
      if (visited_.size() > max_states) return false;
      const std::string where = entry_.name + " (" + mode_ + " mode, exhaustive, state " +
                                std::to_string(visited_.size()) + " at step choice " + std::to_string(at.depth) + ")";
      AuditChoice(world, at.branch->checkers(), where, tally, at.branch->extra());
      for (std::uint64_t item : world.pending_items()) Expand(at, item);
    }
    return true;
  }

 private:
  // A world on the search's stack, with the faults taken on the way to it.
  struct Pending {
    std::unique_ptr<AuditBranch> branch;
    int duplicates = 0;
    int drops = 0;
    int depth = 0;
  };

  // The successors of `at` by the step `item`: without a fault, and with one at each of its fault choices that the
  // bounds allow.
  void Expand(const Pending& at, std::uint64_t item) {
    auto plain = std::make_unique<AuditBranch>(at.branch->run(), at.branch->checkers(), at.branch->extra());
    plain->Take(item);
    const std::vector<sim::ChoiceKind> faults = plain->faults_offered();
    if (!plain->ended()) stack_.push_back(Pending{std::move(plain), at.duplicates, at.drops, at.depth + 1});
    for (std::size_t k = 0; k < faults.size(); ++k) {
      const bool duplicate = faults[k] == sim::ChoiceKind::kDuplicate;
      if (duplicate ? at.duplicates >= bounds_.max_duplicates : at.drops >= bounds_.max_drops) continue;
      auto faulty = std::make_unique<AuditBranch>(at.branch->run(), at.branch->checkers(), at.branch->extra());
      faulty->Take(item, static_cast<int>(k));
      if (faulty->ended()) continue;
      stack_.push_back(Pending{std::move(faulty), at.duplicates + (duplicate ? 1 : 0), at.drops + (duplicate ? 0 : 1),
                               at.depth + 1});
    }
  }

  const scenarios::CatalogEntry& entry_;
  Bounds bounds_;
  sim::RunConfig config_;
  const ExtraInvariant* extra_;
  std::string mode_;
  std::vector<Pending> stack_;
  std::set<std::array<std::uint64_t, 4>> visited_;
};

}  // namespace rrefsim::explore::test_support
