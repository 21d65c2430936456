// Whether each condition of sim::StepFootprint::Independent is needed (docs/explore.md, "The independence audit"):
// with `reads`, `global` or `main_turn` dropped, the catalog's audit still passes, as no catalog checker's read of
// another worker has made two steps fail to commute, no catalog scenario has a worker 63, and the main loop's turn
// never separates two steps on its own. Here:
//
// - `reads` is needed: a test-only invariant (a caller's explore::ExtraInvariant, as ExploreOptions allows; not in
//   checkers/) reads worker 2's view after the step where worker 1 first holds a UserRRef, and claims worker 2 holds
//   none yet. The first steps of workers 1 and 2 act on different workers; only that read orders them. With `reads`
//   dropped from Independent, the explorer completes without refuting the claim and the audit finds the pair's two
//   orders ending differently.
// - `global` is needed for worker 63, which has no bit of its own (bit 63 is the barriers'): with it dropped, two
//   deliveries to worker 63 count as independent and do not commute.
// - `main_turn` decides nothing on its own: the main loop acts only when nothing is enabled, and an enabled step
//   stays enabled until it runs, so a step whose footprint has a main turn ran every other option that was on offer
//   with it (as the only one left) and shares a worker with each. The exception is a step after which the run
//   stopped (a checker fired: the search ends there). The test checks that premise at every state of small
//   scenarios with timers, sleeps, barriers and a stopping invariant; it fails once the premise breaks, when the
//   condition starts to matter and needs a test like the two above.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "audit_choice.h"
#include "exhaustive_audit.h"
#include "stepwise_config.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/scenarios/scenario_json.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/network.h"

namespace rrefsim::explore {
namespace {

using test_support::AuditBranch;
using test_support::ExhaustiveAudit;
using test_support::Tally;

scenarios::CatalogEntry Parse(const std::string& text, const std::string& origin) {
  scenarios::ParsedScenario parsed = scenarios::ParseScenarioText(text, origin);
  if (!parsed.entry) throw std::logic_error(parsed.error);
  return *parsed.entry;
}

// A remote() to `owner`, to_here, del: the caller holds a UserRRef from its first step until its del.
std::string RemoteFetchDel(int owner) {
  return R"({"ops": [{"op": "remote", "out": "a", "to": )" + std::to_string(owner) +
         R"(, "function": "make"}, {"op": "to_here", "out": "v", "var": "a"}, {"op": "del", "var": "a"}]})";
}

// `workers` workers; workers 1 and 2 each run RemoteFetchDel(owner), the others nothing. No final shutdown: it
// only adds schedules.
scenarios::CatalogEntry TwoCallers(int workers, int owner) {
  std::string programs;
  for (int w = 0; w < workers; ++w) {
    programs += w > 0 ? ", " : "";
    programs += w == 1 || w == 2 ? RemoteFetchDel(owner) : R"({"ops": []})";
  }
  const std::string text = R"({"name": "two_callers", "summary": "workers 1 and 2 each call remote() to one owner",
    "pytorch_test": "", "workers": )" + std::to_string(workers) +
                           R"(, "graceful_shutdown": false, "faults": {"profile": "reorder"},
    "functions": [{"name": "make", "body": [{"op": "return", "value": 7}]}],
    "programs": [)" + programs + R"(], "expect": {"outcome": "ok"}})";
  return Parse(text, "two_callers.json");
}

// The claim "worker 1 creates its first UserRRef while worker 2 holds none", false in the schedules where worker 2's
// remote() runs first. It reads worker 2 after a step at worker 1: only that read (StepFootprint::reads) makes the
// first steps of workers 1 and 2 dependent.
class FirstAtWorkerOne : public ExtraInvariant {
 public:
  std::unique_ptr<ExtraInvariant> Clone() const override { return std::make_unique<FirstAtWorkerOne>(*this); }
  std::uint64_t Fingerprint() const override { return (seen_ ? 1 : 0) | (refuted_ ? 2 : 0); }
  void OnStart(const checkers::GlobalView&) override { seen_ = refuted_ = false; }
  void OnRecord(const checkers::StepRecord&) override {}
  bool OnStepEnd(const checkers::GlobalView& view) override {
    if (seen_ || !view.changed(1) || view.worker(1).users.empty()) return true;
    seen_ = true;
    refuted_ = !view.worker(2).users.empty();
    return !refuted_;
  }
  bool refuted() const { return refuted_; }

 private:
  bool seen_ = false;     // worker 1's first UserRRef was seen (the claim is judged once, then)
  bool refuted_ = false;
};

// The audit at every state of two_callers (3 workers, owner 0), the claim watching beside the checkers. Under
// AddressSanitizer its first states only: the first steps of workers 1 and 2 are on offer from the start.
void AuditTwoCallersWithTheClaim(Tally& tally) {
  const scenarios::CatalogEntry entry = TwoCallers(3, 0);
  FirstAtWorkerOne claim;
  ExhaustiveAudit audit(entry, core::ProtocolMode::kPytorch, Bounds{}, &claim);
  const bool complete = audit.Run(test_support::kSanitized ? 200 : 100000, tally);
  if (!test_support::kSanitized) {
    EXPECT_TRUE(complete) << "more states than the audit's budget";
  }
  test_support::Report("two_callers with the claim", tally);
}

