# One scenario on real torch.distributed.rpc: one process per worker on 127.0.0.1 (torch.multiprocessing's
# start_processes, as spawn, but started by fork: a spawned worker re-imports torch, about 9 s for 4 workers on this
# 2-core machine, against 1 s for a whole forked run; the parent imports torch but starts no RPC agent, store or
# thread before it forks), free ports chosen at run time, the scenario's pool size as num_worker_threads, the
# faulty agent for the `faulty-agent` profile, program barriers over a c10d TCPStore that worker 0 hosts (not RPC,
# so the runner sends no message and creates no RRef of its own), and a bounded overall time.
import copy
import datetime
import os
import socket
import tempfile
import threading
import time

from observation import Observation, normalize_error, sorted_entries

RUNNER_ERROR_EXIT = 3        # a worker's runner code failed (not PyTorch): reported as an internal error
FLUSH_TIMEOUT_S = 20         # wait_until_pending_futures_and_users_flushed's default
STORE_TIMEOUT = datetime.timedelta(seconds=600)


class Inexpressible(Exception):
    """A scenario this runner cannot run on PyTorch as written (docs/conformance.md, "The runner")."""


# The simulator's faulty-agent profile (sim/src/fault_config.cc), the same as PyTorch 1.13's test fixture.
FAULTY_DEFAULTS = {
    "messages_to_fail": ["RREF_FORK_REQUEST", "RREF_CHILD_ACCEPT", "RREF_USER_DELETE"],
    "messages_to_delay": {"PYTHON_CALL": 1.5, "SCRIPT_CALL": 1.5},
    "num_fail_sends": 3,
}
# Keys of the simulated network's own random delays: the real network brings its own.
NETWORK_NOISE_KEYS = {"delay_min_ms", "delay_max_ms"}


def fault_settings(scenario):
    """None for plain TensorPipe (`reorder`), or the faulty agent's settings; Inexpressible otherwise."""
    faults = scenario["faults"]
    profile, overrides = faults["profile"], faults.get("overrides", [])
    if profile not in ("reorder", "faulty-agent"):
        raise Inexpressible(f"fault profile {profile}: PyTorch has no agent that loses, duplicates or partitions")
    settings = copy.deepcopy(FAULTY_DEFAULTS)
    for item in overrides:
        key, _, value = item.partition("=")
        if key in NETWORK_NOISE_KEYS:
            continue
        if profile != "faulty-agent" or key not in settings:
            raise Inexpressible(f"fault override {item} under {profile}")
        if key == "num_fail_sends":
            settings[key] = int(value)
        elif key == "messages_to_fail":
            settings[key] = [name for name in value.split(",") if name]
        else:
            delays = {}
            for pair in filter(None, value.split(",")):
                name, _, ms = pair.partition(":")
                delays[name] = int(ms) / 1000.0
            settings[key] = delays
    return settings if profile == "faulty-agent" else None


def check_expressible(scenario):
    fault_settings(scenario)
    if not scenario.get("graceful_shutdown", True):
        raise Inexpressible("graceful_shutdown false: the simulator's run ends without any shutdown")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _describe(info):
    return (f"owners={info['num_owner_rrefs']} forks={info['num_forks']} "
            f"pending_users={info['num_pending_users']} pending_futures={info['num_pending_futures']}")


class StoreBarrier:
    """Program barrier k (docs/scenario-format.md): all workers arrive; each waits until its pending futures and
    users are flushed (PyTorch's wait_until_pending_futures_and_users_flushed, 20 s, then it gives up and says so);
    once all are flushed each records its four debug counters; nobody goes on before everyone recorded."""

    def __init__(self, store, workers, record):
        self.store, self.workers, self.record = store, workers, record
        self.passed = 0

    def _meet(self, key):
        if self.store.add(key, 1) == self.workers:
            self.store.set(key + "/open", "1")
        self.store.wait([key + "/open"])

    def __call__(self):
        from torch.distributed.rpc import _rref_context_get_debug_info
        self.passed += 1
        name = f"barrier {self.passed}"
        self._meet(f"b{self.passed}/arrive")
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        while True:
            info = _rref_context_get_debug_info()
            futures, users = int(info["num_pending_futures"]), int(info["num_pending_users"])
            if futures == 0 and users == 0:
                break
            if time.monotonic() > deadline:
                self.record(name, "error Timed out waiting to flush pending futures and users, had "
                            f"{futures} pending futures and {users} pending users")
                break
            time.sleep(0.01)
        self._meet(f"b{self.passed}/flushed")
        self.record(f"{name} debug", _describe(_rref_context_get_debug_info()))
        self._meet(f"b{self.passed}/recorded")


def _backend(scenario, rank, port):
    import torch.distributed.rpc as rpc
    init = f"tcp://127.0.0.1:{port}"
    threads = scenario.get("pool_size", 16)
    settings = fault_settings(scenario)
    if settings is None:
        return rpc.backend_registry.BackendType["TENSORPIPE"], rpc.TensorPipeRpcBackendOptions(
            num_worker_threads=threads, rpc_timeout=60, init_method=init)
    from torch.distributed.rpc._testing import FaultyTensorPipeRpcBackendOptions
    return rpc.backend_registry.BackendType["FAULTY_TENSORPIPE"], FaultyTensorPipeRpcBackendOptions(
        num_worker_threads=threads, rpc_timeout=60, init_method=init, messages_to_fail=settings["messages_to_fail"],
        messages_to_delay=settings["messages_to_delay"], num_fail_sends=settings["num_fail_sends"])


