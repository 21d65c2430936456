// `rrefsim run`: a campaign of seeded runs of catalog scenarios, and its summary.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>


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
};

// Set by SIGINT/SIGTERM: the campaign stops after the current run, prints what it has and exits 130.
extern std::atomic<bool> g_interrupted;

// Runs the campaign and prints its summary; returns the exit code.
int RunCampaign(const CampaignOptions& options);

}  // namespace rrefsim::cli
