// A property that fails on purpose, to show (and, in tests/rc_demo_test.sh, to check) how a failing property is
// reproduced: RapidCheck prints its RC_PARAMS="reproduce=..." line, running again with it gives the same minimal
// case, and the minimal case's run is written as a trace that `rrefsim replay` reproduces.
//
// The property is the main one of generator_prop_test.cc (every checker passes) under the `lossy` profile instead of
// `reorder`: lost control messages and empty retries break PyTorch's protocol for real (docs/checkers.md), so the
// property is false, and RapidCheck shrinks the generated scenario to a small one that still breaks it. It runs only
// with RRSIM_DEMO_FAILING_PROPERTY=1, so CI stays green:
//
//   export RRSIM_DEMO_FAILING_PROPERTY=1 RRSIM_TRACE_DIR=/tmp/rc
//   build/release/scenarios/rrefsim_scenarios_tests --gtest_filter='GeneratorDemo.*'
//
// On failure the log of the minimal case ends with `rrefsim replay <trace>`; the trace is
// $RRSIM_TRACE_DIR/generated-seed<S>-<checker>.json (default directory ./rrefsim-out, as `rrefsim run --out`).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "generator_test_util.h"
#include "rc_choices.h"
#include "rrefsim/scenarios/generator.h"
#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/traces/trace.h"

namespace rrefsim::scenarios {
namespace {

using testing::Dump;
using testing::GeneratedEntry;
using testing::RcChoices;

bool DemoEnabled() {
  const char* flag = std::getenv("RRSIM_DEMO_FAILING_PROPERTY");
  return flag != nullptr && std::string(flag) == "1";
}

std::string TraceDir() {
  const char* dir = std::getenv("RRSIM_TRACE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "rrefsim-out";
}

// Records a failed checked run again over its own choices, as `rrefsim run` does for a failing seed
// (cli/src/trace_writer.cc), and writes the trace. Returns its path, or an error text starting with "error: ".
// Each failing case of the shrink overwrites the file of its seed and checker, so the file left is the last failing
// case RapidCheck ran: the minimal one.
std::string WriteFailureTrace(const CatalogEntry& entry, const std::string& profile, const sim::RunConfig& config,
                              std::uint64_t seed, const CheckedRun& checked) {
  sim::ReplayChooser chooser(checked.run.choices);
  RecordedRun recorded = RecordRun(entry, TraceConfigOf(config, profile, {}, "random", 0), config, seed, chooser);
  if (recorded.checked.violations.empty() ||
      recorded.checked.violations.front().checker != checked.violations.front().checker) {
    return "error: the run did not fail the same way when recorded";
  }
  std::error_code ec;
  std::filesystem::create_directories(TraceDir(), ec);
  const std::filesystem::path path = std::filesystem::absolute(
      std::filesystem::path(TraceDir()) /
      (entry.name + "-seed" + std::to_string(seed) + "-" + checked.violations.front().checker + ".json"));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << traces::WriteTrace(recorded.trace);
  out.close();
  if (!out) return "error: cannot write " + path.string();
  return path.string();
}

RC_GTEST_PROP(GeneratorDemo, FailsOnPurposeUnderLossyFaults, ()) {
  if (!DemoEnabled()) return;  // passes at once: set RRSIM_DEMO_FAILING_PROPERTY=1 to see it fail
  const auto run_seed = *rc::gen::noShrink(rc::gen::resize(rc::kNominalSize, rc::gen::arbitrary<std::uint64_t>()));
  RcChoices choices;
  GeneratedScenario g = Generate(choices, {});
  const std::string profile = "lossy";
  sim::RunConfig config;
  config.faults = *sim::MakeFaultConfig(profile, {}).config;
  const CatalogEntry entry = GeneratedEntry(g.scenario, profile);
  sim::RandomChooser chooser(run_seed);
  CheckedRun r = RunChecked(entry, config, chooser);
  RC_LOG() << "run seed " << run_seed << " (sim::RandomChooser, faults " << profile << ")\n" << Dump(g.scenario);
  if (r.failed()) {
    RC_LOG() << "violation: " << r.violations.front().checker << ": " << r.violations.front().text << "\n";
    RC_LOG() << "rrefsim replay " << WriteFailureTrace(entry, profile, config, run_seed, r) << "\n";
  }
  RC_ASSERT(!r.failed());
}

}  // namespace
}  // namespace rrefsim::scenarios
