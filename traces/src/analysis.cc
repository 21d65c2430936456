#include "analysis.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <variant>

#include "rrefsim/traces/render.h"
#include "text.h"

namespace rrefsim::traces::detail {
namespace {

// Every RRef and fork id the trace uses, and what it knows of each fork's RRef and each RRef's owner.
struct Catalogue {
  std::set<core::RRefId> rrefs;
  std::map<core::ForkId, core::RRefId> forks;  // fork -> its RRef (invalid when unknown)
  std::map<core::RRefId, int> owners;

  void Fork(const core::ForkId& fork, const core::RRefId& rref) {
    core::RRefId& known = forks[fork];
    if (rref.valid()) known = rref;
  }
  void Message(const core::Message& m) {
    if (m.rref_id.valid()) rrefs.insert(m.rref_id);
    if (m.fork_id.valid()) Fork(m.fork_id, m.rref_id);
    for (const core::ForkData& f : m.value.rrefs) {
      rrefs.insert(f.rref_id);
      Fork(f.fork_id, f.rref_id);
      owners.emplace(f.rref_id, f.owner);
    }
    const bool remote = m.type == core::MessageType::SCRIPT_REMOTE_CALL || m.type == core::MessageType::PYTHON_REMOTE_CALL;
    if (remote && m.rref_id.valid()) owners.emplace(m.rref_id, m.to);
  }
  void View(const core::ContextView& v) {
    for (const core::RRefId& r : v.owners) {
      rrefs.insert(r);
      owners.emplace(r, v.worker);
    }
    for (const auto& [rref, list] : v.forks) {
      rrefs.insert(rref);
      owners.emplace(rref, v.worker);
      for (const core::ForkId& f : list) Fork(f, rref);
    }
    for (const core::UserRRefView& u : v.users) {
      rrefs.insert(u.rref_id);
      Fork(u.fork_id, u.rref_id);
      owners.emplace(u.rref_id, u.owner);
    }
    for (const core::ForkId& f : v.pending_users) Fork(f, core::RRefId{});
    for (const auto& [child, parent] : v.pending_children) {
      Fork(child, core::RRefId{});
      Fork(parent, core::RRefId{});
    }
  }
  explicit Catalogue(const Trace& trace) {
    for (const TraceEvent& e : trace.events) {
      if (e.message) Message(*e.message);
      if (const auto* d = e.event ? std::get_if<core::UserRRefDestroyed>(&*e.event) : nullptr) {
        rrefs.insert(d->rref_id);
        Fork(d->fork_id, d->rref_id);
      }
      if (const auto* f = e.event ? std::get_if<core::OwnerRRefFreed>(&*e.event) : nullptr) rrefs.insert(f->rref_id);
    }
    for (const core::ContextView& v : trace.state) View(v);
  }
};

// Parses "(a,b)" at text[i]; advances i past it.
std::optional<core::GloballyUniqueId> ParseId(const std::string& text, std::size_t& i) {
  std::size_t j = i + 1;
  auto number = [&](std::int64_t& out) {
    bool negative = j < text.size() && text[j] == '-';
    if (negative) ++j;
    std::size_t start = j;
    std::int64_t v = 0;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && j - start < 15) v = v * 10 + (text[j++] - '0');
    out = negative ? -v : v;
    return j > start;
  };
  std::int64_t a = 0, b = 0;
  if (!number(a) || j >= text.size() || text[j] != ',') return std::nullopt;
  ++j;
  if (!number(b) || j >= text.size() || text[j] != ')') return std::nullopt;
  i = j;
  return core::GloballyUniqueId{static_cast<core::WorkerId>(a), b};
}

bool Mentions(const std::string& text, const Involved& involved) {
  for (const core::RRefId& r : involved.rrefs) {
    if (text.find(IdText(r)) != std::string::npos) return true;
  }
  for (const core::ForkId& f : involved.forks) {
    if (text.find(IdText(f)) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Involved FindInvolved(const checkers::Violation& violation, const Trace& trace) {
  Catalogue known(trace);
  Involved out;
  const std::string& text = violation.text;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      std::optional<core::GloballyUniqueId> id = ParseId(text, i);
      if (!id || !id->valid()) continue;
      bool rref = known.rrefs.contains(*id);
      bool fork = known.forks.contains(*id);
      if (rref) out.rrefs.insert(*id);
      if (fork || !rref) out.forks.insert(*id);  // an id the trace never used: most checkers name forks
    } else if (text.compare(i, 7, "worker ") == 0 && i + 7 < text.size() &&
               std::isdigit(static_cast<unsigned char>(text[i + 7]))) {
      out.workers.insert(std::atoi(text.c_str() + i + 7));
    }
  }
  for (const core::ForkId& f : out.forks) {
    auto it = known.forks.find(f);
    if (it != known.forks.end() && it->second.valid()) out.rrefs.insert(it->second);
  }
  for (const core::RRefId& r : out.rrefs) {
    auto it = known.owners.find(r);
    if (it == known.owners.end()) continue;
    out.owners[r] = it->second;
    out.workers.insert(it->second);
  }
  return out;
}

bool Touches(const TraceEvent& e, const Involved& involved) {
  if (involved.empty()) return false;
  auto id = [&](const core::GloballyUniqueId& x) { return involved.rrefs.contains(x) || involved.forks.contains(x); };
  if (e.message) {
    if (id(e.message->rref_id) || id(e.message->fork_id)) return true;
    for (const core::ForkData& f : e.message->value.rrefs) {
      if (id(f.rref_id) || id(f.fork_id)) return true;
    }
  }
  if (e.event && Mentions(CoreEventText(*e.event), involved)) return true;
  for (const StateChange& c : e.changes) {
    if (Mentions(c.change, involved)) return true;
  }
  return false;
}

const checkers::Violation* MainViolation(const Trace& trace) {
  if (!trace.verdict.violations.empty()) return &trace.verdict.violations.front();
  if (!trace.verdict.expected_violations.empty()) return &trace.verdict.expected_violations.front();
  return nullptr;
}

std::optional<std::size_t> TriggerOf(const Trace& trace, const checkers::Violation& v) {
  // A step may span a jump of virtual time (deliveries, then timers at a later instant); the checkers look at the
  // step's end, so the events at the violation's own time come first when there are any.
  bool same_time = false;
  for (const TraceEvent& e : trace.events) same_time = same_time || (e.step == v.step && e.time == v.time);
  Involved involved = FindInvolved(v, trace);
  std::optional<std::size_t> touching, deliver, message, any;
  for (std::size_t i = 0; i < trace.events.size(); ++i) {
    const TraceEvent& e = trace.events[i];
    if (e.step != v.step || (same_time && e.time != v.time)) continue;
    any = i;
    if (e.message) message = i;
    if (e.kind == "deliver") deliver = i;
    if (e.message && Touches(e, involved)) touching = i;
  }
  return touching ? touching : deliver ? deliver : message ? message : any;
}

std::vector<std::size_t> SelectEvents(const Trace& trace) {
  const checkers::Violation* v = MainViolation(trace);
  const std::size_t n = trace.events.size();
  std::uint64_t failing = v ? v->step : (n == 0 ? 0 : trace.events.back().step);
  std::size_t end = 0;  // one past the last event of the failing step
  while (end < n && trace.events[end].step <= failing) ++end;
  const std::size_t begin = end > kWindow ? end - kWindow : 0;
  Involved involved = v ? FindInvolved(*v, trace) : Involved{};
  std::vector<std::size_t> picked;
  for (std::size_t i = 0; i < n; ++i) {
    if ((i >= begin && i < end) || Touches(trace.events[i], involved)) picked.push_back(i);
  }
  return picked;
}

}  // namespace rrefsim::traces::detail
