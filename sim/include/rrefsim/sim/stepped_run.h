// A run of the simulated world without fibers, whose whole state is a value: programs and user functions are
// explicit continuations (op path, frame, what they wait for), so the world can be copied between two steps. The
// exhaustive explorer copies it at each step choice instead of replaying every branch from the start
// (docs/explore.md). It is the same run as sim::Run: the same chooser requests in the same order, so a choice list
// recorded either way replays the other way, with the same RunResult::hash.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "rrefsim/core/message.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::sim {

namespace detail {
class World;
}

class SteppedRun {
 public:
  // Throws std::invalid_argument for a scenario that Validate rejects. `scenario` and `config` must outlive the run
  // and every copy of it.
  SteppedRun(const Scenario& scenario, const RunConfig& config, Chooser& chooser,
             checkers::RunObserver* observer = nullptr);
  // A copy of `other` where it stands, asking `chooser` and reporting to `observer` from now on. The observer's
  // OnStart is not called: hand it view() yourself (a copied checker set has its history, not the view).
  // The copy shares the hosts, fiber records, messages in flight and workers' views that neither run has changed
  // since (copy on write): each is copied when use_count() says it is shared, and a const fingerprint call fills a
  // shared one's cache, neither synchronised, so a run and its copies must stay on one thread.
  SteppedRun(const SteppedRun& other, Chooser& chooser, checkers::RunObserver* observer);
  // A run (moved from, or copied) asks `chooser` and reports to `observer` from now on.
  void Rebind(Chooser& chooser, checkers::RunObserver* observer);
  ~SteppedRun();
  SteppedRun(SteppedRun&&) noexcept;
  SteppedRun& operator=(SteppedRun&&) noexcept;

  // Runs to the next step choice with more than one option, stopping before the chooser is asked (true), or to the
  // end of the run (false). The chooser's and observer's exceptions propagate (the run is then unusable).
  bool Advance();
  // Where Advance stopped: the step choice's options (ChoiceRequest::items) that the chooser is asked for next.
  const std::vector<std::uint64_t>& pending_items() const;
  // The result, once Advance returned false; rethrows what stopped the run, as sim::Run does.
  RunResult Finish();
  // What-if operations, for the explorer's persistent sets (explore/src/persistent.h), on a copy it analyses and
  // throws away: not steps of any run the simulator makes.
  // From now on this copy stops before every step choice, also one with a single option
  // (RunConfig::every_step_is_a_choice for this copy only).
  void StopAtEveryStep();
  // Puts `message` in flight, due now, as if its sender had just sent it (the observer sees the send); returns its
  // kStep item. Throws std::invalid_argument for a receiver that does not exist.
  std::uint64_t Inject(const core::Message& message);
  // Wakes `worker`'s fibers that wait at a barrier, as the barrier's release would, without the other arrivals;
  // false if none waited.
  bool WakeBarrierWaiters(int worker);
  // Whether WakeBarrierWaiters(worker) would wake anyone.
  bool WaitsAtBarrier(int worker) const;
  // The world as the checkers see it: valid while this object lives.
  const checkers::GlobalView& view() const;

 private:
  std::unique_ptr<detail::World> world_;
};

// The whole run, stepwise: the same result as sim::Run (for tests and benchmarks of the two modes).
RunResult RunWithoutFibers(const Scenario& scenario, const RunConfig& config, Chooser& chooser,
                           checkers::RunObserver* observer = nullptr);

}  // namespace rrefsim::sim
