// The built-in scenarios, in PyTorch's shapes (rref-protocol.md §5, rref-cases.md §1), written with the
// simulator's script API. The JSON catalog of the scenario issue replaces these definitions with files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rrefsim/sim/scenario.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::scenarios {

struct CatalogEntry {
  std::string name;
  std::string summary;     // one line: what it exercises and the PyTorch test it mirrors
  std::string faults;      // the fault profile it is meant for ("reorder" unless it says otherwise)
  sim::Scenario scenario;
  // The scenario's own fault settings, KEY=VALUE. Precedence: the profile's defaults, then these, then the command
  // line's --fault overrides.
  std::vector<std::string> fault_overrides;
  sim::Outcome expected = sim::Outcome::kOk;  // what a correct simulation of PyTorch must end with
  std::vector<std::string> expected_protocol_errors;  // assertion codes (rref-protocol.md §6) it expects, e.g. "A6"
  // Checker ids it trips through a documented PyTorch defect (the summary names the rref-cases.md P-id).
  std::vector<std::string> expected_violations;
};

const std::vector<CatalogEntry>& Catalog();
const CatalogEntry* FindScenario(const std::string& name);

}  // namespace rrefsim::scenarios
