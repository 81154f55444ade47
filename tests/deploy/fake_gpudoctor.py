"""Stands in for `python -m gpudoctor` in the Ansible tests: writes a canned report."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "data" / "reports" / "failure__no_driver.json"
VERIFY = {"fake": "verify report"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rc", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("command")
    parser.add_argument("--output", required=True)
    ours, rest = parser.parse_known_args(argv)
    # One JSON line per call, so the test sees each argv and where the output went.
    with Path(ours.log).open("a", encoding="utf-8") as log:
        log.write(json.dumps({"command": ours.command, "output": ours.output, "rest": rest}))
        log.write("\n")
    if ours.rc in (0, 1):
        if ours.command == "check":
            shutil.copyfile(REPORT, ours.output)
        else:
            Path(ours.output).write_text(json.dumps(VERIFY), encoding="utf-8")
    return int(ours.rc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
