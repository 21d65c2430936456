// Dynamic partial-order reduction (ExploreOptions::dpor): it must reach every end state the state-hashing search
// reaches, find the same counterexamples, and its race analysis must add branches exactly where two dependent steps
// could have run the other way round.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../src/dpor.h"
#include "ends.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore {
namespace {

using test_support::EndOf;
using test_support::Entry;

std::set<std::string> EndsReached(const std::string& name, ExploreOptions options, ExploreResult* out = nullptr) {
  std::set<std::string> ends;
  options.on_complete_run = [&ends](const scenarios::CheckedRun& run) { ends.insert(EndOf(run)); };
  ExploreResult result = Explore(Entry(name), options);
  EXPECT_TRUE(result.complete) << name;
  EXPECT_FALSE(result.counterexample) << name;
  if (out != nullptr) *out = std::move(result);
  return ends;
}

ExploreOptions Dpor() {
  ExploreOptions o;
  o.dpor = true;
  return o;
}

TEST(Dpor, ReachesEveryEndOfTheStateHashingSearch) {
  for (const char* name : {"world_size_one", "s1_remote_to_here", "s2_remote_to_self", "s5_owner_to_user",
                           "s6_owner_to_self", "s8_fetch_before_owner"}) {
    ExploreResult dpor;
    const std::set<std::string> reduced = EndsReached(name, Dpor(), &dpor);
    EXPECT_EQ(reduced, EndsReached(name, ExploreOptions{})) << name;
    EXPECT_GT(dpor.stats.races, 0u) << name;
    EXPECT_EQ(dpor.stats.distinct_states, 0u) << name;  // stateless
    EXPECT_FALSE(dpor.config.fingerprints) << name;
  }
}

// Without the races' branches the search would be one run per schedule class it happened to take first: the races
// are what make it complete. With them, every random schedule ends where some DPOR run ended.
TEST(Dpor, RandomSchedulesEndOnlyWhereTheDporSearchEnds) {
  for (const char* name : {"s1_remote_to_here", "s5_owner_to_user"}) {
    ExploreResult model;
    const std::set<std::string> ends = EndsReached(name, Dpor(), &model);
    EXPECT_GT(model.stats.race_branches, 0u);
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
      sim::RandomChooser chooser(seed);
      const scenarios::CheckedRun run = scenarios::RunChecked(Entry(name), model.config, chooser);
      EXPECT_TRUE(ends.contains(EndOf(run))) << name << " seed " << seed << " ends " << EndOf(run);
    }
  }
}

// Records, per worker, the order of what happened there (each record's kind, the message delivered, the fiber that
// ran), into a slot the search's copies share: when a run ends (on_complete_run) the slot holds that run's orders.
class DeliveryOrders : public ExtraInvariant {
 public:
  explicit DeliveryOrders(std::shared_ptr<std::string> slot) : slot_(std::move(slot)) {}
  std::unique_ptr<ExtraInvariant> Clone() const override { return std::make_unique<DeliveryOrders>(*this); }
  std::uint64_t Fingerprint() const override { return 0; }  // the searches below keep no states
  void OnStart(const checkers::GlobalView& view) override { orders_.assign(static_cast<std::size_t>(view.workers()), ""); }
  void OnRecord(const checkers::StepRecord& record) override {
    if (record.worker < 0 || record.worker >= static_cast<int>(orders_.size())) return;
    std::string what = std::string(checkers::RecordKindName(record.kind)) + " by " + std::string(record.fiber);
    if (record.message != nullptr) {
      what += " " + std::string(core::MessageTypeName(record.message->type)) + " from " +
              std::to_string(record.message->from);
    }
    orders_[static_cast<std::size_t>(record.worker)] += what + "; ";
  }
  bool OnStepEnd(const checkers::GlobalView&) override {
    *slot_ = "";
    for (std::size_t w = 0; w < orders_.size(); ++w) *slot_ += "w" + std::to_string(w) + ": " + orders_[w] + "| ";
    return true;
  }

 private:
  std::shared_ptr<std::string> slot_;
  std::vector<std::string> orders_;
};

std::set<std::string> DeliveryOrdersReached(const std::string& name, ExploreOptions options) {
  auto slot = std::make_shared<std::string>();
  DeliveryOrders watch(slot);
  std::set<std::string> orders;
  options.extra_invariant = &watch;
  options.on_complete_run = [&](const scenarios::CheckedRun&) { orders.insert(*slot); };
  const ExploreResult result = Explore(Entry(name), options);
  EXPECT_TRUE(result.complete) << name;
  return orders;
}

// Steps at one worker never commute, so two schedules in which something happened at some worker in another order
// are in different classes, and DPOR must run one of each: every combination of per-worker orders that the plain
// search (every schedule, no reduction) shows. A DPOR that reverses too few races runs fewer and fails this.
TEST(Dpor, RunsEveryCombinationOfPerWorkerOrdersThePlainSearchRuns) {
  for (const char* name : {"world_size_one", "remote_message_dropped"}) {
    ExploreOptions plain;
    plain.state_hashing = plain.sleep_sets = false;
    const std::set<std::string> all = DeliveryOrdersReached(name, plain);
    EXPECT_GT(all.size(), 1u) << name;
    EXPECT_EQ(DeliveryOrdersReached(name, Dpor()), all) << name;
  }
}

