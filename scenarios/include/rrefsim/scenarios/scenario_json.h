// The JSON scenario format (docs/scenario-format.md; schema: scenarios/scenario.schema.json): one document
// describes one CatalogEntry. Reading is strict: unknown fields, wrong types, unknown names, numbers out of range,
// a key given twice, and references to functions or variables that cannot exist are errors. Every error names the
// origin, the place (LINE:COLUMN for text that is not JSON, a JSON pointer such as /programs/0/ops/3/to otherwise)
// and what was expected:
//
//   scenarios/catalog/s1.json: /programs/0/ops/0/to: 9 is out of range (expected a worker of this world, ...)
//
// Writing is canonical: a fixed key order, fields at their default left out, 2-space indentation (a value fits on
// one line when it is short), so equal entries give equal bytes and ParseScenarioText(ScenarioToJson(e)) == e.
// Two things the format cannot say are normalised on writing: an IntExpr's fields its evaluation ignores (a
// literal's `add` is folded into the literal), and a Python call's return type (always PyObject).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::scenarios {

// An entry, or an error.
struct ParsedScenario {
  std::optional<CatalogEntry> entry;
  std::string error;
};

// `origin` names the text in errors (a path, "<catalog>/x.json").
ParsedScenario ParseScenarioText(std::string_view text, const std::string& origin);
ParsedScenario ParseScenarioFile(const std::string& path);

std::string ScenarioToJson(const CatalogEntry& entry);

// What `rrefsim run --scenario X` names: "all" (the catalog), a path ending in .json, or a catalog name.
struct ScenarioSelection {
  std::vector<CatalogEntry> entries;
  std::string error;  // an unknown name, or why the file was refused
};
ScenarioSelection SelectScenarios(const std::string& name_or_path);

}  // namespace rrefsim::scenarios
