"""`gpudoctor fleet pairs` on the CLI, and its pairs.json in `fleet report`."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gpudoctor.model.hardware import PairsReport
from gpudoctor.render.pairs import render_json
from tests.cli.test_fleet import H100, SCHEMA
from tests.conftest import Cli
from tests.fleet.fake_slurm import FakeSlurm
from tests.fleet.test_pairs import analyse, matrix


@pytest.fixture
def fake(tmp_path, monkeypatch):
    def make(nodes):
        cluster = FakeSlurm(tmp_path / "slurm", nodes)
        for key, value in cluster.env().items():
            monkeypatch.setenv(key, value)
        return cluster

    return make


def test_fewer_than_two_usable_nodes_is_bad_input(cli: Cli, tmp_path, fake):
    cluster = fake({"n1": {"state": "idle"}, "n2": {"state": "drained", "reason": "cable"}})
    result = cli("fleet", "pairs", "-d", str(tmp_path / "out"))
    assert result.exit_code == 2, result
    # it did not say why n2 was not usable: the admin had to run sinfo to learn of the drain
    assert "needs two usable nodes; found 1 (n1); not usable: n2 (drained: cable)" in (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not any(call[0].endswith("srun") for call in cluster.calls())


def test_many_unusable_nodes_are_named_up_to_five(cli: Cli, tmp_path, fake):
    nodes = {f"n{i}": {"state": "down", "reason": "power"} for i in range(1, 8)}
    fake({**nodes, "n8": {"state": "idle"}})
    result = cli("fleet", "pairs", "-d", str(tmp_path / "out"))
    assert result.exit_code == 2, result
    assert result.stderr.rstrip().endswith("n5 (down: power), 2 more"), result.stderr


def test_nodes_that_share_no_partition_are_not_paired(cli: Cli, tmp_path, fake):
    # n2 (gpu) + n3 (cpu) and n1 + n3 went to srun, which refused them ("Requested node
    # configuration is not available"): two refused pairs, exit 1, and no word of why
    cluster = fake(
        {
            "n1": {"state": "idle", "srun": "busy"},
            "n2": {"state": "idle", "srun": "busy"},
            "n3": {"state": "idle", "partitions": ["cpu"]},
        }
    )
    result = cli("fleet", "pairs", "-d", str(tmp_path / "out"), "--format", "json")
    doc = json.loads(result.stdout)
    assert [p["nodes"] for p in doc["pairs"]] == [["n1", "n2"]]
    assert doc["nodes"] == ["n1", "n2"]  # n3, not paired, is no node of the pairs
    assert "fleet: 1 pair(s) of 2 node(s)" in result.stderr  # it read "of 3 node(s)"
    assert doc["not_reached"] == [
        ["n3", "alone: no other node selected in partition cpu, and a pair runs in one"]
    ]
    sruns = [c for c in cluster.calls() if "--job-name=gpudoctor-pairs" in c]
    assert sruns and all("--nodelist=n1,n2" in c for c in sruns), sruns
    # with -p, or an --srun-arg naming the partition, srun is asked for every pair as before
    again = cli(
        "fleet", "pairs", "-d", str(tmp_path / "again"), "--format", "json",
        "--srun-arg=--partition=all",
    )  # fmt: skip
    assert len(json.loads(again.stdout)["pairs"]) == 3


def test_a_node_alone_in_its_partition_does_not_make_the_exit_1(
    cli: Cli, tmp_path, fake, monkeypatch
):
    """A cpu partition of one node made every nightly `fleet pairs` exit 1 ("not paired"),
    though its gpu pairs were all fine: a node that cannot be paired is information, not a
    failure. A drained node still makes the exit 1."""
    from gpudoctor.fleet import pairrun
    from tests.fleet.test_pairs import outcome

    def measure(chosen, job, **kwargs):
        return [outcome(a, b, 45.0) for a, b in chosen]

    monkeypatch.setattr(pairrun, "measure", measure)
    nodes: dict[str, dict[str, Any]] = {
        "n1": {"state": "idle"},
        "n2": {"state": "idle"},
        "n3": {"state": "idle", "partitions": ["cpu"]},
    }
    cluster = fake(nodes)
    result = cli("fleet", "pairs", "-d", str(tmp_path / "out"), "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc["healthy"] is True and doc["alone"] == ["n3"]
    assert doc["not_reached"][0][0] == "n3"  # still listed, with why
    text = cli("fleet", "pairs", "-d", str(tmp_path / "text"))
    assert "not paired n3: alone: no other node selected in partition cpu" in text.stdout
    assert text.stdout.rstrip().endswith("verdict: PASS") and text.exit_code == 0
    cluster.save({"nodes": {**nodes, "n4": {"state": "drained", "reason": "bad PSU"}}})
    drained = cli("fleet", "pairs", "-d", str(tmp_path / "drained"), "--format", "json")
    assert drained.exit_code == 1, drained
    assert json.loads(drained.stdout)["healthy"] is False


def test_two_nodes_of_two_partitions_are_bad_input(cli: Cli, tmp_path, fake):
    cluster = fake({"n1": {"state": "idle"}, "n3": {"state": "idle", "partitions": ["cpu"]}})
    result = cli("fleet", "pairs", "-d", str(tmp_path / "out"))
    assert result.exit_code == 2, result
    assert result.stderr.strip() == (
        "gpudoctor: error: fleet pairs needs two usable nodes in one partition (a pair is one "
        "srun); n1 (gpu), n3 (cpu) share none: give --partition, or "
        "--srun-arg=--partition=P for one they share"
    )
    assert not any("--job-name=gpudoctor-pairs" in call for call in cluster.calls())


def test_bad_options_are_one_line(cli: Cli):
    for args in (["--slow-factor", "2"], ["--pair-timeout", "-1"], ["--device", "tpu"]):
        result = cli("fleet", "pairs", *args)
        assert result.exit_code == 2, (args, result)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def pairs_report(bad_node: bool) -> PairsReport:
    slow = dict.fromkeys((("n1", "n3"), ("n2", "n3"), ("n3", "n4"), ("n3", "n5")), 12.0)
    outcomes = matrix(6, slow if bad_node else {})
    base, slow_pairs, bad, links = analyse(outcomes)
    return PairsReport(
        nodes=tuple(f"n{i}" for i in range(6)),
        pairs=tuple(outcomes),
        baseline_gbps=base,
        slow_pairs=slow_pairs,
        bad_nodes=bad,
        bad_links=links,
    )


def run_folder(tmp_path: Path, report: PairsReport) -> Path:
    folder = tmp_path / "run"
    (folder / "check").mkdir(parents=True)
    (folder / "pairs").mkdir()
    for i in range(6):
        shutil.copy(H100, folder / "check" / f"n{i}.json")
    (folder / "pairs" / "pairs.json").write_text(render_json(report))
    (folder / "pairs" / "n0+n1.json").write_text("{}")  # per-pair files are not node reports
    return folder


def test_the_pairs_json_is_versioned_as_every_other_document() -> None:
    # it had `version` alone (and `tool` last): `jq .schema_version` read null for pairs.json
    report = dataclasses.replace(pairs_report(bad_node=True), created_at="2026-12-07T04:05:06Z")
    text = render_json(report)
    doc = json.loads(text)
    # keys sorted at every level, as check's, diff's and history's documents are (they were
    # in the order written: schema_version, tool, then the fields)
    assert list(doc) == sorted(doc)
    assert all(list(p) == sorted(p) for p in doc["pairs"])
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    assert (doc["schema_version"], doc["tool"], doc["version"]) == (1, "gpudoctor fleet pairs", 1)
    assert doc["created_at"] == "2026-12-07T04:05:06Z" and doc["healthy"] is False


def test_fleet_report_names_the_bad_node_beside_the_rest(cli: Cli, tmp_path):
    folder = run_folder(tmp_path, pairs_report(bad_node=True))
    text = cli("fleet", "report", str(folder))
    assert text.exit_code == 1, text
    assert "Node pairs (fleet pairs: 12 two-node all-reduce(s)" in text.stdout
    assert "✗ bad node n3: slow or failing with every partner" in text.stdout
    assert "Skipped" not in text.stdout
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["healthy"] is False
    assert [b["node"] for b in doc["pairs"]["bad_nodes"]] == ["n3"]
    md = cli("fleet", "report", str(folder), "--format", "markdown").stdout
    assert "## Node pairs (fleet pairs)" in md and "| bad node | n3 |" in md


def test_the_closing_line_and_the_page_count_the_pairs_bad_node(cli: Cli, tmp_path):
    """Every node's own check was fine, the pairs found n3 bad: the closing line (text, the
    HTML banner) said "All 6 node(s) fine." under "Not healthy", and the page had no pairs."""
    folder = run_folder(tmp_path, pairs_report(bad_node=True))
    text = cli("fleet", "report", str(folder)).stdout
    assert text.rstrip().endswith("6 node(s): 6 fine; 1 bad node(s) in the pairs.")
    page = cli("fleet", "report", str(folder), "--format", "html").stdout
    assert "6 node(s): 6 fine; 1 bad node(s) in the pairs." in page
    assert "Node pairs" in page and "<td>bad node</td><td>n3</td>" in page
    healthy = run_folder(tmp_path / "ok", pairs_report(bad_node=False))
    assert cli("fleet", "report", str(healthy)).stdout.rstrip().endswith("All 6 node(s) fine.")


def test_healthy_pairs_keep_a_healthy_fleet_healthy(cli: Cli, tmp_path):
    folder = run_folder(tmp_path, pairs_report(bad_node=False))
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["pairs"]["bad_nodes"] == [] and len(doc["pairs"]["pairs"]) == 12


def test_reports_without_pairs_say_null(cli: Cli, tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    shutil.copy(H100, folder / "n1.json")
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    assert doc["pairs"] is None


def test_nodes_fleet_pairs_left_out_are_in_every_format(cli: Cli, tmp_path):
    # the text listed "not paired n7: drained: bad PSU"; Markdown and HTML left it out
    report = dataclasses.replace(
        pairs_report(bad_node=False), not_reached=(("n7", "drained: bad PSU"),)
    )
    folder = run_folder(tmp_path, report)
    assert "· not paired n7: drained: bad PSU" in cli("fleet", "report", str(folder)).stdout
    md = cli("fleet", "report", str(folder), "--format", "markdown").stdout
    assert "| not paired | n7 | drained: bad PSU |" in md
    page = cli("fleet", "report", str(folder), "--format", "html").stdout
    assert "<td>not paired</td><td>n7</td><td>drained: bad PSU</td>" in page


def test_a_node_alone_in_its_partition_leaves_the_pairs_fine_in_the_report(cli: Cli, tmp_path):
    # with n6 alone in partition cpu the report's pairs read "12 pair(s) of 6 node(s)
    # measured" under a warning, though every pair was fine: n6 could not be paired, no more
    why = "alone: no other node selected in partition cpu, and a pair runs in one"
    report = dataclasses.replace(
        pairs_report(bad_node=False), not_reached=(("n6", why),), alone=("n6",)
    )
    folder = run_folder(tmp_path, report)
    text = cli("fleet", "report", str(folder))
    assert "✓ All 12 pair(s) of 6 node(s) fine" in text.stdout and text.exit_code == 0
    assert f"· not paired n6: {why}" in text.stdout  # still said
    page = cli("fleet", "report", str(folder), "--format", "html").stdout
    assert '<section class="problem ok">\n<h2>✓ Node pairs (1)</h2>' in page
    assert f"<td>not paired</td><td>n6</td><td>{why}</td>" in page


def test_pairs_that_are_all_fine_are_said_in_every_format(cli: Cli, tmp_path):
    # Markdown and HTML had no "Node pairs" section then: nobody could tell they were read.
    folder = run_folder(tmp_path, pairs_report(bad_node=False))
    line = "All 12 pair(s) of 6 node(s) fine: bus bandwidth 45.00 GB/s"
    text = cli("fleet", "report", str(folder)).stdout
    assert f"✓ {line}." in text
    md = cli("fleet", "report", str(folder), "--format", "markdown").stdout
    assert f"## Node pairs (fleet pairs)\n\n{line} (read from " in md
    assert md.rstrip().endswith("/run/pairs/pairs.json).")
    assert "| Kind | Nodes | Detail |" not in md
    page = cli("fleet", "report", str(folder), "--format", "html").stdout
    assert "<h2>✓ Node pairs (12)</h2>" in page and line in page
    bad = run_folder(tmp_path / "bad", pairs_report(bad_node=True)).joinpath("pairs", "pairs.json")
    page = cli("fleet", "report", str(bad.parent.parent), "--format", "html").stdout
    assert "12 pair(s) of 6 node(s) measured: bus bandwidth 12.00–45.00 GB/s" in page


def refused_everywhere(bad_nodes_as_written: bool) -> PairsReport:
    """Four nodes whose every pair srun refused; with ``bad_nodes_as_written``, the analysis a
    pairs.json held before refused pairs stopped counting as slow: every node a bad node."""
    from gpudoctor.fleet.pairs import choose_pairs
    from gpudoctor.model.hardware import BadNode, PairOutcome

    nodes = tuple(f"n{i}" for i in range(4))
    why = "srun: error: Unable to allocate resources: Invalid account or partition"
    outcomes = tuple(
        PairOutcome(nodes=p, status="refused", message=why) for p in choose_pairs(nodes)
    )
    bad = tuple(
        BadNode(
            node=n,
            partners=tuple(m for o in outcomes if n in o.nodes for m in o.nodes if m != n),
            busbw_gbps=tuple(None for o in outcomes if n in o.nodes),
        )
        for n in nodes
    )
    return PairsReport(
        nodes=nodes,
        pairs=outcomes,
        slow_pairs=tuple(o.nodes for o in outcomes) if bad_nodes_as_written else (),
        bad_nodes=bad if bad_nodes_as_written else (),
    )


def test_an_older_pairs_json_is_analysed_again_and_names_no_node_to_drain(cli: Cli, tmp_path):
    """A pairs.json written before refused pairs stopped counting as slow held every node of
    a refused run as a bad node; fleet report showed its stored analysis: "bad node n0: ...
    drain it and check it" for each node, and exit 1, though no pair had run."""
    folder = run_folder(tmp_path, refused_everywhere(bad_nodes_as_written=True))
    text = cli("fleet", "report", str(folder))
    assert "bad node" not in text.stdout, text.stdout
    assert "drain" not in text.stdout
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["pairs"]["bad_nodes"] == [] and doc["pairs"]["bad_links"] == []
    fresh = run_folder(tmp_path / "new", refused_everywhere(bad_nodes_as_written=False))
    again = json.loads(cli("fleet", "report", str(fresh), "--format", "json").stdout)
    assert again["pairs"] == {**doc["pairs"], "path": again["pairs"]["path"]}


