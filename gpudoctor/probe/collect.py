"""Run the probes (concurrently where safe) and assemble the Report; a failing probe is data."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from gpudoctor import __version__
from gpudoctor.model.report import (
    CudaInfo,
    DeviceAccessInfo,
    FrameworkInfo,
    HardwareInfo,
    HostInfo,
    KernelDriverInfo,
    NvmlInfo,
    ProbeRun,
    PythonInfo,
    Report,
    SiteInfo,
    ToolchainInfo,
    Unavailable,
)
from gpudoctor.model.times import utc_stamp
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.cuda import probe_cuda
from gpudoctor.probe.device_access import probe_device_access
from gpudoctor.probe.frameworks import Gate, probe_framework
from gpudoctor.probe.hardware import probe_hardware
from gpudoctor.probe.host import probe_host
from gpudoctor.probe.kernel_driver import probe_kernel_driver
from gpudoctor.probe.nvml_probe import probe_nvml
from gpudoctor.probe.runcmd import stop_all
from gpudoctor.probe.site import probe_site
from gpudoctor.probe.toolchain import probe_toolchain

FRAMEWORKS = ("torch", "tensorflow")
PROBES = (
    "host",
    "kernel_driver",
    "nvml",
    "hardware",
    "cuda",
    *FRAMEWORKS,
    "site",
    "toolchain",
    "device_access",
)
"""Every probe :func:`collect_report` runs, in report order."""

ProbeDone = Callable[[ProbeRun], None]
"""Told of each probe as it finishes (from a worker thread), for a progress display."""
# "exclusive_thread" is the pre-CUDA 8 spelling of one-process-at-a-time; "prohibited" admits
# none, so two framework children at once could only make its failures harder to read.
EXCLUSIVE_COMPUTE_MODES = frozenset({"exclusive_process", "exclusive_thread", "prohibited"})


def _host_fallback(ctx: ProbeContext, message: str) -> HostInfo:
    return HostInfo(
        hostname=socket.gethostname(),
        os=sys.platform,
        arch=platform.machine() or "unknown",
        python=PythonInfo(version="unknown", executable=ctx.python),
        errors=(Unavailable(field="host", code="probe_failed", message=message),),
    )


def _fallbacks(ctx: ProbeContext) -> dict[str, Callable[[str], Any]]:
    return {
        "host": lambda m: _host_fallback(ctx, m),
        "kernel_driver": lambda m: KernelDriverInfo(
            errors=(Unavailable(field="driver", code="probe_failed", message=m),)
        ),
        "nvml": lambda m: NvmlInfo(
            status="unknown_error",
            message=m,
            errors=(Unavailable(field="nvml", code="probe_failed", message=m),),
        ),
        "cuda": lambda m: CudaInfo(status="failed", message=m),
        "hardware": lambda m: HardwareInfo(
            errors=(Unavailable(field="hardware", code="probe_failed", message=m),)
        ),
        "site": lambda m: SiteInfo(
            errors=(Unavailable(field="site", code="probe_failed", message=m),)
        ),
        "toolchain": lambda m: ToolchainInfo(
            errors=(Unavailable(field="toolchain", code="probe_failed", message=m),)
        ),
        "device_access": lambda m: DeviceAccessInfo(
            errors=(Unavailable(field="device_access", code="probe_failed", message=m),)
        ),
        **{fw: functools.partial(_framework_fallback, fw) for fw in FRAMEWORKS},
    }


def _framework_fallback(name: str, message: str) -> FrameworkInfo:
    return FrameworkInfo(name=name, status="crashed", message=message)


def _framework_probe(name: str, gate: Gate | None, ctx: ProbeContext) -> FrameworkInfo:
    return probe_framework(ctx, name, gate)


def _status(section: Any) -> tuple[str, str]:
    """The ProbeRun status a finished probe earned, and its message."""
    status = getattr(section, "status", "ok")
    message = getattr(section, "message", "") or ""
    if status == "timeout":
        return "timeout", message
    errors = getattr(section, "errors", ())
    if status in ("failed", "crashed") or any(e.code == "probe_failed" for e in errors):
        return "failed", message
    return "ok", ""


def _run_one(
    name: str,
    fn: Callable[[ProbeContext], Any],
    ctx: ProbeContext,
    fallback: Callable[[str], Any],
    on_done: ProbeDone | None = None,
) -> tuple[Any, ProbeRun]:
    start = time.monotonic()
    try:
        section = fn(ctx)
    except Exception as exc:  # a probe bug must not cost the whole report
        message = f"{name} probe crashed: {type(exc).__name__}: {exc}"
        section, run = (
            fallback(message),
            ProbeRun(
                name=name, status="failed", duration_s=time.monotonic() - start, message=message
            ),
        )
    else:
        status, message = _status(section)
        run = ProbeRun(
            name=name, status=status, duration_s=round(time.monotonic() - start, 4), message=message
        )
    _notify(on_done, run)
    return section, run


def _notify(on_done: ProbeDone | None, run: ProbeRun) -> None:
    if on_done is None:
        return
    # A broken progress display must not cost the report.
    with contextlib.suppress(Exception):
        on_done(run)


def planned_probes(*, frameworks: bool = True, cuda: bool = True) -> tuple[str, ...]:
    """The probes that will run (the framework and CUDA probes only when asked for)."""
    skip = (() if frameworks else FRAMEWORKS) + (
        () if cuda else ("cuda", "site", "toolchain", "device_access")
    )
    return tuple(p for p in PROBES if p not in skip)


def collect_report(
    ctx: ProbeContext,
    *,
    frameworks: bool = True,
    on_done: ProbeDone | None = None,
    cuda: bool = True,
) -> Report:
    """Probe the host through ``ctx``; never raises. ``on_done`` hears of each finished probe.

    Host, kernel driver, NVML, hardware, CUDA, site, toolchain and device access (``PROBES``
    but the frameworks; the health gate leaves some out) run in threads at the same time: each
    one either reads a few files or waits on its own bounded child processes, so the slowest of
    them, not their sum, sets the wall time. The framework children start with them and import
    their framework, but touch the GPU only once NVML has answered (see
    :func:`_release_frameworks`).
    """
    probes: dict[str, Callable[[ProbeContext], Any]] = {
        "host": probe_host,
        "kernel_driver": probe_kernel_driver,
        "nvml": probe_nvml,
        # The kernel log's Xids, InfiniBand ports, the IOMMU: files and at most one bounded
        # child (journalctl or dmesg); in the health gate too, where Xid storms matter most.
        "hardware": probe_hardware,
        # SLURM job, container, modules and storage: files and variables, plus a bounded
        # walk of the caches (the health gate leaves it out: it is about the GPUs only).
        # The toolkit and compilers (a few bounded commands) and the device files' access
        # (one bounded open): what building and opening the GPU need.
        **(
            {
                "site": probe_site,
                "toolchain": probe_toolchain,
                "device_access": probe_device_access,
            }
            if cuda
            else {}
        ),
    }
    if cuda:  # the health gate skips it: cuInit alone can take seconds on a big node
        probes["cuda"] = probe_cuda
    fallbacks = _fallbacks(ctx)
    folder = Path(tempfile.mkdtemp(prefix="gpudoctor-")) if frameworks else None
    gates = {fw: Gate(folder / fw, budget_s=ctx.timeout_s) for fw in FRAMEWORKS} if folder else {}
    skipping = threading.Event()

    def fw_done(run: ProbeRun) -> None:
        if not skipping.is_set():  # a skipped framework is announced as skipped, once
            _notify(on_done, run)

    try:
        with ThreadPoolExecutor(
            max_workers=len(probes) + len(FRAMEWORKS), thread_name_prefix="probe"
        ) as pool:
            futures = {
                name: pool.submit(_run_one, name, fn, ctx, fallbacks[name], on_done)
                for name, fn in probes.items()
            }
            # The framework children start now and import while NVML reads; each waits at its
            # gate before its first CUDA call (see _release_frameworks).
            fw_futures = {
                fw: pool.submit(
                    _run_one,
                    fw,
                    functools.partial(_framework_probe, fw, gate),
                    ctx,
                    fallbacks[fw],
                    fw_done,
                )
                for fw, gate in gates.items()
            }
            fw_results = (
                _release_frameworks(
                    gates, fw_futures, result_of(futures["nvml"])[0], on_done, skipping
                )
                if frameworks
                else {}
            )
            results = {name: result_of(future) for name, future in futures.items()}
    finally:
        for gate in gates.values():
            with contextlib.suppress(OSError):
                gate.open("skip")  # no child is ever left waiting
            gate.close()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    results.update(fw_results)
    if not cuda:
        message = "not run (health check: NVML and the kernel driver only)"
        results["cuda"] = (
            CudaInfo(status="skipped", message=message),
            ProbeRun(name="cuda", status="skipped", duration_s=0.0, message=message),
        )
    runs = [results[name][1] for name in PROBES if name in results]
    if not frameworks:
        skipped = [
            ProbeRun(name=fw, status="skipped", duration_s=0.0, message="--no-frameworks")
            for fw in FRAMEWORKS
        ]
        for run in skipped:
            _notify(on_done, run)
        runs += skipped
    return Report(
        gpudoctor_version=__version__,
        created_at=utc_stamp(datetime.now(timezone.utc)),
        host=results["host"][0],
        driver=results["kernel_driver"][0],
        nvml=results["nvml"][0],
        cuda=results["cuda"][0],
        frameworks=tuple(results[fw][0] for fw in FRAMEWORKS if fw in results),
        probes=tuple(runs),
        site=results["site"][0] if "site" in results else None,
        hardware=results["hardware"][0],
        toolchain=results["toolchain"][0] if "toolchain" in results else None,
        device_access=results["device_access"][0] if "device_access" in results else None,
    )


def exclusive_gpus(nvml: NvmlInfo) -> tuple[str, ...]:
    """``GPU <i> (<mode>)`` for every GPU whose compute mode admits at most one process."""
    return tuple(
        f"GPU {gpu.index} ({gpu.compute_mode})"
        for gpu in nvml.gpus
        if gpu.compute_mode in EXCLUSIVE_COMPUTE_MODES
    )


def _release_frameworks(
    gates: dict[str, Gate],
    futures: dict[str, Future[tuple[Any, ProbeRun]]],
    nvml: NvmlInfo,
    on_done: ProbeDone | None,
    skipping: threading.Event,
) -> dict[str, tuple[Any, ProbeRun]]:
    """Let the framework children, which started with the other probes, go on to the GPU once
    NVML has finished.

    Their GPU smoke tests create CUDA contexts: while NVML is still reading, it would list
    gpudoctor's own children as processes holding GPU memory. On a GPU in an exclusive (or
    prohibited) compute mode, two children at once would fight over the one context the GPU
    allows, so there they take turns.
    """
    if nvml.status == "timeout":
        # A driver that hangs NVML hangs CUDA's init too: the children stop before it, and
        # the report says they were skipped rather than repeat the NVML finding.
        skipping.set()
        for gate in gates.values():
            gate.open("skip")
        for future in futures.values():
            result_of(future)
        message = "skipped: NVML hung, so a framework's CUDA init would hang too"
        skipped = {
            fw: (
                FrameworkInfo(name=fw, status="skipped", message=message),
                ProbeRun(name=fw, status="skipped", duration_s=0.0, message=message),
            )
            for fw in FRAMEWORKS
        }
        for _, run in skipped.values():
            _notify(on_done, run)
        return skipped
    exclusive = exclusive_gpus(nvml)
    if not exclusive:
        for gate in gates.values():
            gate.open("go")
        return {fw: result_of(future) for fw, future in futures.items()}
    note = f"run one after the other: at most one CUDA process at a time on {', '.join(exclusive)}"
    results = {}
    for fw, future in futures.items():
        gates[fw].open("go")
        section, run = result_of(future)
        message = f"{run.message}; {note}" if run.message else note
        results[fw] = (section, dataclasses.replace(run, message=message))
    return results


def start_collect(
    ctx: ProbeContext,
    *,
    frameworks: bool = True,
    on_done: ProbeDone | None = None,
    cuda: bool = True,
) -> Future[Report]:
    """Start :func:`collect_report` in the background and return its future.

    A caller that still has imports to do (rules, renderers) can overlap them with the probe
    children: call this first, ``.result()`` later.
    """
    future: Future[Report] = Future()

    def work() -> None:
        try:
            future.set_result(
                collect_report(ctx, frameworks=frameworks, on_done=on_done, cuda=cuda)
            )
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)

    threading.Thread(target=work, name="gpudoctor-collect", daemon=True).start()
    return future


_T = TypeVar("_T")

_WAIT_SLICE_S = 0.2


def result_of(future: Future[_T]) -> _T:
    """``future.result()``, waited for in short slices.

    The kernel may deliver SIGTERM or Ctrl-C to any thread of the process; Python then runs
    its handler only when the main thread next executes bytecode, and a main thread blocked in
    a wait without a timeout never does: the command ignored the signal until its probes ended.
    """
    while True:
        done, _ = wait([future], timeout=_WAIT_SLICE_S)
        if done:
            return future.result()


SETTLE_S = 3.0
"""How long an interrupted command waits for the probe thread's clean-up: its children are
already killed, so it only has to return and remove its temporary folder."""


def settle(pending: Future[Report], timeout_s: float = SETTLE_S) -> None:
    """Kill the probes' children and let the probe thread finish its clean-up (bounded).

    The thread is a daemon: a command unwinding from Ctrl-C or SIGTERM would otherwise exit
    under it and leave the framework gates' temporary folder behind.
    """
    stop_all()
    wait([pending], timeout=timeout_s)
