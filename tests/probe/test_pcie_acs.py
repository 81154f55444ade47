"""The PCIe ACS probe: the bridges above each GPU, and their ACS registers from real dumps."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.hardware import iommu
from gpudoctor.probe.pcie_acs import bridge_acs, decode, read_acs
from gpudoctor.probe.runcmd import CmdResult
from tests.probe.pci_tree import (
    built_config,
    ext_header,
    lspci_acsctl,
    lspci_dumps,
    pci_device,
)

HASWELL = "haswell-e-root-port-acs-on.txt"
X58 = "x58-root-port-acs-off.txt"
ACS_ON = lspci_dumps(HASWELL)["00:02.0"]
"""A real Intel Haswell-E root port, ACS Control 0x001f (pciutils tests/cap-aer-root)."""
ACS_OFF = lspci_dumps(X58)["00:01.0"]
"""A real Intel X58 root port with ACS but every control bit off (pciutils tests/cap-pcie-1)."""
PLX_UPSTREAM = lspci_dumps("pex8796-upstream-port.txt")["07:00.0"]
"""A real PEX 8796 upstream port: 8 extended capabilities, none of them ACS."""


def ctx(root: Path) -> ProbeContext:
    def refuse(argv, **kwargs):
        return CmdResult(argv=tuple(argv), returncode=1, stderr="Operation not permitted")

    return ProbeContext(root=root, env={"PATH": "/nonexistent"}, run=refuse)


def acs_of(root: Path, *gpus: str):
    bus = root / "sys" / "bus" / "pci" / "devices"
    return bridge_acs([bus / g for g in gpus], (root / "sys").resolve())


def config_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "config"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("name", "address"), [(HASWELL, "00:02.0"), (X58, "00:01.0")])
def test_the_bits_read_are_those_lspci_decoded_from_the_same_real_bytes(tmp_path, name, address):
    status, capability, control = read_acs(config_file(tmp_path, lspci_dumps(name)[address]))
    assert status == "read" and capability == 0x001F and control is not None
    assert decode(control) == lspci_acsctl(name, address)


def test_unprivileged_reads_see_64_bytes_and_need_root(tmp_path):
    # What an unprivileged read of a bridge's config file returns (drivers/pci/pci-sysfs.c).
    assert read_acs(config_file(tmp_path, ACS_ON[:64])) == ("needs_root", None, None)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (PLX_UPSTREAM, "absent"),  # a real list of 8 capabilities without ACS
        (lspci_dumps("rs690-aliased-ext-space.txt")["00:00.0"], "absent"),  # aliased space
        (ACS_OFF[:256], "absent"),  # a conventional PCI device: no extended space at all
        (built_config(None), "absent"),
        (b"\xff" * 4096, "unreadable"),  # the device is gone: all ones
        (ACS_ON[:10], "unreadable"),  # cut inside the header
        (b"", "unreadable"),
    ],
)
def test_bridges_without_readable_acs(tmp_path, data, status):
    assert read_acs(config_file(tmp_path, data))[0] == status


@pytest.mark.parametrize(
    "header",
    [
        ext_header(0x0001, 0x100),  # points at itself
        ext_header(0x0001, 0x040),  # points back into the standard header
    ],
)
def test_a_broken_capability_list_is_unreadable_not_a_hang(tmp_path, header):
    data = bytearray(ACS_ON)
    data[0x100:0x104] = header
    assert read_acs(config_file(tmp_path, bytes(data))) == ("unreadable", None, None)


def test_a_longer_loop_is_caught_too(tmp_path):
    data = bytearray(built_config(None))
    data[0x100:0x104] = ext_header(0x0001, 0x200)
    data[0x200:0x204] = ext_header(0x0002, 0x300)
    data[0x300:0x304] = ext_header(0x0003, 0x200)
    assert read_acs(config_file(tmp_path, bytes(data)))[0] == "unreadable"


def test_a_missing_config_file_is_unreadable(tmp_path):
    assert read_acs(tmp_path / "nothing")[0] == "unreadable"


def test_gpus_behind_a_pcie_switch(tmp_path):
    # root port (real X58, ACS off) -> PEX 8796 upstream port (real, no ACS) -> a downstream
    # port per GPU (built per spec, SrcValid ReqRedir CmpltRedir UpstreamFwd on, as Linux
    # sets them when an IOMMU asks for ACS) -> GPU
    top = ["0000:00:01.0", "0000:01:00.0"]
    pci_device(tmp_path, top[:1], ACS_OFF)
    pci_device(tmp_path, top, PLX_UPSTREAM)
    for port, gpu in (("0000:02:08.0", "0000:03:00.0"), ("0000:02:10.0", "0000:04:00.0")):
        pci_device(tmp_path, [*top, port], built_config(0x001D))
        pci_device(tmp_path, [*top, port, gpu], gpu=True)
    bridges, readable = acs_of(tmp_path, "0000:03:00.0", "0000:04:00.0")
    assert readable is True
    assert [(b.bridge, b.gpus, b.status, b.control) for b in bridges] == [
        ("0000:00:01.0", ("0000:03:00.0", "0000:04:00.0"), "read", 0),
        ("0000:01:00.0", ("0000:03:00.0", "0000:04:00.0"), "absent", None),
        ("0000:02:08.0", ("0000:03:00.0",), "read", 0x001D),
        ("0000:02:10.0", ("0000:04:00.0",), "read", 0x001D),
    ]
    assert [b.root_port for b in bridges] == [True, False, False, False]
    assert bridges[2].enabled == ("SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd")
    assert bridges[2].redirects == ("ReqRedir", "CmpltRedir")
    assert bridges[0].redirects == ()


def test_a_gpu_directly_on_a_root_port(tmp_path):
    pci_device(tmp_path, ["0000:00:02.0"], ACS_ON)
    pci_device(tmp_path, ["0000:00:02.0", "0000:17:00.0"], gpu=True)
    (bridge,), readable = acs_of(tmp_path, "0000:17:00.0")
    assert readable is True and bridge.bridge == "0000:00:02.0"
    assert bridge.gpus == ("0000:17:00.0",) and bridge.control == 0x001F
    assert bridge.redirects == ("ReqRedir", "CmpltRedir")


def test_a_gpu_on_the_root_bus_has_no_bridge(tmp_path):
    # A virtual machine's GPU: /sys/devices/pci0000:00/0000:00:05.0, nothing between
    pci_device(tmp_path, ["0000:00:05.0"], gpu=True)
    assert acs_of(tmp_path, "0000:00:05.0") == ((), None)


def test_not_root_records_every_bridge_as_needing_root(tmp_path):
    pci_device(tmp_path, ["0000:00:02.0"], ACS_ON[:64])
    pci_device(tmp_path, ["0000:00:02.0", "0000:17:00.0"], gpu=True)
    (bridge,), readable = acs_of(tmp_path, "0000:17:00.0")
    assert readable is False
    assert (bridge.status, bridge.control, bridge.enabled) == ("needs_root", None, ())


def test_bridges_none_of_which_could_be_read_leave_readable_unknown(tmp_path):
    # no config file at all (report-format.md: acs_readable null, neither root nor not)
    pci_device(tmp_path, ["0000:00:02.0"])
    pci_device(tmp_path, ["0000:00:02.0", "0000:17:00.0"], gpu=True)
    (bridge,), readable = acs_of(tmp_path, "0000:17:00.0")
    assert (bridge.status, readable) == ("unreadable", None)


def test_a_link_out_of_the_tree_is_not_followed(tmp_path):
    outside = tmp_path / "elsewhere" / "0000:00:02.0" / "0000:17:00.0"
    outside.mkdir(parents=True)
    (outside.parent / "config").write_bytes(ACS_ON)
    bus = tmp_path / "sys" / "bus" / "pci" / "devices"
    bus.mkdir(parents=True)
    (bus / "0000:17:00.0").symlink_to(outside)
    assert acs_of(tmp_path, "0000:17:00.0") == ((), None)


def test_the_iommu_probe_records_the_bridges_of_the_nvidia_gpus(tmp_path):
    pci_device(tmp_path, ["0000:00:02.0"], ACS_ON)
    pci_device(tmp_path, ["0000:00:02.0", "0000:17:00.0"], gpu=True)
    pci_device(tmp_path, ["0000:00:03.0"], ACS_OFF)
    pci_device(tmp_path, ["0000:00:03.0", "0000:65:00.0"], gpu=True)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cmdline").write_text(
        "ro intel_iommu=on iommu=pt pci=disable_acs_redir=0000:00:03.0 pci=noaer quiet\n"
    )
    found = iommu(ctx(tmp_path))
    assert found is not None and found.acs_readable is True and found.bridges is not None
    assert [(b.bridge, b.gpus, b.redirects) for b in found.bridges] == [
        ("0000:00:02.0", ("0000:17:00.0",), ("ReqRedir", "CmpltRedir")),
        ("0000:00:03.0", ("0000:65:00.0",), ()),
    ]
    # the bridges themselves (class 0x0604) are no GPUs; the ACS switch is kept, pci=noaer not
    assert found.cmdline == ("intel_iommu=on", "iommu=pt", "pci=disable_acs_redir=0000:00:03.0")


def test_no_gpu_no_bridges(tmp_path):
    (tmp_path / "sys").mkdir()
    found = iommu(ctx(tmp_path))
    assert found is not None and found.bridges == () and found.acs_readable is None
