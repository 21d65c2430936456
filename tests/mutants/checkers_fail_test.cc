// Every checker can fail: for each checker id, a run where it is the FIRST to fire, through a deliberately broken
// core (core/src/mutants.h, compiled only into this binary) or through a real fault of PyTorch's own protocol. Each
// failing run must replay: the recorded choice list, fed to the strict replay chooser, reproduces it exactly.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "active_mutant.h"
#include "mutants.h"
#include "rrefsim/checkers/checker.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"

namespace rrefsim::core::mutants {
Mutant active = Mutant::kNone;
}  // namespace rrefsim::core::mutants

namespace rrefsim {
namespace {

using core::mutants::Mutant;

struct Case {
  std::string checker;  // the id that must fire first
  std::string must_say;  // a part of its text that shows the mechanism (which branch of the checker fired)
  Mutant mutant = Mutant::kNone;
  scenarios::CatalogEntry entry;
  std::string profile = "reorder";
  std::vector<std::string> overrides = {};
  std::uint64_t max_steps = 1'000'000;
};

scenarios::CatalogEntry Entry(const std::string& name) {
  const scenarios::CatalogEntry* e = scenarios::FindScenario(name);
  EXPECT_NE(e, nullptr) << name;
  return e ? *e : scenarios::CatalogEntry{};
}

sim::RunConfig ConfigOf(const Case& c) {
  sim::RunConfig config;
  sim::FaultConfigResult faults = sim::MakeFaultConfig(c.profile, c.overrides);
  EXPECT_TRUE(faults.config.has_value()) << faults.error;
  if (faults.config) config.faults = *faults.config;
  config.max_steps = c.max_steps;
  return config;
}

std::string Names(const std::vector<checkers::Violation>& violations) {
  std::string text;
  for (const checkers::Violation& v : violations) text += v.checker + ": " + v.text + "\n";
  return text;
}

// Finds the first seed below `seeds` where c.checker fires first, checks that the run replays, and returns the seed.
std::optional<std::uint64_t> FirstFiring(const Case& c, std::uint64_t seeds) {
  ActiveMutant mutant(c.mutant);
  sim::RunConfig config = ConfigOf(c);
  for (std::uint64_t seed = 0; seed < seeds; ++seed) {
    sim::RandomChooser chooser(seed);
    scenarios::CheckedRun run = scenarios::RunChecked(c.entry, config, chooser);
    if (!run.failed() || run.violations.front().checker != c.checker) continue;
    EXPECT_NE(run.violations.front().text.find(c.must_say), std::string::npos)
        << c.checker << " fired for another reason: " << run.violations.front().text;
    sim::ReplayChooser replay(run.run.choices);
    scenarios::CheckedRun again = scenarios::RunChecked(c.entry, config, replay);
    EXPECT_EQ(again.run.hash, run.run.hash) << "seed " << seed << " does not replay";
    EXPECT_EQ(Names(again.violations), Names(run.violations));
    return seed;
  }
  return std::nullopt;
}

void ExpectFiresFirst(const Case& c, std::uint64_t seeds = 200) {
  std::optional<std::uint64_t> seed = FirstFiring(c, seeds);
  EXPECT_TRUE(seed.has_value()) << c.checker << " never fired first in " << seeds << " seeds of " << c.entry.name;
}

// chaos with duplication as its only fault
const std::vector<std::string> kDuplicateOnly = {"drop=0", "long_delay=0", "partition=0"};

TEST(CheckersFail, ProtocolErrorOnDuplicatedUserFork) {  // P3: A6, attempt to add the same UserRRef twice
  ExpectFiresFirst({"protocol_error", "assertion A6 fired", Mutant::kNone, Entry("s3_user_to_user"), "chaos", kDuplicateOnly});
}

TEST(CheckersFail, UniqueForkIdsOnDuplicatedOwnerFork) {  // P2: two UserRRefs share one fork id
  ExpectFiresFirst({"unique_fork_ids", "two live UserRRef instances share fork", Mutant::kNone, Entry("s5_owner_to_user"), "chaos", kDuplicateOnly});
}

TEST(CheckersFail, NoPrematureDeleteWhenTheOwnerFreesOnTheFirstDelete) {
  ExpectFiresFirst({"no_premature_delete", "freed OwnerRRef", Mutant::kFreeOwnerOnFirstDelete, Entry("s3_user_to_user")});
}

TEST(CheckersFail, ParentPinnedWhenThePendingChildPinIsSkipped) {
  ExpectFiresFirst({"parent_pinned_until_child_confirmed", "does not hold its parent in pendingChildren_",
                    Mutant::kSkipPendingChildPin, Entry("s3_user_to_user")});
}

TEST(CheckersFail, ChildConfirmedBeforeAcceptWhenTheChildAcceptsEarly) {
  ExpectFiresFirst({"child_confirmed_before_accept", "before owner", Mutant::kAcceptBeforeConfirm, Entry("s3_user_to_user")});
}

TEST(CheckersFail, CreatorPinnedWhenRemoteForgetsItsPendingUser) {
  ExpectFiresFirst({"creator_pinned_until_ack", "in pendingUsers_", Mutant::kForgetPendingUser, Entry("s1_remote_to_here")});
}

TEST(CheckersFail, UdfRunsAfterArgsConfirmedWhenGatingIsSkipped) {
  ExpectFiresFirst({"udf_runs_after_args_confirmed", "was not yet confirmed", Mutant::kSkipGating, Entry("s3_user_to_user")});
}

TEST(CheckersFail, OwnerNotifiedWhenAUserDiesSilently) {
  ExpectFiresFirst({"owner_notified_of_every_delete", "without sending RREF_USER_DELETE", Mutant::kSkipUserDelete, Entry("s1_remote_to_here")});
}

// P9 under chaos (s4 has no FORK_REQUEST; P1 is in pytorch_defects_test.cc): a fork re-added after its delete.
TEST(CheckersFail, OwnerViewMonotonicOnAResurrectedFork) {
  ExpectFiresFirst({"owner_view_monotonic", "after it had deleted it", Mutant::kNone, Entry("s4_user_to_owner"), "chaos"}, 600);
}

TEST(CheckersFail, ForkTreeRootedAtOwnerWhenAForkNamesTheWrongParent) {
  ExpectFiresFirst({"fork_tree_rooted_at_owner", "names worker", Mutant::kWrongParent, Entry("s3_user_to_user")});
}

TEST(CheckersFail, ToHereValueWhenTheOwnerAnswersAWrongValue) {
  ExpectFiresFirst({"to_here_value", "expected 42", Mutant::kWrongFetchValue, Entry("s1_remote_to_here")});
}

// The leak keeps owners_ from emptying, so graceful shutdown's wait times out: the event-side check names it.
TEST(CheckersFail, CleanAtQuiescenceWhenTheOwnerLeaksAFork) {
  ExpectFiresFirst({"clean_at_quiescence", "timed out waiting for its OwnerRRefs", Mutant::kLeakForkOnDelete, Entry("s1_remote_to_here")});
}

TEST(CheckersFail, CleanAtQuiescenceWhenAPendingFutureLeaks) {  // the check at the quiescent point itself
  ExpectFiresFirst({"clean_at_quiescence", "is not clean at quiescence: 1 pending futures", Mutant::kLeakPendingFuture,
                    Entry("s3_user_to_user")});
}

TEST(CheckersFail, NoOrphanWaiterOnAFetchAfterTheLastDelete) {  // P10 under chaos
  ExpectFiresFirst({"no_orphan_waiter", "already freed", Mutant::kNone, Entry("s5_owner_to_user"), "chaos"}, 600);
}

TEST(CheckersFail, WorkerAbortWhenAFailingForkRequestThrowsOnTheRetryThread) {  // P6 -> P17
  scenarios::CatalogEntry entry = Entry("s3_user_to_user");
  entry.expected_protocol_errors = {"A23"};  // the thrown error itself is expected: the abort is the failure
  ExpectFiresFirst({"worker_abort", "terminated", Mutant::kNone, entry, "faulty-agent", {"num_fail_sends=6"}});
}

TEST(CheckersFail, DeadlockAtABarrierOneWorkerNeverReaches) {
  scenarios::CatalogEntry entry;
  entry.name = "barrier_mismatch";
  entry.scenario = sim::Scenario("barrier_mismatch", 2);
  entry.scenario.On(0).Barrier();
  entry.scenario.On(1);
  ExpectFiresFirst({"deadlock", "barrier 1", Mutant::kNone, entry}, 1);
}

TEST(CheckersFail, NoQuiescenceWithinATightStepBound) {
  ExpectFiresFirst({"no_quiescence", "steps was reached", Mutant::kNone, Entry("s3_user_to_user"), "reorder", {}, 5}, 1);
}

// Every checker id has a test above (keep this list in step with CheckerIds()).
TEST(CheckersFail, EveryCheckerHasAProof) {
  std::vector<std::string> proven = {
      "protocol_error", "unique_fork_ids", "no_premature_delete", "parent_pinned_until_child_confirmed",
      "child_confirmed_before_accept", "creator_pinned_until_ack", "udf_runs_after_args_confirmed",
      "owner_notified_of_every_delete", "owner_view_monotonic", "fork_tree_rooted_at_owner", "to_here_value",
      "clean_at_quiescence", "no_orphan_waiter", "worker_abort", "deadlock", "no_quiescence"};
  EXPECT_EQ(proven, checkers::CheckerIds());
}

// With no mutant and no fault, the same scenarios pass: the failures above come from the mutants and faults.
TEST(CheckersFail, TheUnbrokenCorePasses) {
  for (const char* name : {"s1_remote_to_here", "s3_user_to_user", "s4_user_to_owner", "s5_owner_to_user"}) {
    Case c{"", "", Mutant::kNone, Entry(name)};
    sim::RunConfig config = ConfigOf(c);
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
      sim::RandomChooser chooser(seed);
      scenarios::CheckedRun run = scenarios::RunChecked(c.entry, config, chooser);
      EXPECT_FALSE(run.failed()) << name << " seed " << seed << ": " << Names(run.violations);
    }
  }
}

}  // namespace
}  // namespace rrefsim
