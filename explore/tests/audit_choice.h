// Test helpers of the independence audit: the audit of one step choice (every two options whose footprints are
// independent, taken in both orders) and its tally.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "audit_steps.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/sim/stepped_run.h"

namespace rrefsim::explore::test_support {

// Under AddressSanitizer every step costs about fifty times more (the walks and the exhaustive part took 4 minutes
// there): they sample less there, and the release run audits in full.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

struct Tally {
  std::uint64_t choices = 0;      // step choices audited
  std::uint64_t independent = 0;  // pairs the footprints call independent, each taken in both orders
  std::uint64_t dependent = 0;
  std::uint64_t judged = 0;       // independent pairs where a checker fired in some order: verdicts compared
  std::uint64_t holes = 0;        // independent pairs that do not commute
  // Dependent pairs that would be independent without one condition of StepFootprint::Independent: the checkers'
  // reads, the main loop's turn, or `global` (each counted alone, the other conditions kept).
  std::uint64_t only_reads = 0;
  std::uint64_t only_main_turn = 0;  // where neither step ended the run
  std::uint64_t only_global = 0;
  std::uint64_t with_main_turn = 0;  // pairs where a step's footprint has the main loop's turn
  void Add(const Tally& t) {
    choices += t.choices;
    independent += t.independent;
    dependent += t.dependent;
    judged += t.judged;
    holes += t.holes;
    only_reads += t.only_reads;
    only_main_turn += t.only_main_turn;
    only_global += t.only_global;
    with_main_turn += t.with_main_turn;
  }
  std::string Text() const {
    return std::to_string(choices) + " step choices, " + std::to_string(independent) +
           " independent pairs in both orders (" + std::to_string(judged) + " with a checker firing), " +
           std::to_string(dependent) + " dependent (" + std::to_string(only_reads) + " by reads alone, " +
           std::to_string(only_main_turn) + " by main turn alone, " + std::to_string(only_global) +
           " by global alone), " + std::to_string(holes) + " not commuting";
  }
};

// Counts a dependent pair in `tally` by the condition that alone made it dependent, if one did. `ended`: one of the
// two steps ended the run (then its footprint has the main loop's turn even though the other step was on offer:
// World::MainTurn marks it before it sees the run stopped), which is not counted as the main turn deciding.
inline void CountDecisive(const sim::StepFootprint& a, const sim::StepFootprint& b, bool ended, Tally& tally) {
  if (a.main_turn || b.main_turn) ++tally.with_main_turn;
  const auto without = [&](auto&& drop) {
    sim::StepFootprint x = a, y = b;
    drop(x);
    drop(y);
    return x.Independent(y);
  };
  if (without([](sim::StepFootprint& f) { f.reads = 0; })) ++tally.only_reads;
  if (!ended && without([](sim::StepFootprint& f) { f.main_turn = false; })) ++tally.only_main_turn;
  if (without([](sim::StepFootprint& f) { f.global = false; })) ++tally.only_global;
}

// What differs between the two orders' ends, or "" when they agree. Two orders that both stopped at a checker agree
// on the verdict alone: the step that fired ended each run, whatever the other had done by then.
inline std::string Difference(const End& ab, const End& ba) {
  if (!ab.second_enabled || !ba.second_enabled) {
    return std::string("the second step was no longer enabled after the first (") +
           (ab.second_enabled ? "b, a" : "a, b") + ")";
  }
  if (ab.ended != ba.ended) return std::string("only ") + (ab.ended ? "a, b" : "b, a") + " ended the run";
  if (ab.outcome != ba.outcome) return "the run ended " + ab.outcome + " after a, b but " + ba.outcome + " after b, a";
  if (ab.fired != ba.fired) {
    return "checkers fired: " + ab.FiredText() + " after a, b but " + ba.FiredText() + " after b, a";
  }
  if (ab.outcome == "stopped") return "";
  if (ab.world != ba.world) return "the worlds differ (StateFingerprint)";
  if (ab.memory != ba.memory) return "the checkers' memories differ (CheckerSet::Fingerprint)";
  return "";
}

// Failures named in full per scenario and mode; the rest are counted (Tally::holes), so that a broken relation
// does not bury the report under thousands of lines.
inline constexpr std::uint64_t kNamedHoles = 3;

// Every two options of the step choice where `world` stands: each taken alone on a copy (with a copy of `memory`)
// for its footprint, and the pairs whose footprints are independent taken in both orders. With `extra` (a test's own
// invariant, where it stands), it watches every order beside the checkers.
inline void AuditChoice(const sim::SteppedRun& world, const checkers::CheckerSet& memory, const std::string& where,
                        Tally& tally, const ExtraInvariant* extra = nullptr) {
  const std::vector<std::uint64_t>& items = world.pending_items();
  std::vector<std::unique_ptr<AuditBranch>> alone;
  for (std::uint64_t item : items) {
    alone.push_back(std::make_unique<AuditBranch>(world, memory, extra));
    alone.back()->Take(item);
  }
  ++tally.choices;
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t j = i + 1; j < items.size(); ++j) {
      if (!alone[i]->footprint().Independent(alone[j]->footprint())) {
        ++tally.dependent;
        CountDecisive(alone[i]->footprint(), alone[j]->footprint(), alone[i]->ended() || alone[j]->ended(), tally);
        continue;
      }
      ++tally.independent;
      const End ab = alone[i]->Then(items[j]);
      const End ba = alone[j]->Then(items[i]);
      if (!ab.fired.empty() || !ba.fired.empty()) ++tally.judged;
      const std::string difference = Difference(ab, ba);
      if (difference.empty()) continue;
      if (++tally.holes > kNamedHoles) continue;
      ADD_FAILURE() << where << ": the steps a = " << DescribeStep(world.view(), items[i]) << " ["
                    << DescribeFootprint(alone[i]->footprint())
                    << "] and b = " << DescribeStep(world.view(), items[j]) << " ["
                    << DescribeFootprint(alone[j]->footprint())
                    << "] are independent by their footprints but do not commute: " << difference;
    }
  }
}

inline void Report(const std::string& name, const Tally& tally) {
  std::printf("%-30s %s\n", name.c_str(), tally.Text().c_str());
  EXPECT_EQ(tally.holes, 0U) << name << ": independent pairs that do not commute (the first few named above)";
}


}  // namespace rrefsim::explore::test_support
