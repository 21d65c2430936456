// The virtual network: profiles, override parsing, and the fate of messages under each kind of fault.
#include "rrefsim/sim/network.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rrefsim::sim {
namespace {

using core::ForkId;
using core::kMillisecond;
using core::kSecond;
using core::Message;
using core::MessageType;
using core::RRefId;
using core::WorkerId;

// A chooser whose picks come from a function of the request (clamped into range), so each test states its policy.
class TestChooser : public Chooser {
 public:
  explicit TestChooser(std::function<std::uint64_t(const ChoiceRequest&)> policy) : policy_(std::move(policy)) {}

 protected:
  std::uint64_t Pick(const ChoiceRequest& request) override {
    return std::min(policy_(request), request.options - 1);
  }

 private:
  std::function<std::uint64_t(const ChoiceRequest&)> policy_;
};

// Option 0 everywhere: the benign world.
TestChooser ZeroChooser() {
  return TestChooser([](const ChoiceRequest&) { return std::uint64_t{0}; });
}
// The last option everywhere: every fault that is asked about happens, with the longest lengths.
TestChooser WorstChooser() {
  return TestChooser([](const ChoiceRequest& r) { return r.options - 1; });
}
// A 64-bit LCG (Knuth's MMIX constants): biased coins honour p_one, other choices are uniform enough for tests.
TestChooser LcgChooser(std::uint64_t seed) {
  auto state = std::make_shared<std::uint64_t>(seed);
  return TestChooser([state](const ChoiceRequest& r) -> std::uint64_t {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::uint64_t bits = *state >> 11;
    if (r.p_one >= 0) return static_cast<double>(bits) / 9007199254740992.0 < r.p_one ? 1 : 0;
    return bits % r.options;
  });
}
// Picks from a script for the given kind (in order, then 0), and 0 for every other kind.
TestChooser ScriptFor(ChoiceKind kind, std::vector<std::uint64_t> script) {
  auto queue = std::make_shared<std::deque<std::uint64_t>>(script.begin(), script.end());
  return TestChooser([kind, queue](const ChoiceRequest& r) -> std::uint64_t {
    if (r.kind != kind || queue->empty()) return 0;
    const std::uint64_t pick = queue->front();
    queue->pop_front();
    return pick;
  });
}

FaultConfig Config(std::string_view profile, const std::vector<std::string>& overrides = {}) {
  FaultConfigResult result = MakeFaultConfig(profile, overrides);
  EXPECT_TRUE(result.config.has_value()) << result.error;
  return result.config.value_or(FaultConfig{});
}

std::string ErrorOf(std::string_view profile, const std::vector<std::string>& overrides) {
  FaultConfigResult result = MakeFaultConfig(profile, overrides);
  EXPECT_FALSE(result.config.has_value());
  return result.error;
}

Message Msg(MessageType type, WorkerId from, WorkerId to, std::int64_t id, RRefId rref = {}, ForkId fork = {}) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.id = id;
  m.rref_id = rref;
  m.fork_id = fork;
  return m;
}

std::uint64_t KeyOf(WorkerId from, std::int64_t id, bool response) {
  return (std::uint64_t(from) << 48) | (response ? std::uint64_t{1} << 47 : 0) | std::uint64_t(id);
}

int CountKind(const Chooser& chooser, ChoiceKind kind) {
  int n = 0;
  for (const Choice& c : chooser.choices()) n += c.kind == kind;
  return n;
}

const RRefId kRRef{1, 0};
const ForkId kFork{1, 2};

// ---------------------------------------------------------------------------------------------------- profiles

TEST(FaultProfilesTest, ListsTheFiveProfiles) {
  EXPECT_EQ(FaultProfiles(), (std::vector<std::string>{"reorder", "faulty-agent", "lossy", "chaos", "swarm"}));
}

TEST(FaultProfilesTest, ReorderOnlyDelaysUnderHalfTheRpcTimeout) {
  const FaultConfig c = Config("reorder");
  EXPECT_EQ(c.profile, "reorder");
  EXPECT_EQ(c.delay_min, 0);
  EXPECT_EQ(c.delay_max, 25 * kMillisecond);
  EXPECT_LT(c.delay_max, 30 * kSecond);
  EXPECT_EQ(c.drop, 0);
  EXPECT_EQ(c.duplicate, 0);
  EXPECT_EQ(c.long_delay, 0);
  EXPECT_EQ(c.partition, 0);
  EXPECT_EQ(c.heal_min, 0);
  EXPECT_EQ(c.heal_max, 0);
  EXPECT_TRUE(c.messages_to_fail.empty());
  EXPECT_TRUE(c.messages_to_delay.empty());
  EXPECT_FALSE(c.swarm);
}

TEST(FaultProfilesTest, FaultyAgentIsPyTorchsFixture) {
  const FaultConfig c = Config("faulty-agent");
  EXPECT_EQ(c.messages_to_fail, (std::vector<MessageType>{MessageType::RREF_FORK_REQUEST,
                                                          MessageType::RREF_CHILD_ACCEPT,
                                                          MessageType::RREF_USER_DELETE}));
  EXPECT_EQ(c.num_fail_sends, 3);
  const std::map<MessageType, core::TimeUs> delays{{MessageType::PYTHON_CALL, 1500 * kMillisecond},
                                                   {MessageType::SCRIPT_CALL, 1500 * kMillisecond}};
  EXPECT_EQ(c.messages_to_delay, delays);
  EXPECT_EQ(c.delay_min, 0);
  EXPECT_EQ(c.delay_max, 5 * kMillisecond);
  EXPECT_EQ(c.drop + c.duplicate + c.long_delay + c.partition, 0);
  EXPECT_EQ(c.heal_max, 0);
}

