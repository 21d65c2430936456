// Internal: the interpreter's machine over one continuation (interpreter.cc runs ops, interpreter_ops.cc holds
// what ops share: evaluation, frames, errors raised to the application).
#pragma once

#include <optional>
#include <string>

#include "interpreter.h"

namespace rrefsim::sim::detail {

// How an op (or a part of one) ended: go on to the next op without a scheduling point (an error observed by a
// program, an if_positive entered or left), yield at its end, yield where it stands and go on there (the last
// arrival at a barrier), end the body (a function returned or raised), block (`why`), or stop where it stands (the
// run is being cancelled).
struct Flow {
  enum class Kind { kNext, kYield, kPause, kEnd, kBlock, kCancelled } kind;
  std::string why = {};
};
inline const Flow kNext{Flow::Kind::kNext};
inline const Flow kYieldFlow{Flow::Kind::kYield};
inline const Flow kEndFlow{Flow::Kind::kEnd};
inline const Flow kCancelledFlow{Flow::Kind::kCancelled};
inline Flow BlockOn(std::string why) { return Flow{Flow::Kind::kBlock, std::move(why)}; }
// Yields where it stands, showing `why` as a fiber woken from waiting for it does.
inline Flow PauseAt(std::string why) { return Flow{Flow::Kind::kPause, std::move(why)}; }

inline core::FunctionResult Raised(const std::string& text) {
  core::FunctionResult r;
  r.kind = core::FunctionResult::Kind::kRaised;
  r.error = text;
  return r;
}

inline constexpr std::size_t kThenBranch = std::size_t{1} << 40;  // marks an if_positive's then branch in pc

class Machine {
 public:
  Machine(World& world, Continuation& c) : w_(world), c_(c) {}
  Suspension Run(bool resumed);

 private:
  // Where the continuation stands (op path, phase, frame) before it may be suspended, for StateFingerprint: two
  // continuations with the same position and the same world around them continue identically. Phase 0: inside the
  // op (waiting for a future, a barrier, a sleep or shutdown); phase 1: the op is done, at its yield.
  void MarkPosition(std::uint64_t phase);
  const std::vector<Op>& Ops() const;  // the block the innermost pc level indexes
  const Op& CurrentOp() const { return Ops()[c_.pc.back() & ~kThenBranch]; }
  std::size_t index() const { return c_.pc.back() & ~kThenBranch; }
  Flow Begin(const Op& op);
  Flow Resume(const Op& op);
  Flow WaitFor(core::Expected<core::FutureId> f, const Op& op);
  Flow FinishWait(const Op& op);
  Flow Shutdown();  // rpc.shutdown(graceful=True), from c_.shutdown_step on; kNext once it completed
  Suspension Suspend(const Flow& flow);
  Suspension End();
  std::int64_t Evaluate(const IntExpr& e) const;
  void ReleaseValue(core::Value& value);
  void Assign(const std::string& name, core::Value value);
  bool Unjudged(const Op& op) const;
  bool ErrorExpected(const Op& op, const std::string& text) const;
  bool ValueExpected(const Op& op, std::int64_t payload) const;
  Flow CallRaised(const Op& op, const std::string& text);
  Flow RaiseJudged(const Op& op, const std::string& text, bool allowed);
  Flow Raise(const Op& op, const std::string& text) { return RaiseJudged(op, text, ErrorExpected(op, text)); }
  std::optional<Flow> RaiseIfArgUnset(const Op& op);
  std::optional<core::WorkerId> Destination(const Op& op) const;
  std::string UnknownDestination(const Op& op) const;
  void RecordValue(const Op& op, std::int64_t payload);
  core::CallSpec Spec(const Op& op) const;
  std::string Where() const { return c_.where + " op " + std::to_string(index()); }

  World& w_;
  Continuation& c_;
};

}  // namespace rrefsim::sim::detail
