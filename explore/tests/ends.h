// Test helpers shared by the explorer's tests: catalog lookup, and a run's end in brief, to compare what searches
// reach.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::test_support {

inline const scenarios::CatalogEntry& Entry(const std::string& name) {
  const scenarios::CatalogEntry* e = scenarios::FindScenario(name);
  if (e == nullptr) throw std::logic_error("no scenario " + name);
  return *e;
}

// A run's end, by what it ended with: outcome, every worker's final view and the observations (sorted: the order
// of two workers' observations is a schedule, not a state).
inline std::string EndOf(const scenarios::CheckedRun& checked) {
  std::string text = sim::OutcomeName(checked.run.outcome);
  for (const core::ContextView& v : checked.run.final_views) {
    text += "|w" + std::to_string(v.worker) + " owners=" + std::to_string(v.owners.size()) +
            " users=" + std::to_string(v.users.size()) + " forks=" + std::to_string(v.debug.num_forks) +
            " calls=" + std::to_string(v.client_active_calls) + (v.destroyed ? " destroyed" : "");
  }
  std::vector<std::string> seen;
  for (const sim::Observation& o : checked.run.observations) seen.push_back(o.where + ": " + o.what);
  std::sort(seen.begin(), seen.end());
  for (const std::string& s : seen) text += "|" + s;
  return text;
}

}  // namespace rrefsim::explore::test_support
