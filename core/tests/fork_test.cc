// S3-S6 (rref-protocol.md §5): forking RRefs through calls: user -> user, user -> owner (the phantom fork),
// owner -> user (early registration) and owner -> self.
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

// A (0) creates r on owner B (1), then passes it to C (2) in an rpc: user -> user.
// Mirrors RRefContext::prepareChildFork, notifyOwnerAndParentOfFork, finishForkRequest and delPendingChild.
TEST(ForkTest, S3UserToUserForkStepByStep) {
  Cluster c(3);
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(5); });
  bool confirmed_when_run = false;
  c.Define("check", [&](Cluster& cl, WorkerId self, RunFunction& run) {
    // check_rref_confirmed: the gate guarantees the argument is confirmed before user code runs (S9).
    for (const UserRRefView& u : cl.View(self).users) {
      if (u.handle == run.args.rrefs.at(0)) confirmed_when_run = u.confirmed_by_owner;
    }
    return Returns(0);
  });
  Handle a = c.Remote(0, 1, "make");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL);
  c.DeliverNext(MT::REMOTE_RET);

  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}));
  // Parent side: child fork c=(0,2), pendingChildren_A[c] = A's UserRRef.
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));
  c.Release(0, a);  // G2: the parent stays alive while its child is unconfirmed
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));

  Message rpc = c.Take(MT::PYTHON_CALL, 0, 2);
  ASSERT_EQ(rpc.value.rrefs.size(), 1u);
  EXPECT_EQ(rpc.value.rrefs[0], (ForkData{1, Id(0, 0), Id(0, 2), 0, "PyObject"}));
  c.Deliver(rpc);
  // Child side: UserRRef(r, c), FORK_REQUEST to the owner, pending user; the function is gated.
  EXPECT_EQ(c.View(2).pending_users, std::vector<ForkId>{Id(0, 2)});
  EXPECT_EQ(c.View(2).gated_requests, 1);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 1));
  Message fork_request = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_EQ(fork_request.rref_id, Id(0, 0));
  EXPECT_EQ(fork_request.fork_id, Id(0, 2));
  c.Deliver(fork_request);
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 2, 0, 0));

  // The ACK confirms the child; the gated function runs inline, and CHILD_ACCEPT follows it (§9.4).
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  EXPECT_TRUE(confirmed_when_run);
  EXPECT_TRUE(c.View(2).pending_users.empty());
  // Confirmed, then destroyed when the function returned and freed its argument: delUser erased it again.
  EXPECT_TRUE(c.View(2).confirmed_users.empty());
  Message accept = c.Take(MT::RREF_CHILD_ACCEPT, 2, 0);
  EXPECT_EQ(accept.fork_id, Id(0, 2));
  // The function returned and released its argument: C's UserRRef is gone, its USER_DELETE is on the way.
  EXPECT_TRUE(c.Has(MT::RREF_USER_DELETE, 2, 1));

  c.Deliver(accept);  // the parent is unpinned and, with no references left, sends its own USER_DELETE
  EXPECT_TRUE(c.View(0).pending_children.empty());
  EXPECT_TRUE(c.Has(MT::RREF_USER_DELETE, 0, 1));
  c.DeliverAll();
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_TRUE(c.Result(0, call)->ok());
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
}

// ---------------------------------------------------------------------------------------------------------------------
// S4: user -> owner, the phantom fork.

