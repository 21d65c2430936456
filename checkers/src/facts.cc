#include <variant>

#include "checkers_impl.h"
#include "rrefsim/checkers/checker.h"

namespace rrefsim::checkers {

void Facts::Remember(const core::ForkData& fork) {
  if (forks_.try_emplace(fork.fork_id, fork).second) digest_.reset();
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
    if (m.type == MessageType::RREF_FORK_REQUEST && !m.empty_payload && fork_requested_.insert(m.fork_id).second) {
      digest_.reset();
    }
  } else if (record.kind == RecordKind::kEvent) {
    const auto* freed = std::get_if<core::OwnerRRefFreed>(record.event);
    if (freed != nullptr && freed_.insert(freed->rref_id).second) digest_.reset();
  }
}

const core::ForkData* Facts::Fork(const core::ForkId& fork) const {
  auto it = forks_.find(fork);
  return it == forks_.end() ? nullptr : &it->second;
}

// The forks that travelled, the fork requests processed and the RRefs freed: what happened on the way, which the
// checkers that ask (child_confirmed_before_accept, udf_runs_after_args_confirmed, no_orphan_waiter) read later.
void Facts::Fingerprint(core::StateHasher& h) const {
  if (h.renaming() != nullptr) {
    h.Mix(Digest(h.renaming()));
    return;
  }
  if (!digest_) digest_ = Digest(nullptr);
  h.Mix(*digest_);
}

std::uint64_t Facts::Digest(const core::WorkerRenaming* renaming) const {
  using detail::MixEach;
  core::StateHasher h(renaming);
  MixEach(h, forks_, [](core::StateHasher& e, const auto& entry) { detail::MixFork(e, entry.second); });
  MixEach(h, fork_requested_, [](core::StateHasher& e, const core::ForkId& fork) { e.Mix(fork); });
  MixEach(h, freed_, [](core::StateHasher& e, const core::RRefId& rref) { e.Mix(rref); });
  return h.value();
}

}  // namespace rrefsim::checkers
