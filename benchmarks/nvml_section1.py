"""How long the NVML calls of check's node-fitness facts take, inside a whole NVML collection.

Issue 20 asks that the cheap part of node fitness add at most 0.2 s to ``gpudoctor check``.
The kernel log, InfiniBand and IOMMU side is timed by ``benchmarks/check_speed.py``; this
times the NVML side, which needs a GPU: per GPU the NVLinks (state, version and four error
counters per active link, and one ``nvmlDeviceGetFieldValues`` call for their speeds), the
power limits, the applications clocks, BAR1 and the GSP firmware.

Method: ``collect_nvml`` (what the NVML child runs) is called N times in this process on the
real nvidia-ml-py, through a proxy that adds every NVML call's wall time (``perf_counter``
around the call) to its function's total. One untimed warm-up round first (the first
``nvmlInit`` loads the driver's state). Reported per round: the whole collection and the
share spent in the node-fitness calls, median and maximum, and per function the calls per
round and the median milliseconds. The NVML child runs beside the other probes, so its time
adds to check's wall time only where it is the slowest child; the node-fitness share is the
most it can add.

Usage: python benchmarks/nvml_section1.py [-n RUNS]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from gpudoctor.probe.nvml_collect import collect_nvml

GOAL_S = 0.2
SECTION_1 = frozenset(
    {
        "nvmlDeviceGetNvLinkState",
        "nvmlDeviceGetNvLinkVersion",
        "nvmlDeviceGetNvLinkErrorCounter",
        "nvmlDeviceGetFieldValues",
        "nvmlDeviceGetPowerManagementDefaultLimit",
        "nvmlDeviceGetPowerManagementLimitConstraints",
        "nvmlDeviceGetApplicationsClock",
        "nvmlDeviceGetDefaultApplicationsClock",
        "nvmlDeviceGetBAR1MemoryInfo",
        "nvmlDeviceGetGspFirmwareMode",
        "nvmlDeviceGetGspFirmwareVersion",
    }
)
"""The NVML functions that only the node-fitness facts (issue 20, section 1) call."""


class TimedNvml:
    """An NVML-like object whose ``nvml*`` functions add their wall time to ``spent``."""

    def __init__(self, nvml: Any) -> None:
        self._nvml = nvml
        self.spent: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._nvml, name)
        if not name.startswith("nvml") or not callable(attr) or isinstance(attr, type):
            return attr  # constants, error classes, ctypes structs pass through

        def timed(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return attr(*args)
            finally:
                self.spent[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed


def measure(nvml: Any, rounds: int) -> list[TimedNvml]:
    """``rounds`` timed collections (after one warm-up), one proxy each."""
    collect_nvml(nvml)
    results = []
    for _ in range(rounds):
        timed = TimedNvml(nvml)
        start = time.perf_counter()
        info = collect_nvml(timed)  # type: ignore[arg-type]
        timed.spent["(whole collection)"] = time.perf_counter() - start
        if info.status != "ok":
            raise SystemExit(f"NVML: {info.status}: {info.message}")
        results.append(timed)
    return results


def summary(results: list[TimedNvml], out: Callable[[str], None] = print) -> float:
    """Print the figures; returns the median node-fitness share in seconds."""
    whole = [r.spent["(whole collection)"] for r in results]
    part = [sum(s for n, s in r.spent.items() if n in SECTION_1) for r in results]
    out(f"{len(results)} rounds")
    out(f"whole NVML collection   median {statistics.median(whole):.4f} s, max {max(whole):.4f} s")
    verdict = "within" if statistics.median(part) <= GOAL_S else "over"
    out(
        f"node-fitness calls      median {statistics.median(part):.4f} s, max {max(part):.4f} s "
        f"({verdict} the {GOAL_S} s goal)"
    )
    out(f"{'function':48s} {'calls':>6s} {'median ms':>10s}")
    for name in sorted(SECTION_1 | set(results[0].calls), key=lambda n: (n not in SECTION_1, n)):
        calls = results[0].calls.get(name, 0)
        if calls:
            ms = statistics.median(r.spent[name] for r in results) * 1000
            mark = "*" if name in SECTION_1 else " "
            out(f"{mark}{name:47s} {calls:6d} {ms:10.3f}")
    out("* node-fitness calls")
    return statistics.median(part)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("-n must be at least 1")
    try:
        nvml = importlib.import_module("pynvml")
    except ImportError:
        print("nvidia-ml-py is not installed: nothing to time", file=sys.stderr)
        return 1
    summary(measure(nvml, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
