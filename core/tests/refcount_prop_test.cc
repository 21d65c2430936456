// A stateful RapidCheck test of one core (worker 0) against a small reference model of its reference counts.
//
// The test is worker 0's host and plays every peer (workers 1 and 2) by hand: it hands the core incoming calls that
// carry RRefs, the owner's RREF_ACK and REMOTE_RET, the children's RREF_CHILD_ACCEPT and the users' RREF_USER_DELETE
// and RREF_FORK_REQUEST. Every user function the core releases returns at once and the host keeps its argument
// RRefs (one application reference each). After every command the core's View() must equal the model's: which
// RRef instances live, their app_refs, owners_, forks_, pendingUsers_, pendingChildren_, confirmedUsers_, and the
// RRef control messages sent so far (RREF_USER_DELETE, RREF_FORK_REQUEST, RREF_CHILD_ACCEPT), in order.
//
// The model's rules (rref-protocol.md §4, §5):
// - a UserRRef goes, sending RREF_USER_DELETE once, when the application holds no reference, it is not a pending
//   user (waiting for the owner's ACK or REMOTE_RET) and no child forked from it waits for its CHILD_ACCEPT;
// - an OwnerRRef goes when the application holds no reference and it is not in owners_, which holds it exactly while
//   forks_ has a fork of it; forking it registers the child (early registration), the last RREF_USER_DELETE ends it;
// - a received fork from its owner is confirmed at once (S5); from another user it asks the owner (FORK_REQUEST),
//   gates the call until the ACK, then accepts the child (CHILD_ACCEPT to the parent, S3); a fork of worker 0's own
//   RRef coming back is accepted at once (S4, the phantom fork).
//
// Reproduce a failure with the RC_PARAMS line RapidCheck prints:
//   RC_PARAMS="reproduce=..." build/release/core/rrefsim_core_tests --gtest_filter='RefcountProp.*'
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "rrefsim/core/worker.h"

namespace rrefsim::core {

// How RapidCheck prints ids and message types in a failing RC_ASSERT (found by ADL, so in this namespace; static:
// no other test file sees them).
static std::ostream& operator<<(std::ostream& os, const GloballyUniqueId& id) {
  return os << '(' << id.created_on << ',' << id.local_id << ')';
}
static std::ostream& operator<<(std::ostream& os, MessageType type) { return os << MessageTypeName(type); }

namespace {

constexpr WorkerId kSelf = 0;
constexpr WorkerId kPeers = 2;  // workers 1 and 2
const std::string kType = "PyObject";

// One RRef control message: type, destination, rref (unset for CHILD_ACCEPT), fork.
using Control = std::tuple<MessageType, WorkerId, RRefId, ForkId>;

bool IsControl(MessageType t) {
  return t == MessageType::RREF_USER_DELETE || t == MessageType::RREF_FORK_REQUEST ||
         t == MessageType::RREF_CHILD_ACCEPT;
}

// One RRef instance of worker 0, as the model sees it.
struct Ref {
  bool is_owner = false;
  WorkerId owner = kSelf;
  RRefId rref;
  ForkId fork;            // users: the instance's fork id
  std::uint64_t handle = 0;
  std::int64_t app_refs = 1;
  std::int64_t payload = 0;  // owners: the value
  bool alive = true;
  // Users.
  WorkerId parent = -1;            // who sent it (received forks)
  bool pending_user = false;       // in pendingUsers_: waits for the owner's ACK (received) or REMOTE_RET (remote())
  bool from_remote = false;        // made by remote(): REMOTE_RET confirms it
  bool gated = false;              // received in a call still gated on the ACK: the host does not hold it yet
  bool confirmed_by_owner = false;
  bool in_confirmed_users = false;
  std::map<ForkId, WorkerId> children;  // pendingChildren_ entries naming it: child fork -> the child's worker
  // Owners.
  std::map<ForkId, WorkerId> forks;  // forks_[rref]: fork -> the worker holding it
};

struct Model {
  std::vector<Ref> refs;
  std::int64_t next_local = 0;                 // worker 0's id counter (RRef and fork ids)
  std::uint64_t next_handle = 1;               // worker 0's handle counter
  std::map<WorkerId, std::int64_t> peer_next;  // the peers' id counters
  std::vector<Control> sent;                   // control messages worker 0 sent, in order

