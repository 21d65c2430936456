// S8 and the to_here paths (rref-protocol.md §3.1, §4.5, §5 S8, P10): fetches that arrive before the owner exists or
// before its value is set, the SCRIPT vs PYTHON fetch messages, stored errors, fetches that are never answered, and
// to_here on a UserRRef that graceful shutdown already deleted.
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using PendingOwners = std::map<RRefId, std::int64_t>;

FunctionResult Make(Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload); }

FunctionResult Raises(const std::string& error) { return FunctionResult{FunctionResult::Kind::kRaised, {}, error, {}}; }

using forking::TakeHeldRun;

// Every message `from` sent to `to` so far with one of `types`.
int SentCount(const Cluster& c, WorkerId from, WorkerId to, std::vector<MT> types) {
  int n = 0;
  for (const Message& m : c.sent()) {
    if (m.from != from || m.to != to) continue;
    for (MT t : types) n += m.type == t ? 1 : 0;
  }
  return n;
}

const std::vector<MT> kFetchReplies = {MT::PYTHON_RREF_FETCH_RET, MT::SCRIPT_RREF_FETCH_RET, MT::EXCEPTION};

const char kTimeoutText[] =
    "RPCErr:1:RPC ran for more than set timeout (60000 ms) and will now be marked with an error";

using forking::ExpectAllClean;
using forking::ExpectCleanState;

// S8: two to_here() calls reach the owner before the REMOTE_CALL. Mirrors RRefContext::getOwnerRRef (a pendingOwners_
// future, one per RRef, every fetch chained on it) and getOrCreateOwnerRRef completing it; the replies go out when
// assignOwnerRRef sets the value, before the REMOTE_RET.
TEST(FetchTest, S8ToHereBeforeOwnerExists) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make", Val(13), std::nullopt, CallKind::kScript, "Tensor");
  Message call = c.Take(MT::SCRIPT_REMOTE_CALL, 0, 1);
  FutureId f1 = c.ToHere(0, a);
  FutureId f2 = c.ToHere(0, a);
  Message fetch1 = c.Take(MT::SCRIPT_RREF_FETCH_CALL, 0, 1);
  Message fetch2 = c.Take(MT::SCRIPT_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(fetch1.rref_id, Id(0, 0));
  EXPECT_FALSE(fetch1.fork_id.valid());
  EXPECT_NE(fetch1.id, fetch2.id);
  ContextView a_view = c.View(0);
  ASSERT_EQ(a_view.requests.size(), 3u);  // the remote() and two fetches, each with the default timeout
  EXPECT_EQ(a_view.requests[1], (RequestView{fetch1.id, 1, MT::SCRIPT_RREF_FETCH_CALL, 60 * kSecond}));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 0));  // fetches are not control messages

  c.Deliver(fetch1);
  c.Deliver(fetch2);
  ContextView b = c.View(1);
  EXPECT_EQ(b.pending_owners, (PendingOwners{{Id(0, 0), 2}}));
  EXPECT_TRUE(b.owners.empty());
  EXPECT_TRUE(b.owner_rrefs.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_FALSE(c.Result(0, f1).has_value());

  c.Deliver(call);
  b = c.View(1);
  EXPECT_TRUE(b.pending_owners.empty());
  EXPECT_EQ(b.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(b.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  ASSERT_EQ(c.inflight().size(), 3u);
  EXPECT_EQ(c.inflight()[0].type, MT::SCRIPT_RREF_FETCH_RET);
  EXPECT_EQ(c.inflight()[0].id, fetch1.id);
  EXPECT_EQ(c.inflight()[1].type, MT::SCRIPT_RREF_FETCH_RET);
  EXPECT_EQ(c.inflight()[1].id, fetch2.id);
  EXPECT_EQ(c.inflight()[2].type, MT::REMOTE_RET);
  // Answered in reverse: each reply finds its own request by id.
  c.Deliver(c.Take(MT::SCRIPT_RREF_FETCH_RET, 1, 0));
  c.Deliver(c.Take(MT::SCRIPT_RREF_FETCH_RET, 1, 0));
  ASSERT_TRUE(c.Result(0, f1).has_value());
  ASSERT_TRUE(c.Result(0, f2).has_value());
  EXPECT_EQ(c.Result(0, f1)->value.payload, 13);
  EXPECT_EQ(c.Result(0, f2)->value.payload, 13);
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});  // the fetch does not confirm anything
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.Release(0, a);
  c.DeliverAll();
  ExpectAllClean(c, 2);
}

