// Copies of a checker set share each checker's memory until one of them changes it (copy on write,
// checkers/include/rrefsim/checkers/shared_memory.h), and each memory keeps its digest for the state key until it
// changes. Both are invisible by design: a copy that steps must not change the checkers it was copied from, and a
// fingerprint made of kept digests must equal that of checkers that watched the same run from its start. The
// explorer copies the checkers at every choice point and keys states by their fingerprint, so it rests on both.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "one_step.h"
#include "stepwise_config.h"
#include "rrefsim/checkers/checker_set.h"
#include "rrefsim/core/fingerprint.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/stepped_run.h"

namespace rrefsim::sim {
namespace {

using explore::test_support::FingerprintedConfigOf;
using explore::test_support::Identity;
using explore::test_support::OneStepChooser;

// The plain fingerprint of checkers that were never copied: they watch `choices` replayed from the start,
// `advances` times.
std::uint64_t CheckersFromScratch(const scenarios::CatalogEntry& entry, const RunConfig& config,
                                  const std::vector<Choice>& choices, std::size_t advances) {
  ReplayChooser replay(choices);
  checkers::CheckerSet checkers(scenarios::CheckerConfigOf(entry, config));
  SteppedRun run(entry.scenario, config, replay, &checkers);
  for (std::size_t i = 0; i < advances; ++i) run.Advance();
  return checkers.Fingerprint();
}

// Walks one random run with its checkers; at each of its step choices (the first 64), every option (up to 3) is
// taken by a copy of the world with a copy of the checkers. The copied checkers' fingerprint, made of the digests
// kept by the memories they share, equals that of checkers that watched the same steps from the start; the
// original's checkers are unchanged by the copy's step; and the original's own fingerprint still equals one from
// scratch after it steps on.
void CheckSharedCheckers(const char* name, std::uint64_t seed) {
  const scenarios::CatalogEntry& entry = *scenarios::FindScenario(name);
  const RunConfig config = FingerprintedConfigOf(entry);
  RandomChooser random(seed);
  const RunResult reference = RunWithoutFibers(entry.scenario, config, random);
  const core::WorkerRenaming identity = Identity(entry.scenario.workers);

  ReplayChooser replay(reference.choices);
  checkers::CheckerSet checkers(scenarios::CheckerConfigOf(entry, config));
  SteppedRun original(entry.scenario, config, replay, &checkers);
  std::size_t advances = 0;
  std::size_t changed = 0;  // copies whose step changed the checkers' memory: the test tests something
  for (; advances < 64 && original.Advance(); ++advances) {
    const std::string where = std::string(name) + " seed " + std::to_string(seed) + " choice " +
                              std::to_string(advances);
    EXPECT_EQ(checkers.Fingerprint(), CheckersFromScratch(entry, config, replay.choices(), advances + 1))
        << where << ": the original's kept digests";
    const std::uint64_t before = checkers.Fingerprint(&identity);
    const std::size_t options = original.pending_items().size();
    for (std::uint64_t option = 0; option < options && option < 3; ++option) {
      OneStepChooser step(option);
      checkers::CheckerSet copied(checkers);
      SteppedRun copy(original, step, &copied);
      copied.OnStart(copy.view());
      copy.Advance();
      std::vector<Choice> path = replay.choices();
      path.insert(path.end(), step.choices().begin(), step.choices().end());
      EXPECT_EQ(copied.Fingerprint(), CheckersFromScratch(entry, config, path, advances + 2))
          << where << " option " << option << ": the copy's fingerprint, with the digests it shares";
      EXPECT_EQ(checkers.Fingerprint(&identity), before)
          << where << " option " << option << ": the copy's step changed the original's checkers";
      changed += copied.Fingerprint(&identity) != before ? 1 : 0;
    }
  }
  EXPECT_GT(advances, 3U) << name << ": too few step choices to test anything";
  EXPECT_GT(changed, 0U) << name << " seed " << seed << ": no copy's step changed what the checkers remember";
}

TEST(CheckerSharing, CopiesKeepTheirOwnCheckersAndDigests) {
  // Forks, confirmations and deletes (s3, the benchmark's chain), timeouts answering remote() (s11, the creator pin's
  // timers), refused sends (s3_faulty_agent), an OwnerRRef freed while fetches wait (s5).
  for (const char* name : {"s3_user_to_user", "s11_remote_timeout", "s3_faulty_agent", "fork_chain_5",
                           "s5_owner_to_user"}) {
    for (std::uint64_t seed = 0; seed < 3; ++seed) CheckSharedCheckers(name, seed);
  }
}

}  // namespace
}  // namespace rrefsim::sim
