// The assertions of rref-protocol.md §6 (A1-A23), each triggered through the public API and message deliveries
// (never by calling internals), with PyTorch's exact text and the place where it surfaces:
// - a request handler: an EXCEPTION reply "Error on Node <id>: <text>" (+ the log line of RequestCallback);
// - a completion callback on a pool thread: logged "Exception in thread pool task: <text>", rest skipped;
// - the retry thread: std::terminate (WorkerAborted);
// - the application: the call returns the error.
// Assertions that no input can reach say why in a comment where their test would be.
// Some paths need a hand-made ("forged") message; PyTorch could only see them from a buggy or duplicating
// transport or colliding ids, and each test says so.
#include <gtest/gtest.h>

#include "harness.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;

FunctionResult Make(Cluster&, WorkerId, RunFunction&) { return Returns(7); }
FunctionResult Check(Cluster&, WorkerId, RunFunction&) { return Returns(0); }

Handle Created(Cluster& c, WorkerId from, WorkerId to, const std::string& type = "PyObject") {
  Handle a = c.Remote(from, to, "make", {}, std::nullopt, CallKind::kPython, type);
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, from, to);
  c.DeliverNext(MT::REMOTE_RET, to, from);
  return a;
}

// The single ProtocolError of a worker, checked field by field.
void ExpectOnlyError(const Cluster& c, WorkerId id, const std::string& code, const std::string& text,
                     ErrorSite site) {
  std::vector<ProtocolError> errors = c.Errors(id);
  ASSERT_EQ(errors.size(), 1u) << "worker " << id;
  EXPECT_EQ(errors[0].code, code);
  EXPECT_EQ(errors[0].text, text);
  EXPECT_EQ(errors[0].site, site);
}

// An application call that may fail: rpc_async with RRefs in the arguments.
Expected<FutureId> TryRpc(Cluster& c, WorkerId from, WorkerId to, Value args) {
  Output out;
  Expected<FutureId> r =
      c.worker(from).RpcAsync(CallSpec{to, "check", std::move(args), CallKind::kPython, "PyObject", std::nullopt},
                              c.now(), out);
  c.Absorb(from, out);
  return r;
}

const std::string kTimedOutText =
    "RRef creation via rpc.remote() timed out, and it is possible that the RRef on the owner node does not exist.";

// A1: addForkOfOwner in assignOwnerRRef, reached by a duplicated REMOTE_CALL from another worker (P4).
// (The other caller, prepareChildFork's early registration, always registers a fresh ForkId.)
TEST(AssertionsTest, A1DuplicateRemoteCall) {
  Cluster c(2);
  c.Define("make", Make);
  c.Remote(0, 1, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.Deliver(call);
  c.Deliver(call);
  const std::string text = "Got fork notification twice on the same RRef " + Gid(0, 1);
  ExpectOnlyError(c, 1, "A1", text, ErrorSite::kRequestHandler);
  EXPECT_EQ(LastLog(c, 1), "Received error while processing request type 261: " + text);
  EXPECT_EQ(c.Take(MT::EXCEPTION, 1, 0).error, "Error on Node 1: " + text);
}

// A2: addSelfAsFork when forks_[r] already holds r. A fresh RRefId cannot be in forks_ unless a FORK_REQUEST named
// it before it was generated: only a forged message does that. PyTorch raises to the caller of rpc.remote (the
// assert is in addSelfAsFork, before the REMOTE_CALL is sent), leaving the OwnerRRef in owners_.
TEST(AssertionsTest, A2SelfForkTwiceViaForgedForkRequest) {
  Cluster c(2);
  c.Define("make", Make);
  Message forged;
  forged.type = MT::RREF_FORK_REQUEST;
  forged.id = 500;
  forged.from = 1;
  forged.to = 0;
  forged.rref_id = Id(0, 0);  // the next id worker 0 will generate
  forged.fork_id = Id(0, 0);
  c.Deliver(forged);
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 0)}}}));
  c.DeliverNext(MT::RREF_ACK, 0, 1);

  Expected<Handle> r = c.TryRemote(0, CallSpec{0, "make", {}, CallKind::kPython, "PyObject", std::nullopt});
  const std::string text = "Attempt to add self as fork twice " + Gid(0, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, text);
  ExpectOnlyError(c, 0, "A2", text, ErrorSite::kCaller);
  EXPECT_TRUE(c.inflight().empty());  // no REMOTE_CALL went out
  EXPECT_EQ(c.View(0).owners, std::vector<RRefId>{Id(0, 0)});
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
}

