// The `hardened` mode's rules (docs/hardened-protocol.md): each request is processed at most once however late a
// copy arrives (watermark + numbers above it, also after its cached reply was evicted), every request is resent
// until answered, a remote() that timed out at the caller is undone by the normal protocol, and a fetch of a deleted
// RRef gets an error while the owner's tombstone lasts.
#include <string>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using agent::LogsWith;

WorkerConfig Hardened() {
  WorkerConfig c;
  c.mode = ProtocolMode::kHardened;
  return c;
}

FunctionResult Counting(int& runs) { return Returns(10 * ++runs); }

// Delivers everything in flight; then no worker holds any RRef state.
void ExpectCleanAfterDelivery(Cluster& c, int workers) {
  c.DeliverAll();
  for (WorkerId w = 0; w < workers; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
}

// A second copy of a REMOTE_CALL does not run the function again: the receiver resends the cached REMOTE_RET (P4).
TEST(HardenedTest, DuplicateRemoteCallRunsOnceAndGetsTheCachedReply) {
  Cluster c(2, Hardened());
  int runs = 0;
  c.Define("make", [&runs](Cluster&, WorkerId, RunFunction&) { return Counting(runs); });
  Handle a = c.Remote(0, 1, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_EQ(call.seq, 1);
  c.Deliver(call);
  c.Deliver(call);
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(c.Errors(1).empty());
  EXPECT_EQ(c.Count(MT::REMOTE_RET), 2u);  // the answer and its cached copy
  EXPECT_EQ(LogsWith(c, 1, "Resending the reply to duplicate request").size(), 1u);
  c.Release(0, a);
  ExpectCleanAfterDelivery(c, 2);
}

// The reply cache forgets a reply once the sender says it has every reply below a number; a copy of that request
// arriving afterwards is still recognised by the watermark and ignored: no second run, no reply.
TEST(HardenedTest, LateDuplicateAfterItsReplyWasEvictedIsIgnored) {
  Cluster c(2, Hardened());
  int runs = 0;
  c.Define("make", [&runs](Cluster&, WorkerId, RunFunction&) { return Counting(runs); });
  FutureId first = c.Rpc(0, 1, "make");
  Message old_copy = c.Take(MT::PYTHON_CALL, 0, 1);
  c.Deliver(old_copy);
  c.DeliverNext(MT::PYTHON_RET, 1, 0);
  EXPECT_EQ(OutcomeOf(c, 0, first), "<ok>");
  FutureId second = c.Rpc(0, 1, "make");  // carries replies_below = 2: reply 1 may go
  Message next = c.Take(MT::PYTHON_CALL, 0, 1);
  EXPECT_EQ(next.seq, 2);
  EXPECT_EQ(next.replies_below, 2);
  c.Deliver(next);
  EXPECT_EQ(runs, 2);
  c.Deliver(old_copy);  // arbitrarily late, after its cached reply was evicted
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(LogsWith(c, 1, "already answered").size(), 1u);
  EXPECT_EQ(c.Count(MT::PYTHON_RET), 1u);  // only the second call's reply
  c.DeliverAll();
  EXPECT_EQ(OutcomeOf(c, 0, second), "<ok>");
}

// No retry budget: a control message lost any number of times is resent, with the same content (never an empty
// payload, P15) and a gap that grows to the cap, until it is answered (P6).
TEST(HardenedTest, ControlMessagesAreResentUntilAnsweredWithCappedBackoff) {
  Cluster c(2, Hardened());
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  Handle a = c.Remote(0, 1, "make");
  c.DeliverAll();
  c.Release(0, a);
  Message first = c.Drop(MT::RREF_USER_DELETE, 0, 1);
  TimeUs last = c.now();
  for (int i = 0; i < 12; ++i) {
    c.AdvanceTo(*c.NextDeadline());
    Message again = c.Drop(MT::RREF_USER_DELETE, 0, 1);
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(again.seq, first.seq);
    EXPECT_FALSE(again.empty_payload);
    EXPECT_LE(c.now() - last, 8 * kSecond);  // the cap
    last = c.now();
  }
  c.AdvanceTo(*c.NextDeadline());
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_FALSE(c.NextDeadline().has_value());
}

// P1: a copy of a FORK_REQUEST delivered after the fork was deleted (and the owner freed) is a duplicate of its
// stream: it cannot put the fork back into forks_.
TEST(HardenedTest, LateForkRequestCannotResurrectADeletedFork) {
  Cluster c(3, Hardened());
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  c.Define("use", [](Cluster&, WorkerId, RunFunction&) { return Returns(0); });
  Handle a = c.Remote(0, 1, "make");
  c.DeliverAll();
  FutureId f = c.Rpc(0, 2, "use", Val(0, {a}));  // 0 -> 2: a user->user fork of RRef (0,0) owned by 1
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  Message fork_request = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  c.Deliver(fork_request);
  c.Release(0, a);
  c.DeliverAll();
  EXPECT_EQ(OutcomeOf(c, 0, f), "<ok>");
  ASSERT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  c.Deliver(fork_request);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.View(1).forks.empty());
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// P9: remote() times out at the caller; the application sees the timeout, but the UserRRef stays pending (so its
// delete cannot overtake the creation) until the late REMOTE_RET; then the delete leaves the owner clean.
TEST(HardenedTest, RemoteThatTimedOutAtTheCallerLeavesNothingBehind) {
  Cluster c(2, Hardened());
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  Handle a = c.Remote(0, 1, "make", {}, 100 * kMillisecond);
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.AdvanceTo(100 * kMillisecond);
  Expected<FutureId> fetch = c.TryToHere(0, a);
  EXPECT_FALSE(fetch.ok());
  EXPECT_NE(fetch.error.find("timed out"), std::string::npos);
  c.Release(0, a);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));  // pinned until the creation is answered
  EXPECT_EQ(c.Debug(0).num_pending_users, 1);
  c.Deliver(call);
  ExpectCleanAfterDelivery(c, 2);
}

