// The owner's side: no_premature_delete (I2), owner_view_monotonic (I10) and no_orphan_waiter (I11).
#include <map>
#include <set>
#include <tuple>
#include <variant>

#include "checkers_impl.h"

namespace rrefsim::checkers::detail {
namespace {

// I2: an OwnerRRef is freed only when no live UserRRef of it exists (live: not yet deleted on the owner by tryDel) and no message carries a fork of it (or a fetch
// from a live user) to a running worker. Checked when the free happens, and whenever a UserRRef of a freed RRef
// appears later. Frees by a destroyed context (shutdown with ignored leaks) are the leak checks' business.
class NoPrematureDeleteChecker : public CloneableChecker<NoPrematureDeleteChecker> {
 public:
  const char* id() const override { return "no_premature_delete"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report&) override {
    if (MayChangeUsers(r)) touched_.Mark(r.worker);
    if (r.kind == RecordKind::kDeliver && r.message->seq > 0 && !memory_->delivered.contains(StreamKey(*r.message))) {
      memory_.Mutable().delivered.insert(StreamKey(*r.message));
    }
    if (r.kind != RecordKind::kEvent) return;
    if (const auto* freed = std::get_if<core::OwnerRRefFreed>(r.event)) freed_now_.push_back({r.worker, freed->rref_id});
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    for (const auto& [owner, rref] : freed_now_) {
      if (!Running(view, owner)) continue;
      if (!memory_->freed.contains(rref)) memory_.Mutable().freed.insert(rref);
      CheckAtFree(view, owner, rref, report);
    }
    freed_now_.clear();
    if (memory_->freed.empty() || !touched_.any()) return touched_.Clear();
    for (int w = 0; w < view.workers(); ++w) {
      if (!touched_(w) || !Running(view, w)) continue;
      for (const core::UserRRefView& u : view.worker(w).users) {
        if (memory_->freed.contains(u.rref_id) && !u.deleted_on_owner && FirstReport(u.fork_id)) {
          report.Fail(W(w) + " holds UserRRef " + Id(u.fork_id) + " of RRef " + Id(u.rref_id) + ", whose owner " +
                      W(u.owner) + " already freed it");
        }
      }
    }
    touched_.Clear();
  }
  // The RRefs freed (a UserRRef of one appearing later is reported), the forks reported, and the stream numbers
  // delivered (their later copies no longer count as pending); the step's frees and touched workers are scratch.
  void Fingerprint(core::StateHasher& h) const override {
    MixEach(h, freed_now_, [](core::StateHasher& e, const std::pair<int, core::RRefId>& entry) {
      MixWorker(e, entry.first);
      e.Mix(entry.second);
    });
    touched_.Fingerprint(h);
    memory_.Fingerprint(h, [](core::StateHasher& e, const Memory& m) {
      MixEach(e, m.freed, [](core::StateHasher& f, const core::RRefId& rref) { f.Mix(rref); });
      MixEach(e, m.reported, [](core::StateHasher& f, const core::ForkId& fork) { f.Mix(fork); });
      MixEach(e, m.delivered, [](core::StateHasher& f, const Stream& stream) {
        MixWorker(f, std::get<0>(stream));
        MixWorker(f, std::get<1>(stream));
        f.Mix(static_cast<std::uint64_t>(std::get<2>(stream)));
        f.Mix(std::get<3>(stream) ? 1 : 0);
      });
    });
  }

 private:
  // Whether `fork` is reported now for the first time (and from now on remembered as reported).
  bool FirstReport(const core::ForkId& fork) {
    if (memory_->reported.contains(fork)) return false;
    memory_.Mutable().reported.insert(fork);
    return true;
  }
  void CheckAtFree(const GlobalView& view, int owner, const core::RRefId& rref, Report& report) {
    std::string prefix = W(owner) + " freed OwnerRRef " + Id(rref) + " while ";
    for (int w = 0; w < view.workers(); ++w) {
      if (!Running(view, w)) continue;
      for (const core::UserRRefView& u : view.worker(w).users) {
        if (u.rref_id == rref && !u.deleted_on_owner && FirstReport(u.fork_id)) {
          report.Fail(prefix + W(w) + " still holds UserRRef " + Id(u.fork_id));
        }
      }
    }
    view.ForEachInFlight([&](const InFlightMessage& in) {
      const core::Message& m = *in.message;
      if (m.to < 0 || m.to >= view.workers() || !Running(view, m.to)) return;
      // A copy of a message its receiver already got.
      if (m.seq > 0 && memory_->delivered.contains(StreamKey(m))) return;
      for (const core::ForkData& f : m.value.rrefs) {
        if (f.rref_id == rref) report.Fail(prefix + core::Describe(m) + " carries its fork " + Id(f.fork_id));
      }
      bool fetch = m.type == core::MessageType::PYTHON_RREF_FETCH_CALL ||
                   m.type == core::MessageType::SCRIPT_RREF_FETCH_CALL;
      if (fetch && m.rref_id == rref && m.from >= 0 && m.from < view.workers()) {
        for (const core::UserRRefView& u : view.worker(m.from).users) {
          if (u.rref_id == rref && !u.deleted_on_owner) {
            report.Fail(prefix + core::Describe(m) + " from its live UserRRef " + Id(u.fork_id) + " is in flight");
            break;
          }
        }
      }
    });
  }

