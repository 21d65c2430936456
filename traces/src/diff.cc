// DiffViews: what a step changed in one worker's core state, one line per change, in a fixed order of fields.
#include <algorithm>
#include <functional>
#include <iterator>
#include <map>

#include "rrefsim/traces/recorder.h"
#include "text.h"

namespace rrefsim::traces {
namespace {

using detail::IdText;
using detail::OwnerText;
using detail::UserText;
using Lines = std::vector<std::string>;

std::string Bool(bool b) { return b ? "true" : "false"; }

// Multiset difference of two lists: "NAME += x" for each added element, then "NAME -= x" for each removed one.
template <class T>
void DiffList(const std::string& name, std::vector<T> before, std::vector<T> after,
              const std::function<std::string(const T&)>& text, Lines& out) {
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  std::vector<T> added, removed;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(removed));
  for (const T& x : added) out.push_back(name + " += " + text(x));
  for (const T& x : removed) out.push_back(name + " -= " + text(x));
}

void DiffIds(const std::string& name, const std::vector<core::GloballyUniqueId>& before,
             const std::vector<core::GloballyUniqueId>& after, Lines& out) {
  DiffList<core::GloballyUniqueId>(name, before, after, IdText, out);
}

// A map keyed by id: "NAME[k] = v" for a new or changed entry (with "(was w)"), "NAME -= k" for an erased one.
template <class V>
void DiffMap(const std::string& name, const std::map<core::GloballyUniqueId, V>& before,
             const std::map<core::GloballyUniqueId, V>& after, const std::function<std::string(const V&)>& text,
             Lines& out) {
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    if (it == before.end()) {
      out.push_back(name + "[" + IdText(key) + "] = " + text(value));
    } else if (!(it->second == value)) {
      out.push_back(name + "[" + IdText(key) + "] = " + text(value) + " (was " + text(it->second) + ")");
    }
  }
  for (const auto& [key, value] : before) {
    if (!after.contains(key)) out.push_back(name + " -= " + IdText(key));
  }
}

void DiffForks(const core::ContextView& b, const core::ContextView& a, Lines& out) {
  std::map<core::RRefId, int> keys;
  for (const auto& [rref, forks] : b.forks) keys[rref] |= 1;
  for (const auto& [rref, forks] : a.forks) keys[rref] |= 2;
  static const std::vector<core::ForkId> kNone;
  for (const auto& [rref, where] : keys) {
    const std::vector<core::ForkId>& before = where & 1 ? b.forks.at(rref) : kNone;
    const std::vector<core::ForkId>& after = where & 2 ? a.forks.at(rref) : kNone;
    const std::string name = "forks_[" + IdText(rref) + "]";
    DiffIds(name, before, after, out);
    if (where == 2 && after.empty()) out.push_back(name + " created empty");
    if (where == 1 && before.empty()) out.push_back(name + " erased");
  }
}

// "NAME: field x -> y, ..." for the fields that differ, or nothing.
class FieldDiff {
 public:
  template <class T>
  FieldDiff& Field(const char* name, const T& before, const T& after, std::string (*text)(const T&)) {
    if (!(before == after)) parts_ += (parts_.empty() ? "" : ", ") + std::string(name) + " " + text(before) + " -> " + text(after);
    return *this;
  }
  void Emit(const std::string& what, Lines& out) const {
    if (!parts_.empty()) out.push_back(what + ": " + parts_);
  }

 private:
  std::string parts_;
};

std::string Int(const std::int64_t& v) { return std::to_string(v); }
std::string BoolText(const bool& v) { return Bool(v); }
std::string OptText(const std::optional<std::string>& v) { return v ? "\"" + *v + "\"" : "none"; }
std::string IdsText(const std::vector<core::ForkId>& ids) {
  std::string s;
  for (const core::ForkId& id : ids) s += (s.empty() ? "" : " ") + IdText(id);
  return "[" + s + "]";
}

// Live instances by handle: "NAME += x" for a new one, "NAME -= x" for a gone one, and `fields` (a FieldDiff of the
// two versions) for one that stays.
template <class T>
void DiffByHandle(const std::string& name, const std::vector<T>& before, const std::vector<T>& after,
                  std::string (*text)(const T&), const std::function<FieldDiff(const T&, const T&)>& fields,
                  std::string (*label)(const T&), Lines& out) {
  std::map<std::uint64_t, const T*> old;
  for (const T& x : before) old[x.handle.id] = &x;
  for (const T& x : after) {
    auto it = old.find(x.handle.id);
    if (it == old.end()) {
      out.push_back(name + " += " + text(x));
      continue;
    }
    fields(*it->second, x).Emit(label(x), out);
    old.erase(it);
  }
  for (const auto& [handle, x] : old) out.push_back(name + " -= " + text(*x));
}

