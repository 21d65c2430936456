// The virtual network's faults, asserted through what the protocol shows: the StepObserver trace ("send",
// "deliver", "drop", "send_failed", "event" with core::Describe texts) and the RunResult. No internal counters.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "rrefsim/sim/world.h"
#include "sim_test_util.h"

namespace rrefsim::sim {
namespace {

using namespace rrefsim::sim::testing;

using core::kMillisecond;
using core::kSecond;

// ------------------------------------------------------------------------------------------------ helpers

// S1 (test_rref_to_here): 0 creates on 1, fetches, lets go.
Scenario RemoteToHere() {
  Scenario s("s1_remote_to_here", 4);
  s.Function("make").Return(Int(42));
  s.On(0).Remote("a", To(1), "make").ToHere("v", "a").Expect("v", 42).Del("a");
  return s;
}

std::vector<std::string> Tokens(const std::string& text) {
  std::vector<std::string> tokens;
  std::istringstream in(text);
  for (std::string token; in >> token;) tokens.push_back(token);
  return tokens;
}

bool StartsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// One message on the wire: "TYPE#ID FROM->TO" (Describe's first two words). A response shares its request's id but
// not its type, so the pair is unique per message in a run without duplicates.
std::string Ident(const std::string& detail) {
  std::vector<std::string> t = Tokens(detail);
  return t.size() >= 2 ? t[0] + " " + t[1] : detail;
}

std::string TypeOf(const std::string& detail) { return detail.substr(0, detail.find('#')); }

// "FROM->TO" of a described message.
std::string LinkOf(const std::string& detail) {
  std::vector<std::string> t = Tokens(detail);
  return t.size() >= 2 ? t[1] : "";
}

// One control message and all its attempts (sendWithRetries gives each attempt a new id): type, link, rref, fork.
std::string Chain(const std::string& detail) {
  std::vector<std::string> t = Tokens(detail);
  std::string chain = TypeOf(detail) + " " + (t.size() >= 2 ? t[1] : "");
  for (std::size_t i = 2; i < t.size(); ++i) {
    std::string token = t[i];
    if (!token.empty() && token.back() == ':') token.pop_back();  // "fork=(0,2): RPCErr:2:..." (send_failed)
    if (StartsWith(token, "rref=") || StartsWith(token, "fork=")) chain += " " + token;
  }
  return chain;
}

bool IsControl(const std::string& type) {
  return type == "RREF_FORK_REQUEST" || type == "RREF_CHILD_ACCEPT" || type == "RREF_USER_DELETE";
}

// A delivery and what processing it produced: the records of the same worker that follow it in the same step
// (sends, drops, refused sends, core events), up to the next record of another kind or worker.
struct Delivery {
  StepEvent deliver;
  std::vector<StepEvent> effects;
  bool Has(const std::string& kind, const std::string& part) const {
    for (const StepEvent& e : effects) {
      if (e.kind == kind && Contains(e.detail, part)) return true;
    }
    return false;
  }
};

std::vector<Delivery> Deliveries(const Traced& t) {
  std::vector<Delivery> out;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    if (t.events[i].kind != "deliver") continue;
    Delivery d{t.events[i], {}};
    for (std::size_t j = i + 1; j < t.events.size(); ++j) {
      const StepEvent& e = t.events[j];
      if (e.worker != d.deliver.worker || e.step != d.deliver.step ||
          (e.kind != "send" && e.kind != "drop" && e.kind != "send_failed" && e.kind != "event")) {
        break;
      }
      d.effects.push_back(e);
    }
    out.push_back(std::move(d));
  }
  return out;
}

int Count(const Traced& t, int worker, const std::string& kind, const std::string& part) {
  int n = 0;
  for (const StepEvent& e : t.events) {
    if ((worker < 0 || e.worker == worker) && e.kind == kind && Contains(e.detail, part)) ++n;
  }
  return n;
}

void ExpectObservationsOk(const RunResult& r) {
  for (const Observation& o : r.observations) EXPECT_TRUE(o.expected_ok) << o.where << ": " << o.what;
}

// ------------------------------------------------------------------------------------------------ reordering

// No FIFO between any pair (rref-protocol.md §2): two messages one worker sends to one receiver can be processed
// there in the opposite order. Searched over seeds 0..200, deterministically.
TEST(FaultsTest, ReorderDeliversTwoMessagesOfOneLinkInTheOppositeOrder) {
  const Scenario s = UserToUser();
  const RunConfig config = Config("reorder");
  struct Found {
    std::uint64_t seed;
    std::string first_sent;
    std::string second_sent;
  };
  std::optional<Found> found;
  std::map<std::vector<std::string>, std::uint64_t> seed_of_order;  // delivery order -> first seed showing it
  for (std::uint64_t seed = 0; seed <= 200; ++seed) {
    Traced t = RunTraced(s, config, seed);
    ASSERT_EQ(t.result.outcome, Outcome::kOk) << "seed " << seed << ": " << t.result.detail;
    std::vector<std::string> sent;
    std::vector<std::string> delivered;
    std::map<std::string, std::size_t> delivery_index;
    for (const StepEvent& e : t.events) {
      if (e.kind == "send") sent.push_back(Ident(e.detail));
      if (e.kind == "deliver") {
        delivery_index.emplace(Ident(e.detail), delivered.size());
        delivered.push_back(Ident(e.detail));
      }
    }
    ASSERT_EQ(sent.size(), delivered.size()) << "seed " << seed << ": reorder loses nothing\n" << Dump(t);
    seed_of_order.emplace(delivered, seed);
    for (std::size_t i = 0; i < sent.size() && !found; ++i) {
      for (std::size_t j = i + 1; j < sent.size() && !found; ++j) {
        if (LinkOf(sent[i]) != LinkOf(sent[j])) continue;
        if (delivery_index.at(sent[i]) > delivery_index.at(sent[j])) found = Found{seed, sent[i], sent[j]};
      }
    }
  }
  ASSERT_TRUE(found.has_value()) << "no seed in 0..200 reordered two messages of one link";

  // Re-run the seed and read the pair off its trace: sent A then B from one worker, processed B then A.
  Traced t = RunTraced(s, config, found->seed);
  std::optional<std::size_t> sent_a, sent_b, deliver_a, deliver_b;
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const StepEvent& e = t.events[i];
    const std::string id = Ident(e.detail);
    if (e.kind == "send" && id == found->first_sent) sent_a = i;
    if (e.kind == "send" && id == found->second_sent) sent_b = i;
    if (e.kind == "deliver" && id == found->first_sent) deliver_a = i;
    if (e.kind == "deliver" && id == found->second_sent) deliver_b = i;
  }
  ASSERT_TRUE(sent_a && sent_b && deliver_a && deliver_b) << Dump(t);
  const std::string pair = "seed " + std::to_string(found->seed) + ": sent " + found->first_sent + " then " +
                           found->second_sent + ", processed in the opposite order";
  RecordProperty("reordered_pair", pair);
  SCOPED_TRACE(pair);
  EXPECT_LT(*sent_a, *sent_b);
  EXPECT_LT(*deliver_b, *deliver_a);
  EXPECT_EQ(t.events[*sent_a].worker, t.events[*sent_b].worker);
  EXPECT_EQ(t.events[*deliver_a].worker, t.events[*deliver_b].worker);
  EXPECT_LE(t.events[*sent_a].time, t.events[*sent_b].time);
  EXPECT_LE(t.events[*deliver_b].time, t.events[*deliver_a].time);
  EXPECT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail;
  ExpectObservationsOk(t.result);
  ExpectCleanFinalViews(t.result);

