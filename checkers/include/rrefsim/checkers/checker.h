// One checker per invariant of rref-protocol.md §7. Checkers are read-only: they follow the records of each step,
// look at the GlobalView after it, and report violations. Most work incrementally (only what the step touched);
// the leak checks run at quiescence and at the end of the run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rrefsim/checkers/global_view.h"
#include "rrefsim/checkers/shared_memory.h"
#include "rrefsim/core/fingerprint.h"

namespace rrefsim::checkers {

struct Violation {
  std::string checker;  // its id, e.g. "no_premature_delete"
  std::uint64_t step = 0;
  TimeUs time = 0;
  std::string text;  // what was seen, naming the RRef, forks and workers
};

// What the scenario declares legitimate: assertion codes it expects to fire, and how it may end.
struct CheckerConfig {
  std::vector<std::string> expected_protocol_errors;  // e.g. {"A6"}
  std::string expected_outcome = "ok";                // ok | deadlock | no_quiescence | worker_abort
  // Checker ids the scenario is known to trip through a documented PyTorch defect (rref-cases.md P1-P17): recorded
  // as expected, they neither stop the run nor fail it.
  std::vector<std::string> expected_violations;
  // The run's faults can surface as errors in PyTorch (sim::FaultsRaiseErrors): then an assertion raised to the
  // application that made the call (A17 after a remote() timed out, A18 after a delete) is the fault showing
  // through the API, like an RPC error, not a failed assertion of the protocol's own state.
  bool faults_raise_errors = false;
};

// How the run ended, as the World reports it (sim::OutcomeName) and the views at that moment.
struct RunEnd {
  std::string outcome;  // ok | deadlock | no_quiescence | worker_abort | stopped
  std::string detail;
  std::vector<core::ContextView> final_views;
};

// Facts every checker may use, kept from the records (the omniscient side of the GlobalView): the fork data of every
// fork id that travelled, which forks the owner confirmed, and which OwnerRRefs were freed.
class Facts {
 public:
  void OnRecord(const StepRecord& record);
  // The fork data the first message carrying `fork` had (its RRef, owner and parent), or nullptr.
  const core::ForkData* Fork(const core::ForkId& fork) const;
  // The owner processed RREF_FORK_REQUEST(fork), so the child is confirmed (I4).
  bool ForkRequestProcessed(const core::ForkId& fork) const { return memory_->fork_requested.contains(fork); }
  bool Freed(const core::RRefId& rref) const { return memory_->freed.contains(rref); }
  // Everything above, for the explorer's state key (CheckerSet::Fingerprint): all three are history. They only
  // grow, and most steps add nothing to them, so the digest without a renaming is kept until one of them grows
  // (SharedMemory, which also shares them between copies until one grows).
  void Fingerprint(core::StateHasher& h) const;

 private:
  struct Memory {
    std::map<core::ForkId, core::ForkData> forks;
    std::set<core::ForkId> fork_requested;
    std::set<core::RRefId> freed;
  };
  void Remember(const core::ForkData& fork);
  SharedMemory<Memory> memory_;
};

// Collects what a checker found during one call.
class Report {
 public:
  explicit Report(std::vector<std::string>& found) : found_(found) {}
  void Fail(std::string text) { found_.push_back(std::move(text)); }

 private:
  std::vector<std::string>& found_;
};

class Checker {
 public:
  virtual ~Checker() = default;
  virtual const char* id() const = 0;
  // Each record of a step, as it happens (see GlobalView for what its views show at that moment).
  virtual void OnRecord(const StepRecord&, const Facts&, const GlobalView&, Report&) {}
  // After each step, with the views of its end.
  virtual void AfterStep(const Facts&, const GlobalView&, Report&) {}
  // Once, when the run ended without being stopped.
  virtual void AtEnd(const RunEnd&, const CheckerConfig&, const Facts&, Report&) {}
  // A copy with the same history, for the explorer's copied worlds (a checker keeps what happened on the way).
  virtual std::unique_ptr<Checker> Clone() const = 0;
  // Its memory, for the explorer's state key (docs/explore.md, "State hashing"): every member that can change what
  // it reports later, maps and sets walked in their order (folded as multisets under h's renaming, whose worker ids
  // go through h.Rename), never a pointer. Two checkers with equal fingerprints go on alike from equal worlds. The
  // explorer keys states between steps, where the per-step scratch is empty; it is mixed anyway (cheap, and sound
  // whatever calls it).
  virtual void Fingerprint(core::StateHasher& h) const = 0;
};

// Implements Clone by copying the derived checker: its history is plain data.
template <class Derived>
class CloneableChecker : public Checker {
 public:
  std::unique_ptr<Checker> Clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// Every checker, in the order that decides which one names a failure (issue 4's list).
std::vector<std::unique_ptr<Checker>> MakeCheckers(const CheckerConfig& config);
// Their ids, in that order.
const std::vector<std::string>& CheckerIds();

}  // namespace rrefsim::checkers
