"""fleet report at scale: wall time and peak memory of aggregating N node reports.

Writes N node reports (the recorded reports of tests/data/reports, round-robin, under node
names gpu-00001...), plus a verify result for every tenth node, into a temporary folder, then
runs ``gpudoctor fleet report DIR --format json`` in a fresh process ``--rounds`` times and
prints the wall time of each and the child's peak resident memory (ru_maxrss).

    python benchmarks/fleet_scale.py [--nodes 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTS = sorted((ROOT / "tests" / "data" / "reports").glob("*.json"))
VERIFY = ROOT / "tests" / "data" / "fleet" / "h200-verify-fp32.json"


def populate(folder: Path, nodes: int) -> None:
    for i in range(1, nodes + 1):
        shutil.copyfile(REPORTS[i % len(REPORTS)], folder / f"gpu-{i:05d}.json")
        if i % 10 == 0:
            shutil.copyfile(VERIFY, folder / f"gpu-{i:05d}.verify.json")


def one_round(folder: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gpudoctor", "fleet", "report", str(folder), "--format", "json"],
        capture_output=True,
        check=False,
        timeout=900,
    )
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"fleet report failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, peak_kib, len(json.loads(done.stdout)["nodes"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="gpudoctor-fleet-bench-") as tmp:
        folder = Path(tmp)
        populate(folder, args.nodes)
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"{args.nodes} node reports, {args.nodes // 10} verify results, {size:.0f} MB")
        times = []
        for r in range(args.rounds):
            took, peak_kib, count = one_round(folder)
            times.append(took)
            print(
                f"round {r + 1}: {took:.1f} s, {count} nodes, peak RSS so far "
                f"{peak_kib / 1024:.0f} MiB"
            )
        print(f"median {statistics.median(times):.1f} s over {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
