// The RRefContext maps and the two halves of a fork: pickling an RRef into an outgoing message
// (prepareChildFork, the parent's side) and unpickling it from an incoming one (getOrCreateRRef +
// notifyOwnerAndParentOfFork, the child's side). rref-protocol.md §1, §4.1, §4.2.
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {
namespace {

// TensorType and its refinements ("Tensor", "Tensor(float)") are the only types PyTorch compares by subtyping.
bool IsTensorType(const std::string& type_str) { return type_str.rfind("Tensor", 0) == 0; }

}  // namespace

void Worker::Impl::AddForkOfOwner(RRefId rref_id, ForkId fork_id) {
  auto& rref_forks = forks[rref_id];
  Check(!rref_forks.contains(fork_id), "A1", "Got fork notification twice on the same RRef " + ToString(fork_id));
  rref_forks.insert(fork_id);
}

void Worker::Impl::AddForkOfOwnerIfNotPresent(RRefId rref_id, ForkId fork_id) {
  auto& rref_forks = forks[rref_id];
  if (rref_forks.insert(fork_id).second) return;
  LogLine(LogLevel::kInfo, "Ignoring duplicate request to add Fork of OwnerRRef with RRefId = " + ToString(rref_id) +
                               ", ForkId = " + ToString(fork_id));
}

// Idempotent since PyTorch 1.5 (#33636). Returns the OwnerRRef it erased from owners_, after releasing it.
std::optional<Handle> Worker::Impl::DelForkOfOwner(RRefId rref_id, ForkId fork_id) {
  auto rref_it = forks.find(rref_id);
  if (rref_it == forks.end()) {
    LogLine(LogLevel::kInfo, "Could not find OwnerRRef with RRefId = " + ToString(rref_id) +
                                 ", likely because it was deleted by a previously retried message");
    return std::nullopt;
  }
  if (rref_it->second.erase(fork_id) == 0) {
    LogLine(LogLevel::kInfo, "Could not find UserRRef instance, RRefId = " + ToString(rref_id) +
                                 ", ForkId = " + ToString(fork_id) +
                                 ", likely because it was deleted by a previously retried message");
  }
  if (!rref_it->second.empty()) return std::nullopt;
  forks.erase(rref_it);
  auto owner_it = owners.find(rref_id);
  if (owner_it == owners.end()) return std::nullopt;
  // hardened: an OwnerRRef made early by unpickling stays until its REMOTE_CALL adds the creator's fork; erasing it
  // here would let that REMOTE_CALL create a second OwnerRRef nobody waits on (P18).
  if (hardened() && Get(owner_it->second).awaiting_creation) return std::nullopt;
  Handle deleted = owner_it->second;
  owners.erase(owner_it);
  if (hardened()) BuryOwner(rref_id);  // a late fetch gets an error, not a wait in pendingOwners_ (P10)
  MaybeDestroy(deleted);
  return deleted;
}

void Worker::Impl::AddSelfAsFork(Handle owner) {
  RRefId rref_id = Get(owner).rref_id;
  Unbury(rref_id);
  owners[rref_id] = owner;
  auto& rref_forks = forks[rref_id];
  Check(!rref_forks.contains(rref_id), "A2", "Attempt to add self as fork twice " + ToString(rref_id));
  rref_forks.insert(rref_id);
}

void Worker::Impl::AddPendingChild(ForkId fork_id, Handle parent) {
  if (mutants::Mutated(mutants::Mutant::kSkipPendingChildPin)) return;
  Check(!Get(parent).is_owner, "A3", "OwnerRRef should not have a pending child.");
  Check(!pending_children.contains(fork_id), "A4", "Inconsistent states: attempt to add the same child fork twice.");
  pending_children.emplace(fork_id, parent);
  ++Get(parent).child_pins;
}

void Worker::Impl::DelPendingChild(ForkId fork_id) {
  auto it = pending_children.find(fork_id);
  if (it == pending_children.end()) {
    LogLine(LogLevel::kInfo,
            "Ignoring duplicate request to delete child UserRRef with ForkId = " + ToString(fork_id));
    return;
  }
  Handle parent = it->second;
  pending_children.erase(it);
  --Get(parent).child_pins;
  // hardened shutdown deferred this parent's delete until its last child was accepted (G2, P12)
  if (Get(parent).delete_when_unpinned && Get(parent).child_pins == 0) TryDel(parent);
  MaybeDestroy(parent);  // G2: only now may the parent go and send its RREF_USER_DELETE
}

void Worker::Impl::AddPendingUser(ForkId fork_id, Handle user, std::optional<WorkId> gate) {
  Check(!Get(user).is_owner, "A5", "Attempt to add an OwnerRRef as a pending User.");
  Check(!pending_users.contains(fork_id), "A6", "Inconsistent states: attempt to add the same UserRRef twice.");
  if (mutants::Mutated(mutants::Mutant::kSkipGating)) gate.reset();
  pending_users.emplace(fork_id, PendingUser{user, gate});
  if (gate) ++works.at(*gate).waiting;
}

// Moves the user to confirmedUsers_, confirms it, and releases the request it gates. A released request's
// function starts here, inline (§9.4); its id is returned so the caller can hold back what must follow it.
std::optional<WorkId> Worker::Impl::DelPendingUser(ForkId fork_id) {
  auto it = pending_users.find(fork_id);
  Check(it != pending_users.end(), "A7", "Inconsistent states: attempt to delete a non-exist UserRRef.");
  PendingUser state = it->second;
  AddConfirmedUser(fork_id, state.user);
  pending_users.erase(it);
  Get(state.user).confirmed_by_owner = true;
  std::optional<WorkId> started;
  if (state.gate) {
    auto work = works.find(*state.gate);
    if (work != works.end() && --work->second.waiting == 0) {
      StartWork(*state.gate);
      started = state.gate;
    }
  }
  MaybeDestroy(state.user);
  return started;
}

void Worker::Impl::AddConfirmedUser(ForkId fork_id, Handle user) { confirmed_users.try_emplace(fork_id, user); }

Handle Worker::Impl::GetOrCreateOwnerRRef(RRefId rref_id, const std::string& type_str) {
  auto it = owners.find(rref_id);
  if (it == owners.end()) {
    Handle h = CreateOwnerRRef(rref_id, type_str);
    owners.emplace(rref_id, h);
    auto pending = pending_owners.find(rref_id);
    if (pending != pending_owners.end()) {  // S8: fetches that arrived first now wait for the value
      Get(h).waiters = std::move(pending->second);
      pending_owners.erase(pending);
    }
    return h;
  }
  const Instance& owner = Get(it->second);
  if (IsTensorType(type_str)) {
    Check(IsTensorType(owner.type_str), "A13",
          "Expect OwnerRRef to be a sub-type of TensorType, but got " + owner.type_str);
  } else {
    Check(owner.type_str == type_str, "A14",
          "OwnerRRef type is " + owner.type_str + ", expected type is " + type_str);
  }
  return it->second;
}

ForkData Worker::Impl::PrepareChildFork(Handle h) {
  Instance& rref = Get(h);
  // hardened: a remote() that timed out is still created exactly once, so its RRef may be shared; only one whose
  // request never left cannot (pytorch cannot tell the two apart).
  const bool unusable = hardened() ? rref.never_created : rref.timed_out;
  Check(!unusable, "A17",
        std::string(kCreationTimedOut));
  if (!rref.is_owner) {
    Check(!rref.deleted_on_owner, "A18", Name(h) + " has been deleted. Cannot call fork an UserRRef after deletion.");
  }
  ForkData fork{rref.owner, rref.rref_id, GenId(), config.id, rref.type_str};
  if (mutants::Mutated(mutants::Mutant::kWrongParent) && !rref.is_owner) fork.parent = rref.owner;
  if (rref.is_owner) {
    AddForkOfOwner(fork.rref_id, fork.fork_id);  // Note [Early Fork Registration]
    Unbury(fork.rref_id);                        // the OwnerRRef is shared again: fetches are answered
    auto [it, inserted] = owners.try_emplace(fork.rref_id, h);
    if (!inserted && it->second != h) {  // owners_[id] = rref overwrites another OwnerRRef object of the same id
      Handle previous = std::exchange(it->second, h);
      MaybeDestroy(previous);
    }
  } else {
    AddPendingChild(fork.fork_id, h);  // G2; also the phantom fork when the child is the owner
  }
  return fork;
}

WireValue Worker::Impl::PickleValue(const Value& value) {
  WireValue wire;
  wire.payload = value.payload;
  for (Handle h : value.rrefs) wire.rrefs.push_back(PrepareChildFork(h));
  return wire;
}

Handle Worker::Impl::UnpickleFork(const ForkData& fork, std::optional<WorkId> gate) {
  const bool early = fork.owner == config.id && !owners.contains(fork.rref_id);
  Handle h = fork.owner == config.id ? GetOrCreateOwnerRRef(fork.rref_id, fork.type_str)
                                     : CreateUserRRef(fork.owner, fork.rref_id, fork.fork_id, fork.type_str);
  if (early && hardened()) Get(h).awaiting_creation = true;  // its REMOTE_CALL is still to come (P18)
  AddRef(h);  // held by the value being unpickled
  try {
    NotifyOwnerAndParentOfFork(fork, h, gate);
  } catch (const ProtocolException&) {
    DropRef(h);
    throw;
  }
  return h;
}

// Unpickles every RRef of a value; if one throws, the ones already unpickled are released (as Python would free
// them) and the error propagates.
Value Worker::Impl::UnpickleValue(const WireValue& wire, std::optional<WorkId> gate) {
  Value value;
  value.payload = wire.payload;
  try {
    for (const ForkData& fork : wire.rrefs) value.rrefs.push_back(UnpickleFork(fork, gate));
  } catch (const ProtocolException&) {
    for (Handle h : value.rrefs) DropRef(h);
    throw;
  }
  return value;
}

void Worker::Impl::NotifyOwnerAndParentOfFork(const ForkData& fork, Handle rref, std::optional<WorkId> gate) {
  if (fork.parent == fork.owner) {
    if (fork.parent == config.id) {  // S6: owner to self undoes the pickling-time registration
      std::optional<Handle> deleted = DelForkOfOwner(fork.rref_id, fork.fork_id);
      if (deleted && Find(*deleted) != nullptr) {
        Check(Get(*deleted).rref_id == fork.rref_id, "A12",
              "Deleting a fork of " + ToString(fork.rref_id) + " triggered deleting the OwnerRRef of " +
                  ToString(Get(*deleted).rref_id));
      }
    } else {  // S5: the owner registered this fork before sending it
      AddConfirmedUser(fork.fork_id, rref);
    }
    return;
  }
  Message m;
  if (Get(rref).is_owner) {  // S4: phantom fork, accepted at once
    ++num_pending_futures;
    m.type = MessageType::RREF_CHILD_ACCEPT;
    m.to = fork.parent;
    m.fork_id = fork.fork_id;
    Purpose p;
    p.kind = Purpose::Kind::kChildAccept;
    SendWithRetries(std::move(m), p);
    return;
  }
  if (mutants::Mutated(mutants::Mutant::kAcceptBeforeConfirm)) SendChildAccept(fork.parent, fork.fork_id);
  ++num_pending_futures;  // S3: ask the owner, and gate the request until it answers
  m.type = MessageType::RREF_FORK_REQUEST;
  m.to = fork.owner;
  m.rref_id = fork.rref_id;
  m.fork_id = fork.fork_id;
  Purpose p;
  p.kind = Purpose::Kind::kForkRequest;
  p.fork_id = fork.fork_id;
  p.parent = fork.parent;
  std::int64_t retry_id = SendWithRetries(std::move(m), p);
  try {
    AddPendingUser(fork.fork_id, rref, gate);
  } catch (const ProtocolException&) {
    // PyTorch attaches the FORK_REQUEST callback after addPendingUser: when that throws (A6), the request is out but
    // its reply runs no finishForkRequest, and numPendingFutures_ is never decremented.
    SentPurpose(retry_id, /*retried=*/true).attached = false;
    throw;
  }
}

}  // namespace rrefsim::core
