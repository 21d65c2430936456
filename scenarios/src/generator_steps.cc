// Steps that programs and generated function bodies share, and the bodies themselves. Every step updates the model
// as the interpreter will: a Remote binds an RRef whose value is what the callee was written to return, a to_here
// binds that value, a Del forgets the variable.
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "generator_model.h"

namespace rrefsim::scenarios::detail {
namespace {

using sim::Int;
using sim::To;

// The names of `picked` variables and the args value they make together (payload, then their RRefs in order), as
// the interpreter's Spec builds it.
struct Arguments {
  std::vector<std::string> names;
  ValueModel value;
};

Arguments PickArguments(Writer& w, const Frame& frame, int to, std::int64_t payload) {
  Arguments args;
  args.value.payload = payload;
  std::vector<std::size_t> candidates = frame.RRefVarsSendableTo(to);
  std::uint64_t count = w.Pick(std::min<std::uint64_t>(2, candidates.size()) + 1);
  for (std::uint64_t i = 0; i < count; ++i) {
    const Variable& v = frame.vars[candidates[w.Pick(candidates.size())]];
    args.names.push_back(v.name);
    args.value.rrefs.insert(args.value.rrefs.end(), v.value.rrefs.begin(), v.value.rrefs.end());
  }
  return args;
}

// The return: a literal, a variable as it is (an RRef sent back, "args" echoed), or a list of RRef variables, all
// sendable to the caller, who gets the value in the reply or by fetching the remote() result. A body may have
// deleted every variable, "args" included, or hold none the caller may get; it then returns a literal.
ValueModel WriteReturn(Writer& w, Frame& body, int reply_to) {
  std::uint64_t kind = w.Pick(3);
  std::vector<std::size_t> returnable;
  for (std::size_t i = 0; i < body.vars.size(); ++i) {
    if (Sendable(body.vars[i].value, reply_to)) returnable.push_back(i);
  }
  if (kind == 1 && !returnable.empty()) {
    const Variable& v = body.vars[returnable[w.Pick(returnable.size())]];
    body.block->ReturnVar(v.name);
    return v.value;
  }
  if (kind == 2 && StepPack(w, body, reply_to)) {
    body.block->ReturnVar(body.vars.back().name);
    return body.vars.back().value;
  }
  std::int64_t payload = w.NewPayload();
  body.block->Return(Int(payload));
  return ValueModel{payload, {}};
}

void WriteBodyStep(Writer& w, Frame& body) {
  switch (w.Pick(6)) {
    case 0: return StepLocal(w, body);
    case 1: return StepRemoteMake(w, body);
    case 2: if (StepFetch(w, body)) return; break;
    case 3: if (StepDel(w, body)) return; break;
    case 4: return StepCall(w, body);
    default: if (StepPack(w, body)) return; break;
  }
  StepLocal(w, body);  // the picked step had nothing to work on
}

}  // namespace

// A few steps, then the awaits, then a return.
Callee WriteFunction(Writer& w, int worker, const ValueModel& args, int depth, int reply_to) {
  sim::Block block;
  Frame body;
  body.worker = worker;
  body.depth = depth;
  body.block = &block;
  body.vars.push_back({"args", args});
  std::uint64_t steps = w.Pick(static_cast<std::uint64_t>(w.options().max_body_ops) + 1);
  for (std::uint64_t i = 0; i < steps; ++i) WriteBodyStep(w, body);
  AwaitAll(w, body);
  ValueModel returns = WriteReturn(w, body, reply_to);
  std::string name = w.NewFunctionName();
  w.scenario().Function(name) = std::move(block);
  return {name, std::move(returns)};
}

void StepLocal(Writer& w, Frame& frame) {
  std::int64_t payload = w.NewPayload();
  std::string out = frame.Bind({0, {w.NewRRef(frame.worker, {payload, {}}, frame.worker)}});
  frame.block->Local(out, Int(payload));
}

// remote(make) without arguments is the one remote() left unawaited: its function touches no RRef, and graceful
// shutdown waits for the creator's pending UserRRef anyway (as in test_nested_rref_stress).
void StepRemoteMake(Writer& w, Frame& frame) { RemoteMakeOn(w, frame, w.PickWorker()); }

void RemoteMakeOn(Writer& w, Frame& frame, int to) {
  std::int64_t payload = w.NewPayload();
  if (to == frame.worker) w.Note(kShapeRemoteToSelf);
  std::string out = frame.Bind({0, {w.NewRRef(to, {payload, {}}, frame.worker)}});
  frame.block->Remote(out, To(to), w.Use("make"), {}, Int(payload));
}

std::size_t FetchInto(Writer& w, Frame& frame, std::size_t var_index, std::size_t rref_index) {
  w.Blocks(frame);
  const RRefModel rref = frame.vars[var_index].value.rrefs[rref_index];
  if (rref.owner != frame.worker) {
    // The owner pickles the value into the fetch reply: every RRef nested in it is forked to the fetcher.
    w.NoteSend(rref.owner, rref.value, frame.worker);
    if (!rref.value.rrefs.empty()) w.Note(kShapeNested);
  }
  std::string var = frame.vars[var_index].name;
  std::erase(frame.unawaited, var);
  frame.Settle(rref.id);  // its value exists, so its owner has made the OwnerRRef
  std::string out = frame.Bind(rref.value);
  frame.block->ToHere(out, var, rref_index).Expect(out, rref.value.payload);
  return frame.vars.size() - 1;
}

bool StepFetch(Writer& w, Frame& frame) {
  if (!w.MayBlock(frame)) return false;
  std::optional<std::size_t> var = w.PickRRefVar(frame);
  if (!var) return false;
  std::size_t index = w.Pick(frame.vars[*var].value.rrefs.size());
  if (!Fetchable(frame.vars[*var].value.rrefs[index], frame.worker)) return false;
  FetchInto(w, frame, *var, index);
  return true;
}

namespace {

std::optional<std::size_t> FindVar(const Frame& frame, const std::string& name) {
  for (std::size_t i = 0; i < frame.vars.size(); ++i) {
    if (frame.vars[i].name == name) return i;
  }
  return std::nullopt;
}

}  // namespace

void AwaitAll(Writer& w, Frame& frame) {
  while (!frame.unawaited.empty()) {
    std::optional<std::size_t> var = FindVar(frame, frame.unawaited.front());
    if (!var) throw std::logic_error("generator: unawaited variable " + frame.unawaited.front() + " was deleted");
    FetchInto(w, frame, *var, 0);  // removes it from unawaited
  }
}

bool StepDel(Writer& w, Frame& frame) {
  std::optional<std::size_t> var = w.PickRRefVar(frame);
  if (!var) return false;
  const std::string name = frame.vars[*var].name;
  if (std::find(frame.unawaited.begin(), frame.unawaited.end(), name) != frame.unawaited.end()) {
    FetchInto(w, frame, *var, 0);  // its function must finish before the frame may end: wait for it first
  }
  frame.block->Del(name);
  frame.vars.erase(frame.vars.begin() + static_cast<std::ptrdiff_t>(*var));
  return true;
}

// A list of 1 to max_nested RRef variables (another reference to each, as a Python list holds them).
bool StepPack(Writer& w, Frame& frame, int sendable_to) {
  std::vector<std::size_t> candidates = sendable_to < 0 ? frame.RRefVars() : frame.RRefVarsSendableTo(sendable_to);
  if (candidates.empty()) return false;
  std::uint64_t most = std::min<std::uint64_t>(static_cast<std::uint64_t>(w.options().max_nested), candidates.size());
  std::uint64_t count = 1 + w.Pick(most);
  std::vector<std::string> names;
  ValueModel packed;
  for (std::uint64_t i = 0; i < count; ++i) {
    const Variable& v = frame.vars[candidates[w.Pick(candidates.size())]];
    names.push_back(v.name);
    packed.rrefs.insert(packed.rrefs.end(), v.value.rrefs.begin(), v.value.rrefs.end());
  }
  std::string out = frame.Bind(std::move(packed));
  frame.block->Pack(out, names);
  return true;
}

void StepCall(Writer& w, Frame& frame) {
  // Either way the frame blocks: in rpc_sync, or in the to_here that awaits the remote() before the frame ends.
  if (!w.MayBlock(frame)) return StepRemoteMake(w, frame);
  w.Blocks(frame);  // before the callee is written, which may take the last spare handler
  int to = w.PickWorker();
  bool sync = !w.Coin();
  Arguments args = PickArguments(w, frame, to, w.NewPayload());
  w.NoteSend(frame.worker, args.value, to);
  Callee callee = frame.depth < w.options().max_call_depth
                      ? WriteFunction(w, to, args.value, frame.depth + 1, frame.worker)
                      : Callee{w.Use("make"), {args.value.payload, {}}};  // the deepest calls: make(payload)
  if (sync) {
    // The callee pickles its return value into the reply.
    w.NoteSend(to, callee.returns, frame.worker);
    if (!callee.returns.rrefs.empty()) w.Note(kShapeRpcReturnsRRef);
    std::string out = frame.Bind(callee.returns);
    frame.block->RpcSync(out, To(to), callee.function, args.names, Int(args.value.payload));
  } else {
    if (to == frame.worker) w.Note(kShapeRemoteToSelf);
    std::string out = frame.Bind({0, {w.NewRRef(to, std::move(callee.returns), frame.worker)}});
    frame.block->Remote(out, To(to), callee.function, args.names, Int(args.value.payload));
    frame.unawaited.push_back(out);
  }
}

}  // namespace rrefsim::scenarios::detail
