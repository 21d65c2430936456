// The World without fibers (RunConfig-independent; what the exhaustive explorer copies at its choice points): the
// same continuations, hosts and network as a fiber run, with the scheduling Boost.Fiber does under SimAlgorithm
// re-enacted on fiber ids, so that a choice list means the same schedule in both modes (docs/explore.md).
#include <stdexcept>
#include <utility>

#include "interpreter.h"
#include "rrefsim/sim/stepped_run.h"
#include "world_impl.h"

namespace rrefsim::sim {
namespace detail {

// Boost.Fiber's order, which the fiber mode's choice lists depend on: a spawned or woken fiber joins the back of the
// ready queue; a fiber that yields is offered last, and goes to the back of the queue when another step is chosen
// (also a delivery, or nothing: then the main loop runs); a fiber that blocks or ends is offered nothing.
bool World::RunUntilChoice() {
  if (!std::exchange(started_, true)) Begin();
  for (;;) {
    step_items_.assign(ready_.begin(), ready_.end());
    if (yielder_) step_items_.push_back(*yielder_);
    const std::size_t fibers = step_items_.size();
    const std::optional<std::size_t> pick = ChooseItem(fibers);
    if (paused_) {
      paused_ = false;
      resume_choice_ = true;
      return true;
    }
    const std::optional<std::uint64_t> yielder = std::exchange(yielder_, std::nullopt);
    if (pick && *pick < fibers) {
      const std::uint64_t chosen = step_items_[*pick];
      if (*pick < ready_.size()) {
        ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(*pick));
        if (yielder) ready_.push_back(*yielder);
        CountSwitch();
      }
      RunFiber(chosen);
      continue;
    }
    if (yielder) ready_.push_back(*yielder);
    if (pick) {
      DeliverChosen();
      continue;
    }
    if (!MainTurn()) return false;
  }
}

// As a fiber resumes: a new one starts; one that yielded or blocked goes on unless its worker aborted (or the run
// failed), in which case its continuation ends where it stands.
void World::RunFiber(std::uint64_t id) {
  FiberRecord& r = fibers_.Mutable(id);  // records stay put while fibers are added
  const bool resumed = r.continuation.at == Continuation::At::kStart || (!failure_ && !host(r.worker).core.aborted());
  r.waiting_for.clear();
  const Suspension next = Step(*this, r.continuation, resumed);
  switch (next.kind) {
    case Suspension::Kind::kYield:
      yielder_ = id;
      r.waiting_for = next.why;
      break;
    case Suspension::Kind::kBlock:
      r.state = FiberState::kBlocked;
      r.waiting_for = next.why;
      break;
    case Suspension::Kind::kDone:
      r.state = FiberState::kDone;
      break;
  }
}

// The fiber mode's Finish winds the remaining fibers down (Cancel): it wakes the blocked ones in id order behind the
// ready ones, and each then runs once, first in the queue first, with its pick mixed into the run's hash. Nothing
// else of it shows, so the stepwise world mixes the same picks.
void World::MixWindDown() {
  std::vector<std::uint64_t> order = ready_;
  for (const auto& [id, f] : fibers_.all()) {
    if (f.state == FiberState::kBlocked) order.push_back(id);
  }
  for (std::uint64_t id : order) hash_.Mix(id);
}

// A message put in flight, due now, as if its sender had just sent it: the observer sees its send.
std::uint64_t World::InjectMessage(const core::Message& message) {
  if (message.to < 0 || message.to >= workers()) throw std::invalid_argument("inject: no such receiver");
  const InFlightKey key{now_, next_inflight_seq_++};
  auto in = std::make_shared<InFlight>(message);
  if (observer_) {
    checkers::StepRecord record;
    record.kind = checkers::RecordKind::kSend;
    record.worker = message.from;
    record.message = &in->message;
    record.message_seq = key.second;
    Emit(record);
  }
  inflight_.emplace(key, std::move(in));
  RefreshPendingItems();
  return kMessageItem | key.second;
}

// The options of the step choice the world stopped before, after a what-if operation changed them: as
// RunUntilChoice and ChooseItem list them (the fibers on offer, then the due messages), and as they will when it goes on.
void World::RefreshPendingItems() {
  step_items_.clear();
  if (bound_hit_ || stopped_ || failure_) return;  // ChooseItem offers nothing then
  step_items_.assign(ready_.begin(), ready_.end());
  if (yielder_) step_items_.push_back(*yielder_);
  for (auto it = inflight_.begin(); it != inflight_.end() && it->first.first <= now_; ++it) {
    step_items_.push_back(kMessageItem | it->first.second);
  }
}

bool World::WaitsAtBarrier(int worker) const {
  for (const auto& [name, waiting] : barrier_waiters_) {
    for (std::uint64_t f : waiting) {
      if (fibers_.at(f).worker == worker) return true;
    }
  }
  return false;
}

// As a barrier's release wakes them, without the others' arrivals: the worker's fibers that wait at a barrier.
bool World::WakeBarrierWaiters(int worker) {
  bool woken = false;
  for (auto it = barrier_waiters_.begin(); it != barrier_waiters_.end();) {
    std::vector<std::uint64_t>& waiting = it->second;
    for (auto f = waiting.begin(); f != waiting.end();) {
      if (fibers_.at(*f).worker != worker) {
        ++f;
        continue;
      }
      const std::uint64_t fiber = *f;
      f = waiting.erase(f);
      Wake(fiber);
      woken = true;
    }
    it = waiting.empty() ? barrier_waiters_.erase(it) : std::next(it);
  }
  if (woken) RefreshPendingItems();
  return woken;
}

void World::Rebind(Chooser& chooser, checkers::RunObserver* observer) {
  chooser_.Retarget(chooser);
  network_.Rebind(chooser_);  // this world's own forwarder, not the one of the world it was copied from
  observer_ = observer;
  if (observer_ != nullptr && views_.size() != hosts_.size()) views_.resize(hosts_.size());
}

}  // namespace detail

