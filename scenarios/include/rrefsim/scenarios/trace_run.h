// Where the simulator meets traces/: recording a checked catalog run into a traces::Trace, and rebuilding a run from
// a trace to replay it. The trace holds the inputs (scenario, seed, config, choices), so a replay needs nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/world.h"
#include "rrefsim/traces/render.h"
#include "rrefsim/traces/trace.h"

namespace rrefsim::scenarios {

// A trace's config for a run under `config`, whose faults came from sim::MakeFaultConfig(profile, overrides).
// `strategy` and `pct_depth` are informative (the choices replay the run whatever chose them).
traces::TraceConfig TraceConfigOf(const sim::RunConfig& config, const std::string& profile,
                                  const std::vector<std::string>& overrides, const std::string& strategy,
                                  int pct_depth);

// The sim::RunConfig a trace's config stands for (faults re-resolved with sim::MakeFaultConfig), or an error with
// the JSON path of the bad field ("/config/fault_overrides", ...).
struct RunConfigResult {
  std::optional<sim::RunConfig> config;
  std::string path;
  std::string error;
};
RunConfigResult RunConfigOf(const traces::TraceConfig& config);

std::vector<traces::TraceChoice> ToTraceChoices(const std::vector<sim::Choice>& choices);
// Throws std::invalid_argument for a kind sim does not know (ReadTrace has already refused those).
std::vector<sim::Choice> FromTraceChoices(const std::vector<traces::TraceChoice>& choices);

struct RecordedRun {
  traces::Trace trace;
  CheckedRun checked;
};

// Runs `entry` under `run_config` (which `config` describes) with all checkers and a TraceRecorder, choices from
// `chooser`, and returns the trace: inputs, choices, events with state changes, verdict with its explanation and
// the workers' final state. Rethrows what sim::Run throws (sim::ReplayDivergence from a ReplayChooser).
RecordedRun RecordRun(const CatalogEntry& entry, const traces::TraceConfig& config, const sim::RunConfig& run_config,
                      std::uint64_t seed, sim::Chooser& chooser);

// A replay of a recorded trace: the run rebuilt from its scenario and config, with a strict sim::ReplayChooser over
// its choices, recorded again and compared with it.
struct ReplayResult {
  std::string input_error;                     // the scenario or config cannot be rebuilt: "PATH: what was expected"
  std::string divergence;                      // the run asked for other choices, or did not use them all
  std::optional<traces::Trace> replayed;       // the new trace, when the run completed
  std::optional<traces::Divergence> difference;  // its first difference from the recorded trace
  bool reproduced() const { return input_error.empty() && divergence.empty() && replayed && !difference; }
};
ReplayResult ReplayTrace(const traces::Trace& trace);

}  // namespace rrefsim::scenarios
