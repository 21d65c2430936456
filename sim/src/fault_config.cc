// The fault profiles and the strict parser of `--fault KEY=VALUE` overrides (see network.h).
#include <algorithm>
#include <array>
#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "rrefsim/sim/network.h"

namespace rrefsim::sim {
namespace {

using core::kMillisecond;
using core::kSecond;
using core::MessageType;

// The largest duration a key accepts, in milliseconds (about 11.6 days, far beyond a run's one-hour safety bound).
// It keeps every TimeUs and every choice's option count far from overflow.
constexpr std::int64_t kMaxMs = 1'000'000'000;

// Every delay of `reorder`, `lossy`, `chaos` and `swarm` outside the long delays stays under 25 ms: far under half of
// the smallest RPC timeout (60 s by default), so reordering alone never fires a timeout, and runs stay short in
// virtual time.
constexpr TimeUs kShortDelayMax = 25 * kMillisecond;

FaultConfig Reorder() {
  FaultConfig c;
  c.profile = "reorder";
  c.delay_max = kShortDelayMax;
  return c;
}

// PyTorch's FaultyTensorPipeAgent fixture (1.13): CLEANUP_AUTOGRAD_CONTEXT_REQ is in its list too, but dist-autograd
// is not modelled. Its injected failures are bounded per payload and stay on for the whole run, as in PyTorch.
FaultConfig FaultyAgent() {
  FaultConfig c;
  c.profile = "faulty-agent";
  c.delay_max = 5 * kMillisecond;
  c.messages_to_fail = {MessageType::RREF_FORK_REQUEST, MessageType::RREF_CHILD_ACCEPT, MessageType::RREF_USER_DELETE};
  c.num_fail_sends = 3;
  c.messages_to_delay = {{MessageType::PYTHON_CALL, 1500 * kMillisecond},
                         {MessageType::SCRIPT_CALL, 1500 * kMillisecond}};
  return c;
}

// At most 5 lost attempts per control message: sendWithRetries' maxRetries, so the 6th attempt gets through.
FaultConfig Lossy() {
  FaultConfig c;
  c.profile = "lossy";
  c.delay_max = kShortDelayMax;
  c.drop = 0.3;
  c.control_only = true;
  c.max_consecutive_drops = 5;
  c.heal_min = 5 * kSecond;
  c.heal_max = 30 * kSecond;
  return c;
}

FaultConfig Chaos() {
  FaultConfig c;
  c.profile = "chaos";
  c.delay_max = kShortDelayMax;
  c.drop = 0.05;
  c.duplicate = 0.05;
  c.long_delay = 0.05;
  c.long_delay_max = 120 * kSecond;  // beyond the default 60 s RPC timeout
  c.partition = 0.01;
  c.partition_max = 10 * kSecond;
  c.heal_min = 10 * kSecond;
  c.heal_max = 120 * kSecond;
  return c;
}

FaultConfig Swarm() {
  FaultConfig c = Chaos();
  c.profile = "swarm";
  c.swarm = true;
  return c;
}

struct Profile {
  std::string_view name;
  FaultConfig (*make)();
};
constexpr std::array<Profile, 5> kProfiles{{
    {"reorder", Reorder},
    {"faulty-agent", FaultyAgent},
    {"lossy", Lossy},
    {"chaos", Chaos},
    {"swarm", Swarm},
}};

// Every message type, in code order, for error texts.
constexpr std::array<MessageType, 16> kAllTypes{
    MessageType::SCRIPT_CALL,
    MessageType::SCRIPT_RET,
    MessageType::PYTHON_CALL,
    MessageType::PYTHON_RET,
    MessageType::SCRIPT_REMOTE_CALL,
    MessageType::PYTHON_REMOTE_CALL,
    MessageType::REMOTE_RET,
    MessageType::SCRIPT_RREF_FETCH_CALL,
    MessageType::PYTHON_RREF_FETCH_CALL,
    MessageType::SCRIPT_RREF_FETCH_RET,
    MessageType::PYTHON_RREF_FETCH_RET,
    MessageType::RREF_USER_DELETE,
    MessageType::RREF_FORK_REQUEST,
    MessageType::RREF_CHILD_ACCEPT,
    MessageType::RREF_ACK,
    MessageType::EXCEPTION,
};

std::string TypeNames() {
  std::string s;
  for (MessageType t : kAllTypes) s += (s.empty() ? "" : ", ") + std::string(core::MessageTypeName(t));
  return s;
}

// The outcome of one setter: empty when the value was accepted, else the error text.
using Setter = std::function<std::string(FaultConfig&, std::string_view key, std::string_view value)>;

struct Key {
  std::string_view name;
  std::string_view meaning;
  std::string expected;  // the allowed values, as error texts and the help state them
  Setter set;
};

std::string Error(std::string_view key, const std::string& what, const std::string& expected) {
  return "fault key '" + std::string(key) + "': " + what + " (expected " + expected + ")";
}

// Whole-string parses: no sign other than a leading '-', no spaces, no trailing characters.
enum class Parse { kOk, kSyntax, kOverflow };

Parse ParseInt(std::string_view text, std::int64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) return Parse::kOverflow;
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return Parse::kSyntax;
  return Parse::kOk;
}

Parse ParseDouble(std::string_view text, double& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) return Parse::kOverflow;
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return Parse::kSyntax;
  return Parse::kOk;
}

