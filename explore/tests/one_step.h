// Test helpers shared by the tests of what copies of a stepped world share (host_sharing_test,
// checker_sharing_test): a chooser that takes one given step, and the identity renaming.
#pragma once

#include <cstdint>

#include "rrefsim/core/fingerprint.h"
#include "rrefsim/sim/chooser.h"

namespace rrefsim::explore::test_support {

// Takes option `step` at the first step choice it is asked for, and option 0 (no fault) at every other choice.
class OneStepChooser : public sim::Chooser {
 public:
  explicit OneStepChooser(std::uint64_t step) : step_(step) {}

 protected:
  std::uint64_t Pick(const sim::ChoiceRequest& request) override {
    if (request.kind != sim::ChoiceKind::kStep || taken_) return 0;
    taken_ = true;
    return step_;
  }

 private:
  std::uint64_t step_;
  bool taken_ = false;
};

// The identity renaming: a fingerprint under it computes every part afresh (the world's hosts, fibers and messages,
// each checker's memory), never a kept one, so it shows a change that a kept fingerprint would hide.
inline core::WorkerRenaming Identity(int workers) {
  core::WorkerRenaming identity;
  for (int w = 0; w < workers; ++w) identity.to.push_back(static_cast<core::WorkerId>(w));
  identity.tag = 1;
  return identity;
}

}  // namespace rrefsim::explore::test_support
