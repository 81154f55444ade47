"""`gpudoctor fleet report` and `fleet run` in the CLI: exit statuses, formats, no clobbering."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import jsonschema
import pytest

from tests.conftest import DATA, Cli
from tests.fleet.fake_slurm import FakeSlurm
from tests.fleet.gpu_reports import h100_node

REPORTS = DATA / "reports"
H100 = REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"
LOST = REPORTS / "failure__one_gpu_lost.json"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "fleet-schema.json").read_text()
)
SCRIPT = runpy.run_path(str(Path(__file__).resolve().parents[2] / "scripts" / "write-schemas"))
FLEET_STRICT = SCRIPT["fleet_schema"](strict=True)


def follows_the_fleet_schema(doc: Any) -> None:
    """docs/fleet-schema.json, and its strict variant: every property written, no other."""
    jsonschema.validate(doc, FLEET_STRICT)
    jsonschema.validate(doc, SCHEMA)


fleet_run_schema = SCRIPT["fleet_run_schema"]
HEALTH_SCHEMA = SCRIPT["health_schema"](strict=True)


def fleet_dir(tmp_path: Path, nodes: dict[str, Path]) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    for name, src in nodes.items():
        shutil.copy(src, folder / f"{name}.json")
    return folder


def one_line_error(result) -> None:
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result


def test_a_fine_fleet_exits_0_and_groups_its_nodes(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {f"gpu-{i:03d}": H100 for i in (1, 2, 3, 5)})
    result = cli("fleet", "report", str(folder))
    assert result.exit_code == 0, result
    assert "gpu-[001-003,005] (4)" in result.stdout
    assert "All 4 node(s) fine." in result.stdout


def test_json_is_the_documented_contract(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"gpu-001": H100, "gpu-002": H100, "gpu-003": LOST})
    (folder / "gpu-004.json").write_text("{not json")
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    follows_the_fleet_schema(doc)
    assert {n["node"]: n["verdict"] for n in doc["nodes"]} == {
        "gpu-001": "ok",
        "gpu-002": "ok",
        "gpu-003": "error",
    }
    assert doc["findings"]["GD-GPU-001"] == ["gpu-003"]
    assert doc["unreadable"][0]["node"] == "gpu-004"
    assert doc["healthy"] is False
    drift = {d["fact"]: d for d in doc["drift"]}
    assert drift["gpus_per_node"]["minority"] == {"2": ["gpu-003"]}


def test_check_reports_with_and_without_their_tool_are_both_nodes(cli: Cli, tmp_path):
    # check reports carry tool "gpudoctor check" since 2026-12-08; fleet report skipped any
    # document with a tool as "not a node report", and must still read the older ones
    doc = json.loads(H100.read_text())
    assert doc["tool"] == "gpudoctor check"
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "new.json").write_text(json.dumps(doc))
    (folder / "old.json").write_text(json.dumps({k: v for k, v in doc.items() if k != "tool"}))
    (folder / "odd.json").write_text(json.dumps({**doc, "tool": "gpudoctor inventory"}))
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 0, result
    out = json.loads(result.stdout)
    assert sorted(n["node"] for n in out["nodes"]) == ["new", "old"]
    why = [s["why"] for s in out["skipped"]]
    assert why == ["not a node report: written by gpudoctor inventory"]


def test_prometheus_and_json_say_when_each_nodes_check_ran(cli: Cli, tmp_path):
    # only the fleet report's own time was given: an alert could not tell a node whose report
    # is weeks old (its check no longer runs) from one checked an hour ago
    folder = fleet_dir(tmp_path, {"gpu-001": H100, "gpu-002": H100})
    stale = json.loads(H100.read_text())
    stale["created_at"] = "2026-10-01T06:30:00Z"
    (folder / "gpu-002.json").write_text(json.dumps(stale))
    prom = cli("fleet", "report", str(folder), "--format", "prometheus").stdout
    assert 'gpudoctor_fleet_node_checked_timestamp_seconds{node="gpu-001"} 1795867200' in prom
    assert 'gpudoctor_fleet_node_checked_timestamp_seconds{node="gpu-002"} 1790836200' in prom
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    follows_the_fleet_schema(doc)
    assert {n["node"]: n["checked_at"] for n in doc["nodes"]} == {
        "gpu-001": "2026-11-28T12:00:00Z",
        "gpu-002": "2026-10-01T06:30:00Z",
    }


def test_stale_after_sets_the_threshold_and_prometheus_counts_the_stale(cli: Cli, tmp_path):
    # the 24 h threshold had no option: a fleet checked weekly had every node stale, or a
    # nightly one none after a missed night of 20 h; and an alert could not count them
    folder = fleet_dir(tmp_path, {"gpu-001": H100, "gpu-002": H100})
    older = json.loads(H100.read_text())
    older["created_at"] = "2026-11-27T12:00:00Z"  # 24 h before gpu-001's report
    (folder / "gpu-002.json").write_text(json.dumps(older))
    report = ("fleet", "report", str(folder))
    assert "stale" not in cli(*report).stdout  # 24 h exactly: not more than the default
    text = cli(*report, "--stale-after", "12").stdout
    assert "stale (checked more than 12 h before the newest): gpu-002 (1)" in text
    doc = json.loads(cli(*report, "--stale-after", "1.5", "--format", "json").stdout)
    assert (doc["checked"]["stale_after_hours"], doc["checked"]["stale"]) == (1.5, ["gpu-002"])
    prom = cli(*report, "--format", "prometheus").stdout
    assert "\ngpudoctor_fleet_stale_nodes 0\n" in prom
    prom = cli(*report, "--stale-after", "23.5", "--format", "prometheus").stdout
    assert "# HELP gpudoctor_fleet_stale_nodes Node reports checked more than 23.5 h" in prom
    assert "\ngpudoctor_fleet_stale_nodes 1\n" in prom


@pytest.mark.parametrize("hours", ["0", "-3", "abc", "nan", "inf", "1e9", "12h", ""])
def test_a_bad_stale_after_is_one_line(cli: Cli, tmp_path, hours: str):
    folder = fleet_dir(tmp_path, {"gpu-001": H100})
    result = cli("fleet", "report", str(folder), "--stale-after", hours)
    one_line_error(result)
    assert "--stale-after" in result.stderr


def test_unreadable_reports_are_named_and_the_rest_still_counts(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"ok-1": H100})
    (folder / "empty.json").write_text("")
    (folder / "verify-only.verify.json").write_text('{"runs": "x", "verdict": "pass"}')
    (folder / "text.json").write_text("gpudoctor check  ·  host\n")
    os.mkfifo(folder / "pipe.json")  # a FIFO with no writer must not block the run
    start = time.monotonic()
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert time.monotonic() - start < 30
    doc = json.loads(result.stdout)
    errors = {u["node"]: u["error"] for u in doc["unreadable"]}
    assert set(errors) == {"empty", "verify-only", "text", "pipe"}
    # each error beside its path, without the path again (it read "DIR/pipe.json  DIR/pipe.json
    # is a named pipe ...")
    assert errors["pipe"] == (
        "it is a named pipe, not a report file (to read from a "
        "pipe, give - and send the report to standard input)"
    )
    assert errors["empty"].startswith("it is empty, not a gpudoctor check report")
    assert errors["text"].startswith("it looks like text output of gpudoctor check")
    assert errors["verify-only"].startswith("runs: expected a list")
    assert [n["node"] for n in doc["nodes"]] == ["ok-1"]
    assert result.exit_code == 1


def test_a_cut_off_verify_result_is_its_nodes_not_a_node_of_its_own(cli: Cli, tmp_path):
    # a truncated n2.verify.json was listed as node "n2.verify" and counted as a fourth node
    folder = fleet_dir(tmp_path, {"n1": H100, "n2": H100})
    (folder / "n2.verify.json").write_text('{"schema_version": 1, "tool": "gpudoctor-ver')
    result = cli("fleet", "report", str(folder), "--format", "json")
    doc = json.loads(result.stdout)
    assert [u["node"] for u in doc["unreadable"]] == ["n2"]
    text = cli("fleet", "report", str(folder)).stdout
    assert text.splitlines()[-1].startswith("2 node(s):"), text
    assert result.exit_code == 1


def test_a_huge_report_is_refused_unread(cli: Cli, tmp_path, monkeypatch):
    from gpudoctor.model import serialize

    monkeypatch.setattr(serialize, "MAX_REPORT_BYTES", 1024 * 1024)
    folder = fleet_dir(tmp_path, {"ok-1": H100})
    with (folder / "big.json").open("wb") as fh:
        fh.truncate(2 * 1024 * 1024)
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    assert doc["unreadable"][0]["error"] == "it is larger than 1 MiB, the most a report may be"


def test_a_missing_path_or_an_empty_folder_is_bad_input(cli: Cli, tmp_path):
    one_line_error(cli("fleet", "report", str(tmp_path / "nope")))
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("fleet", "report", str(empty))
    one_line_error(result)
    assert "no node reports" in result.stderr


@pytest.mark.parametrize(
    ("suffix", "marker"),
    [
        (".html", "<!DOCTYPE html>"),
        (".prom", "# TYPE gpudoctor_fleet_node_verdict gauge"),
        (".md", "# gpudoctor fleet report"),
        (".json", '"schema_version": 2'),
    ],
)
def test_the_format_follows_the_output_suffix_and_nothing_is_clobbered(
    cli, tmp_path, suffix, marker
):
    folder = fleet_dir(tmp_path, {"n1": H100})
    out = tmp_path / f"fleet{suffix}"
    assert cli("fleet", "report", str(folder), "-o", str(out)).exit_code == 0
    assert marker in out.read_text()
    out.write_text("mine")
    result = cli("fleet", "report", str(folder), "-o", str(out))
    one_line_error(result)
    assert out.read_text() == "mine"
    assert cli("fleet", "report", str(folder), "-o", str(out), "--force").exit_code == 0


def test_force_without_an_output_file_is_one_line_of_bad_input(cli: Cli, tmp_path):
    # fleet report writes no file but --output: --force was dropped without a word
    folder = fleet_dir(tmp_path, {"n1": H100})
    result = cli("fleet", "report", str(folder), "--force")
    one_line_error(result)
    assert "--force goes with --output FILE (it lets FILE be replaced)" in result.stderr
    assert cli("fleet", "report", str(folder), "-o", "-", "--force").exit_code == 0


def test_verify_results_beside_reports_feed_the_outliers(cli: Cli, tmp_path):
    real = json.loads((DATA / "fleet" / "h200-verify-fp32.json").read_text())
    folder = fleet_dir(tmp_path, {f"h{i}": H100 for i in range(1, 7)})
    for i in range(1, 7):
        doc = json.loads(json.dumps(real))
        if i == 4:  # one node's GPU at 60 % of the real H200's ResNet-50 figure
            for run in doc["runs"]:
                if run["model"] == "resnet50" and run["device"] == "cuda:0":
                    run["images_per_second"] *= 0.6
        (folder / f"h{i}.verify.json").write_text(json.dumps(doc))
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    assert [(o["node"], o["model"]) for o in doc["outliers"]] == [("h4", "resnet50")]
    assert doc["outliers"][0]["ratio"] == pytest.approx(0.6)


# --- fleet run against fake SLURM commands (the real cluster is in tests/fleet) ---------------


@pytest.fixture
def fake(tmp_path, monkeypatch):
    def make(nodes):
        cluster = FakeSlurm(tmp_path / "slurm", nodes)
        for key, value in cluster.env().items():
            monkeypatch.setenv(key, value)
        return cluster

    return make


def test_fleet_run_saves_one_report_per_node_and_reports(cli: Cli, tmp_path, fake):
    cluster = fake(
        {
            "n1": {"srun": "report", "report": str(H100)},
            "n2": {"srun": "run"},
            "n3": {"state": "drained", "reason": "maintenance: PSU"},
        }
    )
    out = tmp_path / "run"
    cmd = f"{sys.executable} -m gpudoctor"
    result = cli(
        "fleet",
        "run",
        "-p",
        "gpu",
        "-d",
        str(out),
        "--command",
        cmd,
        "--check-args",
        f"--from-report {LOST}",
        "--format",
        "json",
    )
    assert result.exit_code == 1, result
    assert sorted(p.name for p in out.iterdir()) == ["check", "fleet-run.json"]
    assert sorted(p.name for p in (out / "check").iterdir()) == ["n1.json", "n2.json"]
    manifest = json.loads((out / "fleet-run.json").read_text(encoding="utf-8"))
    jsonschema.validate(manifest, fleet_run_schema(strict=True))  # docs/fleet-run-schema.json's
    doc = json.loads(result.stdout)
    assert doc["not_reached"] == [{"node": "n3", "state": "drained", "reason": "maintenance: PSU"}]
    assert {n["node"]: n["verdict"] for n in doc["nodes"]} == {"n1": "ok", "n2": "error"}
    assert "fleet: [3/3]" in result.stderr or "fleet: [1/3] n3" in result.stderr
    check_call = next(c for c in cluster.calls() if "--nodelist=n2" in c)
    assert check_call[-8:] == [
        sys.executable,
        "-m",
        "gpudoctor",
        "check",
        "--format",
        "json",
        "--from-report",
        str(LOST),
    ]
    # the same folder again is refused before any srun, unless --force
    calls = len(cluster.calls())
    again = cli("fleet", "run", "-p", "gpu", "-d", str(out))
    one_line_error(again)
    assert "already holds" in again.stderr and len(cluster.calls()) == calls
    # fleet report over the folder gives the same answer, the manifest included
    doc2 = json.loads(cli("fleet", "report", str(out), "--format", "json").stdout)
    assert doc2["not_reached"] == doc["not_reached"]
    assert doc2["nodes"] == doc["nodes"]


def test_fleet_run_selection_exclude_and_unknown_nodes(cli: Cli, tmp_path, fake):
    fake({f"n{i}": {"srun": "report", "report": str(H100)} for i in range(1, 5)})
    result = cli(
        "fleet", "run", "-w", "n[1-3],n9", "-x", "n2", "-d", str(tmp_path / "o"), "--format", "json"
    )
    doc = json.loads(result.stdout)
    assert [n["node"] for n in doc["nodes"]] == ["n1", "n3"]
    assert doc["not_reached"] == [
        {"node": "n9", "state": "unknown", "reason": "SLURM does not know this node"}
    ]
    assert result.exit_code == 1


def test_fleet_run_and_pairs_name_an_unknown_partition_as_check_does(cli: Cli, tmp_path, fake):
    # it read "no node to check in partition gpus", as if the partition had no nodes
    fake({"n1": {"partitions": ["gpu"]}, "n2": {"partitions": ["cpu"]}})
    for command in ("run", "pairs"):
        result = cli("fleet", command, "-p", "gpus", "-d", str(tmp_path / command))
        one_line_error(result)
        assert "--partition gpus: no such partition (this cluster has: gpu, cpu)" in result.stderr


@pytest.mark.parametrize("command", ["run", "pairs"])
@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("-p", "--partition '': a partition name has"),
        ("-w", "--nodelist '' names no node"),
        ("-x", "--exclude '' names no node"),
        ("-p", None),
    ],
)
def test_fleet_run_and_pairs_refuse_an_empty_selection_before_sinfo(
    cli: Cli, tmp_path, fake, command, option, message
):
    # `fleet run -p "$PART"` with PART unset ran check on every node of the cluster: '' was
    # taken as no --partition (and -w '' as no --nodelist), so sinfo listed them all
    value = "-gpu" if message is None else ""
    message = message or "--partition '-gpu': a partition name has"
    fake({"n1": {"srun": "report", "report": str(H100)}, "n2": {"srun": "run"}})
    args = [option, value] if option != "-x" else ["-x", "", "-w", "n1"]
    result = cli("fleet", command, *args, "-d", str(tmp_path / "o"))
    one_line_error(result)
    assert message in result.stderr, result
    assert not (tmp_path / "o").exists()


def test_fleet_run_refuses_a_huge_hostlist_before_sinfo(cli: Cli, tmp_path, fake):
    cluster = fake({"n1": {}})
    cluster.save({"nodes": {"n1": {}}, "controller_down": True})  # sinfo would fail if run
    for option in ("-w", "-x"):
        result = cli("fleet", "run", option, "a[1-100000],b[1-100000]", "-d", str(tmp_path / "o"))
        one_line_error(result)
        assert f"{'--nodelist' if option == '-w' else '--exclude'} 'a[1-100000]" in result.stderr
        assert "names more than 100,000 nodes" in result.stderr
    assert cluster.calls() == [] and not (tmp_path / "o").exists()


class CountingName(str):
    """A node name that counts how often it is hashed (each set or dict lookup hashes it)."""

    hashed = 0

    def __hash__(self) -> int:
        CountingName.hashed += 1
        return str.__hash__(self)


def test_fleet_run_looks_nodes_up_in_linear_time(cli: Cli, tmp_path, fake, monkeypatch):
    # -w over 20,000 nodes took 34 s (1.5 s with -p): a set of every node built per name.
    # Counted, not timed: N names hashed a few times each, not N times N.
    from gpudoctor.fleet import slurm

    count = 1000
    fake({})
    listed = tuple(
        slurm.ComputeNode(
            node=slurm.SlurmNode(
                name=CountingName(f"n{i}"), state="drained", reason="r", partitions=("g",)
            ),
            gres=("gpu:8",),
        )
        for i in range(1, count + 1)
    )
    monkeypatch.setattr(slurm, "list_compute_nodes", lambda **_: listed)
    CountingName.hashed = 0
    result = cli(
        "fleet", "run", "-w", f"n[1-{count + 5}]", "-d", str(tmp_path / "o"), "--format", "json"
    )
    assert result.exit_code == 1, result
    states = [r["state"] for r in json.loads(result.stdout)["not_reached"]]
    assert (states.count("drained"), states.count("unknown")) == (count, 5)
    assert CountingName.hashed < 50 * count, CountingName.hashed


@pytest.mark.parametrize(
    "args",
    [("-w", "n[1-"), ("--check-args", "'unclosed"), ("--time-limit", "0"), ("--concurrency", "0")],
)
def test_fleet_run_bad_input(cli: Cli, tmp_path, fake, args):
    fake({"n1": {"srun": "report", "report": str(H100)}})
    one_line_error(cli("fleet", "run", "-d", str(tmp_path / "o"), *args))


def test_verify_args_without_verify_is_bad_input_not_dropped(cli: Cli, tmp_path, fake):
    # the arguments were dropped without a word and the run went ahead, checks only
    fake({"n1": {"srun": "report", "report": str(H100)}})
    result = cli("fleet", "run", "-w", "n1", "-d", str(tmp_path / "o"), "--verify-args", "-m x")
    one_line_error(result)
    assert "--verify-args goes with --verify" in result.stderr
    assert not (tmp_path / "o").exists()


def test_fleet_run_without_slurm_says_so(cli: Cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = cli("fleet", "run", "-d", str(tmp_path / "o"))
    one_line_error(result)
    assert "sinfo not found" in result.stderr


# --- check --health-check ------------------------------------------------------------------


def test_the_health_gate_drains_and_resumes_only_its_own(cli: Cli, fake):
    cluster = fake(
        {"n1": {"state": "idle"}, "n2": {"state": "drained", "reason": "maintenance: PSU"}}
    )
    bad = cli("check", "--health-check", "--drain", "--node", "n1", "--from-report", str(LOST))
    assert bad.exit_code == 1, bad
    assert bad.stdout.startswith("gpudoctor health: error: GD-GPU-001")
    node = cluster.load()["nodes"]["n1"]
    assert node["state"] == "drained" and node["reason"].startswith("gpudoctor:GPU-001")
    good = cli("check", "--health-check", "--drain", "--node", "n1", "--from-report", str(H100))
    assert good.exit_code == 0 and good.stdout == "gpudoctor health: ok\n"
    assert cluster.load()["nodes"]["n1"]["state"] == "idle"
    cli("check", "--health-check", "--drain", "--node", "n2", "--from-report", str(H100))
    assert cluster.load()["nodes"]["n2"]["reason"] == "maintenance: PSU"


BAD_NODE_NAMES = ("", " ", "n1 ", "n1\n", "n\x1b1", "n1,n2", "n[1-2]", "n1=x", "-n1", ".")


@pytest.mark.parametrize("node", [*BAD_NODE_NAMES, "state=drain", "n" * 254])
def test_a_bad_node_name_is_bad_input_and_drains_nothing(cli: Cli, fake, node):
    # `--node $NODE` with $NODE unset in a Prolog gives '': never "the node this runs on".
    cluster = fake({"n1": {"state": "idle"}, "n2": {"state": "idle"}})
    result = cli(
        "check",
        "--health-check",
        "--drain",
        "--node",
        node,
        "--from-report",
        str(LOST),
        env={"SLURMD_NODENAME": "n1"},
    )
    one_line_error(result)
    assert "is not one node's name" in result.stderr
    assert cluster.calls() == []  # decided before sinfo or scontrol ran
    assert {n["state"] for n in cluster.load()["nodes"].values()} == {"idle"}


def test_a_bad_slurmd_nodename_is_bad_input_too(cli: Cli, fake):
    cluster = fake({"n1": {"state": "idle"}})
    result = cli(
        "check",
        "--health-check",
        "--drain",
        "--from-report",
        str(LOST),
        env={"SLURMD_NODENAME": "n[1-3]"},
    )
    one_line_error(result)
    assert cluster.calls() == []


def gate_json(cli: Cli, report: Path, node: str = "n1", **env: str):
    result = cli(
        "check",
        "--health-check",
        "--drain",
        "--node",
        node,
        "--from-report",
        str(report),
        "--format",
        "json",
        env=env or None,
    )
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, HEALTH_SCHEMA)  # what --drain fills in, each way SLURM answers
    return result, doc


@pytest.mark.parametrize(
    ("broken", "cause", "words"),
    [
        ({"controller_down": True}, "controller_unreachable", "Unable to contact slurm controller"),
        ({"sinfo": "hang"}, "controller_unreachable", "sinfo gave no answer in 1 s"),
        ({"sinfo": "no_config"}, "config_missing", "cannot stat file /etc/slurm/slurm.conf"),
        ({"scontrol_down": True}, "controller_unreachable", "could not drain n1"),
    ],
)
def test_the_gate_names_why_slurm_could_not_answer(
    cli: Cli, fake, monkeypatch, broken, cause, words
):
    # It once said "SLURM does not know this node" for all of these, after up to 30 s.
    from gpudoctor.fleet import slurm

    monkeypatch.setattr(slurm, "GATE_QUERY_TIMEOUT_S", 1.0)
    cluster = fake({"n1": {"state": "idle"}})
    cluster.save({"nodes": {"n1": {"state": "idle"}}, **broken})
    start = time.monotonic()
    result, doc = gate_json(cli, LOST)
    assert time.monotonic() - start < 15  # the gate's own short limit, not sinfo's 60 s retry
    assert result.exit_code == 1, result  # the node's health decides the status, not SLURM
    assert doc["slurm"] == cause and doc["action"] == "none" and doc["node"] == "n1"
    assert words in doc["message"] and doc["message"].endswith("nothing done")
    assert words in result.stderr and "Traceback" not in result.stderr
    assert cluster.load()["nodes"]["n1"]["state"] == "idle"
    healthy, doc = gate_json(cli, H100)
    assert healthy.exit_code == 0  # nothing to do on a clean node: scontrol is not needed
    assert doc["slurm"] == ("ok" if "scontrol_down" in broken else cause)


def test_the_gate_with_slurm_conf_pointing_nowhere_says_so_at_once(cli: Cli, fake, tmp_path):
    fake({"n1": {"state": "idle"}})
    start = time.monotonic()
    result, doc = gate_json(cli, LOST, SLURM_CONF=str(tmp_path / "nowhere.conf"))
    assert time.monotonic() - start < 10
    assert result.exit_code == 1
    assert doc["slurm"] == "config_missing"
    assert f"SLURM_CONF={tmp_path / 'nowhere.conf'} names no file" in doc["message"]


def test_the_gate_tells_an_unknown_node_from_an_unreachable_slurm(cli: Cli, fake):
    cluster = fake({"n1": {"state": "idle"}})
    result, doc = gate_json(cli, LOST, node="n9")
    assert result.exit_code == 1
    assert doc["slurm"] == "unknown_node"
    assert doc["message"] == "SLURM does not know node n9: nothing done"
    _, doc = gate_json(cli, LOST)
    assert (doc["slurm"], doc["action"]) == ("ok", "drain")
    assert cluster.load()["nodes"]["n1"]["state"] == "drained"


def test_the_prolog_form_changes_nothing(cli: Cli, fake):
    cluster = fake({"n1": {"state": "idle"}})
    result = cli("check", "--health-check", "--from-report", str(LOST), "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["id"] == "GD-GPU-001"
    assert cluster.calls() == []


def test_the_gate_drains_a_node_with_fewer_gpus_than_its_gres(cli: Cli, fake, tmp_path):
    # A GPU fell off the bus: NVML lists 7 of 8, SLURM still gives out gpu:h100:8.
    cluster = fake({"n1": {"state": "idle", "gres": "gpu:h100:8(S:0-1)"}})
    result, doc = gate_json(cli, h100_node(tmp_path, 7, on_bus=8))
    assert result.exit_code == 1, result
    (error,) = doc["errors"]
    assert error == {
        "id": "GD-GPU-068",
        "title": "SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8: "
        "GPU 0000:17:00.0 lost",
        "area": "gpu",
    }
    assert (doc["action"], doc["slurm"]) == ("drain", "ok")
    node = cluster.load()["nodes"]["n1"]
    assert node["state"] == "drained"
    assert node["reason"] == f"gpudoctor:GPU-068 {error['title']}"
    # The GPU is back after a reboot: the gate resumes the node it drained.
    healthy, doc = gate_json(cli, h100_node(tmp_path, 8))
    assert healthy.exit_code == 0 and doc["action"] == "resume", doc
    assert cluster.load()["nodes"]["n1"]["state"] == "idle"


def test_the_gate_drains_a_gres_node_with_no_gpu_and_no_driver(cli: Cli, fake, tmp_path):
    # nothing NVIDIA left on n1's bus, no driver: the gate said "ok" (NVML not applicable,
    # GD-DRV-001 a warning) while SLURM went on giving out gpu:h100:8 there, and fleet run
    # called the same node an error
    cluster = fake({"n1": {"state": "idle", "gres": "gpu:h100:8"}})
    result, doc = gate_json(cli, no_gpu_node(tmp_path))
    assert result.exit_code == 1, result
    assert doc["errors"] == [
        {
            "id": "GD-GPU-068",
            "title": "SLURM gives out gpu:h100:8 here; the node has no GPU",
            "area": "gpu",
        }
    ]
    assert cluster.load()["nodes"]["n1"]["state"] == "drained"


def test_more_gpus_than_the_gres_is_no_gate_error(cli: Cli, fake, tmp_path):
    cluster = fake({"n1": {"state": "idle", "gres": "gpu:h100:4,nic:2"}})
    result, doc = gate_json(cli, h100_node(tmp_path, 8))
    assert result.exit_code == 0 and doc["errors"] == [] and doc["action"] == "none"
    assert cluster.load()["nodes"]["n1"]["state"] == "idle"


@pytest.mark.parametrize("gres", ["(null)", "nic:2", "gpu:h100:1"])
def test_a_node_without_a_larger_gpu_gres_passes(cli: Cli, fake, gres):
    fake({"n1": {"state": "idle", "gres": gres}})
    result, doc = gate_json(cli, H100)
    assert result.exit_code == 0 and doc["errors"] == [], doc


def test_the_prolog_form_asks_slurm_nothing_so_compares_no_gres(cli: Cli, fake, tmp_path):
    cluster = fake({"n1": {"state": "idle", "gres": "gpu:h100:8"}})
    cluster.save({"nodes": {"n1": {"state": "idle"}}, "controller_down": True})
    # sinfo would fail: the Prolog form passes because it never runs it.
    result = cli("check", "--health-check", "--from-report", str(h100_node(tmp_path, 7)))
    assert result.exit_code == 0 and result.stdout == "gpudoctor health: ok\n"


def test_a_report_with_slurms_answer_replays_the_finding(cli: Cli, tmp_path):
    doc = json.loads(h100_node(tmp_path, 7, on_bus=8).read_text())
    doc["site"] = {
        "slurm_node": {"name": "n1", "state": "idle", "gres": ["gpu:h100:8"], "command": "sinfo"}
    }
    saved = tmp_path / "recorded.json"
    saved.write_text(json.dumps(doc))
    result = cli("check", "--from-report", str(saved), "--format", "json")
    assert result.exit_code == 1
    (found,) = [f for f in json.loads(result.stdout)["findings"] if f["id"] == "GD-GPU-068"]
    assert found["severity"] == "error"
    assert found["evidence"][0] == (
        "SLURM gives out gpu:h100:8 on n1; NVML lists 7 GPUs (missing: PCI 0000:17:00.0)"
    )
    gate = cli("check", "--health-check", "--from-report", str(saved))
    assert gate.exit_code == 1 and gate.stdout.startswith("gpudoctor health: error: GD-GPU-068")


@pytest.mark.parametrize(
    ("extra", "unused"),
    [
        (("--python", sys.executable), "--python"),
        (("--no-frameworks",), ""),  # the gate probes no framework: what it asks holds
        (("--verbose",), "--verbose"),
        (("--strict",), "--strict"),
        (("--no-redact",), ""),  # the gate redacts nothing
        (("--no-history",), ""),  # the gate keeps nothing
        (("--history-dir", "/nonexistent/h"), "--history-dir"),
        (("--node", "n1"), "--node without --drain"),
        (("--strict", "--verbose"), "--verbose, --strict"),
        # refused by the full check; the gate writes no file without --output either
        (("--force",), "--force without --output"),
        (("-o", "-", "--force"), ""),
    ],
)
def test_the_gate_takes_the_full_checks_options_and_changes_nothing(cli: Cli, extra, unused):
    # check.md: they are taken, not refused (exit 2 from a Prolog would drain the node), and
    # the gate's answer is the same without them; those it does nothing with are named on
    # standard error (they were dropped without a word)
    plain = cli("check", "--health-check", "--format", "json")
    given = cli("check", "--health-check", "--format", "json", *extra)
    assert given.exit_code == plain.exit_code == 0, given
    note = "gpudoctor health: note: not used by --health-check (the driver and NVML only, "
    assert note not in plain.stderr
    if unused:
        assert f"{note}errors only, nothing kept): {unused}\n" in given.stderr, given.stderr
    else:
        assert note not in given.stderr
    drop = ("created_at",)
    assert {k: v for k, v in json.loads(given.stdout).items() if k not in drop} == {
        k: v for k, v in json.loads(plain.stdout).items() if k not in drop
    }


def test_drain_without_the_gate_is_bad_input(cli: Cli):
    one_line_error(cli("check", "--drain"))


@pytest.mark.parametrize(
    ("option", "value"),
    [("--remote-timeout", "30"), ("--immediate", "5"), ("--command", "gpudoctor")],
)
def test_an_srun_option_without_a_partition_is_bad_input(cli: Cli, option: str, value: str):
    # check.md and --help give them "With --partition/--nodelist"; --command was refused
    # alone, while --remote-timeout and --immediate ran a local check and were dropped
    result = cli("check", "--no-frameworks", option, value)
    one_line_error(result)
    assert f"{option} goes with --partition or --nodelist" in result.stderr, result


def test_the_gate_on_this_machine_reads_no_framework(cli: Cli):
    # No GPU here: no error in the driver, NVML or GPU areas, and no framework child at all.
    result = cli("check", "--health-check", "--format", "json")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["healthy"] is True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_keeps_what_it_gathered(tmp_path, fake, signum):
    cluster = fake(
        {
            "n1": {"srun": "report", "report": str(H100)},
            "n2": {"srun": "hang"},
            "n3": {"srun": "hang"},
        }
    )
    out = tmp_path / "run"
    env = {**os.environ, **cluster.env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpudoctor", "fleet", "run", "-d", str(out), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not (out / "check" / "n1.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the two hanging sruns are under way
    start = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - start < 20  # srun's SIGTERM grace, not the 180 s node timeout
    assert proc.returncode == 128 + signum, stderr
    assert (out / "check" / "n1.json").exists() and (out / "fleet-run.json").exists()
    doc = json.loads(stdout)
    assert [n["node"] for n in doc["nodes"]] == ["n1"]
    assert {r["node"] for r in doc["not_reached"]} == {"n2", "n3"}
    leftover = [  # no fake srun left running
        p for p in Path("/proc").glob("[0-9]*") if str(cluster.state_file).encode() in _environ(p)
    ]
    assert leftover == []


def _environ(proc: Path) -> bytes:
    try:
        return (proc / "environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return b""


def test_a_golden_baseline_catches_a_fleet_that_drifted_as_one(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {f"gpu-{i:03d}": LOST for i in (1, 2, 3)})
    plain = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    assert not [d for d in plain["drift"] if d["fact"] == "gpus_per_node"]
    result = cli("fleet", "report", str(folder), "--baseline", str(H100), "--format", "json")
    doc = json.loads(result.stdout)
    follows_the_fleet_schema(doc)
    drift = {d["fact"]: d for d in doc["drift"] if d["reference"] != "majority"}
    assert drift["gpus_per_node"]["reference"] == f"baseline {H100.name}"
    assert drift["gpus_per_node"]["minority"] == {"2": ["gpu-001", "gpu-002", "gpu-003"]}
    text = cli("fleet", "report", str(folder), "--baseline", str(H100)).stdout
    assert f"(baseline {H100.name})" in text and "the reference value" in text


def test_a_baseline_of_pinned_facts(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"gpu-001": H100, "gpu-002": H100})
    pins = tmp_path / "golden.toml"
    pins.write_text('[node]\ndriver_version = "580.95.05"\n[gpu]\necc = true\n')
    result = cli("fleet", "report", str(folder), "--baseline", str(pins), "--format", "json")
    drift = [d for d in json.loads(result.stdout)["drift"] if d["reference"] != "majority"]
    assert [(d["fact"], d["majority"]) for d in drift] == [("driver_version", "580.95.05")]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("[node\n", "not a TOML file"),
        ('[node]\nnope = "1"\n', "'nope' is no fact"),
    ],
)
def test_a_bad_baseline_is_one_line(cli: Cli, tmp_path, content, needle):
    folder = fleet_dir(tmp_path, {"gpu-001": H100})
    pins = tmp_path / "golden.toml"
    pins.write_text(content)
    result = cli("fleet", "report", str(folder), "--baseline", str(pins))
    one_line_error(result)
    assert needle in result.stderr
    missing = cli("fleet", "report", str(folder), "--baseline", str(tmp_path / "none.json"))
    one_line_error(missing)


def test_a_finding_named_once_for_the_fleet_fits_every_node_it_lists(cli: Cli, tmp_path):
    # Nodes checked with --no-frameworks: each says "TensorFlow was not checked", so the
    # fleet's one name for GD-TF-001 must not say "TensorFlow is not installed" of them.
    doc = json.loads(H100.read_text())
    for fw in doc["frameworks"]:
        fw["status"] = "not_probed"
    unprobed = tmp_path / "unprobed.json"
    unprobed.write_text(json.dumps(doc))
    folder = fleet_dir(tmp_path, {"n1": unprobed, "n2": unprobed, "n3": H100})
    result = cli("fleet", "report", str(folder), "--format", "markdown")
    assert "TensorFlow is not installed or was not checked" in result.stdout, result
    assert "GD-TF-001 TensorFlow is not installed |" not in result.stdout


@pytest.mark.parametrize("verdict", [{}, [], 1, None])
def test_a_verify_result_whose_verdict_is_no_string_is_an_unreadable_node(
    cli: Cli, tmp_path, verdict
):
    # a verdict of {} (or []) was an internal error: "TypeError: unhashable type: 'dict'"
    doc = json.loads((DATA / "fleet" / "h200-verify-fp32.json").read_text())
    doc["verdict"] = verdict
    (tmp_path / "node1.verify.json").write_text(json.dumps(doc))
    (tmp_path / "node1.json").write_text(H100.read_text())
    result = cli("fleet", "report", str(tmp_path), "--format", "json")
    assert result.exit_code == 1, result
    unreadable = json.loads(result.stdout)["unreadable"]
    assert [u["node"] for u in unreadable] == ["node1"], unreadable
    assert "verdict: expected pass, warn or fail" in unreadable[0]["error"]


def test_a_fact_with_thousands_of_digits_still_gives_a_fleet_report(cli: Cli, tmp_path):
    # natural sorting called int() on the digits: more than 4,300 was an internal error
    doc = json.loads(H100.read_text())
    doc["frameworks"][0]["build_cudnn"] = "9" * 5000
    (tmp_path / "n1.json").write_text(json.dumps(doc))
    (tmp_path / "n2.json").write_text(H100.read_text())
    result = cli("fleet", "report", str(tmp_path), "--format", "json")
    assert result.exit_code in (0, 1), result
    assert {n["node"] for n in json.loads(result.stdout)["nodes"]} == {"n1", "n2"}


@pytest.mark.parametrize(
    "args",
    [
        ("fleet", "run", "-w", "n1", "--command", ""),
        ("fleet", "run", "-w", "n1", "--command", "   "),
        ("check", "-w", "n1", "--command", ""),
    ],
)
def test_an_empty_command_is_bad_input_not_the_default(cli: Cli, tmp_path, fake, args):
    # `--command "$CMD"` with CMD unset ran this interpreter's gpudoctor on the node instead
    fake({"n1": {"srun": "report", "report": str(H100)}})
    extra = ("-d", str(tmp_path / "o")) if args[0] == "fleet" else ()
    result = cli(*args, *extra)
    one_line_error(result)
    assert "--command is empty" in result.stderr, result
    assert not (tmp_path / "o").exists()


def test_fleet_run_force_forgets_the_old_report_of_a_node_not_reached_now(cli: Cli, tmp_path, fake):
    """--force into a folder of an earlier run: n2, drained since, was listed as not reached,
    yet its old check/n2.json and verify/n2.json stayed, and the report read them back: n2
    checked and fine, "2 node report(s)", exit 0, the drain nowhere."""
    cluster = fake({n: {"srun": "report", "report": str(H100)} for n in ("n1", "n2")})
    out = tmp_path / "run"
    first = cli("fleet", "run", "-p", "gpu", "-d", str(out), "--format", "json")
    assert first.exit_code == 0, first
    (out / "verify").mkdir()
    (out / "verify" / "n2.json").write_text("{}")
    (out / "check" / "n9.json").write_bytes((out / "check" / "n1.json").read_bytes())
    state = cluster.load()
    state["nodes"]["n2"].update(state="drained", reason="PSU swap")
    cluster.save(state)
    again = cli("fleet", "run", "-p", "gpu", "-d", str(out), "--force", "--format", "json")
    assert again.exit_code == 1, again
    doc = json.loads(again.stdout)
    assert doc["not_reached"] == [{"node": "n2", "state": "drained", "reason": "PSU swap"}]
    assert [n["node"] for n in doc["nodes"]] == ["n1", "n9"]  # a node not asked for stays
    assert not (out / "check" / "n2.json").exists() and not (out / "verify" / "n2.json").exists()
    assert json.loads(cli("fleet", "report", str(out), "--format", "json").stdout) == {
        **doc,
        "created_at": ANY,
    }


def test_fleet_run_says_why_the_check_failed_on_a_node_it_reached(cli: Cli, tmp_path, fake):
    """A --check-args check refuses (or a --command the node cannot run): srun ends with
    "srun: error: n1: task 0: Exited with exit code 2", which was taken for srun refusing the
    job: every node "not reached (idle: n1: task 0: Exited with exit code 2)", and check's own
    words ("No such option '--bogus'") were lost."""
    fake({"n1": {"srun": "run"}})
    cmd = f"{sys.executable} -m gpudoctor"
    out = tmp_path / "run"
    args = ("fleet", "run", "-d", str(out), "--command", cmd, "--check-args", "--bogus")
    result = cli(*args, "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    assert doc["not_reached"] == []
    (unreadable,) = doc["unreadable"]
    assert unreadable["error"].startswith(
        "the command failed on the node: gpudoctor: error: No such option '--bogus'"
    ), unreadable


def test_a_verify_result_that_did_not_pass_is_listed_with_its_reason(cli: Cli, tmp_path):
    # the section listed the file and its verdict, not why: each node's file had to be opened
    doc = json.loads((DATA / "fleet" / "h200-verify-fp32.json").read_text())
    doc["verdict"] = "fail"
    doc["reasons"] = [
        {"level": "note", "code": "pcie_unchecked", "message": "PCIe link not read under load"},
        {"level": "fail", "code": "mismatch", "message": "torch resnet50 cuda:0: outputs\n"
         "differ from the CPU's by 3.1e-01 [limit 1e-03]"},
    ]  # fmt: skip
    (tmp_path / "node1.verify.json").write_text(json.dumps(doc))
    (tmp_path / "node1.json").write_text(H100.read_text())
    reason = "torch resnet50 cuda:0: outputs differ from the CPU's by 3.1e-01 [limit 1e-03]"
    text = cli("fleet", "report", str(tmp_path)).stdout
    assert f"  fail  {tmp_path / 'node1.verify.json'}  {reason}\n" in text, text
    doc = json.loads(cli("fleet", "report", str(tmp_path), "--format", "json").stdout)
    follows_the_fleet_schema(doc)
    assert doc["verify"] == [{"node": "node1", "verdict": "fail", "path": ANY, "reason": reason}], (
        doc["verify"]
    )
    assert (
        reason.replace("[", "\\[").replace("]", "\\]")
        in cli("fleet", "report", str(tmp_path), "--format", "markdown").stdout
    )


def test_an_unusable_output_is_kept_in_the_run_folder_and_its_line_names_it(
    cli: Cli, tmp_path, fake
):
    # the node was counted as unreadable, but what it sent (check's own error, a traceback, a
    # cut-off JSON) was saved nowhere: the line named fleet-run.json, which holds one line
    cluster = fake({"n1": {"srun": "run"}, "n2": {"srun": "garbage"}})
    cmd = f"{sys.executable} -m gpudoctor"
    out = tmp_path / "run"
    args = ("fleet", "run", "-d", str(out), "--command", cmd, "--check-args", "--bogus")
    result = cli(*args, "--format", "json")
    assert result.exit_code == 1, result
    kept = {n: out / "check" / f"{n}.unusable.txt" for n in ("n1", "n2")}
    assert [(u["node"], u["path"]) for u in json.loads(result.stdout)["unreadable"]] == [
        (n, str(kept[n])) for n in ("n1", "n2")
    ]
    assert "gpudoctor: error: No such option '--bogus'" in kept["n1"].read_text()
    assert "\nthis is not JSON\n" in kept["n2"].read_text()
    assert not (out / "check" / "n1.json").exists()
    text = cli("fleet", "report", str(out)).stdout
    assert f"✗ n2  {kept['n2']}  the node's output is not JSON" in text, text
    # the folder moved: its manifest names the kept output where it is now
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    doc = json.loads(cli("fleet", "report", str(moved), "--format", "json").stdout)
    assert [u["path"] for u in doc["unreadable"]] == [
        str(moved / "check" / f"{n}.unusable.txt") for n in ("n1", "n2")
    ]
    # a manifest written before (it named check/n1.json, never written): the manifest read
    manifest = json.loads((out / "fleet-run.json").read_text())
    manifest["unreadable"] = manifest["unreadable"][:1]
    manifest["unreadable"][0]["path"] = str(out / "check" / "n1.json")
    older = tmp_path / "older"
    older.mkdir()
    (older / "fleet-run.json").write_text(json.dumps(manifest))
    doc = json.loads(cli("fleet", "report", str(older), "--format", "json").stdout)
    assert [u["path"] for u in doc["unreadable"]] == [str(older / "fleet-run.json")], doc
    # the kept output is the admin's now: not replaced without --force...
    (out / "fleet-run.json").unlink()
    calls = len(cluster.calls())
    again = cli(*args)
    one_line_error(again)
    assert "already holds check/n1.unusable.txt, check/n2.unusable.txt" in again.stderr
    assert len(cluster.calls()) == calls
    # ...and with it, a node that answers now leaves no stale output behind
    state = cluster.load()
    state["nodes"]["n2"] = {"srun": "report", "report": str(H100)}
    cluster.save(state)
    assert cli(*args, "--force").exit_code == 1
    assert kept["n1"].is_file() and not kept["n2"].exists()
    assert (out / "check" / "n2.json").is_file()


def test_the_progress_line_names_the_file_that_keeps_a_nodes_unusable_output(
    cli: Cli, tmp_path, fake
):
    # the line said "n1: unreadable: the node's output is not JSON" and no more: the file
    # that keeps what n1 sent was named only in the report at the end (and n2's verify error
    # read as its check's)
    (tmp_path / "traceback.txt").write_text("Traceback (most recent call last):\n")
    fake(
        {
            "n1": {"srun": "garbage"},
            "n2": {
                "srun": "report",
                "report": str(H100),
                "verify": str(tmp_path / "traceback.txt"),
            },
            "n3": {"srun": "report", "report": str(H100), "verify": str(H100)},
        }
    )
    out = tmp_path / "run"
    result = cli("fleet", "run", "-d", str(out), "--verify", "--format", "json")
    assert result.exit_code == 1, result
    lines = {line.split(":")[1].split()[-1]: line for line in result.stderr.splitlines()[1:]}
    assert lines["n1"].startswith("fleet: [") and lines["n1"].endswith(
        f"; what it sent is in {out / 'check' / 'n1.unusable.txt'}"
    ), lines
    assert "n1: unreadable: the node's output is not JSON" in lines["n1"]
    assert "n2: report saved; verify: the node's output is not JSON" in lines["n2"], lines
    assert lines["n2"].endswith(f"; what it sent is in {out / 'verify' / 'n2.unusable.txt'}")
    assert "what it sent" not in lines["n3"] and "n3: report saved with verify" in lines["n3"]
    assert (out / "verify" / "n2.unusable.txt").is_file()


def test_fleet_run_force_on_a_subset_keeps_what_the_earlier_run_said_of_the_other_nodes(
    cli: Cli, tmp_path, fake
):
    """-w n[1,4] --force into the folder of a whole-partition run: the manifest was replaced
    by this run's alone, so n2 (drained then, not tried now) and n3 (its output unusable)
    vanished from the record while n3's file stayed: exit 0, as if the fleet were fine."""
    cluster = fake(
        {
            "n1": {"srun": "report", "report": str(H100)},
            "n2": {"state": "drained", "reason": "PSU swap"},
            "n3": {"srun": "garbage", "partitions": ["debug"]},
            "n4": {"srun": "report", "report": str(H100)},
        }
    )
    out = tmp_path / "run"
    first = cli("fleet", "run", "-d", str(out), "--format", "json")
    assert first.exit_code == 1, first
    state = cluster.load()
    state["nodes"]["n4"].update(state="drained", reason="fan")
    cluster.save(state)
    again = cli("fleet", "run", "-d", str(out), "-w", "n[1,4]", "--force", "--format", "json")
    assert again.exit_code == 1, again
    doc = json.loads(again.stdout)
    assert doc["not_reached"] == [
        {"node": "n2", "state": "drained", "reason": "PSU swap"},  # the earlier run's
        {"node": "n4", "state": "drained", "reason": "fan"},  # this run's, replacing its report
    ]
    assert [(u["node"], u["path"]) for u in doc["unreadable"]] == [
        ("n3", str(out / "check" / "n3.unusable.txt"))
    ]
    assert [n["node"] for n in doc["nodes"]] == ["n1"]
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert manifest["partitions"] == {
        "n1": ["gpu"], "n2": ["gpu"], "n3": ["debug"], "n4": ["gpu"]
    }  # fmt: skip
    # n2 is back: tried again, its earlier line is replaced by this run's word (a report)
    state["nodes"]["n2"] = {"srun": "report", "report": str(H100)}
    cluster.save(state)
    third = cli("fleet", "run", "-d", str(out), "-w", "n2", "--force", "--format", "json")
    doc = json.loads(third.stdout)
    assert [r["node"] for r in doc["not_reached"]] == ["n4"]
    assert [n["node"] for n in doc["nodes"]] == ["n1", "n2"]
    assert [u["node"] for u in doc["unreadable"]] == ["n3"]
    assert json.loads(cli("fleet", "report", str(out), "--format", "json").stdout) == {
        **doc,
        "created_at": ANY,
    }


