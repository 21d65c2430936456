// S9 (rref-protocol.md §5, §9.4): a call gated on two user -> user forks (#34497), released inline on the second
// ACK, and where its arguments are freed relative to the deferred CHILD_ACCEPT.
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using namespace forking;


// Index in sent() of the first message matching, or -1.
int SentIndex(const Cluster& c, MT type, WorkerId from, WorkerId to, std::optional<ForkId> fork = std::nullopt) {
  for (size_t i = 0; i < c.sent().size(); ++i) {
    const Message& m = c.sent()[i];
    if (m.type == type && m.from == from && m.to == to && (!fork || m.fork_id == *fork)) return static_cast<int>(i);
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------------------------
// S9: gating on two user->user forks (#34497), with the release inline on the second ACK (§9.4).

// Mirrors processMessage (recordThreadLocalPendingRRefs / waitForThreadLocalPendingRRefs), delPendingUser completing
// the confirmation future inline, and finishForkRequest's CHILD_ACCEPT after the released function.
TEST(ForkTest, S9GatedOnTwoForksRunsInlineOnSecondAck) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("both");
  Handle r1 = c.Remote(0, 1, "make", Val(1));
  Handle r2 = c.Remote(0, 1, "make", Val(2));
  c.DeliverAll();
  FutureId call = c.Rpc(0, 2, "both", Val(0, {r1, r2}));
  EXPECT_EQ(c.View(0).pending_children, (Children{{Id(0, 4), Id(0, 1)}, {Id(0, 5), Id(0, 3)}}));
  c.Release(0, r1);
  c.Release(0, r2);
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);

  ContextView cv = c.View(2);
  EXPECT_EQ(cv.pending_users, (std::vector<ForkId>{Id(0, 4), Id(0, 5)}));
  EXPECT_EQ(cv.gated_requests, 1);
  EXPECT_EQ(cv.running_functions, 0);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 2, 2));
  EXPECT_EQ(c.Count(MT::RREF_FORK_REQUEST), 2u);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1), Id(0, 4)}}, {Id(0, 2), {Id(0, 3), Id(0, 5)}}}));

  // First ACK: c1 confirmed and accepted at once; the request still waits for c2.
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  cv = c.View(2);
  EXPECT_EQ(cv.pending_users, std::vector<ForkId>{Id(0, 5)});
  EXPECT_EQ(cv.confirmed_users, std::vector<ForkId>{Id(0, 4)});
  EXPECT_EQ(cv.gated_requests, 1);
  EXPECT_EQ(cv.running_functions, 0);
  EXPECT_TRUE(c.held_runs(2).empty());
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 2));  // FORK_REQUEST(c2) + CHILD_ACCEPT(c1)
  ASSERT_EQ(c.Count(MT::RREF_CHILD_ACCEPT), 1u);
  Message accept1 = c.Take(MT::RREF_CHILD_ACCEPT, 2, 0);
  EXPECT_EQ(accept1.fork_id, Id(0, 4));

  // Second ACK: the function starts inline, before this ACK's CHILD_ACCEPT; the fork request still counts.
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  cv = c.View(2);
  EXPECT_TRUE(cv.pending_users.empty());
  EXPECT_EQ(cv.confirmed_users, (std::vector<ForkId>{Id(0, 4), Id(0, 5)}));
  EXPECT_EQ(cv.gated_requests, 0);
  EXPECT_EQ(cv.running_functions, 1);
  RunFunction run = TakeHeldRun(c, 2);
  ASSERT_EQ(run.args.rrefs.size(), 2u);
  for (Handle h : run.args.rrefs) {
    ASSERT_NE(FindUser(cv, h), nullptr);
    EXPECT_TRUE(FindUser(cv, h)->confirmed_by_owner);  // check_rref_confirmed
  }
  EXPECT_EQ(c.Count(MT::RREF_CHILD_ACCEPT), 0u);
  EXPECT_EQ(SentIndex(c, MT::RREF_CHILD_ACCEPT, 2, 0, Id(0, 5)), -1);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 2));  // CHILD_ACCEPT(c1) in flight + FORK_REQUEST(c2) not finished
  EXPECT_EQ(cv.client_active_calls, 2);          // the ACK's pool task is held by the function too

  // A: c1 accepted, r1's parent goes; c2's parent stays pinned while C's function runs.
  c.Deliver(accept1);
  ContextView av = c.View(0);
  EXPECT_EQ(av.pending_children, (Children{{Id(0, 5), Id(0, 3)}}));
  ASSERT_EQ(av.users.size(), 1u);
  EXPECT_EQ(av.users[0].fork_id, Id(0, 3));
  Message del1 = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del1.fork_id, Id(0, 1));
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE, 0, 1));
  c.DeliverNext(MT::RREF_ACK, 0, 2);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 1));
  EXPECT_EQ(c.View(2).client_active_calls, 1);

  // The function returns: the reply, then the CHILD_ACCEPT(c2), then --numPendingFutures_ and the pool task ends.
  c.Finish(2, run.work, Returns(3));
  int reply_at = SentIndex(c, MT::PYTHON_RET, 2, 0);
  int accept_at = SentIndex(c, MT::RREF_CHILD_ACCEPT, 2, 0, Id(0, 5));
  ASSERT_GE(reply_at, 0);
  ASSERT_GE(accept_at, 0);
  EXPECT_LT(reply_at, accept_at);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 1));
  EXPECT_EQ(c.View(2).client_active_calls, 1);
  for (Handle h : run.args.rrefs) c.Release(2, h);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 3));
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 2, 0);
  EXPECT_TRUE(c.View(0).pending_children.empty());
  Message del2 = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del2.fork_id, Id(0, 3));
  c.Deliver(del1);
  c.Deliver(del2);
  c.DeliverAll();
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_EQ(c.Result(0, call)->value.payload, 3);
  ExpectAllClean(c, 3);
}

