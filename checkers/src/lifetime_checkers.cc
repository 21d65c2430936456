// The end of a UserRRef's life: owner_notified_of_every_delete (G1, I8) and clean_at_quiescence (I7, I9).
#include <map>
#include <set>
#include <utility>
#include <variant>

#include "checkers_impl.h"

namespace rrefsim::checkers::detail {
namespace {

// G1 / I8: every destroyed UserRRef sent exactly one RREF_USER_DELETE (while its context lives), and by the end of a
// run that finished, its owner processed it.
class OwnerNotifiedChecker : public CloneableChecker<OwnerNotifiedChecker> {
 public:
  const char* id() const override { return "owner_notified_of_every_delete"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report& report) override {
    if (r.worker >= 0 && r.worker < 64) stepped_ |= std::uint64_t{1} << r.worker;
    if (IsEmptyRetryOfDelete(r)) {  // carries no fork id: the same delete, found by its chain
      // Mutable() may give this checker its own copy of the map; the loop then goes on over the shared one (kept
      // alive by the other checker set sharing it), and changes go to the copy by key.
      for (const auto& [key, d] : memory_->deletes) {
        if (key.first == r.message->from && d.chain == r.retry_chain && d.attempt != r.message->id) {
          memory_.Mutable().deletes.at(key).attempt = r.message->id;
        }
      }
    } else if (Emits(r, core::MessageType::RREF_USER_DELETE)) {
      OnDeleteSent(r, report);
    } else if (Delivers(r, core::MessageType::RREF_USER_DELETE)) {
      if (!memory_->processed.contains(r.message->fork_id)) memory_.Mutable().processed.insert(r.message->fork_id);
    } else if (r.kind == RecordKind::kEvent) {
      if (const auto* gone = std::get_if<core::UserRRefDestroyed>(r.event)) destroyed_now_.push_back({r.worker, *gone});
    }
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    for (const auto& [w, gone] : destroyed_now_) {
      if (memory_->deletes.contains({w, gone.fork_id}) || view.worker(w).destroyed || view.worker(w).aborted) continue;
      report.Fail(W(w) + " destroyed UserRRef " + Id(gone.fork_id) + " of RRef " + Id(gone.rref_id) +
                  " without sending RREF_USER_DELETE to its owner");
    }
    destroyed_now_.clear();
    CloseFinishedChains(view);
    stepped_ = 0;
  }
  void AtEnd(const RunEnd& end, const CheckerConfig& config, const Facts&, Report& report) override {
    if (end.outcome != "ok" || config.expected_outcome != "ok") return;
    for (const auto& [key, d] : memory_->deletes) {
      if (memory_->processed.contains(key.second)) continue;
      if (d.owner >= 0 && d.owner < static_cast<int>(end.final_views.size()) &&
          end.final_views[static_cast<std::size_t>(d.owner)].aborted) {
        continue;
      }
      report.Fail("owner " + W(d.owner) + " never processed the RREF_USER_DELETE of UserRRef " + Id(key.second) +
                  " of RRef " + Id(d.rref) + " sent by " + W(key.first) + " (G1)");
    }
  }
  // The deletes sent (a second one, or one the owner never processes, is reported), those processed, those
  // reported, and the step's destructions and workers (scratch, empty between steps).
  void Fingerprint(core::StateHasher& h) const override {
    memory_.Fingerprint(h, [](core::StateHasher& e, const Memory& m) {
      MixEach(e, m.deletes, [](core::StateHasher& f, const auto& entry) {
        MixWorker(f, entry.first.first);
        f.Mix(entry.first.second);
        f.Mix(static_cast<std::uint64_t>(entry.second.chain));  // the core's retry id while open (in the world too)
        f.Mix(static_cast<std::uint64_t>(entry.second.attempt));
        MixWorker(f, entry.second.owner);
        f.Mix(entry.second.rref);
      });
      MixEach(e, m.processed, [](core::StateHasher& f, const core::ForkId& fork) { f.Mix(fork); });
      MixEach(e, m.reported, [](core::StateHasher& f, const core::ForkId& fork) { f.Mix(fork); });
    });
    MixEach(h, destroyed_now_, [](core::StateHasher& e, const auto& entry) {
      MixWorker(e, entry.first);
      e.Mix(entry.second.rref_id);
      e.Mix(entry.second.fork_id);
    });
    std::uint64_t stepped = 0;
    for (int w = 0; w < 64; ++w) {
      if ((stepped_ >> w & 1) != 0) stepped |= std::uint64_t{1} << (h.Rename(w) & 63);
    }
    h.Mix(stepped);
  }

