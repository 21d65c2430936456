// Runs scenario programs and function bodies on fibers, op by op, through the World.
#pragma once

#include "rrefsim/core/events.h"

namespace rrefsim::sim::detail {

class World;

// A worker's application fiber: its program, then (by default) rpc.shutdown(graceful=True).
void RunProgram(World& world, int worker);
// A handler fiber running a released user function; it reports the result and frees its pool slot.
void RunFunctionBody(World& world, int worker, core::RunFunction run);

}  // namespace rrefsim::sim::detail
