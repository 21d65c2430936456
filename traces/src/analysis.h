// Internal: what a violation is about, read from its text and the trace (the RRefs, forks and workers it names), and
// which events a reader should see around it. Shared by Explain and the renderings.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "rrefsim/traces/trace.h"

namespace rrefsim::traces::detail {

struct Involved {
  std::set<core::RRefId> rrefs;
  std::set<core::ForkId> forks;
  std::set<int> workers;
  std::map<core::RRefId, int> owners;  // the owner of each involved RRef, where the trace tells
  bool empty() const { return rrefs.empty() && forks.empty(); }
};

// The ids "(a,b)" and "worker N" in the violation's text, sorted into RRefs and forks by how the trace uses them;
// each fork adds its RRef, each RRef its owner.
Involved FindInvolved(const checkers::Violation& violation, const Trace& trace);
// The event mentions an involved RRef or fork (in its message, core event or state changes).
bool Touches(const TraceEvent& event, const Involved& involved);

// The violation a reader wants explained: the first one, else the first expected one, else nullptr.
const checkers::Violation* MainViolation(const Trace& trace);
// The index of the event that triggered `violation`, among the events of its step (at its time, when some are): the
// last message touching what it names, else the last delivery, else the last message, else the last event; nullopt
// when no event has that step.
std::optional<std::size_t> TriggerOf(const Trace& trace, const checkers::Violation& violation);
// Indices of the events to show: the last kWindow events up to the failing step, every event of that step, and every
// event touching what the main violation names.
std::vector<std::size_t> SelectEvents(const Trace& trace);

}  // namespace rrefsim::traces::detail
