// The built-in catalog: the JSON files of scenarios/catalog/, compiled in, parsed once on first use.
#include "rrefsim/scenarios/catalog.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "catalog_files.h"
#include "rrefsim/scenarios/scenario_json.h"

namespace rrefsim::scenarios {

bool NaturalLess(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t i_end = a.find_first_not_of("0123456789", i), j_end = b.find_first_not_of("0123456789", j);
      std::string x = a.substr(i, i_end - i), y = b.substr(j, j_end - j);
      x.erase(0, std::min(x.find_first_not_of('0'), x.size() - 1));
      y.erase(0, std::min(y.find_first_not_of('0'), y.size() - 1));
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i_end == std::string::npos ? a.size() : i_end;
      j = j_end == std::string::npos ? b.size() : j_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

namespace {

// A built-in file that does not parse, or whose name is not its scenario's, is a bug in this build (the catalog
// test fails on it first): it throws rather than leaving a scenario out.
std::vector<CatalogEntry> Build() {
  std::vector<CatalogEntry> catalog;
  for (const detail::CatalogFile& file : detail::CatalogFiles()) {
    const std::string origin = "scenarios/catalog/" + std::string(file.name);
    ParsedScenario parsed = ParseScenarioText(file.text, origin);
    if (!parsed.entry) throw std::logic_error("built-in catalog: " + parsed.error);
    if (parsed.entry->name + ".json" != file.name) {
      throw std::logic_error("built-in catalog: " + origin + ": the scenario is named \"" + parsed.entry->name +
                             "\" (expected the file name without .json)");
    }
    catalog.push_back(std::move(*parsed.entry));
  }
  std::sort(catalog.begin(), catalog.end(),
            [](const CatalogEntry& a, const CatalogEntry& b) { return NaturalLess(a.name, b.name); });
  return catalog;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const std::vector<CatalogEntry>& Catalog() {
  static const std::vector<CatalogEntry> catalog = Build();
  return catalog;
}

const CatalogEntry* FindScenario(const std::string& name) {
  for (const CatalogEntry& e : Catalog()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

ScenarioSelection SelectScenarios(const std::string& name_or_path) {
  ScenarioSelection selection;
  if (name_or_path == "all") {
    selection.entries = Catalog();
  } else if (EndsWith(name_or_path, ".json")) {
    ParsedScenario parsed = ParseScenarioFile(name_or_path);
    if (parsed.entry) {
      selection.entries.push_back(std::move(*parsed.entry));
    } else {
      selection.error = parsed.error;
    }
  } else if (const CatalogEntry* e = FindScenario(name_or_path)) {
    selection.entries.push_back(*e);
  } else {
    selection.error = "unknown scenario '" + name_or_path +
                      "' (expected a name that `rrefsim list` shows, 'all', or a file ending in .json)";
  }
  return selection;
}

}  // namespace rrefsim::scenarios
