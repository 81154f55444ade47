"""How long `gpudoctor check` takes, next to importing each framework alone, side by side.

Method: each command runs as a fresh child process of this interpreter (so interpreter start-up
and every import are counted, as a user would see them), one untimed warm-up round first (so
the page cache is warm for all of them alike), then N timed rounds; within a round the commands
run one after another, so that load from elsewhere on the machine falls on all of them alike.
The wall time of each run is measured around the child (``gpudoctor.probe.runcmd.run_cmd``);
the median and the minimum are reported. The figure that matters is the full check's median
minus the slowest framework import's median: what gpudoctor adds on top of importing the
frameworks it inspects (the goal is at most 0.3 s). Commands:

  import torch            python -c "import torch"                    (skipped without torch)
  import tensorflow       python -c "import tensorflow"               (skipped without TF)
  ... no teardown         the same, leaving with os._exit(0) as check's children do: the
                          stricter baseline (a plain import also pays for unloading)
  check --no-frameworks   python -m gpudoctor check --no-frameworks   (host, driver, NVML, CUDA)
  check                   python -m gpudoctor check                   (+ PyTorch and TensorFlow)
  torch collect_env       python -m torch.utils.collect_env           (skipped without torch)

The hardware probe (issue 20: the kernel log's Xids, InfiniBand ports, the IOMMU) is timed
on its own as well, in this process, N rounds: on this machine as it is, and on a synthetic
worst case, a fake root whose /dev/kmsg holds 4 MiB of records (the probe's byte bound), one in
ten an Xid line (an Xid storm), read one record per read(2) as the real /dev/kmsg answers; and
a 16 MiB ring buffer (``log_buf_len=16M``), read to its end so that its newest 4 MiB are kept.
It runs in a thread beside the NVML and CUDA probes, so it adds to check's wall time only what
it takes beyond them (goal: at most 0.2 s); the last line measures that: check's probes
(``collect_report`` without frameworks) with the hardware probe on the 4 MiB storm against a
hardware probe that returns at once, rounds alternated.

Usage: python benchmarks/check_speed.py [-n RUNS] [--no-collect-env] [--hardware-only]

Run it from the folder of the checkout it measures, or from one without a ``gpudoctor`` folder
with PYTHONPATH naming the tree: ``python -m gpudoctor`` takes the package of the current folder
before PYTHONPATH's, so comparing two trees from inside one measures that one twice. With
PYTHONDONTWRITEBYTECODE set (this VM's shell sets it) every run compiles every module again:
unset it, or set PYTHONPYCACHEPREFIX, to time what an installed gpudoctor does.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
from typing import Any

from gpudoctor.probe.runcmd import run_cmd

TIMEOUT_S = 300.0
GOAL_S = 0.3
"""How much the full check may add to the slowest framework import."""
HARDWARE_GOAL_S = 0.2
"""How long the hardware probe (kernel log, InfiniBand, IOMMU) may take."""


def commands(collect_env: bool) -> dict[str, list[str]]:
    py = sys.executable
    cmds: dict[str, list[str]] = {}
    for module in ("torch", "tensorflow"):
        if importlib.util.find_spec(module) is not None:
            cmds[f"import {module}"] = [py, "-c", f"import {module}"]
            cmds[f"import {module}, no teardown"] = [
                py,
                "-c",
                f"import os, {module}; os._exit(0)",
            ]
    cmds["check --no-frameworks"] = [py, "-m", "gpudoctor", "check", "--no-frameworks"]
    cmds["check"] = [py, "-m", "gpudoctor", "check"]
    if collect_env and importlib.util.find_spec("torch") is not None:
        cmds["torch collect_env"] = [py, "-m", "torch.utils.collect_env"]
    return cmds


def run_once(argv: list[str]) -> float:
    # TF's INFO lines would be on stderr only; the level is the one check's TF child uses.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"}
    result = run_cmd(argv, timeout_s=TIMEOUT_S, env=env)
    if result.timed_out or result.start_error:
        raise SystemExit(f"{argv}: did not finish ({result.start_error or 'timeout'})")
    return result.duration_s


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--no-collect-env", action="store_true", help="skip torch's collect_env")
    parser.add_argument("--hardware-only", action="store_true", help="time only the hardware probe")
    args = parser.parse_args()
    hardware_probe_times(args.runs)
    if args.hardware_only:
        return 0
    cmds = commands(not args.no_collect_env)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, {args.runs} rounds"
    )
    for argv in cmds.values():  # warm-up round, not counted
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.runs):
        for name, argv in cmds.items():
            times[name].append(run_once(argv))
    print(f"{'command':32s} {'median s':>9s} {'min s':>7s}")
    for name, values in times.items():
        print(f"{name:32s} {statistics.median(values):9.2f} {min(values):7.2f}")
    check = statistics.median(times["check"])
    for label, teardown in (("", False), (", no teardown", True)):
        imports = [
            statistics.median(v)
            for n, v in times.items()
            if n.startswith("import ") and n.endswith("no teardown") == teardown
        ]
        if imports:
            extra = check - max(imports)
            verdict = "within" if extra <= GOAL_S else "over"
            print(
                f"check minus the slowest framework import{label}: {extra:+.2f} s (median; "
                f"{verdict} the {GOAL_S} s goal)"
            )
    return 0


def _worst_case_root(folder: str, nbytes: int) -> str:
    """A fake root whose /dev/kmsg holds ``nbytes`` of records, one in ten an Xid."""
    from pathlib import Path

    root = Path(folder)
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc" / "uptime").write_text("250000.0 1.0\n")
    (root / "dev").mkdir(exist_ok=True)
    xid = "NVRM: Xid (PCI:0000:9b:00): 48, pid=77, name=python, An uncorrectable double bit error"
    other = "usb 1-1: new high-speed USB device number 2 using xhci_hcd " + "x" * 40
    lines, size, i = [], 0, 0
    while size < nbytes:
        line = f"6,{i},{i * 1000},-;{xid if i % 10 == 0 else other}\n"
        lines.append(line)
        size += len(line)
        i += 1
    (root / "dev" / "kmsg").write_text("".join(lines))
    return folder


class _OneRecordPerRead:
    """``os.read`` as the real /dev/kmsg answers it: one record per call (a regular file
    answers a 64 KiB read with 64 KiB, 500 records at once, which made the fake 2x too fast).
    Each call is still a real read(2) of the file, of one record's length."""

    def __init__(self, path: str) -> None:
        import os
        from pathlib import Path

        with Path(path).open("rb") as fh:
            self.sizes = [len(line) for line in fh]
        self.real = os.read
        self.next: dict[int, int] = {}

    def __call__(self, fd: int, _n: int) -> bytes:
        i = self.next.get(fd, 0)
        if i >= len(self.sizes):
            raise BlockingIOError
        self.next[fd] = i + 1
        return self.real(fd, self.sizes[i])