// A (0) passes its UserRRef a of r (owner B = 1) to B in an rpc. Mirrors prepareChildFork (addPendingChild for the
// phantom fork), notifyOwnerAndParentOfFork's "child is the owner" branch (RREF_CHILD_ACCEPT at unpickling, nothing in
// forks_) and delPendingChild on A. Note [Useful Phantom Fork ID for User to Owner Call].
TEST(ForkTest, S4UserToOwnerPhantomFork) {
  Cluster c(2);
  c.Define("make", Make);
  c.Hold("use");
  Handle a = c.Remote(0, 1, "make", Val(7));
  c.DeliverNext(MT::PYTHON_REMOTE_CALL);
  c.DeliverNext(MT::REMOTE_RET);
  ASSERT_TRUE(c.inflight().empty());
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));

  FutureId call = c.Rpc(0, 1, "use", Val(0, {a}));
  // Parent side: phantom fork p=(0,2) pins A's UserRRef; no counter sees it.
  EXPECT_EQ(c.View(0).pending_children, (Children{{Id(0, 2), Id(0, 1)}}));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.Release(0, a);  // the application drops a: G2 keeps it
  ASSERT_NE(FindUser(c.View(0), a), nullptr);
  EXPECT_EQ(FindUser(c.View(0), a)->app_refs, 0);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));

  Message rpc = c.Take(MT::PYTHON_CALL, 0, 1);
  ASSERT_EQ(rpc.value.rrefs.size(), 1u);
  EXPECT_EQ(rpc.value.rrefs[0], (ForkData{1, Id(0, 0), Id(0, 2), 0, "PyObject"}));
  c.Deliver(rpc);

  // Owner side: the function got B's OwnerRRef handle; CHILD_ACCEPT(p) went out at unpickling, while the function
  // still runs; p never enters forks_, no FORK_REQUEST, nothing gated.
  ContextView owner = c.View(1);
  ASSERT_EQ(owner.owner_rrefs.size(), 1u);
  RunFunction run = TakeHeldRun(c, 1);
  ASSERT_EQ(run.args.rrefs.size(), 1u);
  EXPECT_EQ(run.args.rrefs[0], owner.owner_rrefs[0].handle);
  EXPECT_EQ(owner.owner_rrefs[0].app_refs, 1);  // the function's argument
  EXPECT_EQ(owner.running_functions, 1);
  EXPECT_EQ(owner.gated_requests, 0);
  EXPECT_EQ(owner.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(owner.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_TRUE(owner.users.empty());
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 1));  // the CHILD_ACCEPT is a pending future
  EXPECT_FALSE(c.Has(MT::RREF_FORK_REQUEST));
  ASSERT_EQ(c.inflight().size(), 1u);
  Message accept = c.Take(MT::RREF_CHILD_ACCEPT, 1, 0);
  EXPECT_EQ(accept.fork_id, Id(0, 2));
  EXPECT_FALSE(accept.rref_id.valid());
  EXPECT_EQ(c.View(0).pending_children, (Children{{Id(0, 2), Id(0, 1)}}));  // still pinned until it arrives

  // A: the parent is released only now, and sends its USER_DELETE.
  c.Deliver(accept);
  EXPECT_TRUE(c.View(0).pending_children.empty());
  EXPECT_TRUE(c.View(0).users.empty());
  EXPECT_EQ(CountEvents<UserRRefDestroyed>(c, 0), 1);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.rref_id, Id(0, 0));
  EXPECT_EQ(del.fork_id, Id(0, 1));
  c.DeliverNext(MT::RREF_ACK, 0, 1);  // B's CHILD_ACCEPT completes
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));

  // The last user is gone while the function still holds the OwnerRRef: owners_ forgets it, the object lives on.
  c.Deliver(del);
  owner = c.View(1);
  EXPECT_TRUE(owner.owners.empty());
  EXPECT_TRUE(owner.forks.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  ASSERT_EQ(owner.owner_rrefs.size(), 1u);
  EXPECT_EQ(owner.owner_rrefs[0].payload, 7);
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 1), 0);
  c.DeliverNext(MT::RREF_ACK, 1, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  c.Finish(1, run.work, Returns(3));
  c.Release(1, run.args.rrefs[0]);  // the function's frame goes: the OwnerRRef is freed
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 1), 1);
  c.DeliverNext(MT::PYTHON_RET, 1, 0);
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_EQ(c.Result(0, call)->value.payload, 3);
  ExpectAllClean(c, 2);
}

