// rrefsim::core::Worker: one worker's RRef protocol state machine (PyTorch's RRefContext and the RPC agent's
// request/retry/timeout logic), sans-IO.
//
// Contract:
// - Inputs are method calls; outputs (messages to send, events) are appended to an Output the caller owns, in a
//   deterministic order. The core reads no clock, starts no thread, does no I/O: every call that may depend on time
//   takes `now`, and NextDeadline() says when the host must call AdvanceTo next.
// - A Worker is single-threaded: the host serialises all calls on one worker (one mutex around it is enough; the
//   core never blocks). Workers share nothing; they talk only through the messages the host delivers.
// - The host delivers each Message to Worker(message.to).Receive. It may delay, reorder, lose or duplicate them; the
//   `pytorch` mode then does exactly what PyTorch does (including its failures), which is what rrefsim tests.
// - A send that fails synchronously at the sender (e.g. PyTorch's FaultyTensorPipeAgent) is reported with
//   SendFailed right after the call that produced it, before any other input to this worker. In `hardened` mode
//   it is one lost transmission, except for a user request none of whose copies left: that one is withdrawn.
// - The core owns the lifetime rule: a UserRRef is destroyed (and sends RREF_USER_DELETE) when the application holds
//   no reference and nothing pins it (pendingUsers_, pendingChildren_); an OwnerRRef is freed when neither owners_,
//   the application nor a waiting fetch holds it. See events.h for who owns the references inside values.
// - Protocol assertions never crash the host: they surface as ProtocolError events, EXCEPTION replies, or errors
//   returned to the application, as in PyTorch. A Worker is copyable (deep copy), so a search can fork a world.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "rrefsim/core/events.h"
#include "rrefsim/core/ids.h"
#include "rrefsim/core/message.h"
#include "rrefsim/core/view.h"

namespace rrefsim::core {

struct WorkerRenaming;  // fingerprint.h

// `pytorch` is the faithful protocol. `hardened` (docs/hardened-protocol.md) keeps the same API and messages, adds
// per-peer request numbers (Message::seq), retransmits every request until its reply arrives, and processes each
// request at most once; handlers consult the mode where it changes behaviour.
enum class ProtocolMode { kPytorch, kHardened };

// What a retry of a control message carries (rref-protocol.md §9.1).
enum class RetryPayload {
  kTensorPipe,  // PyTorch 1.13 with TensorPipe: once an attempt was written, later attempts carry an empty payload
  kResend,      // the same content is resent, so a slow message can be processed twice
};

// PyTorch's RpcRetryOptions defaults.
struct RetryOptions {
  int max_retries = 5;
  TimeUs duration = 1000 * kMillisecond;
  double backoff = 1.5;
};

// `hardened` mode's retransmission schedule: first resend after `first`, then each gap times `backoff`, capped at
// `cap`; no budget (a request is resent until its reply arrives).
struct ResendOptions {
  TimeUs first = 1000 * kMillisecond;
  double backoff = 1.5;
  TimeUs cap = 8 * kSecond;
};

struct WorkerConfig {
  WorkerId id = 0;
  ProtocolMode mode = ProtocolMode::kPytorch;
  RetryPayload retry_payload = RetryPayload::kTensorPipe;
  RetryOptions retry;
  ResendOptions resend;  // hardened mode only
  TimeUs default_timeout = 60 * kSecond;             // kDefaultRpcTimeoutSeconds; 0 means no timeout
  TimeUs delete_all_users_timeout = 100 * kSecond;   // kDeleteAllUsersTimeout
};

// Builtin/TorchScript function (SCRIPT_* messages) or Python UDF (PYTHON_* messages).
enum class CallKind { kScript, kPython };

// rpc.remote / rpc_sync / rpc_async.
struct CallSpec {
  WorkerId to = 0;
  std::string function;
  Value args;                          // borrowed: the RRefs in it are forked into the message
  CallKind kind = CallKind::kPython;
  std::string return_type = "PyObject";  // remote(): the type of the RRef it creates
  std::optional<TimeUs> timeout;       // nullopt: the default; 0: no timeout
};

// An error raised to the application (PyTorch raises a Python exception), or a value.
template <class T>
struct Expected {
  std::optional<T> value;
  std::string error;
  bool ok() const { return value.has_value(); }
};

class Worker {
 public:
  explicit Worker(WorkerConfig config);
  ~Worker();
  Worker(const Worker& other);
  Worker& operator=(const Worker& other);
  Worker(Worker&&) noexcept;
  Worker& operator=(Worker&&) noexcept;

