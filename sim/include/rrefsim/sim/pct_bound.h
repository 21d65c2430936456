// The probabilistic guarantee of PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized Scheduler with
// Probabilistic Guarantees of Finding Bugs", ASPLOS 2010): one run of a program with at most n threads and k steps,
// with d-1 priority change points drawn among the k steps, hits a given bug of depth d with probability at least
// 1/(n k^(d-1)). Independent runs miss it with probability at most (1 - p)^R. docs/coverage.md maps n and k to
// PctChooser's items and steps.
#pragma once

#include <cstdint>

namespace rrefsim::sim {

// 1/(n k^(d-1)); 0 when n or k is 0 or depth < 1.
double PctRunProbability(std::uint64_t items, std::uint64_t steps, int depth);
// (1 - p)^runs: the probability that every run misses the bug, exact also where it is far below 1e-16.
double PctMissProbability(double run_probability, std::uint64_t runs);
// 1 - (1 - p)^runs, computed without the cancellation of the direct form for small p.
double PctConfidence(double run_probability, std::uint64_t runs);

}  // namespace rrefsim::sim
