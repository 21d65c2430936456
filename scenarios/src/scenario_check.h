// Internal: the checks that need the whole scenario, with the JSON pointer of what they refuse.
#pragma once

#include "rrefsim/scenarios/catalog.h"

namespace rrefsim::scenarios::detail {

// Throws InputError for: a function defined twice or called without a definition, a variable read before any op
// assigns it, a literal destination outside the world, a barrier in a function, a shutdown out of place, counters
// expected at a barrier the programs do not have; and, as a backstop, anything sim::Validate refuses.
void CheckScenario(const CatalogEntry& entry);

}  // namespace rrefsim::scenarios::detail
