// What the `hardened` mode does when a request's reply arrives (docs/hardened-protocol.md §3). The callbacks never
// throw on an error reply (P5, P6, P17): a failed remote() leaves a clean error on its RRef and releases its pin, a
// fork request is finished whatever its answer, so no pin and no pending future outlives its message.
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {

void Worker::Impl::RunHardenedCallback(const Purpose& purpose, const Message* response, const std::string& error) {
  if (!purpose.attached) return;
  switch (purpose.kind) {
    case Purpose::Kind::kRemoteCreate: {
      auto it = pending_users.find(purpose.fork_id);
      if (it == pending_users.end()) return;
      if (response != nullptr) {
        Check(response->fork_id == purpose.fork_id, "A9", "rr->forkId() == expectedForkId INTERNAL ASSERT FAILED");
      } else {
        Get(it->second.user).creation_error = error;
      }
      DelPendingUser(purpose.fork_id);  // the creator's UserRRef may go now, and its delete follows the creation
      return;
    }
    case Purpose::Kind::kSelfRemoteCreate: {
      auto it = owners.find(purpose.rref_id);
      if (response == nullptr && it != owners.end()) Get(it->second).creation_error = error;
      DelForkOfOwner(purpose.rref_id, purpose.rref_id);  // only now: the request was processed (P11)
      return;
    }
    case Purpose::Kind::kForkRequest:
      if (response == nullptr) LogLine(LogLevel::kError, "RREF_FORK_REQUEST answered with an error: " + error);
      return FinishForkRequest(purpose.fork_id, purpose.parent, /*pool_task=*/false);
    default:  // user calls, fetches, deletes and child accepts complete as in pytorch mode (none of them throws)
      return RunCallback(purpose, response, error, Site::kPool);
  }
}

// The reply of a request whose application future already failed with its timeout. The protocol part still runs:
// a remote()'s pin is released (its RRef keeps the timed-out flag), and the RRefs inside a late call or fetch reply
// are unpickled and released at once, so the forks their sender registered get their deletes (nothing leaks).
void Worker::Impl::FinishLate(const Purpose& purpose, const Message& response) {
  if (!purpose.attached) return;
  if (purpose.kind != Purpose::Kind::kUserCall && purpose.kind != Purpose::Kind::kFetch) {
    return RunHardenedCallback(purpose, response.type == MessageType::EXCEPTION ? nullptr : &response,
                               response.error);
  }
  if (response.type == MessageType::EXCEPTION || response.value.rrefs.empty()) return;
  Value value = UnpickleValue(response.value, std::nullopt);
  for (Handle h : value.rrefs) DropRef(h);
}

}  // namespace rrefsim::core
