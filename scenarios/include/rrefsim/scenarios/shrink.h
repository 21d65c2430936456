// Shrinking a failing trace (`rrefsim shrink`, docs/cli.md "Shrinking"): a smaller run that still fails with the
// same first checker. Candidates (fewer ops, programs, functions, workers and faults, simpler integers, fewer
// non-zero choices) run under a sim::LenientReplayChooser over the current choices, then under a few fresh random
// schedules; a candidate is kept when the first violation names the same checker and the run costs less (events and
// sizes, shrink_search.h), and its re-recorded choices become the current ones. The passes repeat, with a seed
// search of the current scenario when none helps, until nothing makes progress or the time budget is spent. The
// result is recorded again with a strict replay, so it replays as any trace does. Deterministic up to the budget.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "rrefsim/traces/trace.h"

namespace rrefsim::scenarios {

// The sizes `rrefsim shrink` prints. `length` is the measure of docs/cli.md: the trace's events.
struct TraceSize {
  std::uint64_t ops = 0;        // every op of every program and function, nested ones included
  std::uint64_t workers = 0;
  std::uint64_t functions = 0;
  std::uint64_t choices = 0;
  std::uint64_t events = 0;
  std::uint64_t faults = 0;     // injected faults: drop, duplicate and partition coins that picked the fault
  std::uint64_t length() const { return events; }
};
// Sizes of a trace whose scenario decodes (ops, workers and functions are 0 otherwise).
TraceSize SizeOf(const traces::Trace& trace);

struct ShrinkOptions {
  double time_limit_seconds = 30;
};

struct ShrinkResult {
  std::string error;                   // why there is nothing to shrink (bad scenario or config, a passing run)
  std::optional<traces::Trace> trace;  // the smallest failing run found, recorded with a strict replay
  std::string checker;                 // the first violated checker, before and after
  TraceSize before, after;
  std::uint64_t candidates = 0;        // runs tried
  std::uint64_t accepted = 0;          // runs kept
  bool timed_out = false;              // the budget ran out before a fixpoint
  double seconds = 0;
};

ShrinkResult Shrink(const traces::Trace& trace, const ShrinkOptions& options);

}  // namespace rrefsim::scenarios
