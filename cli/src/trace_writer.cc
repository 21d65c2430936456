#include "trace_writer.h"

#include <filesystem>

#include "exit_codes.h"
#include "rrefsim/scenarios/trace_run.h"
#include "trace_commands.h"

namespace rrefsim::cli {

TraceWriter::Written TraceWriter::OnFailure(const scenarios::CatalogEntry& entry, const sim::RunConfig& config,
                                            std::uint64_t seed, const scenarios::CheckedRun& checked) {
  Written out;
  const std::string& checker = checked.violations.front().checker;
  int& count = written_[{entry.name, checker}];
  if (count >= kTracesPerChecker) return out;
  ++count;
  const std::string profile = options_.profile.empty() ? entry.faults : options_.profile;
  std::vector<std::string> overrides = entry.fault_overrides;  // the campaign's precedence: scenario, then --fault
  overrides.insert(overrides.end(), options_.faults.begin(), options_.faults.end());
  traces::TraceConfig trace_config =
      scenarios::TraceConfigOf(config, profile, overrides, options_.strategy, options_.pct_depth);
  sim::ReplayChooser chooser(checked.run.choices);
  scenarios::RecordedRun recorded;
  try {
    recorded = scenarios::RecordRun(entry, trace_config, config, seed, chooser);
  } catch (const sim::ReplayDivergence& e) {
    out.error = entry.name + " seed " + std::to_string(seed) + " did not reproduce when re-run for its trace: " + e.what();
    out.exit_code = kExitDivergence;
    return out;
  }
  const checkers::Violation& again = recorded.checked.violations.empty() ? checkers::Violation{}
                                                                         : recorded.checked.violations.front();
  if (again.checker != checker || again.step != checked.violations.front().step || !chooser.exhausted()) {
    out.error = entry.name + " seed " + std::to_string(seed) + " did not reproduce when re-run for its trace: " +
                checker + " became '" + again.checker + "' at step " + std::to_string(again.step);
    out.exit_code = kExitDivergence;
    return out;
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.out_dir, ec);
  if (ec) {
    out.error = "--out " + options_.out_dir + ": cannot create the directory: " + ec.message();
    out.exit_code = kExitBadInput;
    return out;
  }
  out.path = (std::filesystem::path(options_.out_dir) /
              (entry.name + "-seed" + std::to_string(seed) + "-" + checker + ".json"))
                 .string();
  std::string error;
  if (!WriteWholeFile(out.path, traces::WriteTrace(recorded.trace), error)) {
    out.error = out.path + ": " + error;
    out.exit_code = kExitBadInput;
  }
  return out;
}

std::string TraceWriter::Lines(const Written& written) const {
  if (written.path.empty()) return "";
  return "  trace:  " + written.path + "\n  replay: " + options_.program + " replay " + written.path + "\n";
}

}  // namespace rrefsim::cli