  ForkId GenId() { return {kSelf, next_local++}; }
  ForkId PeerId(WorkerId peer) { return {peer, peer_next[peer]++}; }
  // The host may use the reference: alive, held, and not waiting inside a gated call.
  bool Held(std::size_t i) const { return i < refs.size() && refs[i].alive && refs[i].app_refs > 0 && !refs[i].gated; }

  // Worker::Impl::DelPendingUser: the owner confirmed the user (REMOTE_RET or RREF_ACK).
  void DelPendingUser(std::size_t i) {
    Ref& r = refs[i];
    r.pending_user = false;
    r.gated = false;  // a gated call runs now, and the host keeps its argument
    r.confirmed_by_owner = true;
    r.in_confirmed_users = true;
    MaybeDestroy(i);
  }

  // Worker::Impl::MaybeDestroy.
  void MaybeDestroy(std::size_t i) {
    Ref& r = refs[i];
    if (!r.alive || r.app_refs > 0) return;
    if (r.is_owner) {
      if (r.forks.empty()) r.alive = false;  // not in owners_ any more: freed
      return;
    }
    if (!r.children.empty() || r.pending_user) return;
    r.alive = false;
    r.in_confirmed_users = false;  // delUser erases it
    sent.emplace_back(MessageType::RREF_USER_DELETE, r.owner, r.rref, r.fork);
  }
};

WorkerConfig SelfConfig() {
  WorkerConfig config;
  config.id = kSelf;
  return config;
}

struct Sut {
  Worker worker{SelfConfig()};
  TimeUs now = 0;
  std::int64_t next_message = 1'000'000;      // ids of the peers' messages
  std::vector<Control> sent;                  // control messages worker 0 sent, in order
  std::map<ForkId, Message> requests_by_fork;  // FORK_REQUEST and REMOTE_CALL sent, by fork: what to answer
  std::vector<std::string> errors;             // protocol errors and aborts: there must be none
  int owners_freed = 0;
  int released_pinned_by_child = 0;    // the last reference went while a pending child pinned the UserRRef
  int released_while_pending = 0;      // ... while it was a pending user

