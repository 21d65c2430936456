// The debug counters of every worker when a program barrier passes, checked against Scenario::counters.
#pragma once

namespace rrefsim::sim::detail {

class World;

// One "barrier <n> debug" observation per live worker, in worker order, taken by the World when the barrier
// releases (everyone arrived and the counters were flushed, or the flush gave up): "owners=1 forks=2 pending_users=0
// pending_futures=0", not expected when it contradicts a CounterExpectation of that barrier ("final" included).
void RecordCounters(World& world, int barrier);

}  // namespace rrefsim::sim::detail
