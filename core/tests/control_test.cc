// The idempotent RRef control messages under duplicate and reordered delivery (rref-protocol.md §3.1, §6.1;
// rref-cases.md §3 P1, P9). PyTorch's handlers for RREF_USER_DELETE, RREF_FORK_REQUEST and RREF_CHILD_ACCEPT are
// idempotent since #33636; duplicate_call_test.cc covers REMOTE_CALL and calls carrying forks, which are not.
// Every message is delivered by hand: Take() holds a message back, Deliver(m) twice is a duplicate.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using namespace control;

FunctionResult Check(Cluster&, WorkerId, RunFunction&) { return Returns(0); }

// ------------------------------------------------------------------------------------------------------------
// RREF_USER_DELETE: processRRefUserDelete -> RRefContext::delForkOfOwner (idempotent, log only).
// ------------------------------------------------------------------------------------------------------------

// Mirrors delForkOfOwner's first branch: no forks_ entry any more ("Could not find OwnerRRef").
TEST(ControlTest, UserDeleteDuplicateAfterOwnerDeleted) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = Created(c, 0, 1);
  c.Release(0, a);
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  c.Deliver(del);
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));

  c.Deliver(del);  // the duplicate: nothing left to delete, only a log line, and still an ACK
  EXPECT_EQ(LastLog(c, 1), "Could not find OwnerRRef with RRefId = " + Gid(0, 0) +
                                  ", likely because it was deleted by a previously retried message");
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.Errors(1).empty());
  ASSERT_EQ(c.Count(MT::RREF_ACK), 2u);
  EXPECT_EQ(c.inflight()[0].id, del.id);
  EXPECT_EQ(c.inflight()[1].id, del.id);

  c.DeliverNext(MT::RREF_ACK, 1, 0);  // completes sendWithRetries
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.DeliverNext(MT::RREF_ACK, 1, 0);  // the second response has no future waiting for it
  EXPECT_TRUE(c.Logged(0, "no request is waiting for it"));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.View(0).client_active_calls, 0);
}

// Mirrors delForkOfOwner's second branch: the RRef still has other forks ("Could not find UserRRef instance").
TEST(ControlTest, UserDeleteDuplicateWhileOtherForksLive) {
  Cluster c(3);
  std::map<WorkerId, std::vector<Handle>> kept;
  c.Define("keep", Keeper(kept));
  // The owner forks a local RRef (1,0) to 0 (fork (1,1)) and to 2 (fork (1,2)): early fork registration (S5).
  Handle h = c.worker(1).CreateLocal(Val(9), "PyObject");
  c.Rpc(1, 0, "keep", Val(0, {h}));
  c.Rpc(1, 2, "keep", Val(0, {h}));
  c.Release(1, h);  // owners_ keeps the OwnerRRef alive now
  c.DeliverAll();
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(1, 0), {Id(1, 1), Id(1, 2)}}}));

  c.Release(0, kept[0].at(0));
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.fork_id, Id(1, 1));
  c.Deliver(del);
  c.Deliver(del);
  EXPECT_EQ(LastLog(c, 1), "Could not find UserRRef instance, RRefId = " + Gid(1, 0) + ", ForkId = " + Gid(1, 1) +
                                  ", likely because it was deleted by a previously retried message");
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(1, 0), {Id(1, 2)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_TRUE(EventsOf<OwnerRRefFreed>(c, 1).empty());
  EXPECT_EQ(c.Count(MT::RREF_ACK), 2u);
}

// A USER_DELETE that reaches the owner before the REMOTE_CALL that creates the RRef (P9: the creator's remote()
// timed out, S11): silently acknowledged, nothing recorded (no tombstone); the late creation then registers the
// creator's fork forever.
// Mirrors confirmPendingUser (TIMEOUT branch), delForkOfOwner (no forks_ entry) and assignOwnerRRef.
TEST(ControlTest, UserDeleteBeforeOwnerKnowsTheRRef) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make", {}, 1 * kSecond);
  c.Release(0, a);  // still pinned by pendingUsers_
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
  c.RunTimersUntil(1 * kSecond);  // confirmPendingUser(TIMEOUT): timedOut_, then delPendingUser -> destroyed
  EXPECT_EQ(EventsOf<UserRRefDestroyed>(c, 0).size(), 1u);
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.fork_id, Id(0, 1));

  c.Deliver(del);
  EXPECT_EQ(LastLog(c, 1), "Could not find OwnerRRef with RRefId = " + Gid(0, 0) +
                                  ", likely because it was deleted by a previously retried message");
  ContextView owner = c.View(1);
  EXPECT_TRUE(owner.forks.empty());
  EXPECT_TRUE(owner.owners.empty());
  EXPECT_TRUE(owner.owner_rrefs.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.Has(MT::RREF_ACK, 1, 0));
  EXPECT_TRUE(c.Errors(1).empty());

  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);  // the late creation: assignOwnerRRef adds fork (0,1) for good
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  c.DeliverAll();  // the REMOTE_RET is ignored by the creator (its future already timed out)
  EXPECT_TRUE(c.Logged(0, "no request is waiting for it"));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  Output out;
  Expected<bool> destroyed = c.worker(1).DestroyContext(false, out);
  EXPECT_EQ(destroyed.error, "Leaking RRef " + Gid(0, 0) + " with fork Id " + Gid(0, 1) + "\n");
}

