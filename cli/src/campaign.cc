#include "campaign.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "exit_codes.h"
#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::cli {
namespace {

std::unique_ptr<sim::Chooser> MakeChooser(const CampaignOptions& o, std::uint64_t seed) {
  if (o.strategy == "pct") return std::make_unique<sim::PctChooser>(seed, o.pct_depth, 2000);
  return std::make_unique<sim::RandomChooser>(seed);
}

std::string ReplayCommand(const CampaignOptions& o, const std::string& profile, std::uint64_t seed) {
  std::string cmd = "rrefsim run --scenario " + o.scenario + " --seed " + std::to_string(seed) + " --faults " + profile;
  for (const std::string& f : o.faults) cmd += " --fault " + f;
  if (o.strategy != "random") cmd += " --strategy " + o.strategy + " --pct-depth " + std::to_string(o.pct_depth);
  return cmd;
}

void PrintStep(const sim::StepEvent& e) {
  std::printf("%8llu %12.3f ms  w%-2d %-11s %s\n", static_cast<unsigned long long>(e.step), e.time / 1000.0, e.worker,
              e.kind.c_str(), e.detail.c_str());
}

}  // namespace

std::string FailureOf(const sim::RunResult& r, sim::Outcome expected) {
  if (r.outcome != expected) {
    std::string failure = std::string(sim::OutcomeName(r.outcome)) + ": " + r.detail;
    if (r.outcome == sim::Outcome::kOk) failure += " (expected " + std::string(sim::OutcomeName(expected)) + ")";
    return failure;
  }
  for (const sim::Observation& o : r.observations) {
    if (!o.expected_ok) return "to_here_value: worker " + std::to_string(o.worker) + " " + o.where + ": " + o.what;
  }
  return "";
}

namespace {

int RunOne(const CampaignOptions& o, const scenarios::CatalogEntry* entry) {
  std::string profile = o.profile.empty() ? entry->faults : o.profile;
  sim::FaultConfigResult faults = sim::MakeFaultConfig(profile, o.faults);
  if (!faults.config) {
    std::fprintf(stderr, "rrefsim run: %s\n", faults.error.c_str());
    return kExitBadInput;
  }
  sim::RunConfig config;
  config.faults = *faults.config;
  auto start = std::chrono::steady_clock::now();  // wall clock for the summary's rates only
  std::uint64_t runs = 0, steps = 0, messages = 0, failures = 0;
  std::map<std::string, std::uint64_t> failures_by_kind;
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = o.seed_begin; seed < o.seed_end; ++seed) {
    std::unique_ptr<sim::Chooser> chooser = MakeChooser(o, seed);
    sim::StepObserver observer = o.trace ? sim::StepObserver(PrintStep) : sim::StepObserver();
    sim::RunResult r = sim::Run(entry->scenario, config, *chooser, observer);
    ++runs;
    steps += r.steps;
    messages += r.messages_delivered;
    hashes.insert(r.hash);
    std::string failure = FailureOf(r, entry->expected);
    if (o.trace) {
      std::printf("seed %llu: %s, %llu steps, hash %016llx\n", static_cast<unsigned long long>(seed),
                  failure.empty() ? "ok" : failure.c_str(), static_cast<unsigned long long>(r.steps),
                  static_cast<unsigned long long>(r.hash));
    }
    if (failure.empty()) continue;
    ++failures;
    ++failures_by_kind[failure.substr(0, failure.find(':'))];
    if (static_cast<int>(failures) <= o.show_failures) {
      std::printf("FAIL seed %llu: %s\n  replay: %s\n", static_cast<unsigned long long>(seed), failure.c_str(),
                  ReplayCommand(o, profile, seed).c_str());
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s under %s (%s, %s): %llu runs, %llu failing, %zu distinct run hashes\n", entry->name.c_str(),
              profile.c_str(), o.protocol.c_str(), o.strategy.c_str(), static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(failures), hashes.size());
  for (const auto& [kind, n] : failures_by_kind) {
    std::printf("  %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
  }
  std::printf("  %.0f runs/s, %.0f steps/s, %.0f messages/s\n", runs / seconds, steps / seconds, messages / seconds);
  return failures == 0 ? kExitOk : kExitViolation;
}

}  // namespace

int RunCampaign(const CampaignOptions& o) {
  if (o.scenario == "all") {
    int status = kExitOk;
    for (const scenarios::CatalogEntry& e : scenarios::Catalog()) {
      CampaignOptions one = o;
      one.scenario = e.name;
      int s = RunOne(one, &e);
      if (s != kExitOk && status == kExitOk) status = s;
      if (s == kExitBadInput) return s;
    }
    return status;
  }
  const scenarios::CatalogEntry* entry = scenarios::FindScenario(o.scenario);
  if (entry == nullptr) {
    std::fprintf(stderr, "rrefsim run: unknown scenario '%s' (see `rrefsim list`, or use 'all')\n",
                 o.scenario.c_str());
    return kExitBadInput;
  }
  return RunOne(o, entry);
}

}  // namespace rrefsim::cli
