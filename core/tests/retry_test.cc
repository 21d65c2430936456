// RpcAgent::sendWithRetries under the RRef protocol (rref-protocol.md §2, §9.1, §9.3; rref-cases.md P1, P6, P15,
// P17): the retry schedule at exact virtual times, the attempt count and logs, FaultyTensorPipeAgent's refused sends,
// TensorPipe's empty-payload retries, the content-resending transport, and the retry thread's abort.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using namespace agent;

// ---------------------------------------------------------------------------------------------------------------
// sendWithRetries: schedule, attempt count, logs.

// Mirrors RpcAgent::sendWithRetries + RpcAgent::retryExpiredRpcs + RpcAgent::rpcRetryCallback with a
// FaultyTensorPipeAgent that refuses every RREF_USER_DELETE: the first retry time is computed before the first send
// (now + 1000 ms * 1.5^0), each resend computes the next from the count before incrementing it.
TEST(AgentTest, SendWithRetriesScheduleForSynchronousFailures) {
  Cluster c(2);
  c.Define("make", Make5);
  SendClock clock;
  Handle a = ConfirmedRemote(c);
  c.FailSends(FaultyAgent({MT::RREF_USER_DELETE}, 100));
  c.Release(0, a);  // t = 0: UserRRef::tryDel -> delUser -> sendWithRetries(RREF_USER_DELETE)
  clock.Sync(c);

  EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(1));
  ContextView v = c.View(0);
  ASSERT_EQ(v.retries.size(), 1u);
  EXPECT_EQ(v.retries[0].message.type, MT::RREF_USER_DELETE);
  EXPECT_EQ(v.retries[0].retry_count, 0);
  EXPECT_EQ(v.retries[0].next_time, 1000 * kMs);
  EXPECT_TRUE(v.requests.empty());  // nothing reached the wire
  EXPECT_EQ(v.client_active_calls, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  EXPECT_EQ(c.NextDeadline(), std::optional<TimeUs>(1000 * kMs));

  const std::vector<TimeUs> retry_ms = {1000, 2000, 3500, 5750, 9125};  // gaps 1000, 1000, 1500, 2250, 3375 ms
  for (size_t i = 0; i < retry_ms.size(); ++i) {
    size_t before = SentOf(c, MT::RREF_USER_DELETE, 0).size();
    c.AdvanceTo(retry_ms[i] * kMs - 1);
    EXPECT_EQ(SentOf(c, MT::RREF_USER_DELETE, 0).size(), before) << "retry " << i + 1 << " went early";
    c.AdvanceTo(retry_ms[i] * kMs);
    clock.Sync(c);
    EXPECT_EQ(SentOf(c, MT::RREF_USER_DELETE, 0).size(), before + 1) << "retry " << i + 1;
    EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(static_cast<int>(i) + 2));
    if (i + 1 < retry_ms.size()) {
      v = c.View(0);
      ASSERT_EQ(v.retries.size(), 1u);
      EXPECT_EQ(v.retries[0].retry_count, static_cast<int>(i) + 1);
      EXPECT_EQ(v.retries[0].next_time, retry_ms[i + 1] * kMs);
      EXPECT_EQ(c.Debug(0).num_pending_futures, 1);
    }
  }
  EXPECT_EQ(clock.Ms(c, MT::RREF_USER_DELETE, 0), (std::vector<TimeUs>{0, 1000, 2000, 3500, 5750, 9125}));
  // Refused attempts were never written: every one carries the content (the same Message object is resent).
  for (const Message& m : SentOf(c, MT::RREF_USER_DELETE, 0)) {
    EXPECT_FALSE(m.empty_payload);
    EXPECT_EQ(m.rref_id, Id(0, 0));
    EXPECT_EQ(m.fork_id, Id(0, 1));
  }

  // After 6 attempts the original future fails with the final error; USER_DELETE's callback is
  // handleExceptionSilent, so the only trace is the counter going back to zero. No 7th attempt, ever.
  v = c.View(0);
  EXPECT_TRUE(v.retries.empty());
  EXPECT_TRUE(v.requests.empty());
  EXPECT_EQ(v.client_active_calls, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_FALSE(c.worker(0).aborted());
  EXPECT_EQ(c.NextDeadline(), std::nullopt);
  c.AdvanceTo(3600 * kSecond);
  EXPECT_EQ(SentOf(c, MT::RREF_USER_DELETE, 0).size(), 6u);
  EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(6));
  // The owner never heard of the delete: beyond the retry budget G1 does not hold and the fork leaks.
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
}

