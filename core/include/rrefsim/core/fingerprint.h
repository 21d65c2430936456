// A canonical 64-bit hash of protocol state, for a model checker's state hashing: Worker::Fingerprint folds in every
// private field of a worker that can change what it does next, and MessageFingerprint every field of a message.
// Deterministic: it walks sorted maps only and never hashes a pointer.
#pragma once

#include <cstdint>
#include <string_view>

#include "rrefsim/core/ids.h"
#include "rrefsim/core/message.h"

namespace rrefsim::core {

// Folds words into a 64-bit hash (a fingerprint, not a MAC): multiply by the golden-ratio constant, fold high bits.
class StateHasher {
 public:
  void Mix(std::uint64_t word) {
    h_ = (h_ ^ word) * 0x9e3779b97f4a7c15ULL;
    h_ ^= h_ >> 29;
  }
  void Mix(std::string_view text);
  void Mix(const GloballyUniqueId& id);
  void Mix(const Message& message);
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

// Every field of the message, the hardened mode's seq and replies_below included.
std::uint64_t MessageFingerprint(const Message& message);

}  // namespace rrefsim::core
