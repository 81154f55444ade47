"""The one list of comparable facts of a report: what `diff` compares and fleet drift groups."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from gpudoctor.model.clock_events import load_of
from gpudoctor.model.derived import gpus
from gpudoctor.model.report import FrameworkInfo, GpuInfo, Report

GROUPS: tuple[tuple[str, str], ...] = (
    ("driver", "Kernel module and driver"),
    ("nvml", "NVML and CUDA driver"),
    ("gpus", "GPUs and their settings"),
    ("cuda", "CUDA libraries"),
    ("frameworks", "Frameworks"),
    ("environment", "Environment"),
    ("host", "Host"),
)
"""Each group's name and heading, in the order a diff shows them: what matters most first."""

GROUP_ORDER = {name: i for i, (name, _) in enumerate(GROUPS)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Fact:
    """One comparable fact: a stable key, its group, words for people, and its value."""

    key: str
    """Stable and unique within a report: ``nvml.driver_version``, ``gpu.0.power_limit_w``."""
    group: str
    """One of :data:`GROUPS`' names."""
    label: str
    """``NVML driver``, ``GPU 0 power limit (W)``."""
    value: str | None
    """As shown; None when the report does not know it (unknown is never a change)."""
    fleet: str | None = None
    """The fact's name in fleet drift (``driver_version``) when fleets compare it across nodes;
    per-GPU facts name it without the index (``gpu.power_limit_w``)."""


def show(value: object) -> str | None:
    """A value as facts hold it: booleans as on/off, floats without trailing zeros."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_BUILT = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" +\d{1,2} \d\d:\d\d:\d\d(?: [A-Z]{2,5})? \d{4}"
)


def module_build_date(proc_version_line: str | None) -> str | None:
    """When the loaded kernel module was built, from /proc/driver/nvidia/version's first line.

    ``NVRM version: NVIDIA UNIX x86_64 Kernel Module  590.48.01  Tue Nov 18 20:26:51 UTC 2025``;
    DKMS rebuilds it for each new kernel, so a changed date with an unchanged version means a
    rebuild (or a kernel update). None when the line carries no date (some builds say
    ``Release Build``).
    """
    if not proc_version_line:
        return None
    found = _BUILT.search(proc_version_line)
    return " ".join(found.group(0).split()) if found else None


def memory_gib(mib: int | None) -> int | None:
    """The host's memory in whole GiB (half up), from MemTotal in MiB."""
    return None if mib is None else (mib + 512) // 1024


def effective_cudnn(report: Report) -> str | None:
    """The cuDNN a framework really loaded, else the one it was built with, else the system's."""
    for fw in report.frameworks:
        if fw.status == "ok" and fw.cudnn_runtime:
            return fw.cudnn_runtime
    for fw in report.frameworks:
        if fw.status == "ok" and fw.build_cudnn:
            return fw.build_cudnn
    for lib in report.cuda.libraries:
        if lib.name == "cudnn" and lib.version:
            return lib.version
    return None


def framework_build(fw: FrameworkInfo) -> str:
    """``2.11.0+cu130 (CUDA 13.0, cuDNN 9.19.0)``; the status when it did not load."""
    if fw.status != "ok" or not fw.version:
        return fw.status.replace("_", " ")
    if not fw.cuda_build:
        return f"{fw.version} (CPU)"
    parts = [f"CUDA {fw.build_cuda}" if fw.build_cuda else "CUDA"]
    if fw.build_cudnn:
        parts.append(f"cuDNN {fw.build_cudnn}")
    return f"{fw.version} ({', '.join(parts)})"


_GPU_FIELDS: tuple[tuple[str, str, str | None, bool], ...] = (
    # (GpuInfo field, label, fleet name, whether diff compares it)
    ("name", "model", None, True),
    ("pci_bus_id", "PCI address", None, True),
    ("lost", "lost", None, True),
    ("memory_total_mib", "memory (MiB)", "gpu.memory_total_mib", True),
    ("pcie_width", "PCIe width", "gpu.pcie_width", True),
    ("pcie_width_max", "PCIe width (max)", "gpu.pcie_width_max", True),
    # The current PCIe generation: an idle GPU trains its link down and back up, so two
    # healthy runs of one machine differ; a fleet compares it across nodes checked together.
    ("pcie_gen", "PCIe generation", "gpu.pcie_gen", False),
    ("pcie_gen_max", "PCIe generation (max)", "gpu.pcie_gen_max", True),
    ("power_limit_w", "power limit (W)", "gpu.power_limit_w", True),
    ("sm_clock_max_mhz", "SM clock max (MHz)", "gpu.sm_clock_max_mhz", True),
    ("ecc_enabled", "ECC", "gpu.ecc", True),
    ("ecc_pending", "ECC change pending", None, True),
    ("mig_enabled", "MIG", "gpu.mig", True),
    ("mig_pending", "MIG change pending", None, True),
    ("persistence_mode", "persistence mode", "gpu.persistence_mode", True),
    ("nvlinks_active", "NVLinks up", "gpu.nvlinks_active", True),
    ("nvlink_speed_mbps", "NVLink speed (MBps)", "gpu.nvlink_speed_mbps", True),
    ("compute_mode", "compute mode", None, True),
    ("compute_capability", "compute capability", None, True),
)
"""Per-GPU facts; the fleet compares those with a fleet name GPU against GPU of one model."""

GPU_FLEET_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (fleet, field) for field, _, fleet, _ in _GPU_FIELDS if fleet is not None
)
"""(fleet name, GpuInfo field) of the per-GPU facts fleet drift compares, in drift's order."""