// Mirrors FaultyAgentRpcTest.test_check_failed_messages (FaultyTensorPipeAgent, num_fail_sends = 3, failing
// RREF_FORK_REQUEST, RREF_CHILD_ACCEPT and RREF_USER_DELETE): rank 0 creates r on rank 1, passes it to a remote()
// on rank 2 (user -> user under retries), to_here, drops everything. Every control message succeeds on its 4th
// attempt, 3500 ms after its first, and the protocol ends clean.
TEST(AgentTest, FaultyAgentThreeFailedSendsThenFourthAttemptSucceeds) {
  Cluster c(3);
  SendClock clock;
  c.Define("make", Make5);
  c.Define("use", [](Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload + 10); });
  c.FailSends(FaultyAgent({MT::RREF_FORK_REQUEST, MT::RREF_CHILD_ACCEPT, MT::RREF_USER_DELETE}, 3));

  Handle a = c.Remote(0, 1, "make");                // r = (0,0), a = (0,1)
  Handle r2 = c.Remote(0, 2, "use", Val(1, {a}));   // child c = (0,2), r2 = (0,3), fork (0,4)
  FutureId value = c.ToHere(0, r2);
  c.Release(0, a);  // pinned: pendingUsers_ until REMOTE_RET, pendingChildren_ until CHILD_ACCEPT
  Settle(c, clock);
  ASSERT_TRUE(c.Result(0, value).has_value());
  ASSERT_TRUE(c.Result(0, value)->ok()) << *c.Result(0, value)->error;
  EXPECT_EQ(c.Result(0, value)->value.payload, 11);
  c.Release(0, r2);
  Settle(c, clock);

  // Each distinct control message: 3 refused sends then the written 4th at +1000, +2000, +3500 ms.
  std::map<std::tuple<MT, WorkerId, RRefId, ForkId>, std::vector<TimeUs>> attempts;
  clock.Sync(c);
  for (MT type : {MT::RREF_FORK_REQUEST, MT::RREF_CHILD_ACCEPT, MT::RREF_USER_DELETE}) {
    for (WorkerId w = 0; w < 3; ++w) {
      std::vector<Message> sent = SentOf(c, type, w);
      std::vector<TimeUs> times = clock.Ms(c, type, w);
      for (size_t i = 0; i < sent.size(); ++i) attempts[{type, w, sent[i].rref_id, sent[i].fork_id}].push_back(times[i]);
    }
  }
  // FORK_REQUEST(c) 2->1, CHILD_ACCEPT(c) 2->0, USER_DELETE of c (2->1), of a (0->1) and of r2's fork (0->2).
  ASSERT_EQ(attempts.size(), 5u);
  for (const auto& [key, times] : attempts) {
    const auto& [type, from, rref, fork] = key;
    ASSERT_EQ(times.size(), 4u) << MessageTypeName(type) << " from " << from << " fork " << ToString(fork);
    EXPECT_EQ((std::vector<TimeUs>{times[1] - times[0], times[2] - times[0], times[3] - times[0]}),
              (std::vector<TimeUs>{1000, 2000, 3500}))
        << MessageTypeName(type) << " from " << from;
  }
  EXPECT_EQ(clock.Ms(c, MT::RREF_FORK_REQUEST, 2), (std::vector<TimeUs>{0, 1000, 2000, 3500}));
  // The gated remote() ran only after the fork request's 4th attempt was acknowledged; CHILD_ACCEPT followed it.
  EXPECT_EQ(clock.Ms(c, MT::RREF_CHILD_ACCEPT, 2), (std::vector<TimeUs>{3500, 4500, 5500, 7000}));

  for (WorkerId w = 0; w < 3; ++w) {
    EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
    ContextView v = c.View(w);
    EXPECT_EQ(v.client_active_calls, 0) << "worker " << w;
    EXPECT_TRUE(v.retries.empty());
    EXPECT_TRUE(v.requests.empty());
    EXPECT_TRUE(v.pending_children.empty());
    EXPECT_TRUE(v.users.empty());
    EXPECT_TRUE(v.owner_rrefs.empty());
    EXPECT_TRUE(c.Errors(w).empty()) << "worker " << w << ": " << c.Errors(w).front().text;
    EXPECT_TRUE(LogsWith(c, w, "Send try 4 failed").empty());
    EXPECT_FALSE(c.worker(w).aborted());
  }
  EXPECT_EQ(LogsWith(c, 2, "Send try ").size(), 9u);  // FORK_REQUEST, CHILD_ACCEPT, USER_DELETE: 3 each
  EXPECT_EQ(LogsWith(c, 0, "Send try ").size(), 6u);  // USER_DELETE of a and of r2's fork
  EXPECT_TRUE(c.inflight().empty());
}

