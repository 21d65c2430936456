// The `hardened` mode's transport layer (docs/hardened-protocol.md §2): every request, user call or control message,
// gets the next number of its (sender, receiver) stream and is resent with capped exponential backoff, with no
// budget, until its reply arrives. The receiver accepts each number once (a processed watermark plus the numbers
// accepted above it), so a copy that arrives however late is recognised; it resends the cached reply of an answered
// request, and forgets cached replies once the sender piggybacks that it has every reply below a number.
#include <algorithm>
#include <utility>

#include "worker_impl.h"

namespace rrefsim::core {
bool IsUserFacing(Purpose::Kind kind) {
  return kind == Purpose::Kind::kUserCall || kind == Purpose::Kind::kFetch ||
         kind == Purpose::Kind::kRemoteCreate || kind == Purpose::Kind::kSelfRemoteCreate;
}

std::int64_t Worker::Impl::HardenedSend(Message message, TimeUs timeout, Purpose purpose) {
  message.id = next_message_id++;
  message.from = config.id;
  message.seq = ++next_request_seq[message.to];
  HardenedRequest request;
  request.message = std::move(message);
  request.purpose = std::move(purpose);
  request.timeout = timeout;
  request.gap = config.resend.first;
  const std::int64_t id = request.message.id;
  if (timeout > 0 && IsUserFacing(request.purpose.kind)) {
    request.deadline = now + timeout;
    request.deadline_seq = next_seq++;
    timers.insert({*request.deadline, request.deadline_seq, id, false, true});
  }
  request.next_resend = now + request.gap;
  request.resend_seq = next_seq++;
  timers.insert({request.next_resend, request.resend_seq, id, true, true});
  HardenedRequest& stored = hardened_requests.emplace(id, std::move(request)).first->second;
  ++client_active_calls;  // join waits until the reply arrives, however late
  Transmit(stored);
  return id;
}

// True while every fork this worker pickled into `m` is still registered (an owner's early registration in forks_)
// or pinned (a user parent's pendingChildren_ entry). Each of them goes only when the receiver processed the
// message (its RREF_USER_DELETE or RREF_CHILD_ACCEPT follows the unpickling), so once one is gone, the receiver
// has the message, and a copy need not carry its forks again.
bool Worker::Impl::CarriedForksPinned(const Message& m) const {
  for (const ForkData& f : m.value.rrefs) {
    if (f.parent != config.id) continue;
    if (f.owner == config.id) {
      auto it = forks.find(f.rref_id);
      if (it == forks.end() || !it->second.contains(f.fork_id)) return false;
    } else if (!pending_children.contains(f.fork_id)) {
      return false;
    }
  }
  return true;
}

namespace {
// A copy of `m` without its payload: the receiver already processed the original, and only its number matters.
Message WithoutPayload(const Message& m) {
  Message empty = m;
  empty.value = {};
  empty.empty_payload = true;
  return empty;
}
}  // namespace

// One transmission: the same content every time (never TensorPipe's emptied payload, P15), with the lowest number
// this worker still waits for on the stream, so the receiver can drop the replies below it. A resend whose forks
// were already accepted goes without its payload: it only asks for the cached reply.
void Worker::Impl::Transmit(HardenedRequest& request) {
  ++request.transmissions;
  Message m = CarriedForksPinned(request.message) ? request.message : WithoutPayload(request.message);
  std::int64_t lowest = m.seq;
  for (const auto& [id, other] : hardened_requests) {
    if (other.message.to == m.to) lowest = std::min(lowest, other.message.seq);
  }
  m.replies_below = lowest;
  const std::int64_t chain = m.id;  // every transmission is one chain: one logical message
  out->messages.push_back({std::move(m), true, chain});
}

void Worker::Impl::Resend(std::int64_t id) {
  auto it = hardened_requests.find(id);
  if (it == hardened_requests.end()) return;
  HardenedRequest& request = it->second;
  Transmit(request);
  request.gap = std::min(config.resend.cap, static_cast<TimeUs>(static_cast<double>(request.gap) *
                                                                  config.resend.backoff));
  request.next_resend = now + request.gap;
  request.resend_seq = next_seq++;
  timers.insert({request.next_resend, request.resend_seq, id, true, true});
}

// The caller's timeout: its future fails now (a clean error), while the request goes on until it is answered, so
// what the receiver does with it (a late remote() creating its OwnerRRef, forks in a late reply) is still undone
// by the normal protocol (P9, P11).
void Worker::Impl::ApplicationDeadline(std::int64_t id) {
  HardenedRequest& request = hardened_requests.at(id);
  request.deadline.reset();
  request.app_done = true;
  const Purpose& p = request.purpose;
  if (!p.attached) return;
  switch (p.kind) {
    case Purpose::Kind::kUserCall:
    case Purpose::Kind::kFetch:
      Emit(FutureDone{p.future, Outcome{TimeoutErrorText(request.timeout), {}}});
      return;
    case Purpose::Kind::kRemoteCreate:
      if (auto it = pending_users.find(p.fork_id); it != pending_users.end()) MarkTimedOut(it->second.user);
      return;
    case Purpose::Kind::kSelfRemoteCreate:
      if (auto it = owners.find(p.rref_id); it != owners.end()) MarkTimedOut(it->second);
      return;
    default:
      return;
  }
}

// The flag lands on the RRef whose remote() timed out (P16 put it on the first RRef that ever failed).
void Worker::Impl::MarkTimedOut(Handle rref) { Get(rref).timed_out = true; }

void Worker::Impl::OnHardenedResponse(const Message& response) {
  auto it = hardened_requests.find(response.id);
  if (it == hardened_requests.end() || it->second.message.to != response.from) {
    LogLine(LogLevel::kInfo, "Ignoring response " + Describe(response) + ": its request was already answered");
    return;
  }
  HardenedRequest request = std::move(it->second);
  hardened_requests.erase(it);
  timers.erase({request.next_resend, request.resend_seq, response.id, true, true});
  if (request.deadline) timers.erase({*request.deadline, request.deadline_seq, response.id, false, true});
  --client_active_calls;
  if (request.cancelled) return;  // its receiver only learnt the number: nothing ran
  try {
    if (request.app_done) {
      FinishLate(request.purpose, response);
    } else if (response.type == MessageType::EXCEPTION) {
      RunHardenedCallback(request.purpose, nullptr, response.error);
    } else {
      RunHardenedCallback(request.purpose, &response, "");
    }
  } catch (const ProtocolException& e) {  // a callback's assertion: logged; the agent's bookkeeping is already done
    LogLine(LogLevel::kError, std::string("Exception in thread pool task: ") + e.what());
    Error(e, ErrorSite::kPoolCallback);
  }
}

bool Worker::Impl::AcceptRequest(const Message& request) {
  if (request.seq <= 0) return true;
  PeerInbox& inbox = inboxes[request.from];
  if (request.replies_below > inbox.replies_below) {
    inbox.replies_below = request.replies_below;
    inbox.replies.erase(inbox.replies.begin(), inbox.replies.lower_bound(inbox.replies_below));
  }
  if (!inbox.Seen(request.seq)) {
    inbox.Accept(request.seq);  // tombstones are collected after the request is handled (Worker::Receive)
    if (!request.empty_payload) return true;
    // Only a withdrawn request reaches its receiver unseen without a payload (a resend loses its payload only
    // after the receiver processed it): take its number, run nothing.
    ReplyFutureError(request, "the request was cancelled by its sender");
    return false;
  }
  auto cached = inbox.replies.find(request.seq);
  if (cached != inbox.replies.end() && !CarriedForksPinned(cached->second)) {
    // the requester accepted a fork of the reply, so it has the reply: this copy of its request is stale
    LogLine(LogLevel::kInfo, "Ignoring duplicate request " + Describe(request) + ": its reply was received");
  } else if (cached != inbox.replies.end()) {
    LogLine(LogLevel::kInfo, "Resending the reply to duplicate request " + Describe(request));
    out->messages.push_back({cached->second, false, -1});
  } else {
    LogLine(LogLevel::kInfo, "Ignoring duplicate request " + Describe(request) +
                                 (request.seq < inbox.replies_below ? ": already answered" : ": still in progress"));
  }
  return false;
}

void Worker::Impl::CacheReply(const Message& request, const Message& reply) {
  if (request.seq <= 0) return;
  PeerInbox& inbox = inboxes[request.from];
  if (request.seq >= inbox.replies_below) inbox.replies[request.seq] = reply;
}

// Who deleted forks of an RRef, and the number of each one's last delete: the tombstone's expiry condition.
void Worker::Impl::RecordForkDelete(const Message& request) {
  if (request.seq <= 0) return;
  auto buried = tombstones.find(request.rref_id);
  auto& deletes = buried != tombstones.end() ? buried->second.deletes : fork_deletes[request.rref_id];
  std::int64_t& last = deletes[request.from];
  last = std::max(last, request.seq);
}

void Worker::Impl::BuryOwner(RRefId rref_id) {
  auto recorded = fork_deletes.find(rref_id);
  Tombstone stone;
  if (recorded != fork_deletes.end()) stone.deletes = std::move(recorded->second);
  tombstones[rref_id] = std::move(stone);
  CollectTombstones();
}

// The OwnerRRef is shared again (a local RRef forked anew): fetches are answered again, but the deletes the
// tombstone waited for stay recorded, so that a later tombstone still waits for a fetch sent before them.
void Worker::Impl::Unbury(RRefId rref_id) {
  auto it = tombstones.find(rref_id);
  if (it == tombstones.end()) return;
  std::map<WorkerId, std::int64_t>& deletes = fork_deletes[rref_id];
  for (const auto& [from, seq] : it->second.deletes) deletes[from] = std::max(deletes[from], seq);
  tombstones.erase(it);
}

// A tombstone goes when every stream that deleted a fork of its RRef has delivered everything up to that delete:
// a fetch sent before it has then been seen, and any copy of it is a duplicate.
void Worker::Impl::CollectTombstones() {
  for (auto it = tombstones.begin(); it != tombstones.end();) {
    bool expired = std::all_of(it->second.deletes.begin(), it->second.deletes.end(), [&](const auto& entry) {
      auto inbox = inboxes.find(entry.first);
      return inbox != inboxes.end() && inbox->second.watermark >= entry.second;
    });
    if (!expired) {
      ++it;
      continue;
    }
    LogLine(LogLevel::kInfo, "Removing the tombstone of RRef " + ToString(it->first) +
                                 ": every request sent before its deletes has arrived");
    it = tombstones.erase(it);
  }
}

bool Worker::Impl::AnswerFetchOfDeleted(const Message& request) {
  if (!tombstones.contains(request.rref_id)) return false;
  ReplyFutureError(request, "RRef " + ToString(request.rref_id) + " was already deleted on its owner (worker " +
                                std::to_string(config.id) + "): nothing to fetch");
  return true;
}

Purpose& Worker::Impl::SentPurpose(std::int64_t handle, bool retried) {
  if (hardened()) return hardened_requests.at(handle).purpose;
  return retried ? retries.at(handle).purpose : attempts.at(handle).purpose;
}

}  // namespace rrefsim::core
