// The strict reader for what a trace holds of the core: messages, core events, step events and worker views.
#include <algorithm>
#include <limits>

#include "json_internal.h"
#include "names.h"

namespace rrefsim::traces::detail {
namespace {

std::vector<core::GloballyUniqueId> ReadIds(Obj& o, const std::string& field) {
  return ReadList<core::GloballyUniqueId>(o, field, ReadId);
}

core::ForkData ReadForkData(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::ForkData f;
  f.owner = static_cast<core::WorkerId>(o.Worker("owner"));
  f.rref_id = o.Id("rref");
  f.fork_id = o.Id("fork");
  f.parent = static_cast<core::WorkerId>(o.Worker("parent"));
  f.type_str = o.Str("type_str");
  o.Finish();
  return f;
}

core::Value ReadAppValue(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::Value v;
  v.payload = o.I64("payload");
  const Json& handles = ExpectArray(o.Field("handles"), o.PathOf("handles"));
  for (std::size_t i = 0; i < handles.size(); ++i) {
    v.rrefs.push_back(core::Handle{ReadU64(handles[i], At(o.PathOf("handles"), i))});
  }
  o.Finish();
  return v;
}

core::Event ReadCoreEvent(const Json& value, const std::string& path) {
  Obj o(value, path);
  std::string type = o.Str("type");
  auto found = std::find(kCoreEventTypes.begin(), kCoreEventTypes.end(), type);
  if (found == kCoreEventTypes.end()) {
    std::string all;
    for (std::string_view n : kCoreEventTypes) all += (all.empty() ? "" : ", ") + std::string(n);
    throw BadValue(o.PathOf("type"), "unknown core event type \"" + type + "\" (expected one of " + all + ")");
  }
  core::Event event;
  switch (found - kCoreEventTypes.begin()) {
    case 0:
      event = core::RunFunction{o.I64("work"), static_cast<core::WorkerId>(o.Worker("caller")),
                                ReadMessageType(o.Field("request"), o.PathOf("request")), o.Str("function"),
                                ReadAppValue(o.Field("args"), o.PathOf("args"))};
      break;
    case 1: {
      core::FutureDone done;
      done.future = o.I64("future");
      done.outcome.error = o.OptStr("error");
      done.outcome.value = ReadAppValue(o.Field("value"), o.PathOf("value"));
      event = std::move(done);
      break;
    }
    case 2: {
      core::RRefId rref = o.Id("rref");
      event = core::UserRRefDestroyed{rref, o.Id("fork")};
      break;
    }
    case 3:
      event = core::OwnerRRefFreed{o.Id("rref")};
      break;
    case 4: {
      core::ProtocolError e;
      e.code = o.Str("code");
      e.text = o.Str("text");
      e.site = ReadName(kErrorSites, o, "site");
      event = std::move(e);
      break;
    }
    case 5: {
      core::Log log;
      log.level = ReadName(kLogLevels, o, "level");
      log.text = o.Str("text");
      event = std::move(log);
      break;
    }
    case 6:
      event = core::WorkerAborted{o.Str("text")};
      break;
    default: {
      core::ShutdownProgress p;
      p.step = ReadName(kShutdownSteps, o, "step");
      p.timed_out = o.Bool("timed_out");
      event = p;
      break;
    }
  }
  o.Finish();
  return event;
}

core::UserRRefView ReadUser(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::UserRRefView u;
  u.handle.id = o.U64("handle");
  u.owner = static_cast<core::WorkerId>(o.Worker("owner"));
  u.rref_id = o.Id("rref");
  u.fork_id = o.Id("fork");
  u.type_str = o.Str("type_str");
  u.app_refs = o.I64("app_refs");
  u.confirmed_by_owner = o.Bool("confirmed_by_owner");
  u.deleted_on_owner = o.Bool("deleted_on_owner");
  u.timed_out = o.Bool("timed_out");
  o.Finish();
  return u;
}

core::OwnerRRefView ReadOwner(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::OwnerRRefView r;
  r.handle.id = o.U64("handle");
  r.rref_id = o.Id("rref");
  r.type_str = o.Str("type_str");
  r.app_refs = o.I64("app_refs");
  r.value_set = o.Bool("value_set");
  r.error = o.OptStr("error");
  r.payload = o.I64("payload");
  r.nested = ReadIds(o, "nested");
  r.timed_out = o.Bool("timed_out");
  o.Finish();
  return r;
}

core::RequestView ReadRequest(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::RequestView r;
  r.id = o.I64("id");
  r.to = static_cast<core::WorkerId>(o.Worker("to"));
  r.type = ReadMessageType(o.Field("type"), o.PathOf("type"));
  const Json& deadline = o.Field("deadline_us");
  if (!deadline.is_null()) r.deadline = ReadI64(deadline, o.PathOf("deadline_us"), INT64_MIN, INT64_MAX);
  o.Finish();
  return r;
}

core::RetryView ReadRetry(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::RetryView r;
  r.message = ReadMessage(o.Field("message"), o.PathOf("message"));
  r.retry_count = static_cast<int>(o.I64("retry_count", 0, std::numeric_limits<int>::max()));
  r.next_time = o.I64("next_time_us");
  o.Finish();
  return r;
}

// A list of {KEY: id, VALUE: ...} objects into a map; a key that repeats is an error.
template <class V, class ReadValue>
std::map<core::GloballyUniqueId, V> ReadIdMap(Obj& o, const std::string& field, const std::string& key,
                                              const std::string& value_field, ReadValue read_value) {
  std::map<core::GloballyUniqueId, V> map;
  const Json& array = ExpectArray(o.Field(field), o.PathOf(field));
  for (std::size_t i = 0; i < array.size(); ++i) {
    Obj entry(array[i], At(o.PathOf(field), i));
    core::GloballyUniqueId id = entry.Id(key);
    V v = read_value(entry, value_field);
    if (!map.emplace(id, std::move(v)).second) throw BadValue(entry.PathOf(key), "this " + key + " appears twice");
    entry.Finish();
  }
  return map;
}

void ReadDebug(core::DebugInfo& d, const Json& value, const std::string& path) {
  Obj o(value, path);
  d.num_owner_rrefs = o.I64("num_owner_rrefs");
  d.num_forks = o.I64("num_forks");
  d.num_pending_users = o.I64("num_pending_users");
  d.num_pending_futures = o.I64("num_pending_futures");
  o.Finish();
}

}  // namespace

core::Message ReadMessage(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::Message m;
  m.type = ReadMessageType(o.Field("type"), o.PathOf("type"));
  m.id = o.I64("id");
  m.from = static_cast<core::WorkerId>(o.Worker("from"));
  m.to = static_cast<core::WorkerId>(o.Worker("to"));
  m.rref_id = o.Id("rref");
  m.fork_id = o.Id("fork");
  m.function = o.Str("function");
  m.type_str = o.Str("type_str");
  m.value.payload = o.I64("payload");
  m.value.rrefs = ReadList<core::ForkData>(o, "rrefs", ReadForkData);
  m.value.raised = o.OptStr("raised");
  m.error = o.Str("error");
  m.empty_payload = o.Bool("empty_payload");
  // hardened mode's stream numbers: written only when set, so pytorch-mode traces have neither field
  if (o.Has("seq")) m.seq = o.I64("seq", 1);
  if (o.Has("replies_below")) m.replies_below = o.I64("replies_below", 1);
  o.Finish();
  return m;
}

std::optional<checkers::RecordKind> RecordKindFromName(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(checkers::RecordKind::kQuiescent); ++k) {
    auto kind = static_cast<checkers::RecordKind>(k);
    if (name == checkers::RecordKindName(kind)) return kind;
  }
  return std::nullopt;
}

