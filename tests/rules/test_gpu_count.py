"""The GPU count rule: NVML's GPUs against the GRES SLURM gives out on the node."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import (
    HardwareInfo,
    KernelLogInfo,
    MigDevice,
    PciFunction,
    Report,
    SiteInfo,
    SlurmJob,
    SlurmNodeGres,
    Unavailable,
    XidCount,
)
from gpudoctor.model.slurm import node_gpu_gres
from tests.rules.builders import findings, h100, healthy, severities, with_driver, with_nvml

RULE = "GD-GPU-068"


def node(*gres: str, gpus: int = 8, site: SiteInfo | None = None) -> Report:
    """A node with ``gpus`` H100s (PCI 01..) whose SLURM GRES is ``gres``."""
    report = with_nvml(healthy(), gpus=tuple(h100(i) for i in range(gpus)))
    answer = SlurmNodeGres(name="gpu-07", state="idle", gres=gres)
    return replace(report, site=replace(site or SiteInfo(), slurm_node=answer))


def pci(*buses: int) -> tuple[PciFunction, ...]:
    return tuple(
        PciFunction(
            address=f"0000:0{b}:00.0", device_id="0x2330", class_code="0x030200", driver="nvidia"
        )
        for b in buses
    )


@pytest.mark.parametrize(
    ("field", "count", "shown"),
    [
        (("gpu:8",), 8, "gpu:8"),
        (("gpu:h100:8(S:0-1)",), 8, "gpu:h100:8"),
        (("gpu:a100:4", "gpu:v100:2"), 6, "gpu:a100:4,gpu:v100:2"),
        (("gpu:h100:8", "nic:2"), 8, "gpu:h100:8"),
        (("gpu:a100:4(S:0,1)",), 4, "gpu:a100:4"),
        (("gpu",), None, "gpu"),
    ],
)
def test_the_gpu_part_of_a_gres_list(field, count, shown):
    found = node_gpu_gres(field)
    assert found is not None
    assert (found.count, found.shown) == (count, shown)


@pytest.mark.parametrize(
    ("field", "count", "types"),
    [
        # int() refused both: 'check --from-report' stopped with an internal error (exit 3)
        (("gpu:²",), None, ("²",)),  # str.isdigit() is true for a superscript two
        (("gpu:h100:" + "9" * 5000,), None, ("h100",)),  # more digits than int() converts
        (("gpu:" + "9" * 19,), None, ()),
        (("gpu:" + "9" * 18,), 10**18 - 1, ()),
    ],
)
def test_a_hostile_gres_count_is_no_count(field, count, types):
    found = node_gpu_gres(field)
    assert found is not None
    assert (found.count, found.types) == (count, types)


@pytest.mark.parametrize("field", [(), ("nic:2",), ("gpumem:8",)])
def test_a_gres_without_gpus_gives_none(field):
    assert node_gpu_gres(field) is None


def test_a_gpu_missing_from_nvml_is_an_error_naming_its_pci_address():
    report = with_driver(node("gpu:h100:8(S:0-1)", gpus=7), pci_functions=pci(*range(1, 9)))
    (found,) = findings(report, RULE)
    assert found.severity == Severity.ERROR and found.area == "gpu"
    assert found.title == "SLURM gives out 8 GPUs on gpu-07, NVML lists only 7"
    assert found.evidence[0] == (
        "SLURM gives out gpu:h100:8 on gpu-07; NVML lists 7 GPUs (missing: PCI 0000:08:00.0)"
    )
    assert any("state=drain" in line for line in found.fix)
    assert any("Xid" in line for line in found.fix)


def test_the_kernel_logs_xid_79_is_evidence_too():
    log = KernelLogInfo(
        status="ok", counts=(XidCount(kind="xid", code=79, pci="0000:08:00", count=2),)
    )
    report = replace(node("gpu:8", gpus=7), hardware=HardwareInfo(kernel_log=log))
    (found,) = findings(report, RULE)
    assert "kernel log: Xid 79 (GPU has fallen off the bus) on PCI 0000:08:00 (2 times)" in (
        found.evidence
    )
    # No PCI scan in this report: the missing GPU cannot be named, only counted.
    assert "missing" not in found.evidence[0]


def test_a_gpu_the_driver_still_lists_is_named_missing_too():
    site = SiteInfo(driver_gpus=tuple(f"0000:0{b}:00.0" for b in range(1, 9)))
    (found,) = findings(node("gpu:8", gpus=7, site=site), RULE)
    assert found.evidence[0].endswith("(missing: PCI 0000:08:00.0)")


def test_more_gpus_than_the_gres_is_a_warning():
    (found,) = findings(node("gpu:h100:4", gpus=8), RULE)
    assert found.severity == Severity.WARNING
    assert found.title == "gpu-07 has 8 GPUs, SLURM gives out only 4"


def test_several_gpu_types_are_summed():
    assert findings(node("gpu:a100:4", "gpu:v100:2", gpus=6), RULE) == []
    assert severities(findings(node("gpu:a100:4", "gpu:v100:2", gpus=5), RULE)) == [Severity.ERROR]


@pytest.mark.parametrize("gres", [("gpu:h100:8",), ("gpu:8(S:0-1)",), ("gpu:h100:8", "nic:2")])
def test_a_full_node_is_fine(gres):
    assert findings(node(*gres), RULE) == []


@pytest.mark.parametrize("gres", [(), ("nic:2",), ("gpu",)])
def test_nothing_to_compare_without_a_gpu_count(gres):
    assert findings(node(*gres, gpus=1), RULE) == []


def test_not_asked_or_nvml_failed_with_every_gpu_on_the_bus_says_nothing():
    assert findings(healthy(), RULE) == []
    failed = with_nvml(node("gpu:8", gpus=0), status="driver_not_loaded", gpus=())
    # NVML's own finding says why it failed (and the gate drains on it)
    assert findings(with_driver(failed, pci_functions=pci(*range(1, 9))), RULE) == []


def test_a_node_without_the_gpus_its_gres_gives_out_is_an_error_when_nvml_fails_too():
    # no NVIDIA GPU on the bus, no driver: NVML was "library_not_found", GD-DRV-001 a warning,
    # and `check --health-check --drain` said "ok" on a node SLURM sells as gpu:h100:8, while
    # fleet run called the same node an error ("drain it")
    gone = with_driver(
        with_nvml(node("gpu:h100:8", gpus=0), status="library_not_found", gpus=()),
        pci_functions=(),
        module_version=None,
    )
    (found,) = findings(gone, RULE)
    assert (found.severity, found.title) == (
        Severity.ERROR,
        "SLURM gives out 8 GPUs on gpu-07; the node has no GPU",
    )
    assert found.evidence[:2] == (
        "SLURM gives out gpu:h100:8 on gpu-07; no NVIDIA GPU on the PCI bus",
        "NVML: library_not_found",
    )
    six = with_driver(gone, pci_functions=pci(*range(1, 7)))
    (found,) = findings(six, RULE)
    assert found.title == "SLURM gives out 8 GPUs on gpu-07; the node has only 6 GPUs"
    unbound = tuple(replace(fn, driver=None) for fn in pci(*range(1, 9)))
    (found,) = findings(with_driver(gone, pci_functions=unbound), RULE)
    assert found.title == (
        "SLURM gives out 8 GPUs on gpu-07; the nvidia driver owns none of the 8 GPUs on its PCI bus"
    )
    unread = with_driver(gone, errors=(Unavailable(field="driver", code="x", message="no /sys"),))
    assert findings(unread, RULE) == []  # an unread bus is no missing GPU


def test_a_node_given_out_as_one_gpu_is_counted_in_the_singular_when_nvml_fails():
    # gpu:1 on a node whose one GPU is gone read 'SLURM gives out 1 GPUs on gpu-07'
    gone = with_driver(
        with_nvml(node("gpu:1", gpus=0), status="library_not_found", gpus=()),
        pci_functions=(),
        module_version=None,
    )
    (found,) = findings(gone, RULE)
    assert found.title == "SLURM gives out 1 GPU on gpu-07; the node has no GPU"


def test_inside_a_job_the_count_is_not_compared():
    site = SiteInfo(slurm_job=SlurmJob(job_id="42", gpu_variables={"SLURM_JOB_GPUS": "0"}))
    (found,) = findings(node("gpu:8", gpus=1, site=site), RULE)
    assert found.severity == Severity.INFO
    assert "not compared: inside a job" in found.title


def mig_node(gres: str, instances: int, gpus: int = 2) -> Report:
    devices = tuple(MigDevice(index=i) for i in range(instances))
    report = node(gres, gpus=gpus)
    return with_nvml(
        report,
        gpus=tuple(replace(g, mig_enabled=True, mig_devices=devices) for g in report.nvml.gpus),
    )


def test_with_mig_either_count_is_accepted():
    # 2 GPUs with 7 MIG devices each: AutoDetect=nvml gives gpu:14, a hand-written Gres gpu:2.
    assert findings(mig_node("gpu:14", 7), RULE) == []
    assert findings(mig_node("gpu:2", 7), RULE) == []


def test_with_mig_a_count_above_both_is_an_error_and_between_is_not_judged():
    (missing,) = findings(mig_node("gpu:21", 7), RULE)
    assert missing.severity == Severity.ERROR
    assert "2 GPUs with MIG on: 14 MIG devices and whole GPUs" in missing.evidence[0]
    (between,) = findings(mig_node("gpu:8", 7), RULE)
    assert between.severity == Severity.INFO
    assert "not compared: MIG is on" in between.title


def test_with_mig_devices_unread_only_whole_gpus_count():
    assert findings(mig_node("gpu:2", 0), RULE) == []
    (found,) = findings(mig_node("gpu:14", 0), RULE)
    assert found.severity == Severity.ERROR
    assert "MIG devices not read" in found.evidence[0]


def test_a_gpu_missing_from_its_own_pci_domain_is_named():
    # A GB200 node: its GPUs are bus 01 of domains 0008, 0009, 0018 and 0019. Before, the
    # domain was dropped, the three listed GPUs covered "01:00.0", and the lost one was
    # never named.
    domains = ("0008", "0009", "0018", "0019")
    listed = tuple(
        replace(h100(i), pci_bus_id=f"0000{d}:01:00.0") for i, d in enumerate(domains[:3])
    )
    report = replace(with_nvml(node("gpu:gb200:4", gpus=3), gpus=listed))
    functions = tuple(
        PciFunction(
            address=f"{d}:01:00.0", device_id="0x2941", class_code="0x030200", driver="nvidia"
        )
        for d in domains
    )
    (found,) = findings(with_driver(report, pci_functions=functions), RULE)
    assert "missing: PCI 0019:01:00.0" in found.evidence[0]


def test_pci_addresses_in_every_spelling_are_one():
    from gpudoctor.model.derived import pci_address

    assert pci_address("00000000:9B:00.0") == pci_address("0000:9b:00.0") == "0000:9b:00.0"
    assert pci_address("0009:01:00") == "0009:01:00.0" != pci_address("0008:01:00.0")
    assert pci_address("17:00.0") == "0000:17:00.0"
    assert pci_address("not an address") == "not an address"
