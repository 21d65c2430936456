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

}  // namespace
}  // namespace rrefsim::explore::detail
