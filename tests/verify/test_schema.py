"""docs/verify-schema.json: generated from verify's classes, and every result follows it."""

from __future__ import annotations

import json
import runpy
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gpudoctor.verify.figures import with_datasheet_peaks, with_published_figures
from gpudoctor.verify.model import VerifyResult
from gpudoctor.verify.references import load_references
from gpudoctor.verify.render import render_json
from gpudoctor.verify.verdict import judge
from tests.verify import factories as f
from tests.verify import hwfactories as hw

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = runpy.run_path(str(ROOT / "scripts" / "write-verify-schema"))
PUBLISHED = json.loads((ROOT / "docs" / "verify-schema.json").read_text(encoding="utf-8"))
RECORDED = sorted((ROOT / "tests" / "data" / "verify" / "h200").glob("*.json"))


def test_the_published_schema_is_what_the_classes_give_now() -> None:
    # a field added to verify's classes without `scripts/write-verify-schema` fails here
    assert SCRIPT["main"](["--check"]) == 0
    jsonschema.Draft202012Validator.check_schema(PUBLISHED)


def _document(result: VerifyResult) -> Any:
    refs = load_references()
    result = with_published_figures(with_datasheet_peaks(result, refs), refs)
    return json.loads(render_json(result, judge(result, refs)))


RESULTS = {
    "healthy": f.healthy(),
    "a-skipped-cpu-run": f.skipped_on_the_cpu(f.healthy(), {"vgg16": 40, "resnet152": None}),
    "a-failed-gpu-run": f.with_run(
        f.healthy(("resnet50",)), "resnet50", "cuda:0", "main", status="error", message="OOM"
    ),
    "hardware": hw.result(hw.healthy()),
    "models-and-hardware": replace(f.healthy(("lenet5",)), hardware=hw.healthy()),
}


@pytest.mark.parametrize("result", list(RESULTS.values()), ids=list(RESULTS))
def test_todays_results_follow_the_strict_schema(result: VerifyResult) -> None:
    # strict: every property the schema lists is written, and nothing it does not list
    jsonschema.validate(_document(result), SCRIPT["verify_schema"](strict=True))


@pytest.mark.parametrize("path", RECORDED, ids=[p.name for p in RECORDED])
def test_results_of_older_releases_follow_the_published_schema(path: Path) -> None:
    # recorded on an H200 on 2026-12-04, before datasheet_peaks, published_figures, hardware
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), PUBLISHED)


def test_the_published_schema_allows_fields_a_newer_release_adds() -> None:
    doc = _document(f.healthy(("lenet5",)))
    doc["something_new"] = 1
    doc["runs"][0]["something_new"] = 1
    jsonschema.validate(doc, PUBLISHED)
