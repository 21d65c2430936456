// A checker's memory (what it keeps from one step to the next), shared by the copies of a checker set until one of
// them changes it: copy on write, the way sim::detail::Hosts shares a copied world's hosts. The explorer copies the
// checkers at every choice point and a step changes the memory of one or two checkers, if any, so a copy costs a
// reference count per checker instead of its maps. Each memory also keeps its digest for the state key until it
// changes, and the copies share that too.
//
// Reads go through the const accessors; a change only through Mutable(), which copies the memory first if another
// checker set shares it and forgets the kept digest, so the compiler finds every write. A reference taken before a
// Mutable() call may point into the other copies' memory: take it again after. Neither the sharing nor the kept
// digest is synchronised: a checker set and its copies stay on one thread (as the World's copies do).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "rrefsim/core/fingerprint.h"

namespace rrefsim::checkers {

template <class Memory>
class SharedMemory {
 public:
  const Memory& operator*() const { return box_->memory; }
  const Memory* operator->() const { return &box_->memory; }
  // The memory, to change: this copy's own from now on, its kept digest forgotten.
  Memory& Mutable() {
    if (box_.use_count() > 1) box_ = std::make_shared<Box>(box_->memory);
    box_->digest.reset();
    return box_->memory;
  }
  // Mixes into h the digest of `mix(hasher, memory)` over a hasher of its own: kept until the memory changes, and
  // computed afresh under a renaming (each renaming gives another digest).
  template <class Mix>
  void Fingerprint(core::StateHasher& h, const Mix& mix) const {
    if (h.renaming() != nullptr) {
      h.Mix(Digest(h.renaming(), mix));
      return;
    }
    if (!box_->digest) box_->digest = Digest(nullptr, mix);
    h.Mix(*box_->digest);
  }
  // For tests: whether this and `other` hold the same memory, not merely equal ones.
  bool SharedWith(const SharedMemory& other) const { return box_ == other.box_; }

 private:
  struct Box {
    Box() = default;
    explicit Box(const Memory& m) : memory(m) {}
    Memory memory;
    mutable std::optional<std::uint64_t> digest;  // of the memory without a renaming, until it changes
  };
  template <class Mix>
  std::uint64_t Digest(const core::WorkerRenaming* renaming, const Mix& mix) const {
    core::StateHasher h(renaming);
    mix(h, box_->memory);
    return h.value();
  }

  std::shared_ptr<Box> box_ = std::make_shared<Box>();
};

}  // namespace rrefsim::checkers
