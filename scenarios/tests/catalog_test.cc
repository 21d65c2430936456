// The built-in catalog passes as PyTorch's tests do: every scenario, under its own fault settings, ends as expected,
// every observation is in its allowed set, and the protocol assertions that fire are the ones it names.
// (`rrefsim run --scenario all --seeds 2000` checks the first two over more seeds.)
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::scenarios {
namespace {

constexpr std::uint64_t kSeeds = 100;

// The codes of the ProtocolError events a run emitted, read from the trace ("protocol error A17: ..."): RunResult
// does not list them yet.
std::set<std::string> ProtocolErrorCodes(const std::vector<sim::StepEvent>& events) {
  const std::string prefix = "protocol error ";
  std::set<std::string> codes;
  for (const sim::StepEvent& e : events) {
    if (e.kind == "event" && e.detail.rfind(prefix, 0) == 0) {
      codes.insert(e.detail.substr(prefix.size(), e.detail.find(':') - prefix.size()));
    }
  }
  return codes;
}

TEST(CatalogTest, EveryScenarioPassesUnderItsOwnFaults) {
  for (const CatalogEntry& entry : Catalog()) {
    SCOPED_TRACE(entry.name);
    sim::FaultConfigResult faults = sim::MakeFaultConfig(entry.faults, entry.fault_overrides);
    ASSERT_TRUE(faults.config) << faults.error;
    sim::RunConfig config;
    config.faults = *faults.config;
    std::set<std::string> fired;
    for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
      std::vector<sim::StepEvent> events;
      sim::RandomChooser chooser(seed);
      sim::RunResult r = sim::Run(entry.scenario, config, chooser, [&events](const sim::StepEvent& e) {
        if (e.kind == "event") events.push_back(e);
      });
      ASSERT_EQ(r.outcome, entry.expected) << "seed " << seed << ": " << r.detail;
      for (const sim::Observation& o : r.observations) {
        ASSERT_TRUE(o.expected_ok) << "seed " << seed << ": worker " << o.worker << " " << o.where << ": " << o.what;
      }
      for (const std::string& code : ProtocolErrorCodes(events)) {
        fired.insert(code);
        const auto& allowed = entry.expected_protocol_errors;
        ASSERT_NE(std::find(allowed.begin(), allowed.end(), code), allowed.end())
            << "seed " << seed << ": protocol error " << code << " is not among the scenario's protocol_errors";
      }
    }
    for (const std::string& code : entry.expected_protocol_errors) {  // the scenario provokes what it names
      EXPECT_TRUE(fired.contains(code)) << code << " never fired in " << kSeeds << " seeds";
    }
  }
}

TEST(CatalogTest, NamesAreUniqueAndEveryPytorchTestIsCited) {
  std::set<std::string> names;
  for (const CatalogEntry& e : Catalog()) {
    EXPECT_TRUE(names.insert(e.name).second) << e.name;
    EXPECT_EQ(e.scenario.name, e.name);
    if (e.name != "pool_exhaustion") {  // a model of TensorPipe's handler pool, which no PyTorch test exercises
      EXPECT_FALSE(e.pytorch_test.empty()) << e.name;
    }
  }
  for (const char* name : {"s1_remote_to_here", "s3_user_to_user", "s3_faulty_agent", "pool_exhaustion",
                           "s10_nested_rref_stress", "forward_chain_ttl8", "shutdown_with_live_users",
                           "s8_fetch_before_owner", "s11_remote_timeout", "s12_use_after_shutdown"}) {
    EXPECT_NE(FindScenario(name), nullptr) << name << ": the CLI tests and the docs use it";
  }
}

}  // namespace
}  // namespace rrefsim::scenarios
