// Non-idempotent messages delivered twice (rref-protocol.md §6.1; rref-cases.md §3 P2-P4): REMOTE_CALL, sent once
// and not idempotent, and calls carrying forks; these tests pin down exactly how they fail.
// Every message is delivered by hand: Take() holds a message back, Deliver(m) twice is a duplicate.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;
using namespace control;

// ------------------------------------------------------------------------------------------------------------
// REMOTE_CALL (sent once, not idempotent): assignOwnerRRef after the function (§9.4).
// ------------------------------------------------------------------------------------------------------------

// P4: the second delivery runs the function again, then addForkOfOwner asserts (A1) -> EXCEPTION reply. The
// REMOTE_RET of the first delivery reaches the creator first here; the EXCEPTION is then ignored.
// Mirrors processPythonRemoteCall -> assignOwnerRRef -> RRefContext::addForkOfOwner.
TEST(ControlTest, DuplicateRemoteCallToAnotherWorkerFailsWithA1) {
  Cluster c(2);
  int runs = 0;
  c.Define("make", [&runs](Cluster&, WorkerId, RunFunction&) { return Returns(10 * ++runs); });
  Handle a = c.Remote(0, 1, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.Deliver(call);
  c.Deliver(call);
  EXPECT_EQ(runs, 2);
  const std::string text = "Got fork notification twice on the same RRef " + Gid(0, 1);
  ASSERT_EQ(c.Errors(1).size(), 1u);
  EXPECT_EQ(c.Errors(1)[0].code, "A1");
  EXPECT_EQ(c.Errors(1)[0].text, text);
  EXPECT_EQ(c.Errors(1)[0].site, ErrorSite::kRequestHandler);
  EXPECT_EQ(LastLog(c, 1), "Received error while processing request type 261: " + text);
  ContextView owner = c.View(1);
  EXPECT_EQ(owner.forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  ASSERT_EQ(owner.owner_rrefs.size(), 1u);
  EXPECT_EQ(owner.owner_rrefs[0].payload, 10);  // the second run's value was never stored
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));

  Message ret = c.Take(MT::REMOTE_RET, 1, 0);
  Message exception = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(ret.id, call.id);
  EXPECT_EQ(exception.id, call.id);
  EXPECT_EQ(exception.error, "Error on Node 1: " + text);
  c.Deliver(ret);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.Deliver(exception);
  EXPECT_TRUE(c.Logged(0, "no request is waiting for it"));
  EXPECT_TRUE(c.Errors(0).empty());
  c.Release(0, a);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// The same duplicate, but the EXCEPTION overtakes the REMOTE_RET: the creator's remote() fails with UNKNOWN_ERROR,
// handleException throws before delPendingUser (A23, P5) and the UserRRef stays pending for good.
// Mirrors confirmPendingUser -> RRef::handleError -> RRefContext::handleException.
TEST(ControlTest, DuplicateRemoteCallExceptionFirstPinsCreator) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.Deliver(call);
  c.Deliver(call);
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  const std::string error = "Error on Node 1: Got fork notification twice on the same RRef " + Gid(0, 1);
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_EQ(c.Errors(0)[0].code, "A23");
  EXPECT_EQ(c.Errors(0)[0].text, error);
  EXPECT_EQ(c.Errors(0)[0].site, ErrorSite::kPoolCallback);
  EXPECT_EQ(LastLog(c, 0), "Exception in thread pool task: " + error);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);  // too late: the future is already failed
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
  c.Release(0, a);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));  // pinned: the owner keeps fork (0,1) forever
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 1, 0));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
}

