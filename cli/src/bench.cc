// Wall-clock measurements are the point here, so this file reads std::chrono::steady_clock; nothing it measures
// reads it (the simulated world has only virtual time).
#include "bench.h"

#include <sys/resource.h>

#include <boost/fiber/all.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench_campaign.h"
#include "bench_protocols.h"
#include "exit_codes.h"
#include "rrefsim/checkers/checker.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// One Boost.Fiber yield between two fibers under round_robin, on a fresh thread (a fresh scheduler).
double YieldNanoseconds() {
  double ns = 0;
  std::thread([&ns] {
    constexpr int kYields = 1'000'000;
    auto spin = [] {
      for (int i = 0; i < kYields / 2; ++i) boost::this_fiber::yield();
    };
    Clock::time_point start = Clock::now();
    boost::fibers::fiber a(spin), b(spin);
    a.join();
    b.join();
    ns = Seconds(start) * 1e9 / kYields;
  }).join();
  return ns;
}

long PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss * 1024L;
}

// The catalog's reorder scenarios, seeds 0..mix_seeds-1 each, with or without every checker watching.
struct Mix {
  std::uint64_t messages = 0, switches = 0, runs = 0, scenarios = 0;
  double seconds = 0;
};

Mix RunMix(const BenchOptions& o, bool checked) {
  sim::RunConfig config;  // the reorder profile
  Mix mix;
  Clock::time_point start = Clock::now();
  for (const scenarios::CatalogEntry& e : scenarios::Catalog()) {
    if (e.faults != "reorder") continue;
    ++mix.scenarios;
    for (std::uint64_t seed = 0; seed < o.mix_seeds; ++seed) {
      sim::RandomChooser chooser(seed);
      sim::RunResult r = checked ? scenarios::RunChecked(e, config, chooser).run : sim::Run(e.scenario, config, chooser);
      mix.messages += r.messages_delivered;
      mix.switches += r.fiber_switches;
      ++mix.runs;
    }
  }
  mix.seconds = Seconds(start);
  return mix;
}

}  // namespace

int RunBench(const BenchOptions& o) {
  long rss_before = PeakRssBytes();
  sim::RunConfig config;  // the reorder profile
  Mix mix = RunMix(o, false);
  Mix checked = RunMix(o, true);
  double mix_seconds = mix.seconds;
  std::uint64_t messages = mix.messages, switches = mix.switches, runs = mix.runs, scenarios_run = mix.scenarios;

  // runs_per_second: S3 with 4 workers (one idle), as many seeds as fit in s3_seconds.
  const sim::Scenario& s3 = scenarios::FindScenario("s3_user_to_user")->scenario;
  std::uint64_t s3_runs = 0;
  Clock::time_point start = Clock::now();
  while (Seconds(start) < o.s3_seconds) {
    sim::RandomChooser chooser(s3_runs);
    sim::Run(s3, config, chooser);
    ++s3_runs;
  }
  double s3_seconds = Seconds(start);
  double yield_ns = YieldNanoseconds();
  double per_message_ns = mix_seconds * 1e9 / static_cast<double>(messages);
  CampaignScaling scaling = o.campaign_seeds > 0 ? MeasureCampaignScaling(o.campaign_seeds) : CampaignScaling{};
  ProtocolCost cost = MeasureProtocolCost(o.protocol_seeds);
  auto ratio = [](double hardened, double pytorch) { return pytorch > 0 ? hardened / pytorch : 0.0; };

  std::printf(
      "{\"messages_per_second\": %.0f, \"messages_per_second_checked\": %.0f, \"runs_per_second\": %.0f, \"switches_per_message\": %.3f, "
      "\"yield_ns\": %.1f, \"message_cost_in_yields\": %.1f, \"peak_rss_bytes\": %ld, "
      "\"rss_before_simulating_bytes\": %ld, \"mix_runs\": %llu, \"mix_messages\": %llu, "
      "\"campaign_speedup_2_threads\": %.2f, \"campaign_cpu_bound_speedup_2_threads\": %.2f, "
      "\"campaign_cores_used_2_threads\": %.2f, \"campaign_seconds_1_thread\": %.2f, \"campaign_seconds_2_threads\": %.2f, "
      "\"campaign_runs\": %llu, "
      "\"protocol_runs_per_mode\": %llu, \"pytorch_messages\": %llu, \"hardened_messages\": %llu, "
      "\"hardened_messages_ratio\": %.3f, \"hardened_virtual_time_ratio\": %.3f, \"hardened_wall_time_ratio\": %.3f, "
      "\"workload\": \"the %llu catalog scenarios meant for reorder, seeds 0-%llu each; checked: all %zu checkers on\"}\n",
      messages / mix_seconds, checked.messages / checked.seconds, s3_runs / s3_seconds, static_cast<double>(switches) / static_cast<double>(messages),
      yield_ns, per_message_ns / yield_ns, PeakRssBytes(), rss_before, static_cast<unsigned long long>(runs),
      static_cast<unsigned long long>(messages), scaling.speedup(), scaling.cpu_bound_speedup(),
      scaling.parallelism_2_threads(), scaling.seconds_1_thread, scaling.seconds_2_threads,
      static_cast<unsigned long long>(scaling.runs), static_cast<unsigned long long>(cost.pytorch.runs),
      static_cast<unsigned long long>(cost.pytorch.messages), static_cast<unsigned long long>(cost.hardened.messages),
      ratio(static_cast<double>(cost.hardened.messages), static_cast<double>(cost.pytorch.messages)),
      ratio(cost.hardened.virtual_seconds, cost.pytorch.virtual_seconds),
      ratio(cost.hardened.wall_seconds, cost.pytorch.wall_seconds), static_cast<unsigned long long>(scenarios_run),
      static_cast<unsigned long long>(o.mix_seeds - 1), checkers::CheckerIds().size());
  return kExitOk;
}

}  // namespace rrefsim::cli