def nvlinks_active(g: GpuInfo) -> int | None:
    """NVLinks up; None where NVML listed none or could not be asked (MIG mode, old drivers)."""
    return g.nvlinks_up if g.nvlink_count else None


def gpu_value(g: GpuInfo, field: str) -> object:
    """The value of one of :data:`_GPU_FIELDS` for ``g``: a GpuInfo field, or derived from one."""
    if field == "pcie_gen" and load_of(g.clock_event_reasons, g.utilization_gpu_pct) == "idle":
        # an idle GPU trains its link down to save power (Gen1 at idle, Gen3 under load on
        # one machine): unknown, so that a fleet checked at mixed load does not drift on it
        return None
    return nvlinks_active(g) if field == "nvlinks_active" else getattr(g, field)


def ib_rates(report: Report) -> str | None:
    """The rates of the active InfiniBand/RoCE ports, counted: ``400 Gb/s x8``."""
    ports = report.hardware.ib_ports if report.hardware is not None else ()
    rates = Counter(p.rate_gbps for p in ports if p.state == "ACTIVE" and p.rate_gbps)
    if not rates:
        return None
    return " + ".join(f"{rate:g} Gb/s x{n}" for rate, n in sorted(rates.items()))


def acs_redirect(report: Report) -> bool | None:
    """Whether PCIe ACS redirect is on at a bridge above the GPUs; None where it was not read
    (not root, no bridge, a report from before the probe): unknown is never a difference."""
    iommu = report.hardware.iommu if report.hardware is not None else None
    if iommu is None or not iommu.acs_readable or not iommu.bridges:
        return None
    return any(b.redirects for b in iommu.bridges if b.status == "read")


def _fact(key: str, group: str, label: str, value: object, fleet: str | None = None) -> Fact:
    return Fact(key=key, group=group, label=label, value=show(value), fleet=fleet)


def _gpu_facts(g: GpuInfo) -> list[Fact]:
    return [
        _fact(
            f"gpu.{g.index}.{field}",
            "gpus",
            f"GPU {g.index} {label}",
            gpu_value(g, field),
            fleet,
        )
        for field, label, fleet, in_diff in _GPU_FIELDS
        if in_diff
    ]


def _framework_facts(fw: FrameworkInfo, *, build_only: bool = False) -> list[Fact]:
    name = fw.name
    build = _fact(
        f"framework.{name}", "frameworks", f"{name} build", framework_build(fw), f"framework.{name}"
    )
    if build_only:
        return [build]  # the one a fleet compares
    out = [
        build,
        _fact(
            f"framework.{name}.cuda_available", "frameworks", f"{name} sees CUDA", fw.cuda_available
        ),
        _fact(
            f"framework.{name}.cudnn_runtime",
            "frameworks",
            f"{name} cuDNN loaded",
            fw.cudnn_runtime,
        ),
        # Always listed, unknown when not recorded: reports written before 2026-12-04 have no
        # cudnn_library, and its absence there is no cuDNN that went away.
        _fact(
            f"framework.{name}.cudnn_library",
            "frameworks",
            f"{name} cuDNN from",
            fw.cudnn_library.path if fw.cudnn_library is not None else None,
        ),
    ]
    # What it loaded, by file name: the path each came from is the fact (a pip wheel's copy
    # against /usr/lib's is the classic shadowing).
    for path in sorted(set(fw.loaded_libraries)):
        base = path.rsplit("/", 1)[-1]
        out.append(
            _fact(
                f"framework.{name}.loaded.{base}",
                "frameworks",
                f"{name} loaded {base} from",
                path.rsplit("/", 1)[0] if "/" in path else path,
            )
        )
    return out


