"""GPU state rules: slowdowns, the PCIe link under load, busy memory, MIG, persistence, modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import GpuProcess, MigDevice
from gpudoctor.rules import REGISTRY
from gpudoctor.rules.gpu_state import load_state
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import (
    broken_nvml,
    diagnose,
    findings,
    h100,
    healthy,
    no_gpu_machine,
    severities,
    with_gpu,
    with_host,
)

BUSY = {"clock_event_reasons": 0x4, "utilization_gpu_pct": 97}
REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


@pytest.mark.parametrize(
    ("bits", "named"),
    [(0x8, "HW slowdown"), (0x20, "SW thermal"), (0x40, "HW thermal"), (0x80, "HW power brake")],
)
def test_each_slowdown_bit_is_named(bits, named):
    (found,) = findings(with_gpu(healthy(), clock_event_reasons=bits | 0x4), "GD-GPU-007")
    assert named in found.title
    assert f"0x{bits | 0x4:x}" in found.evidence[0]


@pytest.mark.parametrize("bits", [0x0, 0x1, 0x4, 0x1 | 0x4, 0x100])
def test_idle_power_cap_and_display_clock_are_not_slowdowns(bits):
    assert findings(with_gpu(healthy(), clock_event_reasons=bits), "GD-GPU-007") == []


def test_load_state():
    assert load_state(h100(clock_event_reasons=0x1, utilization_gpu_pct=90)) == "idle"
    assert load_state(h100(clock_event_reasons=0x0, utilization_gpu_pct=2)) == "idle"
    assert load_state(h100(**BUSY)) == "busy"
    assert load_state(h100(clock_event_reasons=0x0, utilization_gpu_pct=None)) == "busy"
    assert load_state(h100(clock_event_reasons=None, utilization_gpu_pct=None)) == "unknown"


def test_a_downtrained_link_generation_is_reported_only_while_busy():
    slow = {"pcie_gen": 3}
    (busy,) = findings(with_gpu(healthy(), **slow, **BUSY), "GD-GPU-008")
    assert busy.severity == Severity.WARNING
    assert "Gen3, maximum Gen5" in busy.evidence[0]
    assert findings(with_gpu(healthy(), **slow), "GD-GPU-008") == []  # idle: by design
    unknown = with_gpu(healthy(), **slow, clock_event_reasons=None, utilization_gpu_pct=None)
    assert severities(findings(unknown, "GD-GPU-008")) == [Severity.INFO]
    assert findings(with_gpu(healthy(), **BUSY), "GD-GPU-008") == []
    # a narrow link at full generation is GD-GPU-015's, not this rule's
    assert findings(with_gpu(healthy(), pcie_width=8, **BUSY), "GD-GPU-008") == []


def test_the_link_is_read_with_an_nvidia_smi_query_that_exists():
    # 'nvidia-smi -q -d PCIE' is refused: -d has no PCIE type (nvidia-smi -h of 590.48.01,
    # 595.80 and 610.57.04 in the shared captures lists MEMORY ... POWER_PROFILES)
    (busy,) = findings(with_gpu(healthy(), pcie_gen=3, **BUSY), "GD-GPU-008")
    assert busy.fix[-1] == (
        "$ nvidia-smi --query-gpu=pcie.link.gen.current,pcie.link.gen.max --format=csv -i 0"
    )
    for rule_id in ("GD-GPU-008", "GD-GPU-015"):
        assert "-d PCIE" not in REGISTRY[rule_id].fix


@pytest.mark.parametrize("load", [{}, BUSY, {"clock_event_reasons": None}])
def test_a_narrow_link_is_reported_at_any_load(load):
    # the real H200 at idle (Gen5 x16 of Gen5 x16), as if seated in an x4 riser
    real = load_report(REPORTS / "linux-x86_64__nvidia-h200__580.159.04__open_module.json")
    narrow = with_gpu(real, pcie_width=4, **load)
    (found,) = findings(narrow, "GD-GPU-015")
    assert found.severity == Severity.WARNING
    assert found.title == "GPU 0 (NVIDIA H200): PCIe link x4 of x16"
    assert "lspci -vv -s 00:06.0 |" in found.fix[1]
    assert findings(real, "GD-GPU-015") == []
    assert findings(with_gpu(real, pcie_gen=1), "GD-GPU-015") == []  # idle gen drop: by design


def test_memory_held_by_other_processes():
    procs = (GpuProcess(pid=4242, name="python", used_memory_mib=70000),)
    report = with_gpu(healthy(), memory_used_mib=71000, processes=procs)
    (found,) = findings(report, "GD-GPU-009")
    assert "pid 4242 python: 70000 MiB" in found.evidence
    assert findings(with_gpu(healthy(), memory_used_mib=40000), "GD-GPU-009") == []
    hidden = with_gpu(healthy(), memory_used_mib=71000)
    assert any("no process listed" in e for e in findings(hidden, "GD-GPU-009")[0].evidence)


def test_mig_with_instances_is_information_with_the_instance_to_pick():
    migs = (
        MigDevice(index=0, uuid="MIG-aaaa", name="3g.40gb", memory_total_mib=40448),
        MigDevice(index=1, uuid="MIG-bbbb"),
    )
    (found,) = findings(
        with_gpu(healthy(), mig_enabled=True, mig_pending=True, mig_devices=migs), "GD-GPU-010"
    )
    assert found.severity == Severity.INFO
    assert "$ export CUDA_VISIBLE_DEVICES=MIG-aaaa" in found.fix
    # an instance NVML gave no UUID: it read 'CUDA_VISIBLE_DEVICES=MIG-<uuid>', a redirection
    nameless = (MigDevice(index=0),)
    report = with_gpu(healthy(), mig_enabled=True, mig_pending=True, mig_devices=nameless)
    (found,) = findings(report, "GD-GPU-010")
    assert found.fix[0] == "$ export CUDA_VISIBLE_DEVICES=MIG-UUID"
    assert findings(healthy(), "GD-GPU-010") == []


def test_mig_without_instances_and_a_pending_mode_change():
    empty = with_gpu(healthy(), mig_enabled=True, mig_pending=True)
    assert severities(findings(empty, "GD-GPU-010")) == [Severity.ERROR]
    pending = with_gpu(healthy(), mig_enabled=False, mig_pending=True)
    (found,) = findings(pending, "GD-GPU-010")
    assert found.severity == Severity.WARNING and "reset" in found.title
    # a reset under a running job: it said '# or reboot' alone, as no other reset line does
    assert found.fix == ("$ sudo nvidia-smi -r -i 0   # once the GPU is idle; or reboot",)


def test_the_mig_instance_command_pastes_into_a_shell():
    empty = with_gpu(healthy(), mig_enabled=True, mig_pending=True)
    (found,) = findings(empty, "GD-GPU-010")
    # '-cgi <profile,...>' pasted is a redirection from a file named 'profile,...'
    create = found.fix[1].removeprefix("$ ").split("   #")[0]
    assert create == "sudo nvidia-smi mig -cgi PROFILES -C -i 0"
    assert not any(ch in create for ch in "<>|")


def test_persistence_mode_off_is_information_on_linux_only():
    off = with_gpu(healthy(), persistence_mode=False)
    assert severities(findings(off, "GD-GPU-011")) == [Severity.INFO]
    assert findings(with_host(off, os="windows"), "GD-GPU-011") == []
    assert findings(healthy(), "GD-GPU-011") == []


def test_compute_mode():
    assert severities(findings(with_gpu(healthy(), compute_mode="prohibited"), "GD-GPU-012")) == [
        Severity.ERROR
    ]
    assert severities(
        findings(with_gpu(healthy(), compute_mode="exclusive_process"), "GD-GPU-012")
    ) == [Severity.INFO]
    assert findings(healthy(), "GD-GPU-012") == []


def test_health_not_checked_without_nvml():
    (found,) = findings(broken_nvml(healthy(), "driver_not_loaded"), "GD-GPU-013")
    assert found.evidence == ("NVML: driver_not_loaded",)
    assert findings(healthy(), "GD-GPU-013") == []


def test_health_is_not_applicable_without_any_gpu():
    (found,) = findings(no_gpu_machine(), "GD-GPU-013")
    assert found.severity == Severity.INFO and "not applicable" in found.title


@pytest.mark.parametrize(
    ("current", "pending", "words"),
    [(True, False, "change to off"), (False, True, "change to on")],
)
def test_an_ecc_mode_change_waiting_for_a_reset_is_a_warning(current, pending, words):
    report = with_gpu(healthy(), ecc_enabled=current, ecc_pending=pending)
    (found,) = findings(report, "GD-GPU-014")
    assert found.severity == Severity.WARNING and words in found.title
    assert found.fix[0] == "$ sudo nvidia-smi -r -i 0   # once the GPU is idle; or reboot"


@pytest.mark.parametrize(
    ("current", "pending"), [(True, True), (False, False), (None, True), (True, None)]
)
def test_ecc_pending_alone_is_no_problem(current, pending):
    # ecc_pending is the mode after the next reset: True with ECC on is the normal state.
    report = with_gpu(healthy(), ecc_enabled=current, ecc_pending=pending)
    assert findings(report, "GD-GPU-014") == []
    # ECC off for good on an H100 is its own finding (GD-GPU-064), not a pending change
    expected = ["GD-GPU-064"] if current is False else ["GD-GPU-000"]
    assert [f.id for f in diagnose(report).in_area("gpu")] == expected
