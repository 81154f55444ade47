"""`fleet report` and `fleet run` can be trusted: each node's own words, every verdict counted,
files known by their content, one bad file one line, nothing from a report acting on a terminal.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from tests.cli.test_fleet import H100, SCHEMA, fleet_dir
from tests.conftest import DATA, Cli
from tests.fleet.fake_slurm import FakeSlurm

VERIFY = DATA / "fleet" / "h200-verify-fp32.json"


def changed(tmp_path: Path, name: str, change) -> Path:
    """A copy of the H100 report with ``change(doc)`` applied."""
    doc = json.loads(H100.read_text())
    change(doc)
    path = tmp_path / f"{name}.src.json"
    path.write_text(json.dumps(doc))
    return path


def remap_on(index: int):
    def change(doc):
        gpu = doc["nvml"]["gpus"][0]
        gpu["index"], gpu["remap_pending"] = index, True

    return change


def verify_with(tmp_path: Path, name: str, **changes) -> Path:
    doc = json.loads(VERIFY.read_text())
    doc.update(changes)
    path = tmp_path / f"{name}.verify.src.json"
    path.write_text(json.dumps(doc))
    return path


# --- item 2: each node keeps its own title --------------------------------------------------


def test_a_finding_on_two_nodes_keeps_each_nodes_own_gpu(cli: Cli, tmp_path):
    folder = fleet_dir(
        tmp_path,
        {
            "gpu-001": H100,
            "gpu-010": changed(tmp_path, "a", remap_on(2)),
            "gpu-050": changed(tmp_path, "b", remap_on(5)),
        },
    )
    text = cli("fleet", "report", str(folder)).stdout
    assert "gpu-010: GPU 2 (NVIDIA H100 80GB HBM3) has a memory row remap pending" in text
    assert "gpu-050: GPU 5 (NVIDIA H100 80GB HBM3) has a memory row remap pending" in text
    assert "A memory row remap is pending" in text  # the ID's generic name heads it
    md = cli("fleet", "report", str(folder), "--format", "markdown").stdout
    row2 = next(ln for ln in md.splitlines() if "gpu-010" in ln and "GD-GPU-004" in ln)
    row5 = next(ln for ln in md.splitlines() if "gpu-050" in ln and "GD-GPU-004" in ln)
    assert "GPU 2" in row2 and "GPU 5" not in row2 and "GPU 5" in row5
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    jsonschema.validate(doc, SCHEMA)
    info = doc["finding_info"]["GD-GPU-004"]
    assert info["name"] == "A memory row remap is pending"
    assert {p["hostlist"]: p["titles"] for p in info["places"]} == {
        "gpu-010": ["GPU 2 (NVIDIA H100 80GB HBM3) has a memory row remap pending"],
        "gpu-050": ["GPU 5 (NVIDIA H100 80GB HBM3) has a memory row remap pending"],
    }
    assert all("remap pending: yes" in p["evidence"] for p in info["places"])


def test_nodes_worded_alike_are_one_place(cli: Cli, tmp_path):
    same = changed(tmp_path, "a", remap_on(2))
    folder = fleet_dir(tmp_path, {"gpu-001": same, "gpu-002": same})
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    (place,) = doc["finding_info"]["GD-GPU-004"]["places"]
    assert place["hostlist"] == "gpu-[001-002]" and place["nodes"] == ["gpu-001", "gpu-002"]


# --- item 3: verify's verdict counts ----------------------------------------------------------


def test_a_failed_verify_fails_the_node_the_summary_and_the_exit_status(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"n1": H100})
    shutil.copy(verify_with(tmp_path, "n1", verdict="fail"), folder / "n1.verify.json")
    result = cli("fleet", "report", str(folder))
    assert result.exit_code == 1, result
    assert "fine." not in result.stdout.splitlines()[-1]
    assert "1 node(s): 0 fine, 1 with an error (1 failed verify)." in result.stdout
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    assert doc["healthy"] is False
    assert doc["nodes"][0]["verdict"] == "error" and doc["nodes"][0]["verify"] == "fail"
    # the file's verdict was set to fail by hand: it holds no reason at that level to show
    assert doc["verify"] == [
        {"node": "n1", "verdict": "fail", "path": str(folder / "n1.verify.json"), "reason": ""}
    ]


def test_fleet_run_verify_fail_is_a_problem(cli: Cli, tmp_path, monkeypatch):
    failing = verify_with(tmp_path, "n1", verdict="fail")
    cluster = FakeSlurm(
        tmp_path / "slurm", {"n1": {"srun": "report", "report": str(H100), "verify": str(failing)}}
    )
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "run"
    result = cli("fleet", "run", "-d", str(out), "--verify")
    assert result.exit_code == 1, result
    assert "All 1 node(s) fine." not in result.stdout
    assert (out / "verify" / "n1.json").exists() and (out / "check" / "n1.json").exists()


def test_a_verify_result_alone_still_counts(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"n1": H100})
    shutil.copy(verify_with(tmp_path, "n2", verdict="fail"), folder / "n2.verify.json")
    result = cli("fleet", "report", str(folder))
    assert result.exit_code == 1, result
    assert result.stdout.splitlines()[-1] == "2 node(s): 1 fine, 1 with an error (1 failed verify)."


# --- item 4: the summary counts every verdict -------------------------------------------------


def test_the_summary_counts_warnings_and_drift_and_info_reads_ok(cli: Cli, tmp_path):
    def old_driver(doc):
        doc["nvml"]["driver_version"] = "570.124.06"

    nodes = {f"gpu-{i:03d}": H100 for i in range(1, 5)}
    nodes["gpu-005"] = changed(tmp_path, "a", remap_on(0))
    nodes["gpu-006"] = changed(tmp_path, "b", old_driver)
    folder = fleet_dir(tmp_path, nodes)
    result = cli("fleet", "report", str(folder))
    last = result.stdout.splitlines()[-1]
    assert not last.startswith("All"), last
    assert last.startswith("6 node(s): 4 fine, 1 with a warning, 1 drifting;"), last
    assert "drifting fact(s)" in last
    assert "gpu-[001-004] (4)" in result.stdout
    assert "gpu-006 (1)  [drift]" in result.stdout
    doc = json.loads(cli("fleet", "report", str(folder), "--format", "json").stdout)
    verdicts = {n["node"]: n["verdict"] for n in doc["nodes"]}
    assert verdicts["gpu-001"] == "ok"  # TensorFlow absent is information, not a verdict
    assert verdicts["gpu-005"] == "warning"
    assert {n["node"] for n in doc["nodes"] if n["drift"]} == {"gpu-006"}
    md = cli("fleet", "report", str(folder), "--format", "markdown").stdout
    assert any("gpu-006" in ln and "drift" in ln for ln in md.splitlines() if ln.startswith("|"))


# --- item 6: files known by their content ---------------------------------------------------


def test_flat_names_that_look_like_run_files_are_nodes_by_content(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"fleet-run": H100, "n2": H100, "n2.verify": H100})
    (folder / "expected.json").write_text('{"gpu-001": "ok"}')
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 0, result
    doc = json.loads(result.stdout)
    assert sorted(n["node"] for n in doc["nodes"]) == ["fleet-run", "n2", "n2.verify"]
    assert doc["unreadable"] == []
    assert doc["skipped"] == [
        {
            "path": str(folder / "expected.json"),
            "why": "not a gpudoctor check report, verify result or fleet run manifest",
        }
    ]
    text = cli("fleet", "report", str(folder)).stdout
    assert "Skipped (not node reports)" in text and "All 3 node(s) fine." in text


def test_fleet_run_keeps_a_node_called_fleet_run(cli: Cli, tmp_path, monkeypatch):
    names = ("fleet-run", "n2", "n2.verify")
    cluster = FakeSlurm(
        tmp_path / "slurm",
        {n: {"srun": "report", "report": str(H100), "verify": str(VERIFY)} for n in names},
    )
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "run"
    result = cli("fleet", "run", "-d", str(out), "--verify", "--format", "json")
    doc = json.loads(result.stdout)
    assert sorted(n["node"] for n in doc["nodes"]) == sorted(names), result
    assert doc["unreadable"] == [] and result.exit_code == 0, result
    assert sorted(p.name for p in out.iterdir()) == ["check", "fleet-run.json", "verify"]
    assert sorted(p.name for p in (out / "check").iterdir()) == [f"{n}.json" for n in names]
    again = json.loads(cli("fleet", "report", str(out), "--format", "json").stdout)
    assert again["nodes"] == doc["nodes"] and again["verify"] == doc["verify"]
    refused = cli("fleet", "run", "-d", str(out))
    assert refused.exit_code == 2 and "check/fleet-run.json" in refused.stderr, refused


# --- items 7 and 8: one bad entry is one line; a folder twice is read once ------------------


def test_names_hostlists_cannot_hold_are_one_unreadable_line_each(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"n1": H100, "gpu[1]": H100, "a,b": H100})
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    assert [n["node"] for n in doc["nodes"]] == ["n1"]
    assert {u["node"] for u in doc["unreadable"]} == {"gpu[1]", "a,b"}
    assert "hostlist notation cannot hold" in doc["unreadable"][0]["error"]


def test_a_folder_named_like_the_manifest_is_one_unreadable_line(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"n1": H100})
    (folder / "fleet-run.json").mkdir()
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    assert [n["node"] for n in doc["nodes"]] == ["n1"]
    assert "is a directory" in doc["unreadable"][0]["error"]


def test_a_huge_manifest_is_one_unreadable_line(cli: Cli, tmp_path, monkeypatch):
    from gpudoctor.model import serialize

    monkeypatch.setattr(serialize, "MAX_REPORT_BYTES", 1024 * 1024)
    folder = fleet_dir(tmp_path, {"n1": H100})
    with (folder / "fleet-run.json").open("wb") as fh:
        fh.truncate(2 * 1024 * 1024)
    result = cli("fleet", "report", str(folder), "--format", "json")
    assert result.exit_code == 1, result
    doc = json.loads(result.stdout)
    assert [n["node"] for n in doc["nodes"]] == ["n1"]
    assert doc["unreadable"][0]["error"].endswith("the most a report may be")


def test_the_same_folder_twice_is_read_once(cli: Cli, tmp_path):
    folder = fleet_dir(tmp_path, {"n1": H100, "n2": H100})
    result = cli("fleet", "report", str(folder), str(folder), str(folder / "n1.json"))
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1] == "All 2 node(s) fine."


# --- item 9: strings from verify results are inert ------------------------------------------


FORGED = "resnet50\x1b]0;owned\x07\r\nAll 9 node(s) fine.\n"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_outlier_strings_from_verify_results_are_inert(cli: Cli, tmp_path, fmt):
    real = json.loads(VERIFY.read_text())
    folder = fleet_dir(tmp_path, {f"h{i}": H100 for i in range(1, 7)})
    for i in range(1, 7):
        doc = json.loads(json.dumps(real))
        for run in doc["runs"]:
            if run["model"] == "resnet50" and run["device"] == "cuda:0":
                run["model"] = FORGED
                run["framework"] = run["precision"] = "x\x1b[2J"
                run["device"] = "cuda:0\r"
                if i == 4:
                    run["images_per_second"] *= 0.6
        (folder / f"h{i}.verify.json").write_text(json.dumps(doc))
    out = cli("fleet", "report", str(folder), "--format", fmt).stdout
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert not any(ln.strip().startswith("All 9") for ln in out.splitlines())
    assert "All 9 node(s) fine." in out  # shown, escaped, inside the outlier's line


def test_fleet_run_refuses_a_folder_whose_check_is_a_file(cli: Cli, tmp_path, monkeypatch):
    cluster = FakeSlurm(tmp_path / "slurm", {"n1": {"srun": "report", "report": str(H100)}})
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "run"
    out.mkdir()
    (out / "check").write_text("mine")
    result = cli("fleet", "run", "-d", str(out))
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result
    assert len(result.stderr.strip().splitlines()) == 1
    assert cluster.calls() == []  # refused before any srun
