// Programs: segments of steps separated by barriers (the same number in every program), with the steps only a
// program takes: nesting, forward chains, fan-outs and sleeps.
#include <algorithm>
#include <utility>

#include "generator_model.h"

namespace rrefsim::scenarios::detail {
namespace {

using sim::Int;
using sim::To;

// S10 (test_nested_rref_stress): remote() of a function that creates 1 to max_nested RRefs, local ones and
// remote ones on other workers, and returns them as a list. Half the time the program fetches the list at once. The
// inner remote()s are not awaited, so none may be owned by the program's worker, which fetches them (Sendable).
void StepNest(Writer& w, Frame& program) {
  int to = w.PickWorker();
  sim::Block block;
  Frame body;
  body.worker = to;
  body.depth = 1;
  body.block = &block;
  std::uint64_t count = 1 + w.Pick(static_cast<std::uint64_t>(w.options().max_nested));
  for (std::uint64_t i = 0; i < count; ++i) {
    int owner = w.Coin() ? w.PickWorker() : to;
    if (owner == to || owner == program.worker) {
      StepLocal(w, body);
    } else {
      RemoteMakeOn(w, body, owner);
    }
  }
  std::vector<std::string> names;
  ValueModel packed;
  for (const Variable& v : body.vars) {
    names.push_back(v.name);
    packed.rrefs.insert(packed.rrefs.end(), v.value.rrefs.begin(), v.value.rrefs.end());
  }
  block.Pack("packed", names).ReturnVar("packed");
  std::string function = w.NewFunctionName();
  w.scenario().Function(function) = std::move(block);

  if (to == program.worker) w.Note(kShapeRemoteToSelf);
  std::string out = program.Bind({0, {w.NewRRef(to, std::move(packed), program.worker)}});
  program.block->Remote(out, To(to), function);
  program.unawaited.push_back(out);
  if (!w.Coin()) FetchInto(w, program, program.vars.size() - 1, 0);
}

// The RRef chain that forward(ttl) builds from `start`: level i is owned by worker start+i and holds level i+1;
// the last level, at ttl, holds the value of the first RRef forwarded. Level 0 is the program's remote(); level i+1
// is created by the forward running on start+i.
RRefModel ChainLevels(Writer& w, int program_worker, int start, int ttl, const ValueModel& last_value) {
  auto owner = [&](int level) { return (start + level) % w.workers(); };
  RRefModel level = w.NewRRef(owner(ttl), last_value, owner(ttl - 1));
  for (int i = ttl - 1; i >= 0; --i) {
    level = w.NewRRef(owner(i), ValueModel{0, {std::move(level)}}, i == 0 ? program_worker : owner(i - 1));
  }
  return level;
}

// test_rref_forward_chain: remote(start, forward, x, ttl) forwards x's RRefs worker to worker, ttl+1 hops in all;
// the last hop fetches the first of them, and the program to_heres back down the ttl+1 levels, which also waits
// for every hop's function to return. The last hop's to_here blocks a handler, taken from the budget.
//
// The ring of hops may pass any worker, so every forwarded RRef must be settled. A level may reach the program on
// its own owner before the level is settled; that is safe (as in test_rref_forward_chain) because nothing else
// holds the level: no fork of it is registered, so none can be deleted, until the program's next to_here returns.
bool StepChain(Writer& w, Frame& program) {
  std::optional<std::size_t> var = w.PickRRefVar(program);
  if (!var) return false;
  const Variable x = program.vars[*var];
  int ttl = 2 + static_cast<int>(w.Pick(static_cast<std::uint64_t>(w.options().max_chain_ttl) - 1));
  int start = w.PickWorker();
  int end = (start + ttl) % w.workers();
  const ValueModel& last_value = x.value.rrefs.front().value;
  bool forwardable = std::all_of(x.value.rrefs.begin(), x.value.rrefs.end(), [](const RRefModel& r) { return r.settled; });
  if (!forwardable || !Sendable(last_value, end) || !Sendable(last_value, program.worker)) return false;
  if (!w.TakeSpareHandler()) return false;
  ValueModel args{ttl, x.value.rrefs};
  w.NoteSend(program.worker, args, start);
  int at = start;
  for (int hop = 0; hop < ttl; ++hop) {
    int next = (at + 1) % w.workers();
    w.NoteSend(at, args, next);
    at = next;
  }
  const RRefModel& first = x.value.rrefs.front();
  if (first.owner != at) {
    w.NoteSend(first.owner, first.value, at);
    if (!first.value.rrefs.empty()) w.Note(kShapeNested);
  }
  w.Note(kShapeChain);
  if (start == program.worker) w.Note(kShapeRemoteToSelf);

  std::string out = program.Bind({0, {ChainLevels(w, program.worker, start, ttl, first.value)}});
  program.block->Remote(out, To(start), w.Use("forward"), {x.name}, Int(ttl));
  std::size_t level = program.vars.size() - 1;
  for (int i = 0; i <= ttl; ++i) level = FetchInto(w, program, level, 0);
  return true;
}

// One RRef variable sent to 2 to max_fan_out distinct workers at once, each by remote(): to "check", which fetches
// it and compares (a handler from the budget), or to "make", which only holds it until it returns.
bool StepFanOut(Writer& w, Frame& program) {
  std::optional<std::size_t> var = w.PickRRefVar(program);
  if (!var) return false;
  const Variable x = program.vars[*var];
  const RRefModel& target = x.value.rrefs.front();
  int most = std::min(w.options().max_fan_out, w.workers());
  int count = 2 + static_cast<int>(w.Pick(static_cast<std::uint64_t>(most) - 1));
  int first = w.PickWorker();
  for (int i = 0; i < count; ++i) {
    if (!Sendable(x.value, (first + i) % w.workers())) return false;
  }
  for (int i = 0; i < count; ++i) {
    int to = (first + i) % w.workers();
    bool check = w.Coin() && Fetchable(target, to) && w.TakeSpareHandler();
    w.NoteSend(program.worker, ValueModel{target.value.payload, x.value.rrefs}, to);
    if (check && target.owner != to) {
      w.NoteSend(target.owner, target.value, to);
      if (!target.value.rrefs.empty()) w.Note(kShapeNested);
    }
    if (to == program.worker) w.Note(kShapeRemoteToSelf);
    std::string out = program.Bind({0, {w.NewRRef(to, {target.value.payload, {}}, program.worker)}});
    program.block->Remote(out, To(to), w.Use(check ? "check" : "make"), {x.name}, Int(target.value.payload));
    program.unawaited.push_back(out);
  }
  w.Note(kShapeFanOut);
  return true;
}

void StepSleep(Writer& w, Frame& program) {
  program.block->Sleep(static_cast<sim::TimeUs>(1 + w.Pick(5)) * 5 * core::kMillisecond);
}

void WriteProgramStep(Writer& w, Frame& program) {
  switch (w.Pick(10)) {
    case 0: return StepLocal(w, program);
    case 1: return StepRemoteMake(w, program);
    case 2: if (StepFetch(w, program)) return; break;
    case 3: if (StepDel(w, program)) return; break;
    case 4: return StepCall(w, program);
    case 5: if (StepPack(w, program)) return; break;
    case 6: return StepNest(w, program);
    case 7: if (StepChain(w, program)) return; break;
    case 8: if (StepFanOut(w, program)) return; break;
    default: return StepSleep(w, program);
  }
  // The picked step needs an RRef variable (or a spare handler) the program does not have yet: create one.
  w.Coin() ? StepRemoteMake(w, program) : StepLocal(w, program);
}

}  // namespace

void WriteProgram(Writer& w, Frame& program, int barriers) {
  int segments = barriers + 1;
  int per_segment = (w.options().max_ops + segments - 1) / segments;
  for (int segment = 0; segment < segments; ++segment) {
    if (segment > 0) program.block->Barrier();
    std::uint64_t steps = w.Pick(static_cast<std::uint64_t>(per_segment) + 1);
    for (std::uint64_t i = 0; i < steps; ++i) WriteProgramStep(w, program);
  }
  AwaitAll(w, program);
}

}  // namespace rrefsim::scenarios::detail
