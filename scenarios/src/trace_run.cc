#include "rrefsim/scenarios/trace_run.h"

#include <stdexcept>

#include "rrefsim/scenarios/trace_scenario.h"
#include "rrefsim/traces/recorder.h"

namespace rrefsim::scenarios {
namespace {

std::string Explanation(const traces::Trace& trace) {
  const traces::TraceVerdict& v = trace.verdict;
  if (!v.violations.empty()) return traces::Explain(v.violations.front(), trace);
  if (!v.expected_violations.empty()) {
    return "Expected by the scenario (a documented PyTorch defect): " +
           traces::Explain(v.expected_violations.front(), trace);
  }
  return "No checker fired: the run ended " + v.outcome + ", as the scenario expects.";
}

// Runs and records; `recorder` keeps what happened up to an exception.
RecordedRun Record(const CatalogEntry& entry, const traces::TraceConfig& config, const sim::RunConfig& run_config,
                   std::uint64_t seed, sim::Chooser& chooser, traces::TraceRecorder& recorder) {
  RecordedRun out;
  out.checked = RunChecked(entry, run_config, chooser, &recorder);
  traces::Trace& t = out.trace;
  t.tool_version = std::string(traces::ToolVersion());
  t.scenario_name = entry.name;
  t.scenario = EncodeScenarioForTrace(entry);
  t.seed = seed;
  t.config = config;
  t.choices = ToTraceChoices(out.checked.run.choices);
  t.events = recorder.TakeEvents();
  t.state = recorder.views();
  t.verdict.outcome = sim::OutcomeName(out.checked.run.outcome);
  t.verdict.detail = out.checked.run.detail;
  t.verdict.violations = out.checked.violations;
  t.verdict.expected_violations = out.checked.expected_violations;
  t.verdict.explanation = Explanation(t);
  return out;
}

}  // namespace

traces::TraceConfig TraceConfigOf(const sim::RunConfig& config, const std::string& profile,
                                  const std::vector<std::string>& overrides, const std::string& strategy,
                                  int pct_depth) {
  traces::TraceConfig c;
  c.protocol = config.mode;
  c.fault_profile = profile;
  c.fault_overrides = overrides;
  c.strategy = strategy;
  c.pct_depth = strategy == "pct" ? pct_depth : 0;
  c.max_steps = config.max_steps;
  c.max_time = config.max_time;
  c.retry_payload = config.retry_payload;
  c.ignore_rref_leak = config.ignore_rref_leak;
  return c;
}

RunConfigResult RunConfigOf(const traces::TraceConfig& c) {
  sim::FaultConfigResult faults = sim::MakeFaultConfig(c.fault_profile, c.fault_overrides);
  if (!faults.config) return {std::nullopt, "/config", faults.error};
  sim::RunConfig config;
  config.faults = *faults.config;
  config.mode = c.protocol;
  config.retry_payload = c.retry_payload;
  config.max_steps = c.max_steps;
  config.max_time = c.max_time;
  config.ignore_rref_leak = c.ignore_rref_leak;
  return {config, "", ""};
}

std::vector<traces::TraceChoice> ToTraceChoices(const std::vector<sim::Choice>& choices) {
  std::vector<traces::TraceChoice> out;
  out.reserve(choices.size());
  for (const sim::Choice& c : choices) {
    out.push_back(traces::TraceChoice{std::string(sim::ChoiceKindName(c.kind)), c.options, c.pick, c.key});
  }
  return out;
}

std::vector<sim::Choice> FromTraceChoices(const std::vector<traces::TraceChoice>& choices) {
  std::vector<sim::Choice> out;
  out.reserve(choices.size());
  for (const traces::TraceChoice& c : choices) {
    std::optional<sim::ChoiceKind> kind = sim::ChoiceKindFromName(c.kind);
    if (!kind) throw std::invalid_argument("unknown choice kind \"" + c.kind + "\"");
    out.push_back(sim::Choice{*kind, c.options, c.pick, c.key});
  }
  return out;
}

RecordedRun RecordRun(const CatalogEntry& entry, const traces::TraceConfig& config, const sim::RunConfig& run_config,
                      std::uint64_t seed, sim::Chooser& chooser) {
  traces::TraceRecorder recorder;
  return Record(entry, config, run_config, seed, chooser, recorder);
}

ReplayResult ReplayTrace(const traces::Trace& trace) {
  ReplayResult result;
  DecodedScenario scenario = DecodeScenarioFromTrace(trace.scenario);
  if (!scenario.entry) {
    result.input_error = "/scenario" + scenario.path + ": " + scenario.error;
    return result;
  }
  if (scenario.entry->name != trace.scenario_name) {
    result.input_error = "/scenario_name: \"" + trace.scenario_name + "\" does not name the scenario (\"" +
                         scenario.entry->name + "\")";
    return result;
  }
  RunConfigResult config = RunConfigOf(trace.config);
  if (!config.config) {
    result.input_error = config.path + ": " + config.error;
    return result;
  }
  sim::ReplayChooser chooser(FromTraceChoices(trace.choices));
  traces::TraceRecorder recorder;
  try {
    RecordedRun run = Record(*scenario.entry, trace.config, *config.config, trace.seed, chooser, recorder);
    if (!chooser.exhausted()) {
      result.divergence = "the replayed run ended after " + std::to_string(run.checked.run.choices.size()) + " of the " +
                          std::to_string(trace.choices.size()) + " recorded choices";
    }
    result.replayed = std::move(run.trace);
  } catch (const sim::ReplayDivergence& e) {
    const std::vector<traces::TraceEvent>& events = recorder.events();
    result.divergence = std::string(e.what()) +
                        (events.empty() ? " (before the first event)"
                                        : " (during step " + std::to_string(events.back().step) + ")");
    return result;
  }
  result.difference = traces::FindDivergence(trace, *result.replayed);
  return result;
}

}  // namespace rrefsim::scenarios
