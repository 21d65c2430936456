#include "harness.h"

#include <algorithm>
#include <utility>

#include <gtest/gtest.h>

namespace rrefsim::core::testing {

Cluster::Cluster(int workers, WorkerConfig base) {
  for (int i = 0; i < workers; ++i) {
    WorkerConfig config = base;
    config.id = static_cast<WorkerId>(i);
    workers_.emplace_back(config);
  }
}

void Cluster::Absorb(WorkerId id, Output& out) {
  Output taken = std::move(out);
  out.clear();
  std::vector<RunFunction> runs;
  for (Event& e : taken.events) {
    if (auto* done = std::get_if<FutureDone>(&e)) results_[{id, done->future}] = done->outcome;
    if (auto* run = std::get_if<RunFunction>(&e)) runs.push_back(*run);
    events_.push_back({id, e});
  }
  std::vector<std::pair<std::int64_t, std::string>> refused;
  for (OutgoingMessage& o : taken.messages) {
    sent_.push_back(o.message);
    std::optional<std::string> error = fail_ ? fail_(o.message) : std::nullopt;
    if (error) {
      refused.emplace_back(o.message.id, *error);
    } else {
      inflight_.push_back(std::move(o.message));
    }
  }
  for (const auto& [message_id, error] : refused) {  // before any other input to this worker
    Output more;
    worker(id).SendFailed(message_id, error, now_, more);
    Absorb(id, more);
  }
  for (RunFunction& run : runs) {
    if (held_.contains(run.function)) {
      held_runs_[id].push_back(std::move(run));
    } else {
      RunFunctionNow(id, std::move(run));
    }
  }
}

void Cluster::RunFunctionNow(WorkerId id, RunFunction run) {
  FunctionResult result;
  auto f = functions_.find(run.function);
  if (f == functions_.end()) {
    result.kind = FunctionResult::Kind::kFailed;
    result.error = "unknown function " + run.function;
  } else {
    result = f->second(*this, id, run);
  }
  // The function's frame is gone: the core frees the arguments it did not keep right after the reply (§9.4).
  result.release_after_reply.insert(result.release_after_reply.end(), run.args.rrefs.begin(), run.args.rrefs.end());
  Finish(id, run.work, std::move(result));
}

void Cluster::Finish(WorkerId id, WorkId work, FunctionResult result) {
  Output out;
  worker(id).FinishFunction(work, result, now_, out);
  Absorb(id, out);
}

Expected<Handle> Cluster::TryRemote(WorkerId from, const CallSpec& spec) {
  Output out;
  Expected<Handle> r = worker(from).Remote(spec, now_, out);
  Absorb(from, out);
  return r;
}

Handle Cluster::Remote(WorkerId from, WorkerId to, const std::string& function, Value args,
                       std::optional<TimeUs> timeout, CallKind kind, const std::string& return_type) {
  CallSpec spec{to, function, std::move(args), kind, return_type, timeout};
  Expected<Handle> r = TryRemote(from, spec);
  EXPECT_TRUE(r.ok()) << r.error;
  return r.value.value_or(Handle{});
}

FutureId Cluster::Rpc(WorkerId from, WorkerId to, const std::string& function, Value args,
                      std::optional<TimeUs> timeout, CallKind kind) {
  CallSpec spec{to, function, std::move(args), kind, "PyObject", timeout};
  Output out;
  Expected<FutureId> r = worker(from).RpcAsync(spec, now_, out);
  Absorb(from, out);
  EXPECT_TRUE(r.ok()) << r.error;
  return r.value.value_or(0);
}

Expected<FutureId> Cluster::TryToHere(WorkerId from, Handle rref) {
  Output out;
  Expected<FutureId> r = worker(from).ToHere(rref, std::nullopt, now_, out);
  Absorb(from, out);
  return r;
}

FutureId Cluster::ToHere(WorkerId from, Handle rref, std::optional<TimeUs> timeout) {
  Output out;
  Expected<FutureId> r = worker(from).ToHere(rref, timeout, now_, out);
  Absorb(from, out);
  EXPECT_TRUE(r.ok()) << r.error;
  return r.value.value_or(0);
}

void Cluster::Release(WorkerId from, Handle rref) {
  Output out;
  worker(from).Release(rref, now_, out);
  Absorb(from, out);
}

std::optional<Outcome> Cluster::Result(WorkerId id, FutureId future) const {
  auto it = results_.find({id, future});
  if (it == results_.end()) return std::nullopt;
  return it->second;
}

std::deque<Message>::iterator Cluster::Find(MessageType type, std::optional<WorkerId> from,
                                            std::optional<WorkerId> to) {
  for (auto it = inflight_.begin(); it != inflight_.end(); ++it) {
    if (it->type == type && (!from || it->from == *from) && (!to || it->to == *to)) return it;
  }
  return inflight_.end();
}

bool Cluster::Has(MessageType type, std::optional<WorkerId> from, std::optional<WorkerId> to) const {
  return const_cast<Cluster*>(this)->Find(type, from, to) != inflight_.end();
}

size_t Cluster::Count(MessageType type) const {
  size_t n = 0;
  for (const Message& m : inflight_) n += m.type == type ? 1 : 0;
  return n;
}

Message Cluster::Take(MessageType type, std::optional<WorkerId> from, std::optional<WorkerId> to) {
  auto it = Find(type, from, to);
  if (it == inflight_.end()) {
    std::string all;
    for (const Message& m : inflight_) all += "\n  " + Describe(m);
    ADD_FAILURE() << "no " << MessageTypeName(type) << " in flight" << (from ? " from " + std::to_string(*from) : "")
                  << (to ? " to " + std::to_string(*to) : "") << "; in flight:" << all;
    return Message{};
  }
  Message m = std::move(*it);
  inflight_.erase(it);
  return m;
}

void Cluster::Deliver(const Message& m) {
  if (m.to < 0) return;  // a failed Take
  Output out;
  worker(m.to).Receive(m, now_, out);
  Absorb(m.to, out);
}

Message Cluster::DeliverNext(MessageType type, std::optional<WorkerId> from, std::optional<WorkerId> to) {
  Message m = Take(type, from, to);
  Deliver(m);
  return m;
}

int Cluster::DeliverAll(int max_steps) {
  int n = 0;
  while (!inflight_.empty() && n < max_steps) {
    Message m = std::move(inflight_.front());
    inflight_.pop_front();
    Deliver(m);
    ++n;
  }
  return n;
}

Message Cluster::Drop(MessageType type, std::optional<WorkerId> from, std::optional<WorkerId> to) {
  return Take(type, from, to);
}

void Cluster::AdvanceTo(TimeUs t) {
  now_ = t;
  for (size_t i = 0; i < workers_.size(); ++i) {
    Output out;
    workers_[i].AdvanceTo(t, out);
    Absorb(static_cast<WorkerId>(i), out);
  }
}

std::optional<TimeUs> Cluster::NextDeadline() const {
  std::optional<TimeUs> next;
  for (const Worker& w : workers_) {
    std::optional<TimeUs> d = w.NextDeadline();
    if (d && (!next || *d < *next)) next = d;
  }
  return next;
}

void Cluster::RunTimersUntil(TimeUs t) {
  for (std::optional<TimeUs> d = NextDeadline(); d && *d <= t; d = NextDeadline()) AdvanceTo(std::max(*d, now_));
  AdvanceTo(t);
}

void Cluster::DeleteAllUsers(WorkerId id) {
  Output out;
  worker(id).DeleteAllUsersAndUnforkedOwners(now_, out);
  Absorb(id, out);
}

std::vector<std::string> Cluster::Logs(WorkerId id) const {
  std::vector<std::string> lines;
  for (const Recorded& r : events_) {
    if (r.worker != id) continue;
    if (const auto* log = std::get_if<Log>(&r.event)) lines.push_back(log->text);
  }
  return lines;
}

bool Cluster::Logged(WorkerId id, const std::string& text) const {
  for (const std::string& line : Logs(id)) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

std::vector<ProtocolError> Cluster::Errors(WorkerId id) const {
  std::vector<ProtocolError> errors;
  for (const Recorded& r : events_) {
    if (r.worker != id) continue;
    if (const auto* e = std::get_if<ProtocolError>(&r.event)) errors.push_back(*e);
  }
  return errors;
}


namespace agent {

void Settle(Cluster& c, SendClock& clock, TimeUs limit) {
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

}  // namespace agent

namespace forking {

RunFunction TakeHeldRun(Cluster& c, WorkerId id) {
  std::vector<RunFunction>& runs = c.held_runs(id);
  EXPECT_EQ(runs.size(), 1u);
  if (runs.empty()) return RunFunction{};
  RunFunction run = runs.front();
  runs.clear();
  return run;
}

void ExpectCleanState(const Cluster& c, int workers) {
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
  }
  EXPECT_TRUE(c.inflight().empty());
}

void ExpectAllClean(const Cluster& c, int workers) {
  ExpectCleanState(c, workers);
  for (WorkerId w = 0; w < workers; ++w) EXPECT_TRUE(c.Errors(w).empty()) << "worker " << w;
}

}  // namespace forking

}  // namespace rrefsim::core::testing
