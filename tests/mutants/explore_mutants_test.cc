// The persistent sets (explore/src/persistent.h) against broken cores: on every mutant of core/src/mutants.h and
// the scenarios below, the search with persistent sets must see every checker fire that the plain exhaustive search
// sees fire. The catalog's own graphs have no violation under reorder, so the oracle's tests
// (explore/tests/persistent_test.cc) never see a checker fire; here they do, including the checkers that read other
// workers after a step (the owner's free reads every worker's users), which the one-worker analysis does not play
// (docs/explore.md, "Gaps, stated"). Evidence on these graphs, not a proof.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "mutants.h"
#include "rrefsim/checkers/checker.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"

namespace rrefsim {
namespace {

using core::mutants::Mutant;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

const std::vector<std::pair<Mutant, const char*>> kMutants = {
    {Mutant::kSkipPendingChildPin, "skip_pending_child_pin"},
    {Mutant::kSkipGating, "skip_gating"},
    {Mutant::kFreeOwnerOnFirstDelete, "free_owner_on_first_delete"},
    {Mutant::kForgetPendingUser, "forget_pending_user"},
    {Mutant::kAcceptBeforeConfirm, "accept_before_confirm"},
    {Mutant::kSkipUserDelete, "skip_user_delete"},
    {Mutant::kWrongParent, "wrong_parent"},
    {Mutant::kWrongFetchValue, "wrong_fetch_value"},
    {Mutant::kLeakForkOnDelete, "leak_fork_on_delete"},
    {Mutant::kLeakPendingFuture, "leak_pending_future"},
};

// Scenarios whose plain search settles in seconds under every mutant: the oracle's set (explore/tests/persistent_test.cc)
// and two whose users hand forks on, where a premature free has room to show.
const std::vector<std::string> kScenarios = {
    "s1_remote_to_here", "s2_remote_to_self", "s3_user_to_user",       "s4_user_to_owner",
    "s5_owner_to_user",  "s6_owner_to_self",  "s7_rpc_returns_rref",   "s8_fetch_before_owner",
    "early_owner_rref_race", "shutdown_with_live_users", "s9_gated_on_two_forks", "py_rref_args_user_share",
};

class ActiveMutant {
 public:
  explicit ActiveMutant(Mutant m) { core::mutants::active = m; }
  ~ActiveMutant() { core::mutants::active = Mutant::kNone; }
};

// With every checker's violation made an expected one, no run stops at a violation, and each search collects every
// checker that fires on some schedule it explores (ExploreResult::expected_seen). Every checker the plain search sees
// fire must fire on some schedule of the reduced search's last round, and no other.
TEST(PersistentSetsOnMutants, SeeEveryCheckerThePlainSearchSeesFire) {
  if (kSanitized) GTEST_SKIP() << "a release-build test: every mutant searches the catalog twice over";
  int compared = 0, firing = 0;
  for (const auto& [mutant, name] : kMutants) {
    ActiveMutant active(mutant);
    for (const std::string& scenario : kScenarios) {
      const scenarios::CatalogEntry* found = scenarios::FindScenario(scenario);
      ASSERT_NE(found, nullptr) << scenario;
      scenarios::CatalogEntry entry = *found;
      entry.expected_violations = checkers::CheckerIds();
      explore::ExploreOptions options;
      options.max_runs = 20'000;
      const explore::ExploreResult plain = explore::Explore(entry, options);
      if (!plain.complete) continue;
      options.persistent_sets = true;
      options.max_runs = 0;
      std::set<std::string> seen_plain, seen_reduced;  // the last round's only
      options.on_complete_run = [&seen_reduced](const scenarios::CheckedRun& run) {
        for (const checkers::Violation& v : run.expected_violations) seen_reduced.insert(v.checker);
      };
      options.on_search_start = [&seen_reduced] { seen_reduced.clear(); };
      const explore::ExploreResult reduced = explore::Explore(entry, options);
      const std::string what = std::string(name) + " on " + entry.name;
      if (!reduced.stats.persistent_off.empty()) continue;
      ASSERT_TRUE(reduced.complete) << what;
      for (const checkers::Violation& v : plain.expected_seen) seen_plain.insert(v.checker);
      ++compared;
      if (!seen_plain.empty()) ++firing;
      std::string plain_text, reduced_text;
      for (const std::string& c : seen_plain) plain_text += " " + c;
      for (const std::string& c : seen_reduced) reduced_text += " " + c;
      std::printf("%s: plain%s (%llu states), persistent sets%s (%llu states)\n", what.c_str(), plain_text.c_str(),
                  static_cast<unsigned long long>(plain.stats.distinct_states), reduced_text.c_str(),
                  static_cast<unsigned long long>(reduced.stats.distinct_states));
      std::fflush(stdout);
      EXPECT_EQ(seen_plain, seen_reduced) << what;
    }
  }
  std::printf("compared %d (mutant, scenario) pairs, %d with a checker firing\n", compared, firing);
  EXPECT_GT(firing, 20);
}

}  // namespace
}  // namespace rrefsim
