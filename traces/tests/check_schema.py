"""Validates every golden trace against traces/trace.schema.json, and checks that the schema refuses edited copies
(an unknown field, an unknown message type, a missing field), so that it is not vacuous.

Usage: check_schema.py SCHEMA GOLDEN_DIR (Debian's python3-jsonschema, draft 2020-12)."""
import copy
import json
import pathlib
import sys

import jsonschema

schema = json.loads(pathlib.Path(sys.argv[1]).read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
failures = 0
files = sorted(pathlib.Path(sys.argv[2]).glob("*.json"))
if not files:
    sys.exit(f"no golden traces in {sys.argv[2]}")
for path in files:
    trace = json.loads(path.read_text())
    errors = list(validator.iter_errors(trace))
    for error in errors[:5]:
        print(f"FAIL: {path.name}: /{'/'.join(map(str, error.absolute_path))}: {error.message}")
    failures += bool(errors)
    if not errors:
        print(f"ok: {path.name}")

    def refused(what, edit):
        global failures
        bad = copy.deepcopy(trace)
        try:
            edit(bad)
        except StopIteration:  # this trace has nothing to edit that way
            return
        if validator.is_valid(bad):
            print(f"FAIL: {path.name}: the schema accepts {what}")
            failures += 1

    refused("an unknown field", lambda t: t.update(bogus=1))
    refused("a missing seed", lambda t: t.pop("seed"))
    refused("an unknown message type",
            lambda t: next(e for e in t["events"] if "message" in e)["message"].update(type="NOPE"))
    refused("a delivery with a delay", lambda t: next(e for e in t["events"] if e["kind"] == "deliver").update(delay_us=1))
    refused("a negative seed", lambda t: t.update(seed=-1))
print(f"{failures} failed")
sys.exit(1 if failures else 0)
