#!/usr/bin/python3
# `rrefsim observe` against the observation format that conformance/observation.py reads (docs/conformance.md):
# the C++ writer and the Python reader agree on every catalog scenario, the order is worker then natural place
# order, counters carry no checker verdict, the same seed gives the same bytes, and bad input exits 2.
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from observation import natural_key, parse  # noqa: E402

RREFSIM = None
CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios", "catalog")


def observe(*args):
    return subprocess.run([RREFSIM, "observe", *args], capture_output=True, text=True)


class ObserveTest(unittest.TestCase):
    def test_every_catalog_scenario_parses_in_order(self):
        for file in sorted(os.listdir(CATALOG)):
            done = observe(os.path.join(CATALOG, file))
            self.assertEqual(done.returncode, 0, done.stderr)
            o = parse(done.stdout, file)
            self.assertEqual(o.scenario + ".json", file)
            keys = [(w, natural_key(where)) for w, where, _ in o.entries]
            self.assertEqual(keys, sorted(keys), file)
            self.assertFalse([e for e in o.entries if "(expected" in e[2]], file)

    def test_a_known_run(self):
        done = observe("s11_remote_timeout", "--seed", "3")
        o = parse(done.stdout, "s11")
        self.assertEqual(o.outcome, "ok")
        self.assertIn((1, "barrier 1 debug", "owners=1 forks=1 pending_users=0 pending_futures=0"), o.entries)
        self.assertIn((0, "program 0 op 2", "error RRef creation via rpc.remote() timed out, and it is possible that "
                       "the RRef on the owner node does not exist."), o.entries)
        self.assertEqual(done.stdout, observe("s11_remote_timeout", "--seed", "3").stdout)

    def test_bad_input_exits_2(self):
        self.assertEqual(observe("no_such_scenario").returncode, 2)
        self.assertEqual(observe("all").returncode, 2)
        self.assertEqual(observe("s1_remote_to_here", "--seed", "-1").returncode, 2)


if __name__ == "__main__":
    RREFSIM = sys.argv.pop(1)
    unittest.main()
