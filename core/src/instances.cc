// RRef objects and their lifetime: PyTorch's intrusive refcount plus the maps that hold strong pointers
// (owners_, pendingUsers_, pendingChildren_, a fetch waiting for the value). When nothing holds a UserRRef it is
// destroyed and tryDel sends RREF_USER_DELETE; when nothing holds an OwnerRRef it is freed with its value.
#include <stdexcept>
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {

std::string Worker::Impl::Name(Handle h) const {
  const Instance* i = Find(h);
  if (i == nullptr) return "RRef(handle=" + std::to_string(h.id) + ")";
  if (i->is_owner) return "OwnerRRef(rref_id=" + ToString(i->rref_id) + ")";
  return "UserRRef(rref_id=" + ToString(i->rref_id) + ", fork_id=" + ToString(i->fork_id) + ")";
}

const Instance* Worker::Impl::Find(Handle h) const {
  auto it = instances.find(h.id);
  return it == instances.end() ? nullptr : &it->second;
}

// A handle the host passes in must be live: using a released handle is a bug in the host, not a protocol event.
Instance& Worker::Impl::Get(Handle h) {
  auto it = instances.find(h.id);
  if (it == instances.end()) {
    throw std::logic_error("rrefsim: worker " + std::to_string(config.id) + " has no live RRef with handle " +
                           std::to_string(h.id));
  }
  return it->second;
}

Handle Worker::Impl::NewInstance(Instance instance) {
  Handle h{next_handle++};
  instances.emplace(h.id, std::move(instance));
  return h;
}

// RRefContext::createUserRRef: always a new UserRRef object, even if this worker holds another one of the RRef.
Handle Worker::Impl::CreateUserRRef(WorkerId owner, RRefId rref_id, ForkId fork_id, const std::string& type_str) {
  Check(owner != config.id, "A16", "RRef owner cannot create user RRef.");
  Instance user;
  user.owner = owner;
  user.rref_id = rref_id;
  user.fork_id = fork_id;
  user.type_str = type_str;
  return NewInstance(std::move(user));
}

// RRefContext::createOwnerRRef: an OwnerRRef in no map yet.
Handle Worker::Impl::CreateOwnerRRef(RRefId rref_id, const std::string& type_str) {
  Instance owner;
  owner.is_owner = true;
  owner.owner = config.id;
  owner.rref_id = rref_id;
  owner.type_str = type_str;
  return NewInstance(std::move(owner));
}

void Worker::Impl::AddRef(Handle h) { ++Get(h).app_refs; }

void Worker::Impl::DropRef(Handle h) {
  Instance& i = Get(h);
  if (i.app_refs <= 0) {
    throw std::logic_error("rrefsim: released handle " + std::to_string(h.id) + " more often than it was held");
  }
  --i.app_refs;
  MaybeDestroy(h);
}

void Worker::Impl::MaybeDestroy(Handle h) {
  auto it = instances.find(h.id);
  if (it == instances.end()) return;
  Instance& i = it->second;
  if (i.app_refs > 0) return;
  if (!i.is_owner) {
    if (i.child_pins > 0) return;
    auto pending = pending_users.find(i.fork_id);
    if (pending != pending_users.end() && pending->second.user == h) return;
    // UserRRef::release_resources -> tryDel, then the object goes.
    TryDel(h);
    UserRRefDestroyed destroyed{i.rref_id, i.fork_id};
    instances.erase(it);
    Emit(destroyed);
    return;
  }
  if (!i.waiters.empty()) return;
  auto owned = owners.find(i.rref_id);
  if (owned != owners.end() && owned->second == h) return;
  Value value = std::move(i.value);
  RRefId rref_id = i.rref_id;
  instances.erase(it);
  Emit(OwnerRRefFreed{rref_id});
  for (Handle nested : value.rrefs) DropRef(nested);  // S10: the value held the RRefs inside it
}

// UserRRef::tryDel: at most one RREF_USER_DELETE per instance; deletedOnOwner_ is set even when the context is
// already destroyed and nothing was sent.
void Worker::Impl::TryDel(Handle h) {
  Instance& i = Get(h);
  if (i.deleted_on_owner) return;
  if (!mutants::Mutated(mutants::Mutant::kSkipUserDelete)) DelUser(i.owner, i.rref_id, i.fork_id);
  i.deleted_on_owner = true;
}

// RRefContext::delUser.
void Worker::Impl::DelUser(WorkerId owner, RRefId rref_id, ForkId fork_id) {
  if (!destroyed) {
    ++num_pending_futures;
    Message m;
    m.type = MessageType::RREF_USER_DELETE;
    m.to = owner;
    m.rref_id = rref_id;
    m.fork_id = fork_id;
    Purpose p;
    p.kind = Purpose::Kind::kUserDelete;
    SendWithRetries(std::move(m), p);
  }
  confirmed_users.erase(fork_id);
}

// OwnerRRef::setValue / setError, then every continuation waiting on the value runs (inline, as JIT futures do).
// setValue is Future::markCompleted, which throws on a completed future; setError is Future::setErrorIfNeeded,
// which only logs. A Python UDF's exception is a value (setValue).
void Worker::Impl::SetOwnerValue(Handle h, Value value, std::optional<std::string> error,
                                 std::optional<std::string> raised) {
  Instance& owner = Get(h);
  if (owner.value_set && error) {
    std::string text =
        "Skipping setting following error on the Future since it is already marked completed (this is not "
        "necessarily an error):\n" +
        *error;
    if (owner.error) text += ", \nOriginal exception:\n" + *owner.error;
    LogLine(LogLevel::kInfo, std::move(text));
    return;
  }
  Check(!owner.value_set, "",
        "Attempting to mark a completed Future as complete again. Note that a Future can only be marked completed "
        "once.");
  for (Handle nested : value.rrefs) AddRef(nested);
  owner.value = std::move(value);
  owner.error = std::move(error);
  owner.raised = std::move(raised);
  owner.value_set = true;
  std::vector<ValueWaiter> waiters = std::move(owner.waiters);
  owner.waiters.clear();
  for (const ValueWaiter& w : waiters) AnswerWaiter(h, w);
  MaybeDestroy(h);
}

void Worker::Impl::AnswerWaiter(Handle h, const ValueWaiter& w) {
  const Instance& owner = Get(h);
  if (w.local) {
    FutureDone done{w.future, {}};
    if (owner.error || owner.raised) {
      done.outcome.error = owner.error ? *owner.error : *owner.raised;
    } else {
      done.outcome.value = owner.value;
      for (Handle nested : owner.value.rrefs) AddRef(nested);
    }
    Emit(std::move(done));
    return;
  }
  Message request;
  request.type = w.fetch_type;
  request.id = w.request_id;
  request.from = w.requester;
  request.to = config.id;
  request.seq = w.request_seq;
  if (owner.error) {  // getFuture() completed with the stored error: the response future fails with it
    ReplyFutureError(request, *owner.error);
    return;
  }
  Message reply;
  reply.type = w.fetch_type == MessageType::SCRIPT_RREF_FETCH_CALL ? MessageType::SCRIPT_RREF_FETCH_RET
                                                                  : MessageType::PYTHON_RREF_FETCH_RET;
  try {
    Value value = owner.value;  // copy: pickling may change the instance table
    std::optional<std::string> raised = owner.raised;
    reply.value = PickleValue(value);  // forks every RRef in the value, with this owner as parent (S10)
    if (mutants::Mutated(mutants::Mutant::kWrongFetchValue)) ++reply.value.payload;
    reply.value.raised = std::move(raised);
  } catch (const ProtocolException& e) {  // thrown inside the fetch's then() continuation: an errored future
    Error(e, ErrorSite::kRequestHandler);
    ReplyFutureError(request, e.what());
    return;
  }
  SendResponse(request, std::move(reply));
}

}  // namespace rrefsim::core