def test_a_merged_manifest_says_which_run_checked_each_node(cli: Cli, tmp_path, fake, monkeypatch):
    """-w n1 --force into a whole run's folder kept n2's and n3's entries of the first run, but
    the manifest's command and created_at were the second run's alone: n2's drain read as
    found at the second run's time, by its command."""
    import gpudoctor.cli.fleet as cli_fleet

    fake(
        {
            "n1": {"srun": "report", "report": str(H100)},
            "n2": {"state": "drained", "reason": "PSU swap"},
            "n3": {"srun": "garbage"},
        }
    )
    out = tmp_path / "run"
    base = [sys.executable, "-m", "gpudoctor", "check", "--format", "json"]
    monkeypatch.setattr(cli_fleet, "_now", lambda: "2026-12-01T00:00:00Z")
    assert cli("fleet", "run", "-d", str(out)).exit_code == 1
    monkeypatch.setattr(cli_fleet, "_now", lambda: "2026-12-02T00:00:00Z")
    args = ("fleet", "run", "-d", str(out), "--force", "--check-args", "--no-frameworks")
    assert cli(*args, "-w", "n1,n9").exit_code == 1
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert manifest["schema_version"] == 2
    assert (manifest["created_at"], manifest["command"]) == (
        "2026-12-02T00:00:00Z",
        [*base, "--no-frameworks"],
    )  # the latest run's, as before
    first = {
        "gpudoctor_version": ANY,
        "created_at": "2026-12-01T00:00:00Z",
        "command": base,
        "verify_command": None,
    }
    second = {
        "gpudoctor_version": ANY,
        "created_at": "2026-12-02T00:00:00Z",
        "command": [*base, "--no-frameworks"],
        "verify_command": None,
    }
    assert manifest["runs"] == [
        {**first, "nodes": ["n2", "n3"]},
        {**second, "nodes": ["n1", "n9"]},  # n9: named, unknown to SLURM
    ]
    # a third run over n3 leaves the first run's word on n2 alone
    monkeypatch.setattr(cli_fleet, "_now", lambda: "2026-12-03T00:00:00Z")
    assert cli("fleet", "run", "-d", str(out), "--force", "-w", "n3").exit_code == 1
    runs = json.loads((out / "fleet-run.json").read_text())["runs"]
    assert [(r["created_at"], r["nodes"]) for r in runs] == [
        ("2026-12-01T00:00:00Z", ["n2"]),
        ("2026-12-02T00:00:00Z", ["n1", "n9"]),
        ("2026-12-03T00:00:00Z", ["n3"]),
    ]
    # a manifest written before `runs` (version 1) is read as one run over every node it names
    old = json.loads((out / "fleet-run.json").read_text())
    old.update(schema_version=1, created_at="2026-11-30T00:00:00Z", command=["old"])
    del old["runs"]
    (out / "fleet-run.json").write_text(json.dumps(old))
    monkeypatch.setattr(cli_fleet, "_now", lambda: "2026-12-04T00:00:00Z")
    assert cli("fleet", "run", "-d", str(out), "--force", "-w", "n1").exit_code == 1
    runs = json.loads((out / "fleet-run.json").read_text())["runs"]
    assert [(r["created_at"], r["command"][-1], r["nodes"]) for r in runs] == [
        ("2026-11-30T00:00:00Z", "old", ["n2", "n3", "n9"]),
        ("2026-12-04T00:00:00Z", "json", ["n1"]),
    ]


