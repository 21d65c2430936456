#include "rrefsim/sim/pct_bound.h"

#include <cmath>

namespace rrefsim::sim {

double PctRunProbability(std::uint64_t items, std::uint64_t steps, int depth) {
  if (items == 0 || steps == 0 || depth < 1) return 0;
  // In logs: k^(d-1) overflows a double's exponent only far beyond any run, but the product is clearer this way.
  const double log_inverse = std::log(static_cast<double>(items)) + (depth - 1) * std::log(static_cast<double>(steps));
  return std::exp(-log_inverse);
}

double PctMissProbability(double run_probability, std::uint64_t runs) {
  if (run_probability <= 0) return 1;
  if (run_probability >= 1) return runs == 0 ? 1 : 0;
  return std::exp(static_cast<double>(runs) * std::log1p(-run_probability));
}

double PctConfidence(double run_probability, std::uint64_t runs) {
  if (run_probability <= 0 || runs == 0) return 0;
  if (run_probability >= 1) return 1;
  return -std::expm1(static_cast<double>(runs) * std::log1p(-run_probability));
}

}  // namespace rrefsim::sim
