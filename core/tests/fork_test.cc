// S3-S7, S9, S10 (rref-protocol.md §5): forking RRefs through calls, returns and fetches.
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;

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
// Helpers for the scenarios below.

using Children = std::map<ForkId, ForkId>;

FunctionResult Make(Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload); }

const UserRRefView* FindUser(const ContextView& v, Handle h) {
  for (const UserRRefView& u : v.users) {
    if (u.handle == h) return &u;
  }
  return nullptr;
}

template <class E>
int CountEvents(const Cluster& c, WorkerId id) {
  int n = 0;
  for (const Recorded& r : c.events()) n += (r.worker == id && std::holds_alternative<E>(r.event)) ? 1 : 0;
  return n;
}

// Takes the only held run of `id` out of the harness.
RunFunction TakeHeldRun(Cluster& c, WorkerId id) {
  std::vector<RunFunction>& runs = c.held_runs(id);
  EXPECT_EQ(runs.size(), 1u);
  if (runs.empty()) return RunFunction{};
  RunFunction run = runs.front();
  runs.clear();
  return run;
}

// Index in sent() of the first message matching, or -1.
int SentIndex(const Cluster& c, MT type, WorkerId from, WorkerId to, std::optional<ForkId> fork = std::nullopt) {
  for (size_t i = 0; i < c.sent().size(); ++i) {
    const Message& m = c.sent()[i];
    if (m.type == type && m.from == from && m.to == to && (!fork || m.fork_id == *fork)) return static_cast<int>(i);
  }
  return -1;
}

