// One branch of the search: the world restored from the deepest snapshot on the path (or started at the root), the
// path replayed from there and extended until the run ends or the probe cuts it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "message_ledger.h"
#include "probe.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/core/events.h"
#include "rrefsim/core/fingerprint.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/stepped_run.h"

namespace rrefsim::explore::detail {

// The world before a step choice, with the checkers' and the caller's invariant's history and what the run spent.
struct Snapshot {
  sim::SteppedRun world;
  checkers::CheckerSet checkers;
  std::unique_ptr<ExtraInvariant> extra;
  Spent spent;
  SentOnPath sent;  // with persistent sets: what the path sent so far
};

// Hands every record and view to the checkers first, then to the caller's invariant; either stops the run. (The
// independence audit, explore/tests/audit_steps.h, watches its branches with it too.) With a ledger (persistent sets),
// it counts every send into `sent`; unless it watches an analysis's copy (`learn` false), it also checks each send
// against the ledger, and tells the ledger of every abort and every broken slot or id.
class Watch : public checkers::RunObserver {
 public:
  // `learn`: whether sends outside the ledger are learned (the search's paths); the analysis's copies, whose states
  // may be none that a run reaches, only count what their path sent.
  Watch(checkers::CheckerSet& checkers, ExtraInvariant* extra, MessageLedger* ledger = nullptr,
        SentOnPath* sent = nullptr, bool learn = true)
      : checkers_(checkers), extra_(extra), ledger_(ledger), sent_(sent), learn_(learn) {}
  void OnStart(const checkers::GlobalView& view) override {
    checkers_.OnStart(view);
    if (extra_ != nullptr) extra_->OnStart(view);
  }
  void OnRecord(const checkers::StepRecord& record) override {
    checkers_.OnRecord(record);
    if (extra_ != nullptr) extra_->OnRecord(record);
    if (ledger_ != nullptr) Ledger(record);
  }
  bool OnStepEnd(const checkers::GlobalView& view) override {
    if (ledger_ != nullptr && learn_) CheckIds(view);
    bool go_on = checkers_.OnStepEnd(view);
    if (extra_ != nullptr && !extra_->OnStepEnd(view)) {
      if (!extra_step_) extra_step_ = view.step();
      go_on = false;
    }
    return go_on;
  }
  std::optional<std::uint64_t> extra_step() const { return extra_step_; }
  // The next send is the persistent sets' analysis putting a message in flight (SteppedRun::Inject), not its sender.
  void ExpectInjection() { injecting_ = true; }

 private:
  void Ledger(const checkers::StepRecord& record) {
    const bool created = record.kind == checkers::RecordKind::kSend ||
                         record.kind == checkers::RecordKind::kSendFailed || record.kind == checkers::RecordKind::kDrop;
    if (created && record.message != nullptr) {
      const core::Message& m = *record.message;
      const bool injected = std::exchange(injecting_, false);
      if (record.kind == checkers::RecordKind::kSend) {
        const std::uint64_t message = core::MessageFingerprint(m);
        if (learn_ && !core::IsRequest(m.type) && !sent_->AnswerExpected(m)) ledger_->NoteUnansweredResponse();
        sent_->Add(message);
        if (learn_) ledger_->Note(message, m, sent_->Count(message));
      }
      if (learn_ && (sent_->SlotTakenByAnother(m) || (!injected && sent_->TakesAnOldId(m)))) ledger_->NoteSlotBroken();
      sent_->AddCreated(m, injected);
    } else if (learn_ && record.kind == checkers::RecordKind::kEvent && record.event != nullptr &&
               std::holds_alternative<core::WorkerAborted>(*record.event)) {
      ledger_->NoteAbort();
    }
  }

  // Every request id a worker took is one of a request the path created (SentOnPath::NextId): the persistent sets'
  // analysis takes a request below its sender's next id for one that is only ever sent again.
  void CheckIds(const checkers::GlobalView& view) {
    for (int w = 0; w < view.workers(); ++w) {
      if (view.changed(w) && sent_->NextId(w) != view.worker(w).next_message_id) ledger_->NoteSlotBroken();
    }
  }

  checkers::CheckerSet& checkers_;
  ExtraInvariant* extra_;
  MessageLedger* ledger_;
  SentOnPath* sent_;
  std::optional<std::uint64_t> extra_step_;
  bool learn_;
  bool injecting_ = false;
};

struct Branch {
  std::optional<scenarios::CheckedRun> run;  // the run reached its end (its choices are the path's)
  std::optional<Cut::Why> cut;               // or the probe cut it short
  std::uint64_t new_steps = 0;               // steps past the replayed part: transitions of the search
  std::uint64_t replayed_steps = 0;          // steps from the snapshot to the changed choice (0 or 1)
  std::uint64_t depth = 0;                   // choice points on the run
  std::uint64_t held = 0;                    // new step choices held to the default by the deviation bound
  bool failed = false;                       // a checker or the caller's invariant fired
};

// The bounds of one search of several (iterative deepening, fewest deviations first).
struct SearchBounds {
  std::uint64_t max_depth = 0;
  std::optional<std::uint32_t> max_deviations;
};

class PersistentSets;

// With persistent sets: the ledger that every send is checked against, and the sets' analysis (persistent.h).
struct PersistenceHooks {
  MessageLedger* ledger = nullptr;
  PersistentSets* sets = nullptr;
  std::uint32_t round = 0;  // the search's, from 1 (ExploreOptions::on_persistent_set)
};

Branch RunBranch(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, const ExploreOptions& options,
                 std::vector<Node>& path, Visited& visited, const SearchBounds& bounds, ReductionStats& races,
                 const PersistenceHooks& persistence = {});

// The choices of path[0, depth) as a run on fibers makes them: without the single-option step choices that only
// DPOR's runs ask for (RunConfig::every_step_is_a_choice).
std::vector<sim::Choice> ChoicesOf(const std::vector<Node>& path, std::size_t depth);
// Their number, ChoicesOf(path, depth).size(), without building them: every branch reports its depth.
std::uint64_t ChoiceCount(const std::vector<Node>& path, std::size_t depth);

// The failing run of a branch, run again from the start on fibers (sim::Run) with the branch's choices: the normal
// run that the counterexample's trace records. Throws std::logic_error when it does not fail as the branch did.
scenarios::CheckedRun ReplayOnFibers(const scenarios::CatalogEntry& entry, const sim::RunConfig& config,
                                     const ExploreOptions& options, const std::vector<sim::Choice>& choices);

}  // namespace rrefsim::explore::detail
