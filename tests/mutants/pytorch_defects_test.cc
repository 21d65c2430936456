// PyTorch's own defects under chaos (rref-cases.md §3), each caught by the checker that matches it, in pytorch mode
// with the production logic (no mutant is active here). For each defect the test searches seeds for a run where
// the matching checker fires first AND the recorded steps show the defect's mechanism, then replays it.
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"

namespace rrefsim {
namespace {

// A copy of what the checkers saw, enough to recognise a defect's mechanism.
struct Seen {
  checkers::RecordKind kind;
  int worker = -1;
  std::uint64_t step = 0;
  std::optional<core::Message> message;
  std::optional<core::Event> event;
};

class Recorder : public checkers::RunObserver {
 public:
  void OnRecord(const checkers::StepRecord& r) override {
    Seen s{r.kind, r.worker, r.step, std::nullopt, std::nullopt};
    if (r.message) s.message = *r.message;
    if (r.event) s.event = *r.event;
    seen.push_back(std::move(s));
  }
  bool OnStepEnd(const checkers::GlobalView&) override { return true; }
  std::vector<Seen> seen;
};

using Mechanism = std::function<bool(const std::vector<Seen>&, const checkers::Violation&)>;

struct Defect {
  std::string id;
  std::string checker;
  std::vector<std::string> scenarios;
  Mechanism mechanism;
};

// Searches chaos seeds of each scenario for the defect; on a find, checks that the run replays exactly.
bool Caught(const Defect& d, std::uint64_t seeds) {
  sim::RunConfig config;
  config.faults = *sim::MakeFaultConfig("chaos", {}).config;
  for (const std::string& name : d.scenarios) {
    const scenarios::CatalogEntry& entry = *scenarios::FindScenario(name);
    for (std::uint64_t seed = 0; seed < seeds; ++seed) {
      sim::RandomChooser chooser(seed);
      Recorder recorder;
      scenarios::CheckedRun run = scenarios::RunChecked(entry, config, chooser, &recorder);
      if (!run.failed() || run.violations.front().checker != d.checker) continue;
      if (!d.mechanism(recorder.seen, run.violations.front())) continue;
      sim::ReplayChooser replay(run.run.choices);
      scenarios::CheckedRun again = scenarios::RunChecked(entry, config, replay);
      EXPECT_EQ(again.run.hash, run.run.hash) << d.id << ": " << name << " seed " << seed << " does not replay";
      EXPECT_EQ(again.violations.front().text, run.violations.front().text);
      std::printf("%s caught by %s: %s seed %llu: %s\n", d.id.c_str(), d.checker.c_str(), name.c_str(),
                  static_cast<unsigned long long>(seed), run.violations.front().text.c_str());
      return true;
    }
  }
  return false;
}

bool CarriesOwnerFork(const core::Message& m) {
  for (const core::ForkData& f : m.value.rrefs) {
    if (f.parent == f.owner && f.owner == m.from) return true;
  }
  return false;
}

// The number of network copies of each sent message (same sender, type and id).
int Copies(const std::vector<Seen>& seen, const core::Message& m) {
  int n = 0;
  for (const Seen& s : seen) {
    if (s.kind == checkers::RecordKind::kSend && s.message->from == m.from && s.message->id == m.id &&
        s.message->type == m.type) {
      ++n;
    }
  }
  return n;
}

TEST(PytorchDefects, P2DuplicatedOwnerForkGivesTwoUsersOneForkId) {
  Defect d{"P2", "unique_fork_ids", {"s5_owner_to_user", "s3_user_to_user"},
           [](const std::vector<Seen>& seen, const checkers::Violation&) {
             for (const Seen& s : seen) {
               if (s.kind == checkers::RecordKind::kSend && CarriesOwnerFork(*s.message) && Copies(seen, *s.message) > 1) {
                 return true;
               }
             }
             return false;
           }};
  EXPECT_TRUE(Caught(d, 2000));
}

TEST(PytorchDefects, P3DuplicatedUserForkTripsA6) {
  Defect d{"P3", "protocol_error", {"s3_user_to_user"},
           [](const std::vector<Seen>&, const checkers::Violation& v) {
             return v.text.find("A6") != std::string::npos;
           }};
  EXPECT_TRUE(Caught(d, 2000));
}

TEST(PytorchDefects, P7LostOwnerForkLeaksItsEarlyRegistration) {
  Defect d{"P7", "clean_at_quiescence", {"s5_owner_to_user"},
           [](const std::vector<Seen>& seen, const checkers::Violation& v) {
             bool lost = false;
             for (const Seen& s : seen) {
               bool gone = s.kind == checkers::RecordKind::kDrop || s.kind == checkers::RecordKind::kSendFailed;
               lost = lost || (gone && CarriesOwnerFork(*s.message));
             }
             return lost && v.text.find("forks_") != std::string::npos;
           }};
  EXPECT_TRUE(Caught(d, 2000));
}

TEST(PytorchDefects, P10FetchAfterTheLastDeleteWaitsForever) {
  Defect d{"P10", "no_orphan_waiter", {"s5_owner_to_user", "s3_user_to_user"},
           [](const std::vector<Seen>& seen, const checkers::Violation&) {
             std::vector<core::RRefId> freed;
             for (const Seen& s : seen) {
               if (s.event) {
                 if (const auto* f = std::get_if<core::OwnerRRefFreed>(&*s.event)) freed.push_back(f->rref_id);
               }
               bool fetch = s.kind == checkers::RecordKind::kDeliver &&
                            s.message->type == core::MessageType::PYTHON_RREF_FETCH_CALL;
               if (fetch && std::find(freed.begin(), freed.end(), s.message->rref_id) != freed.end()) return true;
             }
             return false;
           }};
  EXPECT_TRUE(Caught(d, 2000));
}

TEST(PytorchDefects, P1LateForkRequestResurrectsADeletedFork) {
  Defect d{"P1", "owner_view_monotonic", {"s3_user_to_user", "s9_gated_on_two_forks", "forward_chain_ttl8"},
           [](const std::vector<Seen>& seen, const checkers::Violation& v) {
             // The violating step delivered a FORK_REQUEST for the re-added fork.
             for (const Seen& s : seen) {
               if (s.step == v.step && s.kind == checkers::RecordKind::kDeliver &&
                   s.message->type == core::MessageType::RREF_FORK_REQUEST) {
                 return true;
               }
             }
             return false;
           }};
  EXPECT_TRUE(Caught(d, 2000));
}

}  // namespace
}  // namespace rrefsim
