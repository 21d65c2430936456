// Incoming SCRIPT/PYTHON_CALL and _REMOTE_CALL: unpickle the arguments (creating children and pending users),
// gate the user function until they are confirmed (§4.3), hand it to the host, and when it finishes reply, or
// for a remote() create the OwnerRRef and set its value (assignOwnerRRef after the function, §9.4).
#include <stdexcept>
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {
namespace {
bool IsRemoteCall(MessageType t) {
  return t == MessageType::SCRIPT_REMOTE_CALL || t == MessageType::PYTHON_REMOTE_CALL;
}
}  // namespace

Expected<FutureId> Worker::Impl::RpcAsync(const CallSpec& spec) {
  Message m = CallMessage(spec, /*remote=*/false);
  try {
    m.value = PickleValue(spec.args);
  } catch (const ProtocolException& e) {
    Error(e, ErrorSite::kCaller);
    return {std::nullopt, e.what()};
  }
  Purpose p;
  p.kind = Purpose::Kind::kUserCall;
  p.future = next_future++;
  SendOnce(std::move(m), spec.timeout ? *spec.timeout : config.default_timeout, p);
  return {p.future, {}};
}

void Worker::Impl::HandleCall(const Message& request) {
  WorkId id = next_work++;
  works.emplace(id, Work{request, {}, 0, false, {}});
  Value args;
  try {
    args = UnpickleValue(request.value, id);
  } catch (const ProtocolException&) {
    // clearRecordedPendingRRefsOnError: the pending users stay in pendingUsers_, but gate nothing any more.
    for (auto& [fork, pending] : pending_users) {
      if (pending.gate == id) pending.gate.reset();
    }
    works.erase(id);
    throw;
  }
  Work& work = works.at(id);
  work.args = std::move(args.rrefs);
  if (work.waiting == 0) StartWork(id);
}

void Worker::Impl::StartWork(WorkId id) {
  Work& work = works.at(id);
  work.running = true;
  RunFunction run;
  run.work = id;
  run.caller = work.request.from;
  run.request = work.request.type;
  run.function = work.request.function;
  run.args.payload = work.request.value.payload;
  run.args.rrefs = std::move(work.args);  // the references pass to the host
  work.args.clear();
  Emit(std::move(run));
}

void Worker::Impl::FinishWork(WorkId id, const FunctionResult& result) {
  auto it = works.find(id);
  if (it == works.end() || !it->second.running) {
    throw std::logic_error("rrefsim: FinishFunction for work " + std::to_string(id) + " that is not running");
  }
  Work work = std::move(it->second);
  works.erase(it);
  const Message& request = work.request;
  try {
    if (IsRemoteCall(request.type)) {
      AssignOwnerRRef(request, result);
    } else if (result.kind == FunctionResult::Kind::kReturned) {
      Message reply;
      reply.type = request.type == MessageType::SCRIPT_CALL ? MessageType::SCRIPT_RET : MessageType::PYTHON_RET;
      ReplyWithPickledValue(request, std::move(reply), result.value);
    } else if (result.kind == FunctionResult::Kind::kRaised && request.type == MessageType::PYTHON_CALL) {
      Message reply;  // a Python exception travels back as a RemoteException value
      reply.type = MessageType::PYTHON_RET;
      reply.value.raised = result.error;
      SendResponse(request, std::move(reply));
    } else if (result.kind == FunctionResult::Kind::kRaised) {
      // runJitOperator / runJitFunction catch the exception and return asFuture(exception): an errored future.
      ReplyFutureError(request, result.error);
    } else {
      ReplyException(request, result.error);  // kFailed: the request could not run (thrown synchronously)
    }
  } catch (const ProtocolException& e) {
    Error(e, ErrorSite::kRequestHandler);
    ReplyException(request, e.what());
  }
  // The callback that ran the function ends: the request object and the argument references of the function's frame
  // go, after the reply and before the rest of the fork-request callback that started it (§9.4).
  for (Handle h : result.release_after_reply) DropRef(h);
  // The rest of the fork-request callbacks that started this function inline (§9.4).
  for (const Work::Deferred& d : work.deferred) {
    SendChildAccept(d.parent, d.fork_id);
    if (!mutants::Mutated(mutants::Mutant::kLeakPendingFuture)) --num_pending_futures;
    if (d.pool_task) --client_active_calls;
  }
}

// The then() continuation that serializes a return value (ScriptResp::toMessage, serializePyObject): pickling forks
// the RRefs in it (S7), and a throw there completes the response future with an error (no "Error on Node" prefix).
void Worker::Impl::ReplyWithPickledValue(const Message& request, Message reply, const Value& value) {
  try {
    reply.value = PickleValue(value);
  } catch (const ProtocolException& e) {
    Error(e, ErrorSite::kRequestHandler);
    ReplyFutureError(request, e.what());
    return;
  }
  SendResponse(request, std::move(reply));
}

// RequestCallbackNoPython::assignOwnerRRef. The synchronous part (owner lookup or creation, fork registration) throws
// to the request handler; the continuation on the value future (setValue / setError, REMOTE_RET) turns a throw into
// an errored response future.
void Worker::Impl::AssignOwnerRRef(const Message& request, const FunctionResult& result) {
  // pytorch: no OwnerRRef is created, and fetches of it would wait forever (P5, P10). hardened: the OwnerRRef is
  // created holding the error, so every use of the RRef gets it and the RRef is deleted like any other.
  if (result.kind == FunctionResult::Kind::kFailed && !hardened()) Fail("", result.error);
  Handle owner;
  if (request.rref_id == request.fork_id) {  // remote() to self: getOwnerRRef(forceCreated=true)
    auto it = owners.find(request.rref_id);
    Check(it != owners.end(), "A11", "Expected OwnerRRef with id " + ToString(request.rref_id) + " to be created.");
    owner = it->second;
  } else {
    // valueFuture->elementType(): a raising builtin/TorchScript function's future is asFuture(exception), typed
    // NoneType. A successful one is typed with the runtime type of its value, modelled by the declared type.
    bool errored_script = request.type == MessageType::SCRIPT_REMOTE_CALL &&
                          result.kind == FunctionResult::Kind::kRaised;
    owner = GetOrCreateOwnerRRef(request.rref_id, errored_script ? "NoneType" : request.type_str);
    Get(owner).awaiting_creation = false;
    AddForkOfOwner(request.rref_id, request.fork_id);
  }
  try {
    if (result.kind == FunctionResult::Kind::kReturned) {
      SetOwnerValue(owner, result.value, std::nullopt, std::nullopt);
    } else if (result.kind == FunctionResult::Kind::kFailed) {
      SetOwnerValue(owner, {}, result.error, std::nullopt);  // hardened only (see above)
    } else if (request.type == MessageType::PYTHON_REMOTE_CALL) {
      SetOwnerValue(owner, {}, std::nullopt, result.error);  // a Python exception is stored as the value
    } else {
      SetOwnerValue(owner, {}, result.error, std::nullopt);  // setError (setErrorIfNeeded)
    }
  } catch (const ProtocolException& e) {  // setValue on a completed future, inside then()
    Error(e, ErrorSite::kRequestHandler);
    ReplyFutureError(request, e.what());
    return;
  }
  Message reply;
  reply.type = MessageType::REMOTE_RET;
  reply.rref_id = request.rref_id;
  reply.fork_id = request.fork_id;
  SendResponse(request, std::move(reply));
}

}  // namespace rrefsim::core
