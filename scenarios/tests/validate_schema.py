#!/usr/bin/python3
"""Validates scenario files against scenarios/scenario.schema.json with Debian's python3-jsonschema.

Usage: validate_schema.py SCHEMA FILE...
Prints one line per violation, "FILE: /json/pointer: message", then a count; exits 1 when any file is invalid.
The schema itself is checked against its metaschema first.
"""
import json
import sys

import jsonschema


def pointer(path):
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path)


def problems(validator, path):
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as e:
        return [f"{path}: not a readable JSON file: {e}"]
    errors = sorted(validator.iter_errors(document), key=lambda e: pointer(e.absolute_path))
    return [f"{path}: {pointer(e.absolute_path)}: {e.message}" for e in errors]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    invalid = 0
    for path in argv[2:]:
        lines = problems(validator, path)
        invalid += 1 if lines else 0
        for line in lines:
            print(line)
    print(f"{len(argv) - 2 - invalid} of {len(argv) - 2} files match the schema")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
