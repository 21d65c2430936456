// Runs the seeds of a campaign on several OS threads and hands their results over in seed order (a reorder
// buffer), so that what a campaign prints and writes does not depend on the number of threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "seed_result.h"

namespace rrefsim::cli {

struct OrderedRun {
  std::uint64_t count = 0;  // work items 0..count-1
  int threads = 1;          // 1: everything on the calling thread
  // Runs item i; called on a worker thread. It must not touch anything shared without its own lock.
  std::function<SeedResult(std::uint64_t)> work;
  // Gets every result in item order on the calling thread; returns false to stop: no further item starts and
  // results after this one are dropped.
  std::function<bool(SeedResult&)> consume;
  // Called on the calling thread after each result and at least every 200 ms while waiting (progress display).
  std::function<void()> tick;
};

// When `interrupted` becomes true no new item starts; the items already started finish and every result before the
// first item that never ran is still consumed. Returns the number of results consumed.
std::uint64_t RunInOrder(const OrderedRun& run, const std::atomic<bool>& interrupted);

}  // namespace rrefsim::cli
