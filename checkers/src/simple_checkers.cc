// The checkers that read one record or the run's end: protocol_error, to_here_value, worker_abort, deadlock,
// no_quiescence.
#include <algorithm>
#include <variant>

#include "checkers_impl.h"

namespace rrefsim::checkers::detail {
namespace {

const char* SiteName(core::ErrorSite site) {
  switch (site) {
    case core::ErrorSite::kRequestHandler:
      return "request handler";
    case core::ErrorSite::kPoolCallback:
      return "callback on the agent pool";
    case core::ErrorSite::kRetryThread:
      return "callback on the retry thread";
    case core::ErrorSite::kCaller:
      return "raised to the caller";
  }
  return "?";
}

// An assertion of rref-protocol.md §6 fired that the scenario does not list as expected.
class ProtocolErrorChecker : public CloneableChecker<ProtocolErrorChecker> {
 public:
  ProtocolErrorChecker(std::vector<std::string> expected, bool faults_raise_errors)
      : expected_(std::make_shared<const std::vector<std::string>>(std::move(expected))),
        faults_raise_errors_(faults_raise_errors) {}
  const char* id() const override { return "protocol_error"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report& report) override {
    if (r.kind != RecordKind::kEvent) return;
    const auto* error = std::get_if<core::ProtocolError>(r.event);
    if (error == nullptr || error->code.empty()) return;  // not an assertion of §6
    if (error->site == core::ErrorSite::kCaller && faults_raise_errors_) return;
    if (std::find(expected_->begin(), expected_->end(), error->code) != expected_->end()) return;
    report.Fail(W(r.worker) + ": assertion " + error->code + " fired (" + SiteName(error->site) + "): " +
                error->text);
  }
  // No memory: each record is judged alone. The expected codes are the scenario's, the same on every path.
  void Fingerprint(core::StateHasher&) const override {}

 private:
  std::shared_ptr<const std::vector<std::string>> expected_;  // the scenario's: shared by every copy, never changed
  bool faults_raise_errors_;
};

// A to_here / rpc result outside the scenario's allowed set (an expected error is not a failure).
class ToHereValueChecker : public CloneableChecker<ToHereValueChecker> {
 public:
  const char* id() const override { return "to_here_value"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report& report) override {
    if (r.kind == RecordKind::kObservation && !r.expected_ok) {
      report.Fail(W(r.worker) + ", " + std::string(r.where) + ": " + std::string(r.text));
    }
  }
  void Fingerprint(core::StateHasher&) const override {}  // no memory: each observation is judged alone
};

// A worker process would terminate (PyTorch's std::terminate, rref-protocol.md §9.3).
class WorkerAbortChecker : public CloneableChecker<WorkerAbortChecker> {
 public:
  explicit WorkerAbortChecker(bool expected) : expected_(expected) {}
  const char* id() const override { return "worker_abort"; }
  void OnRecord(const StepRecord& r, const Facts&, const GlobalView&, Report& report) override {
    if (r.kind != RecordKind::kEvent || expected_) return;
    if (const auto* aborted = std::get_if<core::WorkerAborted>(r.event)) {
      report.Fail(W(r.worker) + " terminated: " + aborted->text);
    }
  }
  void AtEnd(const RunEnd& end, const CheckerConfig& config, const Facts&, Report& report) override {
    if (config.expected_outcome == "worker_abort" && end.outcome != "worker_abort") {
      report.Fail("the scenario expects a worker to abort; the run ended " + end.outcome);
    }
  }
  // No memory: an abort is judged when it happens, the end by how the run ended. `expected_` is the scenario's.
  void Fingerprint(core::StateHasher&) const override {}

 private:
  bool expected_;
};

// An end of the run the scenario does not expect (deadlock, no_quiescence), or an expected one that did not come.
class OutcomeChecker : public CloneableChecker<OutcomeChecker> {
 public:
  OutcomeChecker(const char* outcome, const char* what) : outcome_(outcome), what_(what) {}
  const char* id() const override { return outcome_; }
  void AtEnd(const RunEnd& end, const CheckerConfig& config, const Facts&, Report& report) override {
    bool expected = config.expected_outcome == outcome_;
    if (end.outcome == outcome_ && !expected) report.Fail(std::string(what_) + ": " + end.detail);
    if (expected && end.outcome != outcome_) {
      report.Fail(std::string("the scenario expects ") + what_ + "; the run ended " + end.outcome);
    }
  }
  void Fingerprint(core::StateHasher&) const override {}  // no memory: it judges how the run ended, and nothing else

 private:
  const char* outcome_;
  const char* what_;
};

}  // namespace

std::unique_ptr<Checker> MakeProtocolError(const CheckerConfig& config) {
  return std::make_unique<ProtocolErrorChecker>(config.expected_protocol_errors, config.faults_raise_errors);
}
std::unique_ptr<Checker> MakeToHereValue() { return std::make_unique<ToHereValueChecker>(); }
std::unique_ptr<Checker> MakeWorkerAbort(const CheckerConfig& config) {
  return std::make_unique<WorkerAbortChecker>(config.expected_outcome == "worker_abort");
}
std::unique_ptr<Checker> MakeDeadlock() { return std::make_unique<OutcomeChecker>("deadlock", "a deadlock"); }
std::unique_ptr<Checker> MakeNoQuiescence() {
  return std::make_unique<OutcomeChecker>("no_quiescence", "no quiescence within the safety bounds");
}

}  // namespace rrefsim::checkers::detail
