// The golden traces: they still record the same (a behaviour change is noticed), they replay, and reading and writing
// them gives the same bytes. RRSIM_UPDATE_GOLDEN=1 rewrites them from fresh recordings.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "rrefsim/scenarios/trace_run.h"
#include "trace_test_util.h"

namespace rrefsim::traces {
namespace {

using testing::GoldenCase;
using testing::kGoldenCases;

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, StillRecordsTheSameTrace) {
  const GoldenCase& c = GetParam();
  Trace fresh = testing::RecordCase(c).trace;
  if (std::getenv("RRSIM_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(testing::GoldenPath(c.file), std::ios::binary) << WriteTrace(fresh);
  }
  Trace golden = testing::ReadGolden(c.file);
  fresh.tool_version = golden.tool_version;  // another version of rrefsim may have written it
  EXPECT_EQ(WriteTrace(fresh), testing::ReadText(testing::GoldenPath(c.file)))
      << c.file << " no longer matches a fresh recording: if the change in behaviour is intended, rerun with "
      << "RRSIM_UPDATE_GOLDEN=1 and review the diff";
}

TEST_P(Golden, Replays) {
  const GoldenCase& c = GetParam();
  scenarios::ReplayResult replay = scenarios::ReplayTrace(testing::ReadGolden(c.file));
  EXPECT_EQ(replay.input_error, "");
  EXPECT_EQ(replay.divergence, "");
  ASSERT_TRUE(replay.replayed.has_value());
  EXPECT_FALSE(replay.difference.has_value()) << replay.difference->what << "\nexpected: " << replay.difference->expected
                                              << "\ngot: " << replay.difference->got;
  EXPECT_TRUE(replay.reproduced());
}

TEST_P(Golden, ReadThenWriteGivesTheSameBytes) {
  const GoldenCase& c = GetParam();
  std::string text = testing::ReadText(testing::GoldenPath(c.file));
  ReadResult read = ReadTrace(text, c.file);
  ASSERT_TRUE(read.trace.has_value()) << read.error;
  EXPECT_EQ(WriteTrace(*read.trace), text);
}

INSTANTIATE_TEST_SUITE_P(Traces, Golden, ::testing::ValuesIn(kGoldenCases),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string name = info.param.scenario;
                           return name + "_seed" + std::to_string(info.param.seed);
                         });

TEST(GoldenCases, CoverAFailureUnderChaosAndExpectedViolations) {
  Trace chaos = testing::ReadGolden(kGoldenCases[0].file);
  ASSERT_FALSE(chaos.verdict.violations.empty());
  EXPECT_EQ(chaos.config.fault_profile, "chaos");
  Trace pool = testing::ReadGolden(kGoldenCases[2].file);
  EXPECT_TRUE(pool.verdict.violations.empty());
  EXPECT_FALSE(pool.verdict.expected_violations.empty());
}

}  // namespace
}  // namespace rrefsim::traces
