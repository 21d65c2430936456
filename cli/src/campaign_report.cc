#include "campaign_report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace rrefsim::cli {
namespace {

using ull = unsigned long long;
using Json = nlohmann::ordered_json;

std::string Hex(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<ull>(v));
  return text;
}

Json NullIfEmpty(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json CallsJson(std::uint64_t issued, std::uint64_t returned, std::uint64_t raised) {
  return Json{{"issued", issued}, {"returned", returned}, {"raised", raised}};
}

void ParseCalls(const Json& j, std::uint64_t& issued, std::uint64_t& returned, std::uint64_t& raised) {
  issued = j.at("issued").get<std::uint64_t>();
  returned = j.at("returned").get<std::uint64_t>();
  raised = j.at("raised").get<std::uint64_t>();
}

double PerSecond(std::uint64_t n, std::uint64_t us) { return us == 0 ? 0.0 : n * 1e6 / static_cast<double>(us); }

}  // namespace

SeedLine LineOf(const std::string& scenario, const SeedResult& result) {
  const sim::RunResult& r = result.checked.run;
  SeedLine line;
  line.scenario = scenario;
  line.seed = result.seed;
  line.outcome = sim::OutcomeName(r.outcome);
  line.verdict = result.checker;
  line.violation = result.failure;
  std::set<std::string> known;
  for (const checkers::Violation& v : result.checked.expected_violations) known.insert(v.checker);
  line.expected_defects.assign(known.begin(), known.end());
  line.run_hash = r.hash;
  line.delivery_order_hash = r.delivery_order_hash;
  line.steps = r.steps;
  line.messages = r.messages_delivered;
  line.calls_issued = r.calls_issued;
  line.calls_returned = r.calls_returned;
  line.calls_raised = r.calls_raised;
  line.rechecked = result.rechecked;
  line.elapsed_us = result.elapsed_us;
  return line;
}

std::string SeedLineJson(const SeedLine& l) {
  Json j;
  j["kind"] = "seed";
  j["scenario"] = l.scenario;
  j["seed"] = l.seed;
  j["outcome"] = l.outcome;
  j["verdict"] = NullIfEmpty(l.verdict);
  j["violation"] = NullIfEmpty(l.violation);
  j["expected_defects"] = l.expected_defects;
  j["run_hash"] = Hex(l.run_hash);
  j["delivery_order_hash"] = Hex(l.delivery_order_hash);
  j["steps"] = l.steps;
  j["messages"] = l.messages;
  j["calls"] = CallsJson(l.calls_issued, l.calls_returned, l.calls_raised);
  j["rechecked"] = l.rechecked;
  j["timing"] = Json{{"elapsed_us", l.elapsed_us}};
  return j.dump();
}

