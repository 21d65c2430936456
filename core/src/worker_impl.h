// Internal state of one Worker: PyTorch's RRefContext maps, the RRef objects, the agent's outstanding requests and
// retries, and the requests whose user functions are gated or running. One Impl per worker; copyable by value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "hardened_state.h"
#include "mutants.h"
#include "rrefsim/core/worker.h"

namespace rrefsim::core {

// A TORCH_CHECK / TORCH_INTERNAL_ASSERT failure: `code` is the §6 assertion id ("" when none applies).
struct ProtocolException : std::runtime_error {
  ProtocolException(std::string c, const std::string& text) : std::runtime_error(text), code(std::move(c)) {}
  std::string code;
};
[[noreturn]] void Fail(const std::string& code, const std::string& text);
inline void Check(bool condition, const char* code, const std::string& text) {
  if (!condition) Fail(code, text);
}

// PyTorch's getRPCErrorType: the "RPCErr:<n>:" prefix of an error text.
enum class RpcErrorType { kUnknown = 0, kTimeout = 1, kIntentionalFailure = 2 };
RpcErrorType GetRpcErrorType(const std::string& error);
std::string TimeoutErrorText(TimeUs timeout);

// Someone waiting for an OwnerRRef's value: a fetch from a user, or a to_here on the owner itself.
struct ValueWaiter {
  bool local = false;
  WorkerId requester = -1;
  std::int64_t request_id = 0;
  std::int64_t request_seq = 0;  // hardened: the fetch's number, so its reply is cached for duplicates
  MessageType fetch_type = MessageType::PYTHON_RREF_FETCH_CALL;
  FutureId future = 0;
};

// One RRef object on this worker: a UserRRef instance or the OwnerRRef.
struct Instance {
  bool is_owner = false;
  WorkerId owner = -1;
  RRefId rref_id;
  ForkId fork_id;  // users only
  std::string type_str;
  std::int64_t app_refs = 0;
  // UserRRef
  bool confirmed_by_owner = false;
  bool deleted_on_owner = false;
  std::int64_t child_pins = 0;  // pendingChildren_ entries holding this instance as the parent
  bool timed_out = false;
  bool delete_when_unpinned = false;
  std::optional<std::string> creation_error;  // hardened: its remote() was answered with an error
  bool awaiting_creation = false;
  bool never_created = false;  // hardened: its remote() was withdrawn before any copy left  // hardened: made by unpickling before its REMOTE_CALL was processed (P18)  // hardened shutdown: tryDel once its last pending child is accepted (P12)
  // OwnerRRef
  bool value_set = false;
  std::optional<std::string> error;  // setError
  Value value;                       // holds one reference per handle it contains
  std::optional<std::string> raised; // a Python UDF exception stored as the value
  std::vector<ValueWaiter> waiters;  // each pins the OwnerRRef until answered
};

// What happens when an RPC's "original future" completes (the callbacks PyTorch attaches).
struct Purpose {
  enum class Kind { kRemoteCreate, kSelfRemoteCreate, kUserCall, kFetch, kUserDelete, kForkRequest, kChildAccept };
  Kind kind = Kind::kUserCall;
  RRefId rref_id;
  ForkId fork_id;
  WorkerId parent = -1;
  FutureId future = 0;
  // False when PyTorch never attached the callbacks: addPendingUser threw (A6) after the send and before
  // addCallback. The reply then completes the future and nothing else happens.
  bool attached = true;
};

// Requests the application waits for (user calls, fetches, remote()): their timeout is the application's
// (hardened mode).
bool IsUserFacing(Purpose::Kind kind);

// The completion context that decides what a throwing callback does (rref-protocol.md §9.3, §9.4).
enum class Site { kPool, kInline, kRetryThread };

// One attempt on the wire, waiting for a response or its timeout.
struct Attempt {
  WorkerId to = -1;
  MessageType type = MessageType::EXCEPTION;
  std::optional<TimeUs> deadline;
  TimeUs timeout = 0;
  std::uint64_t seq = 0;
  std::optional<std::int64_t> retry_id;  // part of a sendWithRetries
  Purpose purpose;                        // for attempts sent once
  bool from_retry_thread = false;
};

// sendWithRetries state (RpcRetryInfo): the message, how many retries were sent, when the next may go.
struct RetryEntry {
  Message message;
  Purpose purpose;
  int retry_count = 0;
  TimeUs next_time = 0;       // computed when the latest attempt was sent
  bool scheduled = false;     // waiting in the retry map
  std::uint64_t seq = 0;      // insertion order in the retry map
  int written_attempts = 0;   // attempts that reached the transport (TensorPipe moves the payload out)
};

// An incoming CALL / REMOTE_CALL: its arguments, its gate, and what must wait for its function (§9.4).
struct Work {
  Message request;
  std::vector<Handle> args;  // one reference each while gated
  int waiting = 0;           // unconfirmed user->user children from its arguments
  bool running = false;
  struct Deferred {          // the rest of a fork-request callback that released this work
    ForkId fork_id;
    WorkerId parent = -1;
    bool pool_task = false;  // the callback ran as an agent pool task: its active-call decrement follows
  };
  std::vector<Deferred> deferred;
};

// hardened: one request, resent until its reply arrives (docs/hardened-protocol.md §2).
struct HardenedRequest {
  Message message;               // with its id and seq fixed; replies_below is refreshed on every transmission
  Purpose purpose;
  TimeUs gap = 0;                // the wait before the next resend
  std::uint64_t resend_seq = 0;  // the resend timer's insertion sequence
  TimeUs next_resend = 0;
  std::optional<TimeUs> deadline;  // the application's timeout (user calls, fetches, remote())
  std::uint64_t deadline_seq = 0;
  TimeUs timeout = 0;
  bool app_done = false;  // the application's future already failed with the timeout
  int transmissions = 0;
  int refused = 0;         // transmissions the transport refused synchronously (SendFailed)
  bool cancelled = false;  // withdrawn: every transmission was refused; later ones carry no payload
};

struct PendingUser {
  Handle user;
  std::optional<WorkId> gate;
};

using Timers = Worker::Timers;

struct Worker::Impl {
  explicit Impl(WorkerConfig c) : config(std::move(c)) {}

