// The canonical fingerprint of a World between two steps, for the exhaustive explorer's state hashing
// (docs/explore.md). Two worlds with the same fingerprint continue the same way under the same choices, up to the
// renaming of what only orders the chooser's options: the network's send sequence numbers and the fibers' ids.
// Those are left out on purpose: a message's sequence number only places it among the due messages (option order)
// and keys nothing the core sees; a fiber id only places it among the ready fibers. Everything that decides what a
// step does is in: each core's whole state, host state, message contents, fiber positions and frames, sleeps, barriers, time.
//
// Under a core::WorkerRenaming (symmetry reduction, symmetry.cc) it is the fingerprint of the world with its workers
// renamed: host p is the renamed host of the worker that p names, and every worker id, fiber name, message endpoint
// and what a fiber waits for is renamed. Without one it is the plain fingerprint, word for word.
#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <stdexcept>
#include <vector>

#include "rrefsim/core/fingerprint.h"
#include "world_impl.h"

namespace rrefsim::sim {

std::optional<std::uint64_t> StateFingerprint(const checkers::GlobalView& view) {
  const auto* world = detail::AsWorld(view);
  if (world == nullptr) return std::nullopt;
  return world->Fingerprint();
}

std::optional<std::uint64_t> OfferOrderFingerprint(const checkers::GlobalView& view) {
  const auto* world = detail::AsWorld(view);
  if (world == nullptr) return std::nullopt;
  return world->OfferOrderFingerprint();
}

std::optional<StepFootprint> StepsSinceChoice(const checkers::GlobalView& view) {
  const auto* world = detail::AsWorld(view);
  if (world == nullptr) return std::nullopt;
  return world->footprint();
}

int StepWorker(const checkers::GlobalView& view, std::uint64_t item) {
  const auto* world = detail::AsWorld(view);
  return world == nullptr ? -1 : world->WorkerOfItem(item);
}

std::optional<std::uint64_t> WorkerFingerprint(const checkers::GlobalView& view, int worker) {
  const auto* world = detail::AsWorld(view);
  if (world == nullptr || worker < 0 || worker >= world->workers()) return std::nullopt;
  return world->WorkerFingerprint(worker);
}

std::optional<std::uint64_t> BarrierFingerprint(const checkers::GlobalView& view) {
  const auto* world = detail::AsWorld(view);
  if (world == nullptr) return std::nullopt;
  return world->BarrierFingerprint();
}

std::uint64_t StepIdentity(const checkers::GlobalView& view, std::uint64_t item) {
  const auto* world = detail::AsWorld(view);
  return world == nullptr ? 0 : world->IdentityOfItem(item);
}

namespace detail {
namespace {

// A text, eight bytes to a word: the fingerprint is computed at every new state, and its texts (fiber names, what
// they wait for, barrier names) were most of its time one byte at a time. It lives in one process only, so the
// platform's byte order does not matter.
void MixText(Hasher& h, std::string_view text) {
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, text.data() + i, 8);
    h.Mix(word);
  }
  std::uint64_t tail = 0;
  // Not for an empty tail: a default string_view's data() is null, and memcpy from null is undefined even for 0
  // bytes (glibc declares it nonnull; UBSan's nonnull-attribute check stops the asan build there).
  if (i < text.size()) std::memcpy(&tail, text.data() + i, text.size() - i);
  h.Mix(tail);
  h.Mix(text.size());
}

// Fibers are named by what they are ("program 1", "f on 2 (work 3)"), never by their ids.
std::uint64_t NameHash(const std::string& name) {
  Hasher h;
  MixText(h, name);
  return h.value();
}

// The fiber's name (world.cc's forms) with its worker renamed.
std::string RenamedFiberName(const FiberRecord& f, const core::WorkerRenaming& r) {
  const std::string from = std::to_string(f.worker);
  const std::string to = std::to_string(r(static_cast<core::WorkerId>(f.worker)));
  if (f.name == "program " + from) return "program " + to;
  const std::string middle = " on " + from + " (work ";
  const std::size_t at = f.name.rfind(middle);
  if (at == std::string::npos) throw std::logic_error("symmetry: the fiber name '" + f.name + "' cannot be renamed");
  return f.name.substr(0, at) + " on " + to + " (work " + f.name.substr(at + middle.size());
}

std::uint64_t FiberNameHash(const FiberRecord& f, const core::WorkerRenaming* r) {
  if (r != nullptr) return NameHash(RenamedFiberName(f, *r));
  if (!f.name_hash) f.name_hash = NameHash(f.name);  // kept: a fiber's name never changes
  return *f.name_hash;
}

// What a fiber waits for (host.cc's and interpreter.cc's texts): only "future F on worker W" names a worker, its
// own. A text of another form is mixed with the renaming's tag, so it is never merged with a renamed state.
void MixWaitingFor(Hasher& h, const FiberRecord& f, const core::WorkerRenaming* r) {
  const std::string& why = f.waiting_for;
  if (r == nullptr) return MixText(h, why);
  const std::string suffix = " on worker " + std::to_string(f.worker);
  if (why.starts_with("future ") && why.ends_with(suffix)) {
    return MixText(h, why.substr(0, why.size() - suffix.size()) + " on worker " +
                 std::to_string((*r)(static_cast<core::WorkerId>(f.worker))));
  }
  MixText(h, why);
  for (const char* free : {"sleep until ", "barrier ", "the shutdown barrier", "graceful shutdown: ", "join: "}) {
    if (why.empty() || why.starts_with(free)) return;
  }
  h.Mix(r->tag);
}

// A fiber's part of the world's fingerprint: its (renamed) worker and name, its state, what it waits for and where
// its program stands.
std::uint64_t FiberWord(const FiberRecord& f, const core::WorkerRenaming* r) {
  Hasher m;
  m.Mix(static_cast<std::uint64_t>(r ? (*r)(static_cast<core::WorkerId>(f.worker)) : f.worker));
  if (r != nullptr) {
    MixText(m, RenamedFiberName(f, *r));
  } else {
    MixText(m, f.name);
  }
  m.Mix(static_cast<std::uint64_t>(f.state));
  MixWaitingFor(m, f, r);
  m.Mix(f.position);
  return m.value();
}

std::uint64_t InFlightWord(TimeUs delay, const InFlight& in, const core::WorkerRenaming* r) {
  Hasher m;
  m.Mix(static_cast<std::uint64_t>(delay));
  // With the hardened mode's seq and replies_below; without a renaming, kept (a message in flight never changes).
  if (r != nullptr) {
    m.Mix(core::MessageFingerprint(in.message, r));
  } else {
    if (!in.fingerprint) in.fingerprint = core::MessageFingerprint(in.message);
    m.Mix(*in.fingerprint);
  }
  return m.value();
}

// A multiset of words, folded in sorted order so that the order they were produced in does not matter.
void MixSorted(Hasher& h, std::vector<std::uint64_t>& words) {
  std::sort(words.begin(), words.end());
  for (std::uint64_t w : words) h.Mix(w);
  h.Mix(words.size());
}

}  // namespace