std::optional<SeedLine> ParseSeedLine(const std::string& text, std::string& error) {
  try {
    Json j = Json::parse(text);
    if (j.at("kind") != "seed") {
      error = "not a seed line";
      return std::nullopt;
    }
    SeedLine l;
    l.scenario = j.at("scenario").get<std::string>();
    l.seed = j.at("seed").get<std::uint64_t>();
    l.outcome = j.at("outcome").get<std::string>();
    if (!j.at("verdict").is_null()) l.verdict = j.at("verdict").get<std::string>();
    if (!j.at("violation").is_null()) l.violation = j.at("violation").get<std::string>();
    l.expected_defects = j.at("expected_defects").get<std::vector<std::string>>();
    l.run_hash = std::stoull(j.at("run_hash").get<std::string>(), nullptr, 16);
    l.delivery_order_hash = std::stoull(j.at("delivery_order_hash").get<std::string>(), nullptr, 16);
    l.steps = j.at("steps").get<std::uint64_t>();
    l.messages = j.at("messages").get<std::uint64_t>();
    ParseCalls(j.at("calls"), l.calls_issued, l.calls_returned, l.calls_raised);
    l.rechecked = j.at("rechecked").get<bool>();
    l.elapsed_us = j.at("timing").at("elapsed_us").get<std::uint64_t>();
    return l;
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

void Tally::Add(const SeedLine& l) {
  ++runs;
  steps += l.steps;
  messages += l.messages;
  calls_issued += l.calls_issued;
  calls_returned += l.calls_returned;
  calls_raised += l.calls_raised;
  run_us += l.elapsed_us;
  run_hashes.insert(l.run_hash);
  delivery_orders.insert(l.delivery_order_hash);
  for (const std::string& d : l.expected_defects) ++expected_defect_runs[d];
  if (l.verdict.empty()) return;
  ++failures;
  ++failures_by_invariant[l.verdict];
  failing_seeds.insert(l.seed);
}

void Tally::Add(const Tally& o) {
  runs += o.runs;
  failures += o.failures;
  steps += o.steps;
  messages += o.messages;
  calls_issued += o.calls_issued;
  calls_returned += o.calls_returned;
  calls_raised += o.calls_raised;
  run_us += o.run_us;
  for (const auto& [k, n] : o.failures_by_invariant) failures_by_invariant[k] += n;
  for (const auto& [k, n] : o.expected_defect_runs) expected_defect_runs[k] += n;
  failing_seeds.insert(o.failing_seeds.begin(), o.failing_seeds.end());
  run_hashes.insert(o.run_hashes.begin(), o.run_hashes.end());
  delivery_orders.insert(o.delivery_orders.begin(), o.delivery_orders.end());
  coverage_counted = coverage_counted || o.coverage_counted;
  coverage.Add(o.coverage);
  for (const auto& [scenario, stats] : o.pct) pct[scenario].Add(stats);
}

std::string SummaryJson(const Tally& t, const SummaryStatus& s) {
  Json j;
  j["kind"] = "summary";
  j["runs"] = t.runs;
  j["failures"] = t.failures;
  j["failures_by_invariant"] = Json::object();
  for (const auto& [k, n] : t.failures_by_invariant) j["failures_by_invariant"][k] = n;
  j["expected_defect_runs"] = Json::object();
  for (const auto& [k, n] : t.expected_defect_runs) j["expected_defect_runs"][k] = n;
  j["distinct_failing_seeds"] = t.failing_seeds.size();
  j["distinct_run_hashes"] = t.run_hashes.size();
  j["distinct_delivery_orders"] = t.delivery_orders.size();
  j["steps"] = t.steps;
  j["messages"] = t.messages;
  j["calls"] = CallsJson(t.calls_issued, t.calls_returned, t.calls_raised);
  j["interrupted"] = s.interrupted;
  j["max_failures_reached"] = s.max_failures_reached;
  j["shard"] = Json{{"index", s.shard_index}, {"count", s.shard_count}};
  j["protocol"] = s.protocol;
  if (t.coverage_counted) j["coverage"] = CoverageJson(t.coverage);
  if (!t.pct.empty()) j["pct"] = PctJson(t.pct);
  j["timing"] = Json{{"wall_us", s.wall_us},
                     {"run_us", t.run_us},
                     {"runs_per_second", PerSecond(t.runs, s.wall_us)},
                     {"steps_per_second", PerSecond(t.steps, s.wall_us)}};
  return j.dump();
}

std::optional<SummaryStatus> ParseSummaryStatus(const std::string& text) {
  try {
    Json j = Json::parse(text);
    if (j.at("kind") != "summary") return std::nullopt;
    SummaryStatus s;
    s.interrupted = j.at("interrupted").get<bool>();
    s.max_failures_reached = j.at("max_failures_reached").get<bool>();
    s.wall_us = j.at("timing").at("wall_us").get<std::uint64_t>();
    s.shard_index = j.at("shard").at("index").get<std::uint64_t>();
    s.shard_count = j.at("shard").at("count").get<std::uint64_t>();
    s.protocol = j.value("protocol", std::string("pytorch"));  // summaries written before the field existed
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool AddSummaryCounts(const std::string& text, Tally& tally, bool& counted, std::string& error) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "not JSON";
    return false;
  }
  counted = j.contains("coverage");
  if (counted) {
    std::optional<checkers::CoverageCounts> coverage = ParseCoverageJson(j["coverage"], error);
    if (!coverage) return false;
    tally.coverage_counted = true;
    tally.coverage.Add(*coverage);
  }
  if (!j.contains("pct")) return true;
  std::optional<std::map<std::string, PctStats>> pct = ParsePctJson(j["pct"], error);
  if (!pct) return false;
  for (const auto& [scenario, stats] : *pct) tally.pct[scenario].Add(stats);
  return true;
}

void PrintHumanSummary(const Tally& t, std::size_t scenarios, int threads, double seconds) {
  std::printf("summary: %llu run%s over %zu scenario%s on %d thread%s, %llu failing (%zu distinct failing seeds)\n",
              static_cast<ull>(t.runs), t.runs == 1 ? "" : "s", scenarios, scenarios == 1 ? "" : "s", threads,
              threads == 1 ? "" : "s", static_cast<ull>(t.failures), t.failing_seeds.size());
  for (const auto& [k, n] : t.failures_by_invariant) std::printf("  failing with %s: %llu\n", k.c_str(), static_cast<ull>(n));
  PrintCalls(t);
  if (seconds > 0 && t.runs > 0) {
    std::printf("  %.0f runs/s, %.0f events/s (events = simulator steps), %.0f messages/s, %.1f s\n",
                t.runs / seconds, t.steps / seconds, t.messages / seconds, seconds);
  }
}

void PrintCalls(const Tally& t) {
  if (t.calls_issued == 0) return;
  const std::uint64_t ended = t.calls_returned + t.calls_raised;
  std::printf("  application RPCs: %llu issued; %llu returned, %llu raised an error (%.3f%%), %llu never ended\n",
              static_cast<ull>(t.calls_issued), static_cast<ull>(t.calls_returned), static_cast<ull>(t.calls_raised),
              100.0 * static_cast<double>(t.calls_raised) / static_cast<double>(t.calls_issued),
              static_cast<ull>(t.calls_issued - std::min(ended, t.calls_issued)));
}

}  // namespace rrefsim::cli
