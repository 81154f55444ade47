"""docs/make-env-schema.json (scripts/write-schemas; tests/history/test_schema.py checks it is
fresh): the plan `make-env --format json` writes follows it, for every recorded report and for
typed targets of each kind."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import DATA, Cli

ROOT = Path(__file__).resolve().parents[2]
STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["make_env_schema"](strict=True)
PUBLISHED = json.loads((ROOT / "docs" / "make-env-schema.json").read_text(encoding="utf-8"))
REPORTS = sorted((DATA / "reports").glob("*.json"))


def _plan(cli: Cli, *args: str) -> Any:
    """The plan, validated; None when nothing fits (exit 1, nothing on stdout) or the target
    is refused (exit 2)."""
    result = cli("make-env", *args, "--format", "json", env={"GPUDOCTOR_NO_HISTORY": "1"})
    if result.exit_code != 0:
        assert result.exit_code in (1, 2) and result.stdout == "", result
        return None
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, STRICT)
    jsonschema.validate(doc, PUBLISHED)
    return doc


@pytest.mark.parametrize("report", REPORTS, ids=[r.stem for r in REPORTS])
def test_the_plan_for_every_recorded_report_follows_the_schema(cli: Cli, report: Path) -> None:
    _plan(cli, "--from-report", str(report))


def test_most_recorded_reports_get_a_plan(cli: Cli) -> None:
    # the cases above prove nothing if every report were refused
    plans = [_plan(cli, "--from-report", str(r)) for r in REPORTS]
    assert sum(p is not None for p in plans) > len(REPORTS) // 2


@pytest.mark.parametrize(
    "args",
    [
        ("--cpu", "--framework", "both"),
        ("--driver", "535.104.05", "--cc", "7.0", "--source", "conda-forge"),
        ("--driver", "580.95.05", "--cc", "6.1", "--torch", "2.9.0"),
        ("--driver", "580.95.05", "--cc", "10.0", "--arch", "aarch64"),
        ("--driver", "580.95.05", "--cc", "8.6", "--wsl"),
        ("--driver", "580.95.05", "--cc", "9.0", "--framework", "tensorflow"),
    ],
    ids=["cpu-both", "conda-forge", "pinned", "aarch64", "wsl", "tensorflow"],
)
def test_a_typed_target_gets_a_plan_that_follows_the_schema(cli: Cli, args: tuple[str]) -> None:
    assert _plan(cli, *args) is not None


def test_a_value_the_schema_does_not_name_is_refused(cli: Cli) -> None:
    doc = _plan(cli, "--driver", "580.95.05", "--cc", "9.0")
    assert doc is not None
    doc["frameworks"][0]["gpu_coverage"] = "none"  # a build that covers no GPU is never planned
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, PUBLISHED)
