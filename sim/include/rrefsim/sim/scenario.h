// Scenario programs: workers, each with a program of operations shaped like torch.distributed.rpc, and named
// functions whose bodies run on the callee. Plain data (the JSON format of the scenario issue maps onto it), built
// in C++ with a short script-like API:
//
//   Scenario s("s3_user_to_user", 4);
//   s.Function("make").Return(Int(5));
//   s.Function("check").ToHere("v", "args").Return(Int(0));
//   s.On(0).Remote("a", To(1), "make").RpcSync("", To(2), "check", {"a"}).ToHere("v", "a").Expect("v", 5).Del("a");
//
// Variables hold a value: an int payload and the RRefs it carries (each variable owns one reference per RRef).
// In a function, "args" holds the call's arguments. When a program or function ends, its variables are released,
// as Python frees a frame.
//
// Expectations, checked while the run goes and reported as Observations (world.h) with expected_ok:
// - Expect(var, n): var's payload is n.
// - ExpectOutcome(values, errors) on a to_here or rpc_sync: its result is one of `values`, or an error containing one
//   of `errors`, for PyTorch tests whose result depends on timing. An error is also expected when only values are
//   allowed and the run's faults lose, duplicate, refuse or partition messages (PyTorch surfaces those as errors).
// - Scenario::counters: PyTorch's debug counters of a worker when a program barrier passes.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "rrefsim/core/worker.h"

namespace rrefsim::sim {

using core::TimeUs;

// An integer computed when the op runs: base + add, optionally modulo the world size (for "next worker").
struct IntExpr {
  enum class Base { kLiteral, kArgs, kSelf };  // kArgs: the payload of "args" (a ttl, say)
  Base base = Base::kLiteral;
  std::int64_t value = 0;  // the literal
  std::int64_t add = 0;
  bool modulo_world = false;
  friend bool operator==(const IntExpr&, const IntExpr&) = default;
};
inline IntExpr Int(std::int64_t v) { return IntExpr{IntExpr::Base::kLiteral, v, 0, false}; }
inline IntExpr To(std::int64_t worker) { return Int(worker); }
inline IntExpr ArgPayload(std::int64_t add = 0) { return IntExpr{IntExpr::Base::kArgs, 0, add, false}; }
inline IntExpr Self(std::int64_t add = 0) { return IntExpr{IntExpr::Base::kSelf, 0, add, true}; }

// The results a to_here or rpc_sync may have: a payload in `values`, or an error text that contains one of `errors`.
struct AllowedOutcomes {
  std::vector<std::int64_t> values;
  std::vector<std::string> errors;
  // The set describes what the scenario's own faults do to the call (the faulty agent failing its send, say): under
  // other faults (RunConfig::own_faults false) the call's result is not judged; the invariants still are.
  bool own_faults_only = false;
  friend bool operator==(const AllowedOutcomes&, const AllowedOutcomes&) = default;
};

struct Op {
  enum class Kind {
    kRemote,      // out = rpc.remote(to, function, args..., payload)
    kRpcSync,     // out = rpc_sync(to, function, args..., payload)
    kToHere,      // out = var.rrefs[index].to_here()
    kExpect,      // var's payload must equal payload (checked by the to_here_value checker)
    kDel,         // release every RRef in var
    kLocal,       // out = RRef(payload) on this worker
    kPack,        // out = a value holding every RRef of args (another reference to each, like a Python list)
    kReturn,      // return var (or payload when var is empty)
    kRaise,       // raise text
    kIfPositive,  // if payload > 0 then_ops else else_ops
    kBarrier,     // wait until every worker's program reached the same barrier
    kSleep,       // virtual sleep
    kShutdown,    // rpc.shutdown(graceful=True) now, the frame's RRefs still held; the program's end then skips it
  };
  Kind kind = Kind::kRemote;
  std::string out;
  std::string var;
  std::size_t index = 0;
  IntExpr to;
  IntExpr payload;
  std::string function;
  std::vector<std::string> args;
  std::optional<TimeUs> timeout;
  core::CallKind call_kind = core::CallKind::kPython;
  std::string return_type = "PyObject";
  std::string text;
  TimeUs duration = 0;
  std::vector<Op> then_ops;
  std::vector<Op> else_ops;
  // to_here, rpc_sync: what the result may be. Unset: an error is recorded as expected and a value is not recorded
  // for rpc_sync (a later Expect judges it).
  std::optional<AllowedOutcomes> allowed;
  friend bool operator==(const Op&, const Op&) = default;
};

// A list of ops with chaining builders.
class Block {
 public:
  Block& Remote(std::string out, IntExpr to, std::string function, std::vector<std::string> args = {},
                IntExpr payload = Int(0));
  Block& RpcSync(std::string out, IntExpr to, std::string function, std::vector<std::string> args = {},
                 IntExpr payload = Int(0));
  Block& ToHere(std::string out, std::string var, std::size_t index = 0);
  Block& Expect(std::string var, std::int64_t payload);
  Block& Del(std::string var);
  Block& Local(std::string out, IntExpr payload);
  Block& Pack(std::string out, std::vector<std::string> vars);
  Block& Return(IntExpr payload);
  Block& ReturnVar(std::string var);
  Block& Raise(std::string text);
  Block& IfPositive(IntExpr value, Block then_block, Block else_block = Block());
  Block& Barrier();
  Block& Sleep(TimeUs duration);
  Block& Shutdown();  // programs only, at their top level, at most once: the program then ends without another
  // Modifiers of the last op.
  Block& Timeout(TimeUs timeout);
  Block& Script(std::string return_type);  // a builtin/TorchScript function with this return type
  Block& ExpectOutcome(std::vector<std::int64_t> values, std::vector<std::string> errors = {});  // to_here, rpc_sync

