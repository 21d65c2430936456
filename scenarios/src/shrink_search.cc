#include "shrink_search.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "rrefsim/scenarios/runner.h"
#include "rrefsim/scenarios/scenario_json.h"
#include "rrefsim/scenarios/trace_run.h"

namespace rrefsim::scenarios::shrink {
namespace {

// Every op list under `ops`, `ops` first; Ops is `std::vector<sim::Op>` or its const.
template <typename Ops>
void AddBlocks(Ops& ops, std::vector<Ops*>& out) {
  out.push_back(&ops);
  for (auto& op : ops) {
    if (op.kind != sim::Op::Kind::kIfPositive) continue;
    AddBlocks(op.then_ops, out);
    AddBlocks(op.else_ops, out);
  }
}

template <typename Entry, typename Ops>
std::vector<Ops*> AllBlocks(Entry& entry) {
  std::vector<Ops*> out;
  for (auto& program : entry.scenario.programs) AddBlocks(program.ops, out);
  for (auto& function : entry.scenario.functions) AddBlocks(function.body.ops, out);
  return out;
}

// Counts the run's records (a trace's events, without recording them) and stops the run once they pass `limit`:
// such a run costs more than the current one whatever else it saves.
class RecordCounter : public checkers::RunObserver {
 public:
  explicit RecordCounter(std::uint64_t limit) : limit_(limit) {}
  void OnRecord(const checkers::StepRecord&) override { ++records_; }
  bool OnStepEnd(const checkers::GlobalView&) override { return !exceeded(); }
  std::uint64_t records() const { return records_; }
  bool exceeded() const { return records_ > limit_; }

 private:
  std::uint64_t limit_;
  std::uint64_t records_ = 0;
};

Cost CostOf(const Candidate& c, const std::string& json, std::uint64_t records) {
  const sim::Scenario& s = c.entry.scenario;
  const std::uint64_t size = records + CountOps(c.entry) + s.functions.size() + static_cast<std::uint64_t>(s.workers) +
                             s.counters.size() + FaultWeight(c.config);
  std::uint64_t nonzero = 0;
  for (const sim::Choice& choice : c.choices) nonzero += choice.pick != 0 ? 1 : 0;
  return {size, nonzero, c.choices.size(), json.size()};
}

// Fresh schedules tried for an edit whose lenient replay no longer fails: an edit moves the schedule (step choices
// are keyed by what was offered), and a fresh schedule of the edited scenario often fails the same way.
constexpr std::uint64_t kSchedulesPerEdit = 16;

bool TrySchedules(Search& search, const Candidate& candidate, std::uint64_t schedules) {
  for (std::uint64_t k = 0; k < schedules && !search.expired(); ++k) {
    sim::RandomChooser chooser(sim::SubSeed(search.seed(), 1000 + k));
    if (search.Try(candidate, chooser)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::vector<sim::Op>*> Blocks(CatalogEntry& entry) {
  return AllBlocks<CatalogEntry, std::vector<sim::Op>>(entry);
}

std::size_t CountOps(const CatalogEntry& entry) {
  std::size_t n = 0;
  for (const auto* block : AllBlocks<const CatalogEntry, const std::vector<sim::Op>>(entry)) n += block->size();
  return n;
}

Search::Search(Candidate start, std::string checker, std::uint64_t seed,
               std::chrono::steady_clock::time_point deadline)
    : current_(std::move(start)), checker_(std::move(checker)), seed_(seed), deadline_(deadline) {}

bool Search::Try(Candidate candidate) {
  sim::LenientReplayChooser chooser(candidate.choices);
  return Try(std::move(candidate), chooser);
}

bool Search::Try(Candidate candidate, sim::Chooser& chooser) {
  ++tried_;
  // The JSON round trip is the scenario validator: a variable read before it is assigned, a call to a deleted
  // function, a destination outside the world, barriers out of step with counters... are refused here.
  const std::string json = ScenarioToJson(candidate.entry);
  ParsedScenario parsed = ParseScenarioText(json, "candidate");
  if (!parsed.entry) return false;
  RunConfigResult config = RunConfigOf(candidate.config);
  if (!config.config) return false;
  // A candidate may run far longer than the failure it should keep (a chain whose ttl became 0, say): bounded by a
  // few times the current run's steps, a run that reaches the bound is refused.
  const std::uint64_t bound = steps_ ? std::min(config.config->max_steps, 4 * steps_ + 1000) : config.config->max_steps;
  const bool lowered = bound < config.config->max_steps;
  config.config->max_steps = bound;
  RecordCounter counter(cost_ ? std::get<0>(*cost_) : UINT64_MAX);
  CheckedRun run = RunChecked(*parsed.entry, *config.config, chooser, &counter);
  if ((lowered && run.run.steps > bound) || counter.exceeded()) return false;
  if (!run.failed() || run.violations.front().checker != checker_) return false;
  candidate.entry = std::move(*parsed.entry);
  candidate.choices = run.run.choices;
  const Cost cost = CostOf(candidate, json, counter.records());
  if (cost_ && !(cost < *cost_)) return false;
  cost_ = cost;
  steps_ = run.run.steps;
  current_ = std::move(candidate);
  ++kept_;
  return true;
}

bool RunPass(Search& search, const Pass& pass) {
  bool progress = false;
  for (std::size_t i = 0; i < pass.count(search.current()) && !search.expired();) {
    Candidate next;
    if (pass.edit(search.current(), i, &next) && (search.Try(next) || TrySchedules(search, next, kSchedulesPerEdit))) {
      progress = true;
    } else {
      ++i;
    }
  }
  return progress;
}

bool CutChoices(Search& search) {
  bool progress = false;
  auto nonzero = [&] {
    std::vector<std::size_t> at;
    const std::vector<sim::Choice>& choices = search.current().choices;
    for (std::size_t i = 0; i < choices.size(); ++i) {
      if (choices[i].pick != 0) at.push_back(i);
    }
    return at;
  };
  for (std::size_t chunk = std::max<std::size_t>(1, nonzero().size() / 2); !search.expired(); chunk /= 2) {
    for (std::size_t start = 0; !search.expired();) {
      const std::vector<std::size_t> at = nonzero();
      if (start >= at.size()) break;
      Candidate next = search.current();
      for (std::size_t k = start; k < std::min(at.size(), start + chunk); ++k) next.choices[at[k]].pick = 0;
      if (search.Try(std::move(next))) {
        progress = true;  // the zeroed picks left the list of non-zero ones: the same start is the next chunk
      } else {
        start += chunk;
      }
    }
    if (chunk == 1) break;
  }
  return progress;
}

bool Reseed(Search& search, std::uint64_t schedules) {
  return TrySchedules(search, search.current(), schedules);
}

}  // namespace rrefsim::scenarios::shrink
