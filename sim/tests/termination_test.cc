// How runs end (issue 3, "Progress and termination"): quiescence, deadlock (reported with what each blocked fiber
// and each waiting pool task waits for, never a hang), the safety bounds (no_quiescence), and a worker that aborts.
#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "rrefsim/sim/world.h"
#include "sim_test_util.h"

namespace rrefsim::sim {
namespace {

using namespace rrefsim::sim::testing;

using core::kMillisecond;
using core::kSecond;

// scenarios/src/catalog.cc's PoolExhaustion: the user function `fetch` on worker 2 blocks on to_here and holds a
// handler; the fetch reply needs a handler of worker 2 too.
Scenario PoolExhaustion(int pool_size) {
  Scenario s("pool_exhaustion", 4);
  s.Function("make").Return(Int(42));
  s.Function("fetch").ToHere("v", "args").Expect("v", 42).Return(Int(0));
  s.pool_size = pool_size;
  s.On(0).Remote("a", To(1), "make").RpcSync("", To(2), "fetch", {"a"}).Del("a");
  return s;
}

// ------------------------------------------------------------------------------------------------ deadlocks

// One handler per worker: fetch's to_here holds worker 2's only handler, and its reply (and the to_here timeout,
// which also completes on the pool) wait behind it forever. Reported as a deadlock naming the blocked fiber and the
// waiting pool task, not hung.
TEST(TerminationTest, PoolExhaustionIsADeadlockNamingTheBlockedFiberAndTheWaitingTask) {
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Traced t = RunTraced(PoolExhaustion(1), Config("reorder"), seed);
    ASSERT_EQ(t.result.outcome, Outcome::kDeadlock) << Dump(t);
    const std::string& detail = t.result.detail;
    if (seed == 0) RecordProperty("detail", detail);
    EXPECT_TRUE(Contains(detail, "fetch on 2 (work ")) << detail;
    EXPECT_TRUE(Contains(detail, "waits for future")) << detail;
    EXPECT_TRUE(Contains(detail, "worker 2 has ")) << detail;
    EXPECT_TRUE(Contains(detail, "task(s) waiting for one of its 1 busy handlers")) << detail;
    // The reply reached worker 2 and found no free handler.
    bool queued = false;
    for (const StepEvent& e : t.events) {
      queued = queued || (e.kind == "queued" && e.worker == 2 && Contains(e.detail, "PYTHON_RREF_FETCH_RET#") &&
                          Contains(e.detail, "(no free handler)"));
    }
    EXPECT_TRUE(queued) << Dump(t);
  }
}

// The same scenario with PyTorch's 16 handlers runs to quiescence, clean.
TEST(TerminationTest, PoolExhaustionScenarioPassesWithSixteenHandlers) {
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Traced t = RunTraced(PoolExhaustion(16), Config("reorder"), seed);
    ASSERT_EQ(t.result.outcome, Outcome::kOk) << Dump(t);
    EXPECT_TRUE(t.result.detail.empty()) << t.result.detail;
    for (const Observation& o : t.result.observations) EXPECT_TRUE(o.expected_ok) << o.where << ": " << o.what;
    for (const StepEvent& e : t.events) EXPECT_NE(e.kind, "queued") << e.detail;
    ExpectCleanFinalViews(t.result);
  }
}

// Program 0 has one barrier more than the others: it waits at its barrier 1, which no other program reaches, and the
// others wait at the shutdown barrier for it. Nothing is left to wake anyone: a deadlock, reported with every waiter.
TEST(TerminationTest, MismatchedBarriersAreReportedAsADeadlock) {
  Scenario s("barrier_mismatch", 4);
  s.Function("make").Return(Int(42));
  s.On(0).Remote("a", To(1), "make").ToHere("v", "a").Del("a").Barrier();
  s.On(1).Sleep(5 * kMillisecond);
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Traced t = RunTraced(s, Config("reorder"), seed);
    ASSERT_EQ(t.result.outcome, Outcome::kDeadlock) << Dump(t);
    EXPECT_TRUE(Contains(t.result.detail, "program 0 waits for barrier 1 (1 of 4 workers arrived)"))
        << t.result.detail;
    EXPECT_TRUE(Contains(t.result.detail,
                         "program 1, program 2, program 3 wait for the shutdown barrier (3 of 4 workers arrived)"))
        << t.result.detail;
  }
}

