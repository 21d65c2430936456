// Determinism and replay: same seed, same bytes; a failing chaos trace replays byte for byte; an altered trace
// diverges at a named step.
#include <gtest/gtest.h>

#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/traces/render.h"
#include "trace_test_util.h"

namespace rrefsim::traces {
namespace {

using testing::kGoldenCases;

TEST(Determinism, SameSeedTwiceGivesByteIdenticalTraces) {
  for (const testing::GoldenCase& c : kGoldenCases) {
    std::string first = WriteTrace(testing::RecordCase(c).trace);
    std::string second = WriteTrace(testing::RecordCase(c).trace);
    EXPECT_EQ(first, second) << c.scenario;
  }
}

TEST(Determinism, ACampaignRerunOverItsChoicesRecordsTheSameTrace) {
  // What `rrefsim run --out` does: the campaign's run, re-run with a ReplayChooser over its recorded choices.
  const testing::GoldenCase& c = kGoldenCases[0];
  scenarios::RecordedRun original = testing::RecordCase(c);
  const scenarios::CatalogEntry& entry = *scenarios::FindScenario(c.scenario);
  sim::RunConfig config = *scenarios::RunConfigOf(original.trace.config).config;
  sim::ReplayChooser chooser(original.checked.run.choices);
  scenarios::RecordedRun again = scenarios::RecordRun(entry, original.trace.config, config, c.seed, chooser);
  EXPECT_TRUE(chooser.exhausted());
  EXPECT_EQ(WriteTrace(again.trace), WriteTrace(original.trace));
}

TEST(Replay, AFailingChaosTraceReproducesAndDumpsTheSameBytes) {
  const testing::GoldenCase& c = kGoldenCases[0];
  std::string text = testing::ReadText(testing::GoldenPath(c.file));
  Trace trace = *ReadTrace(text, c.file).trace;
  ASSERT_EQ(trace.verdict.violations.front().checker, "unique_fork_ids");
  scenarios::ReplayResult replay = scenarios::ReplayTrace(trace);
  ASSERT_TRUE(replay.reproduced());
  EXPECT_EQ(WriteTrace(*replay.replayed), text);
}

TEST(Replay, AnAlteredDelayDivergesAtTheStepOfItsSend) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  std::size_t i = 0;
  while (trace.choices[i].kind != "delay" || trace.choices[i].options < 3) ++i;  // the first drawn delay
  trace.choices[i].pick = trace.choices[i].pick == 0 ? 1 : trace.choices[i].pick - 1;
  scenarios::ReplayResult replay = scenarios::ReplayTrace(trace);
  EXPECT_EQ(replay.divergence, "");
  ASSERT_TRUE(replay.difference.has_value());
  EXPECT_EQ(replay.difference->step, 5u);
  EXPECT_EQ(replay.difference->what, "event 1");  // event 0 is step 1's state change
  EXPECT_NE(replay.difference->expected.find("+3676us"), std::string::npos) << replay.difference->expected;
  EXPECT_NE(replay.difference->got.find("+3675us"), std::string::npos) << replay.difference->got;
}

TEST(Replay, AChoiceOfAnotherShapeIsAReplayDivergence) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  trace.choices[1].options += 1;  // a step choice among 5 ready items instead of 4
  scenarios::ReplayResult replay = scenarios::ReplayTrace(trace);
  EXPECT_NE(replay.divergence.find("replay diverged at choice 1"), std::string::npos) << replay.divergence;
  EXPECT_FALSE(replay.reproduced());
}

TEST(Replay, MissingChoicesAreAReplayDivergence) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  trace.choices.pop_back();
  EXPECT_NE(scenarios::ReplayTrace(trace).divergence.find("replay diverged at choice 16"), std::string::npos);
}

TEST(Replay, LeftoverChoicesAreADivergence) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  trace.choices.push_back(trace.choices.back());
  EXPECT_EQ(scenarios::ReplayTrace(trace).divergence, "the replayed run ended after 17 of the 18 recorded choices");
}

TEST(Replay, AnEditedVerdictIsADifference) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  trace.verdict.violations.front().text = "something else";
  scenarios::ReplayResult replay = scenarios::ReplayTrace(trace);
  ASSERT_TRUE(replay.difference.has_value());
  EXPECT_EQ(replay.difference->what, "verdict");
}

TEST(Replay, ToolVersionIsIgnored) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  trace.tool_version = "9.9.9";
  EXPECT_TRUE(scenarios::ReplayTrace(trace).reproduced());
}

TEST(Replay, BadInputsNameTheirPath) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  Trace unknown = trace;
  unknown.scenario = R"({"catalog":"nope"})";
  EXPECT_EQ(scenarios::ReplayTrace(unknown).input_error.rfind("/scenario/catalog: an unknown field (expected one of: ", 0),
            0u);
  Trace no_workers = trace;
  std::size_t at = no_workers.scenario.find("\"workers\":4");
  ASSERT_NE(at, std::string::npos) << no_workers.scenario;
  no_workers.scenario.replace(at, 11, "\"workers\":0");
  EXPECT_EQ(scenarios::ReplayTrace(no_workers).input_error.rfind("/scenario/workers: ", 0), 0u)
      << scenarios::ReplayTrace(no_workers).input_error;
  Trace renamed = trace;
  renamed.scenario_name = "s1_remote_to_here";
  EXPECT_EQ(scenarios::ReplayTrace(renamed).input_error.rfind("/scenario_name: ", 0), 0u);
  Trace bad_fault = trace;
  bad_fault.config.fault_overrides = {"drop=2"};
  EXPECT_EQ(scenarios::ReplayTrace(bad_fault).input_error.rfind("/config: ", 0), 0u);
}

// traces/ keeps its own copy of the simulator's choice-kind and outcome names (it cannot link sim/): every name the
// simulator writes must read back.
TEST(Names, EveryChoiceKindAndOutcomeOfTheSimulatorReads) {
  Trace trace = testing::ReadGolden(kGoldenCases[0].file);
  for (int k = 0; k <= static_cast<int>(sim::ChoiceKind::kWorkload); ++k) {
    trace.choices = scenarios::ToTraceChoices({sim::Choice{static_cast<sim::ChoiceKind>(k), 2, 1, 0}});
    ReadResult read = ReadTrace(WriteTrace(trace), "t");
    EXPECT_TRUE(read.trace.has_value()) << read.error;
  }
  for (int o = 0; o <= static_cast<int>(sim::Outcome::kStopped); ++o) {
    trace.verdict.outcome = sim::OutcomeName(static_cast<sim::Outcome>(o));
    ReadResult read = ReadTrace(WriteTrace(trace), "t");
    EXPECT_TRUE(read.trace.has_value()) << read.error;
  }
}

}  // namespace
}  // namespace rrefsim::traces
