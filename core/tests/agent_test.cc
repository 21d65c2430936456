// The RPC agent under the RRef protocol (rref-protocol.md §2, §5 S11, §9.1-9.3; rref-cases.md P1, P5, P6, P9,
// P15-P17): RpcAgent::sendWithRetries and its retry schedule at exact virtual times, client-side timeouts, the
// TensorPipe empty-payload retries, RRef::handleError, and what a throwing completion callback does.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
constexpr TimeUs kMs = kMillisecond;

const std::string kMaxRetries = "The RPC has not succeeded after the specified number of max retries (5).";
const std::string kRemoteTimedOut =
    "RRef creation via rpc.remote() timed out, and it is possible that the RRef on the owner node does not exist.";
const std::string kEmptyPayload = "Unexpected end of pickler archive.";  // unpickler.cpp's AT_ERROR, with its period

// TensorPipeAgent's timeout error, written out here independently of the core.
std::string TimeoutText(TimeUs timeout) {
  return "RPCErr:1:RPC ran for more than set timeout (" + std::to_string(timeout / kMs) +
         " ms) and will now be marked with an error";
}

// "Send try 1 failed" ... "Send try n failed" (rpcRetryCallback's LOG(INFO)).
std::vector<std::string> Tries(int n) {
  std::vector<std::string> lines;
  for (int i = 1; i <= n; ++i) lines.push_back("Send try " + std::to_string(i) + " failed");
  return lines;
}

std::vector<std::string> LogsWith(const Cluster& c, WorkerId id, const std::string& text) {
  std::vector<std::string> lines;
  for (const std::string& line : c.Logs(id)) {
    if (line.find(text) != std::string::npos) lines.push_back(line);
  }
  return lines;
}

std::optional<UserRRefView> UserOf(const ContextView& v, Handle h) {
  for (const UserRRefView& u : v.users) {
    if (u.handle == h) return u;
  }
  return std::nullopt;
}

bool SameError(const ProtocolError& e, const std::string& code, const std::string& text, ErrorSite site) {
  return e.code == code && e.text == text && e.site == site;
}

// The virtual time at which every message in Cluster::sent() was emitted (call Sync after each step).
class SendClock {
 public:
  void Sync(const Cluster& c) {
    while (at_.size() < c.sent().size()) at_.push_back(c.now());
  }
  // Send times, in milliseconds, of the messages of `type` sent by `from`.
  std::vector<TimeUs> Ms(const Cluster& c, MT type, WorkerId from) {
    Sync(c);
    std::vector<TimeUs> times;
    for (size_t i = 0; i < c.sent().size(); ++i) {
      if (c.sent()[i].type == type && c.sent()[i].from == from) times.push_back(at_[i] / kMs);
    }
    return times;
  }

 private:
  std::vector<TimeUs> at_;
};

std::vector<Message> SentOf(const Cluster& c, MT type, WorkerId from) {
  std::vector<Message> out;
  for (const Message& m : c.sent()) {
    if (m.type == type && m.from == from) out.push_back(m);
  }
  return out;
}

// Delivers every in-flight message at once (oldest first) and fires timers in order, until nothing is left or the
// next deadline lies after `limit`.
void Settle(Cluster& c, SendClock& clock, TimeUs limit = 3600 * kSecond) {
  for (int step = 0; step < 100000; ++step) {
    clock.Sync(c);
    if (!c.inflight().empty()) {
      c.DeliverAll(1);
      continue;
    }
    std::optional<TimeUs> next = c.NextDeadline();
    if (!next || *next > limit) return;
    c.AdvanceTo(std::max(*next, c.now()));
  }
  ADD_FAILURE() << "the cluster did not settle";
}

// FaultyTensorPipeAgent::send: the first `num_fail_sends` sends of each distinct payload of a listed type fail
// synchronously at the sender with INTENTIONAL_FAILURE (a payload is identified by sender, type, rref and fork).
std::function<std::optional<std::string>(const Message&)> FaultyAgent(std::set<MT> types, int num_fail_sends) {
  auto counts = std::make_shared<std::map<std::tuple<WorkerId, MT, RRefId, ForkId>, int>>();
  return [types = std::move(types), num_fail_sends, counts](const Message& m) -> std::optional<std::string> {
    if (!types.contains(m.type)) return std::nullopt;
    int& sent = (*counts)[{m.from, m.type, m.rref_id, m.fork_id}];
    if (sent >= num_fail_sends) return std::nullopt;
    ++sent;
    return "RPCErr:2:Send attempt failed intentionally for " + std::string(MessageTypeName(m.type)) + "(" +
           ToString(m.rref_id) + ", " + ToString(m.fork_id) + ")";
  };
}

FunctionResult Make5(Cluster&, WorkerId, RunFunction&) { return Returns(5); }

// rpc.remote(worker 0 -> worker 1, "make"), delivered and confirmed: r = (0,0), creator fork a = (0,1).
Handle ConfirmedRemote(Cluster& c) {
  Handle a = c.Remote(0, 1, "make");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  return a;
}

// S3 under faults: worker 0 passes its confirmed UserRRef a of r (owned by 1) to worker 2 in an rpc without timeout.
// Worker 2's child c = (0,2) sends RREF_FORK_REQUEST to the owner and gates "gated" on its confirmation.
struct ForkSetup {
  Handle a;
  FutureId call = 0;
  bool ran = false;
};
void StartUserToUserFork(Cluster& c, ForkSetup& s) {
  c.Define("make", Make5);
  c.Define("gated", [&s](Cluster&, WorkerId, RunFunction&) {
    s.ran = true;
    return Returns(0);
  });
  s.a = ConfirmedRemote(c);
  s.call = c.Rpc(0, 2, "gated", Val(0, {s.a}), TimeUs{0});
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
}

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
