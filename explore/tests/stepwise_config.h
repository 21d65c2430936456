// Test helper shared by the stepwise-world tests: a catalog scenario's own faults, with each fiber's place in its
// program fingerprinted, as the explorer runs it.
#pragma once

#include "rrefsim/scenarios/catalog.h"
#include "rrefsim/sim/network.h"
#include "rrefsim/sim/world.h"

namespace rrefsim::explore::test_support {

inline sim::RunConfig FingerprintedConfigOf(const scenarios::CatalogEntry& entry) {
  sim::RunConfig config;
  config.faults = *sim::MakeFaultConfig(entry.faults, entry.fault_overrides).config;
  config.fingerprints = true;
  return config;
}

}  // namespace rrefsim::explore::test_support
