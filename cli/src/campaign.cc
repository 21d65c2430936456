// `rrefsim run`: the seeds of every scenario of a campaign on several threads, every result reported in order
// (scenario after scenario, each in seed order; ordered_runner.h), then the summary.
#include "campaign.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <limits>
#include <optional>

#include "campaign_report.h"
#include "campaign_setup.h"
#include "exit_codes.h"
#include "ordered_runner.h"
#include "rrefsim/scenarios/scenario_json.h"
#include "scenario_report.h"

namespace rrefsim::cli {

std::atomic<bool> g_interrupted{false};

namespace {
void OnSignal(int) { g_interrupted = true; }
}  // namespace

void CatchInterrupts() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

namespace {

using ull = unsigned long long;

// The seeds of one scenario of the campaign, ready to run on any thread.
struct ScenarioRun {
  SeedJob job;
  std::string profile;
};

ScenarioRun PrepareScenario(const CampaignOptions& o, ScenarioSource source) {
  ScenarioRun s;
  s.job.options = &o;
  s.job.source = source;
  // Every generated scenario has the same fault settings, so the first seed's stand for all. PCT is calibrated on
  // the range's first seed, whatever the shard, so that shards draw the same change points as the whole campaign.
  const scenarios::CatalogEntry& first = source.At(o.seed_begin);
  s.profile = ProfileOf(o, first);
  s.job.config.faults = *FaultsOf(o, first).config;  // checked before the campaign started
  s.job.config.mode = ProtocolOf(o);
  s.job.pct_steps = o.strategy == "pct" ? CalibratePctSteps(first, s.job.config, o.seed_begin) : 0;
  return s;
}

// Reports the campaign's results, which arrive scenario after scenario, each in seed order: one ScenarioReport at a
// time, whose summary is printed when its last seed has been reported.
class CampaignReport {
 public:
  CampaignReport(CampaignState& state, const std::vector<ScenarioRun>& runs, std::uint64_t seeds_per_scenario)
      : state_(state), runs_(runs), per_scenario_(seeds_per_scenario) {}

  bool Consume(SeedResult& r) {
    std::size_t scenario = consumed_++ / per_scenario_;
    if (open_ != scenario) {
      Close();
      Open(scenario);
    }
    bool go_on = report_->Consume(r);
    if (state_.error_exit == kExitOk) CountCoverage(r, runs_[scenario]);  // only what the campaign reports
    return go_on;
  }

  // Closes the open scenario; when no scenario had a seed (an empty shard), prints each one's empty summary.
  void Finish() {
    Close();
    if (per_scenario_ > 0) return;
    for (std::size_t s = 0; s < runs_.size(); ++s) {
      Open(s);
      Close();
    }
  }