void ExpectAllClean(const Cluster& c, int workers) {
  for (WorkerId w = 0; w < workers; ++w) {
    ContextView v = c.View(w);
    EXPECT_EQ(v.debug, Counters(0, 0, 0, 0)) << "worker " << w;
    EXPECT_TRUE(v.owners.empty()) << "worker " << w;
    EXPECT_TRUE(v.forks.empty()) << "worker " << w;
    EXPECT_TRUE(v.pending_users.empty()) << "worker " << w;
    EXPECT_TRUE(v.confirmed_users.empty()) << "worker " << w;
    EXPECT_TRUE(v.pending_children.empty()) << "worker " << w;
    EXPECT_TRUE(v.pending_owners.empty()) << "worker " << w;
    EXPECT_TRUE(v.users.empty()) << "worker " << w;
    EXPECT_TRUE(v.owner_rrefs.empty()) << "worker " << w;
    EXPECT_TRUE(v.requests.empty()) << "worker " << w;
    EXPECT_EQ(v.client_active_calls, 0) << "worker " << w;
    EXPECT_TRUE(c.Errors(w).empty()) << "worker " << w;
  }
  EXPECT_TRUE(c.inflight().empty());
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

// ---------------------------------------------------------------------------------------------------------------------
// S9: gating on two user->user forks (#34497), with the release inline on the second ACK (§9.4).

// Mirrors processMessage (recordThreadLocalPendingRRefs / waitForThreadLocalPendingRRefs), delPendingUser completing
// the confirmation future inline, and finishForkRequest's CHILD_ACCEPT after the released function.
TEST(ForkTest, S9GatedOnTwoForksRunsInlineOnSecondAck) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("both");
  Handle r1 = c.Remote(0, 1, "make", Val(1));
  Handle r2 = c.Remote(0, 1, "make", Val(2));
  c.DeliverAll();
  FutureId call = c.Rpc(0, 2, "both", Val(0, {r1, r2}));
  EXPECT_EQ(c.View(0).pending_children, (Children{{Id(0, 4), Id(0, 1)}, {Id(0, 5), Id(0, 3)}}));
  c.Release(0, r1);
  c.Release(0, r2);
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);

  ContextView cv = c.View(2);
  EXPECT_EQ(cv.pending_users, (std::vector<ForkId>{Id(0, 4), Id(0, 5)}));
  EXPECT_EQ(cv.gated_requests, 1);
  EXPECT_EQ(cv.running_functions, 0);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 2, 2));
  EXPECT_EQ(c.Count(MT::RREF_FORK_REQUEST), 2u);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1), Id(0, 4)}}, {Id(0, 2), {Id(0, 3), Id(0, 5)}}}));

  // First ACK: c1 confirmed and accepted at once; the request still waits for c2.
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  cv = c.View(2);
  EXPECT_EQ(cv.pending_users, std::vector<ForkId>{Id(0, 5)});
  EXPECT_EQ(cv.confirmed_users, std::vector<ForkId>{Id(0, 4)});
  EXPECT_EQ(cv.gated_requests, 1);
  EXPECT_EQ(cv.running_functions, 0);
  EXPECT_TRUE(c.held_runs(2).empty());
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 2));  // FORK_REQUEST(c2) + CHILD_ACCEPT(c1)
  ASSERT_EQ(c.Count(MT::RREF_CHILD_ACCEPT), 1u);
  Message accept1 = c.Take(MT::RREF_CHILD_ACCEPT, 2, 0);
  EXPECT_EQ(accept1.fork_id, Id(0, 4));

  // Second ACK: the function starts inline, before this ACK's CHILD_ACCEPT; the fork request still counts.
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  cv = c.View(2);
  EXPECT_TRUE(cv.pending_users.empty());
  EXPECT_EQ(cv.confirmed_users, (std::vector<ForkId>{Id(0, 4), Id(0, 5)}));
  EXPECT_EQ(cv.gated_requests, 0);
  EXPECT_EQ(cv.running_functions, 1);
  RunFunction run = TakeHeldRun(c, 2);
  ASSERT_EQ(run.args.rrefs.size(), 2u);
  for (Handle h : run.args.rrefs) {
    ASSERT_NE(FindUser(cv, h), nullptr);
    EXPECT_TRUE(FindUser(cv, h)->confirmed_by_owner);  // check_rref_confirmed
  }
  EXPECT_EQ(c.Count(MT::RREF_CHILD_ACCEPT), 0u);
  EXPECT_EQ(SentIndex(c, MT::RREF_CHILD_ACCEPT, 2, 0, Id(0, 5)), -1);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 2));  // CHILD_ACCEPT(c1) in flight + FORK_REQUEST(c2) not finished
  EXPECT_EQ(cv.client_active_calls, 2);          // the ACK's pool task is held by the function too

  // A: c1 accepted, r1's parent goes; c2's parent stays pinned while C's function runs.
  c.Deliver(accept1);
  ContextView av = c.View(0);
  EXPECT_EQ(av.pending_children, (Children{{Id(0, 5), Id(0, 3)}}));
  ASSERT_EQ(av.users.size(), 1u);
  EXPECT_EQ(av.users[0].fork_id, Id(0, 3));
  Message del1 = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del1.fork_id, Id(0, 1));
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE, 0, 1));
  c.DeliverNext(MT::RREF_ACK, 0, 2);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 1));
  EXPECT_EQ(c.View(2).client_active_calls, 1);

  // The function returns: the reply, then the CHILD_ACCEPT(c2), then --numPendingFutures_ and the pool task ends.
  c.Finish(2, run.work, Returns(3));
  int reply_at = SentIndex(c, MT::PYTHON_RET, 2, 0);
  int accept_at = SentIndex(c, MT::RREF_CHILD_ACCEPT, 2, 0, Id(0, 5));
  ASSERT_GE(reply_at, 0);
  ASSERT_GE(accept_at, 0);
  EXPECT_LT(reply_at, accept_at);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 1));
  EXPECT_EQ(c.View(2).client_active_calls, 1);
  for (Handle h : run.args.rrefs) c.Release(2, h);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 3));
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 2, 0);
  EXPECT_TRUE(c.View(0).pending_children.empty());
  Message del2 = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del2.fork_id, Id(0, 3));
  c.Deliver(del1);
  c.Deliver(del2);
  c.DeliverAll();
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_EQ(c.Result(0, call)->value.payload, 3);
  ExpectAllClean(c, 3);
}

