"""diagnose: every rule runs, findings are ordered, healthy areas get an explicit OK."""

from __future__ import annotations

import pytest

from gpudoctor.model.findings import AREAS, Severity
from tests.rules.builders import (
    broken_nvml,
    diagnose,
    healthy,
    no_gpu_machine,
    with_env,
    with_framework,
    with_gpu,
)


def test_a_healthy_machine_gets_one_ok_finding_per_area():
    diagnosis = diagnose(healthy())
    assert [f.area for f in diagnosis.findings] == list(AREAS)
    assert all(f.severity == Severity.OK for f in diagnosis.findings)
    assert diagnosis.worst == Severity.OK


def test_an_area_with_a_problem_has_no_ok_finding():
    report = with_env(healthy(), CUDA_VISIBLE_DEVICES="")
    host = diagnose(report).in_area("host")
    assert [f.id for f in host] == ["GD-HOST-001"]


def test_info_findings_keep_the_ok_finding():
    report = with_gpu(healthy(), persistence_mode=False)
    ids = [f.id for f in diagnose(report).in_area("gpu")]
    assert ids == ["GD-GPU-011", "GD-GPU-000"]


def test_an_area_that_could_not_be_checked_gets_no_ok_finding():
    report = broken_nvml(healthy(), "driver_not_loaded")
    gpu = diagnose(report).in_area("gpu")
    assert [(f.id, f.severity) for f in gpu] == [("GD-GPU-013", Severity.INFO)]


def test_findings_are_ordered_by_area_then_severity_then_id():
    report = with_framework(healthy(), "torch", cuda_build=False, version="2.9.1+cpu")
    report = with_gpu(report, persistence_mode=False, clock_event_reasons=0x40)
    order = {a: i for i, a in enumerate(AREAS)}
    keys = [(order[f.area], -f.severity, f.id) for f in diagnose(report).findings]
    assert keys == sorted(keys)
    assert diagnose(report) == diagnose(report)


def test_findings_carry_evidence_and_fixes():
    report = with_framework(healthy(), "torch", cuda_build=False, version="2.9.1+cpu")
    (cpu,) = [f for f in diagnose(report).findings if f.id == "GD-TORCH-004"]
    assert any("+cpu" in e for e in cpu.evidence)
    assert any("gpudoctor make-env" in step for step in cpu.fix)
    assert cpu.doc_url == "gpudoctor explain GD-TORCH-004"


@pytest.mark.parametrize("container", [None, "docker"])
def test_a_machine_without_a_gpu_gets_one_warning_and_no_driver_install(container):
    diagnosis = diagnose(no_gpu_machine(container=container))
    problems = [(f.id, f.severity) for f in diagnosis.findings if f.severity >= Severity.WARNING]
    assert problems == [("GD-DRV-001", Severity.WARNING)]
    for area in ("nvml", "gpu", "cuda"):
        (only,) = diagnosis.in_area(area)
        assert only.severity == Severity.INFO and "not applicable: no NVIDIA GPU" in only.title
    every = " ".join(" ".join((f.title, *f.evidence, *f.fix)) for f in diagnosis.findings)
    for wrong in ("ubuntu-drivers", "without GPU access", "apt-get", "dnf"):
        assert wrong not in every