  // The delivery order depends on the seed: seed 0 and some other seed process S3's messages in different orders,
  // and the 201 seeds give many distinct orders.
  std::vector<std::string> order_of_seed_0;
  std::optional<std::uint64_t> other_seed;
  for (const auto& [order, seed] : seed_of_order) {
    if (seed == 0) order_of_seed_0 = order;
  }
  for (const auto& [order, seed] : seed_of_order) {
    if (order != order_of_seed_0 && (!other_seed || seed < *other_seed)) other_seed = seed;
  }
  ASSERT_FALSE(order_of_seed_0.empty());
  ASSERT_TRUE(other_seed.has_value()) << "every seed delivered in seed 0's order";
  RecordProperty("seed_delivering_in_another_order_than_seed_0", std::to_string(*other_seed));
  EXPECT_GT(seed_of_order.size(), 20u) << "distinct delivery orders over 201 seeds";
}

// ------------------------------------------------------------------------------------------------ faulty agent

// FaultyTensorPipeAgent: the first 3 sends of every control message fail at the sender; sendWithRetries resends at
// +1000, +2000 and +3500 ms of the first attempt (gaps 1000, 1000, 1500: rpcRetryDuration * 1.5^(n-1), the first
// computed before the first send), and the 4th attempt goes through.
TEST(FaultsTest, FaultyAgentResendsEachControlMessageAtPyTorchsRetryGaps) {
  const Scenario s = UserToUser();
  const RunConfig config = Config("faulty-agent");
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Traced t = RunTraced(s, config, seed);
    ASSERT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail << "\n" << Dump(t);

    struct Attempt {
      TimeUs time;
      std::string kind;
      std::string detail;
    };
    std::map<std::string, std::vector<Attempt>> attempts;  // chain -> its attempts, in order
    std::set<std::string> types;
    for (const StepEvent& e : t.events) {
      if ((e.kind == "send" || e.kind == "send_failed") && IsControl(TypeOf(e.detail))) {
        attempts[Chain(e.detail)].push_back({e.time, e.kind, e.detail});
        types.insert(TypeOf(e.detail));
      }
    }
    // S3 sends a FORK_REQUEST (2->1), a CHILD_ACCEPT (2->0) and two USER_DELETEs (2->1, 0->1).
    EXPECT_EQ(types, (std::set<std::string>{"RREF_FORK_REQUEST", "RREF_CHILD_ACCEPT", "RREF_USER_DELETE"}));
    EXPECT_EQ(attempts.size(), 4u) << Dump(t);

    std::set<std::string> delivered;
    for (const StepEvent& e : t.events) {
      if (e.kind == "deliver") delivered.insert(Ident(e.detail));
    }
    for (const auto& [chain, list] : attempts) {
      SCOPED_TRACE(chain);
      ASSERT_EQ(list.size(), 4u) << Dump(t);
      const TimeUs first = list[0].time;
      const TimeUs offsets[] = {0, 1000 * kMillisecond, 2000 * kMillisecond, 3500 * kMillisecond};
      for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(list[i].time - first, offsets[i]) << "attempt " << i << ": " << list[i].detail;
        EXPECT_EQ(list[i].kind, i < 3 ? "send_failed" : "send") << "attempt " << i << ": " << list[i].detail;
      }
      for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_TRUE(Contains(list[i].detail, "RPCErr:2:Send attempt failed intentionally for " + TypeOf(list[i].detail)))
            << list[i].detail;
      }
      EXPECT_TRUE(delivered.contains(Ident(list[3].detail))) << "the 4th attempt reaches its receiver";
    }
    // The sender logs each failure, as rpcRetryCallback does.
    EXPECT_EQ(Count(t, -1, "event", "log: Send try 3 failed"), 4);
    EXPECT_EQ(Count(t, -1, "event", "log: Send try 4 failed"), 0);
    ExpectObservationsOk(t.result);
    ExpectCleanFinalViews(t.result);
  }
}

