// Internal: the World of one run (hosts, fibers, network, clock) and its Boost.Fiber scheduling algorithm.
#pragma once

#include <boost/fiber/all.hpp>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "interpreter.h"
#include "rrefsim/core/worker.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/symmetry.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::sim::detail {

using boost::fibers::context;

// The run's determinism fingerprint, folded a 64-bit word at a time.
class Hasher {
 public:
  // A word at a time: multiply by the golden-ratio constant, fold the high bits down (a fingerprint, not a MAC).
  // Inline: every fingerprint the explorer takes folds its words through here.
  void Mix(std::uint64_t word) {
    h_ = (h_ ^ word) * 0x9e3779b97f4a7c15ULL;
    h_ ^= h_ >> 29;
  }
  void Mix(const std::string& text);
  void Mix(const core::Message& message);
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

// StepFootprint's bits: workers below 63 have their own; the barriers share the last one, and any higher worker
// makes a step global.
inline constexpr int kFirstGlobalWorker = 63;
inline constexpr std::uint64_t kBarriersBit = std::uint64_t{1} << kFirstGlobalWorker;

// kStep item keys: fibers are small ids, messages set this bit over their network sequence number.
inline constexpr std::uint64_t kMessageItem = std::uint64_t{1} << 63;

// An in-flight message's place in delivery order: its arrival time, then its send sequence.
using InFlightKey = std::pair<TimeUs, std::uint64_t>;

// A message in flight: it does not change until it is delivered, so the copies of a World share it (a copy of the
// world copies a pointer per message), with its fingerprint (core::MessageFingerprint without a renaming) kept.
struct InFlight {
  explicit InFlight(core::Message m) : message(std::move(m)) {}
  core::Message message;
  mutable std::optional<std::uint64_t> fingerprint;
};

// Work for a worker's handler pool: a delivery, or the agent's timers (timeouts complete on the pool).
struct PoolTask {
  bool timers = false;
  core::Message message;
  std::uint64_t seq = 0;  // the delivered copy's network sequence number
};

struct Host {
  explicit Host(core::WorkerConfig config) : core(std::move(config)) {}
  core::Worker core;
  int busy_slots = 0;
  std::deque<PoolTask> backlog;  // waiting for a free slot
  bool timers_queued = false;
  std::map<core::FutureId, core::Outcome> done;     // completed futures not yet taken
  std::map<core::FutureId, std::uint64_t> waiters;  // future -> fiber waiting for it
  bool owners_deleted = false;                      // shutdown step 2 finished
  std::optional<std::uint64_t> shutdown_waiter;
  bool at_join = false;
  bool finished = false;                            // its program (and shutdown) completed
  int barriers_passed = 0;                          // program barriers reached so far
  // The host's part of the world's plain fingerprint (fingerprint.cc), kept until the host changes.
  mutable std::optional<std::uint64_t> fingerprint;
};

// The workers' hosts, shared by the copies of a World until one of them changes a host (copy on write). A step
// changes one or two hosts, so the exhaustive explorer's copy of the world at a choice point copies pointers for the
// rest, and their fingerprints are not computed again.
class Hosts {
 public:
  void Add(core::WorkerConfig config) { hosts_.push_back(std::make_shared<Host>(std::move(config))); }
  std::size_t size() const { return hosts_.size(); }
  const Host& operator[](std::size_t w) const { return *hosts_[w]; }
  // Host w, to change: this world's own copy from now on, with its cached fingerprint forgotten.
  Host& Mutable(std::size_t w) {
    std::shared_ptr<Host>& host = hosts_[w];
    if (host.use_count() > 1) host = std::make_shared<Host>(*host);
    host->fingerprint.reset();
    return *host;
  }
  auto all() const {
    return std::views::transform(hosts_, [](const std::shared_ptr<Host>& h) -> const Host& { return *h; });
  }

 private:
  std::vector<std::shared_ptr<Host>> hosts_;
};

// A Chooser that passes each request on to another one; see World::chooser_.
class ForwardingChooser : public Chooser {
 public:
  explicit ForwardingChooser(Chooser& target) : target_(&target) {}
  void Retarget(Chooser& target) { target_ = &target; }

