// Worker's public methods: each sets the call's time and output, delegates to Impl, and re-checks the shutdown
// waits (PyTorch's deleteAllUsersCV_ predicates) after every input. An aborted worker ignores every input.
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {

void Fail(const std::string& code, const std::string& text) { throw ProtocolException(code, text); }

RpcErrorType GetRpcErrorType(const std::string& error) {
  if (error.rfind("RPCErr:1:", 0) == 0) return RpcErrorType::kTimeout;
  if (error.rfind("RPCErr:2:", 0) == 0) return RpcErrorType::kIntentionalFailure;
  return RpcErrorType::kUnknown;
}

bool IsNetworkFaultError(std::string_view error) {
  return GetRpcErrorType(std::string(error)) != RpcErrorType::kUnknown || error == kCreationTimedOut;
}

std::string TimeoutErrorText(TimeUs timeout) {
  return "RPCErr:1:RPC ran for more than set timeout (" + std::to_string(timeout / kMillisecond) +
         " ms) and will now be marked with an error";
}

GloballyUniqueId Worker::Impl::GenId() { return GloballyUniqueId{config.id, next_local_id++}; }

void Worker::Impl::Emit(Event event) { out->events.push_back(std::move(event)); }

void Worker::Impl::LogLine(LogLevel level, std::string text) { Emit(Log{level, std::move(text)}); }

void Worker::Impl::Error(const ProtocolException& e, ErrorSite site) { Emit(ProtocolError{e.code, e.what(), site}); }

namespace {

// Runs one input against the Impl with the call's time and output.
template <class F>
auto WithCall(Worker::Impl& impl, TimeUs now, Output& out, F&& f) {
  impl.now = now;
  impl.out = &out;
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    if (!impl.aborted) impl.AdvanceShutdown();
    impl.out = nullptr;
  } else {
    auto result = f();
    if (!impl.aborted) impl.AdvanceShutdown();
    impl.out = nullptr;
    return result;
  }
}

constexpr const char* kAbortedText = "the worker process has aborted";

}  // namespace

Worker::Worker(WorkerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Worker::~Worker() = default;
Worker::Worker(const Worker& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
Worker& Worker::operator=(const Worker& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
Worker::Worker(Worker&&) noexcept = default;
Worker& Worker::operator=(Worker&&) noexcept = default;

Expected<Handle> Worker::Remote(const CallSpec& spec, TimeUs now, Output& out) {
  if (impl_->aborted) return {std::nullopt, kAbortedText};
  return WithCall(*impl_, now, out, [&] { return impl_->Remote(spec); });
}

Expected<FutureId> Worker::RpcAsync(const CallSpec& spec, TimeUs now, Output& out) {
  if (impl_->aborted) return {std::nullopt, kAbortedText};
  return WithCall(*impl_, now, out, [&] { return impl_->RpcAsync(spec); });
}

Expected<FutureId> Worker::ToHere(Handle rref, std::optional<TimeUs> timeout, TimeUs now, Output& out) {
  if (impl_->aborted) return {std::nullopt, kAbortedText};
  return WithCall(*impl_, now, out, [&] { return impl_->ToHere(rref, timeout); });
}

Handle Worker::CreateLocal(const Value& value, const std::string& type_str) {
  Output scratch;  // creating a local RRef emits nothing
  return WithCall(*impl_, impl_->now, scratch, [&] {
    Handle h = impl_->CreateOwnerRRef(impl_->GenId(), type_str);
    impl_->AddRef(h);
    impl_->SetOwnerValue(h, value, std::nullopt, std::nullopt);
    return h;
  });
}

void Worker::Retain(Handle rref) {
  if (!impl_->aborted) impl_->AddRef(rref);
}

void Worker::Release(Handle rref, TimeUs now, Output& out) {
  if (impl_->aborted) return;
  WithCall(*impl_, now, out, [&] { impl_->DropRef(rref); });
}

void Worker::FinishFunction(WorkId work, const FunctionResult& result, TimeUs now, Output& out) {
  if (impl_->aborted) return;
  WithCall(*impl_, now, out, [&] { impl_->FinishWork(work, result); });
}

void Worker::Receive(const Message& message, TimeUs now, Output& out) {
  if (impl_->aborted) return;
  WithCall(*impl_, now, out, [&] {
    if (IsRequest(message.type)) {
      if (impl_->hardened() && !impl_->AcceptRequest(message)) return;
      impl_->Dispatch(message);
      if (impl_->hardened()) impl_->CollectTombstones();
    } else {
      impl_->OnResponse(message);
    }
  });
}

void Worker::SendFailed(std::int64_t message_id, const std::string& error, TimeUs now, Output& out) {
  if (impl_->aborted) return;
  WithCall(*impl_, now, out, [&] {
    if (impl_->hardened()) return impl_->RefusedSend(message_id, error);
    auto it = impl_->attempts.find(message_id);
    if (it == impl_->attempts.end()) return;
    --impl_->client_active_calls;  // the send never reached the agent's bookkeeping
    Site site = it->second.from_retry_thread ? Site::kRetryThread : Site::kInline;
    if (it->second.retry_id) --impl_->retries.at(*it->second.retry_id).written_attempts;
    impl_->OnAttemptDone(message_id, nullptr, error, site);
  });
}

std::optional<TimeUs> Worker::NextDeadline(Timers which) const {
  if (impl_->aborted) return std::nullopt;
  return impl_->NextDeadline(which);
}

// The shutdown wait's deadline is checked after every input (WithCall), so kTimeouts calls check it too; that is
// harmless: it only fires once it is due.
void Worker::AdvanceTo(TimeUs now, Output& out, Timers which) {
  if (impl_->aborted) return;
  WithCall(*impl_, now, out, [&] { impl_->FireDueTimers(which); });
}

void Worker::DeleteAllUsersAndUnforkedOwners(TimeUs now, Output& out) {
  if (impl_->aborted) return;
  WithCall(*impl_, now, out, [&] { impl_->StartDeleteAllUsers(); });
}

void Worker::StopAgent() { impl_->agent_running = false; }

Expected<bool> Worker::DestroyContext(bool ignore_leak, Output& out) {
  if (impl_->aborted) return {std::nullopt, kAbortedText};
  return WithCall(*impl_, impl_->now, out, [&] { return impl_->DestroyInstance(ignore_leak); });
}

WorkerId Worker::id() const { return impl_->config.id; }
bool Worker::aborted() const { return impl_->aborted; }
DebugInfo Worker::GetDebugInfo() const { return impl_->MakeDebugInfo(); }
std::int64_t Worker::ClientActiveCalls() const { return impl_->client_active_calls; }
ContextView Worker::View() const { return impl_->MakeView(); }
void Worker::View(ContextView& into) const { impl_->FillView(into); }

}  // namespace rrefsim::core
