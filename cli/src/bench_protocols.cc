// Wall-clock time is measured here (std::chrono::steady_clock) only around whole runs; the runs themselves see
// virtual time only.
#include "bench_protocols.h"

#include <chrono>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::cli {
namespace {

ModeTotals RunAll(core::ProtocolMode mode, std::uint64_t seeds) {
  sim::RunConfig config;  // the reorder profile
  config.mode = mode;
  ModeTotals t;
  auto start = std::chrono::steady_clock::now();
  for (const scenarios::CatalogEntry& e : scenarios::Catalog()) {
    // Only scenarios that end normally in PyTorch: a documented hang (pool_exhaustion) runs to the time bound in
    // hardened mode, resending all the while, which is a hang, not a cost.
    if (e.expected != sim::Outcome::kOk) continue;
    for (std::uint64_t seed = 0; seed < seeds; ++seed) {
      sim::RandomChooser chooser(seed);
      sim::RunResult r = sim::Run(e.scenario, config, chooser);
      t.messages += r.messages_sent;
      t.virtual_seconds += static_cast<double>(r.end_time) / static_cast<double>(core::kSecond);
      ++t.runs;
    }
  }
  t.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

}  // namespace

ProtocolCost MeasureProtocolCost(std::uint64_t seeds) {
  if (seeds == 0) return {};
  return {RunAll(core::ProtocolMode::kPytorch, seeds), RunAll(core::ProtocolMode::kHardened, seeds)};
}

}  // namespace rrefsim::cli
