// Test helpers of the independence audit (independence_audit_test.cc): a copy of a stepped world with a copy of the
// checkers that takes one step as the explorer counts steps, and where it ends.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../src/branch.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/core/message.h"
#include "rrefsim/explore/explore.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/stepped_run.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::test_support {

// A kStep item that is a delivery: the network's sequence number with this bit set (explore/src/probe.h, Node::items).
inline constexpr std::uint64_t kDeliveryItem = std::uint64_t{1} << 63;

// Takes the step `item` at a step choice, and option 0 (no fault) at every other choice but the fault choice
// numbered `fault` (among those with two options, from 0; -1: none), where it takes the fault. The pairs' steps run
// without faults: the two orders of a pair ask the same fault choices only if the steps commute, and with the benign
// answer everywhere both get the same. The fault choices it was offered are kept, to branch on them.
class ItemChooser : public sim::Chooser {
 public:
  void Want(std::uint64_t item, int fault) {
    item_ = item;
    fault_ = fault;
    offered_.clear();
  }
  const std::vector<sim::ChoiceKind>& offered() const { return offered_; }

 protected:
  std::uint64_t Pick(const sim::ChoiceRequest& request) override {
    if (request.kind == sim::ChoiceKind::kDuplicate || request.kind == sim::ChoiceKind::kDrop) {
      if (request.options < 2) return 0;
      offered_.push_back(request.kind);
      return static_cast<int>(offered_.size()) - 1 == fault_ ? 1 : 0;
    }
    if (request.kind != sim::ChoiceKind::kStep || request.items.empty()) return 0;
    const auto at = std::find(request.items.begin(), request.items.end(), item_);
    if (at == request.items.end()) throw std::logic_error("audit: the step to take is not on offer");
    return static_cast<std::uint64_t>(at - request.items.begin());
  }

 private:
  std::uint64_t item_ = 0;
  int fault_ = -1;
  std::vector<sim::ChoiceKind> offered_;
};

// Where one order of a pair ended: the world and the checkers' memory, the checkers that fired (sorted; an expected
// violation marked so), and whether and how the run ended.
struct End {
  bool second_enabled = true;  // false: the second step was not on offer after the first
  bool ended = false;
  std::string outcome;  // sim::OutcomeName, once ended
  std::uint64_t world = 0;
  std::uint64_t memory = 0;
  std::vector<std::string> fired;
  std::string FiredText() const {
    std::string text = "[";
    for (const std::string& id : fired) text += (text.size() > 1 ? ", " : "") + id;
    return text + "]";
  }
};

// A copy of a world at a step choice, with a copy of its checkers, that takes one step: the option and every step
// forced after it, up to the next step choice, as the explorer's footprints count a step (Probe::RecordFootprint).
// With `extra` (a test's own invariant), a copy of it watches too, as ExploreOptions::extra_invariant does.
class AuditBranch {
 public:
  AuditBranch(const sim::SteppedRun& from, const checkers::CheckerSet& memory, const ExtraInvariant* extra = nullptr)
      : checkers_(memory), extra_(extra ? extra->Clone() : nullptr), watch_(checkers_, extra_.get()),
        run_(from, chooser_, &watch_) {
    // The copied memories on the copied world. ExtraInvariant::OnStart would reset the invariant's history, so it
    // is not called: an invariant that keeps the view handed to OnStart does not fit here.
    checkers_.OnStart(run_.view());
  }
  // The scenario's run from its start, before its first step choice (Advance).
  AuditBranch(const sim::Scenario& scenario, const sim::RunConfig& config, checkers::CheckerConfig checks,
              const ExtraInvariant* extra = nullptr)
      : checkers_(std::move(checks)), extra_(extra ? extra->Clone() : nullptr), watch_(checkers_, extra_.get()),
        run_(scenario, config, chooser_, &watch_) {}  // OnStart at its first step
  AuditBranch(const AuditBranch&) = delete;
  AuditBranch& operator=(const AuditBranch&) = delete;

