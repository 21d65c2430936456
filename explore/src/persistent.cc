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

// Whether a message of the ledger can still reach `worker` from another worker after the path sent `sent`: it is to
// the worker, from another one (the worker's own sends are its own steps, which the analysis plays), the path sent
// fewer copies than the ledger allows, and a response answers a request the path sent.
bool Injectable(const MessageLedger::Entry& entry, std::uint64_t message, int worker, const SentOnPath& sent) {
  const core::Message& m = entry.message;
  if (m.to != worker || m.from == worker || sent.Count(message) >= entry.copies) return false;
  return core::IsRequest(m.type) || sent.AnswerExpected(m);
}

}  // namespace

// A copy of the world where it stands, with copies of everything that watches it and of what its path sent, that
// stops before every step choice, also one with a single option. Its sends are checked against the ledger as the
// search's own are.
class PersistentSets::Copy {
 public:
  Copy(const sim::SteppedRun& from, const checkers::CheckerSet& checkers, const ExtraInvariant* extra,
       MessageLedger& ledger, const SentOnPath& sent)
      : checkers_(checkers),
        extra_(extra != nullptr ? extra->Clone() : nullptr),
        sent_(sent),
        watch_(checkers_, extra_.get(), &ledger, &sent_),
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
  void Inject(const core::Message& message) { run_.Inject(message); }
  bool WakeBarrierWaiters(int worker) { return run_.WakeBarrierWaiters(worker); }
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
  absl::flat_hash_map<std::uint64_t, bool> by_key;  // looked up, never iterated
};

PersistentSets::PersistentSets(MessageLedger& ledger, std::size_t max_local_states, bool cache,
                               bool blind_to_messages)
    : ledger_(ledger),
      max_local_states_(max_local_states),
      cache_(cache),
      blind_to_messages_(blind_to_messages),
      verdicts_(std::make_unique<Verdicts>()) {}

PersistentSets::~PersistentSets() = default;

std::optional<std::size_t> PersistentSets::Choose(const sim::SteppedRun& world, const checkers::CheckerSet& checkers,
                                                  const ExtraInvariant* extra, const SentOnPath& sent,
                                                  const std::vector<std::uint64_t>& items) {
  std::unique_ptr<Copy> start;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const int worker = sim::StepWorker(world.view(), items[i]);
    if (worker < 0 || worker >= kWorkerBits) continue;
    // The caller's invariant's memory is not in the key (its order monitors are what a cache by one worker's part
    // would miss): with one, every state is analysed.
    const bool cache = cache_ && extra == nullptr;
    const std::uint64_t key = cache ? VerdictKey(world, items[i], worker, sent) : 0;
    if (cache) {
      if (const auto known = verdicts_->by_key.find(key); known != verdicts_->by_key.end()) {
        ++cache_hits_;
        if (!known->second) continue;
        ++singletons_;
        return i;
      }
    }
    if (start == nullptr) start = std::make_unique<Copy>(world, checkers, extra, ledger_, sent);
    bool cacheable = true;
    const bool alone = Alone(*start, items[i], worker, cacheable);
    if (cache && cacheable) verdicts_->by_key.emplace(key, alone);
    if (alone) {
      ++singletons_;
      return i;
    }
  }
  ++none_;
  return std::nullopt;
}

void PersistentSets::ForgetVerdicts() { verdicts_->by_key.clear(); }

// What the verdict on t reads: w's part of the world, t, and how many more copies of each message to w from another
// worker the ledger allows after what the path sent (responses too, whose requests w may send during the analysis).
std::uint64_t PersistentSets::VerdictKey(const sim::SteppedRun& world, std::uint64_t t, int worker,
                                         const SentOnPath& sent) const {
  std::uint64_t key = Mix(*sim::WorkerFingerprint(world.view(), worker), sim::StepIdentity(world.view(), t));
  for (const auto& [message, entry] : ledger_.allowed()) {
    const core::Message& m = entry.message;
    if (m.to != worker || m.from == worker || sent.Count(message) >= entry.copies) continue;
    key = Mix(Mix(key, message), entry.copies - sent.Count(message));
    if (!core::IsRequest(m.type)) key = Mix(key, sent.AnswerExpected(m) ? 1 : 0);
  }
  return key;
}

// t acts on w alone, and its checkers read no other worker after it.
bool PersistentSets::ActsOnItsWorkerAlone(const Copy& after_t, int worker) const {
  const sim::StepFootprint& f = after_t.footprint();
  const std::uint64_t own = std::uint64_t{1} << worker;
  return !f.global && !f.main_turn && f.workers == own && (f.reads & ~own) == 0;
}

// The search of worker w alone from `start`, depth first: every state it reaches must offer t, and t must commute
// there with every step of w on offer. t itself must act on w alone.
bool PersistentSets::Alone(const Copy& start, std::uint64_t t, int worker, bool& cacheable) {
  // The checkers' memory is part of the state, and a checker that reads another worker after a step can come out
  // differently at a state of the real future, where that worker has moved on, than at the copy here: such steps
  // are not played as w's alone.
  const std::uint64_t own = std::uint64_t{1} << worker;
  const auto reads_only_w = [own](const Copy& c) { return !c.footprint().global && (c.footprint().reads & ~own) == 0; };
  const auto local_key = [](const Copy& c) { return Mix(c.Key(), c.sent().Hash()); };
  absl::flat_hash_set<std::uint64_t> seen = {local_key(start)};
  std::vector<std::unique_ptr<Copy>> stack;
  stack.push_back(std::make_unique<Copy>(start, ledger_));
  const auto push = [&](std::unique_ptr<Copy> next) {
    if (seen.insert(local_key(*next)).second) stack.push_back(std::move(next));
  };
  while (!stack.empty()) {
    std::unique_ptr<Copy> at = std::move(stack.back());
    stack.pop_back();
    ++local_states_;
    if (!at->Offers(t)) return false;
    Copy after_t(*at, ledger_);
    after_t.Take(t);
    if (!ActsOnItsWorkerAlone(after_t, worker)) return false;
    for (std::uint64_t x : at->items()) {
      if (x == t || sim::StepWorker(at->view(), x) != worker) continue;
      auto after_x = std::make_unique<Copy>(*at, ledger_);
      after_x->Take(x);
      // Whether w's arrival at a barrier is the last one depends on the other workers' arrivals, which w's part of
      // the world leaves out: such a verdict is not cached.
      if ((after_x->footprint().workers & kBarriersBit) != 0) cacheable = false;
      if (!after_x->Offers(t) || !after_t.Offers(x)) return false;
      Copy x_then_t(*after_x, ledger_);
      x_then_t.Take(t);
      Copy t_then_x(after_t, ledger_);
      t_then_x.Take(x);
      if (!reads_only_w(*after_x) || !reads_only_w(x_then_t) || !reads_only_w(t_then_x)) return false;
      if (x_then_t.Key() != t_then_x.Key()) return false;
      push(std::move(after_x));
    }
    auto woken = std::make_unique<Copy>(*at, ledger_);
    if (woken->WakeBarrierWaiters(worker)) push(std::move(woken));
    for (const auto& [message, entry] : ledger_.allowed()) {
      if (blind_to_messages_) break;
      if (!Injectable(entry, message, worker, at->sent())) continue;
      auto delivered = std::make_unique<Copy>(*at, ledger_);
      delivered->Inject(entry.message);
      push(std::move(delivered));
    }
    if (seen.size() > max_local_states_) return false;
  }
  return true;
}

}  // namespace rrefsim::explore::detail
