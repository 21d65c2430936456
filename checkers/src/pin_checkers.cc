// What pins a UserRRef and what gates user code: parent_pinned_until_child_confirmed (G2, I3),
// child_confirmed_before_accept (I4), creator_pinned_until_ack (I5) and udf_runs_after_args_confirmed (I6).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <variant>

#include "checkers_impl.h"

namespace rrefsim::checkers::detail {
namespace {

// G2 / I3: from the moment a user pickles its UserRRef P into a message (child fork c) until it processes
// RREF_CHILD_ACCEPT(c), pendingChildren_[c] == P, so P lives and sends no RREF_USER_DELETE. The pin is read once,
// at the end of the pickling step; from then on every RREF_USER_DELETE of the parent is checked against it.
class ParentPinnedChecker : public CloneableChecker<ParentPinnedChecker> {
 public:
  const char* id() const override { return "parent_pinned_until_child_confirmed"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report& report) override {
    if (r.kind == RecordKind::kSend || r.kind == RecordKind::kDrop || r.kind == RecordKind::kSendFailed) {
      const core::Message& m = *r.message;
      for (const core::ForkData& f : m.value.rrefs) {
        if (f.parent != m.from || f.owner == m.from) continue;
        if (memory_->awaiting.contains(f.fork_id)) continue;
        memory_.Mutable().awaiting.emplace(f.fork_id, Child{m.from, f.rref_id, {}});
        unresolved_.push_back(f.fork_id);
      }
      if (m.type == core::MessageType::RREF_USER_DELETE) CheckDelete(m, report);
    } else if (Delivers(r, core::MessageType::RREF_CHILD_ACCEPT)) {
      auto it = memory_->awaiting.find(r.message->fork_id);
      if (it != memory_->awaiting.end() && it->second.parent_worker == r.worker) {
        memory_.Mutable().awaiting.erase(r.message->fork_id);
      }
    }
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    for (const core::ForkId& child : unresolved_) {
      auto kept = memory_->awaiting.find(child);
      if (kept == memory_->awaiting.end() || !Running(view, kept->second.parent_worker)) continue;
      std::map<core::ForkId, Child>& awaiting = memory_.Mutable().awaiting;  // a new child: this step added it
      auto it = awaiting.find(child);
      Child& c = it->second;
      const auto& pins = view.worker(c.parent_worker).pending_children;
      auto pin = pins.find(child);
      if (pin == pins.end()) {
        report.Fail(W(c.parent_worker) + " forked child " + Id(child) + " of RRef " + Id(c.rref) +
                    " but does not hold its parent in pendingChildren_ until the child's RREF_CHILD_ACCEPT");
        awaiting.erase(it);  // reported once
      } else {
        c.parent_fork = pin->second;
      }
    }
    unresolved_.clear();
  }
  // The children awaiting their RREF_CHILD_ACCEPT with their parents' pins (a delete of a pinned parent is
  // reported), the children reported, and the step's new children (scratch).
  void Fingerprint(core::StateHasher& h) const override {
    memory_.Fingerprint(h, [](core::StateHasher& e, const Memory& m) {
      MixEach(e, m.awaiting, [](core::StateHasher& f, const std::pair<const core::ForkId, Child>& entry) {
        f.Mix(entry.first);
        MixWorker(f, entry.second.parent_worker);
        f.Mix(entry.second.rref);
        f.Mix(entry.second.parent_fork.has_value() ? 1 : 0);
        if (entry.second.parent_fork) f.Mix(*entry.second.parent_fork);
      });
      MixEach(e, m.reported, [](core::StateHasher& f, const core::ForkId& fork) { f.Mix(fork); });
    });
    MixEach(h, unresolved_, [](core::StateHasher& e, const core::ForkId& fork) { e.Mix(fork); });
  }

 private:
  struct Child {
    int parent_worker = -1;
    core::RRefId rref;
    std::optional<core::ForkId> parent_fork;  // known from the view at the end of the pickling step
  };
  void CheckDelete(const core::Message& m, Report& report) {
    for (const auto& [child, c] : memory_->awaiting) {
      if (c.parent_worker == m.from && c.parent_fork == m.fork_id && !memory_->reported.contains(child)) {
        // This may copy the memory: the map iterated is then the one the other copies keep alive, equal to ours.
        memory_.Mutable().reported.insert(child);
        report.Fail(W(m.from) + " sent RREF_USER_DELETE for parent " + Id(m.fork_id) + " of RRef " + Id(c.rref) +
                    " before its child " + Id(child) + " was accepted (G2)");
      }
    }
  }

