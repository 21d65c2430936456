#include "campaign.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "exit_codes.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/generator.h"
#include "rrefsim/scenarios/runner.h"
#include "rrefsim/scenarios/scenario_json.h"
#include "trace_writer.h"

namespace rrefsim::cli {

std::atomic<bool> g_interrupted{false};

namespace {

using ull = unsigned long long;

struct Totals {
  std::uint64_t runs = 0, steps = 0, messages = 0, failures = 0;
};

std::unique_ptr<sim::Chooser> MakeChooser(const CampaignOptions& o, std::uint64_t seed, std::uint64_t pct_steps) {
  if (o.strategy == "pct") return std::make_unique<sim::PctChooser>(seed, o.pct_depth, pct_steps);
  return std::make_unique<sim::RandomChooser>(seed);
}

// The scenario of each seed: one entry for every seed, or (--generate) the random generator's scenario for the seed.
class ScenarioSource {
 public:
  ScenarioSource(const scenarios::CatalogEntry* fixed, std::string argument)
      : fixed_(fixed), argument_(std::move(argument)) {}
  const scenarios::CatalogEntry& At(std::uint64_t seed) {
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
  // How `rrefsim run` selects it again: "--scenario NAME" or "--generate".
  std::string Selection() const { return fixed_ ? "--scenario " + argument_ : "--generate"; }
  std::string Name() const { return fixed_ ? fixed_->name : "generated"; }

 private:
  const scenarios::CatalogEntry* fixed_;
  std::string argument_;
  scenarios::CatalogEntry generated_;
};

std::string ReplayCommand(const CampaignOptions& o, const std::string& selection, const std::string& profile,
                          std::uint64_t seed) {
  std::string cmd = o.program + " run " + selection + " --seed " + std::to_string(seed) + " --faults " + profile;
  for (const std::string& f : o.faults) cmd += " --fault " + f;
  if (o.strategy != "random") cmd += " --strategy " + o.strategy + " --pct-depth " + std::to_string(o.pct_depth);
  return cmd + " --trace";
}

void PrintTraceHeader() {
  std::printf("%8s %15s  %-3s %-11s %s\n", "step", "virtual time", "wkr", "kind",
              "detail (a send's +N us is the network delay it drew)");
}

// Prints every record of a run as it happens, for --trace.
class PrintingObserver : public checkers::RunObserver {
 public:
  void OnRecord(const checkers::StepRecord& record) override {
    sim::StepEvent e = sim::ToStepEvent(record);
    std::printf("%8llu %12.3f ms  w%-2d %-11s %s\n", static_cast<ull>(e.step), e.time / 1000.0, e.worker,
                e.kind.c_str(), e.detail.c_str());
  }
  bool OnStepEnd(const checkers::GlobalView&) override { return true; }
};

// Why a checked run failed: the first violation ("checker: text"), or "" when it passed.
std::string FailureOf(const scenarios::CheckedRun& checked) {
  if (!checked.failed()) return "";
  const checkers::Violation& v = checked.violations.front();
  return v.checker + ": " + v.text + " (step " + std::to_string(v.step) + ")";
}

std::string ProfileOf(const CampaignOptions& o, const scenarios::CatalogEntry& entry) {
  return o.profile.empty() ? entry.faults : o.profile;
}

// The fault settings of one scenario in this campaign: profile < scenario < command line.
sim::FaultConfigResult FaultsOf(const CampaignOptions& o, const scenarios::CatalogEntry& entry) {
  std::vector<std::string> overrides = entry.fault_overrides;
  overrides.insert(overrides.end(), o.faults.begin(), o.faults.end());
  sim::FaultConfigResult faults = sim::MakeFaultConfig(ProfileOf(o, entry), overrides);
  if (!faults.config) faults.error = "scenario " + entry.name + ": " + faults.error;
  return faults;
}

// PCT's k, the number of steps its change points are drawn among: the scheduling choices (more than one option)
// of a plain random run of the scenario. A fixed guess would put the change points past the end of short runs.
std::uint64_t CalibratePctSteps(const scenarios::CatalogEntry& entry, const sim::RunConfig& config,
                                std::uint64_t seed) {
  sim::RandomChooser chooser(seed);
  sim::RunResult r = sim::Run(entry.scenario, config, chooser);
  std::uint64_t steps = 0;
  for (const sim::Choice& c : r.choices) steps += c.kind == sim::ChoiceKind::kStep ? 1 : 0;
  return std::max<std::uint64_t>(steps, 1);
}

int RunOne(const CampaignOptions& o, ScenarioSource& source, Totals& totals) {
  // Every generated scenario has the same fault settings, so the first seed's stand for all.
  const scenarios::CatalogEntry& first = source.At(o.seed_begin);
  std::string profile = ProfileOf(o, first);
  sim::RunConfig config;
  config.faults = *FaultsOf(o, first).config;  // checked before the campaign started
  std::uint64_t pct_steps = o.strategy == "pct" ? CalibratePctSteps(first, config, o.seed_begin) : 0;
  auto start = std::chrono::steady_clock::now();  // wall clock for the summary's rates only
  Totals mine;
  std::map<std::string, std::uint64_t> failures_by_kind;
  std::map<std::string, std::uint64_t> known_defect_runs;  // runs that tripped a violation the scenario declares
  std::set<std::uint64_t> hashes;
  std::set<std::uint64_t> orders;
  TraceWriter traces(o);
  for (std::uint64_t seed = o.seed_begin; seed < o.seed_end && !g_interrupted; ++seed) {
    const scenarios::CatalogEntry& entry = source.At(seed);
    std::unique_ptr<sim::Chooser> chooser = MakeChooser(o, seed, pct_steps);
    if (o.trace) PrintTraceHeader();
    PrintingObserver printer;
    scenarios::CheckedRun checked = scenarios::RunChecked(entry, config, *chooser, o.trace ? &printer : nullptr);
    const sim::RunResult& r = checked.run;
    ++mine.runs;
    mine.steps += r.steps;
    mine.messages += r.messages_delivered;
    hashes.insert(r.hash);
    orders.insert(r.delivery_order_hash);
    std::set<std::string> known;
    for (const checkers::Violation& v : checked.expected_violations) known.insert(v.checker);
    for (const std::string& checker : known) ++known_defect_runs[checker];
    std::string failure = FailureOf(checked);
    if (o.trace) std::printf("seed %llu: %s, run hash %016llx\n", static_cast<ull>(seed), failure.empty() ? "ok" : failure.c_str(), static_cast<ull>(r.hash));
    if (failure.empty()) continue;
    ++mine.failures;
    ++failures_by_kind[failure.substr(0, failure.find(':'))];
    TraceWriter::Written written = traces.OnFailure(entry, config, seed, checked);
    if (!written.error.empty()) {
      std::fprintf(stderr, "rrefsim run: %s\n", written.error.c_str());
      return written.exit_code;
    }
    if (o.trace) std::printf("%s", traces.Lines(written).c_str());
    if (!o.trace && static_cast<int>(mine.failures) <= o.show_failures) {
      std::printf("FAIL %s seed %llu: %s\n%s  rerun:  %s\n", entry.name.c_str(), static_cast<ull>(seed),
                  failure.c_str(), traces.Lines(written).c_str(),
                  ReplayCommand(o, source.Selection(), profile, seed).c_str());
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!o.trace && static_cast<int>(mine.failures) > o.show_failures) {
    std::printf("  (%llu more failing seeds not shown; --show-failures N prints more)\n",
                static_cast<ull>(mine.failures) - static_cast<ull>(o.show_failures));
  }
  std::printf("%s under %s (%s, %s): %llu run%s, %llu failing, %zu distinct run hashes, %zu distinct delivery orders\n",
              source.Name().c_str(), profile.c_str(), o.protocol.c_str(), o.strategy.c_str(), static_cast<ull>(mine.runs),
              mine.runs == 1 ? "" : "s", static_cast<ull>(mine.failures), hashes.size(), orders.size());
  for (const auto& [kind, n] : failures_by_kind) std::printf("  failing with %s: %llu\n", kind.c_str(), static_cast<ull>(n));
  for (const auto& [checker, n] : known_defect_runs) {
    std::printf("  expected (a documented PyTorch defect the scenario declares): %s in %llu run%s\n", checker.c_str(),
                static_cast<ull>(n), n == 1 ? "" : "s");
  }
  if (mine.runs > 1) {
    std::printf("  %.0f runs/s, %.0f steps/s, %.0f messages/s\n", mine.runs / seconds, mine.steps / seconds,
                mine.messages / seconds);
  }
  totals.runs += mine.runs;
  totals.steps += mine.steps;
  totals.messages += mine.messages;
  totals.failures += mine.failures;
  return mine.failures == 0 ? kExitOk : kExitViolation;
}

}  // namespace

int RunCampaign(const CampaignOptions& o) {
  if (o.generate) {
    ScenarioSource generated(nullptr, "");
    Totals totals;
    int status = RunOne(o, generated, totals);
    if (g_interrupted) {
      std::printf("interrupted: the results above cover the runs that finished\n");
      return kExitInterrupted;
    }
    return status;
  }
  const scenarios::ScenarioSelection selection = scenarios::SelectScenarios(o.scenario);
  if (!selection.error.empty()) {
    std::fprintf(stderr, "rrefsim run: %s\n", selection.error.c_str());
    return kExitBadInput;
  }
  std::vector<const scenarios::CatalogEntry*> entries;
  for (const scenarios::CatalogEntry& e : selection.entries) entries.push_back(&e);
  for (const scenarios::CatalogEntry* e : entries) {  // every setting is checked before any run starts
    sim::FaultConfigResult faults = FaultsOf(o, *e);
    if (!faults.config) {
      std::fprintf(stderr, "rrefsim run: %s\n", faults.error.c_str());
      return kExitBadInput;
    }
  }
  Totals totals;
  int status = kExitOk;
  for (const scenarios::CatalogEntry* e : entries) {
    ScenarioSource source(e, o.scenario == "all" ? e->name : o.scenario);
    int s = RunOne(o, source, totals);
    if (s == kExitBadInput || s == kExitDivergence) return s;
    if (s != kExitOk) status = s;
    if (g_interrupted) break;
  }
  if (entries.size() > 1) {
    std::printf("all %zu scenarios: %llu runs, %llu failing\n", entries.size(), static_cast<ull>(totals.runs),
                static_cast<ull>(totals.failures));
  }
  if (g_interrupted) {
    std::printf("interrupted: the results above cover the runs that finished\n");
    return kExitInterrupted;
  }
  return status;
}

}  // namespace rrefsim::cli