// Mirrors RpcAgent::rpcRetryCallback's use of the time computed when the attempt was sent: attempts that are written
// and lost time out 400 ms later, yet the retries still go at 1000, 2000, 3500, 5750, 9125 ms. Once the first attempt
// was written, TensorPipe resends an empty payload (tensorpipeSerialize moved it out, §9.1).
TEST(AgentTest, RetryTimeIsComputedWhenTheAttemptIsSent) {
  WorkerConfig base;
  base.default_timeout = 400 * kMs;
  Cluster c(2, base);
  c.Define("make", Make5);
  SendClock clock;
  Handle a = ConfirmedRemote(c);
  c.Release(0, a);
  for (int step = 0; step < 100; ++step) {
    clock.Sync(c);
    while (c.Has(MT::RREF_USER_DELETE)) c.Drop(MT::RREF_USER_DELETE);  // every attempt is lost on the wire
    std::optional<TimeUs> next = c.NextDeadline();
    if (!next) break;
    c.AdvanceTo(*next);
  }
  EXPECT_EQ(clock.Ms(c, MT::RREF_USER_DELETE, 0), (std::vector<TimeUs>{0, 1000, 2000, 3500, 5750, 9125}));
  EXPECT_EQ(c.now(), 9525 * kMs);  // the 6th attempt timed out; the final error completed the future
  EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(6));
  std::vector<Message> sent = SentOf(c, MT::RREF_USER_DELETE, 0);
  ASSERT_EQ(sent.size(), 6u);
  EXPECT_FALSE(sent[0].empty_payload);
  EXPECT_EQ(sent[0].fork_id, Id(0, 1));
  for (size_t i = 1; i < sent.size(); ++i) {
    EXPECT_TRUE(sent[i].empty_payload) << "attempt " << i + 1;
    EXPECT_FALSE(sent[i].fork_id.valid());
  }
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.View(0).client_active_calls, 0);
}