// §9.4, where the arguments go: the gated function runs inside the FORK_REQUEST's confirmation callback, and the
// request object holding its arguments is freed when that callback (processMessage's thenAsync continuation) returns:
// after the reply, before finishForkRequest sends CHILD_ACCEPT. So C's USER_DELETE of the argument precedes the
// CHILD_ACCEPT that unpins A's parent. The harness hands the arguments back in FunctionResult::release_after_reply.
TEST(ForkTest, S9InlineFunctionFreesArgumentsAfterReplyBeforeChildAccept) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  Handle a = c.Remote(0, 1, "make", Val(5));
  c.DeliverAll();
  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  size_t before = c.sent().size();
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // confirms (0,2); "check" runs inline, returns, and its frame goes
  std::vector<std::pair<MT, WorkerId>> order;
  for (size_t i = before; i < c.sent().size(); ++i) order.emplace_back(c.sent()[i].type, c.sent()[i].to);
  EXPECT_EQ(order, (std::vector<std::pair<MT, WorkerId>>{
                       {MT::PYTHON_RET, 0}, {MT::RREF_USER_DELETE, 1}, {MT::RREF_CHILD_ACCEPT, 0}}));
  EXPECT_EQ(c.Take(MT::RREF_USER_DELETE, 2, 1).fork_id, Id(0, 2));
  EXPECT_EQ(c.Take(MT::RREF_CHILD_ACCEPT, 2, 0).fork_id, Id(0, 2));
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, call)->value.payload, 1);
}

// The same with a host that finishes the function itself: FinishFunction releases `release_after_reply` after the
// reply and before the deferred CHILD_ACCEPT, here both arguments of a function released by the second ACK.
TEST(ForkTest, S9ReleaseAfterReplyPrecedesDeferredChildAccept) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("both");
  Handle r1 = c.Remote(0, 1, "make", Val(1));
  Handle r2 = c.Remote(0, 1, "make", Val(2));
  c.DeliverAll();
  c.Rpc(0, 2, "both", Val(0, {r1, r2}));
  c.Release(0, r1);
  c.Release(0, r2);
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // (0,4) confirmed and accepted at once
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // (0,5) confirmed: "both" starts inline, its CHILD_ACCEPT waits
  RunFunction run = TakeHeldRun(c, 2);
  size_t before = c.sent().size();
  FunctionResult result = Returns(3);
  result.release_after_reply = run.args.rrefs;
  c.Finish(2, run.work, result);
  std::vector<std::pair<MT, ForkId>> order;
  for (size_t i = before; i < c.sent().size(); ++i) order.emplace_back(c.sent()[i].type, c.sent()[i].fork_id);
  EXPECT_EQ(order, (std::vector<std::pair<MT, ForkId>>{{MT::PYTHON_RET, ForkId{}},
                                                       {MT::RREF_USER_DELETE, Id(0, 4)},
                                                       {MT::RREF_USER_DELETE, Id(0, 5)},
                                                       {MT::RREF_CHILD_ACCEPT, Id(0, 5)}}));
  EXPECT_TRUE(c.View(2).users.empty());
  c.DeliverAll();
  ExpectAllClean(c, 3);
}

// ---------------------------------------------------------------------------------------------------------------------
// S10: nested RRefs.

