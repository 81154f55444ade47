"""Every ordering of a node's GPU counts, judged as an admin would, the same by check (and so
the health gate) and by the fleet.

A node's GPUs are counted four ways: the GPUs its SLURM GRES gives out, the NVIDIA GPUs on its
PCI bus, those the nvidia driver lists (``/proc/driver/nvidia/gpus``, and bound on the bus),
and those NVML lists. check's GD-GPU-068 (which ``check --health-check --drain`` drains on)
compares them on the node; ``fleet run``/``fleet report`` compare the same counts from the
node's report, made in a job given no GPU. For one node both must give the same severity
with the same numbers, and an error must drain the node with a reason that names them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace

import pytest

from gpudoctor import kb
from gpudoctor.fleet.facts import node_facts
from gpudoctor.fleet.gate import decide, gate_findings
from gpudoctor.fleet.gres import compare_gres
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import (
    ExcludedGpu,
    MigDevice,
    PciFunction,
    Report,
    SiteInfo,
    SlurmJob,
    SlurmNodeGres,
)
from gpudoctor.model.slurm import MAX_REASON, SlurmNode, drain_reason
from gpudoctor.rules import diagnose
from tests.rules.builders import h100, healthy, with_driver, with_nvml

RULE = "GD-GPU-068"
FAILED = None
"""NVML's count where NVML failed (``library_not_found``)."""


def address(bus: int) -> str:
    return f"0000:{bus:02x}:00.0"


def node_report(
    gres: tuple[str, ...], bus: int, driver: int, nvml: int | None, mig: int = 0
) -> Report:
    """A node whose PCI bus holds ``bus`` NVIDIA GPUs, the first ``driver`` of them the nvidia
    driver's (bound, and in /proc/driver/nvidia/gpus), the first ``nvml`` of those in NVML
    (each with ``mig`` MIG devices when ``mig``), and whose GRES is ``gres``."""
    functions = tuple(
        PciFunction(
            address=address(b),
            device_id="0x2330",
            class_code="0x030200",
            driver="nvidia" if b <= driver else None,
        )
        for b in range(1, bus + 1)
    )
    listed = tuple(
        replace(
            h100(i),
            pci_bus_id=address(i + 1),
            mig_enabled=bool(mig),
            mig_devices=tuple(MigDevice(index=k) for k in range(mig)),
        )
        for i in range(nvml or 0)
    )
    report = with_nvml(healthy(), gpus=listed)
    if nvml is FAILED:
        report = with_nvml(report, status="library_not_found", gpus=())
    if driver == 0:
        report = with_driver(report, module_version=None, proc_version_line=None)
    site = SiteInfo(
        driver_gpus=tuple(address(b) for b in range(1, driver + 1)),
        slurm_node=SlurmNodeGres(name="gpu-07", state="idle", gres=gres),
    )
    return replace(with_driver(report, pci_functions=functions), site=site)


@dataclass(frozen=True)
class Judged:
    severity: Severity | None
    title: str = ""
    drain: str = ""
    """The ``state=drain reason='...'`` its fix tells the admin to set (errors only)."""


def _drain(lines: tuple[str, ...]) -> str:
    drains = (re.search(r"state=drain reason='(?:[^']|'\\'')*'", line) for line in lines)
    found = [m.group(0) for m in drains if m]
    return found[0] if found else ""


def _quoted(reason: str) -> str:
    """``state=drain reason='...'`` as drain_command writes it: ``node's`` as ``node'\\''s``."""
    return "state=drain reason='" + reason.replace("'", "'\\''") + "'"


def by_check(report: Report) -> Judged:
    """check's GD-GPU-068 on the node (what the gate acts on)."""
    found = [f for f in diagnose(report, kb.load()).findings if f.id == RULE]
    assert len(found) <= 1
    if not found or found[0].severity <= Severity.INFO:
        return Judged(None)  # information ("not compared") drains nothing, as nothing does
    return Judged(found[0].severity, found[0].title, _drain(found[0].fix))


def by_fleet(report: Report, *, in_job: bool = True) -> Judged:
    """The fleet's GD-GPU-068: the node's report, made by fleet run's check in a job given no
    GPU (or by another engine outside any job), compared with the GRES sinfo listed."""
    assert report.site is not None and report.site.slurm_node is not None
    gres = report.site.slurm_node.gres
    made = replace(
        report, site=replace(report.site, slurm_node=None, slurm_job=JOB if in_job else None)
    )
    facts = node_facts("gpu-07", made, diagnose(made, kb.load()))
    found = [f for f in compare_gres(facts, gres).findings if f.id == RULE]
    assert len(found) <= 1
    if not found or found[0].severity <= Severity.INFO:
        return Judged(None)
    return Judged(found[0].severity, found[0].title, _drain(found[0].evidence))


