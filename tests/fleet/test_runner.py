"""fleet run's orchestration, without SLURM: the job, the files saved, progress, the manifest."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.fleet import runner
from gpudoctor.fleet.manifest import from_document
from gpudoctor.fleet.run import NodeJob, NodeOutcome
from gpudoctor.fleet.slurm import SlurmNode
from gpudoctor.model.fleet import NotReached, Unreadable
from tests.cli.test_machine_output import unsorted_objects

NODES = (
    SlurmNode(name="n1", state="idle", partitions=("gpu",)),
    SlurmNode(name="n2", state="idle", partitions=("gpu",)),
    SlurmNode(name="n3", state="drained", reason="PSU", partitions=("gpu",)),
)
OUTCOMES = (
    NodeOutcome(node="n1", check_json='{"a": 1}', verify_json='{"v": 1}', duration_s=1.0),
    NodeOutcome(node="n2", errors=(("n2.verify.json", "no time left for verify"),)),
    NodeOutcome(node="n3", not_reached=("drained", "PSU")),
)


def test_the_job_splits_its_arguments_and_names_a_bad_quote() -> None:
    job = runner.node_job(
        ["py", "-m", "gpudoctor"],
        check_args="--no-frameworks --timeout 5",
        verify_args="--models 'lenet5'",
        node_timeout_s=60,
        immediate_s=3,
        srun_args=("--account=lab",),
    )
    base = ("py", "-m", "gpudoctor")
    assert job.check == (*base, "check", "--format", "json", "--no-frameworks", "--timeout", "5")
    assert job.verify is not None and job.verify[-2:] == ("--models", "lenet5")
    assert job.verify_timeout_s == 600.0 and job.immediate_s == 3
    no_verify = runner.node_job(
        ["g"], check_args="", verify_args=None, node_timeout_s=900, immediate_s=1, srun_args=()
    )
    assert no_verify.verify is None and no_verify.verify_timeout_s == 900
    with pytest.raises(BadInputError, match="--check-args"):
        runner.node_job(
            ["g"],
            check_args="'open",
            verify_args=None,
            node_timeout_s=1,
            immediate_s=1,
            srun_args=(),
        )


def _run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, interrupt: bool = False) -> Any:
    def fake_gather(nodes: Any, job: Any, *, on_done: Any, **_: Any) -> None:
        for outcome in OUTCOMES:
            on_done(outcome)
        if interrupt:
            raise KeyboardInterrupt

    monkeypatch.setattr(runner, "gather", fake_gather)
    saved: dict[Path, str] = {}
    heard: list[tuple[str, int, int, tuple[Unreadable, ...]]] = []
    selection = runner.Selection(
        nodes=NODES, unknown=(NotReached(node="n9", state="unknown", reason="not in SLURM"),)
    )
    result = runner.run_fleet(
        selection,
        NodeJob(check=("g", "check")),
        tmp_path,
        time_limit_s=10,
        concurrency=2,
        save=saved.__setitem__,
        progress=lambda o, done, total, problems: heard.append((o.node, done, total, problems)),
        gpudoctor_version="9.9",
        created_at=lambda: "2025-01-01T00:00:00Z",
    )
    return result, saved, heard


def test_reports_are_saved_as_they_come_and_the_manifest_last(monkeypatch, tmp_path) -> None:
    result, saved, heard = _run(monkeypatch, tmp_path)
    assert list(saved) == [
        tmp_path / "check" / "n1.json",
        tmp_path / "verify" / "n1.json",
        tmp_path / "fleet-run.json",
    ]
    # each node's unusable output is heard of with the file that holds it, as the result says
    problem = Unreadable(
        node="n2", path=str(tmp_path / "fleet-run.json"), error="no time left for verify"
    )
    assert heard == [("n1", 1, 3, ()), ("n2", 2, 3, (problem,)), ("n3", 3, 3, ())]
    assert result.interrupted == 0
    assert [r.node for r in result.not_reached] == ["n9", "n3"]
    # the line named verify/n2.json, a file that was never written: the manifest holds it
    assert [(u.node, u.path) for u in result.unreadable] == [
        ("n2", str(tmp_path / "fleet-run.json"))
    ]
    assert all(Path(u.path) in saved for u in result.unreadable)
    manifest = from_document(json.loads(saved[tmp_path / "fleet-run.json"]), "manifest")
    assert manifest.command == ("g", "check") and manifest.gpudoctor_version == "9.9"
    assert unsorted_objects(saved[tmp_path / "fleet-run.json"]) == []
    assert manifest.not_reached == result.not_reached
    assert manifest.partitions == {"n1": ("gpu",), "n2": ("gpu",), "n3": ("gpu",)}


def test_an_interrupted_run_still_writes_its_manifest(monkeypatch, tmp_path) -> None:
    result, saved, _ = _run(monkeypatch, tmp_path, interrupt=True)
    assert result.interrupted == 128 + int(signal.SIGINT)
    assert tmp_path / "fleet-run.json" in saved


def test_a_folder_with_reports_is_refused_before_any_srun(tmp_path) -> None:
    runner.prepare_dir(tmp_path / "o", ["n1"], force=False, with_verify=True)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["check", "verify"]
    (tmp_path / "o" / "check" / "n1.json").write_text("{}")
    with pytest.raises(BadInputError, match=r"already holds check/n1\.json"):
        runner.prepare_dir(tmp_path / "o", ["n1"], force=False)
    runner.prepare_dir(tmp_path / "o", ["n1"], force=True)


def test_an_unusable_output_names_the_manifest_and_says_whether_check_or_verify(
    monkeypatch, tmp_path
) -> None:
    # check/<node>.json or verify/<node>.json was named, and never written; the folder was all
    # that told a check's error from verify's
    failing = (
        NodeOutcome(node="n1", errors=(("n1.json", "the command failed on the node: x"),)),
        NodeOutcome(
            node="n2",
            check_json="{}",
            errors=(("n2.verify.json", "the command failed on the node: y"),),
        ),
    )

    def fake_gather(nodes: Any, job: Any, *, on_done: Any, **_: Any) -> None:
        for outcome in failing:
            on_done(outcome)

    monkeypatch.setattr(runner, "gather", fake_gather)
    saved: dict[Path, str] = {}
    result = runner.run_fleet(
        runner.Selection(nodes=NODES[:2]),
        NodeJob(check=("g", "check")),
        tmp_path,
        time_limit_s=10,
        concurrency=2,
        save=saved.__setitem__,
        progress=lambda o, done, total, problems: None,
        gpudoctor_version="9.9",
        created_at=lambda: "2025-01-01T00:00:00Z",
    )
    manifest = str(tmp_path / "fleet-run.json")
    assert [(u.node, u.path, u.error) for u in result.unreadable] == [
        ("n1", manifest, "the command failed on the node: x"),
        ("n2", manifest, "verify: the command failed on the node: y"),
    ]
    assert sorted(saved) == [tmp_path / "check" / "n2.json", tmp_path / "fleet-run.json"]


def test_a_verify_output_is_kept_under_verify_and_one_that_cannot_be_is_in_the_manifest(
    monkeypatch, tmp_path
) -> None:
    failing = (
        NodeOutcome(
            node="n1",
            check_json="{}",
            errors=(("n1.verify.json", "the node's output is not JSON (x)"),),
            outputs=(("n1.verify.json", "Traceback ...\n"),),
        ),
        NodeOutcome(
            node="n2",
            errors=(("n2.json", "the node's output is not JSON (y)"),),
            outputs=(("n2.json", "cut {"),),
        ),
    )

    def fake_gather(nodes: Any, job: Any, *, on_done: Any, **_: Any) -> None:
        for outcome in failing:
            on_done(outcome)

    def save(path: Path, text: str) -> None:
        if path.name == "n2.unusable.txt":  # a full disk: the run goes on without it
            raise BadInputError(f"{path}: cannot write there (No space left on device)")
        saved[path] = text

    monkeypatch.setattr(runner, "gather", fake_gather)
    saved: dict[Path, str] = {}
    result = runner.run_fleet(
        runner.Selection(nodes=NODES[:2]),
        NodeJob(check=("g", "check")),
        tmp_path,
        time_limit_s=10,
        concurrency=2,
        save=save,
        progress=lambda o, done, total, problems: None,
        gpudoctor_version="9.9",
        created_at=lambda: "2025-01-01T00:00:00Z",
    )
    assert saved[tmp_path / "verify" / "n1.unusable.txt"] == "Traceback ...\n"
    assert [(u.node, u.path, u.error) for u in result.unreadable] == [
        (
            "n1",
            str(tmp_path / "verify" / "n1.unusable.txt"),
            "verify: the node's output is not JSON (x)",
        ),
        ("n2", str(tmp_path / "fleet-run.json"), "the node's output is not JSON (y)"),
    ]
    # the manifest names the kept file relative to the folder (which may be moved)
    manifest = from_document(json.loads(saved[tmp_path / "fleet-run.json"]), "manifest")
    assert [u.path for u in manifest.unreadable] == ["verify/n1.unusable.txt", "fleet-run.json"]


def test_an_earlier_manifest_gives_the_nodes_this_run_does_not_cover(monkeypatch, tmp_path):
    from gpudoctor.fleet.manifest import Manifest

    def fake_gather(nodes: Any, job: Any, *, on_done: Any, **_: Any) -> None:
        for outcome in OUTCOMES:
            on_done(outcome)

    monkeypatch.setattr(runner, "gather", fake_gather)
    earlier = Manifest(
        gpudoctor_version="9.8",
        created_at="2024-12-31T00:00:00Z",
        partitions={"n3": ("old",), "n7": ("debug",)},
        not_reached=(
            NotReached(node="n3", state="down", reason="then"),  # covered now: replaced
            NotReached(node="n9", state="unknown", reason="then"),  # named again: replaced
            NotReached(node="n7", state="drained", reason="PSU"),  # not covered: kept
        ),
        unreadable=(
            Unreadable(node="n1", path="check/n1.unusable.txt", error="old"),  # replaced
            Unreadable(node="n8", path="check/n8.unusable.txt", error="cut {"),  # kept
        ),
    )
    saved: dict[Path, str] = {}
    result = runner.run_fleet(
        runner.Selection(
            nodes=NODES, unknown=(NotReached(node="n9", state="unknown", reason="not in SLURM"),)
        ),
        NodeJob(check=("g", "check")),
        tmp_path,
        time_limit_s=10,
        concurrency=2,
        save=saved.__setitem__,
        progress=lambda o, done, total, problems: None,
        gpudoctor_version="9.9",
        created_at=lambda: "2025-01-01T00:00:00Z",
        earlier=earlier,
    )
    manifest = from_document(json.loads(saved[tmp_path / "fleet-run.json"]), "manifest")
    assert [(r.node, r.reason) for r in manifest.not_reached] == [
        ("n7", "PSU"),
        ("n9", "not in SLURM"),
        ("n3", "PSU"),
    ]
    assert [(u.node, u.path) for u in manifest.unreadable] == [
        ("n8", "check/n8.unusable.txt"),
        ("n2", "fleet-run.json"),
    ]
    assert manifest.partitions == {"n7": ("debug",), "n1": ("gpu",), "n2": ("gpu",), "n3": ("gpu",)}
    assert manifest.gpudoctor_version == "9.9"
    assert result.not_reached == manifest.not_reached
    assert [u.path for u in result.unreadable] == [
        str(tmp_path / "check" / "n8.unusable.txt"),
        str(tmp_path / "fleet-run.json"),
    ]