Key Probability(std::string_view name, std::string_view meaning, double FaultConfig::*field) {
  std::string expected = "a probability in [0, 1]";
  return {name, meaning, expected, [field, expected](FaultConfig& c, std::string_view key, std::string_view value) {
            double v = 0;
            const Parse p = ParseDouble(value, v);
            if (p == Parse::kSyntax) return Error(key, "'" + std::string(value) + "' is not a number", expected);
            if (p == Parse::kOverflow || !(v >= 0 && v <= 1)) {  // also rejects nan and inf
              return Error(key, std::string(value) + " is out of range", expected);
            }
            c.*field = v;
            return std::string();
          }};
}

// An integer in [lo, hi], stored through `store`.
Key Integer(std::string_view name, std::string_view meaning, std::string expected, std::int64_t lo, std::int64_t hi,
            std::function<void(FaultConfig&, std::int64_t)> store) {
  return {name, meaning, expected,
          [=](FaultConfig& c, std::string_view key, std::string_view value) {
            std::int64_t v = 0;
            const Parse p = ParseInt(value, v);
            if (p == Parse::kSyntax) return Error(key, "'" + std::string(value) + "' is not an integer", expected);
            if (p == Parse::kOverflow || v < lo || v > hi) {
              return Error(key, std::string(value) + " is out of range", expected);
            }
            store(c, v);
            return std::string();
          }};
}

Key Duration(std::string_view name, std::string_view meaning, TimeUs FaultConfig::*field) {
  return Integer(name, meaning, "an integer number of milliseconds in [0, " + std::to_string(kMaxMs) + "]", 0,
                 kMaxMs, [field](FaultConfig& c, std::int64_t ms) { c.*field = ms * kMillisecond; });
}

// Splits "a,b,c" at commas; "" is the empty list.
std::vector<std::string_view> SplitList(std::string_view text) {
  std::vector<std::string_view> items;
  if (text.empty()) return items;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

std::string SetMessagesToFail(FaultConfig& c, std::string_view key, std::string_view value,
                              const std::string& expected) {
  std::vector<MessageType> types;
  for (std::string_view name : SplitList(value)) {
    const auto type = core::MessageTypeFromName(name);
    if (!type) return Error(key, "unknown message type '" + std::string(name) + "'", expected);
    if (std::find(types.begin(), types.end(), *type) == types.end()) types.push_back(*type);
  }
  c.messages_to_fail = std::move(types);
  return {};
}

std::string SetMessagesToDelay(FaultConfig& c, std::string_view key, std::string_view value,
                               const std::string& expected) {
  std::map<MessageType, TimeUs> delays;
  for (std::string_view item : SplitList(value)) {
    const std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) return Error(key, "'" + std::string(item) + "' is not NAME:MS", expected);
    const std::string_view name = item.substr(0, colon);
    const std::string_view ms_text = item.substr(colon + 1);
    const auto type = core::MessageTypeFromName(name);
    if (!type) return Error(key, "unknown message type '" + std::string(name) + "'", expected);
    std::int64_t ms = 0;
    const Parse p = ParseInt(ms_text, ms);
    if (p == Parse::kSyntax) return Error(key, "'" + std::string(ms_text) + "' is not an integer", expected);
    if (p == Parse::kOverflow || ms < 0 || ms > kMaxMs) {
      return Error(key, std::string(ms_text) + " is out of range", expected);
    }
    delays[*type] = ms * kMillisecond;
  }
  c.messages_to_delay = std::move(delays);
  return {};
}

