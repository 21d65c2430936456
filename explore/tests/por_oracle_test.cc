// The perfect-knowledge measurement of persistent-set reductions (por_oracle.h): a reduced search keeps every end of
// the graph under each relation, and a broken relation, or a persistence check that looks only at the steps enabled
// now, loses one.
#include <gtest/gtest.h>

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
// straight on (as before 2026-11-27), each scenario here has pairs of fiber steps that do not, at the program
// barriers of rref_context_debug_info and at the shutdown barrier of the others and of a chain of two users.
TEST(PorOracle, StepsAtTwoWorkersCommuteAtBarriers) {
  for (const char* name : {"rref_context_debug_info", "s4_user_to_owner", "shutdown_with_live_users"}) {
    const StateGraph graph = Graph(name);
    for (const auto& [pair, states] : CrossWorkerDependence(graph)) {
      ADD_FAILURE() << name << ": " << graph.kinds()[pair.first] << " and " << graph.kinds()[pair.second]
                    << " at two workers fail to commute at " << states << " states";
    }
  }
  scenarios::CatalogEntry chain = ChainOfTwo();
  chain.scenario.graceful_shutdown = true;
  EXPECT_TRUE(CrossWorkerDependence(*StateGraph::Build(chain, core::ProtocolMode::kPytorch, 100'000)).empty());
}

}  // namespace
}  // namespace rrefsim::explore::test_support
