// PyTorch's RRef defects as regression cases (cases.json): each names a scenario, a fault configuration and a seed
// on which `pytorch` mode fails with the invariant that matches the defect. The test re-runs every case and requires
// exactly that first violation, so a change to the core, the simulator or a checker that loses one of them fails
// here; and it requires that `hardened` mode passes the same configuration. The README of this folder lists the cases and the command line that reproduces each.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <ostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rrefsim/scenarios/runner.h"
#include "rrefsim/scenarios/scenario_json.h"

namespace rrefsim {
namespace {

struct RegressionCase {
  std::string defect;
  std::string scenario;  // a catalog name, or a file of this folder
  std::string faults;
  std::vector<std::string> fault;
  std::uint64_t seed = 0;
  std::string checker;  // the first invariant pytorch mode violates
  std::string text;     // a part of its violation text that shows the mechanism
};

// gtest prints a failing parameter with this, rather than as raw bytes.
void PrintTo(const RegressionCase& c, std::ostream* os) {
  *os << c.defect << " (" << c.scenario << ", " << c.faults << ", seed " << c.seed << ")";
}

std::vector<RegressionCase> LoadCases() {
  const std::string path = std::string(RRSIM_REGRESSIONS_DIR) + "/cases.json";
  std::ifstream in(path);
  nlohmann::json doc = nlohmann::json::parse(in);  // a malformed file throws, naming the place
  std::vector<RegressionCase> cases;
  for (const nlohmann::json& c : doc.at("cases")) {
    cases.push_back({c.at("defect").get<std::string>(), c.at("scenario").get<std::string>(),
                     c.at("faults").get<std::string>(), c.at("fault").get<std::vector<std::string>>(),
                     c.at("seed").get<std::uint64_t>(), c.at("pytorch").at("checker").get<std::string>(),
                     c.at("pytorch").at("text").get<std::string>()});
  }
  return cases;
}

scenarios::CatalogEntry EntryOf(const RegressionCase& c) {
  bool file = c.scenario.ends_with(".json");
  scenarios::ScenarioSelection s =
      scenarios::SelectScenarios(file ? std::string(RRSIM_REGRESSIONS_DIR) + "/scenarios/" + c.scenario : c.scenario);
  if (s.entries.size() != 1) throw std::runtime_error(c.defect + ": " + c.scenario + ": " + s.error);
  return s.entries.front();
}

sim::RunConfig ConfigOf(const RegressionCase& c, const scenarios::CatalogEntry& entry, core::ProtocolMode mode) {
  std::vector<std::string> overrides = entry.fault_overrides;
  overrides.insert(overrides.end(), c.fault.begin(), c.fault.end());
  sim::FaultConfigResult faults = sim::MakeFaultConfig(c.faults, overrides);
  if (!faults.config) throw std::runtime_error(c.defect + ": " + faults.error);
  sim::RunConfig config;
  config.faults = *faults.config;
  config.mode = mode;
  return config;
}

class PytorchDefect : public ::testing::TestWithParam<RegressionCase> {};

TEST_P(PytorchDefect, PytorchModeViolatesTheMatchingInvariant) {
  const RegressionCase& c = GetParam();
  scenarios::CatalogEntry entry = EntryOf(c);
  sim::RandomChooser chooser(c.seed);
  scenarios::CheckedRun run = scenarios::RunChecked(entry, ConfigOf(c, entry, core::ProtocolMode::kPytorch), chooser);
  ASSERT_TRUE(run.failed()) << c.defect << ": " << c.scenario << " seed " << c.seed << " passed in pytorch mode";
  EXPECT_EQ(run.violations.front().checker, c.checker) << run.violations.front().text;
  EXPECT_NE(run.violations.front().text.find(c.text), std::string::npos)
      << c.defect << ": the violation does not show the mechanism '" << c.text << "': "
      << run.violations.front().text;
}

// The hardened mode (docs/hardened-protocol.md) fixes every one: the case's own seed and the first 200 seeds of
// the same scenario and faults pass every checker and every expectation.
// The first seed of the case's scenario and faults on which hardened mode fails (the case's own, then 0-199).
std::optional<std::string> HardenedFailure(const RegressionCase& c) {
  scenarios::CatalogEntry entry = EntryOf(c);
  sim::RunConfig config = ConfigOf(c, entry, core::ProtocolMode::kHardened);
  std::vector<std::uint64_t> seeds = {c.seed};
  for (std::uint64_t s = 0; s < 200; ++s) seeds.push_back(s);
  for (std::uint64_t seed : seeds) {
    sim::RandomChooser chooser(seed);
    scenarios::CheckedRun run = scenarios::RunChecked(entry, config, chooser);
    if (run.failed()) {
      return c.scenario + " seed " + std::to_string(seed) + ": " + run.violations.front().checker + ": " +
             run.violations.front().text;
    }
  }
  return std::nullopt;
}

TEST_P(PytorchDefect, HardenedModePassesTheSameConfiguration) {
  std::optional<std::string> failure = HardenedFailure(GetParam());
  EXPECT_FALSE(failure.has_value()) << GetParam().defect << ": hardened fails " << *failure;
}

// Bugs of the hardened mode itself that campaigns found (cases.json, hardened_cases; each with its scenario file): the run that failed, and seeds
// 0-199 of the same scenario and faults, pass every checker in hardened mode.
std::vector<RegressionCase> LoadHardenedCases() {
  std::ifstream in(std::string(RRSIM_REGRESSIONS_DIR) + "/cases.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<RegressionCase> cases;
  for (const nlohmann::json& c : doc.at("hardened_cases")) {
    cases.push_back({"hardened", c.at("scenario").get<std::string>(), c.at("faults").get<std::string>(),
                     c.at("fault").get<std::vector<std::string>>(), c.at("seed").get<std::uint64_t>(), "", ""});
  }
  return cases;
}

TEST(HardenedFixes, EachFoundFailurePassesNow) {
  std::vector<RegressionCase> cases = LoadHardenedCases();
  ASSERT_FALSE(cases.empty());
  for (const RegressionCase& c : cases) {
    std::optional<std::string> failure = HardenedFailure(c);
    EXPECT_FALSE(failure.has_value()) << "hardened fails " << *failure;
  }
}

TEST(PytorchDefects, EveryReachableDefectHasACase) {
  // P13 is not a safety defect and P14 is the 2019 asserting handlers' retry accounting (rref-cases.md §3): neither
  // breaks an invariant a checker can see.
  std::vector<std::string> expected = {"P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8",
                                       "P9", "P10", "P11", "P12", "P15", "P16", "P17"};
  std::vector<std::string> seen;
  for (const RegressionCase& c : LoadCases()) seen.push_back(c.defect);
  EXPECT_EQ(seen, expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, PytorchDefect, ::testing::ValuesIn(LoadCases()),
                         [](const ::testing::TestParamInfo<RegressionCase>& info) { return info.param.defect; });

}  // namespace
}  // namespace rrefsim