 protected:
  std::uint64_t Pick(const ChoiceRequest& request) override { return target_->Choose(request); }

 private:
  Chooser* target_;
};

enum class FiberState { kReady, kBlocked, kDone };

struct FiberRecord {
  int worker = -1;
  std::string name;  // "program 1", "f on 2 (work 3)"
  context* ctx = nullptr;
  FiberState state = FiberState::kReady;
  std::string waiting_for;
  // Where its program stands (op path, phase and frame), set by the interpreter before each scheduling point when
  // the run keeps fingerprints (RunConfig::fingerprints): the part of a fiber's stack that StateFingerprint hashes.
  std::uint64_t position = 0;
  Continuation continuation;  // its program or function body, driven by Step
  // Its part of the world's plain fingerprint, kept until the record changes (Fibers::Mutable forgets it), and the
  // hash of its name, which never changes (fingerprint.cc).
  mutable std::optional<std::uint64_t> fingerprint;
  mutable std::optional<std::uint64_t> name_hash;
};

// The run's fibers by id (ids count up from 1 and none is ever removed), each record shared by the copies of a World
// until one of them changes it (copy on write, as Hosts): a step changes the record of the one fiber it runs, so the
// explorer's copy of the world at a choice point copies a pointer per fiber. Reads go through the const accessors,
// every change through Mutable(id), which copies the record first if another world shares it and forgets its kept
// fingerprint. Records never move: a fiber's body may hold its continuation while others are added (in fiber mode,
// which never copies a World).
class Fibers {
 public:
  FiberRecord& Add(std::uint64_t id, FiberRecord record) {
    if (id != records_.size() + 1) throw std::logic_error("fibers: ids are handed out in order from 1");
    records_.push_back(std::make_shared<FiberRecord>(std::move(record)));
    return *records_.back();
  }
  const FiberRecord* find(std::uint64_t id) const { return Has(id) ? records_[id - 1].get() : nullptr; }
  const FiberRecord& at(std::uint64_t id) const {
    if (!Has(id)) throw std::out_of_range("fibers: no fiber " + std::to_string(id));
    return *records_[id - 1];
  }
  FiberRecord& Mutable(std::uint64_t id) {
    if (!Has(id)) throw std::out_of_range("fibers: no fiber " + std::to_string(id));
    std::shared_ptr<FiberRecord>& record = records_[id - 1];
    if (record.use_count() > 1) record = std::make_shared<FiberRecord>(*record);
    record->fingerprint.reset();
    return *record;
  }
  // Every fiber as (id, record), in id order.
  auto all() const {
    return std::views::iota(std::uint64_t{1}, records_.size() + 1) | std::views::transform([this](std::uint64_t id) {
             return std::pair<std::uint64_t, const FiberRecord&>(id, *records_[id - 1]);
           });
  }

 private:
  bool Has(std::uint64_t id) const { return id >= 1 && id <= records_.size(); }
  std::vector<std::shared_ptr<FiberRecord>> records_;
};

// The World is also the GlobalView its observer sees after each step: views are refreshed only for the workers whose
// core was called during the step.
class World final : public checkers::GlobalView {
 public:
  // `stepwise`: no fibers; the run is driven by RunUntilChoice, and the World is a value that may be copied between
  // two calls (Rebind gives the copy its own chooser and observer). Otherwise Execute runs it on fibers.
  World(const Scenario& scenario, const RunConfig& config, Chooser& chooser, checkers::RunObserver* observer,
        bool stepwise = false);
  World(const World& other) = default;  // stepwise worlds only: a fiber world's fibers cannot be copied
  RunResult Execute();  // runs ExecuteSteps; on any exception, winds the run down and rethrows it

  // --- stepwise ---
  // Runs to the next step choice with more than one option and stops before asking the chooser (true), or to the
  // end of the run (false; Conclude then gives its result). Exceptions of the chooser or observer propagate.
  bool RunUntilChoice();
  RunResult Conclude();  // the run's result, after it ended
  const std::vector<std::uint64_t>& pending_items() const { return step_items_; }  // where RunUntilChoice stopped
  void Rebind(Chooser& chooser, checkers::RunObserver* observer);  // a copy's own chooser and observer

