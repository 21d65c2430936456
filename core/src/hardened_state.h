// The `hardened` mode's receiver-side state (docs/hardened-protocol.md §2-3): what each sender's request stream
// delivered, and the tombstones of deleted RRefs.
#pragma once

#include <cstdint>
#include <map>
#include <set>

#include "rrefsim/core/message.h"

namespace rrefsim::core {

// hardened: what a receiver remembers of one sender's request stream. Every number <= watermark and every number
// in `above` was accepted once; a copy of one of them is a duplicate, however late. `replies` keeps the reply of
// each accepted request until the sender says (replies_below) it has every reply below a number.
struct PeerInbox {
  std::int64_t watermark = 0;
  std::set<std::int64_t> above;
  std::int64_t replies_below = 0;
  std::map<std::int64_t, Message> replies;
  bool Seen(std::int64_t seq) const { return seq <= watermark || above.contains(seq); }
  void Accept(std::int64_t seq) {
    above.insert(seq);
    while (!above.empty() && *above.begin() == watermark + 1) {
      above.erase(above.begin());
      ++watermark;
    }
  }
};

// hardened: an RRef whose OwnerRRef left owners_ after its last fork was deleted. A fetch that arrives later (a
// to_here that timed out at its user before the user was deleted) gets an error instead of waiting in
// pendingOwners_ forever (P10). `deletes` holds, per worker that deleted a fork, the number of its last delete: once
// the watermark of every such stream passed it, no request sent before those deletes can still arrive unseen, so
// the tombstone goes.
struct Tombstone {
  std::map<WorkerId, std::int64_t> deletes;
};

}  // namespace rrefsim::core