// ------------------------------------------------------------------------------------------------ lossy

// Every control message (and ACK) loses its first attempt, then nothing more (max_consecutive_drops=1).
RunConfig DropFirstAttempt() {
  return Config("lossy", {"drop=1", "max_consecutive_drops=1", "heal_min_ms=100000", "heal_max_ms=100000"});
}

// The first attempt of S1's USER_DELETE is lost on the wire. Its future fails only at the 60 s RPC timeout; the
// retry time (first attempt + 1 s) was computed before that send and is long past, so the resend goes out at once.
// With kResend the retry carries the content and the owner is freed.
TEST(FaultsTest, DroppedControlMessageTimesOutAndIsResentAtOnce) {
  RunConfig config = DropFirstAttempt();
  config.retry_payload = core::RetryPayload::kResend;
  Traced t = RunTraced(RemoteToHere(), config, 1);
  ASSERT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail << "\n" << Dump(t);

  std::vector<StepEvent> attempts;  // the USER_DELETE's sends and losses, in order
  for (const StepEvent& e : t.events) {
    if ((e.kind == "send" || e.kind == "drop") && TypeOf(e.detail) == "RREF_USER_DELETE") attempts.push_back(e);
  }
  ASSERT_EQ(attempts.size(), 2u) << Dump(t);
  EXPECT_EQ(attempts[0].kind, "drop");
  EXPECT_EQ(attempts[0].worker, 0);
  EXPECT_EQ(attempts[1].kind, "send");
  EXPECT_EQ(attempts[1].time, attempts[0].time + 60 * kSecond) << "resent the moment the lost attempt timed out";
  EXPECT_EQ(Chain(attempts[1].detail), Chain(attempts[0].detail)) << "the retry carries the content";
  EXPECT_FALSE(Contains(attempts[1].detail, "empty payload"));
  EXPECT_TRUE(Contains(attempts[1].detail, "rref=") && Contains(attempts[1].detail, "fork="));
  // The timeout is the failure that schedules the retry: "Send try 1 failed" at the same virtual time.
  bool logged = false;
  for (const StepEvent& e : t.events) {
    logged = logged || (e.worker == 0 && e.detail == "log: Send try 1 failed" && e.time == attempts[1].time);
  }
  EXPECT_TRUE(logged) << Dump(t);

  // The owner handles the resent content: the OwnerRRef is freed, and the ACK (its chain's loss used) arrives.
  bool freed = false;
  for (const Delivery& d : Deliveries(t)) {
    if (Ident(d.deliver.detail) != Ident(attempts[1].detail)) continue;
    EXPECT_EQ(d.deliver.worker, 1);
    EXPECT_GT(d.deliver.time, attempts[1].time);
    freed = d.Has("event", "OwnerRRef freed");
    EXPECT_TRUE(d.Has("send", "RREF_ACK"));
  }
  EXPECT_TRUE(freed) << Dump(t);
  EXPECT_EQ(Count(t, 0, "deliver", "RREF_ACK"), 1);
  ExpectObservationsOk(t.result);
  ExpectCleanFinalViews(t.result);
}

