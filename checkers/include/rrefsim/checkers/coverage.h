// Coverage of (message type x receiver state) pairs: at each delivery, what the receiving core knew of the RRef the
// message is about, in a small abstraction of rref-protocol.md §1 (docs/coverage.md). A campaign sums the counts of
// its runs and reports which pairs of an enumerable universe it reached.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "rrefsim/checkers/global_view.h"

namespace rrefsim::checkers {

// What the receiver's core knew of the message's RRef just before it processed the message.
enum class ReceiverState : std::uint8_t {
  // The receiver owns the RRef (a remote call, fetch, delete or fork request; or an RRef carried to its owner).
  kOwnerAbsent,         // no trace of it: not created yet, never freed
  kOwnerFreed,          // no trace of it now, but its OwnerRRef was freed earlier in the run
  kOwnerAwaited,        // only pendingOwners_: fetches wait for the OwnerRRef to be created (S8)
  kOwnerForksOnly,      // forks_[r] without owners_[r]: a fork request came before the remote() (S3)
  kOwnerLive,           // owners_[r], and the message's fork (if it names one) is not in forks_[r]
  kOwnerLiveForkKnown,  // owners_[r] with the message's fork already in forks_[r] (a repeat, or the self marker)
  kOwnerHeldOnly,       // an OwnerRRef object held by the application or a waiter, not in owners_ (unforked)
  // The receiver is a user of the RRef (REMOTE_RET at the creator; an RRef carried to a non-owner).
  kUserNone,       // no UserRRef instance (of that fork for REMOTE_RET, of that RRef for a carried one)
  kUserPending,    // in pendingUsers_: not yet confirmed by the owner
  kUserConfirmed,  // a live instance, not pending, not timed out, not deleted
  kUserTimedOut,   // its remote() timed out or failed (timedOut_)
  kUserDeleted,    // deletedOnOwner_: USER_DELETE already sent (shutdown deletes live instances)
  // The receiver is the parent of the accepted child (RREF_CHILD_ACCEPT).
  kParentChildPending,  // the child's fork is in pendingChildren_
  kParentNoChild,       // it is not: a repeated or late accept
  // Calls without RRefs; responses without RRefs (by whether the receiver still waits for them).
  kNoRRef,
  kAwaited,    // the receiver has an attempt of the request on the wire (RequestView) waiting for this reply
  kUnawaited,  // it does not: the request timed out, or this is a repeated reply
  kCount,
};
constexpr std::size_t kReceiverStates = static_cast<std::size_t>(ReceiverState::kCount);
std::string_view ReceiverStateName(ReceiverState state);  // "owner:live", "user:pending", "awaited", ...

// The pair universe: every message type with the states that apply to it (docs/coverage.md). A pair has a dense
// index in [0, CoveragePairs()), stable across builds as long as the universe is unchanged.
struct CoveragePair {
  core::MessageType type = core::MessageType::EXCEPTION;
  ReceiverState state = ReceiverState::kNoRRef;
  // Empty when the pair is reachable in principle; otherwise why the simulated protocol can never produce it.
  std::string_view impossible;
};
const std::vector<CoveragePair>& CoverageUniverse();
std::size_t CoveragePairs();
std::optional<std::size_t> CoverageIndex(core::MessageType type, ReceiverState state);
// "RREF_FORK_REQUEST @ owner:forks-only": the key a pair has in JSON; nullopt for an unknown key.
std::string CoveragePairKey(const CoveragePair& pair);
std::optional<std::size_t> CoverageIndexOfKey(std::string_view key);

// Counts per pair, plus the deliveries that could not be classified exactly (see CoverageObserver).
struct CoverageCounts {
  std::vector<std::uint64_t> pairs;  // by dense index; empty = nothing counted yet
  std::uint64_t unclassified = 0;
  void Count(std::size_t index);
  void Add(const CoverageCounts& other);
  std::uint64_t At(std::size_t index) const { return index < pairs.size() ? pairs[index] : 0; }
  std::size_t Seen() const;      // pairs with a count
  std::size_t Possible() const;  // pairs reachable in principle (the universe less the impossible ones)
};

// Classifies one delivery from the receiver's view before it processes the message (pure, for tests). `freed`
// tells whether the receiver freed an OwnerRRef of that RRef earlier. Appends one state per RRef the message is
// about: one for most types, one per carried RRef for calls and returns, none for an unknown type.
void ClassifyDelivery(const core::Message& message, const core::ContextView& receiver,
                      const std::set<core::RRefId>& freed, std::vector<ReceiverState>& out);

// Counts every delivery of a run. At a kDeliver record the World has not yet handed the message to the core, so
// the receiver's view is its state before the message, unless the core of the receiver was already called in the
// same step (a handler freed by a finished function drains several queued messages in one step): the view may then
// miss part of the step, and the delivery is counted as `unclassified` instead of being guessed.
class CoverageObserver : public RunObserver {
 public:
  void OnStart(const GlobalView& view) override { view_ = &view; }
  void OnRecord(const StepRecord& record) override;
  bool OnStepEnd(const GlobalView&) override { return true; }
  const CoverageCounts& counts() const { return counts_; }

 private:
  const GlobalView* view_ = nullptr;
  std::vector<std::set<core::RRefId>> freed_;  // per worker: the RRefs whose OwnerRRef it freed
  std::vector<ReceiverState> states_;
  CoverageCounts counts_;
};

}  // namespace rrefsim::checkers