// ------------------------------------------------------------------------------------------------------------
// RREF_FORK_REQUEST: processRRefForkRequest -> addForkOfOwnerIfNotPresent (no tombstone).
// ------------------------------------------------------------------------------------------------------------

// Mirrors processRRefForkRequest -> RRefContext::addForkOfOwnerIfNotPresent.
TEST(ControlTest, ForkRequestDuplicateForLiveForkIsIgnored) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  c.Rpc(0, 2, "check", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  Message fork_request = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  c.Deliver(fork_request);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));
  c.Deliver(fork_request);
  EXPECT_EQ(LastLog(c, 1), "Ignoring duplicate request to add Fork of OwnerRRef with RRefId = "
                              "GloballyUniqueId(created_on=0, local_id=0), ForkId = " +
                                  Gid(0, 2));
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 2, 0, 0));
  EXPECT_TRUE(c.Errors(1).empty());
  ASSERT_EQ(c.Count(MT::RREF_ACK), 2u);

  c.DeliverNext(MT::RREF_ACK, 1, 2);  // confirms the child, runs the gated function, then CHILD_ACCEPT
  EXPECT_TRUE(c.View(2).pending_users.empty());
  EXPECT_TRUE(c.Has(MT::RREF_CHILD_ACCEPT, 2, 0));
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // the second ACK finds no waiting future: no second confirmation (no A7)
  EXPECT_TRUE(c.Logged(2, "no request is waiting for it"));
  EXPECT_TRUE(c.Errors(2).empty());

  c.Release(0, a);
  c.DeliverAll();
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
}

// P1: with a transport that resends the content (RetryPayload::kResend), a FORK_REQUEST attempt delayed past the
// RPC timeout is retried, the retry completes the whole S3 cycle and the owner deletes the RRef, then the delayed
// attempt arrives: addForkOfOwnerIfNotPresent re-creates forks_[r] = {c} with no owner (I10 resurrection, I7 orphan).
// Mirrors RpcAgent::sendWithRetries (rpcRetryCallback, retryExpiredRpcs) and addForkOfOwnerIfNotPresent.
TEST(ControlTest, LateForkRequestAfterDeleteResurrectsForkP1) {
  WorkerConfig base;
  base.retry_payload = RetryPayload::kResend;
  Cluster c(3, base);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}), /*timeout=*/0);
  c.Release(0, a);
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  Message slow = c.Take(MT::RREF_FORK_REQUEST, 2, 1);  // attempt 0, delayed in the network

  c.RunTimersUntil(60 * kSecond);  // attempt 0 times out; its retry time (1 s) is long past: resent at once
  EXPECT_TRUE(c.Logged(2, "Send try 1 failed"));
  Message retry = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_NE(retry.id, slow.id);
  EXPECT_EQ(retry.fork_id, slow.fork_id);
  EXPECT_FALSE(retry.empty_payload);
  c.Deliver(retry);
  c.DeliverAll();  // ACK, gated function, CHILD_ACCEPT, both USER_DELETEs: the owner deletes r
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_EQ(OutcomeOf(c, 0, call), "<ok>");
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;

  c.Deliver(slow);  // the resurrection: a fork of a dead RRef, no OwnerRRef behind it
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 2)}}}));
  EXPECT_TRUE(c.View(1).owners.empty());
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 1, 0, 0));
  EXPECT_TRUE(c.Errors(1).empty());
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // its future timed out long ago
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 0));
  Output out;
  Expected<bool> destroyed = c.worker(1).DestroyContext(false, out);
  EXPECT_EQ(destroyed.error, "Leaking RRef " + Gid(0, 0) + " with fork Id " + Gid(0, 2) + "\n");
}

