#include "counters.h"

#include <optional>
#include <string>

#include "world_impl.h"

namespace rrefsim::sim::detail {
namespace {

std::string Describe(const core::DebugInfo& d) {
  return "owners=" + std::to_string(d.num_owner_rrefs) + " forks=" + std::to_string(d.num_forks) +
         " pending_users=" + std::to_string(d.num_pending_users) +
         " pending_futures=" + std::to_string(d.num_pending_futures);
}

// The counters an expectation sets, in Describe's words, when any of them differs from `d` ("" when all match).
std::string Mismatch(const CounterExpectation& e, const core::DebugInfo& d) {
  std::string expected;
  bool differs = false;
  auto check = [&](const char* name, const std::optional<std::int64_t>& want, std::int64_t got) {
    if (!want) return;
    expected += (expected.empty() ? "" : " ") + std::string(name) + "=" + std::to_string(*want);
    differs = differs || *want != got;
  };
  check("owners", e.owners, d.num_owner_rrefs);
  check("forks", e.forks, d.num_forks);
  check("pending_users", e.pending_users, d.num_pending_users);
  check("pending_futures", e.pending_futures, d.num_pending_futures);
  return differs ? expected : "";
}

bool Concerns(const CounterExpectation& e, int worker, int barrier, int final_barrier) {
  int number = e.barrier == CounterExpectation::kFinal ? final_barrier : e.barrier;
  return e.worker == worker && number == barrier;
}

}  // namespace

void RecordCounters(World& world, int barrier) {
  const Scenario& s = world.scenario();
  // "final" is only allowed when every program has the same number of top-level barriers (Validate).
  const int final_barrier = TopLevelBarriers(s.programs.front());
  for (int w = 0; w < world.workers(); ++w) {
    const core::Worker& core = world.host(w).core;
    if (core.aborted()) continue;
    const core::DebugInfo d = core.GetDebugInfo();
    std::string what = Describe(d);
    bool ok = true;
    for (const CounterExpectation& e : s.counters) {
      if (!Concerns(e, w, barrier, final_barrier)) continue;
      if (std::string expected = Mismatch(e, d); !expected.empty()) {
        what += " (expected " + expected + (world.config().own_faults ? ")" : "; not judged under other faults)");
        ok = !world.config().own_faults;
      }
    }
    world.Record({w, "barrier " + std::to_string(barrier) + " debug", what, ok});
  }
}

}  // namespace rrefsim::sim::detail