def worker_main(rank, scenario, rpc_port, store_port, out_dir, repeat=1):
    """One worker process: its program, then rpc.shutdown(graceful=True) unless a `shutdown` op ran."""
    import torch
    import torch.distributed as dist
    import torch.distributed.rpc as rpc
    import scenario_ops
    torch.set_num_threads(1)
    lock = threading.Lock()
    out = open(os.path.join(out_dir, f"worker{rank}.txt"), "w", buffering=1)

    def record(where, what):
        with lock:
            out.write(f"{where}\t{what}\n")  # line-buffered: a run killed at its time bound keeps what it saw

    try:
        store = dist.TCPStore("127.0.0.1", store_port, scenario["workers"], rank == 0, STORE_TIMEOUT,
                              wait_for_workers=False)
        state = scenario_ops.WorkerState(scenario, rank, record, StoreBarrier(store, scenario["workers"], record),
                                         lambda: rpc.shutdown(graceful=True))
        scenario_ops.install(state)  # before init_rpc: another worker's call may arrive as soon as it returns
        backend, options = _backend(scenario, rank, rpc_port)
        rpc.init_rpc(f"worker{rank}", backend=backend, rank=rank, world_size=scenario["workers"],
                     rpc_backend_options=options)
        start = time.monotonic()  # CLOCK_MONOTONIC: comparable across the processes of this machine
        shut_down = scenario_ops.run_program(state, repeat)
        end = time.monotonic()
        if not shut_down:
            try:
                rpc.shutdown(graceful=True)
            except Exception as e:  # the simulator records a failed shutdown too
                record("shutdown", "error " + normalize_error(str(e)))
        record("#timing", f"{start} {end} {state.rref_ops}")  # after shutdown: every function has run
    except NotImplementedError as e:
        record("#inexpressible", str(e))
        os._exit(RUNNER_ERROR_EXIT)
    out.close()


def _read_entries(out_dir, workers):
    entries, problems, timings = [], [], []
    for rank in range(workers):
        path = os.path.join(out_dir, f"worker{rank}.txt")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f.read().splitlines():
                where, _, what = line.partition("\t")
                if where == "#inexpressible":
                    problems.append(what)
                elif where == "#timing":
                    timings.append(tuple(float(x) for x in what.split()))
                elif where == "#runner_error":
                    raise RuntimeError(f"worker {rank}'s runner failed in a function:\n{what}")
                else:
                    entries.append((rank, where, what))
    return entries, problems, timings


class Timing:
    """Wall seconds of the whole run (processes, init_rpc, programs, shutdown), and of the programs alone (first
    start to last end over the workers), with the RRef ops they ran."""

    def __init__(self, wall, timings):
        self.wall = wall
        self.programs = max(t[1] for t in timings) - min(t[0] for t in timings) if timings else 0.0
        self.rref_ops = int(sum(t[2] for t in timings))


def run(scenario, time_bound_s, repeat=1):
    """Runs the scenario on PyTorch; returns (Observation, Timing). Raises Inexpressible, or RuntimeError when the
    runner itself failed in a worker."""
    import torch.multiprocessing as mp
    import scenario_ops  # noqa: F401 (imported once here, before the fork)
    check_expressible(scenario)
    workers = scenario["workers"]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    store_port, rpc_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="rrefsim-conformance-") as out_dir:
        start = time.monotonic()
        context = mp.start_processes(worker_main, args=(scenario, rpc_port, store_port, out_dir, repeat),
                                     nprocs=workers,
                                     join=False, start_method="fork")
        outcome, notes = _wait(context.processes, start + time_bound_s, time_bound_s)
        elapsed = time.monotonic() - start
        entries, problems, timings = _read_entries(out_dir, workers)
    if problems:
        raise Inexpressible("; ".join(sorted(set(problems))))
    if outcome == "runner_error":
        tracebacks = [q.get() for q in context.error_queues if not q.empty()]
        codes = [p.exitcode for p in context.processes]
        raise RuntimeError(f"a worker of the runner failed (exit codes {codes}):\n" + "\n".join(tracebacks))
    return Observation(scenario["name"], outcome, sorted_entries(entries), notes), Timing(elapsed, timings)


def _wait(processes, deadline, time_bound_s):
    """ok: every worker exited 0; worker_abort: one died of a signal it raised itself (std::terminate); deadlock:
    the time bound passed with workers still running (they are killed)."""
    while time.monotonic() < deadline:
        codes = [p.exitcode for p in processes]
        if any(code is not None and code < 0 for code in codes):
            dead = [f"worker {rank} died of signal {-code}" for rank, code in enumerate(codes)
                    if code is not None and code < 0]
            _kill(processes)
            return "worker_abort", dead
        if any(code is not None and code > 0 for code in codes):
            _kill(processes)
            return "runner_error", []
        if all(code == 0 for code in codes):
            return "ok", []
        time.sleep(0.05)
    stuck = [f"worker {rank} still running after {time_bound_s:g} s" for rank, p in enumerate(processes)
             if p.exitcode is None]
    _kill(processes)
    return "deadlock", stuck


def _kill(processes):
    for p in processes:
        if p.exitcode is None:
            p.kill()
    for p in processes:
        p.join(5)