// An attempt that times out after the default 60 s is retried at once: its retry time (send time + 1000 ms) is long
// past. So 6 lost attempts go at 0, 60, 120, 180, 240, 300 s and the final error comes at 360 s.
TEST(AgentTest, AttemptTimingOutAfterDefaultTimeoutRetriesImmediately) {
  Cluster c(2);
  c.Define("make", Make5);
  SendClock clock;
  Handle a = ConfirmedRemote(c);
  c.Release(0, a);
  clock.Sync(c);
  ASSERT_EQ(c.View(0).requests.size(), 1u);
  EXPECT_EQ(c.View(0).requests[0].deadline, std::optional<TimeUs>(60 * kSecond));
  c.Drop(MT::RREF_USER_DELETE);
  c.AdvanceTo(60 * kSecond - 1);
  EXPECT_TRUE(LogsWith(c, 0, "Send try ").empty());
  c.AdvanceTo(60 * kSecond);
  clock.Sync(c);
  EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(1));
  ASSERT_TRUE(c.Has(MT::RREF_USER_DELETE, 0, 1));  // resent within the same instant
  EXPECT_TRUE(c.View(0).retries.empty());          // not parked in the retry map
  ContextView v = c.View(0);
  ASSERT_EQ(v.requests.size(), 1u);
  EXPECT_EQ(v.requests[0].deadline, std::optional<TimeUs>(120 * kSecond));
  for (int step = 0; step < 100; ++step) {
    clock.Sync(c);
    while (c.Has(MT::RREF_USER_DELETE)) c.Drop(MT::RREF_USER_DELETE);
    std::optional<TimeUs> next = c.NextDeadline();
    if (!next) break;
    c.AdvanceTo(*next);
  }
  EXPECT_EQ(clock.Ms(c, MT::RREF_USER_DELETE, 0), (std::vector<TimeUs>{0, 60000, 120000, 180000, 240000, 300000}));
  EXPECT_EQ(c.now(), 360 * kSecond);
  EXPECT_EQ(LogsWith(c, 0, "Send try "), Tries(6));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));  // the delete never arrived
}

// Only the RRef control messages go through sendWithRetries; remote(), rpc and fetch are sent once.
TEST(AgentTest, OnlyControlMessagesAreSentWithRetries) {
  WorkerConfig config;
  config.id = 0;
  Worker w(config);
  Output out;
  Expected<Handle> r = w.Remote(CallSpec{1, "make", {}, CallKind::kPython, "PyObject", std::nullopt}, 0, out);
  ASSERT_TRUE(r.ok());
  Expected<FutureId> f = w.RpcAsync(CallSpec{1, "f", {}, CallKind::kPython, "PyObject", std::nullopt}, 0, out);
  ASSERT_TRUE(f.ok());
  Expected<FutureId> fetch = w.ToHere(*r.value, std::nullopt, 0, out);
  ASSERT_TRUE(fetch.ok());
  ASSERT_EQ(out.messages.size(), 3u);
  EXPECT_EQ(out.messages[0].message.type, MT::PYTHON_REMOTE_CALL);
  EXPECT_EQ(out.messages[1].message.type, MT::PYTHON_CALL);
  EXPECT_EQ(out.messages[2].message.type, MT::PYTHON_RREF_FETCH_CALL);
  for (const OutgoingMessage& o : out.messages) EXPECT_FALSE(o.retried) << Describe(o.message);

  Message ret;
  ret.type = MT::REMOTE_RET;
  ret.id = out.messages[0].message.id;
  ret.from = 1;
  ret.to = 0;
  ret.rref_id = Id(0, 0);
  ret.fork_id = Id(0, 1);
  out.clear();
  w.Receive(ret, 0, out);
  w.Release(*r.value, 0, out);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(out.messages[0].message.type, MT::RREF_USER_DELETE);
  EXPECT_TRUE(out.messages[0].retried);
}

// ---------------------------------------------------------------------------------------------------------------
// TensorPipe's empty-payload retries (§9.1, P15) and the fork request's final error (P6).

