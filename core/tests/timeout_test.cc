// Client-side failures of calls under the RRef protocol (rref-protocol.md §5 S11, §9.2; rref-cases.md P5, P9, P16):
// remote() timeouts and EXCEPTION replies through RRef::handleError, rpc timeouts and their late responses,
// EXCEPTION replies of raising script calls, and a stopped agent (no timeouts, no retries).
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using namespace agent;

const std::string kRemoteTimedOut =
    "RRef creation via rpc.remote() timed out, and it is possible that the RRef on the owner node does not exist.";

// TensorPipeAgent's timeout error, written out here independently of the core.
std::string TimeoutText(TimeUs timeout) {
  return "RPCErr:1:RPC ran for more than set timeout (" + std::to_string(timeout / kMs) +
         " ms) and will now be marked with an error";
}

std::optional<UserRRefView> UserOf(const ContextView& v, Handle h) {
  for (const UserRRefView& u : v.users) {
    if (u.handle == h) return u;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------------------
// remote() failures: RRef::handleError and RRefContext::confirmPendingUser (S11, P5, P9, P16).

// P5: the callee cannot run the remote() (unknown function): EXCEPTION reply, RPCErrorType UNKNOWN_ERROR, so
// RRef::handleError -> RRefContext::handleException throws in confirmPendingUser before delPendingUser.
TEST(AgentTest, P5RemoteAnsweredWithExceptionPinsPendingUserForever) {
  Cluster c(2);
  Handle a = c.Remote(0, 1, "no_such_function");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_TRUE(c.Logged(1, "Received error while processing request type 261: unknown function no_such_function"));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));  // assignOwnerRRef never created the owner
  Message reply = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(reply.error, "Error on Node 1: unknown function no_such_function");
  c.Deliver(reply);

  const std::string error = "Error on Node 1: unknown function no_such_function";
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_TRUE(SameError(c.Errors(0)[0], "A23", error, ErrorSite::kPoolCallback)) << c.Errors(0)[0].text;
  EXPECT_TRUE(c.Logged(0, "Exception in thread pool task: " + error));
  ContextView v = c.View(0);
  EXPECT_EQ(v.pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_TRUE(v.confirmed_users.empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 0));
  EXPECT_EQ(v.client_active_calls, 1);  // the pool task's decrement was skipped
  ASSERT_TRUE(UserOf(v, a).has_value());
  EXPECT_FALSE(UserOf(v, a)->timed_out);
  EXPECT_FALSE(UserOf(v, a)->confirmed_by_owner);

  // Not timed out, so to_here sends a fetch; the owner parks it in pendingOwners_ and only the timeout answers.
  FutureId value = c.ToHere(0, a);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_owners, (std::map<RRefId, std::int64_t>{{Id(0, 0), 1}}));
  c.AdvanceTo(60 * kSecond);
  ASSERT_TRUE(c.Result(0, value).has_value());
  EXPECT_EQ(c.Result(0, value)->error, std::optional<std::string>(TimeoutText(60 * kSecond)));

  // Dropping the application reference does not free it: pendingUsers_ holds it forever, no USER_DELETE.
  c.Release(0, a);
  EXPECT_EQ(c.View(0).users.size(), 1u);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
  EXPECT_EQ(c.View(0).client_active_calls, 1);
  EXPECT_EQ(c.NextDeadline(), std::nullopt);
}

