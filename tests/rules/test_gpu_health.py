"""GPU health rules: lost GPUs, ECC errors, retired pages, row remapping, the InfoROM."""

from __future__ import annotations

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import Unavailable
from gpudoctor.rules.gpu_health import RETIRED_PAGES_LIMIT, UNCORRECTABLE_REMAPS_LIMIT
from tests.rules.builders import findings, h100, healthy, severities, with_gpu, with_nvml


def test_a_lost_gpu_is_named():
    lost = h100(
        1,
        lost=True,
        errors=(Unavailable(field="gpu[1]", code="gpu_is_lost", message="GPU is lost"),),
    )
    report = with_nvml(healthy(), gpus=(h100(0), lost))
    (found,) = findings(report, "GD-GPU-001")
    assert found.title.startswith("GPU 1")
    assert "gpu[1]: GPU is lost" in found.evidence
    assert findings(healthy(), "GD-GPU-001") == []


def test_volatile_uncorrectable_ecc_is_an_error_history_a_warning():
    now = with_gpu(healthy(), ecc_uncorrected_volatile=2, ecc_uncorrected_aggregate=5)
    past = with_gpu(healthy(), ecc_uncorrected_volatile=0, ecc_uncorrected_aggregate=5)
    assert severities(findings(now, "GD-GPU-002")) == [Severity.ERROR]
    assert severities(findings(past, "GD-GPU-002")) == [Severity.WARNING]
    assert findings(healthy(), "GD-GPU-002") == []
    assert findings(with_gpu(now, ecc_enabled=False), "GD-GPU-002") == []


def test_pending_page_retirement_and_the_limit():
    pending = with_gpu(
        healthy(), retired_pages_sbe=2, retired_pages_dbe=1, retired_pages_pending=True
    )
    worn = with_gpu(healthy(), retired_pages_sbe=RETIRED_PAGES_LIMIT, retired_pages_dbe=0)
    assert severities(findings(pending, "GD-GPU-003")) == [Severity.WARNING]
    assert severities(findings(worn, "GD-GPU-003")) == [Severity.ERROR]
    below = with_gpu(
        healthy(), retired_pages_sbe=RETIRED_PAGES_LIMIT - 1, retired_pages_pending=False
    )
    assert findings(below, "GD-GPU-003") == []


def test_row_remap_pending_and_too_many_uncorrectable_remaps():
    pending = with_gpu(healthy(), remap_pending=True)
    worn = with_gpu(healthy(), remapped_rows_uncorrectable=UNCORRECTABLE_REMAPS_LIMIT)
    assert severities(findings(pending, "GD-GPU-004")) == [Severity.WARNING]
    assert severities(findings(worn, "GD-GPU-004")) == [Severity.ERROR]
    assert findings(healthy(), "GD-GPU-004") == []


def test_remap_failure_and_a_corrupt_inforom():
    assert severities(findings(with_gpu(healthy(), remap_failure=True), "GD-GPU-005")) == [
        Severity.ERROR
    ]
    assert findings(healthy(), "GD-GPU-005") == []
    assert severities(findings(with_gpu(healthy(), inforom_valid=False), "GD-GPU-006")) == [
        Severity.WARNING
    ]
    assert findings(with_gpu(healthy(), inforom_valid=None), "GD-GPU-006") == []
