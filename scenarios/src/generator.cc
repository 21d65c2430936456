// The generator's entry point, its choice sources, and the shared bookkeeping of generator_model.h.
#include "rrefsim/scenarios/generator.h"

#include <stdexcept>
#include <utility>

#include "generator_model.h"

namespace rrefsim::scenarios {

std::uint64_t ChoiceSource::Below(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("ChoiceSource::Below(0): no option to pick");
  if (n == 1) return 0;
  std::uint64_t pick = Draw(n);
  if (pick >= n) {
    throw std::logic_error("ChoiceSource::Draw(" + std::to_string(n) + ") returned " + std::to_string(pick));
  }
  return pick;
}

SeededChoices::SeededChoices(std::uint64_t seed) : rng_(sim::SubSeed(seed, kWorkloadStream)) {}

std::uint64_t SeededChoices::Draw(std::uint64_t n) { return rng_.Below(n); }

const std::vector<std::string>& AllShapes() {
  static const std::vector<std::string> shapes = {
      kShapeRemoteToSelf, kShapeUserToUser,     kShapeUserToOwner, kShapeOwnerToUser, kShapeOwnerToSelf,
      kShapeRpcReturnsRRef, kShapeNested,       kShapeChain,       kShapeFanOut};
  return shapes;
}

namespace detail {

std::vector<std::size_t> Frame::RRefVars() const {
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!vars[i].value.rrefs.empty()) indices.push_back(i);
  }
  return indices;
}

std::vector<std::size_t> Frame::RRefVarsSendableTo(int to) const {
  std::vector<std::size_t> indices;
  for (std::size_t i : RRefVars()) {
    if (Sendable(vars[i].value, to)) indices.push_back(i);
  }
  return indices;
}

namespace {

void SettleIn(ValueModel& value, std::uint64_t rref_id) {
  for (RRefModel& rref : value.rrefs) {
    if (rref.id == rref_id) rref.settled = true;
    SettleIn(rref.value, rref_id);
  }
}

}  // namespace

void Frame::Settle(std::uint64_t rref_id) {
  for (Variable& v : vars) SettleIn(v.value, rref_id);
}

bool Sendable(const ValueModel& value, int to) {
  for (const RRefModel& rref : value.rrefs) {
    if (!rref.settled && rref.owner == to) return false;
  }
  return true;  // RRefs nested inside these RRefs' values are not pickled by this send
}

std::string Frame::Bind(ValueModel value) {
  std::string name = "v" + std::to_string(next_var++);
  vars.push_back({name, std::move(value)});
  return name;
}

Writer::Writer(ChoiceSource& choices, const GeneratorOptions& options, int workers)
    : choices_(choices), options_(options), workers_(workers), scenario_("generated", workers) {
  spare_handlers_ = scenario_.pool_size - 1;
}

std::optional<std::size_t> Writer::PickRRefVar(const Frame& frame) {
  std::vector<std::size_t> candidates = frame.RRefVars();
  if (candidates.empty()) return std::nullopt;
  return candidates[Pick(candidates.size())];
}

std::string Writer::Use(const std::string& function) {
  if (scenario_.FindFunction(function) != nullptr) return function;
  sim::Block& body = scenario_.Function(function);
  if (function == "make") {
    body.Return(sim::ArgPayload());  // def make(payload): return payload
  } else if (function == "check") {
    // def check(rref, expected): assert rref.to_here() == expected; return expected
    sim::Op expect;
    expect.kind = sim::Op::Kind::kExpect;
    expect.var = "v";
    expect.payload = sim::ArgPayload();  // the builder's Expect takes a literal; the caller passes the expectation
    body.ToHere("v", "args");
    body.ops.push_back(std::move(expect));
    body.Return(sim::ArgPayload());
  } else if (function == "forward") {
    // test_rref_forward_chain: while ttl > 0, remote(next worker, forward, rrefs, ttl - 1) and return that RRef;
    // at ttl 0, return the first RRef's value.
    sim::Block then_block;
    then_block.Remote("next", sim::Self(1), "forward", {"args"}, sim::ArgPayload(-1)).ReturnVar("next");
    sim::Block else_block;
    else_block.ToHere("v", "args").ReturnVar("v");
    body.IfPositive(sim::ArgPayload(), then_block, else_block);
  } else {
    throw std::logic_error("no shared function named " + function);
  }
  return function;
}

void Writer::Blocks(Frame& frame) {
  if (frame.is_program() || frame.holds_handler) return;
  if (!TakeSpareHandler()) throw std::logic_error("generator: a function blocks without a handler to spare");
  frame.holds_handler = true;
}

bool Writer::TakeSpareHandler() {
  if (spare_handlers_ == 0) return false;
  --spare_handlers_;
  return true;
}

void Writer::NoteSend(int from, const ValueModel& value, int to) {
  for (const RRefModel& rref : value.rrefs) {
    if (rref.owner == from) {
      Note(to == from ? kShapeOwnerToSelf : kShapeOwnerToUser);
    } else {
      // A user sending to itself takes the user-to-user path too: a new UserRRef and a fork request to the owner.
      Note(to == rref.owner ? kShapeUserToOwner : kShapeUserToUser);
    }
  }
}

namespace {

void CheckOptions(const GeneratorOptions& o) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(std::string("GeneratorOptions: ") + what);
  };
  require(o.max_workers >= 2, "max_workers must be at least 2");
  require(o.max_workers <= 32767, "max_workers must be at most 32767 (sim::Validate's limit)");
  require(o.max_ops >= 0 && o.max_barriers >= 0 && o.max_body_ops >= 0, "op and barrier counts must be >= 0");
  require(o.max_call_depth >= 1, "max_call_depth must be at least 1");
  require(o.max_chain_ttl >= 2, "max_chain_ttl must be at least 2 (a chain makes 3 or more hops)");
  require(o.max_fan_out >= 2, "max_fan_out must be at least 2");
  require(o.max_nested >= 1, "max_nested must be at least 1");
}

}  // namespace
}  // namespace detail

GeneratedScenario Generate(ChoiceSource& choices, const GeneratorOptions& options) {
  detail::CheckOptions(options);
  int workers = 2 + static_cast<int>(choices.Below(static_cast<std::uint64_t>(options.max_workers - 1)));
  detail::Writer w(choices, options, workers);
  int barriers = static_cast<int>(w.Pick(static_cast<std::uint64_t>(options.max_barriers) + 1));
  for (int p = 0; p < workers; ++p) {
    detail::Frame program;
    program.worker = p;
    program.block = &w.scenario().On(p);
    detail::WriteProgram(w, program, barriers);
  }
  return {std::move(w.scenario()), w.Shapes()};
}

}  // namespace rrefsim::scenarios
