// The deviation bound (Bounds::max_deviations): every run it explores leaves the default schedule at most K times,
// state hashing under it loses no end state that plain enumeration of those runs reaches, and a counterexample
// comes with the fewest deviations.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "ends.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore {
namespace {

using test_support::EndOf;
using test_support::Entry;

std::uint32_t DeviationsOf(const std::vector<sim::Choice>& choices) {
  std::uint32_t n = 0;
  for (const sim::Choice& c : choices) n += c.kind == sim::ChoiceKind::kStep && c.pick != 0 ? 1 : 0;
  return n;
}

ExploreOptions WithinDeviations(std::uint32_t k) {
  ExploreOptions options;
  options.bounds.max_deviations = k;
  return options;
}

TEST(DeviationBound, NoDeviationIsTheDefaultScheduleAlone) {
  std::vector<std::vector<sim::Choice>> runs;
  ExploreOptions options = WithinDeviations(0);
  options.on_complete_run = [&runs](const scenarios::CheckedRun& run) { runs.push_back(run.run.choices); };
  const ExploreResult result = Explore(Entry("s1_remote_to_here"), options);
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.stats.runs, 1u);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(DeviationsOf(runs.front()), 0u);
  EXPECT_GT(result.stats.deviation_held, 0u);  // every choice with more than one option was held
  EXPECT_EQ(result.stats.deviations, 0u);
}

// Every run explored at bound K (the searches at 0, ..., K) leaves the default at most K times, and some leave it
// exactly K times: the bound is used, not only respected.
TEST(DeviationBound, EveryRunStaysWithinTheBoundAndSomeReachIt) {
  for (std::uint32_t k : {1u, 2u, 3u}) {
    std::uint32_t most = 0;
    ExploreOptions options = WithinDeviations(k);
    options.on_complete_run = [&](const scenarios::CheckedRun& run) {
      const std::uint32_t n = DeviationsOf(run.run.choices);
      EXPECT_LE(n, k);
      most = std::max(most, n);
    };
    const ExploreResult result = Explore(Entry("s3_user_to_user"), options);
    EXPECT_TRUE(result.complete);
    EXPECT_FALSE(result.counterexample);
    EXPECT_EQ(result.stats.deviations, k);
    EXPECT_EQ(most, k) << "bound " << k;
  }
}

// Every world state the searches step through (sim::StateFingerprint, after each step), into a set the copies share.
class StatesSeen : public ExtraInvariant {
 public:
  explicit StatesSeen(std::shared_ptr<std::set<std::uint64_t>> seen) : seen_(std::move(seen)) {}
  std::unique_ptr<ExtraInvariant> Clone() const override { return std::make_unique<StatesSeen>(*this); }
  std::uint64_t Fingerprint() const override { return 0; }  // no memory of its own
  void OnRecord(const checkers::StepRecord&) override {}
  bool OnStepEnd(const checkers::GlobalView& view) override {
    if (std::optional<std::uint64_t> f = sim::StateFingerprint(view)) seen_->insert(*f);
    return true;
  }

 private:
  std::shared_ptr<std::set<std::uint64_t>> seen_;
};

std::set<std::uint64_t> StatesReached(const std::string& scenario, ExploreOptions options,
                                      core::ProtocolMode mode = core::ProtocolMode::kPytorch) {
  auto seen = std::make_shared<std::set<std::uint64_t>>();
  StatesSeen watch(seen);
  options.extra_invariant = &watch;
  const ExploreResult result = Explore(Entry(scenario), options, mode);
  EXPECT_TRUE(result.complete) << scenario;
  EXPECT_FALSE(result.counterexample) << scenario;
  return *seen;
}

std::set<std::string> EndsReached(const std::string& scenario, ExploreOptions options) {
  std::set<std::string> ends;
  options.on_complete_run = [&ends](const scenarios::CheckedRun& run) { ends.insert(EndOf(run)); };
  const ExploreResult result = Explore(Entry(scenario), options);
  EXPECT_TRUE(result.complete) << scenario;
  return ends;
}

// State hashing under the bound keys a state with the order of its options (what a schedule from it costs depends on
// it) and prunes a revisit only when an earlier visit had at least as many deviations left. Plain enumeration (no
// hashing, every run within the bound) is the reference: the hashed search must reach every end it reaches.
TEST(DeviationBound, StateHashingLosesNoEndOfThePlainEnumeration) {
  for (const char* scenario : {"s1_remote_to_here", "s5_owner_to_user", "s6_owner_to_self"}) {
    for (std::uint32_t k : {1u, 2u}) {
      ExploreOptions hashed = WithinDeviations(k);
      ExploreOptions plain = hashed;
      plain.state_hashing = false;
      const std::set<std::string> all = EndsReached(scenario, plain);
      EXPECT_FALSE(all.empty());
      EXPECT_EQ(EndsReached(scenario, hashed), all) << scenario << " within " << k << " deviations";
    }
  }
}

