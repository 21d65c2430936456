#include "rrefsim/core/message.h"

#include <array>
#include <utility>

namespace rrefsim::core {
namespace {

constexpr std::array<std::pair<MessageType, std::string_view>, 16> kNames{{
    {MessageType::SCRIPT_CALL, "SCRIPT_CALL"},
    {MessageType::SCRIPT_RET, "SCRIPT_RET"},
    {MessageType::PYTHON_CALL, "PYTHON_CALL"},
    {MessageType::PYTHON_RET, "PYTHON_RET"},
    {MessageType::SCRIPT_REMOTE_CALL, "SCRIPT_REMOTE_CALL"},
    {MessageType::PYTHON_REMOTE_CALL, "PYTHON_REMOTE_CALL"},
    {MessageType::REMOTE_RET, "REMOTE_RET"},
    {MessageType::SCRIPT_RREF_FETCH_CALL, "SCRIPT_RREF_FETCH_CALL"},
    {MessageType::PYTHON_RREF_FETCH_CALL, "PYTHON_RREF_FETCH_CALL"},
    {MessageType::SCRIPT_RREF_FETCH_RET, "SCRIPT_RREF_FETCH_RET"},
    {MessageType::PYTHON_RREF_FETCH_RET, "PYTHON_RREF_FETCH_RET"},
    {MessageType::RREF_USER_DELETE, "RREF_USER_DELETE"},
    {MessageType::RREF_FORK_REQUEST, "RREF_FORK_REQUEST"},
    {MessageType::RREF_CHILD_ACCEPT, "RREF_CHILD_ACCEPT"},
    {MessageType::RREF_ACK, "RREF_ACK"},
    {MessageType::EXCEPTION, "EXCEPTION"},
}};

std::string ShortId(const GloballyUniqueId& id) {
  return "(" + std::to_string(id.created_on) + "," + std::to_string(id.local_id) + ")";
}

}  // namespace

std::string_view MessageTypeName(MessageType type) {
  for (const auto& [t, name] : kNames) {
    if (t == type) return name;
  }
  return "UNKNOWN";
}

std::optional<MessageType> MessageTypeFromName(std::string_view name) {
  for (const auto& [t, n] : kNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

bool IsRequest(MessageType type) { return (static_cast<std::uint16_t>(type) & kRequestFlag) != 0; }

std::string Describe(const Message& m) {
  std::string s = std::string(MessageTypeName(m.type)) + "#" + std::to_string(m.id) + " " + std::to_string(m.from) +
                  "->" + std::to_string(m.to);
  if (m.rref_id.valid()) s += " rref=" + ShortId(m.rref_id);
  if (m.fork_id.valid()) s += " fork=" + ShortId(m.fork_id);
  if (!m.function.empty()) s += " fn=" + m.function;
  if (m.type != MessageType::RREF_ACK && m.type != MessageType::EXCEPTION && !m.empty_payload &&
      (!m.function.empty() || m.value.payload != 0 || !m.value.rrefs.empty())) {
    s += " value=" + std::to_string(m.value.payload);
  }
  for (const ForkData& f : m.value.rrefs) {
    s += " [rref=" + ShortId(f.rref_id) + " fork=" + ShortId(f.fork_id) + " owner=" + std::to_string(f.owner) +
         " parent=" + std::to_string(f.parent) + "]";
  }
  if (m.value.raised) s += " raised=\"" + *m.value.raised + "\"";
  if (!m.error.empty()) s += " error=\"" + m.error + "\"";
  if (m.empty_payload) s += " (empty payload)";
  if (m.seq != 0) s += " seq=" + std::to_string(m.seq);
  return s;
}

}  // namespace rrefsim::core
