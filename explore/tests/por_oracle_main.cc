// rrefsim_por_oracle: what a sound persistent-set reduction could reach on a small scenario with perfect knowledge
// of its state graph (por_oracle.h; docs/explore.md, session 10). A measurement tool beside the tests, not a search:
// it holds the whole graph in memory.
//
//   rrefsim_por_oracle SCENARIO [--users N] [--hardened] [--max-set K] [--max-states M] [--kinds] [--why]
//                      [--no-shutdown]
//
// --users N cuts fork_chain_5 to a chain of N users (2-5); --no-shutdown ends the scenario without its graceful
// shutdown (Scenario::graceful_shutdown), whose barrier and join tie every worker's last steps together. Prints the
// graph's size, then for each relation (context, kind, catalog, worker: por_oracle.h) the states and transitions the
// reduced search visits with persistent sets of one step and of at most K steps (default 3), and with --kinds the
// pairs of kinds of step at one worker that the kind relation keeps dependent. With --why, under the context
// relation, the steps that commute with every step enabled beside them but are no persistent singletons, what breaks
// them first, and the kinds of step at two workers that fail to commute (por_oracle_why.h).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "por_oracle.h"
#include "por_oracle_why.h"

namespace {

using rrefsim::explore::test_support::BreakerOrigin;
using rrefsim::explore::test_support::Breakers;
using rrefsim::explore::test_support::Independence;
using rrefsim::explore::test_support::PersistenceOracle;
using rrefsim::explore::test_support::Reduced;
using rrefsim::explore::test_support::StateGraph;

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "rrefsim_por_oracle: %s\nusage: rrefsim_por_oracle SCENARIO [--users N] [--hardened] [--max-set K] "
               "[--max-states M] [--kinds] [--why] [--no-shutdown]\n",
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

// The breakers by origin, then the most frequent (origin, step, breaker) kinds, then how far ahead they came.
void PrintWhy(const StateGraph& graph, const Breakers& b) {
  std::printf("  why (context): %llu steps commute with every step enabled beside them; %llu of them are persistent "
              "singletons, %llu are not\n",
              static_cast<unsigned long long>(b.persistent + b.broken), static_cast<unsigned long long>(b.persistent),
              static_cast<unsigned long long>(b.broken));
  std::map<BreakerOrigin, std::uint64_t> by_origin;
  std::vector<std::pair<std::uint64_t, std::string>> lines;
  for (const auto& [key, count] : b.by_kind) {
    const auto& [origin, t, x] = key;
    by_origin[origin] += count;
    lines.emplace_back(count, std::string(BreakerOriginName(origin)) + ": " + graph.kinds()[t] + "  broken by  " +
                                  graph.kinds()[x]);
  }
  for (const auto& [origin, count] : by_origin) {
    std::printf("    first breaker %s: %llu\n", BreakerOriginName(origin), static_cast<unsigned long long>(count));
  }
  std::sort(lines.begin(), lines.end(), [](const auto& a, const auto& c) { return a.first > c.first; });
  for (std::size_t i = 0; i < lines.size() && i < 15; ++i) {
    std::printf("    %8llu  %s\n", static_cast<unsigned long long>(lines[i].first), lines[i].second.c_str());
  }
  std::printf("    steps after the state before the breaker:");
  for (const auto& [depth, count] : b.by_depth) {
    std::printf(" %u: %llu;", depth, static_cast<unsigned long long>(count));
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("no scenario named");
  const std::string name = argv[1];
  long users = 0, max_set = 3, max_states = 50'000'000;
  bool hardened = false, kinds = false, why = false, no_shutdown = false;
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
      } else if (flag == "--why") {
        why = true;
      } else if (flag == "--no-shutdown") {
        no_shutdown = true;
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
  if (no_shutdown) entry.scenario.graceful_shutdown = false;
  const auto mode = hardened ? rrefsim::core::ProtocolMode::kHardened : rrefsim::core::ProtocolMode::kPytorch;
  const std::optional<StateGraph> graph = StateGraph::Build(entry, mode, static_cast<std::size_t>(max_states));
  if (!graph) {
    std::fprintf(stderr, "rrefsim_por_oracle: %s has more than %ld states (--max-states)\n", name.c_str(), max_states);
    return 1;
  }
  std::printf("%s%s%s (%s): %zu states, %llu transitions, %zu ends\n", name.c_str(),
              users > 0 ? (" cut to " + std::to_string(users) + " users").c_str() : "",
              no_shutdown ? " without its graceful shutdown" : "",
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
    if (why && independence == Independence::kContext) {
      PrintWhy(*graph, WhyNotPersistent(*graph, oracle));
      for (const auto& [pair, pairs] : CrossWorkerDependence(*graph)) {
        std::printf("    at two workers, %s  x  %s: %llu pairs of steps fail to commute\n",
                    graph->kinds()[pair.first].c_str(), graph->kinds()[pair.second].c_str(),
                    static_cast<unsigned long long>(pairs));
      }
    }
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
