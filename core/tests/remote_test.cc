// S1 and S2 (rref-protocol.md §5): rpc.remote to another worker and to self, driven message by message.
#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;

FunctionResult AddOne(Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload + 1); }

template <class E>
bool HasEvent(const Cluster& c, WorkerId id) {
  for (const Recorded& r : c.events()) {
    if (r.worker == id && std::holds_alternative<E>(r.event)) return true;
  }
  return false;
}

// Mirrors pyRemotePythonUdf + RRefContext::confirmPendingUser + processRRefUserDelete.
TEST(RemoteTest, S1RemoteToAnotherWorkerThenToHereThenDrop) {
  Cluster c(2);
  c.Define("add_one", AddOne);
  Handle a = c.Remote(0, 1, "add_one", Val(41));

  // The creator generated rrefId before forkId from one counter, sent REMOTE_CALL, then added the pending user.
  ContextView creator = c.View(0);
  EXPECT_EQ(creator.pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_TRUE(creator.owners.empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 0));
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_EQ(call.rref_id, Id(0, 0));
  EXPECT_EQ(call.fork_id, Id(0, 1));
  EXPECT_EQ(call.value.payload, 41);

  // to_here before the owner exists: one fetch, not retried; the owner parks it in pendingOwners_ (S8).
  FutureId value = c.ToHere(0, a);
  Message fetch = c.Take(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  c.Deliver(fetch);
  EXPECT_EQ(c.View(1).pending_owners, (std::map<RRefId, std::int64_t>{{Id(0, 0), 1}}));
  EXPECT_TRUE(c.inflight().empty());

  // The function runs, then assignOwnerRRef creates the owner, registers the creator's fork and sets the value.
  c.Deliver(call);
  ContextView owner = c.View(1);
  EXPECT_EQ(owner.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(owner.forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_TRUE(owner.pending_owners.empty());
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  ASSERT_EQ(c.inflight().size(), 2u);
  EXPECT_EQ(c.inflight()[0].type, MT::PYTHON_RREF_FETCH_RET);  // answered when the value was set
  EXPECT_EQ(c.inflight()[1].type, MT::REMOTE_RET);              // the creator's "ACK" comes after the value

  c.DeliverNext(MT::REMOTE_RET);
  creator = c.View(0);
  EXPECT_TRUE(creator.pending_users.empty());
  EXPECT_EQ(creator.confirmed_users, std::vector<ForkId>{Id(0, 1)});
  ASSERT_EQ(creator.users.size(), 1u);
  EXPECT_TRUE(creator.users[0].confirmed_by_owner);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  c.DeliverNext(MT::PYTHON_RREF_FETCH_RET);
  ASSERT_TRUE(c.Result(0, value).has_value());
  EXPECT_EQ(c.Result(0, value)->value.payload, 42);

  // Dropping the last reference destroys the UserRRef: one USER_DELETE, retried, counted as a pending future.
  c.Release(0, a);
  EXPECT_TRUE(HasEvent<UserRRefDestroyed>(c, 0));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  EXPECT_TRUE(c.View(0).confirmed_users.empty());
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.rref_id, Id(0, 0));
  EXPECT_EQ(del.fork_id, Id(0, 1));
  c.Deliver(del);
  EXPECT_TRUE(HasEvent<OwnerRRefFreed>(c, 1));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  c.DeliverNext(MT::RREF_ACK, 1, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.inflight().empty());
}

// The creator's UserRRef cannot die before REMOTE_RET: pendingUsers_ holds it (I5).
TEST(RemoteTest, S1CreatorPinnedUntilRemoteRet) {
  Cluster c(2);
  c.Define("add_one", AddOne);
  Handle a = c.Remote(0, 1, "add_one", Val(1));
  c.Release(0, a);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
  EXPECT_EQ(c.View(0).users.size(), 1u);
  c.DeliverNext(MT::PYTHON_REMOTE_CALL);
  c.DeliverNext(MT::REMOTE_RET);  // delPendingUser drops the last reference: destroyed now
  EXPECT_TRUE(c.View(0).users.empty());
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// Mirrors pyRemotePythonUdf's self branch: createOwnerRRef + addSelfAsFork, then finishCreatingOwnerRRef.
TEST(RemoteTest, S2RemoteToSelf) {
  Cluster c(1);
  c.Define("add_one", AddOne);
  Handle r = c.Remote(0, 0, "add_one", Val(6));
  ContextView v = c.View(0);
  EXPECT_EQ(v.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(v.forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 0)}}}));  // the self marker
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 0);
  EXPECT_EQ(call.rref_id, call.fork_id);
  c.Deliver(call);  // the existing owner is used, no fork is added
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
  c.DeliverNext(MT::REMOTE_RET);  // delForkOfOwner(r, r): the owner leaves owners_, the handle keeps it alive
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  ASSERT_EQ(c.View(0).owner_rrefs.size(), 1u);
  FutureId f = c.ToHere(0, r);
  ASSERT_TRUE(c.Result(0, f).has_value());  // a local value: no message
  EXPECT_EQ(c.Result(0, f)->value.payload, 7);
  c.Release(0, r);
  EXPECT_TRUE(c.View(0).owner_rrefs.empty());
  EXPECT_TRUE(HasEvent<OwnerRRefFreed>(c, 0));
}

