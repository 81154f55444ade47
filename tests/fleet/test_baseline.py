"""A golden baseline: a fleet that drifted as one is still caught, and says its reference."""

from __future__ import annotations

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.fleet.aggregate import aggregate
from gpudoctor.fleet.baseline import baseline_drift, from_node, from_pins
from gpudoctor.fleet.drift import find_drift
from tests.fleet.builders import changed, gpu, node


def fleet(n: int = 4, **changes):
    return [changed(node(f"gpu-{i:03d}"), **changes) for i in range(1, n + 1)]


def by_fact(drifts):
    return {d.fact: d for d in drifts}


def test_a_fleet_that_drifted_as_one_has_no_majority_drift_but_differs_from_the_baseline():
    golden = from_node("golden.json", node("golden"))
    drifted = fleet(driver="575.57.08", kernel_module="575.57.08")
    assert find_drift(drifted) == ()  # every node agrees: the majority sees nothing
    found = by_fact(baseline_drift(drifted, golden))
    d = found["driver_version"]
    assert (d.majority, d.majority_count, d.reference) == ("570.124.06", 0, "baseline golden.json")
    assert d.minority == {"575.57.08": ("gpu-001", "gpu-002", "gpu-003", "gpu-004")}
    assert "kernel_module_version" in found


def test_a_gpu_fact_against_the_baseline_names_the_gpu():
    nodes = fleet(2)
    gpus = list(nodes[1].gpus)
    gpus[3] = gpu(3, power_limit_w=500.0)
    nodes[1] = changed(nodes[1], gpus=tuple(gpus))
    d = by_fact(baseline_drift(nodes, from_node("golden.json", node("golden"))))[
        "gpu.power_limit_w"
    ]
    assert d.minority == {"500": ("gpu-002:gpu3",)} and d.majority_count == 15


def test_unknown_on_a_node_is_no_difference():
    nodes = fleet(2, cudnn=None)
    assert "cudnn" not in by_fact(baseline_drift(nodes, from_node("g", node("golden"))))


def test_pinned_facts_from_toml():
    pins = {
        "node": {"driver_version": "570.124.06", "framework.torch": "2.5.1"},
        "gpu": {"ecc": True},
    }
    baseline = from_pins("pins.toml", pins)
    found = by_fact(baseline_drift(fleet(2), baseline))
    assert set(found) == {"framework.torch"}  # the driver and ECC match the pins
    assert found["framework.torch"].majority == "2.5.1"


def test_acs_redirect_is_pinned_as_on_or_off_or_a_boolean():
    for pinned, shown in (("off", "off"), (False, "off"), ("on", "on"), (True, "on")):
        (fact,) = from_pins("pins.toml", {"node": {"acs_redirect": pinned}}).node
        assert (fact.key, fact.value) == ("acs_redirect", shown)


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({"node": {"driverversion": "1"}}, "'driverversion' is no fact"),
        ({"gpu": {"power": 1}}, "'power' is no fact"),
        ({"nodes": {}}, "unknown table 'nodes'"),
        # a pin above the tables was "unknown table 'driver_version'"
        (
            {"driver_version": "590.48.01"},
            r"'driver_version' is outside any table; put it under \[node\]",
        ),
        ({"power_limit_w": 700}, r"outside any table; put it under \[gpu\]"),
        ({"driverversion": "1"}, "'driverversion' is outside any table and no fact"),
        ({"node": {"driver_version": [1]}}, "expected a string"),
        # values no node can have, which would put the whole fleet in drift
        ({"gpu": {"ecc": "yes"}}, r"\[gpu\] ecc = 'yes': expected true or false"),
        ({"gpu": {"power_limit_w": "700 W"}}, "expected a number"),
        ({"gpu": {"mig": 1}}, "expected true or false"),
        ({"node": {"cuda_driver_version": 13.0}}, r"13\.0: expected a string \(a version"),
        ({"node": {"gpus_per_node": "8"}}, "expected a whole number"),
        ({"node": {"framework.torch": 2.5}}, "expected a string"),
        (
            {"node": {"acs_redirect": "maybe"}},
            r"acs_redirect = 'maybe': expected \"on\" or \"off\"",
        ),
        ({"node": {"acs_redirect": 1}}, r"expected \"on\" or \"off\" \(or true or false\)"),
        ({"node": {"infiniband": 400}}, r"infiniband = 400: expected a string in quotes$"),
        ({}, "pins no fact"),
        ({"node": "x"}, "must be tables"),
    ],
)
def test_bad_pins_are_one_line(pins, message):
    with pytest.raises(BadInputError, match=message):
        from_pins("pins.toml", pins)


def test_the_fleet_report_lists_baseline_drift_first():
    report = aggregate(
        fleet(3, driver="575.57.08"),
        baseline=from_node("golden.json", node("golden")),
        gpudoctor_version="0.1.0",
        created_at="2026-12-07T00:00:00Z",
    )
    assert report.drift[0].reference == "baseline golden.json"
    assert all(n.drift is True for n in report.nodes)


def test_a_drift_that_one_node_holds_reads_in_the_singular():
    # against a golden report, two nodes of which one kept the golden driver: "on 1 nodes"
    from gpudoctor.render.fleet import drift_text

    nodes = [node("gpu-001"), changed(node("gpu-002"), driver="575.57.08")]
    report = aggregate(
        nodes,
        baseline=from_node("golden.json", node("golden")),
        gpudoctor_version="0.1.0",
        created_at="2026-12-07T00:00:00Z",
    )
    text = drift_text(next(d for d in report.drift if d.reference != "majority"))
    assert " on 1 node (the reference value); 575.57.08 on gpu-002" in text, text
