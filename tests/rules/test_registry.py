"""The rules registry: IDs, areas, metadata, and the per-framework registration."""

from __future__ import annotations

import re

import pytest

from gpudoctor.model.findings import AREAS, Severity
from gpudoctor.rules import REGISTRY
from gpudoctor.rules.registry import AREA_PREFIX, Hit, Registry, Rule, ok_rule_id


def test_every_id_is_stable_shaped_and_matches_its_area():
    for rule in REGISTRY:
        match = re.fullmatch(r"GD-([A-Z]+)-(\d{3})", rule.id)
        assert match, rule.id
        assert AREA_PREFIX[rule.area] == match.group(1), rule.id


def test_every_rule_explains_itself_and_says_how_to_fix_it():
    for rule in REGISTRY:
        assert rule.title and rule.why and rule.fix, rule.id
        assert "{fw}" not in rule.title + rule.why + rule.fix, rule.id


def test_each_area_has_an_ok_entry_and_problem_rules():
    for area in AREAS:
        ok = REGISTRY[ok_rule_id(area)]
        assert ok.severity == Severity.OK and ok.check is None
        assert any(r.area == area and r.severity >= Severity.WARNING for r in REGISTRY)


def test_framework_rules_exist_for_both_frameworks():
    assert REGISTRY["GD-TORCH-004"].title.startswith("PyTorch")
    assert REGISTRY["GD-TF-004"].title.startswith("TensorFlow")
    assert "GD-TORCH-013" not in REGISTRY.rules  # native Windows is TensorFlow's alone


def test_registry_refuses_bad_ids_and_duplicates():
    registry = Registry()
    rule = Rule(id="GD-GPU-900", area="gpu", severity=Severity.INFO, title="t", why="w", fix="f")
    registry.add(rule)
    with pytest.raises(ValueError, match="twice"):
        registry.add(rule)
    with pytest.raises(ValueError, match="does not fit"):
        registry.add(
            Rule(id="GD-GPU-901", area="cuda", severity=Severity.INFO, title="t", why="w", fix="f")
        )
    with pytest.raises(ValueError, match="does not fit"):
        registry.add(
            Rule(id="GPU-1", area="gpu", severity=Severity.INFO, title="t", why="w", fix="f")
        )


def test_a_hit_may_override_severity_and_title():
    rule = REGISTRY["GD-GPU-002"]
    finding = rule.finding(Hit(severity=Severity.WARNING, title="history", evidence=("e",)))
    assert (finding.severity, finding.title, finding.evidence) == (
        Severity.WARNING,
        "history",
        ("e",),
    )
    default = rule.finding(Hit())
    assert (default.severity, default.title, default.area) == (Severity.ERROR, rule.title, "gpu")


def test_declared_severities_include_the_default_and_run_worst_first():
    rule = Rule(
        id="GD-GPU-900",
        area="gpu",
        severity=Severity.WARNING,
        severities=(Severity.INFO, Severity.WARNING, Severity.ERROR),
        title="t",
        why="w",
        fix="f",
    )
    assert rule.severity_range == (Severity.ERROR, Severity.WARNING, Severity.INFO)
    plain = Rule(id="GD-GPU-901", area="gpu", severity=Severity.INFO, title="t", why="w", fix="f")
    assert plain.severity_range == (Severity.INFO,)
    with pytest.raises(ValueError, match="default severity warning not in its severities"):
        Rule(
            id="GD-GPU-902",
            area="gpu",
            severity=Severity.WARNING,
            severities=(Severity.ERROR, Severity.INFO),
            title="t",
            why="w",
            fix="f",
        )


def test_a_hit_outside_the_declared_severities_fails_the_rule_tests():
    # tests/rules/conftest.py checks every finding these tests produce against its rule
    with pytest.raises(AssertionError, match="GD-HOST-004 reported info"):
        REGISTRY["GD-HOST-004"].finding(Hit(severity=Severity.INFO))


def test_a_finding_about_a_probes_time_limit_names_the_option_that_sets_it() -> None:
    # GD-NVML-005 said "took longer than the probe's time limit" and never which option that is
    for rule in REGISTRY:
        said = f"{rule.why} {rule.fix}"
        if "time limit" in said and "probe" in said:
            assert "--timeout" in said, rule.id
