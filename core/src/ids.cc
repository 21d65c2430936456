#include "rrefsim/core/ids.h"

namespace rrefsim::core {

std::string ToString(const GloballyUniqueId& id) {
  return "GloballyUniqueId(created_on=" + std::to_string(id.created_on) + ", local_id=" + std::to_string(id.local_id) +
         ")";
}

}  // namespace rrefsim::core
