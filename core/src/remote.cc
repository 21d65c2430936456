// rpc.remote: creating an RRef on another worker or on self, and the creator's callbacks when the owner answers
// (confirmPendingUser, finishCreatingOwnerRRef) or the call fails (RRef::handleError). rref-protocol.md §3.1, §4.6,
// S1, S2, S11, §9.2.
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {

Message Worker::Impl::CallMessage(const CallSpec& spec, bool remote) {
  Message m;
  if (remote) {
    m.type = spec.kind == CallKind::kScript ? MessageType::SCRIPT_REMOTE_CALL : MessageType::PYTHON_REMOTE_CALL;
  } else {
    m.type = spec.kind == CallKind::kScript ? MessageType::SCRIPT_CALL : MessageType::PYTHON_CALL;
  }
  m.to = spec.to;
  m.function = spec.function;
  return m;
}

// pyRemotePythonUdf: Python pickles the UDF and its arguments (forking argument RRefs) before the C++ side
// generates the result's ids. pyRemoteBuiltin / remoteTorchscript: the ids come first (createUserRRef, or
// createOwnerRRef + addSelfAsFork), and the argument RRefs fork when ScriptRemoteCall::toMessage() pickles the stack.
Expected<Handle> Worker::Impl::Remote(const CallSpec& spec) {
  Message m = CallMessage(spec, /*remote=*/true);
  m.type_str = spec.return_type;
  TimeUs timeout = spec.timeout ? *spec.timeout : config.default_timeout;
  const bool script = spec.kind == CallKind::kScript;
  if (!script) {
    try {
      m.value = PickleValue(spec.args);  // argument RRefs fork before the result's ids are generated
    } catch (const ProtocolException& e) {
      Error(e, ErrorSite::kCaller);
      return {std::nullopt, e.what()};
    }
  }
  if (spec.to != config.id) {
    RRefId rref_id = GenId();
    ForkId fork_id = GenId();
    Handle user = CreateUserRRef(spec.to, rref_id, fork_id, spec.return_type);
    AddRef(user);  // the application's reference
    if (script) {
      try {
        m.value = PickleValue(spec.args);  // toMessage(): the arguments fork after the ids
      } catch (const ProtocolException& e) {
        // The exception leaves pyRemoteBuiltin before the send: the new UserRRef dies (tryDel), sending an
        // RREF_USER_DELETE for an RRef that was never created.
        Error(e, ErrorSite::kCaller);
        DropRef(user);
        return {std::nullopt, e.what()};
      }
    }
    m.rref_id = rref_id;
    m.fork_id = fork_id;
    Purpose p;
    p.kind = Purpose::Kind::kRemoteCreate;
    p.fork_id = fork_id;
    std::int64_t id = SendOnce(std::move(m), timeout, p);
    try {
      if (!mutants::Mutated(mutants::Mutant::kForgetPendingUser)) AddPendingUser(fork_id, user, std::nullopt);  // after the send, as pyRemote*
    } catch (const ProtocolException& e) {
      // A6 raises to the caller before confirmPendingUser is attached; the new UserRRef dies (tryDel).
      SentPurpose(id, /*retried=*/false).attached = false;
      Error(e, ErrorSite::kCaller);
      DropRef(user);
      return {std::nullopt, e.what()};
    }
    return {user, {}};
  }
  // S2: the owner exists before the call; forkId == rrefId tells the callee it is not a real fork.
  Handle owner = CreateOwnerRRef(GenId(), spec.return_type);
  AddRef(owner);
  try {
    AddSelfAsFork(owner);
    if (script) m.value = PickleValue(spec.args);  // toMessage(), after addSelfAsFork
  } catch (const ProtocolException& e) {
    // A2, or a fork of an argument that failed: raised to the caller before the send. Nothing is undone: owners_
    // keeps the OwnerRRef (and, after addSelfAsFork, forks_ its self marker), which nothing will remove.
    Error(e, ErrorSite::kCaller);
    DropRef(owner);
    return {std::nullopt, e.what()};
  }
  m.rref_id = Get(owner).rref_id;
  m.fork_id = m.rref_id;
  Purpose p;
  p.kind = Purpose::Kind::kSelfRemoteCreate;
  p.rref_id = m.rref_id;
  SendOnce(std::move(m), timeout, p);
  return {owner, {}};
}

void Worker::Impl::ConfirmPendingUser(const Message* response, const std::string& error, ForkId fork_id) {
  if (response != nullptr) {
    // A bare TORCH_INTERNAL_ASSERT(cond): its text is the condition (the build-dependent " at <file>:<line>, please
    // report a bug to PyTorch." part is not modelled).
    Check(response->fork_id == fork_id, "A9", "rr->forkId() == expectedForkId INTERNAL ASSERT FAILED");
  } else {
    auto it = pending_users.find(fork_id);
    Check(it != pending_users.end(), "A8", "Pending user with forkId " + ToString(fork_id) + " not found");
    HandleError(it->second.user, error);
  }
  DelPendingUser(fork_id);  // also after a timeout: the timed-out UserRRef becomes deletable
}

void Worker::Impl::FinishCreatingOwnerRRef(const Message* response, const std::string& error, RRefId rref_id) {
  if (response == nullptr) {
    auto it = owners.find(rref_id);
    Check(it != owners.end(), "A11", "Expected OwnerRRef with id " + ToString(rref_id) + " to be created.");
    HandleError(it->second, error);
    DelForkOfOwner(rref_id, rref_id);
    return;
  }
  Check(response->rref_id == response->fork_id, "A10", "Expecting an OwnerRRef as RemoteRet but got a fork.");
  DelForkOfOwner(response->rref_id, response->rref_id);
}

// RRef::handleError. Its handler table is a function-static map whose TIMEOUT and INTENTIONAL_FAILURE lambdas
// captured `this` of the first RRef that ever called it on this worker, so the flag lands there (§9.2, P16).
void Worker::Impl::HandleError(Handle rref, const std::string& error) {
  if (!first_error_rref) first_error_rref = rref;
  if (GetRpcErrorType(error) == RpcErrorType::kUnknown) Fail("A23", error);  // handleException
  auto target = instances.find(first_error_rref->id);
  if (target == instances.end()) {
    LogLine(LogLevel::kHazard, "RRef::handleError wrote timedOut_ into a freed RRef (handle " +
                                   std::to_string(first_error_rref->id) + ", the first RRef that reported an error "
                                   "on worker " + std::to_string(config.id) + ") instead of " + Name(rref));
    return;
  }
  target->second.timed_out = true;
}

}  // namespace rrefsim::core
