#include "op_format.h"

#include <algorithm>
#include <optional>
#include <regex>

namespace rrefsim::scenarios::detail {
namespace {

using sim::Op;

const char* const kIntExprExpected =
    "an integer expression: an integer, {\"literal\": n}, {\"args\": add} or {\"self\": add}, with an optional "
    "\"modulo_world\": true or false";

// ---------------------------------------------------------------------------------------------------- values

std::int64_t ReadInteger(const Node& node, const std::string& meaning) {
  return node.Integer(-kMaxInteger, kMaxInteger, meaning);
}

std::vector<std::string> ReadNames(const Node& node, const std::string& meaning) {
  std::vector<std::string> names;
  for (const Node& item : node.Array("an array of " + meaning + "s")) names.push_back(ReadName(item, meaning));
  return names;
}

sim::TimeUs ReadDuration(const Node& node, const std::string& meaning) {
  return node.Integer(0, kMaxDurationUs, meaning + " in microseconds");
}

sim::AllowedOutcomes ReadAllowed(const Node& node) {
  Object o(node, {"values", "errors", "own_faults_only"},
           "the results it may have: {\"values\": [integers], \"errors\": [texts an error contains], "
           "\"own_faults_only\": boolean}");
  sim::AllowedOutcomes allowed;
  if (auto values = o.Optional("values")) {
    for (const Node& v : values->Array("an array of integers")) allowed.values.push_back(ReadInteger(v, "a value"));
  }
  if (auto errors = o.Optional("errors")) {
    for (const Node& e : errors->Array("an array of texts")) {
      allowed.errors.push_back(e.NonEmptyString("a text that the error contains"));
    }
  }
  if (auto own = o.Optional("own_faults_only")) allowed.own_faults_only = own->Boolean();
  return allowed;
}

OrderedJson WriteAllowed(const sim::AllowedOutcomes& allowed) {
  OrderedJson j = OrderedJson::object();
  if (!allowed.values.empty()) j["values"] = allowed.values;
  if (!allowed.errors.empty()) j["errors"] = allowed.errors;
  if (allowed.own_faults_only) j["own_faults_only"] = true;
  return j;
}

// ---------------------------------------------------------------------------------------------------- fields

// One op field: how it is read into an Op, whether the Op holds its default (then the writer leaves it out unless
// the kind requires it), and how it is written.
struct FieldFormat {
  const char* name;
  const char* expected;
  void (*read)(Op&, const Node&);
  bool (*is_default)(const Op&);
  OrderedJson (*write)(const Op&);
};

const std::vector<FieldFormat>& Fields() {
  static const std::vector<FieldFormat> fields = {
      {"out", "the variable that receives the result",
       [](Op& op, const Node& n) { op.out = ReadName(n, "variable name"); },
       [](const Op& op) { return op.out.empty(); }, [](const Op& op) { return OrderedJson(op.out); }},
      {"var", "the variable it reads", [](Op& op, const Node& n) { op.var = ReadName(n, "variable name"); },
       [](const Op& op) { return op.var.empty(); }, [](const Op& op) { return OrderedJson(op.var); }},
      {"index", "the position of the RRef in the variable",
       [](Op& op, const Node& n) { op.index = static_cast<std::size_t>(n.Integer(0, kMaxIndex, "a position")); },
       [](const Op& op) { return op.index == 0; }, [](const Op& op) { return OrderedJson(op.index); }},
      {"to", "the destination worker, an integer expression",
       [](Op& op, const Node& n) { op.to = ReadIntExpr(n); }, [](const Op& op) { return op.to == sim::Int(0); },
       [](const Op& op) { return WriteIntExpr(op.to); }},
      {"function", "the name of a function in \"functions\"",
       [](Op& op, const Node& n) { op.function = ReadName(n, "function name"); },
       [](const Op& op) { return op.function.empty(); }, [](const Op& op) { return OrderedJson(op.function); }},
      {"args", "the variables whose RRefs it passes",
       [](Op& op, const Node& n) { op.args = ReadNames(n, "variable name"); },
       [](const Op& op) { return op.args.empty(); }, [](const Op& op) { return OrderedJson(op.args); }},
      {"vars", "the variables whose RRefs it packs",
       [](Op& op, const Node& n) { op.args = ReadNames(n, "variable name"); },
       [](const Op& op) { return op.args.empty(); }, [](const Op& op) { return OrderedJson(op.args); }},
      {"payload", "the integer it passes, an integer expression",
       [](Op& op, const Node& n) { op.payload = ReadIntExpr(n); },
       [](const Op& op) { return op.payload == sim::Int(0); }, [](const Op& op) { return WriteIntExpr(op.payload); }},
      {"value", "an integer expression", [](Op& op, const Node& n) { op.payload = ReadIntExpr(n); },
       [](const Op& op) { return op.payload == sim::Int(0); }, [](const Op& op) { return WriteIntExpr(op.payload); }},
      {"timeout_us", "the timeout in microseconds, 0 for none",
       [](Op& op, const Node& n) { op.timeout = ReadDuration(n, "a timeout"); },
       [](const Op& op) { return !op.timeout.has_value(); },
       [](const Op& op) { return OrderedJson(op.timeout.value_or(0)); }},
      {"script", "the return type of a builtin or TorchScript function",
       [](Op& op, const Node& n) {
         op.call_kind = core::CallKind::kScript;
         op.return_type = n.NonEmptyString("a return type such as \"Tensor\"");
       },
       [](const Op& op) { return op.call_kind == core::CallKind::kPython; },
       [](const Op& op) { return OrderedJson(op.return_type); }},
      {"text", "the error text it raises", [](Op& op, const Node& n) { op.text = n.String("a text"); },
       [](const Op& op) { return op.text.empty(); }, [](const Op& op) { return OrderedJson(op.text); }},
      {"duration_us", "the virtual time it sleeps, in microseconds",
       [](Op& op, const Node& n) { op.duration = ReadDuration(n, "a duration"); },
       [](const Op& op) { return op.duration == 0; }, [](const Op& op) { return OrderedJson(op.duration); }},
      {"then", "the ops run when the value is positive, an array",
       [](Op& op, const Node& n) { op.then_ops = ReadOps(n); }, [](const Op& op) { return op.then_ops.empty(); },
       [](const Op& op) { return WriteOps(op.then_ops); }},
      {"else", "the ops run otherwise, an array", [](Op& op, const Node& n) { op.else_ops = ReadOps(n); },
       [](const Op& op) { return op.else_ops.empty(); }, [](const Op& op) { return WriteOps(op.else_ops); }},
      {"expect", "the results it may have",
       [](Op& op, const Node& n) { op.allowed = ReadAllowed(n); }, [](const Op& op) { return !op.allowed; },
       [](const Op& op) { return WriteAllowed(*op.allowed); }},
  };
  return fields;
}

const FieldFormat& Field(const std::string& name) {
  for (const FieldFormat& f : Fields()) {
    if (name == f.name) return f;
  }
  throw std::logic_error("op_format: no field " + name);
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const KindFormat* FindKind(const std::string& name) {
  for (const KindFormat& k : Kinds()) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

Op ReadOp(const Node& node) {
  const std::string expected = "an op: an object such as {\"op\": \"to_here\", \"var\": \"a\"}";
  if (!node.json().is_object()) node.Expected(expected);
  if (!node.json().contains("op")) {
    throw InputError(node.path() + "/op", "missing (expected the kind of op, one of: " + KindNames() + ")");
  }
  Node kind_node(node.json().at("op"), node.path() + "/op");
  const std::string kind_name = kind_node.String("the kind of op, one of: " + KindNames());
  const KindFormat* kind = FindKind(kind_name);
  if (kind == nullptr) kind_node.Fail("an unknown op \"" + kind_name + "\" (expected one of: " + KindNames() + ")");
  std::vector<std::string> allowed = kind->fields;
  allowed.insert(allowed.begin(), "op");
  Object o(node, allowed, expected);
  Op op;
  op.kind = kind->kind;
  for (const std::string& name : kind->fields) {
    const FieldFormat& field = Field(name);
    std::optional<Node> value =
        Contains(kind->required, name) ? o.Required(name, field.expected) : o.Optional(name);
    if (value) field.read(op, *value);
  }
  return op;
}

OrderedJson WriteOp(const Op& op) {
  const KindFormat& kind = FormatOf(op.kind);
  OrderedJson j = OrderedJson::object();
  j["op"] = kind.name;
  for (const std::string& name : kind.fields) {
    const FieldFormat& field = Field(name);
    if (Contains(kind.required, name) || !field.is_default(op)) j[name] = field.write(op);
  }
  return j;
}

}  // namespace

const std::vector<KindFormat>& Kinds() {
  static const std::vector<KindFormat> kinds = {
      {"remote", Op::Kind::kRemote, {"out", "to", "function", "args", "payload", "timeout_us", "script"},
       {"to", "function"}},
      {"rpc_sync", Op::Kind::kRpcSync,
       {"out", "to", "function", "args", "payload", "timeout_us", "script", "expect"}, {"to", "function"}},
      {"to_here", Op::Kind::kToHere, {"out", "var", "index", "timeout_us", "expect"}, {"var"}},
      {"expect", Op::Kind::kExpect, {"var", "value"}, {"var", "value"}},
      {"del", Op::Kind::kDel, {"var"}, {"var"}},
      {"local", Op::Kind::kLocal, {"out", "value"}, {"value"}},
      {"pack", Op::Kind::kPack, {"out", "vars"}, {"vars"}},
      {"return", Op::Kind::kReturn, {"var", "value"}, {}},
      {"raise", Op::Kind::kRaise, {"text"}, {"text"}},
      {"if_positive", Op::Kind::kIfPositive, {"value", "then", "else"}, {"value", "then"}},
      {"barrier", Op::Kind::kBarrier, {}, {}},
      {"sleep", Op::Kind::kSleep, {"duration_us"}, {"duration_us"}},
      {"shutdown", Op::Kind::kShutdown, {}, {}},
  };
  return kinds;
}

const KindFormat& FormatOf(Op::Kind kind) {
  for (const KindFormat& k : Kinds()) {
    if (k.kind == kind) return k;
  }
  throw std::logic_error("op_format: an op kind without a JSON name");
}

std::string KindNames() {
  std::string names;
  for (const KindFormat& k : Kinds()) names += (names.empty() ? "" : ", ") + std::string(k.name);
  return names;
}

std::vector<Op> ReadOps(const Node& node) {
  std::vector<Op> ops;
  for (const Node& item : node.Array("an array of ops")) ops.push_back(ReadOp(item));
  return ops;
}

OrderedJson WriteOps(const std::vector<Op>& ops) {
  OrderedJson j = OrderedJson::array();
  for (const Op& op : ops) j.push_back(WriteOp(op));
  return j;
}

sim::IntExpr ReadIntExpr(const Node& node) {
  if (node.json().is_number()) return sim::Int(ReadInteger(node, "a literal"));
  Object o(node, {"literal", "args", "self", "modulo_world"}, kIntExprExpected);
  int bases = o.Has("literal") + o.Has("args") + o.Has("self");
  if (bases != 1) node.Fail("an object with " + std::to_string(bases) + " of literal, args, self (expected one)");
  sim::IntExpr e;
  if (auto n = o.Optional("literal")) {
    e = sim::Int(ReadInteger(*n, "a literal"));
  } else if (auto a = o.Optional("args")) {
    e = sim::ArgPayload(ReadInteger(*a, "what is added to the payload of \"args\""));
  } else {
    e = sim::Self(ReadInteger(o.Required("self", kIntExprExpected), "what is added to this worker's id"));
  }
  if (auto m = o.Optional("modulo_world")) e.modulo_world = m->Boolean();
  return e;
}

// Canonical: a plain integer for a literal; otherwise the base, and modulo_world only where it differs from the
// base's default (self wraps around the world, the others do not).
OrderedJson WriteIntExpr(const sim::IntExpr& e) {
  using Base = sim::IntExpr::Base;
  if (e.base == Base::kLiteral && !e.modulo_world) return e.value + e.add;
  OrderedJson j = OrderedJson::object();
  switch (e.base) {
    case Base::kLiteral:
      j["literal"] = e.value + e.add;
      break;
    case Base::kArgs:
      j["args"] = e.add;
      break;
    case Base::kSelf:
      j["self"] = e.add;
      break;
  }
  if (e.modulo_world != (e.base == Base::kSelf)) j["modulo_world"] = e.modulo_world;
  return j;
}

std::string ReadName(const Node& node, const std::string& meaning) {
  static const std::regex kIdentifier("[A-Za-z_][A-Za-z0-9_]*");
  const std::string expected = "a " + meaning + ": letters, digits and _, not starting with a digit";
  std::string name = node.String(expected);
  if (!std::regex_match(name, kIdentifier)) {
    node.Fail("\"" + name + "\" is not a " + meaning + " (expected " + expected + ")");
  }
  return name;
}

}  // namespace rrefsim::scenarios::detail
