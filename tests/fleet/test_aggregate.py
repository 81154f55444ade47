"""Aggregation: groups in hostlist notation, findings across nodes, what makes a fleet healthy."""

from __future__ import annotations

from dataclasses import replace

from gpudoctor.fleet.aggregate import aggregate
from gpudoctor.model.fleet import NotReached, Unreadable
from tests.fleet.builders import node

INFO = {"GD-GPU-004": ("error", "Uncorrectable ECC errors"), "GD-TF-001": ("info", "No TF")}


def make(nodes, **kw):
    return aggregate(
        nodes, finding_info=INFO, gpudoctor_version="0.1.0", created_at="2026-12-04T00:00:00Z", **kw
    )


def test_like_nodes_are_one_group_in_hostlist_notation():
    nodes = [node(f"gpu-{i:03d}") for i in (1, 2, 3, 4, 5, 6, 8)]
    bad = replace(node("gpu-007"), verdict="error", finding_ids=("GD-GPU-004",))
    report = make([*nodes, bad])
    assert [(g.hostlist, g.count, g.verdict) for g in report.groups] == [
        ("gpu-007", 1, "error"),
        ("gpu-[001-006,008]", 7, "ok"),
    ]
    assert [n.node for n in report.nodes][:3] == ["gpu-001", "gpu-002", "gpu-003"]
    assert not report.healthy


def test_findings_map_each_id_to_its_nodes_worst_first():
    nodes = [
        replace(node(f"n{i}"), verdict="info", finding_ids=("GD-TF-001",)) for i in range(1, 4)
    ]
    nodes[1] = replace(nodes[1], verdict="error", finding_ids=("GD-GPU-004", "GD-TF-001"))
    report = make(nodes)
    assert [(f.id, f.nodes, f.severity) for f in report.findings] == [
        ("GD-GPU-004", ("n2",), "error"),
        ("GD-TF-001", ("n1", "n2", "n3"), "info"),
    ]
    assert report.findings[1].hostlist == "n[1-3]"


def test_healthy_needs_every_node_reached_and_readable():
    nodes = [node("n1"), replace(node("n2"), verdict="warning")]
    assert make(nodes).healthy
    assert not make(
        nodes, not_reached=[NotReached(node="n3", state="drained", reason="psu")]
    ).healthy
    assert not make(
        nodes, unreadable=[Unreadable(node="n4", path="n4.json", error="not JSON")]
    ).healthy