// §9.4, where the arguments go: the gated function runs inside the FORK_REQUEST's confirmation callback, and the
// request object holding its arguments is freed when that callback (processMessage's thenAsync continuation) returns:
// after the reply, before finishForkRequest sends CHILD_ACCEPT. So C's USER_DELETE of the argument precedes the
// CHILD_ACCEPT that unpins A's parent. The harness hands the arguments back in FunctionResult::release_after_reply.
TEST(ForkTest, S9InlineFunctionFreesArgumentsAfterReplyBeforeChildAccept) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  Handle a = c.Remote(0, 1, "make", Val(5));
  c.DeliverAll();
  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  size_t before = c.sent().size();
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // confirms (0,2); "check" runs inline, returns, and its frame goes
  std::vector<std::pair<MT, WorkerId>> order;
  for (size_t i = before; i < c.sent().size(); ++i) order.emplace_back(c.sent()[i].type, c.sent()[i].to);
  EXPECT_EQ(order, (std::vector<std::pair<MT, WorkerId>>{
                       {MT::PYTHON_RET, 0}, {MT::RREF_USER_DELETE, 1}, {MT::RREF_CHILD_ACCEPT, 0}}));
  EXPECT_EQ(c.Take(MT::RREF_USER_DELETE, 2, 1).fork_id, Id(0, 2));
  EXPECT_EQ(c.Take(MT::RREF_CHILD_ACCEPT, 2, 0).fork_id, Id(0, 2));
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, call)->value.payload, 1);
}

// The same with a host that finishes the function itself: FinishFunction releases `release_after_reply` after the
// reply and before the deferred CHILD_ACCEPT, here both arguments of a function released by the second ACK.
TEST(ForkTest, S9ReleaseAfterReplyPrecedesDeferredChildAccept) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("both");
  Handle r1 = c.Remote(0, 1, "make", Val(1));
  Handle r2 = c.Remote(0, 1, "make", Val(2));
  c.DeliverAll();
  c.Rpc(0, 2, "both", Val(0, {r1, r2}));
  c.Release(0, r1);
  c.Release(0, r2);
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // (0,4) confirmed and accepted at once
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // (0,5) confirmed: "both" starts inline, its CHILD_ACCEPT waits
  RunFunction run = TakeHeldRun(c, 2);
  size_t before = c.sent().size();
  FunctionResult result = Returns(3);
  result.release_after_reply = run.args.rrefs;
  c.Finish(2, run.work, result);
  std::vector<std::pair<MT, ForkId>> order;
  for (size_t i = before; i < c.sent().size(); ++i) order.emplace_back(c.sent()[i].type, c.sent()[i].fork_id);
  EXPECT_EQ(order, (std::vector<std::pair<MT, ForkId>>{{MT::PYTHON_RET, ForkId{}},
                                                       {MT::RREF_USER_DELETE, Id(0, 4)},
                                                       {MT::RREF_USER_DELETE, Id(0, 5)},
                                                       {MT::RREF_CHILD_ACCEPT, Id(0, 5)}}));
  EXPECT_TRUE(c.View(2).users.empty());
  c.DeliverAll();
  ExpectAllClean(c, 3);
}

}  // namespace
}  // namespace rrefsim::core::testing
