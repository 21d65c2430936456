// Classifies each delivery into the receiver state of coverage.h, from the receiver's ContextView before the
// message is processed.
#include <algorithm>
#include <variant>

#include "rrefsim/checkers/coverage.h"

namespace rrefsim::checkers {
namespace {

using core::MessageType;
using S = ReceiverState;

bool Contains(const std::vector<core::ForkId>& ids, const core::ForkId& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// `fork`: the fork the message names (a remote call's creator fork, a delete's or fork request's fork, a carried
// fork), if any.
S OwnerState(const core::ContextView& v, const core::RRefId& rref, const core::ForkId* fork,
             const std::set<core::RRefId>& freed) {
  auto forks = v.forks.find(rref);
  const bool has_forks = forks != v.forks.end() && !forks->second.empty();
  if (std::find(v.owners.begin(), v.owners.end(), rref) != v.owners.end()) {
    return fork != nullptr && has_forks && Contains(forks->second, *fork) ? S::kOwnerLiveForkKnown : S::kOwnerLive;
  }
  if (has_forks) return S::kOwnerForksOnly;
  if (v.pending_owners.contains(rref)) return S::kOwnerAwaited;
  auto held = [&rref](const core::OwnerRRefView& o) { return o.rref_id == rref; };
  if (std::any_of(v.owner_rrefs.begin(), v.owner_rrefs.end(), held)) return S::kOwnerHeldOnly;
  return freed.contains(rref) ? S::kOwnerFreed : S::kOwnerAbsent;
}

// The most advanced of a user's instances: deleted comes after timed out, which is a terminal kind of confirmed.
S InstanceState(const core::ContextView& v, const core::UserRRefView& u) {
  if (Contains(v.pending_users, u.fork_id)) return S::kUserPending;
  if (u.deleted_on_owner) return S::kUserDeleted;
  if (u.timed_out) return S::kUserTimedOut;
  return S::kUserConfirmed;
}

// The creator's UserRRef of `fork` (REMOTE_RET). pendingUsers_ keeps it alive, so a pending fork always has one.
S UserStateOfFork(const core::ContextView& v, const core::ForkId& fork) {
  if (Contains(v.pending_users, fork)) return S::kUserPending;
  for (const core::UserRRefView& u : v.users) {
    if (u.fork_id == fork) return InstanceState(v, u);
  }
  return S::kUserNone;
}

// A receiver may hold several UserRRefs of one RRef (one per fork it received): the state of the "least advanced"
// one, in the order pending < confirmed < timed out < deleted, is the one the new fork meets first.
S UserStateOfRRef(const core::ContextView& v, const core::RRefId& rref) {
  S best = S::kUserNone;
  for (const core::UserRRefView& u : v.users) {
    if (u.rref_id != rref) continue;
    S s = InstanceState(v, u);
    if (best == S::kUserNone || s < best) best = s;
  }
  return best;
}

S ResponseState(const core::Message& m, const core::ContextView& v) {
  auto waits = [&m](const core::RequestView& r) { return r.id == m.id && r.to == m.from; };
  return std::any_of(v.requests.begin(), v.requests.end(), waits) ? S::kAwaited : S::kUnawaited;
}

bool IsCallOrReturn(MessageType t) {
  return t == MessageType::SCRIPT_CALL || t == MessageType::PYTHON_CALL || t == MessageType::SCRIPT_RET ||
         t == MessageType::PYTHON_RET || t == MessageType::SCRIPT_RREF_FETCH_RET ||
         t == MessageType::PYTHON_RREF_FETCH_RET;
}

}  // namespace

void ClassifyDelivery(const core::Message& m, const core::ContextView& v, const std::set<core::RRefId>& freed,
                      std::vector<ReceiverState>& out) {
  switch (m.type) {
    case MessageType::SCRIPT_REMOTE_CALL:
    case MessageType::PYTHON_REMOTE_CALL:
    case MessageType::RREF_USER_DELETE:
    case MessageType::RREF_FORK_REQUEST:
      out.push_back(OwnerState(v, m.rref_id, &m.fork_id, freed));
      return;
    case MessageType::SCRIPT_RREF_FETCH_CALL:
    case MessageType::PYTHON_RREF_FETCH_CALL:
      out.push_back(OwnerState(v, m.rref_id, nullptr, freed));
      return;
    case MessageType::REMOTE_RET:  // at the creator; rrefId == forkId marks a remote() to self, answered to the owner
      out.push_back(m.rref_id == m.fork_id ? OwnerState(v, m.rref_id, &m.fork_id, freed)
                                           : UserStateOfFork(v, m.fork_id));
      return;
    case MessageType::RREF_CHILD_ACCEPT:
      out.push_back(v.pending_children.contains(m.fork_id) ? S::kParentChildPending : S::kParentNoChild);
      return;
    case MessageType::RREF_ACK:
    case MessageType::EXCEPTION:
      out.push_back(ResponseState(m, v));
      return;
    default:
      break;
  }
  if (!IsCallOrReturn(m.type)) return;
  for (const core::ForkData& fork : m.value.rrefs) {
    out.push_back(fork.owner == v.worker ? OwnerState(v, fork.rref_id, &fork.fork_id, freed)
                                         : UserStateOfRRef(v, fork.rref_id));
  }
  if (!m.value.rrefs.empty()) return;
  out.push_back(core::IsRequest(m.type) ? S::kNoRRef : ResponseState(m, v));
}

void CoverageObserver::OnRecord(const StepRecord& record) {
  if (record.worker < 0) return;  // the network's and the clock's records name no worker
  if (record.kind == RecordKind::kEvent && record.event != nullptr) {
    if (const auto* freed = std::get_if<core::OwnerRRefFreed>(record.event)) {
      if (freed_.size() <= static_cast<std::size_t>(record.worker)) freed_.resize(record.worker + 1);
      freed_[record.worker].insert(freed->rref_id);
    }
    return;
  }
  if (record.kind != RecordKind::kDeliver || record.message == nullptr || view_ == nullptr) return;
  if (view_->changed(record.worker)) {  // the view may miss what this step already did to the receiver
    ++counts_.unclassified;
    return;
  }
  if (freed_.size() <= static_cast<std::size_t>(record.worker)) freed_.resize(record.worker + 1);
  states_.clear();
  ClassifyDelivery(*record.message, view_->worker(record.worker), freed_[record.worker], states_);
  for (ReceiverState s : states_) {
    if (std::optional<std::size_t> index = CoverageIndex(record.message->type, s)) counts_.Count(*index);
  }
}

}  // namespace rrefsim::checkers
