// The built-in scenarios: one JSON file each in scenarios/catalog/ (docs/scenario-format.md), compiled into the
// library at build time, in PyTorch's shapes (rref-protocol.md §5, rref-cases.md §1).
#pragma once

#include <string>
#include <vector>

#include "rrefsim/sim/scenario.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::scenarios {

// A result on which real PyTorch 1.13 and the pytorch mode are known to differ (docs/conformance.md): the
// conformance comparison reports it as marked instead of failing.
struct PytorchDifference {
  std::string observation;  // "outcome", or the observation's place: "worker 0 program 0 op 12"
  std::string reason;       // one line: why, with the PyTorch source behind it (docs/conformance.md)

  friend bool operator==(const PytorchDifference&, const PytorchDifference&) = default;
};

struct CatalogEntry {
  std::string name;     // also scenario.name
  std::string summary;  // one line: what it exercises
  // The PyTorch test it mirrors, numbered as rref-cases.md §1 ("rpc_test.py #25 test_rref_forward_chain"), or "".
  std::string pytorch_test;
  std::string faults;  // the fault profile it is meant for ("reorder" unless it says otherwise)
  sim::Scenario scenario;
  // The scenario's own fault settings, KEY=VALUE. Precedence: the profile's defaults, then these, then the command
  // line's --fault overrides.
  std::vector<std::string> fault_overrides;
  sim::Outcome expected = sim::Outcome::kOk;  // what a correct simulation of PyTorch must end with
  // The protocol assertions (rref-protocol.md §6: "A17", ...) that may fire in a correct run: PyTorch's test
  // provokes them (an RRef used after its remote() timed out raises A17). Any other code is unexpected.
  std::vector<std::string> expected_protocol_errors;
  // Checker ids it trips through a documented PyTorch defect (the summary names the rref-cases.md P-id).
  std::vector<std::string> expected_violations;
  // Where real PyTorch's observation differs from the pytorch mode's, each explained in docs/conformance.md.
  std::vector<PytorchDifference> pytorch_differences;

  friend bool operator==(const CatalogEntry&, const CatalogEntry&) = default;
};

// Text in the order people count: runs of digits compare as numbers (s2 before s10, "op 2" before "op 10").
bool NaturalLess(const std::string& a, const std::string& b);

// In name order, runs of digits compared as numbers (s2 before s10). Throws std::logic_error naming the file if a
// built-in file does not parse (the catalog test keeps that from being released).
const std::vector<CatalogEntry>& Catalog();
const CatalogEntry* FindScenario(const std::string& name);

}  // namespace rrefsim::scenarios
