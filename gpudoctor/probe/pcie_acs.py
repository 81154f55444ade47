"""PCIe ACS of the bridges above each NVIDIA GPU, read from their ``config`` files in /sys."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from gpudoctor.model.report import PcieBridgeAcs

# The ACS Control bits, as Linux names them (include/uapi/linux/pci_regs.h, PCI_ACS_SV ..
# PCI_ACS_DT) and as `lspci -vvv` prints them on its ACSCtl line (pciutils ls-ecaps.c), the
# line NCCL's troubleshooting guide tells people to grep for.
ACS_BITS: tuple[tuple[int, str], ...] = (
    (0x01, "SrcValid"),  # PCI_ACS_SV: source validation
    (0x02, "TransBlk"),  # PCI_ACS_TB: translation blocking
    (0x04, "ReqRedir"),  # PCI_ACS_RR: P2P request redirect
    (0x08, "CmpltRedir"),  # PCI_ACS_CR: P2P completion redirect
    (0x10, "UpstreamFwd"),  # PCI_ACS_UF: upstream forwarding
    (0x20, "EgressCtrl"),  # PCI_ACS_EC: P2P egress control
    (0x40, "DirectTrans"),  # PCI_ACS_DT: direct translated P2P
)
EXT_CAP_ID_ACS = 0x000D
"""PCI_EXT_CAP_ID_ACS (pci_regs.h)."""
EXT_CAP_START = 0x100
"""The first extended capability header (PCI_CFG_SPACE_SIZE: where extended space begins)."""
UNPRIVILEGED_BYTES = 64
"""What a read of ``config`` gives without CAP_SYS_ADMIN (128 for CardBus bridges): Linux
drivers/pci/pci-sysfs.c ``pci_read_config`` ("Several chips lock up trying to read undefined
config space")."""
MAX_HOPS = 64
"""Extended capabilities followed per bridge (a real port has about ten)."""
MAX_DEPTH = 16
"""Bridges walked up from one GPU (an HGX board has four or five levels)."""
MAX_GPUS = 64
_ADDRESS = re.compile(r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
"""A PCI device's folder name in /sys/devices (``0000:03:08.0``; VMD domains have more digits)."""


def decode(control: int) -> tuple[str, ...]:
    """The names of the ACS bits set in ``control``, lowest bit first."""
    return tuple(name for bit, name in ACS_BITS if control & bit)


def _dword(fh: BinaryIO, offset: int) -> int | None:
    """The 32-bit little-endian value at ``offset``; None past the end of what is readable."""
    fh.seek(offset)
    data = fh.read(4)
    return int.from_bytes(data, "little") if len(data) == 4 else None


def _walk(fh: BinaryIO) -> tuple[str, int | None, int | None]:
    ident = _dword(fh, 0)
    if ident is None or ident == 0xFFFFFFFF or _dword(fh, UNPRIVILEGED_BYTES - 4) is None:
        return "unreadable", None, None  # no vendor ID (the device is gone) or a cut header
    if _dword(fh, UNPRIVILEGED_BYTES) is None:
        return "needs_root", None, None  # the kernel showed the 64-byte header only
    header = _dword(fh, EXT_CAP_START)
    # A conventional PCI device has 256 bytes and nothing past them; a device whose extended
    # space mirrors the first 256 bytes has none either (Linux drivers/pci/probe.c
    # pci_ext_cfg_is_aliased gives it a 256-byte config space).
    if header is None or header in (0, 0xFFFFFFFF) or header == ident:
        return "absent", None, None
    pos, seen = EXT_CAP_START, set()
    for _ in range(MAX_HOPS):
        if header & 0xFFFF == EXT_CAP_ID_ACS:
            registers = _dword(fh, pos + 4)  # Capability (+4) and Control (+6), 16 bits each
            if registers is None:
                return "unreadable", None, None
            return "read", registers & 0xFFFF, registers >> 16
        seen.add(pos)
        # Header: capability ID (15:0), version (19:16), next offset (31:20), dword aligned
        # as Linux's PCI_EXT_CAP_NEXT masks it; 0 ends the list.
        pos = (header >> 20) & 0xFFC
        if pos == 0:
            return "absent", None, None
        if pos < EXT_CAP_START or pos in seen:
            return "unreadable", None, None  # a list that points back or loops
        header = _dword(fh, pos)
        if header is None or header in (0, 0xFFFFFFFF):
            return "absent", None, None
    return "unreadable", None, None


def read_acs(config: Path) -> tuple[str, int | None, int | None]:
    """(status, ACS Capability, ACS Control) of one bridge's ``config`` file.

    A handful of 4-byte reads, unbuffered: as root, a buffered read would make the kernel read
    the whole 4 KiB configuration space of the bridge, one config cycle per dword.
    """
    try:
        with config.open("rb", buffering=0) as fh:
            return _walk(fh)
    except OSError:
        return "unreadable", None, None


def bridges_above(gpus: Iterable[Path], sys_root: Path) -> dict[Path, list[str]]:
    """Each PCI bridge's folder in /sys/devices -> the GPUs below it.

    ``/sys/bus/pci/devices/<address>`` links to ``/sys/devices/pci0000:00/0000:00:01.0/...``:
    every folder above the GPU named like a PCI address is a bridge or port on its path to the
    root complex (``pci0000:00``, the host bridge, is not a PCI device and ends the walk).
    """
    found: dict[Path, list[str]] = {}
    for gpu in list(gpus)[:MAX_GPUS]:
        try:
            real = gpu.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not real.is_relative_to(sys_root):
            continue  # a link out of the tree read (a test's fake /sys must not reach the host)
        for parent in list(real.parents)[:MAX_DEPTH]:
            if not _ADDRESS.match(parent.name):
                break
            found.setdefault(parent, []).append(gpu.name)
    return found


def bridge_acs(
    gpus: Iterable[Path], sys_root: Path
) -> tuple[tuple[PcieBridgeAcs, ...], bool | None]:
    """The ACS settings of every bridge above ``gpus`` (their /sys/bus/pci/devices entries), and
    whether ACS was readable at all (None when there was no bridge)."""
    found = []
    for folder, below in sorted(bridges_above(gpus, sys_root).items(), key=lambda i: i[0].name):
        status, capability, control = read_acs(folder / "config")
        found.append(
            PcieBridgeAcs(
                bridge=folder.name,
                gpus=tuple(sorted(set(below))),
                root_port=not _ADDRESS.match(folder.parent.name),
                status=status,
                capability=capability,
                control=control,
                enabled=decode(control) if control is not None else (),
            )
        )
    statuses = {b.status for b in found}
    if "needs_root" in statuses:
        readable: bool | None = False
    elif statuses & {"read", "absent"}:
        readable = True
    else:
        readable = None
    return tuple(found), readable
