// A read-only snapshot of one worker's protocol state, in sorted order, for checkers, traces and tests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rrefsim/core/events.h"
#include "rrefsim/core/ids.h"
#include "rrefsim/core/message.h"

namespace rrefsim::core {

// PyTorch's `_rref_context_get_debug_info()`, computed the same way.
struct DebugInfo {
  std::int64_t num_owner_rrefs = 0;      // |owners_|
  std::int64_t num_forks = 0;            // sum of |forks_[r]| (the self-remote marker counts too)
  std::int64_t num_pending_users = 0;    // |pendingUsers_|
  std::int64_t num_pending_futures = 0;  // control messages sent with retries and not yet completed
  friend bool operator==(const DebugInfo&, const DebugInfo&) = default;
};

// A live UserRRef instance.
struct UserRRefView {
  Handle handle;
  WorkerId owner = -1;
  RRefId rref_id;
  ForkId fork_id;
  std::string type_str;
  std::int64_t app_refs = 0;
  bool confirmed_by_owner = false;
  bool deleted_on_owner = false;
  bool timed_out = false;
  friend bool operator==(const UserRRefView&, const UserRRefView&) = default;
};

// A live OwnerRRef (in owners_, or held by the application or a waiting fetch).
struct OwnerRRefView {
  Handle handle;
  RRefId rref_id;
  std::string type_str;
  std::int64_t app_refs = 0;
  bool value_set = false;
  std::optional<std::string> error;  // a stored error (script function failure)
  std::int64_t payload = 0;
  std::vector<ForkId> nested;  // fork ids of the UserRRefs held inside the value (S10)
  bool timed_out = false;
  friend bool operator==(const OwnerRRefView&, const OwnerRRefView&) = default;
};

// An outstanding request of the agent (one attempt on the wire, waiting for its response or timeout).
struct RequestView {
  std::int64_t id = 0;
  WorkerId to = -1;
  MessageType type = MessageType::EXCEPTION;
  std::optional<TimeUs> deadline;  // nullopt: no timeout
  friend bool operator==(const RequestView&, const RequestView&) = default;
};

// A control message waiting in sendWithRetries's retry map.
struct RetryView {
  Message message;
  int retry_count = 0;
  TimeUs next_time = 0;
  friend bool operator==(const RetryView&, const RetryView&) = default;
};

struct ContextView {
  WorkerId worker = -1;
  std::vector<RRefId> owners;                      // owners_
  std::map<RRefId, std::vector<ForkId>> forks;     // forks_
  std::vector<ForkId> pending_users;               // pendingUsers_
  std::vector<ForkId> confirmed_users;             // confirmedUsers_ (weak entries, alive or not)
  std::map<ForkId, ForkId> pending_children;       // pendingChildren_: child fork -> parent's fork
  std::map<RRefId, std::int64_t> pending_owners;   // pendingOwners_: rref -> number of waiting fetches
  std::vector<UserRRefView> users;                 // live UserRRef instances, by handle
  std::vector<OwnerRRefView> owner_rrefs;          // live OwnerRRef objects, by handle
  std::vector<RequestView> requests;               // agent: attempts waiting for a response
  std::vector<RetryView> retries;                  // agent: control messages waiting to be resent
  std::int64_t client_active_calls = 0;            // TensorPipeAgent::clientActiveCalls_ (join waits for 0)
  std::int64_t gated_requests = 0;                 // requests waiting for argument confirmation
  std::int64_t running_functions = 0;              // RunFunction emitted, FinishFunction not yet called
  // The id this worker's next request takes: ids go up by one per request created, and a request sent again keeps
  // its own (hardened mode's resends), so no other request ever takes an id below it.
  std::int64_t next_message_id = 0;
  bool destroyed = false;                          // RRefContext::destroyed_
  bool aborted = false;                            // the process called std::terminate
  DebugInfo debug;
  friend bool operator==(const ContextView&, const ContextView&) = default;
};

}  // namespace rrefsim::core
