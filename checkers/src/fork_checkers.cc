// The fork tree: unique_fork_ids (I1) and fork_tree_rooted_at_owner (rref-protocol.md §7).
#include <algorithm>
#include <map>
#include <set>

#include "checkers_impl.h"

namespace rrefsim::checkers::detail {
namespace {

// I1: at most one live UserRRef instance per ForkId, and never a UserRRef on its own owner. Keeps each worker's
// live forks and re-reads only the workers a step changed.
class UniqueForkIdsChecker : public CloneableChecker<UniqueForkIdsChecker> {
 public:
  const char* id() const override { return "unique_fork_ids"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report&) override {
    if (MayChangeUsers(r)) touched_.Mark(r.worker);
  }
  void AfterStep(const Facts&, const GlobalView& view, Report& report) override {
    if (!touched_.any()) return;
    for (int w = 0; w < view.workers(); ++w) {
      if (touched_(w)) Refresh(view, w, report);
    }
    touched_.Clear();
  }
  // Each worker's fork ids as last read, and the counts they add up to: whether a fork already lives elsewhere
  // decides a later report. `last` is kept in the users' order (by handle, which a renaming of workers keeps).
  void Fingerprint(core::StateHasher& h) const override {
    memory_.Fingerprint(h, [](core::StateHasher& e, const Memory& m) {
      MixPerWorker(e, m.live, [](core::StateHasher& f, const std::multiset<core::ForkId>& forks) {
        MixEach(f, forks, [](core::StateHasher& g, const core::ForkId& fork) { g.Mix(fork); });
      });
      MixPerWorker(e, m.last, MixIds);
      MixEach(e, m.count, [](core::StateHasher& f, const std::pair<const core::ForkId, int>& entry) {
        f.Mix(entry.first);
        f.Mix(static_cast<std::uint64_t>(entry.second));
      });
    });
    touched_.Fingerprint(h);
  }

 private:
  struct Memory {
    std::vector<std::multiset<core::ForkId>> live;  // per worker: the fork ids of its instances, as last read
    std::vector<std::vector<core::ForkId>> last;
    std::map<core::ForkId, int> count;
  };
  // The instances `v` shows are those last read (a worker never read counts as holding none).
  static bool AsLastRead(const Memory& m, int w, const core::ContextView& v) {
    static const std::vector<core::ForkId> kNone;
    const std::vector<core::ForkId>& seen =
        static_cast<std::size_t>(w) < m.last.size() ? m.last[static_cast<std::size_t>(w)] : kNone;
    return seen.size() == v.users.size() &&
           std::equal(seen.begin(), seen.end(), v.users.begin(),
                      [](const core::ForkId& f, const core::UserRRefView& u) { return f == u.fork_id; });
  }
  void Refresh(const GlobalView& view, int w, Report& report) {
    const core::ContextView& v = view.worker(w);
    if (AsLastRead(*memory_, w, v) && !v.aborted) return;  // the same instances as last time
    Memory& m = memory_.Mutable();
    if (m.live.size() < static_cast<std::size_t>(view.workers())) {
      m.live.resize(static_cast<std::size_t>(view.workers()));
      m.last.resize(m.live.size());
    }
    std::vector<core::ForkId>& seen = m.last[static_cast<std::size_t>(w)];
    seen.clear();
    for (const core::UserRRefView& u : v.users) seen.push_back(u.fork_id);
    std::multiset<core::ForkId>& mine = m.live[static_cast<std::size_t>(w)];
    for (const core::ForkId& f : mine) --m.count[f];
    mine.clear();
    if (v.aborted) return;  // a dead process holds nothing
    for (const core::UserRRefView& u : v.users) {
      if (u.owner == w) {
        report.Fail(W(w) + " holds a UserRRef " + Id(u.fork_id) + " of its own RRef " + Id(u.rref_id));
      }
      mine.insert(u.fork_id);
      if (++m.count[u.fork_id] == 2) {
        report.Fail("two live UserRRef instances share fork " + Id(u.fork_id) + " of RRef " + Id(u.rref_id) +
                    " (one on " + W(w) + ")");
      }
    }
  }

  SharedMemory<Memory> memory_;
  Touched touched_;
};

// Every fork is pickled by its parent, which is the owner or a live user of the RRef, and a fork id names one edge
// of one tree: the same id never travels with another RRef, owner or parent.
class ForkTreeRootedChecker : public CloneableChecker<ForkTreeRootedChecker> {
 public:
  const char* id() const override { return "fork_tree_rooted_at_owner"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView& view, Report& report) override {
    if (r.kind != RecordKind::kSend) return;
    const core::Message& m = *r.message;
    for (const core::ForkData& f : m.value.rrefs) Check(f, m.from, false, view, report);
    if (IsRemoteCall(m.type)) {  // remote()'s own UserRRef, made by the creator (§7 hangs it under the owner)
      Check(core::ForkData{m.to, m.rref_id, m.fork_id, m.from, m.type_str}, m.from, true, view, report);
    }
  }
  // Every fork id that travelled, with the edge it first named: a later message naming another edge is reported.
  void Fingerprint(core::StateHasher& h) const override {
    edges_.Fingerprint(h, [](core::StateHasher& e, const std::map<core::ForkId, core::ForkData>& edges) {
      MixEach(e, edges, [](core::StateHasher& f, const auto& entry) { MixFork(f, entry.second); });
    });
  }

 private:
  void Check(const core::ForkData& f, int sender, bool creator, const GlobalView& view, Report& report) {
    if (auto it = edges_->find(f.fork_id); it != edges_->end()) {
      const core::ForkData& first = it->second;
      if (first.rref_id != f.rref_id || first.owner != f.owner || first.parent != f.parent) {
        report.Fail("fork " + Id(f.fork_id) + " travels as a child of " + W(f.parent) + " for RRef " +
                    Id(f.rref_id) + ", but first travelled as a child of " + W(first.parent) + " for RRef " +
                    Id(first.rref_id));
      }
      return;
    }
    edges_.Mutable().emplace(f.fork_id, f);
    if (f.parent != sender || f.fork_id.created_on != sender) {
      report.Fail("fork " + Id(f.fork_id) + " of RRef " + Id(f.rref_id) + " was pickled by " + W(sender) +
                  " but names " + W(f.parent) + " as its parent");
      return;
    }
    if (f.parent == f.owner || creator || sender < 0 || sender >= view.workers()) return;
    bool holds = false;
    for (const core::UserRRefView& u : view.worker(sender).users) holds = holds || u.rref_id == f.rref_id;
    if (!holds) {
      report.Fail(W(sender) + " forked " + Id(f.fork_id) + " of RRef " + Id(f.rref_id) +
                  " without holding a UserRRef of it: the fork has no parent in the tree rooted at owner " +
                  W(f.owner));
    }
  }

  SharedMemory<std::map<core::ForkId, core::ForkData>> edges_;
};

}  // namespace

std::unique_ptr<Checker> MakeUniqueForkIds() { return std::make_unique<UniqueForkIdsChecker>(); }
std::unique_ptr<Checker> MakeForkTreeRooted() { return std::make_unique<ForkTreeRootedChecker>(); }

}  // namespace rrefsim::checkers::detail