// S11 (PR #38590): remote() with a 10 ms timeout (test_rref_timeout). RRef::handleError(TIMEOUT) sets timedOut_,
// confirmPendingUser then moves the UserRRef to confirmedUsers_. to_here and forking it raise A17. The callee still
// runs the late REMOTE_CALL and registers the fork; its REMOTE_RET is ignored; the creator's delete then cleans up.
TEST(AgentTest, S11RemoteTimeoutMarksRRefAndLateCreationStillRegistersFork) {
  Cluster c(3);
  c.Define("make", Make5);
  Handle a = c.Remote(0, 1, "make", {}, 10 * kMs);
  ContextView v = c.View(0);
  ASSERT_EQ(v.requests.size(), 1u);
  EXPECT_EQ(v.requests[0].type, MT::PYTHON_REMOTE_CALL);
  EXPECT_EQ(v.requests[0].deadline, std::optional<TimeUs>(10 * kMs));  // the spec's timeout, not the default
  c.AdvanceTo(10 * kMs - 1);
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
  c.AdvanceTo(10 * kMs);

  v = c.View(0);
  EXPECT_TRUE(v.pending_users.empty());
  EXPECT_EQ(v.confirmed_users, std::vector<ForkId>{Id(0, 1)});
  ASSERT_TRUE(UserOf(v, a).has_value());
  EXPECT_TRUE(UserOf(v, a)->timed_out);
  EXPECT_TRUE(UserOf(v, a)->confirmed_by_owner);  // delPendingUser confirms it even on error
  EXPECT_EQ(v.client_active_calls, 0);
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  // UserRRef::toHere and prepareChildFork check timedOut_ (A17); nothing is sent and no child is recorded.
  Expected<FutureId> fetch = c.TryToHere(0, a);
  EXPECT_FALSE(fetch.ok());
  EXPECT_EQ(fetch.error, kRemoteTimedOut);
  Output out;
  Expected<FutureId> call =
      c.worker(0).RpcAsync(CallSpec{2, "f", Val(0, {a}), CallKind::kPython, "PyObject", std::nullopt}, c.now(), out);
  c.Absorb(0, out);
  EXPECT_FALSE(call.ok());
  EXPECT_EQ(call.error, kRemoteTimedOut);
  Expected<Handle> nested = c.TryRemote(0, CallSpec{2, "f", Val(0, {a}), CallKind::kPython, "PyObject", {}});
  EXPECT_FALSE(nested.ok());
  EXPECT_EQ(nested.error, kRemoteTimedOut);
  ASSERT_EQ(c.Errors(0).size(), 3u);
  for (const ProtocolError& e : c.Errors(0)) EXPECT_TRUE(SameError(e, "A17", kRemoteTimedOut, ErrorSite::kCaller));
  EXPECT_TRUE(c.View(0).pending_children.empty());
  EXPECT_FALSE(c.Has(MT::PYTHON_CALL));
  EXPECT_FALSE(c.Has(MT::PYTHON_RREF_FETCH_CALL));

  // The late REMOTE_CALL: timeouts are client-side only, so the owner creates r and registers the creator's fork.
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  Message ret = c.Take(MT::REMOTE_RET, 1, 0);
  size_t done_before = EventsOf<FutureDone>(c, 0).size();
  c.Deliver(ret);
  EXPECT_TRUE(c.Logged(0, "Ignoring response REMOTE_RET#" + std::to_string(ret.id)));
  EXPECT_EQ(EventsOf<FutureDone>(c, 0).size(), done_before);
  EXPECT_EQ(c.Errors(0).size(), 3u);  // no A7/A8: the pending user is not looked up again

  // Order REMOTE_CALL -> USER_DELETE: the delete removes the registered fork; clean quiescence.
  c.Release(0, a);
  SendClock clock;
  Settle(c, clock);
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
}

