"""Golden renders: every scenario in text, Markdown and JSON, byte for byte.

Regenerate after an intended change with ``GPUDOCTOR_UPDATE_GOLDEN=1 pytest tests/render``.
"""

from __future__ import annotations

import os

import pytest

from gpudoctor import kb
from gpudoctor.render import render_report
from gpudoctor.rules import diagnose
from tests.render.scenarios import EXPECTED, load, scenario_names

UPDATE = os.environ.get("GPUDOCTOR_UPDATE_GOLDEN") == "1"
SUFFIX = {"text": "txt", "markdown": "md", "json": "json"}


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
@pytest.mark.parametrize("name", scenario_names())
def test_golden(name, fmt):
    report = load(name)
    rendered = render_report(fmt, report, diagnose(report, kb.load()), verbose=False, color=False)
    path = EXPECTED / f"{name}.{SUFFIX[fmt]}"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with GPUDOCTOR_UPDATE_GOLDEN=1"
    assert rendered == path.read_text(encoding="utf-8")


def test_every_golden_file_has_a_scenario():
    names = set(scenario_names())
    orphans = [p.name for p in EXPECTED.iterdir() if p.name.rsplit(".", 1)[0] not in names]
    assert orphans == []


def test_the_example_in_docs_check_md_is_real_output():
    doc = (EXPECTED.parents[2] / "docs" / "check.md").read_text(encoding="utf-8")
    example = doc.split("```text\n", 1)[1].split("```", 1)[0]
    assert example == (EXPECTED / "failure__torch_cpu_only_on_gpu.txt").read_text(encoding="utf-8")
