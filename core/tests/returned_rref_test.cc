// S7 (rref-protocol.md §5): forking RRefs through returns: an RPC returning a UserRRef, a confirmed UserRRef, the
// caller's own RRef or an OwnerRRef, and a return value that cannot be forked.
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using namespace forking;

// ---------------------------------------------------------------------------------------------------------------------
// S7: an RPC returning an RRef.

// rpc_return_rref: C (2) returns the UserRRef it just created with remote() on B (1) to the caller A (0). C forks it
// after the function returned (parent = C); A unpickles it in the response callback, ungated, and behaves as S3.
// C's UserRRef stays pinned by pendingChildren_ (and pendingUsers_) after its function returned.
TEST(ForkTest, S7ReturnedUserRRefUserToUser) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("ret_rref");
  FutureId call = c.Rpc(0, 2, "ret_rref");
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  RunFunction run = TakeHeldRun(c, 2);
  Handle h = c.Remote(2, 1, "make", Val(5));  // inside the function
  EXPECT_EQ(c.View(2).pending_users, std::vector<ForkId>{Id(2, 1)});
  c.Finish(2, run.work, Returns(0, {h}));
  c.Release(2, h);  // the function's local goes away

  ContextView callee = c.View(2);
  EXPECT_EQ(callee.pending_children, (Children{{Id(2, 2), Id(2, 1)}}));
  ASSERT_EQ(callee.users.size(), 1u);
  EXPECT_EQ(callee.users[0].app_refs, 0);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 0));
  Message ret = c.Take(MT::PYTHON_RET, 2, 0);
  ASSERT_EQ(ret.value.rrefs.size(), 1u);
  EXPECT_EQ(ret.value.rrefs[0], (ForkData{1, Id(2, 0), Id(2, 2), 2, "PyObject"}));
  c.Deliver(ret);

  // Caller: the future completes at once with an unconfirmed UserRRef; FORK_REQUEST to the owner.
  ASSERT_TRUE(c.Result(0, call).has_value());
  ASSERT_EQ(c.Result(0, call)->value.rrefs.size(), 1u);
  Handle got = c.Result(0, call)->value.rrefs[0];
  ContextView caller = c.View(0);
  EXPECT_EQ(caller.pending_users, std::vector<ForkId>{Id(2, 2)});
  EXPECT_EQ(caller.gated_requests, 0);
  ASSERT_NE(FindUser(caller, got), nullptr);
  EXPECT_FALSE(FindUser(caller, got)->confirmed_by_owner);
  EXPECT_EQ(FindUser(caller, got)->fork_id, Id(2, 2));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 1));

  // The FORK_REQUEST overtakes the REMOTE_CALL: forks_B[r] exists without owners_B[r].
  Message fork_request = c.Take(MT::RREF_FORK_REQUEST, 0, 1);
  EXPECT_EQ(fork_request.rref_id, Id(2, 0));
  EXPECT_EQ(fork_request.fork_id, Id(2, 2));
  c.Deliver(fork_request);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(2, 0), {Id(2, 2)}}}));
  EXPECT_TRUE(c.View(1).owners.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 1, 0, 0));
  c.DeliverNext(MT::RREF_ACK, 1, 0);
  caller = c.View(0);
  EXPECT_TRUE(caller.pending_users.empty());
  EXPECT_EQ(caller.confirmed_users, std::vector<ForkId>{Id(2, 2)});
  EXPECT_TRUE(FindUser(caller, got)->confirmed_by_owner);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));  // the CHILD_ACCEPT

  // C: the child is accepted, but C's UserRRef is still the unconfirmed creator: no USER_DELETE yet (I5).
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 0, 2);
  EXPECT_TRUE(c.View(2).pending_children.empty());
  EXPECT_EQ(c.View(2).users.size(), 1u);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
  c.DeliverNext(MT::RREF_ACK, 2, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 2, 1);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(2, 0), {Id(2, 1), Id(2, 2)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 2, 0, 0));
  c.DeliverNext(MT::REMOTE_RET, 1, 2);
  EXPECT_TRUE(c.View(2).users.empty());
  Message del = c.Take(MT::RREF_USER_DELETE, 2, 1);
  EXPECT_EQ(del.fork_id, Id(2, 1));
  c.Deliver(del);
  c.DeliverAll();
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(2, 0), {Id(2, 2)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 0));

  FutureId value = c.ToHere(0, got);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, value)->value.payload, 5);
  c.Release(0, got);
  c.DeliverAll();
  ExpectAllClean(c, 3);
}

