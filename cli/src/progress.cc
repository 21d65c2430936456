#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace rrefsim::cli {

Progress::Progress(std::uint64_t total, bool wanted)
    : enabled_(wanted && isatty(STDERR_FILENO) == 1), total_(total), start_(std::chrono::steady_clock::now()), drawn_(start_) {}

void Progress::Add(const std::string& failed_checker) {
  ++done_;
  if (!failed_checker.empty()) ++failures_[failed_checker];
}

void Progress::Tick() {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - drawn_ < std::chrono::milliseconds(200)) return;
  drawn_ = now;
  Draw();
}

void Progress::Draw() {
  double seconds = std::chrono::duration<double>(drawn_ - start_).count();
  double rate = seconds > 0 ? done_ / seconds : 0;
  constexpr int kWidth = 24;
  int filled = total_ == 0 ? kWidth : static_cast<int>(kWidth * done_ / total_);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::string failures;
  for (const auto& [checker, n] : failures_) failures += " " + checker + "=" + std::to_string(n);
  double eta = rate > 0 ? (total_ - done_) / rate : 0;
  std::fprintf(stderr, "\r\033[K[%s] %llu/%llu runs, %.0f runs/s, ETA %.0f s, failures:%s", bar.c_str(),
               static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_), rate, eta,
               failures.empty() ? " none" : failures.c_str());
  std::fflush(stderr);
  visible_ = true;
}

void Progress::Finish() {
  if (!visible_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  visible_ = false;
}

}  // namespace rrefsim::cli
