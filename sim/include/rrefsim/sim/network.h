// The virtual network's fault model: what happens to each message a worker sends. Profiles give the defaults,
// `--fault KEY=VALUE` overrides refine them; every decision (delay, drop, duplicate, partition, heal time, swarm
// rates) is taken through the Chooser, keyed by the message, so a recorded choice list replays it.
//
// Every profile has a fault phase that ends at the heal time (drawn from the seed in [heal_min, heal_max]); after it
// there is no drop, duplicate, partition or delay beyond delay_max, so a run can reach quiescence. The faulty agent's
// injected send failures and fixed delays are not random faults and stay on for the whole run, as in PyTorch's
// fixture: the failures are bounded per payload, the delays are fixed and far under the RPC timeout. Node crashes and
// permanent partitions are out of scope (the protocol's design note says so).
//
// Profiles (every ordinary delay is at most 25 ms, far under half of the smallest RPC timeout, 60 s by default, so
// reordering alone never fires a timeout; small delays also keep runs short in virtual time):
//   reorder       delay [0, 25 ms]; nothing else (no fault phase).
//   faulty-agent  PyTorch's FaultyTensorPipeAgent fixture: the first 3 sends of each distinct payload of
//                 RREF_FORK_REQUEST, RREF_CHILD_ACCEPT, RREF_USER_DELETE fail at the sender; PYTHON_CALL and
//                 SCRIPT_CALL wait 1500 ms more; delay [0, 5 ms]; no random faults.
//   lossy         drop 0.3 of RREF_* control messages and their RREF_ACKs, at most 5 lost attempts per control
//                 message (sendWithRetries' maxRetries); heal in [5 s, 30 s]; delay [0, 25 ms].
//   chaos         drop, duplicate, long delay (up to 120 s, beyond the RPC timeout) 0.05 each, partition 0.01 (up to
//                 10 s); heal in [10 s, 120 s]; delay [0, 25 ms].
//   swarm         chaos, but each run draws drop, duplicate, long_delay and partition from {0, 0.01, 0.05, 0.2}
//                 (overrides of those four rates are superseded by the draw; the other keys apply).
//
// Single-threaded: a Network belongs to one simulation. Its chooser must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rrefsim/core/fingerprint.h"
#include "rrefsim/core/message.h"
#include "rrefsim/sim/chooser.h"

namespace rrefsim::sim {

using core::TimeUs;

// A default FaultConfig is a perfect network (no fault, zero delay); MakeFaultConfig gives a profile's values.
struct FaultConfig {
  std::string profile = "reorder";
  TimeUs heal_min = 0;             // the fault phase ends at a heal time drawn in [heal_min, heal_max]
  TimeUs heal_max = 0;
  TimeUs delay_min = 0;            // every message's delay is drawn in [delay_min, delay_max] ...
  TimeUs delay_max = 0;
  // ... and during the fault phase:
  double drop = 0;                 // probability that a message is lost
  double duplicate = 0;            // probability that a message is delivered twice (each copy its own delay)
  double long_delay = 0;           // probability of a delay drawn in (delay_max, long_delay_max] instead
  TimeUs long_delay_max = 0;
  double partition = 0;            // probability, per message, that its link is cut from now for a drawn length
  TimeUs partition_max = 0;        // the longest cut (a cut also ends at the heal time)
  bool control_only = false;       // drops hit only RREF_* control messages and their RREF_ACKs (lossy)
  // At most this many drops per chain (-1: no limit). A chain is one control message and its retries (same sender,
  // type, rref id and fork id) plus the RREF_ACKs that answer them; any other message is a chain of its own. Retries
  // stop at the first success, so a chain's losses are consecutive. Partition losses do not count and are not limited.
  int max_consecutive_drops = -1;
  // FaultyTensorPipeAgent: the first num_fail_sends sends of each distinct payload of these types fail at the
  // sender (nothing reaches the wire); messages_to_delay adds a fixed delay before writing. Both stay on after the
  // heal time. As in PyTorch, where the key is the serialized payload in a per-agent map, the sender is part of a
  // payload's identity and the receiver and message id are not; every emptied payload (a retry after a written
  // attempt, rref-protocol.md §9.1) of one sender is the same payload.
  std::vector<core::MessageType> messages_to_fail;
  int num_fail_sends = 0;
  std::map<core::MessageType, TimeUs> messages_to_delay;
  bool swarm = false;              // draw drop, duplicate, long_delay and partition from the seed at the start
  friend bool operator==(const FaultConfig&, const FaultConfig&) = default;
};

// A configuration, or an error naming the key and what is allowed.
struct FaultConfigResult {
  std::optional<FaultConfig> config;
  std::string error;
};

// The profiles: reorder, faulty-agent, lossy, chaos, swarm.
std::vector<std::string> FaultProfiles();
// One line per key: "name: meaning (range)". The keys are the fields above, e.g. drop=0.1, delay_max_ms=20,
// messages_to_fail=RREF_FORK_REQUEST,RREF_CHILD_ACCEPT, messages_to_delay=PYTHON_CALL:1500.
std::vector<std::string> FaultKeyHelp();
// The profile's defaults, then each "KEY=VALUE" in order (later wins). Every value is checked.
FaultConfigResult MakeFaultConfig(std::string_view profile, const std::vector<std::string>& overrides);
// The reorder profile's defaults.
FaultConfig ReorderProfile();
// Whether these faults can surface to the application as errors in PyTorch: loss, duplication, partitions, refused
// sends, and delays long enough to pass an RPC timeout (long delays, the faulty agent's fixed delays). Reordering and
// ordinary delays alone cannot: under them an error the scenario does not allow is a failure.
bool FaultsRaiseErrors(const FaultConfig& faults);

// What happens to one sent message.
struct Fate {
  std::optional<std::string> send_error;  // refused at the sender (faulty agent): the host calls SendFailed
  std::vector<TimeUs> delays;             // one delay per delivered copy; empty when the message is lost