JOB = SlurmJob(job_id="7", step_id="0", gpu_variables={})
"""fleet run's check: a step that asked for no GPU, and no device cgroup hiding any."""

E, W, OK = Severity.ERROR, Severity.WARNING, None

# (what, GRES, PCI bus, driver, NVML, MIG devices per GPU, judgement, numbers the title names)
TABLE = [
    # -- nothing to compare
    ("CPU-only node, no GRES", (), 0, 0, FAILED, 0, OK, ()),
    ("CPU-only node, another GRES", ("nic:2",), 0, 0, FAILED, 0, OK, ()),
    ("a GRES naming no count", ("gpu",), 8, 8, 8, 0, OK, ()),
    ("a typed GRES naming no count", ("gpu:h100",), 8, 8, 8, 0, OK, ()),
    ("gpu:0 on a node without GPUs", ("gpu:0",), 0, 0, FAILED, 0, OK, ()),
    # -- all four agree
    ("all equal, untyped", ("gpu:8",), 8, 8, 8, 0, OK, ()),
    ("all equal, typed, socket bound", ("gpu:h100:8(S:0-1)",), 8, 8, 8, 0, OK, ()),
    ("all equal, two types summed", ("gpu:a100:4", "gpu:v100:2"), 6, 6, 6, 0, OK, ()),
    ("all equal, one GPU", ("gpu:1",), 1, 1, 1, 0, OK, ()),
    # -- the GRES promises more than the node has: jobs sent there fail
    ("GRES Count above the physical count", ("gpu:h100:16",), 8, 8, 8, 0, E, (16, 8)),
    ("GRES above, untyped", ("gpu:9",), 8, 8, 8, 0, E, (9, 8)),
    ("one type of two short", ("gpu:a100:4", "gpu:v100:2"), 5, 5, 5, 0, E, (5,)),
    ("NVML lost one GPU the driver lists", ("gpu:h100:8",), 8, 8, 7, 0, E, (8, 7)),
    ("the driver lost one still on the bus", ("gpu:8",), 8, 7, 7, 0, E, (8, 7)),
    ("one GPU gone from the bus", ("gpu:8",), 7, 7, 7, 0, E, (8, 7)),
    ("NVML lists none of the driver's", ("gpu:8",), 8, 8, 0, 0, E, (8, 0)),
    ("no GPU left at all, NVML failed", ("gpu:8",), 0, 0, FAILED, 0, E, (8,)),
    ("one GPU given out, none left", ("gpu:1",), 0, 0, FAILED, 0, E, (1,)),
    ("no driver bound, NVML failed", ("gpu:h100:8",), 8, 0, FAILED, 0, E, (8,)),
    ("the driver lost one, NVML failed", ("gpu:8",), 8, 7, FAILED, 0, E, (8, 7)),
    # -- GPUs lost from NVML that the driver still lists: a job may be given one of them
    # (gres.conf names device files, /dev/nvidiaN, of GPUs NVML no longer reaches)
    ("NVML lost one, GRES as NVML", ("gpu:7",), 8, 8, 7, 0, E, (7, 8)),
    ("NVML lost one, GRES below both", ("gpu:h100:6",), 8, 8, 7, 0, E, (6, 7, 8)),
    ("NVML lost one, GRES below both, untyped", ("gpu:6",), 8, 8, 7, 0, E, (6, 7, 8)),
    ("NVML lost half", ("gpu:2",), 8, 8, 4, 0, E, (2, 4, 8)),
    # -- more GPUs than the GRES gives out: SLURM cannot hand the others out
    ("GRES below a full node", ("gpu:h100:6",), 8, 8, 8, 0, W, (6, 8)),
    ("gpu:0 on a node with GPUs", ("gpu:0",), 8, 8, 8, 0, W, (0, 8)),
    ("GRES below, NVML failed", ("gpu:6",), 8, 8, FAILED, 0, W, (6, 8)),
    ("GRES below, a GPU the driver did not take", ("gpu:6",), 8, 7, 7, 0, W, (6, 7)),
    ("GRES as the driver's, one on the bus not taken", ("gpu:7",), 8, 7, 7, 0, OK, ()),
    ("GRES as the driver's, NVML failed", ("gpu:8",), 8, 8, FAILED, 0, OK, ()),
    # -- MIG: whole GPUs, or each MIG device as AutoDetect=nvml counts them
    ("MIG: 7 devices on one GPU, typed", ("gpu:1g.10gb:7",), 1, 1, 1, 7, OK, ()),
    ("MIG: whole GPUs", ("gpu:2",), 2, 2, 2, 7, OK, ()),
    ("MIG: every device", ("gpu:14",), 2, 2, 2, 7, OK, ()),
    ("MIG: above both counts", ("gpu:1g.10gb:21",), 2, 2, 2, 7, E, (21, 2)),
    ("MIG: between the two (not compared)", ("gpu:1g.10gb:7",), 2, 2, 2, 7, OK, ()),
    ("MIG: below both", ("gpu:1",), 2, 2, 2, 7, W, (1, 2)),
    ("MIG: devices not read, above whole", ("gpu:14",), 2, 2, 2, 0, E, (14, 2)),
    (
        "MIG: a GPU lost, the other's devices given out",
        ("gpu:1g.10gb:7",),
        2,
        2,
        1,
        7,
        E,
        (7, 1, 2),
    ),
]