// remote() to self delivered twice before its REMOTE_RET: the existing owner is reused (no fork), the function runs
// twice and the second setValue fails ("Future can only be marked completed once") -> EXCEPTION reply. The throw is
// inside assignOwnerRRef's then() continuation, so the response future fails: the EXCEPTION carries the raw text,
// without "Error on Node 0: " and without handleError's log line.
// Mirrors assignOwnerRRef (rrefId == forkId) -> OwnerRRef::setValue -> Future::markCompleted.
TEST(ControlTest, DuplicateSelfRemoteCallSetsValueTwice) {
  Cluster c(1);
  int runs = 0;
  c.Define("make", [&runs](Cluster&, WorkerId, RunFunction&) { return Returns(10 * ++runs); });
  Handle r = c.Remote(0, 0, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 0);
  c.Deliver(call);
  c.Deliver(call);
  EXPECT_EQ(runs, 2);
  const std::string text =
      "Attempting to mark a completed Future as complete again. Note that a Future can only be marked completed "
      "once.";
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_EQ(c.Errors(0)[0].code, "");
  EXPECT_EQ(c.Errors(0)[0].text, text);
  EXPECT_EQ(c.Errors(0)[0].site, ErrorSite::kRequestHandler);
  Message exception = c.Take(MT::EXCEPTION, 0, 0);
  EXPECT_EQ(exception.error, text);
  EXPECT_FALSE(c.Logged(0, "Received error while processing request"));
  ASSERT_EQ(c.View(0).owner_rrefs.size(), 1u);
  EXPECT_EQ(c.View(0).owner_rrefs[0].payload, 10);
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 0)}}}));  // the self marker is untouched

  c.DeliverNext(MT::REMOTE_RET, 0, 0);  // finishCreatingOwnerRRef: delForkOfOwner(r, r)
  c.Deliver(exception);                 // ignored
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_TRUE(c.Errors(0).size() == 1u);
  c.Release(0, r);
  EXPECT_TRUE(c.View(0).owner_rrefs.empty());
}

// The same duplicate for a builtin/TorchScript remote() to self whose second run raises: assignOwnerRRef's
// continuation calls OwnerRRef::setError, which is Future::setErrorIfNeeded: on a completed future it only logs at
// INFO and the continuation goes on, so the second delivery is answered with REMOTE_RET too. When the first run had
// already stored an error, the log line quotes it as the original exception.
// Mirrors assignOwnerRRef -> OwnerRRef::setError -> Future::setErrorIfNeeded.
TEST(ControlTest, DuplicateSelfScriptRemoteCallSecondErrorIsOnlyLogged) {
  const std::string skipping =
      "Skipping setting following error on the Future since it is already marked completed (this is not "
      "necessarily an error):\n";
  for (bool first_raises : {false, true}) {
    SCOPED_TRACE(first_raises ? "first run raised" : "first run returned");
    Cluster c(1);
    int runs = 0;
    c.Define("op", [&runs, first_raises](Cluster&, WorkerId, RunFunction&) {
      ++runs;
      if (runs == 1 && !first_raises) return Returns(10);
      return FunctionResult{FunctionResult::Kind::kRaised, {}, "RuntimeError: boom " + std::to_string(runs), {}};
    });
    Handle r = c.Remote(0, 0, "op", {}, std::nullopt, CallKind::kScript, "int");
    Message call = c.Take(MT::SCRIPT_REMOTE_CALL, 0, 0);
    c.Deliver(call);
    c.Deliver(call);
    EXPECT_EQ(runs, 2);
    EXPECT_TRUE(c.Errors(0).empty());
    std::string expected = skipping + "RuntimeError: boom 2";
    if (first_raises) expected += ", \nOriginal exception:\nRuntimeError: boom 1";
    std::vector<Log> logs = EventsOf<Log>(c, 0);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].level, LogLevel::kInfo);
    EXPECT_EQ(logs[0].text, expected);
    EXPECT_FALSE(c.Has(MT::EXCEPTION));
    ASSERT_EQ(c.Count(MT::REMOTE_RET), 2u);  // both deliveries answer REMOTE_RET
    ContextView v = c.View(0);
    ASSERT_EQ(v.owner_rrefs.size(), 1u);
    EXPECT_TRUE(v.owner_rrefs[0].value_set);
    if (first_raises) {
      EXPECT_EQ(v.owner_rrefs[0].error, std::optional<std::string>("RuntimeError: boom 1"));
    } else {
      EXPECT_EQ(v.owner_rrefs[0].error, std::nullopt);
      EXPECT_EQ(v.owner_rrefs[0].payload, 10);  // the first value stays
    }
    c.DeliverNext(MT::REMOTE_RET, 0, 0);  // finishCreatingOwnerRRef: delForkOfOwner(r, r)
    c.DeliverNext(MT::REMOTE_RET, 0, 0);  // the same request id: no future waits for it any more
    EXPECT_TRUE(c.Logged(0, "no request is waiting for it"));
    EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
    EXPECT_TRUE(c.Errors(0).empty());
    c.Release(0, r);
    EXPECT_TRUE(c.View(0).owner_rrefs.empty());
  }
}

