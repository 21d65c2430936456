#include "scenario_check.h"

#include <set>
#include <string>

#include "json_reader.h"

namespace rrefsim::scenarios::detail {
namespace {

using sim::Op;
using Names = std::set<std::string>;

// Where a block of ops stands: which rules apply to it.
struct Place {
  bool in_function = false;
  bool nested = false;       // inside an if_positive
  int* shutdowns = nullptr;  // a program's top-level shutdown ops so far
};

class Checker {
 public:
  explicit Checker(const sim::Scenario& s) : s_(s) {}

  void Block(const std::vector<Op>& ops, Names& assigned, const std::string& path, Place place) const {
    for (std::size_t i = 0; i < ops.size(); ++i) OneOp(ops[i], assigned, path + "/" + std::to_string(i), place);
  }

 private:
  void OneOp(const Op& op, Names& assigned, const std::string& path, Place place) const {
    Reads(op, assigned, path);
    if (op.kind == Op::Kind::kRemote || op.kind == Op::Kind::kRpcSync) Call(op, path);
    if (op.kind == Op::Kind::kBarrier && place.in_function) {
      throw InputError(path, "a barrier in a function (expected barriers in programs only: they meet by program)");
    }
    if (op.kind == Op::Kind::kShutdown) Shutdown(path, place);
    if (op.kind == Op::Kind::kIfPositive) {
      Names then_names = assigned, else_names = assigned;
      Place inner = place;
      inner.nested = true;
      Block(op.then_ops, then_names, path + "/then", inner);
      Block(op.else_ops, else_names, path + "/else", inner);
      assigned.insert(then_names.begin(), then_names.end());
      assigned.insert(else_names.begin(), else_names.end());
    }
    if (!op.out.empty()) assigned.insert(op.out);
  }

  // Every variable an op reads must be assigned by an earlier op (in either branch of an earlier if_positive).
  void Reads(const Op& op, const Names& assigned, const std::string& path) const {
    auto check = [&assigned](const std::string& name, const std::string& where) {
      if (assigned.contains(name)) return;
      throw InputError(where, "the variable \"" + name +
                                  "\", which no earlier op assigns (expected a name an earlier op gives as \"out\", "
                                  "or \"args\" in a function)");
    };
    if (!op.var.empty()) check(op.var, path + "/var");
    const char* list = op.kind == Op::Kind::kPack ? "/vars/" : "/args/";
    for (std::size_t j = 0; j < op.args.size(); ++j) check(op.args[j], path + list + std::to_string(j));
  }

  void Call(const Op& op, const std::string& path) const {
    if (s_.FindFunction(op.function) == nullptr) {
      throw InputError(path + "/function", "\"" + op.function + "\", which is not defined (expected one of: " +
                                               FunctionNames() + ")");
    }
    if (op.to.base != sim::IntExpr::Base::kLiteral || op.to.modulo_world) return;  // known only when it runs
    const std::int64_t to = op.to.value + op.to.add;
    if (to < 0 || to >= s_.workers) {
      throw InputError(path + "/to", std::to_string(to) + " is out of range (expected a worker of this world, 0 to " +
                                         std::to_string(s_.workers - 1) +
                                         "; an expression such as {\"args\": 0} reaches others when it runs)");
    }
  }

  static void Shutdown(const std::string& path, Place place) {
    if (place.in_function) throw InputError(path, "a shutdown in a function (expected it in a program only)");
    if (place.nested) throw InputError(path, "a shutdown inside an if_positive (expected it at a program's top level)");
    if (++*place.shutdowns > 1) throw InputError(path, "a second shutdown (expected at most one per program)");
  }

  std::string FunctionNames() const {
    std::string names;
    for (const sim::FunctionDef& f : s_.functions) names += (names.empty() ? "" : ", ") + f.name;
    return names.empty() ? "none is defined" : names;
  }

  const sim::Scenario& s_;
};

// sim::Validate's text without its "scenario '<name>': " prefix: the message already names the file.
std::string WithoutScenarioName(const sim::Scenario& s, const std::string& problem) {
  const std::string prefix = "scenario '" + s.name + "': ";
  return problem.rfind(prefix, 0) == 0 ? problem.substr(prefix.size()) : problem;
}

void CheckCounters(const sim::Scenario& s) {
  for (std::size_t i = 0; i < s.counters.size(); ++i) {
    sim::Scenario probe = s;
    probe.counters = {s.counters[i]};
    if (std::string problem = sim::Validate(probe); !problem.empty()) {
      throw InputError("/expect/counters/" + std::to_string(i), WithoutScenarioName(s, problem));
    }
  }
}

}  // namespace

void CheckScenario(const CatalogEntry& entry) {
  const sim::Scenario& s = entry.scenario;
  Names defined;
  for (std::size_t i = 0; i < s.functions.size(); ++i) {
    if (!defined.insert(s.functions[i].name).second) {
      throw InputError("/functions/" + std::to_string(i) + "/name",
                       "a second function named \"" + s.functions[i].name + "\" (expected each name once)");
    }
  }
  Checker checker(s);
  for (std::size_t i = 0; i < s.functions.size(); ++i) {
    Names assigned{"args"};
    const std::string path = "/functions/" + std::to_string(i) + "/body";
    checker.Block(s.functions[i].body.ops, assigned, path, {true, false, nullptr});
  }
  for (std::size_t w = 0; w < s.programs.size(); ++w) {
    Names assigned;
    int shutdowns = 0;
    checker.Block(s.programs[w].ops, assigned, "/programs/" + std::to_string(w) + "/ops", {false, false, &shutdowns});
  }
  CheckCounters(s);
  if (std::string problem = sim::Validate(s); !problem.empty()) throw InputError("", WithoutScenarioName(s, problem));
}

}  // namespace rrefsim::scenarios::detail