// P10: a fetch that arrives after the last delete freed the OwnerRRef gets an error from the owner's tombstone,
// which goes once the deleting stream delivered everything up to its delete.
TEST(HardenedTest, FetchOfADeletedRRefGetsAnErrorAndTheTombstoneExpires) {
  Cluster c(2, Hardened());
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  Handle a = c.Remote(0, 1, "make");
  c.DeliverAll();
  FutureId f = c.ToHere(0, a, 100 * kMillisecond);
  Message fetch = c.Take(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  c.AdvanceTo(100 * kMillisecond);
  EXPECT_NE(OutcomeOf(c, 0, f).find("more than set timeout"), std::string::npos);
  c.Release(0, a);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.Logs(1).empty() || LogsWith(c, 1, "Removing the tombstone").empty());
  c.Deliver(fetch);
  EXPECT_TRUE(c.View(1).pending_owners.empty());
  Message reply = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_NE(reply.error.find("already deleted"), std::string::npos);
  EXPECT_EQ(LogsWith(c, 1, "Removing the tombstone").size(), 1u);
  c.Deliver(reply);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_FALSE(c.NextDeadline().has_value());
}

// A remote() whose function cannot run stores the error in the OwnerRRef (pytorch: an EXCEPTION that throws in the
// callback and pins the UserRRef forever, P5): to_here gets a clean error and everything is deleted.
TEST(HardenedTest, FailedRemoteGivesACleanErrorAndNoPin) {
  Cluster c(2, Hardened());
  Handle a = c.Remote(0, 1, "no_such_function");
  c.DeliverAll();
  EXPECT_TRUE(c.Errors(0).empty());
  FutureId f = c.ToHere(0, a);
  c.DeliverAll();
  EXPECT_NE(OutcomeOf(c, 0, f), "<ok>");
  EXPECT_NE(OutcomeOf(c, 0, f), "<pending>");
  c.Release(0, a);
  ExpectCleanAfterDelivery(c, 2);
}

