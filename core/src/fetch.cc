// to_here: on a user it sends one fetch (no retry) to the owner; on the owner it waits for the value. The owner
// answers a fetch once its OwnerRRef exists (pendingOwners_ until then, S8) and its value is set.
// rref-protocol.md §3.1, §4.5.
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {

Expected<FutureId> Worker::Impl::ToHere(Handle h, std::optional<TimeUs> timeout) {
  const Instance& rref = Get(h);
  try {
    Check(!rref.timed_out, "A17",
          std::string(kCreationTimedOut));
    if (!rref.is_owner) {
      Check(!rref.deleted_on_owner, "A18",
            Name(h) + " has been deleted. Cannot call to_here() on it after deletion.");
    }
  } catch (const ProtocolException& e) {
    Error(e, ErrorSite::kCaller);
    return {std::nullopt, e.what()};
  }
  if (rref.creation_error) return {std::nullopt, "RRef creation via rpc.remote() failed: " + *rref.creation_error};
  FutureId future = next_future++;
  if (rref.is_owner) {  // OwnerRRef::getValue
    ValueWaiter waiter;
    waiter.local = true;
    waiter.future = future;
    if (rref.value_set) {
      AnswerWaiter(h, waiter);
    } else {
      Get(h).waiters.push_back(waiter);
    }
    return {future, {}};
  }
  Message m;
  m.type = rref.type_str == "PyObject" ? MessageType::PYTHON_RREF_FETCH_CALL : MessageType::SCRIPT_RREF_FETCH_CALL;
  m.to = rref.owner;
  m.rref_id = rref.rref_id;
  Purpose p;
  p.kind = Purpose::Kind::kFetch;
  p.future = future;
  SendOnce(std::move(m), timeout ? *timeout : config.default_timeout, p);
  return {future, {}};
}

void Worker::Impl::HandleFetch(const Message& request) {
  ValueWaiter waiter;
  waiter.requester = request.from;
  waiter.request_id = request.id;
  waiter.fetch_type = request.type;
  waiter.request_seq = request.seq;
  auto it = owners.find(request.rref_id);
  if (it == owners.end() && hardened() && AnswerFetchOfDeleted(request)) return;
  if (it == owners.end()) {  // getOwnerRRef: the RRef is used before it is created (or after it was deleted)
    pending_owners[request.rref_id].push_back(waiter);
    return;
  }
  if (Get(it->second).value_set) {
    AnswerWaiter(it->second, waiter);
  } else {
    Get(it->second).waiters.push_back(waiter);
  }
}

}  // namespace rrefsim::core