  // --- used by the scheduling algorithm ---
  // The fiber mode's pick (SimAlgorithm): the next step among the ready fibers (`ready`, plus `yielder` when not
  // null) and the due messages.
  // Returns the chosen fiber context, or nullptr when a delivery was chosen (pending_delivery_ is set).
  // `none` is set when there was nothing to choose.
  context* ChooseStep(const std::vector<context*>& ready, context* yielder, std::size_t* ready_index, bool* none);
  context* yielding() const { return yielding_; }
  void CountSwitch() { ++result_.fiber_switches; }
  void OnAwakened(context* ctx);  // maps a newly spawned fiber's context to its id

  // --- used by fibers (interpreter.cc) ---
  const Host& host(int worker) const { return hosts_[static_cast<std::size_t>(worker)]; }
  Host& MutableHost(int worker) { return hosts_.Mutable(static_cast<std::size_t>(worker)); }
  const Scenario& scenario() const { return scenario_; }
  const RunConfig& config() const { return config_; }
  void Absorb(int worker, core::Output& out);  // applies a core output: network, wakeups, functions
  // A scheduling point; false when the run is being cancelled. `shown`: what the fiber shows meanwhile (Suspension).
  bool Yield(const std::string& shown = {});
  bool cancelling() const { return cancelling_; }
  // What a continuation waits for. Each registers `fiber` to be woken and returns what it waits for (Block's
  // `why`); ArriveAtBarrier and AwaitOwnersDeleted return nullopt / false when there is nothing to wait for.
  bool FutureCompleted(int worker, core::FutureId future) const;
  bool TakeFuture(int worker, core::FutureId future, core::Outcome* outcome);  // false: not completed
  std::string AwaitFuture(int worker, core::FutureId future, std::uint64_t fiber);
  std::string AwaitSleep(TimeUs duration, std::uint64_t fiber);
  std::optional<std::string> ArriveAtBarrier(const std::string& name, std::uint64_t fiber);
  // The program's k-th barrier: everyone arrives, pending futures and users flush, the counters are recorded.
  std::optional<std::string> ArriveAtProgramBarrier(int number, std::uint64_t fiber);
  static std::string ProgramBarrierName(int number) { return "barrier " + std::to_string(number); }
  bool AwaitOwnersDeleted(int worker, std::uint64_t fiber);
  std::string AwaitJoin(int worker, std::uint64_t fiber);
  bool observed() const { return observer_ != nullptr; }
  // Hands a record to the observer, stamped with the step, time and running fiber. Call only when observed().
  void Emit(checkers::StepRecord record);
  void EmitMessage(checkers::RecordKind kind, int worker, const core::Message& message, std::uint64_t seq = 0);
  void EmitTimers(int worker, std::string_view which);
  void Record(Observation observation);
  void MarkChanged(int worker) { changed_[static_cast<std::size_t>(worker)] = 1; }
  void CountCallIssued() { ++result_.calls_issued; }
  void CountCallEnded(bool raised) { ++(raised ? result_.calls_raised : result_.calls_returned); }
  bool keeps_fingerprints() const { return config_.fingerprints; }
  void SetPosition(std::uint64_t fiber, std::uint64_t position) { fibers_.Mutable(fiber).position = position; }
  // The canonical state between two steps (fingerprint.cc): what StateFingerprint returns; under `renaming`, that
  // of the world with its workers renamed (symmetry reduction).
  std::uint64_t Fingerprint(const core::WorkerRenaming* renaming = nullptr) const;
  std::uint64_t HostFingerprint(const Host& host, const core::WorkerRenaming* renaming) const;
  std::uint64_t OfferOrderFingerprint() const;  // what sim::OfferOrderFingerprint returns
  // The scenario's symmetry group (symmetry.cc), computed on first use and shared with the copies of this world.
  const WorkerGroup& Symmetry() const;
  // Worker w's core fingerprint with every worker named by its orbit (WorkerGroup::orbits): the same for w in a state
  // and for π(w) in the state renamed by π, so it orders the renamings to try first (symmetry.cc).
  std::uint64_t OrbitSignature(int w) const {
    return hosts_[static_cast<std::size_t>(w)].core.Fingerprint(&Symmetry().orbits);
  }
  // What the steps since the last kStep choice touched (StepsSinceChoice), and a kStep item's worker (StepWorker).
  StepFootprint footprint() const { return footprint_; }
  int WorkerOfItem(std::uint64_t item) const;
  // One worker's part of the world, for the explorer's persistent sets (WorkerFingerprint in world.h).
  std::uint64_t WorkerFingerprint(int worker) const;
  std::uint64_t BarrierFingerprint() const;  // BarrierFingerprint in world.h
  bool WaitsAtBarrier(int worker) const;
  // What-if operations on a copy the explorer analyses (SteppedRun's, world_stepped.cc).
  void StopAtEveryStep() { every_step_ = true; }
  std::uint64_t InjectMessage(const core::Message& message);
  bool WakeBarrierWaiters(int worker);
  void RefreshPendingItems();
  std::uint64_t IdentityOfItem(std::uint64_t item, const core::WorkerRenaming* renaming = nullptr) const;

