#include "scale_flags.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <thread>

namespace rrefsim::cli {
namespace {

// A number from 0 to 1.
bool ParseShare(const std::string& text, double* share) {
  try {
    std::size_t used = 0;
    *share = std::stod(text, &used);
    return used == text.size() && *share >= 0 && *share <= 1;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

void AddScaleFlags(CLI::App* run_cmd, ScaleFlags& flags, CampaignOptions& run) {
  run_cmd->add_option("--threads", flags.threads, "OS threads running seeds (default: every core)");
  run_cmd->add_option("--max-failures", flags.max_failures,
                      "stop at the K smallest failing seeds (every smaller seed still runs)");
  run_cmd->add_option("--shard", flags.shard, "run only the seeds with seed % N == I (I/N, 0-based)");
  run_cmd->add_option("--recheck", flags.recheck, "share of seeds re-run to compare run hashes (0 to 1)")
      ->capture_default_str();
  run_cmd->add_flag("--json", run.json, "JSON Lines on stdout: one line per seed, then a summary (docs/results-format.md)");
}

// Fills `run` from `flags`; false after saying on stderr what to change.
bool ApplyScaleFlags(const ScaleFlags& flags, bool threads_given, bool max_given, bool shard_given,
                     CampaignOptions& run) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::string error;
  if (threads_given && (flags.threads < 1 || flags.threads > 1024)) {
    error = "--threads " + std::to_string(flags.threads) + ": give 1 to 1024 OS threads (default: every core, " +
            std::to_string(cores) + " here)";
  } else if (max_given && flags.max_failures < 1) {
    error = "--max-failures " + std::to_string(flags.max_failures) +
            ": give K >= 1, or leave the flag out to run every seed";
  } else if (run.json && run.trace) {
    error = "--json and --trace: --trace prints every step on stdout, which --json keeps for JSON lines; drop one";
  } else if (!ParseShare(flags.recheck, &run.recheck)) {
    error = "--recheck " + flags.recheck + ": give a share from 0 to 1, e.g. 0.01 to re-run 1% of seeds";
  }
  if (error.empty() && shard_given) {
    ShardParse shard = ParseShard(flags.shard);
    if (shard.shard) run.shard = *shard.shard;
    error = shard.error;
  }
  if (!error.empty()) {
    std::fprintf(stderr, "rrefsim run: %s\n", error.c_str());
    return false;
  }
  run.threads = threads_given ? static_cast<int>(flags.threads) : static_cast<int>(cores);
  run.max_failures = max_given ? static_cast<std::uint64_t>(flags.max_failures) : 0;
  return true;
}

}  // namespace rrefsim::cli