// A3 (addPendingChild on an OwnerRRef): unreachable. prepareChildFork calls addPendingChild only in its
// `!rref->isOwner()` branch.
// A4 (the same child ForkId pending twice): unreachable. prepareChildFork generates a fresh ForkId from the
// worker's own counter every time.
// A5 (addPendingUser with an OwnerRRef): unreachable. notifyOwnerAndParentOfFork calls addPendingUser only for a
// UserRRef child, and remote() only for the UserRRef it just created.

// A6: addPendingUser, a duplicated rpc carrying a user-forked RRef while the first child is pending (P3).
TEST(AssertionsTest, A6SameUserRRefPendingTwice) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  FutureId call = c.Rpc(0, 2, "check", Val(0, {a}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 2);
  c.Deliver(m);
  c.Deliver(m);
  const std::string text = "Inconsistent states: attempt to add the same UserRRef twice.";
  ExpectOnlyError(c, 2, "A6", text, ErrorSite::kRequestHandler);
  EXPECT_EQ(LastLog(c, 2), "Received error while processing request type 258: " + text);
  EXPECT_EQ(c.Count(MT::RREF_FORK_REQUEST), 2u);  // sent before the assertion
  c.DeliverNext(MT::EXCEPTION, 2, 0);
  EXPECT_EQ(OutcomeOf(c, 0, call), "Error on Node 2: " + text);
}

// A6 in rpc.remote(): addPendingUser after the REMOTE_CALL was sent, for a ForkId a forged fork made pending
// first. PyTorch raises to the caller before attaching confirmPendingUser; the new UserRRef is freed at once
// (tryDel: USER_DELETE), and the REMOTE_RET later runs no callback.
TEST(AssertionsTest, A6InRemoteForCollidingForkId) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Message forged;
  forged.type = MT::PYTHON_CALL;
  forged.id = 900;
  forged.from = 2;
  forged.to = 0;
  forged.function = "check";
  forged.value.rrefs = {ForkData{1, Id(0, 0), Id(0, 1), 2, "PyObject"}};  // the ids worker 0 generates next
  c.Deliver(forged);
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_TRUE(c.Errors(0).empty());

  Expected<Handle> r = c.TryRemote(0, CallSpec{1, "make", {}, CallKind::kPython, "PyObject", std::nullopt});
  const std::string text = "Inconsistent states: attempt to add the same UserRRef twice.";
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, text);
  ExpectOnlyError(c, 0, "A6", text, ErrorSite::kCaller);
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);  // sent before the assertion
  EXPECT_EQ(call.fork_id, Id(0, 1));
  Message del = c.Take(MT::RREF_USER_DELETE, 0, 1);  // the failed remote()'s UserRRef, freed
  EXPECT_EQ(del.fork_id, Id(0, 1));
  EXPECT_EQ(c.View(0).users.size(), 1u);  // only the forged fork's UserRRef is left, still pending

  c.Deliver(call);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);  // no confirmPendingUser: the forged fork's user stays pending
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_EQ(c.Errors(0).size(), 1u);
  EXPECT_FALSE(c.Logged(0, "no request is waiting for it"));  // the agent had a future for it
  EXPECT_EQ(c.View(0).client_active_calls, 2);  // the two FORK_REQUEST/USER_DELETE attempts still out
}

// A7 (delPendingUser of a ForkId that is not pending) and A8 (getPendingUser in the remote() error callback, the
// pending user gone): unreachable. PyTorch attaches confirmPendingUser (pyRemote*) and the fork-request callback
// (notifyOwnerAndParentOfFork) only after addPendingUser(forkId) succeeded; addPendingUser of a ForkId that is
// already pending throws A6 first, so no second callback for it exists; and the agent completes each future once
// (a late or duplicated response finds no future and is dropped). So every delPendingUser/getPendingUser follows
// its own addPendingUser, which nothing else undoes. The next three tests drive the would-be triggers and check
// that neither assertion fires (§6.1: "if a simulator delivers it twice: A7 / A8").

