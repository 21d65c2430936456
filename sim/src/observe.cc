// What the World reports to its observer (checkers, traces, --trace): the records of each step, the end of each
// step with the views it changed, and the quiescent point; and the World as the checkers' GlobalView.
#include <algorithm>
#include <utility>

#include "world_impl.h"

namespace rrefsim::sim::detail {

void World::Emit(checkers::StepRecord record) {
  record.step = result_.steps;
  record.time = now_;
  record.fiber = running_fiber_;
  step_has_records_ = true;
  observer_->OnRecord(record);
}

void World::EmitMessage(checkers::RecordKind kind, int worker, const core::Message& message, std::uint64_t seq) {
  checkers::StepRecord record;
  record.kind = kind;
  record.worker = worker;
  record.message = &message;
  record.message_seq = seq;
  Emit(record);
}

void World::EmitTimers(int worker, std::string_view which) {
  checkers::StepRecord record;
  record.kind = checkers::RecordKind::kTimers;
  record.worker = worker;
  record.text = which;
  Emit(record);
}

void World::Record(Observation observation) {
  if (observer_) {
    checkers::StepRecord record;
    record.kind = checkers::RecordKind::kObservation;
    record.worker = observation.worker;
    record.where = observation.where;
    record.text = observation.what;
    record.expected_ok = observation.expected_ok;
    Emit(record);
  }
  result_.observations.push_back(std::move(observation));
}

void World::ForEachInFlight(const std::function<void(const checkers::InFlightMessage&)>& visit) const {
  footprint_.reads = ~std::uint64_t{0};  // every worker's sends and deliveries change what this shows
  for (const auto& [key, in] : inflight_) visit(checkers::InFlightMessage{key.second, key.first, &in->message, false});
  for (const Host& h : hosts_.all()) {
    for (const PoolTask& task : h.backlog) {
      if (!task.timers) visit(checkers::InFlightMessage{task.seq, now_, &task.message, true});
    }
  }
}

const core::ContextView& World::worker(int w) const {
  auto i = static_cast<std::size_t>(w);
  if (w >= kFirstGlobalWorker) {
    footprint_.global = true;
  } else {
    footprint_.reads |= std::uint64_t{1} << w;
  }
  std::shared_ptr<core::ContextView>& view = views_[i];
  if (stale_[i] != 0 || view == nullptr) {
    if (view == nullptr || view.use_count() > 1) view = std::make_shared<core::ContextView>();  // copy on write
    hosts_[i].core.View(*view);
    stale_[i] = 0;
  }
  return *view;
}

void World::EndStep() {
  if (observer_ == nullptr) return;
  bool any_changed = false;
  for (std::size_t w = 0; w < hosts_.size(); ++w) {
    if (changed_[w] == 0) continue;
    any_changed = true;
    stale_[w] = 1;
  }
  // A step that failed part way is no state of any run: the run rethrows, and what the step did so far is half of it
  // (the explorer's cut at a fault choice, caught in Absorb, would show the world with that message skipped).
  if ((any_changed || step_has_records_) && !failure_) {
    try {
      if (!observer_->OnStepEnd(*this) && !stopped_) {
        stopped_ = true;
        result_.detail = "stopped by the observer after step " + std::to_string(result_.steps);
      }
    } catch (...) {  // possibly inside pick_next (noexcept): stop the run and rethrow from Execute
      if (!failure_) failure_ = std::current_exception();
    }
  }
  std::fill(changed_.begin(), changed_.end(), 0);
  step_has_records_ = false;
}

// Every live worker waits in join (or has finished), nothing is in flight or waits for a handler, and no retry is
// pending: the quiescence after the heal where the leak checks of rref-protocol.md §7 (I7, I9) apply. The observer
// sees it as a step of its own.
void World::EmitQuiescentIfIdle() {
  if (observer_ == nullptr || !inflight_.empty() || stopped_) return;
  for (const Host& h : hosts_.all()) {  // nothing waits for a handler, no retry is pending
    if (h.core.aborted()) continue;
    if (!h.backlog.empty() || h.core.NextDeadline(core::Worker::Timers::kAgentThreads)) return;
  }
  EndStep();
  ++result_.steps;  // a step of its own, so its checks are not mixed with the step before
  checkers::StepRecord record;
  record.kind = checkers::RecordKind::kQuiescent;
  Emit(record);
  EndStep();
}

}  // namespace rrefsim::sim::detail
