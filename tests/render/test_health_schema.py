"""docs/health-schema.json (scripts/write-schemas; tests/history/test_schema.py checks it is
fresh): what `check --health-check --format json` writes follows it, on every recorded report."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gpudoctor.model.findings import Finding, Severity
from gpudoctor.model.health import HealthResult
from gpudoctor.render.health import render_json
from tests.conftest import DATA, Cli

ROOT = Path(__file__).resolve().parents[2]
STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["health_schema"](strict=True)
PUBLISHED = json.loads((ROOT / "docs" / "health-schema.json").read_text(encoding="utf-8"))
REPORTS = sorted((DATA / "reports").glob("*.json"))


def _gate(cli: Cli, report: Path) -> Any:
    result = cli("check", "--health-check", "--from-report", str(report), "--format", "json")
    assert result.exit_code in (0, 1), result
    return json.loads(result.stdout)


@pytest.mark.parametrize("report", REPORTS, ids=[r.stem for r in REPORTS])
def test_the_gate_on_every_recorded_report_follows_the_strict_and_the_published_schema(
    cli: Cli, report: Path
) -> None:
    doc = _gate(cli, report)
    jsonschema.validate(doc, STRICT)
    jsonschema.validate(doc, PUBLISHED)


def test_the_recorded_reports_give_both_verdicts() -> None:
    # the cases above are no proof unless some recorded node fails the gate and some passes
    healthy = {bool(_gate(Cli(), r)["healthy"]) for r in REPORTS}
    assert healthy == {True, False}


def test_what_drain_fills_in_follows_it_too() -> None:
    error = Finding(id="GD-GPU-001", severity=Severity.ERROR, area="gpu", title="GPU 1 is lost")
    doc = json.loads(
        render_json(
            HealthResult(
                errors=(error,),
                created_at="2026-12-07T04:05:06Z",
                action="drain",
                drain_reason="gpudoctor:GPU-001 GPU 1 is lost",
                node="n1",
                slurm="ok",
                message="draining n1: gpudoctor:GPU-001 GPU 1 is lost",
            )
        )
    )
    jsonschema.validate(doc, STRICT)
    jsonschema.validate(doc, PUBLISHED)
    doc["slurm"] = "busy"  # a word the gate never writes
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, PUBLISHED)


def test_the_published_schema_allows_fields_a_newer_release_adds(cli: Cli) -> None:
    doc = _gate(cli, REPORTS[0])
    doc["something_new"] = 1
    jsonschema.validate(doc, PUBLISHED)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, STRICT)
