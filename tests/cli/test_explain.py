"""`gpudoctor explain`: a finding's entry, rendered from the rules registry, offline."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import jsonschema
import pytest

from gpudoctor import kb
from gpudoctor.cli.explain import page
from gpudoctor.rules import REGISTRY, diagnose
from gpudoctor.rules.catalogue import render_catalogue, sorted_rules
from gpudoctor.rules.severity_reasons import reason
from gpudoctor.userfiles.read import load_report

ROOT = Path(__file__).resolve().parents[2]
STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["explain_schema"](strict=True)
PUBLISHED = json.loads((ROOT / "docs" / "explain-schema.json").read_text(encoding="utf-8"))


def test_one_finding_prints_cause_fix_and_sources(cli):
    result = cli("explain", "GD-DRV-007")
    assert result.exit_code == 0, result
    out = result.stdout
    assert out.startswith("GD-DRV-007\n\nThe GPU needs NVIDIA's open kernel modules")
    flowed = " ".join(out.split())  # the text is wrapped at 100 columns
    assert "requires use of the NVIDIA open kernel modules" in flowed  # what it looks at
    assert "\nFix: Install the open flavour" in out
    assert "\nSources: https://download.nvidia.com/" in out
    assert "**" not in out and "`" not in out
    assert max(len(line) for line in out.splitlines()) <= 100 or "https://" in out


def test_markdown_emphasis_is_not_printed_but_globs_in_commands_are(cli):
    # It printed "reports *Driver Not Loaded*", Markdown's stars and all.
    out = cli("explain", "GD-NVML-002").stdout
    assert "reports Driver Not Loaded:" in " ".join(out.split())
    assert "*" not in out
    held = " ".join(cli("explain", "GD-NVML-003").stdout.split())
    assert "apt-mark hold" in held
    every = "".join(page(rule.id) or "" for rule in REGISTRY)
    assert not re.search(r"(?<![\w*/'])\*[A-Za-z][^*\n]*[A-Za-z]\*(?![\w*])", every)


def test_the_id_is_read_in_any_case(cli):
    assert cli("explain", "gd-torch-004").stdout == cli("explain", "GD-TORCH-004").stdout


@pytest.mark.parametrize(
    "written",
    [
        "[GD-TORCH-004]",
        "GD-TORCH-4",
        " gd_torch_004 ",
        "GD\u2010TORCH\u2010004",
        "gpudoctor:TORCH-004",  # a drain reason's first word, as sinfo -R shows it
        "repair:TORCH-004",  # a drain for repair's (GD-GPU-058's storm: 'repair:GPU-058 A sto')
        "gpudoctor: GD-TORCH-004",  # a drain reason every gpudoctor before 2026-12-08 wrote
        "TORCH-004",
    ],
)
def test_the_id_is_read_as_people_copy_it(cli, written):
    # check prints "[GD-TORCH-004]"; copied with its brackets, explain said "no finding".
    result = cli("explain", written)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == cli("explain", "GD-TORCH-004").stdout


@pytest.mark.parametrize(
    "written",
    ["GD-TORCH-0004", "GD-TORCH-004x", "004", "GD-TORCH", "gpudoctor:", "gpudoctor", "repair:"],
)
def test_what_is_not_an_id_stays_bad_input(cli, written):
    result = cli("explain", written)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.count("\n") == 1


def test_without_an_id_every_finding_is_listed(cli):
    result = cli("explain")
    assert result.exit_code == 0, result
    ids = [line.split()[0] for line in result.stdout.splitlines()]
    assert ids == sorted(ids, key=ids.index)  # catalogue order, once each
    assert set(ids) == {r.id for r in REGISTRY}
    assert re.search(r"^GD-GPU-015 +warning +The PCIe link is narrower", result.stdout, re.M)


def test_an_unknown_id_is_bad_input(cli):
    result = cli("explain", "GD-NOPE-999")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "gpudoctor explain" in result.stderr


def test_every_entry_has_the_rules_title_and_sources(cli):
    listed = {line.split()[0]: line for line in cli("explain").stdout.splitlines()}
    for rule in REGISTRY:
        text = page(rule.id)
        assert text is not None and text.startswith(f"{rule.id}\n\n{rule.title} ·"), rule.id
        assert "\nSources: " in text, rule.id
        assert listed[rule.id].endswith(f"  {rule.title}"), rule.id
        assert f"### {rule.id}\n\n**{rule.title}** ·" in render_catalogue()


def test_explain_titles_are_the_titles_check_uses():
    # check prints the rule's title, or a hit's more specific one; never another generic one
    seen = set()
    for path in sorted((Path(__file__).parents[1] / "data" / "reports").glob("*.json")):
        for finding in diagnose(load_report(path), kb.load()).findings:
            text = page(finding.id)
            assert text is not None, finding.id
            if finding.title == REGISTRY[finding.id].title:
                assert text.split("\n")[2].startswith(finding.title + " ·"), finding.id
                seen.add(finding.id)
    # GD-DRV-003's recorded case (failure__no_driver) now has a hit title of its own
    assert {"GD-HOST-000", "GD-TORCH-000", "GD-DRV-002"} <= seen


def test_reports_point_at_explain_not_at_a_public_repository(cli, tmp_path):
    result = cli(
        "check", "--from-report", "tests/data/reports/failure__no_driver.json", "--format", "json"
    )
    doc = json.loads(result.stdout)
    assert {f["doc_url"] for f in doc["findings"]} == {
        f"gpudoctor explain {f['id']}" for f in doc["findings"]
    }


# --- --format json -------------------------------------------------------------------------


def _json(cli, *args):
    result = cli("explain", *args, "--format", "json")
    assert result.exit_code == 0 and result.stderr == "", result
    doc = json.loads(result.stdout)  # the whole of stdout: one document
    jsonschema.validate(doc, STRICT)
    jsonschema.validate(doc, PUBLISHED)
    assert (doc["schema_version"], doc["tool"]) == (1, "gpudoctor explain")
    return doc


def test_one_finding_as_json_is_its_entry_as_the_catalogue_has_it(cli):
    # there was no JSON: a script that wanted a finding's fix scraped the wrapped text
    entry = _json(cli, "GD-DRV-007")["finding"]
    rule = REGISTRY["GD-DRV-007"]
    assert (entry["id"], entry["area"], entry["title"]) == (rule.id, "driver", rule.title)
    assert (entry["severity"], entry["severities"]) == ("error", ["error"])
    assert (entry["why"], entry["fix"]) == (rule.why, rule.fix)  # Markdown, unwrapped
    assert entry["why_severity"] == reason("GD-DRV-007")
    assert entry["sources"] == list(rule.sources) and entry["sources"]


def test_a_finding_whose_severity_depends_on_the_case_lists_them_worst_first(cli):
    mixed = next(r for r in sorted_rules() if len(r.severity_range) > 1)
    entry = _json(cli, mixed.id.lower())["finding"]  # read as people write it, as in text
    assert entry["id"] == mixed.id
    assert entry["severities"] == [s.label for s in mixed.severity_range]
    assert entry["severity"] == mixed.severity.label


def test_without_an_id_the_json_lists_every_entry_in_catalogue_order(cli):
    doc = _json(cli)
    assert "finding" not in doc
    assert [e["id"] for e in doc["findings"]] == [r.id for r in sorted_rules()]
    listed = [line.split()[0] for line in cli("explain").stdout.splitlines()]
    assert [e["id"] for e in doc["findings"]] == listed  # the text's list, in its order


@pytest.mark.parametrize("written", ["GD-NOPE-999", "GD-TORCH-0004", ""])
def test_an_unknown_id_is_a_one_line_error_with_no_document(cli, written):
    result = cli("explain", written, "--format", "json")
    assert result.exit_code == 2, result
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_the_json_schema_is_able_to_fail(cli):
    doc = _json(cli, "GD-DRV-007")
    doc["finding"]["severity"] = "fail"  # a measurement's word, never a finding's
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, PUBLISHED)
    doc = _json(cli, "GD-DRV-007")
    doc["findings"] = []  # one ID or the list, never both
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, PUBLISHED)