// The fields each kind carries are exactly those EventJson writes.
TraceEvent ReadEvent(const Json& value, const std::string& path) {
  Obj o(value, path);
  TraceEvent e;
  e.step = o.U64("step");
  e.time = o.I64("time_us", 0);
  e.worker = o.Worker("worker");
  e.fiber = o.Str("fiber");
  e.kind = o.Str("kind");
  std::optional<checkers::RecordKind> kind = RecordKindFromName(e.kind);
  if (!kind && e.kind != kStateEventKind) {
    throw BadValue(o.PathOf("kind"), "unknown event kind \"" + e.kind +
                                         "\" (expected deliver, queued, lost, send, drop, send_failed, event, timers, "
                                         "observation, quiescent or state)");
  }
  using checkers::RecordKind;
  const bool seq = kind == RecordKind::kDeliver || kind == RecordKind::kQueued || kind == RecordKind::kLost ||
                   kind == RecordKind::kSend;
  const bool outgoing = kind == RecordKind::kSend || kind == RecordKind::kDrop || kind == RecordKind::kSendFailed;
  if (seq) e.message_seq = o.U64("seq");
  if (seq || outgoing) e.message = ReadMessage(o.Field("message"), o.PathOf("message"));
  if (kind == RecordKind::kSend) e.delay = o.I64("delay_us", 0);
  if (outgoing) {
    e.retried = o.Bool("retried");
    e.retry_chain = o.I64("retry_chain", -1);
  }
  if (kind == RecordKind::kEvent) e.event = ReadCoreEvent(o.Field("event"), o.PathOf("event"));
  if (kind == RecordKind::kSendFailed || kind == RecordKind::kTimers || kind == RecordKind::kObservation) {
    e.text = o.Str("text");
  }
  if (kind == RecordKind::kObservation) {
    e.where = o.Str("where");
    e.expected_ok = o.Bool("expected_ok");
  }
  const Json& changes = ExpectArray(o.Field("changes"), o.PathOf("changes"));
  for (std::size_t i = 0; i < changes.size(); ++i) {
    Obj c(changes[i], At(o.PathOf("changes"), i));
    StateChange change;
    change.worker = static_cast<int>(c.I64("worker", 0, std::numeric_limits<core::WorkerId>::max()));
    change.change = c.Str("change");
    c.Finish();
    e.changes.push_back(std::move(change));
  }
  o.Finish();
  return e;
}

