// The debug counters of every worker when a program barrier passes, checked against Scenario::counters.
#pragma once

namespace rrefsim::sim::detail {

class World;

// True when every live worker's program has reached program barrier `barrier` (the caller included): the barrier
// then passes without waiting, and nothing runs in between, so the caller may record everyone's counters.
bool EveryLiveWorkerArrived(World& world, int barrier);

// One "barrier <n> debug" observation per live worker, in worker order: "owners=1 forks=2 pending_users=0
// pending_futures=0", not expected when it contradicts a CounterExpectation of that barrier ("final" included).
void RecordCounters(World& world, int barrier);

}  // namespace rrefsim::sim::detail
