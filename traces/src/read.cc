// The strict JSON reader: the checked accessors every part uses, and the top level of a trace.
#include <algorithm>
#include <limits>

#include "json_internal.h"
#include "names.h"
#include "rrefsim/traces/render.h"

namespace rrefsim::traces {
namespace detail {
namespace {

// "a string", "an object", ... for "expected X, got Y".
std::string Kind(const Json& value) {
  if (value.is_number_float()) return "the number " + value.dump();
  if (value.is_number()) return "the integer " + value.dump();
  std::string name = value.type_name();
  if (name == "null" || name == "boolean") return name == "null" ? "null" : "a boolean";
  return (name == "object" || name == "array" ? "an " : "a ") + name;
}

[[noreturn]] void Expected(const std::string& path, const std::string& what, const Json& got) {
  throw BadValue(path, "expected " + what + ", got " + Kind(got));
}

std::string Range(std::int64_t min, std::int64_t max) {
  return "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

}  // namespace

Obj::Obj(const Json& value, std::string path) : value_(value), path_(std::move(path)) {
  if (!value.is_object()) Expected(path_.empty() ? "/" : path_, "an object", value);
}

const Json& Obj::Field(const std::string& name) {
  auto it = value_.find(name);
  if (it == value_.end()) throw BadValue(path_.empty() ? "/" : path_, "missing field \"" + name + "\"");
  taken_.push_back(name);
  return *it;
}

std::uint64_t Obj::U64(const std::string& name, std::uint64_t max) { return ReadU64(Field(name), PathOf(name), max); }

std::int64_t Obj::I64(const std::string& name, std::int64_t min, std::int64_t max) {
  return ReadI64(Field(name), PathOf(name), min, max);
}

int Obj::Worker(const std::string& name) {
  return static_cast<int>(I64(name, -1, std::numeric_limits<core::WorkerId>::max()));
}

bool Obj::Bool(const std::string& name) {
  const Json& v = Field(name);
  if (!v.is_boolean()) Expected(PathOf(name), "true or false", v);
  return v.get<bool>();
}

std::string Obj::Str(const std::string& name) { return ReadStr(Field(name), PathOf(name)); }

std::optional<std::string> Obj::OptStr(const std::string& name) {
  const Json& v = Field(name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_string()) Expected(PathOf(name), "a string or null", v);
  return v.get<std::string>();
}

core::GloballyUniqueId Obj::Id(const std::string& name) { return ReadId(Field(name), PathOf(name)); }

void Obj::Finish() const {
  for (auto it = value_.begin(); it != value_.end(); ++it) {
    if (std::find(taken_.begin(), taken_.end(), it.key()) == taken_.end()) {
      throw BadValue(PathOf(it.key()), "unknown field \"" + it.key() + "\"");
    }
  }
}

const Json& ExpectArray(const Json& value, const std::string& path) {
  if (!value.is_array()) Expected(path, "an array", value);
  return value;
}

std::uint64_t ReadU64(const Json& value, const std::string& path, std::uint64_t max) {
  const std::string what = "an integer in [0, " + std::to_string(max) + "]";
  if (!value.is_number_integer()) Expected(path, what, value);
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() > max) {
    throw BadValue(path, value.dump() + " is out of range (expected " + what + ")");
  }
  return value.get<std::uint64_t>();
}

std::int64_t ReadI64(const Json& value, const std::string& path, std::int64_t min, std::int64_t max) {
  if (!value.is_number_integer()) Expected(path, Range(min, max), value);
  const bool too_big = value.is_number_unsigned() &&
                       value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (too_big || value.get<std::int64_t>() < min || value.get<std::int64_t>() > max) {
    throw BadValue(path, value.dump() + " is out of range (expected " + Range(min, max) + ")");
  }
  return value.get<std::int64_t>();
}

std::string ReadStr(const Json& value, const std::string& path) {
  if (!value.is_string()) Expected(path, "a string", value);
  return value.get<std::string>();
}

core::GloballyUniqueId ReadId(const Json& value, const std::string& path) {
  if (!value.is_array() || value.size() != 2) Expected(path, "an id [created_on, local_id]", value);
  core::GloballyUniqueId id;
  id.created_on = static_cast<core::WorkerId>(
      ReadI64(value[0], path + "/0", -1, std::numeric_limits<core::WorkerId>::max()));
  id.local_id = ReadI64(value[1], path + "/1", -1, std::numeric_limits<std::int64_t>::max());
  return id;
}

core::MessageType ReadMessageType(const Json& value, const std::string& path) {
  std::string name = ReadStr(value, path);
  std::optional<core::MessageType> type = core::MessageTypeFromName(name);
  if (!type) {
    throw BadValue(path, "unknown message type \"" + name + "\" (expected one of PyTorch's MessageType names, e.g. "
                         "RREF_FORK_REQUEST)");
  }
  return *type;
}

namespace {

template <std::size_t N>
std::string ReadListed(const std::array<std::string_view, N>& names, Obj& obj, const std::string& field,
                       const std::string& what) {
  std::string name = obj.Str(field);
  if (std::find(names.begin(), names.end(), name) != names.end()) return name;
  std::string all;
  for (std::string_view n : names) all += (all.empty() ? "" : ", ") + std::string(n);
  throw BadValue(obj.PathOf(field), "unknown " + what + " \"" + name + "\" (expected one of " + all + ")");
}

TraceConfig ReadConfig(const Json& value, const std::string& path) {
  Obj o(value, path);
  TraceConfig c;
  c.protocol = ReadName(kProtocolModes, o, "protocol");
  c.fault_profile = o.Str("fault_profile");
  c.fault_overrides = ReadList<std::string>(o, "fault_overrides", ReadStr);
  c.strategy = o.Str("strategy");
  if (c.strategy != "random" && c.strategy != "pct" && c.strategy != "exhaustive") {
    throw BadValue(o.PathOf("strategy"),
                   "unknown strategy \"" + c.strategy + "\" (expected random, pct or exhaustive)");
  }
  c.pct_depth = static_cast<int>(o.I64("pct_depth", 0, 100));
  c.max_steps = o.U64("max_steps");
  c.max_time = o.I64("max_time_us", 0);
  c.retry_payload = ReadName(kRetryPayloads, o, "retry_payload");
  c.ignore_rref_leak = o.Bool("ignore_rref_leak");
  o.Finish();
  return c;
}

checkers::Violation ReadViolation(const Json& value, const std::string& path) {
  Obj o(value, path);
  checkers::Violation v;
  v.checker = o.Str("checker");
  const std::vector<std::string>& ids = checkers::CheckerIds();
  if (std::find(ids.begin(), ids.end(), v.checker) == ids.end()) {
    throw BadValue(o.PathOf("checker"), "unknown checker \"" + v.checker + "\" (expected a checker id such as " +
                                            ids.front() + " or no_premature_delete)");
  }
  v.step = o.U64("step");
  v.time = o.I64("time_us", 0);
  v.text = o.Str("text");
  o.Finish();
  return v;
}

TraceVerdict ReadVerdict(const Json& value, const std::string& path) {
  Obj o(value, path);
  TraceVerdict v;
  v.outcome = ReadListed(kOutcomes, o, "outcome", "outcome");
  v.detail = o.Str("detail");
  v.violations = ReadList<checkers::Violation>(o, "violations", ReadViolation);
  v.expected_violations = ReadList<checkers::Violation>(o, "expected_violations", ReadViolation);
  v.explanation = o.Str("explanation");
  o.Finish();
  return v;
}

TraceChoice ReadChoice(const Json& value, const std::string& path) {
  Obj o(value, path);
  TraceChoice c;
  c.kind = ReadListed(kChoiceKinds, o, "kind", "choice kind");
  c.options = o.U64("options");
  if (c.options == 0) throw BadValue(o.PathOf("options"), "0 is out of range (a choice has at least one option)");
  c.pick = o.U64("pick", c.options - 1);
  c.key = o.U64("key");
  o.Finish();
  return c;
}

Trace ReadTop(const Json& root) {
  Obj o(root, "");
  Trace t;
  const Json& version = o.Field("format_version");
  if (!version.is_number_integer()) Expected("/format_version", "an integer (the format version)", version);
  if (!version.is_number_unsigned() || version.get<std::uint64_t>() != kFormatVersion) {
    throw BadValue("/format_version", "unsupported trace format version " + version.dump() +
                                          " (this rrefsim reads version " + std::to_string(kFormatVersion) + ")");
  }
  t.tool_version = o.Str("tool_version");
  t.scenario_name = o.Str("scenario_name");
  const Json& scenario = o.Field("scenario");
  if (!scenario.is_object()) throw BadValue("/scenario", "expected an object (the scenario), got " + Kind(scenario));
  t.scenario = scenario.dump();
  t.seed = o.U64("seed");
  t.config = ReadConfig(o.Field("config"), "/config");
  t.verdict = ReadVerdict(o.Field("verdict"), "/verdict");
  t.choices = ReadList<TraceChoice>(o, "choices", ReadChoice);
  t.events = ReadList<TraceEvent>(o, "events", ReadEvent);
  t.state = ReadList<core::ContextView>(o, "state", ReadView);
  for (std::size_t w = 0; w < t.state.size(); ++w) {
    if (t.state[w].worker != static_cast<int>(w)) {
      throw BadValue("/state/" + std::to_string(w) + "/worker",
                     "expected worker " + std::to_string(w) + " (one entry per worker, by id)");
    }
  }
  o.Finish();
  return t;
}

// "line:column" of the 1-based byte offset nlohmann reports for a syntax error.
std::string LineColumn(std::string_view text, std::size_t byte) {
  std::size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

}  // namespace
}  // namespace detail

namespace {

ReadResult Read(std::string_view text, const std::string& where) {
  using detail::Json;
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    std::size_t cut = what.find("] ");  // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::size_t colon = what.find(": ", cut);
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    return {std::nullopt, where + ":" + detail::LineColumn(text, e.byte) + ": not valid JSON: " + reason};
  } catch (const std::exception& e) {
    return {std::nullopt, where + ": not valid JSON: " + e.what()};
  }
  try {
    return {detail::ReadTop(root), ""};
  } catch (const detail::BadValue& e) {
    return {std::nullopt, where + ": " + e.path + ": " + e.message};
  } catch (const std::exception& e) {  // a bug in the reader; still no crash
    return {std::nullopt, where + ": unreadable trace: " + e.what()};
  }
}

}  // namespace

ReadResult ReadTrace(std::string_view text, std::string_view origin) {
  ReadResult result = Read(text, std::string(origin));
  result.error = Printable(result.error);  // it may quote any byte of the input
  return result;
}

}  // namespace rrefsim::traces