// The same phantom fork through rref.remote()-style proxies: A calls remote() on the owner with its UserRRef as the
// argument. Mirrors pyRemotePythonUdf: argument RRefs fork (p) before the result's rrefId/forkId are generated.
TEST(ForkTest, S4UserToOwnerThroughRemoteArgument) {
  Cluster c(2);
  c.Define("make", Make);
  c.Define("deref", [](Cluster& cl, WorkerId self, RunFunction& run) {
    // The function sees the owner's OwnerRRef, value in hand.
    const ContextView v = cl.View(self);
    for (const OwnerRRefView& o : v.owner_rrefs) {
      if (o.handle == run.args.rrefs.at(0)) return Returns(o.payload * 2);
    }
    return FunctionResult{FunctionResult::Kind::kRaised, {}, "no owner", {}};
  });
  Handle a = c.Remote(0, 1, "make", Val(21));
  c.DeliverAll();
  Handle b = c.Remote(0, 1, "deref", Val(0, {a}));
  EXPECT_EQ(c.View(0).pending_children, (Children{{Id(0, 2), Id(0, 1)}}));
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 4)});
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_EQ(call.rref_id, Id(0, 3));
  EXPECT_EQ(call.fork_id, Id(0, 4));
  ASSERT_EQ(call.value.rrefs.size(), 1u);
  EXPECT_EQ(call.value.rrefs[0], (ForkData{1, Id(0, 0), Id(0, 2), 0, "PyObject"}));
  c.Deliver(call);
  // The CHILD_ACCEPT and the REMOTE_RET both answer A; forks_B has the creator forks only.
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1)}}, {Id(0, 3), {Id(0, 4)}}}));
  EXPECT_EQ(c.Debug(1), Counters(2, 2, 0, 1));
  EXPECT_TRUE(c.Has(MT::RREF_CHILD_ACCEPT, 1, 0));
  EXPECT_TRUE(c.Has(MT::REMOTE_RET, 1, 0));
  c.DeliverAll();
  EXPECT_TRUE(c.View(0).pending_children.empty());
  FutureId f = c.ToHere(0, b);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, f)->value.payload, 42);
  c.Release(0, a);
  c.Release(0, b);
  c.DeliverAll();
  ExpectAllClean(c, 2);
}

// ---------------------------------------------------------------------------------------------------------------------
// S5: owner -> user, early fork registration.

// B (1) made r by remote() to self; after REMOTE_RET owners_ has forgotten it. B sends its OwnerRRef to C (2).
// Mirrors prepareChildFork on an OwnerRRef (addForkOfOwner + owners_[r] = rref before the send) and
// notifyOwnerAndParentOfFork's "parent is the owner" branch (addConfirmedUser, nothing sent, confirm() not called).
TEST(ForkTest, S5OwnerToUserEarlyRegistration) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("keep");
  Handle o = c.Remote(1, 1, "make", Val(3));
  c.DeliverAll();
  EXPECT_TRUE(c.View(1).owners.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));

  FutureId call = c.Rpc(1, 2, "keep", Val(0, {o}));
  // Registered before the message leaves: forks_B[r] = {c}, owners_B[r] = the OwnerRRef.
  ContextView b = c.View(1);
  EXPECT_EQ(b.forks, (Forks{{Id(1, 0), {Id(1, 1)}}}));
  EXPECT_EQ(b.owners, std::vector<RRefId>{Id(1, 0)});
  EXPECT_TRUE(b.pending_children.empty());
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  c.Release(1, o);  // owners_ keeps the shared OwnerRRef
  ASSERT_EQ(c.View(1).owner_rrefs.size(), 1u);
  EXPECT_EQ(c.View(1).owner_rrefs[0].app_refs, 0);

  Message rpc = c.Take(MT::PYTHON_CALL, 1, 2);
  ASSERT_EQ(rpc.value.rrefs.size(), 1u);
  EXPECT_EQ(rpc.value.rrefs[0], (ForkData{1, Id(1, 0), Id(1, 1), 1, "PyObject"}));
  c.Deliver(rpc);

  // C: a UserRRef in confirmedUsers_, nothing sent, the function is not gated; confirmed_by_owner stays false (P13).
  ContextView cv = c.View(2);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_EQ(cv.confirmed_users, std::vector<ForkId>{Id(1, 1)});
  EXPECT_TRUE(cv.pending_users.empty());
  EXPECT_EQ(cv.gated_requests, 0);
  EXPECT_EQ(cv.running_functions, 1);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 0));
  RunFunction run = TakeHeldRun(c, 2);
  ASSERT_EQ(run.args.rrefs.size(), 1u);
  const UserRRefView* user = FindUser(cv, run.args.rrefs[0]);
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->fork_id, Id(1, 1));
  EXPECT_EQ(user->owner, 1);
  EXPECT_FALSE(user->confirmed_by_owner);
  EXPECT_FALSE(user->deleted_on_owner);

  // The function ends and drops its argument: USER_DELETE(r, c), the only control message of this fork.
  c.Finish(2, run.work, Returns(0));
  c.Release(2, run.args.rrefs[0]);
  EXPECT_TRUE(c.View(2).users.empty());
  EXPECT_TRUE(c.View(2).confirmed_users.empty());
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 1));
  Message del = c.Take(MT::RREF_USER_DELETE, 2, 1);
  EXPECT_EQ(del.rref_id, Id(1, 0));
  EXPECT_EQ(del.fork_id, Id(1, 1));
  c.Deliver(del);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 1), 1);
  c.DeliverAll();
  EXPECT_TRUE(c.Result(1, call)->ok());
  size_t control = 0;
  for (const Message& m : c.sent()) {
    control += (m.type == MT::RREF_FORK_REQUEST || m.type == MT::RREF_CHILD_ACCEPT) ? 1 : 0;
  }
  EXPECT_EQ(control, 0u);
  ExpectAllClean(c, 3);
}

