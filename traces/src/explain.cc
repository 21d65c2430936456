// Explain: one paragraph on a violation, for the verdict of a trace and for `rrefsim render`.
#include <array>
#include <string_view>
#include <utility>

#include "analysis.h"
#include "rrefsim/traces/render.h"
#include "text.h"

namespace rrefsim::traces {
namespace {

using detail::IdText;

// What each checker's invariant demands (rref-protocol.md §7, docs/glossary.md).
constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kInvariants = {{
    {"protocol_error",
     "No PyTorch protocol assertion (rref-protocol.md §6) may fire unless the scenario expects it."},
    {"unique_fork_ids",
     "Every ForkId is generated once: at most one live UserRRef instance per fork, and never a UserRRef on the RRef's "
     "own owner (I1)."},
    {"no_premature_delete",
     "The owner keeps its OwnerRRef while any UserRRef of it is alive or any fork of it is in flight, and never "
     "processes a fetch or fork request for an RRef it already deleted (I2)."},
    {"parent_pinned_until_child_confirmed",
     "A parent UserRRef stays pinned in pendingChildren_ until its child's RREF_CHILD_ACCEPT is processed, so the "
     "parent sends no RREF_USER_DELETE before the owner knows the child (I3, G2)."},
    {"child_confirmed_before_accept",
     "A child sends RREF_CHILD_ACCEPT only after the owner processed its RREF_FORK_REQUEST (I4)."},
    {"creator_pinned_until_ack",
     "The creator's UserRRef stays in pendingUsers_ until the REMOTE_RET (or an error) of its remote() is processed, "
     "and sends no RREF_USER_DELETE before (I5)."},
    {"udf_runs_after_args_confirmed",
     "A user function runs only after the owner confirmed every user-to-user RRef in its arguments (I6)."},
    {"owner_notified_of_every_delete",
     "Every destroyed UserRRef sends exactly one RREF_USER_DELETE, which the owner eventually processes when faults "
     "are bounded (I8, G1)."},
    {"owner_view_monotonic",
     "The owner adds each fork at most once and before deleting it; a fork request for a fork it already deleted "
     "resurrects that fork (I10)."},
    {"fork_tree_rooted_at_owner",
     "The forks of an RRef form a tree rooted at its owner: each fork is pickled by the owner or a live user, and one "
     "fork id names one edge (rref-protocol.md §7)."},
    {"to_here_value", "to_here returns the value the RRef was created with, or the error the scenario expects."},
    {"clean_at_quiescence",
     "At quiescence the owner's forks_ match the live UserRRefs, and once no application reference remains every "
     "worker's owners_, forks_, pendingUsers_, pendingChildren_ and pendingOwners_ are empty with no pending future "
     "(I7, I9)."},
    {"no_orphan_waiter",
     "Every fetch waiting in pendingOwners_ is completed by the owner's creation; one whose RRef can never be created "
     "waits forever (I11)."},
    {"worker_abort", "No worker process terminates (std::terminate, rref-protocol.md §9.3) unless the scenario expects it."},
    {"deadlock", "A run ends with nothing waiting: no fiber or pool work blocked with nothing left to wake it."},
    {"no_quiescence", "After the network heals, the run reaches quiescence within its safety bounds."},
}};

std::string InvariantOf(const std::string& checker) {
  for (const auto& [id, text] : kInvariants) {
    if (id == checker) return std::string(text);
  }
  return "The checker " + checker + " fired.";
}

// "a, b and c".
std::string Join(const std::vector<std::string>& items) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  }
  return text;
}

// The checkers stop a run at the first step where one fires; a failing run that was not stopped failed in an
// end-of-run check (expected violations never stop a run, so they come from a step).
bool FoundAtEnd(const Trace& trace, const checkers::Violation& v) {
  if (trace.verdict.outcome == "stopped") return false;
  for (const checkers::Violation& x : trace.verdict.violations) {
    if (x.checker == v.checker && x.step == v.step && x.text == v.text) return true;
  }
  return false;
}