// The same for every state on the way: each one some run within the bound steps through, the hashed search steps
// through too (two states whose options come in another order are not one state under the bound: the same schedule
// costs different deviations from them).
TEST(DeviationBound, StateHashingLosesNoStateOfThePlainEnumeration) {
  // s5 also needs a revisit with more deviations left than the first visit had to be explored again.
  for (const char* scenario : {"s1_remote_to_here", "s3_user_to_user", "s4_user_to_owner", "s5_owner_to_user"}) {
    for (std::uint32_t k : {1u, 2u, 3u}) {
      ExploreOptions hashed = WithinDeviations(k);
      ExploreOptions plain = hashed;
      plain.state_hashing = false;
      const std::set<std::uint64_t> all = StatesReached(scenario, plain);
      const std::set<std::uint64_t> reached = StatesReached(scenario, hashed);
      std::size_t missed = 0;
      for (std::uint64_t state : all) missed += reached.contains(state) ? 0 : 1;
      EXPECT_EQ(missed, 0u) << scenario << " within " << k << " deviations: of " << all.size() << " states";
    }
  }
}

// So with a depth bound and a fault bound too: a run is then often cut at a fault choice inside a step, and the
// states seen must be states of runs (the world once went on with the step, the message unsent, and showed that
// state to the observers: plain enumeration, cut at other places, then saw states the hashed search never did).
TEST(DeviationBound, StateHashingLosesNoStateOfThePlainEnumerationWithDepthAndFaultBounds) {
  struct Case {
    const char* scenario;
    core::ProtocolMode mode;
    int duplicates, drops;
    std::uint32_t k;
  };
  for (const Case& c : {Case{"s1_remote_to_here", core::ProtocolMode::kPytorch, 0, 1, 2},
                        Case{"s5_owner_to_user", core::ProtocolMode::kHardened, 1, 0, 2},
                        Case{"s6_owner_to_self", core::ProtocolMode::kPytorch, 1, 0, 1}}) {
    ExploreOptions hashed = WithinDeviations(c.k);
    hashed.bounds.max_depth = 10;
    hashed.bounds.max_duplicates = c.duplicates;
    hashed.bounds.max_drops = c.drops;
    ExploreOptions plain = hashed;
    plain.state_hashing = false;
    const std::set<std::uint64_t> all = StatesReached(c.scenario, plain, c.mode);
    const std::set<std::uint64_t> reached = StatesReached(c.scenario, hashed, c.mode);
    std::size_t missed = 0;
    for (std::uint64_t state : all) missed += reached.contains(state) ? 0 : 1;
    EXPECT_EQ(missed, 0u) << c.scenario << " within " << c.k << " deviations, depth 10: of " << all.size()
                          << " states";
  }
}

// Under one duplicate S2 fails (P4). The searches at 0, 1, ... deviations stop at the first that fails, so the
// counterexample leaves the default schedule exactly as often as that search allowed, and the search one below it
// is complete and clean.
TEST(DeviationBound, ACounterexampleComesWithTheFewestDeviations) {
  ExploreOptions options = WithinDeviations(6);
  options.bounds.max_duplicates = 1;
  const ExploreResult result = Explore(Entry("s2_remote_to_self"), options);
  ASSERT_TRUE(result.counterexample);
  const std::uint32_t k = result.stats.deviations;
  EXPECT_EQ(DeviationsOf(result.counterexample->run.choices), k);
  if (k > 0) {
    ExploreOptions below = WithinDeviations(k - 1);
    below.bounds.max_duplicates = 1;
    const ExploreResult clean = Explore(Entry("s2_remote_to_self"), below);
    EXPECT_TRUE(clean.complete);
    EXPECT_FALSE(clean.counterexample);
  }
}

// A search whose runs never had a choice held to the default covered every schedule: the next bound would search
// the same runs, so it stops there.
TEST(DeviationBound, ABoundThatHoldsNothingEndsTheSearches) {
  const ExploreResult result = Explore(Entry("s6_owner_to_self"), WithinDeviations(200));
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.stats.deviation_held, 0u);
  EXPECT_LT(result.stats.deviations, 200u);
}

// A search cut short by the run budget (each of the searches at 0, 1, ... has it) keeps what the searches before it
// proved.
TEST(DeviationBound, ASearchCutShortKeepsWhatTheSearchesBeforeItProved) {
  const ExploreResult one = Explore(Entry("s3_user_to_user"), WithinDeviations(1));
  ASSERT_TRUE(one.complete);
  EXPECT_EQ(one.clean_within_deviations, std::optional<std::uint32_t>(1));
  ExploreOptions budget = WithinDeviations(3);
  budget.max_runs = one.stats.runs - 1;  // the search at 0 deviations is one run; at 1, one.stats.runs - 1 more
  const ExploreResult cut = Explore(Entry("s3_user_to_user"), budget);
  EXPECT_FALSE(cut.complete);
  EXPECT_FALSE(cut.counterexample);
  EXPECT_EQ(cut.stats.deviations, 2u);
  EXPECT_EQ(cut.clean_within_deviations, std::optional<std::uint32_t>(1));
  EXPECT_FALSE(Explore(Entry("s3_user_to_user"), ExploreOptions{}).clean_within_deviations);  // no bound, no claim
}

TEST(DeviationBound, DoesNotCombineWithDporOrShortest) {
  ExploreOptions dpor = WithinDeviations(1);
  dpor.dpor = true;
  EXPECT_THROW(Explore(Entry("s1_remote_to_here"), dpor), std::invalid_argument);
  ExploreOptions shortest = WithinDeviations(1);
  shortest.shortest = true;
  EXPECT_THROW(Explore(Entry("s1_remote_to_here"), shortest), std::invalid_argument);
}

}  // namespace
}  // namespace rrefsim::explore
