// Symmetry reduction (sim/symmetry.h, docs/explore.md): the group computed from a scenario, the canonical
// fingerprint of renamed worlds, and searches that reach the same ends with fewer states.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/sim/stepped_run.h"
#include "rrefsim/sim/symmetry.h"
#include "walk.h"

namespace rrefsim::explore {
namespace {

using test_support::Walk;

const scenarios::CatalogEntry& Entry(const std::string& name) {
  const scenarios::CatalogEntry* e = scenarios::FindScenario(name);
  if (e == nullptr) throw std::logic_error("no scenario " + name);
  return *e;
}

core::WorkerRenaming Renaming(std::vector<core::WorkerId> to) { return core::WorkerRenaming{std::move(to), 7}; }

TEST(Symmetry, ThreeInterchangeableUsersGiveTheSymmetricGroupOnThem) {
  const sim::WorkerGroup group = sim::ScenarioSymmetry(Entry("symmetric_users_3").scenario);
  std::set<std::vector<core::WorkerId>> seen;
  for (const core::WorkerRenaming& r : group.elements) seen.insert(r.to);
  const std::set<std::vector<core::WorkerId>> s3 = {{0, 1, 2, 3}, {0, 1, 3, 2}, {0, 2, 1, 3},
                                                    {0, 2, 3, 1}, {0, 3, 1, 2}, {0, 3, 2, 1}};
  EXPECT_EQ(seen, s3);
  EXPECT_EQ(group.size(), 6u);
  EXPECT_EQ(group.elements.front().to, (std::vector<core::WorkerId>{0, 1, 2, 3}));  // the identity first
}

TEST(Symmetry, RelativeDestinationsAndNamedWorkersLeaveOnlyTheIdentity) {
  EXPECT_TRUE(sim::ScenarioSymmetry(Entry("fork_chain_5").scenario).trivial());  // {"self": 1} destinations
  sim::Scenario one_user = Entry("symmetric_users_3").scenario;
  one_user.programs[3].ops.clear();  // user 3 no longer does what 1 and 2 do: only the swap of 1 and 2 is left
  const sim::WorkerGroup group = sim::ScenarioSymmetry(one_user);
  ASSERT_EQ(group.size(), 2u);
  EXPECT_EQ(group.elements[1].to, (std::vector<core::WorkerId>{0, 2, 1, 3}));
  sim::Scenario named = Entry("symmetric_users_3").scenario;
  named.programs[1].ops[0].to = sim::To(2);  // user 1 names user 2: no renaming of the users maps that onto itself
  EXPECT_TRUE(sim::ScenarioSymmetry(named).trivial());
  sim::Scenario relative = Entry("symmetric_users_3").scenario;
  for (int w = 1; w <= 3; ++w) relative.programs[static_cast<std::size_t>(w)].ops[0].to = sim::Self(-w);  // all to 0
  EXPECT_TRUE(sim::ScenarioSymmetry(relative).trivial());  // relative destinations: the identity only
}

// User 1 runs (the owner when user 1 cannot) while users 2 and 3 wait; and the same with user 2 in user 1's place:
// the two worlds are each other's image under the swap of 1 and 2 at every depth, RRef ids created on the user and
// the owner's maps keyed by them included; in hardened mode also the per-peer streams, inboxes and reply caches.
TEST(Symmetry, WorldsThatDifferBySwappingTwoUsersHaveOneCanonicalFingerprint) {
  const sim::Scenario& scenario = Entry("symmetric_users_3").scenario;
  for (int run = 0; run < 2 * 24; ++run) {
    const core::ProtocolMode mode = run < 24 ? core::ProtocolMode::kPytorch : core::ProtocolMode::kHardened;
    const int depth = 2 + run % 24;  // past user 1's (2's) end, where the first option moves the other users
    Walk one(scenario, {1, 0}, depth, mode);
    Walk two(scenario, {2, 0}, depth, mode);
    const checkers::GlobalView& a = one.run->view();
    const checkers::GlobalView& b = two.run->view();
    EXPECT_NE(sim::CanonicalFingerprint(a, false)->fingerprint, sim::CanonicalFingerprint(b, false)->fingerprint)
        << "depth " << depth;
    EXPECT_EQ(sim::CanonicalFingerprint(a, true)->fingerprint, sim::CanonicalFingerprint(b, true)->fingerprint)
        << "depth " << depth;
    // The renaming itself: swapping 1 and 2 maps one onto the other; a wrong renaming (1 and 3) or none does not.
    const std::optional<std::uint64_t> b_itself = sim::RenamedFingerprint(b, Renaming({0, 1, 2, 3}));
    EXPECT_EQ(sim::RenamedFingerprint(a, Renaming({0, 2, 1, 3})), b_itself) << "depth " << depth;
    EXPECT_NE(sim::RenamedFingerprint(a, Renaming({0, 3, 2, 1})), b_itself) << "depth " << depth;
    EXPECT_NE(sim::RenamedFingerprint(a, Renaming({0, 1, 2, 3})), b_itself) << "depth " << depth;
  }
}

TEST(Symmetry, TheTrivialGroupKeepsThePlainFingerprint) {
  Walk walk(Entry("fork_chain_5").scenario, {1, 2, 3, 4, 5, 0}, 4);
  EXPECT_EQ(sim::CanonicalFingerprint(walk.run->view(), true)->fingerprint, *sim::StateFingerprint(walk.run->view()));
  Walk users(Entry("symmetric_users_3").scenario, {1, 0}, 4);
  EXPECT_EQ(sim::CanonicalFingerprint(users.run->view(), false)->fingerprint,
            *sim::StateFingerprint(users.run->view()));
}

// A run's end up to a renaming of the users: the outcome, the owner's part, and the users' parts as a multiset.
std::string CanonicalEnd(const scenarios::CheckedRun& checked) {
  std::vector<std::string> part(checked.run.final_views.size());
  for (const core::ContextView& v : checked.run.final_views) {
    part.at(static_cast<std::size_t>(v.worker)) = "owners=" + std::to_string(v.owners.size()) +
                                                  " users=" + std::to_string(v.users.size()) +
                                                  " forks=" + std::to_string(v.debug.num_forks) +
                                                  (v.destroyed ? " destroyed" : "");
  }
  for (const sim::Observation& o : checked.run.observations) {
    part.at(static_cast<std::size_t>(o.worker)) += "|" + o.what + (o.expected_ok ? "" : " UNEXPECTED");
  }
  std::sort(part.begin() + 1, part.end());
  std::string text = sim::OutcomeName(checked.run.outcome);
  for (const std::string& p : part) text += "||" + p;
  return text;
}

struct Searched {
  ExploreResult result;
  std::set<std::string> ends;
};

// symmetric_users_3 cut to the remote() calls (each user keeps its RRef) and without the final graceful shutdown, so
// that the search without symmetry stays short (also under the asan preset).
scenarios::CatalogEntry UsersRemoteOnly() {
  scenarios::CatalogEntry entry = Entry("symmetric_users_3");
  entry.scenario.graceful_shutdown = false;
  for (int w = 1; w <= 3; ++w) {
    std::vector<sim::Op>& ops = entry.scenario.programs[static_cast<std::size_t>(w)].ops;
    ops = {ops.front()};
  }
  return entry;
}

Searched Search(const scenarios::CatalogEntry& entry, core::ProtocolMode mode, bool symmetry, int duplicates) {
  Searched s;
  ExploreOptions options;
  options.symmetry = symmetry;
  options.bounds.max_duplicates = duplicates;
  options.on_complete_run = [&s](const scenarios::CheckedRun& run) { s.ends.insert(CanonicalEnd(run)); };
  s.result = Explore(entry, options, mode);
  return s;
}

TEST(Symmetry, TheSearchReachesTheSameEndsWithFewerStates) {
  const scenarios::CatalogEntry entry = UsersRemoteOnly();
  ASSERT_EQ(sim::ScenarioSymmetry(entry.scenario).size(), 6u);
  for (core::ProtocolMode mode : {core::ProtocolMode::kPytorch, core::ProtocolMode::kHardened}) {
    const Searched with = Search(entry, mode, true, 0);
    const Searched without = Search(entry, mode, false, 0);
    EXPECT_TRUE(with.result.complete);
    EXPECT_TRUE(without.result.complete);
    EXPECT_FALSE(with.result.counterexample);
    EXPECT_FALSE(without.result.counterexample);
    EXPECT_EQ(with.ends, without.ends);
    EXPECT_FALSE(with.ends.empty());
    EXPECT_LT(with.result.stats.distinct_states * 2, without.result.stats.distinct_states);
  }
}

// Catalog scenarios whose idle workers are interchangeable (S1, S8: the two idle ones; S2, S6: all three): the same
// verdict and the same ends with and without symmetry, within one duplicate too.
TEST(Symmetry, IdleWorkersOfTheCatalogReduceWithoutChangingWhatTheSearchFinds) {
  for (const char* name : {"s1_remote_to_here", "s2_remote_to_self", "s6_owner_to_self", "s8_fetch_before_owner"}) {
    const scenarios::CatalogEntry& entry = Entry(name);
    EXPECT_GT(sim::ScenarioSymmetry(entry.scenario).size(), 1u) << name;
    for (core::ProtocolMode mode : {core::ProtocolMode::kPytorch, core::ProtocolMode::kHardened}) {
      for (int duplicates : {0, 1}) {
        const Searched with = Search(entry, mode, true, duplicates);
        const Searched without = Search(entry, mode, false, duplicates);
        EXPECT_EQ(with.result.complete, without.result.complete) << name;
        ASSERT_EQ(with.result.counterexample.has_value(), without.result.counterexample.has_value()) << name;
        if (with.result.counterexample) {
          EXPECT_EQ(with.result.counterexample->violations.front().checker,
                    without.result.counterexample->violations.front().checker) << name;
        } else {
          EXPECT_EQ(with.ends, without.ends) << name << " duplicates " << duplicates;
        }
        EXPECT_LT(with.result.stats.distinct_states, without.result.stats.distinct_states) << name;
      }
    }
  }
}

}  // namespace
}  // namespace rrefsim::explore