  WorkerConfig config;
  TimeUs now = 0;
  Output* out = nullptr;  // the Output of the call in progress

  // RRef objects by handle id, and PyTorch's maps (std::map: sorted, so every walk is deterministic).
  std::map<std::uint64_t, Instance> instances;
  std::uint64_t next_handle = 1;
  std::map<RRefId, Handle> owners;
  std::map<RRefId, std::vector<ValueWaiter>> pending_owners;
  std::map<RRefId, std::set<ForkId>> forks;
  std::map<ForkId, PendingUser> pending_users;
  std::map<ForkId, Handle> confirmed_users;  // weak
  std::map<ForkId, Handle> pending_children;
  std::int64_t num_pending_futures = 0;
  std::int64_t next_local_id = 0;
  std::optional<Handle> first_error_rref;  // RRef::handleError's function-static map captured this (§9.2)
  bool destroyed = false;
  bool aborted = false;

  // Agent.
  std::int64_t next_message_id = 0;
  std::uint64_t next_seq = 0;
  std::map<std::int64_t, Attempt> attempts;
  std::map<std::int64_t, RetryEntry> retries;
  // Every pending timer in firing order (time, insertion sequence): attempt timeouts and scheduled retries. An index
  // over `attempts` and `retries`, kept so that NextDeadline and FireDueTimers need not scan them.
  struct Timer {
    TimeUs time = 0;
    std::uint64_t seq = 0;
    std::int64_t id = 0;  // attempt (message) id, or retry id
    bool retry = false;     // fires on the agent's threads (retries, hardened resends), not as a timeout
    bool hardened = false;  // id is a hardened request's: a resend (retry) or its application deadline
    friend auto operator<=>(const Timer&, const Timer&) = default;
  };
  std::set<Timer> timers;
  std::int64_t next_retry_id = 0;
  std::int64_t client_active_calls = 0;
  bool agent_running = true;
  bool last_callback_threw = false;        // set by Complete for the completion in progress
  bool callback_held_by_function = false;  // a callback started a gated function inline (§9.4)

