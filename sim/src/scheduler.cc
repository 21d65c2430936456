// The deterministic Boost.Fiber scheduling algorithm (toolchain.md §1.3, design B). The main context drives the
// run and runs only when no worker fiber is enabled, or to deliver a message the chooser picked; the dispatcher runs
// at the lowest priority. Two quirks of Boost.Fiber 1.74 shape this code:
// - yield() calls pick_next() before the yielding fiber is back in the ready set, so "the yielder keeps running" is
//   an option here, served by returning the dispatcher and handing the yielder out at the dispatcher's next pick;
// - pick_next() may not return the active context, so a delivery chosen from main's own yield goes the same way.
#include <algorithm>
#include <iterator>
#include <string>

#include "world_impl.h"

namespace rrefsim::sim::detail {

void SimAlgorithm::awakened(context* ctx) noexcept {
  if (ctx->is_context(boost::fibers::type::dispatcher_context)) {
    dispatcher_ = ctx;
  } else if (ctx->is_context(boost::fibers::type::main_context)) {
    main_ = ctx;
  } else {
    world_->OnAwakened(ctx);
    ready_.push_back(ctx);
  }
}

context* SimAlgorithm::Take(context*& slot) {
  context* c = slot;
  slot = nullptr;
  return c;
}

bool SimAlgorithm::has_ready_fibers() const noexcept {
  return !ready_.empty() || main_ != nullptr || dispatcher_ != nullptr;
}

context* SimAlgorithm::pick_next() noexcept {
  if (force_main_ && main_ != nullptr) {
    force_main_ = false;
    return Take(main_);
  }
  if (forced_ != nullptr) {
    auto it = std::find(ready_.begin(), ready_.end(), forced_);
    if (it != ready_.end()) {
      context* c = *it;
      ready_.erase(it);
      forced_ = nullptr;
      world_->CountSwitch();
      return c;
    }
  }
  if (force_main_ || forced_ != nullptr) return Take(dispatcher_);  // the forced one is not back yet

  context* active = context::active();
  context* yielder = world_->yielding() == active ? active : nullptr;
  std::size_t index = 0;
  bool none = false;
  context* chosen = world_->ChooseStep(ready_, yielder, &index, &none);
  if (none) {
    if (dispatcher_ != nullptr) return Take(dispatcher_);
    if (main_ != nullptr) return Take(main_);
    return nullptr;
  }
  if (chosen == nullptr) {  // a delivery: main performs it
    if (main_ != nullptr) return Take(main_);
    force_main_ = true;
    return Take(dispatcher_);
  }
  if (chosen == yielder) {
    forced_ = yielder;
    return Take(dispatcher_);
  }
  ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(index));
  world_->CountSwitch();
  return chosen;
}

// The choice among the enabled steps, for both modes: the fiber mode's SimAlgorithm (ChooseStep, on contexts) and the
// stepwise world (RunUntilChoice, on fiber ids) fill step_items_ with the fibers on offer, then ChooseItem adds the
// due messages and asks the chooser.
context* World::ChooseStep(const std::vector<context*>& ready, context* yielder, std::size_t* ready_index,
                           bool* none) {
  step_items_.clear();
  for (context* c : ready) step_items_.push_back(fiber_of_.at(c));
  if (yielder != nullptr) step_items_.push_back(fiber_of_.at(yielder));
  const std::size_t fibers = step_items_.size();
  const std::optional<std::size_t> pick = ChooseItem(fibers);
  *none = !pick;
  if (!pick || *pick >= fibers) return nullptr;  // nothing, or a delivery (pending_delivery_ is set)
  if (*pick < ready.size()) {
    *ready_index = *pick;
    return ready[*pick];
  }
  return yielder;
}

std::optional<std::size_t> World::ChooseItem(std::size_t fibers) {
  if (!cancelling_) EndStep();
  if ((bound_hit_ || stopped_ || failure_) && !cancelling_) return std::nullopt;  // a cancelled run still winds down
  std::vector<std::uint64_t>& items = step_items_;  // reused: this runs at every scheduling point
  items.resize(fibers);
  if (!cancelling_) {
    // Due messages, oldest first: option order is part of the recorded choice list.
    for (auto it = inflight_.begin(); it != inflight_.end() && it->first.first <= now_; ++it) {
      items.push_back(kMessageItem | it->first.second);
    }
  }
  if (items.empty()) return std::nullopt;
  std::uint64_t pick = 0;
  // Winding fibers down is not part of the run: no choice.
  if ((items.size() > 1 || config_.every_step_is_a_choice || every_step_) && !cancelling_) {
    if (stepwise_ && !std::exchange(resume_choice_, false)) {
      paused_ = true;
      return std::nullopt;
    }
    // The key fingerprints the offered items, so a replay that offers different steps fails loudly.
    Hasher offered;
    for (std::uint64_t item : items) offered.Mix(item);
    const ChoiceRequest request{ChoiceKind::kStep, items.size(), offered.value() | 1, -1, items};
    if (stepwise_) {
      pick = chooser_.Choose(request);  // no fiber to unwind: what it throws goes to the caller now
    } else {
      try {
        pick = chooser_.Choose(request);
      } catch (...) {
        // pick_next is noexcept: stop the run here and rethrow from Execute once every fiber has ended.
        failure_ = std::current_exception();
        return std::nullopt;
      }
    }
    footprint_ = StepFootprint{};  // what follows belongs to this choice
  }
  if (!cancelling_ && ++result_.steps > config_.max_steps) {  // cancelling is not a step of the run
    bound_hit_ = true;
    result_.detail = "the safety bound of " + std::to_string(config_.max_steps) + " steps was reached";
  }
  hash_.Mix(items[pick]);
  Touch(WorkerOfItem(items[pick]));
  if (observer_) running_fiber_ = pick < fibers ? fibers_.at(items[pick]).name : "network";
  // The due messages are the first entries of inflight_, in the order they were offered.
  if (pick >= fibers) pending_delivery_ = std::next(inflight_.begin(), static_cast<std::ptrdiff_t>(pick - fibers))->first;
  return pick;
}

}  // namespace rrefsim::sim::detail