// §9.4: the REMOTE_CALL's function runs before assignOwnerRRef, so a fetch that arrives while it runs still finds no
// owner and waits in pendingOwners_.
TEST(FetchTest, S8FetchWhileRemoteFunctionRuns) {
  Cluster c(2);
  c.Hold("slow");
  Handle a = c.Remote(0, 1, "slow");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  RunFunction run = TakeHeldRun(c, 1);
  EXPECT_EQ(c.View(1).running_functions, 1);
  FutureId f = c.ToHere(0, a);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  ContextView b = c.View(1);
  EXPECT_EQ(b.pending_owners, (PendingOwners{{Id(0, 0), 1}}));
  EXPECT_TRUE(b.owners.empty());
  EXPECT_TRUE(b.owner_rrefs.empty());
  EXPECT_TRUE(c.inflight().empty());

  c.Finish(1, run.work, Returns(31));
  b = c.View(1);
  EXPECT_TRUE(b.pending_owners.empty());
  EXPECT_EQ(b.owners, std::vector<RRefId>{Id(0, 0)});
  ASSERT_EQ(c.inflight().size(), 2u);
  EXPECT_EQ(c.inflight()[0].type, MT::PYTHON_RREF_FETCH_RET);
  EXPECT_EQ(c.inflight()[1].type, MT::REMOTE_RET);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, f)->value.payload, 31);
  c.Release(0, a);
  c.DeliverAll();
  ExpectAllClean(c, 2);
}

// The owner exists but its value is not set: B created an empty OwnerRRef when A passed r to it (user->owner, S4)
// before the REMOTE_CALL arrived (getOrCreateOwnerRRef). A fetch then waits on OwnerRRef::getFuture(), not in
// pendingOwners_, and is answered when assignOwnerRRef sets the value.
TEST(FetchTest, FetchWaitsForValueOfOwnerCreatedByUnpickling) {
  Cluster c(2);
  c.Define("make", Make);
  c.Define("noop", [](Cluster&, WorkerId, RunFunction&) { return Returns(0); });
  Handle a = c.Remote(0, 1, "make", Val(17));
  Message remote_call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  FutureId call = c.Rpc(0, 1, "noop", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 1);
  ContextView b = c.View(1);
  EXPECT_EQ(b.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_TRUE(b.forks.empty());  // the phantom fork is not recorded, the creator's fork not yet
  ASSERT_EQ(b.owner_rrefs.size(), 1u);
  EXPECT_FALSE(b.owner_rrefs[0].value_set);
  EXPECT_EQ(b.owner_rrefs[0].app_refs, 0);  // the function returned; owners_ holds it
  EXPECT_EQ(c.Debug(1), Counters(1, 0, 0, 1));
  c.DeliverAll();  // CHILD_ACCEPT, its ACK, the rpc reply (the REMOTE_CALL is held back)
  EXPECT_TRUE(c.Result(0, call)->ok());
  EXPECT_TRUE(c.View(0).pending_children.empty());

  FutureId f = c.ToHere(0, a);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  b = c.View(1);
  EXPECT_TRUE(b.pending_owners.empty());
  EXPECT_FALSE(b.owner_rrefs.at(0).value_set);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_FALSE(c.Result(0, f).has_value());

  c.Deliver(remote_call);
  b = c.View(1);
  EXPECT_EQ(b.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_TRUE(b.owner_rrefs.at(0).value_set);
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  ASSERT_EQ(c.inflight().size(), 2u);
  EXPECT_EQ(c.inflight()[0].type, MT::PYTHON_RREF_FETCH_RET);
  EXPECT_EQ(c.inflight()[1].type, MT::REMOTE_RET);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, f)->value.payload, 17);
  c.Release(0, a);
  c.DeliverAll();
  ExpectAllClean(c, 2);
}

