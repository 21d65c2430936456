// The reporting side of `rrefsim run`: what the thread that reports results in order keeps across a campaign, and
// the report of one scenario (its seed lines, failures with their trace files, and its summary).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "campaign.h"
#include "campaign_report.h"
#include "campaign_setup.h"
#include "exit_codes.h"
#include "progress.h"
#include "trace_writer.h"

namespace rrefsim::cli {

// What the reporting thread keeps across the scenarios of a campaign.
struct CampaignState {
  CampaignState(const CampaignOptions& o, std::uint64_t total_runs);
  const CampaignOptions& options;
  Tally total;
  Progress progress;
  TraceWriter traces;
  std::uint64_t failures_left;  // before --max-failures stops the campaign
  bool max_failures_reached = false;
  int error_exit = kExitOk;  // a divergence or an internal error stops the campaign with this code
};

// Reports one scenario's results as they arrive in seed order.
class ScenarioReport {
 public:
  ScenarioReport(CampaignState& state, ScenarioSource source, std::string profile, const sim::RunConfig& config);
  // Counts and prints one result (its JSON line, its failure and trace file); false stops the campaign.
  bool Consume(SeedResult& r);
  // The scenario's text summary, and its counts into the campaign's.
  void Finish(double seconds);

 private:
  bool Stop(int code, const std::string& why, std::optional<std::uint64_t> seed = std::nullopt);
  bool ReportFailure(const SeedResult& r);

  CampaignState& state_;
  const CampaignOptions& o_;
  ScenarioSource source_;  // this thread's own
  std::string profile_;
  sim::RunConfig config_;
  Tally tally_;
};

}  // namespace rrefsim::cli
