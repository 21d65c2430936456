// What the core hands to its host: application handles and values, and the output of every call (messages to send
// and events), appended in a deterministic order to an Output the host owns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rrefsim/core/ids.h"
#include "rrefsim/core/message.h"

namespace rrefsim::core {

// An application reference to an RRef instance on one worker (a UserRRef, or the worker's OwnerRRef).
// Ownership rule: every Handle the core gives to the host (a return value, a handle inside an event's Value) comes
// with one application reference that the host must give back with Worker::Release. Handles the host passes in
// (arguments, return values of functions) are borrowed: the core takes its own reference when it keeps one.
struct Handle {
  std::uint64_t id = 0;  // 0 is "no handle"; ids are sequential per worker, never reused
  friend auto operator<=>(const Handle&, const Handle&) = default;
};

struct Value {
  std::int64_t payload = 0;
  std::vector<Handle> rrefs;
};

// The result of an application future (rpc_sync/rpc_async, to_here): an error text or a value.
struct Outcome {
  std::optional<std::string> error;
  Value value;
  bool ok() const { return !error.has_value(); }
};

// The error a remote() whose creation timed out leaves on its RRef: to_here and forking it raise it (A17).
inline constexpr std::string_view kCreationTimedOut =
    "RRef creation via rpc.remote() timed out, and it is possible that the RRef on the owner node does not exist.";

// Whether an error the application sees comes from the network rather than from the program: an RPC timeout
// (RPCErr:1), the faulty agent's intentional send failure (RPCErr:2), or a remote() whose creation timed out.
// PyTorch's tests expect these only where their faults cause them; under other faults any call may see them.
bool IsNetworkFaultError(std::string_view error);

// What a user function did, reported by the host through Worker::FinishFunction.
struct FunctionResult {
  enum class Kind {
    kReturned,  // returned `value`
    kRaised,    // the function raised `error`: stored in the OwnerRRef (remote) or sent back (call)
    kFailed,    // the request could not run at all (e.g. unknown function): an EXCEPTION reply, no OwnerRRef
  };
  Kind kind = Kind::kReturned;
  Value value;
  std::string error;
  // Handles (with one application reference each, owned by the host) that the core releases right after sending
  // the reply, before anything the function held back (the deferred CHILD_ACCEPTs, §9.4). A host passes its frame's
  // references here (the arguments it does not keep): in PyTorch the request object holding the arguments is freed
  // when the callback that ran the function finishes, after the reply and before finishForkRequest's CHILD_ACCEPT.
  std::vector<Handle> release_after_reply;
};

using FutureId = std::int64_t;  // an application future on this worker: a call's reply or a to_here
using WorkId = std::int64_t;    // one incoming request whose user function the host runs

// A request's user function may run now: all RRefs in its arguments are confirmed (rref-protocol.md §4.3). The host
// runs `function` and reports with FinishFunction(work, ...). When the release came from a fork-request
// confirmation, the core holds that confirmation's CHILD_ACCEPT until the function finishes (§9.4).
struct RunFunction {
  WorkId work = 0;
  WorkerId caller = -1;
  MessageType request = MessageType::PYTHON_CALL;
  std::string function;
  // One application reference per handle, owned by the host: like Python's argument tuple, the host releases them
  // when the function's frame is gone (unless the function keeps them), best by passing them in
  // FunctionResult::release_after_reply, which frees them where PyTorch does; releasing them after FinishFunction
  // is legal too.
  Value args;
};

struct FutureDone {
  FutureId future = 0;
  Outcome outcome;  // one application reference per handle in outcome.value, owned by the host
};

struct UserRRefDestroyed {
  RRefId rref_id;
  ForkId fork_id;
};

struct OwnerRRefFreed {
  RRefId rref_id;
};

// Where a protocol assertion (rref-protocol.md §6) surfaced, as in PyTorch.
enum class ErrorSite {
  kRequestHandler,  // thrown while processing a request: turned into an EXCEPTION reply
  kPoolCallback,    // thrown in a completion callback on an agent pool thread: logged, rest of the callback skipped
  kRetryThread,     // thrown in a callback on the retry thread: the worker calls std::terminate (§9.3)
  kCaller,          // raised to the application that made the call
};

struct ProtocolError {
  std::string code;  // "A1".."A23", or "" for errors that are not assertions of §6
  std::string text;  // PyTorch's text
  ErrorSite site = ErrorSite::kRequestHandler;
};

enum class LogLevel { kInfo, kWarning, kError, kHazard };

// PyTorch's log lines ("Ignoring duplicate request ...", "Send try 2 failed"); kHazard marks behaviour that is
// undefined in PyTorch (e.g. the timed-out flag written into a freed RRef, §9.2).
struct Log {
  LogLevel level = LogLevel::kInfo;
  std::string text;
};

// The worker process died (std::terminate, §9.3). Every later call into this worker is ignored.
struct WorkerAborted {
  std::string text;
};

// Graceful shutdown (rref-protocol.md §5 S12) finished one of its waits.
enum class ShutdownStep { kUsersConfirmed, kOwnersDeleted };
struct ShutdownProgress {
  ShutdownStep step = ShutdownStep::kUsersConfirmed;
  bool timed_out = false;
};

using Event = std::variant<RunFunction, FutureDone, UserRRefDestroyed, OwnerRRefFreed, ProtocolError, Log,
                           WorkerAborted, ShutdownProgress>;

struct OutgoingMessage {
  Message message;
  bool retried = false;         // sent through sendWithRetries (control messages) rather than once
  std::int64_t retry_chain = -1;  // the same number for every attempt of one retried message; -1 when sent once
};

struct Output {
  std::vector<OutgoingMessage> messages;
  std::vector<Event> events;
  void clear() {
    messages.clear();
    events.clear();
  }
};

}  // namespace rrefsim::core