TEST(FaultProfilesTest, LossyDropsControlMessagesAtMostFiveTimes) {
  const FaultConfig c = Config("lossy");
  EXPECT_EQ(c.drop, 0.3);
  EXPECT_TRUE(c.control_only);
  EXPECT_EQ(c.max_consecutive_drops, 5);
  EXPECT_EQ(c.heal_min, 5 * kSecond);
  EXPECT_EQ(c.heal_max, 30 * kSecond);
  EXPECT_EQ(c.delay_max, 25 * kMillisecond);
  EXPECT_EQ(c.duplicate + c.long_delay + c.partition, 0);
  EXPECT_TRUE(c.messages_to_fail.empty());
}

TEST(FaultProfilesTest, ChaosHasEveryFault) {
  const FaultConfig c = Config("chaos");
  EXPECT_EQ(c.drop, 0.05);
  EXPECT_EQ(c.duplicate, 0.05);
  EXPECT_EQ(c.long_delay, 0.05);
  EXPECT_EQ(c.long_delay_max, 120 * kSecond);
  EXPECT_GT(c.long_delay_max, 60 * kSecond);  // beyond the default RPC timeout
  EXPECT_EQ(c.partition, 0.01);
  EXPECT_EQ(c.partition_max, 10 * kSecond);
  EXPECT_EQ(c.heal_min, 10 * kSecond);
  EXPECT_EQ(c.heal_max, 120 * kSecond);
  EXPECT_EQ(c.delay_max, 25 * kMillisecond);
  EXPECT_FALSE(c.control_only);
  EXPECT_EQ(c.max_consecutive_drops, -1);
  EXPECT_FALSE(c.swarm);
}

TEST(FaultProfilesTest, SwarmIsChaosWithDrawnRates) {
  FaultConfig c = Config("swarm");
  EXPECT_TRUE(c.swarm);
  EXPECT_EQ(c.profile, "swarm");
  c.swarm = false;
  c.profile = "chaos";
  const FaultConfig chaos = Config("chaos");
  EXPECT_EQ(c.heal_max, chaos.heal_max);
  EXPECT_EQ(c.long_delay_max, chaos.long_delay_max);
  EXPECT_EQ(c.partition_max, chaos.partition_max);
}

TEST(FaultProfilesTest, UnknownProfileNamesTheChoices) {
  EXPECT_EQ(ErrorOf("lossless", {}),
            "unknown fault profile 'lossless' (expected one of: reorder, faulty-agent, lossy, chaos, swarm)");
}

// ---------------------------------------------------------------------------------------------------- overrides

TEST(FaultOverridesTest, EveryKeyParsesAndLaterWins) {
  const FaultConfig c = Config(
      "chaos", {"drop=0.5", "drop=0.25", "duplicate=1", "long_delay=0", "partition=1e-2", "delay_min_ms=2",
                "delay_max_ms=7", "long_delay_max_ms=90000", "partition_max_ms=3000", "heal_min_ms=1000",
                "heal_max_ms=1000", "max_consecutive_drops=-1", "control_only=true", "num_fail_sends=4",
                "messages_to_fail=PYTHON_REMOTE_CALL,RREF_USER_DELETE,PYTHON_REMOTE_CALL",
                "messages_to_delay=PYTHON_CALL:10,RREF_ACK:0"});
  EXPECT_EQ(c.drop, 0.25);
  EXPECT_EQ(c.duplicate, 1);
  EXPECT_EQ(c.long_delay, 0);
  EXPECT_EQ(c.partition, 0.01);
  EXPECT_EQ(c.delay_min, 2 * kMillisecond);
  EXPECT_EQ(c.delay_max, 7 * kMillisecond);
  EXPECT_EQ(c.long_delay_max, 90 * kSecond);
  EXPECT_EQ(c.partition_max, 3 * kSecond);
  EXPECT_EQ(c.heal_min, kSecond);
  EXPECT_EQ(c.heal_max, kSecond);
  EXPECT_EQ(c.max_consecutive_drops, -1);
  EXPECT_TRUE(c.control_only);
  EXPECT_EQ(c.num_fail_sends, 4);
  EXPECT_EQ(c.messages_to_fail,
            (std::vector<MessageType>{MessageType::PYTHON_REMOTE_CALL, MessageType::RREF_USER_DELETE}));
  EXPECT_EQ(c.messages_to_delay, (std::map<MessageType, core::TimeUs>{{MessageType::PYTHON_CALL, 10 * kMillisecond},
                                                                       {MessageType::RREF_ACK, 0}}));
}

TEST(FaultOverridesTest, EmptyListsClearTheFixture) {
  const FaultConfig c = Config("faulty-agent", {"messages_to_fail=", "messages_to_delay=", "control_only=false"});
  EXPECT_TRUE(c.messages_to_fail.empty());
  EXPECT_TRUE(c.messages_to_delay.empty());
  EXPECT_FALSE(c.control_only);
}