  // Runs to the first step choice of a branch made from the scenario; false if the run ended before one.
  bool Start() {
    ended_ = !run_.Advance();
    return !ended_;
  }
  // `fault`: ItemChooser::Want.
  void Take(std::uint64_t item, int fault = -1) {
    chooser_.Want(item, fault);
    ended_ = !run_.Advance();
    footprint_ = *sim::StepsSinceChoice(run_.view());  // as the explorer reads it: before the next choice or at the end
  }
  const sim::StepFootprint& footprint() const { return footprint_; }
  bool ended() const { return ended_; }
  const std::vector<sim::ChoiceKind>& faults_offered() const { return chooser_.offered(); }
  const sim::SteppedRun& run() const { return run_; }
  const checkers::CheckerSet& checkers() const { return checkers_; }
  const ExtraInvariant* extra() const { return extra_.get(); }
  // The checkers' memory and the invariant's, as the explorer keys a state with both (Probe::CheckVisited).
  std::uint64_t memory() const {
    const std::uint64_t checkers = checkers_.Fingerprint(nullptr);
    return extra_ ? (checkers ^ extra_->Fingerprint()) * 0x9e3779b97f4a7c15ULL : checkers;
  }

  // This branch's step followed by the step `item`, on a copy: where that ends. A branch whose run ended has no
  // second step: its own end.
  End Then(std::uint64_t item) {
    if (ended_) return Judge();
    const std::vector<std::uint64_t>& offered = run_.pending_items();
    if (std::find(offered.begin(), offered.end(), item) == offered.end()) {
      End end;
      end.second_enabled = false;
      return end;
    }
    AuditBranch next(run_, checkers_, extra_.get());
    next.Take(item);
    return next.Judge();
  }

 private:
  // Where the branch stands; at a run's end, with the checkers' end-of-run checks as the explorer judges a run.
  End Judge() {
    if (judged_) return *judged_;
    End end;
    end.ended = ended_;
    end.world = *sim::StateFingerprint(run_.view());
    if (ended_) {
      const sim::RunResult result = run_.Finish();
      end.outcome = sim::OutcomeName(result.outcome);
      checkers_.Finish(checkers::RunEnd{end.outcome, result.detail, result.final_views});
    }
    end.memory = memory();
    for (const checkers::Violation& v : checkers_.violations()) end.fired.push_back(v.checker);
    if (watch_.extra_step()) end.fired.push_back("extra_invariant");
    for (const checkers::Violation& v : checkers_.expected_violations()) end.fired.push_back("expected " + v.checker);
    std::sort(end.fired.begin(), end.fired.end());
    judged_ = end;
    return end;
  }

  ItemChooser chooser_;
  checkers::CheckerSet checkers_;
  std::unique_ptr<ExtraInvariant> extra_;
  detail::Watch watch_;  // as the explorer watches a branch
  sim::SteppedRun run_;
  bool ended_ = false;
  sim::StepFootprint footprint_;
  std::optional<End> judged_;
};

inline std::string DescribeFootprint(const sim::StepFootprint& f) {
  char text[96];
  std::snprintf(text, sizeof text, "workers %#llx, reads %#llx%s%s", static_cast<unsigned long long>(f.workers),
                static_cast<unsigned long long>(f.reads), f.global ? ", global" : "", f.main_turn ? ", main turn" : "");
  return text;
}

// A step option for a failure message: the message a delivery delivers, or the fiber and its worker; with its
// sim::StepIdentity. Lists the in-flight messages, which the world counts as a read of every worker: call it only
// where no footprint is measured afterwards.
inline std::string DescribeStep(const checkers::GlobalView& view, std::uint64_t item) {
  std::string text;
  if ((item & kDeliveryItem) != 0) {
    const std::uint64_t seq = item & ~kDeliveryItem;
    text = "the delivery of network message " + std::to_string(seq);
    view.ForEachInFlight([&](const checkers::InFlightMessage& m) {
      if (m.queued || m.seq != seq) return;
      text = "the delivery of " + std::string(core::MessageTypeName(m.message->type)) + " " +
             std::to_string(m.message->from) + "->" + std::to_string(m.message->to) + " (message id " +
             std::to_string(m.message->id) + ", network seq " + std::to_string(seq) + ")";
    });
  } else {
    text = "a step of fiber " + std::to_string(item) + " on worker " + std::to_string(sim::StepWorker(view, item));
  }
  char identity[40];
  std::snprintf(identity, sizeof identity, " (identity %#llx)",
                static_cast<unsigned long long>(sim::StepIdentity(view, item)));
  return text + identity;
}

}  // namespace rrefsim::explore::test_support
