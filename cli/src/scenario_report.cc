#include "scenario_report.h"

#include <cstdio>
#include <limits>

#include "exit_codes.h"

namespace rrefsim::cli {

using ull = unsigned long long;

CampaignState::CampaignState(const CampaignOptions& o, std::uint64_t total_runs)
    : options(o), progress(total_runs, !o.trace), traces(o),  // --trace's step lines would tear the bar
      failures_left(o.max_failures == 0 ? std::numeric_limits<std::uint64_t>::max() : o.max_failures) {}

ScenarioReport::ScenarioReport(CampaignState& state, ScenarioSource source, std::string profile,
                               const sim::RunConfig& config)
    : state_(state), o_(state.options), source_(std::move(source)), profile_(std::move(profile)), config_(config) {}

bool ScenarioReport::Consume(SeedResult& r) {
  if (!r.error.empty()) return Stop(kExitInternal, "internal error: " + r.error);
  if (r.recheck_hash) {
    char text[120];
    std::snprintf(text, sizeof text, "not deterministic: run hash %016llx, then %016llx when re-run (--recheck)",
                  static_cast<ull>(r.checked.run.hash), static_cast<ull>(*r.recheck_hash));
    return Stop(kExitDivergence, text, r.seed);
  }
  SeedLine line = LineOf(source_.Name(), r);
  tally_.Add(line);
  state_.progress.Add(r.checker);
  if (o_.json) std::printf("%s\n", SeedLineJson(line).c_str());
  if (o_.trace) {
    std::printf("seed %llu: %s, run hash %016llx\n", static_cast<ull>(r.seed),
                r.failure.empty() ? "ok" : r.failure.c_str(), static_cast<ull>(r.checked.run.hash));
  }
  if (r.failure.empty()) return true;
  if (!ReportFailure(r)) return false;
  if (--state_.failures_left == 0) {
    state_.max_failures_reached = true;
    return false;
  }
  return true;
}

// Today's format.
void ScenarioReport::Finish(double seconds) {
  state_.total.Add(tally_);
  if (o_.json) return;
  if (!o_.trace && tally_.failures > static_cast<ull>(o_.show_failures)) {
    std::printf("  (%llu more failing seeds not shown; --show-failures N prints more)\n",
                static_cast<ull>(tally_.failures) - static_cast<ull>(o_.show_failures));
  }
  std::printf("%s under %s (%s, %s): %llu run%s, %llu failing, %zu distinct run hashes, %zu distinct delivery orders\n",
              source_.Name().c_str(), profile_.c_str(), o_.protocol.c_str(), o_.strategy.c_str(),
              static_cast<ull>(tally_.runs), tally_.runs == 1 ? "" : "s", static_cast<ull>(tally_.failures),
              tally_.run_hashes.size(), tally_.delivery_orders.size());
  for (const auto& [kind, n] : tally_.failures_by_invariant) {
    std::printf("  failing with %s: %llu\n", kind.c_str(), static_cast<ull>(n));
  }
  PrintCalls(tally_);
  for (const auto& [checker, n] : tally_.expected_defect_runs) {
    std::printf("  expected (a documented PyTorch defect the scenario declares): %s in %llu run%s\n",
                checker.c_str(), static_cast<ull>(n), n == 1 ? "" : "s");
  }
  if (tally_.runs > 1 && seconds > 0) {
    std::printf("  %.0f runs/s, %.0f steps/s, %.0f messages/s\n", tally_.runs / seconds, tally_.steps / seconds,
                tally_.messages / seconds);
  }
}

bool ScenarioReport::Stop(int code, const std::string& why, std::optional<std::uint64_t> seed) {
  state_.progress.Finish();
  std::string where = seed ? source_.Name() + " seed " + std::to_string(*seed) + ": " : "";
  std::fprintf(stderr, "rrefsim run: %s%s\n", where.c_str(), why.c_str());
  state_.error_exit = code;
  return false;
}

// Writes its trace (the first 10 per checker and scenario, in seed order) and prints it.
bool ScenarioReport::ReportFailure(const SeedResult& r) {
  const scenarios::CatalogEntry& entry = source_.At(r.seed);
  TraceWriter::Written written = state_.traces.OnFailure(entry, config_, r.seed, r.checked);
  if (!written.error.empty()) return Stop(written.exit_code, written.error);
  if (o_.json) return true;
  if (o_.trace) std::printf("%s", state_.traces.Lines(written).c_str());
  if (!o_.trace && tally_.failures <= static_cast<ull>(o_.show_failures)) {
    state_.progress.Finish();
    std::printf("FAIL %s seed %llu: %s\n%s  rerun:  %s\n", entry.name.c_str(), static_cast<ull>(r.seed),
                r.failure.c_str(), state_.traces.Lines(written).c_str(),
                RerunCommand(o_, source_.Selection(), profile_, r.seed).c_str());
  }
  return true;
}

}  // namespace rrefsim::cli