TEST(FaultOverridesTest, BadInputNamesTheKeyAndTheRange) {
  const std::string ms = "(expected an integer number of milliseconds in [0, 1000000000])";
  const std::string names =
      "SCRIPT_CALL, SCRIPT_RET, PYTHON_CALL, PYTHON_RET, SCRIPT_REMOTE_CALL, PYTHON_REMOTE_CALL, REMOTE_RET, "
      "SCRIPT_RREF_FETCH_CALL, PYTHON_RREF_FETCH_CALL, SCRIPT_RREF_FETCH_RET, PYTHON_RREF_FETCH_RET, "
      "RREF_USER_DELETE, RREF_FORK_REQUEST, RREF_CHILD_ACCEPT, RREF_ACK, EXCEPTION";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"dropx"}, "fault 'dropx' is not KEY=VALUE"},
      {{"=0.1"}, "fault '=0.1' is not KEY=VALUE"},
      {{"dorp=0.1"},
       "unknown fault key 'dorp' (expected one of: drop, duplicate, long_delay, partition, delay_min_ms, delay_max_ms, "
       "long_delay_max_ms, partition_max_ms, heal_min_ms, heal_max_ms, max_consecutive_drops, control_only, "
       "num_fail_sends, messages_to_fail, messages_to_delay)"},
      {{"drop=1.5"}, "fault key 'drop': 1.5 is out of range (expected a probability in [0, 1])"},
      {{"drop=-0.1"}, "fault key 'drop': -0.1 is out of range (expected a probability in [0, 1])"},
      {{"drop=nan"}, "fault key 'drop': nan is out of range (expected a probability in [0, 1])"},
      {{"duplicate=inf"}, "fault key 'duplicate': inf is out of range (expected a probability in [0, 1])"},
      {{"partition=1e999"}, "fault key 'partition': 1e999 is out of range (expected a probability in [0, 1])"},
      {{"drop=0.1x"}, "fault key 'drop': '0.1x' is not a number (expected a probability in [0, 1])"},
      {{"long_delay="}, "fault key 'long_delay': '' is not a number (expected a probability in [0, 1])"},
      {{"drop= 0.1"}, "fault key 'drop': ' 0.1' is not a number (expected a probability in [0, 1])"},
      {{"drop=+0.1"}, "fault key 'drop': '+0.1' is not a number (expected a probability in [0, 1])"},
      {{"delay_max_ms=-5"}, "fault key 'delay_max_ms': -5 is out of range " + ms},
      {{"delay_max_ms=1.5"}, "fault key 'delay_max_ms': '1.5' is not an integer " + ms},
      {{"heal_max_ms=10s"}, "fault key 'heal_max_ms': '10s' is not an integer " + ms},
      {{"heal_min_ms=1000000001"}, "fault key 'heal_min_ms': 1000000001 is out of range " + ms},
      {{"partition_max_ms=99999999999999999999"},
       "fault key 'partition_max_ms': 99999999999999999999 is out of range " + ms},
      {{"max_consecutive_drops=-2"},
       "fault key 'max_consecutive_drops': -2 is out of range (expected an integer in [-1, 2147483647], -1 for no "
       "limit)"},
      {{"num_fail_sends=-1"},
       "fault key 'num_fail_sends': -1 is out of range (expected an integer in [0, 2147483647])"},
      {{"num_fail_sends=three"},
       "fault key 'num_fail_sends': 'three' is not an integer (expected an integer in [0, 2147483647])"},
      {{"control_only=yes"}, "fault key 'control_only': 'yes' is not a boolean (expected true or false)"},
      {{"messages_to_fail=RREF_FORK_REQUEST,FORK"},
       "fault key 'messages_to_fail': unknown message type 'FORK' (expected a comma-separated list of message type "
       "names, or empty; names: " + names + ")"},
      {{"messages_to_fail=RREF_ACK,"},
       "fault key 'messages_to_fail': unknown message type '' (expected a comma-separated list of message type "
       "names, or empty; names: " + names + ")"},
      {{"messages_to_delay=PYTHON_CALL"},
       "fault key 'messages_to_delay': 'PYTHON_CALL' is not NAME:MS (expected a comma-separated list of NAME:MS with "
       "MS an integer in [0, 1000000000], or empty; names: " + names + ")"},
      {{"messages_to_delay=PYTHON_CALL:-1"},
       "fault key 'messages_to_delay': -1 is out of range (expected a comma-separated list of NAME:MS with MS an "
       "integer in [0, 1000000000], or empty; names: " + names + ")"},
      {{"messages_to_delay=PY_CALL:1"},
       "fault key 'messages_to_delay': unknown message type 'PY_CALL' (expected a comma-separated list of NAME:MS "
       "with MS an integer in [0, 1000000000], or empty; names: " + names + ")"},
      {{"messages_to_delay=PYTHON_CALL:1.5"},
       "fault key 'messages_to_delay': '1.5' is not an integer (expected a comma-separated list of NAME:MS with MS "
       "an integer in [0, 1000000000], or empty; names: " + names + ")"},
      // Checks between keys, after every override (an intermediate state may be inconsistent).
      {{"delay_min_ms=30"},
       "fault keys 'delay_min_ms' and 'delay_max_ms': 30 is above 25 (expected delay_min_ms <= delay_max_ms)"},
      {{"heal_min_ms=200000"},
       "fault keys 'heal_min_ms' and 'heal_max_ms': 200000 is above 120000 (expected heal_min_ms <= heal_max_ms)"},
      {{"long_delay_max_ms=25"},
       "fault key 'long_delay_max_ms': 25 is out of range (expected more than delay_max_ms = 25 when long_delay > 0 "
       "or the profile is swarm)"},
      {{"partition_max_ms=0"},
       "fault key 'partition_max_ms': 0 is out of range (expected at least 1 when partition > 0 or the profile is "
       "swarm)"},
  };
  for (const auto& [overrides, error] : cases) {
    EXPECT_EQ(ErrorOf("chaos", overrides), error) << overrides.front();
  }
  EXPECT_EQ(ErrorOf("reorder", {"drop=0.1"}),
            "fault key 'drop': a rate above 0 has no effect while heal_max_ms is 0 (expected 0, or a fault phase: set "
            "heal_min_ms and heal_max_ms)");
  EXPECT_EQ(ErrorOf("swarm", {"long_delay_max_ms=10"}),
            "fault key 'long_delay_max_ms': 10 is out of range (expected more than delay_max_ms = 25 when long_delay "
            "> 0 or the profile is swarm)");
  // Only the final state is checked.
  Config("chaos", {"heal_min_ms=200000", "heal_max_ms=300000"});
  Config("chaos", {"long_delay_max_ms=0", "long_delay=0"});
  Config("reorder", {"drop=0.1", "heal_max_ms=10"});
}