// The second FORK_REQUEST of a duplicated user->user fork (P3) has no callback: its ACK does nothing.
TEST(AssertionsTest, A7NotReachedBySecondForkRequestAck) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  c.Rpc(0, 2, "check", Val(0, {a}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 2);
  c.Deliver(m);
  c.Deliver(m);  // A6
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 2, 1);
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  c.DeliverNext(MT::RREF_ACK, 1, 2);
  ExpectOnlyError(c, 2, "A6", "Inconsistent states: attempt to add the same UserRRef twice.",
                  ErrorSite::kRequestHandler);
  EXPECT_FALSE(c.Logged(2, "Exception in thread pool task"));
  // In flight: CHILD_ACCEPT and two USER_DELETEs; plus the second FORK_REQUEST, completed but never counted down.
  EXPECT_EQ(c.Debug(2).num_pending_futures, 4);
  c.DeliverAll();
  EXPECT_EQ(c.Debug(2).num_pending_futures, 1);
  EXPECT_EQ(c.Errors(2).size(), 1u);
}

// A REMOTE_RET that arrives after the remote() timed out (the timeout path already confirmed the user) is dropped
// by the agent, because its future was completed by the timeout: confirmPendingUser does not run twice.
TEST(AssertionsTest, A7NotReachedByLateRemoteRetAfterTimeout) {
  Cluster c(2);
  c.Define("make", Make);
  c.Remote(0, 1, "make", {}, 1 * kSecond);
  c.RunTimersUntil(1 * kSecond);
  EXPECT_TRUE(c.View(0).pending_users.empty());
  EXPECT_EQ(c.View(0).confirmed_users, std::vector<ForkId>{Id(0, 1)});
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  c.DeliverNext(MT::REMOTE_RET, 1, 0);
  EXPECT_TRUE(c.Errors(0).empty());
  EXPECT_TRUE(c.Logged(0, "no request is waiting for it"));
}

// A forged fork whose ForkId collides with a creator's pending user: A6, and its FORK_REQUEST's ACK runs no
// finishForkRequest, so it cannot confirm (remove) the creator's pending user; the remote() timeout then finds
// the user pending (no A8) and would let a REMOTE_RET find it too (no A7).
TEST(AssertionsTest, A8NotReachedByCollidingForkId) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = c.Remote(0, 1, "make", {}, 1 * kSecond);
  Message forged;
  forged.type = MT::PYTHON_CALL;
  forged.id = 900;
  forged.from = 2;
  forged.to = 0;
  forged.function = "check";
  forged.value.rrefs = {ForkData{1, Id(0, 0), Id(0, 1), 2, "PyObject"}};
  c.Deliver(forged);
  ExpectOnlyError(c, 0, "A6", "Inconsistent states: attempt to add the same UserRRef twice.",
                  ErrorSite::kRequestHandler);
  c.DeliverNext(MT::RREF_FORK_REQUEST, 0, 1);
  c.DeliverNext(MT::RREF_ACK, 1, 0);
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});  // still the creator's
  c.RunTimersUntil(1 * kSecond);  // the REMOTE_CALL is never delivered: confirmPendingUser's error branch
  EXPECT_EQ(c.Errors(0).size(), 1u);
  EXPECT_TRUE(c.View(0).pending_users.empty());
  bool found = false;
  for (const UserRRefView& u : c.View(0).users) {
    if (u.handle == a) found = u.timed_out;
  }
  EXPECT_TRUE(found);  // handleError ran on the creator's UserRRef
}

