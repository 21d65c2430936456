// All checkers over one run: a RunObserver that stops the run at the first step where a checker fires, records
// every checker that fired in that step (in CheckerIds order: the first names the failure), and runs the end-of-run
// checks when the run ends on its own.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "rrefsim/checkers/checker.h"

namespace rrefsim::checkers {

class CheckerSet : public RunObserver {
 public:
  explicit CheckerSet(CheckerConfig config);
  // A copy with every checker's history (Checker::Clone), for the explorer's copied worlds; it sees the view given
  // to its next OnStart.
  CheckerSet(const CheckerSet& other);
  CheckerSet(CheckerSet&& other) = default;
  CheckerSet& operator=(const CheckerSet&) = delete;
  void OnStart(const GlobalView& view) override { view_ = &view; }
  void OnRecord(const StepRecord& record) override;
  bool OnStepEnd(const GlobalView& view) override;
  // After the run: the end checks (unless a violation stopped it).
  void Finish(const RunEnd& end);

  const std::vector<Violation>& violations() const { return violations_; }
  // Violations of checkers the scenario lists in expected_violations (known PyTorch defects), in order.
  const std::vector<Violation>& expected_violations() const { return expected_; }
  bool failed() const { return !violations_.empty(); }
  // The set's memory, for the explorer's state key (docs/explore.md, "State hashing"): the Facts, each checker's
  // Fingerprint in order, and which checkers fired (expected or not). Under `renaming` (symmetry reduction: the
  // renaming that gave the world's canonical fingerprint) every worker the memory names is renamed, and the maps
  // keyed by such names are folded as multisets, so a history and its renamed image fingerprint alike.
  std::uint64_t Fingerprint(const core::WorkerRenaming* renaming = nullptr) const;

 private:
  void Collect(std::size_t index, std::vector<std::string>& found, std::uint64_t step, TimeUs time);

  CheckerConfig config_;
  std::vector<std::unique_ptr<Checker>> checkers_;
  std::vector<std::vector<std::string>> pending_;  // per checker: found during the current step's records
  Facts facts_;
  const GlobalView* view_ = nullptr;
  std::uint64_t last_step_ = 0;
  TimeUs last_time_ = 0;
  std::vector<Violation> violations_;
  std::vector<Violation> expected_;
};

}  // namespace rrefsim::checkers