TEST(FaultOverridesTest, HelpHasOneLinePerKey) {
  const std::vector<std::string> help = FaultKeyHelp();
  ASSERT_EQ(help.size(), 15u);
  EXPECT_EQ(help.front(), "drop: probability that a message is lost during the fault phase (a probability in [0, 1])");
  for (const std::string& line : help) {
    const std::string key = line.substr(0, line.find(':'));
    // Every key the help names is accepted (with a value of the right kind).
    const FaultConfigResult r = MakeFaultConfig("chaos", {key + "=1"});
    EXPECT_EQ(r.error.find("unknown fault key"), std::string::npos) << line;
  }
}

// ---------------------------------------------------------------------------------------------------- faulty agent

TEST(NetworkFaultyAgentTest, FailsTheFirstThreeSendsOfEachPayloadThenPasses) {
  TestChooser chooser = ZeroChooser();
  Network network(Config("faulty-agent"), chooser);
  EXPECT_EQ(network.heal_time(), 0);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const Fate fate = network.Decide(Msg(MessageType::RREF_FORK_REQUEST, 1, 0, 10 + attempt, kRRef, kFork), 0);
    ASSERT_TRUE(fate.send_error.has_value()) << attempt;
    EXPECT_EQ(*fate.send_error, "RPCErr:2:Send attempt failed intentionally for RREF_FORK_REQUEST");
    EXPECT_TRUE(fate.delays.empty());
  }
  EXPECT_TRUE(chooser.choices().empty());  // injected failures take no choice
  for (int attempt = 3; attempt < 6; ++attempt) {
    const Fate fate = network.Decide(Msg(MessageType::RREF_FORK_REQUEST, 1, 0, 10 + attempt, kRRef, kFork), 0);
    EXPECT_FALSE(fate.send_error.has_value());
    EXPECT_EQ(fate.delays, std::vector<core::TimeUs>{0});
  }
}

TEST(NetworkFaultyAgentTest, DistinctPayloadsCountSeparately) {
  TestChooser chooser = ZeroChooser();
  Network network(Config("faulty-agent"), chooser);
  auto fails = [&](const Message& m) { return network.Decide(m, 100 * kSecond).send_error.has_value(); };
  const Message fork_request = Msg(MessageType::RREF_FORK_REQUEST, 1, 0, 1, kRRef, kFork);
  const Message other_fork = Msg(MessageType::RREF_FORK_REQUEST, 1, 0, 2, kRRef, ForkId{1, 3});
  const Message other_sender = Msg(MessageType::RREF_FORK_REQUEST, 2, 0, 1, kRRef, kFork);
  const Message delete_msg = Msg(MessageType::RREF_USER_DELETE, 1, 0, 3, kRRef, kFork);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(fails(fork_request));
    EXPECT_TRUE(fails(other_fork));
    EXPECT_TRUE(fails(other_sender));
    EXPECT_TRUE(fails(delete_msg));
  }
  EXPECT_FALSE(fails(fork_request));
  EXPECT_FALSE(fails(other_fork));
  EXPECT_FALSE(fails(other_sender));
  EXPECT_FALSE(fails(delete_msg));
  // The id is not part of the payload (each retry has a new one), and injected failures outlive the heal time.
  Message retry = fork_request;
  retry.id = 99;
  EXPECT_FALSE(fails(retry));
  // Types outside messages_to_fail are never failed.
  EXPECT_FALSE(fails(Msg(MessageType::RREF_ACK, 0, 1, 1)));
  EXPECT_FALSE(fails(Msg(MessageType::PYTHON_REMOTE_CALL, 1, 0, 4, kRRef, kFork)));
}