// ---------------------------------------------------------------------------------------------------------------
// The order of ids and argument forks: Python UDFs vs builtins/TorchScript (§4.6).

const std::string kRemoteTimedOut =
    "RRef creation via rpc.remote() timed out, and it is possible that the RRef on the owner node does not exist.";

FunctionResult Raises(const std::string& error) { return FunctionResult{FunctionResult::Kind::kRaised, {}, error, {}}; }

// Worker 0's confirmed UserRRef of an RRef on worker 1: rrefId (0,0), forkId (0,1).
Handle Confirmed(Cluster& c) {
  Handle a = c.Remote(0, 1, "make");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  return a;
}

// Worker 0's UserRRef of an RRef on worker 1 whose remote() timed out (A17 when forked): (0,0), fork (0,1).
Handle TimedOut(Cluster& c) {
  Handle a = c.Remote(0, 1, "make", {}, 10 * kMillisecond);
  c.Drop(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.AdvanceTo(10 * kMillisecond);
  return a;
}

// pyRemotePythonUdf: the Python side pickles the UDF and its arguments (forking argument RRefs) before the result's
// ids exist. pyRemoteBuiltin / remoteTorchscript: createUserRRef (rrefId, then forkId) or createOwnerRRef first; the
// arguments fork when ScriptRemoteCall::toMessage() pickles the stack.
TEST(RemoteTest, ScriptRemoteGeneratesIdsBeforeForkingArguments) {
  Cluster c(3);
  c.Define("make", AddOne);
  c.Define("use", AddOne);
  Handle a = Confirmed(c);
  std::vector<Handle> results;

  results.push_back(c.Remote(0, 2, "use", Val(0, {a}), std::nullopt, CallKind::kScript, "int"));
  Message script = c.Take(MT::SCRIPT_REMOTE_CALL, 0, 2);
  EXPECT_EQ(script.rref_id, Id(0, 2));
  EXPECT_EQ(script.fork_id, Id(0, 3));
  ASSERT_EQ(script.value.rrefs.size(), 1u);
  EXPECT_EQ(script.value.rrefs[0].fork_id, Id(0, 4));

  results.push_back(c.Remote(0, 2, "use", Val(0, {a})));
  Message python = c.Take(MT::PYTHON_REMOTE_CALL, 0, 2);
  ASSERT_EQ(python.value.rrefs.size(), 1u);
  EXPECT_EQ(python.value.rrefs[0].fork_id, Id(0, 5));
  EXPECT_EQ(python.rref_id, Id(0, 6));
  EXPECT_EQ(python.fork_id, Id(0, 7));

  // To self: createOwnerRRef + addSelfAsFork, then toMessage().
  results.push_back(c.Remote(0, 0, "use", Val(0, {a}), std::nullopt, CallKind::kScript, "int"));
  Message script_self = c.Take(MT::SCRIPT_REMOTE_CALL, 0, 0);
  EXPECT_EQ(script_self.rref_id, Id(0, 8));
  EXPECT_EQ(script_self.fork_id, Id(0, 8));
  ASSERT_EQ(script_self.value.rrefs.size(), 1u);
  EXPECT_EQ(script_self.value.rrefs[0].fork_id, Id(0, 9));

  results.push_back(c.Remote(0, 0, "use", Val(0, {a})));
  Message python_self = c.Take(MT::PYTHON_REMOTE_CALL, 0, 0);
  ASSERT_EQ(python_self.value.rrefs.size(), 1u);
  EXPECT_EQ(python_self.value.rrefs[0].fork_id, Id(0, 10));
  EXPECT_EQ(python_self.rref_id, Id(0, 11));

  for (const Message& m : {script, python, script_self, python_self}) c.Deliver(m);
  c.DeliverAll();
  c.Release(0, a);
  for (Handle h : results) c.Release(0, h);
  c.DeliverAll();
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
  EXPECT_TRUE(c.Errors(0).empty());
}

// A script remote() whose argument cannot be forked (A17 here): the UserRRef createUserRRef made for the result dies
// when the exception leaves pyRemoteBuiltin, and its tryDel sends RREF_USER_DELETE for an RRef that was never
// created. No REMOTE_CALL leaves; the error returns to the caller. A Python UDF fails before any id exists.
TEST(RemoteTest, ScriptRemoteArgumentForkFailureDeletesTheNewUserRRef) {
  Cluster c(3);
  c.Define("make", AddOne);
  Handle a = TimedOut(c);
  ASSERT_EQ(c.View(0).users.size(), 1u);
  ASSERT_TRUE(c.View(0).users[0].timed_out);

  Expected<Handle> python = c.TryRemote(0, CallSpec{2, "use", Val(0, {a}), CallKind::kPython, "PyObject", {}});
  EXPECT_FALSE(python.ok());
  EXPECT_EQ(python.error, kRemoteTimedOut);
  EXPECT_TRUE(c.inflight().empty());  // nothing at all: the pickling failed first
  EXPECT_TRUE(EventsOf<UserRRefDestroyed>(c, 0).empty());

  Expected<Handle> script = c.TryRemote(0, CallSpec{2, "use", Val(0, {a}), CallKind::kScript, "int", {}});
  EXPECT_FALSE(script.ok());
  EXPECT_EQ(script.error, kRemoteTimedOut);
  ASSERT_EQ(c.Errors(0).size(), 2u);
  for (const ProtocolError& e : c.Errors(0)) {
    EXPECT_EQ(e.code, "A17");
    EXPECT_EQ(e.site, ErrorSite::kCaller);
  }
  EXPECT_FALSE(c.Has(MT::SCRIPT_REMOTE_CALL));
  ASSERT_EQ(c.inflight().size(), 1u);
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 2);
  EXPECT_EQ(del.rref_id, Id(0, 2));
  EXPECT_EQ(del.fork_id, Id(0, 3));
  std::vector<UserRRefDestroyed> destroyed = EventsOf<UserRRefDestroyed>(c, 0);
  ASSERT_EQ(destroyed.size(), 1u);
  EXPECT_EQ(destroyed[0].rref_id, Id(0, 2));
  EXPECT_EQ(destroyed[0].fork_id, Id(0, 3));
  ContextView v = c.View(0);
  ASSERT_EQ(v.users.size(), 1u);  // only the timed-out argument
  EXPECT_EQ(v.users[0].handle, a);
  EXPECT_TRUE(v.pending_users.empty());
  EXPECT_TRUE(v.pending_children.empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));

  c.Deliver(del);  // the owner never heard of (0,2): a logged no-op, acknowledged
  EXPECT_EQ(LastLog(c, 2), "Could not find OwnerRRef with RRefId = " + Gid(0, 2) +
                               ", likely because it was deleted by a previously retried message");
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 0));
}

