#include "dpor.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>

namespace rrefsim::explore::detail {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

bool IsStep(const Node& node) { return node.kind == sim::ChoiceKind::kStep && !node.items.empty(); }
std::uint64_t Taken(const Node& node) { return node.items[node.pick]; }
// What the step taken did itself; the main loop's turn after it is a fence (see AnalyseStep), not part of the step.
sim::StepFootprint TakenFootprint(const Node& node) { return node.footprints[node.pick].Own(); }
bool FenceAfter(const Node& node) { return node.footprints[node.pick].main_turn; }

bool Has(const std::vector<std::uint64_t>& bits, std::size_t i) {
  return i / 64 < bits.size() && ((bits[i / 64] >> (i % 64)) & 1) != 0;
}
void Set(std::vector<std::uint64_t>& bits, std::size_t i) { bits[i / 64] |= std::uint64_t{1} << (i % 64); }
void Or(std::vector<std::uint64_t>& into, const std::vector<std::uint64_t>& from) {
  for (std::size_t w = 0; w < from.size(); ++w) into[w] |= from[w];
}
bool Meet(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  for (std::size_t w = 0; w < std::min(a.size(), b.size()); ++w) {
    if ((a[w] & b[w]) != 0) return true;
  }
  return false;
}

std::size_t PreviousStep(const std::vector<Node>& path, std::size_t index) {
  for (std::size_t i = index; i-- > 0;) {
    if (IsStep(path[i])) return i;
  }
  return kNone;
}

std::optional<std::size_t> OptionOf(const Node& node, std::uint64_t item) {
  auto it = std::find(node.items.begin(), node.items.end(), item);
  if (it == node.items.end()) return std::nullopt;
  return static_cast<std::size_t>(it - node.items.begin());
}

// The race (earlier, later): a branch at `earlier`'s choice to an initial of v = the steps after it that do not
// happen after it, then `later` (the initials: members of v with no earlier member of v before them).
void Reverse(std::vector<Node>& path, std::size_t earlier, std::size_t later, ReductionStats& stats) {
  ++stats.races;
  std::vector<std::size_t> v;
  std::vector<std::uint64_t> in_v(path[later].before.size(), 0);
  for (std::size_t k = earlier + 1; k < later; ++k) {
    if (IsStep(path[k]) && !Has(path[k].before, earlier)) {
      v.push_back(k);
      Set(in_v, k);
    }
  }
  v.push_back(later);
  Node& at = path[earlier];
  std::optional<std::size_t> add;
  for (std::size_t k : v) {
    if (Meet(path[k].before, in_v)) continue;  // not an initial
    const std::optional<std::size_t> option = OptionOf(at, Taken(path[k]));
    // An initial happens after nothing that ran since `earlier`, so it was on offer there already (dpor.h).
    if (!option) {
      throw std::logic_error("explore: DPOR found a race whose reversal starts with a step not on offer at choice " +
                             std::to_string(earlier) + ": its enabling relation is wrong, the search would be incomplete");
    }
    if (at.todo[*option] != 0 || at.sleep.contains(at.items[*option])) return;  // covered already
    if (!add) add = option;
  }
  if (!add) return;
  at.todo[*add] = 1;
  ++stats.branches;
}

}  // namespace

void NoteOffered(const std::vector<Node>& path, Node& node, std::size_t index) {
  node.offered_since.assign(node.items.size(), static_cast<std::uint32_t>(index));
  node.todo.assign(node.items.size(), 0);
  node.done.assign(node.items.size(), 0);
  const std::size_t previous = PreviousStep(path, index);
  if (previous == kNone) return;
  const Node& before = path[previous];
  for (std::size_t i = 0; i < node.items.size(); ++i) {
    if (node.items[i] == Taken(before)) continue;  // it just ran: offered again from here
    if (std::optional<std::size_t> there = OptionOf(before, node.items[i])) {
      node.offered_since[i] = before.offered_since[*there];
    }
  }
}

void AnalyseStep(std::vector<Node>& path, std::size_t index, ReductionStats& stats) {
  Node& node = path[index];
  if (!IsStep(node) || node.analysed || node.todo.empty()) return;
  node.analysed = true;
  const std::size_t words = index / 64 + 1;
  node.before.assign(words, 0);
  std::vector<std::uint64_t> through(words, 0);  // what happens before some step that happens right before this one
  const auto happens_right_before = [&](std::size_t k) {
    Set(node.before, k);
    Or(node.before, path[k].before);
    Or(through, path[k].before);
  };
  // The main loop acts only when nothing is enabled: every step up to its last turn ran before this one could.
  std::size_t fence = index;
  while (fence > 0 && !(IsStep(path[fence - 1]) && FenceAfter(path[fence - 1]))) --fence;
  for (std::size_t i = 0; i < fence; ++i) {  // their own `before` bits are among these
    Set(node.before, i);
    Set(through, i);
  }
  const std::size_t enabler = PreviousStep(path, node.offered_since[node.pick]);
  if (enabler != kNone) happens_right_before(enabler);
  const sim::StepFootprint footprint = TakenFootprint(node);
  std::vector<std::size_t> dependent;
  for (std::size_t i = fence; i < index; ++i) {
    if (!IsStep(path[i]) || TakenFootprint(path[i]).Independent(footprint)) continue;
    happens_right_before(i);
    dependent.push_back(i);
  }
  for (std::size_t i : dependent) {
    if (i == enabler || Has(through, i) || Taken(path[i]) == Taken(node)) continue;
    Reverse(path, i, index, stats);
  }
}

}  // namespace rrefsim::explore::detail