// remote() to self with its function held: the OwnerRRef exists (addSelfAsFork) but has no value. Both a local
// to_here on the owner (OwnerRRef::getValue) and a fetch from a user it was forked to (S5) wait for setValue.
TEST(FetchTest, FetchWaitsWhileSelfRemoteFunctionIsHeld) {
  Cluster c(2);
  c.Hold("slow");
  c.Hold("keep");
  Handle o = c.Remote(1, 1, "slow");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 1, 1);
  RunFunction slow = TakeHeldRun(c, 1);
  FutureId local = c.ToHere(1, o);
  EXPECT_FALSE(c.Result(1, local).has_value());
  EXPECT_TRUE(c.inflight().empty());

  FutureId call = c.Rpc(1, 0, "keep", Val(0, {o}));
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(1, 0), {Id(1, 0), Id(1, 1)}}}));  // the self marker and the fork
  EXPECT_EQ(c.Debug(1), Counters(1, 2, 0, 0));
  c.DeliverNext(MT::PYTHON_CALL, 1, 0);
  RunFunction keep = TakeHeldRun(c, 0);
  FutureId remote = c.ToHere(0, keep.args.rrefs.at(0));
  Message fetch = c.Take(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(fetch.rref_id, Id(1, 0));
  c.Deliver(fetch);
  EXPECT_TRUE(c.View(1).pending_owners.empty());
  EXPECT_FALSE(c.View(1).owner_rrefs.at(0).value_set);
  EXPECT_TRUE(c.inflight().empty());

  c.Finish(1, slow.work, Returns(23));
  ASSERT_TRUE(c.Result(1, local).has_value());
  EXPECT_EQ(c.Result(1, local)->value.payload, 23);
  ASSERT_EQ(c.inflight().size(), 2u);
  EXPECT_EQ(c.inflight()[0].type, MT::PYTHON_RREF_FETCH_RET);
  EXPECT_EQ(c.inflight()[1].type, MT::REMOTE_RET);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_RET, 1, 0);
  EXPECT_EQ(c.Result(0, remote)->value.payload, 23);
  c.DeliverNext(MT::REMOTE_RET, 1, 1);  // delForkOfOwner(r, r): the user's fork remains
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(1, 0), {Id(1, 1)}}}));
  c.Finish(0, keep.work, Returns(0));
  c.Release(0, keep.args.rrefs.at(0));
  c.Release(1, o);
  c.DeliverAll();
  EXPECT_TRUE(c.Result(1, call)->ok());
  ExpectAllClean(c, 2);
}

// UserRRef::toHere picks the message by the RRef's type: PyObject -> PYTHON_RREF_FETCH_CALL (answered with
// PYTHON_RREF_FETCH_RET by RequestCallbackImpl), anything else -> SCRIPT_RREF_FETCH_CALL / SCRIPT_RREF_FETCH_RET.
TEST(FetchTest, ScriptVsPythonFetchMessages) {
  Cluster c(2);
  c.Define("make", Make);
  struct Case {
    CallKind kind;
    std::string type;
    MT remote;
    MT fetch;
    MT reply;
  };
  const std::vector<Case> cases = {
      {CallKind::kPython, "PyObject", MT::PYTHON_REMOTE_CALL, MT::PYTHON_RREF_FETCH_CALL, MT::PYTHON_RREF_FETCH_RET},
      {CallKind::kScript, "Tensor", MT::SCRIPT_REMOTE_CALL, MT::SCRIPT_RREF_FETCH_CALL, MT::SCRIPT_RREF_FETCH_RET},
      {CallKind::kScript, "int", MT::SCRIPT_REMOTE_CALL, MT::SCRIPT_RREF_FETCH_CALL, MT::SCRIPT_RREF_FETCH_RET},
  };
  std::int64_t payload = 50;
  for (const Case& k : cases) {
    SCOPED_TRACE(k.type);
    Handle h = c.Remote(0, 1, "make", Val(payload), std::nullopt, k.kind, k.type);
    Message call = c.Take(k.remote, 0, 1);
    EXPECT_EQ(call.type_str, k.type);
    c.Deliver(call);
    c.DeliverNext(MT::REMOTE_RET, 1, 0);
    ContextView a = c.View(0);
    ASSERT_EQ(a.users.size(), 1u);
    EXPECT_EQ(a.users[0].type_str, k.type);
    EXPECT_EQ(c.View(1).owner_rrefs.at(0).type_str, k.type);
    FutureId f = c.ToHere(0, h);
    ASSERT_EQ(c.inflight().size(), 1u);
    EXPECT_EQ(c.inflight()[0].type, k.fetch);
    c.DeliverNext(k.fetch, 0, 1);
    ASSERT_EQ(c.inflight().size(), 1u);
    EXPECT_EQ(c.inflight()[0].type, k.reply);
    c.DeliverNext(k.reply, 1, 0);
    ASSERT_TRUE(c.Result(0, f).has_value());
    EXPECT_EQ(c.Result(0, f)->value.payload, payload);
    c.Release(0, h);
    c.DeliverAll();
    ++payload;
  }
  ExpectAllClean(c, 2);
}