  // --- checkers::GlobalView ---
  int workers() const override { return static_cast<int>(hosts_.size()); }
  const core::ContextView& worker(int w) const override;
  bool changed(int w) const override { return changed_[static_cast<std::size_t>(w)] != 0; }
  void ForEachInFlight(const std::function<void(const checkers::InFlightMessage&)>& visit) const override;
  std::uint64_t step() const override { return result_.steps; }
  TimeUs now() const override { return now_; }
  void FunctionDone(int worker);                // releases the function's pool slot
  std::uint64_t CurrentFiber() const;

 private:
  std::uint64_t Spawn(int worker, std::string name, Continuation continuation);
  void DriveOnFiber(Continuation& continuation);  // a fiber's body: Step, then yield or block, until done
  bool Block(const std::string& why);
  void Wake(std::uint64_t fiber);
  void RunPoolTask(int worker, PoolTask task);
  void DrainBacklog(int worker);
  void DeliverChosen();
  bool AdvanceTime();
  void WakeJoinIfReady();
  void SpawnFunction(int worker, core::RunFunction run);
  bool Quiescent() const;
  RunResult ExecuteSteps();
  void Begin();      // the observer's start and the programs' fibers
  bool MainTurn();   // what the main loop does when nothing is enabled; false: the run ends
  // The pick among step_items_ (its first `fibers` entries are the fibers on offer; the due messages are appended):
  // the index chosen, or nullopt when there is nothing to choose (or, stepwise, when it stops before a choice).
  std::optional<std::size_t> ChooseItem(std::size_t fibers);
  void RunFiber(std::uint64_t id);  // stepwise: the fiber's continuation to its next suspension point
  void MixWindDown();               // stepwise: what the fiber mode's Finish mixes into the hash
  void Cancel();
  void ReleaseCompleteBarriers();  // after a worker aborted, fewer workers are live
  void ReleaseBarrier(const std::string& name);
  bool Flushed() const;            // no live worker has pending futures or pending users
  bool ReleaseFlushedBarriers();
  void OnWorkerAborted(int worker);
  int LiveWorkers() const;
  void Finish();  // winds the run down and restores a neutral scheduling algorithm
  std::string DescribeBlocked() const;
  // The end of a step: refreshes the changed views and lets the observer check them; it may stop the run.
  void EndStep();
  void EmitQuiescentIfIdle();

