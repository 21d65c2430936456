// `rrefsim render`: a trace as a message-sequence listing with the state at the failing step (text), or as a Mermaid
// sequenceDiagram.
#include "rrefsim/traces/render.h"

#include <variant>

#include "analysis.h"
#include "text.h"

namespace rrefsim::traces {
namespace {

using detail::IdText;

std::uint64_t FailingStep(const Trace& trace) {
  const checkers::Violation* v = detail::MainViolation(trace);
  if (v) return v->step;
  return trace.events.empty() ? 0 : trace.events.back().step;
}

std::string ViolationLine(const char* label, const checkers::Violation& v) {
  return std::string("  ") + label + " " + v.checker + " at step " + std::to_string(v.step) + " (" +
         detail::Ms(v.time) + "): " + v.text + "\n";
}

// Words wrapped at `width` columns, each line indented by `indent`.
std::string Wrap(const std::string& text, std::size_t width, const std::string& indent) {
  std::string out, line;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t space = text.find(' ', i);
    std::string word = text.substr(i, space == std::string::npos ? std::string::npos : space - i);
    i = space == std::string::npos ? text.size() : space + 1;
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

std::string Header(const Trace& t) {
  std::string overrides;
  for (const std::string& o : t.config.fault_overrides) overrides += (overrides.empty() ? " [" : " ") + o;
  if (!overrides.empty()) overrides += "]";
  std::string text = "trace of " + t.scenario_name + ", seed " + std::to_string(t.seed) + ", faults " +
                     t.config.fault_profile + overrides + ", strategy " + t.config.strategy + " (rrefsim " +
                     t.tool_version + ")\n";
  text += "verdict: " + t.verdict.outcome + (t.verdict.detail.empty() ? "" : " (" + t.verdict.detail + ")") + "\n";
  for (const checkers::Violation& v : t.verdict.violations) text += ViolationLine("VIOLATION", v);
  for (const checkers::Violation& v : t.verdict.expected_violations) text += ViolationLine("expected", v);
  return text;
}

std::string InvolvedText(const detail::Involved& involved) {
  std::string text;
  for (const core::RRefId& r : involved.rrefs) text += (text.empty() ? "" : ", ") + ("RRef " + IdText(r));
  for (const core::ForkId& f : involved.forks) {
    if (!involved.rrefs.contains(f)) text += (text.empty() ? "" : ", ") + ("fork " + IdText(f));
  }
  return text;
}

std::string Events(const Trace& t, const detail::Involved& involved) {
  std::vector<std::size_t> picked = detail::SelectEvents(t);
  std::string text = "events (" + std::to_string(picked.size()) + " of " + std::to_string(t.events.size()) +
                     ": the last " + std::to_string(kWindow) + " up to step " + std::to_string(FailingStep(t));
  std::string named = InvolvedText(involved);
  text += (named.empty() ? "" : ", and every event touching " + named) + "):\n";
  std::size_t next = 0;
  for (std::size_t i : picked) {
    if (i > next) text += "  ... " + std::to_string(i - next) + " event(s) not shown\n";
    const TraceEvent& e = t.events[i];
    text += "  " + DescribeEvent(e) + "\n";
    for (const StateChange& c : e.changes) text += "        | w" + std::to_string(c.worker) + " " + c.change + "\n";
    next = i + 1;
  }
  if (next < t.events.size()) text += "  ... " + std::to_string(t.events.size() - next) + " event(s) not shown\n";
  return text;
}

// One worker's map entries that concern the involved RRefs and forks (all of them when the violation names none).
std::string WorkerState(const core::ContextView& v, const detail::Involved& involved) {
  auto keep = [&involved](const core::GloballyUniqueId& id) {
    return involved.empty() || involved.rrefs.contains(id) || involved.forks.contains(id);
  };
  std::vector<std::string> lines;
  auto list = [&](const char* name, const std::vector<core::GloballyUniqueId>& ids) {
    std::string items;
    for (const core::GloballyUniqueId& id : ids) items += keep(id) ? " " + IdText(id) : "";
    if (!items.empty()) lines.push_back(std::string(name) + ":" + items);
  };
  list("owners_", v.owners);
  for (const auto& [rref, forks] : v.forks) {
    bool any = keep(rref);
    for (const core::ForkId& f : forks) any = any || keep(f);
    std::string items;
    for (const core::ForkId& f : forks) items += " " + IdText(f);
    if (any) lines.push_back("forks_[" + IdText(rref) + "]:" + (items.empty() ? " (empty)" : items));
  }
  list("pendingUsers_", v.pending_users);
  for (const auto& [child, parent] : v.pending_children) {
    if (keep(child) || keep(parent)) lines.push_back("pendingChildren_[" + IdText(child) + "] = " + IdText(parent));
  }
  for (const auto& [rref, n] : v.pending_owners) {
    if (keep(rref)) lines.push_back("pendingOwners_[" + IdText(rref) + "] = " + std::to_string(n));
  }
  for (const core::UserRRefView& u : v.users) {
    if (keep(u.rref_id) || keep(u.fork_id)) lines.push_back("UserRRef " + detail::UserText(u));
  }
  for (const core::OwnerRRefView& o : v.owner_rrefs) {
    if (keep(o.rref_id)) lines.push_back("OwnerRRef " + detail::OwnerText(o));
  }
  const core::DebugInfo& d = v.debug;
  lines.push_back("debug: num_owner_rrefs " + std::to_string(d.num_owner_rrefs) + ", num_forks " +
                  std::to_string(d.num_forks) + ", num_pending_users " + std::to_string(d.num_pending_users) +
                  ", num_pending_futures " + std::to_string(d.num_pending_futures) +
                  (v.aborted ? "; aborted" : v.destroyed ? "; context destroyed" : ""));
  std::string text = "  worker " + std::to_string(v.worker) + ":\n";
  for (const std::string& line : lines) text += "    " + line + "\n";
  return text;
}

// Mermaid message text: no ';' or '#' (statement separator, entity codes) and no line break.
std::string Label(std::string text) {
  for (char& c : text) {
    if (c == ';') c = ',';
    if (c == '#') c = ' ';
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

std::string MessageLabel(const core::Message& m) {
  std::string text = std::string(core::MessageTypeName(m.type)) + " " + std::to_string(m.id);
  if (m.rref_id.valid()) text += " rref " + IdText(m.rref_id);
  if (m.fork_id.valid()) text += " fork " + IdText(m.fork_id);
  for (const core::ForkData& f : m.value.rrefs) text += " [rref " + IdText(f.rref_id) + " fork " + IdText(f.fork_id) + "]";
  if (m.empty_payload) text += " (empty payload)";
  return Label(text);
}

std::string Participant(int worker) { return "w" + std::to_string(worker); }

std::string MermaidEvent(const TraceEvent& e, int workers) {
  auto valid = [workers](int w) { return w >= 0 && w < workers; };
  const std::string at = "s" + std::to_string(e.step) + " ";
  if (e.message && valid(e.message->from) && valid(e.message->to)) {
    const std::string from = Participant(e.message->from), to = Participant(e.message->to);
    if (e.kind == "deliver") return "  " + from + "->>" + to + ": " + at + MessageLabel(*e.message) + "\n";
    if (e.kind == "drop") return "  " + from + "--x" + to + ": " + at + "lost " + MessageLabel(*e.message) + "\n";
    if (e.kind == "send_failed") return "  " + from + "-x" + to + ": " + at + "refused " + MessageLabel(*e.message) + "\n";
    if (e.kind == "lost") return "  " + from + "--x" + to + ": " + at + "to a dead worker " + MessageLabel(*e.message) + "\n";
  }
  if (!valid(e.worker)) return "";
  const std::string over = "  Note over " + Participant(e.worker) + ": " + at;
  if (e.event) return over + Label(detail::CoreEventText(*e.event)) + "\n";
  if (e.kind == "queued") return over + "queued (no free handler) " + MessageLabel(*e.message) + "\n";
  if (e.kind == "observation") return over + Label(e.where + ": " + e.text) + "\n";
  if (e.kind == "timers") return over + Label("timers: " + e.text) + "\n";
  return "";  // sends are drawn at their delivery
}

}  // namespace

std::string RenderText(const Trace& t) {
  const checkers::Violation* v = detail::MainViolation(t);
  detail::Involved involved = v ? detail::FindInvolved(*v, t) : detail::Involved{};
  std::string text = Header(t) + "\n" + Events(t, involved) + "\n";
  std::string named = InvolvedText(involved);
  // The recorded state is that of the run's end, which is the failing step when a checker stopped the run.
  const std::uint64_t end = t.events.empty() ? 0 : t.events.back().step;
  text += "state at step " + std::to_string(end) +
          (t.verdict.outcome == "stopped" ? ", the failing step" : ", the end of the run") +
          (named.empty() ? "" : " (entries about " + named + ", and every worker's counters)") + ":\n";
  for (const core::ContextView& view : t.state) text += WorkerState(view, involved);
  text += "\nexplanation:\n" + Wrap(t.verdict.explanation.empty() ? "(none)" : t.verdict.explanation, 110, "  ");
  return text;
}

std::string RenderMermaid(const Trace& t) {
  const int workers = static_cast<int>(t.state.size());
  std::string text = "sequenceDiagram\n";
  for (int w = 0; w < workers; ++w) text += "  participant " + Participant(w) + " as worker " + std::to_string(w) + "\n";
  const std::string all = workers > 1 ? Participant(0) + "," + Participant(workers - 1) : Participant(0);
  if (workers > 0) {
    text += "  Note over " + all + ": " + Label(t.scenario_name + " seed " + std::to_string(t.seed) + " under " +
                                               t.config.fault_profile + ", " + t.verdict.outcome) + "\n";
  }
  std::size_t next = 0;
  for (std::size_t i : detail::SelectEvents(t)) {
    if (i > next && workers > 0) text += "  Note over " + all + ": " + std::to_string(i - next) + " event(s) not shown\n";
    text += MermaidEvent(t.events[i], workers);
    next = i + 1;
  }
  const checkers::Violation* v = detail::MainViolation(t);
  if (v && workers > 0) {
    detail::Involved involved = detail::FindInvolved(*v, t);
    std::string over = all;
    if (!involved.workers.empty() && *involved.workers.begin() >= 0 && *involved.workers.rbegin() < workers) {
      over = Participant(*involved.workers.begin());
      if (involved.workers.size() > 1) over += "," + Participant(*involved.workers.rbegin());
    }
    const bool expected = t.verdict.violations.empty();
    text += "  Note over " + over + ": " + (expected ? "expected " : "VIOLATION ") +
            Label(v->checker + " at step " + std::to_string(v->step) + ": " + v->text) + "\n";
  }
  return text;
}

}  // namespace rrefsim::traces
