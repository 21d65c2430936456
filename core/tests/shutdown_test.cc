// Graceful shutdown, S12 (rref-protocol.md §5): RRefContext::delAllUsersAndUnforkedOwners (wait for pending users
// and children, tryDel every confirmed user, remove unforked owners, wait for owners_ to drain; both waits time out
// after kDeleteAllUsersTimeout = 100 s) and RRefContext::destroyInstance (destroyed_, checkRRefLeaks, clearing
// owners_ and pendingOwners_). rref-cases.md P12 (G2 broken after the first wait times out).
#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;

// The ShutdownProgress events of a worker as (step, timed_out) pairs.
std::vector<std::pair<ShutdownStep, bool>> Progress(const Cluster& c, WorkerId id) {
  std::vector<std::pair<ShutdownStep, bool>> steps;
  for (const ShutdownProgress& p : EventsOf<ShutdownProgress>(c, id)) steps.emplace_back(p.step, p.timed_out);
  return steps;
}

using Steps = std::vector<std::pair<ShutdownStep, bool>>;
constexpr auto kUsers = ShutdownStep::kUsersConfirmed;
constexpr auto kOwners = ShutdownStep::kOwnersDeleted;

FunctionResult Make(Cluster&, WorkerId, RunFunction&) { return Returns(7); }
FunctionResult Check(Cluster&, WorkerId, RunFunction&) { return Returns(0); }

Handle Created(Cluster& c, WorkerId from, WorkerId to) {
  Handle a = c.Remote(from, to, "make");
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, from, to);
  c.DeliverNext(MT::REMOTE_RET, to, from);
  return a;
}

Expected<bool> Destroy(Cluster& c, WorkerId id, bool ignore_leak) {
  Output out;
  Expected<bool> r = c.worker(id).DestroyContext(ignore_leak, out);
  c.Absorb(id, out);
  return r;
}

const std::string kLeakWarning =
    "Detected RRef Leaks during shutdown. This usually occurs when the application code still holds references to "
    "RRef instances when calling shutdown(). If the program has completed correctly and the process is exiting, it "
    "is OK to ignore these leaks. However, if you program will keep running after this, these leaks could result in "
    "memory leaks on RRef owners. Please make sure all RRefs are out of scope and Python GC has deleted them before "
    "calling shutdown(): \n";

// Mirrors delAllUsersAndUnforkedOwners with nothing pending: both waits pass at once, the confirmed UserRRef the
// application still holds is tryDel'd (test_use_rref_after_shutdown): to_here and fork then fail with A18.
TEST(ShutdownTest, CleanShutdownDeletesUsersHeldByTheApplication) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = Created(c, 0, 1);
  c.DeleteAllUsers(0);
  EXPECT_EQ(Progress(c, 0), (Steps{{kUsers, false}, {kOwners, false}}));
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.rref_id, Id(0, 0));
  EXPECT_EQ(del.fork_id, Id(0, 1));
  ContextView v = c.View(0);
  ASSERT_EQ(v.users.size(), 1u);
  EXPECT_EQ(v.users[0].app_refs, 1);  // the application still holds it, but it is deleted on the owner
  EXPECT_TRUE(v.users[0].deleted_on_owner);
  EXPECT_TRUE(v.confirmed_users.empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 1));
  EXPECT_TRUE(EventsOf<UserRRefDestroyed>(c, 0).empty());

  const std::string name = "UserRRef(rref_id=" + Gid(0, 0) + ", fork_id=" + Gid(0, 1) + ")";
  Expected<FutureId> to_here = c.TryToHere(0, a);
  EXPECT_FALSE(to_here.ok());
  EXPECT_EQ(to_here.error, name + " has been deleted. Cannot call to_here() on it after deletion.");
  Output out;
  CallSpec spec{1, "make", Val(0, {a}), CallKind::kPython, "PyObject", std::nullopt};
  Expected<FutureId> fork = c.worker(0).RpcAsync(spec, c.now(), out);
  c.Absorb(0, out);
  EXPECT_EQ(fork.error, name + " has been deleted. Cannot call fork an UserRRef after deletion.");
  ASSERT_EQ(c.Errors(0).size(), 2u);
  EXPECT_EQ(c.Errors(0)[0].code, "A18");
  EXPECT_EQ(c.Errors(0)[0].site, ErrorSite::kCaller);
  EXPECT_EQ(c.Errors(0)[1].code, "A18");
  EXPECT_TRUE(c.inflight().empty());  // neither sent anything

  c.Deliver(del);
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
  c.DeliverAll();
  c.DeleteAllUsers(1);
  EXPECT_EQ(Progress(c, 1), (Steps{{kUsers, false}, {kOwners, false}}));
  c.Release(0, a);  // tryDel already ran: no second USER_DELETE
  EXPECT_EQ(EventsOf<UserRRefDestroyed>(c, 0).size(), 1u);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_TRUE(Destroy(c, 0, false).ok());
  EXPECT_TRUE(Destroy(c, 1, false).ok());
  EXPECT_FALSE(c.Logged(0, "Detected RRef Leaks"));
  EXPECT_FALSE(c.Logged(1, "Detected RRef Leaks"));
}

