// Internal: the names a trace spells enums with, one table each, used by the writer, the reader and the renderers.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "rrefsim/checkers/global_view.h"
#include "rrefsim/core/events.h"
#include "rrefsim/core/worker.h"

namespace rrefsim::traces::detail {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

template <class E, std::size_t N>
std::string_view NameOf(const Names<E, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "unknown";
}

template <class E, std::size_t N>
std::optional<E> FromName(const Names<E, N>& names, std::string_view name) {
  for (const auto& [v, n] : names) {
    if (n == name) return v;
  }
  return std::nullopt;
}

// "a, b or c": the allowed names, for error messages.
template <class E, std::size_t N>
std::string Choices(const Names<E, N>& names) {
  std::string text;
  for (std::size_t i = 0; i < N; ++i) {
    text += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(names[i].second);
  }
  return text;
}

inline constexpr Names<core::ProtocolMode, 2> kProtocolModes = {{
    {core::ProtocolMode::kPytorch, "pytorch"},
    {core::ProtocolMode::kHardened, "hardened"},
}};
inline constexpr Names<core::RetryPayload, 2> kRetryPayloads = {{
    {core::RetryPayload::kTensorPipe, "tensorpipe"},
    {core::RetryPayload::kResend, "resend"},
}};
inline constexpr Names<core::ErrorSite, 4> kErrorSites = {{
    {core::ErrorSite::kRequestHandler, "request_handler"},
    {core::ErrorSite::kPoolCallback, "pool_callback"},
    {core::ErrorSite::kRetryThread, "retry_thread"},
    {core::ErrorSite::kCaller, "caller"},
}};
inline constexpr Names<core::LogLevel, 4> kLogLevels = {{
    {core::LogLevel::kInfo, "info"},
    {core::LogLevel::kWarning, "warning"},
    {core::LogLevel::kError, "error"},
    {core::LogLevel::kHazard, "hazard"},
}};
inline constexpr Names<core::ShutdownStep, 2> kShutdownSteps = {{
    {core::ShutdownStep::kUsersConfirmed, "users_confirmed"},
    {core::ShutdownStep::kOwnersDeleted, "owners_deleted"},
}};
// The alternatives of core::Event, by variant index.
inline constexpr std::array<std::string_view, 8> kCoreEventTypes = {
    "run_function", "future_done", "user_rref_destroyed", "owner_rref_freed",
    "protocol_error", "log", "worker_aborted", "shutdown_progress"};
static_assert(std::variant_size_v<core::Event> == kCoreEventTypes.size());

// sim::ChoiceKindName and sim::OutcomeName, which traces/ cannot link (it sits beside sim/, not above it). A test of
// rrefsim_traces_tests proves the tables match the simulator's.
inline constexpr std::array<std::string_view, 8> kChoiceKinds = {"step",      "drop", "duplicate", "delay",
                                                                 "partition", "heal", "rate",      "workload"};
inline constexpr std::array<std::string_view, 5> kOutcomes = {"ok", "deadlock", "no_quiescence", "worker_abort",
                                                              "stopped"};

// checkers::RecordKind from its RecordKindName, or nullopt.
std::optional<checkers::RecordKind> RecordKindFromName(std::string_view name);

}  // namespace rrefsim::traces::detail
