// What travels between workers: PyTorch's message types (names and codes from torch/csrc/distributed/rpc/message.h)
// and the RRef fork data that rides inside calls, returns and fetch replies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rrefsim/core/ids.h"

namespace rrefsim::core {

constexpr std::uint16_t kRequestFlag = 0x100;
constexpr std::uint16_t kResponseFlag = 0x200;

enum class MessageType : std::uint16_t {
  SCRIPT_CALL = 0x100,
  SCRIPT_RET = 0x201,
  PYTHON_CALL = 0x102,
  PYTHON_RET = 0x203,
  SCRIPT_REMOTE_CALL = 0x104,
  PYTHON_REMOTE_CALL = 0x105,
  REMOTE_RET = 0x206,
  SCRIPT_RREF_FETCH_CALL = 0x107,
  PYTHON_RREF_FETCH_CALL = 0x108,
  SCRIPT_RREF_FETCH_RET = 0x209,
  PYTHON_RREF_FETCH_RET = 0x20a,
  RREF_USER_DELETE = 0x10b,
  RREF_FORK_REQUEST = 0x10c,
  RREF_CHILD_ACCEPT = 0x10d,
  RREF_ACK = 0x20e,
  EXCEPTION = 0x237,
};

// PyTorch's enumerator name, e.g. "RREF_FORK_REQUEST"; "UNKNOWN" for codes outside the enum.
std::string_view MessageTypeName(MessageType type);
// The inverse of MessageTypeName; nullopt for an unknown name.
std::optional<MessageType> MessageTypeFromName(std::string_view name);
bool IsRequest(MessageType type);

// One forked RRef inside a message: PyTorch's RRefForkData, the 7-tuple in the same field order.
struct ForkData {
  WorkerId owner = -1;
  RRefId rref_id;
  ForkId fork_id;
  WorkerId parent = -1;
  std::string type_str;

  friend bool operator==(const ForkData&, const ForkData&) = default;
};

// A value on the wire: an int64 payload plus the RRefs it contains, in order. `raised` carries a Python UDF's
// exception, which PyTorch stores and ships as a value (a RemoteException object) rather than as an error.
struct WireValue {
  std::int64_t payload = 0;
  std::vector<ForkData> rrefs;
  std::optional<std::string> raised;

  friend bool operator==(const WireValue&, const WireValue&) = default;
};

// One message. `id` is the sender's request id; a response carries the id of the request it answers.
// Fields a type does not use stay default. `empty_payload` marks a TensorPipe retry whose payload was moved out by
// an earlier written attempt (rref-protocol.md §9.1): the receiver cannot decode it.
struct Message {
  MessageType type = MessageType::EXCEPTION;
  std::int64_t id = 0;
  WorkerId from = -1;
  WorkerId to = -1;
  RRefId rref_id;          // REMOTE_CALL/RET, FETCH_CALL, USER_DELETE, FORK_REQUEST
  ForkId fork_id;          // REMOTE_CALL/RET, USER_DELETE, FORK_REQUEST, CHILD_ACCEPT
  std::string function;    // SCRIPT/PYTHON_CALL and _REMOTE_CALL: the qualified function name
  std::string type_str;    // _REMOTE_CALL: the declared return type, the type of the RRef it creates
  WireValue value;         // arguments of calls; return values of *_RET and FETCH_RET
  std::string error;       // EXCEPTION: the error text
  bool empty_payload = false;
  // `hardened` mode only (0 in `pytorch` mode, which never sets them): the request's number in the stream from
  // `from` to `to` (1, 2, ...; a response carries its request's), and, on requests, the lowest number whose reply
  // the sender still waits for on that stream, so the receiver may forget the replies below it.
  std::int64_t seq = 0;
  std::int64_t replies_below = 0;

  friend bool operator==(const Message&, const Message&) = default;
};

// A one-line description for logs and traces, e.g. "RREF_FORK_REQUEST#7 1->0 rref=(1,0) fork=(1,2)".
std::string Describe(const Message& message);

}  // namespace rrefsim::core