// A Python UDF's exception is the OwnerRRef's *value* (a RemoteException object, runPythonFunction's asFuture(...,
// PyObjectType)), so a duplicate self PYTHON_REMOTE_CALL whose second run raises calls setValue on a completed
// future: the "complete again" error, as an errored response future (raw EXCEPTION text).
TEST(ControlTest, DuplicateSelfPythonRemoteCallSecondRaiseIsSetValue) {
  Cluster c(1);
  int runs = 0;
  c.Define("udf", [&runs](Cluster&, WorkerId, RunFunction&) {
    return ++runs == 1 ? Returns(10)
                       : FunctionResult{FunctionResult::Kind::kRaised, {}, "ValueError: second", {}};
  });
  Handle r = c.Remote(0, 0, "udf");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 0);
  c.Deliver(call);
  c.Deliver(call);
  const std::string text =
      "Attempting to mark a completed Future as complete again. Note that a Future can only be marked completed "
      "once.";
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_EQ(c.Errors(0)[0].text, text);
  EXPECT_FALSE(c.Logged(0, "Skipping setting following error"));
  EXPECT_EQ(c.Take(MT::EXCEPTION, 0, 0).error, text);
  EXPECT_EQ(c.View(0).owner_rrefs.at(0).payload, 10);
  c.DeliverAll();
  c.Release(0, r);
}

// The duplicate self REMOTE_CALL after the REMOTE_RET: the owner left owners_, so getOwnerRRef(forceCreated)
// asserts (A11, the shape of issue #73294) after the function ran a second time.
// Mirrors assignOwnerRRef -> RRefContext::getOwnerRRef(forceCreated=true).
TEST(ControlTest, DuplicateSelfRemoteCallAfterRemoteRetHitsA11) {
  Cluster c(1);
  int runs = 0;
  c.Define("make", [&runs](Cluster&, WorkerId, RunFunction&) { return Returns(10 * ++runs); });
  Handle r = c.Remote(0, 0, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 0);
  c.Deliver(call);
  c.DeliverNext(MT::REMOTE_RET, 0, 0);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.Deliver(call);
  EXPECT_EQ(runs, 2);
  const std::string text = "Expected OwnerRRef with id " + Gid(0, 0) + " to be created.";
  ASSERT_EQ(c.Errors(0).size(), 1u);
  EXPECT_EQ(c.Errors(0)[0].code, "A11");
  EXPECT_EQ(c.Errors(0)[0].text, text);
  EXPECT_EQ(c.Take(MT::EXCEPTION, 0, 0).error, "Error on Node 0: " + text);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.Release(0, r);
}

// ------------------------------------------------------------------------------------------------------------
// Calls carrying forks, delivered twice (not retried, not idempotent).
// ------------------------------------------------------------------------------------------------------------

