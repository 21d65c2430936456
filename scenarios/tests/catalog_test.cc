// The built-in catalog passes as PyTorch's tests do: every scenario, under its own fault settings and with every
// checker on, ends as expected, every observation is in its allowed set, and the protocol assertions that fire are
// the ones it names.
// (`rrefsim run --scenario all --seeds 2000` checks the first two over more seeds.)
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include <variant>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"

namespace rrefsim::scenarios {
namespace {

constexpr std::uint64_t kSeeds = 100;

// The assertion codes of the ProtocolError events a run emitted, from its records.
class ProtocolErrorCodes : public checkers::RunObserver {
 public:
  void OnRecord(const checkers::StepRecord& r) override {
    if (r.kind != checkers::RecordKind::kEvent) return;
    if (const auto* e = std::get_if<core::ProtocolError>(r.event); e && !e->code.empty()) codes.insert(e->code);
  }
  bool OnStepEnd(const checkers::GlobalView&) override { return true; }
  std::set<std::string> codes;
};

std::string Violations(const CheckedRun& checked) {
  std::string text;
  for (const checkers::Violation& v : checked.violations) text += v.checker + ": " + v.text + "\n";
  return text;
}

// The entry's run config under `profile` (its own faults when empty) and `mode`; nullopt (and a failure) when the
// faults do not parse.
std::optional<sim::RunConfig> ConfigOf(const CatalogEntry& entry, const std::string& profile,
                                       core::ProtocolMode mode = core::ProtocolMode::kPytorch) {
  sim::FaultConfigResult faults = sim::MakeFaultConfig(profile.empty() ? entry.faults : profile, entry.fault_overrides);
  EXPECT_TRUE(faults.config) << faults.error;
  if (!faults.config) return std::nullopt;
  sim::RunConfig config;
  config.faults = *faults.config;
  config.mode = mode;
  return config;
}

// Every assertion code that fired is one the scenario names.
void ExpectCodesNamed(const CatalogEntry& entry, const std::set<std::string>& codes, std::uint64_t seed) {
  const auto& allowed = entry.expected_protocol_errors;
  for (const std::string& code : codes) {
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), code), allowed.end())
        << "seed " << seed << ": protocol error " << code << " is not among the scenario's protocol_errors";
  }
}

TEST(CatalogTest, EveryScenarioPassesUnderItsOwnFaults) {
  for (const CatalogEntry& entry : Catalog()) {
    SCOPED_TRACE(entry.name);
    std::optional<sim::RunConfig> config = ConfigOf(entry, "");
    ASSERT_TRUE(config);
    std::set<std::string> fired;
    for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
      ProtocolErrorCodes codes;
      sim::RandomChooser chooser(seed);
      CheckedRun checked = RunChecked(entry, *config, chooser, &codes);
      const sim::RunResult& r = checked.run;
      ASSERT_FALSE(checked.failed()) << "seed " << seed << ": " << Violations(checked);
      ASSERT_EQ(r.outcome, entry.expected) << "seed " << seed << ": " << r.detail;
      for (const sim::Observation& o : r.observations) {
        ASSERT_TRUE(o.expected_ok) << "seed " << seed << ": worker " << o.worker << " " << o.where << ": " << o.what;
      }
      ExpectCodesNamed(entry, codes.codes, seed);
      fired.insert(codes.codes.begin(), codes.codes.end());
    }
    for (const std::string& code : entry.expected_protocol_errors) {  // the scenario provokes what it names
      EXPECT_TRUE(fired.contains(code)) << code << " never fired in " << kSeeds << " seeds";
    }
  }
}

// In hardened mode too, every scenario passes under its own faults (the faulty agent's refused sends included) and
// ends as it declares; the assertion codes that fire are among those it names (hardened mode may fire fewer).
TEST(CatalogTest, InHardenedModeEveryScenarioPassesUnderItsOwnFaults) {
  for (const CatalogEntry& entry : Catalog()) {
    SCOPED_TRACE(entry.name);
    std::optional<sim::RunConfig> config = ConfigOf(entry, "", core::ProtocolMode::kHardened);
    ASSERT_TRUE(config);
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      ProtocolErrorCodes codes;
      sim::RandomChooser chooser(seed);
      CheckedRun checked = RunChecked(entry, *config, chooser, &codes);
      ASSERT_FALSE(checked.failed()) << "seed " << seed << ": " << Violations(checked);
      ASSERT_EQ(checked.run.outcome, entry.expected_hardened) << "seed " << seed << ": " << checked.run.detail;
      ExpectCodesNamed(entry, codes.codes, seed);
    }
  }
}

// Issue 6: in hardened mode every scenario keeps every invariant and its expectations under loss, duplication,
// partitions and long delays too, ending as it declares (expect.hardened_outcome). Expectations that describe the
// scenario's own faults (counters at barriers, own_faults_only sets) are recorded, not judged, under these.
TEST(CatalogTest, InHardenedModeEveryScenarioPassesUnderChaosAndSwarm) {
  for (const char* profile : {"chaos", "swarm"}) {
    for (const CatalogEntry& entry : Catalog()) {
      SCOPED_TRACE(entry.name + " under " + profile);
      std::optional<sim::RunConfig> config = ConfigOf(entry, profile, core::ProtocolMode::kHardened);
      ASSERT_TRUE(config);
      for (std::uint64_t seed = 0; seed < 20; ++seed) {
        sim::RandomChooser chooser(seed);
        CheckedRun checked = RunChecked(entry, *config, chooser);
        ASSERT_FALSE(checked.failed()) << "seed " << seed << ": " << Violations(checked);
        ASSERT_EQ(checked.run.outcome, entry.expected_hardened) << "seed " << seed << ": " << checked.run.detail;
      }
    }
  }
}

TEST(CatalogTest, NamesAreUniqueAndEveryPytorchTestIsCited) {
  std::set<std::string> names;
  for (const CatalogEntry& e : Catalog()) {
    EXPECT_TRUE(names.insert(e.name).second) << e.name;
    EXPECT_EQ(e.scenario.name, e.name);
    // A scenario that mirrors no PyTorch test (pool_exhaustion models TensorPipe's handler pool; others were found
    // by rrefsim) names the PyTorch defect it exhibits instead.
    if (e.pytorch_test.empty()) {
      EXPECT_NE(e.summary.find("rref-cases.md P"), std::string::npos) << e.name;
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