std::uint64_t World::IdentityOfItem(std::uint64_t item, const core::WorkerRenaming* renaming) const {
  if ((item & kMessageItem) == 0) {
    const FiberRecord* found = fibers_.find(item);
    return found == nullptr ? 0 : FiberNameHash(*found, renaming);
  }
  for (const auto& [key, in] : inflight_) {
    if (key.second != (item & ~kMessageItem)) continue;
    return InFlightWord(key.first - now_, *in, renaming) | kMessageItem;
  }
  return 0;
}

// One host's part of the fingerprint: its whole core (private state included, core/src/fingerprint.cc), handler pool,
// completed and awaited futures and shutdown progress. Its fibers are named, never numbered.
std::uint64_t World::HostFingerprint(const Host& host, const core::WorkerRenaming* r) const {
  const auto fiber_name = [this, r](std::uint64_t id) { return FiberNameHash(fibers_.at(id), r); };
  Hasher h;
  h.Mix(host.core.Fingerprint(r));  // the whole core, private state included (core/src/fingerprint.cc)
  h.Mix(static_cast<std::uint64_t>(host.busy_slots));
  for (const PoolTask& task : host.backlog) {  // in order: the backlog is a FIFO
    h.Mix(task.timers ? 1 : 0);
    if (!task.timers) h.Mix(core::MessageFingerprint(task.message, r));
  }
  h.Mix(host.backlog.size());
  for (const auto& [future, outcome] : host.done) {
    h.Mix(static_cast<std::uint64_t>(future));
    MixText(h, outcome.error ? *outcome.error : std::string("ok"));
    if (r != nullptr && outcome.error) h.Mix(r->tag);  // an error text may name a worker
    h.Mix(static_cast<std::uint64_t>(outcome.value.payload));
    for (core::Handle handle : outcome.value.rrefs) h.Mix(handle.id);
  }
  for (const auto& [future, fiber] : host.waiters) {
    h.Mix(static_cast<std::uint64_t>(future));
    h.Mix(fiber_name(fiber));
  }
  h.Mix(host.shutdown_waiter ? fiber_name(*host.shutdown_waiter) : 0);
  h.Mix((host.timers_queued ? 1 : 0) | (host.owners_deleted ? 2 : 0) | (host.at_join ? 4 : 0) |
        (host.finished ? 8 : 0));
  h.Mix(static_cast<std::uint64_t>(host.barriers_passed));
  return h.value();
}

