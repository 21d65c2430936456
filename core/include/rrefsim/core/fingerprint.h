// A canonical 64-bit hash of protocol state, for a model checker's state hashing: Worker::Fingerprint folds in every
// private field of a worker that can change what it does next, and MessageFingerprint every field of a message.
// Deterministic: it walks sorted maps only and never hashes a pointer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "rrefsim/core/ids.h"
#include "rrefsim/core/message.h"

namespace rrefsim::core {

// A renaming of workers, for symmetry reduction (docs/explore.md, "Reduction: symmetry"): worker w is called to[w].
// A fingerprint under a renaming is the fingerprint of the state with every worker id renamed (GloballyUniqueId's
// created_on too), and with the maps keyed by such ids folded as multisets, since renaming changes their sorted order.
// Texts that may name a worker (error messages) cannot be renamed: they are mixed with `tag`, which names the
// renaming, so a state holding one is equal only to itself under the same renaming.
struct WorkerRenaming {
  std::vector<WorkerId> to;
  std::uint64_t tag = 0;
  WorkerId operator()(WorkerId w) const {
    return w >= 0 && static_cast<std::size_t>(w) < to.size() ? to[static_cast<std::size_t>(w)] : w;
  }
};

// Folds words into a 64-bit hash (a fingerprint, not a MAC): multiply by the golden-ratio constant, fold high bits.
// With a renaming (not null), worker ids go through Rename and keyed maps are folded with MixEach (fingerprint.cc).
class StateHasher {
 public:
  explicit StateHasher(const WorkerRenaming* renaming = nullptr) : renaming_(renaming) {}
  const WorkerRenaming* renaming() const { return renaming_; }
  WorkerId Rename(WorkerId w) const { return renaming_ != nullptr ? (*renaming_)(w) : w; }
  void Mix(std::uint64_t word) {
    h_ = (h_ ^ word) * 0x9e3779b97f4a7c15ULL;
    h_ ^= h_ >> 29;
  }
  void Mix(std::string_view text);
  void Mix(const GloballyUniqueId& id);
  void Mix(const Message& message);
  // A text that may name a worker (an error message): as Mix(text), and under a renaming also its tag.
  void MixWorkerText(std::string_view text);
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
  const WorkerRenaming* renaming_ = nullptr;
};

// The entries of a map (or set) in its order, then its size; under a renaming, whose keys' order it changes, each
// entry hashed on its own and the hashes folded in sorted order (a multiset). For the core's maps keyed by worker or
// globally unique ids, and the checkers' (Checker::Fingerprint).
template <class Range, class MixEntry>
void MixEach(StateHasher& h, const Range& range, MixEntry mix_entry) {
  if (h.renaming() == nullptr) {
    for (const auto& entry : range) mix_entry(h, entry);
  } else {
    std::vector<std::uint64_t> words;
    words.reserve(range.size());
    for (const auto& entry : range) {
      StateHasher one(h.renaming());
      mix_entry(one, entry);
      words.push_back(one.value());
    }
    std::sort(words.begin(), words.end());
    for (std::uint64_t word : words) h.Mix(word);
  }
  h.Mix(static_cast<std::uint64_t>(range.size()));
}

// Every field of the message, the hardened mode's seq and replies_below included; under `renaming` when not null.
std::uint64_t MessageFingerprint(const Message& message, const WorkerRenaming* renaming = nullptr);

}  // namespace rrefsim::core
