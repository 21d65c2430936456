# The scenario interpreter on real torch.distributed.rpc: the ops of docs/scenario-format.md, each as the PyTorch
# call it names, recording the observations the simulator's interpreter records (sim/src/interpreter.cc) under the
# same names ("program 0 op 3", "fetch on 2 op 0"). It runs inside a worker process after rpc.init_rpc; functions
# run on the agent's pool threads through one UDF, run_function, that every worker can import by name.
import builtins
import threading
import time

import torch
import torch.distributed.rpc as rpc

from observation import normalize_error

DEFAULT_TIMEOUT = rpc.constants.UNSET_RPC_TIMEOUT
_NOT_RETURNED = object()  # a block that ran to its end without a `return`
RUNNER_BUGS = (AttributeError, KeyError, NameError, IndexError)  # raised by this file, never observed as results


class Value:
    """A variable's value: an integer payload and the RRefs it holds (pickled by RPC, which forks the RRefs)."""

    def __init__(self, payload=0, rrefs=()):
        self.payload = payload
        self.rrefs = list(rrefs)


class Raised(Exception):
    """An error the interpreter itself raises to the application (an RRef index that is not there)."""


class Propagate(Exception):
    """A function ends with this error text: a `raise` op, or an error it observed (the simulator's kRaised)."""


class WorkerState:
    """What the interpreter needs in this worker process: the scenario, its rank, and where observations go."""

    def __init__(self, scenario, rank, record, barrier, shutdown):
        self.scenario = scenario
        self.functions = {f["name"]: f["body"] for f in scenario.get("functions", [])}
        self.rank = rank
        self.workers = scenario["workers"]
        self.record = record        # record(where, what): one observation, thread-safe
        self.barrier = barrier      # barrier(number): the program barrier of docs/scenario-format.md
        self.shutdown = shutdown    # shutdown(): rpc.shutdown(graceful=True)
        self.rref_ops = 0           # ops that create, share, fetch or release RRefs, run so far (for bench.py)


_state = None
_state_lock = threading.Lock()


def install(state):
    global _state
    with _state_lock:
        _state = state


def evaluate(expr, args_payload, worker, workers):
    """An integer expression (docs/scenario-format.md): literal, args + n or self + n, maybe modulo the world."""
    if isinstance(expr, int):
        return expr
    if "literal" in expr:
        value, modulo = expr["literal"], expr.get("modulo_world", False)
    elif "args" in expr:
        value, modulo = args_payload + expr["args"], expr.get("modulo_world", False)
    else:
        value, modulo = worker + expr["self"], expr.get("modulo_world", True)
    return value % workers if modulo else value


def seconds(op):
    """An op's RPC timeout in seconds for PyTorch: left out is the agent's default (60 s), 0 is no timeout."""
    if "timeout_us" not in op:
        return DEFAULT_TIMEOUT
    return op["timeout_us"] / 1e6


class Frame:
    """One program's or function's variables and where its observations are recorded."""

    def __init__(self, state, where, in_function, variables=None):
        self.state = state
        self.where = where
        self.in_function = in_function
        self.vars = variables or {}
        self.shut_down = False

    def eval(self, expr, worker=None):
        args = self.vars.get("args")
        return evaluate(expr, args.payload if args else 0, self.state.rank if worker is None else worker,
                        self.state.workers)

    def observe(self, index, what):
        self.state.record(f"{self.where} op {index}", what)


def _rrefs_of(frame, names):
    rrefs = []
    for name in names:
        if name in frame.vars:
            rrefs.extend(frame.vars[name].rrefs)
    return rrefs


def _script_call(frame, op, to):
    """A builtin call (SCRIPT_* messages): torch.add computing the function's single `return value` on `to`."""
    body = frame.state.functions[op["function"]]
    if len(body) != 1 or body[0]["op"] != "return" or "var" in body[0]:
        raise NotImplementedError(f"script function {op['function']} is not a single `return value`")
    payload = frame.eval(op.get("payload", 0))
    value = evaluate(body[0].get("value", 0), payload, to, frame.state.workers)
    return torch.add, (torch.tensor(value), 0)


def _call(frame, op):
    """The callable and arguments of a remote/rpc_sync op: a builtin, or run_function with the RRefs forked."""
    to = frame.eval(op["to"])
    if "script" in op:
        function, args = _script_call(frame, op, to)
    else:
        function = run_function
        args = (op["function"], frame.eval(op.get("payload", 0)), *_rrefs_of(frame, op.get("args", [])))
    return to, function, args


def _as_value(result):
    if isinstance(result, Value):
        return result
    if isinstance(result, torch.Tensor):
        return Value(int(result.item()))
    return Value(int(result))


def _assign(frame, name, value):
    if name:
        frame.vars[name] = value  # the old value's RRefs are released as Python drops it


RREF_OPS = ("remote", "rpc_sync", "to_here", "del", "local", "pack")  # what the benchmark counts


