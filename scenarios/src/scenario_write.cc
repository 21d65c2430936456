// Writing a scenario document in the canonical form (scenario_json.h): required fields always, optional ones only
// when they differ from their default, keys in the order docs/scenario-format.md lists them.
#include "json_print.h"
#include "op_format.h"
#include "rrefsim/scenarios/scenario_json.h"

namespace rrefsim::scenarios {
namespace {

using detail::OrderedJson;

int DefaultPoolSize() { return sim::Scenario().pool_size; }

OrderedJson WriteCounters(const sim::CounterExpectation& c) {
  OrderedJson j = OrderedJson::object();
  if (c.barrier == sim::CounterExpectation::kFinal) {
    j["barrier"] = "final";
  } else {
    j["barrier"] = c.barrier;
  }
  j["worker"] = c.worker;
  if (c.owners) j["owners"] = *c.owners;
  if (c.forks) j["forks"] = *c.forks;
  if (c.pending_users) j["pending_users"] = *c.pending_users;
  if (c.pending_futures) j["pending_futures"] = *c.pending_futures;
  return j;
}

OrderedJson WriteExpect(const CatalogEntry& e) {
  OrderedJson j = OrderedJson::object();
  j["outcome"] = sim::OutcomeName(e.expected);
  if (!e.expected_protocol_errors.empty()) j["protocol_errors"] = e.expected_protocol_errors;
  if (!e.expected_violations.empty()) j["violations"] = e.expected_violations;
  if (!e.scenario.counters.empty()) {
    OrderedJson counters = OrderedJson::array();
    for (const sim::CounterExpectation& c : e.scenario.counters) counters.push_back(WriteCounters(c));
    j["counters"] = std::move(counters);
  }
  if (!e.pytorch_differences.empty()) {
    OrderedJson differences = OrderedJson::array();
    for (const PytorchDifference& d : e.pytorch_differences) {
      differences.push_back({{"observation", d.observation}, {"reason", d.reason}});
    }
    j["pytorch_differences"] = std::move(differences);
  }
  return j;
}

OrderedJson WriteFaults(const CatalogEntry& e) {
  OrderedJson j = OrderedJson::object();
  j["profile"] = e.faults;
  if (!e.fault_overrides.empty()) j["overrides"] = e.fault_overrides;
  return j;
}

}  // namespace

std::string ScenarioToJson(const CatalogEntry& e) {
  const sim::Scenario& s = e.scenario;
  OrderedJson j = OrderedJson::object();
  j["name"] = e.name;
  j["summary"] = e.summary;
  j["pytorch_test"] = e.pytorch_test;
  j["workers"] = s.workers;
  if (s.pool_size != DefaultPoolSize()) j["pool_size"] = s.pool_size;
  if (!s.graceful_shutdown) j["graceful_shutdown"] = false;
  j["faults"] = WriteFaults(e);
  if (!s.functions.empty()) {
    OrderedJson functions = OrderedJson::array();
    for (const sim::FunctionDef& f : s.functions) {
      functions.push_back({{"name", f.name}, {"body", detail::WriteOps(f.body.ops)}});
    }
    j["functions"] = std::move(functions);
  }
  OrderedJson programs = OrderedJson::array();
  for (const sim::Block& p : s.programs) programs.push_back({{"ops", detail::WriteOps(p.ops)}});
  j["programs"] = std::move(programs);
  j["expect"] = WriteExpect(e);
  return detail::PrettyJson(j);
}

}  // namespace rrefsim::scenarios