  void Apply(Output& out) {
    std::vector<RunFunction> runs;
    for (const OutgoingMessage& o : out.messages) {
      const Message& m = o.message;
      if (IsControl(m.type)) sent.emplace_back(m.type, m.to, m.rref_id, m.fork_id);
      if (m.type == MessageType::RREF_FORK_REQUEST || m.type == MessageType::PYTHON_REMOTE_CALL) {
        requests_by_fork[m.fork_id] = m;
      }
    }
    for (const Event& e : out.events) {
      if (const auto* run = std::get_if<RunFunction>(&e)) runs.push_back(*run);
      if (const auto* error = std::get_if<ProtocolError>(&e)) errors.push_back(error->code + " " + error->text);
      if (const auto* abort = std::get_if<WorkerAborted>(&e)) errors.push_back("abort " + abort->text);
      if (std::holds_alternative<OwnerRRefFreed>(e)) ++owners_freed;
    }
    out.clear();
    // Every released function returns at once; the host keeps its argument RRefs (no release_after_reply).
    for (const RunFunction& run : runs) {
      worker.FinishFunction(run.work, FunctionResult{FunctionResult::Kind::kReturned, Value{}, "", {}}, now, out);
      Apply(out);
    }
  }
  void Receive(Message m) {
    m.to = kSelf;
    Output out;
    worker.Receive(m, now, out);
    Apply(out);
  }
  // A request from a peer, with a fresh id.
  void Request(Message m) {
    m.id = next_message++;
    Receive(std::move(m));
  }
  // The response to a request worker 0 sent for `fork`.
  void Respond(ForkId fork, MessageType type) {
    const Message& request = requests_by_fork.at(fork);
    Message reply;
    reply.type = type;
    reply.id = request.id;
    reply.from = request.to;
    reply.rref_id = request.rref_id;
    reply.fork_id = request.fork_id;
    Receive(reply);
  }
};

// The core's state must be the model's, field by field.
void CheckAgainst(const Model& m, const Sut& s) {
  RC_ASSERT(s.errors == std::vector<std::string>{});
  RC_ASSERT(s.sent == m.sent);
  std::vector<UserRRefView> users;
  std::vector<OwnerRRefView> owners_alive;
  std::vector<RRefId> owners;
  std::map<RRefId, std::vector<ForkId>> forks;
  std::vector<ForkId> pending_users;
  std::vector<ForkId> confirmed_users;
  std::map<ForkId, ForkId> pending_children;
  for (const Ref& r : m.refs) {
    if (r.is_owner) {
      if (!r.forks.empty()) {
        owners.push_back(r.rref);
        for (const auto& [fork, holder] : r.forks) forks[r.rref].push_back(fork);
      }
      if (!r.alive) continue;
      OwnerRRefView v;
      v.handle = Handle{r.handle};
      v.rref_id = r.rref;
      v.type_str = kType;
      v.app_refs = r.app_refs;
      v.value_set = true;
      v.payload = r.payload;
      owners_alive.push_back(v);
      continue;
    }
    if (r.in_confirmed_users) confirmed_users.push_back(r.fork);
    if (!r.alive) continue;
    if (r.pending_user) pending_users.push_back(r.fork);
    for (const auto& [child, worker] : r.children) pending_children[child] = r.fork;
    UserRRefView v;
    v.handle = Handle{r.handle};
    v.owner = r.owner;
    v.rref_id = r.rref;
    v.fork_id = r.fork;
    v.type_str = kType;
    v.app_refs = r.app_refs;
    v.confirmed_by_owner = r.confirmed_by_owner;
    users.push_back(v);
  }
  std::sort(owners.begin(), owners.end());
  std::sort(pending_users.begin(), pending_users.end());
  std::sort(confirmed_users.begin(), confirmed_users.end());
  const ContextView view = s.worker.View();
  RC_ASSERT(view.users == users);
  RC_ASSERT(view.owner_rrefs == owners_alive);
  RC_ASSERT(view.owners == owners);
  RC_ASSERT(view.forks == forks);
  RC_ASSERT(view.pending_users == pending_users);
  RC_ASSERT(view.confirmed_users == confirmed_users);
  RC_ASSERT(view.pending_children == pending_children);
  RC_ASSERT(view.pending_owners.empty());
  RC_ASSERT(!view.aborted);
}

using Command = rc::state::Command<Model, Sut>;

// The index of a ref for which `ok` holds, drawn from the model (npos when there is none: the command is then
// discarded by its precondition).
template <class Pred>
std::size_t PickRef(const Model& m, Pred ok) {
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < m.refs.size(); ++i) {
    if (ok(m, i)) candidates.push_back(i);
  }
  if (candidates.empty()) return SIZE_MAX;
  return *rc::gen::elementOf(candidates);
}

// The k-th entry (modulo the size) of a non-empty map: commands name an entry by position, which stays valid while
// RapidCheck shrinks the commands before it.
template <class Map>
const typename Map::value_type& Nth(const Map& map, std::size_t k) {
  return *std::next(map.begin(), static_cast<long>(k % map.size()));
}

// Which refs a command may act on.
bool IsHeld(const Model& m, std::size_t i) { return m.Held(i); }
bool IsRemotePending(const Model& m, std::size_t i) {
  return i < m.refs.size() && m.refs[i].alive && m.refs[i].from_remote && m.refs[i].pending_user;
}
bool IsGated(const Model& m, std::size_t i) { return i < m.refs.size() && m.refs[i].alive && m.refs[i].gated; }
bool HasForks(const Model& m, std::size_t i) {  // an OwnerRRef in owners_, forked to peers
  return i < m.refs.size() && m.refs[i].is_owner && !m.refs[i].forks.empty();
}
bool HasChildren(const Model& m, std::size_t i) {
  return i < m.refs.size() && m.refs[i].alive && !m.refs[i].children.empty();
}

// A command on one ref, drawn among those for which `Ok` holds; when there is none, or when shrinking has removed
// what made it valid, the precondition discards the command.
template <bool (*Ok)(const Model&, std::size_t)>
struct OnRef : Command {
  std::size_t i;
  explicit OnRef(const Model& m) : i(PickRef(m, Ok)) {}
  void checkPreconditions(const Model& m) const override { RC_PRE(Ok(m, i)); }
};

WorkerId PickPeer() { return static_cast<WorkerId>(*rc::gen::inRange(1, kPeers + 1)); }

// Runs a command's model transition on a copy, so run() can check the core against the state after it.
template <class C>
Model After(const C& command, const Model& m) {
  Model next = m;
  command.apply(next);
  return next;
}

// RRef(value): an OwnerRRef in no map.
struct CreateLocal : Command {
  std::int64_t payload = *rc::gen::inRange(0, 100);
  void apply(Model& m) const override {
    Ref r;
    r.is_owner = true;
    r.rref = m.GenId();
    r.handle = m.next_handle++;
    r.payload = payload;
    m.refs.push_back(r);
  }
  void run(const Model& m, Sut& s) const override {
    const Model next = After(*this, m);
    Handle h = s.worker.CreateLocal(Value{payload, {}}, kType);
    RC_ASSERT(h.id == next.refs.back().handle);
    CheckAgainst(next, s);
  }
  void show(std::ostream& os) const override { os << "CreateLocal(" << payload << ")"; }
};

// rpc.remote(peer): a UserRRef, a pending user until REMOTE_RET.
struct Remote : Command {
  WorkerId to = PickPeer();
  void apply(Model& m) const override {
    Ref r;
    r.owner = to;
    r.rref = m.GenId();
    r.fork = m.GenId();
    r.handle = m.next_handle++;
    r.pending_user = true;
    r.from_remote = true;
    m.refs.push_back(r);
  }
  void run(const Model& m, Sut& s) const override {
    const Model next = After(*this, m);
    Output out;
    CallSpec spec;
    spec.to = to;
    spec.function = "make";
    Expected<Handle> h = s.worker.Remote(spec, s.now, out);
    s.Apply(out);
    RC_ASSERT(h.ok());
    RC_ASSERT(h.value->id == next.refs.back().handle);
    CheckAgainst(next, s);
  }
  void show(std::ostream& os) const override { os << "Remote(to " << to << ")"; }
};

// The owner's REMOTE_RET for a remote() of worker 0.
struct ConfirmRemote : OnRef<IsRemotePending> {
  using OnRef::OnRef;
  void apply(Model& m) const override { m.DelPendingUser(i); }
  void run(const Model& m, Sut& s) const override {
    s.Respond(m.refs[i].fork, MessageType::REMOTE_RET);
    CheckAgainst(After(*this, m), s);
  }
  void show(std::ostream& os) const override { os << "ConfirmRemote(ref " << i << ")"; }
};

// A peer's call carrying a fork of an RRef owned by a peer: from its owner (S5) or from another user (S3).
struct ReceiveUserFork : Command {
  WorkerId owner = PickPeer();
  WorkerId parent = PickPeer();
  void apply(Model& m) const override {
    Ref r;
    r.owner = owner;
    r.rref = m.PeerId(owner);
    r.fork = m.PeerId(parent);
    r.parent = parent;
    r.handle = m.next_handle++;
    if (parent == owner) {
      r.in_confirmed_users = true;  // S5: the owner registered the fork before sending it
    } else {
      r.pending_user = true;  // S3: FORK_REQUEST to the owner; the call waits for its ACK
      r.gated = true;
      m.sent.emplace_back(MessageType::RREF_FORK_REQUEST, owner, r.rref, r.fork);
    }
    m.refs.push_back(r);
  }
  void run(const Model& m, Sut& s) const override {
    const Model next = After(*this, m);
    const Ref& r = next.refs.back();
    Message call;
    call.type = MessageType::PYTHON_CALL;
    call.from = parent;
    call.function = "keep";
    call.value.rrefs.push_back(ForkData{owner, r.rref, r.fork, parent, kType});
    s.Request(call);
    CheckAgainst(next, s);
  }
  void show(std::ostream& os) const override {
    os << "ReceiveUserFork(owner " << owner << ", parent " << parent << ")";
  }
};

// The owner's RREF_ACK to the FORK_REQUEST of a received fork: the gated call runs, then CHILD_ACCEPT to the parent.
struct DeliverForkAck : OnRef<IsGated> {
  using OnRef::OnRef;
  void apply(Model& m) const override {
    m.DelPendingUser(i);
    m.sent.emplace_back(MessageType::RREF_CHILD_ACCEPT, m.refs[i].parent, RRefId{}, m.refs[i].fork);
  }
  void run(const Model& m, Sut& s) const override {
    s.Respond(m.refs[i].fork, MessageType::RREF_ACK);
    CheckAgainst(After(*this, m), s);
  }
  void show(std::ostream& os) const override { os << "DeliverForkAck(ref " << i << ")"; }
};

// A peer holding a fork of worker 0's own RRef sends it back in a call: the phantom fork (S4), accepted at once.
struct ReceivePhantom : OnRef<HasForks> {
  using OnRef::OnRef;
  std::size_t holder_index = *rc::gen::inRange<std::size_t>(0, 4);
  WorkerId Holder(const Model& m) const { return Nth(m.refs[i].forks, holder_index).second; }
  void apply(Model& m) const override {
    const WorkerId holder = Holder(m);
    ++m.refs[i].app_refs;  // the host keeps the argument
    m.sent.emplace_back(MessageType::RREF_CHILD_ACCEPT, holder, RRefId{}, m.PeerId(holder));
  }
  void run(const Model& m, Sut& s) const override {
    const Model next = After(*this, m);
    const WorkerId holder = Holder(m);
    Message call;
    call.type = MessageType::PYTHON_CALL;
    call.from = holder;
    call.function = "keep";
    call.value.rrefs.push_back(ForkData{kSelf, m.refs[i].rref, std::get<3>(next.sent.back()), holder, kType});
    s.Request(call);
    CheckAgainst(next, s);
  }
  void show(std::ostream& os) const override { os << "ReceivePhantom(ref " << i << ", holder #" << holder_index << ")"; }
};

struct Retain : OnRef<IsHeld> {
  using OnRef::OnRef;
  void apply(Model& m) const override { ++m.refs[i].app_refs; }
  void run(const Model& m, Sut& s) const override {
    s.worker.Retain(Handle{m.refs[i].handle});
    CheckAgainst(After(*this, m), s);
  }
  void show(std::ostream& os) const override { os << "Retain(ref " << i << ")"; }
};

struct Release : OnRef<IsHeld> {
  using OnRef::OnRef;
  void apply(Model& m) const override {
    --m.refs[i].app_refs;
    m.MaybeDestroy(i);
  }
  void run(const Model& m, Sut& s) const override {
    const Ref& r = m.refs[i];
    if (!r.is_owner && r.app_refs == 1) {
      s.released_pinned_by_child += r.children.empty() ? 0 : 1;
      s.released_while_pending += r.pending_user ? 1 : 0;
    }
    Output out;
    s.worker.Release(Handle{r.handle}, s.now, out);
    s.Apply(out);
    CheckAgainst(After(*this, m), s);
  }
  void show(std::ostream& os) const override { os << "Release(ref " << i << ")"; }
};

// rpc_async(peer, f, args=(rref,)): pickling forks the RRef. A user pins itself with a pending child (G2); an owner
// registers the child in forks_ at once (early registration) and so enters owners_.
struct ForkOut : OnRef<IsHeld> {
  using OnRef::OnRef;
  WorkerId to = PickPeer();
  void apply(Model& m) const override {
    const ForkId child = m.GenId();
    Ref& r = m.refs[i];
    if (r.is_owner) {
      r.forks[child] = to;
    } else {
      r.children[child] = to;
    }
  }
  void run(const Model& m, Sut& s) const override {
    Output out;
    CallSpec spec;
    spec.to = to;
    spec.function = "use";
    spec.args.rrefs.push_back(Handle{m.refs[i].handle});
    Expected<FutureId> f = s.worker.RpcAsync(spec, s.now, out);
    s.Apply(out);
    RC_ASSERT(f.ok());
    CheckAgainst(After(*this, m), s);
  }
  void show(std::ostream& os) const override { os << "ForkOut(ref " << i << ", to " << to << ")"; }
};

// A peer's request that ends one entry of a ref's map: RREF_CHILD_ACCEPT from the child (or, for a phantom fork,
// the owner) of a child forked from a UserRRef, unpinning it; RREF_USER_DELETE from a user of worker 0's RRef, whose
// last one takes the OwnerRRef out of owners_.
template <MessageType kRequest, std::map<ForkId, WorkerId> Ref::*kEntries, bool (*Ok)(const Model&, std::size_t)>
struct EndEntry : OnRef<Ok> {
  using OnRef<Ok>::OnRef;
  using OnRef<Ok>::i;
  std::size_t entry_index = *rc::gen::inRange<std::size_t>(0, 4);
  std::pair<ForkId, WorkerId> Entry(const Model& m) const { return Nth(m.refs[i].*kEntries, entry_index); }
  void apply(Model& m) const override {
    (m.refs[i].*kEntries).erase(Entry(m).first);
    m.MaybeDestroy(i);
  }
  void run(const Model& m, Sut& s) const override {
    const auto [fork, peer] = Entry(m);
    Message request;
    request.type = kRequest;
    request.from = peer;
    if (kRequest == MessageType::RREF_USER_DELETE) request.rref_id = m.refs[i].rref;
    request.fork_id = fork;
    s.Request(request);
    CheckAgainst(After(*this, m), s);
  }
  void show(std::ostream& os) const override {
    os << "Deliver " << MessageTypeName(kRequest) << "(ref " << i << ", entry #" << entry_index << ")";
  }
};
using DeliverChildAccept = EndEntry<MessageType::RREF_CHILD_ACCEPT, &Ref::children, HasChildren>;
using DeliverUserDelete = EndEntry<MessageType::RREF_USER_DELETE, &Ref::forks, HasForks>;

// A user of worker 0's RRef forked it to another peer, whose FORK_REQUEST registers the new fork.
struct DeliverForkRequest : OnRef<HasForks> {
  using OnRef::OnRef;
  std::size_t parent_index = *rc::gen::inRange<std::size_t>(0, 4);
  WorkerId child_worker = PickPeer();
  WorkerId Parent(const Model& m) const { return Nth(m.refs[i].forks, parent_index).second; }
  void apply(Model& m) const override {
    const ForkId child = m.PeerId(Parent(m));  // the parent generates the child's fork id
    m.refs[i].forks[child] = child_worker;
  }
  void run(const Model& m, Sut& s) const override {
    const Model next = After(*this, m);
    Model ids = m;
    Message request;
    request.type = MessageType::RREF_FORK_REQUEST;
    request.from = child_worker;
    request.rref_id = m.refs[i].rref;
    request.fork_id = ids.PeerId(Parent(m));
    s.Request(request);
    CheckAgainst(next, s);
  }
  void show(std::ostream& os) const override {
    os << "DeliverForkRequest(ref " << i << ", parent #" << parent_index << ", child on " << child_worker << ")";
  }
};

RC_GTEST_PROP(RefcountProp, OneCoreMatchesTheReferenceModel, ()) {
  const Model model;
  Sut sut;
  rc::state::check(model, sut,
                   rc::state::gen::execOneOfWithArgs<CreateLocal, Remote, ConfirmRemote, ReceiveUserFork,
                                                     DeliverForkAck, ReceivePhantom, Retain, Release, ForkOut,
                                                     DeliverChildAccept, DeliverUserDelete, DeliverForkRequest>());
  // What the sequence exercised, so a run shows that the interesting paths are covered.
  const auto sent = [&](MessageType type) {
    return std::any_of(sut.sent.begin(), sut.sent.end(), [&](const Control& c) { return std::get<0>(c) == type; });
  };
  RC_CLASSIFY(sent(MessageType::RREF_USER_DELETE), "RREF_USER_DELETE");
  RC_CLASSIFY(sent(MessageType::RREF_FORK_REQUEST), "RREF_FORK_REQUEST");
  RC_CLASSIFY(sent(MessageType::RREF_CHILD_ACCEPT), "RREF_CHILD_ACCEPT");
  RC_CLASSIFY(sut.owners_freed > 0, "OwnerRRef freed");
  RC_CLASSIFY(sut.released_pinned_by_child > 0, "last release while a child pins");
  RC_CLASSIFY(sut.released_while_pending > 0, "last release while pending");
}

}  // namespace
}  // namespace rrefsim::core