  const Scenario& scenario_;
  const RunConfig& config_;
  // Every choice of the run goes through it: it forwards to the bound chooser and keeps the run's whole list, which
  // a copied world (SteppedRun) carries on, so its RunResult::choices and hash cover the run from its start.
  ForwardingChooser chooser_;
  checkers::RunObserver* observer_;
  bool stepwise_ = false;
  bool every_step_ = false;  // StopAtEveryStep: as RunConfig::every_step_is_a_choice, for one copy
  // Stepwise scheduling, as Boost.Fiber orders it under SimAlgorithm: the ready fibers in the order they became
  // ready, and the fiber that yielded (offered last; re-queued at the back when another step is chosen).
  std::vector<std::uint64_t> ready_;
  std::optional<std::uint64_t> yielder_;
  bool started_ = false;
  bool paused_ = false;         // ChooseItem stopped before asking the chooser
  bool resume_choice_ = false;  // the next ChooseItem asks the chooser instead of stopping
  // Each worker's view, rebuilt on first use after its core changed (kept only when observed): most steps change
  // one worker, and most checkers look at a worker only when a record says something relevant happened there.
  // Shared by the copies of a World until one rebuilds it (then it builds a new one), so a copy copies pointers.
  mutable std::vector<std::shared_ptr<core::ContextView>> views_;
  mutable std::vector<char> stale_;
  std::vector<char> changed_;             // per worker: its core was called during this step
  bool step_has_records_ = false;
  std::string running_fiber_ = "clock";   // its name, or "network" / "clock"
  Network network_;
  Hosts hosts_;
  TimeUs now_ = 0;
  std::map<InFlightKey, std::shared_ptr<InFlight>> inflight_;  // by arrival: the due ones are a prefix
  std::uint64_t next_inflight_seq_ = 0;
  std::optional<InFlightKey> pending_delivery_;  // the chosen message
  Fibers fibers_;
  std::map<context*, std::uint64_t> fiber_of_;     // lookup only; never iterated
  std::uint64_t next_fiber_ = 1;
  std::optional<std::uint64_t> spawning_;          // the id of the fiber being constructed
  struct Sleeper {
    TimeUs due;
    std::uint64_t seq;
    std::uint64_t fiber;
  };
  std::vector<Sleeper> sleepers_;
  std::uint64_t next_sleep_seq_ = 0;
  std::map<std::string, std::vector<std::uint64_t>> barrier_waiters_;
  std::map<std::string, TimeUs> flushing_;  // complete flushing barriers -> when their wait gives up
  std::map<std::string, int> program_barriers_;  // name -> program barrier number, while it is open
  static constexpr TimeUs kFlushTimeout = 20 * core::kSecond;
  std::vector<std::uint64_t> join_waiters_;
  context* yielding_ = nullptr;
  std::vector<std::uint64_t> step_items_;                  // ChooseStep's buffers
  bool cancelling_ = false;
  bool bound_hit_ = false;
  bool stopped_ = false;  // the observer stopped the run
  // An exception that must end the run (a replay diverged, a bug surfaced on a fiber): the run stops choosing, its
  // fibers wind down, and Run rethrows it. Exceptions may not escape pick_next (noexcept) or a fiber (terminate).
  std::exception_ptr failure_;
  int pending_slot_worker_ = -1;  // the worker whose pool task is being processed (its slot may pass to a function)
  bool slot_taken_by_function_ = false;
  // Since the last kStep choice; reset when the chooser picks. Mutable: the checkers' reads through the const
  // GlobalView are recorded in it.
  mutable StepFootprint footprint_;
  void Touch(int worker);    // a step acts on this worker
  void TouchAll() { footprint_.global = true; }  // a step reaches beyond its worker (barrier, abort, timers)
  Hasher hash_;
  Hasher order_hash_;
  RunResult result_;
  mutable std::shared_ptr<const WorkerGroup> symmetry_;  // Symmetry()
};

// The Boost.Fiber algorithm: every pick among ready fibers and due messages goes through World::ChooseStep.
class SimAlgorithm : public boost::fibers::algo::algorithm {
 public:
  explicit SimAlgorithm(World* world) : world_(world) {}
  void awakened(context* ctx) noexcept override;
  context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override;
  void suspend_until(std::chrono::steady_clock::time_point const&) noexcept override {}
  void notify() noexcept override {}

 private:
  context* Take(context*& slot);
  World* world_;
  std::vector<context*> ready_;
  context* main_ = nullptr;
  context* dispatcher_ = nullptr;
  context* forced_ = nullptr;  // chosen while it could not be returned: runs at the next pick
  bool force_main_ = false;
};

// The World behind a view, or nullptr when the view is something else (a test's fake). A type check rather than a
// dynamic_cast: the explorer asks this millions of times per search (StepWorker, StepIdentity, the fingerprints), and
// World is final, so the exact type is the only one that can match.
inline const World* AsWorld(const checkers::GlobalView& view) {
  return typeid(view) == typeid(World) ? static_cast<const World*>(&view) : nullptr;
}

}  // namespace rrefsim::sim::detail