TEST(NetworkFaultyAgentTest, EmptiedPayloadsOfOneSenderAreOnePayload) {
  TestChooser chooser = ZeroChooser();
  Network network(Config("faulty-agent"), chooser);
  auto fails = [&](MessageType type, WorkerId from, WorkerId to) {
    Message m = Msg(type, from, to, 1, kRRef, kFork);
    m.empty_payload = true;
    return network.Decide(m, 0).send_error.has_value();
  };
  // PyTorch's key is the payload's bytes, which an earlier written attempt moved out: every emptied message of one
  // sender shares one count, whatever its type or receiver.
  EXPECT_TRUE(fails(MessageType::RREF_FORK_REQUEST, 1, 0));
  EXPECT_TRUE(fails(MessageType::RREF_USER_DELETE, 1, 2));
  EXPECT_TRUE(fails(MessageType::RREF_CHILD_ACCEPT, 1, 3));
  EXPECT_FALSE(fails(MessageType::RREF_FORK_REQUEST, 1, 0));
  EXPECT_TRUE(fails(MessageType::RREF_FORK_REQUEST, 2, 0));
}

TEST(NetworkFaultyAgentTest, MessagesToDelayAddsAFixedDelay) {
  TestChooser chooser = WorstChooser();
  Network network(Config("faulty-agent"), chooser);
  EXPECT_EQ(network.Decide(Msg(MessageType::PYTHON_CALL, 0, 1, 1), 0).delays,
            std::vector<core::TimeUs>{1505 * kMillisecond});
  EXPECT_EQ(network.Decide(Msg(MessageType::SCRIPT_CALL, 0, 1, 2), 0).delays,
            std::vector<core::TimeUs>{1505 * kMillisecond});
  EXPECT_EQ(network.Decide(Msg(MessageType::PYTHON_RET, 1, 0, 1), 0).delays,
            std::vector<core::TimeUs>{5 * kMillisecond});
}

// ---------------------------------------------------------------------------------------------------- lossy

TEST(NetworkLossyTest, AChainLosesAtMostFiveAttemptsCountingItsAcks) {
  // Every asked drop happens.
  TestChooser chooser =
      TestChooser([](const ChoiceRequest& r) -> std::uint64_t { return r.kind == ChoiceKind::kDrop; });
  Network network(Config("lossy", {"heal_min_ms=30000"}), chooser);
  ASSERT_EQ(network.heal_time(), 30 * kSecond);
  auto request = [&](std::int64_t id) {
    return network.Decide(Msg(MessageType::RREF_FORK_REQUEST, 1, 0, id, kRRef, kFork), 0).delays.empty();
  };
  auto ack = [&](std::int64_t id) { return network.Decide(Msg(MessageType::RREF_ACK, 0, 1, id), 0).delays.empty(); };
  EXPECT_TRUE(request(1));
  EXPECT_TRUE(request(2));
  EXPECT_TRUE(request(3));
  EXPECT_TRUE(request(4));
  EXPECT_TRUE(request(5));
  EXPECT_FALSE(request(6));  // the sixth attempt gets through, without asking
  EXPECT_FALSE(ack(6));      // and so does its ACK: the losses of the chain are used up
  EXPECT_EQ(CountKind(chooser, ChoiceKind::kDrop), 5);
  // Another control message is another chain.
  EXPECT_TRUE(network.Decide(Msg(MessageType::RREF_USER_DELETE, 1, 0, 7, kRRef, kFork), 0).delays.empty());
  // An ACK belongs to the chain of its request; an unknown ACK is a chain of its own.
  EXPECT_TRUE(network.Decide(Msg(MessageType::RREF_ACK, 0, 1, 7), 0).delays.empty());
  EXPECT_TRUE(network.Decide(Msg(MessageType::RREF_ACK, 0, 1, 1234), 0).delays.empty());
}

TEST(NetworkLossyTest, RequestAndAckLossesShareTheBudget) {
  // Drops alternate request/ACK: request 1 lost, request 2 delivered but its ACK lost, ...
  TestChooser chooser = ScriptFor(ChoiceKind::kDrop, {1, 0, 1, 1, 0, 1, 1});
  Network network(Config("lossy", {"heal_min_ms=30000"}), chooser);
  int losses = 0;
  for (std::int64_t id = 1; id <= 8; ++id) {
    const bool request_lost =
        network.Decide(Msg(MessageType::RREF_CHILD_ACCEPT, 2, 1, id, {}, kFork), 0).delays.empty();
    losses += request_lost;
    if (!request_lost) losses += network.Decide(Msg(MessageType::RREF_ACK, 1, 2, id), 0).delays.empty();
  }
  EXPECT_EQ(losses, 5);
  EXPECT_EQ(CountKind(chooser, ChoiceKind::kDrop), 7);  // the script's 7 picks, then nothing more was asked
}