// A builtin/TorchScript function that fails: assignOwnerRRef calls setError on the OwnerRRef and still replies
// REMOTE_RET (the remote() itself succeeded). A fetch's continuation then fails with the stored error, and the agent
// answers EXCEPTION with that text (createExceptionResponse, no "Error on Node" prefix: no handleError on this path).
// A fetch parked before the value was set gets the same answer.
TEST(FetchTest, ScriptErrorIsStoredAndToHereFails) {
  Cluster c(2);
  const std::string error = "The following operation failed in the TorchScript interpreter.\nRuntimeError: boom";
  c.Define("fail", [&](Cluster&, WorkerId, RunFunction&) { return Raises(error); });
  Handle a = c.Remote(0, 1, "fail", Val(0), std::nullopt, CallKind::kScript, "Tensor");
  Message call = c.Take(MT::SCRIPT_REMOTE_CALL, 0, 1);
  FutureId early = c.ToHere(0, a);
  c.DeliverNext(MT::SCRIPT_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_owners, (PendingOwners{{Id(0, 0), 1}}));
  c.Deliver(call);

  ContextView b = c.View(1);
  ASSERT_EQ(b.owner_rrefs.size(), 1u);
  EXPECT_TRUE(b.owner_rrefs[0].value_set);
  EXPECT_EQ(b.owner_rrefs[0].error, std::optional<std::string>(error));
  EXPECT_EQ(b.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  ASSERT_EQ(c.inflight().size(), 2u);
  EXPECT_EQ(c.inflight()[0].type, MT::EXCEPTION);
  EXPECT_EQ(c.inflight()[0].error, error);
  EXPECT_EQ(c.inflight()[1].type, MT::REMOTE_RET);  // not an EXCEPTION: the RRef exists
  EXPECT_FALSE(c.Logged(1, "Received error while processing request"));
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  ContextView a_view = c.View(0);
  EXPECT_TRUE(a_view.pending_users.empty());
  ASSERT_EQ(a_view.users.size(), 1u);
  EXPECT_FALSE(a_view.users[0].timed_out);
  EXPECT_TRUE(a_view.users[0].confirmed_by_owner);
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  ASSERT_TRUE(c.Result(0, early).has_value());
  EXPECT_EQ(c.Result(0, early)->error, std::optional<std::string>(error));

  // A later to_here: answered at once with the same EXCEPTION.
  FutureId late = c.ToHere(0, a);
  c.DeliverNext(MT::SCRIPT_RREF_FETCH_CALL, 0, 1);
  Message reply = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(reply.error, error);
  c.Deliver(reply);
  EXPECT_EQ(c.Result(0, late)->error, std::optional<std::string>(error));
  EXPECT_TRUE(c.Errors(0).empty());  // an error result of to_here, not a protocol error
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  c.Release(0, a);
  c.DeliverAll();
  ExpectAllClean(c, 2);
}

// A Python UDF that raises: the exception is the OwnerRRef's *value* (a RemoteException object), not an error; the
// fetch succeeds with PYTHON_RREF_FETCH_RET and the caller re-raises it (handleExceptionGILHeld).
TEST(FetchTest, PythonUdfExceptionIsStoredAsValue) {
  Cluster c(2);
  const std::string error = "ValueError: Expected error\n\nException raised from remote function";
  c.Define("raise", [&](Cluster&, WorkerId, RunFunction&) { return Raises(error); });
  Handle a = c.Remote(0, 1, "raise");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  ContextView b = c.View(1);
  ASSERT_EQ(b.owner_rrefs.size(), 1u);
  EXPECT_TRUE(b.owner_rrefs[0].value_set);
  EXPECT_EQ(b.owner_rrefs[0].error, std::nullopt);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  FutureId f = c.ToHere(0, a);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  Message reply = c.Take(MT::PYTHON_RREF_FETCH_RET, 1, 0);
  EXPECT_EQ(reply.value.raised, std::optional<std::string>(error));
  EXPECT_TRUE(reply.value.rrefs.empty());
  EXPECT_FALSE(c.Has(MT::EXCEPTION));
  c.Deliver(reply);
  ASSERT_TRUE(c.Result(0, f).has_value());
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(error));
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_TRUE(c.Errors(1).empty());
  c.Release(0, a);
  c.DeliverAll();
  ExpectAllClean(c, 2);
}