// The local RRef case: RRef(x) on B is in no map until forked; pickling puts it in owners_. The child can fetch the
// value at once (the owner registered it early).
TEST(ForkTest, S5LocalRRefEntersOwnersAtPickling) {
  Cluster c(3);
  c.Hold("keep");
  Handle local = c.worker(1).CreateLocal(Val(9), "PyObject");
  ContextView b = c.View(1);
  EXPECT_TRUE(b.owners.empty());
  EXPECT_TRUE(b.forks.empty());
  ASSERT_EQ(b.owner_rrefs.size(), 1u);
  EXPECT_EQ(b.owner_rrefs[0].rref_id, Id(1, 0));
  EXPECT_TRUE(b.owner_rrefs[0].value_set);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));

  FutureId call = c.Rpc(1, 2, "keep", Val(0, {local}));
  EXPECT_EQ(c.View(1).owners, std::vector<RRefId>{Id(1, 0)});
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(1, 0), {Id(1, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  c.DeliverNext(MT::PYTHON_CALL, 1, 2);
  RunFunction run = TakeHeldRun(c, 2);
  EXPECT_EQ(c.View(2).confirmed_users, std::vector<ForkId>{Id(1, 1)});
  EXPECT_FALSE(FindUser(c.View(2), run.args.rrefs.at(0))->confirmed_by_owner);

  // Inside the function: to_here on the unconfirmed-but-registered child works.
  FutureId value = c.ToHere(2, run.args.rrefs[0]);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 2, 1);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_RET, 1, 2);
  ASSERT_TRUE(c.Result(2, value).has_value());
  EXPECT_EQ(c.Result(2, value)->value.payload, 9);

  c.Finish(2, run.work, Returns(0));
  c.Release(2, run.args.rrefs[0]);
  c.DeliverNext(MT::RREF_USER_DELETE, 2, 1);
  // The fork is gone, but B's application still holds the local RRef.
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  ASSERT_EQ(c.View(1).owner_rrefs.size(), 1u);
  EXPECT_EQ(c.View(1).owner_rrefs[0].app_refs, 1);
  c.DeliverAll();
  EXPECT_TRUE(c.Result(1, call)->ok());
  c.Release(1, local);
  ExpectAllClean(c, 3);
}

