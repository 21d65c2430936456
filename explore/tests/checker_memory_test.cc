// The checkers' memory is part of the explorer's state key (Probe::CheckVisited, docs/explore.md "State hashing"):
// one world reached with the same checker history is a revisit, with another history a new state. Without the
// checkers in the key the second case would be cut as a revisit, and whatever that history would have reported
// later would never be checked.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "../src/probe.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/stepped_run.h"
#include "rrefsim/sim/symmetry.h"
#include "walk.h"

namespace rrefsim::explore::detail {
namespace {

// The checkers learn of an OwnerRRef (created on `worker`) freed: what their memory names, the world does not hold.
void FreeAnOwnerTheWorldNeverHad(checkers::CheckerSet& checkers, const checkers::GlobalView& view, int worker) {
  const core::Event freed = core::OwnerRRefFreed{core::RRefId{static_cast<core::WorkerId>(worker), 99}};
  checkers::StepRecord record;
  record.worker = 0;
  record.kind = checkers::RecordKind::kEvent;
  record.event = &freed;
  checkers.OnRecord(record);
  checkers.OnStepEnd(view);
  EXPECT_FALSE(checkers.failed());
}

// One search's memory of states, and the scenario's world at its first step choice reached by a fresh probe with
// `checkers` watching, after `extra_history` was handed to them.
class FirstChoice {
 public:
  explicit FirstChoice(const std::string& name) : entry_(*scenarios::FindScenario(name)) {
    config_.faults = *sim::MakeFaultConfig(entry_.faults, entry_.fault_overrides).config;
    config_.fingerprints = true;
    visited_.symmetry = sim::ScenarioSymmetry(entry_.scenario);
  }
  // Whether the probe cut the first step choice as a revisit.
  bool Revisit(bool extra_history) {
    std::vector<Node> path;
    ReductionStats races;
    checkers::CheckerSet checkers(scenarios::CheckerConfigOf(entry_, config_));
    Probe probe(path, visited_, options_, 0, std::nullopt, 0, Spent{}, races);
    sim::SteppedRun world(entry_.scenario, config_, probe, &checkers);
    probe.Monitor(checkers, nullptr);
    probe.Attach(world.view());
    EXPECT_TRUE(world.Advance());
    checkers.OnStart(world.view());
    if (extra_history) FreeAnOwnerTheWorldNeverHad(checkers, world.view(), 0);
    const Probe::AtChoice at = probe.BeforeStepChoice(world.pending_items());
    return at.cut == Cut::Why::kRevisit;
  }
  std::size_t states() const { return visited_.size(); }

 private:
  const scenarios::CatalogEntry& entry_;
  sim::RunConfig config_;
  ExploreOptions options_;
  Visited visited_;
};

TEST(CheckerMemory, TheSameWorldWithAnotherCheckerHistoryIsANewState) {
  // s3 has the identity group; s1 (two idle workers) and symmetric_users_3 key under a renaming.
  for (const char* name : {"s3_user_to_user", "s1_remote_to_here", "symmetric_users_3"}) {
    FirstChoice first(name);
    EXPECT_FALSE(first.Revisit(false)) << name;
    EXPECT_TRUE(first.Revisit(false)) << name << ": the same world and history, a revisit";
    EXPECT_FALSE(first.Revisit(true)) << name << ": the same world, another history";
    EXPECT_TRUE(first.Revisit(true)) << name;
    EXPECT_EQ(first.states(), 2u) << name;
  }
}

// Under symmetry, the checkers' memory is keyed in the renaming that gave the world's canonical state. User 1 runs
// (the owner when it cannot) while users 2 and 3 wait, and the same with user 2 in user 1's place: the worlds are
// images under the swap of 1 and 2, and so are the checkers' histories of them. With the memory of one extended by
// something that names user 1 and the other by its image (user 2), they are one state; with both extended by the
// same thing (user 1 in both: not an image), two. A key with the memory not renamed would merge the second pair.
TEST(CheckerMemory, UnderSymmetryOnlyAHistoryThatIsTheImageMerges) {
  const scenarios::CatalogEntry& entry = *scenarios::FindScenario("symmetric_users_3");
  const ExploreOptions options;
  for (int depth = 4; depth < 12; depth += 3) {
    Visited visited;
    visited.symmetry = sim::ScenarioSymmetry(entry.scenario);
    const auto revisit = [&](int preferred_user, int named_user) {
      checkers::CheckerSet checkers(scenarios::CheckerConfigOf(entry, sim::RunConfig{}));
      test_support::Walk walk(entry.scenario, {preferred_user, 0}, depth, core::ProtocolMode::kPytorch, &checkers);
      FreeAnOwnerTheWorldNeverHad(checkers, walk.run->view(), named_user);
      std::vector<Node> path;
      ReductionStats races;
      Probe probe(path, visited, options, 0, std::nullopt, 0, Spent{}, races);
      probe.Monitor(checkers, nullptr);
      probe.Attach(walk.run->view());
      return probe.BeforeStepChoice(walk.run->pending_items()).cut == Cut::Why::kRevisit;
    };
    EXPECT_FALSE(revisit(1, 1)) << "depth " << depth;
    EXPECT_TRUE(revisit(2, 2)) << "depth " << depth << ": the image of world and memory";
    EXPECT_FALSE(revisit(2, 1)) << "depth " << depth << ": the image of the world, not of the memory";
    EXPECT_EQ(visited.size(), 2u) << "depth " << depth;
  }
}

}  // namespace
}  // namespace rrefsim::explore::detail
