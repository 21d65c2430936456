#include "rrefsim/checkers/global_view.h"

namespace rrefsim::checkers {

// The names --trace and the sim tests have always used ("deliver", "send_failed", ...); traces use them too.
const char* RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kDeliver:
      return "deliver";
    case RecordKind::kQueued:
      return "queued";
    case RecordKind::kLost:
      return "lost";
    case RecordKind::kSend:
      return "send";
    case RecordKind::kDrop:
      return "drop";
    case RecordKind::kSendFailed:
      return "send_failed";
    case RecordKind::kEvent:
      return "event";
    case RecordKind::kTimers:
      return "timers";
    case RecordKind::kObservation:
      return "observation";
    case RecordKind::kQuiescent:
      return "quiescent";
  }
  return "unknown";
}

}  // namespace rrefsim::checkers