// A child's FORK_REQUEST can reach the owner before the creator's REMOTE_CALL (user code on the creator may fork an
// unconfirmed UserRRef): forks_ gets an entry without owners_; the child may even be deleted before the RRef is
// created, and nothing is deleted prematurely (§7, "If the RRef was created on a user ...").
// Mirrors addForkOfOwnerIfNotPresent, delForkOfOwner and assignOwnerRRef (getOrCreateOwnerRRef + addForkOfOwner).
TEST(ControlTest, ForkRequestBeforeRemoteCall) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = c.Remote(0, 1, "make");
  Message remote_call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}));
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));

  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  ContextView owner = c.View(1);
  EXPECT_EQ(owner.forks, (Forks{{Id(0, 0), {Id(0, 2)}}}));
  EXPECT_TRUE(owner.owners.empty());
  EXPECT_TRUE(owner.owner_rrefs.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 1, 0, 0));

  c.DeliverNext(MT::RREF_ACK, 1, 2);  // the child is confirmed and its function runs and frees it
  Message child_delete = c.Take(MT::RREF_USER_DELETE, 2, 1);
  c.Deliver(child_delete);  // forks_[r] empties; no owner exists to delete
  EXPECT_TRUE(c.View(1).forks.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(EventsOf<OwnerRRefFreed>(c, 1).empty());

  c.Deliver(remote_call);  // the creation comes last and registers the creator's fork only
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  c.DeliverAll();
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_TRUE(c.View(0).pending_children.empty());
  EXPECT_TRUE(c.View(0).pending_users.empty());
  c.Release(0, a);
  c.DeliverAll();
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
}

// ------------------------------------------------------------------------------------------------------------
// RREF_CHILD_ACCEPT: processRRefChildAccept -> delPendingChild (log only).
// ------------------------------------------------------------------------------------------------------------

// Mirrors processRRefChildAccept -> RRefContext::delPendingChild.
TEST(ControlTest, ChildAcceptDuplicateIsIgnored) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  c.Rpc(0, 2, "check", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  Message accept = c.Take(MT::RREF_CHILD_ACCEPT, 2, 0);
  c.Deliver(accept);
  EXPECT_TRUE(c.View(0).pending_children.empty());
  c.Deliver(accept);
  EXPECT_EQ(LastLog(c, 0), "Ignoring duplicate request to delete child UserRRef with ForkId = " + Gid(0, 2));
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_EQ(c.Count(MT::RREF_ACK), 2u);
  // The parent is still held by the application: the duplicate released nothing.
  ASSERT_EQ(c.View(0).users.size(), 1u);
  EXPECT_FALSE(c.View(0).users[0].deleted_on_owner);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE, 0, 1));
}

// The phantom fork (S4): the owner accepts at once; a duplicate CHILD_ACCEPT is a logged no-op as well.
// Mirrors notifyOwnerAndParentOfFork's phantom-fork branch and delPendingChild.
TEST(ControlTest, ChildAcceptDuplicateForPhantomFork) {
  Cluster c(2);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  c.Rpc(0, 1, "check", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 1);
  Message accept = c.Take(MT::RREF_CHILD_ACCEPT, 1, 0);
  EXPECT_EQ(accept.fork_id, Id(0, 2));
  c.Deliver(accept);
  c.Deliver(accept);
  EXPECT_EQ(LastLog(c, 0), "Ignoring duplicate request to delete child UserRRef with ForkId = " + Gid(0, 2));
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));  // the phantom fork never entered forks_
  c.Release(0, a);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// ------------------------------------------------------------------------------------------------------------
// Reordering: the two USER_DELETEs at the end of S3 may reach the owner in either order.
// ------------------------------------------------------------------------------------------------------------

class ReorderedDeletes : public ::testing::TestWithParam<bool> {};

// Mirrors delForkOfOwner: the OwnerRRef goes with the last fork, whichever USER_DELETE that is.
TEST_P(ReorderedDeletes, ParentAndChildUserDeletesInEitherOrder) {
  const bool child_first = GetParam();
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  c.Rpc(0, 2, "check", Val(0, {a}));
  c.Release(0, a);
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 2, 0);
  Message parent_delete = c.Take(MT::RREF_USER_DELETE, 0, 1);
  Message child_delete = c.Take(MT::RREF_USER_DELETE, 2, 1);
  EXPECT_EQ(parent_delete.fork_id, Id(0, 1));
  EXPECT_EQ(child_delete.fork_id, Id(0, 2));
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));

  c.Deliver(child_first ? child_delete : parent_delete);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {child_first ? Id(0, 1) : Id(0, 2)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_TRUE(EventsOf<OwnerRRefFreed>(c, 1).empty());
  c.Deliver(child_first ? parent_delete : child_delete);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
  EXPECT_FALSE(c.Logged(1, "Could not find"));
  c.DeliverAll();
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
}

INSTANTIATE_TEST_SUITE_P(ControlTest, ReorderedDeletes, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("ChildFirst") : std::string("ParentFirst");
                         });


}  // namespace
}  // namespace rrefsim::core::testing