// The same loss with TensorPipe's retry semantics (the faithful default, rref-protocol.md §9.1, P15): the first
// attempt was written, so the payload was moved out of the shared message; the resend at the timeout is empty and
// the receiver rejects it with "Unexpected end of pickler archive." as an EXCEPTION. The content never reaches it.
TEST(FaultsTest, DroppedControlMessageIsResentEmptyWithTensorPipeRetries) {
  const RunConfig config = DropFirstAttempt();
  ASSERT_EQ(config.retry_payload, core::RetryPayload::kTensorPipe);
  Traced t = RunTraced(RemoteToHere(), config, 1);

  std::vector<StepEvent> attempts;
  for (const StepEvent& e : t.events) {
    if ((e.kind == "send" || e.kind == "drop") && TypeOf(e.detail) == "RREF_USER_DELETE") attempts.push_back(e);
  }
  ASSERT_GE(attempts.size(), 2u) << Dump(t);
  EXPECT_EQ(attempts[0].kind, "drop");
  EXPECT_FALSE(Contains(attempts[0].detail, "empty payload"));
  EXPECT_EQ(attempts[1].time, attempts[0].time + 60 * kSecond) << "resent the moment the lost attempt timed out";
  for (std::size_t i = 1; i < attempts.size(); ++i) {
    EXPECT_TRUE(Contains(attempts[i].detail, "(empty payload)")) << attempts[i].detail;
    EXPECT_FALSE(Contains(attempts[i].detail, "rref=")) << attempts[i].detail;
  }

  int rejected = 0;
  for (const Delivery& d : Deliveries(t)) {
    if (TypeOf(d.deliver.detail) != "RREF_USER_DELETE") continue;
    EXPECT_TRUE(Contains(d.deliver.detail, "(empty payload)")) << "the content never reaches the owner";
    EXPECT_EQ(d.deliver.worker, 1);
    EXPECT_TRUE(d.Has("event", "protocol error : Unexpected end of pickler archive.")) << Dump(t);
    EXPECT_TRUE(d.Has("send", "EXCEPTION#")) << Dump(t);
    EXPECT_TRUE(d.Has("send", "error=\"Error on Node 1: Unexpected end of pickler archive.\"")) << Dump(t);
    EXPECT_TRUE(d.Has("event", "log: Received error while processing request type 267: Unexpected end of "
                               "pickler archive."));
    EXPECT_FALSE(d.Has("event", "OwnerRRef freed"));
    ++rejected;
  }
  EXPECT_GE(rejected, 1) << Dump(t);
  // The sender counts the EXCEPTION as one more failed attempt.
  bool counted = false;
  for (const Delivery& d : Deliveries(t)) {
    counted = counted || (d.deliver.worker == 0 && StartsWith(d.deliver.detail, "EXCEPTION#") &&
                          Contains(d.deliver.detail, "pickler archive") && d.Has("event", "log: Send try"));
  }
  EXPECT_TRUE(counted) << Dump(t);
  // The run still ends: the owner's graceful shutdown gives up waiting and reports the leak.
  EXPECT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail;
  EXPECT_EQ(Count(t, 1, "event", "Timed out waiting for pending OwnerRRefs to be deleted."), 1);
  EXPECT_EQ(Count(t, 1, "event", "Leaking RRef"), 1);
}

// ------------------------------------------------------------------------------------------------ late response

