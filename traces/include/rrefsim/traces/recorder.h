// TraceRecorder: a checkers::RunObserver that turns a run's records into TraceEvents and diffs the core state of the
// workers each step changed, so a trace shows what every message did to owners_, forks_, pendingUsers_, ...
#pragma once

#include <vector>

#include "rrefsim/checkers/global_view.h"
#include "rrefsim/core/view.h"
#include "rrefsim/traces/trace.h"

namespace rrefsim::traces {

// Single-threaded, one run per recorder. It never stops a run (OnStepEnd returns true).
//
// At each step's end, every worker the GlobalView marks as changed is compared with the recorder's previous copy of
// its view; the differences are attached to the step's last event. A step that changed some state without any record
// (an application releasing a reference, say) gets one event of kind "state" (kStateEventKind) with worker -1 and
// no fiber, holding only the changes.
class TraceRecorder : public checkers::RunObserver {
 public:
  void OnStart(const checkers::GlobalView& view) override;
  void OnRecord(const checkers::StepRecord& record) override;
  bool OnStepEnd(const checkers::GlobalView& view) override;

  const std::vector<TraceEvent>& events() const { return events_; }
  std::vector<TraceEvent> TakeEvents() { return std::move(events_); }
  // Every worker's view after the last step (the failing step of a run the checkers stopped).
  const std::vector<core::ContextView>& views() const { return views_; }

 private:
  std::vector<TraceEvent> events_;
  std::vector<core::ContextView> views_;
  std::size_t step_begin_ = 0;  // index of the first event of the current step
};

// What changed from `before` to `after` (one worker), in a fixed order of fields, one line per change:
// "owners_ += (1,0)", "forks_[(0,0)] += (0,2)", "pendingUsers_ -= (0,1)", "debug.num_forks 1 -> 2", ...
std::vector<std::string> DiffViews(const core::ContextView& before, const core::ContextView& after);

}  // namespace rrefsim::traces