// The same to self: createOwnerRRef + addSelfAsFork ran before toMessage() threw, and nothing undoes them: owners_
// keeps the OwnerRRef and forks_ its self marker, so the value-less OwnerRRef outlives the failed call and is
// reported as a leak at shutdown.
TEST(RemoteTest, ScriptRemoteToSelfArgumentForkFailureKeepsOwnerAndSelfFork) {
  Cluster c(2);
  c.Define("make", AddOne);
  Handle a = TimedOut(c);
  Expected<Handle> r = c.TryRemote(0, CallSpec{0, "use", Val(0, {a}), CallKind::kScript, "int", {}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, kRemoteTimedOut);
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_EQ(c.Errors(0)[0].code, "A17");
  EXPECT_TRUE(c.inflight().empty());
  ContextView v = c.View(0);
  EXPECT_EQ(v.owners, std::vector<RRefId>{Id(0, 2)});
  EXPECT_EQ(v.forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 2), {Id(0, 2)}}}));
  ASSERT_EQ(v.owner_rrefs.size(), 1u);
  EXPECT_EQ(v.owner_rrefs[0].app_refs, 0);
  EXPECT_FALSE(v.owner_rrefs[0].value_set);
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
  Output out;
  Expected<bool> destroyed = c.worker(0).DestroyContext(/*ignore_leak=*/false, out);
  c.Absorb(0, out);
  EXPECT_EQ(destroyed.error, "Leaking RRef " + Gid(0, 2) + " with fork Id " + Gid(0, 2) + "\n");
}

// ---------------------------------------------------------------------------------------------------------------
// The type of the OwnerRRef a remote() creates: valueFuture->elementType().