// Timeouts are client-side only (§2): an rpc with a 10 ms timeout over a network that takes 50 ms each way fails at
// 10 ms with RPCErr:1; the callee still runs the function, and its reply, 90 ms later, is ignored: the future
// completes once.
TEST(FaultsTest, LateResponseAfterATimeoutIsIgnored) {
  Scenario s("late_reply", 2);
  s.Function("make").Return(Int(42));
  s.On(0).RpcSync("r", To(1), "make").Timeout(10 * kMillisecond);
  Traced t = RunTraced(s, Config("reorder", {"delay_min_ms=50", "delay_max_ms=50"}), 3);
  ASSERT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail << "\n" << Dump(t);

  const std::string timeout_text =
      "RPCErr:1:RPC ran for more than set timeout (10 ms) and will now be marked with an error";
  ASSERT_EQ(t.result.observations.size(), 1u) << Dump(t);
  EXPECT_EQ(t.result.observations[0].worker, 0);
  EXPECT_EQ(t.result.observations[0].what, "error " + timeout_text);

  // Exactly one completion of the caller's future: the timeout, at 10 ms.
  std::vector<StepEvent> completions;
  for (const StepEvent& e : t.events) {
    if (e.worker == 0 && e.kind == "event" && StartsWith(e.detail, "future ")) completions.push_back(e);
  }
  ASSERT_EQ(completions.size(), 1u) << Dump(t);
  EXPECT_TRUE(Contains(completions[0].detail, "failed: " + timeout_text)) << completions[0].detail;
  EXPECT_EQ(completions[0].time, 10 * kMillisecond);

  // The callee ran the function at 50 ms and replied; the reply arrived at 100 ms and was dropped by the agent.
  std::vector<Delivery> deliveries = Deliveries(t);
  bool ran = false;
  bool ignored = false;
  for (const Delivery& d : deliveries) {
    if (d.deliver.worker == 1 && StartsWith(d.deliver.detail, "PYTHON_CALL#")) {
      EXPECT_EQ(d.deliver.time, 50 * kMillisecond);
      ran = d.Has("event", "run make");
    }
    if (d.deliver.worker == 0 && StartsWith(d.deliver.detail, "PYTHON_RET#")) {
      EXPECT_EQ(d.deliver.time, 100 * kMillisecond);
      EXPECT_GT(d.deliver.time, completions[0].time);
      ignored = d.Has("event", "log: Ignoring response PYTHON_RET#");
      EXPECT_FALSE(d.Has("event", "future ")) << "no second completion";
    }
  }
  EXPECT_TRUE(ran) << Dump(t);
  EXPECT_TRUE(ignored) << Dump(t);
  ExpectCleanFinalViews(t.result);
}

// ------------------------------------------------------------------------------------------------ duplicates

RunConfig DuplicateEverything() {
  return Config("chaos", {"drop=0", "long_delay=0", "partition=0", "duplicate=1", "heal_min_ms=100000",
                          "heal_max_ms=100000"});
}