// The owner applied the first (written) FORK_REQUEST but its RREF_ACK was lost. The attempt times out after 60 s;
// every retry carries an empty payload, which the owner cannot unpickle; after the 6th attempt
// RRefContext::handleException throws in the fork-request callback on a pool thread: finishForkRequest and
// --numPendingFutures_ are skipped, the child stays pending forever, the gated function never runs, and the
// TensorPipe pool task skips its decreaseCallCount(clientActiveCalls_).
TEST(AgentTest, P15LostForkRequestAckEmptyPayloadRetriesEndInP6) {
  Cluster c(3);
  ForkSetup s;
  StartUserToUserFork(c, s);
  Message first = c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);  // written at t = 0 and applied by the owner
  EXPECT_EQ(first.rref_id, Id(0, 0));
  EXPECT_EQ(first.fork_id, Id(0, 2));
  EXPECT_FALSE(first.empty_payload);
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));
  c.Drop(MT::RREF_ACK, 1, 2);
  EXPECT_TRUE(c.inflight().empty());

  const std::vector<TimeUs> retry_ms = {60000, 61000, 62500, 64750, 68125};
  for (size_t i = 0; i < retry_ms.size(); ++i) {
    c.AdvanceTo(retry_ms[i] * kMs - 1);
    EXPECT_FALSE(c.Has(MT::RREF_FORK_REQUEST)) << "retry " << i + 1 << " went early";
    c.AdvanceTo(retry_ms[i] * kMs);
    Message retry = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
    EXPECT_TRUE(retry.empty_payload) << "retry " << i + 1;
    EXPECT_FALSE(retry.rref_id.valid());
    EXPECT_FALSE(retry.fork_id.valid());
    c.Deliver(retry);
    Message reply = c.Take(MT::EXCEPTION, 1, 2);
    EXPECT_EQ(reply.error, "Error on Node 1: " + kEmptyPayload);
    EXPECT_EQ(reply.id, retry.id);
    if (i + 1 < retry_ms.size()) {
      EXPECT_TRUE(c.Errors(2).empty());
    }
    c.Deliver(reply);
    if (i + 1 < retry_ms.size()) {
      ContextView v = c.View(2);
      ASSERT_EQ(v.retries.size(), 1u);
      EXPECT_EQ(v.retries[0].next_time, retry_ms[i + 1] * kMs);
    }
  }
  EXPECT_EQ(LogsWith(c, 2, "Send try "), Tries(6));
  // The owner: one log line and one handler error per empty retry, and the fork it applied first is still there.
  EXPECT_EQ(LogsWith(c, 1, "Received error while processing request type"),
            std::vector<std::string>(5, "Received error while processing request type 268: " + kEmptyPayload));
  ASSERT_EQ(c.Errors(1).size(), 5u);
  for (const ProtocolError& e : c.Errors(1)) EXPECT_TRUE(SameError(e, "", kEmptyPayload, ErrorSite::kRequestHandler));
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));

  // The child's worker: A23 thrown in the pool callback, logged by c10::ThreadPool.
  ASSERT_EQ(c.Errors(2).size(), 1u);
  EXPECT_TRUE(SameError(c.Errors(2)[0], "A23", kMaxRetries, ErrorSite::kPoolCallback)) << c.Errors(2)[0].text;
  EXPECT_TRUE(c.Logged(2, "Exception in thread pool task: " + kMaxRetries));
  ContextView v = c.View(2);
  EXPECT_EQ(v.pending_users, std::vector<ForkId>{Id(0, 2)});
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 1));  // num_pending_futures never decremented
  EXPECT_EQ(v.gated_requests, 1);
  EXPECT_EQ(v.running_functions, 0);
  EXPECT_FALSE(s.ran);
  EXPECT_EQ(v.client_active_calls, 1);  // join() would wait forever
  EXPECT_TRUE(v.retries.empty());
  EXPECT_TRUE(v.requests.empty());
  EXPECT_FALSE(c.worker(2).aborted());  // a pool thread, not the retry thread
  // The parent stays pinned (G2) and the caller never gets its reply.
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));
  EXPECT_FALSE(c.Result(0, s.call).has_value());
  EXPECT_EQ(c.NextDeadline(), std::nullopt);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_EQ(SentOf(c, MT::RREF_CHILD_ACCEPT, 2).size(), 0u);
}