  // --- The application's API (torch.distributed.rpc) ---
  // rpc.remote: a UserRRef owned by spec.to, or this worker's OwnerRRef when spec.to is this worker.
  Expected<Handle> Remote(const CallSpec& spec, TimeUs now, Output& out);
  // rpc_sync / rpc_async: the reply completes the returned future (FutureDone).
  Expected<FutureId> RpcAsync(const CallSpec& spec, TimeUs now, Output& out);
  // RRef.to_here(timeout): completes the returned future with the value (FutureDone).
  Expected<FutureId> ToHere(Handle rref, std::optional<TimeUs> timeout, TimeUs now, Output& out);
  // RRef(value) on this worker: an OwnerRRef in no map until it is forked.
  Handle CreateLocal(const Value& value, const std::string& type_str);
  void Retain(Handle rref);
  void Release(Handle rref, TimeUs now, Output& out);

  // --- The host runs user functions (RunFunction events) and reports how they ended ---
  // Sends the reply (or creates the OwnerRRef and sends REMOTE_RET), releases result.release_after_reply, then
  // sends what the function held back (§9.4).
  void FinishFunction(WorkId work, const FunctionResult& result, TimeUs now, Output& out);

  // --- Transport and time ---
  void Receive(const Message& message, TimeUs now, Output& out);
  void SendFailed(std::int64_t message_id, const std::string& error, TimeUs now, Output& out);
  // Which timers a call concerns. PyTorch fires them on different threads, which a host may model: TensorPipe's
  // timeout thread hands a timed-out attempt to the agent's pool (kTimeouts), while RpcAgent's retry thread resends
  // retries and graceful shutdown's wait times out on the thread that called shutdown (kAgentThreads).
  enum class Timers { kAll, kTimeouts, kAgentThreads };
  std::optional<TimeUs> NextDeadline(Timers which = Timers::kAll) const;
  // Fires the due timers of the given kind, in (time, insertion) order.
  void AdvanceTo(TimeUs now, Output& out, Timers which = Timers::kAll);

  // --- Graceful shutdown (S12), after the host's _wait_all_workers barrier ---
  // Step 2 (delAllUsersAndUnforkedOwners): progress arrives as ShutdownProgress events.
  void DeleteAllUsersAndUnforkedOwners(TimeUs now, Output& out);
  // The agent stops running (RpcAgent::shutdown sets rpcAgentRunning_ = false): the retry thread and the timeout
  // thread exit, so no scheduled retry is resent and no attempt times out any more (their futures stay incomplete,
  // and NextDeadline no longer reports them); an attempt that still fails (e.g. an EXCEPTION reply) is not retried:
  // its original future fails with that attempt's error. hardened mode: requests still waiting for their reply go on
  // being resent (a stopped worker may still have to send, e.g. the delete of a UserRRef nested in a freed value).
  void StopAgent();
  // Step 4 (destroyInstance): returns "Leaking RRef ..." lines as an error when !ignore_leak and forks remain.
  Expected<bool> DestroyContext(bool ignore_leak, Output& out);

  // --- Read-only views ---
  WorkerId id() const;
  bool aborted() const;
  DebugInfo GetDebugInfo() const;
  // TensorPipeAgent::clientActiveCalls_, which join waits to reach 0 (View().client_active_calls, without a view).
  std::int64_t ClientActiveCalls() const;
  ContextView View() const;
  // The same view, written into `into` (whose vectors keep their capacity): for hosts that refresh views often.
  void View(ContextView& into) const;
  // A canonical hash of everything in this worker that can change what it does next (core/src/fingerprint.cc): the
  // view's maps and RRefs plus the private state the view leaves out (gated requests, fetch waiters, id counters,
  // the hardened mode's streams, reply caches, resends and tombstones). Equal states hash equal on every platform.
  // Under `renaming` (symmetry reduction): the hash of this state with its workers renamed (core/fingerprint.h).
  std::uint64_t Fingerprint(const WorkerRenaming* renaming = nullptr) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rrefsim::core
