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
    report_from_json,
    report_to_json,
    to_dict,
)
from gpudoctor.userfiles.read import load_report


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
    assert doc["findings"][0]["doc_url"] == "gpudoctor explain GD-X-001"
    assert findings_from_json(doc["findings"]) == (finding,)


def test_a_report_names_its_writer_and_one_written_before_it_did_still_reads():
    # a check report had no `tool`, alone of gpudoctor's JSON documents (until 2026-12-08)
    doc = json.loads(report_to_json(make_report()))
    assert doc["tool"] == "gpudoctor check"
    del doc["tool"]
    assert report_from_json(json.dumps(doc)) == make_report()


@pytest.mark.parametrize("tool", ["gpudoctor inventory", 7, None])
def test_a_report_that_names_another_writer_is_refused_naming_it(tool):
    doc = {**json.loads(report_to_json(make_report())), "tool": tool}
    with pytest.raises(ReportFormatError, match=r"was written by .*, not gpudoctor check"):
        report_from_json(json.dumps(doc))


def test_unknown_keys_are_ignored_for_forward_compatibility():
    doc = to_dict(make_report())
    doc["host"]["something_new"] = 1
    assert report_from_json(json.dumps(doc)) == make_report()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not valid JSON"),
        # a report cut short inside a string read "Unterminated string starting at at line 1"
        (
            '{"schema_version": 1, "host": {"os": "Debi',
            r"\(Unterminated string starting at line 1\)",
        ),
        (
            '{"schema_version": 1,',
            r"\(Expecting property name enclosed in double quotes at line 1\)",
        ),
        ("[]", "expected a JSON object"),
        ('{"schema_version": "1"}', 'schema_version is "1", not a positive integer'),
        (json.dumps({"schema_version": SCHEMA_VERSION + 1}), "update this one"),
        (json.dumps({"schema_version": SCHEMA_VERSION}), "none of gpudoctor_version"),
        (json.dumps({"schema_version": SCHEMA_VERSION, "host": {}}), "missing field"),
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


@pytest.mark.parametrize("version", [0, -1, 1.5, True, None, "1", [1]])
def test_a_schema_version_that_is_not_a_positive_integer_is_refused(version):
    doc = to_dict(make_report())
    doc["schema_version"] = version
    with pytest.raises(ReportFormatError, match="not a positive integer") as caught:
        report_from_json(json.dumps(doc))
    assert "\n" not in str(caught.value)


def verify_result_json() -> str:
    """What `gpudoctor verify --format json` writes, from verify's own renderer."""
    from gpudoctor.verify.references import load_references
    from gpudoctor.verify.render import render_json
    from gpudoctor.verify.verdict import judge
    from tests.verify import factories

    result = factories.healthy(models=("resnet50",))
    return render_json(result, judge(result, load_references()))


def check_output(fmt: str) -> str:
    from gpudoctor import kb
    from gpudoctor.render import render_report
    from gpudoctor.rules import diagnose

    report = make_report()
    return render_report(fmt, report, diagnose(report, kb.load()), verbose=False, color=False)


def test_a_verify_result_is_named_with_what_from_report_expects(tmp_path):
    path = tmp_path / "verify.json"
    path.write_text(verify_result_json(), encoding="utf-8")
    with pytest.raises(ReportFormatError) as caught:
        load_report(path)
    assert str(caught.value) == (
        f"{path} is a gpudoctor verify result, not a check report "
        "(write one with `gpudoctor check --format json -o FILE`)"
    )


def test_text_and_markdown_output_of_check_get_a_hint(tmp_path):
    for fmt, kind in (("text", "text"), ("markdown", "Markdown")):
        path = tmp_path / f"report.{fmt}.json"
        path.write_text(check_output(fmt), encoding="utf-8")
        with pytest.raises(ReportFormatError) as caught:
            load_report(path)
        assert str(caught.value) == (
            f"{path} looks like {kind} output of gpudoctor check; save reports with --format json"
        )


def test_a_make_env_plan_is_named():
    plan = {"name": "gpu", "channels": [], "conda": [], "pip": [], "target": {}}
    with pytest.raises(ReportFormatError, match="is a gpudoctor make-env plan, not a check"):
        report_from_json(json.dumps(plan))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"name": "something else"}', "not a gpudoctor check report: it has no schema_version"),
        ('[{"name": "resnet50"}]', "is a JSON list, not a gpudoctor check report"),
        ('"text"', "is a JSON string, not a gpudoctor check report"),
        ("", "is empty"),
        ("name: gpu\nchannels:\n- conda-forge\ndependencies:\n- python=3.12\n", "conda env"),
        ("# mine\n\nname: gpu\ndependencies:\n- python=3.12\n", "conda env"),  # a comment first
        ("# gpudoctor make-env: environment for driver 580.95.05\nname: x\n", "make-env wrote"),
    ],
)
def test_other_documents_are_named_in_one_line(text, needle):
    with pytest.raises(ReportFormatError, match=needle) as caught:
        report_from_json(text)
    assert "\n" not in str(caught.value)
    assert "write one with `gpudoctor check --format json -o FILE`" in str(caught.value)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_report_saved_with_a_byte_order_mark_is_read(tmp_path, encoding):
    path = tmp_path / "report.json"
    path.write_text(report_to_json(make_report()), encoding=encoding)
    assert load_report(path) == make_report()
