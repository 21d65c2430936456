// Coverage of (message type x receiver state) pairs (checkers/coverage.h) and the PCT bound (sim/pct_bound.h):
// the classifier on hand-built views, the observer on real runs of S3, the sums a merge relies on, and the bound
// against hand-computed values.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "rrefsim/checkers/coverage.h"
#include "rrefsim/sim/pct_bound.h"
#include "sim_test_util.h"

namespace rrefsim::sim {
namespace {

using checkers::ReceiverState;
using core::MessageType;
using S = ReceiverState;

const core::RRefId kRRef{1, 0};
const core::ForkId kCreatorFork{1, 1};
const core::ForkId kChildFork{2, 5};

core::Message ControlMessage(MessageType type, core::ForkId fork = kCreatorFork) {
  core::Message m;
  m.type = type;
  m.from = 2;
  m.to = 0;
  m.id = 7;
  m.rref_id = kRRef;
  m.fork_id = fork;
  return m;
}

std::vector<S> Classify(const core::Message& m, const core::ContextView& v, const std::set<core::RRefId>& freed = {}) {
  std::vector<S> out;
  checkers::ClassifyDelivery(m, v, freed, out);
  return out;
}

core::ContextView Owner() {
  core::ContextView v;
  v.worker = 0;
  return v;
}

TEST(CoverageClassifyTest, OwnerStatesFollowTheOwnersForksAndPendingOwnerMaps) {
  core::Message fork_request = ControlMessage(MessageType::RREF_FORK_REQUEST, kChildFork);
  core::ContextView v = Owner();
  EXPECT_EQ(Classify(fork_request, v), std::vector<S>{S::kOwnerAbsent});
  EXPECT_EQ(Classify(fork_request, v, {kRRef}), std::vector<S>{S::kOwnerFreed});
  v.pending_owners[kRRef] = 1;
  EXPECT_EQ(Classify(fork_request, v), std::vector<S>{S::kOwnerAwaited});
  v.forks[kRRef] = {kCreatorFork};
  EXPECT_EQ(Classify(fork_request, v), std::vector<S>{S::kOwnerForksOnly});
  v.pending_owners.clear();
  v.owners = {kRRef};
  EXPECT_EQ(Classify(fork_request, v), std::vector<S>{S::kOwnerLive});
  v.forks[kRRef].push_back(kChildFork);  // a repeated fork request
  EXPECT_EQ(Classify(fork_request, v), std::vector<S>{S::kOwnerLiveForkKnown});
  // A fetch names no fork: a live owner is just live.
  EXPECT_EQ(Classify(ControlMessage(MessageType::PYTHON_RREF_FETCH_CALL), v), std::vector<S>{S::kOwnerLive});

  core::ContextView held = Owner();
  core::OwnerRRefView o;
  o.rref_id = kRRef;
  held.owner_rrefs.push_back(o);
  EXPECT_EQ(Classify(ControlMessage(MessageType::RREF_USER_DELETE), held, {kRRef}), std::vector<S>{S::kOwnerHeldOnly});
}

TEST(CoverageClassifyTest, RemoteRetMeetsTheCreatorsUserRRefOrTheOwnerForASelfRemote) {
  core::ContextView creator;
  creator.worker = 2;
  core::Message ret = ControlMessage(MessageType::REMOTE_RET);
  EXPECT_EQ(Classify(ret, creator), std::vector<S>{S::kUserNone});
  core::UserRRefView u;
  u.rref_id = kRRef;
  u.fork_id = kCreatorFork;
  creator.users.push_back(u);
  creator.pending_users = {kCreatorFork};
  EXPECT_EQ(Classify(ret, creator), std::vector<S>{S::kUserPending});
  creator.pending_users.clear();
  EXPECT_EQ(Classify(ret, creator), std::vector<S>{S::kUserConfirmed});
  creator.users[0].timed_out = true;
  EXPECT_EQ(Classify(ret, creator), std::vector<S>{S::kUserTimedOut});
  creator.users[0].deleted_on_owner = true;
  EXPECT_EQ(Classify(ret, creator), std::vector<S>{S::kUserDeleted});

  core::Message self_ret = ControlMessage(MessageType::REMOTE_RET, kRRef);  // rrefId == forkId
  core::ContextView owner = Owner();
  owner.owners = {kRRef};
  owner.forks[kRRef] = {kRRef};  // the self marker
  EXPECT_EQ(Classify(self_ret, owner), std::vector<S>{S::kOwnerLiveForkKnown});
}

TEST(CoverageClassifyTest, ChildAcceptAndResponsesAndCarriedRRefs) {
  core::ContextView parent;
  parent.worker = 0;
  core::Message accept = ControlMessage(MessageType::RREF_CHILD_ACCEPT, kChildFork);
  EXPECT_EQ(Classify(accept, parent), std::vector<S>{S::kParentNoChild});
  parent.pending_children[kChildFork] = kCreatorFork;
  EXPECT_EQ(Classify(accept, parent), std::vector<S>{S::kParentChildPending});

  core::Message ack = ControlMessage(MessageType::RREF_ACK);
  EXPECT_EQ(Classify(ack, parent), std::vector<S>{S::kUnawaited});
  parent.requests.push_back(core::RequestView{7, 2, MessageType::RREF_FORK_REQUEST, std::nullopt});
  EXPECT_EQ(Classify(ack, parent), std::vector<S>{S::kAwaited});
  ack.from = 3;  // the same id from another worker answers another request
  EXPECT_EQ(Classify(ack, parent), std::vector<S>{S::kUnawaited});

  core::Message call = ControlMessage(MessageType::PYTHON_CALL);
  EXPECT_EQ(Classify(call, parent), std::vector<S>{S::kNoRRef});
  core::ForkData owned_here{0, {0, 3}, {2, 9}, 2, "int"};  // worker 0 owns it: the phantom fork of S4
  core::ForkData owned_elsewhere{1, kRRef, kChildFork, 2, "int"};
  call.value.rrefs = {owned_here, owned_elsewhere};
  EXPECT_EQ(Classify(call, parent), (std::vector<S>{S::kOwnerAbsent, S::kUserNone}));
}

TEST(CoverageUniverseTest, EveryPairHasAUniqueKeyThatMapsBack) {
  const std::vector<checkers::CoveragePair>& universe = checkers::CoverageUniverse();
  ASSERT_EQ(universe.size(), checkers::CoveragePairs());
  std::set<std::string> keys;
  for (std::size_t i = 0; i < universe.size(); ++i) {
    std::string key = checkers::CoveragePairKey(universe[i]);
    EXPECT_TRUE(keys.insert(key).second) << key;
    EXPECT_EQ(checkers::CoverageIndexOfKey(key), i) << key;
    EXPECT_EQ(checkers::CoverageIndex(universe[i].type, universe[i].state), i) << key;
  }
  EXPECT_FALSE(checkers::CoverageIndexOfKey("RREF_ACK @ owner:live").has_value());  // not a pair of the universe
  std::size_t impossible = 0;
  for (const checkers::CoveragePair& p : universe) impossible += p.impossible.empty() ? 0 : 1;
  EXPECT_EQ(impossible, 3u);  // REMOTE_RET @ owner:absent, *_RREF_FETCH_RET @ owner:live-fork-known
  EXPECT_EQ(checkers::CoverageCounts{}.Possible(), universe.size() - impossible);
  EXPECT_FALSE(universe[*checkers::CoverageIndex(MessageType::REMOTE_RET, S::kOwnerAbsent)].impossible.empty());
}

TEST(CoverageCountsTest, AddSumsPairByPairAsMergeDoes) {
  checkers::CoverageCounts a, b, empty;
  std::size_t ack = *checkers::CoverageIndex(MessageType::RREF_ACK, S::kAwaited);
  std::size_t accept = *checkers::CoverageIndex(MessageType::RREF_CHILD_ACCEPT, S::kParentChildPending);
  a.Count(ack);
  a.Count(ack);
  a.unclassified = 1;
  b.Count(ack);
  b.Count(accept);
  b.unclassified = 2;
  a.Add(b);
  a.Add(empty);
  EXPECT_EQ(a.At(ack), 3u);
  EXPECT_EQ(a.At(accept), 1u);
  EXPECT_EQ(a.unclassified, 3u);
  EXPECT_EQ(a.Seen(), 2u);
  empty.Add(b);
  EXPECT_EQ(empty.At(accept), 1u);
}

// Over S3 without faults, some pairs are certain in every run: the creator's UserRRef is pending until REMOTE_RET,
// the child's fork reaches 2 before 2 holds any UserRRef, the parent's pendingChildren_ entry waits for the
// CHILD_ACCEPT, and both deletes reach a live owner that knows their forks (the ACK of the fork request comes before
// the CHILD_ACCEPT that lets the parent go). A classifier that mixes up states fails here.
TEST(CoverageObserverTest, UserToUserRunsSeeTheirCertainPairs) {
  const Scenario s = testing::UserToUser();
  auto count = [](const checkers::CoverageCounts& c, MessageType t, S state) {
    return c.At(*checkers::CoverageIndex(t, state));
  };
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    checkers::CoverageObserver observer;
    RandomChooser chooser(seed);
    RunResult r = sim::Run(s, testing::Config("reorder"), chooser, &observer);
    ASSERT_EQ(r.outcome, Outcome::kOk) << "seed " << seed << ": " << r.detail;
    const checkers::CoverageCounts& c = observer.counts();
    EXPECT_EQ(count(c, MessageType::REMOTE_RET, S::kUserPending), 1u) << "seed " << seed;
    EXPECT_EQ(count(c, MessageType::PYTHON_CALL, S::kUserNone) + count(c, MessageType::SCRIPT_CALL, S::kUserNone), 1u)
        << "seed " << seed;
    EXPECT_EQ(count(c, MessageType::RREF_CHILD_ACCEPT, S::kParentChildPending), 1u) << "seed " << seed;
    EXPECT_EQ(count(c, MessageType::RREF_USER_DELETE, S::kOwnerLiveForkKnown), 2u) << "seed " << seed;
    // Every delivery is counted once, or as unclassified (no message of S3 carries two RRefs).
    std::uint64_t total = c.unclassified;
    for (std::uint64_t n : c.pairs) total += n;
    EXPECT_EQ(total, r.messages_delivered) << "seed " << seed;
  }
}

TEST(PctBoundTest, MatchesHandComputedValues) {
  // n = 9 items, k = 412 steps, d = 2: p = 1/(9 * 412) = 1/3708; 20,000 runs: 1 - (1 - 1/3708)^20000 = 0.99545837...
  EXPECT_DOUBLE_EQ(PctRunProbability(9, 412, 2), 1.0 / 3708);
  EXPECT_NEAR(PctConfidence(1.0 / 3708, 20000), 0.9954583763571015, 1e-12);
  EXPECT_NEAR(PctMissProbability(1.0 / 3708, 20000), 1 - 0.9954583763571015, 1e-12);
  // Far below a double's epsilon the miss keeps its value: (1 - 1/135)^20000 = e^-148.698 = 2.634e-65.
  EXPECT_NEAR(PctMissProbability(1.0 / 135, 20000) / 2.6339e-65, 1.0, 1e-4);
  // d = 3: p = 1/(5 * 100^2) = 2e-5; 1000 runs: 0.0198015227...
  EXPECT_NEAR(PctRunProbability(5, 100, 3), 2e-5, 1e-18);
  EXPECT_NEAR(PctConfidence(2e-5, 1000), 0.019801522735593213, 1e-12);
  // d = 1: no change point, the bug's thread must simply go first: 1/n.
  EXPECT_DOUBLE_EQ(PctRunProbability(4, 1000, 1), 0.25);
  EXPECT_EQ(PctConfidence(0.25, 0), 0.0);
  EXPECT_EQ(PctRunProbability(0, 10, 2), 0.0);
}

TEST(PctBoundTest, PctChooserCountsStepsAndDistinctItems) {
  PctChooser chooser(1, 3, 10);
  const std::vector<std::vector<std::uint64_t>> offered = {{11, 12}, {12, 13}, {13}, {11, 14}};
  for (const std::vector<std::uint64_t>& items : offered) {
    ChoiceRequest request;
    request.kind = ChoiceKind::kStep;
    request.options = items.size();
    request.items = items;
    chooser.Choose(request);
  }
  ChoiceRequest coin;
  coin.kind = ChoiceKind::kDrop;
  coin.options = 2;
  chooser.Choose(coin);  // not a step
  EXPECT_EQ(chooser.steps(), 4u);
  EXPECT_EQ(chooser.items(), 4u);
}

}  // namespace
}  // namespace rrefsim::sim