// A9: confirmPendingUser's bare TORCH_INTERNAL_ASSERT(rr->forkId() == expectedForkId): a malformed REMOTE_RET with
// the right message id and another ForkId. Pool callback: delPendingUser is skipped, the user stays pending and
// the agent's active-call count is never decremented. Without a message the assertion's text is its condition
// (PyTorch's build-dependent " at \"<file>\":<line>, please report a bug to PyTorch. " part is not modelled).
TEST(AssertionsTest, A9RemoteRetWithWrongForkId) {
  Cluster c(2);
  c.Define("make", Make);
  c.Remote(0, 1, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 1);
  Message ret;
  ret.type = MT::REMOTE_RET;
  ret.id = call.id;
  ret.from = 1;
  ret.to = 0;
  ret.rref_id = Id(0, 0);
  ret.fork_id = Id(0, 7);
  c.Deliver(ret);
  const std::string text = "rr->forkId() == expectedForkId INTERNAL ASSERT FAILED";
  ExpectOnlyError(c, 0, "A9", text, ErrorSite::kPoolCallback);
  EXPECT_EQ(LastLog(c, 0), "Exception in thread pool task: " + text);
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_EQ(c.View(0).client_active_calls, 1);
  EXPECT_TRUE(c.View(0).requests.empty());
}

// A10: finishCreatingOwnerRRef, a REMOTE_RET to a remote() to self whose rrefId and forkId differ (malformed).
TEST(AssertionsTest, A10SelfRemoteRetThatIsAFork) {
  Cluster c(1);
  c.Define("make", Make);
  c.Remote(0, 0, "make");
  Message call = c.Take(MT::PYTHON_REMOTE_CALL, 0, 0);
  Message ret;
  ret.type = MT::REMOTE_RET;
  ret.id = call.id;
  ret.from = 0;
  ret.to = 0;
  ret.rref_id = Id(0, 0);
  ret.fork_id = Id(0, 5);
  c.Deliver(ret);
  const std::string text = "Expecting an OwnerRRef as RemoteRet but got a fork.";
  ExpectOnlyError(c, 0, "A10", text, ErrorSite::kPoolCallback);
  EXPECT_EQ(LastLog(c, 0), "Exception in thread pool task: " + text);
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 0)}}}));  // the self marker is never removed
  EXPECT_EQ(c.Debug(0), Counters(1, 1, 0, 0));
}

// A11 on the request path (P11, issue #73294): the remote() to self timed out first, so finishCreatingOwnerRRef
// removed the self fork and the owner; the late REMOTE_CALL runs the function, then getOwnerRRef(forceCreated)
// asserts -> EXCEPTION reply (to an already-failed future).
TEST(AssertionsTest, A11SelfRemoteCallAfterTimeout) {
  Cluster c(1);
  int runs = 0;
  c.Define("make", [&runs](Cluster&, WorkerId, RunFunction&) { return Returns(++runs); });
  Handle r = c.Remote(0, 0, "make", {}, 1 * kSecond);
  c.RunTimersUntil(1 * kSecond);
  EXPECT_EQ(c.Debug(0), Counters(0, 0, 0, 0));
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 0);
  EXPECT_EQ(runs, 1);
  const std::string text = "Expected OwnerRRef with id " + Gid(0, 0) + " to be created.";
  ExpectOnlyError(c, 0, "A11", text, ErrorSite::kRequestHandler);
  EXPECT_EQ(LastLog(c, 0), "Received error while processing request type 261: " + text);
  EXPECT_EQ(c.Take(MT::EXCEPTION, 0, 0).error, "Error on Node 0: " + text);
  // The OwnerRRef the application holds was flagged timed out and never got a value.
  ASSERT_EQ(c.View(0).owner_rrefs.size(), 1u);
  EXPECT_TRUE(c.View(0).owner_rrefs[0].timed_out);
  EXPECT_FALSE(c.View(0).owner_rrefs[0].value_set);
  EXPECT_FALSE(c.TryToHere(0, r).ok());
}

// A11 on the callback path: the remote() to self fails (times out) after a non-graceful destroyInstance cleared
// owners_; finishCreatingOwnerRRef's error branch cannot find the owner. Pool callback.
TEST(AssertionsTest, A11SelfRemoteErrorAfterOwnersCleared) {
  Cluster c(1);
  c.Define("make", Make);
  c.Remote(0, 0, "make", {}, 1 * kSecond);
  Output out;
  EXPECT_TRUE(c.worker(0).DestroyContext(true, out).ok());  // leak of the self marker ignored; owners_ cleared
  c.Absorb(0, out);
  c.RunTimersUntil(1 * kSecond);
  const std::string text = "Expected OwnerRRef with id " + Gid(0, 0) + " to be created.";
  ExpectOnlyError(c, 0, "A11", text, ErrorSite::kPoolCallback);
  EXPECT_EQ(LastLog(c, 0), "Exception in thread pool task: " + text);
  EXPECT_EQ(c.View(0).forks, (Forks{{Id(0, 0), {Id(0, 0)}}}));
}

