#include "rrefsim/sim/scenario.h"

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
  }
  return "";
}

}  // namespace rrefsim::sim
