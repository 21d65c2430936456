// The World end to end: scenario programs on fibers over the virtual network, from a seed.
#include <gtest/gtest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rrefsim/sim/world.h"
#include "sim_test_util.h"

namespace rrefsim::sim {
namespace {

using namespace rrefsim::sim::testing;

RunResult RunSeed(const Scenario& s, std::uint64_t seed, const std::string& profile = "reorder") {
  RunConfig config;
  FaultConfigResult faults = MakeFaultConfig(profile, {});
  EXPECT_TRUE(faults.config.has_value()) << faults.error;
  if (faults.config) config.faults = *faults.config;
  RandomChooser chooser(seed);
  return sim::Run(s, config, chooser);
}

TEST(WorldTest, UserToUserRunsToQuiescenceWithCleanState) {
  RunResult r = RunSeed(UserToUser(), 1);
  EXPECT_EQ(r.outcome, Outcome::kOk) << r.detail;
  for (const Observation& o : r.observations) EXPECT_TRUE(o.expected_ok) << o.where << ": " << o.what;
  ASSERT_EQ(r.final_views.size(), 4u);
  for (const core::ContextView& v : r.final_views) {
    EXPECT_TRUE(v.owners.empty()) << "worker " << v.worker;
    EXPECT_TRUE(v.forks.empty()) << "worker " << v.worker;
    EXPECT_TRUE(v.users.empty()) << "worker " << v.worker;
    EXPECT_EQ(v.debug.num_pending_futures, 0) << "worker " << v.worker;
    EXPECT_TRUE(v.destroyed) << "worker " << v.worker;
  }
  EXPECT_GT(r.messages_delivered, 8u);
}

TEST(WorldTest, SameSeedSameHashDifferentSeedsDiffer) {
  Scenario s = UserToUser();
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    RunResult a = RunSeed(s, seed);
    RunResult b = RunSeed(s, seed);
    EXPECT_EQ(a.hash, b.hash) << "seed " << seed;
    EXPECT_EQ(a.choices, b.choices) << "seed " << seed;
    hashes.insert(a.hash);
  }
  EXPECT_GT(hashes.size(), 10u);  // reordering really varies the runs
}

TEST(WorldTest, ReplayOfTheChoiceListReproducesTheRun) {
  Scenario s = UserToUser();
  RunResult original = RunSeed(s, 7);
  RunConfig config;
  config.faults = *MakeFaultConfig("reorder", {}).config;
  ReplayChooser replay(original.choices);
  RunResult again = sim::Run(s, config, replay);
  EXPECT_EQ(again.hash, original.hash);
  EXPECT_TRUE(replay.exhausted());
}

// ------------------------------------------------------------------------------------------------ across processes

// The determinism workload: S3 under chaos (drops, duplicates, long delays, partitions) for seeds 0..19.
std::vector<std::uint64_t> WorkloadHashes() {
  std::vector<std::uint64_t> hashes;
  for (std::uint64_t seed = 0; seed < 20; ++seed) hashes.push_back(RunSeed(UserToUser(), seed, "chaos").hash);
  return hashes;
}

bool WriteAll(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

void WriteHashesAndExit(int fd) {
  std::vector<std::uint64_t> hashes = WorkloadHashes();
  bool ok = WriteAll(fd, hashes.data(), hashes.size() * sizeof(std::uint64_t));
  close(fd);
  _exit(ok ? 0 : 1);
}

// A fresh process (this binary re-executed, so with its own address-space layout under ASLR): when
// RRSIM_DETERMINISM_CHILD_FD names a pipe, the workload runs before GoogleTest starts, its hashes go to the pipe,
// and the process exits.
const bool kDeterminismChild = [] {
  if (const char* fd = std::getenv("RRSIM_DETERMINISM_CHILD_FD")) WriteHashesAndExit(std::atoi(fd));
  return false;
}();

// Reads the child's hashes from `fd` until EOF and reaps it; nullopt if it did not exit cleanly.
std::optional<std::vector<std::uint64_t>> CollectHashes(pid_t child, int fd) {
  std::vector<std::uint64_t> hashes;
  std::uint64_t h = 0;
  std::size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, reinterpret_cast<char*>(&h) + have, sizeof h - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
    if (have == sizeof h) {
      hashes.push_back(h);
      have = 0;
    }
  }
  close(fd);
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return hashes;
}

// fork(): the child runs the workload in a copy of this process and pipes its hashes back.
TEST(WorldTest, SameSeedSameHashInAForkedChildProcess) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    WriteHashesAndExit(fds[1]);
  }
  close(fds[1]);
  std::optional<std::vector<std::uint64_t>> theirs = CollectHashes(child, fds[0]);
  std::vector<std::uint64_t> mine = WorkloadHashes();
  ASSERT_TRUE(theirs.has_value()) << "the child did not exit cleanly";
  EXPECT_EQ(*theirs, mine);
  EXPECT_GT(std::set<std::uint64_t>(mine.begin(), mine.end()).size(), 15u) << "different seeds differ";
}

