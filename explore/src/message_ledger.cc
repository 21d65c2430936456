#include "message_ledger.h"

#include <algorithm>

#include "rrefsim/core/fingerprint.h"

namespace rrefsim::explore::detail {
namespace {

std::uint64_t Spread(std::uint64_t h) {
  h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

}  // namespace

void SentOnPath::Add(std::uint64_t message) {
  sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), message), message);
  // A sum of spread words: the same for every order of the same multiset. The count is spread before it is mixed in,
  // so that {m, m} and {m, m + 1} differ.
  hash_ += Spread(message ^ Spread(Count(message)));
}

std::uint32_t SentOnPath::Count(std::uint64_t message) const {
  const auto [first, last] = std::equal_range(sorted_.begin(), sorted_.end(), message);
  return static_cast<std::uint32_t>(last - first);
}

namespace {

std::uint64_t RequestKey(core::WorkerId from, core::WorkerId to, std::int64_t id) {
  std::uint64_t h = Spread(static_cast<std::uint64_t>(from) + 0x100);
  h = Spread(h ^ static_cast<std::uint64_t>(to));
  return Spread(h ^ static_cast<std::uint64_t>(id));
}

// A request's slot is its sender's id; a response's, its request's (the id, the endpoints swapped back).
std::uint64_t SlotKey(const core::Message& m) {
  if (core::IsRequest(m.type)) return Spread(RequestKey(m.from, -1, m.id));
  return Spread(RequestKey(m.to, m.from, m.id) ^ 1);
}

// The message without what a hardened resend of it changes.
std::uint64_t ResendInvariant(const core::Message& m) {
  core::Message kept = m;
  kept.value = {};
  kept.empty_payload = false;
  kept.replies_below = 0;
  return core::MessageFingerprint(kept);
}

}  // namespace

Slot Slot::Of(const core::Message& message) { return Slot{SlotKey(message), ResendInvariant(message)}; }

std::vector<std::pair<std::uint64_t, std::uint64_t>>::const_iterator SentOnPath::FindSlot(std::uint64_t key) const {
  return std::lower_bound(slots_.begin(), slots_.end(), std::make_pair(key, std::uint64_t{0}));
}

void SentOnPath::AddCreated(const core::Message& message, bool injected) {
  const Slot slot = Slot::Of(message);
  const auto at = FindSlot(slot.key);
  if (at == slots_.end() || at->first != slot.key) {
    slots_.insert(at, {slot.key, slot.kept});
    created_hash_ += Spread(slot.key ^ Spread(slot.kept));  // a sum, like hash_: the same in every order
  }
  if (!core::IsRequest(message.type) || RequestCreated(message.from, message.to, message.id)) return;
  const std::uint64_t key = RequestKey(message.from, message.to, message.id);
  requests_.insert(std::upper_bound(requests_.begin(), requests_.end(), key), key);
  created_hash_ += Spread(key ^ Spread(injected ? 1 : 2));
  if (injected) return;
  const auto next = std::find_if(next_id_.begin(), next_id_.end(), [&](const auto& n) { return n.first == message.from; });
  if (next == next_id_.end()) {
    next_id_.emplace_back(message.from, message.id + 1);
  } else {
    next->second = std::max(next->second, message.id + 1);
  }
}

bool SentOnPath::SlotTakenByAnother(const Slot& slot) const {
  const auto at = FindSlot(slot.key);
  return at != slots_.end() && at->first == slot.key && at->second != slot.kept;
}

bool SentOnPath::TakesAnOldId(const core::Message& message) const {
  const Slot slot = Slot::Of(message);
  const auto at = FindSlot(slot.key);
  if (at != slots_.end() && at->first == slot.key) return false;  // a resend
  return core::IsRequest(message.type) && message.id < NextId(message.from);
}

std::int64_t SentOnPath::NextId(core::WorkerId sender) const {
  const auto next = std::find_if(next_id_.begin(), next_id_.end(), [&](const auto& n) { return n.first == sender; });
  return next == next_id_.end() ? 0 : next->second;
}

bool SentOnPath::RequestCreated(core::WorkerId from, core::WorkerId to, std::int64_t id) const {
  return std::binary_search(requests_.begin(), requests_.end(), RequestKey(from, to, id));
}

// A message learned is allowed at once, so that the rest of the search assumes it too and the next one is likely the
// last; the search still runs again (learned()), as its earlier choices assumed less.
void MessageLedger::Note(std::uint64_t fingerprint, const core::Message& message, std::uint32_t copies) {
  const auto [at, added] = allowed_.try_emplace(fingerprint);
  Entry& entry = at->second;
  if (!added && entry.copies >= copies) return;
  if (added) {
    entry.message = message;
    entry.slot = Slot::Of(message);
    const auto to = static_cast<std::size_t>(message.to);
    if (to >= by_receiver_.size()) by_receiver_.resize(to + 1);
    ToWorker& list = by_receiver_[to];
    list.insert(std::upper_bound(list.begin(), list.end(), std::make_pair(fingerprint, &entry),
                                 [](const auto& a, const auto& b) { return a.first < b.first; }),
                {fingerprint, &entry});
  }
  entry.copies = copies;
  learned_ = true;
  ++version_;
}

const MessageLedger::ToWorker& MessageLedger::To(int worker) const {
  static const ToWorker kNone;
  const auto w = static_cast<std::size_t>(worker);
  return worker >= 0 && w < by_receiver_.size() ? by_receiver_[w] : kNone;
}

}  // namespace rrefsim::explore::detail
