// One simulated run: the scenario's workers, each a protocol core (core/) with a handler pool, application fibers
// running the programs, a virtual network and a virtual clock, all on Boost.Fiber fibers of one OS thread. Every
// nondeterministic decision goes through the Chooser, so Run is a pure function of (scenario, config, choices).
//
// A step is: a ready fiber runs until it blocks or yields, or a due message is delivered. The chooser picks among
// all enabled steps; when none is enabled, virtual time jumps to the next message arrival, core deadline or sleep.
// The run ends at quiescence (nothing enabled, nothing pending), at a deadlock (fibers or pool work blocked with
// nothing left to wake them), or at a safety bound (no_quiescence).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rrefsim/checkers/global_view.h"
#include "rrefsim/core/worker.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/scenario.h"

namespace rrefsim::sim {

struct RunConfig {
  FaultConfig faults = ReorderProfile();                     // the protocol's own assumption: reordering only
  core::ProtocolMode mode = core::ProtocolMode::kPytorch;
  core::RetryPayload retry_payload = core::RetryPayload::kTensorPipe;
  std::uint64_t max_steps = 1'000'000;                       // safety bound on steps
  TimeUs max_time = 3600 * core::kSecond;                    // safety bound on virtual time
  bool ignore_rref_leak = true;                              // rpc.shutdown's _ignore_rref_leak default
};

enum class Outcome {
  kOk,            // quiescent; every program finished
  kDeadlock,      // nothing can make progress, but fibers or pool work are still waiting
  kNoQuiescence,  // a safety bound was reached
  kWorkerAbort,   // a worker process terminated (std::terminate, rref-protocol.md §9.3)
  kStopped,       // an observer stopped the run (a checker found a violation)
};
const char* OutcomeName(Outcome outcome);

// What a program observed: a to_here result, checked against the scenario's expectation.
struct Observation {
  int worker = 0;
  std::string where;     // "program 0 op 3" / "function f on 2 op 1"
  std::string what;      // "value 42", "error <text>"
  bool expected_ok = true;
};

// One record of the run as text, for tests and --trace: kind is checkers::RecordKindName of the record.
struct StepEvent {
  std::uint64_t step = 0;
  TimeUs time = 0;
  int worker = -1;
  std::string kind;       // "deliver", "send", "drop", "send_failed", "event", "timers", ...
  std::string detail;
};
// The text form of a record (DescribeRecord) and of a core event.
StepEvent ToStepEvent(const checkers::StepRecord& record);
std::string DescribeEvent(const core::Event& event);

struct RunResult {
  Outcome outcome = Outcome::kOk;
  std::string detail;                 // what deadlocked / which bound / which worker aborted
  std::uint64_t steps = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t fiber_switches = 0;
  TimeUs end_time = 0;
  TimeUs heal_time = 0;
  std::uint64_t hash = 0;             // rolling hash over every step, core output and choice
  // The order in which the protocol's messages were processed (type, sender, receiver, RRef and fork of each
  // delivery), without times or fiber steps: how many distinct orders a campaign reached shows how much the
  // schedule really varied the protocol's runs.
  std::uint64_t delivery_order_hash = 0;
  std::vector<Choice> choices;
  std::vector<Observation> observations;
  std::vector<core::ContextView> final_views;
};

// Throws std::invalid_argument for a scenario that Validate rejects, and rethrows what the chooser or the observer
// throws (ReplayDivergence) once the run has wound down. The observer sees every record, and the GlobalView after
// every step (checkers/global_view.h); it may stop the run (Outcome::kStopped).
RunResult Run(const Scenario& scenario, const RunConfig& config, Chooser& chooser,
              checkers::RunObserver* observer = nullptr);

// The same, with each record handed over as text.
using StepObserver = std::function<void(const StepEvent&)>;
RunResult Run(const Scenario& scenario, const RunConfig& config, Chooser& chooser, const StepObserver& observer);

}  // namespace rrefsim::sim
