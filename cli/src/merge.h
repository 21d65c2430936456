// `rrefsim merge FILES...`: the JSON Lines of the shards of one campaign (`rrefsim run --shard I/N --json`) combined
// into the lines the unsharded campaign prints: every seed line in order, then one summary line.
#pragma once

#include <string>
#include <vector>

namespace rrefsim::cli {

int RunMerge(const std::vector<std::string>& files);

}  // namespace rrefsim::cli