// The pytorch-mode counterexamples of docs/explore.md under D=1: a duplicated fetch (P10) and a duplicated
// PYTHON_REMOTE_CALL (P4); the counterexample replays on fibers from its choices, without the single-option steps.
TEST(Dpor, FindsTheDuplicateCounterexamplesAndTheyReplayOnFibers) {
  ExploreOptions one = Dpor();
  one.bounds.max_duplicates = 1;
  const ExploreResult result = Explore(Entry("s2_remote_to_self"), one);
  ASSERT_TRUE(result.counterexample);
  EXPECT_FALSE(result.config.every_step_is_a_choice);
  for (const sim::Choice& c : result.counterexample->run.choices) {
    EXPECT_FALSE(c.kind == sim::ChoiceKind::kStep && c.options == 1);
  }
  sim::ReplayChooser replay(result.counterexample->run.choices);
  const scenarios::CheckedRun again = scenarios::RunChecked(Entry("s2_remote_to_self"), result.config, replay);
  EXPECT_TRUE(replay.exhausted());
  ASSERT_TRUE(again.failed());
  EXPECT_EQ(again.violations.front().checker, result.counterexample->violations.front().checker);
}

TEST(Dpor, RefusesADepthBoundAndShortest) {
  ExploreOptions deep = Dpor();
  deep.bounds.max_depth = 5;
  EXPECT_THROW(Explore(Entry("s1_remote_to_here"), deep), std::invalid_argument);
  ExploreOptions shortest = Dpor();
  shortest.shortest = true;
  EXPECT_THROW(Explore(Entry("s1_remote_to_here"), shortest), std::invalid_argument);
}

// --- the race analysis on hand-made paths ---

// A step choice offering `items`, taking `pick`, whose taken step acted on `workers`.
detail::Node Step(std::vector<std::uint64_t> items, std::uint64_t pick, std::uint64_t workers) {
  detail::Node n;
  n.kind = sim::ChoiceKind::kStep;
  n.options = n.limit = items.size();
  n.items = std::move(items);
  n.pick = pick;
  n.footprints.assign(n.items.size(), sim::StepFootprint{0, 0, true, false});
  n.footprints[pick] = sim::StepFootprint{workers, 0, false, false};
  return n;
}

// Builds the path step by step as the probe does: NoteOffered when a choice is made, AnalyseStep once it ran.
detail::ReductionStats Analyse(std::vector<detail::Node>& path) {
  detail::ReductionStats stats;
  std::vector<detail::Node> steps = std::move(path);
  path.clear();
  for (detail::Node& n : steps) {
    const std::uint64_t pick = n.pick;
    detail::NoteOffered(path, n, path.size());
    n.todo[pick] = 1;
    path.push_back(std::move(n));
    detail::AnalyseStep(path, path.size() - 1, stats);
  }
  return stats;
}

TEST(Dpor, TwoDeliveriesToOneWorkerRaceAndTheOtherOrderIsAdded) {
  // Messages 10 and 11 are both due; both go to worker 0.
  std::vector<detail::Node> path = {Step({10, 11}, 0, 1), Step({11}, 0, 1)};
  const detail::ReductionStats stats = Analyse(path);
  EXPECT_EQ(stats.races, 1u);
  EXPECT_EQ(stats.branches, 1u);
  EXPECT_EQ(path[0].todo, (std::vector<char>{1, 1}));
}

TEST(Dpor, DeliveriesToDifferentWorkersDoNotRace) {
  std::vector<detail::Node> path = {Step({10, 11}, 0, 1), Step({11}, 0, 2)};
  const detail::ReductionStats stats = Analyse(path);
  EXPECT_EQ(stats.races, 0u);
  EXPECT_EQ(path[0].todo, (std::vector<char>{1, 0}));
}

TEST(Dpor, AStepDoesNotRaceWithTheStepThatEnabledIt) {
  // Message 11 is sent by the delivery of 10 (it is on offer only after it), to the same worker.
  std::vector<detail::Node> path = {Step({10}, 0, 1), Step({11}, 0, 1)};
  EXPECT_EQ(Analyse(path).races, 0u);
}

TEST(Dpor, ARaceOrderedThroughAThirdStepIsNoRace) {
  // 10 to worker 0, then 12 to workers 0 and 1 (it reads both), then 11 to worker 1: 10 and 11 are not dependent,
  // and 12 orders 10 before 11 anyway; 10-12 and 12-11 are races of their own.
  std::vector<detail::Node> path = {Step({10, 11, 12}, 0, 1), Step({11, 12}, 1, 3), Step({11}, 0, 2)};
  const detail::ReductionStats stats = Analyse(path);
  EXPECT_EQ(stats.races, 2u);
  EXPECT_EQ(path[0].todo, (std::vector<char>{1, 0, 1}));  // 12 first
  EXPECT_EQ(path[1].todo, (std::vector<char>{1, 1}));     // 11 before 12
}

TEST(Dpor, NothingRacesAcrossTheMainLoopsTurn) {
  // After the first step nothing was enabled and the main loop acted (time passed): every later step comes after.
  std::vector<detail::Node> path = {Step({10}, 0, 1), Step({11, 12}, 0, 1), Step({12}, 0, 1)};
  path[0].footprints[0].main_turn = true;
  const detail::ReductionStats stats = Analyse(path);
  EXPECT_EQ(stats.races, 1u);  // 11 and 12 only
  EXPECT_EQ(path[1].todo, (std::vector<char>{1, 1}));
}

}  // namespace
}  // namespace rrefsim::explore
