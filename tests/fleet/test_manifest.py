"""fleet run's folder: node files in check/ and verify/, and the manifest written and read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpudoctor.errors import ReportFormatError
from gpudoctor.fleet.manifest import (
    CHECK_DIR,
    MANIFEST,
    VERIFY_DIR,
    Manifest,
    Run,
    from_document,
    node_file,
    to_document,
)
from gpudoctor.model.fleet import NotReached, Unreadable


def test_node_files_never_clash_with_the_manifest_or_each_other(tmp_path: Path):
    files = {
        node_file(tmp_path, CHECK_DIR, "fleet-run"),
        node_file(tmp_path, CHECK_DIR, "n2"),
        node_file(tmp_path, CHECK_DIR, "n2.verify"),
        node_file(tmp_path, VERIFY_DIR, "n2"),
        tmp_path / MANIFEST,
    }
    assert len(files) == 5
    assert node_file(tmp_path, CHECK_DIR, "fleet-run") == tmp_path / "check" / "fleet-run.json"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x"])
def test_names_that_are_no_file_name_are_refused(tmp_path: Path, name: str):
    with pytest.raises(ValueError, match="is not a file name"):
        node_file(tmp_path, CHECK_DIR, name)


def test_the_manifest_reads_back_as_written():
    manifest = Manifest(
        gpudoctor_version="0.1.0",
        created_at="2026-12-04T00:00:00Z",
        command=("python", "-m", "gpudoctor", "check"),
        partitions={"n1": ("gpu", "debug")},
        gres={"n1": ("gpu:h100:8(S:0-1)", "nic:2"), "n2": ()},
        not_reached=(NotReached(node="n3", state="drained", reason="psu"),),
        unreadable=(Unreadable(node="n2", path="check/n2.json", error="not JSON"),),
        runs=(
            Run(gpudoctor_version="0.0.9", created_at="2026-12-01T00:00:00Z", nodes=("n3",)),
            Run(
                gpudoctor_version="0.1.0",
                created_at="2026-12-04T00:00:00Z",
                command=("python", "-m", "gpudoctor", "check"),
                verify_command=("python", "-m", "gpudoctor", "verify", "--quick"),
                nodes=("n1", "n2"),
            ),
        ),
    )
    assert from_document(to_document(manifest), "fleet-run.json") == manifest
    # a run that did not verify says so (null), rather than leaving it out
    assert [r["verify_command"] for r in to_document(manifest)["runs"]] == [
        None,
        ["python", "-m", "gpudoctor", "verify", "--quick"],
    ]


def test_a_run_written_before_verify_command_reads_as_none():
    # version 2 manifests written before runs[] gained verify_command (2026-12-07)
    doc = {
        "schema_version": 2,
        "tool": "gpudoctor fleet run",
        "gpudoctor_version": "0.1.0",
        "created_at": "2026-12-04T00:00:00Z",
        "runs": [{"gpudoctor_version": "0.1.0", "created_at": "x", "command": [], "nodes": ["n1"]}],
    }
    (run,) = from_document(doc, "fleet-run.json").runs
    assert run.verify_command is None and run.nodes == ("n1",)
    # nor gres (2026-12-07): no node's GRES is known, so none is compared
    assert from_document(doc, "fleet-run.json").gres == {}


def test_a_manifest_without_runs_is_one_run_over_every_node_it_names():
    # written before 2026-12-07 (schema_version 1): its command and time were its only word
    doc = {
        "schema_version": 1,
        "tool": "gpudoctor fleet run",
        "gpudoctor_version": "0.1.0",
        "created_at": "2026-12-04T00:00:00Z",
        "command": ["g", "check"],
        "partitions": {"n1": ["gpu"], "n3": ["gpu"]},
        "not_reached": [
            {"node": "n3", "state": "drained", "reason": "psu"},
            {"node": "n9", "state": "unknown", "reason": "SLURM does not know this node"},
        ],
        "unreadable": [{"node": "n2", "path": "fleet-run.json", "error": "not JSON"}],
    }
    assert from_document(doc, "fleet-run.json").runs == (
        Run(
            gpudoctor_version="0.1.0",
            created_at="2026-12-04T00:00:00Z",
            command=("g", "check"),
            nodes=("n1", "n3", "n9", "n2"),
        ),
    )


@pytest.mark.parametrize(
    "doc",
    [
        {"tool": "gpudoctor check"},
        {"tool": "gpudoctor fleet run", "not_reached": [{"node": 1}]},
        {"tool": "gpudoctor fleet run", "runs": [{"created_at": "x"}]},
        {"tool": "gpudoctor fleet run", "runs": ["n1"]},
        {"tool": "gpudoctor fleet run", "runs": {"n1": 1}},
        {"tool": "gpudoctor fleet run", "gres": {"n1": "gpu:8"}},
        {"tool": "gpudoctor fleet run", "gres": ["n1"]},
        {
            "tool": "gpudoctor fleet run",
            "runs": [{"created_at": "x", "nodes": [], "verify_command": "v"}],
        },
    ],
)
def test_a_malformed_manifest_is_one_error(doc):
    with pytest.raises(ReportFormatError):
        from_document(doc, "fleet-run.json")


def test_a_kept_output_is_named_relative_to_the_folder_and_known_as_such() -> None:
    from gpudoctor.fleet.manifest import kept_output, unusable_name

    assert unusable_name("check", "n1") == "check/n1.unusable.txt"
    assert unusable_name("verify", "gpu-01.x") == "verify/gpu-01.x.unusable.txt"
    assert kept_output("check/n1.unusable.txt") and kept_output("verify/n2.unusable.txt")
    for other in (
        "fleet-run.json",
        "/run/fleet-run.json",
        "/run/check/n1.unusable.txt",
        "check/n1.json",
        "check/../../etc/x.unusable.txt",
        "other/n1.unusable.txt",
    ):
        assert not kept_output(other), other
