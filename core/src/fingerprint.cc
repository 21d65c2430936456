// Worker::Fingerprint: every private field of a worker that can change what it does next (docs/explore.md, "State
// hashing"). ContextView shows the RRefContext maps, but not the contents of gated requests, the fetches waiting in
// pendingOwners_, the id counters, nor the hardened mode's request streams, reply caches, resend timers and
// tombstones; two states differing only there must not be merged by a search.
//
// What is left out, and why that keeps the hash sound: the timers' insertion sequence numbers (next_seq and the
// copies of it in Attempt, RetryEntry, HardenedRequest). They only break ties between timers due at the same time,
// and every new timer gets a larger one, so the timers' order (hashed: the set is walked in firing order) is all
// they decide. `out` is the output of the call in progress (none between calls).
//
// Under a WorkerRenaming (symmetry reduction) every worker id goes through StateHasher::Rename, and the maps keyed by
// worker or globally unique ids are folded as multisets (MixEach): the renaming changes their sorted order. Without
// one the hash is exactly the plain one, word for word.
#include "rrefsim/core/fingerprint.h"

#include <algorithm>

#include "worker_impl.h"

namespace rrefsim::core {

void StateHasher::Mix(std::string_view text) {
  for (unsigned char c : text) Mix(std::uint64_t{c});
  Mix(text.size());
}

void StateHasher::Mix(const GloballyUniqueId& id) {
  Mix(static_cast<std::uint64_t>(id.local_id) ^ (static_cast<std::uint64_t>(Rename(id.created_on)) << 48));
}

void StateHasher::MixWorkerText(std::string_view text) {
  Mix(text);
  if (renaming_ != nullptr && !text.empty()) Mix(renaming_->tag);
}

namespace {

std::uint64_t U(std::int64_t v) { return static_cast<std::uint64_t>(v); }
std::uint64_t W(const StateHasher& h, WorkerId w) { return U(static_cast<std::uint16_t>(h.Rename(w))); }

template <class T>
void MixOptional(StateHasher& h, const std::optional<T>& v) {
  h.Mix(v.has_value() ? 1 : 0);
  if (v) h.Mix(*v);
}
void MixOptional(StateHasher& h, const std::optional<std::int64_t>& v) {
  h.Mix(v.has_value() ? 1 : 0);
  if (v) h.Mix(U(*v));
}
void MixOptional(StateHasher& h, const std::optional<std::string>& v) {  // errors: they may name a worker
  h.Mix(v.has_value() ? 1 : 0);
  if (v) h.MixWorkerText(*v);
}

void MixWire(StateHasher& h, const WireValue& v) {
  h.Mix(U(v.payload));
  for (const ForkData& f : v.rrefs) {
    h.Mix(f.rref_id);
    h.Mix(f.fork_id);
    h.Mix((W(h, f.owner) << 16) | W(h, f.parent));
    h.Mix(f.type_str);
  }
  h.Mix(v.rrefs.size());
  MixOptional(h, v.raised);
}

void MixValue(StateHasher& h, const Value& v) {
  h.Mix(U(v.payload));
  for (Handle r : v.rrefs) h.Mix(r.id);
  h.Mix(v.rrefs.size());
}

void MixWaiter(StateHasher& h, const ValueWaiter& w) {
  h.Mix((w.local ? 1 : 0) | (W(h, w.requester) << 8));
  h.Mix(U(w.request_id));
  h.Mix(U(w.request_seq));
  h.Mix(static_cast<std::uint64_t>(w.fetch_type));
  h.Mix(U(w.future));
}

void MixWaiters(StateHasher& h, const std::vector<ValueWaiter>& waiters) {
  for (const ValueWaiter& w : waiters) MixWaiter(h, w);  // in order: they are answered in this order
  h.Mix(waiters.size());
}

void MixInstance(StateHasher& h, const Instance& i) {
  h.Mix((i.is_owner ? 1 : 0) | (i.confirmed_by_owner ? 2 : 0) | (i.deleted_on_owner ? 4 : 0) |
        (i.timed_out ? 8 : 0) | (i.delete_when_unpinned ? 16 : 0) | (i.awaiting_creation ? 32 : 0) |
        (i.never_created ? 64 : 0) | (i.value_set ? 128 : 0));
  h.Mix(U(h.Rename(i.owner)));
  h.Mix(i.rref_id);
  h.Mix(i.fork_id);
  h.Mix(i.type_str);
  h.Mix(U(i.app_refs));
  h.Mix(U(i.child_pins));
  MixOptional(h, i.creation_error);
  MixOptional(h, i.error);
  MixValue(h, i.value);
  MixOptional(h, i.raised);
  MixWaiters(h, i.waiters);
}

void MixPurpose(StateHasher& h, const Purpose& p) {
  h.Mix(static_cast<std::uint64_t>(p.kind) | (p.attached ? 16 : 0) | (W(h, p.parent) << 8));
  h.Mix(p.rref_id);
  h.Mix(p.fork_id);
  h.Mix(U(p.future));
}

void MixAttempt(StateHasher& h, const Attempt& a) {
  h.Mix((W(h, a.to) << 16) | static_cast<std::uint64_t>(a.type));
  MixOptional(h, a.deadline);
  h.Mix(U(a.timeout));
  MixOptional(h, a.retry_id);
  MixPurpose(h, a.purpose);
  h.Mix(a.from_retry_thread ? 1 : 0);
}

void MixRetry(StateHasher& h, const RetryEntry& r) {
  h.Mix(r.message);
  MixPurpose(h, r.purpose);
  h.Mix(U(r.retry_count));
  h.Mix(U(r.next_time));
  h.Mix(r.scheduled ? 1 : 0);
  h.Mix(U(r.written_attempts));
}

void MixHardenedRequest(StateHasher& h, const HardenedRequest& r) {
  h.Mix(r.message);
  MixPurpose(h, r.purpose);
  h.Mix(U(r.gap));
  h.Mix(U(r.next_resend));
  MixOptional(h, r.deadline);
  h.Mix(U(r.timeout));
  h.Mix((r.app_done ? 1 : 0) | (r.cancelled ? 2 : 0));
  h.Mix(U(r.transmissions));
  h.Mix(U(r.refused));
}

void MixInbox(StateHasher& h, const PeerInbox& inbox) {
  h.Mix(U(inbox.watermark));
  for (std::int64_t seq : inbox.above) h.Mix(U(seq));
  h.Mix(inbox.above.size());
  h.Mix(U(inbox.replies_below));
  for (const auto& [seq, reply] : inbox.replies) {
    h.Mix(U(seq));
    h.Mix(reply);
  }
  h.Mix(inbox.replies.size());
}

void MixWork(StateHasher& h, const Work& w) {
  h.Mix(w.request);
  for (Handle a : w.args) h.Mix(a.id);
  h.Mix(w.args.size());
  h.Mix(U(w.waiting));
  h.Mix(w.running ? 1 : 0);
  for (const Work::Deferred& d : w.deferred) {
    h.Mix(d.fork_id);
    h.Mix(U(h.Rename(d.parent)) | (d.pool_task ? 1ULL << 32 : 0));
  }
  h.Mix(w.deferred.size());
}

}  // namespace

void StateHasher::Mix(const Message& m) {
  Mix((static_cast<std::uint64_t>(m.type) << 32) | (m.empty_payload ? 1 : 0));
  Mix(U(m.id));
  Mix((W(*this, m.from) << 16) | W(*this, m.to));
  Mix(m.rref_id);
  Mix(m.fork_id);
  Mix(m.function);
  Mix(m.type_str);
  MixWire(*this, m.value);
  MixWorkerText(m.error);
  Mix(U(m.seq));
  Mix(U(m.replies_below));
}

std::uint64_t MessageFingerprint(const Message& message, const WorkerRenaming* renaming) {
  StateHasher h(renaming);
  h.Mix(message);
  return h.value();
}

std::uint64_t Worker::Fingerprint(const WorkerRenaming* renaming) const {
  const Impl& s = *impl_;
  StateHasher h(renaming);
  h.Mix(U(h.Rename(s.config.id)) | (s.hardened() ? 1ULL << 32 : 0));
  h.Mix(U(s.now));  // CreateLocal and DestroyContext run at the time of the previous call
  for (const auto& [handle, instance] : s.instances) {
    h.Mix(handle);
    MixInstance(h, instance);
  }
  h.Mix(s.instances.size());
  h.Mix(s.next_handle);
  const auto id_and_handle = [](StateHasher& e, const auto& entry) {
    e.Mix(entry.first);
    e.Mix(entry.second.id);
  };
  MixEach(h, s.owners, id_and_handle);
  MixEach(h, s.pending_owners, [](StateHasher& e, const auto& entry) {
    e.Mix(entry.first);
    MixWaiters(e, entry.second);
  });
  MixEach(h, s.forks, [](StateHasher& e, const auto& entry) {
    e.Mix(entry.first);
    MixEach(e, entry.second, [](StateHasher& f, const ForkId& fork) { f.Mix(fork); });
  });
  MixEach(h, s.pending_users, [](StateHasher& e, const auto& entry) {
    e.Mix(entry.first);
    e.Mix(entry.second.user.id);
    MixOptional(e, entry.second.gate);
  });
  MixEach(h, s.confirmed_users, id_and_handle);
  MixEach(h, s.pending_children, id_and_handle);
  h.Mix(U(s.num_pending_futures));
  h.Mix(U(s.next_local_id));
  h.Mix(s.first_error_rref ? s.first_error_rref->id : ~std::uint64_t{0});
  h.Mix((s.destroyed ? 1 : 0) | (s.aborted ? 2 : 0) | (s.agent_running ? 4 : 0) | (s.last_callback_threw ? 8 : 0) |
        (s.callback_held_by_function ? 16 : 0));

  h.Mix(U(s.next_message_id));
  for (const auto& [id, attempt] : s.attempts) {
    h.Mix(U(id));
    MixAttempt(h, attempt);
  }
  h.Mix(s.attempts.size());
  for (const auto& [id, retry] : s.retries) {
    h.Mix(U(id));
    MixRetry(h, retry);
  }
  h.Mix(s.retries.size());
  for (const Impl::Timer& t : s.timers) {  // in firing order; the sequence numbers only decide that order
    h.Mix(U(t.time));
    h.Mix(U(t.id));
    h.Mix((t.retry ? 1 : 0) | (t.hardened ? 2 : 0));
  }
  h.Mix(s.timers.size());
  h.Mix(U(s.next_retry_id));
  h.Mix(U(s.client_active_calls));

  for (const auto& [id, request] : s.hardened_requests) {
    h.Mix(U(id));
    MixHardenedRequest(h, request);
  }
  h.Mix(s.hardened_requests.size());
  const auto peer_and_seq = [](StateHasher& e, const std::pair<const WorkerId, std::int64_t>& entry) {
    e.Mix((W(e, entry.first) << 48) ^ U(entry.second));
  };
  MixEach(h, s.next_request_seq, peer_and_seq);
  MixEach(h, s.inboxes, [](StateHasher& e, const auto& entry) {
    e.Mix(U(e.Rename(entry.first)));
    MixInbox(e, entry.second);
  });
  MixEach(h, s.tombstones, [&peer_and_seq](StateHasher& e, const auto& entry) {
    e.Mix(entry.first);
    MixEach(e, entry.second.deletes, peer_and_seq);
  });
  MixEach(h, s.fork_deletes, [&peer_and_seq](StateHasher& e, const auto& entry) {
    e.Mix(entry.first);
    MixEach(e, entry.second, peer_and_seq);
  });

  for (const auto& [id, work] : s.works) {
    h.Mix(U(id));
    MixWork(h, work);
  }
  h.Mix(s.works.size());
  h.Mix(U(s.next_work));
  h.Mix(U(s.next_future));
  h.Mix(static_cast<std::uint64_t>(s.shutdown));
  h.Mix(U(s.shutdown_deadline));
  return h.value();
}

}  // namespace rrefsim::core
