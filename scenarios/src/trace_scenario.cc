// The scenario inside a trace: the whole scenario in the JSON scenario format (docs/scenario-format.md), so a trace
// replays on its own, whether it came from the catalog, a file or the generator.
#include "rrefsim/scenarios/trace_scenario.h"

#include "rrefsim/scenarios/scenario_json.h"

namespace rrefsim::scenarios {

std::string EncodeScenarioForTrace(const CatalogEntry& entry) { return ScenarioToJson(entry); }

DecodedScenario DecodeScenarioFromTrace(std::string_view text) {
  const std::string origin = "scenario";
  ParsedScenario parsed = ParseScenarioText(text, origin);
  if (parsed.entry) return {std::move(parsed.entry), "", ""};
  // The reader says "scenario: /programs/0/to: what" (or "scenario: what"): split off the JSON pointer, so the
  // caller can name it inside the trace (/scenario/programs/0/to).
  std::string error = parsed.error.substr(parsed.error.rfind(origin + ": ", 0) == 0 ? origin.size() + 2 : 0);
  if (error.starts_with("/")) {
    std::size_t end = error.find(": ");
    if (end != std::string::npos) return {std::nullopt, error.substr(0, end), error.substr(end + 2)};
  }
  return {std::nullopt, "", error};
}

}  // namespace rrefsim::scenarios
