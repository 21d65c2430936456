// Applying a core's output to the simulated world: each message meets the network (fate decided through the
// chooser), sends refused at the sender go straight back to the core (inline, as FaultyTensorPipeAgent fails them),
// completed futures wake their waiters, and released user functions start on a handler fiber.
#include <utility>
#include <variant>

#include "counters.h"
#include "world_impl.h"

namespace rrefsim::sim::detail {

void Hasher::Mix(const std::string& text) {
  for (unsigned char c : text) Mix(c);
  Mix(text.size());
}

void Hasher::Mix(const core::Message& m) {
  Mix(static_cast<std::uint64_t>(m.type));
  Mix(static_cast<std::uint64_t>(m.id));
  Mix((static_cast<std::uint64_t>(static_cast<std::uint16_t>(m.from)) << 16) |
      static_cast<std::uint16_t>(m.to));
  Mix(static_cast<std::uint64_t>(m.rref_id.local_id) ^ (static_cast<std::uint64_t>(m.rref_id.created_on) << 48));
  Mix(static_cast<std::uint64_t>(m.fork_id.local_id) ^ (static_cast<std::uint64_t>(m.fork_id.created_on) << 48));
  Mix(static_cast<std::uint64_t>(m.value.payload));
  for (const core::ForkData& f : m.value.rrefs) {
    Mix(static_cast<std::uint64_t>(f.fork_id.local_id) ^ (static_cast<std::uint64_t>(f.fork_id.created_on) << 48));
    Mix(static_cast<std::uint64_t>(f.rref_id.local_id) ^ (static_cast<std::uint64_t>(f.rref_id.created_on) << 48));
    Mix((static_cast<std::uint64_t>(static_cast<std::uint16_t>(f.owner)) << 16) |
        static_cast<std::uint16_t>(f.parent));
    Mix(f.type_str);
  }
  Mix(m.empty_payload ? 1 : 0);
  Mix(m.function);
  Mix(m.type_str);
  if (m.value.raised) Mix(*m.value.raised);
  Mix(m.error);
}

namespace {

checkers::StepRecord OutgoingRecord(checkers::RecordKind kind, int worker, const core::OutgoingMessage& o) {
  checkers::StepRecord record;
  record.kind = kind;
  record.worker = worker;
  record.message = &o.message;
  record.retried = o.retried;
  record.retry_chain = o.retry_chain;
  return record;
}

// A fingerprint of each event's full content (no text is built for it unless someone traces).
void HashEvent(Hasher& hash, const core::Event& event) {
  hash.Mix(event.index());
  if (const auto* d = std::get_if<core::UserRRefDestroyed>(&event)) {
    hash.Mix(static_cast<std::uint64_t>(d->fork_id.local_id));
  } else if (const auto* f = std::get_if<core::OwnerRRefFreed>(&event)) {
    hash.Mix(static_cast<std::uint64_t>(f->rref_id.local_id));
  } else if (const auto* e = std::get_if<core::ProtocolError>(&event)) {
    hash.Mix(e->code);
    hash.Mix(e->text);
    hash.Mix(static_cast<std::uint64_t>(e->site));
  } else if (const auto* done = std::get_if<core::FutureDone>(&event)) {
    hash.Mix(static_cast<std::uint64_t>(done->future));
    hash.Mix(static_cast<std::uint64_t>(done->outcome.value.payload));
    hash.Mix(done->outcome.value.rrefs.size());
    if (done->outcome.error) hash.Mix(*done->outcome.error);
  } else if (const auto* log = std::get_if<core::Log>(&event)) {
    hash.Mix(static_cast<std::uint64_t>(log->level));
    hash.Mix(log->text);
  } else if (const auto* run = std::get_if<core::RunFunction>(&event)) {
    hash.Mix(static_cast<std::uint64_t>(run->work));
    hash.Mix(run->function);
    hash.Mix(static_cast<std::uint64_t>(run->args.payload));
    hash.Mix(run->args.rrefs.size());
  } else if (const auto* aborted = std::get_if<core::WorkerAborted>(&event)) {
    hash.Mix(aborted->text);
  } else if (const auto* progress = std::get_if<core::ShutdownProgress>(&event)) {
    hash.Mix((static_cast<std::uint64_t>(progress->step) << 1) | (progress->timed_out ? 1 : 0));
  }
}

}  // namespace

void World::Absorb(int worker, core::Output& out) {
  core::Output taken = std::move(out);
  out.clear();
  Host& h = MutableHost(worker);
  MarkChanged(worker);
  std::vector<std::pair<std::int64_t, std::string>> refused;
  for (core::OutgoingMessage& o : taken.messages) {
    ++result_.messages_sent;
    hash_.Mix(o.message);
    Fate fate;
    try {
      fate = network_.Decide(o.message, now_, o.retry_chain);
    } catch (...) {
      // Possibly on a fiber, where an escaping exception terminates: stop the run and rethrow from Execute.
      if (!failure_) failure_ = std::current_exception();
      continue;
    }
    if (fate.send_error) {
      if (observer_) {
        checkers::StepRecord record = OutgoingRecord(checkers::RecordKind::kSendFailed, worker, o);
        record.text = *fate.send_error;
        Emit(record);
      }
      refused.emplace_back(o.message.id, *fate.send_error);
      continue;
    }
    if (fate.delays.empty()) {
      if (observer_) Emit(OutgoingRecord(checkers::RecordKind::kDrop, worker, o));
      continue;
    }
    for (std::size_t i = 0; i < fate.delays.size(); ++i) {
      TimeUs delay = fate.delays[i];
      InFlightKey key{now_ + delay, next_inflight_seq_++};
      if (observer_) {
        checkers::StepRecord record = OutgoingRecord(checkers::RecordKind::kSend, worker, o);
        record.message_seq = key.second;
        record.delay = delay;
        Emit(record);
      }
      if (i + 1 == fate.delays.size()) {
        inflight_.emplace(key, std::make_shared<InFlight>(std::move(o.message)));  // the last copy takes it
      } else {
        inflight_.emplace(key, std::make_shared<InFlight>(o.message));
      }
    }
  }
  std::vector<core::RunFunction> runs;
  for (core::Event& event : taken.events) {
    HashEvent(hash_, event);
    if (observer_) {
      checkers::StepRecord record;
      record.kind = checkers::RecordKind::kEvent;
      record.worker = worker;
      record.event = &event;
      Emit(record);
    }
    if (auto* done = std::get_if<core::FutureDone>(&event)) {
      h.done[done->future] = std::move(done->outcome);
      auto waiter = h.waiters.find(done->future);
      if (waiter != h.waiters.end()) {
        Wake(waiter->second);
        h.waiters.erase(waiter);
      }
    } else if (auto* run = std::get_if<core::RunFunction>(&event)) {
      runs.push_back(std::move(*run));
    } else if (auto* aborted = std::get_if<core::WorkerAborted>(&event)) {
      result_.detail = "worker " + std::to_string(worker) + " aborted: " + aborted->text;
      OnWorkerAborted(worker);
    } else if (auto* progress = std::get_if<core::ShutdownProgress>(&event)) {
      if (progress->step == core::ShutdownStep::kOwnersDeleted) {
        h.owners_deleted = true;
        if (h.shutdown_waiter) Wake(*std::exchange(h.shutdown_waiter, std::nullopt));
      }
    }
  }
  for (const auto& [id, error] : refused) {  // inline in the sending context, before anything else
    core::Output more;
    h.core.SendFailed(id, error, now_, more);
    Absorb(worker, more);
  }
  for (core::RunFunction& run : runs) SpawnFunction(worker, std::move(run));
}

bool World::FutureCompleted(int worker, core::FutureId future) const {
  return hosts_[static_cast<std::size_t>(worker)].done.contains(future);
}

bool World::TakeFuture(int worker, core::FutureId future, core::Outcome* outcome) {
  Host& h = MutableHost(worker);
  auto done = h.done.find(future);
  if (done == h.done.end()) return false;
  *outcome = std::move(done->second);
  h.done.erase(done);
  return true;
}

std::string World::AwaitFuture(int worker, core::FutureId future, std::uint64_t fiber) {
  MutableHost(worker).waiters[future] = fiber;
  return "future " + std::to_string(future) + " on worker " + std::to_string(worker);
}

std::string World::AwaitSleep(TimeUs duration, std::uint64_t fiber) {
  sleepers_.push_back(Sleeper{now_ + duration, next_sleep_seq_++, fiber});
  return "sleep until " + std::to_string(now_ + duration) + "us";
}

// Barriers meet by name: every live worker's k-th program barrier ("barrier k"), or rpc.shutdown's
// _wait_all_workers ("shutdown"); a worker at one barrier never releases another. A flushing barrier (a program's)
// also waits, once everyone arrived, until no worker has pending futures or pending users, as PyTorch's tests do with
// wait_until_pending_futures_and_users_flushed (20 s, then it gives up).
std::optional<std::string> World::ArriveAtProgramBarrier(int number, std::uint64_t fiber) {
  std::string name = ProgramBarrierName(number);
  program_barriers_[name] = number;
  return ArriveAtBarrier(name, fiber);
}

std::optional<std::string> World::ArriveAtBarrier(const std::string& name, std::uint64_t fiber) {
  // Arrivals share the barrier's list. The last releases the others and pauses as they wake (interpreter.cc), so
  // two arrivals reach one world in either order, except where the last one reads every worker (a program barrier's
  // flush and counters): the bit keeps them dependent for the explorer's footprints, which cannot tell the cases.
  footprint_.workers |= kBarriersBit;
  bool flush = program_barriers_.contains(name);
  int live = LiveWorkers();
  std::vector<std::uint64_t>& waiting = barrier_waiters_[name];
  if (static_cast<int>(waiting.size()) + 1 >= live) {
    footprint_.reads = ~std::uint64_t{0};  // the flush and the recorded counters read every worker
    if (flush && !Flushed()) {
      waiting.push_back(fiber);
      flushing_[name] = now_ + kFlushTimeout;
      return name;
    }
    ReleaseBarrier(name);
    return std::nullopt;
  }
  waiting.push_back(fiber);
  return name;
}

// Records a program barrier's counters at the moment it opens, before anyone goes on.
void World::ReleaseBarrier(const std::string& name) {
  if (auto program = program_barriers_.find(name); program != program_barriers_.end()) {
    RecordCounters(*this, program->second);
    program_barriers_.erase(program);
  }
  std::vector<std::uint64_t> waiters = std::move(barrier_waiters_[name]);
  barrier_waiters_.erase(name);
  flushing_.erase(name);
  for (std::uint64_t f : waiters) Wake(f);
}

bool World::Flushed() const {
  for (const Host& h : hosts_.all()) {
    if (h.core.aborted()) continue;
    core::DebugInfo debug = h.core.GetDebugInfo();
    if (debug.num_pending_futures != 0 || debug.num_pending_users != 0) return false;
  }
  return true;
}

// Flushing barriers whose counters reached zero, or whose wait timed out (recorded as an observation of each
// waiting worker, with the counts, as the test helper's error says), go on. Returns whether one was released.
bool World::ReleaseFlushedBarriers() {
  if (flushing_.empty()) return false;
  bool flushed = Flushed();
  std::vector<std::string> done;
  for (const auto& [name, deadline] : flushing_) {
    if (flushed || now_ >= deadline) done.push_back(name);
  }
  for (const std::string& name : done) {
    if (!flushed) {
      std::int64_t futures = 0, users = 0;
      for (const Host& h : hosts_.all()) {
        core::DebugInfo debug = h.core.GetDebugInfo();
        futures += debug.num_pending_futures;
        users += debug.num_pending_users;
      }
      for (std::uint64_t f : barrier_waiters_[name]) {
        Record({fibers_.at(f).worker, name, "error Timed out waiting to flush pending futures and users, had " +
                std::to_string(futures) + " pending futures and " + std::to_string(users) + " pending users", true});
      }
    }
    ReleaseBarrier(name);
  }
  return !done.empty();
}

bool World::AwaitOwnersDeleted(int worker, std::uint64_t fiber) {
  Host& h = MutableHost(worker);
  if (h.owners_deleted) return false;
  h.shutdown_waiter = fiber;
  return true;
}

std::string World::AwaitJoin(int worker, std::uint64_t fiber) {
  MutableHost(worker).at_join = true;
  join_waiters_.push_back(fiber);
  return "join: zero active client calls on every worker";
}

}  // namespace rrefsim::sim::detail
