// What the `hardened` mode does when a request ends (docs/hardened-protocol.md §3): its reply arrives, or the
// transport refused every copy of it. The callbacks never throw on an error reply (P5, P6, P17): a failed remote()
// leaves a clean error on its RRef and releases its pin, a fork request is finished whatever its answer, and a
// withdrawn request releases the forks it carried, so no pin and no pending future outlives its message.
#include <string>
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


// A transmission the transport refused before it left (FaultyTensorPipeAgent): one lost copy, resent on schedule.
// But when no copy of a user request ever left, it is withdrawn: the caller gets the error at once, as in PyTorch
// (the application decides whether to try again), and the request goes on without a payload as a cancel that only
// fills its number in the stream.
void Worker::Impl::RefusedSend(std::int64_t id, const std::string& error) {
  auto it = hardened_requests.find(id);
  if (it == hardened_requests.end()) return;
  HardenedRequest& request = it->second;
  ++request.refused;
  if (request.cancelled || request.refused < request.transmissions || !IsUserFacing(request.purpose.kind)) {
    LogLine(LogLevel::kInfo, "Send of request " + std::to_string(id) + " failed (" + error +
                                 "); it is resent on its schedule");
    return;
  }
  Withdraw(request, error);
}

void Worker::Impl::Withdraw(HardenedRequest& request, const std::string& error) {
  LogLine(LogLevel::kInfo, "Request " + Describe(request.message) + " never left: withdrawn (" + error + ")");
  request.cancelled = true;
  if (request.deadline) {
    timers.erase({*request.deadline, request.deadline_seq, request.message.id, false, true});
    request.deadline.reset();
  }
  // The forks it carried never reached anyone: undo their registrations and pins.
  for (const ForkData& f : request.message.value.rrefs) {
    if (f.parent != config.id) continue;
    if (f.owner == config.id) {
      DelForkOfOwner(f.rref_id, f.fork_id);
    } else {
      DelPendingChild(f.fork_id);
    }
  }
  request.message.value = {};
  request.message.empty_payload = true;
  const bool answered = std::exchange(request.app_done, true);
  const Purpose p = request.purpose;
  if (answered || !p.attached) return;
  switch (p.kind) {
    case Purpose::Kind::kUserCall:
    case Purpose::Kind::kFetch:
      return Emit(FutureDone{p.future, Outcome{error, {}}});
    case Purpose::Kind::kRemoteCreate:
      if (auto user = pending_users.find(p.fork_id); user != pending_users.end()) {
        MarkNeverCreated(user->second.user, error);
        DelPendingUser(p.fork_id);
      }
      return;
    case Purpose::Kind::kSelfRemoteCreate:
      if (auto owner = owners.find(p.rref_id); owner != owners.end()) MarkNeverCreated(owner->second, error);
      DelForkOfOwner(p.rref_id, p.rref_id);
      return;
    default:
      return;
  }
}

// A remote() whose request never left: its RRef can never be used. PyTorch's handleError marks a timeout or an
// intentional failure as "timed out" (A17's text); any other error is kept as the creation's error.
void Worker::Impl::MarkNeverCreated(Handle rref, const std::string& error) {
  Instance& i = Get(rref);
  i.never_created = true;
  if (GetRpcErrorType(error) != RpcErrorType::kUnknown) {
    i.timed_out = true;
  } else {
    i.creation_error = error;
  }
}

}  // namespace rrefsim::core
