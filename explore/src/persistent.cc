#include "persistent.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "branch.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::detail {
namespace {

// StepFootprint's bits: one per worker below 63, and the barriers' (sim/src/world_impl.h).
constexpr int kWorkerBits = 63;
constexpr std::uint64_t kBarriersBit = std::uint64_t{1} << kWorkerBits;

std::uint64_t Mix(std::uint64_t h, std::uint64_t word) {
  h = (h ^ word) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

// Takes the step `item` at the step choice, and no fault anywhere: the copies play schedules, not faults (persistent
// sets run only without fault bounds).
class StepChooser : public sim::Chooser {
 public:
  void Want(std::uint64_t item) { item_ = item; }

 protected:
  std::uint64_t Pick(const sim::ChoiceRequest& request) override {
    if (request.kind != sim::ChoiceKind::kStep || request.items.empty()) return 0;
    const auto at = std::find(request.items.begin(), request.items.end(), item_);
    if (at == request.items.end()) throw std::logic_error("persistent sets: the step to take is not on offer");
    return static_cast<std::uint64_t>(at - request.items.begin());
  }

 private:
  std::uint64_t item_ = 0;
};

// Whether a message of the ledger can still reach `worker` from another worker in `world` after the path sent and
// created `sent`: it is to the worker, from another one (the worker's own sends are its own steps, which the
// analysis plays), the path sent fewer copies than the ledger allows (`count`: how many it sent), and no other
// message took its slot (`slot_taken`, SentOnPath::SlotTakenByAnother). A request below its sender's next id
// (`next_id`) can only be sent again; a response answers a request the path created.
template <class NextId>
bool InjectableGiven(const MessageLedger::Entry& entry, int worker, const SentOnPath& sent, std::uint32_t count,
                     bool slot_taken, const NextId& next_id) {
  const core::Message& m = entry.message;
  if (m.to != worker || m.from == worker || count >= entry.copies || slot_taken) return false;
  if (!core::IsRequest(m.type)) return sent.AnswerExpected(m);
  return m.id >= next_id(m.from) || sent.RequestCreated(m.from, m.to, m.id);
}

// The same from a path's SentOnPath alone: a sender's next id is its next one on the path, as Watch checks at every
// step of the search (a break turns persistent sets off), and the analysis's copies step no other worker and inject
// without taking ids. So the analysis reads what its verdict's key (LedgerPart) holds.
bool Injectable(const MessageLedger::Entry& entry, std::uint64_t message, int worker, const SentOnPath& sent) {
  return InjectableGiven(entry, worker, sent, sent.Count(message), sent.SlotTakenByAnother(entry.slot),
                         [&sent](core::WorkerId sender) { return sent.NextId(sender); });
}

// The step just taken (`f`), and the checkers after it, read no other worker than `worker`.
bool ReadsOnly(const sim::StepFootprint& f, int worker) {
  return !f.global && (f.reads & ~(std::uint64_t{1} << worker)) == 0;
}

// t acts on w alone, and its checkers read no other worker after it.
bool ActsOnItsWorkerAlone(const sim::StepFootprint& f, int worker) {
  return ReadsOnly(f, worker) && !f.main_turn && f.workers == std::uint64_t{1} << worker;
}

}  // namespace

// A copy of the world where it stands, with copies of everything that watches it and of what its path sent, that
// stops before every step choice, also one with a single option. Its sends are counted on its path, but not learned
// by the ledger: its state may be none a run reaches (messages injected early).
class PersistentSets::Copy {
 public:
  Copy(const sim::SteppedRun& from, const checkers::CheckerSet& checkers, const ExtraInvariant* extra,
       MessageLedger& ledger, const SentOnPath& sent)
      : checkers_(checkers),
        extra_(extra != nullptr ? extra->Clone() : nullptr),
        sent_(sent),
        watch_(checkers_, extra_.get(), &ledger, &sent_, /*learn=*/false),
        run_(from, chooser_, &watch_) {
    run_.StopAtEveryStep();
    checkers_.OnStart(run_.view());  // the copied memories on the copied world, as a branch from a snapshot starts
  }
  Copy(const Copy& other, MessageLedger& ledger)
      : Copy(other.run_, other.checkers_, other.extra_.get(), ledger, other.sent_) {
    ended_ = other.ended_;
  }
  Copy(const Copy&) = delete;
  Copy& operator=(const Copy&) = delete;