// P9 (PR #41217's note): the creator drops its timed-out RRef, and its USER_DELETE reaches the owner before the
// delayed REMOTE_CALL. The delete is a no-op ("Could not find OwnerRRef ..."); the late creation then registers
// fork a, which nothing will ever delete: forks_ keeps it at quiescence and the leak check reports it.
TEST(AgentTest, P9TimedOutRemoteDeletedBeforeLateCreationLeaksFork) {
  Cluster c(2);
  c.Define("make", Make5);
  Handle a = c.Remote(0, 1, "make", {}, 10 * kMs);
  Message late = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.AdvanceTo(10 * kMs);
  c.Release(0, a);  // confirmed (timed out): destroyed now, tryDel sends USER_DELETE
  EXPECT_TRUE(c.View(0).users.empty());
  Message del = c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.fork_id, Id(0, 1));
  EXPECT_TRUE(c.Logged(1, "Could not find OwnerRRef with RRefId = GloballyUniqueId(created_on=0, local_id=0), "
                          "likely because it was deleted by a previously retried message"));
  c.DeliverNext(MT::RREF_ACK, 1, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  c.Deliver(late);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);  // ignored by the creator
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_EQ(c.NextDeadline(), std::nullopt);
  // Quiescent, no application reference anywhere, yet the owner keeps r and fork a (I9 broken).
  ContextView owner = c.View(1);
  EXPECT_EQ(owner.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(owner.forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_TRUE(c.View(0).users.empty());
  Output out;
  Expected<bool> destroyed = c.worker(1).DestroyContext(/*ignore_leak=*/false, out);
  c.Absorb(1, out);
  ASSERT_FALSE(destroyed.ok());
  EXPECT_EQ(destroyed.error,
            "Leaking RRef GloballyUniqueId(created_on=0, local_id=0) with fork Id GloballyUniqueId(created_on=0, "
            "local_id=1)\n");
}

// test_remote_message_dropped_pickle / test_builtin_remote_message_dropped_timeout: FaultyTensorPipeAgent refuses
// the PYTHON_REMOTE_CALL (INTENTIONAL_FAILURE). confirmPendingUser runs inline in the caller and handleError treats
// it like a timeout: timedOut_, confirmed, A17 on to_here and on pickling.
TEST(AgentTest, S11RemoteRefusedAtSenderBehavesLikeTimeout) {
  Cluster c(3);
  c.Define("make", Make5);
  c.FailSends(FaultyAgent({MT::PYTHON_REMOTE_CALL}, 1));
  Handle a = c.Remote(0, 1, "make");
  EXPECT_TRUE(c.inflight().empty());
  ContextView v = c.View(0);
  EXPECT_TRUE(v.pending_users.empty());
  EXPECT_EQ(v.confirmed_users, std::vector<ForkId>{Id(0, 1)});
  ASSERT_TRUE(UserOf(v, a).has_value());
  EXPECT_TRUE(UserOf(v, a)->timed_out);
  EXPECT_TRUE(v.requests.empty());
  EXPECT_EQ(v.client_active_calls, 0);
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_EQ(c.NextDeadline(), std::nullopt);

  Expected<FutureId> fetch = c.TryToHere(0, a);
  EXPECT_FALSE(fetch.ok());
  EXPECT_EQ(fetch.error, kRemoteTimedOut);
  Output out;
  Expected<FutureId> call =
      c.worker(0).RpcAsync(CallSpec{2, "f", Val(0, {a}), CallKind::kPython, "PyObject", std::nullopt}, c.now(), out);
  c.Absorb(0, out);
  EXPECT_FALSE(call.ok());
  EXPECT_EQ(call.error, kRemoteTimedOut);

  // Dropping it sends a USER_DELETE the owner has never heard of: acknowledged, nothing recorded.
  c.Release(0, a);
  SendClock clock;
  Settle(c, clock);
  EXPECT_TRUE(c.Logged(1, "Could not find OwnerRRef with RRefId = GloballyUniqueId(created_on=0, local_id=0)"));
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
}

// P16 / §9.2: RRef::handleError's function-static handler map captured `this` of the first RRef that ever reported an
// error on this worker. Two remote() calls time out: only the first gets timedOut_, so to_here on the second sends
// a fetch and returns the value.
TEST(AgentTest, P16SecondTimedOutRemoteIsNotMarked) {
  Cluster c(2);
  c.Define("make", Make5);
  Handle r1 = c.Remote(0, 1, "make", {}, 10 * kMs);  // (0,0), fork (0,1)
  Handle r2 = c.Remote(0, 1, "make", {}, 10 * kMs);  // (0,2), fork (0,3)
  c.AdvanceTo(10 * kMs);
  ContextView v = c.View(0);
  EXPECT_TRUE(v.pending_users.empty());
  EXPECT_EQ(v.confirmed_users, (std::vector<ForkId>{Id(0, 1), Id(0, 3)}));
  ASSERT_TRUE(UserOf(v, r1).has_value());
  ASSERT_TRUE(UserOf(v, r2).has_value());
  EXPECT_TRUE(UserOf(v, r1)->timed_out);
  EXPECT_FALSE(UserOf(v, r2)->timed_out);

  Expected<FutureId> first = c.TryToHere(0, r1);
  EXPECT_FALSE(first.ok());
  EXPECT_EQ(first.error, kRemoteTimedOut);
  FutureId second = c.ToHere(0, r2);
  Message fetch = c.Take(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(fetch.rref_id, Id(0, 2));
  c.Deliver(fetch);
  c.DeliverAll();  // the late REMOTE_CALLs create both owners; the fetch is answered, the REMOTE_RETs ignored
  ASSERT_TRUE(c.Result(0, second).has_value());
  ASSERT_TRUE(c.Result(0, second)->ok());
  EXPECT_EQ(c.Result(0, second)->value.payload, 5);
  EXPECT_EQ(LogsWith(c, 0, "Ignoring response REMOTE_RET").size(), 2u);
  EXPECT_EQ(c.Debug(1), Counters(2, 2, 0, 0));
}

// §9.2 continued: the first RRef that reported an error was freed; a later timeout writes timedOut_ into freed
// memory in PyTorch. The core reports the hazard and leaves the RRef that actually failed unmarked.
TEST(AgentTest, P16TimeoutAfterFirstErroredRRefWasFreedLogsHazard) {
  Cluster c(2);
  c.Define("make", Make5);
  Handle r1 = c.Remote(0, 1, "make", {}, 10 * kMs);
  c.AdvanceTo(10 * kMs);
  c.Release(0, r1);  // timed out and confirmed: destroyed
  EXPECT_TRUE(c.View(0).users.empty());
  Handle r3 = c.Remote(0, 1, "make", {}, 10 * kMs);  // (0,2), fork (0,3)
  c.AdvanceTo(20 * kMs);
  std::vector<Log> hazards;
  for (const Log& l : EventsOf<Log>(c, 0)) {
    if (l.level == LogLevel::kHazard) hazards.push_back(l);
  }
  ASSERT_EQ(hazards.size(), 1u);
  EXPECT_NE(hazards[0].text.find("freed RRef (handle " + std::to_string(r1.id)), std::string::npos) << hazards[0].text;
  EXPECT_NE(hazards[0].text.find("UserRRef(rref_id=GloballyUniqueId(created_on=0, local_id=2), "
                                 "fork_id=GloballyUniqueId(created_on=0, local_id=3))"),
            std::string::npos)
      << hazards[0].text;
  ContextView v = c.View(0);
  ASSERT_TRUE(UserOf(v, r3).has_value());
  EXPECT_FALSE(UserOf(v, r3)->timed_out);
  EXPECT_EQ(v.confirmed_users, std::vector<ForkId>{Id(0, 3)});
  Expected<FutureId> fetch = c.TryToHere(0, r3);
  EXPECT_TRUE(fetch.ok()) << fetch.error;
  EXPECT_TRUE(c.Has(MT::PYTHON_RREF_FETCH_CALL, 0, 1));
}

// The handler map is created by whichever error type comes first: after a P5 failure (UNKNOWN_ERROR) every later
// timeout marks the P5 RRef, not the one that timed out.
TEST(AgentTest, P16HandlerMapCapturedByUnknownErrorRRef) {
  Cluster c(2);
  c.Define("make", Make5);
  Handle failed = c.Remote(0, 1, "no_such_function");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  Handle late = c.Remote(0, 1, "make", {}, 10 * kMs);
  c.AdvanceTo(10 * kMs);
  ContextView v = c.View(0);
  ASSERT_TRUE(UserOf(v, failed).has_value());
  ASSERT_TRUE(UserOf(v, late).has_value());
  EXPECT_TRUE(UserOf(v, failed)->timed_out);
  EXPECT_FALSE(UserOf(v, late)->timed_out);
  EXPECT_EQ(v.pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_EQ(v.confirmed_users, std::vector<ForkId>{Id(0, 3)});
}

// ---------------------------------------------------------------------------------------------------------------
// Client-side timeouts of calls.

// TensorPipeAgent's timeout: the rpc future fails with the timeout text once, the callee still runs the request, and
// its late reply is ignored (no second FutureDone).
TEST(AgentTest, RpcTimeoutThenLateResponseIsIgnored) {
  Cluster c(2);
  int runs = 0;
  c.Define("f", [&runs](Cluster&, WorkerId, RunFunction& run) {
    ++runs;
    return Returns(run.args.payload * 2);
  });
  FutureId f = c.Rpc(0, 1, "f", Val(21), 250 * kMs);
  EXPECT_EQ(c.NextDeadline(), std::optional<TimeUs>(250 * kMs));
  Message request = c.Take(MT::PYTHON_CALL, 0, 1);
  c.AdvanceTo(250 * kMs - 1);
  EXPECT_FALSE(c.Result(0, f).has_value());
  c.AdvanceTo(250 * kMs);
  ASSERT_TRUE(c.Result(0, f).has_value());
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(TimeoutText(250 * kMs)));
  EXPECT_EQ(*c.Result(0, f)->error,
            "RPCErr:1:RPC ran for more than set timeout (250 ms) and will now be marked with an error");
  EXPECT_EQ(c.View(0).client_active_calls, 0);
  EXPECT_TRUE(c.View(0).requests.empty());

  c.Deliver(request);  // the callee runs it anyway
  EXPECT_EQ(runs, 1);
  Message reply = c.Take(MT::PYTHON_RET, 1, 0);
  EXPECT_EQ(reply.value.payload, 42);
  c.Deliver(reply);
  EXPECT_TRUE(c.Logged(0, "Ignoring response PYTHON_RET#" + std::to_string(reply.id)));
  int done = 0;
  for (const FutureDone& d : EventsOf<FutureDone>(c, 0)) done += d.future == f ? 1 : 0;
  EXPECT_EQ(done, 1);
  EXPECT_FALSE(c.Result(0, f)->ok());  // still the timeout
  EXPECT_EQ(c.View(0).client_active_calls, 0);
}

// rpc_async(timeout=0): no deadline at all (kUnsetRpcTimeout aside, 0 means infinite).
TEST(AgentTest, ZeroTimeoutMeansNoDeadline) {
  Cluster c(2);
  c.Define("f", [](Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload + 1); });
  FutureId f = c.Rpc(0, 1, "f", Val(1), TimeUs{0});
  ContextView v = c.View(0);
  ASSERT_EQ(v.requests.size(), 1u);
  EXPECT_EQ(v.requests[0].deadline, std::nullopt);
  EXPECT_EQ(c.worker(0).NextDeadline(), std::nullopt);
  EXPECT_EQ(c.NextDeadline(), std::nullopt);
  c.AdvanceTo(24 * 3600 * kSecond);
  EXPECT_FALSE(c.Result(0, f).has_value());
  c.DeliverAll();
  ASSERT_TRUE(c.Result(0, f).has_value());
  ASSERT_TRUE(c.Result(0, f)->ok());
  EXPECT_EQ(c.Result(0, f)->value.payload, 2);

  // The default (no timeout in the spec) is WorkerConfig::default_timeout, 60 s; default_timeout 0 disables it,
  // control messages included.
  FutureId g = c.Rpc(0, 1, "f", Val(1));
  EXPECT_EQ(c.View(0).requests.at(0).deadline, std::optional<TimeUs>(c.now() + 60 * kSecond));
  c.DeliverAll();
  EXPECT_TRUE(c.Result(0, g).has_value());

  WorkerConfig base;
  base.default_timeout = 0;
  Cluster d(2, base);
  d.Define("make", Make5);
  Handle a = d.Remote(0, 1, "make");
  EXPECT_EQ(d.View(0).requests.at(0).deadline, std::nullopt);
  d.DeliverNext(MT::PYTHON_REMOTE_CALL);
  d.DeliverNext(MT::REMOTE_RET);
  d.Release(0, a);
  ASSERT_EQ(d.View(0).requests.size(), 1u);
  EXPECT_EQ(d.View(0).requests[0].type, MT::RREF_USER_DELETE);
  EXPECT_EQ(d.View(0).requests[0].deadline, std::nullopt);
  EXPECT_EQ(d.NextDeadline(), std::nullopt);
}

// ---------------------------------------------------------------------------------------------------------------
// EXCEPTION replies: a synchronous throw in the request handler vs an errored response future.

// A builtin/TorchScript function that raises in an rpc: runJitOperator / runJitFunction catch the exception and
// return asFuture(exception), so the response future fails and TensorPipeAgent answers createExceptionResponse with
// the raw text: no "Error on Node 1: " prefix, no "Received error while processing request type" log, and no
// protocol error. An unknown function still fails synchronously (handleError: prefix and log).
TEST(AgentTest, RaisingScriptCallRepliesWithRawExceptionText) {
  Cluster c(2);
  const std::string error = "The following operation failed in the TorchScript interpreter.\nRuntimeError: boom";
  c.Define("fail", [&](Cluster&, WorkerId, RunFunction&) {
    return FunctionResult{FunctionResult::Kind::kRaised, {}, error, {}};
  });
  FutureId f = c.Rpc(0, 1, "fail", {}, std::nullopt, CallKind::kScript);
  c.DeliverNext(MT::SCRIPT_CALL, 0, 1);
  Message reply = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(reply.error, error);
  EXPECT_FALSE(c.Logged(1, "Received error while processing request"));
  EXPECT_TRUE(c.Errors(1).empty());
  c.Deliver(reply);
  EXPECT_EQ(c.Result(0, f)->error, std::optional<std::string>(error));

  FutureId g = c.Rpc(0, 1, "no_such_function", {}, std::nullopt, CallKind::kScript);
  c.DeliverNext(MT::SCRIPT_CALL, 0, 1);
  EXPECT_EQ(LastLog(c, 1), "Received error while processing request type 256: unknown function no_such_function");
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(c.Result(0, g)->error, std::optional<std::string>("Error on Node 1: unknown function no_such_function"));
}

// ---------------------------------------------------------------------------------------------------------------
// The agent stopped (RpcAgent::shutdown sets rpcAgentRunning_ = false): the retry thread (retryExpiredRpcs) and
// TensorPipe's timeout thread (pollTimeoutRpcs) leave their loops, and rpcRetryCallback does not retry.

// A lost USER_DELETE and a call with a timeout, both outstanding when the agent stops: no timer fires any more. The
// original futures stay incomplete, so num_pending_futures stays up and the rpc never completes.
TEST(AgentTest, StoppedAgentFiresNoTimeouts) {
  Cluster c(2);
  c.Define("make", Make5);
  Handle a = ConfirmedRemote(c);
  c.Release(0, a);
  c.Drop(MT::RREF_USER_DELETE, 0, 1);
  FutureId f = c.Rpc(0, 1, "make", {}, 250 * kMs);
  c.Drop(MT::PYTHON_CALL, 0, 1);
  EXPECT_EQ(c.worker(0).NextDeadline(), std::optional<TimeUs>(250 * kMs));
  c.worker(0).StopAgent();
  EXPECT_EQ(c.worker(0).NextDeadline(), std::nullopt);
  c.AdvanceTo(3600 * kSecond);
  EXPECT_TRUE(LogsWith(c, 0, "Send try ").empty());
  EXPECT_FALSE(c.Result(0, f).has_value());
  ContextView v = c.View(0);
  EXPECT_EQ(v.requests.size(), 2u);  // both attempts still wait, past their deadlines
  EXPECT_TRUE(v.retries.empty());
  EXPECT_EQ(v.client_active_calls, 2);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  EXPECT_EQ(SentOf(c, MT::RREF_USER_DELETE, 0).size(), 1u);
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_EQ(c.NextDeadline(), std::nullopt);
}

// A USER_DELETE refused at the sender (FaultyTensorPipeAgent) waits in the retry map when the agent stops: it is
// never resent and its original future never completes.
TEST(AgentTest, StoppedAgentResendsNoScheduledRetry) {
  Cluster c(2);
  c.Define("make", Make5);
  Handle a = ConfirmedRemote(c);
  c.FailSends(FaultyAgent({MT::RREF_USER_DELETE}, 1));
  c.Release(0, a);
  EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(1));
  ASSERT_EQ(c.View(0).retries.size(), 1u);
  EXPECT_EQ(c.View(0).retries[0].next_time, 1000 * kMs);
  c.worker(0).StopAgent();
  EXPECT_EQ(c.NextDeadline(), std::nullopt);
  c.AdvanceTo(3600 * kSecond);
  EXPECT_EQ(SentOf(c, MT::RREF_USER_DELETE, 0).size(), 1u);
  EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(1));
  ContextView v = c.View(0);
  ASSERT_EQ(v.retries.size(), 1u);  // still scheduled, never resent
  EXPECT_EQ(v.retries[0].retry_count, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));  // the owner never hears of the delete
  EXPECT_TRUE(c.Errors(0).empty());
}

