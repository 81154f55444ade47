"""docs/history-schema.json: generated from the history's classes, and every listing follows it."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import Cli
from tests.history.test_store import keep

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))
PUBLISHED = json.loads((ROOT / "docs" / "history-schema.json").read_text(encoding="utf-8"))


def test_the_published_schemas_are_what_the_classes_give_now() -> None:
    # a field added to the history's or the manifest's classes without scripts/write-schemas
    assert SCRIPT["main"](["--check"]) == 0
    jsonschema.Draft202012Validator.check_schema(PUBLISHED)


def _document(cli: Cli, folder: Path) -> Any:
    result = cli("history", "--history-dir", str(folder), "--format", "json")
    assert result.exit_code == 0, result
    return json.loads(result.stdout)


def test_a_listing_follows_the_strict_schema(cli: Cli, tmp_path: Path) -> None:
    keep(tmp_path, 0, kind="check")
    keep(tmp_path, 1, kind="verify")
    keep(tmp_path, 2, kind="check", good=False)
    (tmp_path / "20261201T000000.000000Z.check.1-0000000a.json").write_text("{cut")
    doc = _document(cli, tmp_path)
    assert [e["kind"] for e in doc["entries"]] == ["check", "verify", "check"]
    assert doc["problems"]
    # strict: every property the schema lists is written, and nothing it does not list
    jsonschema.validate(doc, SCRIPT["history_schema"](strict=True))
    jsonschema.validate(doc, PUBLISHED)


def test_an_empty_history_follows_it_too(cli: Cli, tmp_path: Path) -> None:
    jsonschema.validate(_document(cli, tmp_path), SCRIPT["history_schema"](strict=True))


def test_the_published_schema_allows_fields_a_newer_release_adds(cli: Cli, tmp_path: Path) -> None:
    keep(tmp_path)
    doc = _document(cli, tmp_path)
    doc["something_new"] = 1
    doc["entries"][0]["something_new"] = 1
    jsonschema.validate(doc, PUBLISHED)