  void Take(std::uint64_t item) {
    chooser_.Want(item);
    ended_ = !run_.Advance();
    footprint_ = *sim::StepsSinceChoice(run_.view());
  }
  bool Offers(std::uint64_t item) const {
    if (ended_) return false;
    const std::vector<std::uint64_t>& items = run_.pending_items();
    return std::find(items.begin(), items.end(), item) != items.end();
  }
  const std::vector<std::uint64_t>& items() const { return run_.pending_items(); }
  const checkers::GlobalView& view() const { return run_.view(); }
  const sim::StepFootprint& footprint() const { return footprint_; }
  const SentOnPath& sent() const { return sent_; }
  std::uint64_t Inject(const core::Message& message) {
    watch_.ExpectInjection();
    return run_.Inject(message);
  }
  bool WakeBarrierWaiters(int worker) { return run_.WakeBarrierWaiters(worker); }
  bool WaitsAtBarrier(int worker) const { return run_.WaitsAtBarrier(worker); }
  // The state as the explorer keys it (world, checkers' memory and the caller's invariant's), and whether it ended.
  std::uint64_t Key() const {
    std::uint64_t key = Mix(*sim::StateFingerprint(run_.view()), checkers_.Fingerprint(nullptr));
    if (extra_ != nullptr) key = Mix(key, extra_->Fingerprint());
    return Mix(key, ended_ ? 1 : 0);
  }

 private:
  StepChooser chooser_;
  checkers::CheckerSet checkers_;
  std::unique_ptr<ExtraInvariant> extra_;
  SentOnPath sent_;
  Watch watch_;
  sim::SteppedRun run_;
  bool ended_ = false;
  sim::StepFootprint footprint_;
};

struct PersistentSets::Verdicts {
  struct Verdict {
    bool alone;
    bool reads_barriers;  // kept again under the key with the barriers' state (Known)
  };
  absl::flat_hash_map<std::uint64_t, Verdict> by_key;  // looked up, never iterated
};

PersistentSets::PersistentSets(MessageLedger& ledger, std::size_t max_local_states, bool cache,
                               bool blind_to_messages)
    : ledger_(ledger),
      max_local_states_(max_local_states),
      cache_(cache),
      blind_to_messages_(blind_to_messages),
      verdicts_(std::make_unique<Verdicts>()) {}

PersistentSets::~PersistentSets() = default;

std::optional<std::vector<std::size_t>> PersistentSets::Choose(const sim::SteppedRun& world,
                                                               const checkers::CheckerSet& checkers,
                                                               const ExtraInvariant* extra, const SentOnPath& sent,
                                                               const std::vector<std::uint64_t>& items) {
  // Called at every new state: its lists are kept between calls, so that a state that finds a step at once
  // allocates nothing.
  const int workers = std::min(world.view().workers(), kWorkerBits);
  std::vector<int>& item_worker = scratch_item_worker_;
  item_worker.clear();
  for (std::uint64_t item : items) {
    const int worker = sim::StepWorker(world.view(), item);
    item_worker.push_back(worker >= 0 && worker < workers ? worker : -1);
  }
  std::unique_ptr<Copy> start;
  std::vector<std::uint64_t>& worker_keys = scratch_worker_keys_;  // WorkerKey, once per worker at this state
  worker_keys.assign(static_cast<std::size_t>(workers), kNoKey);
  std::vector<std::uint64_t>& set = scratch_set_;
  // One step where one is enough, in option order.
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (item_worker[i] < 0) continue;
    set.assign(1, items[i]);
    if (IsPersistent(world, checkers, extra, sent, set, start, worker_keys)) {
      ++singletons_;
      return std::vector<std::size_t>{i};
    }
  }
  // Else all the steps of one worker, the fewest first (a worker with one step was tried already). A set of every
  // option reduces nothing.
  std::vector<std::pair<std::size_t, int>> sizes;  // (steps, worker)
  for (int w = 0; w < workers; ++w) {
    const auto steps = static_cast<std::size_t>(std::count(item_worker.begin(), item_worker.end(), w));
    if (steps > 1 && steps < items.size()) sizes.emplace_back(steps, w);
  }
  std::stable_sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [steps, w] : sizes) {
    std::vector<std::size_t> options;
    set.clear();
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (item_worker[i] != w) continue;
      options.push_back(i);
      set.push_back(items[i]);
    }
    if (IsPersistent(world, checkers, extra, sent, set, start, worker_keys)) {
      ++worker_sets_;
      return options;
    }
  }
  ++none_;
  return std::nullopt;
}

