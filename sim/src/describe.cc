// Records and core events as text: what --trace prints and what the sim tests read.
#include <string>
#include <type_traits>
#include <variant>

#include "rrefsim/sim/world.h"

namespace rrefsim::sim {

std::string DescribeEvent(const core::Event& event) {
  return std::visit(
      [](const auto& e) -> std::string {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, core::RunFunction>) {
          return "run " + e.function + " (work " + std::to_string(e.work) + ")";
        } else if constexpr (std::is_same_v<E, core::FutureDone>) {
          return "future " + std::to_string(e.future) +
                 (e.outcome.ok() ? " = " + std::to_string(e.outcome.value.payload) : " failed: " + *e.outcome.error);
        } else if constexpr (std::is_same_v<E, core::UserRRefDestroyed>) {
          return "UserRRef destroyed " + core::ToString(e.fork_id);
        } else if constexpr (std::is_same_v<E, core::OwnerRRefFreed>) {
          return "OwnerRRef freed " + core::ToString(e.rref_id);
        } else if constexpr (std::is_same_v<E, core::ProtocolError>) {
          return "protocol error " + e.code + ": " + e.text;
        } else if constexpr (std::is_same_v<E, core::Log>) {
          return "log: " + e.text;
        } else if constexpr (std::is_same_v<E, core::WorkerAborted>) {
          return "worker aborted: " + e.text;
        } else {
          return std::string("shutdown step ") +
                 (e.step == core::ShutdownStep::kUsersConfirmed ? "users confirmed" : "owners deleted") +
                 (e.timed_out ? " (timed out)" : "");
        }
      },
      event);
}

namespace {

std::string DescribeRecordDetail(const checkers::StepRecord& r) {
  using checkers::RecordKind;
  switch (r.kind) {
    case RecordKind::kDeliver:
      return core::Describe(*r.message);
    case RecordKind::kQueued:
      return core::Describe(*r.message) + " (no free handler)";
    case RecordKind::kLost:
      return core::Describe(*r.message) + " (the worker aborted)";
    case RecordKind::kSend:
      return core::Describe(*r.message) + " +" + std::to_string(r.delay) + "us";
    case RecordKind::kDrop:
      return core::Describe(*r.message);
    case RecordKind::kSendFailed:
      return core::Describe(*r.message) + ": " + std::string(r.text);
    case RecordKind::kEvent:
      return DescribeEvent(*r.event);
    case RecordKind::kTimers:
      return std::string(r.text);
    case RecordKind::kObservation:
      return std::string(r.where) + ": " + std::string(r.text) + (r.expected_ok ? "" : " (unexpected)");
    case RecordKind::kQuiescent:
      return "every live worker waits in join; nothing in flight";
  }
  return "";
}

}  // namespace

StepEvent ToStepEvent(const checkers::StepRecord& record) {
  return StepEvent{record.step, record.time, record.worker, checkers::RecordKindName(record.kind),
                   DescribeRecordDetail(record)};
}

}  // namespace rrefsim::sim
