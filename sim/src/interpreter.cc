// The op interpreter. Each op calls the worker's core, applies the output, and yields (a scheduling point), so
// every interleaving of application steps with deliveries and handler work is reachable. Errors that PyTorch raises
// to the application become observations in a program and a raised exception in a function.
#include "interpreter.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "world_impl.h"

namespace rrefsim::sim::detail {
namespace {

enum class Flow { kNext, kReturned, kRaised, kCancelled };

constexpr std::size_t kThenBranch = std::size_t{1} << 40;  // marks an if_positive's then branch in Context::pc

struct Context {
  World& world;
  int worker;
  bool in_function;
  std::string where;  // "program 0" or "f on 2"
  Frame frame;
  core::FunctionResult result;
  bool shut_down = false;  // a shutdown op ran: the program's end does not shut down again
  std::vector<std::size_t> pc = {};  // the op index at each nesting level (if_positive), outermost first
  // Variables left without a value because the op that sets them raised an error the run allows (a timeout under
  // faults, say). Programs go on after an error, so a later `expect` on one of them is skipped, not a failure: the
  // error itself was already judged.
  std::set<std::string> unset_by_allowed_error = {};
};

// Records where the fiber stands (op path, phase, frame) before it may be suspended, for StateFingerprint: two
// fibers with the same position and the same world around them continue identically. Phase 0: inside the op (waiting
// for a future, a barrier, a sleep or shutdown); phase 1: the op is done, at its yield.
void MarkPosition(Context& c, std::uint64_t phase) {
  if (!c.world.keeps_fingerprints()) return;
  Hasher h;
  h.Mix(phase);
  for (std::size_t i : c.pc) h.Mix(i);
  for (const auto& [name, value] : c.frame) {
    h.Mix(name);
    h.Mix(static_cast<std::uint64_t>(value.payload));
    for (core::Handle r : value.rrefs) h.Mix(r.id);
    h.Mix(value.rrefs.size());
  }
  h.Mix(c.shut_down ? 1 : 0);
  for (const std::string& name : c.unset_by_allowed_error) h.Mix(name);  // a later expect on them is skipped
  h.Mix(c.unset_by_allowed_error.size());
  c.world.SetPosition(h.value());
}

core::FunctionResult Raised(const std::string& text) {
  core::FunctionResult r;
  r.kind = core::FunctionResult::Kind::kRaised;
  r.error = text;
  return r;
}

std::int64_t Evaluate(const Context& c, const IntExpr& e) {
  std::int64_t v = e.value;
  if (e.base == IntExpr::Base::kArgs) {
    auto args = c.frame.find("args");
    v = args == c.frame.end() ? 0 : args->second.payload;
  } else if (e.base == IntExpr::Base::kSelf) {
    v = c.worker;
  }
  v += e.add;
  if (e.modulo_world) {
    std::int64_t n = c.world.workers();
    v = ((v % n) + n) % n;
  }
  return v;
}

void ReleaseValue(Context& c, core::Value& value) {
  for (core::Handle h : value.rrefs) {
    core::Output out;
    c.world.host(c.worker).core.Release(h, c.world.now(), out);
    c.world.Absorb(c.worker, out);
  }
  value.rrefs.clear();
}

void Assign(Context& c, const std::string& name, core::Value value) {
  c.unset_by_allowed_error.erase(name);
  if (name.empty()) {
    ReleaseValue(c, value);
    return;
  }
  auto it = c.frame.find(name);
  if (it != c.frame.end()) ReleaseValue(c, it->second);
  c.frame[name] = std::move(value);
}

// An allowed set states what the scenario's own faults make of the call. Under faults that surface as RPC errors
// (drops, partitions, long delays, the faulty agent), a call whose set lists only values may raise any error, and
// one whose set lists errors may also raise what the network causes (a timeout, a failed send): the faults of a
// campaign (`--faults`) may differ from the scenario's own.
// A set that describes the scenario's own faults says nothing about a run under others.
bool Unjudged(const Context& c, const Op& op) {
  return !op.allowed || (op.allowed->own_faults_only && !c.world.config().own_faults);
}

bool ErrorExpected(const Context& c, const Op& op, const std::string& text) {
  if (Unjudged(c, op)) return true;  // nothing stated: the error is PyTorch's behaviour, recorded as is
  for (const std::string& pattern : op.allowed->errors) {
    if (text.find(pattern) != std::string::npos) return true;
  }
  if (!FaultsRaiseErrors(c.world.config().faults)) return false;
  return op.allowed->errors.empty() || core::IsNetworkFaultError(text);
}

bool ValueExpected(const Context& c, const Op& op, std::int64_t payload) {
  if (Unjudged(c, op)) return true;
  const std::vector<std::int64_t>& values = op.allowed->values;
  return std::find(values.begin(), values.end(), payload) != values.end();
}

// An error raised to the application: observed in a program, raised by a function.
Flow RaiseJudged(Context& c, const Op& op, std::size_t op_index, const std::string& text, bool allowed) {
  c.world.Record({c.worker, c.where + " op " + std::to_string(op_index), "error " + text, allowed});
  if (allowed && !op.out.empty() && !c.frame.contains(op.out)) c.unset_by_allowed_error.insert(op.out);
  if (!c.in_function) return Flow::kNext;
  c.result = Raised(text);
  return Flow::kRaised;
}

Flow Raise(Context& c, const Op& op, std::size_t op_index, const std::string& text) {
  return RaiseJudged(c, op, op_index, text, ErrorExpected(c, op, text));
}

// An issued RPC (RunResult::calls_issued) that ended in an error.
Flow CallRaised(Context& c, const Op& op, std::size_t op_index, const std::string& text) {
  c.world.CountCallEnded(true);
  return Raise(c, op, op_index, text);
}

// A call or a list that names a variable an allowed error left unset raises NameError, as Python does, and is
// allowed: it only follows from that error. Dropping the name instead (as for a deleted one) would shift the RRefs
// after it, and a callee's to_here at an index would fetch another RRef than the program meant.
std::optional<Flow> RaiseIfArgUnset(Context& c, const Op& op, std::size_t op_index) {
  for (const std::string& name : op.args) {
    if (c.frame.contains(name) || !c.unset_by_allowed_error.contains(name)) continue;
    std::string text = "NameError: name '" + name + "' is not defined (an allowed error left it unset)";
    return RaiseJudged(c, op, op_index, text, true);
  }
  return std::nullopt;
}

// The destination, or nullopt for one that does not exist: PyTorch 1.13's TensorPipeAgent::getWorkerInfo(id) raises
// "name:<self>,rank:<self> could not find destination id <id>" to the caller (checked on real PyTorch,
// docs/conformance.md); workers are named worker<rank>, as in PyTorch's tests.
std::optional<core::WorkerId> Destination(Context& c, const Op& op) {
  std::int64_t to = Evaluate(c, op.to);
  if (to < 0 || to >= c.world.workers()) return std::nullopt;
  return static_cast<core::WorkerId>(to);
}

void RecordValue(Context& c, const Op& op, std::size_t op_index, std::int64_t payload) {
  c.world.Record({c.worker, c.where + " op " + std::to_string(op_index), "value " + std::to_string(payload),
                  ValueExpected(c, op, payload)});
}

std::string UnknownDestination(const Context& c, const Op& op) {
  const std::string self = std::to_string(c.worker);
  return "name:worker" + self + ",rank:" + self + " could not find destination id " +
         std::to_string(Evaluate(c, op.to));
}

core::CallSpec Spec(Context& c, const Op& op) {
  core::CallSpec spec;
  spec.to = *Destination(c, op);
  spec.function = op.function;
  spec.args.payload = Evaluate(c, op.payload);
  for (const std::string& name : op.args) {
    auto it = c.frame.find(name);
    if (it != c.frame.end()) spec.args.rrefs.insert(spec.args.rrefs.end(), it->second.rrefs.begin(),
                                                    it->second.rrefs.end());
  }
  spec.kind = op.call_kind;
  spec.return_type = op.return_type;
  spec.timeout = op.timeout;
  return spec;
}

Flow Exec(Context& c, const std::vector<Op>& ops);
bool Shutdown(Context& c);

Flow ExecOne(Context& c, const Op& op, std::size_t index) {
  Host& h = c.world.host(c.worker);
  core::Output out;
  c.pc.back() = index;
  MarkPosition(c, 0);
  switch (op.kind) {
    case Op::Kind::kRemote: {
      if (std::optional<Flow> raised = RaiseIfArgUnset(c, op, index)) return *raised;
      c.world.CountCallIssued();
      if (!Destination(c, op)) return CallRaised(c, op, index, UnknownDestination(c, op));
      core::Expected<core::Handle> r = h.core.Remote(Spec(c, op), c.world.now(), out);
      c.world.Absorb(c.worker, out);
      if (!r.ok()) return CallRaised(c, op, index, r.error);
      c.world.CountCallEnded(false);  // what creating the value raises, to_here raises
      Assign(c, op.out, core::Value{0, {*r.value}});
      break;
    }
    case Op::Kind::kRpcSync: {
      if (std::optional<Flow> raised = RaiseIfArgUnset(c, op, index)) return *raised;
      c.world.CountCallIssued();
      if (!Destination(c, op)) return CallRaised(c, op, index, UnknownDestination(c, op));
      core::Expected<core::FutureId> f = h.core.RpcAsync(Spec(c, op), c.world.now(), out);
      c.world.Absorb(c.worker, out);
      if (!f.ok()) return CallRaised(c, op, index, f.error);
      core::Outcome outcome;
      if (!c.world.WaitFuture(c.worker, *f.value, &outcome)) return Flow::kCancelled;
      if (!outcome.ok()) return CallRaised(c, op, index, *outcome.error);
      c.world.CountCallEnded(false);
      if (op.allowed) RecordValue(c, op, index, outcome.value.payload);
      Assign(c, op.out, std::move(outcome.value));
      break;
    }
    case Op::Kind::kToHere: {
      auto var = c.frame.find(op.var);
      if (var == c.frame.end() || op.index >= var->second.rrefs.size()) {
        return Raise(c, op, index, "no RRef at index " + std::to_string(op.index) + " of '" + op.var + "'");
      }
      c.world.CountCallIssued();
      core::Expected<core::FutureId> f = h.core.ToHere(var->second.rrefs[op.index], op.timeout, c.world.now(), out);
      c.world.Absorb(c.worker, out);
      if (!f.ok()) return CallRaised(c, op, index, f.error);
      core::Outcome outcome;
      if (!c.world.WaitFuture(c.worker, *f.value, &outcome)) return Flow::kCancelled;
      if (!outcome.ok()) return CallRaised(c, op, index, *outcome.error);
      c.world.CountCallEnded(false);
      RecordValue(c, op, index, outcome.value.payload);
      Assign(c, op.out, std::move(outcome.value));
      break;
    }
    case Op::Kind::kExpect: {
      auto var = c.frame.find(op.var);
      std::int64_t expected = Evaluate(c, op.payload);
      bool ok = var != c.frame.end() && var->second.payload == expected;
      std::string what = "as expected";
      if (var == c.frame.end() && c.unset_by_allowed_error.contains(op.var)) {
        ok = true;
        what = "skipped: '" + op.var + "' has no value, since the op that sets it raised an allowed error";
      } else if (var == c.frame.end()) {
        what = "expected " + std::to_string(expected) + " in '" + op.var + "', which has no value (an earlier op failed)";
      } else if (!ok) {
        what = "expected " + std::to_string(expected) + " in '" + op.var + "', got " + std::to_string(var->second.payload);
      }
      c.world.Record({c.worker, c.where + " op " + std::to_string(index), what, ok});
      break;
    }
    case Op::Kind::kDel: {
      auto var = c.frame.find(op.var);
      if (var != c.frame.end()) {
        ReleaseValue(c, var->second);
        c.frame.erase(var);
      }
      break;
    }
    case Op::Kind::kLocal:
      Assign(c, op.out, core::Value{0, {h.core.CreateLocal(core::Value{Evaluate(c, op.payload), {}}, "PyObject")}});
      c.world.MarkChanged(c.worker);  // no output to Absorb, but a new OwnerRRef for the views
      break;
    case Op::Kind::kPack: {
      if (std::optional<Flow> raised = RaiseIfArgUnset(c, op, index)) return *raised;
      core::Value packed;
      for (const std::string& name : op.args) {
        auto it = c.frame.find(name);
        if (it == c.frame.end()) continue;
        for (core::Handle r : it->second.rrefs) {
          h.core.Retain(r);
          c.world.MarkChanged(c.worker);  // app_refs in the views
          packed.rrefs.push_back(r);
        }
      }
      Assign(c, op.out, std::move(packed));
      break;
    }
    case Op::Kind::kReturn:
      c.result.kind = core::FunctionResult::Kind::kReturned;
      if (!op.var.empty() && c.frame.contains(op.var)) {
        c.result.value = c.frame.at(op.var);  // borrowed: the frame still owns the references
      } else {
        c.result.value = core::Value{Evaluate(c, op.payload), {}};
      }
      return Flow::kReturned;
    case Op::Kind::kRaise:
      c.result = Raised(op.text);
      return Flow::kRaised;
    case Op::Kind::kIfPositive: {
      const bool then = Evaluate(c, op.payload) > 0;
      if (then) c.pc.back() |= kThenBranch;  // the branch is part of the position
      return Exec(c, then ? op.then_ops : op.else_ops);
    }
    case Op::Kind::kBarrier:
      if (!c.world.ProgramBarrier(++h.barriers_passed)) return Flow::kCancelled;
      break;
    case Op::Kind::kSleep:
      if (!c.world.SleepFor(op.duration)) return Flow::kCancelled;
      break;
    case Op::Kind::kShutdown:
      if (!Shutdown(c)) return Flow::kCancelled;
      c.shut_down = true;
      break;
  }
  MarkPosition(c, 1);
  return c.world.Yield() ? Flow::kNext : Flow::kCancelled;
}

Flow Exec(Context& c, const std::vector<Op>& ops) {
  c.pc.push_back(0);
  Flow flow = Flow::kNext;
  for (std::size_t i = 0; i < ops.size() && flow == Flow::kNext; ++i) flow = ExecOne(c, ops[i], i);
  c.pc.pop_back();
  return flow;
}

void ReleaseFrame(Context& c) {
  for (auto& [name, value] : c.frame) ReleaseValue(c, value);
  c.frame.clear();
}

// rpc.shutdown(graceful=True): _wait_all_workers, delAllUsersAndUnforkedOwners, join, destroyInstance.
bool Shutdown(Context& c) {
  World& w = c.world;
  Host& h = w.host(c.worker);
  if (!w.Barrier("the shutdown barrier")) return false;
  core::Output out;
  h.core.DeleteAllUsersAndUnforkedOwners(w.now(), out);
  w.Absorb(c.worker, out);
  if (!w.WaitOwnersDeleted(c.worker)) return false;
  if (!w.WaitJoin(c.worker)) return false;
  h.core.StopAgent();
  core::Expected<bool> destroyed = h.core.DestroyContext(w.config().ignore_rref_leak, out);
  w.Absorb(c.worker, out);
  if (!destroyed.ok()) w.Record({c.worker, "shutdown", "error " + destroyed.error, true});
  return true;
}

}  // namespace

void RunProgram(World& world, int worker) {
  Context c{world, worker, false, "program " + std::to_string(worker), {}, {}};
  const Block& program = world.scenario().programs.at(static_cast<std::size_t>(worker));
  if (Exec(c, program.ops) == Flow::kCancelled) return;
  ReleaseFrame(c);
  c.pc = {program.ops.size()};  // past the last op: in the program's own shutdown
  MarkPosition(c, 0);
  if (world.scenario().graceful_shutdown && !c.shut_down && !Shutdown(c)) return;
  world.host(worker).finished = true;
}

void RunFunctionBody(World& world, int worker, core::RunFunction run) {
  Context c{world, worker, true, run.function + " on " + std::to_string(worker), {}, {}};
  c.frame["args"] = std::move(run.args);
  const FunctionDef* def = world.scenario().FindFunction(run.function);
  if (def == nullptr) {
    c.result.kind = core::FunctionResult::Kind::kFailed;
    c.result.error = "unknown function " + run.function;
  } else {
    c.result.value = core::Value{0, {}};  // falling off the end returns None (payload 0)
    if (Exec(c, def->body.ops) == Flow::kCancelled) return;
  }
  // The frame goes right after the reply and before anything the function held back (§9.4): the core releases it.
  for (auto& [name, value] : c.frame) {
    c.result.release_after_reply.insert(c.result.release_after_reply.end(), value.rrefs.begin(), value.rrefs.end());
  }
  c.frame.clear();
  core::Output out;
  world.host(worker).core.FinishFunction(run.work, c.result, world.now(), out);
  world.Absorb(worker, out);
  world.FunctionDone(worker);
}

}  // namespace rrefsim::sim::detail
