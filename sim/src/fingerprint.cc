// The canonical fingerprint of a World between two steps, for the exhaustive explorer's state hashing
// (docs/explore.md). Two worlds with the same fingerprint continue the same way under the same choices, up to the
// renaming of what only orders the chooser's options: the network's send sequence numbers and the fibers' ids.
// Those are left out on purpose: a message's sequence number only places it among the due messages (option order)
// and keys nothing the core sees; a fiber id only places it among the ready fibers. Everything that decides what a
// step does is in: each core's whole state, host state, message contents, fiber positions and frames, sleeps, barriers, time.
#include <algorithm>
#include <vector>

#include "rrefsim/core/fingerprint.h"
#include "world_impl.h"

namespace rrefsim::sim {

std::optional<std::uint64_t> StateFingerprint(const checkers::GlobalView& view) {
  const auto* world = dynamic_cast<const detail::World*>(&view);
  if (world == nullptr) return std::nullopt;
  return world->Fingerprint();
}

std::optional<StepFootprint> StepsSinceChoice(const checkers::GlobalView& view) {
  const auto* world = dynamic_cast<const detail::World*>(&view);
  if (world == nullptr) return std::nullopt;
  return world->footprint();
}

int StepWorker(const checkers::GlobalView& view, std::uint64_t item) {
  const auto* world = dynamic_cast<const detail::World*>(&view);
  return world == nullptr ? -1 : world->WorkerOfItem(item);
}

std::uint64_t StepIdentity(const checkers::GlobalView& view, std::uint64_t item) {
  const auto* world = dynamic_cast<const detail::World*>(&view);
  return world == nullptr ? 0 : world->IdentityOfItem(item);
}

namespace detail {
namespace {

// Fibers are named by what they are ("program 1", "f on 2 (work 3)"), never by their ids.
std::uint64_t NameHash(const std::string& name) {
  Hasher h;
  h.Mix(name);
  return h.value();
}

// A multiset of words, folded in sorted order so that the order they were produced in does not matter.
void MixSorted(Hasher& h, std::vector<std::uint64_t>& words) {
  std::sort(words.begin(), words.end());
  for (std::uint64_t w : words) h.Mix(w);
  h.Mix(words.size());
}

}  // namespace

std::uint64_t World::IdentityOfItem(std::uint64_t item) const {
  constexpr std::uint64_t kMessageItem = std::uint64_t{1} << 63;  // as in world.cc
  if ((item & kMessageItem) == 0) {
    const auto found = fibers_.find(item);
    return found == fibers_.end() ? 0 : NameHash(found->second.name);
  }
  for (const auto& [key, message] : inflight_) {
    if (key.second != (item & ~kMessageItem)) continue;
    Hasher h;
    h.Mix(static_cast<std::uint64_t>(key.first - now_));
    h.Mix(core::MessageFingerprint(message));
    return h.value() | kMessageItem;
  }
  return 0;
}

std::uint64_t World::Fingerprint() const {
  Hasher h;
  h.Mix(static_cast<std::uint64_t>(now_));
  h.Mix(network_.Fingerprint());
  const auto fiber_name = [this](std::uint64_t id) { return NameHash(fibers_.at(id).name); };
  for (int w = 0; w < workers(); ++w) {
    const Host& host = hosts_[static_cast<std::size_t>(w)];
    h.Mix(host.core.Fingerprint());  // the whole core, private state included (core/src/fingerprint.cc)
    h.Mix(static_cast<std::uint64_t>(host.busy_slots));
    for (const PoolTask& task : host.backlog) {  // in order: the backlog is a FIFO
      h.Mix(task.timers ? 1 : 0);
      if (!task.timers) h.Mix(core::MessageFingerprint(task.message));
    }
    h.Mix(host.backlog.size());
    for (const auto& [future, outcome] : host.done) {
      h.Mix(static_cast<std::uint64_t>(future));
      h.Mix(outcome.error ? *outcome.error : std::string("ok"));
      h.Mix(static_cast<std::uint64_t>(outcome.value.payload));
      for (core::Handle r : outcome.value.rrefs) h.Mix(r.id);
    }
    for (const auto& [future, fiber] : host.waiters) {
      h.Mix(static_cast<std::uint64_t>(future));
      h.Mix(fiber_name(fiber));
    }
    h.Mix(host.shutdown_waiter ? fiber_name(*host.shutdown_waiter) : 0);
    h.Mix((host.timers_queued ? 1 : 0) | (host.owners_deleted ? 2 : 0) | (host.at_join ? 4 : 0) |
          (host.finished ? 8 : 0));
    h.Mix(static_cast<std::uint64_t>(host.barriers_passed));
  }
  std::vector<std::uint64_t> words;
  for (const auto& [key, message] : inflight_) {
    Hasher m;
    m.Mix(static_cast<std::uint64_t>(key.first - now_));
    m.Mix(core::MessageFingerprint(message));  // with the hardened mode's seq and replies_below
    words.push_back(m.value());
  }
  MixSorted(h, words);
  words.clear();
  for (const auto& [id, f] : fibers_) {
    Hasher m;
    m.Mix(static_cast<std::uint64_t>(f.worker));
    m.Mix(f.name);
    m.Mix(static_cast<std::uint64_t>(f.state));
    m.Mix(f.waiting_for);
    m.Mix(f.position);
    words.push_back(m.value());
  }
  MixSorted(h, words);
  words.clear();
  for (const Sleeper& s : sleepers_) {
    words.push_back(NameHash(fibers_.at(s.fiber).name) ^ static_cast<std::uint64_t>(s.due - now_));
  }
  MixSorted(h, words);
  for (const auto& [name, waiting] : barrier_waiters_) {
    h.Mix(name);
    words.clear();
    for (std::uint64_t f : waiting) words.push_back(fiber_name(f));
    MixSorted(h, words);
  }
  for (const auto& [name, deadline] : flushing_) {
    h.Mix(name);
    h.Mix(static_cast<std::uint64_t>(deadline - now_));
  }
  for (const auto& [name, number] : program_barriers_) {
    h.Mix(name);
    h.Mix(static_cast<std::uint64_t>(number));
  }
  words.clear();
  for (std::uint64_t f : join_waiters_) words.push_back(fiber_name(f));
  MixSorted(h, words);
  return h.value();
}

}  // namespace detail
}  // namespace rrefsim::sim
