"""Host probe: OS, CPU, memory, glibc, the inspected Python, containers, WSL and CUDA variables."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from gpudoctor.model.report import HostInfo, PythonInfo, Unavailable
from gpudoctor.model.serialize import from_dict
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import run_json_child
from gpudoctor.probe.children import python_info

ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "LD_LIBRARY_PATH",
    "CUDA_HOME",
    "CUDA_PATH",
    # What building against the frameworks uses: Triton's libcuda override, the C compilers.
    "TRITON_LIBCUDA_PATH",
    "CC",
    "CXX",
    "CUDA_LAUNCH_BLOCKING",
    # DCGM's list of variables that slow CUDA down or change its behaviour (nvvs Software.cpp).
    "NSIGHT_CUDA_DEBUGGER",
    "CUDA_INJECTION32_PATH",
    "CUDA_INJECTION64_PATH",
    "CUDA_AUTO_BOOST",
    "CUDA_ENABLE_COREDUMP_ON_EXCEPTION",
    "CUDA_COREDUMP_FILE",
    "CUDA_DEVICE_WAITS_ON_EXCEPTION",
    "CUDA_PROFILE",
    "COMPUTE_PROFILE",
    "OPENCL_PROFILE",
)
_OS_NAMES = {"linux": "linux", "win32": "windows", "cygwin": "windows", "darwin": "darwin"}
_CGROUP_MARKERS = ("docker", "kubepods", "containerd", "libpod", "lxc")


def parse_os_release(text: str | None) -> str | None:
    """``PRETTY_NAME`` from an os-release file (``Ubuntu 22.04.5 LTS``)."""
    for line in (text or "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME":
            return value.strip().strip("\"'") or None
    return None


def parse_cpuinfo(text: str | None) -> tuple[str | None, int | None]:
    """The CPU model and the number of logical processors listed in ``/proc/cpuinfo``."""
    model, count = None, 0
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            count += 1
        elif key in ("model name", "Model", "Hardware") and model is None:
            model = value.strip() or None
    return model, count or None


CPU_FLAGS = (
    "sse4_1",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_tile",
    # aarch64 (/proc/cpuinfo "Features")
    "asimd",
    "sve",
    "sve2",
)
"""The instruction-set extensions framework builds are compiled for: the report records which of
these the CPU has (a fixed list keeps the report small; ``flags`` lists about a hundred)."""


def parse_cpu_flags(text: str | None) -> tuple[str, ...] | None:
    """Which of CPU_FLAGS the first CPU's ``flags`` (x86) or ``Features`` (Arm) line lists, in
    CPU_FLAGS order; None when ``/proc/cpuinfo`` has no such line (or could not be read)."""
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            present = set(value.split())
            return tuple(flag for flag in CPU_FLAGS if flag in present)
    return None


def parse_meminfo(text: str | None) -> int | None:
    """``MemTotal`` in MiB."""
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) // 1024
    return None


def detect_container(ctx: ProbeContext) -> str | None:
    """``docker``, ``podman``, ``apptainer``, ``kubernetes``, ``container`` for other runtimes,
    or None on bare metal / a VM."""
    # Apptainer shares the host's PID and cgroup namespaces, so only its own marks tell.
    apptainer = ("APPTAINER_CONTAINER", "SINGULARITY_CONTAINER", "APPTAINER_NAME")
    if any(n in ctx.env for n in apptainer) or ctx.path("/.singularity.d").is_dir():
        return "apptainer"
    if "KUBERNETES_SERVICE_HOST" in ctx.env:
        return "kubernetes"
    if ctx.path("/.dockerenv").exists():
        return "docker"
    if ctx.path("/run/.containerenv").exists():
        return "podman"
    cgroup = (ctx.read_text("/proc/1/cgroup") or "").lower()
    if "docker" in cgroup:
        return "docker"
    if "libpod" in cgroup:
        return "podman"
    if any(marker in cgroup for marker in _CGROUP_MARKERS):
        return "container"
    return None


def detect_wsl(ctx: ProbeContext) -> bool:
    """WSL2: a Microsoft kernel and the ``/dev/dxg`` GPU paravirtualisation device."""
    version = (ctx.read_text("/proc/version") or "").lower()
    return "microsoft" in version or ctx.path("/dev/dxg").exists()


WSL_LIBCUDA = "/usr/lib/wsl/lib/libcuda.so.1"
WSL_DRIVERS = "/usr/lib/wsl/drivers"
_WSL_DRIVER_STORES = 64
"""At most this many driver-store folders are looked into (WSL mounts a handful)."""


def wsl_gpu(ctx: ProbeContext) -> tuple[bool, str | None]:
    """Whether ``/dev/dxg`` exists, and the Windows driver's libcuda under ``/usr/lib/wsl``.

    NVIDIA's container runtime passes ``/dev/dxg`` to a container under WSL2 and mounts the
    driver store's ``libcuda.so.1.1`` at its own path (``/usr/lib/wsl/drivers/<store>/``);
    a WSL distribution has ``/usr/lib/wsl/lib/libcuda.so.1`` from the Windows driver.
    """
    dxg = ctx.path("/dev/dxg").exists()
    if ctx.path(WSL_LIBCUDA).exists():
        return dxg, WSL_LIBCUDA
    try:
        stores = sorted(ctx.path(WSL_DRIVERS).iterdir())[:_WSL_DRIVER_STORES]
    except OSError:
        return dxg, None
    for store in stores:
        if (store / "libcuda.so.1.1").exists():
            return dxg, f"{WSL_DRIVERS}/{store.name}/libcuda.so.1.1"
    return dxg, None


def glibc_version() -> str | None:
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None
    if value and value.startswith("glibc "):
        return value.split()[1]
    return None


def same_interpreter(python: str) -> bool:
    """The same binary in the same folder: a venv's ``python`` links to the base interpreter,
    so comparing resolved files alone took another venv for gpudoctor's own (and reported
    gpudoctor's environment as the inspected one)."""
    try:
        given, own = Path(python).absolute(), Path(sys.executable).absolute()
        return given.resolve() == own.resolve() and given.parent.resolve() == own.parent.resolve()
    except OSError:
        return False


