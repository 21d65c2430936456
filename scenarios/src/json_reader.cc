#include "json_reader.h"

#include <algorithm>
#include <limits>
#include <regex>
#include <set>

namespace rrefsim::scenarios::detail {
namespace {

// The deepest nesting a document may have. A scenario needs about 10 levels plus 2 per nested if_positive; the limit
// keeps the recursive reader, checks and interpreter far from the end of their stacks on hostile input.
constexpr std::size_t kMaxDepth = 64;

// Finds what the DOM parser accepts but a scenario must not have: a key that appears twice in one object (the DOM
// keeps the last value without a word, silently dropping part of a scenario), and nesting beyond kMaxDepth.
class StructureChecker : public nlohmann::json_sax<Json> {
 public:
  std::optional<InputError> problem;

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override { return Open(true); }
  bool start_array(std::size_t) override { return Open(false); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }
  bool key(string_t& key) override {
    Frame& top = stack_.back();
    top.key = key;
    if (top.keys.insert(key).second) return true;
    problem = InputError(Path(), "a key that appears twice in its object (expected each key once)");
    return false;  // stops the parse
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Frame {
    bool object = false;
    std::set<std::string> keys;
    std::string key;        // the member being read
    std::size_t index = 0;  // the element being read
  };
  bool Value() {
    if (!stack_.empty() && !stack_.back().object) ++stack_.back().index;
    return true;
  }
  bool Open(bool object) {
    if (stack_.size() == kMaxDepth) {
      problem = InputError(Path(), "a value nested deeper than " + std::to_string(kMaxDepth) +
                                       " levels (expected at most " + std::to_string(kMaxDepth) + ")");
      return false;
    }
    stack_.push_back(Frame{object, {}, {}, 0});
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return Value();
  }
  std::string Path() const {
    std::string path;
    for (const Frame& f : stack_) path += "/" + (f.object ? PointerToken(f.key) : std::to_string(f.index));
    return path;
  }
  std::vector<Frame> stack_;
};

// nlohmann's "[json.exception.parse_error.101] parse error at line 3, column 17: syntax error ..." as
// "3:17: invalid JSON: syntax error ...".
std::string SyntaxError(const Json::parse_error& e) {
  static const std::regex kPlace(R"(at line (\d+), column (\d+): (.*))");
  const std::string what = e.what();
  std::smatch m;
  if (std::regex_search(what, m, kPlace)) return m[1].str() + ":" + m[2].str() + ": invalid JSON: " + m[3].str();
  return "byte " + std::to_string(e.byte) + ": invalid JSON: " + what;
}

// What a value is, for "found X (expected Y)" messages.
std::string Describe(const Json& v) {
  if (v.is_string()) {
    std::string text = v.get<std::string>();
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return "the string " + Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  if (v.is_number_integer()) return "the integer " + v.dump();
  if (v.is_number_float()) return "the number " + v.dump();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "null";
  if (v.is_array()) return "an array";
  return "an object";
}

std::string Join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

}  // namespace

Document ParseDocument(std::string_view text) {
  Document doc;
  try {
    doc.root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    doc.syntax_error = SyntaxError(e);
    return doc;
  }
  StructureChecker checker;
  Json::sax_parse(text, &checker);
  if (checker.problem) throw *checker.problem;
  return doc;
}

std::string ShowPath(const std::string& path) { return path.empty() ? "(document)" : path; }

std::string PointerToken(std::string_view key) {
  std::string token;
  for (char c : key) {
    if (c == '~') {
      token += "~0";
    } else if (c == '/') {
      token += "~1";
    } else {
      token += c;
    }
  }
  return token;
}

void Node::Expected(const std::string& expected) const { Fail(Describe(json()) + " (expected " + expected + ")"); }

std::string Node::String(const std::string& expected) const {
  if (!json().is_string()) Expected(expected);
  return json().get<std::string>();
}

std::string Node::NonEmptyString(const std::string& expected) const {
  std::string text = String(expected);
  if (text.empty()) Fail("an empty string (expected " + expected + ")");
  return text;
}

bool Node::Boolean() const {
  if (!json().is_boolean()) Expected("true or false");
  return json().get<bool>();
}

std::int64_t Node::Integer(std::int64_t lo, std::int64_t hi, const std::string& meaning) const {
  const std::string expected = meaning + ", an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!json().is_number_integer()) Expected(expected);
  // An unsigned value above INT64_MAX would wrap in get<int64_t>(): it is out of range anyway.
  if (json().is_number_unsigned() &&
      json().get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    Fail(json().dump() + " is out of range (expected " + expected + ")");
  }
  const std::int64_t v = json().get<std::int64_t>();
  if (v < lo || v > hi) Fail(std::to_string(v) + " is out of range (expected " + expected + ")");
  return v;
}

std::vector<Node> Node::Array(const std::string& expected) const {
  if (!json().is_array()) Expected(expected);
  std::vector<Node> items;
  for (std::size_t i = 0; i < json().size(); ++i) items.push_back(Element(i));
  return items;
}

Node Node::Element(std::size_t index) const { return Node(json()[index], path_ + "/" + std::to_string(index)); }

Object::Object(const Node& node, std::vector<std::string> allowed, const std::string& expected)
    : node_(node), allowed_(std::move(allowed)) {
  if (!node.json().is_object()) node.Expected(expected);
  for (const auto& [key, value] : node.json().items()) {
    if (std::find(allowed_.begin(), allowed_.end(), key) == allowed_.end()) {
      Field(key).Fail("an unknown field (expected one of: " + Join(allowed_) + ")");
    }
  }
}

bool Object::Has(const std::string& key) const { return node_.json().contains(key); }

Node Object::Field(const std::string& key) const {
  return Node(node_.json().at(key), node_.path() + "/" + PointerToken(key));
}

Node Object::Required(const std::string& key, const std::string& expected) const {
  if (!Has(key)) {
    throw InputError(node_.path() + "/" + PointerToken(key), "missing (expected " + expected + ")");
  }
  return Field(key);
}

std::optional<Node> Object::Optional(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  return Field(key);
}

}  // namespace rrefsim::scenarios::detail