FieldDiff UserFields(const core::UserRRefView& p, const core::UserRRefView& u) {
  return FieldDiff()
      .Field("app_refs", p.app_refs, u.app_refs, Int)
      .Field("confirmed_by_owner", p.confirmed_by_owner, u.confirmed_by_owner, BoolText)
      .Field("deleted_on_owner", p.deleted_on_owner, u.deleted_on_owner, BoolText)
      .Field("timed_out", p.timed_out, u.timed_out, BoolText);
}

std::string UserLabel(const core::UserRRefView& u) {
  return "user h" + std::to_string(u.handle.id) + " (fork " + IdText(u.fork_id) + ")";
}

FieldDiff OwnerFields(const core::OwnerRRefView& p, const core::OwnerRRefView& o) {
  return FieldDiff()
      .Field("app_refs", p.app_refs, o.app_refs, Int)
      .Field("value_set", p.value_set, o.value_set, BoolText)
      .Field("payload", p.payload, o.payload, Int)
      .Field("error", p.error, o.error, OptText)
      .Field("nested", p.nested, o.nested, IdsText)
      .Field("timed_out", p.timed_out, o.timed_out, BoolText);
}

std::string OwnerLabel(const core::OwnerRRefView& o) {
  return "OwnerRRef h" + std::to_string(o.handle.id) + " " + IdText(o.rref_id);
}

std::string RequestText(const core::RequestView& r) {
  return "#" + std::to_string(r.id) + " " + std::string(core::MessageTypeName(r.type)) + " to " + std::to_string(r.to) +
         (r.deadline ? " deadline " + detail::Ms(*r.deadline) : "");
}

std::string RetryText(const core::RetryView& r) {
  return core::Describe(r.message) + " (retry " + std::to_string(r.retry_count) + ", next " + detail::Ms(r.next_time) +
         ")";
}

}  // namespace

std::vector<std::string> DiffViews(const core::ContextView& b, const core::ContextView& a) {
  Lines out;
  DiffIds("owners_", b.owners, a.owners, out);
  DiffForks(b, a, out);
  DiffIds("pendingUsers_", b.pending_users, a.pending_users, out);
  DiffIds("confirmedUsers_", b.confirmed_users, a.confirmed_users, out);
  DiffMap<core::ForkId>("pendingChildren_", b.pending_children, a.pending_children, IdText, out);
  DiffMap<std::int64_t>("pendingOwners_", b.pending_owners, a.pending_owners, Int, out);
  DiffByHandle<core::UserRRefView>("users", b.users, a.users, UserText, UserFields, UserLabel, out);
  DiffByHandle<core::OwnerRRefView>("OwnerRRefs", b.owner_rrefs, a.owner_rrefs, OwnerText, OwnerFields, OwnerLabel, out);
  std::vector<std::string> before, after;
  for (const core::RequestView& r : b.requests) before.push_back(RequestText(r));
  for (const core::RequestView& r : a.requests) after.push_back(RequestText(r));
  DiffList<std::string>("requests", before, after, [](const std::string& s) { return s; }, out);
  before.clear();
  after.clear();
  for (const core::RetryView& r : b.retries) before.push_back(RetryText(r));
  for (const core::RetryView& r : a.retries) after.push_back(RetryText(r));
  DiffList<std::string>("retries", before, after, [](const std::string& s) { return s; }, out);
  FieldDiff()
      .Field("client_active_calls", b.client_active_calls, a.client_active_calls, Int)
      .Field("gated_requests", b.gated_requests, a.gated_requests, Int)
      .Field("running_functions", b.running_functions, a.running_functions, Int)
      .Field("destroyed", b.destroyed, a.destroyed, BoolText)
      .Field("aborted", b.aborted, a.aborted, BoolText)
      .Emit("agent", out);
  FieldDiff()
      .Field("num_owner_rrefs", b.debug.num_owner_rrefs, a.debug.num_owner_rrefs, Int)
      .Field("num_forks", b.debug.num_forks, a.debug.num_forks, Int)
      .Field("num_pending_users", b.debug.num_pending_users, a.debug.num_pending_users, Int)
      .Field("num_pending_futures", b.debug.num_pending_futures, a.debug.num_pending_futures, Int)
      .Emit("debug", out);
  return out;
}

}  // namespace rrefsim::traces
