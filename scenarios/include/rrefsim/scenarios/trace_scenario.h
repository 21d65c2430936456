// The scenario inside a trace. For now a trace names a catalog entry, {"catalog": "<name>"}; when the JSON scenario
// format lands these two functions carry the whole scenario instead, and nothing else changes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::scenarios {

// A JSON object (text) that DecodeScenarioFromTrace turns back into `entry`.
std::string EncodeScenarioForTrace(const CatalogEntry& entry);

// The entry, or an error: `path` is the JSON path of the bad value inside the scenario object ("" for the object
// itself) and `error` says what was expected there.
struct DecodedScenario {
  std::optional<CatalogEntry> entry;
  std::string path;
  std::string error;
};
DecodedScenario DecodeScenarioFromTrace(std::string_view text);

}  // namespace rrefsim::scenarios
