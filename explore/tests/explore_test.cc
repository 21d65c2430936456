// The explorer against small catalog scenarios: complete searches, reductions that lose no end state, bounds that
// matter, and counterexamples that replay.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>

#include "ends.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore {
namespace {

using test_support::EndOf;
using test_support::Entry;

std::set<std::string> EndsReached(const scenarios::CatalogEntry& entry, ExploreOptions options) {
  std::set<std::string> ends;
  options.on_complete_run = [&ends](const scenarios::CheckedRun& run) { ends.insert(EndOf(run)); };
  ExploreResult result = Explore(entry, options);
  EXPECT_TRUE(result.complete) << entry.name;
  EXPECT_FALSE(result.counterexample) << entry.name;
  return ends;
}

TEST(Explore, CompleteSearchOfRemoteToHereFindsNoViolation) {
  ExploreResult result = Explore(Entry("s1_remote_to_here"), ExploreOptions{});
  EXPECT_TRUE(result.complete);
  EXPECT_FALSE(result.counterexample);
  EXPECT_GT(result.stats.runs, 1u);
  EXPECT_GT(result.stats.transitions, result.stats.runs);
  EXPECT_GT(result.stats.distinct_states, 0u);
  EXPECT_TRUE(result.config.fingerprints);
  EXPECT_EQ(result.config.faults.delay_max, 0);  // reordering is the step choice
}

// The reductions cut runs, never end states. On a scenario small enough for the plain search (every path, no
// pruning), every configuration reaches the same ends.
TEST(Explore, EveryConfigurationReachesTheEndsOfThePlainSearchOnATinyScenario) {
  ExploreOptions plain;
  plain.state_hashing = plain.sleep_sets = false;
  ExploreOptions hashed = plain;
  hashed.state_hashing = true;
  ExploreOptions sleeping = plain;
  sleeping.sleep_sets = true;
  const scenarios::CatalogEntry& entry = Entry("world_size_one");
  const std::set<std::string> all = EndsReached(entry, plain);
  EXPECT_FALSE(all.empty());
  EXPECT_EQ(EndsReached(entry, hashed), all);
  EXPECT_EQ(EndsReached(entry, sleeping), all);
  EXPECT_EQ(EndsReached(entry, ExploreOptions{}), all);
}

// Sleep sets keep every end state the search without them reaches.
TEST(Explore, SleepSetsLoseNoEndState) {
  for (const char* name : {"s1_remote_to_here", "s2_remote_to_self", "s5_owner_to_user", "s3_user_to_user"}) {
    ExploreOptions hashed;
    hashed.sleep_sets = false;
    EXPECT_EQ(EndsReached(Entry(name), ExploreOptions{}), EndsReached(Entry(name), hashed)) << name;
  }
}

// State hashing is sound only if the fingerprint holds everything that decides the future: then every end that any
// schedule reaches is among the ends of the hashed search. Random schedules of the same model sample the full tree.
TEST(Explore, RandomSchedulesEndOnlyWhereTheHashedSearchEnds) {
  for (const char* name : {"s1_remote_to_here", "s3_user_to_user", "s5_owner_to_user"}) {
    ExploreResult model;
    std::set<std::string> ends;
    ExploreOptions options;
    options.on_complete_run = [&ends](const scenarios::CheckedRun& run) { ends.insert(EndOf(run)); };
    model = Explore(Entry(name), options);
    ASSERT_TRUE(model.complete);
    sim::RunConfig config = model.config;
    config.fingerprints = false;
    for (std::uint64_t seed = 0; seed < 300; ++seed) {
      sim::RandomChooser chooser(seed);
      const scenarios::CheckedRun run = scenarios::RunChecked(Entry(name), config, chooser);
      EXPECT_TRUE(ends.contains(EndOf(run))) << name << " seed " << seed << " ends " << EndOf(run);
    }
  }
}

TEST(Explore, SleepSetsExploreFewerTransitions) {
  ExploreOptions hashed;
  hashed.sleep_sets = false;
  const ExploreResult without = Explore(Entry("s3_user_to_user"), hashed);
  const ExploreResult with = Explore(Entry("s3_user_to_user"), ExploreOptions{});
  ASSERT_TRUE(without.complete);
  ASSERT_TRUE(with.complete);
  EXPECT_LT(with.stats.runs, without.stats.runs);
  EXPECT_GT(with.stats.sleep_pruned, 0u);
  EXPECT_EQ(without.stats.sleep_pruned, 0u);
  EXPECT_EQ(with.stats.distinct_states, without.stats.distinct_states);  // they prune paths, not states
}

TEST(Explore, DuplicateBoundAddsSchedulesAndIsRecordedInTheFaults) {
  ExploreOptions none;
  ExploreOptions one;
  one.bounds.max_duplicates = 1;
  const ExploreResult without = Explore(Entry("s1_remote_to_here"), none);
  const ExploreResult with = Explore(Entry("s1_remote_to_here"), one);
  EXPECT_GT(with.stats.runs, without.stats.runs);
  EXPECT_GT(with.config.faults.duplicate, 0);
  EXPECT_EQ(without.config.faults.duplicate, 0);
  EXPECT_NE(std::find(with.fault_overrides.begin(), with.fault_overrides.end(), "duplicate=0.5"),
            with.fault_overrides.end());
}

TEST(Explore, DepthBoundCutsAndTheRunBudgetLeavesTheSearchIncomplete) {
  ExploreOptions shallow;
  shallow.bounds.max_depth = 2;
  const ExploreResult cut = Explore(Entry("s3_user_to_user"), shallow);
  EXPECT_TRUE(cut.complete);  // complete within its bound
  EXPECT_GT(cut.stats.depth_cut, 0u);
  EXPECT_LE(cut.stats.max_depth, 2u);
  ExploreOptions budget;
  budget.max_runs = 3;
  const ExploreResult partial = Explore(Entry("s3_user_to_user"), budget);
  EXPECT_FALSE(partial.complete);
  EXPECT_EQ(partial.stats.runs, 3u);
}

// A stop request (the command line's SIGINT/SIGTERM) ends the search after the run under way, incomplete and marked
// interrupted, with what it covered; the progress callback sees the statistics so far every kProgressRuns runs.
TEST(Explore, AStopRequestEndsTheSearchWithWhatItCovered) {
  std::atomic<bool> stop{false};
  std::uint64_t progress_calls = 0;
  ExploreOptions options;
  options.stop = &stop;
  options.on_progress = [&](const ExploreStats& so_far) {
    ++progress_calls;
    EXPECT_EQ(so_far.runs % kProgressRuns, 0u);
    EXPECT_GT(so_far.distinct_states, 0u);
    if (so_far.runs == 2 * kProgressRuns) stop = true;
  };
  const ExploreResult stopped = Explore(Entry("fork_chain_5"), options);
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_FALSE(stopped.complete);
  EXPECT_EQ(stopped.stats.runs, 2 * kProgressRuns);  // the run under way when it was asked, and no further
  EXPECT_EQ(progress_calls, 2u);
  EXPECT_GT(stopped.stats.distinct_states, 0u);
  const ExploreResult whole = Explore(Entry("s2_remote_to_self"), ExploreOptions{});
  EXPECT_FALSE(whole.interrupted);
  EXPECT_TRUE(whole.complete);
}

// The search runs without fibers; its counterexample's choice list must still replay on fibers (sim::Run), where
// campaigns, `replay` and `render` run it. The branch point here is a duplicate, a choice inside a step, which a
// branch reaches by replaying one step from the snapshot before it.
TEST(Explore, ACounterexampleFoundWithoutFibersReplaysOnFibers) {
  ExploreOptions one;
  one.bounds.max_duplicates = 1;
  const ExploreResult result = Explore(Entry("s2_remote_to_self"), one);
  ASSERT_TRUE(result.counterexample);
  EXPECT_GT(result.stats.replayed_steps, 0u);
  EXPECT_LT(result.stats.replayed_steps, result.stats.runs);  // at most the one step per branch
  sim::ReplayChooser replay(result.counterexample->run.choices);
  const scenarios::CheckedRun again = scenarios::RunChecked(Entry("s2_remote_to_self"), result.config, replay);
  EXPECT_TRUE(replay.exhausted());
  ASSERT_TRUE(again.failed());
  EXPECT_EQ(again.violations.front().checker, result.counterexample->violations.front().checker);
  EXPECT_EQ(again.run.hash, result.counterexample->run.hash);
}

}  // namespace
}  // namespace rrefsim::explore
