// The generator under RapidCheck: the same Generate() draws its picks from the property (RcChoices), so a failing
// scenario shrinks towards the simplest one that still fails. The run's own seed is drawn full-range and never
// shrunk (toolchain.md §3): shrinking a seed only jumps to an unrelated schedule.
//
// Reproduce a failure with the RC_PARAMS line RapidCheck prints, e.g.
//   RC_PARAMS="reproduce=..." build/release/scenarios/rrefsim_scenarios_tests --gtest_filter='GeneratorProp.*'
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "generator_test_util.h"
#include "rc_choices.h"
#include "rrefsim/scenarios/generator.h"

namespace rrefsim::scenarios {
namespace {

using testing::Dump;
using testing::Problems;
using testing::RcChoices;
using testing::RunWithSeed;

bool Has(const GeneratedScenario& g, const std::string& shape) {
  return std::find(g.shapes.begin(), g.shapes.end(), shape) != g.shapes.end();
}

// Records the picks of another source, to replay them.
class Recording : public ChoiceSource {
 public:
  explicit Recording(ChoiceSource& source) : source_(source) {}
  std::vector<std::uint64_t> picks;

 protected:
  std::uint64_t Draw(std::uint64_t n) override { return picks.emplace_back(source_.Below(n)); }

 private:
  ChoiceSource& source_;
};

// Replays recorded picks in order.
class Replaying : public ChoiceSource {
 public:
  explicit Replaying(std::vector<std::uint64_t> picks) : picks_(std::move(picks)) {}

 protected:
  std::uint64_t Draw(std::uint64_t) override { return picks_.at(next_++); }

 private:
  std::vector<std::uint64_t> picks_;
  std::size_t next_ = 0;
};

RC_GTEST_PROP(GeneratorProp, GeneratedScenariosRunOkWithEveryExpectationMet, ()) {
  const auto run_seed = *rc::gen::noShrink(rc::gen::resize(rc::kNominalSize, rc::gen::arbitrary<std::uint64_t>()));
  RcChoices choices;
  GeneratedScenario g = Generate(choices, {});
  // One row per combination of shapes (RapidCheck prints a case's labels together); early cases are small, so some
  // have none. The per-shape shares are EveryShapeIsAtLeastOnePercentOfScenarios's.
  for (const std::string& shape : AllShapes()) RC_CLASSIFY(Has(g, shape), shape);
  RC_CLASSIFY(g.shapes.empty(), "no fork shape");
  CheckedRun r = RunWithSeed(g.scenario, run_seed);
  RC_LOG() << "run seed " << run_seed << " (sim::RandomChooser, default RunConfig)\n" << Dump(g.scenario);
  RC_ASSERT(Problems(r) == "");
}

// Shrinking only works if the scenario is a pure function of the picks.
RC_GTEST_PROP(GeneratorProp, TheSamePicksGiveTheSameScenario, ()) {
  RcChoices choices;
  Recording recording(choices);
  GeneratedScenario first = Generate(recording, {});
  Replaying replay(recording.picks);
  GeneratedScenario again = Generate(replay, {});
  RC_ASSERT(Dump(again.scenario) == Dump(first.scenario));
  RC_ASSERT(again.shapes == first.shapes);
}

// The companion of the RC_CLASSIFY above, over seeded picks (RapidCheck's early, small cases would skew it): no
// shape is rare enough to go untested in a campaign.
TEST(GeneratorProp, EveryShapeIsAtLeastOnePercentOfScenarios) {
  constexpr int kScenarios = 1000;
  std::map<std::string, int> seen;
  for (std::uint64_t seed = 0; seed < kScenarios; ++seed) {
    SeededChoices choices(seed);
    for (const std::string& shape : Generate(choices, {}).shapes) ++seen[shape];
  }
  for (const std::string& shape : AllShapes()) {
    EXPECT_GE(seen[shape], kScenarios / 100) << shape;
    std::cout << "  " << shape << ": " << 100.0 * seen[shape] / kScenarios << "%\n";
  }
}

}  // namespace
}  // namespace rrefsim::scenarios