// Step 2c: owners_ entries without a forks_ entry are removed. The owner side of S4 before the creator's
// REMOTE_CALL (getOrCreateOwnerRRef on unpickling) is such an unforked owner; a remote() to self whose REMOTE_RET
// has not arrived is not (its self marker is in forks_), and the owners wait ends when that REMOTE_RET arrives.
// Mirrors delAllUsersAndUnforkedOwners step 2c and its second deleteAllUsersCV_ wait (notified by delForkOfOwner).
TEST(ShutdownTest, RemovesUnforkedOwnersOnly) {
  Cluster c(2);
  c.Define("make", Make);
  c.Define("check", Check);
  c.Remote(0, 1, "make");
  Message remote_call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  Handle a = c.View(0).users.at(0).handle;
  c.Rpc(0, 1, "check", Val(0, {a}));
  c.DeliverNext(MT::PYTHON_CALL, 0, 1);  // the owner creates r = (0,0) from the argument: no fork recorded
  EXPECT_EQ(c.View(1).owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_TRUE(c.View(1).forks.empty());
  Handle s = c.Remote(1, 1, "make");  // remote() to self: r2 = (1,0), forks_[r2] = {r2}
  Message self_call = c.Take(MT::PYTHON_REMOTE_CALL, 1, 1);
  EXPECT_EQ(c.View(1).owners, (std::vector<RRefId>{Id(0, 0), Id(1, 0)}));
  EXPECT_EQ(c.Debug(1), Counters(2, 1, 0, 1));  // the phantom fork's CHILD_ACCEPT is not acknowledged yet

  c.DeleteAllUsers(1);
  EXPECT_TRUE(c.Logged(1, "Removing unforked OwnerRRef with RRefId: " + Gid(0, 0)));
  EXPECT_FALSE(c.Logged(1, "Removing unforked OwnerRRef with RRefId: " + Gid(1, 0)));
  EXPECT_EQ(c.View(1).owners, std::vector<RRefId>{Id(1, 0)});
  ASSERT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1)[0].rref_id, Id(0, 0));
  EXPECT_EQ(Progress(c, 1), (Steps{{kUsers, false}}));  // now waiting for owners_ to drain

  c.Deliver(self_call);
  EXPECT_EQ(Progress(c, 1), (Steps{{kUsers, false}}));
  c.DeliverNext(MT::REMOTE_RET, 1, 1);  // delForkOfOwner(r2, r2) erases the last owner
  EXPECT_EQ(Progress(c, 1), (Steps{{kUsers, false}, {kOwners, false}}));
  EXPECT_FALSE(c.Logged(1, "Timed out"));
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 1));

  c.Deliver(remote_call);  // the creator's REMOTE_CALL after the owner's shutdown step: a new OwnerRRef
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  c.Release(1, s);
}

// Step 2a waits for pendingUsers_ to empty: the REMOTE_RET that confirms the creator's UserRRef ends the wait on
// the spot, and the user is then tryDel'd.
// Mirrors delAllUsersAndUnforkedOwners's first deleteAllUsersCV_ wait, notified by delPendingUser.
TEST(ShutdownTest, WaitsForPendingUsersUntilConfirmed) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make", {}, /*timeout=*/0);
  c.DeleteAllUsers(0);
  EXPECT_TRUE(Progress(c, 0).empty());
  EXPECT_EQ(c.worker(0).NextDeadline(), 100 * kSecond);
  c.RunTimersUntil(50 * kSecond);
  EXPECT_TRUE(Progress(c, 0).empty());
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_TRUE(Progress(c, 0).empty());
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  EXPECT_EQ(Progress(c, 0), (Steps{{kUsers, false}, {kOwners, false}}));
  EXPECT_TRUE(c.Has(MT::RREF_USER_DELETE, 0, 1));
  EXPECT_TRUE(c.View(0).users.at(0).deleted_on_owner);
  EXPECT_FALSE(c.worker(0).NextDeadline().has_value() && *c.worker(0).NextDeadline() == 100 * kSecond);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  c.Release(0, a);
  EXPECT_TRUE(c.inflight().empty());
}

