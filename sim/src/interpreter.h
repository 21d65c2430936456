// Runs scenario programs and function bodies op by op, as explicit continuations: a Continuation is plain data
// (where the program stands and what its frame holds), and Step runs it to its next suspension point. The World
// drives each continuation either from a Boost.Fiber body (random, PCT and replay runs) or from its own loop without
// fibers (the explorer's copyable world): one interpreter for both.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "rrefsim/core/events.h"
#include "rrefsim/sim/scenario.h"

namespace rrefsim::sim::detail {

class World;

// A frame's variables: each holds a value and one reference per RRef in it.
using Frame = std::map<std::string, core::Value>;

struct Continuation {
  // Where it stands: not started; before the op at `pc`; inside it (waiting); at its closing yield; past the body;
  // in the program's own final shutdown; done.
  enum class At { kStart, kNextOp, kInOp, kAtYield, kEnd, kFinalShutdown, kDone };

  std::uint64_t fiber = 0;  // the World's id of the fiber this continuation is
  int worker = -1;
  bool in_function = false;
  std::string where;                            // "program 0" or "f on 2"
  const std::vector<Op>* body = nullptr;        // the scenario's program or function body (null: unknown function)
  core::WorkId work = 0;                        // a function's work item
  Frame frame;
  core::FunctionResult result;
  bool shut_down = false;            // a shutdown op ran: the program's end does not shut down again
  std::vector<std::size_t> pc;       // the op index at each nesting level (if_positive), outermost first
  // Variables left without a value because the op that sets them raised an error the run allows (a timeout under
  // faults, say). Programs go on after an error, so a later `expect` on one of them is skipped, not a failure: the
  // error itself was already judged.
  std::set<std::string> unset_by_allowed_error;
  At at = At::kStart;
  core::FutureId future = 0;  // the future an rpc_sync or to_here waits for
  int shutdown_step = 0;      // rpc.shutdown: 0 barrier, 1 delete users/owners, 2 owners deleted, 3 join, 4 destroy
};

// What a continuation does next: yield (a scheduling point), block until woken (`why` names what it waits for), or
// nothing: it ended.
struct Suspension {
  enum class Kind { kYield, kBlock, kDone };
  Kind kind = Kind::kDone;
  std::string why;  // kBlock: what it waits for; kYield: what it shows it was woken from, if anything
};

// A worker's application program, then (by default) rpc.shutdown(graceful=True).
Continuation ProgramContinuation(const Scenario& scenario, int worker);
// A released user function on a handler; at its end it reports the result and frees its pool slot.
Continuation FunctionContinuation(const Scenario& scenario, int worker, core::RunFunction run);

// Runs `c` to its next suspension point. `resumed` is what the last suspension returned: false when the run is
// being cancelled or the worker aborted, and the continuation then ends where it stands.
Suspension Step(World& world, Continuation& c, bool resumed);

}  // namespace rrefsim::sim::detail