def test_pairs_srun_refused_are_listed_in_the_text_and_counted(cli: Cli, tmp_path):
    """Markdown and HTML listed each pair that did not run; the text said only "6 pair(s) of
    4 node(s) measured: no bus bandwidth measured." and closed with "All 4 node(s) fine."."""
    folder = run_folder(tmp_path, refused_everywhere(bad_nodes_as_written=False))
    text = cli("fleet", "report", str(folder)).stdout
    assert "· refused n0+n1: srun: error: Unable to allocate resources" in text, text
    assert text.count("· refused ") == 6
    assert text.rstrip().endswith("; 6 pair(s) did not run.")
    page = cli("fleet", "report", str(folder), "--format", "html").stdout
    assert "6 pair(s) did not run" in page


def test_a_pair_whose_port_was_taken_is_not_said_refused_by_srun(cli: Cli, tmp_path):
    # rank 0 could not listen on the rendezvous port (another program held it): srun had run
    # the pair, yet the closing line counted it under "1 pair(s) srun refused"
    from gpudoctor.fleet import pairrun
    from gpudoctor.probe.runcmd import CmdResult
    from tests.fleet.test_pairs import TAKEN

    said = json.dumps({"event": "error", "rank": "0", "message": TAKEN})
    taken = pairrun.read_outcome(
        ("n0", "n1"), CmdResult(argv=("srun",), returncode=1, stdout=said), 60
    )
    report = pairs_report(bad_node=False)
    report = dataclasses.replace(report, pairs=(taken, *report.pairs[1:]))
    text = cli("fleet", "report", str(run_folder(tmp_path, report))).stdout
    assert "srun refused" not in text, text
    assert text.rstrip().endswith("; 1 pair(s) did not run."), text


def test_a_folder_of_pairs_alone_is_not_all_0_nodes_fine(cli: Cli, tmp_path):
    # `fleet pairs -d run` then `fleet report run`: the closing line read "All 0 node(s) fine."
    folder = run_folder(tmp_path, pairs_report(bad_node=False))
    shutil.rmtree(folder / "check")
    text = cli("fleet", "report", str(folder))
    assert text.exit_code == 0, text
    assert text.stdout.rstrip().endswith("\nNo node report read."), text.stdout


def test_the_help_says_pairs_are_made_within_the_partitions_the_nodes_share(cli: Cli) -> None:
    # fleet.md's "Which pairs"; the help said "the next and the one after next (sorted by
    # name)" alone, so a node of another partition, listed as alone, read as a fault
    text = " ".join(cli("fleet", "pairs", "--help").stdout.split())
    assert "paired within the partitions they share" in text, text