SteppedRun::SteppedRun(const Scenario& scenario, const RunConfig& config, Chooser& chooser,
                       checkers::RunObserver* observer) {
  if (std::string problem = Validate(scenario); !problem.empty()) throw std::invalid_argument(problem);
  world_ = std::make_unique<detail::World>(scenario, config, chooser, observer, true);
}

SteppedRun::SteppedRun(const SteppedRun& other, Chooser& chooser, checkers::RunObserver* observer)
    : world_(std::make_unique<detail::World>(*other.world_)) {
  world_->Rebind(chooser, observer);
}

void SteppedRun::Rebind(Chooser& chooser, checkers::RunObserver* observer) { world_->Rebind(chooser, observer); }

SteppedRun::~SteppedRun() = default;
SteppedRun::SteppedRun(SteppedRun&&) noexcept = default;
SteppedRun& SteppedRun::operator=(SteppedRun&&) noexcept = default;

bool SteppedRun::Advance() { return world_->RunUntilChoice(); }
void SteppedRun::StopAtEveryStep() { world_->StopAtEveryStep(); }
std::uint64_t SteppedRun::Inject(const core::Message& message) { return world_->InjectMessage(message); }
bool SteppedRun::WakeBarrierWaiters(int worker) { return world_->WakeBarrierWaiters(worker); }
bool SteppedRun::WaitsAtBarrier(int worker) const { return world_->WaitsAtBarrier(worker); }
const std::vector<std::uint64_t>& SteppedRun::pending_items() const { return world_->pending_items(); }
RunResult SteppedRun::Finish() { return world_->Conclude(); }
const checkers::GlobalView& SteppedRun::view() const { return *world_; }

RunResult RunWithoutFibers(const Scenario& scenario, const RunConfig& config, Chooser& chooser,
                           checkers::RunObserver* observer) {
  SteppedRun run(scenario, config, chooser, observer);
  while (run.Advance()) {
  }
  return run.Finish();
}

}  // namespace rrefsim::sim
