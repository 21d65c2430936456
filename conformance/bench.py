#!/usr/bin/python3
# The benchmark line of docs/conformance.md: one scenario's RRef operations per second on real PyTorch and in
# rrefsim, side by side, measured in one run of this script.
#
#   bench.py --rrefsim build/release/cli/rrefsim [--scenario scenarios/catalog/s3_user_to_user.json]
#            [--repeat 500] [--seeds 2000] [--json]
#
# PyTorch: one world (4 processes), each worker running its program `--repeat` times; the rate is the RRef ops the
# workers ran (remote, rpc_sync, to_here, del, local, pack, in programs and functions) over the program phase (first
# program start to last program end; process start, init_rpc and shutdown are left out, and shown apart).
# rrefsim: `rrefsim run --seeds N --threads 1 --json` (pytorch mode, every checker on, each run a whole world from
# start to shutdown); its runs/s times the RRef ops of one PyTorch repetition.
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conformance import load_scenario, torch_or_skip  # noqa: E402

DEFAULT_SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "catalog",
                                "s3_user_to_user.json")


def sim_runs_per_second(rrefsim, scenario_path, seeds):
    command = [rrefsim, "run", "--scenario", scenario_path, "--seeds", str(seeds), "--threads", "1", "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench: `{' '.join(command)}` exited {done.returncode}: {done.stderr.strip()}")
    summary = json.loads(done.stdout.splitlines()[-1])
    return summary["timing"]["runs_per_second"], summary["runs"]


def main():
    parser = argparse.ArgumentParser(description="RRef ops/s of one scenario on PyTorch and in rrefsim")
    parser.add_argument("--rrefsim", required=True)
    parser.add_argument("--scenario", default=os.path.normpath(DEFAULT_SCENARIO))
    parser.add_argument("--repeat", type=int, default=500, help="program repetitions in the PyTorch world")
    parser.add_argument("--seeds", type=int, default=2000, help="rrefsim runs")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the text line")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    torch_world = torch_or_skip()
    if any(op["op"] == "barrier" for p in scenario["programs"] for op in p["ops"]):
        raise SystemExit("bench: a scenario with barriers cannot repeat its programs in one world")
    real, timing = torch_world.run(scenario, time_bound_s=600, repeat=args.repeat)
    if real.outcome != "ok" or timing.programs <= 0:
        raise SystemExit(f"bench: the PyTorch run ended {real.outcome}")
    ops_per_run = timing.rref_ops / args.repeat
    torch_rate = timing.rref_ops / timing.programs
    runs_per_second, runs = sim_runs_per_second(args.rrefsim, args.scenario, args.seeds)
    sim_rate = runs_per_second * ops_per_run
    result = {
        "scenario": scenario["name"], "rref_ops_per_run": ops_per_run,
        "pytorch": {"rref_ops_per_second": round(torch_rate, 1), "repetitions": args.repeat,
                    "program_seconds": round(timing.programs, 3), "whole_run_seconds": round(timing.wall, 3)},
        "rrefsim": {"rref_ops_per_second": round(sim_rate, 1), "runs": runs, "runs_per_second": runs_per_second,
                    "threads": 1, "checkers": True},
        "rrefsim_over_pytorch": round(sim_rate / torch_rate, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"bench {scenario['name']}: pytorch {torch_rate:.0f} RRef ops/s ({args.repeat} repetitions of "
              f"{ops_per_run:g} ops in one 4-process world, programs {timing.programs:.2f} s, whole run "
              f"{timing.wall:.2f} s) | rrefsim {sim_rate:.0f} RRef ops/s ({runs} runs, 1 thread, checkers on) | "
              f"rrefsim/pytorch {sim_rate / torch_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
