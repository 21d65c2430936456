// The World's main loop and its bookkeeping: steps, deliveries, the handler pools, virtual time, and the end of a
// run (quiescence, deadlock, safety bounds, worker abort).
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "interpreter.h"
#include "world_impl.h"

namespace rrefsim::sim {

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kDeadlock:
      return "deadlock";
    case Outcome::kNoQuiescence:
      return "no_quiescence";
    case Outcome::kWorkerAbort:
      return "worker_abort";
    case Outcome::kStopped:
      return "stopped";
  }
  return "unknown";
}

RunResult Run(const Scenario& scenario, const RunConfig& config, Chooser& chooser, checkers::RunObserver* observer) {
  if (std::string problem = Validate(scenario); !problem.empty()) throw std::invalid_argument(problem);
  detail::World world(scenario, config, chooser, observer);
  return world.Execute();
}

namespace {
// Hands each record over as text; never stops the run.
class TextObserver : public checkers::RunObserver {
 public:
  explicit TextObserver(const StepObserver& observer) : observer_(observer) {}
  void OnRecord(const checkers::StepRecord& record) override { observer_(ToStepEvent(record)); }
  bool OnStepEnd(const checkers::GlobalView&) override { return true; }

 private:
  const StepObserver& observer_;
};
}  // namespace

RunResult Run(const Scenario& scenario, const RunConfig& config, Chooser& chooser, const StepObserver& observer) {
  if (!observer) return Run(scenario, config, chooser, static_cast<checkers::RunObserver*>(nullptr));
  TextObserver text(observer);
  return Run(scenario, config, chooser, &text);
}

