// rrefsim's protocol core embedded in a small real runtime: three workers, each a std::thread with a message queue,
// a mutex around its rrefsim::core::Worker, and a real monotonic clock. This is the "production" side of the seam:
// the simulator drives the very same core with fibers, a virtual clock and a faulty network instead.
//
// The story: worker 0 creates an RRef owned by worker 1 (rpc.remote), passes it to worker 2 in an rpc_async
// (a user-to-user fork that worker 2 must get confirmed by the owner before its function runs), both users fetch
// the value with to_here, everyone releases, and the program waits until every worker's RRef maps are empty.
// Exit 0 only if both fetches returned 42 and the protocol left nothing behind.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "rrefsim/core/worker.h"

namespace core = rrefsim::core;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kWaitLimit = std::chrono::seconds(10);  // bounds the story and then the cleanup: a hang fails the run
const Clock::time_point kStart = Clock::now();
const Clock::time_point kGiveUp = kStart + kWaitLimit;

// The core never reads a clock: the host passes `now`, here microseconds since the program started.
core::TimeUs Now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - kStart).count();
}
Clock::time_point ToTimePoint(core::TimeUs t) { return kStart + std::chrono::microseconds(t); }

std::mutex log_mu;
void Log(core::WorkerId worker, const std::string& text) {
  std::lock_guard lock(log_mu);
  std::printf("[%8.3f ms] w%d  %s\n", static_cast<double>(Now()) / 1000.0, worker, text.c_str());
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

class Host;
// A user function runs on the worker that received the request. It owns one reference per handle in `args`
// (ownership rule of events.h): it moves the ones it keeps out of `args`, and the host hands the rest back to the
// core in FunctionResult::release_after_reply.
using UserFunction = core::FunctionResult (*)(Host& host, std::vector<core::Handle>& args);

// One worker's host: the core behind a mutex, an inbox served by a receive thread, and what the application is
// waiting for. Lock order: a host's mu_, then any host's inbox_mu_; never two mu_ at once.
class Host {
 public:
  Host(core::WorkerId id, std::vector<std::unique_ptr<Host>>& all) : id_(id), all_(all), worker_(Config(id)) {}
  ~Host() { Stop(); }

  void Start() { thread_ = std::thread([this] { ReceiveLoop(); }); }
  void Stop() {
    {
      std::lock_guard lock(inbox_mu_);
      stop_ = true;
    }
    inbox_cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  // Any thread: queue a message for this worker.
  void Post(const core::Message& message) {
    {
      std::lock_guard lock(inbox_mu_);
      inbox_.push_back(message);
    }
    inbox_cv_.notify_one();
  }

  // The application's side: run `call(worker, now, out)` on the core, carry out its output, and return its result.
  template <class Call>
  auto Do(Call call) {
    std::unique_lock lock(mu_);
    core::Output out;
    auto result = call(worker_, Now(), out);
    Dispatch(std::move(out));
    lock.unlock();
    Wake();  // the call may have set an earlier deadline than the one the receive thread sleeps on
    return result;
  }
  void Release(core::Handle handle) {
    Do([&](core::Worker& w, core::TimeUs now, core::Output& out) {
      w.Release(handle, now, out);
      return true;
    });
  }

  // Waits for an application future (FutureDone); nullopt once the story's time is up.
  std::optional<core::Outcome> Wait(core::FutureId future) {
    std::unique_lock lock(mu_);
    if (!app_cv_.wait_until(lock, kGiveUp, [&] { return done_.count(future) > 0; })) return std::nullopt;
    core::Outcome outcome = std::move(done_[future]);
    done_.erase(future);
    return outcome;
  }
  // Waits until a user function kept a handle, and hands that reference to the caller.
  std::optional<core::Handle> TakeKept() {
    std::unique_lock lock(mu_);
    if (!app_cv_.wait_until(lock, kGiveUp, [&] { return !kept_.empty(); })) return std::nullopt;
    core::Handle handle = kept_.front();
    kept_.erase(kept_.begin());
    return handle;
  }
  // From a user function (mu_ is held): keep a reference for the application, and wake whoever waits for it.
  void Keep(core::Handle handle) {
    kept_.push_back(handle);
    app_cv_.notify_all();
  }
  core::WorkerId id() const { return id_; }

  // Clean: empty RRef maps, no control message awaiting its ACK, no live RRef instance, no protocol error.
  bool Clean(core::DebugInfo* debug) {
    std::lock_guard lock(mu_);
    core::ContextView view = worker_.View();
    *debug = view.debug;
    return view.debug == core::DebugInfo{} && view.users.empty() && view.owner_rrefs.empty() && !failed_;
  }

 private:
  static core::WorkerConfig Config(core::WorkerId id) {
    core::WorkerConfig config;
    config.id = id;
    return config;
  }

  void Wake() {
    {
      std::lock_guard lock(inbox_mu_);
      wake_ = true;
    }
    inbox_cv_.notify_one();
  }

  // The receive thread: sleeps until a message arrives or the core's next deadline passes, then feeds the core.
  void ReceiveLoop() {
    for (;;) {
      std::optional<core::TimeUs> deadline;
      {
        std::lock_guard lock(mu_);
        deadline = worker_.NextDeadline();
      }
      std::deque<core::Message> batch;
      {
        std::unique_lock lock(inbox_mu_);
        auto ready = [&] { return stop_ || wake_ || !inbox_.empty(); };
        if (deadline) {
          inbox_cv_.wait_until(lock, ToTimePoint(*deadline), ready);
        } else {
          inbox_cv_.wait(lock, ready);
        }
        if (stop_) return;
        wake_ = false;
        batch.swap(inbox_);
      }
      std::lock_guard lock(mu_);
      for (const core::Message& message : batch) {
        core::Output out;
        worker_.Receive(message, Now(), out);
        Dispatch(std::move(out));
      }
      // Timers: retries of control messages and request timeouts are the core's; it only needs to be called.
      if (std::optional<core::TimeUs> next = worker_.NextDeadline(); next && *next <= Now()) {
        core::Output out;
        worker_.AdvanceTo(Now(), out);
        Dispatch(std::move(out));
      }
    }
  }

  // Carries out an Output and everything it causes (running a function produces more output). Requires mu_.
  void Dispatch(core::Output first) {
    std::deque<core::Output> todo;
    todo.push_back(std::move(first));
    while (!todo.empty()) {
      core::Output out = std::move(todo.front());
      todo.pop_front();
      for (const core::OutgoingMessage& outgoing : out.messages) {
        Log(id_, "send " + core::Describe(outgoing.message));
        all_.at(static_cast<std::size_t>(outgoing.message.to))->Post(outgoing.message);
      }
      for (const core::Event& event : out.events) OnEvent(event, todo);
    }
  }

  void OnEvent(const core::Event& event, std::deque<core::Output>& todo) {
    std::visit(Overloaded{
                   [&](const core::RunFunction& run) { todo.push_back(Run(run)); },
                   [&](const core::FutureDone& done) {
                     done_[done.future] = done.outcome;
                     app_cv_.notify_all();
                   },
                   [&](const core::UserRRefDestroyed& e) {
                     Log(id_, "UserRRef destroyed: fork " + core::ToString(e.fork_id));
                   },
                   [&](const core::OwnerRRefFreed& e) { Log(id_, "OwnerRRef freed: " + core::ToString(e.rref_id)); },
                   [&](const core::ProtocolError& e) {
                     failed_ = true;
                     Log(id_, "PROTOCOL ERROR " + e.code + ": " + e.text);
                   },
                   [&](const core::Log& e) { Log(id_, "core log: " + e.text); },
                   [&](const core::WorkerAborted& e) {
                     failed_ = true;
                     Log(id_, "ABORTED: " + e.text);
                   },
                   [&](const core::ShutdownProgress&) {},
               },
               event);
  }

  // Runs a user function that the core released (its RRef arguments are confirmed) and reports how it ended.
  // Functions here never block, so running them on the receive thread under mu_ is fine; one that waits (e.g. a
  // to_here inside the body) would need its own thread, and would report FinishFunction from there.
  core::Output Run(const core::RunFunction& run);

  core::WorkerId id_;
  std::vector<std::unique_ptr<Host>>& all_;

  std::mutex mu_;  // guards everything below down to inbox_mu_
  core::Worker worker_;
  std::condition_variable app_cv_;  // a future completed or a handle was kept
  std::map<core::FutureId, core::Outcome> done_;
  std::vector<core::Handle> kept_;
  bool failed_ = false;

  std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;
  std::deque<core::Message> inbox_;
  bool wake_ = false;
  bool stop_ = false;
  std::thread thread_;
};

core::FunctionResult Returned(std::int64_t payload) {
  core::FunctionResult result;
  result.value.payload = payload;
  return result;
}

// The function table: what a request names, and what runs.
core::FunctionResult MakeValue(Host&, std::vector<core::Handle>&) { return Returned(42); }
// Keeps the RRef it was given (worker 2's program fetches it later) and returns 0. It must not call to_here itself:
// it runs on the receive thread, which is the one that would deliver the answer.
core::FunctionResult KeepAndFetch(Host& host, std::vector<core::Handle>& args) {
  if (args.size() != 1) {
    return {.kind = core::FunctionResult::Kind::kRaised,
            .value = {},
            .error = "want one RRef",
            .release_after_reply = {}};
  }
  host.Keep(args.front());
  args.clear();
  return Returned(0);
}
const std::map<std::string, UserFunction> kFunctions = {{"make_value", MakeValue}, {"keep_and_fetch", KeepAndFetch}};

core::Output Host::Run(const core::RunFunction& run) {
  Log(id_, "run " + run.function + " for w" + std::to_string(run.caller));
  std::vector<core::Handle> args = run.args.rrefs;
  core::FunctionResult result{
      .kind = core::FunctionResult::Kind::kFailed, .value = {}, .error = {}, .release_after_reply = {}};
  if (auto it = kFunctions.find(run.function); it != kFunctions.end()) {
    result = it->second(*this, args);
  } else {
    result.error = "unknown function " + run.function;
  }
  // The references the function did not keep: the core frees them right after the reply, before anything the
  // function held back (as PyTorch frees the request's arguments, §9.4).
  result.release_after_reply = args;
  core::Output out;
  worker_.FinishFunction(run.work, result, Now(), out);
  return out;
}

// Fetches `rref` on `host`, releases whatever handles came back, and returns the payload (nullopt on error).
std::optional<std::int64_t> Fetch(Host& host, core::Handle rref) {
  const core::WorkerId worker = host.id();
  auto future = host.Do([&](core::Worker& w, core::TimeUs now, core::Output& out) {
    return w.ToHere(rref, std::nullopt, now, out);
  });
  if (!future.ok()) {
    Log(worker, "to_here refused: " + future.error);
    return std::nullopt;
  }
  std::optional<core::Outcome> outcome = host.Wait(*future.value);
  if (!outcome || !outcome->ok()) {
    Log(worker, "to_here failed: " + (outcome ? *outcome->error : std::string("no answer in time")));
    return std::nullopt;
  }
  for (core::Handle handle : outcome->value.rrefs) host.Release(handle);
  Log(worker, "to_here -> " + std::to_string(outcome->value.payload));
  return outcome->value.payload;
}

// Owns the hosts. Every receive thread stops before any host is destroyed, since a thread may still post to
// another host.
struct Runtime {
  std::vector<std::unique_ptr<Host>> hosts;
  explicit Runtime(int workers) {
    for (core::WorkerId id = 0; id < workers; ++id) hosts.push_back(std::make_unique<Host>(id, hosts));
    for (auto& host : hosts) host->Start();
  }
  ~Runtime() { Stop(); }
  void Stop() {
    for (auto& host : hosts) host->Stop();
  }
};

}  // namespace

int main() {
  Runtime runtime(3);
  std::vector<std::unique_ptr<Host>>& hosts = runtime.hosts;
  Host& w0 = *hosts[0];
  Host& w2 = *hosts[2];
  bool ok = true;

  // Worker 0: rref = rpc.remote(1, make_value). Worker 0 gets a UserRRef; worker 1 will own the value.
  Log(0, "remote(to=1, make_value)");
  core::CallSpec remote;
  remote.to = 1;
  remote.function = "make_value";
  core::Expected<core::Handle> rref =
      w0.Do([&](core::Worker& w, core::TimeUs now, core::Output& out) { return w.Remote(remote, now, out); });
  if (!rref.ok()) {
    Log(0, "remote failed: " + rref.error);
    return 1;
  }

  // Worker 0: rpc_async(2, keep_and_fetch, args=(rref,)). The RRef is forked into the message; worker 2's function
  // runs only once the owner has confirmed worker 2's new UserRRef.
  Log(0, "rpc_async(to=2, keep_and_fetch, args={rref})");
  core::CallSpec keep;
  keep.to = 2;
  keep.function = "keep_and_fetch";
  keep.args.rrefs = {*rref.value};  // borrowed: worker 0 still holds its own reference
  core::Expected<core::FutureId> call =
      w0.Do([&](core::Worker& w, core::TimeUs now, core::Output& out) { return w.RpcAsync(keep, now, out); });
  ok = ok && call.ok();

  std::optional<std::int64_t> value0 = Fetch(w0, *rref.value);

  // Worker 2's program: take the RRef its function kept, and fetch it from the owner.
  std::optional<std::int64_t> value2;
  if (std::optional<core::Handle> kept = w2.TakeKept()) {
    value2 = Fetch(w2, *kept);
    w2.Release(*kept);
  } else {
    Log(2, "keep_and_fetch never ran");
  }

  if (call.ok()) {
    std::optional<core::Outcome> reply = w0.Wait(*call.value);
    ok = ok && reply && reply->ok();
    if (reply) {
      for (core::Handle handle : reply->value.rrefs) w0.Release(handle);
    }
    Log(0, std::string("rpc_async reply: ") + (reply && reply->ok() ? "ok" : "FAILED"));
  }
  Log(0, "release rref");
  w0.Release(*rref.value);

  // Deletion is asynchronous (RREF_USER_DELETE, its ACK, the owner freeing the value): poll until all is clean.
  bool clean = false;
  std::vector<core::DebugInfo> debug(hosts.size());
  for (auto deadline = Clock::now() + kWaitLimit; !clean && Clock::now() < deadline;) {
    clean = true;
    for (std::size_t i = 0; i < hosts.size(); ++i) clean = hosts[i]->Clean(&debug[i]) && clean;
    if (!clean) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  runtime.Stop();

  for (std::size_t i = 0; i < hosts.size(); ++i) {
    std::printf("w%zu: owners=%lld forks=%lld pending_users=%lld pending_futures=%lld\n", i,
                static_cast<long long>(debug[i].num_owner_rrefs), static_cast<long long>(debug[i].num_forks),
                static_cast<long long>(debug[i].num_pending_users),
                static_cast<long long>(debug[i].num_pending_futures));
  }
  ok = ok && value0 == 42 && value2 == 42 && clean;
  std::printf("%s: w0 got %s, w2 got %s, %s\n", ok ? "OK" : "FAILED", value0 ? std::to_string(*value0).c_str() : "-",
              value2 ? std::to_string(*value2).c_str() : "-", clean ? "all workers clean" : "NOT clean after 10 s");
  return ok ? 0 : 1;
}
