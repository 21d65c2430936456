// S1 and S2 (rref-protocol.md §5): rpc.remote to another worker and to self, driven message by message.
#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;

FunctionResult AddOne(Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload + 1); }

template <class E>
bool HasEvent(const Cluster& c, WorkerId id) {
  for (const Recorded& r : c.events()) {
    if (r.worker == id && std::holds_alternative<E>(r.event)) return true;
  }
  return false;
}

// Mirrors pyRemotePythonUdf + RRefContext::confirmPendingUser + processRRefUserDelete.
TEST(RemoteTest, S1RemoteToAnotherWorkerThenToHereThenDrop) {
  Cluster c(2);
  c.Define("add_one", AddOne);
  Handle a = c.Remote(0, 1, "add_one", Val(41));

  // The creator generated rrefId before forkId from one counter, sent REMOTE_CALL, then added the pending user.
  ContextView creator = c.View(0);
  EXPECT_EQ(creator.pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_TRUE(creator.owners.empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 0));
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_EQ(call.rref_id, Id(0, 0));
  EXPECT_EQ(call.fork_id, Id(0, 1));
  EXPECT_EQ(call.value.payload, 41);

  // to_here before the owner exists: one fetch, not retried; the owner parks it in pendingOwners_ (S8).
  FutureId value = c.ToHere(0, a);
  Message fetch = c.Take(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  c.Deliver(fetch);
  EXPECT_EQ(c.View(1).pending_owners, (std::map<RRefId, std::int64_t>{{Id(0, 0), 1}}));
  EXPECT_TRUE(c.inflight().empty());

  // The function runs, then assignOwnerRRef creates the owner, registers the creator's fork and sets the value.
  c.Deliver(call);
  ContextView owner = c.View(1);
  EXPECT_EQ(owner.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(owner.forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_TRUE(owner.pending_owners.empty());
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  ASSERT_EQ(c.inflight().size(), 2u);
  EXPECT_EQ(c.inflight()[0].type, MT::PYTHON_RREF_FETCH_RET);  // answered when the value was set
  EXPECT_EQ(c.inflight()[1].type, MT::REMOTE_RET);              // the creator's "ACK" comes after the value

  c.DeliverNext(MT::REMOTE_RET);
  creator = c.View(0);
  EXPECT_TRUE(creator.pending_users.empty());
  EXPECT_EQ(creator.confirmed_users, std::vector<ForkId>{Id(0, 1)});
  ASSERT_EQ(creator.users.size(), 1u);
  EXPECT_TRUE(creator.users[0].confirmed_by_owner);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));

  c.DeliverNext(MT::PYTHON_RREF_FETCH_RET);
  ASSERT_TRUE(c.Result(0, value).has_value());
  EXPECT_EQ(c.Result(0, value)->value.payload, 42);

  // Dropping the last reference destroys the UserRRef: one USER_DELETE, retried, counted as a pending future.
  c.Release(0, a);
  EXPECT_TRUE(HasEvent<UserRRefDestroyed>(c, 0));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  EXPECT_TRUE(c.View(0).confirmed_users.empty());
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.rref_id, Id(0, 0));
  EXPECT_EQ(del.fork_id, Id(0, 1));
  c.Deliver(del);
  EXPECT_TRUE(HasEvent<OwnerRRefFreed>(c, 1));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  c.DeliverNext(MT::RREF_ACK, 1, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.inflight().empty());
}

// The creator's UserRRef cannot die before REMOTE_RET: pendingUsers_ holds it (I5).
TEST(RemoteTest, S1CreatorPinnedUntilRemoteRet) {
  Cluster c(2);
  c.Define("add_one", AddOne);
  Handle a = c.Remote(0, 1, "add_one", Val(1));
  c.Release(0, a);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
  EXPECT_EQ(c.View(0).users.size(), 1u);
  c.DeliverNext(MT::PYTHON_REMOTE_CALL);
  c.DeliverNext(MT::REMOTE_RET);  // delPendingUser drops the last reference: destroyed now
  EXPECT_TRUE(c.View(0).users.empty());
  c.DeliverAll();
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// Mirrors pyRemotePythonUdf's self branch: createOwnerRRef + addSelfAsFork, then finishCreatingOwnerRRef.
TEST(RemoteTest, S2RemoteToSelf) {
  Cluster c(1);
  c.Define("add_one", AddOne);
  Handle r = c.Remote(0, 0, "add_one", Val(6));
  ContextView v = c.View(0);
  EXPECT_EQ(v.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(v.forks, (std::map<RRefId, std::vector<ForkId>>{{Id(0, 0), {Id(0, 0)}}}));  // the self marker
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 0);
  EXPECT_EQ(call.rref_id, call.fork_id);
  c.Deliver(call);  // the existing owner is used, no fork is added
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
  c.DeliverNext(MT::REMOTE_RET);  // delForkOfOwner(r, r): the owner leaves owners_, the handle keeps it alive
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  ASSERT_EQ(c.View(0).owner_rrefs.size(), 1u);
  FutureId f = c.ToHere(0, r);
  ASSERT_TRUE(c.Result(0, f).has_value());  // a local value: no message
  EXPECT_EQ(c.Result(0, f)->value.payload, 7);
  c.Release(0, r);
  EXPECT_TRUE(c.View(0).owner_rrefs.empty());
  EXPECT_TRUE(HasEvent<OwnerRRefFreed>(c, 0));
}

}  // namespace
}  // namespace rrefsim::core::testing