const std::vector<Key>& Keys() {
  static const std::vector<Key> keys = [] {
    std::vector<Key> k;
    k.push_back(Probability("drop", "probability that a message is lost during the fault phase", &FaultConfig::drop));
    k.push_back(Probability("duplicate", "probability that a message is delivered twice during the fault phase",
                            &FaultConfig::duplicate));
    k.push_back(Probability("long_delay", "probability of a delay in (delay_max_ms, long_delay_max_ms]",
                            &FaultConfig::long_delay));
    k.push_back(Probability("partition", "probability, per message, of cutting its link (both ways)",
                            &FaultConfig::partition));
    k.push_back(Duration("delay_min_ms", "shortest delay of every message", &FaultConfig::delay_min));
    k.push_back(Duration("delay_max_ms", "longest ordinary delay of every message", &FaultConfig::delay_max));
    k.push_back(Duration("long_delay_max_ms", "longest long delay", &FaultConfig::long_delay_max));
    k.push_back(Duration("partition_max_ms", "longest cut of a link", &FaultConfig::partition_max));
    k.push_back(Duration("heal_min_ms", "earliest end of the fault phase", &FaultConfig::heal_min));
    k.push_back(Duration("heal_max_ms", "latest end of the fault phase", &FaultConfig::heal_max));
    constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
    k.push_back(Integer("max_consecutive_drops", "most lost attempts per control message",
                        "an integer in [-1, " + std::to_string(kIntMax) + "], -1 for no limit", -1, kIntMax,
                        [](FaultConfig& c, std::int64_t v) { c.max_consecutive_drops = static_cast<int>(v); }));
    k.push_back({"control_only", "drops hit only RREF_* control messages and their RREF_ACKs", "true or false",
                 [](FaultConfig& c, std::string_view key, std::string_view value) {
                   if (value != "true" && value != "false") {
                     return Error(key, "'" + std::string(value) + "' is not a boolean", "true or false");
                   }
                   c.control_only = value == "true";
                   return std::string();
                 }});
    k.push_back(Integer("num_fail_sends", "injected send failures per distinct payload (faulty agent)",
                        "an integer in [0, " + std::to_string(kIntMax) + "]", 0, kIntMax,
                        [](FaultConfig& c, std::int64_t v) { c.num_fail_sends = static_cast<int>(v); }));
    const std::string fail_expected =
        "a comma-separated list of message type names, or empty; names: " + TypeNames();
    k.push_back({"messages_to_fail", "message types whose first sends fail at the sender (faulty agent)",
                 fail_expected, [fail_expected](FaultConfig& c, std::string_view key, std::string_view value) {
                   return SetMessagesToFail(c, key, value, fail_expected);
                 }});
    const std::string delay_expected = "a comma-separated list of NAME:MS with MS an integer in [0, " +
                                       std::to_string(kMaxMs) + "], or empty; names: " + TypeNames();
    k.push_back({"messages_to_delay", "fixed extra delay per message type, always on (faulty agent)",
                 delay_expected, [delay_expected](FaultConfig& c, std::string_view key, std::string_view value) {
                   return SetMessagesToDelay(c, key, value, delay_expected);
                 }});
    return k;
  }();
  return keys;
}

std::string KeyNames() {
  std::string s;
  for (const Key& k : Keys()) s += (s.empty() ? "" : ", ") + std::string(k.name);
  return s;
}

std::string Ms(TimeUs t) { return std::to_string(t / kMillisecond); }