def test_each_run_of_a_merged_manifest_keeps_its_verify_command(cli: Cli, tmp_path, fake):
    """runs[] kept only the check command: a node verified by an earlier run (and how) could
    not be told from one that was never verified."""
    verify = DATA / "fleet" / "h200-verify-fp32.json"
    fake({n: {"srun": "report", "report": str(H100), "verify": str(verify)} for n in ("n1", "n2")})
    out = tmp_path / "run"
    first = cli("fleet", "run", "-d", str(out), "--verify", "--verify-args", "--models lenet5")
    assert first.exit_code in (0, 1), first
    assert cli("fleet", "run", "-d", str(out), "-w", "n2", "--force").exit_code in (0, 1)
    runs = json.loads((out / "fleet-run.json").read_text())["runs"]
    base = [sys.executable, "-m", "gpudoctor"]
    assert [(r["nodes"], r["verify_command"]) for r in runs] == [
        (["n1"], [*base, "verify", "--quick", "--format", "json", "--models", "lenet5"]),
        (["n2"], None),  # checked again without verify
    ]


def test_the_report_of_a_merged_folder_names_the_runs_that_checked_its_nodes(
    cli: Cli, tmp_path, fake, monkeypatch
):
    """fleet report ignored runs[]: after -w n3 --force, nothing told the admin that n1-n2 (and
    n4's drain) were another day's word, perhaps another gpudoctor's."""
    import gpudoctor.cli.fleet as cli_fleet

    verify = DATA / "fleet" / "h200-verify-fp32.json"
    fine = {"srun": "report", "report": str(H100), "verify": str(verify)}
    fake(
        {
            **dict.fromkeys(("n1", "n2", "n3"), fine),
            "n4": {"state": "drained", "reason": "PSU swap"},
        }
    )
    out = tmp_path / "run"
    monkeypatch.setattr(cli_fleet, "_now", lambda: "2026-12-01T02:00:00Z")
    cli("fleet", "run", "-d", str(out))
    for fmt in ("text", "markdown", "html"):  # one run: nothing new is shown
        assert "fleet runs" not in cli("fleet", "report", str(out), "--format", fmt).stdout
    doc = json.loads(cli("fleet", "report", str(out), "--format", "json").stdout)
    assert [r["hostlist"] for r in doc["runs"]] == ["n[1-4]"]
    monkeypatch.setattr(cli_fleet, "_now", lambda: "2026-12-07T09:30:00Z")
    cli("fleet", "run", "-d", str(out), "-w", "n3", "--force", "--verify")
    said = (
        "Checked by 2 fleet runs: 2026-12-01 02:00 UTC (n[1-2,4]); "
        "2026-12-07 09:30 UTC (n3, with verify)"
    )
    assert said in cli("fleet", "report", str(out)).stdout.splitlines()[1]
    markdown = cli("fleet", "report", str(out), "--format", "markdown").stdout
    assert said.replace("[", "\\[").replace("]", "\\]") in markdown  # escaped, as shown
    page = cli("fleet", "report", str(out), "--format", "html").stdout
    assert f'<p class="meta runs">{said}</p>' in page
    doc = json.loads(cli("fleet", "report", str(out), "--format", "json").stdout)
    follows_the_fleet_schema(doc)
    base = [sys.executable, "-m", "gpudoctor"]
    assert doc["runs"] == [
        {
            "created_at": "2026-12-01T02:00:00Z",
            "gpudoctor_version": ANY,
            "command": [*base, "check", "--format", "json"],
            "verify_command": None,
            "hostlist": "n[1-2,4]",
            "nodes": ["n1", "n2", "n4"],
            "path": str(out / "fleet-run.json"),
        },
        {
            "created_at": "2026-12-07T09:30:00Z",
            "gpudoctor_version": ANY,
            "command": [*base, "check", "--format", "json"],
            "verify_command": [*base, "verify", "--quick", "--format", "json"],
            "hostlist": "n3",
            "nodes": ["n3"],
            "path": str(out / "fleet-run.json"),
        },
    ]


