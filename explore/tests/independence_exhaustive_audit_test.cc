// The independence audit of independence_audit_test.cc at every state of a small scenario within the explorer's
// bounds, not only along sampled walks (exhaustive_audit.h): a pair of steps that commutes nearly everywhere may not
// where a checker is about to fire, and a walk rarely passes there.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "exhaustive_audit.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::explore {
namespace {

using test_support::ExhaustiveAudit;
using test_support::Tally;

TEST(IndependenceAudit, IndependentStepsCommuteInEveryStateOfSmallScenarios) {
  Bounds bounds;
  bounds.max_duplicates = 1;
  Tally total;
  for (core::ProtocolMode mode : {core::ProtocolMode::kPytorch, core::ProtocolMode::kHardened}) {
    for (const char* name : {"s1_remote_to_here", "s2_remote_to_self", "s6_owner_to_self", "s3_faulty_agent",
                             "s5_owner_to_user", "s8_fetch_before_owner", "s11_remote_timeout"}) {
      if (test_support::kSanitized && std::string(name) != "s2_remote_to_self") continue;  // the smallest
      Tally tally;
      ExhaustiveAudit audit(*scenarios::FindScenario(name), mode, bounds);
      const bool complete = audit.Run(100000, tally);
      EXPECT_TRUE(complete) << name << ": more states than the audit's budget";
      test_support::Report(std::string(name) + (mode == core::ProtocolMode::kPytorch ? " pytorch" : " hardened"),
                           tally);
      total.Add(tally);
    }
  }
  std::printf("total: %s\n", total.Text().c_str());
}

}  // namespace
}  // namespace rrefsim::explore