// A12 (delForkOfOwner in notifyOwnerAndParentOfFork erased an OwnerRRef of another id): unreachable. The owner it
// erases is owners_[rrefId] of the same rrefId it was called with, so the ids always match.

// A13: getOrCreateOwnerRRef on an existing owner, tensor rule: a fork typed Tensor for an OwnerRRef of type int.
// Every honest fork carries the creator's type, so the message is forged (the type field of a real S4 rpc edited).
// The request fails, the owner never sends CHILD_ACCEPT and the parent stays pinned.
TEST(AssertionsTest, A13TensorForkOfNonTensorOwner) {
  Cluster c(2);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1, "int");
  FutureId call = c.Rpc(0, 1, "check", Val(0, {a}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 1);
  ASSERT_EQ(m.value.rrefs.size(), 1u);
  EXPECT_EQ(m.value.rrefs[0].type_str, "int");
  m.value.rrefs[0].type_str = "Tensor";
  c.Deliver(m);
  const std::string text = "Expect OwnerRRef to be a sub-type of TensorType, but got int";
  ExpectOnlyError(c, 1, "A13", text, ErrorSite::kRequestHandler);
  EXPECT_FALSE(c.Has(MT::RREF_CHILD_ACCEPT));
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(OutcomeOf(c, 0, call), "Error on Node 1: " + text);
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));
}

// The tensor rule only asks for a subtype: a refined tensor owner accepts a plain Tensor fork.
TEST(AssertionsTest, A13TensorSubtypeIsAccepted) {
  Cluster c(2);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1, "Tensor(float)");
  FutureId call = c.Rpc(0, 1, "check", Val(0, {a}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 1);
  m.value.rrefs[0].type_str = "Tensor";
  c.Deliver(m);
  EXPECT_TRUE(c.Errors(1).empty());
  c.DeliverAll();
  EXPECT_EQ(OutcomeOf(c, 0, call), "<ok>");
}

// A14: getOrCreateOwnerRRef on an existing owner, exact rule: OwnerRRef int, fork PyObject (forged as for A13).
TEST(AssertionsTest, A14ForkTypeDiffersFromOwner) {
  Cluster c(2);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1, "int");
  FutureId call = c.Rpc(0, 1, "check", Val(0, {a}));
  Message m = c.Take(MT::PYTHON_CALL, 0, 1);
  m.value.rrefs[0].type_str = "PyObject";
  c.Deliver(m);
  const std::string text = "OwnerRRef type is int, expected type is PyObject";
  ExpectOnlyError(c, 1, "A14", text, ErrorSite::kRequestHandler);
  EXPECT_EQ(LastLog(c, 1), "Received error while processing request type 258: " + text);
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(OutcomeOf(c, 0, call), "Error on Node 1: " + text);
}

// A15 (recordThreadLocalPendingRRefs with a non-empty thread-local table): not applicable. A sans-IO core has no
// threads; the pending users of one request are tracked per request (its gate), not in a thread-local table.

// A16 (createUserRRef with ownerId == self): unreachable. remote() creates a UserRRef only when the destination is
// another worker, and unpickling calls createUserRRef only when the fork's owner is not this worker (otherwise
// getOrCreateOwnerRRef).

// A17: a remote() that timed out: to_here, forking it into an rpc and into a remote() all raise to the caller.
TEST(AssertionsTest, A17UseOfTimedOutRRef) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = c.Remote(0, 1, "make", {}, 1 * kSecond);
  c.RunTimersUntil(1 * kSecond);
  ASSERT_EQ(c.View(0).users.size(), 1u);
  EXPECT_TRUE(c.View(0).users[0].timed_out);
  EXPECT_TRUE(c.inflight().size() == 1u);  // only the undelivered REMOTE_CALL

  Expected<FutureId> to_here = c.TryToHere(0, a);
  EXPECT_EQ(to_here.error, kTimedOutText);
  Expected<FutureId> rpc = TryRpc(c, 0, 1, Val(0, {a}));
  EXPECT_EQ(rpc.error, kTimedOutText);
  Expected<Handle> remote =
      c.TryRemote(0, CallSpec{1, "make", Val(0, {a}), CallKind::kPython, "PyObject", std::nullopt});
  EXPECT_EQ(remote.error, kTimedOutText);
  std::vector<ProtocolError> errors = c.Errors(0);
  ASSERT_EQ(errors.size(), 3u);
  for (const ProtocolError& e : errors) {
    EXPECT_EQ(e.code, "A17");
    EXPECT_EQ(e.text, kTimedOutText);
    EXPECT_EQ(e.site, ErrorSite::kCaller);
  }
  EXPECT_EQ(c.inflight().size(), 1u);  // nothing was sent
  EXPECT_TRUE(c.View(0).pending_children.empty());
}