TEST(NetworkLossyTest, NeverDropsOtherMessages) {
  TestChooser chooser = WorstChooser();
  Network network(Config("lossy"), chooser);
  ASSERT_EQ(network.heal_time(), 30 * kSecond);
  const MessageType others[] = {MessageType::PYTHON_CALL, MessageType::PYTHON_RET, MessageType::PYTHON_REMOTE_CALL,
                                MessageType::REMOTE_RET, MessageType::PYTHON_RREF_FETCH_CALL,
                                MessageType::PYTHON_RREF_FETCH_RET, MessageType::SCRIPT_CALL, MessageType::EXCEPTION};
  std::int64_t id = 0;
  for (MessageType type : others) {
    const Fate fate = network.Decide(Msg(type, 0, 1, ++id, kRRef, kFork), 0);
    EXPECT_EQ(fate.delays, std::vector<core::TimeUs>{25 * kMillisecond}) << core::MessageTypeName(type);
  }
  EXPECT_EQ(CountKind(chooser, ChoiceKind::kDrop), 0);
}

// Random streams of retried control messages, their ACKs and ordinary calls: no chain loses more than 5 attempts.
TEST(NetworkLossyTest, RandomRunsRespectTheBudget) {
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    TestChooser chooser = LcgChooser(seed);
    Network network(Config("lossy", {"drop=0.9"}), chooser);
    std::map<std::pair<WorkerId, std::int64_t>, int> losses;  // by (sender, fork local id)
    std::map<WorkerId, std::int64_t> next_id;
    for (int step = 0; step < 300; ++step) {
      const WorkerId from = static_cast<WorkerId>(step % 3);
      const std::int64_t fork = step % 7;
      const std::int64_t id = ++next_id[from];
      const Fate request = network.Decide(
          Msg(MessageType::RREF_USER_DELETE, from, 3, id, kRRef, ForkId{from, fork}), step * kMillisecond);
      auto& chain = losses[{from, fork}];
      if (request.delays.empty()) {
        ++chain;
      } else {
        chain += network.Decide(Msg(MessageType::RREF_ACK, 3, from, id), step * kMillisecond).delays.empty();
      }
      EXPECT_LE(chain, 5) << "seed " << seed;
      EXPECT_EQ(network.Decide(Msg(MessageType::PYTHON_CALL, from, 3, ++next_id[from]), 0).delays.size(), 1u);
    }
  }
}

// ---------------------------------------------------------------------------------------------------- heal

TEST(NetworkHealTest, HealTimeIsDrawnInMilliseconds) {
  TestChooser chooser = ScriptFor(ChoiceKind::kHeal, {1234});
  Network network(Config("lossy"), chooser);
  EXPECT_EQ(network.heal_time(), 5 * kSecond + 1234 * kMillisecond);
  ASSERT_EQ(chooser.choices().size(), 1u);
  EXPECT_EQ(chooser.choices()[0], (Choice{ChoiceKind::kHeal, 25001, 1234, 0}));

  TestChooser none = ZeroChooser();
  EXPECT_EQ(Network(Config("chaos", {"heal_min_ms=7", "heal_max_ms=7"}), none).heal_time(), 7 * kMillisecond);
  EXPECT_TRUE(none.choices().empty());
}

TEST(NetworkHealTest, NothingFaultyAfterTheHealTime) {
  for (const char* profile : {"chaos", "swarm", "lossy"}) {
    TestChooser chooser = WorstChooser();
    Network network(Config(profile), chooser);
    const core::TimeUs heal = network.heal_time();
    EXPECT_EQ(heal, profile == std::string("lossy") ? 30 * kSecond : 120 * kSecond);
    // Before the heal time, the worst chooser loses the message (partition or drop).
    EXPECT_TRUE(network.Decide(Msg(MessageType::RREF_FORK_REQUEST, 1, 0, 1, kRRef, kFork), heal - 1).delays.empty());
    const std::size_t before = chooser.choices().size();
    std::int64_t id = 1;
    for (MessageType type : {MessageType::RREF_FORK_REQUEST, MessageType::RREF_ACK, MessageType::PYTHON_CALL,
                             MessageType::REMOTE_RET}) {
      for (WorkerId from = 0; from < 3; ++from) {
        ++id;
        const Fate fate = network.Decide(Msg(type, from, 1, id, kRRef, kFork), heal + id);
        EXPECT_FALSE(fate.send_error.has_value());
        EXPECT_EQ(fate.delays, std::vector<core::TimeUs>{25 * kMillisecond}) << profile;
      }
    }
    // Only delays were asked about afterwards.
    for (std::size_t i = before; i < chooser.choices().size(); ++i) {
      EXPECT_EQ(chooser.choices()[i].kind, ChoiceKind::kDelay) << profile;
      EXPECT_EQ(chooser.choices()[i].options, 25001u);
    }
  }
}

// ---------------------------------------------------------------------------------------------------- partitions