// The value of an OwnerRRef holds an RRef that cannot be forked (a remote() of the owner's that timed out, A17): the
// fetch's continuation pickles the value (serializePyObject, forking every RRef in it) and throws there, so the
// response future fails: EXCEPTION with the raw text, no "Error on Node" prefix, no handleError log line.
TEST(FetchTest, FetchOfValueWhoseRRefCannotBeForkedRepliesRawError) {
  Cluster c(3);
  c.Hold("nested");
  Handle outer = c.Remote(0, 1, "nested");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  RunFunction run = TakeHeldRun(c, 1);
  Handle inner = c.Remote(1, 2, "make", {}, 10 * kMillisecond);
  c.Drop(MT::PYTHON_REMOTE_CALL, 1, 2);
  c.AdvanceTo(10 * kMillisecond);  // the inner remote() times out: timedOut_ on worker 1's UserRRef
  c.Finish(1, run.work, Returns(0, {inner}));
  c.Release(1, inner);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);

  FutureId f = c.ToHere(0, outer);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  const std::string text =
      "RRef creation via rpc.remote() timed out, and it is possible that the RRef on the owner node does not exist.";
  ASSERT_EQ(c.Errors(1).size(), 1u);
  EXPECT_EQ(c.Errors(1)[0].code, "A17");
  EXPECT_EQ(c.Errors(1)[0].site, ErrorSite::kRequestHandler);
  EXPECT_FALSE(c.Logged(1, "Received error while processing request"));
  Message reply = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(reply.error, text);
  c.Deliver(reply);
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(text));
  EXPECT_TRUE(c.View(1).pending_children.empty());
  c.Release(0, outer);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// P10 (bug #40141): the to_here times out on the caller, the application then drops its RRef, its USER_DELETE
// overtakes the FETCH, and the owner is gone when the FETCH arrives. getOwnerRRef parks it in pendingOwners_, which
// nothing but destroyInstance ever clears: the entry stays and no reply is ever sent.
TEST(FetchTest, P10FetchAfterOwnerDeletedWaitsForever) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make", Val(3));
  c.DeliverAll();
  FutureId f = c.ToHere(0, a);
  Message fetch = c.Take(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  c.RunTimersUntil(60 * kSecond);
  ASSERT_TRUE(c.Result(0, f).has_value());
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(kTimeoutText));
  EXPECT_TRUE(c.View(0).requests.empty());

  c.Release(0, a);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  c.DeliverAll();

  c.Deliver(fetch);
  EXPECT_EQ(c.View(1).pending_owners, (PendingOwners{{Id(0, 0), 1}}));
  c.DeliverAll();
  c.RunTimersUntil(3600 * kSecond);
  c.DeliverAll();
  EXPECT_EQ(c.View(1).pending_owners, (PendingOwners{{Id(0, 0), 1}}));
  EXPECT_EQ(SentCount(c, 1, 0, kFetchReplies), 0);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_FALSE(c.NextDeadline().has_value());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));  // the debug counters do not see pendingOwners_
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(kTimeoutText));
}

