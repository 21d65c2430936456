// The scenario inside a trace: the whole scenario, in the JSON scenario format (docs/scenario-format.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::scenarios {

// A JSON object (text) that DecodeScenarioFromTrace turns back into `entry`.
std::string EncodeScenarioForTrace(const CatalogEntry& entry);

// The entry, or an error: `path` is the JSON path of the bad value inside the scenario object when known separately
// ("" otherwise), and `error` says what was expected (the scenario reader's message names its own place).
struct DecodedScenario {
  std::optional<CatalogEntry> entry;
  std::string path;
  std::string error;
};
DecodedScenario DecodeScenarioFromTrace(std::string_view text);

}  // namespace rrefsim::scenarios
