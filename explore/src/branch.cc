#include "branch.h"

#include <stdexcept>
#include <utility>

#include "persistent.h"
#include "rrefsim/sim/chooser.h"
#include "rrefsim/sim/symmetry.h"

namespace rrefsim::explore::detail {
namespace {

// The run's verdict, as scenarios::RunChecked gives it, plus the caller's invariant.
scenarios::CheckedRun Judge(sim::RunResult run, checkers::CheckerSet& checkers, std::optional<std::uint64_t> extra) {
  scenarios::CheckedRun checked;
  checked.run = std::move(run);
  checkers.Finish(checkers::RunEnd{sim::OutcomeName(checked.run.outcome), checked.run.detail,
                                   checked.run.final_views});
  checked.violations = checkers.violations();
  checked.expected_violations = checkers.expected_violations();
  if (extra && checked.violations.empty()) {
    checkers::Violation v;
    v.checker = "extra_invariant";
    v.step = *extra;
    v.text = "the caller's own invariant stopped the run";
    checked.violations.push_back(v);
  }
  return checked;
}

Branch Finished(Branch branch, const Probe& probe, const std::vector<Node>& path, std::uint64_t end_steps) {
  branch.held = probe.held();
  branch.new_steps = probe.new_steps(end_steps);
  branch.replayed_steps = probe.replayed_steps(end_steps);
  branch.depth = ChoiceCount(path, probe.depth());
  return branch;
}

// DPOR's runs ask for step choices with one option (RunConfig::every_step_is_a_choice); a run on fibers does not.
bool FibersAskFor(const Node& node) { return node.kind != sim::ChoiceKind::kStep || node.options != 1; }

}  // namespace

std::vector<sim::Choice> ChoicesOf(const std::vector<Node>& path, std::size_t depth) {
  std::vector<sim::Choice> choices;
  for (std::size_t i = 0; i < depth && i < path.size(); ++i) {
    if (FibersAskFor(path[i])) choices.push_back(sim::Choice{path[i].kind, path[i].options, path[i].pick, 0});
  }
  return choices;
}

std::uint64_t ChoiceCount(const std::vector<Node>& path, std::size_t depth) {
  std::uint64_t count = 0;
  for (std::size_t i = 0; i < depth && i < path.size(); ++i) count += FibersAskFor(path[i]) ? 1 : 0;
  return count;
}

Branch RunBranch(const scenarios::CatalogEntry& entry, const sim::RunConfig& config, const ExploreOptions& options,
                 std::vector<Node>& path, Visited& visited, const SearchBounds& bounds, ReductionStats& races,
                 const PersistenceHooks& persistence) {
  // The deepest snapshot at or before the choice that Backtrack changed (the path's last node).
  std::size_t start = path.size();
  while (start > 0 && !path[start - 1].snapshot) --start;
  const std::shared_ptr<Snapshot> from = start > 0 ? path[start - 1].snapshot : nullptr;
  if (from != nullptr) --start;  // the snapshot's own choice is the first one replayed
  // The snapshot's last branch takes it over (Backtrack pops the node after it); the others run on copies. Under
  // DPOR a later run may still add a branch there, so it never knows which branch is the last.
  const bool last = from != nullptr && !options.dpor && start + 1 == path.size() && !HasAlternative(path[start]);

  std::optional<checkers::CheckerSet> checkers;
  std::unique_ptr<ExtraInvariant> extra;
  if (from != nullptr) {
    if (last) {
      checkers.emplace(std::move(from->checkers));
      extra = std::move(from->extra);
    } else {
      checkers.emplace(from->checkers);
      if (from->extra) extra = from->extra->Clone();
    }
  } else {
    checkers.emplace(scenarios::CheckerConfigOf(entry, config));
    if (options.extra_invariant != nullptr) extra = options.extra_invariant->Clone();
  }
  if (options.symmetry && !visited.symmetry) visited.symmetry = sim::ScenarioSymmetry(entry.scenario);
  SentOnPath sent = from != nullptr ? from->sent : SentOnPath{};
  SentOnPath* const counted = persistence.ledger != nullptr ? &sent : nullptr;
  Watch watch(*checkers, extra.get(), persistence.ledger, counted);
  std::optional<sim::SteppedRun> world;
  std::optional<Probe> probe;
  probe.emplace(path, visited, options, bounds.max_depth, bounds.max_deviations, start,
                from ? from->spent : Spent{}, races);
  Branch branch;
  std::uint64_t end_steps = 0;
  try {
    if (last) {
      world.emplace(std::move(from->world));
      world->Rebind(*probe, &watch);
      path[start].snapshot.reset();
      checkers->OnStart(world->view());
    } else if (from != nullptr) {
      world.emplace(from->world, *probe, &watch);
      checkers->OnStart(world->view());  // the copied checkers' history, on the copied world
    } else {
      world.emplace(entry.scenario, config, *probe, &watch);  // OnStart at its first step
    }
    probe->Monitor(*checkers, extra.get(), counted);
    probe->Attach(world->view());
    Probe::PersistentChoice persistent;
    if (persistence.sets != nullptr) {
      persistent = [&]() -> std::optional<std::vector<std::size_t>> {
        const std::vector<std::uint64_t>& items = world->pending_items();
        std::optional<std::vector<std::size_t>> set = persistence.sets->Choose(*world, *checkers, extra.get(), sent,
                                                                               items);
        if (set && options.on_persistent_set) {
          std::vector<std::uint64_t> steps;
          for (std::size_t i : *set) steps.push_back(sim::StepIdentity(world->view(), items[i]));
          options.on_persistent_set(persistence.round, *sim::StateFingerprint(world->view()),
                                    checkers->Fingerprint(nullptr), steps);
        }
        return set;
      };
    }
    while (world->Advance()) {
      const Probe::AtChoice at = probe->BeforeStepChoice(world->pending_items(), persistent);
      if (at.cut) {
        branch.cut = at.cut;
        return Finished(std::move(branch), *probe, path, probe->steps_at_cut());
      }
      if (at.snapshot) {
        path.back().snapshot = std::make_shared<Snapshot>(
            Snapshot{sim::SteppedRun(*world, *probe, &watch), checkers::CheckerSet(*checkers),
                     extra ? extra->Clone() : nullptr, probe->spent(), sent});
      }
    }
    probe->AfterLastStep();
    sim::RunResult run = world->Finish();
    end_steps = run.steps;
    branch.run = Judge(std::move(run), *checkers, watch.extra_step());
    branch.run->run.choices = ChoicesOf(path, probe->depth());
    branch.failed = branch.run->failed();
  } catch (const Cut& cut) {
    branch.cut = cut.why;
    end_steps = probe->steps_at_cut();
  }
  return Finished(std::move(branch), *probe, path, end_steps);
}

scenarios::CheckedRun ReplayOnFibers(const scenarios::CatalogEntry& entry, const sim::RunConfig& config,
                                     const ExploreOptions& options, const std::vector<sim::Choice>& choices) {
  sim::ReplayChooser replay(choices);
  std::unique_ptr<ExtraInvariant> extra = options.extra_invariant ? options.extra_invariant->Clone() : nullptr;
  checkers::CheckerSet checkers(scenarios::CheckerConfigOf(entry, config));
  Watch watch(checkers, extra.get());
  sim::RunResult run = sim::Run(entry.scenario, config, replay, &watch);
  scenarios::CheckedRun checked = Judge(std::move(run), checkers, watch.extra_step());
  if (!checked.failed()) {
    throw std::logic_error("explore: a failing branch of " + entry.name +
                           " did not fail when its choices ran again on fibers: the two modes of the simulator differ");
  }
  return checked;
}

}  // namespace rrefsim::explore::detail
