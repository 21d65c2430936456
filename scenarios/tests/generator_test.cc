// The random scenario generator over seeded choices: determinism, validity, coverage of every shape, and correct
// runs (kOk, every expectation met) under PyTorch semantics with the reorder profile.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "generator_test_util.h"
#include "rrefsim/scenarios/generator.h"

namespace rrefsim::scenarios {
namespace {

using testing::Dump;
using testing::Problems;
using testing::RunWithSeed;

GeneratedScenario FromSeed(std::uint64_t seed, const GeneratorOptions& options = {}) {
  SeededChoices choices(seed);
  return Generate(choices, options);
}

// Always picks 0: the simplest scenario there is.
class Zeros : public ChoiceSource {
 protected:
  std::uint64_t Draw(std::uint64_t) override { return 0; }
};

// Breaks Draw's contract.
class OutOfRange : public ChoiceSource {
 protected:
  std::uint64_t Draw(std::uint64_t n) override { return n; }
};

TEST(GeneratorTest, SameSeedGivesTheSameScenario) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    GeneratedScenario a = FromSeed(seed);
    GeneratedScenario b = FromSeed(seed);
    ASSERT_EQ(Dump(a.scenario), Dump(b.scenario)) << "seed " << seed;
    ASSERT_EQ(a.shapes, b.shapes) << "seed " << seed;
  }
  EXPECT_NE(Dump(FromSeed(1).scenario), Dump(FromSeed(2).scenario));
}

TEST(GeneratorTest, AllZeroPicksGiveTheSimplestScenario) {
  Zeros zeros;
  GeneratedScenario g = Generate(zeros, {});
  EXPECT_EQ(g.scenario.workers, 2);
  for (const sim::Block& program : g.scenario.programs) EXPECT_TRUE(program.ops.empty());
  EXPECT_TRUE(g.scenario.functions.empty());
  EXPECT_TRUE(g.shapes.empty());
}

TEST(GeneratorTest, ChoiceSourceContract) {
  Zeros zeros;
  EXPECT_THROW(zeros.Below(0), std::invalid_argument);
  EXPECT_EQ(zeros.Below(1), 0u);
  OutOfRange broken;
  EXPECT_EQ(broken.Below(1), 0u);  // a trivial pick never asks the source
  EXPECT_THROW(broken.Below(5), std::logic_error);
}

TEST(GeneratorTest, RejectsOptionsOutsideTheirLimits) {
  SeededChoices choices(1);
  auto with = [](auto change) {
    GeneratorOptions o;
    change(o);
    return o;
  };
  EXPECT_THROW(Generate(choices, with([](GeneratorOptions& o) { o.max_workers = 1; })), std::invalid_argument);
  EXPECT_THROW(Generate(choices, with([](GeneratorOptions& o) { o.max_workers = 32768; })), std::invalid_argument);
  EXPECT_THROW(Generate(choices, with([](GeneratorOptions& o) { o.max_chain_ttl = 1; })), std::invalid_argument);
  EXPECT_THROW(Generate(choices, with([](GeneratorOptions& o) { o.max_fan_out = 1; })), std::invalid_argument);
  EXPECT_THROW(Generate(choices, with([](GeneratorOptions& o) { o.max_call_depth = 0; })), std::invalid_argument);
  EXPECT_THROW(Generate(choices, with([](GeneratorOptions& o) { o.max_ops = -1; })), std::invalid_argument);
}

TEST(GeneratorTest, TenThousandSeedsPassValidateWithinTheirBounds) {
  GeneratorOptions options;
  for (std::uint64_t seed = 0; seed < 10'000; ++seed) {
    GeneratedScenario g = FromSeed(seed, options);
    ASSERT_EQ(sim::Validate(g.scenario), "") << "seed " << seed;
    ASSERT_GE(g.scenario.workers, 2) << "seed " << seed;
    ASSERT_LE(g.scenario.workers, options.max_workers) << "seed " << seed;
  }
}

TEST(GeneratorTest, TwoThousandSeedsCoverEveryShape) {
  std::map<std::string, int> seen;
  for (std::uint64_t seed = 0; seed < 2'000; ++seed) {
    for (const std::string& shape : FromSeed(seed).shapes) ++seen[shape];
  }
  for (const std::string& shape : AllShapes()) {
    EXPECT_GT(seen[shape], 0) << shape;
    std::cout << "  " << shape << ": " << seen[shape] << " of 2000\n";
  }
  EXPECT_EQ(seen.size(), AllShapes().size());  // and no shape outside the list
}

TEST(GeneratorTest, FiveHundredScenariosRunOkWithEveryExpectationMet) {
  auto start = std::chrono::steady_clock::now();
  std::uint64_t steps = 0;
  for (std::uint64_t seed = 0; seed < 500; ++seed) {
    GeneratedScenario g = FromSeed(seed);
    CheckedRun r = RunWithSeed(g.scenario, seed);
    ASSERT_EQ(Problems(r), "") << "seed " << seed << "\n" << Dump(g.scenario);
    steps += r.run.steps;
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::cout << "  500 runs, " << steps << " steps in " << took.count() << " s\n";
}

}  // namespace
}  // namespace rrefsim::scenarios
