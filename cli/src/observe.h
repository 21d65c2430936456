// `rrefsim observe SCENARIO`: what users of PyTorch could observe of one simulated run in pytorch mode, in the text
// form the conformance runner prints for real PyTorch (docs/conformance.md, "The observation").
#pragma once

#include <cstdint>
#include <string>

#include "rrefsim/sim/world.h"

namespace rrefsim::cli {

struct ObserveOptions {
  std::string scenario;  // a catalog name or a scenario file ending in .json
  std::uint64_t seed = 0;
};

// The observation text of a finished run: "observation NAME", "outcome O", "# notes", then one line per recorded
// observation, "worker W WHERE: WHAT", in worker order and natural place order (op 2 before op 10), a place seen
// twice in the order recorded; a counter line without the "(expected ...)" the checkers add.
std::string FormatObservation(const std::string& name, const sim::RunResult& run, const std::string& note);

int RunObserve(const ObserveOptions& options);

}  // namespace rrefsim::cli
