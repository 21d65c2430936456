#include "rrefsim/checkers/checker_set.h"

#include <algorithm>
#include <string_view>
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

// What is left out: the configuration (the scenario's, the same on every path of one search), the view (a pointer),
// and last_step_ / last_time_, which only label a violation found at the run's end (the explorer runs a failing
// branch again on fibers for its trace, which labels it anew). pending_ is emptied at every step's end, where the
// explorer keys states, but is mixed all the same.
//
// Violations: a run stops at its first, so a run still going has none; their checkers are mixed anyway. Expected
// violations (known PyTorch defects the scenario declares) do not stop it, and the explorer collects them from the
// runs that end (explore.cc, NoteExpected), keeping one per checker. If two paths reach a world where only the
// second has seen one, merging them would cut the second, and the report's known_defects_seen could miss that
// checker. So the set of checkers seen so far is in the key: which ids, not how often nor the texts, which name
// steps and workers that differ between paths while adding nothing to what the report keeps.
std::uint64_t CheckerSet::Fingerprint(const core::WorkerRenaming* renaming) const {
  core::StateHasher h(renaming);
  facts_.Fingerprint(h);
  for (std::size_t i = 0; i < checkers_.size(); ++i) {
    checkers_[i]->Fingerprint(h);
    for (const std::string& text : pending_[i]) h.MixWorkerText(text);
    h.Mix(pending_[i].size());
  }
  for (const std::vector<Violation>* list : {&violations_, &expected_}) {
    std::vector<std::string_view> ids;
    for (const Violation& v : *list) ids.push_back(v.checker);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (std::string_view id : ids) h.Mix(id);
    h.Mix(ids.size());
  }
  return h.value();
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
