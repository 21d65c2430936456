// A measurement, not a search: the whole state graph of a small scenario, and how few of its states a sound
// persistent-set reduction could explore if it knew that graph in full (docs/explore.md, "What a sound reduction
// could reach, measured with perfect knowledge", session 10).
//
// The graph is the explorer's product of the world and the checkers' memory (and a test's own invariant's), keyed as
// the explorer keys a state, under reorder only (no faults), with every step a choice of its own
// (RunConfig::every_step_is_a_choice), so that an edge is one step. A step is named across states by
// sim::StepIdentity (a fiber by its name, a delivery by the message's content and time to arrival, which stays put:
// delays are zero, and time moves only when nothing is enabled), and Build refuses a state where two steps share
// one. An edge into a run's end leads to an end node keyed by where the run ended: the world, the memories, the
// outcome and the checkers that fired.
//
// A set T of steps enabled at s is persistent (Godefroid) when every step x outside T that can follow on a path from
// s that takes no step of T commutes with every step of T there, under the relation chosen:
// - kContext: the two orders reach the same node (the diamond, checked on the graph), the weakest sound condition;
// - kKind: also, when both act on one worker, their kinds (message type and route, or "fiber") are never found not
//   to commute anywhere in this graph: a relation between kinds of step, as a core could declare one;
// - kCatalogKinds: also, when both act on one worker, their message types (or "fiber") are not among the pairs
//   that fail to commute somewhere in the catalog (kCatalogDependentTypes): a relation declared in advance, as a
//   core could declare one, rather than fitted to the graph at hand;
// - kWorker: also, they act on different workers: the explorer's own relation (sim::StepFootprint::Independent).
// A search that takes a persistent set where there is one and every step elsewhere reaches every end node
// (Godefroid); the reduced count is what one such search visits: the first persistent set of the fewest steps, up to
// a bound, in option order. Other choices give other counts, so the figures are one greedy search's, not minima.
// The persistence check recurses along paths and needs the graph to be acyclic (every catalog scenario's is: a
// send takes a fresh id, and programs have no loops); it throws on a cycle.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "audit_steps.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/core/message.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/stepped_run.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::test_support {

struct GraphEdge {
  std::uint64_t identity = 0;  // sim::StepIdentity
  std::uint32_t to = 0;
  int worker = -1;             // sim::StepWorker
  std::uint32_t kind = 0;      // StateGraph::kinds(): "MESSAGE_TYPE from->to", or "fiber"
};

struct GraphNode {
  std::vector<GraphEdge> edges;
  bool end = false;
};

class StateGraph {
 public:
  // Nullopt when the scenario has more than `max_nodes` states.
  static std::optional<StateGraph> Build(const scenarios::CatalogEntry& entry, core::ProtocolMode mode,
                                         std::size_t max_nodes, const ExtraInvariant* extra = nullptr);
  const std::vector<GraphNode>& nodes() const { return nodes_; }
  std::uint32_t root() const { return 0; }
  std::size_t ends() const;
  std::uint64_t transitions() const;
  const GraphEdge* Find(std::uint32_t node, std::uint64_t identity) const;
  // The node of a state that is not an end, by its key (sim::StateFingerprint, the checkers' memory).
  std::optional<std::uint32_t> NodeAt(std::uint64_t world, std::uint64_t memory) const {
    const auto it = ids_.find(std::make_pair(world, memory));
    if (it == ids_.end() || nodes_[it->second].end) return std::nullopt;
    return it->second;
  }
  const std::vector<std::string>& kinds() const { return kinds_; }

 private:
  using Pending = std::vector<std::pair<std::unique_ptr<AuditBranch>, std::uint32_t>>;
  std::vector<GraphEdge> StepsOffered(const AuditBranch& branch);
  std::uint32_t NodeOf(std::unique_ptr<AuditBranch> branch, Pending& stack);
  std::uint32_t KindId(const std::string& kind);
  std::uint32_t Intern(std::uint64_t a, std::uint64_t b, bool end, bool& fresh);