// An attempt that still fails after the agent stopped (here an EXCEPTION reply) is not retried. rpcRetryCallback
// builds "RPC Agent is no longer running on Node N. Cannot retry message." but sets the original future with the
// attempt's own error (jitFuture.exception_ptr()), so the FORK_REQUEST callback's handleException rethrows that
// text, not the max-retries text. The attempt: the first FORK_REQUEST was applied but its ACK was lost; it timed out
// while the agent ran, and its retry carries an empty payload (§9.1), which the owner rejects.
TEST(AgentTest, StoppedAgentFailsForkRequestWithTheAttemptsOwnError) {
  Cluster c(3);
  ForkSetup s;
  StartUserToUserFork(c, s);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.Drop(MT::RREF_ACK, 1, 2);
  c.AdvanceTo(60 * kSecond);  // the timeout; the retry (due since 1 s) goes at once
  EXPECT_EQ(LogsWith(c, 2, "Send try "), Tries(1));
  Message retry = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_TRUE(retry.empty_payload);
  c.worker(2).StopAgent();
  c.Deliver(retry);
  const std::string error = "Error on Node 1: " + kEmptyPayload;
  EXPECT_EQ(c.DeliverNext(MT::EXCEPTION, 1, 2).error, error);
  EXPECT_EQ(LogsWith(c, 2, "Send try "), Tries(2));
  EXPECT_EQ(SentOf(c, MT::RREF_FORK_REQUEST, 2).size(), 2u);
  ASSERT_EQ(c.Errors(2).size(), 1u);
  EXPECT_TRUE(SameError(c.Errors(2)[0], "A23", error, ErrorSite::kPoolCallback)) << c.Errors(2)[0].text;
  EXPECT_TRUE(c.Logged(2, "Exception in thread pool task: " + error));
  EXPECT_TRUE(LogsWith(c, 2, kMaxRetries).empty());
  ContextView v = c.View(2);
  EXPECT_TRUE(v.retries.empty());
  EXPECT_TRUE(v.requests.empty());
  EXPECT_EQ(v.pending_users, std::vector<ForkId>{Id(0, 2)});
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 1));
  EXPECT_EQ(v.client_active_calls, 1);  // the throwing pool task skipped its decrement
  EXPECT_FALSE(s.ran);
  EXPECT_FALSE(c.worker(2).aborted());
  EXPECT_EQ(c.worker(2).NextDeadline(), std::nullopt);
}

}  // namespace
}  // namespace rrefsim::core::testing