// nested_rref: A (0) remote()s a function on B (1) that returns RRefs it created on C (2). Each to_here of the outer
// RRef re-forks the inner ones with B as parent (serializePyObject on the owner); freeing the outer OwnerRRef frees its
// value, whose UserRRefs then send USER_DELETE once their children are accepted (G2).
TEST(ForkTest, S10NestedRRefsReforkedOnEveryToHere) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("nested");
  Handle outer = c.Remote(0, 1, "nested");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  RunFunction run = TakeHeldRun(c, 1);
  EXPECT_TRUE(c.View(1).owners.empty());  // assignOwnerRRef comes after the function (§9.4)
  Handle i1 = c.Remote(1, 2, "make", Val(1));
  Handle i2 = c.Remote(1, 2, "make", Val(2));
  c.Finish(1, run.work, Returns(0, {i1, i2}));
  c.Release(1, i1);
  c.Release(1, i2);
  ContextView b = c.View(1);
  EXPECT_EQ(b.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(b.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  ASSERT_EQ(b.owner_rrefs.size(), 1u);
  EXPECT_EQ(b.owner_rrefs[0].nested, (std::vector<ForkId>{Id(1, 1), Id(1, 3)}));
  EXPECT_EQ(FindUser(b, i1)->app_refs, 1);  // held by the value only
  EXPECT_EQ(b.pending_users, (std::vector<ForkId>{Id(1, 1), Id(1, 3)}));
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_EQ(c.View(2).forks, (Forks{{Id(1, 0), {Id(1, 1)}}, {Id(1, 2), {Id(1, 3)}}}));
  EXPECT_EQ(c.Debug(2), Counters(2, 2, 0, 0));

  // First to_here: B forks the inner RRefs (1,4), (1,5) into the reply; they pin B's inner UserRRefs.
  FutureId f1 = c.ToHere(0, outer);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_children, (Children{{Id(1, 4), Id(1, 1)}, {Id(1, 5), Id(1, 3)}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  Message reply = c.Take(MT::PYTHON_RREF_FETCH_RET, 1, 0);
  ASSERT_EQ(reply.value.rrefs.size(), 2u);
  EXPECT_EQ(reply.value.rrefs[0], (ForkData{2, Id(1, 0), Id(1, 4), 1, "PyObject"}));
  EXPECT_EQ(reply.value.rrefs[1], (ForkData{2, Id(1, 2), Id(1, 5), 1, "PyObject"}));
  c.Deliver(reply);
  ASSERT_TRUE(c.Result(0, f1).has_value());
  std::vector<Handle> got1 = c.Result(0, f1)->value.rrefs;
  ASSERT_EQ(got1.size(), 2u);
  EXPECT_EQ(c.View(0).pending_users, (std::vector<ForkId>{Id(1, 4), Id(1, 5)}));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 2, 2));
  EXPECT_EQ(c.Count(MT::RREF_FORK_REQUEST), 2u);
  c.DeliverAll();
  EXPECT_EQ(c.View(2).forks, (Forks{{Id(1, 0), {Id(1, 1), Id(1, 4)}}, {Id(1, 2), {Id(1, 3), Id(1, 5)}}}));
  EXPECT_TRUE(c.View(1).pending_children.empty());
  EXPECT_EQ(c.View(0).confirmed_users, (std::vector<ForkId>{Id(0, 1), Id(1, 4), Id(1, 5)}));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  // Second to_here: new forks (1,6), (1,7) with the same parent.
  FutureId f2 = c.ToHere(0, outer);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_children, (Children{{Id(1, 6), Id(1, 1)}, {Id(1, 7), Id(1, 3)}}));
  c.DeliverNext(MT::PYTHON_RREF_FETCH_RET, 1, 0);
  std::vector<Handle> got2 = c.Result(0, f2)->value.rrefs;
  ASSERT_EQ(got2.size(), 2u);
  EXPECT_EQ(FindUser(c.View(0), got2[0])->fork_id, Id(1, 6));
  EXPECT_EQ(FindUser(c.View(0), got2[1])->fork_id, Id(1, 7));

  // A drops the outer RRef while the second batch of children is unconfirmed: B frees the OwnerRRef and its value,
  // but its inner UserRRefs stay pinned by pendingChildren_ and send nothing yet.
  c.Release(0, outer);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  b = c.View(1);
  EXPECT_TRUE(b.owner_rrefs.empty());
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 1), 1);
  ASSERT_EQ(b.users.size(), 2u);
  EXPECT_EQ(b.users[0].app_refs, 0);
  EXPECT_EQ(b.users[1].app_refs, 0);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE, 1, 2));

  // C registers the children and A accepts them to B: only then do B's inner UserRRefs go.
  c.DeliverNext(MT::RREF_FORK_REQUEST, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 0, 2);
  c.DeliverNext(MT::RREF_ACK, 2, 0);
  c.DeliverNext(MT::RREF_ACK, 2, 0);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE, 1, 2));
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 0, 1);
  EXPECT_EQ(c.View(1).users.size(), 1u);
  Message del_i1 = c.Take(MT::RREF_USER_DELETE, 1, 2);
  EXPECT_EQ(del_i1.rref_id, Id(1, 0));
  EXPECT_EQ(del_i1.fork_id, Id(1, 1));
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 0, 1);
  EXPECT_TRUE(c.View(1).users.empty());
  Message del_i2 = c.Take(MT::RREF_USER_DELETE, 1, 2);
  EXPECT_EQ(del_i2.fork_id, Id(1, 3));
  c.Deliver(del_i1);
  c.Deliver(del_i2);
  c.DeliverAll();
  EXPECT_EQ(c.View(2).forks,
            (Forks{{Id(1, 0), {Id(1, 4), Id(1, 6)}}, {Id(1, 2), {Id(1, 5), Id(1, 7)}}}));

  // The inner RRefs A holds are plain users of C: to_here works, release frees everything.
  FutureId v = c.ToHere(0, got2[1]);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, v)->value.payload, 2);
  for (Handle h : got1) c.Release(0, h);
  for (Handle h : got2) c.Release(0, h);
  c.DeliverAll();
  ExpectAllClean(c, 3);
}

