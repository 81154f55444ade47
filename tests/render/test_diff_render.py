"""The diff renderers: golden files per format, the JSON schema, hostile strings made inert.

Regenerate after an intended change with ``GPUDOCTOR_UPDATE_GOLDEN=1 pytest tests/render``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import runpy
from pathlib import Path

import jsonschema
import pytest

from gpudoctor.model.diff import PackageAction, Side, make_diff, samples_from_verify
from gpudoctor.model.facts import report_facts
from gpudoctor.model.findings import Severity
from gpudoctor.render.diff import RENDERERS, render_json, render_text
from gpudoctor.userfiles.read import load_report
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = DATA / "diff" / "expected"
SCHEMA = json.loads((ROOT / "docs" / "diff-schema.json").read_text())
STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["diff_schema"](strict=True)
UPDATE = os.environ.get("GPUDOCTOR_UPDATE_GOLDEN") == "1"
SUFFIX = {"text": "txt", "json": "json", "markdown": "md"}
HOSTILE = "\x1b]0;owned\x07\x1b[2J| <b>x</b>\u202e"


def sample():
    """An H200 whose driver was upgraded under the loaded module, and whose AMP runs moved."""
    old = load_report(DATA / "reports" / "linux-x86_64__nvidia-h200__590.48.01__idle.json")
    new = load_report(DATA / "reports" / "failure__driver_library_mismatch.json")
    verify = DATA / "verify" / "h200"
    return make_diff(
        Side(
            label="last-good: history 2026-12-01T06:00:00Z (check, ok)",
            created_at="2026-12-01T06:00:00Z",
            gpudoctor_version="0.1.0",
            verdict="ok",
            host="<redacted>",
            machine="f00d",
            measured=True,
        ),
        Side(
            label="now",
            created_at="2026-12-07T04:00:00Z",
            gpudoctor_version="0.1.0",
            verdict="error",
            host="gpu-host",
            machine="f00d",
            measured=True,
        ),
        old_facts=report_facts(old),
        new_facts=report_facts(new),
        old_findings=[("GD-HOST-060", Severity.INFO, "PCIe ACS above the GPUs was not read")],
        new_findings=[
            ("GD-NVML-003", Severity.ERROR, "Driver/library version mismatch"),
            ("GD-HOST-060", Severity.WARNING, "PCIe ACS redirects GPU peer-to-peer traffic"),
        ],
        old_samples=samples_from_verify(json.loads((verify / "verify-amp.json").read_text()), "a"),
        new_samples=samples_from_verify(
            json.loads((verify / "new-amp-fp16-nchw.json").read_text()), "b"
        ),
        actions=[
            PackageAction(
                when="2026-12-03T06:25:11Z",
                action="upgrade",
                package="nvidia-dkms-570",
                old_version="570.133.20-0ubuntu1",
                new_version="570.195.03-0ubuntu1",
                command="/usr/bin/unattended-upgrade",
                source="/var/log/apt/history.log",
            )
        ],
    )


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_golden(fmt):
    text = RENDERERS[fmt](sample())
    path = GOLDEN / f"sample.{SUFFIX[fmt]}"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_the_json_form_follows_its_schema():
    doc = json.loads(render_json(sample()))
    jsonschema.validate(doc, SCHEMA)
    jsonschema.validate(doc, STRICT)
    assert doc["changed"] is True
    assert doc["facts"][0]["group"] == "driver"
    assert [t["model"] for t in doc["throughput"]["changes"]] == ["inception_v3"]


def test_the_schema_is_able_to_fail():
    doc = json.loads(render_json(sample()))
    doc["facts"][0]["change"] = "moved"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_the_published_schema_allows_fields_a_newer_release_adds_the_strict_one_not():
    doc = json.loads(render_json(sample()))
    doc["old"]["something_new"] = 1
    jsonschema.validate(doc, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, STRICT)


def test_no_change_reads_as_such():
    side = Side(label="x")
    assert render_text(make_diff(side, side)).rstrip().endswith("No change.")


def test_another_machine_is_said_before_the_diff():
    diff = make_diff(Side(label="a", host="n1"), Side(label="b", host="n2"))
    lines = render_text(diff).splitlines()
    assert lines[4].startswith("! OLD is from host n1, NEW from host n2")


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_hostile_strings_are_inert(fmt):
    diff = sample()
    fact = dataclasses.replace(diff.facts[0], new=HOSTILE, label=HOSTILE)
    text = RENDERERS[fmt](dataclasses.replace(diff, facts=(fact,), notes=(HOSTILE,)))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    if fmt == "markdown":
        assert "<b>" not in text
