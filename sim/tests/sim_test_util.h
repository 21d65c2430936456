// Helpers shared by the simulator's tests: the S3 scenario, fault configurations, traced runs and final-state checks.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "rrefsim/sim/world.h"

namespace rrefsim::sim::testing {

// S3 in PyTorch's shape (world size 4, one idle): 0 creates on 1, shares with 2, 2 fetches, everyone lets go.
inline Scenario UserToUser() {
  Scenario s("s3_user_to_user", 4);
  s.Function("make").Return(Int(42));
  s.Function("fetch").ToHere("v", "args").Expect("v", 42).Return(Int(0));
  s.On(0).Remote("a", To(1), "make").RpcSync("", To(2), "fetch", {"a"}).ToHere("v", "a").Expect("v", 42).Del("a");
  return s;
}

inline RunConfig Config(const std::string& profile, const std::vector<std::string>& overrides = {}) {
  RunConfig config;
  FaultConfigResult faults = MakeFaultConfig(profile, overrides);
  EXPECT_TRUE(faults.config.has_value()) << faults.error;
  if (faults.config) config.faults = *faults.config;
  return config;
}

struct Traced {
  RunResult result;
  std::vector<StepEvent> events;
};

inline Traced RunTraced(const Scenario& s, const RunConfig& config, std::uint64_t seed) {
  Traced t;
  RandomChooser chooser(seed);
  t.result = Run(s, config, chooser, [&t](const StepEvent& e) { t.events.push_back(e); });
  return t;
}

// The whole trace, for failure messages.
inline std::string Dump(const Traced& t) {
  std::ostringstream out;
  for (const StepEvent& e : t.events) {
    out << e.step << ' ' << e.time << "us w" << e.worker << ' ' << e.kind << ' ' << e.detail << '\n';
  }
  out << "outcome " << OutcomeName(t.result.outcome) << ": " << t.result.detail << '\n';
  return out.str();
}

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline void ExpectCleanFinalViews(const RunResult& r) {
  ASSERT_FALSE(r.final_views.empty());
  for (const core::ContextView& v : r.final_views) {
    EXPECT_TRUE(v.owners.empty()) << "worker " << v.worker;
    EXPECT_TRUE(v.forks.empty()) << "worker " << v.worker;
    EXPECT_TRUE(v.users.empty()) << "worker " << v.worker;
    EXPECT_EQ(v.debug.num_pending_futures, 0) << "worker " << v.worker;
  }
}

}  // namespace rrefsim::sim::testing
