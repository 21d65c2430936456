#include "merge.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "campaign_report.h"
#include "exit_codes.h"
#include "trace_commands.h"

namespace rrefsim::cli {
namespace {

struct Merged {
  std::vector<std::string> scenario_order;  // by first appearance, the order the campaign ran them in
  std::map<std::pair<std::string, std::uint64_t>, std::pair<std::string, SeedLine>> seeds;  // -> (text, line)
  std::map<std::pair<std::string, std::uint64_t>, std::string> origin;  // -> "FILE:LINE"
  SummaryStatus status;
  bool missing_summary = false;
  std::map<std::uint64_t, std::string> shards;  // shard index -> its file
  std::uint64_t shard_count = 0;               // N of the first file's --shard I/N
  Tally summary_counts;  // the coverage and PCT counts of the summaries (the seed lines do not carry them)
  std::optional<bool> coverage_counted;  // whether the first summary had coverage (--coverage): all must agree
};

// Every shard 0..N-1 of one campaign, each once; false (after saying what to give) otherwise.
bool CompleteShards(const Merged& merged) {
  for (std::uint64_t i = 0; i < merged.shard_count; ++i) {
    if (merged.shards.contains(i)) continue;
    std::fprintf(stderr, "rrefsim merge: shard %llu/%llu is missing: give the file of every shard 0/%llu to %llu/%llu\n",
                 static_cast<unsigned long long>(i), static_cast<unsigned long long>(merged.shard_count),
                 static_cast<unsigned long long>(merged.shard_count),
                 static_cast<unsigned long long>(merged.shard_count - 1),
                 static_cast<unsigned long long>(merged.shard_count));
    return false;
  }
  return true;
}

// Adds one file's lines; false (after saying why on stderr) for a line that is not a seed or summary line.
bool AddFile(const std::string& path, Merged& merged) {
  std::string error;
  std::optional<std::string> text = ReadWholeFile(path, error);
  if (!text) {
    std::fprintf(stderr, "rrefsim merge: %s: %s\n", path.c_str(), error.c_str());
    return false;
  }
  std::istringstream in(*text);
  std::string raw;
  bool summary = false;
  for (int number = 1; std::getline(in, raw); ++number) {
    const std::string where = path + ":" + std::to_string(number);
    if (raw.empty()) continue;
    if (std::optional<SummaryStatus> s = ParseSummaryStatus(raw)) {
      summary = true;
      bool counted = false;
      if (!AddSummaryCounts(raw, merged.summary_counts, counted, error)) {
        std::fprintf(stderr, "rrefsim merge: %s: %s\n", where.c_str(), error.c_str());
        return false;
      }
      if (!merged.coverage_counted) merged.coverage_counted = counted;
      if (counted != *merged.coverage_counted) {
        std::fprintf(stderr, "rrefsim merge: %s %s coverage counts, but the first summary %s: run every shard with "
                     "--coverage, or none\n", where.c_str(), counted ? "has" : "has no",
                     counted ? "has none" : "has them");
        return false;
      }
      merged.status.interrupted |= s->interrupted;
      merged.status.max_failures_reached |= s->max_failures_reached;
      merged.status.wall_us = std::max(merged.status.wall_us, s->wall_us);  // shards run side by side
      if (merged.shards.empty()) merged.status.protocol = s->protocol;
      if (s->protocol != merged.status.protocol) {
        std::fprintf(stderr, "rrefsim merge: %s ran the %s protocol, but the first file's campaign ran %s: give the "
                     "shards of one campaign\n", where.c_str(), s->protocol.c_str(), merged.status.protocol.c_str());
        return false;
      }
      if (merged.shard_count == 0) merged.shard_count = s->shard_count;
      if (s->shard_count != merged.shard_count) {
        std::fprintf(stderr, "rrefsim merge: %s is shard %llu/%llu, but the first file's campaign has %llu shards: "
                     "give the shards of one campaign\n", where.c_str(),
                     static_cast<unsigned long long>(s->shard_index), static_cast<unsigned long long>(s->shard_count),
                     static_cast<unsigned long long>(merged.shard_count));
        return false;
      }
      if (auto [it, fresh] = merged.shards.try_emplace(s->shard_index, path); !fresh) {
        std::fprintf(stderr, "rrefsim merge: %s and %s are both shard %llu/%llu: give each shard's file once\n",
                     it->second.c_str(), path.c_str(), static_cast<unsigned long long>(s->shard_index),
                     static_cast<unsigned long long>(s->shard_count));
        return false;
      }
      continue;
    }
    std::optional<SeedLine> line = ParseSeedLine(raw, error);
    if (!line) {
      std::fprintf(stderr, "rrefsim merge: %s: not a line of `rrefsim run --json` (%s)\n", where.c_str(), error.c_str());
      return false;
    }
    auto key = std::make_pair(line->scenario, line->seed);
    if (auto it = merged.origin.find(key); it != merged.origin.end()) {
      std::fprintf(stderr, "rrefsim merge: %s: %s seed %llu is also in %s: give each shard's file once\n",
                   where.c_str(), line->scenario.c_str(), static_cast<unsigned long long>(line->seed),
                   it->second.c_str());
      return false;
    }
    if (std::find(merged.scenario_order.begin(), merged.scenario_order.end(), line->scenario) ==
        merged.scenario_order.end()) {
      merged.scenario_order.push_back(line->scenario);
    }
    merged.origin[key] = where;
    merged.seeds[key] = {raw, std::move(*line)};
  }
  if (!summary) {
    std::fprintf(stderr, "rrefsim merge: %s has no summary line: that shard did not finish\n", path.c_str());
    merged.missing_summary = true;
  }
  return true;
}

}  // namespace

int RunMerge(const std::vector<std::string>& files) {
  Merged merged;
  for (const std::string& path : files) {
    if (!AddFile(path, merged)) return kExitBadInput;
  }
  if (!merged.missing_summary && !CompleteShards(merged)) return kExitBadInput;
  Tally tally;
  for (const std::string& scenario : merged.scenario_order) {
    auto begin = merged.seeds.lower_bound({scenario, 0});
    for (auto it = begin; it != merged.seeds.end() && it->first.first == scenario; ++it) {
      std::printf("%s\n", it->second.first.c_str());
      tally.Add(it->second.second);
    }
  }
  tally.coverage_counted = merged.summary_counts.coverage_counted;
  tally.coverage = merged.summary_counts.coverage;
  tally.pct = merged.summary_counts.pct;
  merged.status.interrupted |= merged.missing_summary;  // and the coverage of that shard is missing
  std::printf("%s\n", SummaryJson(tally, merged.status).c_str());
  return tally.failures == 0 ? kExitOk : kExitViolation;
}

}  // namespace rrefsim::cli