@pytest.mark.parametrize(
    ("gres", "bus", "driver", "nvml", "mig", "severity", "numbers"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_check_and_the_fleet_judge_each_node_alike(gres, bus, driver, nvml, mig, severity, numbers):
    report = node_report(gres, bus, driver, nvml, mig)
    check, fleet, engine = by_check(report), by_fleet(report), by_fleet(report, in_job=False)
    assert (check.severity, engine.severity) == (severity, severity)
    # and in the same words, with the same drain: check said 'SLURM gives out 8 GPUs on
    # gpu-07, NVML lists only 7' and reason="GRES gpu:h100:8, NVML 7", the fleet '...
    # here; NVML lists only 7 GPUs of the node's 8: drain it' and reason="GPUs missing"
    assert check == engine
    if severity is E:
        assert check.drain == _quoted(drain_reason(RULE, check.title))
    for title in (check.title, engine.title):
        assert all(re.search(rf"(?<![\d.]){n}(?![\d.]|:[0-9a-f])", title) for n in numbers), title
    if nvml == 0:  # in fleet run's job a device cgroup may hide every GPU: NVML says nothing
        assert fleet.severity == by_check(node_report(gres, bus, driver, FAILED, mig)).severity
    else:
        assert fleet == engine


@pytest.mark.parametrize(
    ("gres", "bus", "driver", "nvml", "mig", "severity", "numbers"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE if row[6] is E],
)
def test_an_error_drains_the_node_with_a_reason_naming_the_counts(
    gres, bus, driver, nvml, mig, severity, numbers
):
    report = node_report(gres, bus, driver, nvml, mig)
    errors = gate_findings(diagnose(report, kb.load()).findings)
    (found,) = [f for f in errors if f.id == RULE]
    decision = decide(errors, SlurmNode(name="gpu-07", state="idle"))
    assert decision.action == "drain"
    # where NVML or the driver failed, their error comes first (the cause) and the reason
    # ends "(+1 more)"; where the counts alone are wrong, GD-GPU-068 is the reason
    if errors[0] is found:
        assert decision.reason == drain_reason(found.id, found.title, more=len(errors) - 1)
    reason = drain_reason(found.id, found.title)
    assert reason.startswith(f"gpudoctor:{RULE.removeprefix('GD-')} ")
    assert all(re.search(rf"(?<![\d.]){n}(?![\d.]|:[0-9a-f])", reason) for n in numbers), reason
    assert len(reason) <= MAX_REASON and reason.isprintable() and '"' not in reason


COUNTS = (0, 1, 7, 8)


@pytest.mark.parametrize(
    ("given", "bus", "driver", "nvml"),
    [
        (g, b, d, n)
        for g, b, d, n in itertools.product((0, 1, 7, 8, 9), COUNTS, COUNTS, (*COUNTS, FAILED))
        if d <= b and (n is FAILED or n <= d)  # NVML lists only the driver's, the driver the bus's
    ],
)
def test_every_ordering_of_the_counts_is_judged_alike(given, bus, driver, nvml):
    report = node_report((f"gpu:h100:{given}",), bus, driver, nvml)
    check = by_check(report).severity
    assert check == by_fleet(report, in_job=False).severity
    if nvml == 0:  # hidden, or lost: fleet run's job cannot tell, and judges by the driver
        failed = node_report((f"gpu:h100:{given}",), bus, driver, FAILED)
        assert by_fleet(report).severity == by_check(failed).severity
    else:
        assert by_fleet(report).severity == check


def excluded_node(gres: tuple[str, ...]) -> Report:
    """8 GPUs bound to nvidia, the 8th excluded by NVreg_ExcludedGpus; NVML lists 7."""
    report = node_report(gres, 8, 8, 7)
    excluded = (ExcludedGpu(pci_bus_id="00000000:08:00.0", uuid="GPU-5d5e7c4a"),)
    report = with_nvml(report, excluded_gpus=excluded)
    return with_driver(report, excluded_gpus=("GPU-5d5e7c4a",))


@pytest.mark.parametrize(
    ("gres", "severity", "title"),
    [
        # a GRES giving out the excluded GPU too: jobs fail there, the node is drained
        (
            ("gpu:h100:8",),
            E,
            "SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8: GPU "
            "0000:08:00.0 excluded by NVreg_ExcludedGpus",
        ),
        # a GRES of the 7 in use: the admin's exclusion, no GPU lost (it read 'lost', an error)
        (("gpu:h100:7",), OK, ""),
    ],
)
def test_a_gpu_the_admin_excluded_is_judged_alike_and_never_lost(gres, severity, title):
    report = excluded_node(gres)
    judged = by_check(report)
    assert (judged.severity, judged.title) == (severity, title)
    assert (by_fleet(report).severity, by_fleet(report).title) == (severity, title)
    assert by_fleet(report, in_job=False).severity == severity


def refused_node(gres: tuple[str, ...]) -> Report:
    """7 H100s NVML lists and an RTX 5090 (Blackwell, 10de:2c58) at 0000:09:00.0 on the
    proprietary module 580, which refuses it (GD-DRV-007), as the recorded
    failure__blackwell_on_proprietary_module report's driver does."""
    report = node_report(gres, 7, 7, 7)
    blackwell = PciFunction(
        address="0000:09:00.0", device_id="0x2c58", class_code="0x030000", driver="nvidia"
    )
    assert report.driver is not None and report.site is not None
    report = with_driver(
        report,
        pci_functions=(*report.driver.pci_functions, blackwell),
        proc_version_line="NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.105.08  2025",
        module_flavour="proprietary",
    )
    return replace(
        report, site=replace(report.site, driver_gpus=(*report.site.driver_gpus, "0000:09:00.0"))
    )


def test_a_gpu_the_driver_refuses_is_refused_in_the_fleet_as_in_check():
    # check's GD-GPU-068 said 'refused by the driver'; the fleet's, on the same node, said
    # '...: GPU 0000:09:00.0 lost', sending the admin to reseat a GPU the driver never started
    report = refused_node(("gpu:8",))
    title = (
        "SLURM gives out gpu:8 here; NVML lists only 7 GPUs of the node's 8: GPU 0000:09:00.0 "
        "refused by the driver"
    )
    check = by_check(report)
    assert (check.severity, check.title) == (E, title)
    assert check.drain == _quoted(drain_reason(RULE, title))
    assert by_fleet(report) == by_fleet(report, in_job=False) == check
    made = replace(report, site=replace(report.site, slurm_node=None, slurm_job=None))
    facts = compare_gres(node_facts("gpu-07", made, diagnose(made, kb.load())), ("gpu:8",))
    (found,) = [f for f in facts.findings if f.id == RULE]
    assert (
        "PCI 0000:09:00.0: the installed driver cannot drive it (GD-DRV-007, -008 or -009 "
        "names the driver to install)"
    ) in found.evidence


@pytest.mark.parametrize(
    ("gres", "severity"),
    [(("gpu:h100:8",), OK), (("gpu:h100:9",), E), (("gpu:h100:4",), W)],
)
def test_a_container_shown_some_gpus_is_judged_by_the_driver_as_the_fleet_does(gres, severity):
    # check in a docker container shown 2 of the node's 8 GPUs said 'NVML lists only 2 GPUs:
    # GPUs 0000:03:00.0, 0000:04:00.0 and 4 more lost', an error the gate drained the node on,
    # where the fleet (and the driver's own list) counted the 8 a container cannot hide
    report = node_report(gres, 8, 8, 2)
    report = replace(report, host=replace(report.host, container="docker"))
    check = by_check(report)
    assert check == by_fleet(report, in_job=False)
    assert check.severity == severity
    assert "lost" not in check.title


def test_inside_a_job_given_no_gpu_a_gpu_lost_to_nvml_is_still_said():
    # check in a job given no GPU on a node whose GRES it read: GD-GPU-068 said only 'not
    # compared: inside a job', and GD-GPU-070 left the node to GD-GPU-068, so the GPU lost
    # to NVML went unsaid (the job's cgroup hides none: NVML's count is the node's)
    report = node_report(("gpu:h100:8",), 8, 8, 7)
    report = replace(report, site=replace(report.site, slurm_job=JOB))
    found = {f.id: f for f in diagnose(report, kb.load()).findings}
    assert found[RULE].severity == Severity.INFO
    assert found["GD-GPU-070"].severity == E
    assert found["GD-GPU-070"].title == (
        "NVML lists 7 of the 8 GPUs the nvidia driver owns: GPU 0000:08:00.0 missing"
    )
