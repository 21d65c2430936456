// What the checkers see of a run: the records of each step (what the World did, in order) and, after each step, a
// read-only GlobalView of every worker's core state and the messages in flight. Nothing here belongs to the
// simulator: a World produces these, and so could a trace or a real runtime, so the checkers run over any of them.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "rrefsim/core/events.h"
#include "rrefsim/core/message.h"
#include "rrefsim/core/view.h"

namespace rrefsim::checkers {

using core::TimeUs;

enum class RecordKind {
  kDeliver,      // a handler takes `message` (the core processes it now)
  kQueued,       // `message` arrived but waits for a free handler (delivered later with kDeliver)
  kLost,         // `message` arrived at a worker that has aborted
  kSend,         // `message` left `worker` (one record per copy the network delivers; `delay` until arrival)
  kDrop,         // the network lost `message`
  kSendFailed,   // the send was refused at the sender (`text`: the error); the core is told inline
  kEvent,        // the core of `worker` emitted `event`
  kTimers,       // the core's timers fired: `text` is "timeouts" (client timeouts, on the handler pool) or
                 // "retry thread / shutdown wait"
  kObservation,  // the application observed something (`text`: what, `where`, `expected_ok`)
  kQuiescent,    // every live worker waits in join with nothing in flight: the point to check for leaks
};
const char* RecordKindName(RecordKind kind);

// One record of a step. Pointers and views are valid only during the callback that receives it.
struct StepRecord {
  std::uint64_t step = 0;
  TimeUs time = 0;
  int worker = -1;
  std::string_view fiber;  // the fiber that was running ("program 0", "f on 2 (work 3)"), or "network" / "clock"
  RecordKind kind = RecordKind::kDeliver;
  const core::Message* message = nullptr;  // kDeliver, kQueued, kLost, kSend, kDrop, kSendFailed
  std::uint64_t message_seq = 0;           // the copy's place in the network (kSend, kDeliver, kQueued, kLost)
  TimeUs delay = 0;                        // kSend
  bool retried = false;                    // kSend, kDrop, kSendFailed: sent through sendWithRetries
  std::int64_t retry_chain = -1;           // the same for every attempt of one retried message
  const core::Event* event = nullptr;      // kEvent
  std::string_view text;                   // kSendFailed, kTimers, kObservation
  std::string_view where;                  // kObservation: "program 0 op 3"
  bool expected_ok = true;                 // kObservation
};

// A message in flight: on the network (by arrival order), or arrived and waiting for a free handler of its
// receiver (`queued`), which the protocol has not processed either.
struct InFlightMessage {
  std::uint64_t seq = 0;
  TimeUs arrival = 0;
  const core::Message* message = nullptr;
  bool queued = false;
};

// The world after a step. In AfterStep, views are those of the end of the step. During OnRecord, a view is the
// worker's state at some point of the current step or the end of an earlier one (the World rebuilds a view on first
// use after its core changed): read views in OnRecord only for what the step's records cannot have changed.
class GlobalView {
 public:
  virtual ~GlobalView() = default;
  virtual int workers() const = 0;
  virtual const core::ContextView& worker(int w) const = 0;
  // Whether `w`'s core was called during the last step (its view may have changed).
  virtual bool changed(int w) const = 0;
  // The network's messages by arrival, then each worker's queued ones in order.
  virtual void ForEachInFlight(const std::function<void(const InFlightMessage&)>& visit) const = 0;
  virtual std::uint64_t step() const = 0;
  virtual TimeUs now() const = 0;
};

// What the World reports to an observer. OnStepEnd may stop the run (a checker found a violation).
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // Before the first step; `view` stays valid for the whole run.
  virtual void OnStart(const GlobalView& view) { (void)view; }
  virtual void OnRecord(const StepRecord& record) = 0;
  // Returns false to stop the run after this step.
  virtual bool OnStepEnd(const GlobalView& view) = 0;
};

}  // namespace rrefsim::checkers
