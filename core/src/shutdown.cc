// Graceful shutdown, step 2 and step 4 of S12 (rref-protocol.md §5): delAllUsersAndUnforkedOwners as a state
// machine whose waits re-check their predicates after every input (PyTorch's deleteAllUsersCV_) and time out at
// delete_all_users_timeout; then destroyInstance with its leak check.
#include <limits>
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {

// hardened: the waits have no deadline. Every pending user and child is confirmed once the network heals (requests
// are resent until answered), and a timeout would only turn a slow network into a G2 break (P12).
TimeUs Worker::Impl::ShutdownDeadline() const {
  return hardened() ? std::numeric_limits<TimeUs>::max() : now + config.delete_all_users_timeout;
}

std::set<std::uint64_t> Worker::Impl::HeldByOwnedValues() const {
  std::set<std::uint64_t> held;
  for (const auto& [rref_id, h] : owners) {
    for (Handle nested : instances.at(h.id).value.rrefs) held.insert(nested.id);
  }
  return held;
}

void Worker::Impl::StartDeleteAllUsers() {
  shutdown = ShutdownStage::kWaitUsers;
  shutdown_deadline = ShutdownDeadline();
}

void Worker::Impl::AdvanceShutdown() {
  if (shutdown == ShutdownStage::kWaitUsers) {
    // hardened: a request that arrived late (its caller timed out and went on to shut down) may still be running
    // its function, which may use or return the UserRRefs deleted below (A18): wait for it too.
    bool confirmed = pending_users.empty() && pending_children.empty() && (!hardened() || works.empty());
    if (!confirmed && now < shutdown_deadline) return;
    if (!confirmed) {
      LogLine(LogLevel::kError, "Timed out waiting for pending UserRRefs to be confirmed by owner and parent.");
    }
    Emit(ShutdownProgress{ShutdownStep::kUsersConfirmed, !confirmed});
    // tryDel every confirmed user that is still alive, even a parent still in pendingChildren_ after a timeout (P12).
    std::map<ForkId, Handle> users = std::exchange(confirmed_users, {});
    const std::set<std::uint64_t> nested = hardened() ? HeldByOwnedValues() : std::set<std::uint64_t>{};
    for (const auto& [fork, h] : users) {
      if (Find(h) == nullptr) continue;
      // hardened: a UserRRef inside the value of an OwnerRRef still in owners_ is forked again by every fetch of
      // that value (S10); it is deleted when that OwnerRRef is freed, which the second wait waits for.
      if (nested.contains(h.id)) continue;
      if (hardened() && Get(h).child_pins > 0) {
        Get(h).delete_when_unpinned = true;  // G2: its delete waits for the last CHILD_ACCEPT (DelPendingChild)
      } else {
        TryDel(h);
      }
    }
    std::vector<RRefId> unforked;
    for (const auto& [rref_id, h] : owners) {
      // hardened: an OwnerRRef made early by unpickling is not unforked: its creator's fork rides in a REMOTE_CALL
      // still in flight, and freeing it now would free it under that creator's UserRRef (P18 at shutdown).
      if (hardened() && Get(h).awaiting_creation) continue;
      if (!forks.contains(rref_id)) unforked.push_back(rref_id);
    }
    for (const RRefId& rref_id : unforked) {
      LogLine(LogLevel::kInfo, "Removing unforked OwnerRRef with RRefId: " + ToString(rref_id));
      Handle h = owners.at(rref_id);
      owners.erase(rref_id);
      MaybeDestroy(h);
    }
    shutdown = ShutdownStage::kWaitOwners;
    shutdown_deadline = ShutdownDeadline();
  }
  if (shutdown == ShutdownStage::kWaitOwners) {
    bool deleted = owners.empty();
    if (!deleted && now < shutdown_deadline) return;
    if (!deleted) LogLine(LogLevel::kError, "Timed out waiting for pending OwnerRRefs to be deleted.");
    Emit(ShutdownProgress{ShutdownStep::kOwnersDeleted, !deleted});
    shutdown = ShutdownStage::kDone;
  }
}

Expected<bool> Worker::Impl::DestroyInstance(bool ignore_leak) {
  destroyed = true;
  if (!forks.empty()) {  // checkRRefLeaks
    std::string lines;
    for (const auto& [rref_id, rref_forks] : forks) {
      for (const ForkId& fork : rref_forks) {
        lines += "Leaking RRef " + ToString(rref_id) + " with fork Id " + ToString(fork) + "\n";
      }
    }
    LogLine(LogLevel::kWarning,
            "Detected RRef Leaks during shutdown. This usually occurs when the application code still holds "
            "references to RRef instances when calling shutdown(). If the program has completed correctly and the "
            "process is exiting, it is OK to ignore these leaks. However, if you program will keep running after "
            "this, these leaks could result in memory leaks on RRef owners. Please make sure all RRefs are out of "
            "scope and Python GC has deleted them before calling shutdown(): \n" +
                lines);
    if (!ignore_leak) {
      Error(ProtocolException("A19", lines), ErrorSite::kCaller);
      return {std::nullopt, lines};  // owners_ and pendingOwners_ are not cleared after the throw (§9.5)
    }
  }
  std::map<RRefId, Handle> cleared = std::exchange(owners, {});
  pending_owners.clear();  // waiting fetches are dropped, never answered
  for (const auto& [rref_id, h] : cleared) MaybeDestroy(h);
  return {true, {}};
}

}  // namespace rrefsim::core