// get_rref: C (2) returns a confirmed UserRRef it holds (owner B = 1). After the function returned and C's
// application dropped it, only pendingChildren_C pins it (G2): its USER_DELETE leaves after A's child is registered
// on B and accepted, so B never sees its fork set empty while A's child lives.
TEST(ForkTest, S7ReturnedConfirmedUserRRefPinnedByPendingChildren) {
  Cluster c(3);
  c.Define("make", Make);
  Handle h = c.Remote(2, 1, "make", Val(6));
  c.DeliverAll();
  EXPECT_EQ(c.View(2).confirmed_users, std::vector<ForkId>{Id(2, 1)});
  c.Define("give", [h](Cluster&, WorkerId, RunFunction&) { return Returns(0, {h}); });
  FutureId call = c.Rpc(0, 2, "give");
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);  // the function ran and returned: C forked (2,2) with parent C
  c.Release(2, h);
  ContextView callee = c.View(2);
  EXPECT_EQ(callee.pending_children, (Children{{Id(2, 2), Id(2, 1)}}));
  EXPECT_TRUE(callee.pending_users.empty());
  ASSERT_EQ(callee.users.size(), 1u);
  EXPECT_EQ(callee.users[0].app_refs, 0);
  EXPECT_FALSE(callee.users[0].deleted_on_owner);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 0));
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));

  c.DeliverNext(MT::PYTHON_RET, 2, 0);
  Handle got = c.Result(0, call)->value.rrefs.at(0);
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(2, 2)});
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 1));
  c.DeliverNext(MT::RREF_FORK_REQUEST, 0, 1);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(2, 0), {Id(2, 1), Id(2, 2)}}}));
  c.DeliverNext(MT::RREF_ACK, 1, 0);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));  // still pinned until CHILD_ACCEPT arrives
  EXPECT_EQ(c.View(2).users.size(), 1u);
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 0, 2);
  EXPECT_TRUE(c.View(2).pending_children.empty());
  EXPECT_TRUE(c.View(2).users.empty());
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 1));
  Message del = c.Take(MT::RREF_USER_DELETE, 2, 1);
  EXPECT_EQ(del.fork_id, Id(2, 1));
  c.Deliver(del);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(2, 0), {Id(2, 2)}}}));
  EXPECT_EQ(c.View(1).owners, std::vector<RRefId>{Id(2, 0)});
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 0));
  FutureId value = c.ToHere(0, got);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, value)->value.payload, 6);
  c.Release(0, got);
  c.DeliverAll();
  ExpectAllClean(c, 3);
}

// identity(rref) returning the caller's own RRef: A (0) owns r; C (1) gets it (S5), returns it (phantom fork of C's
// UserRRef, pendingChildren_C), A unpickles its own OwnerRRef (S4) and sends CHILD_ACCEPT from the response callback.
TEST(ForkTest, S7ReturnedUserRRefBackToItsOwner) {
  Cluster c(2);
  c.Define("identity", [](Cluster&, WorkerId, RunFunction& run) { return Returns(0, run.args.rrefs); });
  Handle local = c.worker(0).CreateLocal(Val(8), "PyObject");
  FutureId call = c.Rpc(0, 1, "identity", Val(0, {local}));
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
  c.DeliverNext(MT::PYTHON_CALL, 0, 1);

  // C: the function ran and returned; its argument's UserRRef is pinned by the phantom fork p=(1,0).
  ContextView callee = c.View(1);
  EXPECT_EQ(callee.pending_children, (Children{{Id(1, 0), Id(0, 1)}}));
  EXPECT_EQ(callee.confirmed_users, std::vector<ForkId>{Id(0, 1)});
  ASSERT_EQ(callee.users.size(), 1u);
  EXPECT_EQ(callee.users[0].app_refs, 0);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  ASSERT_EQ(c.inflight().size(), 1u);
  Message ret = c.Take(MT::PYTHON_RET, 1, 0);
  ASSERT_EQ(ret.value.rrefs.size(), 1u);
  EXPECT_EQ(ret.value.rrefs[0], (ForkData{0, Id(0, 0), Id(1, 0), 1, "PyObject"}));
  c.Deliver(ret);

  // A: the result is its own OwnerRRef (same handle, one more reference); CHILD_ACCEPT(p) to C, no FORK_REQUEST.
  ASSERT_TRUE(c.Result(0, call).has_value());
  ASSERT_EQ(c.Result(0, call)->value.rrefs.size(), 1u);
  EXPECT_EQ(c.Result(0, call)->value.rrefs[0], local);
  ContextView owner = c.View(0);
  ASSERT_EQ(owner.owner_rrefs.size(), 1u);
  EXPECT_EQ(owner.owner_rrefs[0].app_refs, 2);
  EXPECT_EQ(owner.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 1));
  EXPECT_FALSE(c.Has(MT::RREF_FORK_REQUEST));
  Message accept = c.Take(MT::RREF_CHILD_ACCEPT, 0, 1);
  EXPECT_EQ(accept.fork_id, Id(1, 0));
  c.Deliver(accept);

  // C's UserRRef goes only now: USER_DELETE(r, (0,1)); A's owners_ then forgets r (the handles keep the object).
  EXPECT_TRUE(c.View(1).users.empty());
  c.DeliverNext(MT::RREF_USER_DELETE, 1, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  EXPECT_EQ(c.View(0).owner_rrefs.size(), 1u);
  c.DeliverAll();
  c.Release(0, local);
  c.Release(0, local);
  ExpectAllClean(c, 2);
}