// P12: the wait for pendingChildren_ times out after 100 s ("Timed out waiting for pending UserRRefs ...") and
// shutdown continues: tryDel sends the USER_DELETE of a parent whose child was never accepted (G2 broken). When the
// delayed call then reaches the child, the owner has already freed the RRef: the child's FORK_REQUEST leaves an
// orphan fork and the child holds a UserRRef of a deleted OwnerRRef.
// Mirrors delAllUsersAndUnforkedOwners's first wait_for timing out, then UserRRef::tryDel on confirmedUsers_.
TEST(ShutdownTest, PendingChildrenWaitTimesOutAndBreaksG2P12) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  c.Rpc(0, 2, "check", Val(0, {a}), /*timeout=*/0);
  Message delayed = c.Take(MT::PYTHON_CALL, 0, 2);
  c.Release(0, a);  // only pendingChildren_ holds the parent now
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));

  c.DeleteAllUsers(0);
  EXPECT_EQ(c.worker(0).NextDeadline(), 100 * kSecond);
  c.RunTimersUntil(100 * kSecond - 1);
  EXPECT_TRUE(Progress(c, 0).empty());
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
  c.RunTimersUntil(100 * kSecond);
  std::vector<Log> logs = EventsOf<Log>(c, 0);
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(logs[0].level, LogLevel::kError);
  EXPECT_EQ(logs[0].text, "Timed out waiting for pending UserRRefs to be confirmed by owner and parent.");
  EXPECT_EQ(Progress(c, 0), (Steps{{kUsers, true}, {kOwners, false}}));
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(del.fork_id, Id(0, 1));
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));  // still unaccepted

  c.Deliver(del);
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
  c.Deliver(delayed);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 2)}}}));
  EXPECT_TRUE(c.View(1).owners.empty());
  EXPECT_TRUE(c.View(1).owner_rrefs.empty());
  c.DeliverAll();
  EXPECT_TRUE(c.View(0).pending_children.empty());
  // The parent, deleted on the owner by shutdown, goes without a second USER_DELETE once its child is accepted.
  EXPECT_EQ(EventsOf<UserRRefDestroyed>(c, 0).size(), 1u);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
}

// Step 2d: owners_ does not drain while another worker keeps its UserRRef: after another 100 s, "Timed out
// waiting for pending OwnerRRefs to be deleted." and shutdown goes on.
// Mirrors delAllUsersAndUnforkedOwners's second wait_for timing out.
TEST(ShutdownTest, OwnersWaitTimesOut) {
  Cluster c(2);
  c.Define("make", Make);
  Created(c, 0, 1);  // worker 0 keeps its UserRRef
  c.RunTimersUntil(10 * kSecond);
  c.DeleteAllUsers(1);
  EXPECT_EQ(Progress(c, 1), (Steps{{kUsers, false}}));
  EXPECT_FALSE(c.Logged(1, "Removing unforked OwnerRRef"));
  EXPECT_EQ(c.worker(1).NextDeadline(), 110 * kSecond);
  c.RunTimersUntil(110 * kSecond - 1);
  EXPECT_EQ(Progress(c, 1), (Steps{{kUsers, false}}));
  c.RunTimersUntil(110 * kSecond);
  EXPECT_EQ(Progress(c, 1), (Steps{{kUsers, false}, {kOwners, true}}));
  std::vector<Log> logs = EventsOf<Log>(c, 1);
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(logs.back().level, LogLevel::kError);
  EXPECT_EQ(logs.back().text, "Timed out waiting for pending OwnerRRefs to be deleted.");
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  EXPECT_FALSE(c.worker(1).NextDeadline().has_value());
}

