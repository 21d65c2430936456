// S10 (rref-protocol.md §5): nested RRefs, re-forked on every to_here of the outer RRef and released to clean
// counters.
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

// ---------------------------------------------------------------------------------------------------------------------
// S10: nested RRefs.

// nested_rref: A (0) remote()s a function on B (1) that returns RRefs it created on C (2). Each to_here of the outer
// RRef re-forks the inner ones with B as parent (serializePyObject on the owner); freeing the outer OwnerRRef frees its
// value, whose UserRRefs then send USER_DELETE once their children are accepted (G2).
TEST(ForkTest, S10NestedRRefsReforkedOnEveryToHere) {
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("nested");
  Handle outer = c.Remote(0, 1, "nested");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  RunFunction run = TakeHeldRun(c, 1);
  EXPECT_TRUE(c.View(1).owners.empty());  // assignOwnerRRef comes after the function (§9.4)
  Handle i1 = c.Remote(1, 2, "make", Val(1));
  Handle i2 = c.Remote(1, 2, "make", Val(2));
  c.Finish(1, run.work, Returns(0, {i1, i2}));
  c.Release(1, i1);
  c.Release(1, i2);
  ContextView b = c.View(1);
  EXPECT_EQ(b.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(b.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  ASSERT_EQ(b.owner_rrefs.size(), 1u);
  EXPECT_EQ(b.owner_rrefs[0].nested, (std::vector<ForkId>{Id(1, 1), Id(1, 3)}));
  EXPECT_EQ(FindUser(b, i1)->app_refs, 1);  // held by the value only
  EXPECT_EQ(b.pending_users, (std::vector<ForkId>{Id(1, 1), Id(1, 3)}));
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_EQ(c.View(2).forks, (Forks{{Id(1, 0), {Id(1, 1)}}, {Id(1, 2), {Id(1, 3)}}}));
  EXPECT_EQ(c.Debug(2), Counters(2, 2, 0, 0));

  // First to_here: B forks the inner RRefs (1,4), (1,5) into the reply; they pin B's inner UserRRefs.
  FutureId f1 = c.ToHere(0, outer);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_children, (Children{{Id(1, 4), Id(1, 1)}, {Id(1, 5), Id(1, 3)}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  Message reply = c.Take(MT::PYTHON_RREF_FETCH_RET, 1, 0);
  ASSERT_EQ(reply.value.rrefs.size(), 2u);
  EXPECT_EQ(reply.value.rrefs[0], (ForkData{2, Id(1, 0), Id(1, 4), 1, "PyObject"}));
  EXPECT_EQ(reply.value.rrefs[1], (ForkData{2, Id(1, 2), Id(1, 5), 1, "PyObject"}));
  c.Deliver(reply);
  ASSERT_TRUE(c.Result(0, f1).has_value());
  std::vector<Handle> got1 = c.Result(0, f1)->value.rrefs;
  ASSERT_EQ(got1.size(), 2u);
  EXPECT_EQ(c.View(0).pending_users, (std::vector<ForkId>{Id(1, 4), Id(1, 5)}));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 2, 2));
  EXPECT_EQ(c.Count(MT::RREF_FORK_REQUEST), 2u);
  c.DeliverAll();
  EXPECT_EQ(c.View(2).forks, (Forks{{Id(1, 0), {Id(1, 1), Id(1, 4)}}, {Id(1, 2), {Id(1, 3), Id(1, 5)}}}));
  EXPECT_TRUE(c.View(1).pending_children.empty());
  EXPECT_EQ(c.View(0).confirmed_users, (std::vector<ForkId>{Id(0, 1), Id(1, 4), Id(1, 5)}));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  // Second to_here: new forks (1,6), (1,7) with the same parent.
  FutureId f2 = c.ToHere(0, outer);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_children, (Children{{Id(1, 6), Id(1, 1)}, {Id(1, 7), Id(1, 3)}}));
  c.DeliverNext(MT::PYTHON_RREF_FETCH_RET, 1, 0);
  std::vector<Handle> got2 = c.Result(0, f2)->value.rrefs;
  ASSERT_EQ(got2.size(), 2u);
  EXPECT_EQ(FindUser(c.View(0), got2[0])->fork_id, Id(1, 6));
  EXPECT_EQ(FindUser(c.View(0), got2[1])->fork_id, Id(1, 7));

  // A drops the outer RRef while the second batch of children is unconfirmed: B frees the OwnerRRef and its value,
  // but its inner UserRRefs stay pinned by pendingChildren_ and send nothing yet.
  c.Release(0, outer);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  b = c.View(1);
  EXPECT_TRUE(b.owner_rrefs.empty());
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 1), 1);
  ASSERT_EQ(b.users.size(), 2u);
  EXPECT_EQ(b.users[0].app_refs, 0);
  EXPECT_EQ(b.users[1].app_refs, 0);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE, 1, 2));

  // C registers the children and A accepts them to B: only then do B's inner UserRRefs go.
  c.DeliverNext(MT::RREF_FORK_REQUEST, 0, 2);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 0, 2);
  c.DeliverNext(MT::RREF_ACK, 2, 0);
  c.DeliverNext(MT::RREF_ACK, 2, 0);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE, 1, 2));
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 0, 1);
  EXPECT_EQ(c.View(1).users.size(), 1u);
  Message del_i1 = c.Take(MT::RREF_USER_DELETE, 1, 2);
  EXPECT_EQ(del_i1.rref_id, Id(1, 0));
  EXPECT_EQ(del_i1.fork_id, Id(1, 1));
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 0, 1);
  EXPECT_TRUE(c.View(1).users.empty());
  Message del_i2 = c.Take(MT::RREF_USER_DELETE, 1, 2);
  EXPECT_EQ(del_i2.fork_id, Id(1, 3));
  c.Deliver(del_i1);
  c.Deliver(del_i2);
  c.DeliverAll();
  EXPECT_EQ(c.View(2).forks,
            (Forks{{Id(1, 0), {Id(1, 4), Id(1, 6)}}, {Id(1, 2), {Id(1, 5), Id(1, 7)}}}));

  // The inner RRefs A holds are plain users of C: to_here works, release frees everything.
  FutureId v = c.ToHere(0, got2[1]);
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, v)->value.payload, 2);
  for (Handle h : got1) c.Release(0, h);
  for (Handle h : got2) c.Release(0, h);
  c.DeliverAll();
  ExpectAllClean(c, 3);
}