  struct PairHash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& k) const {
      return static_cast<std::size_t>((k.first * 0x9e3779b97f4a7c15ULL) ^ k.second);
    }
  };
  std::vector<GraphNode> nodes_;
  std::vector<std::string> kinds_;
  std::unordered_map<std::string, std::uint32_t> kind_ids_;
  std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, std::uint32_t, PairHash> ids_;
};

enum class Independence {
  kContext,
  kKind,
  kCatalogKinds,
  kWorker,
  kEverything  // unsound: a test's broken relation
};

// The pairs of step types (a message type, or "fiber") that fail to commute at one worker somewhere in the catalog:
// `rrefsim_por_oracle S --kinds` over the 20 catalog scenarios (pytorch mode) whose graphs are built within a
// minute, 2026-11-27, with the routes dropped. Each pair is listed once, in either order.
inline const std::set<std::pair<std::string, std::string>>& CatalogDependentTypes() {
  static const std::set<std::pair<std::string, std::string>> pairs = {
      {"PYTHON_CALL", "PYTHON_REMOTE_CALL"},
      {"PYTHON_CALL", "fiber"},
      {"PYTHON_REMOTE_CALL", "PYTHON_REMOTE_CALL"},
      {"PYTHON_REMOTE_CALL", "PYTHON_RREF_FETCH_CALL"},
      {"PYTHON_REMOTE_CALL", "RREF_FORK_REQUEST"},
      {"REMOTE_RET", "REMOTE_RET"},
      {"REMOTE_RET", "RREF_CHILD_ACCEPT"},
      {"REMOTE_RET", "fiber"},
      {"RREF_ACK", "RREF_ACK"},
      {"RREF_ACK", "fiber"},
      {"RREF_CHILD_ACCEPT", "RREF_CHILD_ACCEPT"},
      {"RREF_CHILD_ACCEPT", "fiber"},
      {"RREF_USER_DELETE", "fiber"},
      {"fiber", "fiber"},
  };
  return pairs;
}

struct Reduced {
  std::uint64_t states = 0;       // nodes the reduced search visits, end nodes included
  std::uint64_t transitions = 0;  // edges it takes
  std::size_t ends = 0;           // end nodes among them
  std::uint64_t reduced_choices = 0;  // states with several steps where a smaller persistent set was taken
  std::uint64_t full_choices = 0;     // states with several steps where none was found
};

class PersistenceOracle {
 public:
  PersistenceOracle(const StateGraph& graph, Independence independence);

  // Whether `x` commutes with `t`, two edges of one node, under the relation: t is still enabled after x, and
  // both orders reach the same node.
  bool Commute(const GraphEdge& t, const GraphEdge& x) const;
  // Whether the steps `set` (identities, sorted) enabled at `s` form a persistent set there.
  bool Persistent(std::uint32_t s, const std::vector<std::uint64_t>& set);
  // The breadth-first search that takes, at each state, the first persistent set of the fewest steps (at most
  // `max_set`; option order) and every step where there is none, or where more than 20 steps are enabled (no
  // catalog scenario's graph has such a state).
  Reduced Reach(std::size_t max_set);
  // Under kKind, the pairs of kinds of step at one worker that fail to commute at some state of the graph; under
  // kCatalogKinds, those whose types CatalogDependentTypes lists. Indices into StateGraph::kinds().
  const std::set<std::pair<std::uint32_t, std::uint32_t>>& dependent_kinds() const { return dependent_kinds_; }

 private:
  void FitKinds();
  void DeclareKinds();
  std::vector<std::size_t> SmallestPersistent(std::uint32_t s, std::size_t max_set);

  const StateGraph& graph_;
  Independence independence_;
  std::set<std::pair<std::uint32_t, std::uint32_t>> dependent_kinds_;
  enum class Memo : char { kInProgress, kNo, kYes };
  std::unordered_map<std::uint64_t, Memo> memo_;
};

