// Link test: core/ must link with nothing but the C++ standard library (style.md, "Direction of dependencies").
// This program is linked against rrefsim::core alone; constructing a Worker pulls in its constructor, destructor
// and everything they reference.
#include "rrefsim/core/worker.h"

int main() {
  rrefsim::core::Worker worker(rrefsim::core::WorkerConfig{});
  return worker.id() == 0 ? 0 : 1;
}
