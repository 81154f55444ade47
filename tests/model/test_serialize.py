"""The JSON form of the report: round trips, and one-line refusals of bad input."""

from __future__ import annotations

import json

import pytest

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.findings import Diagnosis, Finding, Severity
from gpudoctor.model.report import (
    SCHEMA_VERSION,
    CudaInfo,
    FrameworkInfo,
    GpuInfo,
    HostInfo,
    KernelDriverInfo,
    NvmlInfo,
    PythonInfo,
    Report,
    Unavailable,
)
from gpudoctor.model.serialize import (
    findings_from_json,
    load_report,
    report_from_json,
    report_to_json,
    to_dict,
)


def make_report() -> Report:
    return Report(
        gpudoctor_version="0.1.0",
        created_at="2026-11-28T00:00:00Z",
        host=HostInfo(
            hostname="node7",
            os="linux",
            arch="x86_64",
            python=PythonInfo(version="3.11.7", executable="/home/ada/venv/bin/python"),
            env={"CUDA_VISIBLE_DEVICES": "0"},
        ),
        driver=KernelDriverInfo(module_version="590.48.01"),
        nvml=NvmlInfo(
            status="ok",
            driver_version="590.48.01",
            cuda_driver_version="13.1",
            gpus=(
                GpuInfo(
                    index=0,
                    name="NVIDIA H100 80GB HBM3",
                    uuid="GPU-1234",
                    compute_capability="9.0",
                    power_draw_w=71.5,
                    errors=(Unavailable(field="fan", code="not_supported", message="n/a"),),
                ),
            ),
        ),
        cuda=CudaInfo(status="ok", driver_version="13.1"),
        frameworks=(FrameworkInfo(name="torch", status="ok", arch_list=("sm_90",)),),
    )


def test_round_trip_is_identity():
    report = make_report()
    assert report_from_json(report_to_json(report)) == report


def test_json_carries_schema_version_and_findings():
    finding = Finding(id="GD-X-001", severity=Severity.WARNING, area="gpu", title="t")
    text = report_to_json(make_report(), Diagnosis(findings=(finding,)))
    doc = json.loads(text)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["verdict"] == "warning"
    assert doc["findings"][0]["severity"] == "warning"
    assert doc["findings"][0]["doc_url"].endswith("#gd-x-001")
    assert findings_from_json(doc["findings"]) == (finding,)


def test_unknown_keys_are_ignored_for_forward_compatibility():
    doc = to_dict(make_report())
    doc["host"]["something_new"] = 1
    assert report_from_json(json.dumps(doc)) == make_report()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"schema_version": "1"}', "no integer schema_version"),
        (json.dumps({"schema_version": SCHEMA_VERSION + 1}), "upgrade gpudoctor"),
        (json.dumps({"schema_version": SCHEMA_VERSION}), "missing field"),
    ],
)
def test_bad_documents_are_refused_with_a_reason(text, needle):
    with pytest.raises(ReportFormatError, match=needle):
        report_from_json(text)


def test_wrong_types_name_the_field():
    doc = to_dict(make_report())
    doc["nvml"]["gpus"][0]["index"] = "zero"
    with pytest.raises(ReportFormatError, match=r"\$\.nvml\.gpus\[0\]\.index"):
        report_from_json(json.dumps(doc))


def test_missing_file_is_bad_input(tmp_path):
    with pytest.raises(ReportFormatError, match="no such file"):
        load_report(tmp_path / "absent.json")
