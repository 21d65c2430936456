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
#include <optional>
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
  // Track each fiber's place in its program, so that StateFingerprint covers it (the exhaustive explorer's state
  // hashing); off in campaigns, where it would only cost time.
  bool fingerprints = false;
  // The run's faults are the scenario's own (scenarios::RunChecked decides; a campaign's --faults may differ).
  // Expectations that assume them are judged only then: the debug counters at program barriers (PyTorch's tests wait
  // for them under their own timing) and allowed sets marked own_faults_only. Otherwise they are recorded as such.
  bool own_faults = true;
  // Ask the chooser before every step, even one with a single option, so that each step is a choice of its own: the
  // exhaustive explorer's dynamic partial-order reduction needs every step's footprint and when each step became
  // enabled. A choice list recorded with it holds those single-option choices too; without them (the normal way) it
  // is the same run.
  bool every_step_is_a_choice = false;
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
  // The application's RPCs (remote, rpc_sync, to_here; in programs and in function bodies): how many were issued,
  // and how each ended. Issued minus returned minus raised is what never ended (a hang, or a run cut short). In a
  // run that keeps every invariant, each raised one is a clean failure: an error the caller sees, nothing left over.
  std::uint64_t calls_issued = 0;
  std::uint64_t calls_returned = 0;
  std::uint64_t calls_raised = 0;
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

// A canonical fingerprint of the world between two steps, for state hashing in the exhaustive explorer (explore/,
// docs/explore.md): every worker's ContextView and host state (handler pool, backlog, completed futures, shutdown
// progress), the in-flight messages as a multiset (without the network's sequence numbers), the fibers as a multiset
// of (worker, name, state, what they wait for, program position), sleeps, barriers and joins (naming fibers, not
// their ids), the network's fault memory and the virtual time. Program positions need RunConfig::fingerprints.
// Call it from RunObserver::OnStepEnd; nullopt when `view` is not a simulated World.
std::optional<std::uint64_t> StateFingerprint(const checkers::GlobalView& view);

// The order in which the world will offer what it holds, which StateFingerprint leaves out (it decides option order
// only): the ready fibers and the one that yielded, the messages in flight by arrival, the sleepers by wake-up, the
// fibers waiting at each barrier and at join in arrival order (they are woken in that order), and each worker's
// fibers that have not ended in the order they were spawned (its abort wakes its blocked ones in that order), fibers
// named by name and messages by content. With StateFingerprint it fixes the order of the options at every later choice under
// the same picks, which is what the explorer's deviation bound (explore::Bounds::max_deviations) counts by. Nullopt
// when `view` is not a simulated World.
std::optional<std::uint64_t> OfferOrderFingerprint(const checkers::GlobalView& view);

// For the explorer's partial-order reductions (sleep sets, DPOR): what the steps of a run since its last kStep choice
// acted on. A fiber step acts on its worker and a delivery on its receiver; a step that aborts a worker reaches
// beyond one worker (`global`); arriving at a barrier acts on the barriers (bit 63), and the last arrival reads every
// worker; what the main loop does when nothing is enabled (timers, barrier flushes, join) is `main_turn`. Workers
// from 63 on count as global. The checkers' reads count too: after a step they may read other workers' views
// (`reads`; the in-flight messages count as every worker's), and a step that changes what a checker read does not
// commute with that step, as the check could come out differently.
struct StepFootprint {
  std::uint64_t workers = 0;  // bit w: the step acted on worker w
  std::uint64_t reads = 0;    // bit w: the checkers read worker w after the step
  bool global = false;        // the step itself reached beyond its worker
  // After the step nothing was enabled and the main loop acted (timers, barrier flushes, join): every step before
  // it ran first, and every step after it was enabled by it.
  bool main_turn = false;
  bool Independent(const StepFootprint& other) const {
    return !global && !other.global && !main_turn && !other.main_turn && (workers & other.workers) == 0 &&
           (workers & other.reads) == 0 && (reads & other.workers) == 0;
  }
  // What the step itself did, without the main loop's turn after it.
  StepFootprint Own() const { return StepFootprint{workers, reads, global, false}; }
  bool operator==(const StepFootprint&) const = default;
};
// nullopt when `view` is not a simulated World. Call from a Chooser during a kStep choice.
std::optional<StepFootprint> StepsSinceChoice(const checkers::GlobalView& view);
// The worker a kStep option (ChoiceRequest::items) acts on: the fiber's worker or the message's receiver; -1 if
// unknown.
int StepWorker(const checkers::GlobalView& view, std::uint64_t item);

// A kStep option's identity across paths, for comparing sleep sets of two visits to one state: a fiber by its name,
// a delivery by the message's content (not its network sequence number). 0 if unknown.
std::uint64_t StepIdentity(const checkers::GlobalView& view, std::uint64_t item);

// Worker `worker`'s part of the world: its host (core, handler pool, futures, shutdown progress), its fibers and the
// messages in flight to it, as StateFingerprint keys them. Nullopt when `view` is not a simulated World or there is
// no such worker.
std::optional<std::uint64_t> WorkerFingerprint(const checkers::GlobalView& view, int worker);

// What a barrier arrival reads beyond its worker: each open barrier's name and number of waiters, and how many
// workers are live (whether an arrival is the last one). Nullopt when `view` is not a simulated World.
std::optional<std::uint64_t> BarrierFingerprint(const checkers::GlobalView& view);

// The same, with each record handed over as text.
using StepObserver = std::function<void(const StepEvent&)>;
RunResult Run(const Scenario& scenario, const RunConfig& config, Chooser& chooser, const StepObserver& observer);

}  // namespace rrefsim::sim