def hardware_probe_times(rounds: int) -> None:
    """Time probe_hardware here and on synthetic worst cases; print medians and maxima."""
    import tempfile
    import time
    from pathlib import Path

    from gpudoctor.probe import kernel_log
    from gpudoctor.probe.base import ProbeContext
    from gpudoctor.probe.hardware import probe_hardware

    real_os = kernel_log.os
    with tempfile.TemporaryDirectory() as full, tempfile.TemporaryDirectory() as big:
        cases = {
            "hardware probe, this machine": (ProbeContext(), False),
            "hardware probe, 4 MiB Xid storm": (
                ProbeContext(
                    root=Path(_worst_case_root(full, kernel_log.MAX_BYTES)),
                    env={"PATH": "/nonexistent"},
                ),
                True,
            ),
            "hardware probe, 16 MiB ring buffer": (
                ProbeContext(
                    root=Path(_worst_case_root(big, 4 * kernel_log.MAX_BYTES)),
                    env={"PATH": "/nonexistent"},
                ),
                True,
            ),
        }
        for name, (ctx, per_record) in cases.items():
            times = []
            for i in range(rounds + 1):  # the first is a warm-up
                if per_record:
                    import types

                    reader = _OneRecordPerRead(str(ctx.path("/dev/kmsg")))
                    kernel_log.os = types.SimpleNamespace(**vars(real_os))  # type: ignore[assignment]
                    kernel_log.os.read = reader  # type: ignore[attr-defined]
                try:
                    start = time.perf_counter()
                    info = probe_hardware(ctx)
                    took = time.perf_counter() - start
                finally:
                    kernel_log.os = real_os
                if i:
                    times.append(took)
            log = info.kernel_log
            read = f"{log.source}, {log.bytes_read / 1024:,.0f} KiB" if log and log.source else "-"
            verdict = "within" if max(times) <= HARDWARE_GOAL_S else "over"
            print(
                f"{name:36s} median {statistics.median(times):.3f} s, max {max(times):.3f} s "
                f"({read}{', cut' if log and log.truncated else ''}; {verdict} the "
                f"{HARDWARE_GOAL_S} s goal)"
            )
        added_to_collect(rounds, cases["hardware probe, 4 MiB Xid storm"][0], real_os)


