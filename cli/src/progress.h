// The progress bar of `rrefsim run`: on stderr, only when stderr is a terminal, redrawn at most 5 times a second.
// It reads the wall clock for its rates only; nothing it shows feeds back into a run.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace rrefsim::cli {

class Progress {
 public:
  // Draws only when `wanted` and stderr is a terminal.
  Progress(std::uint64_t total, bool wanted);
  void Add(const std::string& failed_checker);  // one more run done; "" when it passed
  void Tick();    // redraws when the last drawing is 200 ms old
  void Finish();  // clears the bar

 private:
  void Draw();
  bool enabled_;
  std::uint64_t total_, done_ = 0;
  std::map<std::string, std::uint64_t> failures_;
  std::chrono::steady_clock::time_point start_, drawn_;
  bool visible_ = false;
};

}  // namespace rrefsim::cli