def _exec_one(frame, op, index):
    kind = op["op"]
    if kind in RREF_OPS:
        frame.state.rref_ops += 1
    if kind == "remote":
        to, function, args = _call(frame, op)
        rref = rpc.remote(to, function, args=args, timeout=seconds(op))
        del args
        _assign(frame, op.get("out"), Value(0, [rref]))
        del rref
    elif kind == "rpc_sync":
        to, function, args = _call(frame, op)
        result = _as_value(rpc.rpc_sync(to, function, args=args, timeout=seconds(op)))
        del args
        if "expect" in op:  # the simulator records an rpc_sync value only against an allowed set
            frame.observe(index, f"value {result.payload}")
        _assign(frame, op.get("out"), result)
    elif kind == "to_here":
        var, position = frame.vars.get(op["var"]), op.get("index", 0)
        if var is None or position >= len(var.rrefs):
            raise Raised(f"no RRef at index {position} of '{op['var']}'")
        timeout = seconds(op)
        result = _as_value(var.rrefs[position].to_here(timeout))
        frame.observe(index, f"value {result.payload}")
        _assign(frame, op.get("out"), result)
    elif kind == "expect":
        expected = frame.eval(op["value"])
        var = frame.vars.get(op["var"])
        if var is None:
            what = f"expected {expected} in '{op['var']}', which has no value (an earlier op failed)"
        elif var.payload != expected:
            what = f"expected {expected} in '{op['var']}', got {var.payload}"
        else:
            what = "as expected"
        frame.observe(index, what)
    elif kind == "del":
        frame.vars.pop(op["var"], None)
    elif kind == "local":
        _assign(frame, op.get("out"), Value(0, [rpc.RRef(Value(frame.eval(op["value"])))]))
    elif kind == "pack":
        _assign(frame, op.get("out"), Value(0, _rrefs_of(frame, op["vars"])))
    elif kind == "return":
        if "var" in op and op["var"] in frame.vars:
            return frame.vars[op["var"]]
        return Value(frame.eval(op.get("value", 0)))
    elif kind == "raise":
        raise Propagate(op["text"])
    elif kind == "if_positive":
        ops = op["then"] if frame.eval(op["value"]) > 0 else op.get("else", [])
        return _exec(frame, ops)
    elif kind == "barrier":
        frame.state.barrier()
    elif kind == "sleep":
        time.sleep(op["duration_us"] / 1e6)
    elif kind == "shutdown":
        frame.state.shutdown()
        frame.shut_down = True
    else:
        raise NotImplementedError(f"op {kind}")
    return _NOT_RETURNED


def _exec(frame, ops):
    """Runs a block; returns the Value a `return` produced, or _NOT_RETURNED. An error PyTorch raises to the
    application is observed; in a function it also ends the function with that error, as the simulator does."""
    for index, op in enumerate(ops):
        try:
            returned = _exec_one(frame, op, index)
        except (Propagate, NotImplementedError) + RUNNER_BUGS:
            # already observed (a nested block), a scenario this runner cannot express, or the runner's own bug (a
            # scenario's `raise` of these types would be mistaken for one: the catalog raises none)
            raise
        except Exception as exc:  # what PyTorch raises to the application, of the remote function's own type too
            text = normalize_error(str(exc))
            del exc  # its traceback holds this frame's RRefs
            frame.observe(index, f"error {text}")
            if frame.in_function:
                raise Propagate(text) from None
            continue
        if returned is not _NOT_RETURNED:
            return returned
    return _NOT_RETURNED


def run_program(state, repeat=1):
    """A worker's program (`repeat` times, each with fresh variables, for the benchmark); returns whether it shut
    down itself (a `shutdown` op), else the caller shuts down."""
    shut_down = False
    for _ in range(repeat):
        frame = Frame(state, f"program {state.rank}", in_function=False)
        _exec(frame, state.scenario["programs"][state.rank]["ops"])
        frame.vars.clear()  # the program's end releases its variables, as Python frees a frame
        shut_down = shut_down or frame.shut_down
    return shut_down


def run_function(name, payload, *rrefs):
    """The one Python UDF: runs scenario function `name` with `args` = (rrefs, payload) on this worker."""
    state = _state
    frame = Frame(state, f"{name} on {state.rank}", in_function=True, variables={"args": Value(payload, rrefs)})
    del rrefs
    try:
        returned = _exec(frame, state.functions[name])
    except (NotImplementedError,) + RUNNER_BUGS as exc:
        # the runner's own failure, not PyTorch's: said as such, never observed as a result
        state.record("#runner_error" if not isinstance(exc, NotImplementedError) else "#inexpressible",
                     repr(exc).replace("\n", " "))
        raise
    except Propagate as exc:
        text = str(exc)
        frame.vars.clear()
        kind, _, message = text.partition(": ")
        error = getattr(builtins, kind, None) if message else None
        if isinstance(error, type) and issubclass(error, Exception):
            raise error(message) from None
        raise RuntimeError(text) from None
    result = Value(0) if returned is _NOT_RETURNED else Value(returned.payload, returned.rrefs)
    frame.vars.clear()
    return result
