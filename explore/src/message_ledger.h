// The messages a search with persistent sets assumes can be sent (ExploreOptions::persistent_sets,
// docs/explore.md, "Persistent sets"): a multiset of message contents, learned as the search goes. A persistent set
// at worker w is chosen by playing w's future, and the messages that can still reach w are those of the ledger that
// the path has not sent yet. The ledger starts with the messages of random runs (ExploreOptions::persistent_seed_runs),
// and every send the search makes on its own paths is checked against it (not those of the analysis's copies, whose
// states may be none a run reaches); a send beyond it is learned, allowed at once for the rest of the search, and the
// search is run again from the root with the larger ledger, until a whole search sends nothing new. Only then does
// its verdict stand.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "rrefsim/core/message.h"

namespace rrefsim::explore::detail {

// The messages sent on one path from the root so far, as a multiset of core::MessageFingerprint: a run can send one
// content more than once (a retried message), so the ledger counts copies.
// A message's slot (SentOnPath) and its content without what a hardened resend changes, computed once per message.
// (SentOnPath's comment follows.)
struct Slot {
  std::uint64_t key = 0;
  std::uint64_t kept = 0;
  static Slot Of(const core::Message& message);
};

class SentOnPath {
 public:
  void Add(std::uint64_t message);
  std::uint32_t Count(std::uint64_t message) const;
  // Every message the path created, sent or not (refused, or lost to a fault). Two slots hold one message each: a
  // request's (its sender and id: a sender takes each id once), and a response's (its request's). Hardened mode
  // sends a request or reply again in the same slot, with or without its payload (value, empty_payload) and with a
  // newer replies_below; any other difference makes two messages of one slot alternatives from different paths,
  // which one path never both sends.
  // `injected`: put in flight by the persistent sets' analysis (SteppedRun::Inject), not by its sender, whose ids
  // (NextId) it leaves as they are.
  void AddCreated(const core::Message& message, bool injected = false);
  // A message of the same slot, and not a resend of this one, was created on the path.
  bool SlotTakenByAnother(const core::Message& message) const { return SlotTakenByAnother(Slot::Of(message)); }
  bool SlotTakenByAnother(const Slot& slot) const;
  // For a request in a slot not yet taken: its sender created one with this id or a higher one on the path. The
  // analysis relies on the contrary (a request below its sender's next id is only ever sent again); Watch checks it.
  bool TakesAnOldId(const core::Message& message) const;
  // One past the highest request id `sender` created on the path (0 before its first), not counting injected ones.
  std::int64_t NextId(core::WorkerId sender) const;
  // Whether the path created the request (from, to, id): a response to w can reach w only after w created its
  // request, and a request below its sender's next id (core::ContextView::next_message_id) can be sent only again.
  bool RequestCreated(core::WorkerId from, core::WorkerId to, std::int64_t id) const;
  bool AnswerExpected(const core::Message& response) const {
    return RequestCreated(response.to, response.from, response.id);
  }
  // Order-independent: two paths that sent the same multiset have the same hash.
  std::uint64_t Hash() const { return hash_; }
  // Order-independent too: of what the path created (the slots taken, with their contents, the requests, and which
  // of those were injected), which the slots' and ids' answers above read besides the messages sent.
  std::uint64_t CreatedHash() const { return created_hash_; }

 private:
  std::vector<std::uint64_t> sorted_;
  std::vector<std::uint64_t> requests_;  // sorted RequestKey's
  // The first slot whose key is not below `key`.
  std::vector<std::pair<std::uint64_t, std::uint64_t>>::const_iterator FindSlot(std::uint64_t key) const;
  // Sorted by key: each slot taken, with the content of the message created in it (Slot::kept); and per sender, one
  // past the highest request id it created. Vectors, as a path's copy is made at every snapshot and analysis step.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> slots_;
  std::vector<std::pair<core::WorkerId, std::int64_t>> next_id_;
  std::uint64_t hash_ = 0;
  std::uint64_t created_hash_ = 0;
};

class MessageLedger {
 public:
  MessageLedger() = default;
  MessageLedger(const MessageLedger&) = delete;  // by_receiver_ points into allowed_
  MessageLedger& operator=(const MessageLedger&) = delete;
  struct Entry {
    core::Message message;
    std::uint32_t copies = 0;  // the most copies of it one path may send
    Slot slot;
  };
  using ToWorker = std::vector<std::pair<std::uint64_t, const Entry*>>;  // (fingerprint, entry), by fingerprint

  // A send on a path that has now sent `copies` of `message` (fingerprint `fingerprint`), counted.
  void Note(std::uint64_t fingerprint, const core::Message& message, std::uint32_t copies);
  // A worker aborted somewhere: a step that reaches every worker, which the persistent sets assume never happens.
  void NoteAbort() { abort_seen_ = true; }
  // A response was sent whose request the path never sent: the persistent sets assume that never happens either.
  void NoteUnansweredResponse() { unanswered_response_ = true; }
  // A message broke what SentOnPath's slots assume: a second message in a slot that is not a resend of the first, a
  // request that took an id below one its sender had taken, or a worker that took an id without creating a request.
  void NoteSlotBroken() { slot_broken_ = true; }

  // Whether this round sent something the ledger did not allow when the round began.
  bool learned() const { return learned_; }
  bool abort_seen() const { return abort_seen_; }
  bool unanswered_response() const { return unanswered_response_; }
  bool slot_broken() const { return slot_broken_; }
  // A new round: nothing learned in it yet.
  void StartNextRound() { learned_ = false; }

  // The messages the ledger allows to `worker`, by fingerprint: ordered, so that an analysis that walks them is
  // deterministic. Note may add to it: a caller that sends while it walks the list walks a
  // copy.
  const ToWorker& To(int worker) const;
  std::size_t size() const { return allowed_.size(); }
  // Changes whenever the ledger allows more: an answer read from it can be kept under its version.
  std::uint64_t version() const { return version_; }

 private:
  std::map<std::uint64_t, Entry> allowed_;
  bool learned_ = false;
  std::uint64_t version_ = 0;
  std::vector<ToWorker> by_receiver_;  // allowed_, indexed by receiver
  bool abort_seen_ = false;
  bool unanswered_response_ = false;
  bool slot_broken_ = false;
};

}  // namespace rrefsim::explore::detail