// The OwnerRRef of a remote() from another worker, reached through a user->owner call (S4) and forked on to C
// (S5): forks_B holds the creator's fork and the early-registered child side by side.
TEST(ForkTest, S5OwnerForksRRefCreatedByAnotherWorker) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("forward");
  c.Hold("keep");
  Handle a = c.Remote(0, 1, "make", Val(5));
  c.DeliverAll();
  FutureId outer = c.Rpc(0, 1, "forward", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 1);
  RunFunction forward = TakeHeldRun(c, 1);
  Handle owner = forward.args.rrefs.at(0);
  FutureId inner = c.Rpc(1, 2, "keep", Val(0, {owner}));  // B's function forwards its argument
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1), Id(1, 0)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 2, 0, 1));  // + the CHILD_ACCEPT of the phantom fork
  c.Finish(1, forward.work, Returns(0));
  c.Release(1, owner);
  c.DeliverNext(MT::PYTHON_CALL, 1, 2);
  RunFunction keep = TakeHeldRun(c, 2);
  EXPECT_EQ(c.View(2).confirmed_users, std::vector<ForkId>{Id(1, 0)});
  EXPECT_FALSE(c.Has(MT::RREF_FORK_REQUEST));
  // A drops its reference: after the phantom fork is accepted, A's USER_DELETE leaves only C's fork.
  c.Release(0, a);
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 1, 0);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(1, 0)}}}));
  EXPECT_EQ(c.View(1).owners, std::vector<RRefId>{Id(0, 0)});
  c.Finish(2, keep.work, Returns(0));
  c.Release(2, keep.args.rrefs.at(0));
  c.DeliverAll();
  EXPECT_TRUE(c.Result(0, outer)->ok());
  EXPECT_TRUE(c.Result(1, inner)->ok());
  ExpectAllClean(c, 3);
}

// ---------------------------------------------------------------------------------------------------------------------
// S6: owner -> self.

// rpc_sync(self, f, args=(local_rref,)): the fork is registered at pickling and removed at unpickling
// (notifyOwnerAndParentOfFork's owner-to-self branch, delForkOfOwner); the function gets the same OwnerRRef object.
TEST(ForkTest, S6OwnerToSelf) {
  Cluster c(1);
  c.Hold("self_fn");
  Handle local = c.worker(0).CreateLocal(Val(4), "PyObject");
  FutureId call = c.Rpc(0, 0, "self_fn", Val(0, {local}));
  ContextView v = c.View(0);
  EXPECT_EQ(v.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(v.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
  Message rpc = c.Take(MT::PYTHON_CALL, 0, 0);
  ASSERT_EQ(rpc.value.rrefs.size(), 1u);
  EXPECT_EQ(rpc.value.rrefs[0], (ForkData{0, Id(0, 0), Id(0, 1), 0, "PyObject"}));
  c.Deliver(rpc);

  v = c.View(0);
  EXPECT_TRUE(v.forks.empty());
  EXPECT_TRUE(v.owners.empty());  // the set emptied: delForkOfOwner erased owners_[r] too
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_TRUE(v.users.empty());
  EXPECT_TRUE(c.inflight().empty());  // no CHILD_ACCEPT, no FORK_REQUEST
  RunFunction run = TakeHeldRun(c, 0);
  ASSERT_EQ(run.args.rrefs.size(), 1u);
  EXPECT_EQ(run.args.rrefs[0], local);  // the same OwnerRRef object
  ASSERT_EQ(v.owner_rrefs.size(), 1u);
  EXPECT_EQ(v.owner_rrefs[0].app_refs, 2);  // the application's and the function's
  EXPECT_TRUE(c.Logs(0).empty());

  c.Finish(0, run.work, Returns(1));
  c.Release(0, run.args.rrefs[0]);
  c.DeliverNext(MT::PYTHON_RET, 0, 0);
  EXPECT_EQ(c.Result(0, call)->value.payload, 1);
  ASSERT_EQ(c.View(0).owner_rrefs.size(), 1u);
  c.Release(0, local);
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 0), 1);
  ExpectAllClean(c, 1);
}

}  // namespace
}  // namespace rrefsim::core::testing
