// The JSON writer: every type of a trace in its documented key order, and the canonical layout of a trace file.
#include <type_traits>
#include <variant>

#include "json_internal.h"
#include "names.h"

namespace rrefsim::traces {

#ifndef RRSIM_VERSION
#error "CMake passes PROJECT_VERSION as RRSIM_VERSION"
#endif
std::string_view ToolVersion() { return RRSIM_VERSION; }

namespace detail {
namespace {

OrderedJson IdsJson(const std::vector<core::GloballyUniqueId>& ids) {
  OrderedJson list = OrderedJson::array();
  for (const core::GloballyUniqueId& id : ids) list.push_back(IdJson(id));
  return list;
}

OrderedJson OptionalString(const std::optional<std::string>& text) {
  return text ? OrderedJson(*text) : OrderedJson(nullptr);
}

OrderedJson ForkDataJson(const core::ForkData& f) {
  OrderedJson j;
  j["owner"] = f.owner;
  j["rref"] = IdJson(f.rref_id);
  j["fork"] = IdJson(f.fork_id);
  j["parent"] = f.parent;
  j["type_str"] = f.type_str;
  return j;
}

OrderedJson AppValueJson(const core::Value& value) {
  OrderedJson handles = OrderedJson::array();
  for (const core::Handle& h : value.rrefs) handles.push_back(h.id);
  OrderedJson j;
  j["payload"] = value.payload;
  j["handles"] = std::move(handles);
  return j;
}

OrderedJson UserJson(const core::UserRRefView& u) {
  OrderedJson j;
  j["handle"] = u.handle.id;
  j["owner"] = u.owner;
  j["rref"] = IdJson(u.rref_id);
  j["fork"] = IdJson(u.fork_id);
  j["type_str"] = u.type_str;
  j["app_refs"] = u.app_refs;
  j["confirmed_by_owner"] = u.confirmed_by_owner;
  j["deleted_on_owner"] = u.deleted_on_owner;
  j["timed_out"] = u.timed_out;
  return j;
}

OrderedJson OwnerJson(const core::OwnerRRefView& o) {
  OrderedJson j;
  j["handle"] = o.handle.id;
  j["rref"] = IdJson(o.rref_id);
  j["type_str"] = o.type_str;
  j["app_refs"] = o.app_refs;
  j["value_set"] = o.value_set;
  j["error"] = OptionalString(o.error);
  j["payload"] = o.payload;
  j["nested"] = IdsJson(o.nested);
  j["timed_out"] = o.timed_out;
  return j;
}

OrderedJson TraceConfigJson(const TraceConfig& c) {
  OrderedJson j;
  j["protocol"] = NameOf(kProtocolModes, c.protocol);
  j["fault_profile"] = c.fault_profile;
  j["fault_overrides"] = c.fault_overrides;
  j["strategy"] = c.strategy;
  j["pct_depth"] = c.pct_depth;
  j["max_steps"] = c.max_steps;
  j["max_time_us"] = c.max_time;
  j["retry_payload"] = NameOf(kRetryPayloads, c.retry_payload);
  j["ignore_rref_leak"] = c.ignore_rref_leak;
  return j;
}

}  // namespace

OrderedJson VerdictJson(const TraceVerdict& v) {
  OrderedJson violations = OrderedJson::array();
  for (const checkers::Violation& x : v.violations) violations.push_back(ViolationJson(x));
  OrderedJson expected = OrderedJson::array();
  for (const checkers::Violation& x : v.expected_violations) expected.push_back(ViolationJson(x));
  OrderedJson j;
  j["outcome"] = v.outcome;
  j["detail"] = v.detail;
  j["violations"] = std::move(violations);
  j["expected_violations"] = std::move(expected);
  j["explanation"] = v.explanation;
  return j;
}

namespace {

// Objects expand down to depth 1 and arrays down to depth 2; anything deeper, and every array element, is written
// on one line. Deterministic: keys keep the order they were inserted in, numbers are integers.
void Layout(const OrderedJson& value, int depth, std::string& out) {
  const bool expand = !value.empty() && ((value.is_object() && depth < 2) || (value.is_array() && depth < 3));
  if (!expand) {
    out += Compact(value);
    return;
  }
  const std::string pad(static_cast<std::size_t>(2 * (depth + 1)), ' ');
  out += value.is_object() ? "{\n" : "[\n";
  bool first = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    out += first ? pad : ",\n" + pad;
    first = false;
    if (value.is_object()) {
      out += Compact(OrderedJson(it.key())) + ": ";
      Layout(it.value(), depth + 1, out);
    } else {
      out += Compact(*it);
    }
  }
  out += "\n" + std::string(static_cast<std::size_t>(2 * depth), ' ') + (value.is_object() ? "}" : "]");
}

}  // namespace

std::string Compact(const OrderedJson& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/true, OrderedJson::error_handler_t::replace);
}

