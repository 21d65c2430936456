// TraceRecorder: records into TraceEvents, and the per-step state diff of each changed worker.
#include "rrefsim/traces/recorder.h"

#include "text.h"

namespace rrefsim::traces {

void TraceRecorder::OnStart(const checkers::GlobalView& view) {
  views_.clear();
  for (int w = 0; w < view.workers(); ++w) views_.push_back(view.worker(w));
}

void TraceRecorder::OnRecord(const checkers::StepRecord& r) {
  TraceEvent e;
  e.step = r.step;
  e.time = r.time;
  e.worker = r.worker;
  e.fiber = std::string(r.fiber);
  e.kind = checkers::RecordKindName(r.kind);
  if (r.message) e.message = *r.message;
  using checkers::RecordKind;
  if (r.kind == RecordKind::kDeliver || r.kind == RecordKind::kQueued || r.kind == RecordKind::kLost ||
      r.kind == RecordKind::kSend) {
    e.message_seq = r.message_seq;
  }
  if (r.kind == RecordKind::kSend) e.delay = r.delay;
  if (r.kind == RecordKind::kSend || r.kind == RecordKind::kDrop || r.kind == RecordKind::kSendFailed) {
    e.retried = r.retried;
    e.retry_chain = r.retry_chain;
  }
  if (r.event) e.event = *r.event;
  if (r.kind == RecordKind::kSendFailed || r.kind == RecordKind::kTimers || r.kind == RecordKind::kObservation) {
    e.text = std::string(r.text);
  }
  if (r.kind == RecordKind::kObservation) {
    e.where = std::string(r.where);
    e.expected_ok = r.expected_ok;
  }
  events_.push_back(std::move(e));
}

bool TraceRecorder::OnStepEnd(const checkers::GlobalView& view) {
  std::vector<StateChange> changes;
  for (int w = 0; w < view.workers() && w < static_cast<int>(views_.size()); ++w) {
    if (!view.changed(w)) continue;
    const core::ContextView& now = view.worker(w);
    for (std::string& line : DiffViews(views_[static_cast<std::size_t>(w)], now)) {
      changes.push_back(StateChange{w, std::move(line)});
    }
    views_[static_cast<std::size_t>(w)] = now;
  }
  if (!changes.empty()) {
    if (events_.size() == step_begin_) {  // state changed, but nothing was recorded: an event of its own
      TraceEvent e;
      e.step = view.step();
      e.time = view.now();
      e.kind = std::string(kStateEventKind);
      events_.push_back(std::move(e));
    }
    events_.back().changes = std::move(changes);
  }
  step_begin_ = events_.size();
  return true;
}

}  // namespace rrefsim::traces
