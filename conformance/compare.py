# The comparison of PyTorch's observation of a scenario with the simulator's (docs/conformance.md, "Comparing"):
# the outcome, then every place (worker, where) with the results recorded there. A place whose results differ is
# still in agreement when the scenario's allowed set for that op admits both (the outcome depends on timing); a
# difference the scenario marks (its expect.pytorch_differences, each explained in docs/conformance.md) is reported
# as marked; any other difference is unexplained and fails the comparison.
import re
from collections import OrderedDict

from observation import normalize_error

_COUNTER = re.compile(r"(\w+)=(\d+)")
_PROGRAM_PLACE = re.compile(r"^program (\d+) op (\d+)$")
_FUNCTION_PLACE = re.compile(r"^(\S+) on (\d+) op (\d+)$")


def _comparable(what):
    """A result as compared: errors without PyTorch's wrapper; counters without the simulator's "(expected ...)"."""
    if what.startswith("error "):
        return "error " + normalize_error(what[len("error "):])
    return re.sub(r" \(expected [^)]*\)$", "", what)


def _ops_at(ops, index):
    """Every op that a place "... op <index>" can name: the simulator numbers a nested block's ops from 0 too."""
    found = [ops[index]] if index < len(ops) else []
    for op in ops:
        for key in ("then", "else"):
            found += _ops_at(op.get(key, []), index)
    return found


def ops_named(scenario, where):
    match = _PROGRAM_PLACE.match(where)
    if match:
        return _ops_at(scenario["programs"][int(match.group(1))]["ops"], int(match.group(2)))
    match = _FUNCTION_PLACE.match(where)
    if match:
        for function in scenario.get("functions", []):
            if function["name"] == match.group(1):
                return _ops_at(function["body"], int(match.group(3)))
    return []


def _faults_raise_errors(scenario):
    """The simulator's FaultsRaiseErrors for the profiles that run on PyTorch: the faulty agent's failing sends."""
    faults = scenario["faults"]
    if faults["profile"] != "faulty-agent":
        return False
    settings = {"messages_to_fail": "x", "num_fail_sends": "3"}
    for item in faults.get("overrides", []):
        key, _, value = item.partition("=")
        settings[key] = value
    return settings["messages_to_fail"] != "" and settings["num_fail_sends"] != "0"


def allowed(scenario, where, what):
    """Whether the scenario's allowed set (an op's `expect`) admits this result at this place."""
    for op in ops_named(scenario, where):
        expect = op.get("expect")
        if expect is None:
            continue
        if what.startswith("value "):
            if int(what.split()[1]) in expect.get("values", []):
                return True
        elif what.startswith("error "):
            text = what[len("error "):]
            if any(normalize_error(p) in text for p in expect.get("errors", [])):
                return True
            if not expect.get("errors") and _faults_raise_errors(scenario):
                return True
    return False


def _group(observation):
    places = OrderedDict()
    for worker, where, what in observation.entries:
        places.setdefault((worker, where), []).append(_comparable(what))
    return places


def _counter_detail(real, sim):
    a, b = dict(_COUNTER.findall(real)), dict(_COUNTER.findall(sim))
    fields = [f"{k}: pytorch {a.get(k, '-')}, rrefsim {b.get(k, '-')}"
              for k in a.keys() | b.keys() if a.get(k) != b.get(k)]
    return "; ".join(sorted(fields))


class Report:
    def __init__(self):
        self.agreements = 0
        self.timing = []        # places where the results differ and the allowed set admits both
        self.marked = []        # differences the scenario marks, with their explanation
        self.unexplained = []   # differences that fail the comparison

    def ok(self):
        return not self.unexplained


def _marks(scenario):
    return {m["observation"]: m["reason"] for m in scenario["expect"].get("pytorch_differences", [])}


def compare(scenario, real, sim):
    report, marks = Report(), _marks(scenario)

    def differ(place, text):
        if place in marks:
            report.marked.append(f"{text} [marked: {marks[place]}]")
        else:
            report.unexplained.append(text)

    sim_outcome = "deadlock" if sim.outcome == "no_quiescence" else sim.outcome
    if real.outcome != sim_outcome:
        differ("outcome", f"outcome: pytorch {real.outcome}, rrefsim {sim.outcome}")
    else:
        report.agreements += 1
    real_places, sim_places = _group(real), _group(sim)
    for key in list(real_places) + [k for k in sim_places if k not in real_places]:
        worker, where = key
        a, b = real_places.get(key, []), sim_places.get(key, [])
        if sorted(a) == sorted(b):
            report.agreements += 1
            continue
        place = f"worker {worker} {where}"
        if a and b and len(a) == len(b) and all(allowed(scenario, where, w) for w in a + b):
            report.timing.append(f"{place}: pytorch {' | '.join(a)}; rrefsim {' | '.join(b)} (both allowed)")
            continue
        if len(a) == 1 and len(b) == 1 and where.endswith(" debug"):
            detail = _counter_detail(a[0], b[0])
        else:
            detail = f"pytorch {' | '.join(a) or '(nothing)'}; rrefsim {' | '.join(b) or '(nothing)'}"
        differ(place, f"{place}: {detail}")
    return report


def format_report(name, report):
    lines = []
    for text in report.unexplained:
        lines.append(f"DIFF {name}: {text}")
    for text in report.marked:
        lines.append(f"marked {name}: {text}")
    for text in report.timing:
        lines.append(f"timing {name}: {text}")
    verdict = "agree" if report.ok() and not report.marked else "agree, with marked differences" if report.ok() \
        else "DIFFERENT"
    lines.append(f"{name}: {verdict} ({report.agreements} places equal, {len(report.timing)} timing-dependent, "
                 f"{len(report.marked)} marked, {len(report.unexplained)} unexplained)")
    return "\n".join(lines)
