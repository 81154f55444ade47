"""Host rules: CUDA_VISIBLE_DEVICES, device order, debugging variables, WSL2, probe timeouts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import ProbeRun
from gpudoctor.rules.host import parse_visible_devices
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import (
    H100_UUID,
    diagnose,
    findings,
    h100,
    healthy,
    no_gpu_machine,
    with_cuda,
    with_env,
    with_host,
    with_nvml,
)


def two_gpus():
    return with_nvml(healthy(), gpus=(h100(0), h100(1)))


@pytest.mark.parametrize("value", ["", "  ", "-1", "NoDevFiles", "5", "GPU-deadbeef"])
def test_a_visible_devices_value_that_hides_every_gpu_is_an_error(value):
    found = findings(with_env(two_gpus(), CUDA_VISIBLE_DEVICES=value), "GD-HOST-001")
    assert len(found) == 1
    assert any("CUDA_VISIBLE_DEVICES" in e for e in found[0].evidence)
    assert "$ unset CUDA_VISIBLE_DEVICES" in found[0].fix


@pytest.mark.parametrize("value", ["", "-1", "NoDevFiles"])
def test_hiding_gpus_on_a_machine_without_any_is_information(value):
    report = with_env(no_gpu_machine(container="docker"), CUDA_VISIBLE_DEVICES=value)
    (found,) = findings(report, "GD-HOST-001")
    assert found.severity == Severity.INFO
    assert "no NVIDIA GPU on this machine (GD-DRV-001), so it hides nothing" in found.evidence
    assert not any("nvidia-smi" in step or step.startswith("$ ") for step in found.fix)


def test_a_truncated_list_on_a_machine_without_gpus_is_information():
    report = with_env(no_gpu_machine(), CUDA_VISIBLE_DEVICES="0,-1")
    (found,) = findings(report, "GD-HOST-002")
    assert found.severity == Severity.INFO and found.fix == ()


def test_a_cpu_only_job_without_a_gpu_exits_cleanly():
    report = with_env(no_gpu_machine(container="docker"), CUDA_VISIBLE_DEVICES="")
    assert diagnose(report).worst == Severity.WARNING  # GD-DRV-001 alone


def test_a_gpu_named_twice_hides_every_gpu():
    (found,) = findings(with_env(two_gpus(), CUDA_VISIBLE_DEVICES="0,0"), "GD-HOST-001")
    assert "twice" in found.title


def test_the_same_gpu_by_index_and_uuid_is_named_twice():
    report = with_env(two_gpus(), CUDA_VISIBLE_DEVICES=f"0,{H100_UUID[:12]}")
    assert findings(report, "GD-HOST-001")


@pytest.mark.parametrize("value", ["0", "1,0", "0, 1", H100_UUID, H100_UUID[:10]])
def test_valid_visible_devices_are_not_reported(value):
    report = with_env(two_gpus(), CUDA_VISIBLE_DEVICES=value)
    assert findings(report, "GD-HOST-001") == []
    assert findings(report, "GD-HOST-002") == []


MIG_REPORT = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "reports"
    / "linux-x86_64__nvidia-h100-mig__590.48.01__idle.json"
)


def test_a_second_mig_instance_is_where_cuda_stops():
    # Two MIG UUIDs (for DDP over two slices) passed as fine: CUDA shows a process one MIG
    # instance, so the job ran on one slice with nothing said.
    report = load_report(MIG_REPORT)
    first, second = (m.uuid for m in report.nvml.gpus[0].mig_devices[:2])
    both = with_env(report, CUDA_VISIBLE_DEVICES=f"{first},{second}")
    (found,) = findings(both, "GD-HOST-002")
    assert found.severity == Severity.WARNING
    assert f"{second!r} is a second MIG instance" in found.evidence[1]
    assert found.fix[0] == f"$ export CUDA_VISIBLE_DEVICES={first}"
    assert findings(both, "GD-HOST-001") == []
    one = with_env(report, CUDA_VISIBLE_DEVICES=second)
    assert findings(one, "GD-HOST-001") == findings(one, "GD-HOST-002") == []


def test_an_unset_variable_is_not_reported():
    assert findings(two_gpus(), "GD-HOST-001") == findings(two_gpus(), "GD-HOST-002") == []


def test_a_bad_entry_after_good_ones_truncates_the_list():
    report = with_env(two_gpus(), CUDA_VISIBLE_DEVICES="1,7,0")
    assert findings(report, "GD-HOST-001") == []
    (found,) = findings(report, "GD-HOST-002")
    assert "'7'" in found.title
    assert "$ export CUDA_VISIBLE_DEVICES=1" in found.fix


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        # int() raised on both: check --from-report stopped with an internal error (exit 3)
        ("9" * 5000, "is not a GPU index (NVML lists 2 GPUs)"),
        ("\u00b2", "is neither an index nor a GPU-/MIG- UUID"),  # '²': str.isdigit() took it
        ("\u0661", "is neither an index nor a GPU-/MIG- UUID"),  # Arabic-Indic 1: CUDA reads ASCII
        ("-" + "9" * 5000, "is negative: CUDA stops reading there"),
    ],
)
def test_an_entry_int_refuses_is_where_cuda_stops(entry, why):
    report = with_env(two_gpus(), CUDA_VISIBLE_DEVICES=f"1,{entry}")
    (found,) = findings(report, "GD-HOST-002")
    assert found.evidence[1].endswith(why)
    mixed = with_nvml(report, gpus=(h100(0), h100(1, name="NVIDIA L40S")))
    assert [f.id for f in findings(mixed, "GD-HOST-003")] == ["GD-HOST-003"]


def test_uuids_are_only_checked_for_syntax_when_redacted_or_unknown():
    redacted = with_nvml(healthy(), gpus=(h100(0, uuid="GPU-<redacted>-0"),))
    assert parse_visible_devices("GPU-1234", redacted).bad is None
    assert parse_visible_devices("GPU-1234", healthy()).bad == "GPU-1234"
    no_nvml = with_nvml(healthy(), status="library_not_found", gpus=())
    assert parse_visible_devices("3,GPU-99", no_nvml).kept == ("3", "GPU-99")


def test_mixed_gpu_models_without_pci_bus_order_are_information():
    mixed = with_nvml(healthy(), gpus=(h100(0), h100(1, name="NVIDIA L40S")))
    (found,) = findings(mixed, "GD-HOST-003")
    assert found.severity.label == "info"
    assert findings(with_env(mixed, CUDA_DEVICE_ORDER="PCI_BUS_ID"), "GD-HOST-003") == []
    assert findings(two_gpus(), "GD-HOST-003") == []


def test_debugging_variables_are_named_with_their_effect():
    report = with_env(healthy(), CUDA_LAUNCH_BLOCKING="1", CUDA_INJECTION64_PATH="/opt/x.so")
    (found,) = findings(report, "GD-HOST-004")
    assert "CUDA_LAUNCH_BLOCKING" in found.title and "CUDA_INJECTION64_PATH" in found.title
    assert found.fix == ("$ unset CUDA_INJECTION64_PATH CUDA_LAUNCH_BLOCKING",)


def test_cuda_launch_blocking_zero_is_harmless():
    assert findings(with_env(healthy(), CUDA_LAUNCH_BLOCKING="0"), "GD-HOST-004") == []


def test_wsl_with_a_linux_libcuda_is_an_error():
    wsl = with_host(healthy(), wsl=True)
    shadowed = with_cuda(wsl, libcuda_path="/usr/lib/x86_64-linux-gnu/libcuda.so.1")
    (found,) = findings(shadowed, "GD-HOST-005")
    assert "/usr/lib/x86_64-linux-gnu/libcuda.so.1" in found.evidence[0]
    assert (
        findings(with_cuda(wsl, libcuda_path="/usr/lib/wsl/lib/libcuda.so.1"), "GD-HOST-005") == []
    )
    assert findings(healthy(), "GD-HOST-005") == []


def test_a_probe_timeout_without_its_own_entry_names_the_probe():
    stuck = ProbeRun(name="kernel_driver", status="timeout", duration_s=30.0)
    report = replace(healthy(), probes=(*healthy().probes, stuck))
    (found,) = findings(report, "GD-HOST-006")
    assert "kernel_driver" in found.title


def test_an_nvml_timeout_is_left_to_the_nvml_rule():
    stuck = ProbeRun(name="nvml", status="timeout", duration_s=30.0)
    report = with_nvml(replace(healthy(), probes=(stuck,)), status="timeout", gpus=())
    assert findings(report, "GD-HOST-006") == []
