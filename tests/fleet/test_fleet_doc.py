"""docs/fleet.md's table of the fleet report's JSON names every field fleet-schema.json gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "fleet-schema.json").read_text(encoding="utf-8"))
DOC = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")


def _rows() -> dict[str, str]:
    """The table under "JSON (a public contract)": each row's first cell, then the row."""
    section = DOC.split("### JSON (a public contract)", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) == 2:
            for name in re.findall(r"`(\w+)`", cells[0]):
                rows[name] = cells[1]
    return rows


def _fields(name: str) -> set[str]:
    """The properties of one entry of the top-level field ``name``."""
    node = SCHEMA["properties"][name]
    node = node.get("items", node)
    node = node.get("additionalProperties", node)
    return set(node.get("properties", {}))


# findings maps an ID to node names; pairs is fleet-pairs-schema.json's, and its row points there
ENTRIES = sorted(set(SCHEMA["properties"]) - {"findings", "pairs"})


@pytest.mark.parametrize("name", ENTRIES)
def test_each_field_of_the_json_is_in_its_row(name: str) -> None:
    # the row of `checked` named oldest, newest, stale and undated, not stale_after_hours
    rows = _rows()
    assert name in rows, f"docs/fleet.md's JSON table has no row for {name}"
    said = set(re.findall(r"`(\w+)`", rows[name]))
    if name == "groups":  # "like nodes grouped: `hostlist`, `count`, and the same facts"
        said |= _fields("nodes")
    assert sorted(_fields(name) - said) == [], name


def test_a_field_left_out_of_a_row_is_found() -> None:
    assert "stale_after_hours" in _fields("checked")
    assert {"node", "verdict", "checked_at"} <= _fields("nodes")
    assert {"severity", "name", "hostlist", "places"} <= _fields("finding_info")


def _shape(sample: str) -> re.Pattern[str]:
    """A sample line of the page as a pattern: its figures, dates and times may differ."""
    text = " ".join(sample.split())
    return re.compile(re.sub(r"\d+(?:[.:-]\d+)*", lambda _: r"[\d.:-]+", re.escape(text)))


def test_the_pairs_lines_the_page_quotes_are_the_renderers() -> None:
    # the page quoted one line with "(read from run/pairs/pairs.json; measured ...)" for text,
    # Markdown and HTML alike; the text names the file in the section's title instead
    expected = ROOT / "tests" / "data" / "fleet" / "expected"
    text = (expected / "fine_pairs.txt").read_text(encoding="utf-8").splitlines()
    markdown = (expected / "fine_pairs.md").read_text(encoding="utf-8").splitlines()
    flat = " ".join(DOC.split())
    line = re.search(r"`(All 12 pair\(s\) [^`]*read from [^`]*)`", flat)
    title = re.search(r"`(Node pairs \(fleet pairs: [^`]*)`", flat)
    assert line and title, "docs/fleet.md no longer quotes the pairs' line and title"
    assert any(_shape(line[1]).fullmatch(ln.strip()) for ln in markdown), line[1]
    assert any(_shape(title[1]).fullmatch(ln) for ln in text), title[1]
    assert not [ln for ln in text if "read from" in ln]


def test_the_gate_line_the_page_quotes_for_a_gpu_missing_from_nvml_is_the_gate_s(cli) -> None:
    report = ROOT / "tests" / "data" / "reports" / "failure__gpu_missing_from_nvml.json"
    result = cli("check", "--health-check", "--from-report", str(report))
    assert result.exit_code == 1, result
    quoted = re.search(r"\(GD-GPU-070: `(gpudoctor health: [^`]+)`\)", DOC)
    assert quoted is not None
    assert " ".join(quoted.group(1).split()) == result.stdout.strip()
