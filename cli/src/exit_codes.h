// rrefsim's exit codes, the same for every subcommand.
#pragma once

namespace rrefsim::cli {

constexpr int kExitOk = 0;             // ok, or a replay reproduced its run
constexpr int kExitViolation = 1;      // an invariant was violated (a failing run)
constexpr int kExitBadInput = 2;       // bad flags, files or scenario
constexpr int kExitDivergence = 3;     // replay divergence or nondeterminism
constexpr int kExitInternal = 4;       // a bug in rrefsim itself
constexpr int kExitInterrupted = 130;  // interrupted after flushing results

}  // namespace rrefsim::cli
