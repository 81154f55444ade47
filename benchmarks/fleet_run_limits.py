"""fleet run's limits: node lookup at scale, and memory when nodes flood srun's output.

Two measurements against the fake SLURM programs of tests/fleet/fake_slurm.py (real child
processes), each ``fleet run`` in a fresh process:

- ``select``: N nodes, all drained (so no srun starts), selected once with ``-w n[1-N]`` and
  once with ``-p gpu``; wall time of each. ``-w`` looks every named node up among sinfo's.
- ``flood``: two nodes whose srun prints ``--flood-mb`` MB each (1 MiB at a time) with the
  default concurrency; wall time and fleet run's peak resident memory (ru_maxrss of the
  child, the fakes included, which stay under 20 MiB; run first, as ru_maxrss of the
  children is the largest so far).

    python benchmarks/fleet_run_limits.py [--nodes 20000] [--flood-mb 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fleet.fake_slurm import FakeSlurm  # noqa: E402 - after the path is set


def fleet_run(fake: FakeSlurm, out: Path, *args: str) -> tuple[float, int, int]:
    """Wall seconds, exit status and peak RSS (KiB) of one ``fleet run`` in a fresh process."""
    argv = [sys.executable, "-m", "gpudoctor", "fleet", "run", "-d", str(out), "--format", "json"]
    argv += args
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        capture_output=True,
        env={**os.environ, **fake.env(), "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=900,
    )
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode not in (0, 1):
        raise SystemExit(f"fleet run failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return took, done.returncode, peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument("--flood-mb", type=int, default=100)
    parser.add_argument("--only", choices=("select", "flood"), default=None)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="gpudoctor-run-bench-") as tmp:
        root = Path(tmp)
        if args.only in (None, "flood"):
            size = args.flood_mb * 1_000_000
            nodes = {f"f{i}": {"srun": "flood", "bytes": size} for i in (1, 2)}
            fake = FakeSlurm(root / "flood", nodes)
            took, code, peak = fleet_run(fake, root / "out-flood", "-p", "gpu")
            print(
                f"flood 2 nodes x {args.flood_mb} MB: {took:.1f} s (exit {code}), "
                f"peak RSS {peak / 1024:.0f} MiB"
            )
        if args.only in (None, "select"):
            nodes = {
                f"n{i}": {"state": "drained", "reason": "bench"} for i in range(1, 1 + args.nodes)
            }
            fake = FakeSlurm(root / "select", nodes)
            for label, sel in (("-w", ("-w", f"n[1-{args.nodes}]")), ("-p", ("-p", "gpu"))):
                took, code, _ = fleet_run(fake, root / f"out{label}", *sel)
                print(f"select {args.nodes} nodes with {label}: {took:.1f} s (exit {code})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
