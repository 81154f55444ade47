"""Aggregation: groups in hostlist notation, findings across nodes, what makes a fleet healthy."""

from __future__ import annotations

from dataclasses import replace

from gpudoctor.fleet.aggregate import aggregate
from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import NodeFinding, NotReached, Unreadable, VerifyOutcome, VerifyVerdict
from tests.fleet.builders import changed, node, with_findings

NAMES = {"GD-GPU-004": "A memory row remap is pending", "GD-TF-001": "No TF"}
ECC = NodeFinding(
    id="GD-GPU-004", severity=Severity.ERROR, title="GPU 3 has 9 uncorrectable remaps"
)
NO_TF = NodeFinding(id="GD-TF-001", severity=Severity.INFO, title="TensorFlow is not installed")


def make(nodes, **kw):
    return aggregate(
        nodes, names=NAMES, gpudoctor_version="0.1.0", created_at="2026-12-04T00:00:00Z", **kw
    )


def test_like_nodes_are_one_group_in_hostlist_notation():
    nodes = [node(f"gpu-{i:03d}") for i in (1, 2, 3, 4, 5, 6, 8)]
    bad = with_findings(node("gpu-007"), ECC)
    report = make([*nodes, bad])
    assert [(g.hostlist, g.count, g.verdict.label) for g in report.groups] == [
        ("gpu-007", 1, "error"),
        ("gpu-[001-006,008]", 7, "ok"),
    ]
    assert [n.node for n in report.nodes][:3] == ["gpu-001", "gpu-002", "gpu-003"]
    assert not report.healthy


def test_findings_map_each_id_to_its_nodes_worst_first():
    nodes = [with_findings(node(f"n{i}"), NO_TF) for i in range(1, 4)]
    nodes[1] = with_findings(node("n2"), ECC, NO_TF)
    report = make(nodes)
    assert [(f.id, f.nodes, f.severity.label) for f in report.findings] == [
        ("GD-GPU-004", ("n2",), "error"),
        ("GD-TF-001", ("n1", "n2", "n3"), "info"),
    ]
    assert report.findings[1].hostlist == "n[1-3]"
    assert [n.verdict.label for n in report.nodes] == ["ok", "error", "ok"]


def test_each_node_keeps_its_own_words_and_the_id_its_name():
    warning = Severity.WARNING
    gpu2 = NodeFinding(id="GD-GPU-004", severity=warning, title="GPU 2 remap", evidence=("a",))
    gpu5 = NodeFinding(id="GD-GPU-004", severity=warning, title="GPU 5 remap", evidence=("b",))
    nodes = [
        with_findings(node("gpu-010"), gpu2),
        with_findings(node("gpu-011"), gpu2),
        with_findings(node("gpu-050"), gpu5),
        with_findings(node("gpu-060"), ECC, gpu5),
    ]
    (finding,) = make(nodes).findings
    assert finding.name == "A memory row remap is pending" and finding.severity is Severity.ERROR
    assert [(p.hostlist, p.severity.label, p.titles, p.evidence) for p in finding.places] == [
        ("gpu-060", "error", (ECC.title, "GPU 5 remap"), ("b",)),
        ("gpu-[010-011]", "warning", ("GPU 2 remap",), ("a",)),
        ("gpu-050", "warning", ("GPU 5 remap",), ("b",)),
    ]


def test_verify_verdicts_join_the_node_verdict_and_health():
    nodes = [node("n1"), node("n2"), changed(node("n3"), verdict=Severity.WARNING)]
    verify = [
        VerifyOutcome(node="n1", verdict=VerifyVerdict.FAIL, path="n1.verify.json"),
        VerifyOutcome(node="n2", verdict=VerifyVerdict.WARN, path="n2.verify.json"),
        VerifyOutcome(node="n3", verdict=VerifyVerdict.PASS, path="n3.verify.json"),
    ]
    report = make(nodes, verify=verify)
    assert [(n.verdict.label, n.verify and n.verify.value) for n in report.nodes] == [
        ("error", "fail"),
        ("warning", "warn"),
        ("warning", "pass"),
    ]
    assert not report.healthy
    assert make(nodes, verify=verify[1:]).healthy
    alone = [VerifyOutcome(node="n9", verdict=VerifyVerdict.FAIL, path="n9.verify.json")]
    assert not make(nodes, verify=alone).healthy  # a failed verify without a check report


