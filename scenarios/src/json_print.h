// Internal: deterministic JSON text for people and diffs. Key order is the document's (ordered_json); a value is
// written on one line when that line fits in the width, else one member or element per line, indented by 2.
#pragma once

#include <string>

#include "op_format.h"

namespace rrefsim::scenarios::detail {

std::string PrettyJson(const OrderedJson& value, std::size_t width = 120);

}  // namespace rrefsim::scenarios::detail
