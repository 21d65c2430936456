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
};
inline IntExpr Int(std::int64_t v) { return IntExpr{IntExpr::Base::kLiteral, v, 0, false}; }
inline IntExpr To(std::int64_t worker) { return Int(worker); }
inline IntExpr ArgPayload(std::int64_t add = 0) { return IntExpr{IntExpr::Base::kArgs, 0, add, false}; }
inline IntExpr Self(std::int64_t add = 0) { return IntExpr{IntExpr::Base::kSelf, 0, add, true}; }

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
  // Modifiers of the last op.
  Block& Timeout(TimeUs timeout);
  Block& Script(std::string return_type);  // a builtin/TorchScript function with this return type

  std::vector<Op> ops;
};

struct FunctionDef {
  std::string name;
  Block body;
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
};

// "" when the scenario can run, else what is wrong with it (no workers, a program count that does not match, a pool
// without handlers, an unnamed function). Run refuses a scenario with an error.
std::string Validate(const Scenario& scenario);

}  // namespace rrefsim::sim