std::uint64_t World::Fingerprint(const core::WorkerRenaming* renaming) const {
  const core::WorkerRenaming* r = renaming;
  Hasher h;
  h.Mix(static_cast<std::uint64_t>(now_));
  h.Mix(network_.Fingerprint(r));
  const auto fiber_name = [this, r](std::uint64_t id) { return FiberNameHash(fibers_.at(id), r); };
  std::vector<int> renamed_from;  // under a renaming, host p is the renamed host of worker renamed_from[p]
  if (r != nullptr) {
    renamed_from.resize(static_cast<std::size_t>(workers()));
    for (int w = 0; w < workers(); ++w) {
      renamed_from[static_cast<std::size_t>((*r)(static_cast<core::WorkerId>(w)))] = w;
    }
  }
  for (int p = 0; p < workers(); ++p) {
    const Host& host = hosts_[static_cast<std::size_t>(r != nullptr ? renamed_from[static_cast<std::size_t>(p)] : p)];
    if (r != nullptr) {
      h.Mix(HostFingerprint(host, r));
    } else {  // a host's plain fingerprint is kept until it changes (Hosts::Mutable)
      if (!host.fingerprint) host.fingerprint = HostFingerprint(host, nullptr);
      h.Mix(*host.fingerprint);
    }
  }
  std::vector<std::uint64_t> words;
  words.reserve(std::max(inflight_.size(), fibers_.all().size()));  // one allocation for all the lists below
  for (const auto& [key, in] : inflight_) words.push_back(InFlightWord(key.first - now_, *in, r));
  MixSorted(h, words);
  words.clear();
  for (const auto& [id, f] : fibers_.all()) {
    if (r != nullptr) {
      words.push_back(FiberWord(f, r));
    } else {  // a fiber's plain word is kept until its record changes (Fibers::Mutable)
      if (!f.fingerprint) f.fingerprint = FiberWord(f, nullptr);
      words.push_back(*f.fingerprint);
    }
  }
  MixSorted(h, words);
  words.clear();
  for (const Sleeper& s : sleepers_) {
    words.push_back(fiber_name(s.fiber) ^ static_cast<std::uint64_t>(s.due - now_));
  }
  MixSorted(h, words);
  for (const auto& [name, waiting] : barrier_waiters_) {
    MixText(h, name);
    words.clear();
    for (std::uint64_t f : waiting) words.push_back(fiber_name(f));
    MixSorted(h, words);
  }
  for (const auto& [name, deadline] : flushing_) {
    MixText(h, name);
    h.Mix(static_cast<std::uint64_t>(deadline - now_));
  }
  for (const auto& [name, number] : program_barriers_) {
    MixText(h, name);
    h.Mix(static_cast<std::uint64_t>(number));
  }
  words.clear();
  for (std::uint64_t f : join_waiters_) words.push_back(fiber_name(f));
  MixSorted(h, words);
  return h.value();
}