// Checks between keys, once every override is applied. Swarm may draw any rate above zero, so it is checked as if
// every rate were.
std::string CheckConsistent(const FaultConfig& c) {
  if (c.delay_min > c.delay_max) {
    return "fault keys 'delay_min_ms' and 'delay_max_ms': " + Ms(c.delay_min) + " is above " + Ms(c.delay_max) +
           " (expected delay_min_ms <= delay_max_ms)";
  }
  if (c.heal_min > c.heal_max) {
    return "fault keys 'heal_min_ms' and 'heal_max_ms': " + Ms(c.heal_min) + " is above " + Ms(c.heal_max) +
           " (expected heal_min_ms <= heal_max_ms)";
  }
  if ((c.long_delay > 0 || c.swarm) && c.long_delay_max <= c.delay_max) {
    return "fault key 'long_delay_max_ms': " + Ms(c.long_delay_max) +
           " is out of range (expected more than delay_max_ms = " + Ms(c.delay_max) +
           " when long_delay > 0 or the profile is swarm)";
  }
  if ((c.partition > 0 || c.swarm) && c.partition_max < kMillisecond) {
    return "fault key 'partition_max_ms': " + Ms(c.partition_max) +
           " is out of range (expected at least 1 when partition > 0 or the profile is swarm)";
  }
  const std::pair<const char*, double> rates[] = {
      {"drop", c.drop}, {"duplicate", c.duplicate}, {"long_delay", c.long_delay}, {"partition", c.partition}};
  for (const auto& [name, rate] : rates) {
    if (rate > 0 && c.heal_max == 0 && !c.swarm) {
      return std::string("fault key '") + name + "': a rate above 0 has no effect while heal_max_ms is 0 " +
             "(expected 0, or a fault phase: set heal_min_ms and heal_max_ms)";
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> FaultProfiles() {
  std::vector<std::string> names;
  for (const Profile& p : kProfiles) names.emplace_back(p.name);
  return names;
}

std::vector<std::string> FaultKeyHelp() {
  std::vector<std::string> lines;
  for (const Key& k : Keys()) {
    lines.push_back(std::string(k.name) + ": " + std::string(k.meaning) + " (" + k.expected + ")");
  }
  return lines;
}

bool FaultsRaiseErrors(const FaultConfig& f) {
  return f.drop > 0 || f.duplicate > 0 || f.partition > 0 || f.long_delay > 0 || f.swarm ||
         (f.num_fail_sends > 0 && !f.messages_to_fail.empty()) || !f.messages_to_delay.empty();
}

FaultConfigResult MakeFaultConfig(std::string_view profile, const std::vector<std::string>& overrides) {
  FaultConfigResult result;
  const Profile* found = nullptr;
  for (const Profile& p : kProfiles) {
    if (p.name == profile) found = &p;
  }
  if (found == nullptr) {
    std::string names;
    for (const Profile& p : kProfiles) names += (names.empty() ? "" : ", ") + std::string(p.name);
    result.error = "unknown fault profile '" + std::string(profile) + "' (expected one of: " + names + ")";
    return result;
  }
  FaultConfig config = found->make();
  for (const std::string& item : overrides) {
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      result.error = "fault '" + item + "' is not KEY=VALUE";
      return result;
    }
    const std::string_view key = std::string_view(item).substr(0, eq);
    const std::string_view value = std::string_view(item).substr(eq + 1);
    const Key* spec = nullptr;
    for (const Key& k : Keys()) {
      if (k.name == key) spec = &k;
    }
    if (spec == nullptr) {
      result.error = "unknown fault key '" + std::string(key) + "' (expected one of: " + KeyNames() + ")";
      return result;
    }
    if (std::string error = spec->set(config, key, value); !error.empty()) {
      result.error = std::move(error);
      return result;
    }
  }
  if (std::string error = CheckConsistent(config); !error.empty()) {
    result.error = std::move(error);
    return result;
  }
  result.config = std::move(config);
  return result;
}

FaultConfig ReorderProfile() { return *MakeFaultConfig("reorder", {}).config; }

}  // namespace rrefsim::sim