// fork() + exec(): the same workload in a fresh process image of this binary (fresh heap and stack addresses),
// so a hash that depended on an address or on process history would show here.
TEST(WorldTest, SameSeedSameHashInAFreshProcess) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    setenv("RRSIM_DETERMINISM_CHILD_FD", std::to_string(fds[1]).c_str(), 1);
    char arg0[] = "rrefsim_sim_tests";
    char* argv[] = {arg0, nullptr};
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  close(fds[1]);
  std::optional<std::vector<std::uint64_t>> theirs = CollectHashes(child, fds[0]);
  ASSERT_TRUE(theirs.has_value()) << "the re-executed child did not exit cleanly";
  EXPECT_EQ(*theirs, WorkloadHashes());
}

// ------------------------------------------------------------------------------------------------ replay

TEST(WorldTest, ReplayOfAChaosRunReproducesItsHash) {
  Scenario s = UserToUser();
  RunConfig config;
  config.faults = *MakeFaultConfig("chaos", {}).config;
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    RunResult original = RunSeed(s, seed, "chaos");
    ReplayChooser replay(original.choices);
    RunResult again = sim::Run(s, config, replay);
    EXPECT_EQ(again.hash, original.hash) << "seed " << seed;
    EXPECT_EQ(again.choices, original.choices) << "seed " << seed;
    EXPECT_EQ(again.outcome, original.outcome) << "seed " << seed;
    EXPECT_EQ(again.end_time, original.end_time) << "seed " << seed;
    EXPECT_TRUE(replay.exhausted()) << "seed " << seed;
  }
}

// One changed pick, in the middle of the list, at a scheduling decision: the replay runs another schedule.
TEST(WorldTest, ReplayWithOneChangedStepPickDiffers) {
  Scenario s = UserToUser();
  RunConfig config;
  config.faults = *MakeFaultConfig("chaos", {}).config;
  RunResult original = RunSeed(s, 5, "chaos");
  std::vector<Choice> tampered = original.choices;
  std::optional<std::size_t> at;
  for (std::size_t i = tampered.size() / 2; i < tampered.size() && !at; ++i) {
    if (tampered[i].kind == ChoiceKind::kStep && tampered[i].options > 1) at = i;
  }
  ASSERT_TRUE(at.has_value());
  tampered[*at].pick = (tampered[*at].pick + 1) % tampered[*at].options;
  ReplayChooser replay(tampered);
  std::uint64_t hash = 0;
  try {
    hash = sim::Run(s, config, replay).hash;
  } catch (const ReplayDivergence& e) {
    EXPECT_GE(e.step, *at) << e.what();
    return;
  }
  EXPECT_NE(hash, original.hash) << "choice " << *at;
}

// What a replay of a tampered list did, as its child process reports it: "hash <h>" or "diverged <step> <what>".
std::string ReplayInChild(const Scenario& s, const RunConfig& config, const std::vector<Choice>& choices) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t child = fork();
  if (child < 0) return "fork failed";
  if (child == 0) {
    close(fds[0]);
    alarm(2);  // a replay that hangs is killed by SIGALRM and reported as such
    std::string report;
    try {
      ReplayChooser replay(choices);
      report = "hash " + std::to_string(sim::Run(s, config, replay).hash);
    } catch (const ReplayDivergence& e) {
      report = "diverged " + std::to_string(e.step) + " " + e.what();
    } catch (const std::exception& e) {
      report = std::string("threw ") + e.what();
    }
    WriteAll(fds[1], report.data(), report.size());
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buffer[256];
  for (;;) {
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status)) + " " + report;
  return report;
}

// Every single-pick change of a chaos run's list (each in a child process, so that a crash cannot take the suite
// down): the replay either runs to a different hash or throws ReplayDivergence from Run, naming the step at or after
// the change (what(): "replay diverged at choice <step>: ...").
TEST(WorldTest, ReplayOfATamperedListDiffersOrDivergesNamingTheStep) {
  Scenario s = UserToUser();
  RunConfig config;
  config.faults = *MakeFaultConfig("chaos", {}).config;
  RunResult original = RunSeed(s, 5, "chaos");
  int changed = 0;
  int diverged = 0;
  int differed = 0;
  for (std::size_t i = 0; i < original.choices.size(); ++i) {
    if (original.choices[i].options < 2) continue;
    std::vector<Choice> tampered = original.choices;
    tampered[i].pick = (tampered[i].pick + 1) % tampered[i].options;
    const std::string report = ReplayInChild(s, config, tampered);
    SCOPED_TRACE("choice " + std::to_string(i) + ": " + report);
    ++changed;
    if (report.rfind("hash ", 0) == 0) {
      EXPECT_NE(report, "hash " + std::to_string(original.hash));
      ++differed;
    } else {
      ++diverged;
      ASSERT_EQ(report.rfind("diverged ", 0), 0u);
      const std::uint64_t step = std::stoull(report.substr(9));
      EXPECT_GE(step, i);
      EXPECT_NE(report.find("replay diverged at choice " + std::to_string(step) + ": "), std::string::npos);
    }
  }
  EXPECT_GT(changed, 10);
  EXPECT_GT(diverged, 0) << "some changes make the world ask for something else";
  EXPECT_GT(differed, 0) << "some changes replay to the end on another schedule";
  RecordProperty("diverged", diverged);
  RecordProperty("differed", differed);
}

}  // namespace
}  // namespace rrefsim::sim
