#include "rrefsim/sim/chooser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rrefsim::sim {
namespace {

using Items = std::vector<std::uint64_t>;

// Field by field: g++ 12 flags designated initializers that leave out `items` (-Wmissing-field-initializers).
ChoiceRequest Ask(ChoiceKind kind, std::uint64_t options, std::uint64_t key = 0, double p_one = -1) {
  ChoiceRequest request;
  request.kind = kind;
  request.options = options;
  request.key = key;
  request.p_one = p_one;
  return request;
}
ChoiceRequest Step(const Items& items) {
  ChoiceRequest request = Ask(ChoiceKind::kStep, items.size());
  request.items = items;
  return request;
}
ChoiceRequest Drop(std::uint64_t message, double p) { return Ask(ChoiceKind::kDrop, 2, message, p); }
ChoiceRequest Delay(std::uint64_t message) { return Ask(ChoiceKind::kDelay, 1000, message); }

// A small world whose questions depend on earlier answers, so that a replay has to walk the same path.
std::vector<std::uint64_t> RunToyWorld(Chooser& chooser) {
  std::vector<std::uint64_t> picks;
  std::uint64_t message = 1;
  for (std::uint64_t round = 0; round < 60; ++round) {
    Items ready;
    for (std::uint64_t i = 0; i <= round % 4; ++i) ready.push_back(100 + i);
    picks.push_back(chooser.Choose(Step(ready)));
    if (picks.back() != 0) continue;
    picks.push_back(chooser.Choose(Drop(message, 0.3)));
    if (picks.back() == 0) picks.push_back(chooser.Choose(Delay(message)));
    ++message;
  }
  return picks;
}

std::vector<std::uint64_t> DropPicks(RandomChooser& chooser, bool interleave_steps) {
  const Items ready = {1, 2, 3};
  std::vector<std::uint64_t> drops;
  for (std::uint64_t message = 1; message <= 200; ++message) {
    if (interleave_steps) chooser.Choose(Step(ready));
    drops.push_back(chooser.Choose(Drop(message, 0.5)));
  }
  return drops;
}

TEST(ChoiceKind, NamesRoundTrip) {
  for (std::string_view name : {"step", "drop", "duplicate", "delay", "partition", "heal", "rate", "workload"}) {
    const auto kind = ChoiceKindFromName(name);
    ASSERT_TRUE(kind.has_value()) << name;
    EXPECT_EQ(ChoiceKindName(*kind), name);
  }
  EXPECT_FALSE(ChoiceKindFromName("reorder").has_value());
}

TEST(ReplayDivergence, NamesTheStep) {
  const ReplayDivergence error(7, "something else was asked");
  EXPECT_EQ(error.step, 7u);
  EXPECT_STREQ(error.what(), "replay diverged at choice 7: something else was asked");
}

TEST(Chooser, ChooseRecordsEveryDecision) {
  RandomChooser chooser(1);
  const Items ready = {10, 20, 30};
  const std::uint64_t step = chooser.Choose(Step(ready));
  const std::uint64_t drop = chooser.Choose(Drop(5, 1.0));
  const std::uint64_t only = chooser.Choose(Ask(ChoiceKind::kHeal, 1, 0));
  EXPECT_EQ(drop, 1u);
  EXPECT_EQ(only, 0u);
  const std::vector<Choice> expected = {{ChoiceKind::kStep, 3, step, 0},
                                        {ChoiceKind::kDrop, 2, 1, 5},
                                        {ChoiceKind::kHeal, 1, 0, 0}};
  EXPECT_EQ(chooser.choices(), expected);
}

TEST(Chooser, RejectsMalformedRequests) {
  RandomChooser chooser(1);
  EXPECT_THROW(chooser.Choose(Ask(ChoiceKind::kDelay, 0)), std::invalid_argument);
  const Items two = {1, 2};
  ChoiceRequest mismatched = Step(two);
  mismatched.options = 3;
  EXPECT_THROW(chooser.Choose(mismatched), std::invalid_argument);
  EXPECT_TRUE(chooser.choices().empty());
}

TEST(Chooser, APickOutOfRangeIsCaughtAndNotRecorded) {
  struct OffByOne : Chooser {
    std::uint64_t Pick(const ChoiceRequest& request) override { return request.options; }
  } chooser;
  EXPECT_THROW(chooser.Choose(Ask(ChoiceKind::kRate, 4)), std::logic_error);
  EXPECT_TRUE(chooser.choices().empty());
}

TEST(RandomChooser, SameSeedSamePicksDifferentSeedDifferentPicks) {
  RandomChooser a(77), b(77), c(78);
  const std::vector<std::uint64_t> picks = RunToyWorld(a);
  EXPECT_EQ(RunToyWorld(b), picks);
  EXPECT_EQ(b.choices(), a.choices());
  EXPECT_NE(RunToyWorld(c), picks);
}

// The stream assignment is part of what a seed means: kStep from SubSeed(seed, 1), every other kind from
// SubSeed(seed, 2). Two streams from one sub-seed would pass the shifting tests below yet correlate the picks.
TEST(RandomChooser, DrawsFromThePinnedStreams) {
  RandomChooser chooser(31);
  Rng schedule(SubSeed(31, 1)), other(SubSeed(31, 2));
  const Items ready = {1, 2, 3, 4, 5};
  for (std::uint64_t m = 1; m <= 50; ++m) {
    ASSERT_EQ(chooser.Choose(Step(ready)), schedule.Below(5));
    ASSERT_EQ(chooser.Choose(Delay(m)), other.Below(1000));
  }
}

// Extra scheduling decisions must not shift the fault decisions: they draw from another stream.
TEST(RandomChooser, StepRequestsDoNotShiftOtherKinds) {
  RandomChooser plain(5), interleaved(5);
  EXPECT_EQ(DropPicks(plain, false), DropPicks(interleaved, true));
}

TEST(RandomChooser, OtherKindsDoNotShiftSteps) {
  RandomChooser plain(6), interleaved(6);
  const Items ready = {1, 2, 3, 4};
  for (std::uint64_t i = 0; i < 200; ++i) {
    interleaved.Choose(Drop(i + 1, 0.5));
    interleaved.Choose(Delay(i + 1));
    ASSERT_EQ(plain.Choose(Step(ready)), interleaved.Choose(Step(ready))) << "step " << i;
  }
}

TEST(RandomChooser, BiasedCoinFollowsPOne) {
  RandomChooser chooser(9);
  int dropped = 0, never = 0, always = 0, fair = 0;
  for (std::uint64_t m = 0; m < 20000; ++m) {
    dropped += chooser.Choose(Drop(m, 0.2));
    never += chooser.Choose(Drop(m, 0.0));
    always += chooser.Choose(Drop(m, 1.0));
    fair += chooser.Choose(Drop(m, -1));  // no p_one: a uniform pick between the two options
  }
  EXPECT_NEAR(dropped / 20000.0, 0.2, 0.015);
  EXPECT_EQ(never, 0);
  EXPECT_EQ(always, 20000);
  EXPECT_NEAR(fair / 20000.0, 0.5, 0.02);
}

// A replay chooser of type R over a random run's choices makes the same picks and records the same list.
template <typename R>
R ExpectReproducesARandomRun() {
  RandomChooser original(2024);
  const std::vector<std::uint64_t> picks = RunToyWorld(original);
  R replay(original.choices());
  EXPECT_EQ(RunToyWorld(replay), picks);
  EXPECT_EQ(replay.choices(), original.choices());
  return replay;
}

TEST(ReplayChooser, ReproducesARandomRunExactly) {
  EXPECT_TRUE(ExpectReproducesARandomRun<ReplayChooser>().exhausted());
}

std::string DivergenceMessage(ReplayChooser& replay, const ChoiceRequest& request, std::uint64_t expected_step) {
  try {
    replay.Choose(request);
  } catch (const ReplayDivergence& divergence) {
    EXPECT_EQ(divergence.step, expected_step);
    return divergence.what();
  }
  ADD_FAILURE() << "no divergence reported";
  return "";
}

TEST(ReplayChooser, NamesTheStepAndBothSidesOnAMismatch) {
  const std::vector<Choice> recorded = {{ChoiceKind::kStep, 3, 2, 0}, {ChoiceKind::kDrop, 2, 1, 17}};
  const Items ready = {1, 2, 3};
  {
    ReplayChooser replay(recorded);
    replay.Choose(Step(ready));
    EXPECT_EQ(DivergenceMessage(replay, Delay(17), 1),
              "replay diverged at choice 1: recorded (drop, 2 options, key 17), requested (delay, 1000 options, "
              "key 17)");
  }
  {
    ReplayChooser replay(recorded);
    EXPECT_EQ(DivergenceMessage(replay, Step({1, 2}), 0),
              "replay diverged at choice 0: recorded (step, 3 options, key 0), requested (step, 2 options, key 0)");
  }
  {
    ReplayChooser replay(recorded);
    replay.Choose(Step(ready));
    EXPECT_NE(DivergenceMessage(replay, Drop(18, 0.5), 1).find("key 17), requested (drop, 2 options, key 18)"),
              std::string::npos);
  }
}

TEST(ReplayChooser, AZeroKeyOnEitherSideMatchesAnyKey) {
  ReplayChooser replay({{ChoiceKind::kDrop, 2, 1, 17}, {ChoiceKind::kDrop, 2, 0, 0}});
  EXPECT_EQ(replay.Choose(Drop(0, 0.5)), 1u);
  EXPECT_EQ(replay.Choose(Drop(99, 0.5)), 0u);
  EXPECT_TRUE(replay.exhausted());
}

TEST(ReplayChooser, RunningPastTheEndIsADivergence) {
  ReplayChooser replay({{ChoiceKind::kHeal, 5, 3, 0}});
  EXPECT_EQ(replay.Choose(Ask(ChoiceKind::kHeal, 5)), 3u);
  EXPECT_EQ(DivergenceMessage(replay, Drop(4, 0.1), 1),
            "replay diverged at choice 1: the recorded list ended after 1 choices; requested (drop, 2 options, "
            "key 4)");
}

TEST(ReplayChooser, ARecordedPickOutOfRangeIsADivergence) {
  ReplayChooser replay({{ChoiceKind::kDelay, 1000, 1000, 0}});
  EXPECT_NE(DivergenceMessage(replay, Delay(1), 0).find("recorded pick 1000 is out of range"), std::string::npos);
}

TEST(LenientReplayChooser, ReproducesARandomRunExactly) {
  const LenientReplayChooser lenient = ExpectReproducesARandomRun<LenientReplayChooser>();
  EXPECT_EQ(lenient.matched(), lenient.choices().size());
}

TEST(LenientReplayChooser, MatchesByKindAndKeyInRecordedOrderAndFallsBackToOptionZero) {
  LenientReplayChooser lenient({{ChoiceKind::kDrop, 2, 1, 17}, {ChoiceKind::kDelay, 1000, 7, 17},
                                {ChoiceKind::kDrop, 2, 1, 17}, {ChoiceKind::kHeal, 5, 9, 0}});
  EXPECT_EQ(lenient.Choose(Delay(17)), 7u);      // out of position, found by its key
  EXPECT_EQ(lenient.Choose(Drop(18, 0.5)), 0u);  // never recorded
  EXPECT_EQ(lenient.Choose(Drop(17, 0.5)), 1u);
  EXPECT_EQ(lenient.Choose(Drop(17, 0.5)), 1u);
  EXPECT_EQ(lenient.Choose(Drop(17, 0.5)), 0u);        // the recorded picks of this key are used up
  EXPECT_EQ(lenient.Choose(Ask(ChoiceKind::kHeal, 3)), 0u);  // recorded pick 9 is out of range now
  EXPECT_EQ(lenient.matched(), 3u);
  ReplayChooser strict(lenient.choices());  // the re-recorded list replays strictly
  for (const Choice& c : lenient.choices()) EXPECT_EQ(strict.Choose(Ask(c.kind, c.options, c.key)), c.pick);
  EXPECT_TRUE(strict.exhausted());
}

// ---- PCT ----

std::uint64_t PickedItem(Chooser& pct, const Items& ready) { return ready[pct.Choose(Step(ready))]; }

TEST(PctChooser, RejectsInvalidParameters) {
  EXPECT_THROW(PctChooser(1, 0, 10), std::invalid_argument);
  EXPECT_THROW(PctChooser(1, 2, 0), std::invalid_argument);
}

TEST(PctChooser, ChangePointsAreDistinctSortedAndInRange) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const std::vector<std::uint64_t> points = PctChooser(seed, 5, 10).change_points();
    ASSERT_EQ(points.size(), 4u);
    ASSERT_TRUE(std::is_sorted(points.begin(), points.end()));
    ASSERT_EQ(std::adjacent_find(points.begin(), points.end()), points.end());
    ASSERT_GE(points.front(), 1u);
    ASSERT_LE(points.back(), 10u);
  }
  EXPECT_TRUE(PctChooser(1, 1, 10).change_points().empty());
  EXPECT_EQ(PctChooser(1, 5, 2).change_points(), (std::vector<std::uint64_t>{1, 2}));  // more points than steps
}

