// `rrefsim shrink TRACE.json -o MIN.json [--time-limit S]`: a smaller run that fails with the same first checker.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace rrefsim::cli {

// Registers `shrink` on `app`; after parsing, Dispatch runs it when it was given.
class ShrinkCommand {
 public:
  explicit ShrinkCommand(CLI::App& app);
  // `program`: how to call this binary in the printed replay command (argv[0]).
  std::optional<int> Dispatch(const std::string& program) const;

 private:
  CLI::App* command_ = nullptr;
  std::string trace_path_;
  std::string out_path_;
  double time_limit_ = 30;
};

}  // namespace rrefsim::cli