 private:
  void Open(std::size_t s) {
    report_.emplace(state_, runs_[s].job.source, runs_[s].profile, runs_[s].job.config);
    open_ = s;
    start_ = std::chrono::steady_clock::now();
  }
  void Close() {
    if (!report_) return;
    report_->Finish(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    report_.reset();
    const std::string name = runs_[open_].job.source.Name();
    if (!state_.options.json && state_.total.pct.contains(name)) {
      std::printf("  %s\n", PctStatement(state_.total.pct.at(name)).c_str());
    }
  }

  // Coverage goes straight into the campaign's total: the per-scenario tally has no use for it.
  void CountCoverage(const SeedResult& r, const ScenarioRun& run) {
    const CampaignOptions& o = state_.options;
    if (o.coverage) state_.total.coverage.Add(r.coverage);
    if (o.strategy != "pct") return;
    PctStats one;
    one.depth = o.pct_depth;
    one.change_point_steps = run.job.pct_steps;
    one.runs = 1;
    one.max_steps = r.pct_steps;
    one.max_items = r.pct_items;
    one.one_run_per_program = o.generate;
    state_.total.pct[run.job.source.Name()].Add(one);
  }

  CampaignState& state_;
  const std::vector<ScenarioRun>& runs_;
  std::uint64_t per_scenario_;
  std::uint64_t consumed_ = 0;
  std::optional<ScenarioReport> report_;
  std::size_t open_ = static_cast<std::size_t>(-1);
  std::chrono::steady_clock::time_point start_;  // wall clock for the scenario's rates only
};

// Runs every seed of every scenario as one stream of work, so that the threads never wait at a scenario's end and
// keep their fiber stacks warm across scenarios.
void RunScenarios(CampaignState& state, const std::vector<ScenarioRun>& runs, const SeedPlan& plan) {
  const CampaignOptions& o = state.options;
  CampaignReport report(state, runs, plan.size());
  OrderedRun run;
  run.count = plan.size() * runs.size();
  run.threads = o.trace ? 1 : o.threads;  // --trace prints every step as it happens: one run at a time
  run.work = [&](std::uint64_t i) { return RunSeed(runs[i / plan.size()].job, plan.At(i % plan.size())); };
  run.consume = [&](SeedResult& r) { return report.Consume(r); };
  run.tick = [&] { state.progress.Tick(); };
  RunInOrder(run, g_interrupted);
  report.Finish();
}

// Every fault setting of every scenario is checked before the first run.
bool SettingsAreValid(const CampaignOptions& o, const std::vector<const scenarios::CatalogEntry*>& entries) {
  for (const scenarios::CatalogEntry* e : entries) {
    sim::FaultConfigResult faults = FaultsOf(o, *e);
    if (!faults.config) {
      std::fprintf(stderr, "rrefsim run: %s\n", faults.error.c_str());
      return false;
    }
  }
  return true;
}

int Finish(CampaignState& state, std::size_t scenarios, double seconds) {
  const CampaignOptions& o = state.options;
  state.progress.Finish();
  if (state.error_exit != kExitOk) return state.error_exit;
  state.total.coverage_counted = o.coverage;
  if (o.json) {
    SummaryStatus status{g_interrupted.load(), state.max_failures_reached,
                         static_cast<std::uint64_t>(seconds * 1e6), o.shard.index, o.shard.count, o.protocol};
    std::printf("%s\n", SummaryJson(state.total, status).c_str());
  } else {
    if (scenarios > 1) {
      std::printf("all %zu scenarios: %llu runs, %llu failing\n", scenarios, static_cast<ull>(state.total.runs),
                  static_cast<ull>(state.total.failures));
    }
    PrintHumanSummary(state.total, scenarios, o.trace ? 1 : o.threads, seconds);
    if (o.coverage) {
      PrintCoverage(state.total.coverage);
      if (o.strategy == "random") std::printf("no bug-depth bound: it is PCT's (--strategy pct), not random's\n");
    }
    if (state.max_failures_reached) {
      std::printf("stopped at the failure number %llu (--max-failures): every seed reported before it ran, in "
                  "report order (scenario after scenario, each in seed order); the seeds and scenarios after it did "
                  "not run\n",
                  static_cast<ull>(o.max_failures));
    }
    if (g_interrupted) std::printf("interrupted: the results above cover every seed before the first unfinished one\n");
  }
  if (g_interrupted) return kExitInterrupted;
  return state.total.failures == 0 ? kExitOk : kExitViolation;
}

}  // namespace

int RunCampaign(const CampaignOptions& o) {
  std::vector<ScenarioSource> sources;
  scenarios::ScenarioSelection selection;
  if (o.generate) {
    sources.emplace_back(nullptr, "");
  } else {
    selection = scenarios::SelectScenarios(o.scenario);
    if (!selection.error.empty()) {
      std::fprintf(stderr, "rrefsim run: %s\n", selection.error.c_str());
      return kExitBadInput;
    }
    std::vector<const scenarios::CatalogEntry*> entries;
    for (const scenarios::CatalogEntry& e : selection.entries) entries.push_back(&e);
    if (!SettingsAreValid(o, entries)) return kExitBadInput;
    for (const scenarios::CatalogEntry* e : entries) sources.emplace_back(e, o.scenario == "all" ? e->name : o.scenario);
  }
  SeedPlan plan(o.seed_begin, o.seed_end, o.shard);
  CampaignState state(o, plan.size() * sources.size());
  auto start = std::chrono::steady_clock::now();
  std::vector<ScenarioRun> runs;
  for (ScenarioSource& source : sources) runs.push_back(PrepareScenario(o, source));
  RunScenarios(state, runs, plan);
  return Finish(state, sources.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace rrefsim::cli