// A17 on the owner: OwnerRRef::getValue of a remote() to self that timed out.
TEST(AssertionsTest, A17LocalValueOfTimedOutSelfRemote) {
  Cluster c(1);
  c.Define("make", Make);
  Handle r = c.Remote(0, 0, "make", {}, 1 * kSecond);
  c.RunTimersUntil(1 * kSecond);
  Expected<FutureId> value = c.TryToHere(0, r);
  EXPECT_EQ(value.error, kTimedOutText);
  ExpectOnlyError(c, 0, "A17", kTimedOutText, ErrorSite::kCaller);
}

// A18: a UserRRef deleted by graceful shutdown (tryDel) can be neither fetched nor forked.
// Mirrors UserRRef::toHere and UserRRef::fork (deletedOnOwner_).
TEST(AssertionsTest, A18UseAfterDeletion) {
  Cluster c(2);
  c.Define("make", Make);
  Handle a = Created(c, 0, 1);
  c.DeleteAllUsers(0);
  const std::string name = "UserRRef(rref_id=" + Gid(0, 0) + ", fork_id=" + Gid(0, 1) + ")";
  EXPECT_EQ(c.TryToHere(0, a).error, name + " has been deleted. Cannot call to_here() on it after deletion.");
  EXPECT_EQ(TryRpc(c, 0, 1, Val(0, {a})).error,
            name + " has been deleted. Cannot call fork an UserRRef after deletion.");
  std::vector<ProtocolError> errors = c.Errors(0);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code, "A18");
  EXPECT_EQ(errors[1].code, "A18");
  EXPECT_EQ(errors[1].site, ErrorSite::kCaller);
}

// A19: checkRRefLeaks in destroyInstance(ignoreRRefLeak=false): one line per leaked fork, returned to the caller.
TEST(AssertionsTest, A19LeakCheck) {
  Cluster c(3);
  c.Define("make", Make);
  Created(c, 0, 1);
  Created(c, 2, 1);
  Output out;
  Expected<bool> r = c.worker(1).DestroyContext(false, out);
  c.Absorb(1, out);
  const std::string lines = "Leaking RRef " + Gid(0, 0) + " with fork Id " + Gid(0, 1) + "\n" + "Leaking RRef " +
                            Gid(2, 0) + " with fork Id " + Gid(2, 1) + "\n";
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, lines);
  ExpectOnlyError(c, 1, "A19", lines, ErrorSite::kCaller);
  EXPECT_TRUE(c.Logged(1, "Detected RRef Leaks during shutdown."));
}

// A20 (delAllUsersAndUnforkedOwners: the owner vanished between the scan and the erase): not applicable. It needs
// another thread to erase the owner while the lock is released; a Worker is single-threaded and step 2c scans and
// erases within one input.

// A21 (message decoding: wrong arity or type): not applicable until a wire codec exists. Messages are C++ structs;
// the one decoding failure modelled is a TensorPipe retry with an empty payload ("Unexpected end of pickler
// archive.", no §6 code), covered by the agent tests.