  // hardened mode (hardened.cc): outstanding requests by message id, the next number per receiver, what each
  // sender's stream delivered, the tombstones of deleted RRefs, and the fork deletes that will make them.
  std::map<std::int64_t, HardenedRequest> hardened_requests;
  std::map<WorkerId, std::int64_t> next_request_seq;
  std::map<WorkerId, PeerInbox> inboxes;
  std::map<RRefId, Tombstone> tombstones;
  std::map<RRefId, std::map<WorkerId, std::int64_t>> fork_deletes;

  // Requests and futures.
  std::map<WorkId, Work> works;
  WorkId next_work = 1;
  FutureId next_future = 1;

  // Graceful shutdown (S12 step 2).
  enum class ShutdownStage { kNone, kWaitUsers, kWaitOwners, kDone };
  ShutdownStage shutdown = ShutdownStage::kNone;
  TimeUs shutdown_deadline = 0;

  bool hardened() const { return config.mode == ProtocolMode::kHardened; }

  // --- hardened mode (hardened.cc, hardened_callbacks.cc) ---
  std::int64_t HardenedSend(Message message, TimeUs timeout, Purpose purpose);
  void Transmit(HardenedRequest& request);
  void RefusedSend(std::int64_t id, const std::string& error);
  void Withdraw(HardenedRequest& request, const std::string& error);
  bool CarriedForksPinned(const Message& m) const;
  void Resend(std::int64_t id);
  void ApplicationDeadline(std::int64_t id);
  void OnHardenedResponse(const Message& response);
  bool AcceptRequest(const Message& request);  // false for a duplicate (its cached reply, if any, is resent)
  void CacheReply(const Message& request, const Message& reply);
  void RecordForkDelete(const Message& request);
  void BuryOwner(RRefId rref_id);
  void Unbury(RRefId rref_id);
  void CollectTombstones();
  bool AnswerFetchOfDeleted(const Message& request);
  Purpose& SentPurpose(std::int64_t handle, bool retried);
  void RunHardenedCallback(const Purpose& purpose, const Message* response, const std::string& error);
  void FinishLate(const Purpose& purpose, const Message& response);
  void MarkTimedOut(Handle rref);
  void MarkNeverCreated(Handle rref, const std::string& error);

  // --- ids and output (worker.cc) ---
  GloballyUniqueId GenId();
  void Emit(Event event);
  void LogLine(LogLevel level, std::string text);
  void Error(const ProtocolException& e, ErrorSite site);
  std::string Name(Handle h) const;  // "UserRRef(rref_id=..., fork_id=...)" / "OwnerRRef(rref_id=...)"

  // --- instances and lifetime (instances.cc) ---
  Instance& Get(Handle h);
  const Instance* Find(Handle h) const;
  Handle NewInstance(Instance instance);
  Handle CreateUserRRef(WorkerId owner, RRefId rref_id, ForkId fork_id, const std::string& type_str);
  Handle CreateOwnerRRef(RRefId rref_id, const std::string& type_str);
  void AddRef(Handle h);
  void DropRef(Handle h);
  void MaybeDestroy(Handle h);
  void TryDel(Handle h);
  void DelUser(WorkerId owner, RRefId rref_id, ForkId fork_id);
  void SetOwnerValue(Handle owner, Value value, std::optional<std::string> error, std::optional<std::string> raised);
  void AnswerWaiter(Handle owner, const ValueWaiter& waiter);