core::ContextView ReadView(const Json& value, const std::string& path) {
  Obj o(value, path);
  core::ContextView v;
  v.worker = static_cast<core::WorkerId>(o.I64("worker", 0, std::numeric_limits<core::WorkerId>::max()));
  v.owners = ReadIds(o, "owners");
  v.forks = ReadIdMap<std::vector<core::ForkId>>(o, "forks", "rref", "forks", ReadIds);
  v.pending_users = ReadIds(o, "pending_users");
  v.confirmed_users = ReadIds(o, "confirmed_users");
  v.pending_children = ReadIdMap<core::ForkId>(o, "pending_children", "child", "parent",
                                               [](Obj& entry, const std::string& f) { return entry.Id(f); });
  v.pending_owners = ReadIdMap<std::int64_t>(o, "pending_owners", "rref", "count",
                                             [](Obj& entry, const std::string& f) { return entry.I64(f); });
  v.users = ReadList<core::UserRRefView>(o, "users", ReadUser);
  v.owner_rrefs = ReadList<core::OwnerRRefView>(o, "owner_rrefs", ReadOwner);
  v.requests = ReadList<core::RequestView>(o, "requests", ReadRequest);
  v.retries = ReadList<core::RetryView>(o, "retries", ReadRetry);
  v.client_active_calls = o.I64("client_active_calls");
  v.gated_requests = o.I64("gated_requests");
  v.running_functions = o.I64("running_functions");
  v.destroyed = o.Bool("destroyed");
  v.aborted = o.Bool("aborted");
  ReadDebug(v.debug, o.Field("debug"), o.PathOf("debug"));
  o.Finish();
  return v;
}

}  // namespace rrefsim::traces::detail
