// The fault passes of the shrinker: a plainer profile, fewer overrides, fault rates set to 0, fixed delays and heal
// time (which also removes their choices).
#include <string>
#include <vector>

#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/sim/network.h"
#include "shrink_search.h"

namespace rrefsim::scenarios::shrink {
namespace {

std::string Ms(sim::TimeUs t) { return std::to_string(t / core::kMillisecond); }

// The overrides that would make the current faults plainer, given what they resolve to.
std::vector<std::string> Plainer(const traces::TraceConfig& config) {
  RunConfigResult resolved = RunConfigOf(config);
  if (!resolved.config) return {};
  const sim::FaultConfig& f = resolved.config->faults;
  std::vector<std::string> out;
  if (f.swarm || f.drop > 0) out.push_back("drop=0");
  if (f.swarm || f.duplicate > 0) out.push_back("duplicate=0");
  if (f.swarm || f.partition > 0) out.push_back("partition=0");
  if (f.swarm || f.long_delay > 0) out.push_back("long_delay=0");
  if (f.num_fail_sends > 0) out.push_back("num_fail_sends=0");
  if (!f.messages_to_delay.empty()) out.push_back("messages_to_delay=");
  if (f.delay_max > f.delay_min) out.push_back("delay_max_ms=" + Ms(f.delay_min));
  if (f.heal_max > f.heal_min) out.push_back("heal_max_ms=" + Ms(f.heal_min));
  return out;
}

// 0: the reorder profile without overrides; then each override deleted; then each plainer setting added.
std::size_t CountFaultEdits(const Candidate& c) {
  return 1 + c.config.fault_overrides.size() + Plainer(c.config).size();
}

bool EditFaults(const Candidate& c, std::size_t i, Candidate* out) {
  *out = c;
  std::vector<std::string>& overrides = out->config.fault_overrides;
  if (i == 0) {
    if (c.config.fault_profile == "reorder" && overrides.empty()) return false;
    out->config.fault_profile = "reorder";
    overrides.clear();
    return true;
  }
  i -= 1;
  if (i < overrides.size()) {
    overrides.erase(overrides.begin() + static_cast<std::ptrdiff_t>(i));
    return true;
  }
  i -= overrides.size();
  const std::vector<std::string> plainer = Plainer(c.config);
  if (i >= plainer.size()) return false;
  overrides.push_back(plainer[i]);
  return true;
}

}  // namespace

std::size_t FaultWeight(const traces::TraceConfig& config) {
  return Plainer(config).size() + config.fault_overrides.size() + (config.fault_profile == "reorder" ? 0 : 1);
}

const std::vector<Pass>& FaultPasses() {
  static const std::vector<Pass> passes = {{"faults", CountFaultEdits, EditFaults}};
  return passes;
}

}  // namespace rrefsim::scenarios::shrink
