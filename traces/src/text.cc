#include "text.h"

#include <cstdio>
#include <type_traits>
#include <variant>

#include "names.h"
#include "rrefsim/traces/render.h"

namespace rrefsim::traces {
namespace detail {

std::string IdText(const core::GloballyUniqueId& id) {
  return "(" + std::to_string(id.created_on) + "," + std::to_string(id.local_id) + ")";
}

std::string Ms(core::TimeUs time) {
  const core::TimeUs magnitude = time < 0 ? -time : time;
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, "%03lld", static_cast<long long>(magnitude % 1000));
  return (time < 0 ? "-" : "") + std::to_string(magnitude / 1000) + "." + fraction + " ms";
}

std::string CoreEventText(const core::Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, core::RunFunction>) {
          return "run " + e.function + " (work " + std::to_string(e.work) + ", " +
                 std::string(core::MessageTypeName(e.request)) + " from worker " + std::to_string(e.caller) + ")";
        } else if constexpr (std::is_same_v<E, core::FutureDone>) {
          return "future " + std::to_string(e.future) +
                 (e.outcome.ok() ? " = " + std::to_string(e.outcome.value.payload) : " failed: " + *e.outcome.error);
        } else if constexpr (std::is_same_v<E, core::UserRRefDestroyed>) {
          return "UserRRef fork " + IdText(e.fork_id) + " of RRef " + IdText(e.rref_id) + " destroyed";
        } else if constexpr (std::is_same_v<E, core::OwnerRRefFreed>) {
          return "OwnerRRef " + IdText(e.rref_id) + " freed";
        } else if constexpr (std::is_same_v<E, core::ProtocolError>) {
          return "protocol error " + (e.code.empty() ? "" : e.code + " ") + "(" +
                 std::string(NameOf(kErrorSites, e.site)) + "): " + e.text;
        } else if constexpr (std::is_same_v<E, core::Log>) {
          return "log " + std::string(NameOf(kLogLevels, e.level)) + ": " + e.text;
        } else if constexpr (std::is_same_v<E, core::WorkerAborted>) {
          return "worker aborted: " + e.text;
        } else {
          return "shutdown: " + std::string(NameOf(kShutdownSteps, e.step)) + (e.timed_out ? " (timed out)" : "");
        }
      },
      event);
}

std::string UserText(const core::UserRRefView& u) {
  return "h" + std::to_string(u.handle.id) + " fork " + IdText(u.fork_id) + " of " + IdText(u.rref_id) + " owner " +
         std::to_string(u.owner) + " app_refs " + std::to_string(u.app_refs) +
         (u.confirmed_by_owner ? " confirmed" : "") + (u.deleted_on_owner ? " deleted_on_owner" : "") +
         (u.timed_out ? " timed_out" : "");
}

std::string OwnerText(const core::OwnerRRefView& o) {
  return "h" + std::to_string(o.handle.id) + " " + IdText(o.rref_id) + " app_refs " + std::to_string(o.app_refs) +
         (o.value_set ? " value " + std::to_string(o.payload) : " no value") +
         (o.error ? " error \"" + *o.error + "\"" : "") + (o.timed_out ? " timed_out" : "");
}

}  // namespace detail

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    }
  }
  return out;
}

std::string DescribeEvent(const TraceEvent& e) {
  std::string detail;
  if (e.message) detail = core::Describe(*e.message);
  if (e.kind == "queued") detail += " (no free handler)";
  if (e.kind == "lost") detail += " (the worker aborted)";
  if (e.kind == "send") detail += " +" + std::to_string(e.delay) + "us";
  if (e.kind == "send_failed") detail += ": " + e.text;
  if (e.event) detail = detail::CoreEventText(*e.event);
  if (e.kind == "timers") detail = e.text;
  if (e.kind == "observation") detail = e.where + ": " + e.text + (e.expected_ok ? "" : " (unexpected)");
  if (e.kind == "quiescent") detail = "every live worker waits in join; nothing in flight";
  if (e.kind == kStateEventKind) detail = "(state changes without a record)";
  char head[96];
  std::snprintf(head, sizeof head, "step %4llu %14s  %-3s %-11s ", static_cast<unsigned long long>(e.step),
                detail::Ms(e.time).c_str(), e.worker < 0 ? "-" : ("w" + std::to_string(e.worker)).c_str(),
                e.kind.c_str());
  return head + detail;
}

}  // namespace rrefsim::traces