// §6.1 on S1, every message delivered twice (seed fixed): the second REMOTE_CALL runs the function again and
// fails A1 ("Got fork notification twice"), answered with an EXCEPTION that the caller ignores because the
// REMOTE_RET already completed that request; the second USER_DELETE is idempotent (a log line only), so the owner is
// freed once; every duplicate response is ignored. The run ends clean.
TEST(FaultsTest, DuplicatesOnS1AreHandledAsSection61Says) {
  Traced t = RunTraced(RemoteToHere(), DuplicateEverything(), 1);
  ASSERT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail << "\n" << Dump(t);

  std::vector<Delivery> remote_calls, user_deletes;
  for (const Delivery& d : Deliveries(t)) {
    if (StartsWith(d.deliver.detail, "PYTHON_REMOTE_CALL#")) remote_calls.push_back(d);
    if (StartsWith(d.deliver.detail, "RREF_USER_DELETE#")) user_deletes.push_back(d);
  }
  // REMOTE_CALL: the same message (same id) processed twice on the owner; the second is A1 -> EXCEPTION.
  ASSERT_EQ(remote_calls.size(), 2u) << Dump(t);
  EXPECT_EQ(Ident(remote_calls[0].deliver.detail), Ident(remote_calls[1].deliver.detail));
  EXPECT_TRUE(remote_calls[0].Has("event", "run make"));
  EXPECT_FALSE(remote_calls[0].Has("event", "protocol error"));
  EXPECT_EQ(Count(t, 1, "send", "REMOTE_RET#"), 2) << "one REMOTE_RET, duplicated by the network";
  EXPECT_TRUE(remote_calls[1].Has("event", "run make")) << "the user function runs twice";
  EXPECT_EQ(Count(t, 1, "event", "protocol error A1: Got fork notification twice on the same RRef"), 1) << Dump(t);
  EXPECT_EQ(Count(t, 1, "send", "error=\"Error on Node 1: Got fork notification twice on the same RRef"), 2)
      << "one EXCEPTION reply, duplicated by the network\n"
      << Dump(t);
  EXPECT_EQ(Count(t, 0, "event", "log: Ignoring response EXCEPTION#"), 2) << Dump(t);
  EXPECT_EQ(Count(t, 0, "event", "protocol error"), 0) << Dump(t);

  // USER_DELETE: the first frees the owner, the second only logs (no tombstone, no error) and is acked.
  ASSERT_EQ(user_deletes.size(), 2u) << Dump(t);
  EXPECT_EQ(Ident(user_deletes[0].deliver.detail), Ident(user_deletes[1].deliver.detail));
  EXPECT_TRUE(user_deletes[0].Has("event", "OwnerRRef freed"));
  EXPECT_TRUE(user_deletes[1].Has("event", "log: Could not find OwnerRRef with RRefId"));
  EXPECT_TRUE(user_deletes[1].Has("send", "RREF_ACK#"));
  EXPECT_FALSE(user_deletes[1].Has("event", "protocol error"));
  EXPECT_EQ(Count(t, 1, "event", "OwnerRRef freed"), 1);

  // The application sees one value: the to_here future completes once.
  EXPECT_EQ(Count(t, 0, "event", "future 1 "), 1) << Dump(t);
  ExpectObservationsOk(t.result);
  ExpectCleanFinalViews(t.result);
}

// §6.1 on S3, every message delivered twice (seed fixed). The control messages follow §6.1's table, checked against
// a model of the two maps they touch, replayed from the trace in delivery order: on the owner (worker 1), fork
// (0,2) of forks_ (FORK_REQUEST adds it, "Ignoring duplicate request to add Fork" when present, and re-creates it
// silently when it was deleted; USER_DELETE removes it, "Could not find ..." when absent); on the parent (worker 0),
// the pending child (0,2) (the first CHILD_ACCEPT removes it, every later one logs "Ignoring duplicate request to
// delete child"). Every delivery of them is acked and raises no protocol error. This seed also shows the row that
// is not idempotent: a duplicate FORK_REQUEST arriving after the USER_DELETE re-creates the deleted fork.
TEST(FaultsTest, DuplicateControlMessagesOnS3FollowSection61) {
  Traced t = RunTraced(UserToUser(), DuplicateEverything(), 3);
  ASSERT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail << "\n" << Dump(t);

  bool fork_live = false;      // forks_[(0,0)] holds (0,2) on worker 1
  bool child_pending = true;   // pendingChildren_ holds (0,2) on worker 0 (added when 0 sent the PYTHON_CALL)
  int logged_fork_duplicates = 0;
  int recreated_forks = 0;
  bool fork_deleted = false;  // a USER_DELETE removed (0,2) at least once
  std::map<std::string, int> deliveries_of;  // message -> deliveries, to find network duplicates
  std::set<std::string> duplicated_types;
  for (const Delivery& d : Deliveries(t)) {
    const std::string type = TypeOf(d.deliver.detail);
    if (!IsControl(type)) continue;
    SCOPED_TRACE(d.deliver.detail);
    if (++deliveries_of[Ident(d.deliver.detail)] == 2) duplicated_types.insert(type);
    EXPECT_TRUE(d.Has("send", "RREF_ACK#"));
    EXPECT_FALSE(d.Has("event", "protocol error"));
    if (!Contains(d.deliver.detail, "fork=(0,2)")) continue;  // the creator's USER_DELETE of (0,1)
    if (type == "RREF_FORK_REQUEST") {
      EXPECT_EQ(d.Has("event", "log: Ignoring duplicate request to add Fork of OwnerRRef"), fork_live);
      if (fork_live) ++logged_fork_duplicates;
      if (!fork_live && fork_deleted) ++recreated_forks;
      fork_live = true;
    } else if (type == "RREF_USER_DELETE") {
      EXPECT_EQ(d.Has("event", "log: Could not find"), !fork_live);
      fork_deleted = fork_deleted || fork_live;
      fork_live = false;
    } else {
      EXPECT_EQ(d.Has("event", "log: Ignoring duplicate request to delete child UserRRef"), !child_pending);
      child_pending = false;
    }
  }
  EXPECT_EQ(duplicated_types,
            (std::set<std::string>{"RREF_FORK_REQUEST", "RREF_CHILD_ACCEPT", "RREF_USER_DELETE"}));
  EXPECT_GE(logged_fork_duplicates, 1) << Dump(t);
  EXPECT_GE(recreated_forks, 1) << "a late duplicate FORK_REQUEST re-created the deleted fork\n" << Dump(t);
  EXPECT_FALSE(fork_live) << "the last word on (0,2) at the owner is a USER_DELETE";
  // The duplicate REMOTE_CALL is A1 -> EXCEPTION here too.
  EXPECT_EQ(Count(t, 1, "event", "protocol error A1: Got fork notification twice"), 1) << Dump(t);
  EXPECT_EQ(Count(t, 1, "event", "OwnerRRef freed"), 1);
  ExpectCleanFinalViews(t.result);
}