namespace por_oracle_detail {

// What kind of step `item` is, for kKind and kCatalogKinds: a delivery by its message's type and route, a fiber's
// step as "fiber".
inline std::string KindOf(const checkers::GlobalView& view, std::uint64_t item) {
  if ((item & kDeliveryItem) == 0) return "fiber";
  const std::uint64_t seq = item & ~kDeliveryItem;
  // Listing the messages counts as a read of every worker in the world's footprint: harmless, the graph does not
  // use footprints.
  std::optional<std::string> kind;
  view.ForEachInFlight([&](const checkers::InFlightMessage& m) {
    if (m.queued || m.seq != seq) return;
    kind = std::string(core::MessageTypeName(m.message->type)) + " " + std::to_string(m.message->from) + "->" +
           std::to_string(m.message->to);
  });
  if (!kind) throw std::logic_error("por oracle: a delivery on offer whose message is not in flight");
  return *kind;
}

inline std::uint64_t Mix(std::uint64_t h, std::uint64_t word) {
  h = (h ^ word) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

inline std::uint64_t MixText(std::uint64_t h, const std::string& text) {
  for (unsigned char c : text) h = Mix(h, c);
  return Mix(h, text.size());
}

// An end node's key: where the run ended, as the independence audit compares two ends.
inline std::uint64_t EndKey(const End& end) {
  std::uint64_t h = Mix(Mix(end.world, end.memory), 0xe7d);
  h = MixText(h, end.outcome);
  for (const std::string& fired : end.fired) h = MixText(h, fired);
  return h;
}

}  // namespace por_oracle_detail

inline std::uint32_t StateGraph::Intern(std::uint64_t a, std::uint64_t b, bool end, bool& fresh) {
  const auto [it, inserted] = ids_.emplace(std::make_pair(a, b), static_cast<std::uint32_t>(nodes_.size()));
  fresh = inserted;
  if (inserted) {
    nodes_.emplace_back();
    nodes_.back().end = end;
  }
  return it->second;
}

// The graph's runs: reorder only, every step a choice of its own. A run keeps a reference to its config, which must
// outlive it.
inline sim::RunConfig GraphConfig(const scenarios::CatalogEntry& entry, core::ProtocolMode mode) {
  sim::RunConfig config;
  std::vector<std::string> overrides = entry.fault_overrides;
  for (std::string& o : ExploreFaultOverrides(Bounds{})) overrides.push_back(std::move(o));
  config.faults = *sim::MakeFaultConfig(entry.faults, overrides).config;
  config.fingerprints = true;
  config.mode = mode;
  config.own_faults = scenarios::RunsUnderOwnFaults(entry, config.faults);
  config.every_step_is_a_choice = true;
  return config;
}

inline std::optional<StateGraph> StateGraph::Build(const scenarios::CatalogEntry& entry, core::ProtocolMode mode,
                                                   std::size_t max_nodes, const ExtraInvariant* extra) {
  const sim::RunConfig config = GraphConfig(entry, mode);
  StateGraph graph;
  auto root = std::make_unique<AuditBranch>(entry.scenario, config, scenarios::CheckerConfigOf(entry, config), extra);
  Pending stack;
  root->Start();  // to the first step choice, or to the end of a run that has none
  graph.NodeOf(std::move(root), stack);
  while (!stack.empty()) {
    auto [branch, id] = std::move(stack.back());
    stack.pop_back();
    std::vector<GraphEdge> edges = graph.StepsOffered(*branch);
    const std::vector<std::uint64_t> items = branch->run().pending_items();
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto next = std::make_unique<AuditBranch>(branch->run(), branch->checkers(), branch->extra());
      next->Take(items[i]);
      edges[i].to = graph.NodeOf(std::move(next), stack);
      if (graph.nodes_.size() > max_nodes) return std::nullopt;
    }
    graph.nodes_[id].edges = std::move(edges);
  }
  return graph;
}

