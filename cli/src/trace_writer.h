// `rrefsim run --out DIR`: a trace file for each failing seed a campaign reports (the first kTracesPerChecker per
// first-violated checker and scenario; every failure is still counted). The campaign runs without recording; a
// failing seed is re-run with a recorder over its own recorded choices (the run is a pure function of them), which
// also proves that the seed reproduces.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "campaign.h"
#include "rrefsim/scenarios/runner.h"

namespace rrefsim::cli {

constexpr int kTracesPerChecker = 10;

class TraceWriter {
 public:
  explicit TraceWriter(const CampaignOptions& options) : options_(options) {}

  struct Written {
    std::string path;   // the trace file, or "" when this failure gets none (its checker has enough)
    std::string error;  // what went wrong; the campaign stops with exit_code
    int exit_code = 0;
  };
  // After a failing run of `seed` of `entry` under `config` (the campaign's own settings).
  Written OnFailure(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, std::uint64_t seed,
                    const scenarios::CheckedRun& checked);
  // "  trace:  PATH\n  replay: PROGRAM replay PATH\n", or "" when nothing was written.
  std::string Lines(const Written& written) const;

 private:
  const CampaignOptions& options_;
  std::map<std::pair<std::string, std::string>, int> written_;  // (scenario, checker) -> traces written
};

}  // namespace rrefsim::cli
