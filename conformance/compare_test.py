#!/usr/bin/python3
# The comparison without torch: PyTorch's error wrappers stripped, observations parsed strictly, and every kind of
# difference found and named (outcome, a result, a counter field, a place only one side has), while results that
# the scenario's allowed set admits both of, and marked differences, do not fail.
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from compare import compare, format_report  # noqa: E402
from observation import Observation, normalize_error, parse  # noqa: E402
from torch_world import Inexpressible, fault_settings  # noqa: E402 (imports torch only inside a run)

REMOTE_TRACEBACK = ("On WorkerInfo(id=1, name=worker1):\nValueError('Expected error')\nTraceback (most recent call "
                    "last):\n  File \"internal.py\", line 206, in _run_function\n    result = f()\n"
                    "ValueError: Expected error\n\n\nAt:\n  internal.py(220): _handle_exception\n")

SCENARIO = {
    "name": "t", "workers": 2, "faults": {"profile": "reorder"},
    "functions": [{"name": "f", "body": [{"op": "to_here", "var": "args", "expect": {"values": [1, 2]}}]}],
    "programs": [{"ops": [{"op": "remote", "out": "a", "to": 1, "function": "f"},
                          {"op": "to_here", "var": "a", "expect": {"errors": ["timed out"]}}]},
                 {"ops": []}],
    "expect": {"outcome": "ok"},
}


def observation(outcome, *entries):
    return Observation("t", outcome, list(entries))


class NormalizeTest(unittest.TestCase):
    def test_strips_remote_traceback_and_type(self):
        self.assertEqual(normalize_error(REMOTE_TRACEBACK), "Expected error")
        self.assertEqual(normalize_error("ValueError: " + REMOTE_TRACEBACK), "Expected error")

    def test_strips_node_prefix(self):
        self.assertEqual(normalize_error("RuntimeError: Error on Node 0: RRef creation timed out"),
                         "RRef creation timed out")

    def test_keeps_plain_text(self):
        self.assertEqual(normalize_error("RPCErr:1:RPC ran for more than set timeout (10 ms)"),
                         "RPCErr:1:RPC ran for more than set timeout (10 ms)")


class ParseTest(unittest.TestCase):
    def test_round_trip(self):
        o = observation("ok", (0, "program 0 op 1", "value 42"), (1, "barrier 1 debug", "owners=1 forks=0"))
        self.assertEqual(parse(o.format(), "x").format(), o.format())

    def test_bad_line_names_place(self):
        with self.assertRaisesRegex(ValueError, r"^x:3: 'garbage' \(expected 'worker <n> <where>: <what>'"):
            parse("observation t\noutcome ok\ngarbage\n", "x")


class CompareTest(unittest.TestCase):
    def test_equal_observations_agree(self):
        a = observation("ok", (0, "program 0 op 1", "error " + REMOTE_TRACEBACK))
        b = observation("ok", (0, "program 0 op 1", "error ValueError: Expected error"))
        self.assertTrue(compare(SCENARIO, a, b).ok())

    def test_outcome_difference(self):
        report = compare(SCENARIO, observation("deadlock"), observation("ok"))
        self.assertEqual(report.unexplained, ["outcome: pytorch deadlock, rrefsim ok"])

    def test_no_quiescence_is_a_hang_like_deadlock(self):
        self.assertTrue(compare(SCENARIO, observation("deadlock"), observation("no_quiescence")).ok())

    def test_counter_field_named(self):
        real = observation("ok", (1, "barrier 2 debug", "owners=1 forks=2 pending_users=0 pending_futures=0"))
        sim = observation("ok", (1, "barrier 2 debug",
                                 "owners=1 forks=1 pending_users=0 pending_futures=0 (expected forks=1)"))
        report = compare(SCENARIO, real, sim)
        self.assertEqual(report.unexplained, ["worker 1 barrier 2 debug: forks: pytorch 2, rrefsim 1"])
        self.assertIn("DIFF t: worker 1 barrier 2 debug", format_report("t", report))

    def test_missing_place_named(self):
        report = compare(SCENARIO, observation("ok"), observation("ok", (1, "f on 1 op 0", "value 1")))
        self.assertEqual(report.unexplained, ["worker 1 f on 1 op 0: pytorch (nothing); rrefsim value 1"])

    def test_both_allowed_is_timing(self):
        report = compare(SCENARIO, observation("ok", (1, "f on 1 op 0", "value 1")),
                         observation("ok", (1, "f on 1 op 0", "value 2")))
        self.assertTrue(report.ok())
        self.assertEqual(len(report.timing), 1)

    def test_one_outside_allowed_set_differs(self):
        report = compare(SCENARIO, observation("ok", (1, "f on 1 op 0", "value 3")),
                         observation("ok", (1, "f on 1 op 0", "value 2")))
        self.assertFalse(report.ok())

    def test_marked_difference_does_not_fail(self):
        scenario = dict(SCENARIO, expect={"outcome": "ok", "pytorch_differences": [
            {"observation": "worker 0 program 0 op 1", "reason": "docs/conformance.md#x"}]})
        report = compare(scenario, observation("ok", (0, "program 0 op 1", "value 7")),
                         observation("ok", (0, "program 0 op 1", "error other")))
        self.assertTrue(report.ok())
        self.assertEqual(len(report.marked), 1)


class FaultSettingsTest(unittest.TestCase):
    def test_reorder_is_plain_tensorpipe(self):
        self.assertIsNone(fault_settings({"faults": {"profile": "reorder", "overrides": ["delay_max_ms=10"]}}))

    def test_faulty_agent_defaults_and_overrides(self):
        settings = fault_settings({"faults": {"profile": "faulty-agent", "overrides": [
            "messages_to_fail=", "messages_to_delay=SCRIPT_RREF_FETCH_CALL:1000", "num_fail_sends=4"]}})
        self.assertEqual(settings, {"messages_to_fail": [], "messages_to_delay": {"SCRIPT_RREF_FETCH_CALL": 1.0},
                                    "num_fail_sends": 4})
        self.assertEqual(fault_settings({"faults": {"profile": "faulty-agent"}})["messages_to_delay"],
                         {"PYTHON_CALL": 1.5, "SCRIPT_CALL": 1.5})

    def test_loss_cannot_run_on_pytorch(self):
        for faults in ({"profile": "lossy"}, {"profile": "faulty-agent", "overrides": ["drop=0.1"]}):
            with self.assertRaises(Inexpressible):
                fault_settings({"faults": faults})


if __name__ == "__main__":
    unittest.main()
