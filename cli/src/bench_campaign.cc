// Wall-clock and CPU time are the point here; nothing measured reads them.
#include "bench_campaign.h"

#include <sys/resource.h>

#include <chrono>
#include <vector>

#include "campaign_setup.h"
#include "ordered_runner.h"

namespace rrefsim::cli {
namespace {

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Runs the campaign; returns (wall seconds, CPU seconds) and counts its runs.
std::pair<double, double> Campaign(std::uint64_t seeds, int threads, std::uint64_t* runs) {
  CampaignOptions o;
  o.recheck = 0;
  std::atomic<bool> never{false};
  double cpu = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  std::vector<SeedJob> jobs;
  for (const scenarios::CatalogEntry& e : scenarios::Catalog()) {
    SeedJob& job = jobs.emplace_back();
    job.options = &o;
    job.source = ScenarioSource(&e, e.name);
    job.config.faults = *FaultsOf(o, e).config;
  }
  OrderedRun run;  // as campaign.cc runs it: every seed of every scenario, one stream
  run.count = seeds * jobs.size();
  run.threads = threads;
  run.work = [&](std::uint64_t i) { return RunSeed(jobs[i / seeds], i % seeds); };
  run.consume = [](SeedResult&) { return true; };
  run.tick = [] {};
  *runs = RunInOrder(run, never);
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), CpuSeconds() - cpu};
}

}  // namespace

CampaignScaling MeasureCampaignScaling(std::uint64_t seeds) {
  CampaignScaling s;
  std::tie(s.seconds_1_thread, s.cpu_1_thread) = Campaign(seeds, 1, &s.runs);
  std::tie(s.seconds_2_threads, s.cpu_2_threads) = Campaign(seeds, 2, &s.runs);
  return s;
}

}  // namespace rrefsim::cli
