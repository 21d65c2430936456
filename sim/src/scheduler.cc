// The deterministic Boost.Fiber scheduling algorithm (toolchain.md §1.3, design B). The main context drives the
// run and runs only when no worker fiber is enabled, or to deliver a message the chooser picked; the dispatcher runs
// at the lowest priority. Two quirks of Boost.Fiber 1.74 shape this code:
// - yield() calls pick_next() before the yielding fiber is back in the ready set, so "the yielder keeps running" is
//   an option here, served by returning the dispatcher and handing the yielder out at the dispatcher's next pick;
// - pick_next() may not return the active context, so a delivery chosen from main's own yield goes the same way.
#include <algorithm>

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

}  // namespace rrefsim::sim::detail
