#include "message_ledger.h"

#include <algorithm>

namespace rrefsim::explore::detail {
namespace {

std::uint64_t Spread(std::uint64_t h) {
  h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

}  // namespace

void SentOnPath::Add(std::uint64_t message) {
  sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), message), message);
  // A sum of spread words: the same for every order of the same multiset.
  hash_ += Spread(message + Count(message));
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

}  // namespace

void SentOnPath::AddRequest(const core::Message& request) {
  const std::uint64_t key = RequestKey(request.from, request.to, request.id);
  requests_.insert(std::upper_bound(requests_.begin(), requests_.end(), key), key);
}

bool SentOnPath::AnswerExpected(const core::Message& response) const {
  return std::binary_search(requests_.begin(), requests_.end(), RequestKey(response.to, response.from, response.id));
}

void MessageLedger::Note(std::uint64_t fingerprint, const core::Message& message, std::uint32_t copies) {
  const auto allowed = allowed_.find(fingerprint);
  if (allowed != allowed_.end() && allowed->second.copies >= copies) return;
  Entry& learned = learned_[fingerprint];
  if (learned.copies == 0) learned.message = message;
  learned.copies = std::max(learned.copies, copies);
}

void MessageLedger::StartNextRound() {
  for (auto& [fingerprint, entry] : learned_) {
    Entry& allowed = allowed_[fingerprint];
    if (allowed.copies == 0) allowed.message = entry.message;
    allowed.copies = std::max(allowed.copies, entry.copies);
  }
  learned_.clear();
}

}  // namespace rrefsim::explore::detail
