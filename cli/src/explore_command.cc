#include "explore_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "campaign.h"
#include "exit_codes.h"
#include "rrefsim/scenarios/scenario_json.h"
#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/symmetry.h"
#include "trace_commands.h"

namespace rrefsim::cli {
namespace {

struct Outcome {
  explore::ExploreResult result;
  std::optional<explore::ExploreResult> unreduced;  // --compare
  std::string trace_path;
  std::string error;
};

std::string Bound(std::uint64_t n) { return n == 0 ? "unbounded" : "<= " + std::to_string(n); }

core::ProtocolMode Mode(const ExploreCliOptions& o) {
  return o.protocol == "hardened" ? core::ProtocolMode::kHardened : core::ProtocolMode::kPytorch;
}

// "1 deviation", "3 deviations".
std::string Deviations(std::uint32_t n) { return std::to_string(n) + (n == 1 ? " deviation" : " deviations"); }

std::string DeviationText(const explore::Bounds& b) {
  if (!b.max_deviations) return "";
  return ", deviations from the default schedule <= " + std::to_string(*b.max_deviations) +
         " (searched with 0, 1, ... deviations, fewest first)";
}

std::string BoundText(const scenarios::CatalogEntry& entry, const explore::ExploreOptions& o,
                      const std::string& protocol) {
  return entry.faults +
         " profile on the asynchronous network (no delays: reordering is the step choice), duplicates <= " +
         std::to_string(o.bounds.max_duplicates) + ", drops <= " + std::to_string(o.bounds.max_drops) +
         ", choice points " + Bound(o.bounds.max_depth) +
         (o.shortest ? " (searched depth by depth from 1, shortest counterexample first)" : "") +
         DeviationText(o.bounds) + ", protocol " + protocol;
}

std::string Verdict(const explore::ExploreResult& r) {
  if (r.counterexample) {
    const checkers::Violation& v = r.counterexample->violations.front();
    return "COUNTEREXAMPLE: " + v.checker + " at step " + std::to_string(v.step) + ": " + v.text;
  }
  // A deviation bound's searches run with 0, 1, ... deviations: what the last complete one proved stands.
  const std::string proved =
      r.clean_within_deviations
          ? " (every schedule within " + Deviations(*r.clean_within_deviations) + " satisfies every invariant)"
          : "";
  if (r.interrupted) return "INCOMPLETE: interrupted before every schedule was explored" + proved;
  if (!r.complete) return "INCOMPLETE: the run budget ran out before every schedule was explored" + proved;
  if (r.stats.deviation_held == 0 && r.stats.depth_cut == 0 && r.stats.deviations > 0) {
    return "all schedules within the bound satisfy every invariant (the search with " + Deviations(r.stats.deviations) +
           " held no choice to the default: that is every schedule)";
  }
  return "all schedules within the bound satisfy every invariant";
}

std::string ReductionLabel(const explore::ExploreOptions& o) {
  if (o.dpor) return o.sleep_sets ? "with DPOR and sleep sets, stateless" : "with DPOR, stateless";
  if (o.bounds.max_deviations) return "without sleep sets (off under a deviation bound)";
  if (o.persistent_sets) return o.sleep_sets ? "with persistent sets and sleep sets" : "with persistent sets";
  return o.sleep_sets ? "with sleep sets" : "without sleep sets";
}

// What persistent sets did, on a line of its own: only for a search that asked for them.
std::string PersistentText(const explore::ExploreStats& s) {
  if (!s.persistent_off.empty()) return "  persistent sets: not used: " + s.persistent_off + "\n";
  char line[512];
  std::snprintf(line, sizeof line,
                "  persistent sets: one step taken alone at %llu states, all of one worker's steps at %llu, none found "
                "at %llu; the analysis played "
                "%llu states of single workers (%llu verdicts from its cache); %u search(es) until the ledger held "
                "every message sent (%llu messages)\n",
                static_cast<unsigned long long>(s.persistent_singletons),
                static_cast<unsigned long long>(s.persistent_worker_sets),
                static_cast<unsigned long long>(s.persistent_none), static_cast<unsigned long long>(s.analysis_states),
                static_cast<unsigned long long>(s.analysis_cache_hits), s.message_rounds,
                static_cast<unsigned long long>(s.ledger_messages));
  return line;
}

// DPOR's races are printed only for a DPOR search: the other searches find none (the JSON keeps the zeros).
std::string StatsText(const std::string& label, const explore::ExploreStats& s, bool dpor, bool deviation_bound) {
  char held[128] = "";
  if (deviation_bound) {
    std::snprintf(held, sizeof held, "%llu choices held to the default at %s, ",
                  static_cast<unsigned long long>(s.deviation_held), Deviations(s.deviations).c_str());
  }
  char races[96] = "";
  if (dpor) {
    std::snprintf(races, sizeof races, "%llu races (%llu branches), ", static_cast<unsigned long long>(s.races),
                  static_cast<unsigned long long>(s.race_branches));
  }
  char line[640];
  std::snprintf(line, sizeof line,
                "  %s: %llu states explored (transitions), %llu distinct, %llu runs, %llu replayed steps, %llu "
                "revisits cut, %llu sleep-set cuts, %llu depth cuts, %s%smax depth %llu, %.3f s, %.0f states/s\n",
                label.c_str(), static_cast<unsigned long long>(s.transitions),
                static_cast<unsigned long long>(s.distinct_states),
                static_cast<unsigned long long>(s.runs), static_cast<unsigned long long>(s.replayed_steps),
                static_cast<unsigned long long>(s.revisits), static_cast<unsigned long long>(s.sleep_pruned),
                static_cast<unsigned long long>(s.depth_cut), held, races,
                static_cast<unsigned long long>(s.max_depth),
                s.seconds, s.states_per_second());
  return line;
}

nlohmann::json StatsJson(const explore::ExploreStats& s) {
  return {{"transitions", s.transitions},     {"distinct_states", s.distinct_states}, {"runs", s.runs},
          {"replayed_steps", s.replayed_steps}, {"revisits", s.revisits},             {"sleep_pruned", s.sleep_pruned},
          {"depth_cut", s.depth_cut},         {"races", s.races},                     {"race_branches", s.race_branches},
          {"deviation_held", s.deviation_held}, {"deviations", s.deviations},
          {"max_depth", s.max_depth},         {"seconds", s.seconds},
          {"states_per_second", s.states_per_second()},
          {"persistent_singletons", s.persistent_singletons},
          {"persistent_worker_sets", s.persistent_worker_sets}, {"persistent_none", s.persistent_none},
          {"analysis_states", s.analysis_states}, {"analysis_cache_hits", s.analysis_cache_hits},
          {"message_rounds", s.message_rounds}, {"ledger_messages", s.ledger_messages},
          {"persistent_off", s.persistent_off.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.persistent_off)}};
}

// The counterexample as a normal trace: re-run over its own choices with a recorder, which also proves it replays.
std::string WriteCounterexample(const ExploreCliOptions& o, const scenarios::CatalogEntry& entry,
                                const explore::ExploreResult& r, std::string& error) {
  traces::TraceConfig config = scenarios::TraceConfigOf(r.config, entry.faults, r.fault_overrides, "exhaustive", 0);
  sim::ReplayChooser chooser(r.counterexample->run.choices);
  scenarios::RecordedRun recorded = scenarios::RecordRun(entry, config, r.config, 0, chooser);
  if (recorded.checked.violations.empty() ||
      recorded.checked.violations.front().checker != r.counterexample->violations.front().checker) {
    error = entry.name + ": the counterexample did not reproduce when re-run for its trace";
    return "";
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) {
    error = "--out " + o.out_dir + ": cannot create the directory: " + ec.message();
    return "";
  }
  const std::string name =
      entry.name + "-exhaustive-" + r.counterexample->violations.front().checker + ".json";
  const std::string path = (std::filesystem::path(o.out_dir) / name).string();
  if (!WriteWholeFile(path, traces::WriteTrace(recorded.trace), error)) error = path + ": " + error;
  return path;
}

// The group the search reduced by (1: none), as the explorer's worlds compute it (sim::ScenarioSymmetry).
std::size_t SymmetryGroup(const ExploreCliOptions& o, const scenarios::CatalogEntry& entry) {
  const bool on = o.search.symmetry && o.search.state_hashing && !o.search.dpor && o.search.extra_invariant == nullptr &&
                  !o.search.bounds.max_deviations;  // off under a deviation bound (explore.cc, Checked)
  return on ? sim::ScenarioSymmetry(entry.scenario).size() : 1;
}

void Print(const ExploreCliOptions& o, const scenarios::CatalogEntry& entry, const Outcome& out) {
  const explore::ExploreResult& r = out.result;
  if (o.json) {
    nlohmann::json line = {{"scenario", entry.name}, {"bound", BoundText(entry, o.search, o.protocol)},
                           {"complete", r.complete}, {"interrupted", r.interrupted}, {"verdict", Verdict(r)},
                           {"reduced", StatsJson(r.stats)},
                           {"clean_within_deviations", r.clean_within_deviations
                                                           ? nlohmann::json(*r.clean_within_deviations)
                                                           : nlohmann::json(nullptr)},
                           {"symmetry_group", SymmetryGroup(o, entry)}};
    if (out.unreduced) line["unreduced"] = StatsJson(out.unreduced->stats);
    if (!out.trace_path.empty()) line["trace"] = out.trace_path;
    nlohmann::json defects = nlohmann::json::array();
    for (const checkers::Violation& v : r.expected_seen) defects.push_back({{"checker", v.checker}, {"text", v.text}});
    line["known_defects_seen"] = defects;
    std::printf("%s\n", line.dump().c_str());
    return;
  }
  std::printf("%s: %s\n  bound: %s\n", entry.name.c_str(), Verdict(r).c_str(), BoundText(entry, o.search, o.protocol).c_str());
  const bool deviation_bound = o.search.bounds.max_deviations.has_value();
  std::printf("%s", StatsText(ReductionLabel(o.search), r.stats, o.search.dpor, deviation_bound).c_str());
  if (o.search.persistent_sets) std::printf("%s", PersistentText(r.stats).c_str());
  if (out.unreduced) {
    std::printf("%s", StatsText("without reduction", out.unreduced->stats, false, deviation_bound).c_str());
  }
  for (const checkers::Violation& v : r.expected_seen) {
    std::printf("  known PyTorch defect the scenario declares, shown by some schedule: %s: %s\n", v.checker.c_str(),
                v.text.c_str());
  }
  std::printf("  symmetry group: %zu permutation(s) of interchangeable workers\n", SymmetryGroup(o, entry));
  if (!r.complete && !r.counterexample && !o.search.bounds.max_deviations && !o.search.dpor) {
    std::printf("  hint: for a complete statement on a scenario this big, bound the schedules instead: "
                "--max-deviations 1, 2, ... (every schedule that leaves the default at most K times)\n");
  }
  if (!out.trace_path.empty()) {
    std::printf("  trace:  %s\n  replay: %s replay %s\n", out.trace_path.c_str(), o.program.c_str(),
                out.trace_path.c_str());
  }
}

// One line on stderr, when stderr is a terminal, redrawn every explore::kProgressRuns runs of a long search: how far
// it got. It reads the clock for the rate only.
class SearchProgress {
 public:
  // Under a deviation bound each of its searches (0, 1, ...) starts the counts again: the line names the search.
  SearchProgress(std::string scenario, bool deviation_bound)
      : scenario_(std::move(scenario)), deviation_bound_(deviation_bound), enabled_(isatty(STDERR_FILENO) == 1) {}
  void Show(const explore::ExploreStats& s) {
    if (!enabled_) return;
    const std::string search = deviation_bound_ ? " (search with " + Deviations(s.deviations) + ")" : std::string();
    std::fprintf(stderr, "\r\033[K%s%s: %llu runs, %llu distinct states, %llu transitions, %.0f transitions/s, %.0f s",
                 scenario_.c_str(), search.c_str(), static_cast<unsigned long long>(s.runs),
                 static_cast<unsigned long long>(s.distinct_states), static_cast<unsigned long long>(s.transitions),
                 s.states_per_second(), s.seconds);
    std::fflush(stderr);
    shown_ = true;
  }
  void Clear() {
    if (!shown_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }

 private:
  std::string scenario_;
  bool deviation_bound_;
  bool enabled_;
  bool shown_ = false;
};

}  // namespace

std::vector<CLI::Option*> AddBoundFlags(CLI::App* command, explore::ExploreOptions& search) {
  return {
      command->add_option("--duplicates", search.bounds.max_duplicates, "D: duplicated messages per run")
          ->check(CLI::Range(0, 100))
          ->capture_default_str(),
      command->add_option("--drops", search.bounds.max_drops, "L: lost messages per run")
          ->check(CLI::Range(0, 100))
          ->capture_default_str(),
      command->add_option("--max-depth", search.bounds.max_depth, "choice points per run (0: no bound)")
          ->capture_default_str(),
      command->add_option("--max-deviations", search.bounds.max_deviations,
                          "K: step choices per run that leave the default schedule (ready fibers first, then "
                          "the oldest message due); searched with 0, 1, ... K, fewest first (default: no bound)")
          ->check(CLI::Range(0, 200)),
      command->add_option("--max-runs", search.max_runs, "stop after N runs, incomplete (0: no budget)")
          ->capture_default_str(),
      command->add_flag("--shortest", search.shortest,
                        "find a counterexample with the fewest choice points (iterative deepening)"),
      command->add_flag("--dpor", search.dpor,
                        "dynamic partial-order reduction (source-DPOR with sleep sets) instead of state hashing"),
      command->add_flag("--persistent-sets", search.persistent_sets,
                        "take one step alone where everything its worker can do first commutes with it "
                        "(docs/explore.md, \"Persistent sets\"); the messages that can reach a worker are learned, "
                        "and the search runs again until it sent none it had not assumed"),
  };
}

ExploreCommand::ExploreCommand(CLI::App& app) {
  command_ = app.add_subcommand("explore", "explore every schedule of a scenario within bounds (docs/explore.md)");
  command_->add_option("scenario", options_.scenario, "a catalog scenario, 'all', or a scenario file ending in .json")
      ->required();
  AddBoundFlags(command_, options_.search);
  command_->add_flag("--compare", options_.compare,
                     "also search without reduction (state hashing only: no sleep sets, no DPOR), and report both")
      // Under a deviation bound the search is that one already (sleep sets are off): nothing to compare.
      ->excludes("--max-deviations");
  command_->add_flag("!--no-state-hashing", options_.search.state_hashing, "do not prune revisited states");
  command_->add_flag("!--no-sleep-sets", options_.search.sleep_sets, "do not prune commuting deliveries");
  command_->add_option("--faults", options_.profile, "fault profile (default: the scenario's own)")
      ->check(CLI::IsMember(sim::FaultProfiles()));
  command_->add_option("--fault", options_.faults, "override a fault setting, KEY=VALUE (repeatable)");
  command_->add_option("--protocol", options_.protocol, "protocol mode")->check(CLI::IsMember({"pytorch", "hardened"}));
  command_->add_flag("--json", options_.json, "one JSON object per scenario on stdout");
  command_->add_option("--out", options_.out_dir, "directory for the counterexample's trace")->capture_default_str();
  command_->add_flag("!--no-symmetry", options_.search.symmetry, "do not merge states that differ by a renaming of "
                     "interchangeable workers");
}

std::optional<int> ExploreCommand::Dispatch(const std::string& program) {
  if (!*command_) return std::nullopt;
  options_.program = program;
  return RunExplore(options_);
}

int RunExhaustive(const CampaignOptions& run, const explore::ExploreOptions& search) {
  ExploreCliOptions o;
  o.search = search;
  o.program = run.program;
  o.command = "run";
  o.scenario = run.scenario;
  o.profile = run.profile;
  o.faults = run.faults;
  o.json = run.json;
  o.out_dir = run.out_dir;
  o.protocol = run.protocol;
  return RunExplore(o);
}

namespace {

// An error of the command the user typed: `rrefsim explore: ...`, or `rrefsim run: ...` for --strategy exhaustive.
void Complain(const ExploreCliOptions& o, const std::string& text) {
  std::fprintf(stderr, "rrefsim %s: %s\n", o.command.c_str(), text.c_str());
}

}  // namespace

int RunExplore(const ExploreCliOptions& o) {
  scenarios::ScenarioSelection selection = scenarios::SelectScenarios(o.scenario);
  if (!selection.error.empty()) {
    Complain(o, selection.error);
    return kExitBadInput;
  }
  // A long search stopped by Ctrl-C or SIGTERM still reports what it covered, and each line is out at once.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CatchInterrupts();
  int code = kExitOk;
  for (scenarios::CatalogEntry entry : selection.entries) {
    if (!o.profile.empty()) entry.faults = o.profile;
    entry.fault_overrides.insert(entry.fault_overrides.end(), o.faults.begin(), o.faults.end());
    Outcome out;
    explore::ExploreOptions search = o.search;
    search.stop = &g_interrupted;
    SearchProgress progress(entry.name, o.search.bounds.max_deviations.has_value());
    search.on_progress = [&progress](const explore::ExploreStats& s) { progress.Show(s); };
    try {
      out.result = explore::Explore(entry, search, Mode(o));
      if (o.compare && !out.result.interrupted) {
        explore::ExploreOptions plain = search;
        // State hashing stays: without it even S2 has more paths than a run budget.
        plain.sleep_sets = plain.dpor = plain.persistent_sets = false;
        plain.state_hashing = true;
        out.unreduced = explore::Explore(entry, plain, Mode(o));
      }
    } catch (const std::invalid_argument& e) {
      Complain(o, e.what());
      return kExitBadInput;
    }
    if (out.result.counterexample) {
      out.trace_path = WriteCounterexample(o, entry, out.result, out.error);
      code = kExitViolation;
    }
    progress.Clear();
    Print(o, entry, out);
    if (!out.error.empty()) {
      Complain(o, out.error);
      return kExitDivergence;
    }
    if (g_interrupted) return kExitInterrupted;  // the scenarios after this one are not started
  }
  return code;
}

}  // namespace rrefsim::cli
