// What a path's SentOnPath says can still be sent (src/message_ledger.h), which the persistent sets' analysis filters
// the messages it injects by: one message per slot up to a hardened resend's changes, requests' ids only going up,
// and an injected request that leaves its sender's ids alone.
#include "../src/message_ledger.h"

#include <gtest/gtest.h>

namespace rrefsim::explore::detail {
namespace {

core::Message Request(core::WorkerId from, core::WorkerId to, std::int64_t id, std::int64_t fork_local_id) {
  core::Message m;
  m.type = core::MessageType::RREF_CHILD_ACCEPT;
  m.from = from;
  m.to = to;
  m.id = id;
  m.fork_id = core::ForkId{from, fork_local_id};
  return m;
}

core::Message Reply(const core::Message& request, const std::string& error) {
  core::Message m;
  m.type = core::MessageType::EXCEPTION;
  m.from = request.to;
  m.to = request.from;
  m.id = request.id;
  m.error = error;
  return m;
}

TEST(SentOnPath, ASlotHoldsOneMessageUpToAResendsChanges) {
  SentOnPath sent;
  const core::Message accept = Request(2, 0, 5, 4);
  sent.AddCreated(accept);
  EXPECT_FALSE(sent.SlotTakenByAnother(accept));
  EXPECT_TRUE(sent.SlotTakenByAnother(Request(2, 0, 5, 7)));  // the same id with another fork: another path's
  EXPECT_TRUE(sent.SlotTakenByAnother(Request(2, 1, 5, 4)));  // the same id to another receiver
  core::Message resend = accept;
  resend.empty_payload = true;
  resend.replies_below = 3;
  EXPECT_FALSE(sent.SlotTakenByAnother(resend));
  EXPECT_FALSE(sent.SlotTakenByAnother(Request(2, 0, 6, 7)));  // a new id
  EXPECT_FALSE(sent.SlotTakenByAnother(Request(1, 0, 5, 7)));  // another sender's id 5

  const core::Message reply = Reply(accept, "");
  EXPECT_TRUE(sent.AnswerExpected(reply));
  sent.AddCreated(reply);
  EXPECT_TRUE(sent.SlotTakenByAnother(Reply(accept, "another path's error")));
  EXPECT_FALSE(sent.SlotTakenByAnother(reply));
}

TEST(SentOnPath, ARequestBelowItsSendersLastIdTakesAnOldId) {
  SentOnPath sent;
  EXPECT_EQ(sent.NextId(2), 0);
  sent.AddCreated(Request(2, 0, 5, 4));
  EXPECT_EQ(sent.NextId(2), 6);
  EXPECT_TRUE(sent.TakesAnOldId(Request(2, 0, 3, 9)));
  EXPECT_FALSE(sent.TakesAnOldId(Request(2, 0, 6, 9)));
  EXPECT_FALSE(sent.TakesAnOldId(Request(2, 0, 5, 4)));  // a resend keeps its id
  EXPECT_FALSE(sent.TakesAnOldId(Request(1, 0, 3, 9)));  // another sender
}

// The analysis may deliver a sender's later request before its earlier one (the network reorders): injecting id 7
// must leave id 6, not yet created, injectable after it.
TEST(SentOnPath, AnInjectedRequestLeavesItsSendersIdsAlone) {
  SentOnPath sent;
  sent.AddCreated(Request(2, 0, 5, 4));
  sent.AddCreated(Request(2, 0, 7, 8), /*injected=*/true);
  EXPECT_EQ(sent.NextId(2), 6);
  EXPECT_TRUE(sent.RequestCreated(2, 0, 7));
  EXPECT_FALSE(sent.TakesAnOldId(Request(2, 0, 6, 9)));
  EXPECT_FALSE(sent.SlotTakenByAnother(Request(2, 0, 6, 9)));
}

// The persistent sets keep the ledger's part of a verdict's key under the path's hashes (PersistentSets::LedgerPart):
// they must not depend on the order of creation, and must tell apart everything that part reads (the slots, the
// requests, and whether a request was injected, which decides its sender's next id).
TEST(SentOnPath, TheCreatedHashIsOfTheSetCreatedWhateverTheOrder) {
  const core::Message first = Request(2, 0, 5, 4);
  const core::Message second = Request(1, 0, 3, 9);
  SentOnPath one;
  one.AddCreated(first);
  one.AddCreated(second);
  SentOnPath other;
  other.AddCreated(second);
  other.AddCreated(first);
  EXPECT_EQ(one.CreatedHash(), other.CreatedHash());

  SentOnPath injected;
  injected.AddCreated(first);
  injected.AddCreated(second, /*injected=*/true);
  EXPECT_NE(one.CreatedHash(), injected.CreatedHash());
  EXPECT_NE(one.NextId(1), injected.NextId(1));

  SentOnPath fewer;
  fewer.AddCreated(first);
  EXPECT_NE(one.CreatedHash(), fewer.CreatedHash());
  fewer.AddCreated(Reply(first, ""));  // a reply takes a slot of its own
  EXPECT_NE(one.CreatedHash(), fewer.CreatedHash());
}

TEST(SentOnPath, TheSentHashIsOfTheMultisetWhateverTheOrder) {
  SentOnPath one;
  one.Add(10);
  one.Add(20);
  one.Add(10);
  SentOnPath other;
  other.Add(20);
  other.Add(10);
  other.Add(10);
  EXPECT_EQ(one.Hash(), other.Hash());
  SentOnPath neighbours;  // {m, m + 1} against {m, m}
  neighbours.Add(10);
  neighbours.Add(11);
  SentOnPath twice;
  twice.Add(10);
  twice.Add(10);
  EXPECT_NE(neighbours.Hash(), twice.Hash());
}

// An answer kept under the ledger's version is stale exactly when the ledger allows more.
TEST(MessageLedger, ItsVersionMovesWhenItAllowsMore) {
  MessageLedger ledger;
  const core::Message m = Request(2, 0, 5, 4);
  const std::uint64_t start = ledger.version();
  ledger.Note(77, m, 1);
  const std::uint64_t added = ledger.version();
  EXPECT_NE(added, start);
  ledger.Note(77, m, 1);  // nothing new
  EXPECT_EQ(ledger.version(), added);
  ledger.Note(77, m, 2);  // one more copy allowed
  EXPECT_NE(ledger.version(), added);
  ASSERT_EQ(ledger.To(0).size(), 1u);
  EXPECT_EQ(ledger.To(0).front().second->copies, 2u);
}

}  // namespace
}  // namespace rrefsim::explore::detail
