// Exhaustive search finds what random search misses. The seeded toy bug is a false claim about a user->user fork
// chain of 4 users (fork_chain_5 cut short by one user, without its final graceful shutdown): "the owner never
// processes the four users' RREF_USER_DELETEs in the order user 1, 2, 3, 4". The users drop their references as the
// chain of replies unwinds, user 4 first and user 1 last, each delete sent a reply hop after the one before, so under
// the reorder profile's random delays the claim is refuted only when every delete overtakes all the earlier ones at
// once: 10,000 random seeds never see it. The explorer, on the asynchronous network, reaches that order and hands
// back a run that shows it.
//
// The claim is about the order of events, not about a state: its memory (how much of the order it has seen) is
// part of the searched state (ExtraInvariant::Fingerprint). Without that, state hashing would check it only on the
// first order of deliveries that reached each state.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/network.h"

namespace rrefsim::explore {
namespace {

// A monitor of the claim: how many deletes have arrived in the order 1, 2, 3, 4 so far, or dead once one broke it.
class ReverseDeleteOrder : public ExtraInvariant {
 public:
  std::unique_ptr<ExtraInvariant> Clone() const override { return std::make_unique<ReverseDeleteOrder>(*this); }
  std::uint64_t Fingerprint() const override { return dead_ ? ~std::uint64_t{0} : matched_; }
  void OnStart(const checkers::GlobalView&) override { matched_ = 0, dead_ = false; }
  void OnRecord(const checkers::StepRecord& record) override {
    if (record.kind == checkers::RecordKind::kDeliver && record.message != nullptr && record.message->to == 0 &&
        record.message->type == core::MessageType::RREF_USER_DELETE && !dead_) {
      if (matched_ < kUsers && record.message->from == static_cast<int>(matched_) + 1) {
        ++matched_;
      } else {
        dead_ = true;
      }
    }
  }
  bool OnStepEnd(const checkers::GlobalView&) override { return !refuted(); }
  bool refuted() const { return !dead_ && matched_ == kUsers; }

 private:
  static constexpr std::uint64_t kUsers = 4;
  std::uint64_t matched_ = 0;
  bool dead_ = false;
};

// fork_chain_5 with 4 users and without its final graceful shutdown: the claim is about the chain, shutdown only
// adds schedules.
scenarios::CatalogEntry Chain() {
  const scenarios::CatalogEntry* catalog = scenarios::FindScenario("fork_chain_5");
  if (catalog == nullptr) throw std::logic_error("fork_chain_5 is not in the catalog");
  scenarios::CatalogEntry chain = *catalog;
  chain.scenario.graceful_shutdown = false;
  chain.scenario.workers = 5;
  chain.scenario.programs.pop_back();
  chain.scenario.programs[1].ops[1].payload = sim::Int(2);  // the hops left after user 2
  return chain;
}

// (Two tests, one per side, so that each stays short.)
TEST(ToyBug, TenThousandRandomSeedsNeverRefuteTheClaim) {
  const scenarios::CatalogEntry chain = Chain();
  const scenarios::CatalogEntry* entry = &chain;
  ReverseDeleteOrder claim;

  sim::RunConfig random_config;  // the scenario's own profile: reorder, delays in [0, 25 ms]
  random_config.faults = *sim::MakeFaultConfig(entry->faults, entry->fault_overrides).config;
  for (std::uint64_t seed = 0; seed < 10'000; ++seed) {
    sim::RandomChooser chooser(seed);
    sim::Run(entry->scenario, random_config, chooser, &claim);  // only the claim watches: the checkers cost time
    ASSERT_FALSE(claim.refuted()) << "random seed " << seed << " refuted the claim";
  }
}

TEST(ToyBug, ExhaustiveSearchRefutesTheClaim) {
  const scenarios::CatalogEntry chain = Chain();
  const scenarios::CatalogEntry* entry = &chain;
  ReverseDeleteOrder claim;

  ExploreOptions options;
  options.extra_invariant = &claim;
  options.max_runs = 400000;
  const ExploreResult result = Explore(*entry, options);
  ASSERT_TRUE(result.counterexample) << "runs " << result.stats.runs;
  EXPECT_EQ(result.counterexample->violations.front().checker, "extra_invariant");

  // The counterexample's choices replay it: the same order of deletes, nothing else failing.
  sim::ReplayChooser replay(result.counterexample->run.choices);
  const scenarios::CheckedRun again = scenarios::RunChecked(*entry, result.config, replay, &claim);
  EXPECT_TRUE(claim.refuted());
  EXPECT_EQ(again.run.outcome, sim::Outcome::kStopped);
  EXPECT_TRUE(again.violations.empty());
}

// Persistent sets keep the schedule that refutes it: the claim's memory is part of the state their analysis compares.
TEST(ToyBug, ExhaustiveSearchWithPersistentSetsRefutesTheClaim) {
  const scenarios::CatalogEntry chain = Chain();
  ReverseDeleteOrder claim;
  ExploreOptions options;
  options.extra_invariant = &claim;
  options.persistent_sets = true;
  options.max_runs = 400000;
  const ExploreResult result = Explore(chain, options);
  ASSERT_TRUE(result.counterexample) << "runs " << result.stats.runs;
  EXPECT_EQ(result.counterexample->violations.front().checker, "extra_invariant");
  EXPECT_GT(result.stats.persistent_singletons, 0u);
}

}  // namespace
}  // namespace rrefsim::explore