TEST(NetworkPartitionTest, ACutLinkLosesMessagesBothWaysUntilItEnds) {
  const FaultConfig config = Config("chaos", {"drop=0", "duplicate=0", "long_delay=0", "partition=0.5",
                                              "partition_max_ms=100", "heal_min_ms=60000", "heal_max_ms=60000"});
  // The first message cuts its link for 50 ms; every later coin says no.
  TestChooser chooser = TestChooser([n = 0](const ChoiceRequest& r) mutable -> std::uint64_t {
    if (r.kind != ChoiceKind::kPartition) return 0;
    ++n;
    return n == 1 ? 1 : n == 2 ? 49 : 0;
  });
  Network network(config, chooser);
  std::int64_t id = 0;
  auto lost = [&](WorkerId from, WorkerId to, core::TimeUs now) {
    return network.Decide(Msg(MessageType::PYTHON_CALL, from, to, ++id), now).delays.empty();
  };
  EXPECT_TRUE(lost(1, 2, 0));
  ASSERT_EQ(chooser.choices().size(), 2u);
  EXPECT_EQ(chooser.choices()[0].kind, ChoiceKind::kPartition);
  EXPECT_EQ(chooser.choices()[0].options, 2u);
  EXPECT_EQ(chooser.choices()[1], (Choice{ChoiceKind::kPartition, 100, 49, KeyOf(1, 1, false)}));
  const std::size_t asked = chooser.choices().size();
  EXPECT_TRUE(lost(2, 1, 10 * kMillisecond));
  EXPECT_TRUE(lost(1, 2, 50 * kMillisecond - 1));
  EXPECT_EQ(chooser.choices().size(), asked);  // a cut link loses without asking
  EXPECT_FALSE(lost(1, 3, 20 * kMillisecond));  // other links are up
  EXPECT_FALSE(lost(2, 2, 20 * kMillisecond));  // a worker is never cut from itself
  EXPECT_FALSE(lost(2, 1, 50 * kMillisecond));  // the cut has ended
  EXPECT_FALSE(lost(1, 2, 50 * kMillisecond));
}

TEST(NetworkPartitionTest, ACutEndsByTheHealTime) {
  const FaultConfig config = Config("chaos", {"drop=0", "duplicate=0", "long_delay=0", "partition=0.5",
                                              "partition_max_ms=10000", "heal_min_ms=30", "heal_max_ms=30"});
  TestChooser chooser = WorstChooser();
  Network network(config, chooser);
  EXPECT_TRUE(network.Decide(Msg(MessageType::PYTHON_CALL, 1, 2, 1), 0).delays.empty());
  EXPECT_TRUE(network.Decide(Msg(MessageType::PYTHON_RET, 2, 1, 1), 30 * kMillisecond - 1).delays.empty());
  EXPECT_EQ(network.Decide(Msg(MessageType::PYTHON_RET, 2, 1, 1), 30 * kMillisecond).delays.size(), 1u);
}

// ---------------------------------------------------------------------------------------------------- choices

TEST(NetworkChoiceTest, KeysAndOptionsFollowTheContract) {
  TestChooser chooser = WorstChooser();
  Network network(Config("chaos", {"partition=0", "heal_min_ms=120000"}), chooser);
  ASSERT_TRUE(chooser.choices().empty());
  const Fate fate = network.Decide(Msg(MessageType::REMOTE_RET, 3, 1, 5), 0);
  EXPECT_TRUE(fate.delays.empty());  // dropped
  ASSERT_EQ(chooser.choices().size(), 1u);
  EXPECT_EQ(chooser.choices()[0], (Choice{ChoiceKind::kDrop, 2, 1, KeyOf(3, 5, true)}));

  // Nothing dropped: duplicated, and each copy long-delayed to the maximum.
  TestChooser dup = TestChooser([](const ChoiceRequest& r) -> std::uint64_t {
    return r.kind == ChoiceKind::kDrop ? 0 : r.options - 1;
  });
  Network network2(Config("chaos", {"partition=0", "heal_min_ms=120000"}), dup);
  const Fate copies = network2.Decide(Msg(MessageType::PYTHON_CALL, 2, 0, 9), 0);
  EXPECT_EQ(copies.delays, (std::vector<core::TimeUs>{120 * kSecond, 120 * kSecond}));
  const std::uint64_t key = KeyOf(2, 9, false);
  EXPECT_EQ(dup.choices(), (std::vector<Choice>{{ChoiceKind::kDrop, 2, 0, key},
                                                {ChoiceKind::kDuplicate, 2, 1, key},
                                                {ChoiceKind::kDelay, 2, 1, key},
                                                {ChoiceKind::kDelay, 119975, 119974, key},
                                                {ChoiceKind::kDelay, 2, 1, key},
                                                {ChoiceKind::kDelay, 119975, 119974, key}}));
  // The shortest long delay is 1 ms above delay_max.
  TestChooser shortest = TestChooser([](const ChoiceRequest& r) -> std::uint64_t {
    return r.kind == ChoiceKind::kDelay && r.options == 2 ? 1 : 0;
  });
  Network network3(Config("chaos", {"partition=0", "heal_min_ms=120000"}), shortest);
  EXPECT_EQ(network3.Decide(Msg(MessageType::PYTHON_CALL, 2, 0, 9), 0).delays,
            std::vector<core::TimeUs>{26 * kMillisecond});
}

