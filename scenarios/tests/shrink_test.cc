#include "rrefsim/scenarios/shrink.h"

#include <gtest/gtest.h>

#include <optional>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/sim/network.h"

namespace rrefsim::scenarios {
namespace {

// The first seed's trace of `name` under chaos whose run fails.
traces::Trace FailingTrace(const std::string& name) {
  const CatalogEntry* entry = FindScenario(name);
  EXPECT_NE(entry, nullptr);
  sim::RunConfig config;
  config.faults = *sim::MakeFaultConfig("chaos", {}).config;
  const traces::TraceConfig trace_config = TraceConfigOf(config, "chaos", {}, "random", 0);
  for (std::uint64_t seed = 0;; ++seed) {
    sim::RandomChooser chooser(seed);
    RecordedRun run = RecordRun(*entry, trace_config, config, seed, chooser);
    if (run.checked.failed()) return run.trace;
  }
}

TEST(Shrink, KeepsTheFirstCheckerAndReplaysStrictly) {
  const traces::Trace input = FailingTrace("nested_rref");
  const ShrinkResult result = Shrink(input, ShrinkOptions{20});
  ASSERT_TRUE(result.trace) << result.error;
  EXPECT_EQ(result.checker, input.verdict.violations.front().checker);
  ASSERT_FALSE(result.trace->verdict.violations.empty());
  EXPECT_EQ(result.trace->verdict.violations.front().checker, result.checker);
  EXPECT_TRUE(ReplayTrace(*result.trace).reproduced());
  EXPECT_LT(result.after.events, result.before.events);
  EXPECT_LE(result.after.ops, result.before.ops);
  EXPECT_EQ(result.before.events, input.events.size());
}

TEST(Shrink, IsDeterministicWhenItReachesAFixpoint) {
  const traces::Trace input = FailingTrace("s3_user_to_user");
  const ShrinkResult first = Shrink(input, ShrinkOptions{20});
  const ShrinkResult second = Shrink(input, ShrinkOptions{20});
  ASSERT_TRUE(first.trace && second.trace);
  ASSERT_FALSE(first.timed_out || second.timed_out);
  EXPECT_EQ(traces::WriteTrace(*first.trace), traces::WriteTrace(*second.trace));
}

TEST(Shrink, APassingRunHasNothingToShrink) {
  traces::Trace input = FailingTrace("s1_remote_to_here");
  input.verdict.violations.clear();
  const ShrinkResult result = Shrink(input, ShrinkOptions{1});
  EXPECT_FALSE(result.trace);
  EXPECT_NE(result.error.find("nothing to shrink"), std::string::npos);
}

}  // namespace
}  // namespace rrefsim::scenarios