def report_facts(report: Report, *, whole_node: bool = False) -> tuple[Fact, ...]:
    """Every comparable fact of ``report``, grouped and in the order a diff shows them.

    Facts that differ between two healthy runs of one machine (temperatures, clocks now,
    memory used, processes) are not facts here. A key that appears twice keeps its first
    fact (a report that lists one framework twice). ``whole_node`` leaves out the per-GPU,
    per-library, per-wheel, per-loaded-file and environment facts, none of which has a fleet
    name (a fleet reads thousands of reports and compares GPUs through ``gpu_value``).
    """
    drv, nvml, cuda, host = report.driver, report.nvml, report.cuda, report.host
    listed = gpus(report)
    facts = [
        _fact(
            "driver.kernel_module",
            "driver",
            "kernel module",
            drv.module_version,
            "kernel_module_version",
        ),
        _fact("driver.module_flavour", "driver", "module flavour", drv.module_flavour),
        _fact(
            "driver.module_built",
            "driver",
            "module built",
            module_build_date(drv.proc_version_line),
        ),
        _fact(
            "driver.installed_module",
            "driver",
            "installed module (on disk)",
            drv.installed_module_version,
        ),
        _fact("driver.nouveau", "driver", "nouveau loaded", drv.nouveau_loaded),
        _fact(
            "driver.fabric_manager",
            "driver",
            "Fabric Manager",
            drv.fabric_manager.version if drv.fabric_manager else None,
        ),
        _fact("nvml.status", "nvml", "NVML", nvml.status),
        _fact(
            "nvml.driver_version", "nvml", "driver (NVML)", nvml.driver_version, "driver_version"
        ),
        _fact("nvml.nvml_version", "nvml", "NVML version", nvml.nvml_version),
        _fact(
            "nvml.cuda_driver_version",
            "nvml",
            "CUDA driver API (NVML)",
            nvml.cuda_driver_version,
            "cuda_driver_version",
        ),
        _fact("cuda.status", "nvml", "CUDA driver (libcuda)", cuda.status),
        _fact("cuda.driver_version", "nvml", "CUDA driver API (libcuda)", cuda.driver_version),
        _fact("cuda.libcuda_path", "nvml", "libcuda from", cuda.libcuda_path),
        _fact(
            "gpus.count",
            "gpus",
            "GPUs",
            len(listed) if nvml.status == "ok" else None,
            "gpus_per_node",
        ),
    ]
    for g in () if whole_node else listed:
        facts += _gpu_facts(g)
    facts.append(_fact("cuda.cudnn", "cuda", "cuDNN in use", effective_cudnn(report), "cudnn"))
    for lib in () if whole_node else report.cuda.libraries:
        facts.append(_fact(f"cuda.lib.{lib.name}.version", "cuda", f"{lib.name}", lib.version))
        facts.append(_fact(f"cuda.lib.{lib.name}.path", "cuda", f"{lib.name} from", lib.path))
    for wheel in () if whole_node else report.cuda.nvidia_wheels:
        facts.append(
            _fact(f"cuda.wheel.{wheel.name}", "cuda", f"wheel {wheel.name}", wheel.version)
        )
    for fw in report.frameworks:
        facts += _framework_facts(fw, build_only=whole_node)
    for name in () if whole_node else sorted(host.env):
        facts.append(_fact(f"env.{name}", "environment", name, host.env[name]))
    facts += [
        _fact("host.os", "host", "OS", host.os_release or host.os, "os"),
        _fact("host.kernel", "host", "kernel", host.kernel, "kernel"),
        _fact("host.glibc", "host", "glibc", host.glibc),
        _fact("host.container", "host", "container", host.container),
        _fact("host.python", "host", "Python", host.python.version),
        _fact("host.python_env", "host", "Python environment", host.python.env_prefix),
        _fact("host.cpu", "host", "CPU", host.cpu_model),
        # MemTotal is the RAM less the kernel's code and reservations (Documentation/
        # filesystems/proc.rst), so a kernel update moves it by some MiB: GiB, rounded, is
        # the memory fitted; a DIMM lost is still a change.
        _fact("host.memory_gib", "host", "memory (GiB)", memory_gib(host.memory_total_mib)),
        _fact(
            "host.infiniband", "host", "InfiniBand/RoCE ports up", ib_rates(report), "infiniband"
        ),
        # Linux sets ACS redirect at boot when an IOMMU is on, and a setpci fix is undone by a
        # reboot: a node that went back to redirecting is named among its peers.
        _fact(
            "host.acs_redirect",
            "host",
            "PCIe ACS redirect above the GPUs",
            acs_redirect(report),
            "acs_redirect",
        ),
    ]
    seen: set[str] = set()
    unique = []
    for fact in facts:
        if fact.key not in seen:
            seen.add(fact.key)
            unique.append(fact)
    return tuple(unique)


def fleet_facts(facts: tuple[Fact, ...]) -> tuple[Fact, ...]:
    """The whole-node facts a fleet compares across nodes (the per-GPU ones go GPU by GPU)."""
    return tuple(f for f in facts if f.fleet is not None and not f.key.startswith("gpu."))
