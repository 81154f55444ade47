"""One line per area of the stack, and the marks and labels both human renderers share."""

from __future__ import annotations

from collections import Counter

from gpudoctor.model.derived import (
    no_nvidia_gpu,
    not_applicable,
    not_applicable_words,
    windows_shows_no_nvidia,
    wsl_name,
)
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, GpuInfo, Report

AREA_LABELS: dict[str, str] = {
    "host": "Host",
    "driver": "Kernel driver",
    "nvml": "NVML",
    "gpu": "GPUs",
    "cuda": "CUDA",
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
}

MARKS: dict[Severity, str] = {
    Severity.OK: "✓",
    Severity.INFO: "i",
    Severity.WARNING: "!",
    Severity.ERROR: "✗",
}


def plural(n: int, word: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def na(value: object, unit: str = "") -> str:
    """The value with its unit, or an en dash when unknown."""
    return "–" if value is None else f"{value}{unit}"


def gib(mib: int | None) -> str:
    """MiB shown as whole GiB."""
    return "–" if mib is None else f"{mib / 1024:.0f} GiB"


# --- one line per area -----------------------------------------------------------------------


def headline(report: Report, area: str) -> str:
    """What an area's line says about the machine, problems or not."""
    if not_applicable(report, area):
        return not_applicable_words(report)
    return {
        "host": _host_line,
        "driver": _driver_line,
        "nvml": _nvml_line,
        "gpu": _gpu_line,
        "cuda": _cuda_line,
    }.get(area, lambda r: _framework_line(r.framework(area)))(report)


def _host_line(report: Report) -> str:
    host = report.host
    py = host.python
    env = py.env_kind + (f" {py.env_name}" if py.env_name else "")
    parts = [host.os_release or host.os, host.arch]
    if host.wsl:
        parts.append(wsl_name(report) or "WSL2")
    if host.container:
        parts.append(f"{host.container} container")
    parts.append(f"Python {py.version} ({env})")
    return ", ".join(parts)


def _driver_line(report: Report) -> str:
    host, drv = report.host, report.driver
    if host.os == "darwin":
        return "macOS: no NVIDIA driver"
    if windows_shows_no_nvidia(report):
        return "Windows: no NVIDIA driver found"
    if host.os == "windows":
        return f"Windows driver {report.nvml.driver_version or '(unknown)'}"
    if host.wsl:
        return f"{wsl_name(report)}, Windows driver {report.nvml.driver_version or '(unknown)'}"
    if drv.module_version:
        return f"nvidia {drv.module_version}" + (", nvidia_uvm loaded" if drv.uvm_loaded else "")
    if no_nvidia_gpu(report):
        return "no NVIDIA GPU on the PCI bus"
    if host.container and not drv.pci_functions:
        return "not visible from the container"
    bound = sorted({fn.driver or "no driver" for fn in drv.pci_functions})
    return "nvidia module not loaded" + (f" (GPU bound to: {', '.join(bound)})" if bound else "")


def _nvml_line(report: Report) -> str:
    nvml = report.nvml
    if nvml.status != "ok":
        return f"not available ({nvml.status})"
    cuda = f", CUDA {nvml.cuda_driver_version}" if nvml.cuda_driver_version else ""
    return f"driver {nvml.driver_version or '?'}{cuda}, {plural(len(nvml.gpus), 'GPU')}"


def gpu_summary(gpu: GpuInfo) -> str:
    """``NVIDIA H100 80GB HBM3 (9.0, 80 GiB)``."""
    extra = [x for x in (gpu.compute_capability, gib(gpu.memory_total_mib)) if x != "–" and x]
    return f"{gpu.name or 'unknown GPU'}" + (f" ({', '.join(extra)})" if extra else "")


def _gpu_line(report: Report) -> str:
    gpus = report.nvml.gpus if report.nvml.status == "ok" else ()
    if not gpus:
        return "not checked (NVML lists no GPU)"
    counts = Counter(gpu_summary(g) for g in gpus if not g.lost)
    parts = [f"{n} × {name}" if n > 1 else name for name, n in counts.items()]
    lost = sum(1 for g in gpus if g.lost)
    if lost:
        parts.append(f"{lost} lost")
    mig = sum(len(g.mig_devices) for g in gpus if g.mig_enabled)
    if mig:
        parts.append(f"MIG on ({plural(mig, 'instance')})")
    return ", ".join(parts)


def _cuda_line(report: Report) -> str:
    cuda = report.cuda
    if cuda.libcuda_error:
        return "libcuda not loaded"
    if cuda.status in ("timeout", "skipped"):
        return "timed out" if cuda.status == "timeout" else "not checked"
    if cuda.cu_init_result not in (None, 0):
        return f"cuInit failed: {cuda.cu_init_error or cuda.cu_init_result}"
    if cuda.status != "ok":
        return cuda.message or cuda.status
    devices = "" if cuda.device_count is None else f", {plural(cuda.device_count, 'device')}"
    return f"driver API {cuda.driver_version or '?'}{devices}"


def _framework_line(fw: FrameworkInfo | None) -> str:
    if fw is None:
        return "not checked"
    if fw.status == "not_installed":
        return "not installed"
    if fw.status != "ok":
        return f"{fw.version or ''} {fw.status.replace('_', ' ')}".strip()
    parts = [fw.version or "?"]
    if fw.cuda_build:
        parts.append(f"CUDA {fw.build_cuda or '?'}")
        if fw.build_cudnn:
            parts.append(f"cuDNN {fw.build_cudnn}")
        parts.append(_framework_gpus(fw))
    elif fw.gpu_backend:
        parts += _backend_parts(fw)
    else:
        parts.append("CPU-only build")
    return ", ".join(parts)


_BACKENDS = {"rocm": ("ROCm", "AMD"), "xpu": ("XPU", "Intel")}
"""Each backend of a build for other GPUs than NVIDIA's: its name and whose GPUs it drives."""


def _backend_parts(fw: FrameworkInfo) -> list[str]:
    """``ROCm build (HIP 6.4.43482)``, ``1 AMD GPU usable``: a build for GPUs that are not
    NVIDIA's is no CPU-only build."""
    count = fw.gpu_backend_devices
    if fw.gpu_backend == "mps":  # every macOS wheel: the build says nothing, availability does
        return ["MPS build"] if count is None else [_mps_words(count)]
    if fw.gpu_backend == "metal":  # TensorFlow's GPUs on macOS: Apple's plugin's
        return [f"Metal plugin, {plural(count or 0, 'Apple GPU')} visible"]
    name, maker = _BACKENDS.get(fw.gpu_backend or "", (fw.gpu_backend or "?", "other"))
    version = f" ({'HIP ' if fw.gpu_backend == 'rocm' else ''}{fw.gpu_backend_version})"
    parts = [f"{name} build{version if fw.gpu_backend_version else ''}, no CUDA"]
    if fw.gpu_backend == "rocm" and count:
        parts.append(_framework_gpus(fw).replace("GPU", f"{maker} GPU", 1))
    elif count is not None:
        parts.append(f"{plural(count, f'{maker} GPU')} visible" if count else f"no {maker} GPU")
    return parts


def _mps_words(count: int) -> str:
    return "MPS available (the Apple GPU)" if count else "MPS not available: CPU only"


def _framework_gpus(fw: FrameworkInfo) -> str:
    """How many GPUs the framework sees, and "usable" only where its smoke test passed."""
    if not fw.cuda_available:
        return "no usable GPU"
    count = fw.device_count if fw.device_count is not None else len(fw.devices)
    passed = sum(1 for d in fw.devices if d.smoke_ok is True)
    failed = sum(1 for d in fw.devices if d.smoke_ok is False)
    if failed:
        return f"{plural(count, 'GPU')} visible, smoke test failed on {failed}"
    if fw.devices and passed == len(fw.devices) and passed == count:
        return f"{plural(count, 'GPU')} usable"
    return f"{plural(count, 'GPU')} visible"


def remote_line(report: Report) -> str | None:
    """Where ``check --partition`` ran this check; None for a check of the machine it ran on."""
    remote = report.site.remote if report.site is not None else None
    if remote is None:
        return None
    part = f"partition {remote.partition}" if remote.partition else "the default partition"
    gpus = f", GRES {remote.gres}" if remote.gres else ": no GPU GRES, the job had no GPU"
    took = f", {remote.duration_s:.1f} s" if remote.duration_s is not None else ""
    return f"checked on node {remote.node} through srun ({part}{gpus}){took}"
