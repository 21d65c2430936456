// `rrefsim shrink`: reads a failing trace, shrinks it (scenarios/shrink.h) and writes the smaller trace.
#include "shrink.h"

#include <cstdio>
#include <exception>
#include <string>

#include "exit_codes.h"
#include "rrefsim/scenarios/shrink.h"
#include "rrefsim/scenarios/trace_run.h"
#include "rrefsim/traces/render.h"
#include "trace_commands.h"

namespace rrefsim::cli {
namespace {

void PrintSize(const char* label, const scenarios::TraceSize& s) {
  std::printf("%s ops %llu, workers %llu, functions %llu, faults %llu, choices %llu, events %llu\n", label,
              static_cast<unsigned long long>(s.ops), static_cast<unsigned long long>(s.workers),
              static_cast<unsigned long long>(s.functions), static_cast<unsigned long long>(s.faults),
              static_cast<unsigned long long>(s.choices), static_cast<unsigned long long>(s.events));
}

int RunShrink(const std::string& program, const std::string& path, const std::string& out_path,
              double time_limit) {
  std::optional<traces::Trace> trace = LoadTrace("shrink", path);
  if (!trace) return kExitBadInput;
  scenarios::ShrinkResult result = scenarios::Shrink(*trace, scenarios::ShrinkOptions{time_limit});
  if (!result.trace) {
    std::fprintf(stderr, "rrefsim shrink: %s: %s\n", path.c_str(), traces::Printable(result.error).c_str());
    return kExitBadInput;
  }
  if (!scenarios::ReplayTrace(*result.trace).reproduced()) {  // a bug of the shrinker: say so, write nothing
    std::fprintf(stderr, "rrefsim shrink: internal error: the shrunk trace of %s does not replay strictly\n",
                 path.c_str());
    return kExitInternal;
  }
  std::string error;
  if (!WriteWholeFile(out_path, traces::WriteTrace(*result.trace), error)) {
    std::fprintf(stderr, "rrefsim shrink: -o %s: %s\n", out_path.c_str(), error.c_str());
    return kExitBadInput;
  }
  std::printf("shrink %s: first violation %s\n", path.c_str(), result.checker.c_str());
  PrintSize("  before:", result.before);
  PrintSize("  after: ", result.after);
  std::printf("  length (events) %llu -> %llu; %llu candidates run, %llu kept, %.2f s%s\n",
              static_cast<unsigned long long>(result.before.length()),
              static_cast<unsigned long long>(result.after.length()),
              static_cast<unsigned long long>(result.candidates), static_cast<unsigned long long>(result.accepted),
              result.seconds, result.timed_out ? " (time limit reached before a fixpoint)" : "");
  std::printf("wrote %s; replay: %s replay %s\n", out_path.c_str(), program.c_str(), out_path.c_str());
  return kExitOk;
}

}  // namespace

ShrinkCommand::ShrinkCommand(CLI::App& app) {
  command_ = app.add_subcommand("shrink", "minimise a failing trace: a smaller run that fails with the same checker");
  command_->add_option("trace", trace_path_, "a failing trace file (from `rrefsim run --out`)")->required();
  command_->add_option("-o,--out", out_path_, "where to write the minimised trace")->required();
  command_->add_option("--time-limit", time_limit_, "seconds to spend shrinking")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              std::size_t used = 0;
              if (std::stod(text, &used) > 0 && used == text.size()) return "";
            } catch (const std::exception&) {
            }
            return "'" + text + "' is not a number of seconds greater than 0";
          },
          "SECONDS"))
      ->capture_default_str();
}

std::optional<int> ShrinkCommand::Dispatch(const std::string& program) const {
  if (*command_) return RunShrink(program, trace_path_, out_path_, time_limit_);
  return std::nullopt;
}

}  // namespace rrefsim::cli
