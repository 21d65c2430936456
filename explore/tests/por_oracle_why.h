// Why the steps that an online search would take for persistent singletons are not: for each step that commutes with
// every step enabled beside it (all an online search can test on the copied world at hand) but is not a persistent
// singleton on the graph, the first step on a path that avoids it (breadth first) that fails to commute with it
// there, and where that step came from. What an online reduction would have to foresee (docs/explore.md, session 11).
// Also the kinds of step at different workers that fail to commute, which no relation between workers can see.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "por_oracle.h"

namespace rrefsim::explore::test_support {

// Where the step that breaks a singleton {t} at state s comes from, seen from s.
enum class BreakerOrigin {
  kOtherWorker,   // it acts on another worker than t
  kEnabledAtS,    // it was enabled at s beside t, and commuted with t there: t's worker has changed since
  kArrivedLater,  // a delivery to t's worker of a message not in flight at s
  kWokenLater,    // a step of a fiber at t's worker that could not run at s
};

inline const char* BreakerOriginName(BreakerOrigin origin) {
  switch (origin) {
    case BreakerOrigin::kOtherWorker:
      return "at another worker";
    case BreakerOrigin::kEnabledAtS:
      return "enabled beside it, later";
    case BreakerOrigin::kArrivedLater:
      return "a message sent later";
    case BreakerOrigin::kWokenLater:
      return "a fiber woken later";
  }
  return "?";
}

struct Breakers {
  std::uint64_t persistent = 0;  // locally commuting singletons that are persistent
  std::uint64_t broken = 0;      // and those that are not
  // (origin, t's kind, the breaker's kind) -> how many broken singletons it broke first
  std::map<std::tuple<BreakerOrigin, std::uint32_t, std::uint32_t>, std::uint64_t> by_kind;
  // steps after s before the breaker -> how many broken singletons
  std::map<std::uint32_t, std::uint64_t> by_depth;
};

namespace por_oracle_detail {

inline BreakerOrigin OriginOf(const StateGraph& graph, std::uint32_t s, const GraphEdge& t, const GraphEdge& x) {
  if (x.worker != t.worker) return BreakerOrigin::kOtherWorker;
  if (graph.Find(s, x.identity) != nullptr) return BreakerOrigin::kEnabledAtS;
  return graph.kinds()[x.kind] == "fiber" ? BreakerOrigin::kWokenLater : BreakerOrigin::kArrivedLater;
}

struct Breaker {
  const GraphEdge* step = nullptr;
  std::uint32_t depth = 0;  // steps taken after s before it
};

// The first step, breadth first along paths from s that avoid t, that does not commute with t under `oracle`'s
// relation; no step when there is none (then {t} is persistent).
inline Breaker FirstBreaker(const StateGraph& graph, const PersistenceOracle& oracle, std::uint32_t s,
                            const GraphEdge& t) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> queue{{s, 0}};  // (state, depth)
  std::set<std::uint32_t> seen{s};
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const auto [u, depth] = queue[head];
    const GraphEdge* t_here = graph.Find(u, t.identity);  // enabled: each step taken so far commuted with t
    for (const GraphEdge& x : graph.nodes()[u].edges) {
      if (x.identity == t.identity) continue;
      if (!oracle.Commute(*t_here, x)) return Breaker{&x, depth};
      if (seen.insert(x.to).second) queue.emplace_back(x.to, depth + 1);
    }
  }
  return Breaker{};
}

}  // namespace por_oracle_detail

inline Breakers WhyNotPersistent(const StateGraph& graph, PersistenceOracle& oracle) {
  Breakers breakers;
  const std::vector<GraphNode>& nodes = graph.nodes();
  for (std::uint32_t s = 0; s < nodes.size(); ++s) {
    const std::vector<GraphEdge>& edges = nodes[s].edges;
    if (edges.size() < 2) continue;
    for (const GraphEdge& t : edges) {
      bool commutes_beside = true;
      for (const GraphEdge& x : edges) commutes_beside = commutes_beside && (&x == &t || oracle.Commute(t, x));
      if (!commutes_beside) continue;
      if (oracle.Persistent(s, {t.identity})) {  // memoized: the search below would walk all of s's future
        ++breakers.persistent;
        continue;
      }
      const por_oracle_detail::Breaker x = por_oracle_detail::FirstBreaker(graph, oracle, s, t);
      if (x.step == nullptr) throw std::logic_error("por oracle: a singleton that is not persistent has no breaker");
      ++breakers.broken;
      ++breakers.by_kind[{por_oracle_detail::OriginOf(graph, s, t, *x.step), t.kind, x.step->kind}];
      ++breakers.by_depth[x.depth];
    }
  }
  return breakers;
}

// The pairs of kinds of step at different workers that fail to commute somewhere in the graph (both enabled at a
// state, and the two orders do not reach one node), each pair of kinds once, with how many pairs of steps, over all
// states, fail so. Steps at two
// workers touch no common state; what ties them is the world's shared parts (barriers, the shutdown's join) and
// the checkers' reads of other workers.
inline std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> CrossWorkerDependence(
    const StateGraph& graph) {
  PersistenceOracle context(graph, Independence::kContext);
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> pairs;
  for (const GraphNode& node : graph.nodes()) {
    for (const GraphEdge& t : node.edges) {
      for (const GraphEdge& x : node.edges) {
        if (t.worker == x.worker || t.identity > x.identity || context.Commute(t, x)) continue;
        ++pairs[{std::min(t.kind, x.kind), std::max(t.kind, x.kind)}];
      }
    }
  }
  return pairs;
}

}  // namespace rrefsim::explore::test_support
