// The virtual network's per-message decisions (see network.h). Profiles and overrides live in fault_config.cc.
#include "rrefsim/sim/network.h"

#include <algorithm>
#include <array>
#include <utility>

namespace rrefsim::sim {
namespace {

using core::kMillisecond;
using core::Message;
using core::MessageType;

constexpr std::uint64_t kResponseBit = std::uint64_t{1} << 47;

// The swarm levels of each rate; option 0 (no fault) is the benign one.
constexpr std::array<double, 4> kSwarmLevels{0, 0.01, 0.05, 0.2};

// The stable key of every choice about `m`: the sender in the top 16 bits, bit 47 set for responses (which share
// their request's id), the sender's message id below.
std::uint64_t MessageKey(const Message& m) {
  return (std::uint64_t{static_cast<std::uint16_t>(m.from)} << 48) | (core::IsRequest(m.type) ? 0 : kResponseBit) |
         (static_cast<std::uint64_t>(m.id) & (kResponseBit - 1));
}

// The messages sendWithRetries sends: the ones a lossy network may drop, with their RREF_ACKs.
bool IsControl(MessageType type) {
  return type == MessageType::RREF_USER_DELETE || type == MessageType::RREF_FORK_REQUEST ||
         type == MessageType::RREF_CHILD_ACCEPT;
}

void Append(std::string& s, const core::GloballyUniqueId& id) {
  s += std::to_string(id.created_on);
  s += ',';
  s += std::to_string(id.local_id);
  s += '|';
}

// The identity of a payload for the faulty agent. PyTorch keys its count by the serialized payload in a per-agent
// map: the sender counts, the receiver and the message id do not, and every emptied payload is the same (empty) one.
std::string PayloadKey(const Message& m) {
  std::string key = std::to_string(m.from) + '|';
  if (m.empty_payload) return key + "<empty payload>";
  key += std::to_string(static_cast<unsigned>(m.type)) + '|';
  Append(key, m.rref_id);
  Append(key, m.fork_id);
  key += m.function + '|' + m.type_str + '|' + std::to_string(m.value.payload) + '|';
  if (m.value.raised) key += "raised:" + *m.value.raised + '|';
  for (const core::ForkData& f : m.value.rrefs) {
    key += '[' + std::to_string(f.owner) + '|';
    Append(key, f.rref_id);
    Append(key, f.fork_id);
    key += std::to_string(f.parent) + '|' + f.type_str + ']';
  }
  return key;
}

ChoiceRequest Request(ChoiceKind kind, std::uint64_t options, std::uint64_t key, double p_one = -1) {
  ChoiceRequest request;
  request.kind = kind;
  request.options = options;
  request.key = key;
  request.p_one = p_one;
  return request;
}

}  // namespace

Network::Network(FaultConfig config, Chooser& chooser) : config_(std::move(config)), chooser_(&chooser) {
  heal_time_ = config_.heal_min;
  if (config_.heal_max > config_.heal_min) {
    const auto options = static_cast<std::uint64_t>((config_.heal_max - config_.heal_min) / kMillisecond) + 1;
    if (options > 1) {
      const std::uint64_t pick = chooser_->Choose(Request(ChoiceKind::kHeal, options, 0));
      heal_time_ += static_cast<TimeUs>(pick) * kMillisecond;
    }
  }
  if (config_.swarm) {
    double* rates[] = {&config_.drop, &config_.duplicate, &config_.long_delay, &config_.partition};
    for (std::uint64_t i = 0; i < std::size(rates); ++i) {
      // Keys 1..4 (drop, duplicate, long_delay, partition): non-zero, so a replay checks them.
      *rates[i] = kSwarmLevels[chooser_->Choose(Request(ChoiceKind::kRate, kSwarmLevels.size(), i + 1))];
    }
  }
}

Fate Network::Decide(const core::Message& message, TimeUs now, std::int64_t retry_chain) {
  Fate fate;
  if (auto error = InjectedFailure(message)) {
    fate.send_error = std::move(error);
    return fate;
  }
  const std::uint64_t key = MessageKey(message);
  const bool fault_phase = now < heal_time_;
  if (fault_phase && (LostToPartition(message, now, key) || Dropped(message, key, retry_chain))) return fate;
  int copies = 1;
  if (fault_phase && config_.duplicate > 0 && Coin(ChoiceKind::kDuplicate, key, config_.duplicate)) copies = 2;
  const auto fixed = config_.messages_to_delay.find(message.type);
  const TimeUs extra = fixed == config_.messages_to_delay.end() ? 0 : fixed->second;
  for (int i = 0; i < copies; ++i) fate.delays.push_back(DrawDelay(key, fault_phase) + extra);
  return fate;
}

bool Network::Cut(core::WorkerId from, core::WorkerId to, TimeUs now) const {
  const auto it = cut_until_.find({from, to});
  return it != cut_until_.end() && it->second > now;
}

std::optional<std::string> Network::InjectedFailure(const core::Message& message) {
  if (config_.num_fail_sends <= 0) return std::nullopt;
  const auto& types = config_.messages_to_fail;
  if (std::find(types.begin(), types.end(), message.type) == types.end()) return std::nullopt;
  int& sends = sends_by_payload_[PayloadKey(message)];
  if (sends >= config_.num_fail_sends) return std::nullopt;
  ++sends;
  // PyTorch names the payload's bytes; the type name is their readable stand-in.
  return "RPCErr:2:Send attempt failed intentionally for " + std::string(core::MessageTypeName(message.type));
}

// A worker is never cut from itself. A new cut is symmetric and ends by the heal time.
bool Network::LostToPartition(const core::Message& message, TimeUs now, std::uint64_t key) {
  if (message.from == message.to) return false;
  if (Cut(message.from, message.to, now)) return true;
  if (config_.partition <= 0 || config_.partition_max < kMillisecond) return false;
  if (!Coin(ChoiceKind::kPartition, key, config_.partition)) return false;
  const auto options = static_cast<std::uint64_t>(config_.partition_max / kMillisecond);
  const std::uint64_t pick =
      options > 1 ? chooser_->Choose(Request(ChoiceKind::kPartition, options, key)) : 0;
  const TimeUs until = std::min(now + static_cast<TimeUs>(pick + 1) * kMillisecond, heal_time_);
  for (const auto& link : {std::pair{message.from, message.to}, std::pair{message.to, message.from}}) {
    TimeUs& end = cut_until_[link];
    end = std::max(end, until);
  }
  return true;
}

bool Network::Dropped(const core::Message& message, std::uint64_t key, std::int64_t retry_chain) {
  if (config_.drop <= 0) return false;
  const bool chained = IsControl(message.type) || message.type == MessageType::RREF_ACK;
  if (config_.control_only && !chained) return false;
  const int limit = config_.max_consecutive_drops;
  if (limit < 0) return Coin(ChoiceKind::kDrop, key, config_.drop);
  if (!chained) return limit > 0 && Coin(ChoiceKind::kDrop, key, config_.drop);  // sent once: a chain of one
  int& drops = drops_by_chain_[ChainOf(message, retry_chain)];
  if (drops >= limit) return false;  // the chain used its losses: deliver without asking
  if (!Coin(ChoiceKind::kDrop, key, config_.drop)) return false;
  ++drops;
  return true;
}

// A control request's chain is the sender's retry chain when the host knows it (it survives TensorPipe's emptied
// retries), else (sender, type, rref id, fork id); it is recorded under (sender, id) so that the RREF_ACK answering
// it (sent back to that sender with the same id) finds it.
std::string Network::ChainOf(const core::Message& message, std::int64_t retry_chain) {
  if (message.type == MessageType::RREF_ACK) {
    const auto it = chain_of_request_.find({message.to, message.id});
    if (it != chain_of_request_.end()) return it->second;
    return "ack|" + std::to_string(message.to) + '|' + std::to_string(message.id);
  }
  std::string chain = std::to_string(message.from) + '|' + std::to_string(static_cast<unsigned>(message.type)) + '|';
  if (retry_chain >= 0) {
    chain += "retry " + std::to_string(retry_chain);
  } else {
    Append(chain, message.rref_id);
    Append(chain, message.fork_id);
  }
  chain_of_request_[{message.from, message.id}] = chain;
  return chain;
}

TimeUs Network::DrawDelay(std::uint64_t key, bool fault_phase) {
  const FaultConfig& c = config_;
  if (fault_phase && c.long_delay > 0 && c.long_delay_max > c.delay_max &&
      Coin(ChoiceKind::kDelay, key, c.long_delay)) {
    // In (delay_max, long_delay_max], in whole milliseconds; option 0 is the shortest.
    const auto options = std::max<std::uint64_t>(1, (c.long_delay_max - c.delay_max) / kMillisecond);
    const std::uint64_t pick =
        options > 1 ? chooser_->Choose(Request(ChoiceKind::kDelay, options, key)) : 0;
    return std::min(c.long_delay_max, c.delay_max + static_cast<TimeUs>(pick + 1) * kMillisecond);
  }
  if (c.delay_max <= c.delay_min) return c.delay_min;
  const auto options = static_cast<std::uint64_t>(c.delay_max - c.delay_min) + 1;  // microseconds
  return c.delay_min +
         static_cast<TimeUs>(chooser_->Choose(Request(ChoiceKind::kDelay, options, key)));
}

bool Network::Coin(ChoiceKind kind, std::uint64_t key, double p_one) {
  return chooser_->Choose(Request(kind, 2, key, p_one)) == 1;
}


std::uint64_t Network::Fingerprint(const core::WorkerRenaming* renaming) const {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto mix = [&h](std::uint64_t word) {
    h = (h ^ word) * 0x100000001b3ULL;
    h ^= h >> 31;
  };
  const auto mix_text = [&mix](const std::string& text) {
    for (unsigned char c : text) mix(c);
    mix(text.size());
  };
  for (const auto& [payload, sends] : sends_by_payload_) {
    mix_text(payload);
    mix(static_cast<std::uint64_t>(sends));
  }
  const auto link_word = [renaming](core::WorkerId from, core::WorkerId to, TimeUs until) {
    core::StateHasher one(renaming);
    one.Mix((static_cast<std::uint64_t>(static_cast<std::uint16_t>(one.Rename(from))) << 16) |
            static_cast<std::uint16_t>(one.Rename(to)));
    one.Mix(static_cast<std::uint64_t>(until));
    return one.value();
  };
  if (renaming == nullptr) {
    for (const auto& [link, until] : cut_until_) {
      mix((static_cast<std::uint64_t>(static_cast<std::uint16_t>(link.first)) << 16) |
          static_cast<std::uint16_t>(link.second));
      mix(static_cast<std::uint64_t>(until));
    }
  } else {  // renamed links sort differently: a multiset
    std::vector<std::uint64_t> links;
    for (const auto& [link, until] : cut_until_) links.push_back(link_word(link.first, link.second, until));
    std::sort(links.begin(), links.end());
    for (std::uint64_t word : links) mix(word);
    // The faulty agent's payload keys and the lossy chains are texts that name their sender: not renamed, they pin
    // the state to this renaming (core::WorkerRenaming::tag), so it is merged with no other.
    if (!sends_by_payload_.empty() || !chain_of_request_.empty() || !drops_by_chain_.empty()) mix(renaming->tag);
  }
  for (const auto& [request, chain] : chain_of_request_) {
    mix(static_cast<std::uint64_t>(request.first));
    mix(static_cast<std::uint64_t>(request.second));
    mix_text(chain);
  }
  for (const auto& [chain, drops] : drops_by_chain_) {
    mix_text(chain);
    mix(static_cast<std::uint64_t>(drops));
  }
  return h;
}

}  // namespace rrefsim::sim