// A22: processRpc's default branch. Every request type of the MessageType enum has a handler, but a Message may
// carry any 16-bit code; RREF_BACKWARD_REQ (0x117 = 279, a PyTorch request type the core does not model) is one.
TEST(AssertionsTest, A22UnsupportedRequestType) {
  Cluster c(2);
  Message m;
  m.type = static_cast<MessageType>(0x117);
  ASSERT_TRUE(IsRequest(m.type));
  m.id = 42;
  m.from = 0;
  m.to = 1;
  m.rref_id = Id(0, 0);
  c.Deliver(m);
  const std::string text = "Request type 279 not supported.";
  ExpectOnlyError(c, 1, "A22", text, ErrorSite::kRequestHandler);
  EXPECT_EQ(LastLog(c, 1), "Received error while processing request type 279: " + text);
  Message reply = c.Take(MT::EXCEPTION, 1, 0);
  EXPECT_EQ(reply.id, 42);
  EXPECT_EQ(reply.error, "Error on Node 1: " + text);
  EXPECT_EQ(c.Debug(1), Counters(0, 0, 0, 0));
}

// A23 in confirmPendingUser: the remote() fails with an EXCEPTION reply (UNKNOWN_ERROR); handleException rethrows
// in the pool callback before delPendingUser (P5): the UserRRef stays pending forever and a to_here hangs in the
// owner's pendingOwners_.
TEST(AssertionsTest, A23RemoteFailsWithUnknownError) {
  Cluster c(2);
  Handle a = c.Remote(0, 1, "nope");  // no such function on worker 1: the request fails, no OwnerRRef
  c.DeliverNext(MT::PYTHON_REMOTE_CALL, 0, 1);
  EXPECT_TRUE(c.View(1).owners.empty());
  c.DeliverNext(MT::EXCEPTION, 1, 0);
  const std::string error = "Error on Node 1: unknown function nope";
  ExpectOnlyError(c, 0, "A23", error, ErrorSite::kPoolCallback);
  EXPECT_EQ(LastLog(c, 0), "Exception in thread pool task: " + error);
  EXPECT_EQ(c.View(0).pending_users, std::vector<ForkId>{Id(0, 1)});
  EXPECT_EQ(c.View(0).client_active_calls, 1);
  FutureId value = c.ToHere(0, a);
  c.DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  EXPECT_EQ(c.View(1).pending_owners, (std::map<RRefId, std::int64_t>{{Id(0, 0), 1}}));
  EXPECT_FALSE(c.Result(0, value).has_value());
  c.Release(0, a);
  EXPECT_FALSE(c.Has(MT::RREF_USER_DELETE));
}

// A23 in the FORK_REQUEST callback (P6 + §9.3): every attempt of the child's FORK_REQUEST fails at the sender
// (FaultyTensorPipeAgent); after the 6th the final error is thrown on the retry thread: std::terminate.
TEST(AssertionsTest, A23ForkRequestRetriesExhaustedTerminates) {
  Cluster c(3);
  c.Define("make", Make);
  c.Define("check", Check);
  Handle a = Created(c, 0, 1);
  c.FailSends([](const Message& m) -> std::optional<std::string> {
    if (m.type != MT::RREF_FORK_REQUEST) return std::nullopt;
    return "RPCErr:2:Send attempt failed intentionally for " + Describe(m);
  });
  c.Rpc(0, 2, "check", Val(0, {a}), /*timeout=*/0);
  c.DeliverNext(MT::PYTHON_CALL, 0, 2);
  c.RunTimersUntil(9 * kSecond);  // retries at 1, 2, 3.5, 5.75 s have failed; the last one is due at 9.125 s
  EXPECT_FALSE(c.worker(2).aborted());
  EXPECT_TRUE(c.Logged(2, "Send try 5 failed"));
  c.RunTimersUntil(10 * kSecond);
  EXPECT_TRUE(c.Logged(2, "Send try 6 failed"));
  const std::string text = "The RPC has not succeeded after the specified number of max retries (5).";
  ExpectOnlyError(c, 2, "A23", text, ErrorSite::kRetryThread);
  EXPECT_TRUE(c.worker(2).aborted());
  std::vector<WorkerAborted> aborted = EventsOf<WorkerAborted>(c, 2);
  ASSERT_EQ(aborted.size(), 1u);
  EXPECT_EQ(aborted[0].text, "terminate called after throwing an instance of 'c10::Error'\n  what():  " + text);
  EXPECT_EQ(c.View(0).pending_children, (std::map<ForkId, ForkId>{{Id(0, 2), Id(0, 1)}}));
}

}  // namespace
}  // namespace rrefsim::core::testing
