// The rrefsim command line: run, list, bench, observe, replay, render, shrink, explore. Exit codes: exit_codes.h,
// docs/cli.md.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <algorithm>
#include <limits>
#include <thread>

#include "bench.h"
#include "campaign.h"
#include "exit_codes.h"
#include "explore_command.h"
#include "shrink.h"
#include "merge.h"
#include "observe.h"
#include "scale_flags.h"
#include "trace_commands.h"
#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/sim/network.h"

namespace rrefsim::cli {
namespace {

// "A:B" (half-open) into [begin, end).
bool ParseRange(const std::string& text, std::uint64_t* begin, std::uint64_t* end) {
  std::size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  try {
    std::size_t used = 0;
    *begin = std::stoull(text.substr(0, colon), &used);
    if (used != colon) return false;
    std::string rest = text.substr(colon + 1);
    *end = std::stoull(rest, &used);
    return used == rest.size() && *begin < *end && text[0] != '-' && rest[0] != '-';
  } catch (const std::exception&) {
    return false;
  }
}

// A non-negative integer that leaves room for seed + 1.
const CLI::Validator kSeed(
    [](std::string& text) -> std::string {
      std::uint64_t v = 0;
      std::size_t used = 0;
      try {
        if (text.empty() || text[0] == '-' || text[0] == '+') throw std::invalid_argument(text);
        v = std::stoull(text, &used);
      } catch (const std::exception&) {
        return "'" + text + "' is not a seed (a non-negative integer below 2^64 - 1)";
      }
      if (used != text.size() || v == std::numeric_limits<std::uint64_t>::max()) {
        return "'" + text + "' is not a seed (a non-negative integer below 2^64 - 1)";
      }
      return "";
    },
    "SEED");

const CLI::Validator kPositive(
    [](std::string& text) -> std::string {
      try {
        std::size_t used = 0;
        double v = std::stod(text, &used);
        if (used == text.size() && v > 0) return "";
      } catch (const std::exception&) {
      }
      return "'" + text + "' must be a number greater than 0";
    },
    "POSITIVE");

std::string FaultKeysText() {
  std::string text = "Fault keys for --fault KEY=VALUE:\n";
  for (const std::string& line : sim::FaultKeyHelp()) text += "  " + line + "\n";
  return text;
}

// Two lines per scenario: name, profile and the PyTorch test it mirrors; then what it exercises.
int ListScenarios() {
  std::printf("%-34s %-13s %s\n", "scenario", "profile", "PyTorch test [its own fault settings]");
  for (const scenarios::CatalogEntry& e : scenarios::Catalog()) {
    std::string own;
    for (const std::string& f : e.fault_overrides) own += (own.empty() ? " [" : " ") + f;
    if (!own.empty()) own += "]";
    std::printf("%-34s %-13s %s%s\n    %s\n", e.name.c_str(), e.faults.c_str(),
                e.pytorch_test.empty() ? "(none)" : e.pytorch_test.c_str(), own.c_str(), e.summary.c_str());
  }
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"rrefsim: a deterministic simulator for PyTorch's RRef protocol"};
  app.require_subcommand(1);

