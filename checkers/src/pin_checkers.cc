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
        if (awaiting_.try_emplace(f.fork_id, Child{m.from, f.rref_id, {}}).second) unresolved_.push_back(f.fork_id);
      }
      if (m.type == core::MessageType::RREF_USER_DELETE) CheckDelete(m, report);
    } else if (Delivers(r, core::MessageType::RREF_CHILD_ACCEPT)) {
      auto it = awaiting_.find(r.message->fork_id);
      if (it != awaiting_.end() && it->second.parent_worker == r.worker) awaiting_.erase(it);
    }
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    for (const core::ForkId& child : unresolved_) {
      auto it = awaiting_.find(child);
      if (it == awaiting_.end() || !Running(view, it->second.parent_worker)) continue;
      Child& c = it->second;
      const auto& pins = view.worker(c.parent_worker).pending_children;
      auto pin = pins.find(child);
      if (pin == pins.end()) {
        report.Fail(W(c.parent_worker) + " forked child " + Id(child) + " of RRef " + Id(c.rref) +
                    " but does not hold its parent in pendingChildren_ until the child's RREF_CHILD_ACCEPT");
        awaiting_.erase(it);  // reported once
      } else {
        c.parent_fork = pin->second;
      }
    }
    unresolved_.clear();
  }
  // The children awaiting their RREF_CHILD_ACCEPT with their parents' pins (a delete of a pinned parent is
  // reported), the children reported, and the step's new children (scratch).
  void Fingerprint(core::StateHasher& h) const override {
    MixEach(h, awaiting_, [](core::StateHasher& e, const std::pair<const core::ForkId, Child>& entry) {
      e.Mix(entry.first);
      MixWorker(e, entry.second.parent_worker);
      e.Mix(entry.second.rref);
      e.Mix(entry.second.parent_fork.has_value() ? 1 : 0);
      if (entry.second.parent_fork) e.Mix(*entry.second.parent_fork);
    });
    MixEach(h, unresolved_, [](core::StateHasher& e, const core::ForkId& fork) { e.Mix(fork); });
    MixEach(h, reported_, [](core::StateHasher& e, const core::ForkId& fork) { e.Mix(fork); });
  }

 private:
  struct Child {
    int parent_worker = -1;
    core::RRefId rref;
    std::optional<core::ForkId> parent_fork;  // known from the view at the end of the pickling step
  };
  void CheckDelete(const core::Message& m, Report& report) {
    for (const auto& [child, c] : awaiting_) {
      if (c.parent_worker == m.from && c.parent_fork == m.fork_id && reported_.insert(child).second) {
        report.Fail(W(m.from) + " sent RREF_USER_DELETE for parent " + Id(m.fork_id) + " of RRef " + Id(c.rref) +
                    " before its child " + Id(child) + " was accepted (G2)");
      }
    }
  }

  std::map<core::ForkId, Child> awaiting_;
  std::vector<core::ForkId> unresolved_;  // pickled during this step: their pins are read at its end
  std::set<core::ForkId> reported_;       // children whose parent's early delete was reported (once, not per retry)
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
    if (!reported_.insert(m.fork_id).second) return;
    report.Fail(W(m.from) + " sent RREF_CHILD_ACCEPT for child " + Id(m.fork_id) + " of RRef " + Id(fork->rref_id) +
                " before owner " + W(fork->owner) + " processed its RREF_FORK_REQUEST");
  }
  // The children reported (once each); the rest it reads from the Facts, which the set mixes.
  void Fingerprint(core::StateHasher& h) const override {
    MixEach(h, reported_, [](core::StateHasher& e, const core::ForkId& fork) { e.Mix(fork); });
  }

 private:
  std::set<core::ForkId> reported_;
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
      awaiting_.try_emplace(m->fork_id, Creation{m->from, m->to, m->rref_id, m->id, false, false});
    } else if (r.kind == RecordKind::kDeliver && !m->empty_payload) {
      for (auto it = awaiting_.begin(); it != awaiting_.end(); ++it) {
        bool answered = (m->type == core::MessageType::REMOTE_RET && it->first == m->fork_id) ||
                        (m->type == core::MessageType::EXCEPTION && it->second.request == m->id);
        if (answered && it->second.creator == r.worker) {
          awaiting_.erase(it);
          break;
        }
      }
    } else if (r.kind == RecordKind::kTimers && r.text == "timeouts") {  // the agent's timeouts (not its retries)
      for (auto& [fork, c] : awaiting_) c.timers_fired |= c.creator == r.worker;
    } else if (Emits(r, core::MessageType::RREF_USER_DELETE)) {
      auto it = awaiting_.find(m->fork_id);
      if (it != awaiting_.end() && it->second.creator == m->from && !it->second.timers_fired) {
        report.Fail(W(m->from) + " sent RREF_USER_DELETE for its remote() UserRRef " + Id(m->fork_id) + " of RRef " +
                    Id(it->second.rref) + " before the REMOTE_RET or an error arrived");
        awaiting_.erase(it);
      }
    }
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    for (auto it = awaiting_.begin(); it != awaiting_.end();) {
      Creation& c = it->second;
      bool erase = false;
      if ((!c.verified || c.timers_fired) && Running(view, c.creator)) erase = CheckPinned(view, it->first, c, report);
      c.verified = true;
      c.timers_fired = false;
      it = erase ? awaiting_.erase(it) : std::next(it);
    }
  }
  // The remote() calls not yet answered, with what was checked of their pins (timers_fired and verified are reset
  // and set at every step's end, but mixed all the same).
  void Fingerprint(core::StateHasher& h) const override {
    MixEach(h, awaiting_, [](core::StateHasher& e, const std::pair<const core::ForkId, Creation>& entry) {
      const Creation& c = entry.second;
      e.Mix(entry.first);
      MixWorker(e, c.creator);
      MixWorker(e, c.owner);
      e.Mix(c.rref);
      e.Mix(static_cast<std::uint64_t>(c.request));  // the creator's message id (in the world's state too)
      e.Mix((c.timers_fired ? 1 : 0) | (c.verified ? 2 : 0));
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

  std::map<core::ForkId, Creation> awaiting_;
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
