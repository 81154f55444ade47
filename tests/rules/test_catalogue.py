"""docs/findings.md is generated from the registry and has an anchor for every finding."""

from __future__ import annotations

import re
from pathlib import Path

from gpudoctor import kb
from gpudoctor.rules import REGISTRY, diagnose
from gpudoctor.rules.catalogue import COMMAND, render_catalogue
from gpudoctor.rules.registry import Hit
from gpudoctor.userfiles.read import load_report

DOC = Path(__file__).resolve().parents[2] / "docs" / "findings.md"
REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def github_anchor(heading: str) -> str:
    """The anchor GitHub derives from a heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "gpudoctor"


def test_the_catalogue_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == render_catalogue(), f"stale: run `{COMMAND}`"
    assert (ROOT / COMMAND).is_file()


def test_explain_has_no_packaged_copy_to_go_stale():
    # explain renders from the registry; a Markdown copy inside the package could drift
    assert not list(PACKAGE.rglob("*.md")), "no Markdown inside the package"
    sources = "".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    assert 'docs/findings.md"' not in sources and "parents[2]" not in sources


def test_every_id_is_spelled_out_where_its_rule_is_declared():
    # a user's report names GD-TORCH-004: `grep -r GD-TORCH-004 gpudoctor/` must find the rule
    rules = "".join(p.read_text(encoding="utf-8") for p in (PACKAGE / "rules").glob("*.py"))
    for rule in REGISTRY:
        assert f'"{rule.id}"' in rules, rule.id


def test_every_entry_names_at_least_one_source():
    for rule in REGISTRY:
        assert rule.sources and all(s.strip() for s in rule.sources), rule.id
        assert f"### {rule.id}\n" in render_catalogue()
    assert render_catalogue().count("**Sources:** ") == len(REGISTRY.rules)


def test_every_finding_links_to_a_heading_of_the_catalogue(monkeypatch):
    headings = re.findall(r"^#{1,6} (.+)$", render_catalogue(), flags=re.MULTILINE)
    anchors = {github_anchor(h) for h in headings}
    # as shipped, no docs address: a finding names the offline command
    for rule in REGISTRY:
        assert rule.finding(Hit()).doc_url == f"gpudoctor explain {rule.id}"
    # with an address set at build time, the anchor is the ID's heading
    monkeypatch.setattr("gpudoctor.model.findings.DOCS_URL", "https://docs.example.org/f.html")
    for rule in REGISTRY:
        fragment = rule.finding(Hit()).doc_url
        assert fragment.startswith("https://docs.example.org/f.html#")
        assert fragment.split("#", 1)[1] in anchors, rule.id


def test_no_link_leads_to_the_nonexistent_public_repository():
    assert "github.com/gpudoctor" not in render_catalogue()


def test_rules_with_sources_list_them():
    text = render_catalogue()
    assert "**Sources:** https://download.nvidia.com/XFree86/" in text


def test_the_catalogue_lists_every_rule_once():
    text = render_catalogue()
    for rule in REGISTRY:
        assert text.count(f"\n### {rule.id}\n") == 1, rule.id


def test_a_severity_that_depends_on_the_case_is_listed_as_a_range():
    text = render_catalogue()
    assert "| [GD-HOST-001](#gd-host-001) | Host and environment | error / info |" in text
    assert "| [GD-TORCH-003](#gd-torch-003) | PyTorch | error / warning |" in text
    assert "| [GD-GPU-010](#gd-gpu-010) | GPU health | error / warning / info |" in text
    assert "| [GD-HOST-004](#gd-host-004) | Host and environment | warning |" in text
    assert "**CUDA_VISIBLE_DEVICES hides every GPU** · severity: error / info" in text


def test_every_recorded_report_gets_only_declared_severities():
    # conftest.py fails any finding whose severity its rule does not declare
    knowledge = kb.load()
    for path in sorted(REPORTS.glob("*.json")):
        assert diagnose(load_report(path), knowledge).findings, path.name
