"""docs/report-format.md's "Verdict words": the two vocabularies and the table that maps a
verify outcome to a node severity are what the code and the published schemas say."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import VerifyVerdict

DOCS = Path(__file__).resolve().parents[2] / "docs"
SEVERITIES = ["ok", "info", "warning", "error"]
OUTCOMES = ["pass", "warn", "fail"]


def _section() -> str:
    text = (DOCS / "report-format.md").read_text(encoding="utf-8")
    return text.split("## Verdict words", 1)[1].split("\n## ", 1)[0]


def _schema(name: str) -> dict[str, Any]:
    return json.loads((DOCS / name).read_text(encoding="utf-8"))


def test_the_documented_table_is_the_fleet_reports_mapping():
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", _section(), re.MULTILINE)
    assert rows == [(v.value, v.severity.label) for v in VerifyVerdict]


def test_each_vocabulary_is_the_published_schemas_enum():
    assert [s.label for s in Severity] == SEVERITIES
    assert _schema("report-schema.json")["$defs"]["Severity"]["enum"] == SEVERITIES
    verify = _schema("verify-schema.json")["properties"]["verdict"]
    assert verify["enum"] == OUTCOMES
    fleet = _schema("fleet-schema.json")["properties"]
    node = fleet["nodes"]["items"]["properties"]
    assert set(node["verdict"]["enum"]) <= set(SEVERITIES)
    assert [w for w in node["verify"]["enum"] if w is not None] == OUTCOMES
    assert fleet["verify"]["items"]["properties"]["verdict"]["enum"] == OUTCOMES
    for word in SEVERITIES + OUTCOMES:
        assert f"`{word}`" in _section()