// P16: each remote() that times out marks its own RRef (pytorch marks the first RRef that ever failed); both stay
// pending until their late REMOTE_RETs, then everything is deleted.
TEST(HardenedTest, EveryTimedOutRemoteMarksItsOwnRRef) {
  Cluster c(2, Hardened());
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(5); });
  Handle r1 = c.Remote(0, 1, "make", {}, 10 * kMillisecond);
  Handle r2 = c.Remote(0, 1, "make", {}, 10 * kMillisecond);
  Message call1 = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  Message call2 = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.AdvanceTo(10 * kMillisecond);
  for (const UserRRefView& u : c.View(0).users) EXPECT_TRUE(u.timed_out);
  EXPECT_EQ(c.View(0).pending_users.size(), 2u);
  EXPECT_FALSE(c.TryToHere(0, r1).ok());
  EXPECT_FALSE(c.TryToHere(0, r2).ok());
  c.Release(0, r1);
  c.Release(0, r2);
  c.Deliver(call2);
  c.Deliver(call1);
  ExpectCleanAfterDelivery(c, 2);
}

// A call whose only transmission the transport refused never left: the caller gets the error at once, the fork
// its owner registered early for it is dropped (P7), and the request's number is filled by a payload-less cancel
// that its receiver answers without running anything.
TEST(HardenedTest, RefusedCallIsWithdrawnAndReleasesItsEarlyRegisteredFork) {
  Cluster c(2, Hardened());
  int runs = 0;
  c.Define("use", [&runs](Cluster&, WorkerId, RunFunction&) { return Counting(runs); });
  Handle local = c.worker(0).CreateLocal(Val(3), "PyObject");
  bool refused = false;
  c.FailSends([&refused](const Message& m) -> std::optional<std::string> {
    if (m.type != MT::PYTHON_CALL || refused) return std::nullopt;
    refused = true;
    return "RPCErr:2:Send attempt failed intentionally for PYTHON_CALL";
  });
  FutureId f = c.Rpc(0, 1, "use", Val(0, {local}));
  EXPECT_EQ(OutcomeOf(c, 0, f), "RPCErr:2:Send attempt failed intentionally for PYTHON_CALL");
  EXPECT_TRUE(c.View(0).forks.empty());  // the early registration of the fork it carried is undone
  c.AdvanceTo(*c.NextDeadline());
  Message cancel = c.Take(MT::PYTHON_CALL, 0, 1);
  EXPECT_TRUE(cancel.empty_payload);
  EXPECT_TRUE(cancel.value.rrefs.empty());
  c.Deliver(cancel);
  EXPECT_EQ(runs, 0);
  c.DeliverAll();
  EXPECT_FALSE(c.NextDeadline().has_value());
  c.Release(0, local);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// P12: graceful shutdown's first wait has no deadline, and it never deletes a parent whose child is not accepted yet:
// the call carrying the child is late (still being resent), the parent's RREF_USER_DELETE follows the CHILD_ACCEPT.
TEST(HardenedTest, ShutdownWaitsForPendingChildrenWithoutDeadline) {
  Cluster c(3, Hardened());
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  c.Define("use", [](Cluster&, WorkerId, RunFunction&) { return Returns(0); });
  Handle a = c.Remote(0, 1, "make");
  c.DeliverAll();
  c.Rpc(0, 2, "use", Val(0, {a}), /*timeout=*/0);
  c.Release(0, a);  // only pendingChildren_ holds the parent now
  c.DeleteAllUsers(0);
  for (int i = 0; i < 40; ++i) {  // 40 resends of the lost call: well past pytorch's 100 s wait
    c.Drop(MT::PYTHON_CALL, 0, 2);
    c.AdvanceTo(*c.NextDeadline());
  }
  EXPECT_GT(c.now(), 200 * kSecond);
  EXPECT_TRUE(EventsOf<ShutdownProgress>(c, 0).empty());
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
  EXPECT_EQ(c.View(0).pending_children.size(), 1u);
  c.DeliverAll();
  EXPECT_EQ(EventsOf<ShutdownProgress>(c, 0).size(), 2u);
  ExpectCleanAfterDelivery(c, 3);
}

}  // namespace
}  // namespace rrefsim::core::testing