 private:
  // A retry chain that is over: no attempt of it will be sent again, so any later delete of the same UserRRef is a
  // second one whatever its chain. The chain's id and its last attempt's message id are then forgotten (the world
  // has forgotten them too), so that two paths which numbered their retries differently reach one state.
  static constexpr std::int64_t kChainOver = -2;
  struct Delete {
    std::int64_t chain = -1;    // the records' retry_chain (hardened: the request's id); kChainOver when over
    std::int64_t attempt = -1;  // the message id of the chain's last attempt while the chain is open
    int owner = -1;
    core::RRefId rref;
  };
  struct Memory {
    std::map<std::pair<int, core::ForkId>, Delete> deletes;
    std::set<core::ForkId> processed;
    std::set<core::ForkId> reported;
  };

  void OnDeleteSent(const StepRecord& r, Report& report) {
    const core::Message& m = *r.message;
    const std::pair<int, core::ForkId> key{m.from, m.fork_id};
    const std::int64_t attempt = r.retry_chain >= 0 ? m.id : -1;
    auto it = memory_->deletes.find(key);
    if (it == memory_->deletes.end()) {
      memory_.Mutable().deletes.emplace(key, Delete{r.retry_chain, attempt, m.to, m.rref_id});
    } else if (it->second.chain == r.retry_chain) {  // this delete, sent again by its retry chain
      if (it->second.attempt != attempt) memory_.Mutable().deletes.at(key).attempt = attempt;
    } else if (!memory_->reported.contains(m.fork_id)) {
      memory_.Mutable().reported.insert(m.fork_id);
      report.Fail(W(m.from) + " sent a second RREF_USER_DELETE for UserRRef " + Id(m.fork_id) + " of RRef " +
                  Id(m.rref_id));
    }
  }

  // A chain is open while its sender waits for its last attempt's response or has it scheduled for resending (the
  // retry map's other states, between an attempt's end and its rescheduling, do not outlast a step). Looked at only
  // for senders that had a record in the step, so this reads no worker the step did not act on (no new dependence
  // between steps for the explorer's sleep sets); a chain that ends in a step without a record at its sender just
  // stays open here, which costs the explorer some merging, never a verdict.
  void CloseFinishedChains(const GlobalView& view) {
    for (const auto& [key, d] : memory_->deletes) {  // as in OnRecord: changes go to this checker's copy by key
      const int sender = key.first;
      if (d.chain < 0 || sender < 0 || sender >= 64 || (stepped_ & (std::uint64_t{1} << sender)) == 0) continue;
      if (ChainOpen(view.worker(sender), key.second, d.attempt)) continue;
      Delete& over = memory_.Mutable().deletes.at(key);
      over.chain = kChainOver;
      over.attempt = -1;
    }
  }
  static bool IsEmptyRetryOfDelete(const StepRecord& r) {
    const bool outgoing =
        r.kind == RecordKind::kSend || r.kind == RecordKind::kDrop || r.kind == RecordKind::kSendFailed;
    return outgoing && r.retry_chain >= 0 && r.message->type == core::MessageType::RREF_USER_DELETE &&
           r.message->empty_payload;
  }
  static bool ChainOpen(const core::ContextView& sender, const core::ForkId& fork, std::int64_t attempt) {
    for (const core::RequestView& q : sender.requests) {
      if (q.id == attempt && q.type == core::MessageType::RREF_USER_DELETE) return true;
    }
    for (const core::RetryView& q : sender.retries) {
      if (q.message.type == core::MessageType::RREF_USER_DELETE && q.message.fork_id == fork) return true;
    }
    return false;
  }

