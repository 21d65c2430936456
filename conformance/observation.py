# The observation of one run, in the text form that `rrefsim observe` prints and the torch runner prints
# (docs/conformance.md, "The observation"):
#
#   observation <scenario name>
#   outcome ok
#   worker 0 program 0 op 1: value 42
#   worker 2 fetch on 2 op 0: error RRef creation via rpc.remote() timed out, ...
#   worker 1 barrier 1 debug: owners=1 forks=1 pending_users=0 pending_futures=0
#
# and the comparison of two observations of one scenario. This module imports no torch: the comparison also runs
# where torch is missing.
import re

_TYPE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Interrupt): ")
_NODE_PREFIX = re.compile(r"^Error on Node \d+: ")


def normalize_error(text):
    """An error's text without PyTorch's wrapper: the remote traceback (its last line is the error), the "At:"
    C++ frames, "Error on Node N:", and a leading exception type ("ValueError: "). One line."""
    text = text.split("\nAt:\n", 1)[0]
    if "Traceback (most recent call last):" in text:
        lines = [line for line in text.splitlines() if line.strip()]
        text = lines[-1] if lines else text
    text = text.strip().splitlines()[0] if text.strip() else ""
    for _ in range(3):  # "ValueError: ValueError: ..." and "RuntimeError: Error on Node 1: ..." both occur
        stripped = _NODE_PREFIX.sub("", _TYPE_PREFIX.sub("", text))
        if stripped == text:
            break
        text = stripped
    return text


def natural_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class Observation:
    def __init__(self, scenario, outcome, entries, notes=()):
        self.scenario = scenario
        self.outcome = outcome
        self.entries = entries      # [(worker, where, what)] in the order of `format`
        self.notes = list(notes)    # "# ..." lines: not compared (what a runner wants a reader to know)

    def format(self):
        lines = [f"observation {self.scenario}", f"outcome {self.outcome}"]
        lines += [f"# {note}" for note in self.notes]
        lines += [f"worker {w} {where}: {what}" for w, where, what in self.entries]
        return "\n".join(lines) + "\n"


def sorted_entries(entries):
    """Worker, then the place in natural order (op 2 before op 10); a place seen twice keeps its recorded order."""
    return sorted(entries, key=lambda e: (e[0], natural_key(e[1])))


_ENTRY = re.compile(r"^worker (\d+) (.+?): (.*)$")


def parse(text, origin):
    """Reads an observation; raises ValueError naming the origin, the line and what was expected."""
    lines = text.splitlines()
    def bad(number, expected):
        got = lines[number - 1] if number <= len(lines) else "the end of the text"
        return ValueError(f"{origin}:{number}: '{got}' (expected {expected})")
    if not lines or not lines[0].startswith("observation "):
        raise bad(1, "'observation <scenario name>'")
    if len(lines) < 2 or not lines[1].startswith("outcome "):
        raise bad(2, "'outcome <ok|deadlock|no_quiescence|worker_abort|stopped>'")
    entries, notes = [], []
    for number, line in enumerate(lines[2:], start=3):
        if line.startswith("# "):
            notes.append(line[2:])
            continue
        match = _ENTRY.match(line)
        if not match:
            raise bad(number, "'worker <n> <where>: <what>' or '# <note>'")
        entries.append((int(match.group(1)), match.group(2), match.group(3)))
    return Observation(lines[0][len("observation "):], lines[1][len("outcome "):], entries, notes)
