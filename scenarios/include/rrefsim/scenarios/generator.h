// Random scenarios: one generator, written once against a ChoiceSource, that builds a correct RRef program (every
// expectation it writes is what PyTorch really returns) and names the fork shapes it exercises.
//
//   scenarios::SeededChoices choices(seed);
//   scenarios::GeneratedScenario g = scenarios::Generate(choices, {});
//   sim::RandomChooser chooser(seed);
//   sim::RunResult r = sim::Run(g.scenario, sim::RunConfig{}, chooser);   // kOk, every observation expected_ok
//
// The same generator runs under RapidCheck through an adapter that draws each choice from the property
// (scenarios/tests/rc_choices.h), so RapidCheck shrinks a failing scenario by shrinking its choices towards 0.
// docs/generator.md describes what the scenarios cover.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rrefsim/sim/random.h"
#include "rrefsim/sim/scenario.h"

namespace rrefsim::scenarios {

// Where the generator's decisions come from. Below(n) returns a pick in [0, n); 0 is always the simplest option
// (fewer workers, fewer ops, the plainest op, the first variable, no extra work), so a source that drives its picks
// towards 0 simplifies the scenario. Below(1) is 0 and asks the source nothing, so trivial picks cost no draw; n == 0
// throws std::invalid_argument and a pick out of range std::logic_error. One source per generated scenario; not
// thread-safe.
class ChoiceSource {
 public:
  virtual ~ChoiceSource() = default;
  std::uint64_t Below(std::uint64_t n);

 protected:
  virtual std::uint64_t Draw(std::uint64_t n) = 0;  // n >= 2; must return a value below n
};

// The sub-seed stream of a run seed that feeds the generator: the RandomChooser uses streams 1 (scheduling) and 2
// (faults), so one seed can make both the scenario and its run without the two sharing draws.
inline constexpr std::uint64_t kWorkloadStream = 3;

// Uniform picks from sim::Rng seeded with SubSeed(seed, kWorkloadStream): a seed means the same scenario everywhere.
class SeededChoices : public ChoiceSource {
 public:
  explicit SeededChoices(std::uint64_t seed);

 protected:
  std::uint64_t Draw(std::uint64_t n) override;

 private:
  sim::Rng rng_;
};

// Bounds of a generated scenario. Generate throws std::invalid_argument for bounds outside the limits given here.
struct GeneratorOptions {
  int max_workers = 4;     // the world has 2 to max_workers workers (2 to 32767, sim::Validate's limit)
  int max_ops = 8;         // top-level steps per program (a step such as a chain writes several ops)
  int max_barriers = 2;    // barriers, the same number in every program
  int max_body_ops = 3;    // steps in a generated function body before its return
  int max_call_depth = 2;  // generated functions calling generated functions (minimum 1)
  int max_chain_ttl = 4;   // a forward chain of ttl t makes t+1 hops; t is 2 to max_chain_ttl (minimum 2)
  int max_fan_out = 3;     // workers one fan-out sends an RRef to: 2 to max_fan_out, capped by the world (minimum 2)
  int max_nested = 3;      // RRefs a nesting function packs into its value (minimum 1)
};

// The fork shapes of rref-protocol.md §5 (and the two compound ones) a scenario can exercise, by name.
inline constexpr const char* kShapeRemoteToSelf = "s2_remote_to_self";
inline constexpr const char* kShapeUserToUser = "s3_user_to_user";
inline constexpr const char* kShapeUserToOwner = "s4_user_to_owner";
inline constexpr const char* kShapeOwnerToUser = "s5_owner_to_user";
inline constexpr const char* kShapeOwnerToSelf = "s6_owner_to_self";
inline constexpr const char* kShapeRpcReturnsRRef = "s7_rpc_returns_rref";
inline constexpr const char* kShapeNested = "s10_nested_rref";
inline constexpr const char* kShapeChain = "chain_3plus_hops";
inline constexpr const char* kShapeFanOut = "fan_out";
const std::vector<std::string>& AllShapes();

struct GeneratedScenario {
  sim::Scenario scenario;           // named "generated"; pool_size 16
  std::vector<std::string> shapes;  // the shapes above that the scenario exercises, sorted, each once
};

// A pure function of the picks: the same picks give the same scenario. Every generated scenario passes
// sim::Validate and is a correct program: run in PyTorch mode under the reorder profile it ends kOk with every
// observation expected_ok. It never blocks more than pool_size - 1 handlers in all (so no pool runs dry), recursion
// ends (a chain's ttl counts down), every program has the same number of barriers, and every op names only variables
// its program or function defined.
GeneratedScenario Generate(ChoiceSource& choices, const GeneratorOptions& options);

}  // namespace rrefsim::scenarios