// Worker w's host, its fibers and the messages in flight to it: what its own steps read, for the explorer's cache
// of persistent-set verdicts (explore/src/persistent.h), which assumes that verdict depends on nothing else.
std::uint64_t World::WorkerFingerprint(int worker) const {
  Hasher h;
  h.Mix(static_cast<std::uint64_t>(worker));
  const Host& host = hosts_[static_cast<std::size_t>(worker)];
  if (!host.fingerprint) host.fingerprint = HostFingerprint(host, nullptr);
  h.Mix(*host.fingerprint);
  std::vector<std::uint64_t> words;
  words.reserve(std::max(inflight_.size(), fibers_.all().size()));  // one allocation for both lists below
  for (const auto& [key, in] : inflight_) {
    if (in->message.to == worker) words.push_back(InFlightWord(key.first - now_, *in, nullptr));
  }
  MixSorted(h, words);
  words.clear();
  for (const auto& [id, f] : fibers_.all()) {
    if (f.worker != worker) continue;
    if (!f.fingerprint) f.fingerprint = FiberWord(f, nullptr);
    words.push_back(*f.fingerprint);
  }
  MixSorted(h, words);
  return h.value();
}

// Barriers meet by name and release on the last live worker's arrival (host.cc, ArriveAtBarrier).
std::uint64_t World::BarrierFingerprint() const {
  Hasher h;
  h.Mix(static_cast<std::uint64_t>(LiveWorkers()));
  for (const auto& [name, waiting] : barrier_waiters_) {
    MixText(h, name);
    h.Mix(waiting.size());
  }
  h.Mix(barrier_waiters_.size());
  return h.value();
}

// Each list in its own order, with its length: the lists are told apart even when one is empty.
std::uint64_t World::OfferOrderFingerprint() const {
  const auto fiber_name = [this](std::uint64_t id) { return FiberNameHash(fibers_.at(id), nullptr); };
  const auto mix_fibers = [&fiber_name](Hasher& h, const std::vector<std::uint64_t>& ids) {
    for (std::uint64_t id : ids) h.Mix(fiber_name(id));
    h.Mix(ids.size());
  };
  Hasher h;
  mix_fibers(h, ready_);
  h.Mix(yielder_ ? fiber_name(*yielder_) : 0);
  for (const auto& [key, in] : inflight_) h.Mix(InFlightWord(key.first - now_, *in, nullptr));
  h.Mix(inflight_.size());
  std::vector<Sleeper> sleepers = sleepers_;
  std::sort(sleepers.begin(), sleepers.end(),
            [](const Sleeper& a, const Sleeper& b) { return a.due != b.due ? a.due < b.due : a.seq < b.seq; });
  for (const Sleeper& s : sleepers) h.Mix(fiber_name(s.fiber));
  h.Mix(sleepers.size());
  for (const auto& [name, waiting] : barrier_waiters_) {
    MixText(h, name);
    mix_fibers(h, waiting);
  }
  mix_fibers(h, join_waiters_);
  // A worker's abort wakes its blocked fibers in id order, the order they were spawned in: for each worker, the
  // order of its fibers that have not ended (any of them may block before an abort; which workers' fibers were
  // spawned first does not matter, nor do ended ones, so it splits no states beyond that).
  std::map<int, Hasher> spawned;
  for (const auto& [id, f] : fibers_.all()) {
    if (f.state != FiberState::kDone) spawned[f.worker].Mix(FiberNameHash(f, nullptr));
  }
  for (const auto& [worker, order] : spawned) {
    h.Mix(static_cast<std::uint64_t>(worker));
    h.Mix(order.value());
  }
  return h.value();
}

}  // namespace detail
}  // namespace rrefsim::sim