// Without change points the highest-priority item runs whenever it is enabled, wherever it sits in the list.
TEST(PctChooser, DepthOneKeepsRunningTheSameItem) {
  PctChooser pct(11, 1, 100), twin(11, 1, 100);
  const Items ready = {10, 20, 30};
  const std::uint64_t top = PickedItem(pct, ready);
  EXPECT_EQ(PickedItem(twin, ready), top);  // same seed, same priorities
  for (int i = 0; i < 20; ++i) ASSERT_EQ(PickedItem(pct, ready), top);
  EXPECT_EQ(PickedItem(pct, {30, 20, 10}), top);
  Items others;
  std::copy_if(ready.begin(), ready.end(), std::back_inserter(others), [&](std::uint64_t x) { return x != top; });
  const std::uint64_t second = PickedItem(pct, others);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(PickedItem(pct, others), second);
  EXPECT_EQ(PickedItem(pct, ready), top);
}

// Initial priorities form a uniformly random order: each of three items is on top for about a third of seeds.
TEST(PctChooser, InitialPrioritiesAreUniform) {
  const Items ready = {1, 2, 3};
  std::vector<int> on_top(4, 0);
  for (std::uint64_t seed = 0; seed < 3000; ++seed) {
    PctChooser pct(seed, 1, 10);
    ++on_top[PickedItem(pct, ready)];
  }
  for (std::uint64_t item : ready) EXPECT_NEAR(on_top[item], 1000, 150) << "item " << item;
}