std::string Trigger(const Trace& trace, const checkers::Violation& v) {
  std::optional<std::size_t> index = detail::TriggerOf(trace, v);
  if (!index || FoundAtEnd(trace, v)) {
    return "It was found at the end of the run (" + trace.verdict.outcome +
           (trace.verdict.detail.empty() ? "" : ": " + trace.verdict.detail) + ").";
  }
  const TraceEvent& e = trace.events[*index];
  std::string what;
  if (e.kind == "deliver") {
    what = "worker " + std::to_string(e.worker) + " processing " + core::Describe(*e.message);
  } else if (e.message) {
    const std::string how = e.kind == "send"          ? "sending "
                            : e.kind == "drop"        ? "sending (the network lost it) "
                            : e.kind == "send_failed" ? "sending (refused at the sender) "
                            : e.kind == "queued"      ? "receiving (queued: no free handler) "
                                                      : "receiving (after it aborted) ";
    what = "worker " + std::to_string(e.worker) + " " + how + core::Describe(*e.message);
  } else if (e.event) {
    what = "worker " + std::to_string(e.worker) + ": " + detail::CoreEventText(*e.event);
  } else if (e.kind == "quiescent") {
    what = "the run reaching quiescence (every live worker in join, nothing in flight)";
  } else {
    what = (e.worker >= 0 ? "worker " + std::to_string(e.worker) + " " : "") + e.kind +
           (e.text.empty() ? "" : " (" + e.text + ")");
  }
  std::string text = "The step that triggered it, step " + std::to_string(e.step) + " at " + detail::Ms(e.time) +
                     " (" + (e.fiber.empty() ? "no fiber" : e.fiber) + "), was " + what + ".";
  std::vector<std::string> changes;
  for (std::size_t i = *index; i < trace.events.size() && trace.events[i].step == e.step; ++i) {
    for (const StateChange& c : trace.events[i].changes) {
      if (changes.size() < 4) changes.push_back("worker " + std::to_string(c.worker) + " " + c.change);
    }
  }
  if (!changes.empty()) text += " That step changed: " + Join(changes) + ".";
  return text;
}

std::string Names(const detail::Involved& involved) {
  std::vector<std::string> rrefs, forks, workers;
  for (const core::RRefId& r : involved.rrefs) {
    auto owner = involved.owners.find(r);
    rrefs.push_back(IdText(r) + (owner == involved.owners.end() ? "" : " owned by worker " + std::to_string(owner->second)));
  }
  for (const core::ForkId& f : involved.forks) {
    if (!involved.rrefs.contains(f)) forks.push_back(IdText(f));
  }
  for (int w : involved.workers) workers.push_back(std::to_string(w));
  std::vector<std::string> parts;
  if (!rrefs.empty()) parts.push_back((rrefs.size() == 1 ? "RRef " : "RRefs ") + Join(rrefs));
  if (!forks.empty()) parts.push_back((forks.size() == 1 ? "fork " : "forks ") + Join(forks));
  if (!workers.empty()) parts.push_back((workers.size() == 1 ? "worker " : "workers ") + Join(workers));
  std::string joined;
  for (const std::string& part : parts) joined += (joined.empty() ? "" : "; ") + part;
  return parts.empty() ? "" : " Involved: " + joined + ".";
}

}  // namespace

std::string Explain(const checkers::Violation& v, const Trace& trace) {
  std::string text = InvariantOf(v.checker) + " Violated (" + v.checker + ") at step " + std::to_string(v.step) +
                     ", " + detail::Ms(v.time) + ": " + v.text + (v.text.ends_with(".") ? " " : ". ") +
                     Trigger(trace, v);
  return text + Names(detail::FindInvolved(v, trace));
}

}  // namespace rrefsim::traces
