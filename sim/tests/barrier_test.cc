// Program barriers: everyone arrives, then (like PyTorch's wait_until_pending_futures_and_users_flushed) no worker
// has pending futures or pending users before anyone goes on; the flush gives up after 20 s with an observation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rrefsim/sim/world.h"
#include "sim_test_util.h"

namespace rrefsim::sim {
namespace {

using namespace rrefsim::sim::testing;

Scenario RemoteThenBarrier() {
  Scenario s("remote_then_barrier", 2);
  s.Function("make").Return(Int(42));
  s.On(0).Remote("a", To(1), "make").Barrier().ToHere("v", "a").Expect("v", 42).Del("a");
  s.On(1).Barrier();
  return s;
}

std::size_t IndexOf(const Traced& t, const std::string& kind, const std::string& part) {
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    if (t.events[i].kind == kind && Contains(t.events[i].detail, part)) return i;
  }
  return t.events.size();
}

// Without the flush, program 0 could pass the barrier and fetch before its REMOTE_RET arrived (pending user).
TEST(BarrierTest, NoWorkerPassesWhileAPendingUserRemains) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    Traced t = RunTraced(RemoteThenBarrier(), Config("reorder"), seed);
    ASSERT_EQ(t.result.outcome, Outcome::kOk) << Dump(t);
    std::size_t ret = IndexOf(t, "deliver", "REMOTE_RET");
    std::size_t fetch = IndexOf(t, "send", "RREF_FETCH_CALL");
    ASSERT_LT(ret, t.events.size()) << Dump(t);
    EXPECT_LT(ret, fetch) << "seed " << seed << "\n" << Dump(t);
  }
}

// A REMOTE_RET that fails at its sender leaves the creator's UserRRef pending (rref-cases.md P5): the flush gives up
// after 20 s of virtual time and says so, and the program goes on.
TEST(BarrierTest, TheFlushGivesUpAfterTwentySecondsAndSaysSo) {
  Traced t = RunTraced(RemoteThenBarrier(), Config("faulty-agent", {"messages_to_fail=REMOTE_RET", "num_fail_sends=1"}), 0);
  bool said = false;
  for (const Observation& o : t.result.observations) {
    said = said || Contains(o.what, "Timed out waiting to flush pending futures and users, had 0 pending futures and 1 pending users");
  }
  EXPECT_TRUE(said) << Dump(t);
}

}  // namespace
}  // namespace rrefsim::sim