// With expected_steps = depth - 1 every step is a change point, so each chosen item drops below all the others,
// the most recently lowered one lowest.
TEST(PctChooser, ChangePointsLowerTheChosenItemBelowEveryOther) {
  PctChooser pct(3, 3, 2);
  const Items ready = {1, 2, 3};
  const std::uint64_t first = PickedItem(pct, ready);
  const std::uint64_t second = PickedItem(pct, ready);
  EXPECT_NE(second, first);
  const std::uint64_t third = PickedItem(pct, ready);
  EXPECT_NE(third, first);
  EXPECT_NE(third, second);
  EXPECT_EQ(PickedItem(pct, ready), third);         // no change point left: the untouched item keeps running
  EXPECT_EQ(PickedItem(pct, {first, second}), first);  // lowered first, so above the one lowered after it
}

TEST(PctChooser, ANewItemRanksAboveLoweredOnes) {
  PctChooser pct(4, 2, 1);
  EXPECT_EQ(PickedItem(pct, {7}), 7u);  // step 1 is the change point: item 7 is lowered
  EXPECT_EQ(PickedItem(pct, {7, 8}), 8u);
}

// Fault decisions do not depend on the scheduling strategy: PCT's other kinds are RandomChooser's.
TEST(PctChooser, OtherKindsMatchRandomChooser) {
  PctChooser pct(21, 3, 50);
  RandomChooser random(21);
  const Items ready = {5, 6};
  for (std::uint64_t m = 1; m <= 100; ++m) {
    pct.Choose(Step(ready));
    ASSERT_EQ(pct.Choose(Drop(m, 0.3)), random.Choose(Drop(m, 0.3)));
    ASSERT_EQ(pct.Choose(Delay(m)), random.Choose(Delay(m)));
  }
  EXPECT_LT(pct.Choose(Ask(ChoiceKind::kStep, 4)), 4u);  // no items: a uniform pick
}

