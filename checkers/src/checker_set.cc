#include "rrefsim/checkers/checker_set.h"

#include <algorithm>
#include <utility>

namespace rrefsim::checkers {

CheckerSet::CheckerSet(CheckerConfig config)
    : config_(std::move(config)), checkers_(MakeCheckers(config_)), pending_(checkers_.size()) {}

CheckerSet::CheckerSet(const CheckerSet& other)
    : RunObserver(other),
      config_(other.config_),
      pending_(other.pending_),
      facts_(other.facts_),
      view_(nullptr),
      last_step_(other.last_step_),
      last_time_(other.last_time_),
      violations_(other.violations_),
      expected_(other.expected_) {
  for (const std::unique_ptr<Checker>& c : other.checkers_) checkers_.push_back(c->Clone());
}

void CheckerSet::OnRecord(const StepRecord& record) {
  if (failed()) return;
  facts_.OnRecord(record);
  last_step_ = record.step;
  last_time_ = record.time;
  for (std::size_t i = 0; i < checkers_.size(); ++i) {
    Report report(pending_[i]);
    checkers_[i]->OnRecord(record, facts_, *view_, report);
  }
}

bool CheckerSet::OnStepEnd(const GlobalView& view) {
  if (failed()) return false;
  for (std::size_t i = 0; i < checkers_.size(); ++i) {
    Report report(pending_[i]);
    checkers_[i]->AfterStep(facts_, view, report);
  }
  for (std::size_t i = 0; i < checkers_.size(); ++i) Collect(i, pending_[i], view.step(), view.now());
  return !failed();
}

void CheckerSet::Finish(const RunEnd& end) {
  if (failed() || end.outcome == "stopped") return;
  std::vector<std::string> found;
  for (std::size_t i = 0; i < checkers_.size(); ++i) {
    Report report(found);
    checkers_[i]->AtEnd(end, config_, facts_, report);
    Collect(i, found, last_step_, last_time_);
  }
}

void CheckerSet::Collect(std::size_t index, std::vector<std::string>& found, std::uint64_t step, TimeUs time) {
  if (found.empty()) return;  // the common case, every step
  const char* id = checkers_[index]->id();
  const std::vector<std::string>& known = config_.expected_violations;
  bool expected = std::find(known.begin(), known.end(), id) != known.end();
  for (std::string& text : found) {
    (expected ? expected_ : violations_).push_back(Violation{id, step, time, std::move(text)});
  }
  found.clear();
}

}  // namespace rrefsim::checkers