// RetryPayload::kResend: the retry carries the content, so a slow first attempt and its retry are both processed.
// Mirrors RRefContext::addForkOfOwnerIfNotPresent's duplicate branch.
TEST(AgentTest, ResendSlowFirstAttemptAndRetryAreBothProcessed) {
  WorkerConfig base;
  base.retry_payload = RetryPayload::kResend;
  Cluster c(3, base);
  ForkSetup s;
  StartUserToUserFork(c, s);
  Message slow = c.Take(MT::RREF_FORK_REQUEST, 2, 1);  // attempt 1 is slow on the wire
  c.AdvanceTo(60 * kSecond);                           // it times out; the retry goes at once
  EXPECT_EQ(LogsWith(c, 2, "Send try "), Tries(1));
  Message retry = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_FALSE(retry.empty_payload);
  EXPECT_EQ(retry.rref_id, Id(0, 0));
  EXPECT_EQ(retry.fork_id, Id(0, 2));
  EXPECT_NE(retry.id, slow.id);
  c.Deliver(retry);
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // finishForkRequest: confirmed, gated function ran, CHILD_ACCEPT sent
  EXPECT_TRUE(s.ran);
  EXPECT_TRUE(c.View(2).pending_users.empty());

  c.Deliver(slow);  // the first copy arrives late: the owner processes it a second time
  EXPECT_TRUE(c.Logged(1, "Ignoring duplicate request to add Fork of OwnerRRef with RRefId = "
                          "GloballyUniqueId(created_on=0, local_id=0), ForkId = GloballyUniqueId(created_on=0, "
                          "local_id=2)"));
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));
  Message late_ack = c.Take(MT::RREF_ACK, 1, 2);
  EXPECT_EQ(late_ack.id, slow.id);
  c.Deliver(late_ack);  // its future already failed with the timeout: ignored
  EXPECT_TRUE(c.Logged(2, "Ignoring response RREF_ACK#" + std::to_string(slow.id)));

  c.Release(0, s.a);
  SendClock clock;
  Settle(c, clock);
  ASSERT_TRUE(c.Result(0, s.call).has_value());
  EXPECT_TRUE(c.Result(0, s.call)->ok());
  for (WorkerId w = 0; w < 3; ++w) {
    EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
    EXPECT_EQ(c.View(w).client_active_calls, 0) << "worker " << w;
    EXPECT_TRUE(c.Errors(w).empty()) << "worker " << w;
  }
}

// P1 with a transport that resends content: the slow first FORK_REQUEST arrives after the child and the parent were
// deleted and the owner removed r; addForkOfOwnerIfNotPresent re-creates forks_[r] (no tombstone): an orphan.
TEST(AgentTest, ResendLateDuplicateForkRequestResurrectsDeletedFork) {
  WorkerConfig base;
  base.retry_payload = RetryPayload::kResend;
  Cluster c(3, base);
  ForkSetup s;
  StartUserToUserFork(c, s);
  Message slow = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  c.AdvanceTo(60 * kSecond);
  c.Release(0, s.a);
  SendClock clock;
  Settle(c, clock, 60 * kSecond);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  c.Deliver(slow);
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 2)}}}));
  EXPECT_TRUE(c.View(1).owners.empty());
  c.DeliverAll();
  Output out;
  Expected<bool> destroyed = c.worker(1).DestroyContext(/*ignore_leak=*/false, out);
  c.Absorb(1, out);
  ASSERT_FALSE(destroyed.ok());
  EXPECT_EQ(destroyed.error,
            "Leaking RRef GloballyUniqueId(created_on=0, local_id=0) with fork Id GloballyUniqueId(created_on=0, "
            "local_id=2)\n");
}

