#include "rrefsim/scenarios/shrink.h"

#include <chrono>

#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/scenarios/trace_scenario.h"
#include "shrink_search.h"

namespace rrefsim::scenarios {
namespace {

using Clock = std::chrono::steady_clock;

// Fresh random schedules tried when no pass makes progress.
constexpr std::uint64_t kSchedules = 2000;

// The passes, cheapest and most productive first, until a round keeps nothing or the time is spent.
bool ShrinkToFixpoint(shrink::Search& search) {
  for (;;) {
    bool progress = false;
    for (const shrink::Pass& pass : shrink::FaultPasses()) progress |= shrink::RunPass(search, pass);
    progress |= shrink::CutChoices(search);
    for (const shrink::Pass& pass : shrink::ScenarioPasses()) progress |= shrink::RunPass(search, pass);
    if (!progress) progress = shrink::Reseed(search, kSchedules);
    if (search.expired()) return false;
    if (!progress) return true;
  }
}

// The current run recorded again with a strict replay of its choices: a trace like any other.
std::optional<traces::Trace> Record(const shrink::Candidate& c, std::uint64_t seed, std::string* error) {
  RunConfigResult config = RunConfigOf(c.config);
  if (!config.config) {
    *error = config.path + ": " + config.error;
    return std::nullopt;
  }
  sim::ReplayChooser chooser(c.choices);
  return RecordRun(c.entry, c.config, *config.config, seed, chooser).trace;
}

}  // namespace

TraceSize SizeOf(const traces::Trace& trace) {
  TraceSize size;
  size.choices = trace.choices.size();
  size.events = trace.events.size();
  for (const traces::TraceChoice& c : trace.choices) {
    // A partition choice with more than 2 options is the length of a cut, not a fault of its own.
    const bool coin = c.kind == "drop" || c.kind == "duplicate" || (c.kind == "partition" && c.options == 2);
    if (coin && c.pick != 0) ++size.faults;
  }
  DecodedScenario decoded = DecodeScenarioFromTrace(trace.scenario);
  if (decoded.entry) {
    size.ops = shrink::CountOps(*decoded.entry);
    size.workers = static_cast<std::uint64_t>(decoded.entry->scenario.workers);
    size.functions = decoded.entry->scenario.functions.size();
  }
  return size;
}

ShrinkResult Shrink(const traces::Trace& trace, const ShrinkOptions& options) {
  const Clock::time_point start = Clock::now();
  ShrinkResult result;
  result.before = SizeOf(trace);
  if (trace.verdict.violations.empty()) {
    result.error = "the run did not fail (verdict " + trace.verdict.outcome + ", no checker fired): nothing to shrink";
    return result;
  }
  result.checker = trace.verdict.violations.front().checker;
  DecodedScenario decoded = DecodeScenarioFromTrace(trace.scenario);
  if (!decoded.entry) {
    result.error = "/scenario" + decoded.path + ": " + decoded.error;
    return result;
  }
  const auto budget = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.time_limit_seconds));
  shrink::Search search({*decoded.entry, trace.config, FromTraceChoices(trace.choices)}, result.checker,
                        trace.seed, start + budget);
  if (!search.Try(search.current())) {
    result.error = "re-running the trace does not fail with " + result.checker + " (is its scenario or config bad?)";
    return result;
  }
  result.timed_out = !ShrinkToFixpoint(search);
  result.trace = Record(search.current(), trace.seed, &result.error);
  if (result.trace) result.after = SizeOf(*result.trace);
  result.candidates = search.tried();
  result.accepted = search.kept() - 1;  // the first run only re-recorded the input
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace rrefsim::scenarios
