"""Fake /sys PCI trees for the ACS probe: real recorded config space, or bytes built per spec."""

from __future__ import annotations

import os
import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "pci"
_HEX = re.compile(r"^([0-9a-f]{2,3}): ((?:[0-9a-f]{2} ){15}[0-9a-f]{2})$")


def lspci_dumps(name: str) -> dict[str, bytes]:
    """Each device of an ``lspci -vvvxxxx`` file (tests/data/pci) -> its configuration space.

    Keyed by the address lspci printed (``00:02.0``); offsets lspci left out are zero."""
    found: dict[str, bytearray] = {}
    current: bytearray | None = None
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        match = _HEX.match(line)
        if match and current is not None:
            offset = int(match.group(1), 16)
            current[offset : offset + 16] = bytes.fromhex(match.group(2))
        elif line and not line[0].isspace() and not match:
            current = found.setdefault(line.split()[0], bytearray(4096))
    return {address: bytes(space) for address, space in found.items()}


def lspci_acsctl(name: str, address: str) -> tuple[str, ...]:
    """The bits lspci's own ``ACSCtl:`` line marks ``+`` for one device of a dump file."""
    device = None
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace():
            device = line.split()[0]
        elif device == address and "ACSCtl:" in line:
            return tuple(w[:-1] for w in line.split("\t")[-1].split() if w.endswith("+"))
    raise LookupError(f"no ACSCtl line for {address} in {name}")


def built_config(acs_control: int | None, acs_capability: int = 0x005F) -> bytes:
    """4 KiB of a PCI bridge built per the PCIe layout (no real dump of a switch downstream
    port with ACS was found): an AER capability at 0x100, then ACS at 0x148 unless None."""
    space = bytearray(4096)
    space[0:4] = (0x8796 << 16 | 0x10B5).to_bytes(4, "little")  # PLX vendor, PEX 8796
    space[0x0E] = 0x01  # header type 1: a bridge
    nxt = 0x148 if acs_control is not None else 0
    space[0x100:0x104] = (nxt << 20 | 1 << 16 | 0x0001).to_bytes(4, "little")  # AER, v1
    if acs_control is not None:
        space[0x148:0x14C] = (1 << 16 | 0x000D).to_bytes(4, "little")  # ACS, v1, last
        space[0x14C:0x150] = (acs_control << 16 | acs_capability).to_bytes(4, "little")
    return bytes(space)


def ext_header(cap_id: int, next_offset: int) -> bytes:
    """One extended capability header (ID, version 1, next offset)."""
    return (next_offset << 20 | 1 << 16 | cap_id).to_bytes(4, "little")


def pci_device(
    root: Path, chain: list[str], config: bytes | None = None, *, gpu: bool = False
) -> Path:
    """The device at the end of ``chain`` (addresses from the root bus down) under
    /sys/devices/pci0000:00, linked from /sys/bus/pci/devices as the kernel links it
    (relatively); a GPU gets NVIDIA's vendor and a display class, a bridge class 0x0604."""
    domain = chain[0][:4]
    real = root / "sys" / "devices" / f"pci{domain}:00"
    for address in chain:
        real = real / address
    real.mkdir(parents=True, exist_ok=True)
    (real / "vendor").write_text("0x10de\n" if gpu else "0x10b5\n")
    (real / "class").write_text("0x030200\n" if gpu else "0x060400\n")
    if config is not None:
        (real / "config").write_bytes(config)
    bus = root / "sys" / "bus" / "pci" / "devices"
    bus.mkdir(parents=True, exist_ok=True)
    link = bus / chain[-1]
    if not link.is_symlink():
        link.symlink_to(os.path.relpath(real, bus))
    return real