// P17 / §9.3: FaultyTensorPipeAgent refuses RREF_FORK_REQUEST 6 times. Attempt 1 fails inline in the caller and is
// rescheduled; retries 2..6 fail inline on the retry thread (callbacks on an already failed future run where they are
// attached, outside retryExpiredRpcs's try/catch); the 6th sets the final error, handleException throws on the
// retry thread, and the process calls std::terminate.
TEST(AgentTest, P17ForkRequestRefusedSixTimesAbortsOnRetryThread) {
  Cluster c(3);
  SendClock clock;
  c.FailSends(FaultyAgent({MT::RREF_FORK_REQUEST}, 6));
  ForkSetup s;
  StartUserToUserFork(c, s);
  clock.Sync(c);
  EXPECT_EQ(LogsWith(c, 2, "Send try "), Tries(1));
  ContextView v = c.View(2);
  ASSERT_EQ(v.retries.size(), 1u);
  EXPECT_EQ(v.retries[0].next_time, 1000 * kMs);
  EXPECT_EQ(v.pending_users, std::vector<ForkId>{Id(0, 2)});
  EXPECT_EQ(v.client_active_calls, 0);

  const std::vector<TimeUs> retry_ms = {1000, 2000, 3500, 5750, 9125};
  for (size_t i = 0; i < retry_ms.size(); ++i) {
    c.AdvanceTo(retry_ms[i] * kMs - 1);
    EXPECT_EQ(SentOf(c, MT::RREF_FORK_REQUEST, 2).size(), i + 1);
    c.AdvanceTo(retry_ms[i] * kMs);
    clock.Sync(c);
    EXPECT_EQ(SentOf(c, MT::RREF_FORK_REQUEST, 2).size(), i + 2);
    EXPECT_EQ(c.worker(2).aborted(), i + 1 == retry_ms.size()) << "after retry " << i + 1;
  }
  EXPECT_EQ(clock.Ms(c, MT::RREF_FORK_REQUEST, 2), (std::vector<TimeUs>{0, 1000, 2000, 3500, 5750, 9125}));
  EXPECT_EQ(LogsWith(c, 2, "Send try "), Tries(6));
  for (const Message& m : SentOf(c, MT::RREF_FORK_REQUEST, 2)) {
    EXPECT_FALSE(m.empty_payload);
    EXPECT_EQ(m.fork_id, Id(0, 2));
  }

  ASSERT_EQ(c.Errors(2).size(), 1u);
  EXPECT_TRUE(SameError(c.Errors(2)[0], "A23", kMaxRetries, ErrorSite::kRetryThread)) << c.Errors(2)[0].text;
  std::vector<WorkerAborted> aborts = EventsOf<WorkerAborted>(c, 2);
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_NE(aborts[0].text.find("terminate called after throwing"), std::string::npos) << aborts[0].text;
  EXPECT_NE(aborts[0].text.find(kMaxRetries), std::string::npos) << aborts[0].text;
  EXPECT_TRUE(c.worker(2).aborted());
  EXPECT_TRUE(c.View(2).aborted);
  EXPECT_FALSE(s.ran);
  for (WorkerId w : {0, 1}) EXPECT_FALSE(c.worker(w).aborted());

  // Every later input to the dead worker is ignored.
  size_t events_before = c.events().size();
  size_t sent_before = c.sent().size();
  Message ack;
  ack.type = MT::RREF_ACK;
  ack.id = SentOf(c, MT::RREF_FORK_REQUEST, 2).back().id;
  ack.from = 1;
  ack.to = 2;
  c.Deliver(ack);
  Message call;
  call.type = MT::PYTHON_CALL;
  call.id = 99;
  call.from = 0;
  call.to = 2;
  call.function = "gated";
  c.Deliver(call);
  c.AdvanceTo(3600 * kSecond);
  Expected<Handle> remote = c.TryRemote(2, CallSpec{1, "make", {}, CallKind::kPython, "PyObject", std::nullopt});
  EXPECT_FALSE(remote.ok());
  EXPECT_EQ(c.worker(2).NextDeadline(), std::nullopt);
  EXPECT_EQ(c.events().size(), events_before);
  EXPECT_EQ(c.sent().size(), sent_before);
  EXPECT_FALSE(s.ran);
  EXPECT_EQ(c.View(2).pending_users, std::vector<ForkId>{Id(0, 2)});
}

}  // namespace
}  // namespace rrefsim::core::testing
