// Internal: strict reading of a JSON document whose every error names the place (a JSON pointer such as
// /programs/0/ops/3/to) and what was expected. nlohmann's own conversions are never used on input: they truncate
// floats to integers, wrap negative numbers into unsigned ones and map unknown enum names to the first enumerator
// (toolchain.md §4), so every value is checked here before it is taken.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rrefsim::scenarios::detail {

using Json = nlohmann::json;

// Bad input at `path`; what() says what was found and what was expected.
class InputError : public std::runtime_error {
 public:
  InputError(std::string path, const std::string& what) : std::runtime_error(what), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The document, or an error "LINE:COLUMN: ..." for text that is not JSON. Throws InputError for a key that appears
// twice in one object (nlohmann would keep the last one silently) and for nesting deeper than 64 levels.
struct Document {
  Json root;
  std::string syntax_error;  // "3:17: invalid JSON: syntax error while parsing ...", empty when the text is JSON
};
Document ParseDocument(std::string_view text);

// How a path is shown in messages: the JSON pointer, or "(document)" for the root.
std::string ShowPath(const std::string& path);

// A value and where it is.
class Node {
 public:
  Node(const Json& value, std::string path) : value_(&value), path_(std::move(path)) {}
  const Json& json() const { return *value_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void Fail(const std::string& what) const { throw InputError(path_, what); }
  // "<what was found> (expected <expected>)": every reader below fails this way.
  [[noreturn]] void Expected(const std::string& expected) const;

  std::string String(const std::string& expected) const;
  std::string NonEmptyString(const std::string& expected) const;
  bool Boolean() const;
  std::int64_t Integer(std::int64_t lo, std::int64_t hi, const std::string& meaning) const;
  std::vector<Node> Array(const std::string& expected) const;
  Node Element(std::size_t index) const;

 private:
  const Json* value_;
  std::string path_;
};

// An object whose fields must all be known: the constructor refuses any field outside `allowed`, then fields are
// taken by name.
class Object {
 public:
  Object(const Node& node, std::vector<std::string> allowed, const std::string& expected);
  const Node& node() const { return node_; }
  bool Has(const std::string& key) const;
  Node Required(const std::string& key, const std::string& expected) const;
  std::optional<Node> Optional(const std::string& key) const;

 private:
  Node Field(const std::string& key) const;
  Node node_;
  std::vector<std::string> allowed_;
};

// A JSON pointer's escaping of one key (RFC 6901).
std::string PointerToken(std::string_view key);

}  // namespace rrefsim::scenarios::detail
