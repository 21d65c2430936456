// A hand-driven network for core tests: it collects every worker's output, keeps sent messages "in flight" until a
// test delivers them (in any order, any number of times), runs user functions from a table, and records events.
// No simulator, no fibers: each test says exactly which message arrives when.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace rrefsim::core::testing
