// Copies of a stepped world share their hosts, fiber records and messages in flight until one changes them (copy on
// write, sim/src/world_impl.h), and each host, fiber and message keeps its part of the plain fingerprint until it
// changes. Both are invisible by design: a copy that steps must not change the world it was copied from, and a
// fingerprint made of kept parts must equal one computed from scratch. The explorer's state hashing rests on both.
// (The renamed fingerprint below hashes all three afresh; each check failed when the sharing or the kept part was
// broken on purpose: a shared record changed in place, a message moved out of a shared one, a kept word not forgotten.)
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "one_step.h"
#include "stepwise_config.h"
#include "rrefsim/core/fingerprint.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/stepped_run.h"
#include "rrefsim/sim/symmetry.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::sim {
namespace {

using explore::test_support::FingerprintedConfigOf;
using explore::test_support::Identity;
using explore::test_support::OneStepChooser;

// The plain fingerprint of a world that never kept one: `choices` replayed from the start, `advances` times.
std::uint64_t FingerprintFromScratch(const scenarios::CatalogEntry& entry, const RunConfig& config,
                                     const std::vector<Choice>& choices, std::size_t advances) {
  ReplayChooser replay(choices);
  SteppedRun run(entry.scenario, config, replay);
  for (std::size_t i = 0; i < advances; ++i) run.Advance();
  return *StateFingerprint(run.view());
}

// Walks one random run; at each of its step choices (the first 64), every option (up to 3) is taken by a copy.
// The copy's fingerprint, made of the parts kept by the hosts it shares, equals that of the same state reached from
// scratch; the original's hosts are unchanged by the copy's step; and the original's own fingerprint, kept parts
// included, still equals one from scratch after it steps on.
void CheckSharedHosts(const char* name, std::uint64_t seed) {
  const scenarios::CatalogEntry& entry = *scenarios::FindScenario(name);
  const RunConfig config = FingerprintedConfigOf(entry);
  RandomChooser random(seed);
  const RunResult reference = RunWithoutFibers(entry.scenario, config, random);
  const core::WorkerRenaming identity = Identity(entry.scenario.workers);

  ReplayChooser replay(reference.choices);
  SteppedRun original(entry.scenario, config, replay);
  std::size_t advances = 0;
  for (; advances < 64 && original.Advance(); ++advances) {
    const std::string where = std::string(name) + " seed " + std::to_string(seed) + " choice " +
                              std::to_string(advances);
    EXPECT_EQ(*StateFingerprint(original.view()), FingerprintFromScratch(entry, config, replay.choices(), advances + 1))
        << where << ": the original's kept fingerprints";
    const std::uint64_t hosts_before = *RenamedFingerprint(original.view(), identity);
    const std::size_t options = original.pending_items().size();
    for (std::uint64_t option = 0; option < options && option < 3; ++option) {
      OneStepChooser step(option);
      SteppedRun copy(original, step, nullptr);
      copy.Advance();
      std::vector<Choice> path = replay.choices();
      path.insert(path.end(), step.choices().begin(), step.choices().end());
      EXPECT_EQ(*StateFingerprint(copy.view()), FingerprintFromScratch(entry, config, path, advances + 2))
          << where << " option " << option << ": the copy's fingerprint, with the parts it shares";
      EXPECT_EQ(*RenamedFingerprint(original.view(), identity), hosts_before)
          << where << " option " << option << ": the copy's step changed the original's hosts";
    }
  }
  EXPECT_GT(advances, 3U) << name << ": too few step choices to test anything";
}

TEST(HostSharing, CopiesKeepTheirOwnHostsAndFingerprints) {
  // Replies and forks (s3), timeouts queued behind a busy handler (s11), a backlog of one handler and graceful
  // shutdown (pool_exhaustion), refused sends (s3_faulty_agent), the benchmark's long chain (fork_chain_5).
  for (const char* name :
       {"s3_user_to_user", "s11_remote_timeout", "pool_exhaustion", "s3_faulty_agent", "fork_chain_5"}) {
    for (std::uint64_t seed = 0; seed < 3; ++seed) CheckSharedHosts(name, seed);
  }
}

}  // namespace
}  // namespace rrefsim::sim