  struct Memory {
    std::map<core::ForkId, Child> awaiting;
    std::set<core::ForkId> reported;  // children whose parent's early delete was reported (once, not per retry)
  };
  SharedMemory<Memory> memory_;
  std::vector<core::ForkId> unresolved_;  // pickled during this step: their pins are read at its end
};

// I4: a user child sends RREF_CHILD_ACCEPT(c) only after the owner processed RREF_FORK_REQUEST(c). (An owner child
// accepts on unpickling, holding the OwnerRRef.)
class ChildConfirmedBeforeAcceptChecker : public CloneableChecker<ChildConfirmedBeforeAcceptChecker> {
 public:
  const char* id() const override { return "child_confirmed_before_accept"; }
  void OnRecord(const StepRecord& r, const Facts& facts, const GlobalView&, Report& report) override {
    if (!Emits(r, core::MessageType::RREF_CHILD_ACCEPT)) return;
    const core::Message& m = *r.message;
    const core::ForkData* fork = facts.Fork(m.fork_id);
    if (fork == nullptr || fork->owner == m.from || facts.ForkRequestProcessed(m.fork_id)) return;
    if (reported_->contains(m.fork_id)) return;
    reported_.Mutable().insert(m.fork_id);
    report.Fail(W(m.from) + " sent RREF_CHILD_ACCEPT for child " + Id(m.fork_id) + " of RRef " + Id(fork->rref_id) +
                " before owner " + W(fork->owner) + " processed its RREF_FORK_REQUEST");
  }
  // The children reported (once each); the rest it reads from the Facts, which the set mixes.
  void Fingerprint(core::StateHasher& h) const override {
    reported_.Fingerprint(h, [](core::StateHasher& e, const std::set<core::ForkId>& reported) {
      MixEach(e, reported, [](core::StateHasher& f, const core::ForkId& fork) { f.Mix(fork); });
    });
  }

 private:
  SharedMemory<std::set<core::ForkId>> reported_;
};

// I5: remote()'s own UserRRef (fork a) stays in the creator's pendingUsers_ until the REMOTE_RET or an error for
// that remote() was processed, and sends no RREF_USER_DELETE before. The pin is read at the end of the step that
// sent the REMOTE_CALL, and again after timers fired on the creator (a timeout may have answered the remote()).
class CreatorPinnedChecker : public CloneableChecker<CreatorPinnedChecker> {
 public:
  const char* id() const override { return "creator_pinned_until_ack"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report& report) override {
    const core::Message* m = r.message;
    // A dropped REMOTE_CALL is outstanding until its timeout; a refused one is answered at once by the send error.
    // One without a payload creates nothing: a TensorPipe retry after a written attempt (which registered it), or
    // hardened mode's cancel of a withdrawn remote() (whose creator already let its UserRRef go).
    bool outgoing = r.kind == RecordKind::kSend || r.kind == RecordKind::kDrop;
    if (outgoing && IsRemoteCall(m->type) && m->to != m->from && !m->empty_payload) {
      if (!awaiting_->contains(m->fork_id)) {
        awaiting_.Mutable().emplace(m->fork_id, Creation{m->from, m->to, m->rref_id, m->id, false, false});
      }
    } else if (r.kind == RecordKind::kDeliver && !m->empty_payload) {
      for (const auto& [fork, c] : *awaiting_) {
        bool answered = (m->type == core::MessageType::REMOTE_RET && fork == m->fork_id) ||
                        (m->type == core::MessageType::EXCEPTION && c.request == m->id);
        if (answered && c.creator == r.worker) {
          const core::ForkId key = fork;  // the copy below may leave `fork` in the other copies' map
          awaiting_.Mutable().erase(key);
          break;
        }
      }
    } else if (r.kind == RecordKind::kTimers && r.text == "timeouts") {  // the agent's timeouts (not its retries)
      const auto fires = [&r](const auto& entry) {
        return entry.second.creator == r.worker && !entry.second.timers_fired;
      };
      if (std::any_of(awaiting_->begin(), awaiting_->end(), fires)) {
        for (auto& [fork, c] : awaiting_.Mutable()) c.timers_fired |= c.creator == r.worker;
      }
    } else if (Emits(r, core::MessageType::RREF_USER_DELETE)) {
      auto it = awaiting_->find(m->fork_id);
      if (it != awaiting_->end() && it->second.creator == m->from && !it->second.timers_fired) {
        report.Fail(W(m->from) + " sent RREF_USER_DELETE for its remote() UserRRef " + Id(m->fork_id) + " of RRef " +
                    Id(it->second.rref) + " before the REMOTE_RET or an error arrived");
        awaiting_.Mutable().erase(m->fork_id);
      }
    }
  }
  // Each remote() whose pin is read at this step's end: new (not yet verified) or its creator's timers fired. The
  // others are left alone, so a step that reads none leaves the memory shared.
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    const auto to_read = [](const auto& entry) { return !entry.second.verified || entry.second.timers_fired; };
    if (std::none_of(awaiting_->begin(), awaiting_->end(), to_read)) return;
    std::map<core::ForkId, Creation>& awaiting = awaiting_.Mutable();
    for (auto it = awaiting.begin(); it != awaiting.end();) {
      Creation& c = it->second;
      bool erase = false;
      if ((!c.verified || c.timers_fired) && Running(view, c.creator)) erase = CheckPinned(view, it->first, c, report);
      c.verified = true;
      c.timers_fired = false;
      it = erase ? awaiting.erase(it) : std::next(it);
    }
  }
  // The remote() calls not yet answered, with what was checked of their pins (timers_fired and verified are reset
  // and set at every step's end, but mixed all the same).
  void Fingerprint(core::StateHasher& h) const override {
    awaiting_.Fingerprint(h, [](core::StateHasher& e, const std::map<core::ForkId, Creation>& awaiting) {
      MixEach(e, awaiting, [](core::StateHasher& f, const std::pair<const core::ForkId, Creation>& entry) {
        const Creation& c = entry.second;
        f.Mix(entry.first);
        MixWorker(f, c.creator);
        MixWorker(f, c.owner);
        f.Mix(c.rref);
        f.Mix(static_cast<std::uint64_t>(c.request));  // the creator's message id (in the world's state too)
        f.Mix((c.timers_fired ? 1 : 0) | (c.verified ? 2 : 0));
      });
    });
  }