def added_to_collect(rounds: int, storm: Any, real_os: Any) -> None:
    """What the hardware probe adds to check's probing (``collect_report`` without the
    frameworks: host, kernel driver, NVML and CUDA children, site, toolchain), as check runs
    it: in a thread beside the others. Rounds alternate the real probe on the 4 MiB storm
    (read one record per read) with a probe that returns at once; the difference of the
    medians is the cost; the median of the per-round differences is given too."""
    import time
    import types

    from gpudoctor.model.report import HardwareInfo
    from gpudoctor.probe import collect, kernel_log
    from gpudoctor.probe.base import ProbeContext
    from gpudoctor.probe.hardware import probe_hardware

    def storm_probe(ctx: ProbeContext) -> HardwareInfo:
        reader = _OneRecordPerRead(str(storm.path("/dev/kmsg")))
        kernel_log.os = types.SimpleNamespace(**vars(real_os))  # type: ignore[assignment]
        kernel_log.os.read = reader  # type: ignore[attr-defined]
        try:
            return probe_hardware(storm)
        finally:
            kernel_log.os = real_os  # type: ignore[assignment]

    def nothing(ctx: ProbeContext) -> HardwareInfo:
        return HardwareInfo()

    real = collect.probe_hardware
    ctx = ProbeContext()
    times: dict[str, list[float]] = {"with": [], "without": []}
    try:
        for i in range(rounds + 1):  # the first is a warm-up
            for label, probe in (("with", storm_probe), ("without", nothing)):
                collect.probe_hardware = probe  # type: ignore[assignment]
                start = time.perf_counter()
                collect.collect_report(ctx, frameworks=False)
                if i:
                    times[label].append(time.perf_counter() - start)
    finally:
        collect.probe_hardware = real  # type: ignore[assignment]
    with_s, without_s = (statistics.median(times[k]) for k in ("with", "without"))
    pairs = statistics.median(a - b for a, b in zip(times["with"], times["without"], strict=True))
    verdict = "within" if with_s - without_s <= HARDWARE_GOAL_S else "over"
    print(
        f"check's probes (no frameworks), median of {rounds}: {without_s:.3f} s without the "
        f"hardware probe, {with_s:.3f} s with it on the 4 MiB storm: +{with_s - without_s:.3f} s "
        f"(per-round difference, median {pairs:+.3f} s; {verdict} the {HARDWARE_GOAL_S} s goal)"
    )


if __name__ == "__main__":
    sys.exit(main())