  // A message with a stream number (hardened mode: Message::seq) is one logical message however many copies the
  // network or the sender's resends make; the receiver processes the first copy it gets and drops the others, so
  // only until that first delivery do its forks count as pending (rref-protocol.md §7: forks carried by messages not
  // yet unpickled). Should a later copy be unpickled anyway, the check below on UserRRefs of freed RRefs and
  // unique_fork_ids catch it. Messages without a number (pytorch mode) are counted as before: each copy is pending.
  using Stream = std::tuple<int, int, std::int64_t, bool>;  // from, to, seq, request
  static Stream StreamKey(const core::Message& m) { return {m.from, m.to, m.seq, core::IsRequest(m.type)}; }

  struct Memory {
    std::set<core::RRefId> freed;
    std::set<core::ForkId> reported;
    std::set<Stream> delivered;
  };

  std::vector<std::pair<int, core::RRefId>> freed_now_;
  Touched touched_;
  SharedMemory<Memory> memory_;
};

// I10: the owner's view of each fork goes unknown -> known -> deleted, once. A fork the owner deleted (or whose
// RREF_USER_DELETE it processed before knowing it) never comes back into forks_. Diffs the owner's forks_ on the
// steps that changed it.
class OwnerViewMonotonicChecker : public CloneableChecker<OwnerViewMonotonicChecker> {
 public:
  const char* id() const override { return "owner_view_monotonic"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView& view, Report&) override {
    if (MayChangeForks(r)) touched_.Mark(r.worker);
    if (!Delivers(r, core::MessageType::RREF_USER_DELETE)) return;
    const core::Message& m = *r.message;
    const auto& forks = view.worker(r.worker).forks;
    auto it = forks.find(m.rref_id);
    bool known = it != forks.end() && std::find(it->second.begin(), it->second.end(), m.fork_id) != it->second.end();
    if (!known && !memory_->deleted.contains(m.fork_id)) {
      memory_.Mutable().deleted.insert(m.fork_id);  // deleted before it was added (rref-cases.md P9)
    }
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    for (int w = 0; w < view.workers(); ++w) {
      if (touched_(w)) Diff(w, view.worker(w), report);
    }
    touched_.Clear();
  }
  // Each owner's forks_ as last diffed (what a fork's disappearance is measured against) and every fork deleted
  // (one that comes back is reported); the touched workers are scratch.
  void Fingerprint(core::StateHasher& h) const override {
    touched_.Fingerprint(h);
    memory_.Fingerprint(h, [](core::StateHasher& e, const Memory& m) {
      const auto mix_fork = [](core::StateHasher& f, const core::ForkId& fork) { f.Mix(fork); };
      MixPerWorker(e, m.known, [](core::StateHasher& f, const Forks& forks) {
        MixEach(f, forks, [](core::StateHasher& g, const std::pair<core::RRefId, core::ForkId>& entry) {
          g.Mix(entry.first);
          g.Mix(entry.second);
        });
      });
      MixPerWorker(e, m.last_forks, [&mix_fork](core::StateHasher& f, const auto& forks) {
        MixEach(f, forks, [&mix_fork](core::StateHasher& g, const auto& entry) {
          g.Mix(entry.first);
          MixEach(g, entry.second, mix_fork);  // the owner's fork set, in its sorted order
        });
      });
      MixEach(e, m.deleted, mix_fork);
    });
  }

