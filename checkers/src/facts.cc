#include <variant>

#include "checkers_impl.h"
#include "rrefsim/checkers/checker.h"

namespace rrefsim::checkers {

void Facts::Remember(const core::ForkData& fork) {
  if (!memory_->forks.contains(fork.fork_id)) memory_.Mutable().forks.emplace(fork.fork_id, fork);
}

void Facts::OnRecord(const StepRecord& record) {
  using core::MessageType;
  if (record.kind == RecordKind::kSend) {
    const core::Message& m = *record.message;
    for (const core::ForkData& fork : m.value.rrefs) Remember(fork);
    bool remote_call = m.type == MessageType::SCRIPT_REMOTE_CALL || m.type == MessageType::PYTHON_REMOTE_CALL;
    // remote()'s own fork, made by the creator (its parent field); §7's tree hangs it under the owner.
    if (remote_call) {
      Remember(core::ForkData{m.to, m.rref_id, m.fork_id, m.from, m.type_str});
    }
  } else if (record.kind == RecordKind::kDeliver) {
    const core::Message& m = *record.message;
    if (m.type == MessageType::RREF_FORK_REQUEST && !m.empty_payload && !ForkRequestProcessed(m.fork_id)) {
      memory_.Mutable().fork_requested.insert(m.fork_id);
    }
  } else if (record.kind == RecordKind::kEvent) {
    const auto* freed = std::get_if<core::OwnerRRefFreed>(record.event);
    if (freed != nullptr && !Freed(freed->rref_id)) memory_.Mutable().freed.insert(freed->rref_id);
  }
}

const core::ForkData* Facts::Fork(const core::ForkId& fork) const {
  auto it = memory_->forks.find(fork);
  return it == memory_->forks.end() ? nullptr : &it->second;
}

// The forks that travelled, the fork requests processed and the RRefs freed: what happened on the way, which the
// checkers that ask (child_confirmed_before_accept, udf_runs_after_args_confirmed, no_orphan_waiter) read later.
void Facts::Fingerprint(core::StateHasher& h) const {
  using detail::MixEach;
  memory_.Fingerprint(h, [](core::StateHasher& e, const Memory& m) {
    MixEach(e, m.forks, [](core::StateHasher& f, const auto& entry) { detail::MixFork(f, entry.second); });
    MixEach(e, m.fork_requested, [](core::StateHasher& f, const core::ForkId& fork) { f.Mix(fork); });
    MixEach(e, m.freed, [](core::StateHasher& f, const core::RRefId& rref) { f.Mix(rref); });
  });
}

}  // namespace rrefsim::checkers
