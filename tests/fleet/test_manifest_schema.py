"""docs/fleet-run-schema.json: generated from the manifest's classes, and every manifest
``fleet run`` writes follows it (scripts/write-schemas --check: tests/history/test_schema.py)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import jsonschema

from gpudoctor.fleet.manifest import Manifest, Run, to_document
from gpudoctor.model.fleet import NotReached, Unreadable

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))
PUBLISHED = json.loads((ROOT / "docs" / "fleet-run-schema.json").read_text(encoding="utf-8"))
MANIFEST = Manifest(
    gpudoctor_version="0.1.0",
    created_at="2026-12-04T00:00:00Z",
    command=("python", "-m", "gpudoctor", "check"),
    partitions={"n1": ("gpu", "debug"), "n2": ("gpu",)},
    gres={"n1": ("gpu:h100:8(S:0-1)",), "n2": ()},
    not_reached=(NotReached(node="n3", state="drained", reason="psu"),),
    unreadable=(Unreadable(node="n2", path="check/n2.unusable.txt", error="not JSON"),),
    runs=(
        Run(gpudoctor_version="0.0.9", created_at="2026-12-01T00:00:00Z", nodes=("n3",)),
        Run(
            gpudoctor_version="0.1.0",
            created_at="2026-12-04T00:00:00Z",
            command=("python", "-m", "gpudoctor", "check"),
            verify_command=("python", "-m", "gpudoctor", "verify", "--quick"),
            nodes=("n1", "n2"),
        ),
    ),
)


def _document() -> Any:
    return json.loads(json.dumps(to_document(MANIFEST)))


def test_the_published_schema_is_a_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(PUBLISHED)


def test_todays_manifest_follows_the_strict_schema() -> None:
    # strict: every property the schema lists is written, and nothing it does not list
    jsonschema.validate(_document(), SCRIPT["fleet_run_schema"](strict=True))
    jsonschema.validate(_document(), PUBLISHED)


def test_a_manifest_written_before_gres_and_verify_command_follows_the_published_one() -> None:
    doc = _document()
    del doc["gres"]  # both added within version 2 (2026-12-07)
    for run in doc["runs"]:
        del run["verify_command"]
    jsonschema.validate(doc, PUBLISHED)


def test_the_published_schema_allows_fields_a_newer_release_adds() -> None:
    doc = _document()
    doc["something_new"] = 1
    doc["runs"][0]["something_new"] = 1
    doc["not_reached"][0]["something_new"] = 1
    jsonschema.validate(doc, PUBLISHED)
