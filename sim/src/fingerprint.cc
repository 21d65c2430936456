// The canonical fingerprint of a World between two steps, for the exhaustive explorer's state hashing
// (docs/explore.md). Two worlds with the same fingerprint continue the same way under the same choices, up to the
// renaming of what only orders the chooser's options: the network's send sequence numbers and the fibers' ids.
// Those are left out on purpose: a message's sequence number only places it among the due messages (option order)
// and keys nothing the core sees; a fiber id only places it among the ready fibers. Everything that decides what a
// step does is in: core views, host state, message contents, fiber positions and frames, sleeps, barriers, time.
#include <algorithm>
#include <vector>

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

std::uint64_t Id(const core::GloballyUniqueId& id) {
  return static_cast<std::uint64_t>(id.local_id) ^ (static_cast<std::uint64_t>(id.created_on) << 48);
}

void MixView(Hasher& h, const core::ContextView& v) {
  for (const core::RRefId& r : v.owners) h.Mix(Id(r));
  h.Mix(v.owners.size());
  for (const auto& [rref, forks] : v.forks) {
    h.Mix(Id(rref));
    for (const core::ForkId& f : forks) h.Mix(Id(f));
    h.Mix(forks.size());
  }
  for (const core::ForkId& f : v.pending_users) h.Mix(Id(f));
  h.Mix(v.pending_users.size());
  for (const core::ForkId& f : v.confirmed_users) h.Mix(Id(f));
  h.Mix(v.confirmed_users.size());
  for (const auto& [child, parent] : v.pending_children) {
    h.Mix(Id(child));
    h.Mix(Id(parent));
  }
  for (const auto& [rref, count] : v.pending_owners) {
    h.Mix(Id(rref));
    h.Mix(static_cast<std::uint64_t>(count));
  }
  for (const core::UserRRefView& u : v.users) {
    h.Mix(u.handle.id);
    h.Mix(Id(u.rref_id) ^ static_cast<std::uint64_t>(u.owner));
    h.Mix(Id(u.fork_id));
    h.Mix(static_cast<std::uint64_t>(u.app_refs));
    h.Mix((u.confirmed_by_owner ? 1 : 0) | (u.deleted_on_owner ? 2 : 0) | (u.timed_out ? 4 : 0));
  }
  h.Mix(v.users.size());
  for (const core::OwnerRRefView& o : v.owner_rrefs) {
    h.Mix(o.handle.id);
    h.Mix(Id(o.rref_id));
    h.Mix(static_cast<std::uint64_t>(o.app_refs));
    h.Mix((o.value_set ? 1 : 0) | (o.timed_out ? 2 : 0) | (o.error ? 4 : 0));
    if (o.error) h.Mix(*o.error);
    h.Mix(static_cast<std::uint64_t>(o.payload));
    for (const core::ForkId& f : o.nested) h.Mix(Id(f));
    h.Mix(o.nested.size());
  }
  h.Mix(v.owner_rrefs.size());
  for (const core::RequestView& r : v.requests) {
    h.Mix(static_cast<std::uint64_t>(r.id));
    h.Mix((static_cast<std::uint64_t>(static_cast<std::uint16_t>(r.to)) << 16) | static_cast<std::uint64_t>(r.type));
    h.Mix(r.deadline ? static_cast<std::uint64_t>(*r.deadline) : ~std::uint64_t{0});
  }
  h.Mix(v.requests.size());
  for (const core::RetryView& r : v.retries) {
    h.Mix(r.message);
    h.Mix(static_cast<std::uint64_t>(r.retry_count));
    h.Mix(static_cast<std::uint64_t>(r.next_time));
  }
  h.Mix(v.retries.size());
  h.Mix(static_cast<std::uint64_t>(v.client_active_calls));
  h.Mix(static_cast<std::uint64_t>(v.gated_requests));
  h.Mix(static_cast<std::uint64_t>(v.running_functions));
  h.Mix((v.destroyed ? 1 : 0) | (v.aborted ? 2 : 0));
  h.Mix(static_cast<std::uint64_t>(v.debug.num_pending_futures));
}

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
    h.Mix(message);
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
    MixView(h, worker(w));
    h.Mix(static_cast<std::uint64_t>(host.busy_slots));
    for (const PoolTask& task : host.backlog) {  // in order: the backlog is a FIFO
      h.Mix(task.timers ? 1 : 0);
      if (!task.timers) h.Mix(task.message);
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
    m.Mix(message);
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