// Whether `set`, steps of one worker, is persistent: from the verdict cache, or by the analysis (Alone) on a copy of
// `world` made the first time one is needed (`start`).
bool PersistentSets::IsPersistent(const sim::SteppedRun& world, const checkers::CheckerSet& checkers,
                                  const ExtraInvariant* extra, const SentOnPath& sent,
                                  const std::vector<std::uint64_t>& set, std::unique_ptr<Copy>& start,
                                  std::vector<std::uint64_t>& worker_keys) {
  const int worker = sim::StepWorker(world.view(), set.front());
  // The caller's invariant's memory is not in the key (its order monitors are what a cache by one worker's part
  // would miss): with one, every state is analysed.
  const bool cache = cache_ && extra == nullptr;
  std::uint64_t key = 0;
  if (cache) {
    std::uint64_t& worker_key = worker_keys[static_cast<std::size_t>(worker)];
    if (worker_key == kNoKey) worker_key = WorkerKey(world, worker, sent);
    key = Mix(worker_key, set.size());
    for (std::uint64_t t : set) key = Mix(key, sim::StepIdentity(world.view(), t));
    if (const std::optional<bool> known = Known(world, key)) {
      ++cache_hits_;
      return *known;
    }
  }
  if (start == nullptr) start = std::make_unique<Copy>(world, checkers, extra, ledger_, sent);
  bool reads_barriers = false;
  const bool alone = Alone(*start, set, worker, reads_barriers);
  if (cache) Remember(world, key, alone, reads_barriers);
  return alone;
}

// A verdict whose analysis played a barrier arrival also read how many had arrived (whether w's was the last): it
// is kept under the key with the barriers' state mixed in, and the plain key only says so. Whether the analysis
// plays an arrival at all is decided before its first arrival, by what the plain key holds.
std::optional<bool> PersistentSets::Known(const sim::SteppedRun& world, std::uint64_t key) const {
  const auto known = verdicts_->by_key.find(key);
  if (known == verdicts_->by_key.end()) return std::nullopt;
  if (!known->second.reads_barriers) return known->second.alone;
  const auto with_barriers = verdicts_->by_key.find(Mix(key, *sim::BarrierFingerprint(world.view())));
  if (with_barriers == verdicts_->by_key.end()) return std::nullopt;
  return with_barriers->second.alone;
}

void PersistentSets::Remember(const sim::SteppedRun& world, std::uint64_t key, bool alone, bool reads_barriers) {
  verdicts_->by_key.insert_or_assign(key, Verdicts::Verdict{alone, reads_barriers});
  if (!reads_barriers) return;
  const std::uint64_t with_barriers = Mix(key, *sim::BarrierFingerprint(world.view()));
  verdicts_->by_key.insert_or_assign(with_barriers, Verdicts::Verdict{alone, false});
}

void PersistentSets::ForgetVerdicts() { verdicts_->by_key.clear(); }

// What a verdict on a set at `worker` reads besides the set: w's part of the world, and the messages that can reach
// w from other workers (LedgerPart).
std::uint64_t PersistentSets::WorkerKey(const sim::SteppedRun& world, int worker, const SentOnPath& sent) {
  // Through Mix twice: Mix(a, b) is symmetric in a and b.
  return Mix(Mix(*sim::WorkerFingerprint(world.view(), worker), 1), LedgerPart(worker, sent));
}

// The messages that can reach `worker` from other workers: each of those the ledger allows, whether it can now
// (Injectable), with how many more copies; for a response, also whether its slot is free, as w may create its
// request during the analysis. That reads only the path's messages sent and created and the ledger: a sender's next
// id is its next one on the path (SentOnPath::NextId), as Watch checks at every step of the search (a break turns
// persistent sets off). So it is kept under those, until the ledger grows.
std::uint64_t PersistentSets::LedgerPart(int worker, const SentOnPath& sent) {
  if (ledger_parts_version_ != ledger_.version()) {
    ledger_parts_.clear();
    ledger_parts_version_ = ledger_.version();
  }
  const std::uint64_t key = Mix(Mix(static_cast<std::uint64_t>(worker) + 1, sent.Hash()), sent.CreatedHash());
  const auto [at, added] = ledger_parts_.try_emplace(key, 0);
  if (!added) return at->second;
  const auto next_id = [&sent](core::WorkerId sender) { return sent.NextId(sender); };
  std::uint64_t part = 0;  // the same reading as Injectable's
  for (const auto& [message, entry] : ledger_.To(worker)) {
    const core::Message& m = entry->message;
    const std::uint32_t count = sent.Count(message);
    if (m.from == worker || count >= entry->copies) continue;
    const bool slot_taken = sent.SlotTakenByAnother(entry->slot);
    const bool injectable = InjectableGiven(*entry, worker, sent, count, slot_taken, next_id);
    const bool response_slot_free = !core::IsRequest(m.type) && !slot_taken;
    if (!injectable && !response_slot_free) continue;
    part = Mix(Mix(part, message), entry->copies - count);
    part = Mix(part, injectable ? 1 : 0);
  }
  at->second = part;
  return part;
}

