// Internal: helpers shared by the checkers, and one factory per checker.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rrefsim/checkers/checker.h"

namespace rrefsim::checkers::detail {

// "(1,4)": a GloballyUniqueId as the traces and messages print it.
std::string Id(const core::GloballyUniqueId& id);
std::string W(int worker);  // "worker 2"
// The worker still runs its protocol: not aborted and its RRefContext not destroyed.
bool Running(const GlobalView& view, int worker);
bool IsRemoteCall(core::MessageType type);
// The worker's live UserRRef of `fork`, or nullptr.
const core::UserRRefView* FindUser(const core::ContextView& view, const core::ForkId& fork);
// A record that delivers a message of `type` that the receiver can decode (a TensorPipe retry with an empty
// payload is rejected before any handler runs, rref-protocol.md §9.1).
bool Delivers(const StepRecord& record, core::MessageType type);
// A record of the core sending a message of `type`, whatever the network does with it (send, drop, refuse). A
// TensorPipe retry with an empty payload (rref-protocol.md §9.1) carries no ids: it is the same message as its first
// attempt, so it does not count again.
bool Emits(const StepRecord& record, core::MessageType type);

// Fingerprint helpers (Checker::Fingerprint). A worker id, renamed under h's renaming.
inline void MixWorker(core::StateHasher& h, int worker) {
  h.Mix(static_cast<std::uint64_t>(static_cast<std::uint32_t>(h.Rename(worker))));
}
void MixFork(core::StateHasher& h, const core::ForkData& fork);
void MixIds(core::StateHasher& h, const std::vector<core::ForkId>& ids);  // in order, then the count

// Maps and sets keyed by worker-named ids: folded as multisets under a renaming (core/fingerprint.h).
using core::MixEach;

// A vector indexed by worker: the entries that are not empty, each with its (renamed) worker, as a multiset under a
// renaming. Empty entries are left out: the checkers size these vectors lazily, and an empty entry behaves as a
// missing one.
template <class T, class MixEntry>
void MixPerWorker(core::StateHasher& h, const std::vector<T>& per_worker, MixEntry mix_entry) {
  std::vector<std::pair<int, const T*>> entries;
  for (std::size_t w = 0; w < per_worker.size(); ++w) {
    if (!per_worker[w].empty()) entries.emplace_back(static_cast<int>(w), &per_worker[w]);
  }
  MixEach(h, entries, [&mix_entry](core::StateHasher& e, const std::pair<int, const T*>& entry) {
    MixWorker(e, entry.first);
    mix_entry(e, *entry.second);
  });
}

// The workers a step touched in a way a checker cares about, so it reads only their views.
class Touched {
 public:
  void Mark(int worker) {
    if (worker < 0) return;
    if (static_cast<std::size_t>(worker) >= marks_.size()) marks_.resize(static_cast<std::size_t>(worker) + 1, 0);
    marks_[static_cast<std::size_t>(worker)] = 1;
    any_ = true;
  }
  bool operator()(int worker) const {
    return any_ && static_cast<std::size_t>(worker) < marks_.size() && marks_[static_cast<std::size_t>(worker)] != 0;
  }
  bool any() const { return any_; }
  void Clear() {
    if (!any_) return;
    std::fill(marks_.begin(), marks_.end(), 0);
    any_ = false;
  }
  // Per-step scratch (cleared at every step's end, so empty where the explorer keys states), mixed all the same.
  void Fingerprint(core::StateHasher& h) const {
    std::vector<int> marked;
    for (std::size_t w = 0; w < marks_.size(); ++w) {
      if (marks_[w] != 0) marked.push_back(static_cast<int>(w));
    }
    MixEach(h, marked, [](core::StateHasher& e, int w) { MixWorker(e, w); });
  }

 private:
  std::vector<char> marks_;
  bool any_ = false;
};

// A record after which the worker's UserRRef instances may differ: only unpickling creates one (a delivered message
// carrying RRefs, or remote() creating its own), and each destruction is an event.
bool MayChangeUsers(const StepRecord& record);

std::unique_ptr<Checker> MakeProtocolError(const CheckerConfig& config);
std::unique_ptr<Checker> MakeUniqueForkIds();
std::unique_ptr<Checker> MakeNoPrematureDelete();
std::unique_ptr<Checker> MakeParentPinned();
std::unique_ptr<Checker> MakeChildConfirmedBeforeAccept();
std::unique_ptr<Checker> MakeCreatorPinned();
std::unique_ptr<Checker> MakeUdfRunsAfterArgsConfirmed();
std::unique_ptr<Checker> MakeOwnerNotified();
std::unique_ptr<Checker> MakeOwnerViewMonotonic();
std::unique_ptr<Checker> MakeForkTreeRooted();
std::unique_ptr<Checker> MakeToHereValue();
std::unique_ptr<Checker> MakeCleanAtQuiescence();
std::unique_ptr<Checker> MakeNoOrphanWaiter();
std::unique_ptr<Checker> MakeWorkerAbort(const CheckerConfig& config);
std::unique_ptr<Checker> MakeDeadlock();
std::unique_ptr<Checker> MakeNoQuiescence();

}  // namespace rrefsim::checkers::detail
