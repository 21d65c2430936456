#include "campaign_setup.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include "rrefsim/scenarios/generator.h"
#include "seed_plan.h"

namespace rrefsim::cli {
namespace {

using ull = unsigned long long;

void PrintTraceHeader() {
  std::printf("%8s %15s  %-3s %-11s %s\n", "step", "virtual time", "wkr", "kind",
              "detail (a send's +N us is the network delay it drew)");
}

// The campaign's observer of a seed: with --coverage counts the coverage pairs (docs/coverage.md), and with --trace
// (which runs on one thread) prints every record as it happens.
class SeedObserver : public checkers::RunObserver {
 public:
  SeedObserver(bool count, bool print) : count_(count), print_(print) {}
  void OnStart(const checkers::GlobalView& view) override { coverage_.OnStart(view); }
  void OnRecord(const checkers::StepRecord& record) override {
    if (count_) coverage_.OnRecord(record);
    if (!print_) return;
    sim::StepEvent e = sim::ToStepEvent(record);
    std::printf("%8llu %12.3f ms  w%-2d %-11s %s\n", static_cast<ull>(e.step), e.time / 1000.0, e.worker,
                e.kind.c_str(), e.detail.c_str());
  }
  bool OnStepEnd(const checkers::GlobalView&) override { return true; }
  const checkers::CoverageCounts& coverage() const { return coverage_.counts(); }

 private:
  bool count_;
  bool print_;
  checkers::CoverageObserver coverage_;
};

}  // namespace

const scenarios::CatalogEntry& ScenarioSource::At(std::uint64_t seed) {
  if (fixed_ != nullptr) return *fixed_;
  scenarios::SeededChoices choices(seed);
  scenarios::GeneratedScenario g = scenarios::Generate(choices, scenarios::GeneratorOptions{});
  generated_.name = "generated";
  generated_.summary = "generated from seed " + std::to_string(seed);
  generated_.faults = "reorder";
  generated_.scenario = std::move(g.scenario);
  generated_.scenario.name = generated_.name;
  return generated_;
}

std::string ProfileOf(const CampaignOptions& o, const scenarios::CatalogEntry& entry) {
  return o.profile.empty() ? entry.faults : o.profile;
}

sim::FaultConfigResult FaultsOf(const CampaignOptions& o, const scenarios::CatalogEntry& entry) {
  std::vector<std::string> overrides = entry.fault_overrides;
  overrides.insert(overrides.end(), o.faults.begin(), o.faults.end());
  sim::FaultConfigResult faults = sim::MakeFaultConfig(ProfileOf(o, entry), overrides);
  if (!faults.config) faults.error = "scenario " + entry.name + ": " + faults.error;
  return faults;
}

core::ProtocolMode ProtocolOf(const CampaignOptions& o) {
  return o.protocol == "hardened" ? core::ProtocolMode::kHardened : core::ProtocolMode::kPytorch;
}

// A fixed guess would put the change points past the end of short runs.
std::uint64_t CalibratePctSteps(const scenarios::CatalogEntry& entry, const sim::RunConfig& config,
                                std::uint64_t seed) {
  sim::RandomChooser chooser(seed);
  sim::RunResult r = sim::Run(entry.scenario, config, chooser);
  std::uint64_t steps = 0;
  for (const sim::Choice& c : r.choices) steps += c.kind == sim::ChoiceKind::kStep ? 1 : 0;
  return std::max<std::uint64_t>(steps, 1);
}

std::unique_ptr<sim::Chooser> MakeChooser(const CampaignOptions& o, std::uint64_t seed, std::uint64_t pct_steps) {
  if (o.strategy == "pct") return std::make_unique<sim::PctChooser>(seed, o.pct_depth, pct_steps);
  return std::make_unique<sim::RandomChooser>(seed);
}

std::string RerunCommand(const CampaignOptions& o, const std::string& selection, const std::string& profile,
                         std::uint64_t seed) {
  std::string cmd = o.program + " run " + selection + " --seed " + std::to_string(seed) + " --faults " + profile;
  for (const std::string& f : o.faults) cmd += " --fault " + f;
  if (o.strategy != "random") cmd += " --strategy " + o.strategy + " --pct-depth " + std::to_string(o.pct_depth);
  if (o.protocol != "pytorch") cmd += " --protocol " + o.protocol;
  return cmd + " --trace";
}

std::string FailureOf(const scenarios::CheckedRun& checked) {
  if (!checked.failed()) return "";
  const checkers::Violation& v = checked.violations.front();
  return v.checker + ": " + v.text + " (step " + std::to_string(v.step) + ")";
}

SeedResult RunSeed(const SeedJob& job, std::uint64_t seed) {
  const CampaignOptions& o = *job.options;
  SeedResult result;
  result.seed = seed;
  ScenarioSource source = job.source;  // this thread's own (--generate fills it in)
  auto start = std::chrono::steady_clock::now();
  try {
    const scenarios::CatalogEntry& entry = source.At(seed);
    std::unique_ptr<sim::Chooser> chooser = MakeChooser(o, seed, job.pct_steps);
    if (o.trace) PrintTraceHeader();
    // Counting costs about 5% of a campaign's CPU time (docs/coverage.md): only on request.
    SeedObserver observer(o.coverage, o.trace);
    const bool observe = o.coverage || o.trace;
    result.checked = scenarios::RunChecked(entry, job.config, *chooser, observe ? &observer : nullptr);
    if (o.coverage) result.coverage = observer.coverage();
    if (const auto* pct = dynamic_cast<const sim::PctChooser*>(chooser.get())) {
      result.pct_steps = pct->steps();
      result.pct_items = pct->items();
    }
    if (RecheckChosen(seed, o.recheck)) {
      result.rechecked = true;
      std::unique_ptr<sim::Chooser> again = MakeChooser(o, seed, job.pct_steps);
      std::uint64_t hash = scenarios::RunChecked(entry, job.config, *again).run.hash;
      if (hash != result.checked.run.hash) result.recheck_hash = hash;
    }
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  result.elapsed_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
  result.failure = FailureOf(result.checked);
  if (result.checked.failed()) {
    result.checker = result.checked.violations.front().checker;
  } else {
    result.checked.run.choices = {};
    result.checked.run.observations = {};
    result.checked.run.final_views = {};
  }
  return result;
}

}  // namespace rrefsim::cli