def test_fleet_run_force_over_a_manifest_it_cannot_read_says_so_and_runs(cli: Cli, tmp_path, fake):
    fake({"n1": {"srun": "report", "report": str(H100)}})
    out = tmp_path / "run"
    out.mkdir()
    (out / "fleet-run.json").write_text('{"tool": "gpudoctor fleet run", "not_reached": 3}')
    result = cli("fleet", "run", "-d", str(out), "--force", "--format", "json")
    assert result.exit_code == 0, result
    assert result.stderr.splitlines()[0] == (
        f"fleet: warning: {out / 'fleet-run.json'}: malformed manifest (expected a list, not "
        "int): the earlier run's manifest is replaced, and what it said of the nodes not "
        "checked now is not kept"
    ), result.stderr
    assert json.loads((out / "fleet-run.json").read_text())["not_reached"] == []


def test_runs_whose_node_names_hostlist_cannot_hold_are_still_named(cli: Cli, tmp_path):
    # a hand-edited manifest's n[1 made python-hostlist raise: listed as it is, after the rest
    folder = fleet_dir(tmp_path, {"n1": H100, "n2": H100})
    run = {"gpudoctor_version": "0.1.0", "command": ["check"]}  # no verify_command: older
    manifest = {
        "schema_version": 2,
        "tool": "gpudoctor fleet run",
        "gpudoctor_version": "0.1.0",
        "created_at": "2026-12-02T00:00:00Z",
        "runs": [
            {**run, "created_at": "2026-12-01T00:00:00Z", "nodes": ["n1", "n[1"]},
            {**run, "created_at": "2026-12-02T00:00:00Z", "nodes": ["n2"]},
        ],
    }
    (folder / "fleet-run.json").write_text(json.dumps(manifest))
    result = cli("fleet", "report", str(folder))
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[1] == (
        "Checked by 2 fleet runs: 2026-12-01 00:00 UTC (n1,n[1); 2026-12-02 00:00 UTC (n2)"
    )


