"""The JSON samples of the docs follow the schemas the commands' output is held to.

A script writer copies them: a key the sample shows that the document does not have, or one
it lacks, misleads as much as a wrong option does.
"""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))


def _json_blocks(page: str) -> list[str]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    return re.findall(r"```json\n(.*?)```", text, flags=re.S)


def _part(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The schema of one top-level property, with the definitions it may refer to."""
    return {**schema["properties"][name], "$defs": schema.get("$defs", {})}


def test_make_envs_plan_sample_is_a_plan() -> None:
    (sample,) = _json_blocks("make-env.md")
    jsonschema.validate(json.loads(sample), SCHEMAS["make_env_schema"](strict=True))


def test_fleet_runs_manifest_sample_is_a_runs_list() -> None:
    (sample,) = _json_blocks("fleet.md")
    runs = json.loads("{" + sample + "}")["runs"]
    jsonschema.validate(runs, _part(SCHEMAS["fleet_run_schema"](strict=True), "runs"))


def test_report_formats_finding_sample_is_a_finding() -> None:
    (sample,) = _json_blocks("report-format.md")
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text(encoding="utf-8"))
    jsonschema.validate([json.loads(sample)], _part(schema, "findings"))


def test_a_sample_with_a_key_the_plan_lacks_is_refused() -> None:
    (sample,) = _json_blocks("make-env.md")
    plan = {**json.loads(sample), "cuda_version": "12.6"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(plan, SCHEMAS["make_env_schema"](strict=True))
