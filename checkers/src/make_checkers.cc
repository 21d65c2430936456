#include "checkers_impl.h"

namespace rrefsim::checkers {

std::vector<std::unique_ptr<Checker>> MakeCheckers(const CheckerConfig& config) {
  using namespace detail;
  std::vector<std::unique_ptr<Checker>> all;
  all.push_back(MakeProtocolError(config));
  all.push_back(MakeUniqueForkIds());
  all.push_back(MakeNoPrematureDelete());
  all.push_back(MakeParentPinned());
  all.push_back(MakeChildConfirmedBeforeAccept());
  all.push_back(MakeCreatorPinned());
  all.push_back(MakeUdfRunsAfterArgsConfirmed());
  all.push_back(MakeOwnerNotified());
  all.push_back(MakeOwnerViewMonotonic());
  all.push_back(MakeForkTreeRooted());
  all.push_back(MakeToHereValue());
  all.push_back(MakeCleanAtQuiescence());
  all.push_back(MakeNoOrphanWaiter());
  all.push_back(MakeWorkerAbort(config));
  all.push_back(MakeDeadlock());
  all.push_back(MakeNoQuiescence());
  return all;
}

const std::vector<std::string>& CheckerIds() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> names;
    for (const auto& checker : MakeCheckers(CheckerConfig{})) names.emplace_back(checker->id());
    return names;
  }();
  return ids;
}

namespace detail {

std::string Id(const core::GloballyUniqueId& id) {
  return "(" + std::to_string(id.created_on) + "," + std::to_string(id.local_id) + ")";
}

std::string W(int worker) { return "worker " + std::to_string(worker); }

void MixFork(core::StateHasher& h, const core::ForkData& fork) {
  h.Mix(fork.fork_id);
  h.Mix(fork.rref_id);
  MixWorker(h, fork.owner);
  MixWorker(h, fork.parent);
  h.Mix(fork.type_str);
}

void MixIds(core::StateHasher& h, const std::vector<core::ForkId>& ids) {
  for (const core::ForkId& id : ids) h.Mix(id);
  h.Mix(static_cast<std::uint64_t>(ids.size()));
}

bool Running(const GlobalView& view, int worker) {
  const core::ContextView& v = view.worker(worker);
  return !v.aborted && !v.destroyed;
}

bool IsRemoteCall(core::MessageType type) {
  return type == core::MessageType::SCRIPT_REMOTE_CALL || type == core::MessageType::PYTHON_REMOTE_CALL;
}

const core::UserRRefView* FindUser(const core::ContextView& view, const core::ForkId& fork) {
  for (const core::UserRRefView& u : view.users) {
    if (u.fork_id == fork) return &u;
  }
  return nullptr;
}

bool Delivers(const StepRecord& record, core::MessageType type) {
  return record.kind == RecordKind::kDeliver && record.message->type == type && !record.message->empty_payload;
}

bool MayChangeUsers(const StepRecord& r) {
  switch (r.kind) {
    case RecordKind::kDeliver:
      return !r.message->value.rrefs.empty() || r.message->type == core::MessageType::REMOTE_RET;
    case RecordKind::kSend:
    case RecordKind::kDrop:
    case RecordKind::kSendFailed:
      return IsRemoteCall(r.message->type);
    case RecordKind::kEvent:
      return std::holds_alternative<core::UserRRefDestroyed>(*r.event) ||
             std::holds_alternative<core::WorkerAborted>(*r.event) ||
             std::holds_alternative<core::FutureDone>(*r.event);
    default:
      return false;
  }
}

bool Emits(const StepRecord& record, core::MessageType type) {
  bool outgoing = record.kind == RecordKind::kSend || record.kind == RecordKind::kDrop ||
                  record.kind == RecordKind::kSendFailed;
  return outgoing && record.message->type == type && !record.message->empty_payload;
}

}  // namespace detail
}  // namespace rrefsim::checkers