# --- GRES against the GPUs a node's own check found ---------------------------------------------


def no_gpu_node(folder: Path) -> Path:
    """The no-driver report with nothing NVIDIA left on its PCI bus (GPUs fallen off the bus)."""
    doc = json.loads((REPORTS / "failure__no_driver.json").read_text())
    doc["driver"]["pci_functions"] = []
    path = folder / "no-gpu.json"
    path.write_text(json.dumps(doc))
    return path


def test_fleet_run_calls_a_node_without_the_gpus_its_gres_promises_an_error(
    cli: Cli, tmp_path, fake
):
    # gpu:h100:8 on n2, whose check finds no NVIDIA GPU at all: every --gres=gpu job sent there
    # fails. It read "1 with a warning" (GD-DRV-001) and fleet run exited 0.
    fake(
        {
            "n1": {"gres": "gpu:h100:8(S:0-1)", "report": str(h100_node(tmp_path, 8))},
            "n2": {"gres": "gpu:h100:8(S:0-1)", "report": str(no_gpu_node(tmp_path))},
            "n3": {"gres": "gpu:h100:8", "report": str(h100_node(tmp_path, 6))},
        }
    )
    out = tmp_path / "run"
    result = cli("fleet", "run", "-p", "gpu", "-d", str(out), "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    follows_the_fleet_schema(doc)
    verdicts = {n["node"]: n["verdict"] for n in doc["nodes"]}
    assert (verdicts["n2"], verdicts["n3"]) == ("error", "error")
    assert doc["findings"]["GD-GPU-068"] == ["n2", "n3"]  # n1 has its 8
    info = doc["finding_info"]["GD-GPU-068"]
    assert info["severity"] == "error"
    assert info["name"] == "Fewer GPUs than SLURM gives out on this node"
    titles = {p["hostlist"]: p["titles"] for p in info["places"]}
    assert titles == {
        "n2": ["SLURM gives out gpu:h100:8 here; the node has no GPU"],
        "n3": ["SLURM gives out gpu:h100:8 here; the node has only 6 GPUs"],
    }
    evidence = {p["hostlist"]: p["evidence"] for p in info["places"]}
    assert evidence["n2"][:2] == [
        "SLURM's GRES (sinfo, as fleet run selected the node): gpu:h100:8",
        "PCI bus: no NVIDIA GPU; nvidia kernel module: not loaded",
    ]
    assert "nvidia-smi -L" in evidence["n2"][-1] and "lspci -nn" in evidence["n2"][-1]
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert manifest["gres"] == {
        "n1": ["gpu:h100:8(S:0-1)"],
        "n2": ["gpu:h100:8(S:0-1)"],
        "n3": ["gpu:h100:8"],
    }
    # fleet report over the folder says the same, in every format
    again = cli("fleet", "report", str(out))
    assert again.exit_code == 1
    assert "n2: SLURM gives out gpu:h100:8 here; the node has no GPU" in again.stdout
    prom = cli("fleet", "report", str(out), "--format", "prometheus").stdout
    assert 'gpudoctor_fleet_node_finding{node="n2",id="GD-GPU-068",severity="error"} 1' in prom


def test_fleet_run_calls_a_node_whose_nvml_lists_fewer_gpus_than_its_gres_an_error(
    cli: Cli, tmp_path, fake
):
    # 8 GPUs on n1's PCI bus and bound to nvidia, NVML lists 7: a --gres=gpu:8 job fails there.
    # The fleet compared the GRES with the bus alone: "1 with a warning", exit 0
    fake({"n1": {"gres": "gpu:h100:8", "report": str(h100_node(tmp_path, 7, on_bus=8))}})
    result = cli("fleet", "run", "-p", "gpu", "-d", str(tmp_path / "run"))
    assert result.exit_code == 1, result
    assert (
        "n1: SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8: "
        "GPU 0000:17:00.0 lost" in result.stdout
    )
    assert "1 node(s): 0 fine, 1 with an error." in result.stdout


def test_more_gpus_than_the_gres_promises_is_a_fleet_warning(cli: Cli, tmp_path, fake):
    fake({"n1": {"gres": "gpu:h100:4,nic:2", "report": str(h100_node(tmp_path, 8))}})
    result = cli("fleet", "run", "-p", "gpu", "-d", str(tmp_path / "run"), "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert doc["nodes"][0]["verdict"] == "warning"
    (place,) = doc["finding_info"]["GD-GPU-068"]["places"]
    assert place["severity"] == "warning"
    assert place["titles"] == ["The node has 8 GPUs; SLURM gives out only gpu:h100:4"]


def test_fleet_run_force_on_a_subset_keeps_the_other_nodes_gres(cli: Cli, tmp_path, fake):
    # n2 lost two GPUs; the admin sets its Gres to gpu:h100:6 and checks n2 alone again
    cluster = fake(
        {
            "n1": {"gres": "gpu:h100:8", "report": str(h100_node(tmp_path, 8))},
            "n2": {"gres": "gpu:h100:8", "report": str(h100_node(tmp_path, 6))},
        }
    )
    out = tmp_path / "run"
    first = cli("fleet", "run", "-d", str(out), "--format", "json")
    assert json.loads(first.stdout)["findings"]["GD-GPU-068"] == ["n2"]
    state = cluster.load()
    state["nodes"]["n2"]["gres"] = "gpu:h100:6"
    cluster.save(state)
    again = cli("fleet", "run", "-d", str(out), "-w", "n2", "--force", "--format", "json")
    assert "GD-GPU-068" not in json.loads(again.stdout)["findings"]
    manifest = json.loads((out / "fleet-run.json").read_text())
    assert manifest["gres"] == {"n1": ["gpu:h100:8"], "n2": ["gpu:h100:6"]}


def test_a_fleet_of_every_recorded_report_follows_the_fleet_schema(cli: Cli, tmp_path):
    # the recorded machines as nodes, with a verify result and fleet pairs' measured pairs
    folder = tmp_path / "fleet"
    (folder / "pairs").mkdir(parents=True)
    for report in sorted(REPORTS.glob("*.json")):
        (folder / report.name).write_text(report.read_text())
    (folder / "pairs" / "pairs.json").write_text(
        (DATA / "fleet" / "pairs-emulated-3-nodes.json").read_text()
    )
    (folder / "h200.verify.json").write_text((DATA / "fleet" / "h200-verify-fp32.json").read_text())
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 1, result  # some recorded machines are broken
    doc = json.loads(result.stdout)
    follows_the_fleet_schema(doc)
    assert doc["pairs"] is not None and doc["verify"] and doc["drift"] and doc["finding_info"]


def test_a_node_missing_a_gpu_from_nvml_is_an_error_of_the_fleet_and_its_replay(cli: Cli, tmp_path):
    # GD-GPU-070 (the recorded report: 8 GPUs bound to nvidia, NVML lists 7) is a GPU error
    # like the others: check --from-report replays it, the fleet report lists its node
    missing = REPORTS / "failure__gpu_missing_from_nvml.json"
    replay = cli("check", "--from-report", str(missing), "--format", "json")
    assert replay.exit_code == 1, replay
    found = {f["id"]: f for f in json.loads(replay.stdout)["findings"]}
    assert found["GD-GPU-070"]["severity"] == "error"
    assert "GPU 0000:ba:00.0 missing" in found["GD-GPU-070"]["title"]
    folder = fleet_dir(tmp_path, {"gpu-001": H100, "gpu-002": H100, "gpu-003": missing})
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    follows_the_fleet_schema(doc)
    assert {n["node"]: n["verdict"] for n in doc["nodes"]}["gpu-003"] == "error"
    assert doc["findings"]["GD-GPU-070"] == ["gpu-003"]


@pytest.mark.parametrize(
    ("command", "what"),
    [("run", "the selected nodes' reports"), ("pairs", "the results of the pairs chosen")],
)
def test_force_says_it_replaces_what_is_in_the_output_dir(cli: Cli, command: str, what: str):
    # its help read "Overwrite an existing output file." alone, while --force is also what
    # lets a run replace the reports (pair results) already in --output-dir
    result = cli("fleet", command, "--help")
    assert result.exit_code == 0, result
    said = " ".join(result.stdout.split())  # as wrapped, one line
    assert (
        f"--force Overwrite an existing --output file, and replace {what} already in "
        "--output-dir. --debug"
    ) in said


EMULATED_GIVEN_A_GPU = DATA / "fleet" / "emulated-n1-given-a-gpu.json"
"""check --no-frameworks on node n1 of scripts/slurm-cluster (GPU_NODES=2, no GPU on the
host) in a job given --gres=gpu:1, as fleet run --srun-arg=--gres=gpu:1 saved it (2026-12-08)."""


def test_twenty_nodes_with_one_cause_are_one_entry_and_each_nodes_job_is_in_json(
    cli: Cli, tmp_path
):
    # each node's GD-DRV-001 names its own job and node in its evidence: the fleet report
    # listed 20 places, 20 lines of the same title under 20 single nodes
    folder = tmp_path / "reports"
    folder.mkdir()
    doc = json.loads(EMULATED_GIVEN_A_GPU.read_text())
    for i in range(1, 21):
        doc["site"]["slurm_job"].update(node=f"n{i}", job_id=str(100 + i))
        (folder / f"n{i}.json").write_text(json.dumps(doc))
    text = cli("fleet", "report", str(folder)).stdout
    title = "SLURM gave this job GPUs, but the node shows no NVIDIA GPU"
    assert [line.strip() for line in text.splitlines() if title in line] == [
        f"n[1-20]: {title}",
        # check's drain, one for all 20 nodes
        "fix: `sudo scontrol update nodename='n[1-20]' state=drain reason='gpudoctor:DRV-001 "
        f"{title}'`",
    ]
    result = cli("fleet", "report", str(folder), "--format", "json")
    report = json.loads(result.stdout)
    follows_the_fleet_schema(report)
    (place,) = report["finding_info"]["GD-DRV-001"]["places"]
    assert place["hostlist"] == "n[1-20]" and len(place["nodes"]) == 20
    assert not any("SLURM job" in e for e in place["evidence"])
    assert place["node_evidence"]["n7"] == [
        "SLURM job 107 on node n7: SLURM_GPUS_ON_NODE=1, SLURM_STEP_GPUS=0"
    ]
    assert len(place["node_evidence"]) == 20
    markdown = cli("fleet", "report", str(folder), "--format", "markdown").stdout
    (row,) = [line for line in markdown.splitlines() if title in line]
    assert "n1: SLURM job 101 on node n1" in row and "n4: SLURM job" not in row
    assert "and 17 more node(s) with evidence of their own (--format json has it)" in row


def test_twenty_nodes_with_a_gpu_missing_from_nvml_get_one_drain_for_them_all(cli: Cli, tmp_path):
    # check's fix drains the node (GD-GPU-070) by its own name; the fleet report showed no
    # drain at all, and carried as each node wrote it, it would have been 20 commands
    folder = tmp_path / "reports"
    folder.mkdir()
    doc = json.loads((REPORTS / "failure__gpu_missing_from_nvml.json").read_text())
    doc["site"]["slurm_commands"] = True
    for i in range(1, 21):
        doc["host"]["hostname"] = f"gpu-{i:03d}.lab"
        (folder / f"gpu-{i:03d}.json").write_text(json.dumps(doc))
    drain = (
        "sudo scontrol update nodename='gpu-[001-020]' state=drain reason='gpudoctor:GPU-070 "
        "NVML lists 7 of the 8 GPUs the nvidia driver owns: GPU 0000:ba:00.0 missing'"
    )
    for fmt in ("text", "markdown", "json"):
        out = cli("fleet", "report", str(folder), "--format", fmt).stdout
        assert out.count("scontrol update") == 1 and drain in out, fmt


def test_two_runs_in_one_second_keep_both_runs(cli: Cli, tmp_path, fake, monkeypatch):
    # the default folder was named to the second: a second run in the same second took the
    # first one's folder (refused as 'already holds', or with --force its reports replaced;
    # two runs at once wrote into one folder); now each run makes a folder of its own
    import datetime as dt

    from gpudoctor.cli import options

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Frozen:
            return cls(2026, 12, 8, 5, 0, 0, tzinfo=tz)

    monkeypatch.setattr(options, "datetime", Frozen)
    monkeypatch.chdir(tmp_path)
    fake({"n1": {"srun": "report", "report": str(H100)}})
    for force in ([], ["--force"]):
        result = cli("fleet", "run", "-w", "n1", "--format", "json", *force)
        assert result.exit_code == 0, result
    first = tmp_path / "gpudoctor-fleet-20261208-050000"
    second = tmp_path / "gpudoctor-fleet-20261208-050000-2"
    for folder in (first, second):
        assert sorted(p.name for p in (folder / "check").iterdir()) == ["n1.json"], folder
        assert (folder / "fleet-run.json").is_file()
    assert f"reports go to {second.name}/" in result.stderr


def test_the_default_folder_is_claimed_atomically(tmp_path, monkeypatch):
    import datetime as dt

    from gpudoctor.cli.options import FLEET_DIR_TRIES, fleet_dir
    from gpudoctor.errors import BadInputError

    monkeypatch.chdir(tmp_path)
    now = dt.datetime(2026, 12, 8, 5, 0, 0, tzinfo=dt.timezone.utc)
    made = [fleet_dir(None, now) for _ in range(3)]
    base = "gpudoctor-fleet-20261208-050000"
    assert [p.name for p in made] == [base, f"{base}-2", f"{base}-3"]
    assert all(p.is_dir() for p in made)
    assert fleet_dir(tmp_path / "mine", now) == tmp_path / "mine"  # given: made by the run
    for n in range(4, FLEET_DIR_TRIES + 1):
        (tmp_path / f"{base}-{n}").mkdir()
    with pytest.raises(BadInputError, match=r"exist already; name a folder with -d"):
        fleet_dir(None, now)
