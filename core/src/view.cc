// Read-only snapshots for checkers, traces and tests: every map in sorted order, and PyTorch's debug counters.
#include "worker_impl.h"

namespace rrefsim::core {

DebugInfo Worker::Impl::MakeDebugInfo() const {
  DebugInfo info;
  info.num_owner_rrefs = static_cast<std::int64_t>(owners.size());
  for (const auto& [rref_id, rref_forks] : forks) info.num_forks += static_cast<std::int64_t>(rref_forks.size());
  info.num_pending_users = static_cast<std::int64_t>(pending_users.size());
  info.num_pending_futures = num_pending_futures;
  return info;
}

ContextView Worker::Impl::MakeView() const {
  ContextView v;
  FillView(v);
  return v;
}

// Clears and refills `v`, keeping its vectors' capacity: a host that refreshes a view every step allocates less.
void Worker::Impl::FillView(ContextView& v) const {
  v.owners.clear();
  v.forks.clear();
  v.pending_users.clear();
  v.confirmed_users.clear();
  v.pending_children.clear();
  v.pending_owners.clear();
  v.users.clear();
  v.owner_rrefs.clear();
  v.requests.clear();
  v.retries.clear();
  v.client_active_calls = 0;
  v.gated_requests = 0;
  v.running_functions = 0;
  v.worker = config.id;
  for (const auto& [rref_id, h] : owners) v.owners.push_back(rref_id);
  for (const auto& [rref_id, rref_forks] : forks) v.forks[rref_id] = {rref_forks.begin(), rref_forks.end()};
  for (const auto& [fork, pending] : pending_users) v.pending_users.push_back(fork);
  for (const auto& [fork, h] : confirmed_users) v.confirmed_users.push_back(fork);
  for (const auto& [fork, parent] : pending_children) v.pending_children[fork] = instances.at(parent.id).fork_id;
  for (const auto& [rref_id, waiters] : pending_owners) {
    v.pending_owners[rref_id] = static_cast<std::int64_t>(waiters.size());
  }
  for (const auto& [id, i] : instances) {
    if (i.is_owner) {
      OwnerRRefView o{Handle{id}, i.rref_id, i.type_str, i.app_refs, i.value_set, i.error, i.value.payload, {},
                      i.timed_out};
      for (Handle nested : i.value.rrefs) {
        const Instance* n = Find(nested);
        if (n != nullptr && !n->is_owner) o.nested.push_back(n->fork_id);
      }
      v.owner_rrefs.push_back(std::move(o));
    } else {
      v.users.push_back(UserRRefView{Handle{id}, i.owner, i.rref_id, i.fork_id, i.type_str, i.app_refs,
                                     i.confirmed_by_owner, i.deleted_on_owner, i.timed_out});
    }
  }
  for (const auto& [id, a] : attempts) v.requests.push_back(RequestView{id, a.to, a.type, a.deadline});
  for (const auto& [id, r] : hardened_requests) {  // one entry per request, resent or not, until its reply
    v.requests.push_back(RequestView{id, r.message.to, r.message.type, r.deadline});
  }
  for (const auto& [id, r] : retries) {
    if (r.scheduled) v.retries.push_back(RetryView{r.message, r.retry_count, r.next_time});
  }
  v.client_active_calls = client_active_calls;
  v.next_message_id = next_message_id;
  for (const auto& [id, work] : works) {
    if (work.running) {
      ++v.running_functions;
    } else {
      ++v.gated_requests;
    }
  }
  v.destroyed = destroyed;
  v.aborted = aborted;
  v.debug = MakeDebugInfo();
}

}  // namespace rrefsim::core