// Four threads of five steps each (n = 4 items, k = 20 steps). The bug needs two ordering constraints (depth 2):
// thread 1 starts after thread 0's third step and before its fourth. PCT promises at least 1/(n k) = 1/80 per
// run; the model gives about 1/40 (thread 0 above thread 1, and the change point on that exact step).
bool ToyBugFound(std::uint64_t seed, int depth) {
  constexpr std::uint64_t kThreads = 4, kStepsEach = 5;
  PctChooser pct(seed, depth, kThreads * kStepsEach);
  std::vector<std::uint64_t> done(kThreads, 0);
  for (;;) {
    Items ready;
    for (std::uint64_t t = 0; t < kThreads; ++t) {
      if (done[t] < kStepsEach) ready.push_back(t);
    }
    if (ready.empty()) return false;
    const std::uint64_t thread = PickedItem(pct, ready);
    if (thread == 1 && done[1] == 0) return done[0] == 3;
    ++done[thread];
  }
}

TEST(PctChooser, FindsADepthTwoBugAtLeastAsOftenAsPromised) {
  constexpr int kRuns = 4000;
  int found = 0;
  int found_without_change_points = 0;
  for (std::uint64_t seed = 0; seed < kRuns; ++seed) {
    found += ToyBugFound(seed, 2);
    found_without_change_points += ToyBugFound(seed, 1);
  }
  EXPECT_GE(found, kRuns / 80);
  EXPECT_EQ(found_without_change_points, 0);  // the bug really has depth 2: one ordering constraint is not enough
  RecordProperty("found", found);
}

}  // namespace
}  // namespace rrefsim::sim