// P10, the other way: the remote() is lost, so the owner is never created. The fetch waits in pendingOwners_
// forever; the caller sees the remote()'s timeout flag and its to_here's own timeout.
TEST(FetchTest, P10FetchForRRefWhoseRemoteNeverArrives) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make", Val(3));
  c.Drop(MT::PYTHON_REMOTE_CALL, 0, 1);
  FutureId f = c.ToHere(0, a);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_owners, (PendingOwners{{Id(0, 0), 1}}));
  EXPECT_TRUE(c.View(1).owners.empty());

  c.RunTimersUntil(60 * kSecond);
  ASSERT_TRUE(c.Result(0, f).has_value());
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(kTimeoutText));
  ContextView a_view = c.View(0);
  EXPECT_TRUE(a_view.pending_users.empty());  // the timed-out creator moved to confirmedUsers_
  EXPECT_EQ(a_view.confirmed_users, std::vector<ForkId>{Id(0, 1)});
  ASSERT_EQ(a_view.users.size(), 1u);
  EXPECT_TRUE(a_view.users[0].timed_out);

  c.Release(0, a);
  c.DeliverAll();  // USER_DELETE for an RRef B never knew: silently acked
  EXPECT_TRUE(c.Logged(1, "Could not find OwnerRRef with RRefId = GloballyUniqueId(created_on=0, local_id=0)"));
  c.RunTimersUntil(3600 * kSecond);
  c.DeliverAll();
  EXPECT_EQ(c.View(1).pending_owners, (PendingOwners{{Id(0, 0), 1}}));
  EXPECT_EQ(SentCount(c, 1, 0, kFetchReplies), 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
}

// Graceful shutdown's delAllUsersAndUnforkedOwners tryDel()s every confirmed UserRRef while the application still
// holds it; UserRRef::toHere then raises A18 (and forking it raises the fork variant), without sending anything.
TEST(FetchTest, ToHereAfterShutdownDeletedTheUser) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make", Val(3));
  c.DeliverAll();
  c.DeleteAllUsers(0);
  ContextView a_view = c.View(0);
  ASSERT_EQ(a_view.users.size(), 1u);
  EXPECT_TRUE(a_view.users[0].deleted_on_owner);
  EXPECT_EQ(a_view.users[0].app_refs, 1);
  EXPECT_TRUE(a_view.confirmed_users.empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.fork_id, Id(0, 1));
  c.Deliver(del);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  c.DeliverAll();

  const std::string deleted =
      "UserRRef(rref_id=GloballyUniqueId(created_on=0, local_id=0), fork_id=GloballyUniqueId(created_on=0, "
      "local_id=1)) has been deleted.";
  Expected<FutureId> r = c.TryToHere(0, a);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, deleted + " Cannot call to_here() on it after deletion.");
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_EQ(c.Errors(0)[0].code, "A18");
  EXPECT_EQ(c.Errors(0)[0].text, r.error);
  EXPECT_EQ(c.Errors(0)[0].site, ErrorSite::kCaller);
  EXPECT_TRUE(c.inflight().empty());

  Output out;
  Expected<FutureId> rpc = c.worker(0).RpcAsync(CallSpec{1, "make", Val(0, {a}), CallKind::kPython, "PyObject", std::nullopt}, c.now(), out);
  c.Absorb(0, out);
  EXPECT_FALSE(rpc.ok());
  EXPECT_EQ(rpc.error, deleted + " Cannot call fork an UserRRef after deletion.");
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_TRUE(c.View(0).pending_children.empty());

  c.Release(0, a);  // no second USER_DELETE: tryDel already ran
  EXPECT_TRUE(c.View(0).users.empty());
  EXPECT_TRUE(c.inflight().empty());
  int deletes = 0;
  for (const Message& m : c.sent()) deletes += m.type == MT::RREF_USER_DELETE ? 1 : 0;
  EXPECT_EQ(deletes, 1);
  // The two A18 errors raised to the application above are the only protocol errors.
  std::vector<ProtocolError> errors = c.Errors(0);
  ASSERT_EQ(errors.size(), 2u);
  for (const ProtocolError& e : errors) EXPECT_EQ(e.code, "A18");
  EXPECT_TRUE(c.Errors(1).empty());
  ExpectCleanState(c, 2);
}

}  // namespace
}  // namespace rrefsim::core::testing