// §6.1 and §9.3: when the duplicate REMOTE_CALL's A1 EXCEPTION overtakes the REMOTE_RET (seed fixed), the creator's
// remote() fails (A23) inside a pool callback; the throw skips the agent's decrement of its active calls, so the
// graceful shutdown's join never finishes. PyTorch hangs there; the simulator reports a deadlock at join.
TEST(FaultsTest, DuplicateRemoteCallWhoseExceptionWinsLeavesShutdownAtJoin) {
  Traced t = RunTraced(RemoteToHere(), DuplicateEverything(), 2);
  ASSERT_EQ(t.result.outcome, Outcome::kDeadlock) << t.result.detail << "\n" << Dump(t);
  EXPECT_TRUE(Contains(t.result.detail, "program 0, program 1, program 2, program 3 wait for join"))
      << t.result.detail;
  EXPECT_TRUE(Contains(t.result.detail, "active client calls that never completed: worker 0: 1")) << t.result.detail;
  bool overtaken = false;
  for (const Delivery& d : Deliveries(t)) {
    if (d.deliver.worker == 0 && StartsWith(d.deliver.detail, "EXCEPTION#") &&
        d.Has("event", "protocol error A23: Error on Node 1: Got fork notification twice")) {
      overtaken = d.Has("event", "log: Exception in thread pool task:");
      for (const StepEvent& e : t.events) {
        if (e.worker == 0 && e.kind == "deliver" && StartsWith(e.detail, "REMOTE_RET#")) {
          EXPECT_GT(e.time, d.deliver.time) << "the REMOTE_RET came second";
        }
      }
    }
  }
  EXPECT_TRUE(overtaken) << Dump(t);
}

// ------------------------------------------------------------------------------------------------ partition

// chaos with only partitions (partition=1): the first message cuts its link; during the fault phase every message
// is lost (the cut link, or a new cut). Program 0's two rpcs with 1 s timeouts are lost and time out; after the heal
// time (3 s) the S3 exchange over the same links completes and the run ends clean.
TEST(FaultsTest, PartitionLosesMessagesUntilItHealsAndTheRunCompletes) {
  Scenario s("partition_heals", 4);
  s.Function("make").Return(Int(42));
  s.Function("fetch").ToHere("v", "args").Expect("v", 42).Return(Int(0));
  s.On(0)
      .RpcSync("", To(1), "make").Timeout(1 * kSecond)
      .RpcSync("", To(1), "make").Timeout(1 * kSecond)
      .Sleep(2 * kSecond)
      .Remote("a", To(1), "make")
      .RpcSync("", To(2), "fetch", {"a"})
      .ToHere("v", "a")
      .Expect("v", 42)
      .Del("a");
  const RunConfig config = Config("chaos", {"drop=0", "duplicate=0", "long_delay=0", "partition=1",
                                            "partition_max_ms=60000", "heal_min_ms=3000", "heal_max_ms=3000"});
  Traced t = RunTraced(s, config, 1);
  ASSERT_EQ(t.result.outcome, Outcome::kOk) << t.result.detail << "\n" << Dump(t);
  ASSERT_EQ(t.result.heal_time, 3 * kSecond);

  std::vector<StepEvent> drops;
  for (const StepEvent& e : t.events) {
    if (e.kind == "drop") drops.push_back(e);
  }
  // The first message is lost at t=0, its link cut; the next message on that link, at 1 s, is lost too.
  ASSERT_EQ(drops.size(), 2u) << Dump(t);
  EXPECT_TRUE(StartsWith(drops[0].detail, "PYTHON_CALL#0 0->1")) << drops[0].detail;
  EXPECT_EQ(drops[0].time, 0);
  EXPECT_TRUE(StartsWith(drops[1].detail, "PYTHON_CALL#1 0->1")) << drops[1].detail;
  EXPECT_EQ(drops[1].time, 1 * kSecond);
  ASSERT_GE(t.result.observations.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(t.result.observations[static_cast<std::size_t>(i)].what,
              "error RPCErr:1:RPC ran for more than set timeout (1000 ms) and will now be marked with an error");
  }

  // Nothing crosses during the fault phase; after the heal the same link carries the rest of the run.
  int after_heal_on_link = 0;
  for (const StepEvent& e : t.events) {
    if (e.kind == "deliver") {
      EXPECT_GE(e.time, t.result.heal_time) << e.detail;
      if (LinkOf(e.detail) == "0->1") ++after_heal_on_link;
    }
    if (e.kind == "send") {
      EXPECT_GE(e.time, t.result.heal_time) << e.detail;
    }
  }
  EXPECT_GE(after_heal_on_link, 3) << "REMOTE_CALL, FETCH, USER_DELETE from 0 to 1\n" << Dump(t);
  std::vector<std::string> values;
  for (const Observation& o : t.result.observations) {
    if (StartsWith(o.what, "value ")) values.push_back(o.what);
  }
  EXPECT_EQ(values, (std::vector<std::string>{"value 42", "value 42"})) << "fetch on 2 and to_here on 0";
  ExpectObservationsOk(t.result);
  ExpectCleanFinalViews(t.result);
}

}  // namespace
}  // namespace rrefsim::sim