  CampaignOptions run;
  std::uint64_t seed = 0, seeds = 0;
  std::string range;
  CLI::App* run_cmd = app.add_subcommand("run", "run a scenario over seeds and report failures");
  auto* scenario_opt = run_cmd->add_option(
      "--scenario", run.scenario, "a catalog scenario (see `rrefsim list`), 'all', or a scenario file ending in .json");
  auto* generate_opt = run_cmd->add_flag(
      "--generate", run.generate,
      "run a random scenario per seed (docs/generator.md): the seed draws the scenario and its schedule");
  scenario_opt->excludes(generate_opt);
  auto* seed_opt = run_cmd->add_option("--seed", seed, "run one seed (default: seed 0)")->check(kSeed);
  auto* seeds_opt = run_cmd->add_option("--seeds", seeds, "run seeds 0..N-1")->check(kSeed)->check(kPositive);
  auto* range_opt = run_cmd->add_option("--seed-range", range, "run seeds A..B-1 (half-open A:B)");
  seed_opt->excludes(seeds_opt)->excludes(range_opt);
  seeds_opt->excludes(range_opt);
  run_cmd->add_option("--faults", run.profile,
                      "fault profile: reorder, faulty-agent, lossy, chaos, swarm (default: the scenario's own)")
      ->check(CLI::IsMember(sim::FaultProfiles()));
  run_cmd->add_option("--fault", run.faults, "override a fault setting, KEY=VALUE (repeatable; keys below)");
  auto* strategy_opt = run_cmd->add_option("--strategy", run.strategy, "scheduling strategy")
                           ->check(CLI::IsMember({"random", "pct", "exhaustive"}))
                           ->capture_default_str();
  run_cmd->add_option("--pct-depth", run.pct_depth, "PCT bug depth d (d-1 priority change points)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str()
      ->needs(strategy_opt);
  run_cmd->add_option("--show-failures", run.show_failures, "failing seeds to print per scenario")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run_cmd->footer(FaultKeysText());
  run_cmd->add_option("--protocol", run.protocol, "protocol mode")->check(CLI::IsMember({"pytorch", "hardened"}))
      ->capture_default_str();
  run_cmd->add_flag("--trace", run.trace, "print every step of every run");
  run_cmd->add_flag("--coverage", run.coverage,
                    "list every (message type x receiver state) pair with its count (docs/coverage.md)");
  run_cmd->add_option("--out", run.out_dir, "directory for the trace files of failing seeds")->capture_default_str();
  ScaleFlags scale;
  AddScaleFlags(run_cmd, scale, run);
  explore::ExploreOptions exhaustive;  // --strategy exhaustive's bounds, the same flags as `explore`'s
  const std::vector<CLI::Option*> bound_flags = AddBoundFlags(run_cmd, exhaustive);

  std::vector<std::string> merge_files;
  CLI::App* merge_cmd = app.add_subcommand("merge", "combine the --json outputs of shards into one campaign's lines");
  merge_cmd->add_option("files", merge_files, "files written by `rrefsim run --shard I/N --json`")->required();

  CLI::App* list_cmd = app.add_subcommand("list", "list the built-in scenarios");
  BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "measure simulator speed and memory (JSON on stdout)");
  bench_cmd->add_option("--mix-seeds", bench.mix_seeds, "seeds per scenario in the message mix")
      ->check(kPositive)
      ->capture_default_str();
  bench_cmd->add_option("--s3-seconds", bench.s3_seconds, "seconds of S3 runs for runs_per_second")
      ->check(kPositive)
      ->capture_default_str();
  bench_cmd->add_option("--campaign-seeds", bench.campaign_seeds,
                        "seeds per scenario of the `--scenario all` campaign timed on 1 and 2 threads (0: skip)")
      ->capture_default_str();
  bench_cmd->add_option("--protocol-seeds", bench.protocol_seeds,
                        "seeds per scenario of the hardened-vs-pytorch cost under reorder (0: skip)")
      ->capture_default_str();
  ObserveOptions observe;
  CLI::App* observe_cmd = app.add_subcommand(
      "observe", "what PyTorch users would observe of one pytorch-mode run (docs/conformance.md)");
  observe_cmd->add_option("scenario", observe.scenario, "a catalog scenario or a scenario file ending in .json")
      ->required();
  observe_cmd->add_option("--seed", observe.seed, "the run's seed (default 0)")->check(kSeed);
  TraceCommands trace_cmds(app);
  ShrinkCommand shrink_cmd(app);
  ExploreCommand explore_cmd(app);
  app.set_version_flag("--version", "rrefsim 0.1.0");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, the version, or the error
    return code == 0 ? kExitOk : kExitBadInput;
  }
  run.program = argc > 0 ? argv[0] : "rrefsim";
  if (*list_cmd) return ListScenarios();
  if (*bench_cmd) return RunBench(bench);
  if (*merge_cmd) return RunMerge(merge_files);
  if (*observe_cmd) return RunObserve(observe);
  if (std::optional<int> code = trace_cmds.Dispatch()) return *code;
  if (std::optional<int> code = shrink_cmd.Dispatch(run.program)) return *code;
  if (std::optional<int> code = explore_cmd.Dispatch(run.program)) return *code;
  if (!ApplyScaleFlags(scale, run_cmd->count("--threads") > 0, run_cmd->count("--max-failures") > 0,
                       run_cmd->count("--shard") > 0, run)) {
    return kExitBadInput;
  }
  if (!*scenario_opt && !*generate_opt) {
    std::fprintf(stderr, "rrefsim run: say what to run: --scenario NAME|all|FILE.json, or --generate\n");
    return kExitBadInput;
  }
  if (*seeds_opt) run.seed_end = seeds;
  if (*seed_opt) {
    run.seed_begin = seed;
    run.seed_end = seed + 1;
  }
  if (run.strategy == "exhaustive") return RunExhaustive(run, exhaustive);  // seeds mean nothing to it
  for (const CLI::Option* flag : bound_flags) {
    if (flag->count() == 0) continue;
    std::fprintf(stderr, "rrefsim run: %s is a flag of the exhaustive search: it needs --strategy exhaustive\n",
                 flag->get_name().c_str());
    return kExitBadInput;
  }
  if (*range_opt && !ParseRange(range, &run.seed_begin, &run.seed_end)) {
    std::fprintf(stderr, "rrefsim run: --seed-range '%s' is not A:B with A < B (non-negative integers)\n",
                 range.c_str());
    return kExitBadInput;
  }
  if (!*seed_opt && !*seeds_opt && !*range_opt) run.seed_end = 1;
  // Results are printed as they are found, line by line, so that an interrupted or piped campaign keeps them.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CatchInterrupts();
  return RunCampaign(run);
}

}  // namespace
}  // namespace rrefsim::cli

int main(int argc, char** argv) {
  try {
    return rrefsim::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rrefsim: internal error: %s\n", e.what());
    return rrefsim::cli::kExitInternal;
  }
}
