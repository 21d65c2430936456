// Checker::Fingerprint and Facts::Fingerprint, member by member: each test feeds one checker two histories that
// leave it differing in one member only (what it remembers), and requires different fingerprints; so each fails if
// that member were left out of the checker's Fingerprint (each was tried). Three members have no test of their own
// because no history changes them alone: unique_fork_ids' live_ (last_, emptied for an aborted worker) and count_
// (the sum of live_), and owner_view_monotonic's known_ (last_forks_ as a set). Leaving one of those out alone keeps
// the key's information; they are mixed all the same.
#include <gtest/gtest.h>

#include "fake_run.h"

namespace rrefsim::checkers::testing {
namespace {

using core::MessageType;

const core::RRefId kR = Gid(0, 1);
const core::RRefId kR2 = Gid(0, 2);
const core::ForkId kF = Gid(1, 5);
const core::ForkId kG = Gid(1, 6);

std::uint64_t FactsFingerprint(const std::vector<Input>& inputs) {
  Facts facts;
  for (const Input& in : inputs) facts.OnRecord(RecordOf(in, 1));
  core::StateHasher h;
  facts.Fingerprint(h);
  return h.value();
}

// A call from worker 1 to worker 2 carrying a user->user child `child` of kR (owner 0, parent 1).
core::Message CallCarrying(core::ForkId child) {
  core::Message m = Msg(MessageType::PYTHON_CALL, 1, 2);
  m.value.rrefs.push_back(core::ForkData{0, kR, child, 1, "int"});
  return m;
}

core::UserRRefView User(core::RRefId rref, core::ForkId fork) {
  core::UserRRefView u;
  u.owner = 0;
  u.rref_id = rref;
  u.fork_id = fork;
  return u;
}

TEST(FactsFingerprint, ForksThatTravelled) {
  EXPECT_EQ(FactsFingerprint({Send(CallCarrying(kF))}), FactsFingerprint({Send(CallCarrying(kF))}));
  EXPECT_NE(FactsFingerprint({Send(CallCarrying(kF))}), FactsFingerprint({Send(CallCarrying(kG))}));
}

TEST(FactsFingerprint, ForkRequestsProcessed) {
  EXPECT_NE(FactsFingerprint({Deliver(Msg(MessageType::RREF_FORK_REQUEST, 2, 0, kF, kR))}),
            FactsFingerprint({Deliver(Msg(MessageType::RREF_FORK_REQUEST, 2, 0, kG, kR))}));
}

TEST(FactsFingerprint, RRefsFreed) {
  EXPECT_NE(FactsFingerprint({Emit(0, core::OwnerRRefFreed{kR})}), FactsFingerprint({Emit(0, core::OwnerRRefFreed{kR2})}));
}

// Facts keep their digest between steps that add nothing (Facts::Fingerprint): one taken after every record must
// match one taken only at the end, whichever of the three kinds of history grew last.
TEST(FactsFingerprint, TheKeptDigestFollowsEveryKindOfGrowth) {
  const std::vector<Input> history = {Send(CallCarrying(kF)), Deliver(Msg(MessageType::RREF_FORK_REQUEST, 2, 0, kF, kR)),
                                      Emit(0, core::OwnerRRefFreed{kR}), Send(CallCarrying(kG)),
                                      Deliver(Msg(MessageType::RREF_FORK_REQUEST, 2, 0, kG, kR)),
                                      Emit(0, core::OwnerRRefFreed{kR2})};
  Facts facts;
  for (std::size_t i = 0; i < history.size(); ++i) {
    facts.OnRecord(RecordOf(history[i], 1));
    core::StateHasher h;
    facts.Fingerprint(h);
    EXPECT_EQ(h.value(), FactsFingerprint({history.begin(), history.begin() + static_cast<long>(i) + 1}))
        << "after record " << i;
  }
}

TEST(CheckerFingerprint, UniqueForkIdsRemembersTheLiveForks) {
  CheckerRun a("unique_fork_ids"), b("unique_fork_ids");
  a.view.views[2].users = {User(kR, kF)};
  b.view.views[2].users = {User(kR, kG)};
  a.Step({Deliver(CallCarrying(kF))});
  b.Step({Deliver(CallCarrying(kG))});
  EXPECT_TRUE(a.found.empty() && b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

// A dead process holds nothing (live_ and the counts stay empty), but the instances it had are what it last read.
TEST(CheckerFingerprint, UniqueForkIdsRemembersWhatItLastReadOfAnAbortedWorker) {
  CheckerRun a("unique_fork_ids"), b("unique_fork_ids");
  a.view.views[2].users = {User(kR, kF)};
  b.view.views[2].users = {User(kR, kG)};
  for (CheckerRun* run : {&a, &b}) {
    run->view.views[2].aborted = true;
    run->Step({Emit(2, core::WorkerAborted{"terminate"})});
  }
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, NoPrematureDeleteRemembersTheFreedRRefs) {
  CheckerRun a("no_premature_delete"), b("no_premature_delete");
  a.Step({Emit(0, core::OwnerRRefFreed{kR})});
  b.Step({Emit(0, core::OwnerRRefFreed{kR2})});
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, NoPrematureDeleteRemembersWhatItReported) {
  CheckerRun a("no_premature_delete"), b("no_premature_delete");
  a.view.views[1].users = {User(kR, kF)};  // a live user when its OwnerRRef is freed: reported once
  a.Step({Emit(0, core::OwnerRRefFreed{kR})});
  b.Step({Emit(0, core::OwnerRRefFreed{kR})});
  a.view.views[1].users.clear();
  ASSERT_EQ(a.found.size(), 1u);
  EXPECT_TRUE(b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, NoPrematureDeleteRemembersTheStreamsDelivered) {
  CheckerRun a("no_premature_delete"), b("no_premature_delete");
  core::Message m = Msg(MessageType::PYTHON_CALL, 1, 0);
  m.seq = 1;
  a.Step({Deliver(m)});
  m.seq = 2;
  b.Step({Deliver(m)});
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, TheTouchedWorkersOfAStepGoingOn) {  // scratch, empty between steps, mixed anyway
  CheckerRun a("no_premature_delete"), b("no_premature_delete");
  a.Step({Deliver(Msg(MessageType::REMOTE_RET, 0, 1, kF, kR))}, false);
  b.Step({Deliver(Msg(MessageType::REMOTE_RET, 0, 2, kF, kR))}, false);
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, ParentPinnedRemembersTheParentsPin) {
  CheckerRun a("parent_pinned_until_child_confirmed"), b("parent_pinned_until_child_confirmed");
  a.view.views[1].pending_children = {{kF, Gid(1, 1)}};
  b.view.views[1].pending_children = {{kF, Gid(1, 2)}};
  a.Step({Send(CallCarrying(kF))});
  b.Step({Send(CallCarrying(kF))});
  EXPECT_TRUE(a.found.empty() && b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, ParentPinnedRemembersWhatItReported) {
  CheckerRun a("parent_pinned_until_child_confirmed"), b("parent_pinned_until_child_confirmed");
  for (CheckerRun* run : {&a, &b}) {
    run->view.views[1].pending_children = {{kF, Gid(1, 1)}};
    run->Step({Send(CallCarrying(kF))});
  }
  a.Step({Send(Msg(MessageType::RREF_USER_DELETE, 1, 0, Gid(1, 1), kR))});  // the pinned parent: reported
  b.Step({Send(Msg(MessageType::RREF_USER_DELETE, 1, 0, Gid(1, 9), kR))});  // another user: fine
  ASSERT_EQ(a.found.size(), 1u);
  EXPECT_TRUE(b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, ChildConfirmedRemembersWhatItReported) {
  CheckerRun a("child_confirmed_before_accept"), b("child_confirmed_before_accept");
  a.Step({Send(CallCarrying(kF))});
  b.Step({Send(CallCarrying(kF))});
  a.Step({Send(Msg(MessageType::RREF_CHILD_ACCEPT, 2, 1, kF, kR))});  // before the owner confirmed it: reported
  b.Step({Send(Msg(MessageType::RREF_CHILD_ACCEPT, 2, 1, Gid(3, 3), kR))});  // a fork never seen: not judged
  ASSERT_EQ(a.found.size(), 1u);
  EXPECT_TRUE(b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, CreatorPinnedRemembersTheOutstandingRemoteCall) {
  CheckerRun a("creator_pinned_until_ack"), b("creator_pinned_until_ack");
  for (auto [run, id] : {std::pair{&a, 7}, std::pair{&b, 8}}) {
    core::Message m = Msg(MessageType::PYTHON_REMOTE_CALL, 1, 0, kF, kR);
    m.id = id;
    run->view.views[1].requests = {core::RequestView{id, 0, m.type, std::nullopt}};
    run->view.views[1].pending_users = {kF};
    run->Step({Send(m)});
  }
  EXPECT_TRUE(a.found.empty() && b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());  // only the request id differs
}

TEST(CheckerFingerprint, UdfRunsRemembersTheFunctionsOfAStepGoingOn) {  // scratch, empty between steps
  CheckerRun a("udf_runs_after_args_confirmed"), b("udf_runs_after_args_confirmed");
  core::RunFunction f;
  f.function = "f";
  a.Step({Emit(2, f)}, false);
  f.function = "g";
  b.Step({Emit(2, f)}, false);
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

// A delete of UserRRef kF from worker 1 as attempt `id` of retry chain `chain`, its attempt still waiting for the
// owner's reply in worker 1's view (so the chain is open) unless `open` is false.
void SendDelete(CheckerRun& run, std::int64_t chain, std::int64_t id, bool open = true) {
  core::Message del = Msg(MessageType::RREF_USER_DELETE, 1, 0, kF, kR);
  del.id = id;
  run.view.views[1].requests.clear();
  if (open) run.view.views[1].requests.push_back(core::RequestView{id, 0, MessageType::RREF_USER_DELETE, {}});
  run.Step({Send(del, chain)});
}

TEST(CheckerFingerprint, OwnerNotifiedRemembersTheDeletesSent) {
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  SendDelete(a, 3, 7);
  SendDelete(b, 4, 7);  // another retry chain, still open
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerNotifiedForgetsTheNumbersOfARetryChainThatIsOver) {
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  SendDelete(a, 3, 7, /*open=*/false);  // answered within the step: the sender waits for nothing more
  SendDelete(b, 4, 9, /*open=*/false);
  EXPECT_EQ(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerNotifiedKeepsAChainOpenWhileItsResendIsScheduled) {
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  for (CheckerRun* run : {&a, &b}) {
    run->view.views[1].retries.push_back(core::RetryView{Msg(MessageType::RREF_USER_DELETE, 1, 0, kF, kR), 0, 0});
  }
  SendDelete(a, 3, 7, /*open=*/false);  // the attempt failed and waits in the retry map
  SendDelete(b, 4, 7, /*open=*/false);
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerNotifiedTakesAResendOfAnOpenChainForTheSameDelete) {
  CheckerRun run("owner_notified_of_every_delete");
  SendDelete(run, 3, 7);
  run.view.views[1].retries.push_back(core::RetryView{Msg(MessageType::RREF_USER_DELETE, 1, 0, kF, kR), 1, 0});
  run.view.views[1].requests.clear();
  run.Step({Deliver(Msg(MessageType::EXCEPTION, 0, 1))});  // attempt 7 failed; the chain waits to resend
  SendDelete(run, 3, 8);                                   // its resend
  EXPECT_TRUE(run.found.empty());
  SendDelete(run, 5, 9);  // another chain: a second delete
  EXPECT_EQ(run.found.size(), 1u);
}

TEST(CheckerFingerprint, OwnerNotifiedFollowsAChainThroughAResendWithoutPayload) {
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  for (auto [run, chain] : {std::pair{&a, 3}, std::pair{&b, 4}}) {
    SendDelete(*run, chain, 7);
    core::Message empty = Msg(MessageType::RREF_USER_DELETE, 1, 0);  // TensorPipe's resend: no ids (§9.1)
    empty.id = 8;
    empty.empty_payload = true;
    run->view.views[1].requests = {core::RequestView{8, 0, MessageType::RREF_USER_DELETE, {}}};
    run->Step({Send(empty, chain)});
    run->Step({Deliver(Msg(MessageType::PYTHON_CALL, 2, 1))});  // the resend still waits for its reply
  }
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());  // both chains still open, with their own numbers
}

// The explorer's sleep sets and DPOR take a step's reads from World::worker: looking at a sender that did nothing in
// the step would make every step depend on that sender's steps. A step at worker 2 alone reads no other worker, and
// the chain it could not look at stays open with its numbers (merging lost, never a verdict).
TEST(CheckerFingerprint, OwnerNotifiedReadsOnlyTheWorkersOfTheStep) {
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  for (auto [run, chain] : {std::pair{&a, 3}, std::pair{&b, 4}}) {
    SendDelete(*run, chain, 7);
    run->view.views[1].requests.clear();  // as if the chain had ended unseen
    run->view.read.clear();
    run->Step({Deliver(Msg(MessageType::PYTHON_CALL, 3, 2))});
    EXPECT_TRUE(run->view.read.empty() || run->view.read == std::set<int>{2});
  }
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerNotifiedReportsADeleteAfterItsChainIsOver) {
  CheckerRun run("owner_notified_of_every_delete");
  SendDelete(run, 3, 7, /*open=*/false);
  SendDelete(run, 4, 8);
  EXPECT_EQ(run.found.size(), 1u);
}

TEST(CheckerFingerprint, OwnerNotifiedRemembersTheDeletesProcessed) {
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  a.Step({Deliver(Msg(MessageType::RREF_USER_DELETE, 1, 0, kF, kR))});
  b.Step({Deliver(Msg(MessageType::RREF_USER_DELETE, 1, 0, kG, kR))});
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerNotifiedRemembersWhatItReported) {
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  const core::Message del = Msg(MessageType::RREF_USER_DELETE, 1, 0, kF, kR);
  a.Step({Send(del, 3), Send(del, 4)});  // a second delete: reported
  b.Step({Send(del, 3), Send(del, 3)});  // one delete, sent again by its retry chain: fine
  ASSERT_EQ(a.found.size(), 1u);
  EXPECT_TRUE(b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerNotifiedRemembersTheDestructionsOfAStepGoingOn) {  // scratch
  CheckerRun a("owner_notified_of_every_delete"), b("owner_notified_of_every_delete");
  a.Step({Emit(1, core::UserRRefDestroyed{kR, kF})}, false);
  b.Step({Emit(1, core::UserRRefDestroyed{kR, kG})}, false);
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerViewMonotonicRemembersTheDeletedForks) {
  CheckerRun a("owner_view_monotonic"), b("owner_view_monotonic");
  a.Step({Deliver(Msg(MessageType::RREF_USER_DELETE, 1, 0, kF, kR))});  // deleted before the owner knew it (P9)
  b.Step({Deliver(Msg(MessageType::RREF_USER_DELETE, 1, 0, kG, kR))});
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerViewMonotonicRemembersTheForksAsLastRead) {
  CheckerRun a("owner_view_monotonic"), b("owner_view_monotonic");
  a.view.views[0].forks = {{kR, {kF}}};
  b.view.views[0].forks = {{kR, {kG}}};
  a.Step({Deliver(Msg(MessageType::PYTHON_CALL, 1, 0))});
  b.Step({Deliver(Msg(MessageType::PYTHON_CALL, 1, 0))});
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, OwnerViewMonotonicRemembersTheForksMapAsLastRead) {  // with an RRef of no fork
  CheckerRun a("owner_view_monotonic"), b("owner_view_monotonic");
  a.view.views[0].forks = {{kR, {}}};
  a.Step({Deliver(Msg(MessageType::PYTHON_CALL, 1, 0))});
  b.Step({Deliver(Msg(MessageType::PYTHON_CALL, 1, 0))});
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, ForkTreeRememberstheEdges) {
  CheckerRun a("fork_tree_rooted_at_owner"), b("fork_tree_rooted_at_owner");
  for (CheckerRun* run : {&a, &b}) run->view.views[1].users = {User(kR, Gid(0, 3))};
  a.Step({Send(CallCarrying(kF))});
  b.Step({Send(CallCarrying(kG))});
  EXPECT_TRUE(a.found.empty() && b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, NoOrphanWaiterRemembersWhatItReported) {
  CheckerRun a("no_orphan_waiter"), b("no_orphan_waiter");
  a.view.views[0].pending_owners = {{kR, 1}};  // a fetch waits for the OwnerRRef freed now: reported once
  a.Step({Emit(0, core::OwnerRRefFreed{kR})});
  b.Step({Emit(0, core::OwnerRRefFreed{kR})});
  ASSERT_EQ(a.found.size(), 1u);
  EXPECT_TRUE(b.found.empty());
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

TEST(CheckerFingerprint, CleanAtQuiescenceRemembersAQuiescentStepGoingOn) {  // scratch
  CheckerRun a("clean_at_quiescence"), b("clean_at_quiescence");
  a.Step({Input{RecordKind::kQuiescent, -1, {}, core::Log{}, -1, "", true}}, false);
  b.Step({}, false);
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

}  // namespace
}  // namespace rrefsim::checkers::testing