namespace rrefsim::sim {
namespace {

// The lossy profile's promise holds per retried message even when TensorPipe empties the retries' payloads: the
// chain is the sender's retry, not the (now missing) ids in the payload.
TEST(FaultsTest, LossyLimitCountsEmptiedRetriesOfOneMessageAsOneChain) {
  Scenario s("s1_remote_to_here", 4);
  s.Function("make").Return(Int(42));
  s.On(0).Remote("a", To(1), "make").ToHere("v", "a").Del("a");
  RunConfig config = testing::Config("lossy", {"drop=1", "max_consecutive_drops=1", "heal_min_ms=100000",
                                               "heal_max_ms=100000"});
  testing::Traced t = testing::RunTraced(s, config, 1);
  int user_delete_drops = 0;
  for (const StepEvent& e : t.events) {
    if (e.kind == "drop" && e.worker == 0 && testing::Contains(e.detail, "RREF_USER_DELETE")) ++user_delete_drops;
  }
  EXPECT_EQ(user_delete_drops, 1) << testing::Dump(t);
}

}  // namespace
}  // namespace rrefsim::sim

namespace rrefsim::sim {
namespace {

// Retries are resent by the agent's retry thread, not by a pool handler: a worker whose only handler is busy in a
// long user function still resends at PyTorch's gaps.
TEST(FaultsTest, RetriesDoNotWaitForABusyHandler) {
  Scenario s("busy_pool_retries", 3);
  s.pool_size = 1;
  s.Function("make").Return(Int(42));
  s.Function("sleepy").Sleep(10 * kSecond).Return(Int(0));
  s.On(0).Remote("a", To(2), "make").ToHere("v", "a").Sleep(300 * kMillisecond).Del("a");
  s.On(1).Sleep(200 * kMillisecond).RpcSync("", To(0), "sleepy");  // occupies worker 0's handler ~1.7 s to ~11.7 s
  RunConfig config = testing::Config("faulty-agent", {"messages_to_fail=RREF_USER_DELETE", "num_fail_sends=3"});
  testing::Traced t = testing::RunTraced(s, config, 0);
  EXPECT_EQ(t.result.outcome, Outcome::kOk) << testing::Dump(t);
  std::vector<TimeUs> attempts;
  for (const StepEvent& e : t.events) {
    if (e.worker == 0 && (e.kind == "send_failed" || e.kind == "send") &&
        testing::Contains(e.detail, "RREF_USER_DELETE")) {
      attempts.push_back(e.time);
    }
  }
  ASSERT_EQ(attempts.size(), 4u) << testing::Dump(t);
  EXPECT_EQ(attempts[1] - attempts[0], 1000 * kMillisecond);
  EXPECT_EQ(attempts[2] - attempts[0], 2000 * kMillisecond);
  EXPECT_EQ(attempts[3] - attempts[0], 3500 * kMillisecond);
}

}  // namespace
}  // namespace rrefsim::sim
