// A trace: one run's inputs (scenario, seed, config, every choice), what happened (one event per record of the
// simulator, with the core state changes of each step), the verdict and every worker's state at the end, which for a
// failing run is the failing step (the checkers stop the run there). docs/trace-format.md describes the JSON form.
//
// A trace holds nothing that varies between two runs of one seed (no clock, host, path, thread or pointer), so the
// same run always writes the same bytes. JSON is private to this library: no JSON type appears in its headers.
// Depends on core/ and checkers/ only; turning a trace back into a simulated run is scenarios/' job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rrefsim/checkers/checker.h"
#include "rrefsim/core/events.h"
#include "rrefsim/core/message.h"
#include "rrefsim/core/view.h"
#include "rrefsim/core/worker.h"

namespace rrefsim::traces {

// The version of the JSON form this library writes and reads. A reader refuses any other.
constexpr int kFormatVersion = 1;

// rrefsim's version (CMake's PROJECT_VERSION): written into every trace, ignored when a replay compares.
std::string_view ToolVersion();

// The settings of the run: what a replay needs to rebuild it (besides the scenario and the choices).
struct TraceConfig {
  core::ProtocolMode protocol = core::ProtocolMode::kPytorch;
  std::string fault_profile = "reorder";      // a sim::FaultProfiles() name
  std::vector<std::string> fault_overrides;   // KEY=VALUE, in order (the scenario's own, then the command line's)
  std::string strategy = "random";            // informative: "random" or "pct" (the choices replay the run)
  int pct_depth = 0;                          // informative: PCT's depth, 0 with "random"
  std::uint64_t max_steps = 0;
  core::TimeUs max_time = 0;
  core::RetryPayload retry_payload = core::RetryPayload::kTensorPipe;
  bool ignore_rref_leak = true;
  friend bool operator==(const TraceConfig&, const TraceConfig&) = default;
};

// One decision of the chooser, as sim::Choice records it; `kind` is a sim::ChoiceKindName.
struct TraceChoice {
  std::string kind;
  std::uint64_t options = 0;
  std::uint64_t pick = 0;
  std::uint64_t key = 0;
  friend bool operator==(const TraceChoice&, const TraceChoice&) = default;
};

// One change of a worker's core state during a step, e.g. "forks_[(0,0)] += (0,2)" (TraceRecorder's wording).
struct StateChange {
  int worker = -1;
  std::string change;
  friend bool operator==(const StateChange&, const StateChange&) = default;
};

// The "kind" of an event that carries only the state changes of a step that produced no record.
inline constexpr std::string_view kStateEventKind = "state";

// One checkers::StepRecord, as data. Fields a kind does not use stay default (docs/trace-format.md lists them).
struct TraceEvent {
  std::uint64_t step = 0;
  core::TimeUs time = 0;
  int worker = -1;
  std::string fiber;
  std::string kind;  // checkers::RecordKindName, or kStateEventKind
  std::optional<core::Message> message;  // deliver, queued, lost, send, drop, send_failed
  std::uint64_t message_seq = 0;         // deliver, queued, lost, send
  core::TimeUs delay = 0;                // send
  bool retried = false;                  // send, drop, send_failed
  std::int64_t retry_chain = -1;         // send, drop, send_failed
  std::optional<core::Event> event;      // event
  std::string text;                      // send_failed, timers, observation
  std::string where;                     // observation
  bool expected_ok = true;               // observation
  // The state changes of this event's step, on the step's last event (empty on the others).
  std::vector<StateChange> changes;
};

struct TraceVerdict {
  std::string outcome;  // sim::OutcomeName: ok, deadlock, no_quiescence, worker_abort, stopped
  std::string detail;
  std::vector<checkers::Violation> violations;           // in CheckerIds order at the failing step
  std::vector<checkers::Violation> expected_violations;  // known PyTorch defects the scenario declares
  std::string explanation;  // Explain() of the first violation (or of the first expected one)
};

struct Trace {
  int format_version = kFormatVersion;
  std::string tool_version;
  std::string scenario_name;
  // The scenario as a JSON object, kept as text: opaque here (scenarios::EncodeScenarioForTrace writes it,
  // DecodeScenarioFromTrace reads it). It is embedded as a JSON value, not as an escaped string.
  std::string scenario;
  std::uint64_t seed = 0;
  TraceConfig config;
  std::vector<TraceChoice> choices;
  std::vector<TraceEvent> events;
  TraceVerdict verdict;
  std::vector<core::ContextView> state;  // every worker, by id, at the end of the recorded run
};

// The canonical JSON text: fixed key order and layout, integers only, so the same trace gives the same bytes.
// Throws std::invalid_argument when `trace.scenario` is not a JSON object (a caller's bug).
std::string WriteTrace(const Trace& trace);

// A trace, or an error naming `origin` (the file) and either "line:column" (not JSON) or the JSON path of the bad
// value, and what was expected there. Strict: unknown fields, missing fields, wrong types, unknown names, numbers
// out of range and other format versions are errors; nothing is defaulted. Never throws.
struct ReadResult {
  std::optional<Trace> trace;
  std::string error;
};
ReadResult ReadTrace(std::string_view text, std::string_view origin);

// One paragraph on `violation`: what its invariant demands (rref-protocol.md §7), what was seen, the message or step
// that triggered it, and the RRef, forks and workers involved, from `trace`'s events and state.
std::string Explain(const checkers::Violation& violation, const Trace& trace);

}  // namespace rrefsim::traces
