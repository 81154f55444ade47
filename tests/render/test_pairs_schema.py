"""docs/fleet-pairs-schema.json (scripts/write-schemas; tests/history/test_schema.py checks it
is fresh): what `fleet pairs --format json` writes follows it."""

from __future__ import annotations

import dataclasses
import json
import runpy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gpudoctor.model.hardware import PairOutcome
from gpudoctor.render.pairs import render_json
from tests.cli.test_fleet_pairs import pairs_report

ROOT = Path(__file__).resolve().parents[2]
STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["fleet_pairs_schema"](strict=True)
PUBLISHED = json.loads((ROOT / "docs" / "fleet-pairs-schema.json").read_text(encoding="utf-8"))
RECORDED = ROOT / "tests" / "data" / "fleet" / "pairs-emulated-3-nodes.json"
"""`fleet pairs` on scripts/slurm-cluster's three emulated nodes (gloo on the 2-core VM,
2026-12-07): a real run's pairs.json, all-reduce records from the children included."""


def _documents() -> dict[str, Any]:
    refused = PairOutcome(nodes=("n6", "n7"), status="refused", message="srun: node busy")
    odd = dataclasses.replace(
        pairs_report(bad_node=True),
        created_at="2026-12-07T04:05:06Z",
        gpudoctor_version="0.1.0",
        not_reached=(("n8", "drained: psu"),),
    )
    odd = dataclasses.replace(odd, pairs=(*odd.pairs, refused))
    return {
        "fine": json.loads(render_json(pairs_report(bad_node=False))),
        "bad-node-refused-not-reached": json.loads(render_json(odd)),
        "recorded": json.loads(RECORDED.read_text(encoding="utf-8")),
    }


@pytest.mark.parametrize("name", ["fine", "bad-node-refused-not-reached", "recorded"])
def test_pairs_json_follows_the_strict_and_the_published_schema(name: str) -> None:
    doc = _documents()[name]
    jsonschema.validate(doc, PUBLISHED)
    if name == "recorded":  # written before `alone` (2026-12-08); still valid as published
        doc.setdefault("alone", [])
    jsonschema.validate(doc, STRICT)


def test_a_status_the_schema_does_not_name_is_refused() -> None:
    doc = _documents()["fine"]
    doc["pairs"][0]["status"] = "slow"  # the text's word for a slow pair, never the JSON's
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, PUBLISHED)


@pytest.mark.parametrize("where", ["pairs", "bad_links", "not_reached", "slow_pairs"])
def test_a_pair_of_three_is_refused_as_the_reader_refuses_it(where: str) -> None:
    # the schema said "an array of strings": a pair of three passed it, as it passed the reader
    doc = _documents()["bad-node-refused-not-reached"]
    if where == "pairs":
        doc["pairs"][0]["nodes"].append("n9")
    else:
        doc[where] = [["n1", "n2", "n3"]]
    for schema in (PUBLISHED, STRICT):
        with pytest.raises(jsonschema.ValidationError, match="is too long"):
            jsonschema.validate(doc, schema)
