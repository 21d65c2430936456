// Internal: the JSON form of traces (nlohmann/json stays inside this library). The writer builds ordered_json values
// in the documented key order; the reader walks a parsed json value with a path, strictly.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "names.h"
#include "rrefsim/traces/trace.h"

namespace rrefsim::traces::detail {

using OrderedJson = nlohmann::ordered_json;
using Json = nlohmann::json;

// --- Writing (write.cc) ---
OrderedJson IdJson(const core::GloballyUniqueId& id);
OrderedJson MessageJson(const core::Message& message);
OrderedJson CoreEventJson(const core::Event& event);
OrderedJson EventJson(const TraceEvent& event);
OrderedJson ViolationJson(const checkers::Violation& violation);
OrderedJson VerdictJson(const TraceVerdict& verdict);
OrderedJson ViewJson(const core::ContextView& view);
// Compact one-line JSON text of a value (the form events and choices take in a trace file).
std::string Compact(const OrderedJson& value);

// --- Reading (read.cc, read_core.cc) ---
// What the reader throws internally; ReadTrace turns it into "origin: path: message". The message is kept whole
// (what() would stop at a NUL byte the input may contain).
struct BadValue : std::runtime_error {
  BadValue(std::string path_in, const std::string& message_in)
      : std::runtime_error(message_in), path(std::move(path_in)), message(message_in) {}
  std::string path;
  std::string message;
};

// A JSON object being read: each field is taken once by name; Finish() rejects any field nobody took.
class Obj {
 public:
  Obj(const Json& value, std::string path);
  const std::string& path() const { return path_; }
  // The field's value and path; BadValue when it is missing.
  const Json& Field(const std::string& name);
  bool Has(const std::string& name) const { return value_.contains(name); }  // for optional fields
  std::string PathOf(const std::string& name) const { return path_ + "/" + name; }
  std::uint64_t U64(const std::string& name, std::uint64_t max = UINT64_MAX);
  std::int64_t I64(const std::string& name, std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);
  int Worker(const std::string& name);  // -1 (none) or a core::WorkerId
  bool Bool(const std::string& name);
  std::string Str(const std::string& name);
  std::optional<std::string> OptStr(const std::string& name);  // null or a string (the field is still required)
  core::GloballyUniqueId Id(const std::string& name);
  void Finish() const;

 private:
  const Json& value_;
  std::string path_;
  std::vector<std::string> taken_;
};

// Type and range checks on single values, naming `path`.
const Json& ExpectArray(const Json& value, const std::string& path);
std::uint64_t ReadU64(const Json& value, const std::string& path, std::uint64_t max = UINT64_MAX);
std::int64_t ReadI64(const Json& value, const std::string& path, std::int64_t min, std::int64_t max);
std::string ReadStr(const Json& value, const std::string& path);
core::GloballyUniqueId ReadId(const Json& value, const std::string& path);
core::MessageType ReadMessageType(const Json& value, const std::string& path);

inline std::string At(const std::string& path, std::size_t index) { return path + "/" + std::to_string(index); }

// A field holding one of `names`.
template <class E, std::size_t N>
E ReadName(const Names<E, N>& names, Obj& obj, const std::string& field) {
  std::string name = obj.Str(field);
  std::optional<E> value = FromName(names, name);
  if (!value) throw BadValue(obj.PathOf(field), "unknown name \"" + name + "\" (expected " + Choices(names) + ")");
  return *value;
}

// An array field, element by element.
template <class T, class ReadOne>
std::vector<T> ReadList(Obj& obj, const std::string& field, ReadOne read_one) {
  const Json& array = ExpectArray(obj.Field(field), obj.PathOf(field));
  std::vector<T> list;
  list.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) list.push_back(read_one(array[i], At(obj.PathOf(field), i)));
  return list;
}

core::Message ReadMessage(const Json& value, const std::string& path);
TraceEvent ReadEvent(const Json& value, const std::string& path);
core::ContextView ReadView(const Json& value, const std::string& path);

}  // namespace rrefsim::traces::detail