// destroyInstance(ignoreRRefLeak=false) with a fork left: checkRRefLeaks logs the warning and throws the lines
// (A19); owners_ and pendingOwners_ are not cleared after the throw (§9.5), but destroyed_ is set.
TEST(ShutdownTest, DestroyContextReportsLeaks) {
  Cluster c(2);
  c.Define("make", Make);
  Created(c, 0, 1);  // r (0,0) with fork (0,1), kept by worker 0
  Handle b = c.Remote(0, 1, "make");
  c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);  // (0,2) is never created
  c.ToHere(0, b);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_owners, (std::map<RRefId, std::int64_t>{{Id(0, 2), 1}}));

  Expected<bool> r = Destroy(c, 1, false);
  const std::string lines = "Leaking RRef " + Gid(0, 0) + " with fork Id " + Gid(0, 1) + "\n";
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, lines);
  ASSERT_EQ(c.Errors(1).size(), 1u);
  EXPECT_EQ(c.Errors(1)[0].code, "A19");
  EXPECT_EQ(c.Errors(1)[0].text, lines);
  EXPECT_EQ(c.Errors(1)[0].site, ErrorSite::kCaller);
  std::vector<Log> logs = EventsOf<Log>(c, 1);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].level, LogLevel::kWarning);
  EXPECT_EQ(logs[0].text, kLeakWarning + lines);
  ContextView v = c.View(1);
  EXPECT_TRUE(v.destroyed);
  EXPECT_EQ(v.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(v.pending_owners, (std::map<RRefId, std::int64_t>{{Id(0, 2), 1}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
}

// destroyInstance(ignoreRRefLeak=true): only the warning; owners_ and pendingOwners_ are cleared, the waiting
// fetch is dropped unanswered, forks_ stays. Afterwards delUser sends nothing (destroyed_), on both sides.
TEST(ShutdownTest, DestroyContextIgnoringLeaksClearsOwnersAndSilencesDeletes) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = Created(c, 0, 1);
  Handle b = c.Remote(0, 1, "make", {}, /*timeout=*/0);
  c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  FutureId fetch = c.ToHere(0, b, /*timeout=*/0);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);

  Expected<bool> r = Destroy(c, 1, true);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(c.Errors(1).empty());
  const std::string lines = "Leaking RRef " + Gid(0, 0) + " with fork Id " + Gid(0, 1) + "\n";
  ASSERT_EQ(EventsOf<Log>(c, 1).size(), 1u);
  EXPECT_EQ(EventsOf<Log>(c, 1)[0].level, LogLevel::kWarning);
  EXPECT_EQ(EventsOf<Log>(c, 1)[0].text, kLeakWarning + lines);
  ContextView v = c.View(1);
  EXPECT_TRUE(v.destroyed);
  EXPECT_TRUE(v.owners.empty());
  EXPECT_TRUE(v.pending_owners.empty());
  EXPECT_TRUE(v.owner_rrefs.empty());
  EXPECT_EQ(v.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(0, 1, 0, 0));
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);
  EXPECT_TRUE(c.inflight().empty());  // the fetch is never answered
  EXPECT_FALSE(c.Result(0, fetch).has_value());

  // The user side, destroyed too: dropping the UserRRef sends no USER_DELETE.
  EXPECT_TRUE(Destroy(c, 0, true).ok());
  EXPECT_FALSE(c.Logged(0, "Detected RRef Leaks"));  // worker 0 owns nothing: no leak lines
  c.Release(0, a);
  EXPECT_EQ(EventsOf<UserRRefDestroyed>(c, 0).size(), 1u);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 0));  // b is still pending: its REMOTE_CALL never arrived
  EXPECT_TRUE(c.View(0).confirmed_users.empty());
}

// Shutdown after destroy: delAllUsers's tryDel marks users deleted but sends nothing once destroyed_ is set.
// Mirrors RRefContext::delUser, which sends nothing once destroyed_ is set.
TEST(ShutdownTest, TryDelAfterDestroySendsNothing) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = Created(c, 0, 1);
  EXPECT_TRUE(Destroy(c, 0, false).ok());
  c.DeleteAllUsers(0);
  EXPECT_EQ(Progress(c, 0), (Steps{{kUsers, false}, {kOwners, false}}));
  EXPECT_TRUE(c.inflight().empty());
  ASSERT_EQ(c.View(0).users.size(), 1u);
  EXPECT_TRUE(c.View(0).users[0].deleted_on_owner);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_FALSE(c.TryToHere(0, a).ok());
  c.Release(0, a);
  EXPECT_TRUE(c.inflight().empty());
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));  // the owner never hears of it
}

}  // namespace
}  // namespace rrefsim::core::testing