 private:
  using Forks = std::set<std::pair<core::RRefId, core::ForkId>>;
  // forks_ changes only when its owner processes a request, a reply that carries RRefs (unpickling an own RRef
  // undoes or adds a registration) or answers a remote() (the reply or error of a remote() to self drops the self
  // marker); when it registers a fork while pickling (a send carrying RRefs), finishes a function (its reply), frees
  // an OwnerRRef or shuts down (events). ACKs, plain replies and steps of user code alone leave it alone.
  static bool MayChangeForks(const StepRecord& r) {
    switch (r.kind) {
      case RecordKind::kDeliver: {
        core::MessageType t = r.message->type;
        return core::IsRequest(t) || !r.message->value.rrefs.empty() || t == core::MessageType::REMOTE_RET ||
               t == core::MessageType::EXCEPTION;
      }
      case RecordKind::kSend:
      case RecordKind::kDrop:
      case RecordKind::kSendFailed:
        return !r.message->value.rrefs.empty() || IsRemoteCall(r.message->type) ||
               !core::IsRequest(r.message->type);
      case RecordKind::kEvent:
        return !std::holds_alternative<core::Log>(*r.event) && !std::holds_alternative<core::FutureDone>(*r.event);
      case RecordKind::kTimers:
        return true;
      default:
        return false;
    }
  }
  void Diff(int w, const core::ContextView& v, Report& report) {
    static const std::map<core::RRefId, std::vector<core::ForkId>> kNone;  // a worker never diffed had none
    const std::size_t index = static_cast<std::size_t>(w);
    const Memory& kept = *memory_;
    if ((index < kept.last_forks.size() ? kept.last_forks[index] : kNone) == v.forks) return;  // most steps
    Memory& m = memory_.Mutable();
    if (m.known.size() <= index) {
      m.known.resize(index + 1);
      m.last_forks.resize(index + 1);
    }
    m.last_forks[index] = v.forks;
    Forks now;
    for (const auto& [rref, forks] : v.forks) {
      for (const core::ForkId& f : forks) now.emplace(rref, f);
    }
    Forks& before = m.known[index];
    for (const auto& entry : before) {
      if (!now.contains(entry)) m.deleted.insert(entry.second);
    }
    for (const auto& [rref, fork] : now) {
      if (before.contains({rref, fork}) || !m.deleted.contains(fork)) continue;
      report.Fail("owner " + W(w) + " added fork " + Id(fork) + " of RRef " + Id(rref) +
                  " to forks_ after it had deleted it: a resurrected fork that nothing will ever delete");
    }
    before = std::move(now);
  }

  struct Memory {
    std::vector<Forks> known;
    std::vector<std::map<core::RRefId, std::vector<core::ForkId>>> last_forks;  // forks_ as last diffed
    std::set<core::ForkId> deleted;
  };
  Touched touched_;
  SharedMemory<Memory> memory_;
};

// I11: every fetch waiting in pendingOwners_ can still be answered: its OwnerRRef was not freed already. Waiters
// left at a deadlock are orphans too.
class NoOrphanWaiterChecker : public CloneableChecker<NoOrphanWaiterChecker> {
 public:
  const char* id() const override { return "no_orphan_waiter"; }
  // pendingOwners_ grows only when a fetch arrives; an entry turns orphan when its RRef is freed.
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView& view, Report&) override {
    if (Delivers(r, core::MessageType::PYTHON_RREF_FETCH_CALL) || Delivers(r, core::MessageType::SCRIPT_RREF_FETCH_CALL)) {
      touched_.Mark(r.worker);
    } else if (r.kind == RecordKind::kEvent && std::holds_alternative<core::OwnerRRefFreed>(*r.event)) {
      for (int w = 0; w < view.workers(); ++w) touched_.Mark(w);
    }
  }
  void AfterStep(const Facts& facts, const GlobalView& view, Report& report) override {
    if (!touched_.any()) return;
    for (int w = 0; w < view.workers(); ++w) {
      if (!touched_(w) || !Running(view, w)) continue;
      for (const auto& [rref, waiting] : view.worker(w).pending_owners) {
        if (facts.Freed(rref) && !reported_->contains(rref)) {
          reported_.Mutable().insert(rref);
          report.Fail(W(w) + " has " + std::to_string(waiting) + " fetch(es) of RRef " + Id(rref) +
                      " waiting in pendingOwners_ for an OwnerRRef it already freed: they are never answered");
        }
      }
    }
    touched_.Clear();
  }
  void AtEnd(const RunEnd& end, const CheckerConfig& config, const Facts&, Report& report) override {
    if (end.outcome != "deadlock" || config.expected_outcome == "deadlock") return;
    for (const core::ContextView& v : end.final_views) {
      if (v.aborted) continue;
      for (const auto& [rref, waiting] : v.pending_owners) {
        report.Fail(W(v.worker) + " has " + std::to_string(waiting) + " fetch(es) of RRef " + Id(rref) +
                    " waiting in pendingOwners_ for an OwnerRRef that is never created");
      }
    }
  }
  // The RRefs whose orphaned fetches were reported (once each); the touched workers are scratch.
  void Fingerprint(core::StateHasher& h) const override {
    reported_.Fingerprint(h, [](core::StateHasher& e, const std::set<core::RRefId>& reported) {
      MixEach(e, reported, [](core::StateHasher& f, const core::RRefId& rref) { f.Mix(rref); });
    });
    touched_.Fingerprint(h);
  }

 private:
  SharedMemory<std::set<core::RRefId>> reported_;
  Touched touched_;
};

}  // namespace

std::unique_ptr<Checker> MakeNoPrematureDelete() { return std::make_unique<NoPrematureDeleteChecker>(); }
std::unique_ptr<Checker> MakeOwnerViewMonotonic() { return std::make_unique<OwnerViewMonotonicChecker>(); }
std::unique_ptr<Checker> MakeNoOrphanWaiter() { return std::make_unique<NoOrphanWaiterChecker>(); }

}  // namespace rrefsim::checkers::detail
