// `rrefsim run`: a campaign of seeded runs of catalog scenarios, and its summary.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "seed_plan.h"


namespace rrefsim::cli {

struct CampaignOptions {
  std::string program = "rrefsim";  // how to call this binary in printed replay commands (argv[0])
  std::string scenario;             // a catalog name, "all", or a scenario file ending in .json
  bool generate = false;            // instead: each seed runs the random generator's scenario for that seed
  std::uint64_t seed_begin = 0;
  std::uint64_t seed_end = 1;       // half-open
  std::string profile;              // empty: the scenario's own profile
  std::vector<std::string> faults;
  std::string strategy = "random";
  int pct_depth = 3;
  std::string protocol = "pytorch";
  bool trace = false;               // print every step of every run
  int show_failures = 10;           // failing seeds printed per scenario (all are counted)
  std::string out_dir = "rrefsim-out";  // where the traces of failing seeds go (trace_writer.h)
  int threads = 1;                  // OS threads running seeds (main.cc defaults it to every core)
  std::uint64_t max_failures = 0;   // stop after the K smallest failing seeds (0: run every seed)
  Shard shard;                      // run only the seeds with seed % shard.count == shard.index
  double recheck = 0.01;            // the share of seeds run twice to compare run hashes
  bool json = false;                // JSON Lines on stdout (docs/results-format.md) instead of text
  bool coverage = false;            // the text summary lists every coverage pair (counted in any case)
};

// Set by SIGINT/SIGTERM: the campaign starts no new run, reports every run that finished (in seed order, up to the
// first seed that did not), prints the summary and exits 130.
extern std::atomic<bool> g_interrupted;
// Installs the SIGINT and SIGTERM handlers that set g_interrupted (campaigns, and `rrefsim explore`, which then
// stops its search and reports what it covered).
void CatchInterrupts();

// Runs the campaign and prints its summary; returns the exit code.
int RunCampaign(const CampaignOptions& options);

}  // namespace rrefsim::cli
