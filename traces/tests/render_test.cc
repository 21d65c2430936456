// The readable side of a trace: state diffs, the explanation, and the text and Mermaid renderings of a golden trace.
#include <gtest/gtest.h>

#include "rrefsim/traces/recorder.h"
#include "rrefsim/traces/render.h"
#include "trace_test_util.h"

namespace rrefsim::traces {
namespace {

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(DiffViews, NamesEachChangedMapEntryAndCounter) {
  core::ContextView before, after;
  core::RRefId r{0, 0};
  core::ForkId f1{0, 1}, f2{0, 2};
  before.forks[r] = {f1};
  before.pending_users = {f1};
  after.owners = {core::RRefId{1, 0}};
  after.forks[r] = {f1, f2};
  after.pending_children[f2] = f1;
  after.pending_owners[r] = 2;
  after.debug.num_forks = 2;
  after.client_active_calls = 1;
  std::vector<std::string> diff = DiffViews(before, after);
  std::vector<std::string> expected = {"owners_ += (1,0)",
                                       "forks_[(0,0)] += (0,2)",
                                       "pendingUsers_ -= (0,1)",
                                       "pendingChildren_[(0,2)] = (0,1)",
                                       "pendingOwners_[(0,0)] = 2",
                                       "agent: client_active_calls 0 -> 1",
                                       "debug: num_forks 0 -> 2"};
  EXPECT_EQ(diff, expected);
  EXPECT_TRUE(DiffViews(after, after).empty());
}

TEST(DiffViews, FollowsInstancesByHandle) {
  core::ContextView before, after;
  core::UserRRefView u;
  u.handle.id = 3;
  u.owner = 1;
  u.rref_id = {1, 0};
  u.fork_id = {1, 1};
  u.app_refs = 1;
  before.users = {u};
  u.app_refs = 0;
  u.confirmed_by_owner = true;
  after.users = {u};
  EXPECT_EQ(DiffViews(before, after),
            std::vector<std::string>{"user h3 (fork (1,1)): app_refs 1 -> 0, confirmed_by_owner false -> true"});
  EXPECT_EQ(DiffViews(before, core::ContextView{}),
            std::vector<std::string>{"users -= h3 fork (1,1) of (1,0) owner 1 app_refs 1"});
}

TEST(Recorder, AttachesTheStepsChangesToItsLastEvent) {
  Trace trace = testing::ReadGolden(testing::kGoldenCases[0].file);
  // Step 6 delivers the call (no change yet) and runs its function: the new UserRRef is on the step's last event.
  // (Event 0 is step 1's own "state" event: the local RRef, a change no record announced.)
  ASSERT_GE(trace.events.size(), 5u);
  EXPECT_EQ(trace.events[0].kind, "state");
  EXPECT_EQ(trace.events[3].kind, "deliver");
  EXPECT_TRUE(trace.events[3].changes.empty());
  EXPECT_EQ(trace.events[4].kind, "event");
  ASSERT_FALSE(trace.events[4].changes.empty());
  EXPECT_EQ(trace.events[4].changes[1].worker, 2);
  EXPECT_EQ(trace.events[4].changes[1].change, "users += h1 fork (1,1) of (1,0) owner 1 app_refs 1");
}

TEST(Explain, SaysWhatTheInvariantDemandsWhatTriggeredItAndWhoIsInvolved) {
  Trace trace = testing::ReadGolden(testing::kGoldenCases[0].file);
  std::string text = Explain(trace.verdict.violations.front(), trace);
  EXPECT_TRUE(Has(text, "at most one live UserRRef instance per fork")) << text;
  EXPECT_TRUE(Has(text, "(I1)")) << text;
  EXPECT_TRUE(Has(text, "step 8 at 3.829 ms (network), was worker 2 processing PYTHON_CALL#0 1->2")) << text;
  EXPECT_TRUE(Has(text, "Involved: RRef (1,0) owned by worker 1; fork (1,1); workers 1 and 2.")) << text;
  EXPECT_EQ(text, trace.verdict.explanation);
}

TEST(Explain, NamesTheSendThatBrokeG2) {
  Trace trace = testing::ReadGolden(testing::kGoldenCases[1].file);
  ASSERT_EQ(trace.verdict.violations.front().checker, "parent_pinned_until_child_confirmed");
  EXPECT_TRUE(Has(trace.verdict.explanation, "was worker 0 sending RREF_USER_DELETE#3 0->1 rref=(0,0) fork=(0,1)"))
      << trace.verdict.explanation;
  EXPECT_TRUE(Has(trace.verdict.explanation, "forks (0,1) and (0,2)")) << trace.verdict.explanation;
}

TEST(RenderText, ShowsTheEventsTheStateAndTheExplanation) {
  Trace trace = testing::ReadGolden(testing::kGoldenCases[0].file);
  std::string text = RenderText(trace);
  EXPECT_EQ(text.rfind("trace of s5_owner_to_user, seed 0, faults chaos, strategy random", 0), 0u) << text;
  EXPECT_TRUE(Has(text, "\n  VIOLATION unique_fork_ids at step 8 (3.829 ms): two live UserRRef instances share "
                        "fork (1,1) of RRef (1,0) (one on worker 2)\n"))
      << text;
  EXPECT_TRUE(Has(text, "and every event touching RRef (1,0), fork (1,1)):\n")) << text;
  EXPECT_TRUE(Has(text, "  step    8       3.829 ms  w2  deliver     PYTHON_CALL#0 1->2 fn=fetch")) << text;
  EXPECT_TRUE(Has(text, "        | w2 users += h2 fork (1,1) of (1,0) owner 1 app_refs 1\n")) << text;
  EXPECT_TRUE(Has(text, "state at step 8, the failing step (entries about RRef (1,0), fork (1,1), and every worker's counters):\n"))
      << text;
  EXPECT_TRUE(Has(text, "  worker 1:\n    owners_: (1,0)\n    forks_[(1,0)]: (1,1)\n")) << text;
  EXPECT_TRUE(Has(text, "    UserRRef h2 fork (1,1) of (1,0) owner 1 app_refs 1\n")) << text;
  EXPECT_TRUE(Has(text, "\nexplanation:\n  Every ForkId is generated once")) << text;
}

TEST(RenderText, ShowsAtMostTheWindowPlusTheInvolvedEvents) {
  Trace trace = testing::ReadGolden(testing::kGoldenCases[1].file);
  std::string text = RenderText(trace);
  EXPECT_TRUE(Has(text, " event(s) not shown\n")) << text;
  std::size_t lines = 0;
  for (std::size_t at = text.find("\n  step "); at != std::string::npos; at = text.find("\n  step ", at + 1)) ++lines;
  EXPECT_LT(lines, trace.events.size());
  EXPECT_GE(lines, kWindow);
}

TEST(RenderMermaid, DrawsWorkersMessagesNotesAndTheViolation) {
  Trace trace = testing::ReadGolden(testing::kGoldenCases[0].file);
  std::string text = RenderMermaid(trace);
  EXPECT_EQ(text.rfind("sequenceDiagram\n  participant w0 as worker 0\n", 0), 0u) << text;
  EXPECT_TRUE(Has(text, "\n  participant w3 as worker 3\n")) << text;
  EXPECT_TRUE(Has(text, "\n  w1->>w2: s8 PYTHON_CALL 0 [rref (1,0) fork (1,1)]\n")) << text;
  EXPECT_TRUE(Has(text, "\n  Note over w2: s8 run fetch (work 2, PYTHON_CALL from worker 1)\n")) << text;
  EXPECT_TRUE(Has(text, "\n  Note over w1,w2: VIOLATION unique_fork_ids at step 8: two live UserRRef instances share "
                        "fork (1,1) of RRef (1,0) (one on worker 2)\n"))
      << text;
  EXPECT_FALSE(Has(text, "#")) << text;
  EXPECT_FALSE(Has(text, ";")) << text;
}

TEST(RenderMermaid, MarksLostMessagesAndExpectedViolations) {
  std::string lossy = RenderMermaid(testing::ReadGolden(testing::kGoldenCases[1].file));
  EXPECT_TRUE(Has(lossy, "--x")) << lossy;
  std::string pool = RenderMermaid(testing::ReadGolden(testing::kGoldenCases[2].file));
  EXPECT_TRUE(Has(pool, ": expected ")) << pool;
}

}  // namespace
}  // namespace rrefsim::traces