// A value holding 20 inner RRefs, fetched twice; everything released reaches clean counters on every worker.
TEST(ForkTest, S10TwentyWayNestedReachesCleanCounters) {
  constexpr int kInner = 20;
  Cluster c(3);
  c.Define("make", Make);
  c.Hold("nested");
  Handle outer = c.Remote(0, 1, "nested");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  RunFunction run = TakeHeldRun(c, 1);
  std::vector<Handle> inner;
  for (int i = 0; i < kInner; ++i) inner.push_back(c.Remote(1, 2, "make", Val(100 + i)));
  c.Finish(1, run.work, Returns(0, inner));
  for (Handle h : inner) c.Release(1, h);
  EXPECT_EQ(c.View(1).owner_rrefs.at(0).nested.size(), static_cast<size_t>(kInner));
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_EQ(c.Debug(2), Counters(kInner, kInner, 0, 0));

  std::vector<Handle> got;
  for (int round = 0; round < 2; ++round) {
    FutureId f = c.ToHere(0, outer);
    c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
    EXPECT_EQ(c.View(1).pending_children.size(), static_cast<size_t>(kInner));
    Message reply = c.Take(MT::PYTHON_RREF_FETCH_RET, 1, 0);
    ASSERT_EQ(reply.value.rrefs.size(), static_cast<size_t>(kInner));
    for (int i = 0; i < kInner; ++i) {
      // B's counter: 2 ids per inner remote(), then one fork id per inner RRef per fetch.
      EXPECT_EQ(reply.value.rrefs[i],
                (ForkData{2, Id(1, 2 * i), Id(1, 2 * kInner + round * kInner + i), 1, "PyObject"}));
    }
    c.Deliver(reply);
    ASSERT_TRUE(c.Result(0, f).has_value());
    ASSERT_EQ(c.Result(0, f)->value.rrefs.size(), static_cast<size_t>(kInner));
    EXPECT_EQ(c.Debug(0), Counters(0, 0, kInner, kInner));
    std::vector<Handle> batch = c.Result(0, f)->value.rrefs;
    got.insert(got.end(), batch.begin(), batch.end());
    c.DeliverAll();
    EXPECT_TRUE(c.View(1).pending_children.empty());
    EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
    EXPECT_EQ(c.Debug(2), Counters(kInner, kInner * (round + 2), 0, 0));
  }
  FutureId last = c.ToHere(0, got.back());
  c.DeliverAll();
  EXPECT_EQ(c.Result(0, last)->value.payload, 100 + kInner - 1);

  c.Release(0, outer);
  c.DeliverAll();
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  EXPECT_TRUE(c.View(1).users.empty());
  EXPECT_EQ(c.Debug(2), Counters(kInner, 2 * kInner, 0, 0));  // only A's children remain
  for (Handle h : got) c.Release(0, h);
  c.DeliverAll();
  ExpectAllClean(c, 3);
  EXPECT_EQ(CountEvents<OwnerRRefFreed>(c, 2), kInner);
  EXPECT_EQ(CountEvents<UserRRefDestroyed>(c, 0), 2 * kInner + 1);
  EXPECT_EQ(CountEvents<UserRRefDestroyed>(c, 1), kInner);
}

}  // namespace
}  // namespace rrefsim::core::testing