// P2: an rpc carrying an owner-forked RRef (S5) is unpickled twice: two live UserRRefs share one ForkId that the
// owner registered once. The first delete removes the only registered fork and the owner frees the OwnerRRef
// while the second copy is alive (I1, I2); its to_here then waits in pendingOwners_ forever (I11).
// Mirrors prepareChildFork (early registration), notifyOwnerAndParentOfFork (addConfirmedUser), delForkOfOwner and
// getOwnerRRef (pendingOwners_).
TEST(ControlTest, DuplicateRpcCarryingOwnerForkedRRefP2) {
  Cluster c(2);
  std::map<WorkerId, std::vector<Handle>> kept;
  c.Define("keep", Keeper(kept));
  Handle h = c.worker(1).CreateLocal(Val(5), "PyObject");
  FutureId call = c.Rpc(1, 0, "keep", Val(0, {h}));
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(1, 0), {Id(1, 1)}}}));
  EXPECT_EQ(c.Debug(1), Counters(1, 1, 0, 0));
  c.Release(1, h);  // owners_ keeps it

  Message m = c.Take(MT::PYTHON_CALL, 1, 0);
  c.Deliver(m);
  c.Deliver(m);
  ASSERT_EQ(kept[0].size(), 2u);
  ContextView user = c.View(0);
  ASSERT_EQ(user.users.size(), 2u);
  EXPECT_EQ(user.users[0].fork_id, Id(1, 1));
  EXPECT_EQ(user.users[1].fork_id, Id(1, 1));
  EXPECT_EQ(user.confirmed_users, std::vector<ForkId>{Id(1, 1)});  // one weak entry for two instances
  EXPECT_FALSE(c.Has(MT::RREF_FORK_REQUEST));                     // owner -> user: nothing is sent
  c.DeliverNext(MT::PYTHON_RET, 0, 1);
  EXPECT_EQ(OutcomeOf(c, 1, call), "<ok>");
  c.DeliverNext(MT::PYTHON_RET, 0, 1);  // the duplicate's reply is ignored
  EXPECT_TRUE(c.Logged(1, "no request is waiting for it"));

  c.Release(0, kept[0][0]);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(EventsOf<OwnerRRefFreed>(c, 1).size(), 1u);  // premature: the second copy still lives
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
  user = c.View(0);
  ASSERT_EQ(user.users.size(), 1u);
  EXPECT_FALSE(user.users[0].deleted_on_owner);
  EXPECT_TRUE(user.confirmed_users.empty());  // delUser erased the shared entry: shutdown would not find it

  FutureId value = c.ToHere(0, kept[0][1]);
  c.DeliverAll();
  EXPECT_EQ(c.View(1).pending_owners, (std::map<RRefId, std::int64_t>{{Id(1, 0), 1}}));
  EXPECT_FALSE(c.Result(0, value).has_value());

  c.Release(0, kept[0][1]);
  c.DeliverNext(MT::RREF_USER_DELETE, 0, 1);
  EXPECT_EQ(LastLog(c, 1), "Could not find OwnerRRef with RRefId = " + Gid(1, 0) +
                                  ", likely because it was deleted by a previously retried message");
}

