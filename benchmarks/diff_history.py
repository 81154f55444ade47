"""What `gpudoctor diff` and the history cost: a diff of two full reports; history's part of check.

Method: in-process, after one untimed warm-up round (imports, the knowledge base, the page
cache), N timed rounds of each step with ``time.perf_counter``; the median and the minimum are
reported. Inputs are real-size: an 8-GPU node report (the recorded H100 report with its GPU
listed eight times, as a DGX/HGX node's report has it) against the recorded H200 report with a
driver library mismatch, each with a full verify result of the H200 (tests/data/verify/h200).

  diff, whole          parse both reports and both verify results, diagnose both with today's
                       rules, the facts, the comparison, and render text and JSON: what
                       `gpudoctor diff OLD NEW` does apart from interpreter start-up (goal 50 ms)
  diff, engine only    report_facts twice and make_diff (the pure part)
  history, per check   what a check with history on does beyond a check without: redact,
                       diagnose the redacted report, serialize it, write it (fsync, rename),
                       mark it last good and prune a folder already holding the maximum of
                       entries (goal 20 ms)

Usage: PYTHONPATH=. python benchmarks/diff_history.py [-n ROUNDS]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gpudoctor import kb
from gpudoctor.cli.keep import keep_check
from gpudoctor.history.store import MAX_ENTRIES
from gpudoctor.model import serialize
from gpudoctor.model.diff import Side, make_diff, samples_from_verify
from gpudoctor.model.facts import report_facts
from gpudoctor.render.diff import render_json, render_text
from gpudoctor.rules import diagnose

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
DIFF_GOAL_MS = 50.0
HISTORY_GOAL_MS = 20.0


def eight_gpu_report_text() -> str:
    """The recorded H100 report with its GPU listed eight times (indices and buses apart)."""
    doc = json.loads(
        (DATA / "reports/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.json").read_text()
    )
    gpu = doc["nvml"]["gpus"][0]
    doc["nvml"]["gpus"] = [
        dict(gpu, index=i, pci_bus_id=f"00000000:{0x18 + i:02X}:00.0") for i in range(8)
    ]
    return json.dumps(doc)


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    knowledge = kb.load()
    old_text = eight_gpu_report_text()
    new_text = (DATA / "reports/failure__driver_library_mismatch.json").read_text()
    old_verify = (DATA / "verify/h200/verify-fp32.json").read_text()
    new_verify = (DATA / "verify/h200/new-fp32-auto.json").read_text()
    side = Side(label="x")

    def whole() -> None:
        old = serialize.report_from_json(old_text)
        new = serialize.report_from_json(new_text)
        a, b = diagnose(old, knowledge), diagnose(new, knowledge)
        diff = make_diff(
            side,
            side,
            old_facts=report_facts(old),
            new_facts=report_facts(new),
            old_findings=[(f.id, f.severity, f.title) for f in a.findings],
            new_findings=[(f.id, f.severity, f.title) for f in b.findings],
            old_samples=samples_from_verify(json.loads(old_verify), "old"),
            new_samples=samples_from_verify(json.loads(new_verify), "new"),
        )
        render_text(diff)
        render_json(diff)

    old_report = serialize.report_from_json(old_text)
    new_report = serialize.report_from_json(new_text)

    def engine() -> None:
        make_diff(
            side, side, old_facts=report_facts(old_report), new_facts=report_facts(new_report)
        )

    results = {"diff, whole": timed(whole, rounds), "diff, engine only": timed(engine, rounds)}
    diagnosis = diagnose(old_report, knowledge)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "history"
        for _ in range(MAX_ENTRIES):
            keep_check(old_report, diagnosis, folder)
        results["history, per check"] = timed(
            lambda: keep_check(old_report, diagnosis, folder), rounds
        )
        kept = len(list(folder.glob("*.json")))
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(
        f"{rounds} rounds; old report {len(old_text) // 1024} KiB (8 GPUs), new "
        f"{len(new_text) // 1024} KiB, verify results {len(old_verify) // 1024} and "
        f"{len(new_verify) // 1024} KiB; history folder held {kept} entries"
    )
    for name, (median, best) in results.items():
        print(f"  {name:<20} median {median:6.1f} ms   min {best:6.1f} ms")
    whole_ms, history_ms = results["diff, whole"][0], results["history, per check"][0]
    print(
        f"diff goal {DIFF_GOAL_MS:g} ms: {'met' if whole_ms < DIFF_GOAL_MS else 'MISSED'}; "
        f"history goal {HISTORY_GOAL_MS:g} ms: "
        f"{'met' if history_ms < HISTORY_GOAL_MS else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
