// A hand-driven network for core tests: it collects every worker's output, keeps sent messages "in flight" until a
// test delivers them (in any order, any number of times), runs user functions from a table, and records events.
// No simulator, no fibers: each test says exactly which message arrives when.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "rrefsim/core/worker.h"

namespace rrefsim::core {
// GoogleTest prints DebugInfo as (owners, forks, pending_users, pending_futures), the order of Counters().
inline void PrintTo(const DebugInfo& d, std::ostream* os) {
  *os << "Counters(" << d.num_owner_rrefs << ", " << d.num_forks << ", " << d.num_pending_users << ", "
      << d.num_pending_futures << ")";
}
}  // namespace rrefsim::core

namespace rrefsim::core::testing {

class Cluster;

// A user function: gets the RunFunction (args carry one reference each, which the harness hands back to the core in
// FunctionResult::release_after_reply unless the function cleared them from `run.args`) and returns its result.
using Function = std::function<FunctionResult(Cluster&, WorkerId self, RunFunction& run)>;

struct Recorded {
  WorkerId worker;
  Event event;
};

class Cluster {
 public:
  explicit Cluster(int workers, WorkerConfig base = {});

  Worker& worker(WorkerId id) { return workers_.at(static_cast<size_t>(id)); }
  TimeUs now() const { return now_; }

  // --- functions ---
  // Registers a function that runs as soon as its request is released. Unknown functions fail the request.
  void Define(const std::string& name, Function f) { functions_[name] = std::move(f); }
  // Functions named here are not run automatically: the test finishes them with Finish().
  void Hold(const std::string& name) { held_.insert(name); }
  std::vector<RunFunction>& held_runs(WorkerId id) { return held_runs_[id]; }
  void Finish(WorkerId id, WorkId work, FunctionResult result);

  // --- the application ---
  Handle Remote(WorkerId from, WorkerId to, const std::string& function, Value args = {},
                std::optional<TimeUs> timeout = std::nullopt, CallKind kind = CallKind::kPython,
                const std::string& return_type = "PyObject");
  Expected<Handle> TryRemote(WorkerId from, const CallSpec& spec);
  FutureId Rpc(WorkerId from, WorkerId to, const std::string& function, Value args = {},
               std::optional<TimeUs> timeout = std::nullopt, CallKind kind = CallKind::kPython);
  FutureId ToHere(WorkerId from, Handle rref, std::optional<TimeUs> timeout = std::nullopt);
  Expected<FutureId> TryToHere(WorkerId from, Handle rref);
  void Release(WorkerId from, Handle rref);
  // The outcome of a future once FutureDone arrived; nullopt while pending.
  std::optional<Outcome> Result(WorkerId id, FutureId future) const;

  // --- the network ---
  const std::deque<Message>& inflight() const { return inflight_; }
  // Removes and returns the first in-flight message of `type` (optionally from/to given workers); fails the test
  // when there is none.
  Message Take(MessageType type, std::optional<WorkerId> from = std::nullopt,
               std::optional<WorkerId> to = std::nullopt);
  bool Has(MessageType type, std::optional<WorkerId> from = std::nullopt,
           std::optional<WorkerId> to = std::nullopt) const;
  size_t Count(MessageType type) const;
  void Deliver(const Message& m);
  // Take + Deliver; returns the delivered message.
  Message DeliverNext(MessageType type, std::optional<WorkerId> from = std::nullopt,
                      std::optional<WorkerId> to = std::nullopt);
  // Delivers in-flight messages oldest first until none is left (or `max_steps`); returns how many.
  int DeliverAll(int max_steps = 10000);
  // Drops the first in-flight message of `type`.
  Message Drop(MessageType type, std::optional<WorkerId> from = std::nullopt,
               std::optional<WorkerId> to = std::nullopt);
  // Sends that the transport refuses synchronously (FaultyTensorPipeAgent): `fail(m)` returning an error text
  // makes the harness call SendFailed right after the call that emitted m.
  void FailSends(std::function<std::optional<std::string>(const Message&)> fail) { fail_ = std::move(fail); }

  // --- time ---
  void AdvanceTo(TimeUs t);
  // Advances to every worker's next deadline in turn until none is at or before `t`.
  void RunTimersUntil(TimeUs t);
  std::optional<TimeUs> NextDeadline() const;

  // --- shutdown ---
  void DeleteAllUsers(WorkerId id);

  // --- what happened ---
  const std::vector<Recorded>& events() const { return events_; }
  std::vector<std::string> Logs(WorkerId id) const;
  bool Logged(WorkerId id, const std::string& text) const;  // a log line containing `text`
  std::vector<ProtocolError> Errors(WorkerId id) const;
  // Every message sent so far (including ones already delivered or dropped), in order.
  const std::vector<Message>& sent() const { return sent_; }
  DebugInfo Debug(WorkerId id) const { return workers_.at(static_cast<size_t>(id)).GetDebugInfo(); }
  ContextView View(WorkerId id) const { return workers_.at(static_cast<size_t>(id)).View(); }