// Without shutdown, a program alone at a barrier.
TEST(TerminationTest, ABarrierNoOtherProgramReachesIsADeadlock) {
  Scenario s("lonely_barrier", 3);
  s.graceful_shutdown = false;
  s.On(2).Barrier();
  RandomChooser chooser(1);
  RunResult r = sim::Run(s, Config("reorder"), chooser);
  ASSERT_EQ(r.outcome, Outcome::kDeadlock) << r.detail;
  EXPECT_EQ(r.detail, "program 2 waits for barrier 1 (1 of 3 workers arrived)");
}

// ------------------------------------------------------------------------------------------------ safety bounds

TEST(TerminationTest, StepBoundEndsTheRunAsNoQuiescence) {
  RunConfig config = Config("reorder");
  config.max_steps = 5;
  RandomChooser chooser(1);
  RunResult r = sim::Run(UserToUser(), config, chooser);
  EXPECT_EQ(r.outcome, Outcome::kNoQuiescence);
  EXPECT_EQ(r.detail, "the safety bound of 5 steps was reached");
  EXPECT_LE(r.steps, 6u);
  EXPECT_STREQ(OutcomeName(r.outcome), "no_quiescence");

  // The same run with the default bound reaches quiescence.
  RandomChooser again(1);
  EXPECT_EQ(sim::Run(UserToUser(), Config("reorder"), again).outcome, Outcome::kOk);
}

// Every small bound, including ones hit before some programs have started: the cancelled run still ends (its
// fibers, started or not, are cancelled cleanly).
TEST(TerminationTest, EverySmallStepBoundEndsTheRun) {
  for (std::uint64_t bound = 0; bound < 40; ++bound) {
    RunConfig config = Config("reorder");
    config.max_steps = bound;
    RandomChooser chooser(2);
    RunResult r = sim::Run(UserToUser(), config, chooser);
    EXPECT_EQ(r.outcome, Outcome::kNoQuiescence) << "bound " << bound;
    EXPECT_EQ(r.detail, "the safety bound of " + std::to_string(bound) + " steps was reached");
  }
}

TEST(TerminationTest, VirtualTimeBoundEndsTheRunAsNoQuiescence) {
  Scenario s("sleeps_past_the_bound", 2);
  s.On(0).Sleep(2 * 3600 * kSecond);
  RandomChooser chooser(1);
  RunResult r = sim::Run(s, Config("reorder"), chooser);
  EXPECT_EQ(r.outcome, Outcome::kNoQuiescence);
  EXPECT_EQ(r.detail, "the virtual time bound of 3600 s was reached");
  EXPECT_LE(r.end_time, 3600 * kSecond);
}

// ------------------------------------------------------------------------------------------------ worker abort