namespace rrefsim::sim {
namespace {

// Two threads of 40 steps; the bug needs thread 1's first step exactly between thread 0's 30th and 31st (depth 2).
// Random scheduling almost never holds thread 1 back that long ((1/2)^30); PCT only needs thread 0 on top and its
// one change point on that step: about 1/2 * 1/80 per run.
template <class MakeChooser>
int LateStartBugsFound(MakeChooser make, int runs) {
  constexpr std::uint64_t kStepsEach = 40;
  int found = 0;
  for (int seed = 0; seed < runs; ++seed) {
    auto chooser = make(static_cast<std::uint64_t>(seed));
    std::uint64_t done[2] = {0, 0};
    for (;;) {
      Items ready;
      for (std::uint64_t t = 0; t < 2; ++t) {
        if (done[t] < kStepsEach) ready.push_back(t);
      }
      if (ready.empty()) break;
      const std::uint64_t thread = PickedItem(chooser, ready);
      if (thread == 1 && done[1] == 0) {
        found += done[0] == 30 ? 1 : 0;
        break;
      }
      ++done[thread];
    }
  }
  return found;
}

TEST(PctChooser, FindsADeepOrderingBugFarMoreOftenThanRandom) {
  constexpr int kRuns = 4000;
  const int pct = LateStartBugsFound([](std::uint64_t seed) { return PctChooser(seed, 2, 80); }, kRuns);
  const int random = LateStartBugsFound([](std::uint64_t seed) { return RandomChooser(seed); }, kRuns);
  EXPECT_GE(pct, kRuns / 160 / 2);  // the bound 1/(n k^(d-1)) = 1/160, with slack for sampling
  EXPECT_GT(pct, 4 * random + 5);
  RecordProperty("pct", pct);
  RecordProperty("random", random);
}

}  // namespace
}  // namespace rrefsim::sim
