// `rrefsim render TRACE.json [--format text|mermaid]`.
#include <cstdio>

#include "exit_codes.h"
#include "rrefsim/traces/render.h"
#include "trace_commands.h"

namespace rrefsim::cli {

int RunRender(const std::string& path, const std::string& format) {
  std::optional<traces::Trace> trace = LoadTrace("render", path);
  if (!trace) return kExitBadInput;
  std::string text = format == "mermaid" ? traces::RenderMermaid(*trace) : traces::RenderText(*trace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

}  // namespace rrefsim::cli
