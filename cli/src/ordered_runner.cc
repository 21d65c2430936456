#include "ordered_runner.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace rrefsim::cli {
namespace {

std::uint64_t RunInline(const OrderedRun& run, const std::atomic<bool>& interrupted) {
  std::uint64_t consumed = 0;
  for (std::uint64_t i = 0; i < run.count && !interrupted; ++i) {
    SeedResult result = run.work(i);
    ++consumed;
    bool go = run.consume(result);
    run.tick();
    if (!go) break;
  }
  return consumed;
}

// The state the worker threads share with the consumer; every member but the atomics is guarded by `mutex`.
struct Shared {
  std::mutex mutex;
  std::condition_variable ready;
  std::map<std::uint64_t, SeedResult> done;  // finished results not yet consumed, by item
  int workers_left = 0;
  std::uint64_t wanted = 0;  // the item the consumer waits for: only its arrival wakes it (fewer futex calls)
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> stop{false};
};

void Work(const OrderedRun& run, const std::atomic<bool>& interrupted, Shared& shared) {
  while (!shared.stop && !interrupted) {
    std::uint64_t i = shared.next.fetch_add(1);
    if (i >= run.count) break;
    SeedResult result = run.work(i);
    std::lock_guard<std::mutex> lock(shared.mutex);
    shared.done.emplace(i, std::move(result));
    if (i == shared.wanted) shared.ready.notify_one();
  }
  std::lock_guard<std::mutex> lock(shared.mutex);
  --shared.workers_left;
  shared.ready.notify_one();
}

// Hands the results to run.consume in item order until all are consumed, consume says stop, or the workers stopped.
std::uint64_t ConsumeInOrder(const OrderedRun& run, Shared& shared) {
  std::uint64_t& want = shared.wanted;
  std::unique_lock<std::mutex> lock(shared.mutex);
  while (want < run.count) {
    auto it = shared.done.find(want);
    if (it == shared.done.end()) {
      if (shared.workers_left == 0) break;  // stopped or interrupted: no result for `want` is coming
      shared.ready.wait_for(lock, std::chrono::milliseconds(200));
      lock.unlock();
      run.tick();
      lock.lock();
      continue;
    }
    SeedResult result = std::move(it->second);
    shared.done.erase(it);
    ++want;
    lock.unlock();
    bool go = run.consume(result);
    run.tick();
    lock.lock();
    if (!go) break;
  }
  return want;
}

}  // namespace

std::uint64_t RunInOrder(const OrderedRun& run, const std::atomic<bool>& interrupted) {
  if (run.threads <= 1) return RunInline(run, interrupted);
  Shared shared;
  shared.workers_left = run.threads;
  std::vector<std::jthread> pool;  // joined when it goes, after `stop` is set below, also when consume throws
  for (int t = 0; t < run.threads; ++t) pool.emplace_back([&] { Work(run, interrupted, shared); });
  try {
    std::uint64_t consumed = ConsumeInOrder(run, shared);
    shared.stop = true;
    return consumed;
  } catch (...) {
    shared.stop = true;
    throw;
  }
}

}  // namespace rrefsim::cli