OrderedJson IdJson(const core::GloballyUniqueId& id) { return OrderedJson::array({id.created_on, id.local_id}); }

OrderedJson MessageJson(const core::Message& m) {
  OrderedJson rrefs = OrderedJson::array();
  for (const core::ForkData& f : m.value.rrefs) rrefs.push_back(ForkDataJson(f));
  OrderedJson j;
  j["type"] = core::MessageTypeName(m.type);
  j["id"] = m.id;
  j["from"] = m.from;
  j["to"] = m.to;
  j["rref"] = IdJson(m.rref_id);
  j["fork"] = IdJson(m.fork_id);
  j["function"] = m.function;
  j["type_str"] = m.type_str;
  j["payload"] = m.value.payload;
  j["rrefs"] = std::move(rrefs);
  j["raised"] = OptionalString(m.value.raised);
  j["error"] = m.error;
  j["empty_payload"] = m.empty_payload;
  if (m.seq != 0) j["seq"] = m.seq;  // hardened mode only: pytorch-mode traces stay as they were
  if (m.replies_below != 0) j["replies_below"] = m.replies_below;
  return j;
}

OrderedJson CoreEventJson(const core::Event& event) {
  OrderedJson j;
  j["type"] = kCoreEventTypes[event.index()];
  std::visit(
      [&j](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, core::RunFunction>) {
          j["work"] = e.work;
          j["caller"] = e.caller;
          j["request"] = core::MessageTypeName(e.request);
          j["function"] = e.function;
          j["args"] = AppValueJson(e.args);
        } else if constexpr (std::is_same_v<E, core::FutureDone>) {
          j["future"] = e.future;
          j["error"] = OptionalString(e.outcome.error);
          j["value"] = AppValueJson(e.outcome.value);
        } else if constexpr (std::is_same_v<E, core::UserRRefDestroyed>) {
          j["rref"] = IdJson(e.rref_id);
          j["fork"] = IdJson(e.fork_id);
        } else if constexpr (std::is_same_v<E, core::OwnerRRefFreed>) {
          j["rref"] = IdJson(e.rref_id);
        } else if constexpr (std::is_same_v<E, core::ProtocolError>) {
          j["code"] = e.code;
          j["text"] = e.text;
          j["site"] = NameOf(kErrorSites, e.site);
        } else if constexpr (std::is_same_v<E, core::Log>) {
          j["level"] = NameOf(kLogLevels, e.level);
          j["text"] = e.text;
        } else if constexpr (std::is_same_v<E, core::WorkerAborted>) {
          j["text"] = e.text;
        } else {
          static_assert(std::is_same_v<E, core::ShutdownProgress>);
          j["step"] = NameOf(kShutdownSteps, e.step);
          j["timed_out"] = e.timed_out;
        }
      },
      event);
  return j;
}

// The fields of each kind are those docs/trace-format.md lists; ReadEvent requires exactly these.
OrderedJson EventJson(const TraceEvent& e) {
  OrderedJson j;
  j["step"] = e.step;
  j["time_us"] = e.time;
  j["worker"] = e.worker;
  j["fiber"] = e.fiber;
  j["kind"] = e.kind;
  const bool seq = e.kind == "deliver" || e.kind == "queued" || e.kind == "lost" || e.kind == "send";
  const bool outgoing = e.kind == "send" || e.kind == "drop" || e.kind == "send_failed";
  if (seq) j["seq"] = e.message_seq;
  if (e.message) j["message"] = MessageJson(*e.message);
  if (e.kind == "send") j["delay_us"] = e.delay;
  if (outgoing) {
    j["retried"] = e.retried;
    j["retry_chain"] = e.retry_chain;
  }
  if (e.event) j["event"] = CoreEventJson(*e.event);
  if (e.kind == "send_failed" || e.kind == "timers" || e.kind == "observation") j["text"] = e.text;
  if (e.kind == "observation") {
    j["where"] = e.where;
    j["expected_ok"] = e.expected_ok;
  }
  OrderedJson changes = OrderedJson::array();
  for (const StateChange& c : e.changes) changes.push_back(OrderedJson{{"worker", c.worker}, {"change", c.change}});
  j["changes"] = std::move(changes);
  return j;
}