TEST(NetworkChoiceTest, OptionZeroDeliversEveryMessageOnceAtTheMinimumDelay) {
  for (const std::string& profile : FaultProfiles()) {
    TestChooser chooser = ZeroChooser();
    const FaultConfig config = Config(profile, {"delay_min_ms=3", "messages_to_fail=", "messages_to_delay="});
    Network network(config, chooser);
    EXPECT_EQ(network.heal_time(), config.heal_min);
    std::int64_t id = 0;
    for (MessageType type : {MessageType::RREF_FORK_REQUEST, MessageType::RREF_ACK, MessageType::RREF_USER_DELETE,
                             MessageType::RREF_CHILD_ACCEPT, MessageType::PYTHON_CALL, MessageType::REMOTE_RET,
                             MessageType::EXCEPTION}) {
      for (WorkerId from = 0; from < 3; ++from) {
        const Fate fate = network.Decide(Msg(type, from, (from + 1) % 3, ++id, kRRef, kFork), 0);
        EXPECT_FALSE(fate.send_error.has_value());
        EXPECT_EQ(fate.delays, std::vector<core::TimeUs>{3 * kMillisecond}) << profile;
      }
    }
    for (const Choice& c : chooser.choices()) EXPECT_EQ(c.pick, 0u);
  }
}

TEST(NetworkChoiceTest, SwarmDrawsEachRateFromTheLevels) {
  TestChooser chooser = TestChooser([](const ChoiceRequest& r) -> std::uint64_t {
    return r.kind == ChoiceKind::kRate ? r.key - 1 : 0;  // drop 0, duplicate 0.01, long_delay 0.05, partition 0.2
  });
  Network network(Config("swarm"), chooser);
  EXPECT_EQ(network.config().drop, 0);
  EXPECT_EQ(network.config().duplicate, 0.01);
  EXPECT_EQ(network.config().long_delay, 0.05);
  EXPECT_EQ(network.config().partition, 0.2);
  EXPECT_EQ(chooser.choices(), (std::vector<Choice>{{ChoiceKind::kHeal, 110001, 0, 0},
                                                    {ChoiceKind::kRate, 4, 0, 1},
                                                    {ChoiceKind::kRate, 4, 1, 2},
                                                    {ChoiceKind::kRate, 4, 2, 3},
                                                    {ChoiceKind::kRate, 4, 3, 4}}));
  // A swarm run whose draw is all zeros never asks about drops, duplicates, long delays or partitions.
  TestChooser zero = ZeroChooser();
  Network calm(Config("swarm"), zero);
  calm.Decide(Msg(MessageType::RREF_FORK_REQUEST, 1, 0, 1, kRRef, kFork), 0);
  EXPECT_EQ(zero.choices().back(), (Choice{ChoiceKind::kDelay, 25001, 0, KeyOf(1, 1, false)}));
  EXPECT_EQ(zero.choices().size(), 6u);
}

// The fates of a fixed stream of messages under `chooser`, in order.
std::vector<Fate> FatesOf(const FaultConfig& config, Chooser& chooser) {
  Network network(config, chooser);
  std::vector<Fate> fates;
  std::int64_t id = 0;
  for (int step = 0; step < 2000; ++step) {
    const MessageType type = step % 4 == 0 ? MessageType::RREF_FORK_REQUEST
                             : step % 4 == 1 ? MessageType::RREF_ACK
                             : step % 4 == 2 ? MessageType::PYTHON_CALL
                                             : MessageType::PYTHON_RET;
    const WorkerId from = static_cast<WorkerId>(step % 5);
    fates.push_back(network.Decide(Msg(type, from, static_cast<WorkerId>((step / 5) % 5), ++id, kRRef,
                                       ForkId{from, step % 11}),
                                   step * 100 * kMillisecond));
  }
  return fates;
}

TEST(NetworkChoiceTest, SamePicksSameFates) {
  for (const std::string& profile : FaultProfiles()) {
    for (std::uint64_t seed : {1, 2, 3}) {
      TestChooser a = LcgChooser(seed);
      TestChooser b = LcgChooser(seed);
      const FaultConfig config = Config(profile);
      EXPECT_TRUE(FatesOf(config, a) == FatesOf(config, b)) << profile;
      EXPECT_EQ(a.choices(), b.choices()) << profile;
    }
  }
  // Replaying the recorded picks gives the same fates.
  TestChooser original = LcgChooser(7);
  const std::vector<Fate> fates = FatesOf(Config("chaos"), original);
  auto picks = std::make_shared<std::deque<Choice>>(original.choices().begin(), original.choices().end());
  TestChooser replay([picks](const ChoiceRequest& r) {
    const Choice c = picks->front();
    picks->pop_front();
    EXPECT_EQ(c.kind, r.kind);
    EXPECT_EQ(c.options, r.options);
    EXPECT_EQ(c.key, r.key);
    return c.pick;
  });
  EXPECT_TRUE(FatesOf(Config("chaos"), replay) == fates);
  EXPECT_TRUE(picks->empty());
  // And the run had faults to reproduce.
  EXPECT_GT(CountKind(original, ChoiceKind::kDrop), 0);
}

TEST(NetworkChoiceTest, RandomChooserRunsAreReproducible) {
  for (const std::string& profile : FaultProfiles()) {
    RandomChooser a(42);
    RandomChooser b(42);
    const FaultConfig config = Config(profile);
    const std::vector<Fate> fates = FatesOf(config, a);
    EXPECT_TRUE(fates == FatesOf(config, b)) << profile;
    EXPECT_EQ(a.choices(), b.choices()) << profile;
    ReplayChooser replay(a.choices());
    EXPECT_TRUE(fates == FatesOf(config, replay)) << profile;
    EXPECT_TRUE(replay.exhausted()) << profile;
  }
}

}  // namespace
}  // namespace rrefsim::sim