  friend bool operator==(const Fate&, const Fate&) = default;
};

class Network {
 public:
  // Draws the heal time (and, for swarm, the rates) through `chooser`.
  Network(FaultConfig config, Chooser& chooser);
  const FaultConfig& config() const { return config_; }  // with swarm rates filled in
  TimeUs heal_time() const { return heal_time_; }
  // A copied network (the explorer's copied worlds) makes its later choices through `chooser`.
  void Rebind(Chooser& chooser) { chooser_ = &chooser; }
  // The fate of `message`, sent at `now`. In order: an injected send failure (no choice); then, during the fault
  // phase, a cut link or a new partition (the message is lost), a drop, a duplicate; then each copy's delay, plus
  // messages_to_delay. Choices are keyed (sender << 48) | (response ? 1 << 47 : 0) | id; option 0 is always benign.
  // `retry_chain` (core::OutgoingMessage::retry_chain) ties the attempts of one retried control message together,
  // even when a TensorPipe retry carries an empty payload; -1 falls back to the message's own ids.
  Fate Decide(const core::Message& message, TimeUs now, std::int64_t retry_chain = -1);
  // What the network remembers that changes later fates (faulty-agent send counts, cut links, lossy drop counts),
  // folded into one word for StateFingerprint; under `renaming` (symmetry reduction), with the links' workers renamed.
  std::uint64_t Fingerprint(const core::WorkerRenaming* renaming = nullptr) const;

 private:
  bool Cut(core::WorkerId from, core::WorkerId to, TimeUs now) const;
  std::optional<std::string> InjectedFailure(const core::Message& message);
  bool LostToPartition(const core::Message& message, TimeUs now, std::uint64_t key);
  bool Dropped(const core::Message& message, std::uint64_t key, std::int64_t retry_chain);
  std::string ChainOf(const core::Message& message, std::int64_t retry_chain);
  TimeUs DrawDelay(std::uint64_t key, bool fault_phase);
  bool Coin(ChoiceKind kind, std::uint64_t key, double p_one);

  FaultConfig config_;
  Chooser* chooser_;
  TimeUs heal_time_ = 0;
  std::map<std::string, int> sends_by_payload_;                  // faulty agent
  std::map<std::pair<core::WorkerId, core::WorkerId>, TimeUs> cut_until_;  // partitions, per directed link
  std::map<std::pair<core::WorkerId, std::int64_t>, std::string> chain_of_request_;  // lossy: request -> chain
  std::map<std::string, int> drops_by_chain_;                    // lossy: lost attempts per control message
};

}  // namespace rrefsim::sim
