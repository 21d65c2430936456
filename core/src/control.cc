// The RRef control messages (RREF_USER_DELETE, RREF_FORK_REQUEST, RREF_CHILD_ACCEPT): the owner's and parent's
// handlers, the callbacks at their senders, and the dispatch of every incoming request (rref-protocol.md §3.1).
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {

void Worker::Impl::Dispatch(const Message& request) {
  try {
    // A TensorPipe retry whose payload was moved out cannot be unpickled (§9.1; unpickler.cpp's AT_ERROR text).
    if (request.empty_payload) Fail("", "Unexpected end of pickler archive.");
    switch (request.type) {
      case MessageType::RREF_USER_DELETE:
        return HandleUserDelete(request);
      case MessageType::RREF_FORK_REQUEST:
        return HandleForkRequest(request);
      case MessageType::RREF_CHILD_ACCEPT:
        return HandleChildAccept(request);
      case MessageType::SCRIPT_RREF_FETCH_CALL:
      case MessageType::PYTHON_RREF_FETCH_CALL:
        return HandleFetch(request);
      case MessageType::SCRIPT_CALL:
      case MessageType::PYTHON_CALL:
      case MessageType::SCRIPT_REMOTE_CALL:
      case MessageType::PYTHON_REMOTE_CALL:
        return HandleCall(request);
      default:
        Fail("A22", "Request type " + std::to_string(static_cast<int>(request.type)) + " not supported.");
    }
  } catch (const ProtocolException& e) {
    Error(e, ErrorSite::kRequestHandler);
    ReplyException(request, e.what());
  }
}

namespace {
Message Ack() {
  Message ack;
  ack.type = MessageType::RREF_ACK;
  return ack;
}
}  // namespace

void Worker::Impl::HandleUserDelete(const Message& request) {
  if (mutants::Mutated(mutants::Mutant::kFreeOwnerOnFirstDelete)) {
    if (auto it = forks.find(request.rref_id); it != forks.end()) it->second = {request.fork_id};
  }
  if (mutants::Mutated(mutants::Mutant::kLeakForkOnDelete)) return SendResponse(request, Ack());
  if (hardened()) RecordForkDelete(request);
  DelForkOfOwner(request.rref_id, request.fork_id);
  SendResponse(request, Ack());
}

// Does not check whether the RRef was already deleted: a late request re-creates the fork (P1).
void Worker::Impl::HandleForkRequest(const Message& request) {
  AddForkOfOwnerIfNotPresent(request.rref_id, request.fork_id);
  SendResponse(request, Ack());
}

void Worker::Impl::HandleChildAccept(const Message& request) {
  DelPendingChild(request.fork_id);
  SendResponse(request, Ack());
}

void Worker::Impl::SendChildAccept(WorkerId parent, ForkId fork_id) {
  ++num_pending_futures;
  Message m;
  m.type = MessageType::RREF_CHILD_ACCEPT;
  m.to = parent;
  m.fork_id = fork_id;
  Purpose p;
  p.kind = Purpose::Kind::kChildAccept;
  SendWithRetries(std::move(m), p);
}

// RRefContext::finishForkRequest, then the fork-request callback's --numPendingFutures_. If confirming the user
// released a gated request, its function runs first (inline in PyTorch), so both wait for FinishFunction.
void Worker::Impl::FinishForkRequest(ForkId fork_id, WorkerId parent, bool pool_task) {
  std::optional<WorkId> started = DelPendingUser(fork_id);
  if (started) {
    works.at(*started).deferred.push_back({fork_id, parent, pool_task});
    callback_held_by_function = true;
    return;
  }
  SendChildAccept(parent, fork_id);
  if (!mutants::Mutated(mutants::Mutant::kLeakPendingFuture)) --num_pending_futures;
}

void Worker::Impl::RunCallback(const Purpose& purpose, const Message* response, const std::string& error,
                               Site site) {
  if (!purpose.attached) return;
  switch (purpose.kind) {
    case Purpose::Kind::kRemoteCreate:
      return ConfirmPendingUser(response, error, purpose.fork_id);
    case Purpose::Kind::kSelfRemoteCreate:
      return FinishCreatingOwnerRRef(response, error, purpose.rref_id);
    case Purpose::Kind::kUserCall:
    case Purpose::Kind::kFetch: {
      // The response is unpickled on the callback thread with recording off: no gating (§4.3).
      FutureDone done{purpose.future, {}};
      if (response == nullptr) {
        done.outcome.error = error;
      } else if (response->value.raised) {
        done.outcome.error = *response->value.raised;
      } else {
        try {
          done.outcome.value = UnpickleValue(response->value, std::nullopt);
        } catch (const ProtocolException& e) {
          Error(e, ErrorSite::kCaller);
          done.outcome.error = e.what();
        }
      }
      Emit(std::move(done));
      return;
    }
    case Purpose::Kind::kUserDelete:
    case Purpose::Kind::kChildAccept:
      // handleExceptionSilent: a final error is only logged at VLOG(1).
      --num_pending_futures;
      return;
    case Purpose::Kind::kForkRequest:
      // handleException throws on a final error: finishForkRequest and the decrement are skipped (P6).
      if (response == nullptr) Fail("A23", error);
      return FinishForkRequest(purpose.fork_id, purpose.parent, site == Site::kPool);
  }
}

}  // namespace rrefsim::core
