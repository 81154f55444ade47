"""Hardware probe: the kernel log's Xids, InfiniBand/RoCE ports, the IOMMU and PCIe ACS."""

from __future__ import annotations

import re
from pathlib import Path

from gpudoctor.model.report import HardwareInfo, IbPort, IommuInfo, Unavailable
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.kernel_driver import NVIDIA_VENDOR
from gpudoctor.probe.kernel_log import probe_kernel_log
from gpudoctor.probe.pcie_acs import bridge_acs

MAX_IB_DEVICES = 64
MAX_IB_PORTS = 8
"""Bounds on the /sys walk (a node has a handful of HCAs with one or two ports each)."""
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*Gb/sec")
_IOMMU_SWITCHES = ("iommu=", "intel_iommu=", "amd_iommu=", "iommu.passthrough=", "iommu.strict=")
_ACS_SWITCHES = ("pci=", "pcie_acs_override=")
"""Kept when they name ACS: ``pci=disable_acs_redir=...``, ``pci=config_acs=...`` (Linux
Documentation/admin-guide/kernel-parameters.txt) and the out-of-tree ACS override patch's."""


def _switch(word: str) -> bool:
    return word.startswith(_IOMMU_SWITCHES) or (word.startswith(_ACS_SWITCHES) and "acs" in word)


def _read(path: Path, limit: int = 4096) -> str | None:
    try:
        with path.open(encoding="ascii", errors="replace") as fh:
            return fh.read(limit).strip()
    except OSError:
        return None


def _after_colon(text: str | None) -> str | None:
    """``4: ACTIVE`` -> ``ACTIVE``; ``5: LinkUp`` -> ``LinkUp``."""
    if text is None:
        return None
    return text.partition(":")[2].strip() or text.strip() or None


def _number(text: str | None) -> int | None:
    """A number as sysfs writes one (ASCII digits, below 2**64: the kernel's u64), else None.

    int() took ``-1``, ``٣`` and ``²`` (a ValueError) and 64-digit numbers, none of which a
    saved report reads back: its reader refuses negative numbers and any beyond 64 bits."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 20:
        return None
    value = int(text)
    return value if value < 1 << 64 else None


def _counter(path: Path) -> int | None:
    return _number(_read(path, 64))


def parse_rate(text: str | None) -> float | None:
    """``400 Gb/sec (4X NDR)`` -> 400.0; None when the kernel wrote something else."""
    match = _RATE.match(text or "")
    return float(match.group(1)) if match else None


def _port_number(path: Path) -> int:
    return _number(path.name) or 0


def ib_ports(ctx: ProbeContext) -> tuple[IbPort, ...] | None:
    """Every port under ``/sys/class/infiniband`` (no root needed); None when the folder is
    absent (no RDMA driver loaded)."""
    root = ctx.path("/sys/class/infiniband")
    try:
        devices = sorted(root.iterdir())[:MAX_IB_DEVICES]
    except OSError:
        return None
    found = []
    for device in devices:
        try:
            ports = sorted((device / "ports").iterdir(), key=_port_number)[:MAX_IB_PORTS]
        except OSError:
            continue
        hca_type = _read(device / "hca_type", 64) or None
        board_id = _read(device / "board_id", 64) or None
        for port in ports:
            number = _number(port.name)
            if number is None:
                continue
            rate = _read(port / "rate")
            found.append(
                IbPort(
                    device=device.name,
                    port=number,
                    state=_after_colon(_read(port / "state")),
                    phys_state=_after_colon(_read(port / "phys_state")),
                    rate=rate,
                    rate_gbps=parse_rate(rate),
                    link_layer=_read(port / "link_layer"),
                    link_downed=_counter(port / "counters" / "link_downed"),
                    symbol_error=_counter(port / "counters" / "symbol_error"),
                    link_error_recovery=_counter(port / "counters" / "link_error_recovery"),
                    hca_type=hca_type,
                    board_id=board_id,
                )
            )
    return tuple(found)


def iommu(ctx: ProbeContext) -> IommuInfo | None:
    """IOMMU groups, the domain type of each NVIDIA GPU's group and the ACS settings of the
    bridges above the GPUs (readable by root only); None without /sys."""
    groups_dir = ctx.path("/sys/kernel/iommu_groups")
    if not ctx.path("/sys").is_dir():
        return None
    try:
        groups = sum(1 for _ in groups_dir.iterdir())
    except OSError:
        groups = 0  # no such folder: no IOMMU driver
    gpu_groups: dict[str, str] = {}
    try:
        devices = sorted(ctx.path("/sys/bus/pci/devices").iterdir())
    except OSError:
        devices = []
    gpus = []
    for dev in devices:
        if _read(dev / "vendor", 16) != NVIDIA_VENDOR:
            continue
        if not (_read(dev / "class", 16) or "").startswith("0x03"):
            continue
        gpus.append(dev)
        try:
            group = (dev / "iommu_group").readlink().name
        except OSError:
            continue
        kind = _read(groups_dir / group / "type", 64)
        gpu_groups[dev.name] = kind or "unknown"
    cmdline = (ctx.read_text("/proc/cmdline") or "").split()
    bridges, acs_readable = bridge_acs(gpus, ctx.path("/sys").resolve())
    return IommuInfo(
        groups=groups,
        gpu_groups=gpu_groups,
        cmdline=tuple(w for w in cmdline if _switch(w))[:8],
        bridges=bridges,
        acs_readable=acs_readable,
    )


def probe_hardware(ctx: ProbeContext) -> HardwareInfo:
    """Xids and SXids of the look-back window, InfiniBand ports, the IOMMU; no root needed
    (except for the bridges' ACS settings, recorded as needing root)."""
    errors = []
    ports = ib_ports(ctx)
    if ports is None and ctx.path("/sys").is_dir():
        ports = ()  # no RDMA stack: nothing to check, nothing missing
    if ports is None:
        errors.append(
            Unavailable(field="hardware.ib_ports", code="not_visible", message="no /sys here")
        )
    return HardwareInfo(
        kernel_log=probe_kernel_log(ctx, window_s=ctx.log_window_s),
        ib_ports=ports or (),
        iommu=iommu(ctx),
        errors=tuple(errors),
    )
