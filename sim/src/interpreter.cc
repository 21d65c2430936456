// The op interpreter. Each op calls the worker's core, applies the output, and yields (a scheduling point), so
// every interleaving of application steps with deliveries and handler work is reachable. Errors that PyTorch raises
// to the application become observations in a program and a raised exception in a function.
//
// A continuation suspends only inside an op that waits (a future, a barrier, a sleep, a shutdown step) or at an op's
// closing yield; Step resumes it there from its data alone (Continuation::at, pc, future, shutdown_step), so the
// same code runs on a fiber and in the explorer's fiber-free world.
#include <string>
#include <utility>

#include "interpreter_machine.h"
#include "world_impl.h"

namespace rrefsim::sim::detail {

Continuation ProgramContinuation(const Scenario& scenario, int worker) {
  Continuation c;
  c.worker = worker;
  c.where = "program " + std::to_string(worker);
  c.body = &scenario.programs.at(static_cast<std::size_t>(worker)).ops;
  return c;
}

Continuation FunctionContinuation(const Scenario& scenario, int worker, core::RunFunction run) {
  Continuation c;
  c.worker = worker;
  c.in_function = true;
  c.where = run.function + " on " + std::to_string(worker);
  c.work = run.work;
  c.frame["args"] = std::move(run.args);
  const FunctionDef* def = scenario.FindFunction(run.function);
  if (def == nullptr) {
    c.result.kind = core::FunctionResult::Kind::kFailed;
    c.result.error = "unknown function " + run.function;
  } else {
    c.body = &def->body.ops;
    c.result.value = core::Value{0, {}};  // falling off the end returns None (payload 0)
  }
  return c;
}

Suspension Step(World& world, Continuation& c, bool resumed) { return Machine(world, c).Run(resumed); }

Suspension Machine::Run(bool resumed) {
  Flow flow = kNext;
  switch (c_.at) {
    case Continuation::At::kStart:
      if (c_.body == nullptr) return End();  // an unknown function: it fails at once
      c_.pc = {0};
      c_.at = Continuation::At::kNextOp;
      break;
    case Continuation::At::kAtYield:
      if (!resumed) return Suspend(kCancelledFlow);
      c_.pc.back() = index() + 1;
      c_.at = Continuation::At::kNextOp;
      break;
    case Continuation::At::kInOp:
      if (!resumed) return Suspend(kCancelledFlow);
      flow = Resume(CurrentOp());
      break;
    case Continuation::At::kFinalShutdown:
      if (!resumed) return Suspend(kCancelledFlow);
      return End();
    case Continuation::At::kNextOp:
    case Continuation::At::kEnd:
    case Continuation::At::kDone:
      break;
  }
  for (;;) {
    if (flow.kind != Flow::Kind::kNext) {
      if (flow.kind == Flow::Kind::kEnd) return End();
      return Suspend(flow);
    }
    if (c_.at == Continuation::At::kInOp) {  // the op went on without a scheduling point: the next one
      c_.pc.back() = index() + 1;
      c_.at = Continuation::At::kNextOp;
    }
    if (c_.pc.back() >= Ops().size()) {  // the block is done: the body, or an if_positive's branch
      c_.pc.pop_back();
      if (c_.pc.empty()) return End();
      c_.pc.back() = index() + 1;  // the if_positive ends without a scheduling point of its own
      continue;
    }
    flow = Begin(Ops()[c_.pc.back()]);
  }
}

// Hands the suspension to the driver; an op's closing yield first records where the continuation stands.
Suspension Machine::Suspend(const Flow& flow) {
  switch (flow.kind) {
    case Flow::Kind::kYield:
      MarkPosition(1);
      c_.at = Continuation::At::kAtYield;
      return Suspension{Suspension::Kind::kYield, {}};
    // Resumed where it stands (in its op, or in its final shutdown), as the fibers that waited for it are: its
    // position stays as theirs, and it shows the same `why`, so that either order of the arrivals reaches one state.
    case Flow::Kind::kPause:
      return Suspension{Suspension::Kind::kYield, flow.why};
    case Flow::Kind::kBlock:
      return Suspension{Suspension::Kind::kBlock, flow.why};
    default:  // cancelled: the continuation ends where it stands, holding what it holds
      c_.at = Continuation::At::kDone;
      return Suspension{};
  }
}

Flow Machine::Begin(const Op& op) {
  Host& h = w_.MutableHost(c_.worker);
  core::Output out;
  c_.at = Continuation::At::kInOp;
  MarkPosition(0);
  switch (op.kind) {
    case Op::Kind::kRemote: {
      if (std::optional<Flow> raised = RaiseIfArgUnset(op)) return *raised;
      w_.CountCallIssued();
      if (!Destination(op)) return CallRaised(op, UnknownDestination(op));
      core::Expected<core::Handle> r = h.core.Remote(Spec(op), w_.now(), out);
      w_.Absorb(c_.worker, out);
      if (!r.ok()) return CallRaised(op, r.error);
      w_.CountCallEnded(false);  // what creating the value raises, to_here raises
      Assign(op.out, core::Value{0, {*r.value}});
      return kYieldFlow;
    }
    case Op::Kind::kRpcSync: {
      if (std::optional<Flow> raised = RaiseIfArgUnset(op)) return *raised;
      w_.CountCallIssued();
      if (!Destination(op)) return CallRaised(op, UnknownDestination(op));
      core::Expected<core::FutureId> f = h.core.RpcAsync(Spec(op), w_.now(), out);
      w_.Absorb(c_.worker, out);
      return WaitFor(f, op);
    }
    case Op::Kind::kToHere: {
      auto var = c_.frame.find(op.var);
      if (var == c_.frame.end() || op.index >= var->second.rrefs.size()) {
        return Raise(op, "no RRef at index " + std::to_string(op.index) + " of '" + op.var + "'");
      }
      w_.CountCallIssued();
      core::Expected<core::FutureId> f = h.core.ToHere(var->second.rrefs[op.index], op.timeout, w_.now(), out);
      w_.Absorb(c_.worker, out);
      return WaitFor(f, op);
    }
    case Op::Kind::kExpect: {
      auto var = c_.frame.find(op.var);
      std::int64_t expected = Evaluate(op.payload);
      bool ok = var != c_.frame.end() && var->second.payload == expected;
      std::string what = "as expected";
      if (var == c_.frame.end() && c_.unset_by_allowed_error.contains(op.var)) {
        ok = true;
        what = "skipped: '" + op.var + "' has no value, since the op that sets it raised an allowed error";
      } else if (var == c_.frame.end()) {
        what = "expected " + std::to_string(expected) + " in '" + op.var + "', which has no value (an earlier op failed)";
      } else if (!ok) {
        what = "expected " + std::to_string(expected) + " in '" + op.var + "', got " + std::to_string(var->second.payload);
      }
      w_.Record({c_.worker, Where(), what, ok});
      return kYieldFlow;
    }
    case Op::Kind::kDel: {
      auto var = c_.frame.find(op.var);
      if (var != c_.frame.end()) {
        ReleaseValue(var->second);
        c_.frame.erase(var);
      }
      return kYieldFlow;
    }
    case Op::Kind::kLocal:
      Assign(op.out, core::Value{0, {h.core.CreateLocal(core::Value{Evaluate(op.payload), {}}, "PyObject")}});
      w_.MarkChanged(c_.worker);  // no output to Absorb, but a new OwnerRRef for the views
      return kYieldFlow;
    case Op::Kind::kPack: {
      if (std::optional<Flow> raised = RaiseIfArgUnset(op)) return *raised;
      core::Value packed;
      for (const std::string& name : op.args) {
        auto it = c_.frame.find(name);
        if (it == c_.frame.end()) continue;
        for (core::Handle r : it->second.rrefs) {
          h.core.Retain(r);
          w_.MarkChanged(c_.worker);  // app_refs in the views
          packed.rrefs.push_back(r);
        }
      }
      Assign(op.out, std::move(packed));
      return kYieldFlow;
    }
    case Op::Kind::kReturn:
      c_.result.kind = core::FunctionResult::Kind::kReturned;
      if (!op.var.empty() && c_.frame.contains(op.var)) {
        c_.result.value = c_.frame.at(op.var);  // borrowed: the frame still owns the references
      } else {
        c_.result.value = core::Value{Evaluate(op.payload), {}};
      }
      return kEndFlow;
    case Op::Kind::kRaise:
      c_.result = Raised(op.text);
      return kEndFlow;
    case Op::Kind::kIfPositive: {
      const bool then = Evaluate(op.payload) > 0;
      if (then) c_.pc.back() |= kThenBranch;  // the branch is part of the position
      c_.pc.push_back(0);
      c_.at = Continuation::At::kNextOp;
      return kNext;
    }
    case Op::Kind::kBarrier: {
      std::optional<std::string> why = w_.ArriveAtProgramBarrier(++h.barriers_passed, c_.fiber);
      if (why) return BlockOn(*why);
      // The last arrival pauses as the others wake and, resumed, ends the op as they do (Resume): either order of
      // two arrivals reaches one state.
      return w_.cancelling() ? kCancelledFlow : PauseAt(World::ProgramBarrierName(h.barriers_passed));
    }
    case Op::Kind::kSleep:
      return BlockOn(w_.AwaitSleep(op.duration, c_.fiber));
    case Op::Kind::kShutdown:
      c_.shutdown_step = 0;
      return Shutdown();
  }
  return kYieldFlow;
}

// An rpc_sync's or a to_here's future: taken at once when it is already complete, else waited for.
Flow Machine::WaitFor(core::Expected<core::FutureId> f, const Op& op) {
  if (!f.ok()) return CallRaised(op, f.error);
  c_.future = *f.value;
  if (w_.FutureCompleted(c_.worker, c_.future)) return FinishWait(op);
  return BlockOn(w_.AwaitFuture(c_.worker, c_.future, c_.fiber));
}

Flow Machine::FinishWait(const Op& op) {
  core::Outcome outcome;
  if (!w_.TakeFuture(c_.worker, c_.future, &outcome)) return kCancelledFlow;
  if (!outcome.ok()) return CallRaised(op, *outcome.error);
  w_.CountCallEnded(false);
  if (op.kind == Op::Kind::kToHere || op.allowed) RecordValue(op, outcome.value.payload);
  Assign(op.out, std::move(outcome.value));
  return kYieldFlow;
}

// Woken inside a waiting op: what is left of it.
Flow Machine::Resume(const Op& op) {
  switch (op.kind) {
    case Op::Kind::kRpcSync:
    case Op::Kind::kToHere:
      return FinishWait(op);
    case Op::Kind::kShutdown:
      return Shutdown();
    default:  // a barrier or a sleep: done once woken
      return kYieldFlow;
  }
}

// rpc.shutdown(graceful=True): _wait_all_workers, delAllUsersAndUnforkedOwners, join, destroyInstance. Each step
// that waits returns a block; woken, the continuation resumes at the next step.
Flow Machine::Shutdown() {
  Host& h = w_.MutableHost(c_.worker);
  switch (c_.shutdown_step) {
    case 0:
      c_.shutdown_step = 1;
      // The last arrival pauses as the others wake, as at a program's barrier: which worker goes on first is the
      // schedule's choice, and the arrivals commute. In PyTorch's _wait_all_workers no worker goes on within its own
      // arrival either: the leader releases the followers by messages and goes on last; any order here includes that.
      if (std::optional<std::string> why = w_.ArriveAtBarrier("the shutdown barrier", c_.fiber)) return BlockOn(*why);
      return w_.cancelling() ? kCancelledFlow : PauseAt("the shutdown barrier");
    case 1: {
      core::Output out;
      h.core.DeleteAllUsersAndUnforkedOwners(w_.now(), out);
      w_.Absorb(c_.worker, out);
      c_.shutdown_step = 2;
      if (w_.AwaitOwnersDeleted(c_.worker, c_.fiber)) return BlockOn("graceful shutdown: its OwnerRRefs to be deleted");
      [[fallthrough]];
    }
    case 2:
      c_.shutdown_step = 3;
      return BlockOn(w_.AwaitJoin(c_.worker, c_.fiber));
    default: {
      core::Output out;
      h.core.StopAgent();
      core::Expected<bool> destroyed = h.core.DestroyContext(w_.config().ignore_rref_leak, out);
      w_.Absorb(c_.worker, out);
      if (!destroyed.ok()) w_.Record({c_.worker, "shutdown", "error " + destroyed.error, true});
      c_.shutdown_step = 4;
      if (c_.at == Continuation::At::kInOp) c_.shut_down = true;  // a shutdown op, not the program's end
      return c_.at == Continuation::At::kInOp ? kYieldFlow : kNext;
    }
  }
}

// Past the body: a program releases its frame and shuts down (unless a shutdown op did); a function's frame goes
// right after the reply and before anything the function held back (§9.4): the core releases it.
Suspension Machine::End() {
  if (!c_.in_function) {
    if (c_.at != Continuation::At::kFinalShutdown) {
      for (auto& [name, value] : c_.frame) ReleaseValue(value);
      c_.frame.clear();
      c_.pc = {c_.body->size()};  // past the last op: in the program's own shutdown
      c_.at = Continuation::At::kFinalShutdown;
      MarkPosition(0);
      c_.shutdown_step = 0;
    }
    if (w_.scenario().graceful_shutdown && !c_.shut_down) {
      Flow flow = Shutdown();
      if (flow.kind != Flow::Kind::kNext) return Suspend(flow);
    }
    w_.MutableHost(c_.worker).finished = true;
    c_.at = Continuation::At::kDone;
    return Suspension{};
  }
  for (auto& [name, value] : c_.frame) {
    c_.result.release_after_reply.insert(c_.result.release_after_reply.end(), value.rrefs.begin(), value.rrefs.end());
  }
  c_.frame.clear();
  core::Output out;
  w_.MutableHost(c_.worker).core.FinishFunction(c_.work, c_.result, w_.now(), out);
  w_.Absorb(c_.worker, out);
  w_.FunctionDone(c_.worker);
  c_.at = Continuation::At::kDone;
  return Suspension{};
}

}  // namespace rrefsim::sim::detail
