// The generator's bookkeeping: what every variable of the program being written will hold when it runs, so that
// each Expect states the value PyTorch really returns, and each send can be named by its fork shape. Internal to
// scenarios/; the public contract is rrefsim/scenarios/generator.h.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rrefsim/scenarios/generator.h"
#include "rrefsim/sim/scenario.h"

namespace rrefsim::scenarios::detail {

struct RRefModel;

// A value as the interpreter holds it: a payload and the RRefs it carries (a to_here result, "args", a Pack).
struct ValueModel {
  std::int64_t payload = 0;
  std::vector<RRefModel> rrefs;
};

// One RRef: its owner, and what to_here on it returns. Programs are straight-line and every function returns what
// it was written to return, so the value is known when the RRef is created.
//
// `settled`: the frame knows the owner has finished creating it (a local RRef, a remote() to self, or one this frame
// fetched). A remote() to another worker is created on the owner only after its function returns
// (assignOwnerRRef); if the RRef reaches its owner before that, unpickling makes an early OwnerRRef, and when the
// forks registered meanwhile are all deleted, delForkOfOwner erases it: the remote() then makes a second OwnerRRef
// and whoever holds the first waits forever for its value. That is a PyTorch defect, not something a correct
// program should do, so the generator never sends an unsettled RRef to its owner (Sendable).
struct RRefModel {
  std::uint64_t id = 0;  // the same RRef in different variables has the same id
  int owner = 0;
  ValueModel value;
  bool settled = false;
};

// Whether pickling `value` to worker `to` is safe: no unsettled RRef goes back to its owner.
bool Sendable(const ValueModel& value, int to);
// Whether to_here of `rref` on worker `at` is safe: a local to_here pickles nothing.
inline bool Fetchable(const RRefModel& rref, int at) { return rref.owner == at || Sendable(rref.value, at); }

struct Variable {
  std::string name;
  ValueModel value;
};

// A program or a function body being written: where it runs and what its variables hold.
struct Frame {
  int worker = 0;
  int depth = 0;                    // 0 for a program; a function called through n calls has depth n
  sim::Block* block = nullptr;      // where the ops go; outlives the frame
  std::vector<Variable> vars;
  int next_var = 0;
  bool holds_handler = false;       // a function that blocks has taken its handler from the budget
  // Variables holding the RRef of a remote() whose function uses RRefs or calls further: the frame fetches each
  // before it ends (or before deleting it). A to_here returns only once that function has returned, so when a
  // program ends, all the work it started has finished. Without this, graceful shutdown (which deletes every
  // confirmed UserRRef once all programs are done) could delete an RRef that a still-running function is about to
  // use, as it would in PyTorch.
  std::vector<std::string> unawaited;

  bool is_program() const { return depth == 0; }
  std::vector<std::size_t> RRefVars() const;           // indices of the variables that carry RRefs
  std::vector<std::size_t> RRefVarsSendableTo(int to) const;
  void Settle(std::uint64_t rref_id);                  // every copy of that RRef in the frame is now settled
  std::string Bind(ValueModel value);                  // a fresh variable holding value; returns its name
};

// The state shared while one scenario is written: the choices, the scenario, the shapes seen so far and the
// blocking budget.
class Writer {
 public:
  Writer(ChoiceSource& choices, const GeneratorOptions& options, int workers);

  std::uint64_t Pick(std::uint64_t n) { return choices_.Below(n); }
  bool Coin() { return Pick(2) == 1; }  // false (0) is the simpler branch
  int PickWorker() { return static_cast<int>(Pick(static_cast<std::uint64_t>(workers_))); }
  // An RRef-carrying variable of the frame, or nullopt when there is none.
  std::optional<std::size_t> PickRRefVar(const Frame& frame);

  int workers() const { return workers_; }
  const GeneratorOptions& options() const { return options_; }
  sim::Scenario& scenario() { return scenario_; }
  std::int64_t NewPayload() { return next_payload_++; }  // distinct payloads, so a wrong value cannot pass
  // A new RRef owned by `owner`, created by worker `creator`: settled at once when the creator is the owner.
  RRefModel NewRRef(int owner, ValueModel value, int creator) {
    return RRefModel{next_rref_++, owner, std::move(value), owner == creator};
  }
  std::string NewFunctionName() { return "f" + std::to_string(next_function_++); }
  // Defines a shared function ("make", "check", "forward") on first use and returns its name.
  std::string Use(const std::string& function);

  // The blocking budget. Every function that blocks (to_here, rpc_sync) holds one handler of its worker until it
  // returns; the generator allows at most pool_size - 1 such functions in a whole scenario, so every worker always
  // keeps a handler for deliveries, whatever the schedule. Programs block on fibers of their own, not handlers.
  bool MayBlock(const Frame& frame) const { return frame.is_program() || frame.holds_handler || spare_handlers_ > 0; }
  void Blocks(Frame& frame);         // call before writing a blocking op; requires MayBlock(frame)
  bool TakeSpareHandler();           // for a function written elsewhere that will block (check, forward's end)

  void Note(const char* shape) { shapes_.insert(shape); }
  // `value` is pickled on worker `from` and unpickled on worker `to`: names the fork shape of each RRef in it.
  void NoteSend(int from, const ValueModel& value, int to);
  std::vector<std::string> Shapes() const { return {shapes_.begin(), shapes_.end()}; }

 private:
  ChoiceSource& choices_;
  const GeneratorOptions& options_;
  int workers_;
  sim::Scenario scenario_;
  std::set<std::string> shapes_;
  int spare_handlers_;
  std::int64_t next_payload_ = 1;
  int next_function_ = 0;
  std::uint64_t next_rref_ = 1;
};

// Steps any frame may take (generator_steps.cc). Each writes its ops to frame.block and updates the model.
void StepLocal(Writer& w, Frame& frame);
void StepRemoteMake(Writer& w, Frame& frame);
void RemoteMakeOn(Writer& w, Frame& frame, int to);
bool StepFetch(Writer& w, Frame& frame);   // false (nothing written) without an RRef variable or a handler
bool StepDel(Writer& w, Frame& frame);
bool StepPack(Writer& w, Frame& frame, int sendable_to = -1);  // only variables Sendable to it, if >= 0
void StepCall(Writer& w, Frame& frame);    // rpc_sync or remote of a generated function, some RRefs as arguments
// A new function run on `worker` with `args`, `depth` calls deep, whose return value is sendable to `reply_to`.
struct Callee {
  std::string function;
  ValueModel returns;
};
Callee WriteFunction(Writer& w, int worker, const ValueModel& args, int depth, int reply_to);
// to_here of the RRef at rref_index of variable var_index, checked with Expect; returns the new variable's index.
std::size_t FetchInto(Writer& w, Frame& frame, std::size_t var_index, std::size_t rref_index);
// Fetches every unawaited variable: the last ops of a program, and of a function before its return.
void AwaitAll(Writer& w, Frame& frame);

// Steps only a program takes (generator_program.cc).
void WriteProgram(Writer& w, Frame& program, int barriers);

}  // namespace rrefsim::scenarios::detail