// rref-protocol.md §9.3: FaultyTensorPipeAgent failing RREF_FORK_REQUEST 6 times exhausts sendWithRetries (1 + 5
// attempts at +1000, +2000, +3500, +5750, +9125 ms); the final error is thrown by the fork-request callback, which
// runs inline on the retry thread: std::terminate. Worker 2 (the child) aborts; the run reports it.
TEST(TerminationTest, ForkRequestFailingSixTimesAbortsTheChildWorker) {
  Traced t = RunTraced(UserToUser(), Config("faulty-agent", {"num_fail_sends=6"}), 1);
  ASSERT_EQ(t.result.outcome, Outcome::kWorkerAbort) << Dump(t);
  RecordProperty("detail", t.result.detail);
  EXPECT_STREQ(OutcomeName(t.result.outcome), "worker_abort");
  EXPECT_TRUE(t.result.detail.rfind("worker 2 aborted: ", 0) == 0) << t.result.detail;
  EXPECT_TRUE(Contains(t.result.detail, "terminate called after throwing"));
  EXPECT_TRUE(Contains(t.result.detail,
                       "The RPC has not succeeded after the specified number of max retries (5)."))
      << t.result.detail;

  std::vector<TimeUs> failures;
  for (const StepEvent& e : t.events) {
    if (e.worker == 2 && e.kind == "send_failed" && e.detail.rfind("RREF_FORK_REQUEST#", 0) == 0) {
      failures.push_back(e.time);
    }
  }
  ASSERT_EQ(failures.size(), 6u) << Dump(t);
  const TimeUs offsets[] = {0, 1000, 2000, 3500, 5750, 9125};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(failures[i] - failures[0], offsets[i] * kMillisecond) << "attempt " << i;
  }
  int aborted_events = 0;
  for (const StepEvent& e : t.events) {
    if (e.kind == "event" && e.detail.rfind("worker aborted: ", 0) == 0) {
      ++aborted_events;
      EXPECT_EQ(e.worker, 2);
      EXPECT_EQ(e.time, failures[5]);
    }
  }
  EXPECT_EQ(aborted_events, 1);
  // Nothing runs on worker 2 after it died: a message that reaches it is lost.
  for (const StepEvent& e : t.events) {
    if (e.worker == 2 && e.time > failures[5]) {
      EXPECT_TRUE(e.kind == "lost") << e.kind << " " << e.detail;
    }
  }
}

}  // namespace
}  // namespace rrefsim::sim

namespace rrefsim::sim {
namespace {

using namespace rrefsim::sim::testing;

// A worker that aborts (§9.3) stops: its program does not go on to later barriers or its shutdown, and nothing it
// would have sent appears after the abort.
TEST(TerminationTest, AnAbortedWorkersProgramStopsAtTheAbort) {
  Scenario s = UserToUser();
  s.On(2).Sleep(20 * kSecond);  // would reach its shutdown barrier long after the abort
  RunConfig config = Config("faulty-agent", {"num_fail_sends=10"});
  Traced t = RunTraced(s, config, 0);
  ASSERT_EQ(t.result.outcome, Outcome::kWorkerAbort) << Dump(t);
  EXPECT_TRUE(Contains(t.result.detail, "worker 2 aborted")) << t.result.detail;
  bool aborted = false;
  for (const StepEvent& e : t.events) {
    if (e.worker == 2 && e.kind == "event" && Contains(e.detail, "worker aborted")) aborted = true;
    if (aborted && e.worker == 2) {
      EXPECT_TRUE(e.kind == "lost" || Contains(e.detail, "worker aborted")) << e.kind << " " << e.detail;
    }
  }
  EXPECT_TRUE(aborted) << Dump(t);
  // Worker 0's rpc to the dead worker only fails at its 60 s timeout; the shutdown barrier of the live workers must
  // wait for it. (Had worker 2's program gone on, it would have completed that barrier at 20 s.)
  for (const StepEvent& e : t.events) {
    if (e.worker == 1 && e.kind == "event" && Contains(e.detail, "shutdown step")) {
      EXPECT_GE(e.time, 60 * kSecond) << Dump(t);
      break;
    }
  }
}

TEST(TerminationTest, AnUnknownDestinationIsRaisedToTheProgram) {
  Scenario s("unknown_destination", 2);
  s.Function("make").Return(Int(1));
  s.On(0).Remote("a", To(7), "make");
  Traced t = RunTraced(s, Config("reorder"), 0);
  EXPECT_EQ(t.result.outcome, Outcome::kOk) << Dump(t);
  ASSERT_EQ(t.result.observations.size(), 1u);
  EXPECT_EQ(t.result.observations[0].what, "error name:worker0,rank:0 could not find destination id 7");
}

TEST(TerminationTest, AScenarioThatCannotRunIsRefused) {
  Scenario none("no_workers", 0);
  EXPECT_EQ(Validate(none), "scenario 'no_workers': workers is 0 (expected 1 to 32767)");
  Scenario pool = UserToUser();
  pool.pool_size = 0;
  EXPECT_EQ(Validate(pool), "scenario 's3_user_to_user': pool_size is 0 (expected at least 1)");
  RandomChooser chooser(0);
  EXPECT_THROW(sim::Run(pool, RunConfig{}, chooser), std::invalid_argument);
}

}  // namespace
}  // namespace rrefsim::sim