OrderedJson ViolationJson(const checkers::Violation& v) {
  OrderedJson j;
  j["checker"] = v.checker;
  j["step"] = v.step;
  j["time_us"] = v.time;
  j["text"] = v.text;
  return j;
}

OrderedJson ViewJson(const core::ContextView& v) {
  OrderedJson forks = OrderedJson::array();
  for (const auto& [rref, list] : v.forks) forks.push_back(OrderedJson{{"rref", IdJson(rref)}, {"forks", IdsJson(list)}});
  OrderedJson children = OrderedJson::array();
  for (const auto& [child, parent] : v.pending_children) {
    children.push_back(OrderedJson{{"child", IdJson(child)}, {"parent", IdJson(parent)}});
  }
  OrderedJson pending_owners = OrderedJson::array();
  for (const auto& [rref, n] : v.pending_owners) pending_owners.push_back(OrderedJson{{"rref", IdJson(rref)}, {"count", n}});
  OrderedJson users = OrderedJson::array();
  for (const core::UserRRefView& u : v.users) users.push_back(UserJson(u));
  OrderedJson owners = OrderedJson::array();
  for (const core::OwnerRRefView& o : v.owner_rrefs) owners.push_back(OwnerJson(o));
  OrderedJson requests = OrderedJson::array();
  for (const core::RequestView& r : v.requests) {
    requests.push_back(OrderedJson{{"id", r.id},
                                   {"to", r.to},
                                   {"type", core::MessageTypeName(r.type)},
                                   {"deadline_us", r.deadline ? OrderedJson(*r.deadline) : OrderedJson(nullptr)}});
  }
  OrderedJson retries = OrderedJson::array();
  for (const core::RetryView& r : v.retries) {
    retries.push_back(OrderedJson{
        {"message", MessageJson(r.message)}, {"retry_count", r.retry_count}, {"next_time_us", r.next_time}});
  }
  OrderedJson j;
  j["worker"] = v.worker;
  j["owners"] = IdsJson(v.owners);
  j["forks"] = std::move(forks);
  j["pending_users"] = IdsJson(v.pending_users);
  j["confirmed_users"] = IdsJson(v.confirmed_users);
  j["pending_children"] = std::move(children);
  j["pending_owners"] = std::move(pending_owners);
  j["users"] = std::move(users);
  j["owner_rrefs"] = std::move(owners);
  j["requests"] = std::move(requests);
  j["retries"] = std::move(retries);
  j["client_active_calls"] = v.client_active_calls;
  j["gated_requests"] = v.gated_requests;
  j["running_functions"] = v.running_functions;
  j["destroyed"] = v.destroyed;
  j["aborted"] = v.aborted;
  j["debug"] = OrderedJson{{"num_owner_rrefs", v.debug.num_owner_rrefs},
                           {"num_forks", v.debug.num_forks},
                           {"num_pending_users", v.debug.num_pending_users},
                           {"num_pending_futures", v.debug.num_pending_futures}};
  return j;
}

}  // namespace detail

std::string WriteTrace(const Trace& t) {
  using detail::OrderedJson;
  // The scenario's keys are written sorted, whatever order its encoder used, so that reading and writing again gives
  // the same bytes.
  detail::Json sorted = detail::Json::parse(t.scenario, nullptr, /*allow_exceptions=*/false);
  if (!sorted.is_object()) throw std::invalid_argument("WriteTrace: the scenario is not a JSON object");
  OrderedJson scenario = OrderedJson::parse(sorted.dump());
  OrderedJson choices = OrderedJson::array();
  for (const TraceChoice& c : t.choices) {
    choices.push_back(OrderedJson{{"kind", c.kind}, {"options", c.options}, {"pick", c.pick}, {"key", c.key}});
  }
  OrderedJson events = OrderedJson::array();
  for (const TraceEvent& e : t.events) events.push_back(detail::EventJson(e));
  OrderedJson state = OrderedJson::array();
  for (const core::ContextView& v : t.state) state.push_back(detail::ViewJson(v));
  OrderedJson j;
  j["format_version"] = t.format_version;
  j["tool_version"] = t.tool_version;
  j["scenario_name"] = t.scenario_name;
  j["scenario"] = std::move(scenario);
  j["seed"] = t.seed;
  j["config"] = detail::TraceConfigJson(t.config);
  j["verdict"] = detail::VerdictJson(t.verdict);
  j["choices"] = std::move(choices);
  j["events"] = std::move(events);
  j["state"] = std::move(state);
  std::string out;
  detail::Layout(j, 0, out);
  return out + "\n";
}

}  // namespace rrefsim::traces
