// Worker::Fingerprint covers the private state that ContextView leaves out. Each test builds two workers whose views
// are equal and whose private state differs in one field; a fingerprint that only read the view (or left that field
// out) would hash them equal, and the explorer would merge two states that continue differently.
#include <gtest/gtest.h>

#include "harness.h"
#include "rrefsim/core/fingerprint.h"

namespace rrefsim::core::testing {
namespace {

using MT = MessageType;

FunctionResult Echo(Cluster&, WorkerId, RunFunction& run) { return Returns(run.args.payload); }

// Worker w looks the same in both clusters through its view; only its fingerprint may tell them apart.
void ExpectHiddenDifference(Cluster& a, Cluster& b, WorkerId w) {
  ASSERT_EQ(a.View(w), b.View(w));
  EXPECT_NE(a.worker(w).Fingerprint(), b.worker(w).Fingerprint());
}

TEST(FingerprintTest, EqualStatesHashEqualAndACopyHashesTheSame) {
  Cluster a(2);
  Cluster b(2);
  for (Cluster* c : {&a, &b}) {
    c->Define("echo", Echo);
    Handle r = c->Remote(0, 1, "echo", Val(3));
    c->ToHere(0, r);
    c->DeliverAll();
  }
  EXPECT_EQ(a.worker(0).Fingerprint(), b.worker(0).Fingerprint());
  EXPECT_EQ(a.worker(1).Fingerprint(), b.worker(1).Fingerprint());
  Worker copy = a.worker(1);
  EXPECT_EQ(copy.Fingerprint(), a.worker(1).Fingerprint());
  EXPECT_NE(a.worker(0).Fingerprint(), a.worker(1).Fingerprint());
}

// A call whose argument is a user -> user fork waits for the owner's ACK; the view shows only that one request is
// gated, not what it will run.
TEST(FingerprintTest, CoversTheContentsOfAGatedRequest) {
  Cluster a(3);
  Cluster b(3);
  for (Cluster* c : {&a, &b}) {
    c->Define("echo", Echo);
    Handle r = c->Remote(0, 1, "echo", Val(1));
    c->DeliverAll();
    c->Rpc(0, 2, "echo", Val(c == &a ? 10 : 20, {r}));
    c->DeliverNext(MT::PYTHON_CALL, 0, 2);
  }
  ASSERT_EQ(a.View(2).gated_requests, 1);
  ExpectHiddenDifference(a, b, 2);
}

// A fetch that reaches the owner before the OwnerRRef exists waits in pendingOwners_; the view shows how many wait,
// not who. Here the waiting fetches differ in their request id (b's user sent another RPC first).
TEST(FingerprintTest, CoversAFetchWaitingForItsOwner) {
  Cluster a(2);
  Cluster b(2);
  for (Cluster* c : {&a, &b}) {
    c->Define("echo", Echo);
    Handle r = c->Remote(0, 1, "echo", Val(1));
    if (c == &b) c->Rpc(0, 1, "echo", Val(2));  // never delivered: it only moves worker 0's message ids on
    c->ToHere(0, r);
    c->DeliverNext(MT::PYTHON_RREF_FETCH_CALL, 0, 1);
  }
  ASSERT_EQ(a.View(1).pending_owners.size(), 1u);
  ExpectHiddenDifference(a, b, 1);
}

// An RRef created and freed leaves nothing in the view, but the id counters moved: the next RRef gets other ids.
TEST(FingerprintTest, CoversTheIdCounters) {
  Cluster a(1);
  Cluster b(1);
  b.Release(0, b.worker(0).CreateLocal(Val(1), "int"));
  ExpectHiddenDifference(a, b, 0);
}

// hardened: the receiver keeps each reply until the sender says it has it, to answer a duplicate with it. Two
// receivers that answered the same request with different values differ only in that cache.
TEST(FingerprintTest, CoversTheHardenedReplyCache) {
  WorkerConfig hardened;
  hardened.mode = ProtocolMode::kHardened;
  Cluster a(2, hardened);
  Cluster b(2, hardened);
  a.Define("f", [](Cluster&, WorkerId, RunFunction&) { return Returns(1); });
  b.Define("f", [](Cluster&, WorkerId, RunFunction&) { return Returns(2); });
  for (Cluster* c : {&a, &b}) {
    c->Rpc(0, 1, "f", Val(0));
    c->DeliverNext(MT::PYTHON_CALL, 0, 1);
  }
  ExpectHiddenDifference(a, b, 1);
}

// hardened: a request's stream number and the sender's replies_below are part of a message's content.
TEST(FingerprintTest, MessageFingerprintCoversTheHardenedNumbers) {
  Message m;
  m.type = MT::PYTHON_CALL;
  Message other_seq = m;
  other_seq.seq = 2;
  Message other_below = m;
  other_below.replies_below = 1;
  EXPECT_NE(MessageFingerprint(m), MessageFingerprint(other_seq));
  EXPECT_NE(MessageFingerprint(m), MessageFingerprint(other_below));
  EXPECT_EQ(MessageFingerprint(m), MessageFingerprint(Message(m)));
}

}  // namespace
}  // namespace rrefsim::core::testing
