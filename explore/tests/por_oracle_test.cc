// The perfect-knowledge measurement of persistent-set reductions (por_oracle.h): a reduced search keeps every end of
// the graph under each relation, and a broken relation, or a persistence check that looks only at the steps enabled
// now, loses one.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "rrefsim/sim/scenario.h"

#include "por_oracle.h"
#include "por_oracle_why.h"

namespace rrefsim::explore::test_support {
namespace {

const scenarios::CatalogEntry& Entry(const std::string& name) {
  const scenarios::CatalogEntry* entry = scenarios::FindScenario(name);
  if (entry == nullptr) throw std::logic_error("no catalog scenario " + name);
  return *entry;
}

StateGraph Graph(const std::string& name, core::ProtocolMode mode = core::ProtocolMode::kPytorch) {
  std::optional<StateGraph> graph = StateGraph::Build(Entry(name), mode, 100'000);
  if (!graph) throw std::logic_error(name + " has too many states for this test");
  return *std::move(graph);
}

// A monitor that fires once the owner has processed the USER_DELETEs of users 1, 2, ... in that order (the toy bug's
// claim, toy_bug_test.cc, for any chain): which order the deletes reach the owner in changes no state, only this
// memory, so a reduction that keeps the fired end must treat those deliveries as dependent through it.
class DeletesInOrder : public ExtraInvariant {
 public:
  explicit DeletesInOrder(int users) : users_(users) {}
  std::unique_ptr<ExtraInvariant> Clone() const override { return std::make_unique<DeletesInOrder>(*this); }
  std::uint64_t Fingerprint() const override {
    return dead_ ? ~std::uint64_t{0} : static_cast<std::uint64_t>(matched_);
  }
  void OnStart(const checkers::GlobalView&) override { matched_ = 0, dead_ = false; }
  void OnRecord(const checkers::StepRecord& record) override {
    if (record.kind != checkers::RecordKind::kDeliver || record.message == nullptr || record.message->to != 0 ||
        record.message->type != core::MessageType::RREF_USER_DELETE || dead_) {
      return;
    }
    if (matched_ < users_ && record.message->from == matched_ + 1) {
      ++matched_;
    } else {
      dead_ = true;
    }
  }
  bool OnStepEnd(const checkers::GlobalView&) override { return dead_ || matched_ < users_; }

 private:
  int users_;
  int matched_ = 0;
  bool dead_ = false;
};

// fork_chain_5 cut to two users, without its final graceful shutdown.
scenarios::CatalogEntry ChainOfTwo() {
  scenarios::CatalogEntry chain = Entry("fork_chain_5");
  chain.scenario.graceful_shutdown = false;
  chain.scenario.workers = 3;
  chain.scenario.programs.resize(3);
  chain.scenario.programs[1].ops[1].payload = sim::Int(0);  // user 2 fetches
  return chain;
}

// Scenarios whose runs end more than one way (early_owner_rref_race and s4 each reach two end nodes, in both modes
// for s4), so that a reduction that loses a schedule can lose an end.
TEST(PorOracle, EveryReducedSearchKeepsEveryEnd) {
  struct Case {
    const char* scenario;
    core::ProtocolMode mode;
  };
  for (const Case& c : {Case{"early_owner_rref_race", core::ProtocolMode::kPytorch},
                        Case{"s4_user_to_owner", core::ProtocolMode::kPytorch},
                        Case{"s4_user_to_owner", core::ProtocolMode::kHardened}}) {
    const StateGraph graph = Graph(c.scenario, c.mode);
    ASSERT_GE(graph.ends(), 2u) << c.scenario;
    for (Independence independence : {Independence::kContext, Independence::kKind, Independence::kCatalogKinds,
                                       Independence::kWorker}) {
      PersistenceOracle oracle(graph, independence);
      for (std::size_t max_set : {1u, 3u}) {
        const Reduced reduced = oracle.Reach(max_set);
        SCOPED_TRACE(std::string(c.scenario) + ", relation " + std::to_string(static_cast<int>(independence)) +
                     ", sets of at most " + std::to_string(max_set));
        EXPECT_EQ(reduced.ends, graph.ends());
        EXPECT_GT(reduced.reduced_choices, 0u);
      }
    }
  }
}

// The monitor's fired end is reached only through an order of deliveries that every other end also has in another
// order: a reduction that looked only at the steps enabled now (docs/explore.md, session 6's experiment) loses it.
TEST(PorOracle, AnOrderMonitorsEndIsKept) {
  const DeletesInOrder claim(2);
  const std::optional<StateGraph> graph =
      StateGraph::Build(ChainOfTwo(), core::ProtocolMode::kPytorch, 100'000, &claim);
  ASSERT_TRUE(graph.has_value());
  ASSERT_GE(graph->ends(), 2u);  // the claim fires on some schedule, not on others
  for (Independence independence : {Independence::kContext, Independence::kKind, Independence::kCatalogKinds,
                                     Independence::kWorker}) {
    PersistenceOracle oracle(*graph, independence);
    EXPECT_EQ(oracle.Reach(1).ends, graph->ends()) << static_cast<int>(independence);
    EXPECT_EQ(oracle.Reach(3).ends, graph->ends()) << static_cast<int>(independence);
  }
}

// early_owner_rref_race ends two ways; a relation that lets every step commute keeps only the first option's.
TEST(PorOracle, ABrokenRelationLosesAnEnd) {
  const StateGraph graph = Graph("early_owner_rref_race");
  ASSERT_EQ(graph.ends(), 2u);
  PersistenceOracle broken(graph, Independence::kEverything);
  EXPECT_LT(broken.Reach(1).ends, graph.ends());
}

// Steps at two workers share only the world's common parts, the barriers and the shutdown's join, and the checkers'
// reads. At a barrier the last arrival pauses as the others wake (docs/sim.md), so that arrivals commute: in every
// state of these graphs, two steps at different workers reach one node in either order. With the last arrival going
// straight on (as before 2026-11-27), each graph here has pairs of fiber steps that do not: at the program barriers
// and the shutdown barrier of rref_context_debug_info, and at the shutdown barrier of the others. (A program
// barrier's flush still reads every worker: these scenarios sleep before their barriers, so it never waits here.)
TEST(PorOracle, StepsAtTwoWorkersCommuteAtBarriers) {
  for (const char* name : {"rref_context_debug_info", "s4_user_to_owner", "shutdown_with_live_users"}) {
    const StateGraph graph = Graph(name);
    for (const auto& [pair, pairs] : CrossWorkerDependence(graph)) {
      ADD_FAILURE() << name << ": " << pairs << " pairs of steps " << graph.kinds()[pair.first] << " and "
                    << graph.kinds()[pair.second] << " at two workers fail to commute";
    }
  }
  scenarios::CatalogEntry chain = ChainOfTwo();
  chain.scenario.graceful_shutdown = true;
  const std::optional<StateGraph> graph = StateGraph::Build(chain, core::ProtocolMode::kPytorch, 100'000);
  ASSERT_TRUE(graph.has_value());
  EXPECT_TRUE(CrossWorkerDependence(*graph).empty());
}

// The step on offer with the least identity: an order that does not depend on how a world lists its options.
std::uint64_t LeastByIdentity(const AuditBranch& branch) {
  const checkers::GlobalView& view = branch.run().view();
  const std::vector<std::uint64_t>& items = branch.run().pending_items();
  const auto by_identity = [&view](std::uint64_t a, std::uint64_t b) {
    return sim::StepIdentity(view, a) < sim::StepIdentity(view, b);
  };
  return *std::min_element(items.begin(), items.end(), by_identity);
}

// The branch after `branch` takes the step `item`, on a copy.
std::unique_ptr<AuditBranch> After(const AuditBranch& branch, std::uint64_t item) {
  auto next = std::make_unique<AuditBranch>(branch.run(), branch.checkers());
  next->Take(item);
  return next;
}

bool Offers(const AuditBranch& branch, std::uint64_t item) {
  const std::vector<std::uint64_t>& items = branch.run().pending_items();
  return !branch.ended() && std::find(items.begin(), items.end(), item) != items.end();
}

// Where a branch ends when every later choice takes the step of least identity.
End RunOut(std::unique_ptr<AuditBranch> branch) {
  while (!branch->ended()) branch = After(*branch, LeastByIdentity(*branch));
  return branch->Then(0);  // an ended branch's own end
}

bool ArrivesAtABarrier(const AuditBranch& after) {
  return (after.footprint().workers >> 63) != 0;  // the world's barrier bit (sim/src/host.cc, ArriveAtBarrier)
}

// Both orders of two arrivals t and x at a barrier, from the branches after each, run out the same way, end alike;
// false when they are not two arrivals that can run in either order.
bool CheckBothOrdersGoOnAlike(const AuditBranch& after_t, std::uint64_t t, const AuditBranch& after_x,
                              std::uint64_t x, const std::string& name) {
  if (!ArrivesAtABarrier(after_t) || !ArrivesAtABarrier(after_x)) return false;
  if (!Offers(after_t, x) || !Offers(after_x, t)) return false;
  const End a = RunOut(After(after_t, x));
  const End b = RunOut(After(after_x, t));
  EXPECT_EQ(a.world, b.world) << name;
  EXPECT_EQ(a.memory, b.memory) << name;
  EXPECT_EQ(a.outcome, b.outcome) << name;
  EXPECT_EQ(a.fired, b.fired) << name;
  return true;
}

// The state hash merges the two orders of two arrivals at a barrier (the test above): the merged worlds must also go
// on alike. At every state of each scenario where two workers can arrive at a barrier, both orders of the arrivals,
// run out the same way, end in the same world and memories, with the same outcome and checkers. A pause that
// skipped delAllUsersAndUnforkedOwners while looking like a woken arrival fails it (shutdown_with_live_users).
TEST(PorOracle, TheTwoOrdersOfArrivalsAtABarrierGoOnAlike) {
  for (const char* name : {"rref_context_debug_info", "s4_user_to_owner", "shutdown_with_live_users"}) {
    const scenarios::CatalogEntry& entry = Entry(name);
    const sim::RunConfig config = GraphConfig(entry, core::ProtocolMode::kPytorch);
    auto root = std::make_unique<AuditBranch>(entry.scenario, config, scenarios::CheckerConfigOf(entry, config));
    std::vector<std::unique_ptr<AuditBranch>> stack;
    if (root->Start()) stack.push_back(std::move(root));
    std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
    int pairs = 0;
    while (!stack.empty()) {
      std::unique_ptr<AuditBranch> branch = std::move(stack.back());
      stack.pop_back();
      if (!seen.insert({*sim::StateFingerprint(branch->run().view()), branch->memory()}).second) continue;
      const checkers::GlobalView& view = branch->run().view();
      const std::vector<std::uint64_t> items = branch->run().pending_items();
      std::vector<std::unique_ptr<AuditBranch>> after;
      for (std::uint64_t item : items) after.push_back(After(*branch, item));
      for (std::size_t i = 0; i < items.size(); ++i) {
        for (std::size_t j = i + 1; j < items.size(); ++j) {
          if (sim::StepWorker(view, items[i]) == sim::StepWorker(view, items[j])) continue;
          pairs += CheckBothOrdersGoOnAlike(*after[i], items[i], *after[j], items[j], name) ? 1 : 0;
        }
      }
      for (std::unique_ptr<AuditBranch>& next : after) {
        if (!next->ended()) stack.push_back(std::move(next));
      }
    }
    EXPECT_GT(pairs, 0) << name << ": no state had two workers about to arrive at a barrier";
  }
}

}  // namespace
}  // namespace rrefsim::explore::test_support
