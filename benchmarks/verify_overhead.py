"""Harness overhead: ResNet-50 torch CPU inference through `gpudoctor verify` vs a bare loop.

The bare loop runs an independent hand-written ResNet-50 (plain_torch.py, torchvision's form)
with the same weights, in the layout verify uses on the CPU (channels-last), never gpudoctor's
own builder. Both run in fresh processes at the same batch and thread count, alternated so
that a busy neighbour hurts both alike; the script prints each round and the median ratio, and
exits 1 when verify is more than 5 % slower than the bare loop.

    python benchmarks/verify_overhead.py [--batch 16] [--rounds 3] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BARE_LOOP = """
import statistics, sys, time, torch
sys.path.insert(0, sys.argv[4])
from plain_torch import PLAIN
from gpudoctor.refmodels.torch_builder import build_torch
batch, threads, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
torch.set_num_threads(threads)
model = PLAIN["resnet50"]()
# the same weights as verify's model (only the weights come from gpudoctor, not the code)
mine = model.state_dict()
model.load_state_dict(dict(zip(mine, build_torch("resnet50", seed=0).state_dict().values())))
model = model.eval().to(memory_format=torch.channels_last)
x = torch.randn(batch, 3, 224, 224).contiguous(memory_format=torch.channels_last)
times = []
with torch.inference_mode():
    for _ in range(2):
        model(x)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t)
print(batch * len(times) / sum(times), statistics.median(batch / t for t in times))
"""


def bare(batch: int, threads: int, seconds: float) -> tuple[float, float]:
    """Mean and median images/s of the hand-written loop (one iteration at a time)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            BARE_LOOP,
            str(batch),
            str(threads),
            str(seconds),
            str(Path(__file__).resolve().parent),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    mean, median = out.stdout.strip().splitlines()[-1].split()
    return float(mean), float(median)


def through_verify(batch: int, seconds: float) -> tuple[float, float, int]:
    """Mean and median images/s of `gpudoctor verify`'s timed blocks, and its thread count."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "verify.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "gpudoctor",
                "verify",
                "--models",
                "resnet50",
                "--framework",
                "torch",
                "--device",
                "cpu",
                "--batch-size",
                str(batch),
                "--time-budget",
                str(seconds),
                "--format",
                "json",
                "--output",
                str(out),
            ],
            check=False,
            capture_output=True,
            timeout=900,
        )
        doc = json.loads(out.read_text())
    (run,) = doc["runs"]
    if run["status"] != "ok":
        raise SystemExit(f"verify did not time ResNet-50: {run['message']} (raise --seconds)")
    images = batch * run["iterations_per_block"] * len(run["block_seconds"])
    mean = images / sum(run["block_seconds"])
    return mean, float(run["images_per_second"]), int(run["threads"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"machine: {platform.machine()}, {threads} CPUs, {platform.processor() or '?'}; "
        f"batch {args.batch}, {args.seconds:g} s per measurement"
    )
    means, medians = [], []
    for i in range(args.rounds):
        hand_mean, hand_median = bare(args.batch, threads or 1, args.seconds)
        ours_mean, ours_median, used = through_verify(args.batch, args.seconds)
        means.append(ours_mean / hand_mean)
        medians.append(ours_median / hand_median)
        print(
            f"round {i + 1}: bare loop {hand_mean:.2f} img/s mean, {hand_median:.2f} median; "
            f"verify {ours_mean:.2f} mean, {ours_median:.2f} median ({used} threads); "
            f"ratio {means[-1]:.3f} mean, {medians[-1]:.3f} median"
        )
    ratio = statistics.median(medians)
    print(
        f"median over rounds of verify/bare: {ratio:.3f} on the medians verify reports, "
        f"{statistics.median(means):.3f} on the means "
        f"({'within' if ratio >= 0.95 else 'OUTSIDE'} 5 %)"
    )
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