def probe_python(ctx: ProbeContext) -> tuple[PythonInfo, Unavailable | None]:
    """The inspected interpreter; another one is asked through a tiny child process."""
    if same_interpreter(ctx.python):
        return from_dict(PythonInfo, python_info.describe()), None
    outcome = run_json_child(ctx, ctx.python, "python_info.py", timeout_s=min(ctx.timeout_s, 15))
    if outcome.data is not None:
        return from_dict(PythonInfo, outcome.data), None
    reason = outcome.error or "no answer"
    return PythonInfo(version="unknown", executable=ctx.python), Unavailable(
        field="host.python", code="timeout" if outcome.timed_out else "failed", message=reason
    )


def gpudoctor_command(env: Mapping[str, str]) -> tuple[str, ...]:
    """How a pasted command starts this gpudoctor: ``gpudoctor`` where that is on ``env``'s
    PATH (srun passes PATH on to a job), else this interpreter with ``-m gpudoctor``: run as
    ``python -m gpudoctor`` from a venv not on PATH, a bare ``gpudoctor`` failed there
    ('command not found'; on a node through srun, 'execve(): gpudoctor: No such file')."""
    if shutil.which("gpudoctor", path=env.get("PATH", "")) is not None or not sys.executable:
        return ("gpudoctor",)
    return (sys.executable, "-m", "gpudoctor")


def probe_host(ctx: ProbeContext) -> HostInfo:
    """Everything cheap about the host; reads files through ``ctx`` so tests can fake them."""
    errors: list[Unavailable] = []
    python, error = probe_python(ctx)
    if error is not None:
        errors.append(error)
    cpuinfo = ctx.read_text("/proc/cpuinfo")
    cpu_model, cpu_count = parse_cpuinfo(cpuinfo)
    os_release = parse_os_release(
        ctx.read_text("/etc/os-release") or ctx.read_text("/usr/lib/os-release")
    )
    kernel = (ctx.read_text("/proc/sys/kernel/osrelease") or "").strip() or platform.release()
    wsl = detect_wsl(ctx)
    dxg, wsl_libcuda = wsl_gpu(ctx) if wsl else (None, None)
    return HostInfo(
        hostname=socket.gethostname(),
        os=_OS_NAMES.get(sys.platform, sys.platform),
        os_release=os_release or (platform.platform(terse=True) if os.name == "nt" else None),
        kernel=kernel or None,
        arch=platform.machine() or "unknown",
        cpu_model=cpu_model or platform.processor() or None,
        cpu_count=cpu_count or os.cpu_count(),
        memory_total_mib=parse_meminfo(ctx.read_text("/proc/meminfo")),
        python=python,
        gpudoctor_command=gpudoctor_command(ctx.env),
        container=detect_container(ctx),
        wsl=wsl,
        dxg=dxg,
        wsl_libcuda=wsl_libcuda,
        glibc=glibc_version(),
        cpu_flags=parse_cpu_flags(cpuinfo),
        env={name: ctx.env[name] for name in ENV_VARS if name in ctx.env},
        errors=tuple(errors),
    )