// The edges out of a branch's state, without their targets: each step on offer, named, placed and kinded.
inline std::vector<GraphEdge> StateGraph::StepsOffered(const AuditBranch& branch) {
  std::vector<GraphEdge> edges;
  const checkers::GlobalView& view = branch.run().view();
  for (std::uint64_t item : branch.run().pending_items()) {
    const std::uint64_t identity = sim::StepIdentity(view, item);
    const auto same = [identity](const GraphEdge& e) { return e.identity == identity; };
    if (std::any_of(edges.begin(), edges.end(), same)) {
      throw std::logic_error("por oracle: two steps on offer share one identity: the graph cannot name them");
    }
    edges.push_back(GraphEdge{identity, 0, sim::StepWorker(view, item), KindId(por_oracle_detail::KindOf(view, item))});
  }
  return edges;
}

// The node of the state `branch` stands at: an end node if its run ended, else the state's, which goes on `stack`
// to be expanded the first time it is seen.
inline std::uint32_t StateGraph::NodeOf(std::unique_ptr<AuditBranch> branch, Pending& stack) {
  bool fresh = false;
  if (branch->ended()) return Intern(por_oracle_detail::EndKey(branch->Then(0)), 1, true, fresh);
  const std::uint32_t id = Intern(*sim::StateFingerprint(branch->run().view()), branch->memory(), false, fresh);
  if (fresh) stack.emplace_back(std::move(branch), id);
  return id;
}

inline std::uint32_t StateGraph::KindId(const std::string& kind) {
  const auto [it, inserted] = kind_ids_.emplace(kind, static_cast<std::uint32_t>(kinds_.size()));
  if (inserted) kinds_.push_back(kind);
  return it->second;
}

inline std::size_t StateGraph::ends() const {
  const auto is_end = [](const GraphNode& n) { return n.end; };
  return static_cast<std::size_t>(std::count_if(nodes_.begin(), nodes_.end(), is_end));
}

inline std::uint64_t StateGraph::transitions() const {
  std::uint64_t count = 0;
  for (const GraphNode& n : nodes_) count += n.edges.size();
  return count;
}

inline const GraphEdge* StateGraph::Find(std::uint32_t node, std::uint64_t identity) const {
  for (const GraphEdge& e : nodes_[node].edges) {
    if (e.identity == identity) return &e;
  }
  return nullptr;
}

inline PersistenceOracle::PersistenceOracle(const StateGraph& graph, Independence independence)
    : graph_(graph), independence_(independence) {
  if (independence == Independence::kKind) FitKinds();
  if (independence == Independence::kCatalogKinds) DeclareKinds();
}

// kKind: the pairs of kinds that fail to commute at some state of this graph.
inline void PersistenceOracle::FitKinds() {
  const std::vector<GraphNode>& nodes = graph_.nodes();
  for (std::uint32_t s = 0; s < nodes.size(); ++s) {
    for (const GraphEdge& t : nodes[s].edges) {
      for (const GraphEdge& x : nodes[s].edges) {
        if (t.identity == x.identity || t.worker != x.worker) continue;
        const GraphEdge* xt = graph_.Find(x.to, t.identity);
        const GraphEdge* tx = graph_.Find(t.to, x.identity);
        if (xt == nullptr || tx == nullptr || xt->to != tx->to) dependent_kinds_.insert({t.kind, x.kind});
      }
    }
  }
}

// kCatalogKinds: the pairs of this graph's kinds whose types CatalogDependentTypes lists.
inline void PersistenceOracle::DeclareKinds() {
  const std::vector<std::string>& kinds = graph_.kinds();
  const auto type = [](const std::string& kind) { return kind.substr(0, kind.find(' ')); };
  for (std::uint32_t a = 0; a < kinds.size(); ++a) {
    for (std::uint32_t b = 0; b < kinds.size(); ++b) {
      const std::string first = type(kinds[a]);
      const std::string second = type(kinds[b]);
      if (CatalogDependentTypes().contains({first, second}) || CatalogDependentTypes().contains({second, first})) {
        dependent_kinds_.insert({a, b});
      }
    }
  }
}

