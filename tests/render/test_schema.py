"""docs/report-schema.json: generated from the model; every JSON output validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gpudoctor import kb
from gpudoctor.model.report import GpuInfo
from gpudoctor.render import render_report
from gpudoctor.render.schema import COMMAND, field_docs, render_schema, report_schema
from gpudoctor.rules import diagnose
from tests.render.scenarios import load, scenario_names

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.json"


@pytest.fixture(scope="module")
def validators():
    published = json.loads(DOC.read_text(encoding="utf-8"))
    strict = report_schema(strict=True)
    for schema in (published, strict):
        jsonschema.Draft202012Validator.check_schema(schema)
    return [jsonschema.Draft202012Validator(s) for s in (published, strict)]


def test_the_schema_file_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == render_schema(), f"stale: run `{COMMAND}`"


def test_field_descriptions_come_from_the_models_docstrings():
    assert (
        field_docs(GpuInfo)["clock_event_reasons"] == "The raw NVML clock-event (throttle) bitmask."
    )


@pytest.mark.parametrize("name", scenario_names())
def test_every_json_output_validates(validators, name):
    report = load(name)
    doc = json.loads(
        render_report("json", report, diagnose(report, kb.load()), verbose=False, color=False)
    )
    for validator in validators:
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], name


def test_the_schema_rejects_what_the_model_does_not_allow(validators):
    report = load("builder__healthy")
    doc = json.loads(
        render_report("json", report, diagnose(report, kb.load()), verbose=False, color=False)
    )
    published, strict = validators
    bad_severity = {**doc, "findings": [{**doc["findings"][0], "severity": "fatal"}]}
    assert not published.is_valid(bad_severity)
    assert not published.is_valid({**doc, "schema_version": 2})
    missing_host = {k: v for k, v in doc.items() if k != "host"}
    assert not published.is_valid(missing_host)
    extra = {**doc, "nvml": {**doc["nvml"], "surprise": 1}}
    assert published.is_valid(extra) and not strict.is_valid(extra)