// rpc_return_rref with RRef(x): the callee B (1) is the owner and returns its local OwnerRRef. It registers the fork
// at pickling (early registration); the caller's UserRRef is confirmed immediately (confirmedUsers_, nothing sent).
TEST(ForkTest, S7ReturnedOwnerRRefOwnerToUser) {
  Cluster c(2);
  c.Hold("ret_local");
  FutureId call = c.Rpc(0, 1, "ret_local");
  c.DeliverNext(MT::PYTHON_CALL, 0, 1);
  RunFunction run = TakeHeldRun(c, 1);
  Handle local = c.worker(1).CreateLocal(Val(11), "PyObject");
  c.Finish(1, run.work, Returns(0, {local}));
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(1, 0), {Id(1, 1)}}}));
  EXPECT_EQ(c.View(1).owners, std::vector<RRefId>{Id(1, 0)});
  c.Release(1, local);
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  ASSERT_EQ(c.View(1).owner_rrefs.size(), 1u);

  Message ret = c.Take(MT::PYTHON_RET, 1, 0);
  ASSERT_EQ(ret.value.rrefs.size(), 1u);
  EXPECT_EQ(ret.value.rrefs[0], (ForkData{1, Id(1, 0), Id(1, 1), 1, "PyObject"}));
  c.Deliver(ret);
  ASSERT_TRUE(c.Result(0, call).has_value());
  Handle got = c.Result(0, call)->value.rrefs.at(0);
  ContextView caller = c.View(0);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_TRUE(caller.pending_users.empty());
  EXPECT_EQ(caller.confirmed_users, std::vector<ForkId>{Id(1, 1)});
  EXPECT_FALSE(FindUser(caller, got)->confirmed_by_owner);  // P13
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  FutureId value = c.ToHere(0, got);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, value)->value.payload, 11);
  c.Release(0, got);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 1), 1);
  c.DeliverAll();
  ExpectAllClean(c, 2);
}

// The callee returns an RRef that cannot be forked (its own remote() timed out, A17). The throw happens in the
// then() continuation that serializes the return value (serializePyObject / ScriptResp::toMessage), so the response
// future fails: the caller gets the raw text (no "Error on Node" prefix) and the callee logs no handleError line.
TEST(ForkTest, S7ReturnValueThatCannotBeForkedRepliesRawError) {
  Cluster c(3);
  c.Hold("ret_rref");
  FutureId call = c.Rpc(0, 2, "ret_rref", {}, TimeUs{0});
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  RunFunction run = TakeHeldRun(c, 2);
  Handle h = c.Remote(2, 1, "make", {}, 10 * kMillisecond);
  c.Drop(MT::PYTHON_REMOTE_CALL, 2, 1);
  c.AdvanceTo(10 * kMillisecond);
  ASSERT_TRUE(FindUser(c.View(2), h)->timed_out);
  c.Finish(2, run.work, Returns(0, {h}));
  const std::string text =
      "RRef creation via rpc.remote() timed out, and it is possible that the RRef on the owner node does not exist.";
  ASSERT_EQ(c.Errors(2).size(), 1u);
  EXPECT_EQ(c.Errors(2)[0].code, "A17");
  EXPECT_EQ(c.Errors(2)[0].site, ErrorSite::kRequestHandler);
  EXPECT_FALSE(c.Logged(2, "Received error while processing request"));
  EXPECT_TRUE(c.View(2).pending_children.empty());
  Message reply = c.Take(MT::EXCEPTION, 2, 0);
  EXPECT_EQ(reply.error, text);
  c.Deliver(reply);
  EXPECT_EQ(OutcomeOf(c, 0, call), text);
  c.Release(2, h);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 0));
}

}  // namespace
}  // namespace rrefsim::core::testing
