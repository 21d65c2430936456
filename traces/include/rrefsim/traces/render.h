// Reading a trace as a person: one-line event descriptions, a comparison of two traces for replay, and the text and
// Mermaid renderings of `rrefsim render`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rrefsim/traces/trace.h"

namespace rrefsim::traces {

// `text` with every byte outside printable ASCII written as \xNN, for messages that quote input (a trace file's
// bytes may be anything).
std::string Printable(std::string_view text);

// "step 8  12.034 ms  w2 deliver   RREF_FORK_REQUEST#3 1->2 rref=(1,0) fork=(1,1)", without the state changes.
std::string DescribeEvent(const TraceEvent& event);

// Where a replayed trace first differs from the recorded one. tool_version is ignored (a replay may run another
// build); everything else is compared: events in order, then the verdict, the final state and the choices.
struct Divergence {
  std::string what;        // "event 12", "verdict", "state of worker 2", "choice 3", "inputs (...)"
  std::uint64_t step = 0;  // the step of the divergent event (else of the recorded first violation, else 0)
  std::string expected;
  std::string got;
};
std::optional<Divergence> FindDivergence(const Trace& expected, const Trace& got);

// Text: the events around the failure (the last kWindow events up to the failing step, plus every event touching the
// RRefs and forks the violation names), each worker's relevant state at the end of the recorded run (the failing step
// when a checker stopped it), and the explanation.
std::string RenderText(const Trace& trace);
// A Mermaid sequenceDiagram of the same events: one participant per worker, an arrow per delivered, dropped or
// refused message (labelled with type, rref and fork), notes for core events, observations and the violation.
std::string RenderMermaid(const Trace& trace);

inline constexpr std::size_t kWindow = 40;

}  // namespace rrefsim::traces
