// Source-DPOR (Abdulla, Aronis, Jonsson, Sagonas: "Optimal dynamic partial order reduction", POPL 2014, Algorithm 1)
// over the explorer's path, where every step is a choice point of its own (RunConfig::every_step_is_a_choice).
//
// The events are the steps; a step is identified by its kStep item (a fiber id, or a message's network sequence
// number), which is stable along one path. Two steps are dependent unless their footprints say they act on, and are
// read by the checkers at, different workers (sim::StepFootprint::Independent). A step happens before a later one
// when they are dependent, or when it enabled it: a step is enabled by the step just before the point since which
// its item has been on offer without a break (a delivery by the step that sent the message, or by the clock; a
// fiber's step by its own previous step, or by what woke it). Enabled steps stay enabled until they run: a due
// message stays due, a ready fiber ready (a worker's abort, the one exception, is a global step).
//
// A race is a pair of dependent steps, of different items, that no third step orders and where the earlier one did
// not enable the later one: the later could have run first. For each, the step choice of the earlier one gets a
// branch to an initial step of "what ran after it without depending on it, then the later step", unless one of
// those initials is to be explored there already or is asleep there.
#pragma once

#include <cstddef>
#include <vector>

#include "probe.h"

namespace rrefsim::explore::detail {

// For the new kStep choice `node` that is about to become path[index]: since when each option has been on offer.
void NoteOffered(const std::vector<Node>& path, Node& node, std::size_t index);

// The step taken at path[index] (a kStep choice) has run and its footprint is recorded: computes the step choices
// that happen before it and adds a branch for every race it completes. Once per pick.
void AnalyseStep(std::vector<Node>& path, std::size_t index, ReductionStats& stats);

}  // namespace rrefsim::explore::detail