// The search of worker w from `start` with the steps of T set aside, depth first: every state it reaches must offer
// each step of T, each must act on w alone there, and commute there with every other step of w on offer.
//
// A message the ledger lets reach w is put in flight and delivered at once: a message in flight is read only by its
// own delivery (the reorder profile has no channel order), so a state with it in flight offers what the state
// before it offers, plus that delivery, which is checked against T there before the search goes on from after it.
// The states with injected messages still in flight, 2^k of them for k messages, are not searched.
bool PersistentSets::Alone(const Copy& start, const std::vector<std::uint64_t>& set, int worker,
                           bool& reads_barriers) {
  const auto local_key = [](const Copy& c) { return Mix(c.Key(), c.sent().Hash()); };
  absl::flat_hash_set<std::uint64_t> seen = {local_key(start)};
  std::vector<std::unique_ptr<Copy>> stack;
  stack.push_back(std::make_unique<Copy>(start, ledger_));
  const auto push = [&](std::unique_ptr<Copy> next) {
    if (seen.insert(local_key(*next)).second) stack.push_back(std::move(next));
  };
  // From `at` (`after_set`: it after each step of T), the step x of w outside T: the state after it, when it commutes
  // with T; nullptr otherwise.
  const auto play = [&](const Copy& at, const std::vector<std::unique_ptr<Copy>>& after_set,
                        std::uint64_t x) -> std::unique_ptr<Copy> {
    auto after_x = std::make_unique<Copy>(at, ledger_);
    after_x->Take(x);
    // Whether w's arrival at a barrier is the last one depends on the other workers' arrivals, which w's part of
    // the world leaves out (Known).
    if ((after_x->footprint().workers & kBarriersBit) != 0) reads_barriers = true;
    for (std::size_t i = 0; i < set.size(); ++i) {
      if (!Commutes(*after_x, *after_set[i], set[i], x, worker)) return nullptr;
    }
    return after_x;
  };
  while (!stack.empty()) {
    std::unique_ptr<Copy> at = std::move(stack.back());
    stack.pop_back();
    ++local_states_;
    const std::vector<std::unique_ptr<Copy>> after_set = AfterEach(*at, set, worker);
    if (after_set.empty()) return false;
    for (std::uint64_t x : at->items()) {
      if (std::find(set.begin(), set.end(), x) != set.end() || sim::StepWorker(at->view(), x) != worker) continue;
      std::unique_ptr<Copy> after_x = play(*at, after_set, x);
      if (after_x == nullptr) return false;
      push(std::move(after_x));
    }
    if (at->WaitsAtBarrier(worker)) {
      auto woken = std::make_unique<Copy>(*at, ledger_);
      woken->WakeBarrierWaiters(worker);
      push(std::move(woken));
    }
    const MessageLedger::ToWorker to_w = ledger_.To(worker);  // a copy, should anything add to the ledger meanwhile
    for (const auto& [message, entry] : to_w) {
      if (blind_to_messages_) break;
      if (!Injectable(*entry, message, worker, at->sent())) continue;
      Copy in_flight(*at, ledger_);
      const std::uint64_t delivery = in_flight.Inject(entry->message);
      const std::vector<std::unique_ptr<Copy>> in_flight_after_set = AfterEach(in_flight, set, worker);
      if (in_flight_after_set.empty()) return false;
      std::unique_ptr<Copy> delivered = play(in_flight, in_flight_after_set, delivery);
      if (delivered == nullptr) return false;
      push(std::move(delivered));
    }
    if (seen.size() > max_local_states_) return false;
  }
  return true;
}

// `at` after each step of T, when each is on offer there and acts on w alone; empty otherwise.
std::vector<std::unique_ptr<PersistentSets::Copy>> PersistentSets::AfterEach(const Copy& at,
                                                                             const std::vector<std::uint64_t>& set,
                                                                             int worker) {
  std::vector<std::unique_ptr<Copy>> after;
  for (std::uint64_t t : set) {
    if (!at.Offers(t)) return {};
    after.push_back(std::make_unique<Copy>(at, ledger_));
    after.back()->Take(t);
    if (!ActsOnItsWorkerAlone(after.back()->footprint(), worker)) return {};
  }
  return after;
}

// Whether t and x, taken from one state, reach one state in either order, and neither disables the other
// (`after_x`, `after_t`: that state after each). The checkers' memory is part of the state, and a checker that reads
// another worker after a step can come out differently at a state of the real future, where that worker has moved
// on, than at the copy here: such steps are not played as w's alone.
bool PersistentSets::Commutes(const Copy& after_x, const Copy& after_t, std::uint64_t t, std::uint64_t x,
                              int worker) {
  if (!after_x.Offers(t) || !after_t.Offers(x)) return false;
  Copy x_then_t(after_x, ledger_);
  x_then_t.Take(t);
  Copy t_then_x(after_t, ledger_);
  t_then_x.Take(x);
  if (!ReadsOnly(after_x.footprint(), worker) || !ReadsOnly(x_then_t.footprint(), worker) ||
      !ReadsOnly(t_then_x.footprint(), worker)) {
    return false;
  }
  return x_then_t.Key() == t_then_x.Key();
}

}  // namespace rrefsim::explore::detail
