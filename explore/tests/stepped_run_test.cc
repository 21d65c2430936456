// The fiber-free world (sim::SteppedRun) against the fiber world (sim::Run): the same run for the same choices,
// and copies that go on exactly as the original would. The explorer's snapshots rest on both.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "stepwise_config.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/core/message.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/stepped_run.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::sim {
namespace {

using explore::test_support::FingerprintedConfigOf;

// Everything a run reports that the schedule decides: the rolling hash covers every step, core output and choice.
void ExpectSameRun(const RunResult& fibers, const RunResult& stepped, const std::string& what) {
  EXPECT_EQ(fibers.hash, stepped.hash) << what;
  EXPECT_EQ(fibers.steps, stepped.steps) << what;
  EXPECT_EQ(fibers.outcome, stepped.outcome) << what;
  EXPECT_EQ(fibers.detail, stepped.detail) << what;
  EXPECT_EQ(fibers.choices, stepped.choices) << what;
  EXPECT_EQ(fibers.observations.size(), stepped.observations.size()) << what;
  EXPECT_EQ(fibers.end_time, stepped.end_time) << what;
}

TEST(SteppedRun, EveryCatalogScenarioRunsAsOnFibers) {
  for (const scenarios::CatalogEntry& entry : scenarios::Catalog()) {
    const RunConfig config = FingerprintedConfigOf(entry);
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
      RandomChooser a(seed);
      RandomChooser b(seed);
      checkers::CheckerSet checks_a(scenarios::CheckerConfigOf(entry, config));
      checkers::CheckerSet checks_b(scenarios::CheckerConfigOf(entry, config));
      const RunResult fibers = sim::Run(entry.scenario, config, a, &checks_a);
      const RunResult stepped = RunWithoutFibers(entry.scenario, config, b, &checks_b);
      ExpectSameRun(fibers, stepped, entry.name + " seed " + std::to_string(seed));
      EXPECT_EQ(checks_a.violations().size(), checks_b.violations().size()) << entry.name << " seed " << seed;
    }
  }
}

// A copy taken at a step choice, given the rest of the original's choices, ends as the original did: the same
// RunResult, hash and choice list included (both cover the run from its start).
TEST(SteppedRun, ACopyGoesOnAsTheOriginal) {
  for (const char* name : {"s3_user_to_user", "fork_chain_5", "s11_remote_timeout"}) {
    const scenarios::CatalogEntry& entry = *scenarios::FindScenario(name);
    const RunConfig config = FingerprintedConfigOf(entry);
    RandomChooser random(7);
    const RunResult original = sim::Run(entry.scenario, config, random);
    for (std::size_t stop_at = 1; stop_at < 12; ++stop_at) {
      ReplayChooser first(original.choices);
      SteppedRun run(entry.scenario, config, first);
      std::size_t choices_seen = 0;
      bool more = true;
      while (more && choices_seen < stop_at) {
        more = run.Advance();
        ++choices_seen;
      }
      if (!more) break;
      // The copy asks a chooser that replays the rest of the list: the choices the original made so far, skipped.
      std::vector<Choice> rest(original.choices.begin() + static_cast<std::ptrdiff_t>(first.choices().size()),
                               original.choices.end());
      ReplayChooser second(rest);
      SteppedRun copy(run, second, nullptr);
      while (copy.Advance()) {
      }
      // The whole run, hash and choices included: the copy carries the choices made before it was taken.
      ExpectSameRun(original, copy.Finish(), std::string(name) + " copied at choice " + std::to_string(stop_at));
      EXPECT_TRUE(second.exhausted()) << name << " copied at choice " << stop_at;
      // The original, left where it was copied, still goes on by itself.
      while (run.Advance()) {
      }
      EXPECT_EQ(run.Finish().hash, original.hash) << name << " original after a copy at " << stop_at;
    }
  }
}

// Always the first option: the default schedule.
class FirstOption : public Chooser {
 protected:
  std::uint64_t Pick(const ChoiceRequest&) override { return 0; }
};

bool Offers(const SteppedRun& run, std::uint64_t item) {
  const std::vector<std::uint64_t>& items = run.pending_items();
  return std::find(items.begin(), items.end(), item) != items.end();
}

// The persistent sets' what-if operations (explore/src/persistent.h) on a copy: what they enable is on offer at once,
// an injected message changes its receiver's part of the world and no other worker's, and the original is untouched.
TEST(SteppedRun, WhatIfOperationsOfferWhatTheyEnable) {
  const scenarios::CatalogEntry& entry = *scenarios::FindScenario("s1_remote_to_here");
  const RunConfig config = FingerprintedConfigOf(entry);
  FirstOption first;
  SteppedRun run(entry.scenario, config, first);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(run.Advance());  // the programs have started; some wait at the barrier
  const std::vector<std::uint64_t> before = run.pending_items();

  core::Message message;
  message.type = core::MessageType::RREF_USER_DELETE;
  message.id = 99;
  message.from = 0;
  message.to = 1;
  SteppedRun injected(run, first, nullptr);
  const std::uint64_t other = *WorkerFingerprint(injected.view(), 2);
  const std::uint64_t receiver = *WorkerFingerprint(injected.view(), 1);
  const std::uint64_t item = injected.Inject(message);
  EXPECT_TRUE(Offers(injected, item));
  EXPECT_EQ(StepWorker(injected.view(), item), 1);
  EXPECT_NE(*WorkerFingerprint(injected.view(), 1), receiver);
  EXPECT_EQ(*WorkerFingerprint(injected.view(), 2), other);
  EXPECT_EQ(run.pending_items(), before);
  EXPECT_THROW(injected.Inject(core::Message{}), std::invalid_argument);  // no receiver -1

  int woken = 0;
  for (int w = 0; w < entry.scenario.workers; ++w) {
    SteppedRun copy(run, first, nullptr);
    if (!copy.WakeBarrierWaiters(w)) continue;
    ++woken;
    EXPECT_EQ(copy.pending_items().size(), before.size() + 1) << "worker " << w;
    for (std::uint64_t i : copy.pending_items()) {
      if (!Offers(run, i)) {
        EXPECT_EQ(StepWorker(copy.view(), i), w);
      }
    }
  }
  EXPECT_GT(woken, 0) << "no worker waited at a barrier after 6 steps";
}

}  // namespace
}  // namespace rrefsim::sim
