// CheckerSet::Fingerprint, the checkers' memory in the explorer's state key: equal for equal histories and for a
// clone, different for different histories, which checkers fired (expected or not) in it, and equal for a history
// and its image under a renaming of workers (symmetry reduction) when fingerprinted under that renaming.
#include <gtest/gtest.h>

#include "fake_run.h"

namespace rrefsim::checkers::testing {
namespace {

using core::MessageType;

// A user->user fork from `parent` to `child` (RRef (0,1) owned by worker 0), its fork request processed, the
// parent's delete sent and processed: Facts, no_premature_delete, parent_pinned, owner_notified, owner_view_monotonic,
// fork_tree and unique_fork_ids all remember something of it.
void ForkAndDelete(SetRun& run, int parent, int child, std::int64_t local_id = 5) {
  const core::RRefId rref = Gid(0, 1);
  const core::ForkId parent_fork = Gid(0, 2);
  const core::ForkId child_fork = Gid(parent, local_id);
  core::Message call = Msg(MessageType::PYTHON_CALL, parent, child);
  call.value.rrefs.push_back(core::ForkData{0, rref, child_fork, static_cast<core::WorkerId>(parent), "int"});
  core::UserRRefView parent_user;
  parent_user.owner = 0;
  parent_user.rref_id = rref;
  parent_user.fork_id = parent_fork;
  run.view.views[static_cast<std::size_t>(parent)].users = {parent_user};
  run.view.views[static_cast<std::size_t>(parent)].pending_children = {{child_fork, parent_fork}};
  run.Step({Send(call)});
  core::UserRRefView child_user = parent_user;
  child_user.fork_id = child_fork;
  run.view.views[static_cast<std::size_t>(child)].users = {child_user};
  run.Step({Deliver(call)});
  run.view.views[0].forks = {{rref, {child_fork}}};
  run.Step({Deliver(Msg(MessageType::RREF_FORK_REQUEST, child, 0, child_fork, rref))});
  run.view.views[static_cast<std::size_t>(parent)].pending_children.clear();
  run.Step({Deliver(Msg(MessageType::RREF_CHILD_ACCEPT, child, parent, child_fork, rref))});
  run.Step({Send(Msg(MessageType::RREF_USER_DELETE, parent, 0, parent_fork, rref), 1)});
  run.view.views[static_cast<std::size_t>(parent)].users.clear();
  run.Step({Deliver(Msg(MessageType::RREF_USER_DELETE, parent, 0, parent_fork, rref))});
}

TEST(CheckerSetFingerprint, EqualForEqualHistoriesAndDifferentForDifferentOnes) {
  SetRun a, b, c, empty;
  ForkAndDelete(a, 1, 2);
  ForkAndDelete(b, 1, 2);
  ForkAndDelete(c, 1, 2, 6);  // another fork id for the child
  EXPECT_EQ(a.set.Fingerprint(), b.set.Fingerprint());
  EXPECT_NE(a.set.Fingerprint(), c.set.Fingerprint());
  EXPECT_NE(a.set.Fingerprint(), empty.set.Fingerprint());
  EXPECT_FALSE(a.set.failed());
}

TEST(CheckerSetFingerprint, ACloneFingerprintsAsItsOriginalAndGoesOnAlone) {
  SetRun a;
  ForkAndDelete(a, 1, 2);
  CheckerSet clone(a.set);
  clone.OnStart(a.view);
  EXPECT_EQ(clone.Fingerprint(), a.set.Fingerprint());
  const std::uint64_t before = a.set.Fingerprint();
  clone.OnRecord(RecordOf(Emit(0, core::OwnerRRefFreed{Gid(0, 1)}), 7));
  clone.OnStepEnd(a.view);
  EXPECT_NE(clone.Fingerprint(), before);
  EXPECT_EQ(a.set.Fingerprint(), before);  // the original's memory is its own
}

// to_here_value keeps no memory: what it found is in the key only through the set's lists of violations.
TEST(CheckerSetFingerprint, TheExpectedCheckersSeenAreInTheKey) {
  CheckerConfig config;
  config.expected_violations = {"to_here_value"};
  SetRun bad(config), good(config), bad_elsewhere(config);
  bad.Step({Observe(1, false)});
  good.Step({Observe(1, true)});
  bad_elsewhere.Step({Observe(2, false)});  // another text, the same checker
  ASSERT_EQ(bad.set.expected_violations().size(), 1u);
  EXPECT_FALSE(bad.set.failed());
  EXPECT_NE(bad.set.Fingerprint(), good.set.Fingerprint());
  EXPECT_EQ(bad.set.Fingerprint(), bad_elsewhere.set.Fingerprint());  // which checkers, not their texts
}

TEST(CheckerSetFingerprint, WhichExpectedCheckerWasSeenIsInTheKey) {
  CheckerConfig config;
  config.expected_violations = {"to_here_value", "worker_abort"};
  SetRun value(config), abort(config);
  value.Step({Observe(1, false)});
  abort.Step({Emit(1, core::WorkerAborted{"terminate"})});
  ASSERT_EQ(value.set.expected_violations().size(), 1u);
  ASSERT_EQ(abort.set.expected_violations().size(), 1u);
  EXPECT_NE(value.set.Fingerprint(), abort.set.Fingerprint());
}

TEST(CheckerSetFingerprint, TheViolationsAreInTheKey) {
  SetRun bad, good;
  bad.Step({Observe(1, false)});
  good.Step({Observe(1, true)});
  ASSERT_TRUE(bad.set.failed());
  EXPECT_NE(bad.set.Fingerprint(), good.set.Fingerprint());
}

TEST(CheckerSetFingerprint, WhatAStepGoingOnFoundIsInTheKey) {  // pending_: empty between steps, mixed anyway
  SetRun bad, good;
  bad.Step({Observe(1, false)}, false);
  good.Step({Observe(1, true)}, false);
  EXPECT_FALSE(bad.set.failed());
  EXPECT_NE(bad.set.Fingerprint(), good.set.Fingerprint());
}

// Symmetry: a history between workers 1 and 2 and the same history with 1 and 2 swapped are images of each other;
// under the renaming that maps one onto the other they fingerprint alike, plainly they differ.
TEST(CheckerSetFingerprint, AHistoryAndItsRenamedImageAgreeUnderTheRenaming) {
  SetRun a, swapped, other;
  ForkAndDelete(a, 1, 2);
  ForkAndDelete(swapped, 2, 1);
  ForkAndDelete(other, 1, 3);  // not an image under the swap of 1 and 2
  const core::WorkerRenaming identity{{0, 1, 2, 3}, 1};
  const core::WorkerRenaming swap{{0, 2, 1, 3}, 2};
  EXPECT_NE(a.set.Fingerprint(), swapped.set.Fingerprint());
  EXPECT_EQ(a.set.Fingerprint(&identity), swapped.set.Fingerprint(&swap));
  EXPECT_EQ(a.set.Fingerprint(&swap), swapped.set.Fingerprint(&identity));
  EXPECT_NE(a.set.Fingerprint(&identity), other.set.Fingerprint(&swap));
  EXPECT_NE(a.set.Fingerprint(&identity), a.set.Fingerprint(&swap));  // the history is not symmetric in itself
}

}  // namespace
}  // namespace rrefsim::checkers::testing
