#include "rrefsim/scenarios/runner.h"

#include "rrefsim/checkers/checker_set.h"

namespace rrefsim::scenarios {
namespace {

// Hands every record and view to the checkers first, then to a second observer; the checkers decide whether the
// run goes on.
class Tee : public checkers::RunObserver {
 public:
  Tee(checkers::CheckerSet& checkers, checkers::RunObserver* also) : checkers_(checkers), also_(also) {}
  void OnStart(const checkers::GlobalView& view) override {
    checkers_.OnStart(view);
    if (also_) also_->OnStart(view);
  }
  void OnRecord(const checkers::StepRecord& record) override {
    checkers_.OnRecord(record);
    if (also_) also_->OnRecord(record);
  }
  bool OnStepEnd(const checkers::GlobalView& view) override {
    bool go_on = checkers_.OnStepEnd(view);
    if (also_) go_on = also_->OnStepEnd(view) && go_on;
    return go_on;
  }

 private:
  checkers::CheckerSet& checkers_;
  checkers::RunObserver* also_;
};

}  // namespace

checkers::CheckerConfig CheckerConfigOf(const CatalogEntry& entry, const sim::RunConfig& run) {
  checkers::CheckerConfig config;
  config.expected_protocol_errors = entry.expected_protocol_errors;
  const bool hardened = run.mode == core::ProtocolMode::kHardened;
  config.expected_outcome = sim::OutcomeName(hardened ? entry.expected_hardened : entry.expected);
  if (!hardened) config.expected_violations = entry.expected_violations;  // PyTorch's defects, fixed by hardened
  config.faults_raise_errors = sim::FaultsRaiseErrors(run.faults);
  return config;
}

bool RunsUnderOwnFaults(const CatalogEntry& entry, const sim::FaultConfig& faults) {
  sim::FaultConfigResult own = sim::MakeFaultConfig(entry.faults, entry.fault_overrides);
  return own.config && *own.config == faults;
}

CheckedRun RunChecked(const CatalogEntry& entry, const sim::RunConfig& config, sim::Chooser& chooser,
                      checkers::RunObserver* also) {
  checkers::CheckerSet checkers(CheckerConfigOf(entry, config));
  Tee tee(checkers, also);
  CheckedRun checked;
  sim::RunConfig run = config;
  run.own_faults = config.own_faults && RunsUnderOwnFaults(entry, config.faults);
  checked.run = sim::Run(entry.scenario, run, chooser, &tee);
  checkers.Finish(checkers::RunEnd{sim::OutcomeName(checked.run.outcome), checked.run.detail, checked.run.final_views});
  checked.violations = checkers.violations();
  checked.expected_violations = checkers.expected_violations();
  return checked;
}

}  // namespace rrefsim::scenarios
