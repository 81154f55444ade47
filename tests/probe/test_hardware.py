"""The hardware probe's files: InfiniBand ports and the IOMMU from a fake /sys tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.hardware import ib_ports, iommu, parse_rate, probe_hardware
from gpudoctor.probe.runcmd import CmdResult


def port(root: Path, device: str, number: int, **files: str) -> None:
    """One port as the kernel lays it out (values as ``ibstat``'s source files hold them)."""
    base = root / "sys" / "class" / "infiniband" / device / "ports" / str(number)
    (base / "counters").mkdir(parents=True)
    defaults = {
        "state": "4: ACTIVE",
        "phys_state": "5: LinkUp",
        "rate": "400 Gb/sec (4X NDR)",
        "link_layer": "InfiniBand",
        "counters/link_downed": "0",
        "counters/symbol_error": "0",
        "counters/link_error_recovery": "0",
    }
    for name, value in {**defaults, **files}.items():
        (base / name).write_text(value + "\n")


def ctx(root: Path) -> ProbeContext:
    def refuse(argv, **kwargs):
        return CmdResult(argv=tuple(argv), returncode=1, stderr="Operation not permitted")

    return ProbeContext(root=root, env={"PATH": "/nonexistent"}, run=refuse)


@pytest.mark.parametrize(
    ("text", "gbps"),
    [
        ("400 Gb/sec (4X NDR)", 400.0),
        ("200 Gb/sec (4X HDR)", 200.0),
        ("100 Gb/sec (4X EDR)", 100.0),
        ("2.5 Gb/sec (1X SDR)", 2.5),
        ("25 Gb/sec (1X EDR)", 25.0),
        ("invalid", None),
        ("", None),
    ],
)
def test_rates_as_the_kernel_writes_them(text, gbps):
    assert parse_rate(text) == gbps


def test_ports_are_read_with_their_counters(tmp_path):
    port(tmp_path, "mlx5_0", 1)
    port(
        tmp_path,
        "mlx5_1",
        1,
        state="1: DOWN",
        phys_state="3: Disabled",
        rate="10 Gb/sec (4X SDR)",
        **{"counters/link_downed": "3", "counters/symbol_error": "17"},
    )
    port(tmp_path, "mlx5_2", 1, link_layer="Ethernet", rate="200 Gb/sec (2X HDR)")
    found = ib_ports(ctx(tmp_path))
    assert found is not None
    assert [(p.device, p.port, p.state, p.phys_state, p.rate_gbps) for p in found] == [
        ("mlx5_0", 1, "ACTIVE", "LinkUp", 400.0),
        ("mlx5_1", 1, "DOWN", "Disabled", 10.0),
        ("mlx5_2", 1, "ACTIVE", "LinkUp", 200.0),
    ]
    assert (found[1].link_downed, found[1].symbol_error, found[1].link_error_recovery) == (3, 17, 0)
    assert found[2].link_layer == "Ethernet"


def test_the_card_model_of_each_port(tmp_path):
    port(tmp_path, "mlx5_0", 1)
    port(tmp_path, "mlx5_0", 2)
    port(tmp_path, "mlx5_1", 1)
    card = tmp_path / "sys/class/infiniband/mlx5_0"
    (card / "hca_type").write_text("MT4129\n")
    (card / "board_id").write_text("MT_0000000838\n")
    found = ib_ports(ctx(tmp_path))
    assert found is not None
    assert [(p.device, p.hca_type, p.board_id) for p in found] == [
        ("mlx5_0", "MT4129", "MT_0000000838"),
        ("mlx5_0", "MT4129", "MT_0000000838"),
        ("mlx5_1", None, None),  # a driver that writes neither
    ]


def test_unreadable_counters_are_unknown(tmp_path):
    port(tmp_path, "mlx5_0", 1, **{"counters/symbol_error": "garbage"})
    os.remove(tmp_path / "sys/class/infiniband/mlx5_0/ports/1/counters/link_downed")
    (found,) = ib_ports(ctx(tmp_path)) or ()
    assert found.symbol_error is None and found.link_downed is None


@pytest.mark.parametrize("value", ["-1", "18446744073709551616", "9" * 63, "\u0663", "\u00b2"])
def test_a_counter_no_report_can_hold_is_unknown(tmp_path, value):
    # int() took these, and the report check wrote was refused by its own reader ('must not
    # be negative', 'is out of range'): check -o, then --from-report or fleet report, failed
    port(tmp_path, "mlx5_0", 1, **{"counters/symbol_error": value})
    (found,) = ib_ports(ctx(tmp_path)) or ()
    assert found.symbol_error is None and found.link_downed == 0


def test_a_port_folder_whose_name_is_no_number_is_passed_over(tmp_path):
    port(tmp_path, "mlx5_0", 1)
    # '²' passed str.isdigit() and int() raised: the hardware probe crashed, all of it lost
    (tmp_path / "sys/class/infiniband/mlx5_0/ports/\u00b2").mkdir()
    (tmp_path / "sys/class/infiniband/mlx5_0/ports/" / ("9" * 200)).mkdir()
    found = ib_ports(ctx(tmp_path)) or ()
    assert [(p.device, p.port) for p in found] == [("mlx5_0", 1)]


def test_the_largest_counter_the_kernel_writes_is_kept(tmp_path):
    port(tmp_path, "mlx5_0", 1, **{"counters/symbol_error": str((1 << 64) - 1)})
    (found,) = ib_ports(ctx(tmp_path)) or ()
    assert found.symbol_error == (1 << 64) - 1


def test_no_rdma_stack_is_no_ports(tmp_path):
    (tmp_path / "sys").mkdir()
    (tmp_path / "proc").mkdir()
    assert ib_ports(ctx(tmp_path)) is None
    info = probe_hardware(ctx(tmp_path))
    assert info.ib_ports == () and info.errors == ()


def gpu_device(root: Path, address: str, group: str, kind: str | None) -> None:
    dev = root / "sys" / "bus" / "pci" / "devices" / address
    dev.mkdir(parents=True)
    (dev / "vendor").write_text("0x10de\n")
    (dev / "class").write_text("0x030200\n")
    groups = root / "sys" / "kernel" / "iommu_groups" / group
    groups.mkdir(parents=True, exist_ok=True)
    if kind is not None:
        (groups / "type").write_text(kind + "\n")
    (dev / "iommu_group").symlink_to(groups)


def test_iommu_group_types_of_the_gpus_and_the_kernel_switches(tmp_path):
    gpu_device(tmp_path, "0000:17:00.0", "31", "DMA-FQ")
    gpu_device(tmp_path, "0000:65:00.0", "44", "identity")
    gpu_device(tmp_path, "0000:ca:00.0", "50", None)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cmdline").write_text("BOOT_IMAGE=/vmlinuz ro intel_iommu=on quiet\n")
    found = iommu(ctx(tmp_path))
    assert found is not None and found.groups == 3
    assert found.gpu_groups == {
        "0000:17:00.0": "DMA-FQ",
        "0000:65:00.0": "identity",
        "0000:ca:00.0": "unknown",
    }
    assert found.cmdline == ("intel_iommu=on",)


def test_no_iommu_is_zero_groups(tmp_path):
    (tmp_path / "sys").mkdir()
    found = iommu(ctx(tmp_path))
    assert found is not None and found.groups == 0 and found.gpu_groups == {}


def test_the_probe_runs_on_an_empty_tree_and_says_the_log_was_unreadable(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys").mkdir()
    info = probe_hardware(ctx(tmp_path))
    assert info.kernel_log is not None and info.kernel_log.status == "unreadable"
    assert "journalctl: no permission" in info.kernel_log.message