// P3: an rpc carrying a user-forked RRef (S3) is unpickled twice while the first child is pending. The second
// unpickling sends its FORK_REQUEST before addPendingUser asserts (A6); the failed request's UserRRef is then freed
// and sends a USER_DELETE for the ForkId the first child still uses. The EXCEPTION answers the caller's rpc first.
// Mirrors notifyOwnerAndParentOfFork, which attaches the FORK_REQUEST callback only after addPendingUser: the second
// FORK_REQUEST's ACK runs no callback (no finishForkRequest, no A7, no second CHILD_ACCEPT) and its
// numPendingFutures_ increment is never undone.
TEST(ControlTest, DuplicateRpcCarryingUserForkedRRefWhilePendingP3) {
  Cluster c(3);
  c.Define("make", Make);
  int runs = 0;
  c.Define("check", [&runs](Cluster&, WorkerId, RunFunction&) { return Returns(++runs); });
  Handle a = Created(c, 0, 1);
  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 2);
  c.Deliver(m);
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 1));
  c.Deliver(m);

  const std::string a6 = "Inconsistent states: attempt to add the same UserRRef twice.";
  ASSERT_EQ(c.Errors(2).size(), 1u);
  EXPECT_EQ(c.Errors(2)[0].code, "A6");
  EXPECT_EQ(c.Errors(2)[0].text, a6);
  EXPECT_EQ(c.Errors(2)[0].site, ErrorSite::kRequestHandler);
  EXPECT_EQ(c.Count(MT::RREF_FORK_REQUEST), 2u);  // the second FORK_REQUEST already went out
  EXPECT_TRUE(c.Has(MT::RREF_USER_DELETE, 2, 1));  // from the second, failed UserRRef
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 1, 3));
  EXPECT_EQ(c.View(2).users.size(), 1u);
  EXPECT_EQ(c.View(2).gated_requests, 1);
  EXPECT_EQ(runs, 0);

  Message exception = c.Take(MT::EXCEPTION, 2, 0);
  EXPECT_EQ(exception.id, m.id);
  EXPECT_EQ(exception.error, "Error on Node 2: " + a6);
  c.Deliver(exception);  // the caller's rpc fails although the first delivery will still run the function
  ASSERT_TRUE(c.Result(0, call).has_value());
  EXPECT_EQ(OutcomeOf(c, 0, call), "Error on Node 2: " + a6);

  // The owner: both FORK_REQUESTs, then the failed copy's USER_DELETE removes the fork the first child still uses.
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_TRUE(c.Logged(1, "Ignoring duplicate request to add Fork of OwnerRRef with RRefId = " + Gid(0, 0) +
                              ", ForkId = " + Gid(0, 2)));
  c.DeliverNext(MT::RREF_USER_DELETE, 2, 1);
  EXPECT_EQ(c.View(1).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));

  c.DeliverNext(MT::RREF_ACK, 1, 2);  // first ACK: the first child is confirmed, the function runs
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(c.Has(MT::RREF_CHILD_ACCEPT, 2, 0));
  c.DeliverNext(MT::RREF_ACK, 1, 2);  // second ACK: its future has no callback
  EXPECT_EQ(c.Errors(2).size(), 1u);  // A6 only: delPendingUser does not run a second time
  EXPECT_FALSE(c.Logged(2, "Exception in thread pool task"));
  EXPECT_EQ(c.Count(MT::RREF_CHILD_ACCEPT), 1u);  // no second CHILD_ACCEPT

  c.DeliverAll();
  EXPECT_EQ(c.Debug(2), Counters(0, 0, 0, 1));  // the second FORK_REQUEST's future is never counted down
  EXPECT_EQ(c.View(2).client_active_calls, 0);  // the agent itself completed every call
  EXPECT_TRUE(c.View(0).pending_children.empty());
}

// A duplicate of the same rpc after the first child was confirmed: no assertion, but a second UserRRef with the
// same ForkId, a second FORK_REQUEST (a logged duplicate at the owner), the function runs twice, and a second
// CHILD_ACCEPT (a logged duplicate at the parent).
// Mirrors notifyOwnerAndParentOfFork, addForkOfOwnerIfNotPresent, finishForkRequest and delPendingChild.
TEST(ControlTest, DuplicateRpcCarryingUserForkedRRefAfterConfirmation) {
  Cluster c(3);
  c.Define("make", Make);
  int runs = 0;
  c.Define("check", [&runs](Cluster&, WorkerId, RunFunction&) { return Returns(++runs); });
  Handle a = Created(c, 0, 1);
  c.Rpc(0, 2, "check", Val(0, {a}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 2);
  c.Deliver(m);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  EXPECT_EQ(runs, 1);
  Message first_delete = c.Take(MT::RREF_USER_DELETE, 2, 1);  // the first child, freed by its function

  c.Deliver(m);
  EXPECT_TRUE(c.Errors(2).empty());
  EXPECT_EQ(c.View(2).pending_users, std::vector<ForkId>{Id(0, 2)});
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  EXPECT_EQ(LastLog(c, 1), "Ignoring duplicate request to add Fork of OwnerRRef with RRefId = " + Gid(0, 0) +
                                  ", ForkId = " + Gid(0, 2));
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  EXPECT_EQ(runs, 2);  // the user function ran twice
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 2, 0);
  c.DeliverNext(MT::RREF_CHILD_ACCEPT, 2, 0);
  EXPECT_EQ(LastLog(c, 0), "Ignoring duplicate request to delete child UserRRef with ForkId = " + Gid(0, 2));
  c.Deliver(first_delete);
  c.Release(0, a);
  c.DeliverAll();  // the second USER_DELETE of fork (0,2) is a logged no-op
  EXPECT_TRUE(c.Logged(1, "Could not find"));
  EXPECT_TRUE(c.Errors(2).empty());
  for (WorkerId w = 0; w < 3; ++w) EXPECT_EQ(c.Debug(w), Counters(0, 0, 0, 0)) << "worker " << w;
}

