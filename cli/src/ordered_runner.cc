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

constexpr std::size_t kBatch = 32;

// The state the worker threads share with the consumer; every member but the atomics is guarded by `mutex`.
struct Shared {
  std::mutex mutex;
  std::condition_variable ready;
  std::map<std::uint64_t, SeedResult> done;  // finished results not yet consumed, by item
  int workers_left = 0;
  std::uint64_t wanted = 0;  // the first item the consumer has not taken
  std::uint64_t consumed = 0;  // results handed to consume
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
    // Waking the consumer for each result costs a futex call and a context switch on a busy core: wake it when a
    // batch is ready (it also wakes every 200 ms, and when the last worker ends).
    if (shared.done.begin()->first == shared.wanted && shared.done.size() >= kBatch) shared.ready.notify_one();
  }
  std::lock_guard<std::mutex> lock(shared.mutex);
  --shared.workers_left;
  shared.ready.notify_one();
}

// Takes every result that is next in order; empty when the next one is not done yet.
std::vector<SeedResult> TakeReady(Shared& shared) {
  std::vector<SeedResult> batch;
  for (auto it = shared.done.begin(); it != shared.done.end() && it->first == shared.wanted;
       it = shared.done.erase(it), ++shared.wanted) {
    batch.push_back(std::move(it->second));
  }
  return batch;
}

// Hands the results to run.consume in item order until all are consumed, consume says stop, or the workers stopped.
void ConsumeInOrder(const OrderedRun& run, Shared& shared) {
  std::unique_lock<std::mutex> lock(shared.mutex);
  while (shared.consumed < run.count) {
    std::vector<SeedResult> batch = TakeReady(shared);
    if (batch.empty()) {
      if (shared.workers_left == 0) return;  // stopped or interrupted: no result for `wanted` is coming
      shared.ready.wait_for(lock, std::chrono::milliseconds(200));
    }
    lock.unlock();
    for (SeedResult& result : batch) {
      ++shared.consumed;  // only this thread touches it
      if (!run.consume(result)) return;
    }
    run.tick();
    lock.lock();
  }
}

}  // namespace

std::uint64_t RunInOrder(const OrderedRun& run, const std::atomic<bool>& interrupted) {
  if (run.threads <= 1) return RunInline(run, interrupted);
  Shared shared;
  shared.workers_left = run.threads;
  std::vector<std::jthread> pool;  // joined when it goes, after `stop` is set below, also when consume throws
  for (int t = 0; t < run.threads; ++t) pool.emplace_back([&] { Work(run, interrupted, shared); });
  try {
    ConsumeInOrder(run, shared);
    shared.stop = true;
    return shared.consumed;
  } catch (...) {
    shared.stop = true;
    throw;
  }
}

}  // namespace rrefsim::cli