  SharedMemory<Memory> memory_;
  std::vector<std::pair<int, core::UserRRefDestroyed>> destroyed_now_;
  std::uint64_t stepped_ = 0;  // bit w: a record at worker w in the step going on (scratch)
};

// What a worker still holds that a clean quiescent system would not (I9), as text; "" when clean.
std::string Leftovers(const core::ContextView& v) {
  std::string text;
  auto add = [&text](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
  for (const core::RRefId& r : v.owners) add("owners_ has " + Id(r));
  for (const auto& [rref, forks] : v.forks) {
    std::string list;
    for (const core::ForkId& f : forks) list += (list.empty() ? "" : " ") + Id(f);
    add("forks_[" + Id(rref) + "] = {" + list + "}");
  }
  for (const core::ForkId& f : v.pending_users) add("pendingUsers_ has " + Id(f));
  for (const auto& [child, parent] : v.pending_children) add("pendingChildren_ has " + Id(child) + " -> " + Id(parent));
  for (const auto& [rref, n] : v.pending_owners) add("pendingOwners_ has " + Id(rref));
  for (const core::UserRRefView& u : v.users) {
    // One the application still holds after shutdown deleted it (tryDel) is gone for the protocol (S12).
    if (!u.deleted_on_owner) add("UserRRef " + Id(u.fork_id) + " of " + Id(u.rref_id) + " lives, not deleted");
  }
  if (v.debug.num_pending_futures != 0) add(std::to_string(v.debug.num_pending_futures) + " pending futures");
  return text;
}

// I7 + I9: when the system is quiescent after the heal (every worker waits in join, nothing in flight), every map is
// empty and nothing is pending; graceful shutdown never times out and never reports leaked RRefs.
class CleanAtQuiescenceChecker : public CloneableChecker<CleanAtQuiescenceChecker> {
 public:
  const char* id() const override { return "clean_at_quiescence"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView& view, Report& report) override {
    if (r.kind == RecordKind::kQuiescent) {
      quiescent_ = true;
    } else if (r.kind == RecordKind::kEvent) {
      if (const auto* progress = std::get_if<core::ShutdownProgress>(r.event); progress && progress->timed_out) {
        std::string left = Leftovers(view.worker(r.worker));
        report.Fail(W(r.worker) + ": graceful shutdown timed out waiting for " +
                    (progress->step == core::ShutdownStep::kUsersConfirmed ? "its pending UserRRefs to be confirmed"
                                                                           : "its OwnerRRefs to be deleted") +
                    (left.empty() ? "" : "; it still holds: " + left));
      } else if (const auto* log = std::get_if<core::Log>(r.event);
                 log && log->text.find("Detected RRef Leaks") != std::string::npos) {
        report.Fail(W(r.worker) + " reported leaked RRefs at shutdown: " + log->text.substr(0, 200));
      }
    }
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    if (!std::exchange(quiescent_, false)) return;
    for (int w = 0; w < view.workers(); ++w) {
      if (!Running(view, w)) continue;
      std::string left = Leftovers(view.worker(w));
      if (!left.empty()) report.Fail(W(w) + " is not clean at quiescence: " + left);
    }
  }
  // Scratch: a quiescent record sets it, the end of its step clears it.
  void Fingerprint(core::StateHasher& h) const override { h.Mix(quiescent_ ? 1 : 0); }

 private:
  bool quiescent_ = false;
};

}  // namespace

std::unique_ptr<Checker> MakeOwnerNotified() { return std::make_unique<OwnerNotifiedChecker>(); }
std::unique_ptr<Checker> MakeCleanAtQuiescence() { return std::make_unique<CleanAtQuiescenceChecker>(); }

}  // namespace rrefsim::checkers::detail