  // --- RRefContext maps (forking.cc) ---
  void AddForkOfOwner(RRefId rref_id, ForkId fork_id);
  void AddForkOfOwnerIfNotPresent(RRefId rref_id, ForkId fork_id);
  std::optional<Handle> DelForkOfOwner(RRefId rref_id, ForkId fork_id);
  void AddSelfAsFork(Handle owner);
  void AddPendingChild(ForkId fork_id, Handle parent);
  void DelPendingChild(ForkId fork_id);
  void AddPendingUser(ForkId fork_id, Handle user, std::optional<WorkId> gate);
  std::optional<WorkId> DelPendingUser(ForkId fork_id);
  void AddConfirmedUser(ForkId fork_id, Handle user);
  Handle GetOrCreateOwnerRRef(RRefId rref_id, const std::string& type_str);
  ForkData PrepareChildFork(Handle h);
  WireValue PickleValue(const Value& value);
  Handle UnpickleFork(const ForkData& fork, std::optional<WorkId> gate);
  Value UnpickleValue(const WireValue& wire, std::optional<WorkId> gate);
  void NotifyOwnerAndParentOfFork(const ForkData& fork, Handle rref, std::optional<WorkId> gate);

  // --- agent (agent.cc) ---
  std::int64_t SendOnce(Message message, TimeUs timeout, Purpose purpose);
  std::int64_t SendWithRetries(Message message, Purpose purpose);  // returns the retry id
  void SendAttempt(std::int64_t retry_id, TimeUs timeout, bool from_retry_thread);
  void SendResponse(const Message& request, Message response);
  void ReplyException(const Message& request, const std::string& what);
  void ReplyFutureError(const Message& request, const std::string& what);
  void OnResponse(const Message& response);
  void OnAttemptDone(std::int64_t id, const Message* response, const std::string& error, Site site);
  void RetryCallback(std::int64_t retry_id, const Message* response, const std::string& error, Site site);
  void FireDueTimers(Timers which);
  std::optional<TimeUs> NextDeadline(Timers which) const;

  // --- completions (control.cc, remote.cc, calls.cc, fetch.cc) ---
  void Complete(const Purpose& purpose, const Message* response, const std::string& error, Site site);
  void RunCallback(const Purpose& purpose, const Message* response, const std::string& error, Site site);
  void FinishForkRequest(ForkId fork_id, WorkerId parent, bool pool_task);
  void SendChildAccept(WorkerId parent, ForkId fork_id);
  void ConfirmPendingUser(const Message* response, const std::string& error, ForkId fork_id);
  void FinishCreatingOwnerRRef(const Message* response, const std::string& error, RRefId rref_id);
  void HandleError(Handle rref, const std::string& error);

  // --- request handlers ---
  void Dispatch(const Message& request);
  void HandleUserDelete(const Message& request);
  void HandleForkRequest(const Message& request);
  void HandleChildAccept(const Message& request);
  void HandleFetch(const Message& request);
  void HandleCall(const Message& request);
  void StartWork(WorkId work);
  void FinishWork(WorkId work, const FunctionResult& result);
  void AssignOwnerRRef(const Message& request, const FunctionResult& result);
  void ReplyWithPickledValue(const Message& request, Message reply, const Value& value);

  // --- application API ---
  Expected<Handle> Remote(const CallSpec& spec);
  Expected<FutureId> RpcAsync(const CallSpec& spec);
  Expected<FutureId> ToHere(Handle h, std::optional<TimeUs> timeout);
  Message CallMessage(const CallSpec& spec, bool remote);

  // --- shutdown (shutdown.cc) ---
  TimeUs ShutdownDeadline() const;
  std::set<std::uint64_t> HeldByOwnedValues() const;  // handles inside the values of the OwnerRRefs in owners_
  void StartDeleteAllUsers();
  void AdvanceShutdown();
  Expected<bool> DestroyInstance(bool ignore_leak);

  ContextView MakeView() const;
  void FillView(ContextView& v) const;
  DebugInfo MakeDebugInfo() const;
};

}  // namespace rrefsim::core
