// The scenario passes of the shrinker: empty programs, delete functions, ops and counter expectations, drop a
// worker (renumbering literal destinations), inline an if_positive, and simplify an op's integers and settings.
// Edits may produce an invalid scenario; Search::Try's JSON round trip refuses those.
#include <iterator>
#include <vector>

#include "shrink_search.h"

namespace rrefsim::scenarios::shrink {
namespace {

using sim::Op;

// The i-th op of `entry` in Blocks order: its list and place, or false.
bool Locate(CatalogEntry& entry, std::size_t i, std::vector<Op>** block, std::size_t* at) {
  for (std::vector<Op>* ops : Blocks(entry)) {
    if (i < ops->size()) {
      *block = ops;
      *at = i;
      return true;
    }
    i -= ops->size();
  }
  return false;
}

template <typename T>
void EraseAt(std::vector<T>& v, std::size_t i) {
  v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
}

std::size_t CountPrograms(const Candidate& c) { return c.entry.scenario.programs.size(); }
bool EmptyProgram(const Candidate& c, std::size_t i, Candidate* out) {
  if (c.entry.scenario.programs[i].ops.empty()) return false;
  *out = c;
  out->entry.scenario.programs[i].ops.clear();
  return true;
}

std::size_t CountFunctions(const Candidate& c) { return c.entry.scenario.functions.size(); }
bool DeleteFunction(const Candidate& c, std::size_t i, Candidate* out) {
  *out = c;
  out->entry.scenario.functions.erase(out->entry.scenario.functions.begin() + static_cast<std::ptrdiff_t>(i));
  return true;
}

std::size_t CountCounters(const Candidate& c) { return c.entry.scenario.counters.size(); }
bool DeleteCounter(const Candidate& c, std::size_t i, Candidate* out) {
  *out = c;
  EraseAt(out->entry.scenario.counters, i);
  return true;
}

std::size_t CountAllOps(const Candidate& c) { return CountOps(c.entry); }
bool DeleteOp(const Candidate& c, std::size_t i, Candidate* out) {
  *out = c;
  std::vector<Op>* block = nullptr;
  std::size_t at = 0;
  if (!Locate(out->entry, i, &block, &at)) return false;
  EraseAt(*block, at);
  return true;
}

// Op i/2 replaced by its then (even i) or else (odd i) list.
std::size_t CountBranches(const Candidate& c) { return 2 * CountOps(c.entry); }
bool InlineBranch(const Candidate& c, std::size_t i, Candidate* out) {
  *out = c;
  std::vector<Op>* block = nullptr;
  std::size_t at = 0;
  if (!Locate(out->entry, i / 2, &block, &at) || (*block)[at].kind != Op::Kind::kIfPositive) return false;
  std::vector<Op> branch = i % 2 == 0 ? (*block)[at].then_ops : (*block)[at].else_ops;
  EraseAt(*block, at);
  block->insert(block->begin() + static_cast<std::ptrdiff_t>(at), std::make_move_iterator(branch.begin()),
                std::make_move_iterator(branch.end()));
  return true;
}

// One simplification of an op: false when it is already that simple.
bool Simplify(Op& op, std::size_t variant) {
  const sim::IntExpr zero = sim::Int(0);
  switch (variant) {
    case 0:
      if (op.payload == zero || op.kind == Op::Kind::kExpect) return false;
      op.payload = zero;
      return true;
    case 1:
      if (!op.timeout) return false;
      op.timeout.reset();
      return true;
    case 2:
      if (!op.allowed) return false;
      op.allowed.reset();
      return true;
    case 3:
      if (op.duration == 0) return false;
      op.duration = op.duration > 1000 ? op.duration / 10 : 0;
      return true;
    case 4:
      if (op.call_kind == core::CallKind::kPython) return false;
      op.call_kind = core::CallKind::kPython;
      op.return_type = "PyObject";
      return true;
    case 5:
      if (op.args.empty()) return false;
      op.args.pop_back();
      return true;
    default:
      return false;
  }
}
constexpr std::size_t kSimplifications = 6;

std::size_t CountSimplifications(const Candidate& c) { return kSimplifications * CountOps(c.entry); }
bool SimplifyOp(const Candidate& c, std::size_t i, Candidate* out) {
  *out = c;
  std::vector<Op>* block = nullptr;
  std::size_t at = 0;
  return Locate(out->entry, i / kSimplifications, &block, &at) && Simplify((*block)[at], i % kSimplifications);
}

// Literal destinations above `gone` move down by one; false when an op sends to `gone` itself.
bool Renumber(std::vector<Op>& ops, int gone) {
  for (Op& op : ops) {
    if (op.to.base == sim::IntExpr::Base::kLiteral && !op.to.modulo_world) {
      if (op.to.value == gone) return false;
      if (op.to.value > gone) --op.to.value;
    }
  }
  return true;
}

// Message choices are keyed by the sender in the top 16 bits (sim's MessageKey): senders above `gone` move down, so
// the lenient replay still finds the faults and delays of their messages.
void RenumberChoiceKeys(std::vector<sim::Choice>& choices, int gone) {
  constexpr int kSenderShift = 48;
  for (sim::Choice& c : choices) {
    const bool message = c.kind == sim::ChoiceKind::kDrop || c.kind == sim::ChoiceKind::kDuplicate ||
                         c.kind == sim::ChoiceKind::kDelay || c.kind == sim::ChoiceKind::kPartition;
    if (message && (c.key >> kSenderShift) > static_cast<std::uint64_t>(gone)) {
      c.key -= std::uint64_t{1} << kSenderShift;
    }
  }
}

std::size_t CountWorkers(const Candidate& c) { return c.entry.scenario.programs.size(); }
bool DropWorker(const Candidate& c, std::size_t i, Candidate* out) {
  if (c.entry.scenario.workers <= 1) return false;
  *out = c;
  sim::Scenario& s = out->entry.scenario;
  const int gone = static_cast<int>(i);
  EraseAt(s.programs, i);
  --s.workers;
  for (std::vector<Op>* block : Blocks(out->entry)) {
    if (!Renumber(*block, gone)) return false;
  }
  std::vector<sim::CounterExpectation> counters;
  for (sim::CounterExpectation e : s.counters) {
    if (e.worker == gone) continue;
    if (e.worker > gone) --e.worker;
    counters.push_back(e);
  }
  s.counters = std::move(counters);
  RenumberChoiceKeys(out->choices, gone);
  return true;
}

}  // namespace

const std::vector<Pass>& ScenarioPasses() {
  static const std::vector<Pass> passes = {
      {"programs", CountPrograms, EmptyProgram},   {"workers", CountWorkers, DropWorker},
      {"functions", CountFunctions, DeleteFunction}, {"ops", CountAllOps, DeleteOp},
      {"branches", CountBranches, InlineBranch},   {"counters", CountCounters, DeleteCounter},
      {"values", CountSimplifications, SimplifyOp},
  };
  return passes;
}

}  // namespace rrefsim::scenarios::shrink