// A value holding 20 inner RRefs, fetched twice; everything released reaches clean counters on every worker.
TEST(ForkTest, S10TwentyWayNestedReachesCleanCounters) {
  constexpr int kInner = 20;
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("nested");
  Handle outer = c.Remote(0, 1, "nested");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  RunFunction run = TakeHeldRun(c, 1);
  std::vector<Handle> inner;
  for (int i = 0; i < kInner; ++i) inner.push_back(c.Remote(1, 2, "make", Val(100 + i)));
  c.Finish(1, run.work, Returns(0, inner));
  for (Handle h : inner) c.Release(1, h);
  EXPECT_EQ(c.View(1).owner_rrefs.at(0).nested.size(), static_cast<size_t>(kInner));
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_EQ(c.Debug(2), Counters(kInner, kInner, 0, 0));

  std::vector<Handle> got;
  for (int round = 0; round < 2; ++round) {
    FutureId f = c.ToHere(0, outer);
    c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
    EXPECT_EQ(c.View(1).pending_children.size(), static_cast<size_t>(kInner));
    Message reply = c.Take(MT::PYTHON_RREF_FETCH_RET, 1, 0);
    ASSERT_EQ(reply.value.rrefs.size(), static_cast<size_t>(kInner));
    for (int i = 0; i < kInner; ++i) {
      // B's counter: 2 ids per inner remote(), then one fork id per inner RRef per fetch.
      EXPECT_EQ(reply.value.rrefs[i],
                (ForkData{2, Id(1, 2 * i), Id(1, 2 * kInner + round * kInner + i), 1, "PyObject"}));
    }
    c.Deliver(reply);
    ASSERT_TRUE(c.Result(0, f).has_value());
    ASSERT_EQ(c.Result(0, f)->value.rrefs.size(), static_cast<size_t>(kInner));
    EXPECT_EQ(c.Debug(0), Counters(0, 0, kInner, kInner));
    std::vector<Handle> batch = c.Result(0, f)->value.rrefs;
    got.insert(got.end(), batch.begin(), batch.end());
    c.DeliverAll();
    EXPECT_TRUE(c.View(1).pending_children.empty());
    EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
    EXPECT_EQ(c.Debug(2), Counters(kInner, kInner * (round + 2), 0, 0));
  }
  FutureId last = c.ToHere(0, got.back());
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, last)->value.payload, 100 + kInner - 1);

  c.Release(0, outer);
  c.DeliverAll();
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  EXPECT_TRUE(c.View(1).users.empty());
  EXPECT_EQ(c.Debug(2), Counters(kInner, 2 * kInner, 0, 0));  // only A's children remain
  for (Handle h : got) c.Release(0, h);
  c.DeliverAll();
  ExpectAllClean(c, 3);
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 2), kInner);
  EXPECT_EQ(CountEvents<UserRRefDestroyed>(c, 0), 2 * kInner + 1);
  EXPECT_EQ(CountEvents<UserRRefDestroyed>(c, 1), kInner);
}

}  // namespace
}  // namespace rrefsim::core::testing
