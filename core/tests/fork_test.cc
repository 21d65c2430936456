// S3-S7, S9, S10 (rref-protocol.md §5): forking RRefs through calls, returns and fetches.
#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;

// A (0) creates r on owner B (1), then passes it to C (2) in an rpc: user -> user.
// Mirrors RRefContext::prepareChildFork, notifyOwnerAndParentOfFork, finishForkRequest and delPendingChild.
TEST(ForkTest, S3UserToUserForkStepByStep) {
  Cluster c(3);
  c.Define("make", [](Cluster&, WorkerId, RunFunction&) { return Returns(5); });
  bool confirmed_when_run = false;
  c.Define("check", [&](Cluster& cl, WorkerId self, RunFunction& run) {
    // check_rref_confirmed: the gate guarantees the argument is confirmed before user code runs (S9).
    for (const UserRRefView& u : cl.View(self).users) {
      if (u.handle == run.args.rrefs.at(0)) confirmed_when_run = u.confirmed_by_owner;
    }
    return Returns(0);
  });
  Handle a = c.Remote(0, 1, "make");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL);
  c.DeliverNext(MT::REMOTE_RET);

  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}));
  // Parent side: child fork c=(0,2), pendingChildren_A[c] = A's UserRRef.
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));
  c.Release(0, a);  // G2: the parent stays alive while its child is unconfirmed
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));

  Message rpc = c.Take(MT::PYTHON_CALL, 0, 2);
  ASSERT_EQ(rpc.value.rrefs.size(), 1u);
  EXPECT_EQ(rpc.value.rrefs[0], (ForkData{1, Id(0, 0), Id(0, 2), 0, "PyObject"}));
  c.Deliver(rpc);
  // Child side: UserRRef(r, c), FORK_REQUEST to the owner, pending user; the function is gated.
  EXPECT_EQ(c.View(2).pending_users, std::vector<ForkId>{Id(0, 2)});
  EXPECT_EQ(c.View(2).gated_requests, 1);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 1));
  Message fork_request = c.Take(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_EQ(fork_request.rref_id, Id(0, 0));
  EXPECT_EQ(fork_request.fork_id, Id(0, 2));
  c.Deliver(fork_request);
  EXPECT_EQ(c.View(1).forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 2, 0, 0));

  // The ACK confirms the child; the gated function runs inline, and CHILD_ACCEPT follows it (§9.4).
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  EXPECT_TRUE(confirmed_when_run);
  EXPECT_TRUE(c.View(2).pending_users.empty());
  // Confirmed, then destroyed when the function returned and freed its argument: delUser erased it again.
  EXPECT_TRUE(c.View(2).confirmed_users.empty());
  Message accept = c.Take(MT::RREF_CHILD_ACCEPT, 2, 0);
  EXPECT_EQ(accept.fork_id, Id(0, 2));
  // The function returned and released its argument: C's UserRRef is gone, its USER_DELETE is on the way.
  EXPECT_TRUE(c.Has(MT::RREF_USER_DELETE, 2, 1));

  c.Deliver(accept);  // the parent is unpinned and, with no references left, sends its own USER_DELETE
  EXPECT_TRUE(c.View(0).pending_children.empty());
  EXPECT_TRUE(c.Has(MT::RREF_USER_DELETE, 0, 1));
  c.DeliverAll();
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_TRUE(c.Result(0, call)->ok());
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
}

}  // namespace
}  // namespace rrefsim::core::testing