 private:
  struct Creation {
    int creator = -1;
    int owner = -1;
    core::RRefId rref;
    std::int64_t request = 0;  // the remote()'s request id, answered by REMOTE_RET or EXCEPTION
    bool timers_fired = false;  // a timeout may have answered it during this step
    bool verified = false;      // its pin was read at the end of the sending step
  };
  // Returns true when the remote() is no longer outstanding (a timeout answered it).
  bool CheckPinned(const GlobalView& view, const core::ForkId& fork, const Creation& c, Report& report) {
    const core::ContextView& v = view.worker(c.creator);
    bool outstanding = std::any_of(v.requests.begin(), v.requests.end(),
                                   [&](const core::RequestView& q) { return q.id == c.request; });
    if (!outstanding) return c.timers_fired;
    if (std::find(v.pending_users.begin(), v.pending_users.end(), fork) == v.pending_users.end()) {
      report.Fail(W(c.creator) + " no longer holds its remote() UserRRef " + Id(fork) + " of RRef " + Id(c.rref) +
                  " in pendingUsers_ although the REMOTE_RET has not arrived");
      return true;
    }
    return false;
  }

  SharedMemory<std::map<core::ForkId, Creation>> awaiting_;
};

// I6: a user function runs only after every user->user child unpickled from its request is confirmed by the owner.
class UdfRunsAfterArgsConfirmedChecker : public CloneableChecker<UdfRunsAfterArgsConfirmedChecker> {
 public:
  const char* id() const override { return "udf_runs_after_args_confirmed"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report&) override {
    if (r.kind != RecordKind::kEvent) return;
    if (const auto* run = std::get_if<core::RunFunction>(r.event)) {
      runs_.push_back(Run{r.worker, run->function, run->args.rrefs});
    }
  }
  void AfterStep(const Facts& facts, const GlobalView& view, Report& report) override {
    for (const Run& run : runs_) {
      const core::ContextView& v = view.worker(run.worker);
      for (core::Handle h : run.args) {
        auto u = std::find_if(v.users.begin(), v.users.end(), [h](const core::UserRRefView& x) { return x.handle == h; });
        if (u == v.users.end()) continue;
        const core::ForkData* fork = facts.Fork(u->fork_id);
        if (fork == nullptr || fork->parent == fork->owner || facts.ForkRequestProcessed(u->fork_id)) continue;
        report.Fail(W(run.worker) + " started " + run.function + " while its argument " + Id(u->fork_id) +
                    " of RRef " + Id(u->rref_id) + " (a child of " + W(fork->parent) +
                    ") was not yet confirmed by owner " + W(fork->owner));
      }
    }
    runs_.clear();
  }
  // Scratch only: the functions started during the step, checked and cleared at its end.
  void Fingerprint(core::StateHasher& h) const override {
    MixEach(h, runs_, [](core::StateHasher& e, const Run& run) {
      MixWorker(e, run.worker);
      e.Mix(run.function);
      for (core::Handle arg : run.args) e.Mix(arg.id);
      e.Mix(static_cast<std::uint64_t>(run.args.size()));
    });
  }

 private:
  struct Run {
    int worker;
    std::string function;
    std::vector<core::Handle> args;
  };
  std::vector<Run> runs_;
};

}  // namespace

std::unique_ptr<Checker> MakeParentPinned() { return std::make_unique<ParentPinnedChecker>(); }
std::unique_ptr<Checker> MakeChildConfirmedBeforeAccept() {
  return std::make_unique<ChildConfirmedBeforeAcceptChecker>();
}
std::unique_ptr<Checker> MakeCreatorPinned() { return std::make_unique<CreatorPinnedChecker>(); }
std::unique_ptr<Checker> MakeUdfRunsAfterArgsConfirmed() {
  return std::make_unique<UdfRunsAfterArgsConfirmedChecker>();
}

}  // namespace rrefsim::checkers::detail