namespace detail {
namespace {
constexpr std::size_t kStackBytes = 256 * 1024;
}  // namespace

World::World(const Scenario& scenario, const RunConfig& config, Chooser& chooser, checkers::RunObserver* observer,
             bool stepwise)
    : scenario_(scenario),
      config_(config),
      chooser_(chooser),
      observer_(observer),
      stepwise_(stepwise),
      network_(config.faults, chooser_) {
  for (int i = 0; i < scenario.workers; ++i) {
    core::WorkerConfig wc;
    wc.id = static_cast<core::WorkerId>(i);
    wc.mode = config.mode;
    wc.retry_payload = config.retry_payload;
    hosts_.Add(wc);
  }
  changed_.assign(hosts_.size(), 0);
  stale_.assign(hosts_.size(), 1);
  if (observer_) views_.resize(hosts_.size());
  result_.heal_time = network_.heal_time();
}

std::uint64_t World::Spawn(int worker, std::string name, Continuation continuation) {
  std::uint64_t id = next_fiber_++;
  FiberRecord record;
  record.worker = worker;
  record.name = std::move(name);
  record.continuation = std::move(continuation);
  record.continuation.fiber = id;
  Continuation& body = fibers_.Add(id, std::move(record)).continuation;  // records stay put
  if (stepwise_) {
    ready_.push_back(id);  // as a new fiber is awakened at once
    return id;
  }
  spawning_ = id;
  // One pool of stacks per thread, kept across runs: a fresh 256 KiB malloc per fiber is an mmap and munmap each.
  thread_local boost::fibers::pooled_fixedsize_stack stacks(kStackBytes);
  boost::fibers::fiber fiber(std::allocator_arg, stacks,
                             [this, id, &body] {
                               try {
                                 if (!cancelling_) DriveOnFiber(body);
                               } catch (...) {  // escaping a fiber would terminate the process
                                 if (!failure_) failure_ = std::current_exception();
                               }  // a fiber first scheduled while cancelling never starts
                               FiberRecord& r = fibers_.Mutable(id);
                               r.state = FiberState::kDone;
                               fiber_of_.erase(r.ctx);
                             });
  spawning_.reset();
  fiber.detach();
  return id;
}

void World::DriveOnFiber(Continuation& continuation) {
  bool resumed = true;
  for (;;) {
    Suspension next = Step(*this, continuation, resumed);
    if (next.kind == Suspension::Kind::kDone) return;
    resumed = next.kind == Suspension::Kind::kYield ? Yield(next.why) : Block(next.why);
  }
}

void World::OnAwakened(context* ctx) {
  if (!spawning_) return;
  fibers_.Mutable(*spawning_).ctx = ctx;
  fiber_of_[ctx] = *spawning_;
  spawning_.reset();
}

std::uint64_t World::CurrentFiber() const { return fiber_of_.at(context::active()); }

bool World::Block(const std::string& why) {
  if (cancelling_) return false;  // nothing may start waiting once the run is being cancelled: Cancel woke them all
  FiberRecord& r = fibers_.Mutable(CurrentFiber());
  r.state = FiberState::kBlocked;
  r.waiting_for = why;
  context::active()->suspend();
  r.state = FiberState::kReady;
  r.waiting_for.clear();
  return !cancelling_ && !failure_ && !host(r.worker).core.aborted();  // an aborted worker's fibers end
}

void World::Wake(std::uint64_t fiber) {
  if (fibers_.at(fiber).state != FiberState::kBlocked) return;
  FiberRecord& r = fibers_.Mutable(fiber);
  r.state = FiberState::kReady;
  if (stepwise_) {
    ready_.push_back(fiber);
  } else {
    context::active()->schedule(r.ctx);
  }
}

bool World::Yield(const std::string& shown) {
  if (!shown.empty()) fibers_.Mutable(CurrentFiber()).waiting_for = shown;
  yielding_ = context::active();
  boost::this_fiber::yield();
  yielding_ = nullptr;
  if (!shown.empty()) fibers_.Mutable(CurrentFiber()).waiting_for.clear();
  return !cancelling_ && !failure_ && !host(fibers_.at(CurrentFiber()).worker).core.aborted();
}

void World::Touch(int worker) {
  if (worker < 0 || worker >= kFirstGlobalWorker) {
    footprint_.global = true;
  } else {
    footprint_.workers |= std::uint64_t{1} << worker;
  }
}

int World::WorkerOfItem(std::uint64_t item) const {
  if ((item & kMessageItem) == 0) {
    const FiberRecord* found = fibers_.find(item);
    return found == nullptr ? -1 : found->worker;
  }
  for (const auto& [key, in] : inflight_) {
    if (key.second == (item & ~kMessageItem)) return in->message.to;
  }
  return -1;
}

int World::LiveWorkers() const {
  int live = 0;
  for (const Host& h : hosts_.all()) live += h.core.aborted() ? 0 : 1;
  return live;
}

// The worker process died (§9.3): its fibers end at their next scheduling point, and the barriers that waited for
// it count only the live workers now.
void World::OnWorkerAborted(int worker) {
  TouchAll();
  for (const auto& [id, f] : fibers_.all()) {
    if (f.worker == worker && f.state == FiberState::kBlocked) Wake(id);
  }
  for (auto& [name, waiting] : barrier_waiters_) {
    std::erase_if(waiting, [this, worker](std::uint64_t f) { return fibers_.at(f).worker == worker; });
  }
  ReleaseCompleteBarriers();
}

void World::ReleaseCompleteBarriers() {
  int live = LiveWorkers();
  for (auto it = barrier_waiters_.begin(); it != barrier_waiters_.end();) {
    if (static_cast<int>(it->second.size()) < live || it->second.empty()) {
      ++it;
      continue;
    }
    std::string name = (it++)->first;
    ReleaseBarrier(name);  // after an abort: no flush, the counters of the live workers as they are
  }
}

void World::DeliverChosen() {
  auto it = inflight_.find(*pending_delivery_);
  std::uint64_t it_seq = pending_delivery_->second;
  pending_delivery_.reset();
  // Moved out unless a copy of this world shares it (then the copy keeps it as it was).
  core::Message message = it->second.use_count() == 1 ? std::move(it->second->message) : it->second->message;
  inflight_.erase(it);
  int to = message.to;
  Host& h = MutableHost(to);
  if (h.core.aborted()) {
    if (observer_) EmitMessage(checkers::RecordKind::kLost, to, message, it_seq);
    return;
  }
  PoolTask task;
  task.message = std::move(message);
  task.seq = it_seq;
  if (h.busy_slots < scenario_.pool_size) {
    RunPoolTask(to, std::move(task));
  } else {
    if (observer_) EmitMessage(checkers::RecordKind::kQueued, to, task.message, task.seq);
    h.backlog.push_back(std::move(task));
  }
}

void World::RunPoolTask(int worker, PoolTask task) {
  Host& h = MutableHost(worker);
  ++h.busy_slots;
  int saved_worker = std::exchange(pending_slot_worker_, worker);
  bool saved_taken = std::exchange(slot_taken_by_function_, false);
  core::Output out;
  if (task.timers) {
    h.timers_queued = false;
    if (observer_) EmitTimers(worker, "timeouts");
    h.core.AdvanceTo(now_, out, core::Worker::Timers::kTimeouts);
  } else {
    ++result_.messages_delivered;
    hash_.Mix(task.message);
    const core::Message& m = task.message;
    order_hash_.Mix((static_cast<std::uint64_t>(m.type) << 32) | (static_cast<std::uint64_t>(m.from & 0xffff) << 16) |
                    static_cast<std::uint64_t>(m.to & 0xffff));
    order_hash_.Mix(static_cast<std::uint64_t>(m.fork_id.local_id) ^
                    (static_cast<std::uint64_t>(m.fork_id.created_on) << 48));
    if (observer_) EmitMessage(checkers::RecordKind::kDeliver, worker, task.message, task.seq);
    h.core.Receive(task.message, now_, out);
  }
  Absorb(worker, out);
  if (!slot_taken_by_function_) --h.busy_slots;
  pending_slot_worker_ = saved_worker;
  slot_taken_by_function_ = saved_taken;
}

void World::DrainBacklog(int worker) {
  Host& h = MutableHost(worker);
  while (!h.core.aborted() && h.busy_slots < scenario_.pool_size && !h.backlog.empty()) {
    PoolTask task = std::move(h.backlog.front());
    h.backlog.pop_front();
    RunPoolTask(worker, std::move(task));
  }
}

void World::FunctionDone(int worker) {
  --MutableHost(worker).busy_slots;
  DrainBacklog(worker);
}

void World::SpawnFunction(int worker, core::RunFunction run) {
  if (pending_slot_worker_ == worker && !slot_taken_by_function_) {
    slot_taken_by_function_ = true;  // the function runs on the handler that released it (§9.4)
  } else {
    ++MutableHost(worker).busy_slots;
  }
  std::string name = run.function + " on " + std::to_string(worker) + " (work " + std::to_string(run.work) + ")";
  Spawn(worker, std::move(name), FunctionContinuation(scenario_, worker, std::move(run)));
}

bool World::AdvanceTime() {
  std::optional<TimeUs> next;
  auto consider = [&next](TimeUs t) {
    if (!next || t < *next) next = t;
  };
  if (!inflight_.empty()) consider(inflight_.begin()->first.first);
  using Timers = core::Worker::Timers;
  for (const Host& h : hosts_.all()) {
    if (h.core.aborted()) continue;
    // A queued timeout task waits for a handler; the retry thread and the shutdown wait do not.
    if (std::optional<TimeUs> d = h.core.NextDeadline(h.timers_queued ? Timers::kAgentThreads : Timers::kAll)) {
      consider(*d);
    }
  }
  for (const Sleeper& s : sleepers_) consider(s.due);
  for (const auto& [name, deadline] : flushing_) consider(deadline);
  if (!next) return false;
  if (observer_) running_fiber_ = "clock";
  if (*next > config_.max_time) {
    bound_hit_ = true;
    result_.detail = "the virtual time bound of " + std::to_string(config_.max_time / core::kSecond) +
                     " s was reached";
    return false;
  }
  now_ = std::max(now_, *next);
  std::sort(sleepers_.begin(), sleepers_.end(),
            [](const Sleeper& a, const Sleeper& b) { return a.due != b.due ? a.due < b.due : a.seq < b.seq; });
  while (!sleepers_.empty() && sleepers_.front().due <= now_) {
    Wake(sleepers_.front().fiber);
    sleepers_.erase(sleepers_.begin());
  }
  // Timers that fire here are a step of their own (architecture: a step is a fiber running, a delivery or a timer),
  // so what they do is numbered and checked apart from the step before.
  bool clock_step = false;
  auto begin_clock_step = [this, &clock_step] {
    if (std::exchange(clock_step, true)) return;
    EndStep();
    ++result_.steps;
  };
  for (int w = 0; w < workers(); ++w) {
    if (host(w).core.aborted()) continue;
    // Retries and the shutdown wait fire on their own threads in PyTorch: inline here, no handler needed.
    if (std::optional<TimeUs> d = host(w).core.NextDeadline(Timers::kAgentThreads); d && *d <= now_) {
      begin_clock_step();
      if (observer_) EmitTimers(w, "retry thread / shutdown wait");
      core::Output out;
      MutableHost(w).core.AdvanceTo(now_, out, Timers::kAgentThreads);
      Absorb(w, out);
    }
    // Timeouts complete on the agent's pool (markFutureWithError): they need a free handler. The host is read
    // again: a host is changed through MutableHost, which may replace it (copy on write).
    std::optional<TimeUs> d = host(w).core.NextDeadline(Timers::kTimeouts);
    if (host(w).timers_queued || !d || *d > now_) continue;
    PoolTask task;
    task.timers = true;
    if (host(w).busy_slots < scenario_.pool_size) {
      begin_clock_step();
      RunPoolTask(w, std::move(task));
    } else {
      Host& h = MutableHost(w);
      h.timers_queued = true;
      h.backlog.push_back(std::move(task));
    }
  }
  return true;
}

void World::WakeJoinIfReady() {
  if (join_waiters_.empty()) return;
  std::int64_t active = 0;
  for (const Host& h : hosts_.all()) {
    if (h.core.aborted()) continue;
    if (!h.at_join) return;
    active += h.core.ClientActiveCalls();
  }
  if (active != 0) return;
  EmitQuiescentIfIdle();
  std::vector<std::uint64_t> waiters = std::exchange(join_waiters_, {});
  for (std::uint64_t f : waiters) Wake(f);
}

bool World::Quiescent() const {
  for (const auto& [id, f] : fibers_.all()) {
    if (f.state != FiberState::kDone) return false;
  }
  for (const Host& h : hosts_.all()) {
    if (!h.backlog.empty() && !h.core.aborted()) return false;
  }
  return inflight_.empty();
}

// What is stuck, grouped by what it waits for ("program 0, program 1 wait for ..."), with the counts that keep a
// join waiting (a leaked active client call, §9.3) and the work that waits for a handler.
std::string World::DescribeBlocked() const {
  std::map<std::string, std::vector<std::string>> by_reason;  // ordered: deterministic text
  for (const auto& [id, f] : fibers_.all()) {
    if (f.state == FiberState::kBlocked) by_reason[f.waiting_for].push_back(f.name);
  }
  std::string text;
  auto add = [&text](const std::string& part) { text += (text.empty() ? "" : "; ") + part; };
  int live = 0;
  for (const Host& h : hosts_.all()) live += h.core.aborted() ? 0 : 1;
  for (const auto& [reason, names] : by_reason) {
    std::string who;
    for (const std::string& n : names) who += (who.empty() ? "" : ", ") + n;
    std::string arrived;
    if (auto b = barrier_waiters_.find(reason); b != barrier_waiters_.end()) {
      arrived = " (" + std::to_string(b->second.size()) + " of " + std::to_string(live) + " workers arrived)";
    }
    add(who + (names.size() == 1 ? " waits for " : " wait for ") + reason + arrived);
  }
  if (!join_waiters_.empty()) {
    std::string active;
    for (int w = 0; w < static_cast<int>(hosts_.size()); ++w) {
      std::int64_t calls = hosts_[static_cast<std::size_t>(w)].core.ClientActiveCalls();
      if (calls != 0) active += (active.empty() ? "" : ", ") + ("worker " + std::to_string(w) + ": " + std::to_string(calls));
    }
    if (!active.empty()) add("active client calls that never completed: " + active);
  }
  for (int w = 0; w < static_cast<int>(hosts_.size()); ++w) {
    const Host& h = hosts_[static_cast<std::size_t>(w)];
    if (h.backlog.empty()) continue;
    add("worker " + std::to_string(w) + " has " + std::to_string(h.backlog.size()) +
        " task(s) waiting for one of its " + std::to_string(scenario_.pool_size) + " busy handlers");
  }
  return text;
}

void World::Cancel() {
  cancelling_ = true;
  for (const auto& [id, f] : fibers_.all()) {
    if (f.state == FiberState::kBlocked) Wake(id);
  }
  for (;;) {
    bool running = false;
    for (const auto& [id, f] : fibers_.all()) running = running || f.state != FiberState::kDone;
    if (!running) break;
    boost::this_fiber::yield();
  }
}

RunResult World::Execute() {
  boost::fibers::use_scheduling_algorithm<SimAlgorithm>(this);
  try {
    return ExecuteSteps();
  } catch (...) {
    if (!failure_) failure_ = std::current_exception();
  }
  Finish();  // the fibers end and the scheduler no longer points at this World before the exception leaves
  std::rethrow_exception(failure_);
}

void World::Finish() {
  Cancel();
  boost::fibers::use_scheduling_algorithm<boost::fibers::algo::round_robin>();
}

void World::Begin() {
  if (observer_) observer_->OnStart(*this);
  for (int w = 0; w < workers(); ++w) {
    Spawn(w, "program " + std::to_string(w), ProgramContinuation(scenario_, w));
  }
}

bool World::MainTurn() {
  if (bound_hit_ || stopped_ || failure_) return false;  // the run ends here: the main loop does not act
  footprint_.main_turn = true;  // the main loop acts only when nothing is enabled: timers, flushed barriers, join
  if (ReleaseFlushedBarriers()) return true;
  std::size_t waiting = join_waiters_.size();
  WakeJoinIfReady();
  if (join_waiters_.size() != waiting) return true;
  return AdvanceTime();
}

RunResult World::ExecuteSteps() {
  Begin();
  for (;;) {
    boost::this_fiber::yield();  // the fibers and deliveries the chooser picks run until nothing is enabled
    if (pending_delivery_) {
      DeliverChosen();
      continue;
    }
    if (!MainTurn()) break;
  }
  return Conclude();
}

RunResult World::Conclude() {
  if (!scenario_.graceful_shutdown && !bound_hit_ && !failure_ && Quiescent()) EmitQuiescentIfIdle();
  EndStep();
  bool aborted = false;
  for (const Host& h : hosts_.all()) aborted = aborted || h.core.aborted();
  if (stopped_) {
    result_.outcome = Outcome::kStopped;
  } else if (bound_hit_) {
    result_.outcome = Outcome::kNoQuiescence;
  } else if (aborted) {
    result_.outcome = Outcome::kWorkerAbort;
  } else if (!Quiescent()) {
    result_.outcome = Outcome::kDeadlock;
    result_.detail = DescribeBlocked();
  }
  if (stepwise_) {
    MixWindDown();
  } else {
    Finish();
  }
  result_.end_time = now_;
  for (const Host& h : hosts_.all()) result_.final_views.push_back(h.core.View());
  result_.choices = chooser_.choices();
  for (const Choice& c : result_.choices) {
    hash_.Mix((static_cast<std::uint64_t>(c.kind) << 56) ^ (c.options << 28) ^ c.pick);
  }
  result_.hash = hash_.value();
  result_.delivery_order_hash = order_hash_.value();
  if (failure_) std::rethrow_exception(failure_);
  return result_;
}

}  // namespace detail
}  // namespace rrefsim::sim
