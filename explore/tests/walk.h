// Test helper shared by the symmetry and checker-memory tests: a stepwise run steered towards some workers, to
// build worlds that are each other's image under a renaming of workers.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/stepped_run.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::test_support {

// Takes the first step of the first worker in `preferred` that has one (else option 0).
class OnlyWorkers : public sim::Chooser {
 public:
  explicit OnlyWorkers(std::vector<int> preferred) : preferred_(std::move(preferred)) {}
  void Watch(const checkers::GlobalView& view) { view_ = &view; }

 protected:
  std::uint64_t Pick(const sim::ChoiceRequest& request) override {
    if (request.kind != sim::ChoiceKind::kStep || request.items.empty()) return 0;
    for (int worker : preferred_) {
      for (std::size_t i = 0; i < request.items.size(); ++i) {
        if (sim::StepWorker(*view_, request.items[i]) == worker) return i;
      }
    }
    return 0;
  }

 private:
  std::vector<int> preferred_;
  const checkers::GlobalView* view_ = nullptr;
};

// Runs `scenario` stepwise with OnlyWorkers(preferred) and stops before choice `depth`.
struct Walk {
  Walk(const sim::Scenario& scenario, std::vector<int> preferred, int depth,
       core::ProtocolMode mode = core::ProtocolMode::kPytorch, checkers::RunObserver* observer = nullptr)
      : chooser(std::move(preferred)) {
    config.fingerprints = true;
    config.mode = mode;
    config.faults.delay_min = config.faults.delay_max = 0;
    run = std::make_unique<sim::SteppedRun>(scenario, config, chooser, observer);
    chooser.Watch(run->view());
    for (int i = 0; i < depth; ++i) {
      if (!run->Advance()) throw std::logic_error("the run ended before choice " + std::to_string(depth));
    }
  }
  sim::RunConfig config;
  OnlyWorkers chooser;
  std::unique_ptr<sim::SteppedRun> run;
};

}  // namespace rrefsim::explore::test_support