  // Applies a worker's output: records events, queues messages, fails refused sends, runs released functions.
  void Absorb(WorkerId id, Output& out);

 private:
  void RunFunctionNow(WorkerId id, RunFunction run);
  std::deque<Message>::iterator Find(MessageType type, std::optional<WorkerId> from, std::optional<WorkerId> to);

  std::vector<Worker> workers_;
  TimeUs now_ = 0;
  std::deque<Message> inflight_;
  std::vector<Message> sent_;
  std::vector<Recorded> events_;
  std::map<std::string, Function> functions_;
  std::set<std::string> held_;
  std::map<WorkerId, std::vector<RunFunction>> held_runs_;
  std::map<std::pair<WorkerId, FutureId>, Outcome> results_;
  std::function<std::optional<std::string>(const Message&)> fail_;
};

// Builders for expected state.
inline RRefId Id(WorkerId on, std::int64_t local) { return GloballyUniqueId{on, local}; }
inline DebugInfo Counters(std::int64_t owners, std::int64_t forks, std::int64_t pending_users,
                          std::int64_t pending_futures) {
  return DebugInfo{owners, forks, pending_users, pending_futures};
}
inline Value Val(std::int64_t payload, std::vector<Handle> rrefs = {}) { return Value{payload, std::move(rrefs)}; }
inline FunctionResult Returns(std::int64_t payload, std::vector<Handle> rrefs = {}) {
  return FunctionResult{FunctionResult::Kind::kReturned, Val(payload, std::move(rrefs)), {}, {}};
}

using Forks = std::map<RRefId, std::vector<ForkId>>;

// Every event of type E that worker `id` emitted, in order.
template <class E>
std::vector<E> EventsOf(const Cluster& c, WorkerId id) {
  std::vector<E> found;
  for (const Recorded& r : c.events()) {
    if (r.worker != id) continue;
    if (const auto* e = std::get_if<E>(&r.event)) found.push_back(*e);
  }
  return found;
}

// PyTorch's text of a GloballyUniqueId.
inline std::string Gid(WorkerId on, std::int64_t local) { return ToString(Id(on, local)); }

// The last log line of a worker ("" when it logged nothing), so a missing line fails instead of crashing.
inline std::string LastLog(const Cluster& c, WorkerId id) {
  std::vector<std::string> logs = c.Logs(id);
  return logs.empty() ? std::string() : logs.back();
}

// A future's outcome as text: "<pending>", "<ok>" or its error.
inline std::string OutcomeOf(const Cluster& c, WorkerId id, FutureId f) {
  std::optional<Outcome> o = c.Result(id, f);
  if (!o) return "<pending>";
  return o->ok() ? std::string("<ok>") : *o->error;
}

// Helpers shared by the test files of one area. Each area has its own namespace, pulled in with `using namespace`
// by those files only, so the names do not clash with same-named helpers that other test files define locally.
// Helpers that assert (they need GoogleTest) are defined in harness.cc.

// --- the RPC agent: retry_test.cc and timeout_test.cc ---
namespace agent {

inline constexpr TimeUs kMs = kMillisecond;

inline const std::string kMaxRetries = "The RPC has not succeeded after the specified number of max retries (5).";
inline const std::string kEmptyPayload =
    "Unexpected end of pickler archive.";  // unpickler.cpp's AT_ERROR, with its period

// "Send try 1 failed" ... "Send try n failed" (rpcRetryCallback's LOG(INFO)).
inline std::vector<std::string> Tries(int n) {
  std::vector<std::string> lines;
  for (int i = 1; i <= n; ++i) lines.push_back("Send try " + std::to_string(i) + " failed");
  return lines;
}

inline std::vector<std::string> LogsWith(const Cluster& c, WorkerId id, const std::string& text) {
  std::vector<std::string> lines;
  for (const std::string& line : c.Logs(id)) {
    if (line.find(text) != std::string::npos) lines.push_back(line);
  }
  return lines;
}

inline bool SameError(const ProtocolError& e, const std::string& code, const std::string& text, ErrorSite site) {
  return e.code == code && e.text == text && e.site == site;
}

// The virtual time at which every message in Cluster::sent() was emitted (call Sync after each step).
class SendClock {
 public:
  void Sync(const Cluster& c) {
    while (at_.size() < c.sent().size()) at_.push_back(c.now());
  }
  // Send times, in milliseconds, of the messages of `type` sent by `from`.
  std::vector<TimeUs> Ms(const Cluster& c, MessageType type, WorkerId from) {
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

inline std::vector<Message> SentOf(const Cluster& c, MessageType type, WorkerId from) {
  std::vector<Message> out;
  for (const Message& m : c.sent()) {
    if (m.type == type && m.from == from) out.push_back(m);
  }
  return out;
}

// Delivers every in-flight message at once (oldest first) and fires timers in order, until nothing is left or the
// next deadline lies after `limit`.
void Settle(Cluster& c, SendClock& clock, TimeUs limit = 3600 * kSecond);

// FaultyTensorPipeAgent::send: the first `num_fail_sends` sends of each distinct payload of a listed type fail
// synchronously at the sender with INTENTIONAL_FAILURE (a payload is identified by sender, type, rref and fork).
inline std::function<std::optional<std::string>(const Message&)> FaultyAgent(std::set<MessageType> types,
                                                                             int num_fail_sends) {
  auto counts = std::make_shared<std::map<std::tuple<WorkerId, MessageType, RRefId, ForkId>, int>>();
  return [types = std::move(types), num_fail_sends, counts](const Message& m) -> std::optional<std::string> {
    if (!types.contains(m.type)) return std::nullopt;
    int& sent = (*counts)[{m.from, m.type, m.rref_id, m.fork_id}];
    if (sent >= num_fail_sends) return std::nullopt;
    ++sent;
    return "RPCErr:2:Send attempt failed intentionally for " + std::string(MessageTypeName(m.type)) + "(" +
           ToString(m.rref_id) + ", " + ToString(m.fork_id) + ")";
  };
}

inline FunctionResult Make5(Cluster&, WorkerId, RunFunction&) { return Returns(5); }

// rpc.remote(worker 0 -> worker 1, "make"), delivered and confirmed: r = (0,0), creator fork a = (0,1).
inline Handle ConfirmedRemote(Cluster& c) {
  Handle a = c.Remote(0, 1, "make");
  c.DeliverNext(MessageType::PYTHON_REMOTE_CALL, 0, 1);
  c.DeliverNext(MessageType::REMOTE_RET, 1, 0);
  return a;
}

// S3 under faults: worker 0 passes its confirmed UserRRef a of r (owned by 1) to worker 2 in an rpc without timeout.
// Worker 2's child c = (0,2) sends RREF_FORK_REQUEST to the owner and gates "gated" on its confirmation.
struct ForkSetup {
  Handle a;
  FutureId call = 0;
  bool ran = false;
};
inline void StartUserToUserFork(Cluster& c, ForkSetup& s) {
  c.Define("make", Make5);
  c.Define("gated", [&s](Cluster&, WorkerId, RunFunction&) {
    s.ran = true;
    return Returns(0);
  });
  s.a = ConfirmedRemote(c);
  s.call = c.Rpc(0, 2, "gated", Val(0, {s.a}), TimeUs{0});
  c.DeliverNext(MessageType::PYTHON_CALL, 0, 2);
}

}  // namespace agent

// --- forking RRefs: fork_test.cc, returned_rref_test.cc, gating_test.cc and nested_test.cc ---
namespace forking {

using Children = std::map<ForkId, ForkId>;

inline FunctionResult Make(Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload); }

inline const UserRRefView* FindUser(const ContextView& v, Handle h) {
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
RunFunction TakeHeldRun(Cluster& c, WorkerId id);

// Every map, counter and agent record of workers 0..workers-1 is empty, and nothing is in flight.
void ExpectCleanState(const Cluster& c, int workers);
// ExpectCleanState, and no worker reported a protocol error.
void ExpectAllClean(const Cluster& c, int workers);

}  // namespace forking

// --- control messages delivered twice: control_test.cc and duplicate_call_test.cc ---
namespace control {

inline FunctionResult Make(Cluster&, WorkerId, RunFunction&) { return Returns(7); }

// A "keep" function: stores its argument RRefs (the application keeps them) instead of letting them go.
inline Function Keeper(std::map<WorkerId, std::vector<Handle>>& kept) {
  return [&kept](Cluster&, WorkerId self, RunFunction& run) {
    for (Handle h : run.args.rrefs) kept[self].push_back(h);
    run.args.rrefs.clear();
    return Returns(0);
  };
}

// S1 up to the confirmation: worker `from` holds a confirmed UserRRef of an RRef owned by `to`.
inline Handle Created(Cluster& c, WorkerId from, WorkerId to) {
  Handle a = c.Remote(from, to, "make");
  c.DeliverNext(MessageType::PYTHON_REMOTE_CALL, from, to);
  c.DeliverNext(MessageType::REMOTE_RET, to, from);
  return a;
}

}  // namespace control

}  // namespace rrefsim::core::testing