inline bool PersistenceOracle::Commute(const GraphEdge& t, const GraphEdge& x) const {
  const GraphEdge* xt = graph_.Find(x.to, t.identity);
  const GraphEdge* tx = graph_.Find(t.to, x.identity);
  if (xt == nullptr || tx == nullptr || xt->to != tx->to) return false;
  if (t.worker != x.worker) return true;
  switch (independence_) {
    case Independence::kContext:
      return true;
    case Independence::kKind:
    case Independence::kCatalogKinds:
      return !dependent_kinds_.contains({t.kind, x.kind});
    default:
      return false;
  }
}

inline bool PersistenceOracle::Persistent(std::uint32_t s, const std::vector<std::uint64_t>& set) {
  if (independence_ == Independence::kEverything) return true;
  std::uint64_t key = por_oracle_detail::Mix(s, set.size());
  for (std::uint64_t id : set) key = por_oracle_detail::Mix(key, id);
  if (const auto it = memo_.find(key); it != memo_.end()) {
    if (it->second == Memo::kInProgress) throw std::logic_error("por oracle: the state graph has a cycle");
    return it->second == Memo::kYes;
  }
  memo_.emplace(key, Memo::kInProgress);
  bool persistent = true;
  for (const GraphEdge& x : graph_.nodes()[s].edges) {
    if (std::binary_search(set.begin(), set.end(), x.identity)) continue;
    for (std::uint64_t id : set) {
      const GraphEdge* t = graph_.Find(s, id);
      // Every member is enabled: at the top by the caller's choice, below because Commute kept it enabled.
      if (t == nullptr) throw std::logic_error("por oracle: a member of a persistent set is not enabled");
      if (!Commute(*t, x)) persistent = false;
    }
    if (!persistent || !Persistent(x.to, set)) {
      persistent = false;
      break;
    }
  }
  memo_[key] = persistent ? Memo::kYes : Memo::kNo;
  return persistent;
}

inline std::vector<std::size_t> PersistenceOracle::SmallestPersistent(std::uint32_t s, std::size_t max_set) {
  const std::vector<GraphEdge>& edges = graph_.nodes()[s].edges;
  const std::size_t k = edges.size();
  if (k > 20) return {};
  for (std::size_t size = 1; size <= max_set && size < k; ++size) {
    for (std::uint32_t mask = 0; mask < (1u << k); ++mask) {
      if (static_cast<std::size_t>(__builtin_popcount(mask)) != size) continue;
      std::vector<std::size_t> members;
      std::vector<std::uint64_t> set;
      for (std::size_t i = 0; i < k; ++i) {
        if ((mask >> i) & 1u) {
          members.push_back(i);
          set.push_back(edges[i].identity);
        }
      }
      std::sort(set.begin(), set.end());
      if (Persistent(s, set)) return members;
    }
  }
  return {};
}

inline Reduced PersistenceOracle::Reach(std::size_t max_set) {
  const std::vector<GraphNode>& nodes = graph_.nodes();
  Reduced reduced;
  std::vector<char> seen(nodes.size(), 0);
  std::vector<std::uint32_t> queue{graph_.root()};
  seen[graph_.root()] = 1;
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const std::uint32_t s = queue[head];
    const std::vector<GraphEdge>& edges = nodes[s].edges;
    std::vector<std::size_t> take = edges.size() > 1 ? SmallestPersistent(s, max_set) : std::vector<std::size_t>{};
    if (edges.size() > 1) ++(take.empty() ? reduced.full_choices : reduced.reduced_choices);
    if (take.empty()) {
      for (std::size_t i = 0; i < edges.size(); ++i) take.push_back(i);
    }
    for (std::size_t i : take) {
      ++reduced.transitions;
      if (seen[edges[i].to] == 0) {
        seen[edges[i].to] = 1;
        queue.push_back(edges[i].to);
      }
    }
  }
  reduced.states = queue.size();
  for (std::uint32_t s : queue) reduced.ends += nodes[s].end ? 1 : 0;
  return reduced;
}

}  // namespace rrefsim::explore::test_support
