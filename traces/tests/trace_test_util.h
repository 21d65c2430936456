// Helpers shared by the traces tests: golden files and fresh recordings of catalog runs.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/traces/trace.h"

namespace rrefsim::traces::testing {

// A golden trace: a catalog scenario, a fault profile and a seed.
struct GoldenCase {
  const char* file;
  const char* scenario;
  const char* profile;
  std::uint64_t seed;
};

// A failing run under chaos (a duplicated call makes two UserRRefs of one fork), a failing run under loss (a parent
// deleted before its child was accepted) and a run that ends as its scenario expects, with expected violations.
inline const GoldenCase kGoldenCases[] = {
    {"s5_owner_to_user-seed0-chaos.json", "s5_owner_to_user", "chaos", 0},
    {"s3_user_to_user-seed3-lossy.json", "s3_user_to_user", "lossy", 3},
    {"pool_exhaustion-seed0.json", "pool_exhaustion", "reorder", 0},
};

inline std::string GoldenPath(const std::string& file) { return std::string(RRSIM_GOLDEN_DIR) + "/" + file; }

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline Trace ReadGolden(const std::string& file) {
  ReadResult read = ReadTrace(ReadText(GoldenPath(file)), file);
  if (!read.trace) throw std::runtime_error(read.error);
  return *read.trace;
}

// A fresh random-strategy run of the case, recorded.
inline scenarios::RecordedRun RecordCase(const GoldenCase& c) {
  const scenarios::CatalogEntry* entry = scenarios::FindScenario(c.scenario);
  if (entry == nullptr) throw std::runtime_error(std::string("no scenario ") + c.scenario);
  sim::RunConfig config;
  config.faults = *sim::MakeFaultConfig(c.profile, entry->fault_overrides).config;
  TraceConfig trace_config = scenarios::TraceConfigOf(config, c.profile, entry->fault_overrides, "random", 3);
  sim::RandomChooser chooser(c.seed);
  return scenarios::RecordRun(*entry, trace_config, config, c.seed, chooser);
}

}  // namespace rrefsim::traces::testing
