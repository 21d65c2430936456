// rrefsim_por_oracle: what a sound persistent-set reduction could reach on a small scenario with perfect knowledge
// of its state graph (por_oracle.h; docs/explore.md, session 10). A measurement tool beside the tests, not a search:
// it holds the whole graph in memory.
//
//   rrefsim_por_oracle SCENARIO [--users N] [--hardened] [--max-set K] [--max-states M] [--kinds]
//
// --users N cuts fork_chain_5 to a chain of N users (2-5). Prints the graph's size, then for each relation
// (context, kind, catalog, worker: por_oracle.h) the states and transitions the reduced search visits with
// persistent sets of one step and of at most K steps (default 3), and with --kinds the pairs of kinds of step at one
// worker that the kind relation keeps dependent.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "por_oracle.h"

namespace {

using rrefsim::explore::test_support::Independence;
using rrefsim::explore::test_support::PersistenceOracle;
using rrefsim::explore::test_support::Reduced;
using rrefsim::explore::test_support::StateGraph;

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "rrefsim_por_oracle: %s\nusage: rrefsim_por_oracle SCENARIO [--users N] [--hardened] [--max-set K] "
               "[--max-states M] [--kinds]\n",
               why.c_str());
  return 2;
}

long Number(const std::string& flag, const char* text, long low, long high) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < low || value > high) {
    throw std::invalid_argument(flag + " " + text + ": expected a whole number in [" + std::to_string(low) + ", " +
                                std::to_string(high) + "]");
  }
  return value;
}

void Print(const char* relation, std::size_t max_set, const Reduced& r, std::size_t ends) {
  std::printf("  %-7s sets of at most %zu: %llu states, %llu transitions, %zu of %zu ends; %llu choices reduced, "
              "%llu in full\n",
              relation, max_set, static_cast<unsigned long long>(r.states),
              static_cast<unsigned long long>(r.transitions), r.ends, ends,
              static_cast<unsigned long long>(r.reduced_choices), static_cast<unsigned long long>(r.full_choices));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("no scenario named");
  const std::string name = argv[1];
  long users = 0, max_set = 3, max_states = 50'000'000;
  bool hardened = false, kinds = false;
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string flag = argv[i];
      const bool has_value = i + 1 < argc;
      if (flag == "--users" && has_value) {
        users = Number(flag, argv[++i], 2, 5);
      } else if (flag == "--max-set" && has_value) {
        max_set = Number(flag, argv[++i], 1, 6);
      } else if (flag == "--max-states" && has_value) {
        max_states = Number(flag, argv[++i], 1, 1'000'000'000);
      } else if (flag == "--hardened") {
        hardened = true;
      } else if (flag == "--kinds") {
        kinds = true;
      } else {
        return Usage("unknown flag or missing value: " + flag);
      }
    }
  } catch (const std::invalid_argument& e) {
    return Usage(e.what());
  }
  const rrefsim::scenarios::CatalogEntry* found = rrefsim::scenarios::FindScenario(name);
  if (found == nullptr) return Usage("no catalog scenario named " + name);
  rrefsim::scenarios::CatalogEntry entry = *found;
  if (users > 0) {
    if (name != "fork_chain_5") return Usage("--users cuts fork_chain_5 only");
    entry.scenario.workers = static_cast<int>(users) + 1;
    entry.scenario.programs.resize(static_cast<std::size_t>(users) + 1);
    entry.scenario.programs[1].ops[1].payload = rrefsim::sim::Int(static_cast<int>(users) - 2);  // hops after user 2
  }
  const auto mode = hardened ? rrefsim::core::ProtocolMode::kHardened : rrefsim::core::ProtocolMode::kPytorch;
  const std::optional<StateGraph> graph = StateGraph::Build(entry, mode, static_cast<std::size_t>(max_states));
  if (!graph) {
    std::fprintf(stderr, "rrefsim_por_oracle: %s has more than %ld states (--max-states)\n", name.c_str(), max_states);
    return 1;
  }
  std::printf("%s%s (%s): %zu states, %llu transitions, %zu ends\n", name.c_str(),
              users > 0 ? (" cut to " + std::to_string(users) + " users").c_str() : "",
              hardened ? "hardened" : "pytorch", graph->nodes().size(),
              static_cast<unsigned long long>(graph->transitions()), graph->ends());
  const std::pair<const char*, Independence> relations[] = {
      {"context", Independence::kContext},
      {"kind", Independence::kKind},
      {"catalog", Independence::kCatalogKinds},
      {"worker", Independence::kWorker}};
  for (const auto& [label, independence] : relations) {
    PersistenceOracle oracle(*graph, independence);
    Print(label, 1, oracle.Reach(1), graph->ends());
    const auto larger = static_cast<std::size_t>(max_set);
    if (larger > 1) Print(label, larger, oracle.Reach(larger), graph->ends());
    if (kinds && independence == Independence::kKind) {
      for (const auto& [a, b] : oracle.dependent_kinds()) {
        const std::string& first = graph->kinds()[a];
        const std::string& second = graph->kinds()[b];
        if (first > second) continue;  // each pair once
        std::printf("    kinds that fail to commute somewhere: %s  x  %s\n", first.c_str(), second.c_str());
      }
    }
  }
  return 0;
}
