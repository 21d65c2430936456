#!/usr/bin/python3
# Conformance of rrefsim's `pytorch` mode against real PyTorch (docs/conformance.md). Run with Debian's
# /usr/bin/python3, whose python3-torch (1.13) has the RPC stack:
#
#   conformance.py run SCENARIO.json                       PyTorch's observation of the scenario
#   conformance.py compare SCENARIO.json --rrefsim BIN     ... and `BIN observe SCENARIO.json`, compared
#
# Exit status: 0 agree (or only marked differences), 1 an unexplained difference, 2 bad input, 4 the runner failed,
# 77 skipped: torch is missing or broken outside CI, or the scenario cannot be expressed on PyTorch (said loudly).
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare import compare, format_report  # noqa: E402
from observation import parse  # noqa: E402

EXIT_OK, EXIT_DIFFERENT, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_SKIP = 0, 1, 2, 4, 77
# Beyond the 60 s RPC timeout, by a margin: a run that hangs (P18, P12) first shows what its timeouts raise, as
# the simulator does, before it counts as a deadlock. PyTorch's own later give-ups (join's store timeout) come after.
DEFAULT_TIME_BOUND_S = 90.0


def load_scenario(path):
    try:
        with open(path) as f:
            scenario = json.load(f)
    except OSError as e:
        raise SystemExit(_bad(f"{path}: cannot read: {e.strerror}"))
    except json.JSONDecodeError as e:
        raise SystemExit(_bad(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}"))
    if not isinstance(scenario, dict) or "name" not in scenario or "programs" not in scenario:
        raise SystemExit(_bad(f"{path}: not a scenario (expected an object with name, workers, programs, ...; "
                              "docs/scenario-format.md)"))
    return scenario


def _bad(message):
    print(f"conformance: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def torch_or_skip():
    """Imports the runner, which imports torch. Without a working torch: a failure under CI=true, else a skip that
    says so loudly (the conformance tests then did not run)."""
    try:
        import torch_world  # noqa: F401
        import torch.distributed.rpc  # noqa: F401
        import torch.distributed.rpc._testing as testing
        if not testing.is_available():
            raise ImportError("torch.distributed.rpc._testing (the faulty agent) is not available")
        return torch_world
    except Exception as e:  # ImportError, or a torch that fails while initialising
        where = f"{sys.executable}: {type(e).__name__}: {e}"
        if os.environ.get("CI") == "true":
            print(f"conformance: FAILED: real PyTorch is missing or broken under CI ({where}); "
                  "scripts/setup.sh installs python3-torch", file=sys.stderr)
            raise SystemExit(EXIT_DIFFERENT)
        print("=" * 100 + f"\nconformance: SKIPPED: real PyTorch is missing or broken ({where}).\n"
              "  The conformance tests did NOT run. Install it with scripts/setup.sh (python3-torch) and use "
              "/usr/bin/python3.\n" + "=" * 100, file=sys.stderr)
        raise SystemExit(EXIT_SKIP)


def run_real(args, scenario):
    torch_world = torch_or_skip()
    try:
        return torch_world.run(scenario, args.time_bound)
    except torch_world.Inexpressible as e:
        print(f"conformance: SKIPPED {scenario['name']}: PyTorch cannot run it as written: {e}", file=sys.stderr)
        raise SystemExit(EXIT_SKIP)
    except RuntimeError as e:
        print(f"conformance: {scenario['name']}: internal error: {e}", file=sys.stderr)
        raise SystemExit(EXIT_INTERNAL)


def observe_sim(args):
    command = [args.rrefsim, "observe", args.scenario, "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        print(f"conformance: `{' '.join(command)}` exited {done.returncode}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT if done.returncode == 2 else EXIT_INTERNAL)
    return parse(done.stdout, "rrefsim observe")


def main():
    parser = argparse.ArgumentParser(description="rrefsim scenarios on real torch.distributed.rpc")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "compare"):
        p = sub.add_parser(name)
        p.add_argument("scenario", help="a scenario file (docs/scenario-format.md)")
        p.add_argument("--time-bound", type=float, default=DEFAULT_TIME_BOUND_S,
                       help="seconds before a run that has not ended counts as a deadlock (default %(default)s)")
        if name == "compare":
            p.add_argument("--rrefsim", required=True, help="the rrefsim binary")
            p.add_argument("--seed", type=int, default=0, help="the simulator's seed (default 0)")
            p.add_argument("--show", action="store_true", help="also print both observations")
            p.add_argument("--attempts", type=int, default=1,
                           help="PyTorch runs before an unexplained difference fails (default 1); the ones that "
                                "differ are printed. Real PyTorch is timing-dependent: a process starved for seconds "
                                "on a loaded machine can turn a 1 ms timeout into a value")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    if args.command == "compare":
        sim = observe_sim(args)  # first: a scenario the strict reader refuses exits 2 before any process starts
    if args.command == "run":
        real, timing = run_real(args, scenario)
        real.notes.append(f"PyTorch run took {timing.wall:.1f} s")
        sys.stdout.write(real.format())
        return EXIT_OK
    if args.attempts < 1:
        raise SystemExit(_bad(f"--attempts: expected a count of at least 1, got {args.attempts}"))
    for attempt in range(1, args.attempts + 1):
        real, timing = run_real(args, scenario)
        real.notes.append(f"PyTorch run took {timing.wall:.1f} s")
        if args.show:
            sys.stdout.write("--- pytorch\n" + real.format() + "--- rrefsim\n" + sim.format())
        report = compare(scenario, real, sim)
        print(format_report(scenario["name"], report) + f" [PyTorch run {timing.wall:.1f} s, attempt {attempt}]")
        if report.ok():
            if attempt > 1:
                print(f"conformance: {scenario['name']}: FLAKY: PyTorch agreed on attempt {attempt} only; "
                      "the differing attempts are printed above", file=sys.stderr)
            return EXIT_OK
    return EXIT_DIFFERENT


if __name__ == "__main__":
    sys.exit(main())
