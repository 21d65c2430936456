// The pair universe of coverage.h: which receiver states apply to which message type, and the pairs that cannot
// happen by construction (docs/coverage.md says why for each).
#include <algorithm>
#include <cstdint>

#include "rrefsim/checkers/coverage.h"

namespace rrefsim::checkers {
namespace {

using core::MessageType;
using S = ReceiverState;

constexpr std::array<S, 7> kOwnerStates = {S::kOwnerAbsent,    S::kOwnerFreed, S::kOwnerAwaited,
                                           S::kOwnerForksOnly, S::kOwnerLive,  S::kOwnerLiveForkKnown,
                                           S::kOwnerHeldOnly};
constexpr std::array<S, 5> kUserStates = {S::kUserNone, S::kUserPending, S::kUserConfirmed, S::kUserTimedOut,
                                          S::kUserDeleted};

// Why a pair cannot happen in the simulated protocol; "" when it can (as far as we know). Each reason is an argument
// from core/'s code, not an absence in campaigns.
std::string_view ImpossibleReason(MessageType type, S state) {
  const bool fetch_ret = type == MessageType::SCRIPT_RREF_FETCH_RET || type == MessageType::PYTHON_RREF_FETCH_RET;
  if (fetch_ret && state == S::kOwnerLiveForkKnown) {
    return "a fetch never goes to self (to_here on the owner reads locally), so an RRef in the reply that the "
           "receiver owns was pickled by another worker, a user of it: a phantom fork, never put in forks_ (S4)";
  }
  if (type == MessageType::REMOTE_RET && state == S::kOwnerAbsent) {
    return "a remote() to self creates its OwnerRRef before it sends the call, and every destruction of an "
           "OwnerRRef emits OwnerRRefFreed: the owner has it, holds it or freed it";
  }
  return "";
}

std::vector<CoveragePair> BuildUniverse() {
  std::vector<CoveragePair> pairs;
  auto add = [&pairs](MessageType type, S state) { pairs.push_back({type, state, ImpossibleReason(type, state)}); };
  auto add_owner = [&](MessageType type, bool names_fork) {
    for (S s : kOwnerStates) {
      if (s != S::kOwnerLiveForkKnown || names_fork) add(type, s);
    }
  };
  auto add_user = [&](MessageType type) {
    for (S s : kUserStates) add(type, s);
  };
  for (MessageType t : {MessageType::SCRIPT_REMOTE_CALL, MessageType::PYTHON_REMOTE_CALL}) add_owner(t, true);
  for (MessageType t : {MessageType::SCRIPT_RREF_FETCH_CALL, MessageType::PYTHON_RREF_FETCH_CALL}) add_owner(t, false);
  for (MessageType t : {MessageType::RREF_USER_DELETE, MessageType::RREF_FORK_REQUEST}) add_owner(t, true);
  add_user(MessageType::REMOTE_RET);
  add_owner(MessageType::REMOTE_RET, true);  // remote() to self
  add(MessageType::RREF_CHILD_ACCEPT, S::kParentChildPending);
  add(MessageType::RREF_CHILD_ACCEPT, S::kParentNoChild);
  for (MessageType t : {MessageType::SCRIPT_CALL, MessageType::PYTHON_CALL}) {
    add(t, S::kNoRRef);
    add_owner(t, true);
    add_user(t);
  }
  for (MessageType t : {MessageType::SCRIPT_RET, MessageType::PYTHON_RET, MessageType::SCRIPT_RREF_FETCH_RET,
                        MessageType::PYTHON_RREF_FETCH_RET}) {
    add(t, S::kAwaited);
    add(t, S::kUnawaited);
    add_owner(t, true);
    add_user(t);
  }
  for (MessageType t : {MessageType::RREF_ACK, MessageType::EXCEPTION}) {
    add(t, S::kAwaited);
    add(t, S::kUnawaited);
  }
  return pairs;
}

// Message type codes differ in their low byte (message.h), so (low byte, state) indexes a small dense table: the
// lookup runs at every delivery of every campaign run.
constexpr std::size_t kTypeSlots = 256;
using IndexTable = std::vector<std::int32_t>;  // kTypeSlots x kReceiverStates, -1 where no pair is defined

std::size_t Slot(MessageType type, S state) {
  return (static_cast<std::size_t>(type) & 0xff) * kReceiverStates + static_cast<std::size_t>(state);
}

IndexTable BuildIndex() {
  IndexTable index(kTypeSlots * kReceiverStates, -1);
  const std::vector<CoveragePair>& u = CoverageUniverse();
  for (std::size_t i = 0; i < u.size(); ++i) index[Slot(u[i].type, u[i].state)] = static_cast<std::int32_t>(i);
  return index;
}

}  // namespace

std::string_view ReceiverStateName(ReceiverState state) {
  switch (state) {
    case S::kOwnerAbsent: return "owner:absent";
    case S::kOwnerFreed: return "owner:freed";
    case S::kOwnerAwaited: return "owner:awaited";
    case S::kOwnerForksOnly: return "owner:forks-only";
    case S::kOwnerLive: return "owner:live";
    case S::kOwnerLiveForkKnown: return "owner:live-fork-known";
    case S::kOwnerHeldOnly: return "owner:held-only";
    case S::kUserNone: return "user:none";
    case S::kUserPending: return "user:pending";
    case S::kUserConfirmed: return "user:confirmed";
    case S::kUserTimedOut: return "user:timed-out";
    case S::kUserDeleted: return "user:deleted";
    case S::kParentChildPending: return "parent:child-pending";
    case S::kParentNoChild: return "parent:no-child";
    case S::kNoRRef: return "no-rref";
    case S::kAwaited: return "awaited";
    case S::kUnawaited: return "unawaited";
    case S::kCount: break;
  }
  return "unknown";
}

const std::vector<CoveragePair>& CoverageUniverse() {
  static const std::vector<CoveragePair> universe = BuildUniverse();
  return universe;
}

std::size_t CoveragePairs() { return CoverageUniverse().size(); }

std::optional<std::size_t> CoverageIndex(core::MessageType type, ReceiverState state) {
  static const IndexTable index = BuildIndex();
  if (state >= S::kCount) return std::nullopt;
  const std::int32_t i = index[Slot(type, state)];
  if (i < 0 || CoverageUniverse()[static_cast<std::size_t>(i)].type != type) return std::nullopt;  // another high byte
  return static_cast<std::size_t>(i);
}

std::string CoveragePairKey(const CoveragePair& pair) {
  return std::string(core::MessageTypeName(pair.type)) + " @ " + std::string(ReceiverStateName(pair.state));
}

std::optional<std::size_t> CoverageIndexOfKey(std::string_view key) {
  const std::vector<CoveragePair>& u = CoverageUniverse();
  for (std::size_t i = 0; i < u.size(); ++i) {
    if (CoveragePairKey(u[i]) == key) return i;
  }
  return std::nullopt;
}

void CoverageCounts::Count(std::size_t index) {
  if (pairs.empty()) pairs.assign(CoveragePairs(), 0);
  ++pairs[index];
}

void CoverageCounts::Add(const CoverageCounts& other) {
  unclassified += other.unclassified;
  if (other.pairs.empty()) return;
  if (pairs.empty()) pairs.assign(CoveragePairs(), 0);
  for (std::size_t i = 0; i < other.pairs.size(); ++i) pairs[i] += other.pairs[i];
}

std::size_t CoverageCounts::Seen() const {
  return static_cast<std::size_t>(std::count_if(pairs.begin(), pairs.end(), [](std::uint64_t n) { return n > 0; }));
}

std::size_t CoverageCounts::Possible() const {
  const std::vector<CoveragePair>& u = CoverageUniverse();
  return static_cast<std::size_t>(
      std::count_if(u.begin(), u.end(), [](const CoveragePair& p) { return p.impossible.empty(); }));
}

}  // namespace rrefsim::checkers
