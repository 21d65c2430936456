#include "campaign_coverage.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "rrefsim/sim/pct_bound.h"

namespace rrefsim::cli {
namespace {

using ull = unsigned long long;
using Json = nlohmann::ordered_json;

std::string Format(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// A lower bound as a percentage, never rounded up: "99.99%" for 0.999999, and never "100%" (the miss says how close).
std::string Percent(double probability) {
  const double percent = 100 * probability;
  if (percent < 1) return Format("%.3g", percent) + "%";
  return Format("%.2f", std::min(std::floor(percent * 100) / 100, 99.99)) + "%";
}

}  // namespace

void PctStats::Add(const PctStats& o) {
  depth = std::max(depth, o.depth);
  change_point_steps = std::max(change_point_steps, o.change_point_steps);
  runs += o.runs;
  max_steps = std::max(max_steps, o.max_steps);
  max_items = std::max(max_items, o.max_items);
  one_run_per_program = one_run_per_program || o.one_run_per_program;
}

std::string PctStatement(const PctStats& s) {
  const std::string depth = std::to_string(s.depth);
  if (s.one_run_per_program) {
    return "PCT depth " + depth + ": no bound over the campaign: every generated seed is another program, run once";
  }
  const double p = sim::PctRunProbability(s.max_items, s.change_point_steps, s.depth);
  const double c = sim::PctConfidence(p, s.runs);
  const double miss = sim::PctMissProbability(p, s.runs);
  std::string text = "PCT depth " + depth + ": a given depth-" + depth + " bug is found with probability >= " +
                     Percent(c) + " (miss <= " + Format("%.3g", miss) + "): " +
                     std::to_string(s.runs) + " runs, each >= 1/(n k^(d-1)) = " + Format("%.3g", p) + " with n = " +
                     std::to_string(s.max_items) + " items (the most fibers and messages one run offered), k = " +
                     std::to_string(s.change_point_steps) + " steps (the change points' range)";
  if (s.max_steps > s.change_point_steps) {
    text += "; runs took up to " + std::to_string(s.max_steps) + " steps, so this covers the bugs whose change "
            "points fall within the first " + std::to_string(s.change_point_steps);
  }
  return text;
}

Json CoverageJson(const checkers::CoverageCounts& counts) {
  Json j;
  j["pairs_seen"] = counts.Seen();
  j["pairs_possible"] = counts.Possible();
  j["pairs_defined"] = checkers::CoveragePairs();
  j["unclassified_deliveries"] = counts.unclassified;
  j["counts"] = Json::object();
  const std::vector<checkers::CoveragePair>& universe = checkers::CoverageUniverse();
  for (std::size_t i = 0; i < universe.size(); ++i) {
    if (counts.At(i) > 0) j["counts"][checkers::CoveragePairKey(universe[i])] = counts.At(i);
  }
  return j;
}

Json PctJson(const std::map<std::string, PctStats>& pct) {
  Json j = Json::object();
  for (const auto& [scenario, s] : pct) {
    const double p = sim::PctRunProbability(s.max_items, s.change_point_steps, s.depth);
    j[scenario] = Json{{"depth", s.depth},
                       {"runs", s.runs},
                       {"change_point_steps", s.change_point_steps},
                       {"max_steps", s.max_steps},
                       {"max_items", s.max_items},
                       {"one_run_per_program", s.one_run_per_program},
                       {"run_probability", s.one_run_per_program ? 0.0 : p},
                       {"confidence", s.one_run_per_program ? 0.0 : sim::PctConfidence(p, s.runs)}};
  }
  return j;
}

std::optional<checkers::CoverageCounts> ParseCoverageJson(const Json& j, std::string& error) {
  checkers::CoverageCounts counts;
  try {
    counts.unclassified = j.at("unclassified_deliveries").get<std::uint64_t>();
    for (const auto& [key, n] : j.at("counts").items()) {
      std::optional<std::size_t> index = checkers::CoverageIndexOfKey(key);
      if (!index) {
        error = "coverage.counts: unknown pair \"" + key + "\" (expected \"MESSAGE_TYPE @ state\" of docs/coverage.md)";
        return std::nullopt;
      }
      if (counts.pairs.empty()) counts.pairs.assign(checkers::CoveragePairs(), 0);
      counts.pairs[*index] += n.get<std::uint64_t>();
    }
  } catch (const std::exception& e) {
    error = std::string("coverage: ") + e.what();
    return std::nullopt;
  }
  return counts;
}

std::optional<std::map<std::string, PctStats>> ParsePctJson(const Json& j, std::string& error) {
  std::map<std::string, PctStats> pct;
  try {
    for (const auto& [scenario, o] : j.items()) {
      PctStats& s = pct[scenario];
      s.depth = o.at("depth").get<int>();
      s.runs = o.at("runs").get<std::uint64_t>();
      s.change_point_steps = o.at("change_point_steps").get<std::uint64_t>();
      s.max_steps = o.at("max_steps").get<std::uint64_t>();
      s.max_items = o.at("max_items").get<std::uint64_t>();
      s.one_run_per_program = o.at("one_run_per_program").get<bool>();
    }
  } catch (const std::exception& e) {
    error = std::string("pct: ") + e.what();
    return std::nullopt;
  }
  return pct;
}

void PrintCoverage(const checkers::CoverageCounts& counts) {
  std::printf("coverage: %zu of %zu (message type x receiver state) pairs seen (%zu defined, %zu impossible by "
              "construction), %llu deliveries unclassified\n",
              counts.Seen(), counts.Possible(), checkers::CoveragePairs(),
              checkers::CoveragePairs() - counts.Possible(),
              static_cast<ull>(counts.unclassified));
  const std::vector<checkers::CoveragePair>& universe = checkers::CoverageUniverse();
  for (std::size_t i = 0; i < universe.size(); ++i) {
    const std::string key = checkers::CoveragePairKey(universe[i]);
    if (!universe[i].impossible.empty()) {
      std::printf("  %-48s impossible: %s\n", key.c_str(), std::string(universe[i].impossible).c_str());
    } else if (counts.At(i) == 0) {
      std::printf("  %-48s UNSEEN\n", key.c_str());
    } else {
      std::printf("  %-48s %llu\n", key.c_str(), static_cast<ull>(counts.At(i)));
    }
  }
}

}  // namespace rrefsim::cli