TEST(IndependenceNeeded, ReadsOrderStepsAtOtherWorkersForTheExplorer) {
  const scenarios::CatalogEntry entry = TwoCallers(3, 0);
  FirstAtWorkerOne claim;
  ExploreOptions options;
  options.extra_invariant = &claim;
  options.max_runs = 100000;
  const ExploreResult result = Explore(entry, options);
  std::printf("two_callers with the claim: %llu runs, %llu transitions, %llu distinct states\n",
              static_cast<unsigned long long>(result.stats.runs),
              static_cast<unsigned long long>(result.stats.transitions),
              static_cast<unsigned long long>(result.stats.distinct_states));
  ASSERT_TRUE(result.counterexample) << "the search missed worker 2's remote() before worker 1's, in "
                                     << result.stats.runs << " runs (complete: " << result.complete << ")";
  EXPECT_EQ(result.counterexample->violations.front().checker, "extra_invariant");

  // The counterexample is a normal run: replayed, the claim fails again and no checker of the catalog fires.
  sim::ReplayChooser replay(result.counterexample->run.choices);
  const scenarios::CheckedRun again = scenarios::RunChecked(entry, result.config, replay, &claim);
  EXPECT_TRUE(claim.refuted());
  EXPECT_TRUE(again.violations.empty());
}

TEST(IndependenceNeeded, ReadsOrderStepsAtOtherWorkersForTheAudit) {
  Tally tally;
  AuditTwoCallersWithTheClaim(tally);
  // Some pairs are dependent by the claim's reads alone (the first steps of workers 1 and 2): without them the
  // audit takes those pairs in both orders, and one order refutes the claim where the other does not.
  EXPECT_GT(tally.only_reads, 0U);
}

// The run of `entry` from its start, every fiber taking its steps before any delivery, up to the first step choice
// where only deliveries are on offer.
std::unique_ptr<AuditBranch> FibersFirst(const scenarios::CatalogEntry& entry, const sim::RunConfig& config) {
  auto branch = std::make_unique<AuditBranch>(entry.scenario, config, scenarios::CheckerConfigOf(entry, config));
  if (!branch->Start()) throw std::logic_error("the run ended before its first step choice");
  for (;;) {
    const std::vector<std::uint64_t>& items = branch->run().pending_items();
    std::optional<std::uint64_t> fiber;
    for (std::uint64_t item : items) {
      if ((item & test_support::kDeliveryItem) == 0) fiber = item;
    }
    if (!fiber) return branch;
    branch->Take(*fiber);
    if (branch->ended()) throw std::logic_error("the run ended before the deliveries");
  }
}

TEST(IndependenceNeeded, StepsAtWorkerSixtyThreeAreGlobal) {
  const scenarios::CatalogEntry entry = TwoCallers(64, 63);
  sim::RunConfig config = test_support::FingerprintedConfigOf(entry);
  config.faults = *sim::MakeFaultConfig(entry.faults, ExploreFaultOverrides(Bounds{})).config;
  const std::unique_ptr<AuditBranch> at = FibersFirst(entry, config);
  ASSERT_GE(at->run().pending_items().size(), 2U) << "the calls to worker 63 are not in flight together";
  Tally tally;
  test_support::AuditChoice(at->run(), at->checkers(), "64 workers, the deliveries to worker 63", tally);
  test_support::Report("two_callers to worker 63", tally);
  EXPECT_GT(tally.only_global, 0U) << "no pair of deliveries to worker 63 is dependent by `global` alone";
}

// The main loop's turn never decides alone: with it dropped from every pair, no pair at any state becomes
// independent (so dropping it from Independent changes nothing the audit or the sleep sets see), except where a
// step stopped the run (World::MainTurn marks its footprint with other steps still on offer), which ends the search.
// Scenarios with client timeouts (S11, to_here_timeout), sleeps, barriers and the final shutdown's timers, and
// two_callers with the claim, whose refuting steps stop the run.
TEST(IndependenceNeeded, MainTurnNeverDecidesAlone) {
  Bounds bounds;
  bounds.max_duplicates = 1;
  Tally total;
  for (core::ProtocolMode mode : {core::ProtocolMode::kPytorch, core::ProtocolMode::kHardened}) {
    for (const char* name : {"s11_remote_timeout", "to_here_timeout", "s2_remote_to_self", "s6_owner_to_self"}) {
      if (test_support::kSanitized && std::string(name) != "s2_remote_to_self") continue;  // the smallest
      Tally tally;
      ExhaustiveAudit audit(*scenarios::FindScenario(name), mode, bounds);
      EXPECT_TRUE(audit.Run(100000, tally)) << name << ": more states than the audit's budget";
      test_support::Report(std::string(name) + (mode == core::ProtocolMode::kPytorch ? " pytorch" : " hardened"),
                           tally);
      total.Add(tally);
    }
  }
  Tally tally;
  AuditTwoCallersWithTheClaim(tally);
  total.Add(tally);
  std::printf("total: %s; %llu pairs with a main turn\n", total.Text().c_str(),
              static_cast<unsigned long long>(total.with_main_turn));
  EXPECT_EQ(total.only_main_turn, 0U);
  EXPECT_GT(total.with_main_turn, 0U) << "no pair had a main turn: the check is vacuous";
}

}  // namespace
}  // namespace rrefsim::explore
