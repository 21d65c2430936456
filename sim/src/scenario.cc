#include "rrefsim/sim/scenario.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace rrefsim::sim {
namespace {

Op Call(Op::Kind kind, std::string out, IntExpr to, std::string function, std::vector<std::string> args,
        IntExpr payload) {
  Op op;
  op.kind = kind;
  op.out = std::move(out);
  op.to = to;
  op.function = std::move(function);
  op.args = std::move(args);
  op.payload = payload;
  return op;
}

}  // namespace

Block& Block::Remote(std::string out, IntExpr to, std::string function, std::vector<std::string> args,
                     IntExpr payload) {
  ops.push_back(Call(Op::Kind::kRemote, std::move(out), to, std::move(function), std::move(args), payload));
  return *this;
}

Block& Block::RpcSync(std::string out, IntExpr to, std::string function, std::vector<std::string> args,
                      IntExpr payload) {
  ops.push_back(Call(Op::Kind::kRpcSync, std::move(out), to, std::move(function), std::move(args), payload));
  return *this;
}

Block& Block::ToHere(std::string out, std::string var, std::size_t index) {
  Op op;
  op.kind = Op::Kind::kToHere;
  op.out = std::move(out);
  op.var = std::move(var);
  op.index = index;
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Expect(std::string var, std::int64_t payload) {
  Op op;
  op.kind = Op::Kind::kExpect;
  op.var = std::move(var);
  op.payload = Int(payload);
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Del(std::string var) {
  Op op;
  op.kind = Op::Kind::kDel;
  op.var = std::move(var);
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Local(std::string out, IntExpr payload) {
  Op op;
  op.kind = Op::Kind::kLocal;
  op.out = std::move(out);
  op.payload = payload;
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Pack(std::string out, std::vector<std::string> vars) {
  Op op;
  op.kind = Op::Kind::kPack;
  op.out = std::move(out);
  op.args = std::move(vars);
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Return(IntExpr payload) {
  Op op;
  op.kind = Op::Kind::kReturn;
  op.payload = payload;
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::ReturnVar(std::string var) {
  Op op;
  op.kind = Op::Kind::kReturn;
  op.var = std::move(var);
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Raise(std::string text) {
  Op op;
  op.kind = Op::Kind::kRaise;
  op.text = std::move(text);
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::IfPositive(IntExpr value, Block then_block, Block else_block) {
  Op op;
  op.kind = Op::Kind::kIfPositive;
  op.payload = value;
  op.then_ops = std::move(then_block.ops);
  op.else_ops = std::move(else_block.ops);
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Barrier() {
  Op op;
  op.kind = Op::Kind::kBarrier;
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Sleep(TimeUs duration) {
  Op op;
  op.kind = Op::Kind::kSleep;
  op.duration = duration;
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Shutdown() {
  Op op;
  op.kind = Op::Kind::kShutdown;
  ops.push_back(std::move(op));
  return *this;
}

Block& Block::Timeout(TimeUs timeout) {
  if (ops.empty()) throw std::logic_error("Timeout() needs an op before it");
  ops.back().timeout = timeout;
  return *this;
}

Block& Block::Script(std::string return_type) {
  if (ops.empty()) throw std::logic_error("Script() needs an op before it");
  ops.back().call_kind = core::CallKind::kScript;
  ops.back().return_type = std::move(return_type);
  return *this;
}

Block& Block::ExpectOutcome(std::vector<std::int64_t> values, std::vector<std::string> errors) {
  if (ops.empty()) throw std::logic_error("ExpectOutcome() needs an op before it");
  ops.back().allowed = AllowedOutcomes{std::move(values), std::move(errors)};
  return *this;
}

Scenario::Scenario(std::string n, int w) : name(std::move(n)), workers(w), programs(static_cast<size_t>(w)) {}

Block& Scenario::On(int worker) { return programs.at(static_cast<size_t>(worker)); }

Block& Scenario::Function(const std::string& function_name) {
  for (FunctionDef& f : functions) {
    if (f.name == function_name) return f.body;
  }
  functions.push_back({function_name, {}});
  return functions.back().body;
}

const FunctionDef* Scenario::FindFunction(const std::string& function_name) const {
  for (const FunctionDef& f : functions) {
    if (f.name == function_name) return &f;
  }
  return nullptr;
}

int TopLevelBarriers(const Block& block) {
  int n = 0;
  for (const Op& op : block.ops) n += op.kind == Op::Kind::kBarrier ? 1 : 0;
  return n;
}

namespace {

bool ContainsKind(const std::vector<Op>& ops, Op::Kind kind) {
  for (const Op& op : ops) {
    if (op.kind == kind || ContainsKind(op.then_ops, kind) || ContainsKind(op.else_ops, kind)) return true;
  }
  return false;
}

// Every barrier op in `ops`, nested ones included: the most barriers a run of the block can pass.
int AllBarriers(const std::vector<Op>& ops) {
  int n = 0;
  for (const Op& op : ops) {
    n += (op.kind == Op::Kind::kBarrier ? 1 : 0) + std::max(AllBarriers(op.then_ops), AllBarriers(op.else_ops));
  }
  return n;
}

// What is wrong with one op wherever it stands ("" when nothing): negative times, an outcome set on an op without
// a result.
std::string CheckOp(const Op& op) {
  if (op.timeout && *op.timeout < 0) return "a negative timeout (expected 0 for none, or more)";
  if (op.duration < 0) return "a negative sleep (expected 0 or more)";
  if (op.allowed && op.kind != Op::Kind::kToHere && op.kind != Op::Kind::kRpcSync) {
    return "an outcome set on an op without a result (expected only on to_here and rpc_sync)";
  }
  return "";
}

std::string CheckOps(const std::vector<Op>& ops, const std::string& where) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    std::string here = where + " op " + std::to_string(i);
    if (std::string problem = CheckOp(ops[i]); !problem.empty()) return here + ": " + problem;
    if (std::string problem = CheckOps(ops[i].then_ops, here + " then"); !problem.empty()) return problem;
    if (std::string problem = CheckOps(ops[i].else_ops, here + " else"); !problem.empty()) return problem;
  }
  return "";
}

// Barriers meet by program, and a shutdown ends a program: neither belongs in a function, and a program shuts down
// at most once, at its top level.
std::string CheckPlacement(const Scenario& s) {
  for (const FunctionDef& f : s.functions) {
    if (ContainsKind(f.body.ops, Op::Kind::kBarrier)) return "function " + f.name + " has a barrier (programs only)";
    if (ContainsKind(f.body.ops, Op::Kind::kShutdown)) return "function " + f.name + " shuts down (programs only)";
  }
  for (std::size_t w = 0; w < s.programs.size(); ++w) {
    const std::vector<Op>& ops = s.programs[w].ops;
    int top = 0;
    bool nested = false;
    for (const Op& op : ops) {
      top += op.kind == Op::Kind::kShutdown ? 1 : 0;
      nested = nested || ContainsKind(op.then_ops, Op::Kind::kShutdown) ||
               ContainsKind(op.else_ops, Op::Kind::kShutdown);
    }
    if (top > 1 || nested) {
      return "program " + std::to_string(w) + " shuts down " + (nested ? "inside an if_positive" : "twice") +
             " (expected at most once, at its top level)";
    }
  }
  return "";
}

std::string CheckCounterExpectation(const Scenario& s, const CounterExpectation& e) {
  std::string which = "the counters expected at barrier " +
                      (e.barrier == CounterExpectation::kFinal ? std::string("final") : std::to_string(e.barrier)) +
                      " on worker " + std::to_string(e.worker);
  if (e.worker < 0 || e.worker >= s.workers) {
    return which + ": no such worker (expected 0 to " + std::to_string(s.workers - 1) + ")";
  }
  if (!e.owners && !e.forks && !e.pending_users && !e.pending_futures) return which + ": no counter is set";
  if (e.barrier < 0) return which + ": a negative barrier number (expected 1 or more, or final)";
  int most = 0;
  for (const Block& p : s.programs) most = std::max(most, AllBarriers(p.ops));
  if (e.barrier > most) return which + ": no program has that many barriers (at most " + std::to_string(most) + ")";
  if (e.barrier != CounterExpectation::kFinal) return "";
  for (std::size_t w = 0; w < s.programs.size(); ++w) {
    const Block& p = s.programs[w];
    if (HasNestedBarrier(p) || TopLevelBarriers(p) != TopLevelBarriers(s.programs[0]) || TopLevelBarriers(p) == 0) {
      return which + ": program " + std::to_string(w) +
             " does not say which barrier is final (expected every program to have the same number, at least one, "
             "none inside an if_positive)";
    }
  }
  return "";
}

}  // namespace

bool HasNestedBarrier(const Block& block) {
  for (const Op& op : block.ops) {
    if (ContainsKind(op.then_ops, Op::Kind::kBarrier) || ContainsKind(op.else_ops, Op::Kind::kBarrier)) return true;
  }
  return false;
}

std::string Validate(const Scenario& s) {
  if (s.workers < 1 || s.workers > 32767) {
    return "scenario '" + s.name + "': workers is " + std::to_string(s.workers) + " (expected 1 to 32767)";
  }
  if (static_cast<int>(s.programs.size()) != s.workers) {
    return "scenario '" + s.name + "': " + std::to_string(s.programs.size()) + " programs for " +
           std::to_string(s.workers) + " workers (expected one program per worker)";
  }
  if (s.pool_size < 1) {
    return "scenario '" + s.name + "': pool_size is " + std::to_string(s.pool_size) + " (expected at least 1)";
  }
  for (const FunctionDef& f : s.functions) {
    if (f.name.empty()) return "scenario '" + s.name + "': a function has no name";
    if (std::string problem = CheckOps(f.body.ops, "function " + f.name); !problem.empty()) {
      return "scenario '" + s.name + "': " + problem;
    }
  }
  for (std::size_t w = 0; w < s.programs.size(); ++w) {
    if (std::string problem = CheckOps(s.programs[w].ops, "program " + std::to_string(w)); !problem.empty()) {
      return "scenario '" + s.name + "': " + problem;
    }
  }
  if (std::string problem = CheckPlacement(s); !problem.empty()) return "scenario '" + s.name + "': " + problem;
  for (const CounterExpectation& e : s.counters) {
    if (std::string problem = CheckCounterExpectation(s, e); !problem.empty()) {
      return "scenario '" + s.name + "': " + problem;
    }
  }
  return "";
}

}  // namespace rrefsim::sim
