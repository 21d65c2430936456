// The scenario inside a trace, as a catalog reference. Swapped for the JSON scenario format when it lands.
#include "rrefsim/scenarios/trace_scenario.h"

#include <nlohmann/json.hpp>

namespace rrefsim::scenarios {

std::string EncodeScenarioForTrace(const CatalogEntry& entry) {
  return nlohmann::json{{"catalog", entry.name}}.dump();
}

DecodedScenario DecodeScenarioFromTrace(std::string_view text) {
  nlohmann::json value = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return {std::nullopt, "", "expected an object {\"catalog\": NAME}"};
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (it.key() != "catalog") return {std::nullopt, "/" + it.key(), "unknown field \"" + it.key() + "\""};
  }
  auto name = value.find("catalog");
  if (name == value.end()) return {std::nullopt, "", "missing field \"catalog\" (the name of a built-in scenario)"};
  if (!name->is_string()) return {std::nullopt, "/catalog", "expected a string (the name of a built-in scenario)"};
  const CatalogEntry* entry = FindScenario(name->get<std::string>());
  if (entry == nullptr) {
    return {std::nullopt, "/catalog",
            "unknown scenario \"" + name->get<std::string>() + "\" (expected a name `rrefsim list` shows)"};
  }
  return {*entry, "", ""};
}

}  // namespace rrefsim::scenarios