// S6 duplicated while the RRef has another fork: the second unpickling finds the same OwnerRRef in owners_, and
// delForkOfOwner is a logged no-op.
// Mirrors notifyOwnerAndParentOfFork's owner-to-self branch -> delForkOfOwner.
TEST(ControlTest, OwnerToSelfDuplicateIsLoggedNoOp) {
  Cluster c(2);
  std::map<WorkerId, std::vector<Handle>> kept;
  c.Define("keep", Keeper(kept));
  int runs = 0;
  c.Define("peek", [&runs](Cluster&, WorkerId, RunFunction&) { return Returns(++runs); });
  Handle h = c.worker(0).CreateLocal(Val(3), "PyObject");
  c.Rpc(0, 1, "keep", Val(0, {h}));  // fork (0,1) to worker 1 keeps forks_[r] non-empty
  c.DeliverAll();
  c.Rpc(0, 0, "peek", Val(0, {h}));  // owner -> self: fork (0,2) registered at pickling
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 1), Id(0, 2)}}}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 0);
  c.Deliver(m);
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  c.Deliver(m);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(LastLog(c, 0), "Could not find UserRRef instance, RRefId = " + Gid(0, 0) + ", ForkId = " +
                                  Gid(0, 2) + ", likely because it was deleted by a previously retried message");
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 1)}}}));
  EXPECT_EQ(c.View(0).owner_rrefs.size(), 1u);  // both runs got the same OwnerRRef
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
}

// S6 duplicated when the fork was the only one: the first unpickling erased owners_[r], so the second one's
// getOrCreateOwnerRRef creates a second, empty OwnerRRef with the same RRefId (its value is never set) and then
// delForkOfOwner logs "Could not find OwnerRRef". The empty owner is an unforked owner until shutdown removes it.
// Mirrors getOrCreateOwnerRRef (scenario 1, a new OwnerRRef) and delForkOfOwner.
TEST(ControlTest, OwnerToSelfDuplicateAfterLastForkCreatesEmptyOwner) {
  Cluster c(1);
  c.Define("peek", [](Cluster&, WorkerId, RunFunction&) { return Returns(0); });
  Handle h = c.worker(0).CreateLocal(Val(3), "PyObject");
  c.Rpc(0, 0, "peek", Val(0, {h}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 0);
  c.Deliver(m);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.Deliver(m);
  EXPECT_EQ(LastLog(c, 0), "Could not find OwnerRRef with RRefId = " + Gid(0, 0) +
                                  ", likely because it was deleted by a previously retried message");
  ContextView v = c.View(0);
  EXPECT_EQ(v.owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_TRUE(v.forks.empty());
  ASSERT_EQ(v.owner_rrefs.size(), 2u);
  EXPECT_EQ(v.owner_rrefs[0].handle, h);
  EXPECT_TRUE(v.owner_rrefs[0].value_set);
  EXPECT_EQ(v.owner_rrefs[1].rref_id, Id(0, 0));
  EXPECT_FALSE(v.owner_rrefs[1].value_set);
  EXPECT_EQ(c.Debug(0), Counters(1, 0, 0, 0));
  c.DeleteAllUsers(0);
  EXPECT_TRUE(c.Logged(0, "Removing unforked OwnerRRef with RRefId: " + Gid(0, 0)));
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  EXPECT_EQ(c.View(0).owner_rrefs.size(), 1u);
  c.Release(0, h);
}


}  // namespace
}  // namespace rrefsim::core::testing
