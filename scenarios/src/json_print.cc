#include "json_print.h"

namespace rrefsim::scenarios::detail {
namespace {

// Strings are written with nlohmann's escaping; invalid UTF-8 (possible only in entries built in C++) is replaced
// rather than thrown on, so writing never fails.
std::string Scalar(const OrderedJson& v) { return v.dump(-1, ' ', false, OrderedJson::error_handler_t::replace); }

// The one-line form: {"a": 1, "b": [1, 2]}.
std::string Flat(const OrderedJson& v) {
  if (v.is_object()) {
    std::string text;
    for (const auto& [key, member] : v.items()) {
      text += (text.empty() ? "" : ", ") + Scalar(OrderedJson(key)) + ": " + Flat(member);
    }
    return "{" + text + "}";
  }
  if (v.is_array()) {
    std::string text;
    for (const OrderedJson& element : v) text += (text.empty() ? "" : ", ") + Flat(element);
    return "[" + text + "]";
  }
  return Scalar(v);
}

// Writes `v` starting at column `indent` (the caller has written the indentation and any key before it; `used` is
// how much of the line that took).
void Write(const OrderedJson& v, std::size_t indent, std::size_t used, std::size_t width, std::string& out) {
  std::string flat = Flat(v);
  bool container = v.is_object() || v.is_array();
  if (!container || v.empty() || used + flat.size() + 1 <= width) {  // + 1: a comma may follow
    out += flat;
    return;
  }
  const std::string inner(indent + 2, ' ');
  out += v.is_object() ? "{\n" : "[\n";
  std::size_t i = 0;
  for (const auto& [key, member] : v.items()) {
    out += inner;
    std::string lead = v.is_object() ? Scalar(OrderedJson(key)) + ": " : "";
    out += lead;
    Write(member, indent + 2, inner.size() + lead.size(), width, out);
    out += ++i < v.size() ? ",\n" : "\n";
  }
  out += std::string(indent, ' ') + (v.is_object() ? "}" : "]");
}

}  // namespace

std::string PrettyJson(const OrderedJson& value, std::size_t width) {
  std::string out;
  Write(value, 0, 0, width, out);
  return out + "\n";
}

}  // namespace rrefsim::scenarios::detail
