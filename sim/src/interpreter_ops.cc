// What the interpreter's ops share: evaluating expressions, assigning and releasing frame variables, judging and
// recording errors raised to the application, building call specs.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "interpreter_machine.h"
#include "world_impl.h"

namespace rrefsim::sim::detail {

void Machine::MarkPosition(std::uint64_t phase) {
  if (!w_.keeps_fingerprints()) return;
  Hasher h;
  h.Mix(phase);
  for (std::size_t i : c_.pc) h.Mix(i);
  for (const auto& [name, value] : c_.frame) {
    h.Mix(name);
    h.Mix(static_cast<std::uint64_t>(value.payload));
    for (core::Handle r : value.rrefs) h.Mix(r.id);
    h.Mix(value.rrefs.size());
  }
  h.Mix(c_.shut_down ? 1 : 0);
  for (const std::string& name : c_.unset_by_allowed_error) h.Mix(name);  // a later expect on them is skipped
  h.Mix(c_.unset_by_allowed_error.size());
  w_.SetPosition(c_.fiber, h.value());
}

const std::vector<Op>& Machine::Ops() const {
  const std::vector<Op>* ops = c_.body;
  for (std::size_t level = 0; level + 1 < c_.pc.size(); ++level) {
    const Op& branch = (*ops)[c_.pc[level] & ~kThenBranch];
    ops = (c_.pc[level] & kThenBranch) != 0 ? &branch.then_ops : &branch.else_ops;
  }
  return *ops;
}

std::int64_t Machine::Evaluate(const IntExpr& e) const {
  std::int64_t v = e.value;
  if (e.base == IntExpr::Base::kArgs) {
    auto args = c_.frame.find("args");
    v = args == c_.frame.end() ? 0 : args->second.payload;
  } else if (e.base == IntExpr::Base::kSelf) {
    v = c_.worker;
  }
  v += e.add;
  if (e.modulo_world) {
    std::int64_t n = w_.workers();
    v = ((v % n) + n) % n;
  }
  return v;
}

void Machine::ReleaseValue(core::Value& value) {
  for (core::Handle h : value.rrefs) {
    core::Output out;
    w_.MutableHost(c_.worker).core.Release(h, w_.now(), out);
    w_.Absorb(c_.worker, out);
  }
  value.rrefs.clear();
}

void Machine::Assign(const std::string& name, core::Value value) {
  c_.unset_by_allowed_error.erase(name);
  if (name.empty()) {
    ReleaseValue(value);
    return;
  }
  auto it = c_.frame.find(name);
  if (it != c_.frame.end()) ReleaseValue(it->second);
  c_.frame[name] = std::move(value);
}

// An allowed set states what the scenario's own faults make of the call. Under faults that surface as RPC errors
// (drops, partitions, long delays, the faulty agent), a call whose set lists only values may raise any error, and
// one whose set lists errors may also raise what the network causes (a timeout, a failed send): the faults of a
// campaign (`--faults`) may differ from the scenario's own.
// A set that describes the scenario's own faults says nothing about a run under others.
bool Machine::Unjudged(const Op& op) const {
  return !op.allowed || (op.allowed->own_faults_only && !w_.config().own_faults);
}

bool Machine::ErrorExpected(const Op& op, const std::string& text) const {
  if (Unjudged(op)) return true;  // nothing stated: the error is PyTorch's behaviour, recorded as is
  for (const std::string& pattern : op.allowed->errors) {
    if (text.find(pattern) != std::string::npos) return true;
  }
  if (!FaultsRaiseErrors(w_.config().faults)) return false;
  return op.allowed->errors.empty() || core::IsNetworkFaultError(text);
}

bool Machine::ValueExpected(const Op& op, std::int64_t payload) const {
  if (Unjudged(op)) return true;
  const std::vector<std::int64_t>& values = op.allowed->values;
  return std::find(values.begin(), values.end(), payload) != values.end();
}

// An issued RPC (RunResult::calls_issued) that ended in an error.
Flow Machine::CallRaised(const Op& op, const std::string& text) {
  w_.CountCallEnded(true);
  return Raise(op, text);
}

// An error raised to the application: observed in a program, raised by a function.
Flow Machine::RaiseJudged(const Op& op, const std::string& text, bool allowed) {
  w_.Record({c_.worker, Where(), "error " + text, allowed});
  if (allowed && !op.out.empty() && !c_.frame.contains(op.out)) c_.unset_by_allowed_error.insert(op.out);
  if (!c_.in_function) return kNext;
  c_.result = Raised(text);
  return kEndFlow;
}

// A call or a list that names a variable an allowed error left unset raises NameError, as Python does, and is
// allowed: it only follows from that error. Dropping the name instead (as for a deleted one) would shift the RRefs
// after it, and a callee's to_here at an index would fetch another RRef than the program meant.
std::optional<Flow> Machine::RaiseIfArgUnset(const Op& op) {
  for (const std::string& name : op.args) {
    if (c_.frame.contains(name) || !c_.unset_by_allowed_error.contains(name)) continue;
    std::string text = "NameError: name '" + name + "' is not defined (an allowed error left it unset)";
    return RaiseJudged(op, text, true);
  }
  return std::nullopt;
}

// The destination, or nullopt for one that does not exist: PyTorch 1.13's TensorPipeAgent::getWorkerInfo(id) raises
// "name:<self>,rank:<self> could not find destination id <id>" to the caller (checked on real PyTorch,
// docs/conformance.md); workers are named worker<rank>, as in PyTorch's tests.
std::optional<core::WorkerId> Machine::Destination(const Op& op) const {
  std::int64_t to = Evaluate(op.to);
  if (to < 0 || to >= w_.workers()) return std::nullopt;
  return static_cast<core::WorkerId>(to);
}

std::string Machine::UnknownDestination(const Op& op) const {
  const std::string self = std::to_string(c_.worker);
  return "name:worker" + self + ",rank:" + self + " could not find destination id " + std::to_string(Evaluate(op.to));
}

void Machine::RecordValue(const Op& op, std::int64_t payload) {
  w_.Record({c_.worker, Where(), "value " + std::to_string(payload), ValueExpected(op, payload)});
}

core::CallSpec Machine::Spec(const Op& op) const {
  core::CallSpec spec;
  spec.to = *Destination(op);
  spec.function = op.function;
  spec.args.payload = Evaluate(op.payload);
  for (const std::string& name : op.args) {
    auto it = c_.frame.find(name);
    if (it != c_.frame.end()) spec.args.rrefs.insert(spec.args.rrefs.end(), it->second.rrefs.begin(),
                                                     it->second.rrefs.end());
  }
  spec.kind = op.call_kind;
  spec.return_type = op.return_type;
  spec.timeout = op.timeout;
  return spec;
}

}  // namespace rrefsim::sim::detail
