// FindDivergence: where a replayed trace first differs from the recorded one.
#include <algorithm>

#include "json_internal.h"
#include "rrefsim/traces/render.h"

namespace rrefsim::traces {
namespace {

std::string EventText(const TraceEvent& e) {
  std::string text = DescribeEvent(e);
  for (const StateChange& c : e.changes) text += "\n    | w" + std::to_string(c.worker) + " " + c.change;
  return text;
}

std::string VerdictText(const TraceVerdict& v) {
  std::string text = v.outcome + (v.detail.empty() ? "" : " (" + v.detail + ")");
  for (const checkers::Violation& x : v.violations) {
    text += "; " + x.checker + " at step " + std::to_string(x.step) + ": " + x.text;
  }
  for (const checkers::Violation& x : v.expected_violations) {
    text += "; expected " + x.checker + " at step " + std::to_string(x.step) + ": " + x.text;
  }
  return text;
}

std::optional<Divergence> CompareEvents(const Trace& expected, const Trace& got) {
  const std::size_t n = std::min(expected.events.size(), got.events.size());
  for (std::size_t i = 0; i < n; ++i) {
    const TraceEvent& a = expected.events[i];
    const TraceEvent& b = got.events[i];
    if (detail::Compact(detail::EventJson(a)) == detail::Compact(detail::EventJson(b))) continue;
    std::string ta = EventText(a), tb = EventText(b);
    if (ta == tb) {  // the difference is in a field the description leaves out
      ta = detail::Compact(detail::EventJson(a));
      tb = detail::Compact(detail::EventJson(b));
    }
    return Divergence{"event " + std::to_string(i), a.step, ta, tb};
  }
  if (expected.events.size() == got.events.size()) return std::nullopt;
  const bool longer = got.events.size() > n;
  const TraceEvent& extra = longer ? got.events[n] : expected.events[n];
  std::string none = "(no event: the run ended after " + std::to_string(n) + " events)";
  return Divergence{"event " + std::to_string(n), extra.step,
                    longer ? none : EventText(extra), longer ? EventText(extra) : none};
}

}  // namespace

std::optional<Divergence> FindDivergence(const Trace& expected, const Trace& got) {
  if (std::optional<Divergence> d = CompareEvents(expected, got)) return d;
  const checkers::Violation* first = expected.verdict.violations.empty() ? nullptr : &expected.verdict.violations[0];
  const std::uint64_t step = first ? first->step : 0;
  if (detail::Compact(detail::VerdictJson(expected.verdict)) != detail::Compact(detail::VerdictJson(got.verdict))) {
    std::string a = VerdictText(expected.verdict), b = VerdictText(got.verdict);
    if (a == b) {
      a = expected.verdict.explanation;
      b = got.verdict.explanation;
    }
    return Divergence{"verdict", step, a, b};
  }
  const std::size_t workers = std::max(expected.state.size(), got.state.size());
  for (std::size_t w = 0; w < workers; ++w) {
    std::string a = w < expected.state.size() ? detail::Compact(detail::ViewJson(expected.state[w])) : "(none)";
    std::string b = w < got.state.size() ? detail::Compact(detail::ViewJson(got.state[w])) : "(none)";
    if (a != b) return Divergence{"state of worker " + std::to_string(w), step, a, b};
  }
  if (expected.choices != got.choices) {
    std::size_t i = 0;
    while (i < expected.choices.size() && i < got.choices.size() && expected.choices[i] == got.choices[i]) ++i;
    auto text = [i](const std::vector<TraceChoice>& list) {
      if (i >= list.size()) return "(no choice " + std::to_string(i) + ": " + std::to_string(list.size()) + " in all)";
      const TraceChoice& c = list[i];
      return c.kind + " pick " + std::to_string(c.pick) + " of " + std::to_string(c.options) + ", key " +
             std::to_string(c.key);
    };
    return Divergence{"choice " + std::to_string(i), step, text(expected.choices), text(got.choices)};
  }
  // The inputs, in their canonical form (a trace without choices, events, verdict or state; no tool version).
  auto inputs = [](const Trace& t) {
    Trace copy;
    copy.scenario_name = t.scenario_name;
    copy.scenario = t.scenario;
    copy.seed = t.seed;
    copy.config = t.config;
    return WriteTrace(copy);
  };
  std::string a = inputs(expected), b = inputs(got);
  if (a != b) return Divergence{"inputs (scenario, seed or config)", 0, a, b};
  return std::nullopt;
}

}  // namespace rrefsim::traces