// A builtin/TorchScript function that raises: runJitOperator / runJitFunction return asFuture(exception), a future
// typed NoneType, so getOrCreateOwnerRRef creates the OwnerRRef with type NoneType (the creator's UserRRef keeps the
// declared type). A Python UDF's future is typed PyObject either way.
TEST(RemoteTest, RaisingScriptRemoteCreatesOwnerTypedNoneType) {
  Cluster c(2);
  const std::string error = "RuntimeError: boom";
  c.Define("fail", [&](Cluster&, WorkerId, RunFunction&) { return Raises(error); });
  Handle a = c.Remote(0, 1, "fail", {}, std::nullopt, CallKind::kScript, "Tensor");
  c.DeliverNext(MT::SCRIPT_REMOTE_CALL, 0, 1);
  ContextView owner = c.View(1);
  ASSERT_EQ(owner.owner_rrefs.size(), 1u);
  EXPECT_EQ(owner.owner_rrefs[0].type_str, "NoneType");
  EXPECT_EQ(owner.owner_rrefs[0].error, std::optional<std::string>(error));
  EXPECT_EQ(owner.forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1)}}}));
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  ASSERT_EQ(c.View(0).users.size(), 1u);
  EXPECT_EQ(c.View(0).users[0].type_str, "Tensor");
  FutureId f = c.ToHere(0, a);
  c.DeliverNext(MT::SCRIPT_RREF_FETCH_CALL, 0, 1);
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(error));

  Handle p = c.Remote(0, 1, "fail");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  owner = c.View(1);
  ASSERT_EQ(owner.owner_rrefs.size(), 2u);
  EXPECT_EQ(owner.owner_rrefs[1].type_str, "PyObject");
  c.DeliverAll();
  c.Release(0, a);
  c.Release(0, p);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.Errors(1).empty());
}

// The owner already exists with the declared type (created when the creator forked its unconfirmed UserRRef to the
// owner, S4) and the script function raises: getOrCreateOwnerRRef(r, NoneType) fails A14 synchronously in
// assignOwnerRRef (an "Error on Node" EXCEPTION, logged), so the creator's remote() fails with UNKNOWN_ERROR (P5).
TEST(RemoteTest, RaisingScriptRemoteForExistingOwnerFailsTypeCheckA14) {
  Cluster c(2);
  c.Define("fail", [](Cluster&, WorkerId, RunFunction&) { return Raises("RuntimeError: boom"); });
  c.Define("check", AddOne);
  Handle a = c.Remote(0, 1, "fail", {}, std::nullopt, CallKind::kScript, "Tensor");
  Message call = c.Take(MT::SCRIPT_REMOTE_CALL, 0, 1);
  FutureId rpc = c.Rpc(0, 1, "check", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 1);  // the owner is created from the argument, typed Tensor
  ASSERT_EQ(c.View(1).owner_rrefs.size(), 1u);
  EXPECT_EQ(c.View(1).owner_rrefs[0].type_str, "Tensor");
  c.DeliverAll();
  EXPECT_EQ(OutcomeOf(c, 0, rpc), "<ok>");

  c.Deliver(call);
  const std::string text = "OwnerRRef type is Tensor, expected type is NoneType";
  ASSERT_EQ(c.Errors(1).size(), 1u);
  EXPECT_EQ(c.Errors(1)[0].code, "A14");
  EXPECT_EQ(c.Errors(1)[0].text, text);
  EXPECT_EQ(LastLog(c, 1), "Received error while processing request type 260: " + text);
  EXPECT_TRUE(c.View(1).forks.empty());  // addForkOfOwner was not reached
  EXPECT_FALSE(c.View(1).owner_rrefs.at(0).value_set);
  Message exception = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(exception.error, "Error on Node 1: " + text);
  c.Deliver(exception);
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_EQ(c.Errors(0)[0].code, "A23");
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
}

}  // namespace
}  // namespace rrefsim::core::testing

namespace rrefsim::core::testing {
namespace {

// A view refilled in place (the simulator reuses one per worker) equals a fresh one, whatever it held before.
TEST(ViewTest, RefillingAReusedViewEqualsAFreshOne) {
  Cluster c(2);
  c.Define("add_one", AddOne);
  Handle a = c.Remote(0, 1, "add_one", Val(41));
  ContextView reused;
  c.worker(1).View(reused);  // empty owner
  c.Deliver(c.Take(MT::PYTHON_REMOTE_CALL, 0, 1));
  c.worker(1).View(reused);  // now with an owner, a fork and a reply in flight
  EXPECT_EQ(reused, c.View(1));
  c.worker(0).View(reused);  // another worker's, with a pending user: nothing of worker 1's may remain
  EXPECT_EQ(reused, c.View(0));
  c.DeliverNext(MT::REMOTE_RET);
  c.Release(0, a);
  c.worker(0).View(reused);
  EXPECT_EQ(reused, c.View(0));
}

}  // namespace
}  // namespace rrefsim::core::testing
