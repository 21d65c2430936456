// Persistent sets (ExploreOptions::persistent_sets; docs/explore.md, "Persistent sets"): at a new state, a step t at
// worker w that every step which can come before it commutes with, so that the search takes t alone; where there is
// none, all the enabled steps T of one worker w, when every other step w can take before them commutes with each.
//
// Steps at two workers commute (the explorer's footprints, checked by the independence audit and the oracle), so only
// what can happen at w before T matters: w's own steps (its fibers, the deliveries in flight to it), the messages
// that can still reach it (the ledger's, message_ledger.h, filtered by slot), and the release of a barrier w waits
// at. Nothing else can come first: the main loop (timers, sleeps, flushed barriers, join) acts only when nothing is
// enabled, and T's steps stay enabled. So T is taken when a search of w, on copies of the world, with T's steps set
// aside, finds each of them enabled at every state it reaches and the two orders of each and every step of w there
// reaching one state, where that search plays w's other steps, delivers any message of the ledger the path has not
// yet sent, and wakes w's fibers at a barrier.
//
// What that rests on, and how each is kept:
// - The ledger holds every message that can be sent: checked at every send (Watch), and learned otherwise; the
//   search then runs again (explore.cc).
// - No worker aborts (an abort reaches every worker): checked at every abort, and the search then runs again without
//   persistent sets.
// - A slot (a sender's request id, a request's reply) holds one message per path, up to hardened mode's resends, and
//   a sender's request ids only go up (SentOnPath): checked at every send, and a break turns persistent sets off.
//   So does a worker whose next message id is not its next one on the path (checked after every step, Watch::
//   CheckIds): the analysis and the cache read a sender's next id from the path (SentOnPath::NextId).
// - A checker that, after a step at another worker v, reads w sees the same whichever side of that step T is taken:
//   not checked, and not proven (docs/explore.md, "Gaps, stated"); the oracle's graphs and the mutant cores
//   (tests/mutants/explore_mutants_test.cc) show no case. This is why persistent sets are opt-in.
// - Choosing a set reads no view of the search's world: Probe::Pick records the last step's footprint again after
//   the choice, and reads there would count as that step's (the probe throws if the footprint changed).
// - No program barrier (its last arrival reads every worker's pending futures and users): such scenarios run without
//   persistent sets.
// - Whether T and a step of w commute depends only on w's part of the world: the verdicts are cached by that part
//   (sim::WorkerFingerprint) and the remaining messages to w, and, for an analysis that played a barrier arrival,
//   the barriers' state (sim::BarrierFingerprint). The checkers' memory is not part of it; the oracle's
//   test (explore/tests/persistent_test.cc) checks every set taken against the whole state graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "message_ledger.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/sim/stepped_run.h"

namespace rrefsim::explore::detail {

class PersistentSets {
 public:
  // `max_local_states`: a search of one worker that reaches more states gives up, and the step is not taken alone.
  // `blind_to_messages`: tests only, unsound (ExploreOptions::persistent_blind_to_messages).
  PersistentSets(MessageLedger& ledger, std::size_t max_local_states, bool cache, bool blind_to_messages = false);
  ~PersistentSets();
  PersistentSets(const PersistentSets&) = delete;
  PersistentSets& operator=(const PersistentSets&) = delete;

  // At a step choice among `items` of `world` (watched by `checkers` and `extra`, after the path sent `sent`): the
  // options of a persistent set, or nullopt. One step where one is, in option order; else all the steps of one
  // worker, the fewest first.
  std::optional<std::vector<std::size_t>> Choose(const sim::SteppedRun& world, const checkers::CheckerSet& checkers,
                                                 const ExtraInvariant* extra, const SentOnPath& sent,
                                                 const std::vector<std::uint64_t>& items);

  // A new round's ledger: verdicts reached under the old one may have assumed too few messages.
  void ForgetVerdicts();

  std::uint64_t singletons() const { return singletons_; }
  std::uint64_t worker_sets() const { return worker_sets_; }
  std::uint64_t none() const { return none_; }
  std::uint64_t local_states() const { return local_states_; }
  std::uint64_t cache_hits() const { return cache_hits_; }

 private:
  class Copy;
  bool IsPersistent(const sim::SteppedRun& world, const checkers::CheckerSet& checkers, const ExtraInvariant* extra,
                    const SentOnPath& sent, const std::vector<std::uint64_t>& set, std::unique_ptr<Copy>& start,
                    std::vector<std::uint64_t>& worker_keys);
  // Whether T (`set`, steps of `worker`) is persistent; `reads_barriers` is set when the analysis played a barrier
  // arrival, whose outcome reads the other workers' arrivals too (Known).
  bool Alone(const Copy& start, const std::vector<std::uint64_t>& set, int worker, bool& reads_barriers);
  std::vector<std::unique_ptr<Copy>> AfterEach(const Copy& at, const std::vector<std::uint64_t>& set, int worker);
  bool Commutes(const Copy& after_x, const Copy& after_t, std::uint64_t t, std::uint64_t x, int worker);
  std::uint64_t WorkerKey(const sim::SteppedRun& world, int worker, const SentOnPath& sent);
  std::uint64_t LedgerPart(int worker, const SentOnPath& sent);
  std::optional<bool> Known(const sim::SteppedRun& world, std::uint64_t key) const;
  void Remember(const sim::SteppedRun& world, std::uint64_t key, bool alone, bool reads_barriers);

  MessageLedger& ledger_;
  std::size_t max_local_states_;
  bool cache_;
  bool blind_to_messages_;
  struct Verdicts;
  std::unique_ptr<Verdicts> verdicts_;
  std::uint64_t singletons_ = 0;
  std::uint64_t worker_sets_ = 0;
  std::uint64_t none_ = 0;
  std::uint64_t local_states_ = 0;
  std::uint64_t cache_hits_ = 0;
  // Choose's lists, kept between calls: each step's worker (-1: none), each worker's key (kNoKey: not computed yet
  // at this state), and the set being tried.
  static constexpr std::uint64_t kNoKey = 0;  // a key that happens to be 0 is only computed again
  std::vector<int> scratch_item_worker_;
  std::vector<std::uint64_t> scratch_worker_keys_;
  std::vector<std::uint64_t> scratch_set_;
  // LedgerPart's answers under the ledger's version `ledger_parts_version_`, by worker and the path's hashes.
  absl::flat_hash_map<std::uint64_t, std::uint64_t> ledger_parts_;  // looked up, never iterated
  std::uint64_t ledger_parts_version_ = 0;
};

}  // namespace rrefsim::explore::detail