  std::vector<Op> ops;
  friend bool operator==(const Block&, const Block&) = default;
};

struct FunctionDef {
  std::string name;
  Block body;
  friend bool operator==(const FunctionDef&, const FunctionDef&) = default;
};

// PyTorch's _rref_context_get_debug_info() counters that `worker` must show when the program barrier `barrier`
// passes (what PyTorch's tests check with wait_until_owners_and_forks_on_rank after waiting). The run records every
// live worker's counters at the instant the last worker arrives, as "barrier <n> debug" observations; unset counters
// are not checked.
struct CounterExpectation {
  static constexpr int kFinal = 0;  // the last program barrier: every program has the same number, none nested
  int barrier = kFinal;             // 1 for the first program barrier, ..., or kFinal
  int worker = 0;
  std::optional<std::int64_t> owners;           // num_owner_rrefs
  std::optional<std::int64_t> forks;            // num_forks
  std::optional<std::int64_t> pending_users;    // num_pending_users
  std::optional<std::int64_t> pending_futures;  // num_pending_futures
  friend bool operator==(const CounterExpectation&, const CounterExpectation&) = default;
};

struct Scenario {
  Scenario() = default;
  Scenario(std::string name, int workers);
  // The program of `worker`, and a function's body (defined on first use). The references stay valid while the
  // Scenario lives: builders may hold one while defining other functions.
  Block& On(int worker);
  Block& Function(const std::string& name);
  const FunctionDef* FindFunction(const std::string& name) const;

  std::string name;
  int workers = 0;
  int pool_size = 16;  // each worker's handler pool (TensorPipe's num_worker_threads)
  std::vector<Block> programs;
  std::deque<FunctionDef> functions;  // a deque: Function() returns references that later definitions keep valid
  bool graceful_shutdown = true;  // every program ends with rpc.shutdown(graceful=True)
  std::vector<CounterExpectation> counters;
  friend bool operator==(const Scenario&, const Scenario&) = default;
};

// "" when the scenario can run, else what is wrong with it (no workers, a program count that does not match, a pool
// without handlers, an unnamed function, a barrier or shutdown out of place, a negative duration, a counter
// expectation naming a worker or barrier that does not exist). Run refuses a scenario with an error.
std::string Validate(const Scenario& scenario);

// The number of barrier ops at the top level of `block` (what "final" resolves to), and whether any is nested.
int TopLevelBarriers(const Block& block);
bool HasNestedBarrier(const Block& block);

}  // namespace rrefsim::sim
