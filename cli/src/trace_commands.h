// The trace side of the command line: `rrefsim replay`, `rrefsim render`, and the files they read and write.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "rrefsim/traces/trace.h"

namespace rrefsim::cli {

// Registers `replay` and `render` on `app`; after parsing, Dispatch runs the one that was given.
class TraceCommands {
 public:
  explicit TraceCommands(CLI::App& app);
  // The exit code of the subcommand that was parsed, or nullopt when it was neither replay nor render.
  std::optional<int> Dispatch() const;

 private:
  CLI::App* replay_ = nullptr;
  CLI::App* render_ = nullptr;
  std::string trace_path_;
  std::string dump_path_;
  std::string format_ = "text";
};

int RunReplay(const std::string& path, const std::string& dump_path);
int RunRender(const std::string& path, const std::string& format);

// The whole file, or nullopt with `error` set ("cannot read: No such file or directory").
std::optional<std::string> ReadWholeFile(const std::string& path, std::string& error);
// Writes `text` to `path` (replacing it); false with `error` set when it cannot.
bool WriteWholeFile(const std::string& path, const std::string& text, std::string& error);
// The trace in `path`, or nullopt after printing "rrefsim COMMAND: <the reader's error>" to stderr.
std::optional<traces::Trace> LoadTrace(const std::string& command, const std::string& path);

}  // namespace rrefsim::cli
