// Test harness: hand-made records and views for the checkers, without a simulator. A FakeRun feeds one checker (with
// its own Facts) or a whole CheckerSet step by step; the views are whatever the test writes into `view`.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "rrefsim/checkers/checker.h"
#include "rrefsim/checkers/checker_set.h"

namespace rrefsim::checkers::testing {

inline core::GloballyUniqueId Gid(int created_on, std::int64_t local_id) {
  return {static_cast<core::WorkerId>(created_on), local_id};
}

class FakeView : public GlobalView {
 public:
  explicit FakeView(int workers) : views(static_cast<std::size_t>(workers)) {
    for (int w = 0; w < workers; ++w) views[static_cast<std::size_t>(w)].worker = w;
  }
  int workers() const override { return static_cast<int>(views.size()); }
  const core::ContextView& worker(int w) const override {
    read.insert(w);
    return views.at(static_cast<std::size_t>(w));
  }
  bool changed(int) const override { return true; }
  void ForEachInFlight(const std::function<void(const InFlightMessage&)>&) const override {}
  std::uint64_t step() const override { return step_count; }
  TimeUs now() const override { return 0; }

  std::vector<core::ContextView> views;
  std::uint64_t step_count = 0;
  mutable std::set<int> read;  // the workers a checker asked for, as World::worker counts them in a step's reads
};

// A message or an event for a record; the record points at it, so it lives in the FakeRun.
struct Input {
  RecordKind kind = RecordKind::kSend;
  int worker = -1;
  core::Message message;
  core::Event event = core::Log{};
  std::int64_t retry_chain = -1;
  std::string text;
  bool expected_ok = true;
};

inline Input Send(const core::Message& m, std::int64_t chain = -1) {
  return Input{RecordKind::kSend, m.from, m, core::Log{}, chain, "", true};
}
inline Input Deliver(const core::Message& m) { return Input{RecordKind::kDeliver, m.to, m, core::Log{}, -1, "", true}; }
inline Input Emit(int worker, core::Event event) {
  return Input{RecordKind::kEvent, worker, core::Message{}, std::move(event), -1, "", true};
}
inline Input Observe(int worker, bool ok) {
  return Input{RecordKind::kObservation, worker, core::Message{}, core::Log{}, -1, "to_here returned 3", ok};
}
inline core::Message Msg(core::MessageType type, int from, int to, core::GloballyUniqueId fork = {},
                         core::GloballyUniqueId rref = {}) {
  core::Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.fork_id = fork;
  m.rref_id = rref;
  return m;
}

inline StepRecord RecordOf(const Input& in, std::uint64_t step) {
  StepRecord r;
  r.step = step;
  r.worker = in.worker;
  r.kind = in.kind;
  r.message = &in.message;
  r.event = &in.event;
  r.retry_chain = in.retry_chain;
  r.text = in.text;
  r.where = "program 1 op 0";
  r.expected_ok = in.expected_ok;
  return r;
}

// One checker by id (MakeCheckers), with its own Facts, fed step by step.
class CheckerRun {
 public:
  explicit CheckerRun(const std::string& id, int workers = 4) : view(workers) {
    for (std::unique_ptr<Checker>& c : MakeCheckers(CheckerConfig{})) {
      if (c->id() == id) checker = std::move(c);
    }
    EXPECT_NE(checker, nullptr) << id;
  }
  // The records of one step, then (unless `end` is false: a step still going) the end of the step.
  void Step(const std::vector<Input>& inputs, bool end = true) {
    Report report(found);
    ++view.step_count;
    for (const Input& in : inputs) {
      StepRecord r = RecordOf(in, view.step_count);
      facts.OnRecord(r);
      checker->OnRecord(r, facts, view, report);
    }
    if (end) checker->AfterStep(facts, view, report);
  }
  std::uint64_t Fingerprint(const core::WorkerRenaming* renaming = nullptr) const {
    core::StateHasher h(renaming);
    checker->Fingerprint(h);
    return h.value();
  }

  FakeView view;
  Facts facts;
  std::unique_ptr<Checker> checker;
  std::vector<std::string> found;  // what it reported
};

// A whole CheckerSet, fed step by step.
class SetRun {
 public:
  explicit SetRun(CheckerConfig config = {}, int workers = 4) : view(workers), set(std::move(config)) {
    set.OnStart(view);
  }
  void Step(const std::vector<Input>& inputs, bool end = true) {
    ++view.step_count;
    for (const Input& in : inputs) set.OnRecord(RecordOf(in, view.step_count));
    if (end) set.OnStepEnd(view);
  }

  FakeView view;
  CheckerSet set;
};

}  // namespace rrefsim::checkers::testing