def test_healthy_needs_every_node_reached_and_readable():
    nodes = [node("n1"), changed(node("n2"), verdict=Severity.WARNING)]
    assert make(nodes).healthy
    assert not make(
        nodes, not_reached=[NotReached(node="n3", state="drained", reason="psu")]
    ).healthy
    assert not make(
        nodes, unreadable=[Unreadable(node="n4", path="n4.json", error="not JSON")]
    ).healthy


def test_the_check_span_names_nodes_checked_over_a_day_before_the_newest():
    from gpudoctor.fleet.aggregate import STALE_AFTER_H, check_span

    assert STALE_AFTER_H == 24  # docs/fleet.md says so
    times = {
        "n1": "2026-12-06T02:00:00Z",  # exactly 24 h before the newest: not stale
        "n2": "2026-12-06T01:59:59+00:00",  # an older report's spelling; a second more: stale
        "n3": "2026-12-07T02:00:00Z",
        "n4": "",  # no check time: counted apart
    }
    nodes = [node(name, checked_at=when) for name, when in times.items()]
    report = aggregate(nodes, gpudoctor_version="0.1.0", created_at="2026-12-07T03:00:00Z")
    span = report.checked
    assert span is not None
    assert (span.oldest, span.newest) == ("2026-12-06T01:59:59Z", "2026-12-07T02:00:00Z")
    assert (span.stale, span.stale_hostlist, span.undated) == (("n2",), "n2", 1)
    assert check_span(report.nodes[3:]) is None  # no dated report: nothing to say


def test_nodes_with_one_cause_are_one_place_whatever_evidence_each_has_of_its_own():
    # GD-DRV-001 on 20 nodes whose jobs were given GPUs: each node's evidence names its own job
    # and node, so each node was a place of its own, 20 lines of the same title
    title = "SLURM gave this job GPUs, but the node shows no NVIDIA GPU"
    fix = "fix: drain the node (`sudo scontrol update nodename=NODE state=drain reason='x'`)"

    def no_gpu(i: int) -> NodeFinding:
        mine = f"SLURM job {100 + i} on node n{i}: SLURM_GPUS_ON_NODE=1"
        return NodeFinding(
            id="GD-DRV-001",
            severity=Severity.ERROR,
            title=title,
            evidence=("no /dev/nvidia* device files", mine, fix),
        )

    nodes = [with_findings(node(f"n{i}"), no_gpu(i)) for i in range(1, 21)]
    (finding,) = make(nodes).findings
    (place,) = finding.places
    assert (place.hostlist, place.titles, len(place.nodes)) == ("n[1-20]", (title,), 20)
    # one fix, for the whole hostlist; each node's own line kept apart
    assert place.evidence == (
        "no /dev/nvidia* device files",
        "fix: drain the node (`sudo scontrol update nodename='n[1-20]' state=drain reason='x'`)",
    )
    assert [(o.node, o.evidence) for o in place.node_evidence[:2]] == [
        ("n1", ("SLURM job 101 on node n1: SLURM_GPUS_ON_NODE=1",)),
        ("n2", ("SLURM job 102 on node n2: SLURM_GPUS_ON_NODE=1",)),
    ]
    assert len(place.node_evidence) == 20
    # a fix only one node has names that node
    nodes = [
        with_findings(node(f"n{i}"), replace(no_gpu(i), evidence=no_gpu(i).evidence[:2]))
        for i in range(1, 5)
    ]
    nodes[2] = with_findings(node("n3"), no_gpu(3))
    (place,) = make(nodes).findings[0].places
    assert place.evidence == ("no /dev/nvidia* device files",)
    assert place.node_evidence[2].evidence == (
        "SLURM job 103 on node n3: SLURM_GPUS_ON_NODE=1",
        "fix: drain the node (`sudo scontrol update nodename=n3 state=drain reason='x'`)",
    )


def test_nodes_with_like_evidence_have_none_of_their_own():
    nodes = [with_findings(node(f"n{i}"), replace(ECC, evidence=("a", "b"))) for i in (1, 2)]
    (place,) = make(nodes).findings[0].places
    assert (place.hostlist, place.evidence, place.node_evidence) == ("n[1-2]", ("a", "b"), ())
