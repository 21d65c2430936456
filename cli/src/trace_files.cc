// Reading and writing trace files, and the registration of the trace subcommands.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "exit_codes.h"
#include "trace_commands.h"

namespace rrefsim::cli {

TraceCommands::TraceCommands(CLI::App& app) {
  replay_ = app.add_subcommand("replay", "re-run a trace's recorded choices and check that the run reproduces it");
  replay_->add_option("trace", trace_path_, "a trace file written by `rrefsim run --out`")->required();
  replay_->add_option("--dump", dump_path_, "write the replayed trace to this file (byte-identical when it reproduces)");
  render_ = app.add_subcommand("render", "show a trace: the events around its failure, the state there, an explanation");
  render_->add_option("trace", trace_path_, "a trace file")->required();
  render_->add_option("--format", format_, "text (a message-sequence listing) or mermaid (a sequenceDiagram)")
      ->check(CLI::IsMember({"text", "mermaid"}))
      ->capture_default_str();
}

std::optional<int> TraceCommands::Dispatch() const {
  if (*replay_) return RunReplay(trace_path_, dump_path_);
  if (*render_) return RunRender(trace_path_, format_);
  return std::nullopt;
}

std::optional<std::string> ReadWholeFile(const std::string& path, std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = std::string("cannot read: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string text;
  char buffer[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  const int saved = errno;
  std::fclose(file);
  if (failed) {
    error = std::string("cannot read: ") + std::strerror(saved);
    return std::nullopt;
  }
  return text;
}

bool WriteWholeFile(const std::string& path, const std::string& text, std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    error = std::string("cannot write: ") + std::strerror(errno);
    return false;
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  const int saved = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    error = std::string("cannot write: ") + std::strerror(written ? errno : saved);
    return false;
  }
  return true;
}

std::optional<traces::Trace> LoadTrace(const std::string& command, const std::string& path) {
  std::string error;
  std::optional<std::string> text = ReadWholeFile(path, error);
  if (!text) {
    std::fprintf(stderr, "rrefsim %s: %s: %s\n", command.c_str(), path.c_str(), error.c_str());
    return std::nullopt;
  }
  traces::ReadResult read = traces::ReadTrace(*text, path);
  if (!read.trace) {
    std::fprintf(stderr, "rrefsim %s: %s\n", command.c_str(), read.error.c_str());
    return std::nullopt;
  }
  return std::move(read.trace);
}

}  // namespace rrefsim::cli
