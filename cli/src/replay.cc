// `rrefsim replay TRACE.json [--dump OUT.json]`: rebuilds the run from the trace, replays its choices strictly and
// compares the new trace with the recorded one, event by event.
#include <cstdio>
#include <string>

#include "exit_codes.h"
#include "rrefsim/scenarios/trace_run.h"
#include "trace_commands.h"

namespace rrefsim::cli {
namespace {

// "stopped: unique_fork_ids at step 8: two live UserRRef ..." / "ok, no checker fired".
std::string VerdictLine(const traces::TraceVerdict& v) {
  std::string line = v.outcome;
  if (!v.violations.empty()) {
    const checkers::Violation& x = v.violations.front();
    return line + ": " + x.checker + " at step " + std::to_string(x.step) + ": " + x.text;
  }
  if (!v.expected_violations.empty()) {
    const checkers::Violation& x = v.expected_violations.front();
    return line + ", with the expected " + x.checker + " at step " + std::to_string(x.step) + ": " + x.text;
  }
  return line + ", no checker fired";
}

// Every line of `text` after the first indented to line up under "  expected: ".
std::string Indent(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? std::string("\n            ") : std::string(1, c);
  return out;
}

}  // namespace

int RunReplay(const std::string& path, const std::string& dump_path) {
  std::optional<traces::Trace> trace = LoadTrace("replay", path);
  if (!trace) return kExitBadInput;
  scenarios::ReplayResult replay = scenarios::ReplayTrace(*trace);
  if (!replay.input_error.empty()) {
    std::fprintf(stderr, "rrefsim replay: %s: %s\n", path.c_str(), traces::Printable(replay.input_error).c_str());
    return kExitBadInput;
  }
  if (!dump_path.empty() && replay.replayed) {
    std::string error;
    if (!WriteWholeFile(dump_path, traces::WriteTrace(*replay.replayed), error)) {
      std::fprintf(stderr, "rrefsim replay: --dump %s: %s\n", dump_path.c_str(), error.c_str());
      return kExitBadInput;
    }
  }
  if (!replay.divergence.empty()) {
    std::printf("replay DIVERGED: %s: %s\n", path.c_str(), replay.divergence.c_str());
    return kExitDivergence;
  }
  if (replay.difference) {
    const traces::Divergence& d = *replay.difference;
    std::printf("replay DIVERGED: %s: first difference at step %llu (%s)\n  expected: %s\n  got:      %s\n",
                path.c_str(), static_cast<unsigned long long>(d.step), d.what.c_str(), Indent(d.expected).c_str(),
                Indent(d.got).c_str());
    return kExitDivergence;
  }
  // An exhaustive search's counterexample has no seed: its choices are the run (docs/explore.md).
  const std::string run = trace->config.strategy == "exhaustive"
                              ? "the exhaustive search's counterexample"
                              : "seed " + std::to_string(trace->seed);
  std::printf("replay ok: %s reproduces %s %s (%zu events, %zu choices): %s\n", path.c_str(),
              trace->scenario_name.c_str(), run.c_str(), trace->events.size(), trace->choices.size(),
              VerdictLine(trace->verdict).c_str());
  return kExitOk;
}

}  // namespace rrefsim::cli
