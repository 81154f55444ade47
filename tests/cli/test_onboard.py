"""`gpudoctor onboard`: the dry run (golden), the refusals, a failing and an interrupted step,
and real uv creating the environment offline from stand-in wheels, verify run inside it."""

from __future__ import annotations

import io
import json
import os
import re
import runpy
import signal
import subprocess
import sys
import time
from datetime import datetime
from html import escape as html_escape
from pathlib import Path

import jsonschema
import pytest

from gpudoctor import __version__
from gpudoctor.cli import onboard as onboard_cli
from tests.cli.test_machine_output import unsorted_objects
from tests.conftest import DATA, Cli
from tests.onboard.standins import (
    LOGIN,
    WORKSTATION,
    fake_tool,
    report_variant,
    standin_indexes,
    uv_offline_env,
)

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = DATA / "onboard"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
UV = Path(sys.executable).with_name("uv")
ONBOARD_STRICT = runpy.run_path(str(ROOT / "scripts" / "write-schemas"))["onboard_schema"](
    strict=True
)
ONBOARD_PUBLISHED = json.loads((ROOT / "docs" / "onboard-schema.json").read_text())


def env_for(tmp: Path, **extra: str | None) -> dict[str, str | None]:
    """The fake tools first on PATH, a stand-in srun among them (a plan for a partition is
    refused where none is on PATH; no test here runs it); the children import this checkout's
    gpudoctor."""
    if not (tmp / "bin" / "srun").exists():
        fake_tool(tmp / "bin", "srun", "exit 99")
    return {
        "PATH": f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


REAL_DEFAULT_SPEC = onboard_cli.default_spec  # before the fixture below replaces it


@pytest.fixture(autouse=True)
def released_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in indexes hold a gpudoctor wheel of this version: install that, not the
    checkout the test suite runs from (its build needs an index)."""
    monkeypatch.setattr(onboard_cli, "default_spec", lambda: f"gpudoctor=={__version__}")


def normalised(text: str, tmp: Path) -> str:
    text = text.replace(f"gpudoctor=={__version__}", "gpudoctor==VERSION")
    return text.replace(sys.executable, "PYTHON").replace(str(tmp), "TMP")


@pytest.mark.parametrize(
    ("name", "report", "args"),
    [
        ("workstation", WORKSTATION, ()),
        ("login_node", LOGIN, ("--partition", "gpu", "--driver", "580.95.05", "--cc", "9.0")),
    ],
)
def test_dry_run_prints_every_step_and_makes_nothing(
    cli: Cli, tmp_path: Path, name: str, report: Path, args: tuple[str, ...]
) -> None:
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    result = cli(
        "onboard", "--dry-run", "--from-report", str(report), "--prefix", str(tmp_path / "env"),
        "--report-dir", str(tmp_path), *args, env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result
    golden = EXPECTED / f"dry_run_{name}.txt"
    got = normalised(result.stdout, tmp_path).replace(str(report), "REPORT")
    if os.environ.get("GPUDOCTOR_REGEN"):
        golden.write_text(got)
    assert got == golden.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]  # nothing made
    # every line after a prompt is a command a shell runs: what gpudoctor writes itself read
    # "$ (gpudoctor writes ...)", a subshell asking for a gpudoctor command "writes"
    commands = [line.strip()[2:] for line in got.splitlines() if line.strip().startswith("$ ")]
    assert commands and not any(c.startswith("(") for c in commands)


def test_without_a_terminal_and_without_yes_it_refuses(cli: Cli, tmp_path: Path) -> None:
    result = cli("onboard", "--from-report", str(WORKSTATION), "--prefix", str(tmp_path / "e"))
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "e").exists()


def test_several_gpu_partitions_are_named(cli: Cli, tmp_path: Path) -> None:
    result = cli("onboard", "--dry-run", "--from-report", str(LOGIN), "--prefix", str(tmp_path))
    assert result.exit_code == 2
    assert "(gpu, debug): choose one with --partition" in result.stderr


def test_a_non_empty_prefix_needs_force(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep")
    args = ("onboard", "--dry-run", "--from-report", str(WORKSTATION), "--prefix", str(tmp_path))
    result = cli(*args)
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert cli(*args, "--force", "--report-dir", str(tmp_path)).exit_code == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--driver", "abc", "--cc", "9.0"), "--driver abc: not a driver version"),
        (("--driver", "580.95.05"), "--driver needs --cc"),
        (("--driver", "580.95.05", "--cc", "99"), "--cc 99: no GPU the knowledge base knows"),
        (("--python", "2.7"), "--python 2.7: PyTorch and TensorFlow need Python 3"),
        (("--python", "abc"), "Python version 'abc' is not like 3.12"),
        (("--torch", "9.9"), "PyTorch 9.9 is not in the knowledge base"),
        (("--torch", "2.9.7"), "no such PyTorch release"),
        (("--torch-index-url", "mirror"), "--torch-index-url mirror: give an https://"),
        (("--partition", "-1"), "--partition '-1': a partition name has letters"),
        (("-p", "gpu;reboot"), "--partition 'gpu;reboot': a partition name has letters"),
        # make-env's words named options onboard does not have (--source, --cpu): each now
        # names onboard's own, or the make-env command that has the option
        (
            ("--framework", "tensorflow", "--torch-index-url", "https://mirror.example/whl"),
            "--torch-index-url replaces the PyTorch wheel index: it needs --framework torch "
            "or both",
        ),
        (
            ("--torch", "2.9.1+cpu"),
            "--torch 2.9.1+cpu: +cpu names the CPU build, which `gpudoctor make-env --cpu` plans "
            "(drop +cpu)",
        ),
        (
            ("--driver", "390.157", "--cc", "2.0"),
            "for a CPU-only environment use `gpudoctor make-env --cpu` without --driver/--cc",
        ),
    ],
)
def test_make_env_options_are_refused_before_check_runs(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    # step 2 (make-env) would refuse them only after check (seconds), and --dry-run printed a
    # plan with exit 0 that could never run; with --yes the refusal came back as exit 1
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    result = cli(
        "onboard", "--yes", "--prefix", str(tmp_path / "env"), "--report-dir", str(tmp_path),
        "--tool", "uv", *args, env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2, result
    assert said in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not re.search(r"(?<!make-env )--(source|cpu)\b", result.stderr), result.stderr
    assert "onboard: [1/" not in result.stderr  # check did not start
    assert not (tmp_path / "env").exists()


def test_existing_summaries_need_force(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "gpudoctor-onboard.md").write_text("mine")
    result = cli(
        "onboard", "--dry-run", "--from-report", str(WORKSTATION),
        "--prefix", str(tmp_path / "env"), "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2 and "use --force" in result.stderr


FAILING_UV = """case "$1" in
sync) mkdir -p "$3/.venv/bin" && touch "$3/.venv/bin/python"
      echo "  x No solution found when resolving dependencies" >&2; exit 1 ;;
esac
exit 0"""


def test_a_failing_step_is_named_and_leaves_earlier_files_and_no_env(
    cli: Cli, tmp_path: Path
) -> None:
    fake_tool(tmp_path / "bin", "uv", FAILING_UV)
    prefix = tmp_path / "env"
    result = cli(
        "onboard", "--yes", "--from-report", str(WORKSTATION), "--prefix", str(prefix),
        "--report-dir", str(tmp_path), env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 1, result
    last = result.stderr.splitlines()[-1]
    assert last.startswith("gpudoctor: error: step 2/6 create (create the environment with uv)")
    assert "No solution found" in last
    log = prefix / "gpudoctor-logs" / "2-create.log"
    assert f"log: {log}" in last and "No solution found" in log.read_text()
    assert (prefix / "pyproject.toml").is_file()  # the plan step's file stays
    assert not (prefix / ".venv").exists()  # the half-made environment does not
    assert not (prefix / "gpudoctor-onboard.json").exists()
    assert not (tmp_path / "gpudoctor-onboard.md").exists()


SLOW_UV = """case "$1" in
sync) echo "Resolved 42 packages in 0.2s"; echo "Preparing torch" >&2
      mkdir -p "$3/.venv/bin" && touch "$3/.venv/bin/python"; exec sleep 59.7713 ;;
esac
exit 0"""


def _still_running(marker: str, tmp_path: Path, wait_s: float = 5.0) -> list[bytes]:
    """Command lines holding ``marker`` of this test's processes (``tmp_path`` in their command
    line or environment) still running after up to ``wait_s``.

    Every process on the host was looked at: another session running the same test at that
    moment (the engineers of a shared machine, two CI runs) made the assertion fail, and a
    child killed a moment ago may not have left /proc yet. A leaked one sleeps for a minute.
    """
    mine = str(tmp_path).encode()
    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for path in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                line = path.read_bytes()
                if marker.encode() in line and (
                    mine in line or mine in (path.parent / "environ").read_bytes()
                ):
                    found.append(line)
            except OSError:  # ended meanwhile
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_create_leaves_no_finished_looking_env(tmp_path: Path, signum: int) -> None:
    fake_tool(tmp_path / "bin", "uv", SLOW_UV)
    prefix = tmp_path / "env"
    env = {**os.environ, **env_for(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpudoctor", "onboard", "--yes", "--from-report", str(WORKSTATION),
         "--prefix", str(prefix), "--report-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (prefix / ".venv" / "bin" / "python").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    # it said only "gpudoctor: interrupted": not which step was stopped, nor where its log is
    log = prefix / "gpudoctor-logs" / "2-create.log"
    assert [line for line in err.splitlines() if line][-2] == (
        f"onboard: step 2/6 create (create the environment with uv) stopped; its log: {log}"
    ), err
    lines = log.read_text().splitlines()
    assert lines[1].startswith("# stopped (Ctrl-C or a signal) after ")
    # what it printed on stdout was lost (uv says how far it got there): the log held stderr
    assert lines[2:] == [
        "--- stdout (its last 200 lines at most)",
        "Resolved 42 packages in 0.2s",
        "--- stderr (its last 200 lines at most)",
        "Preparing torch",
    ], lines
    assert not (prefix / ".venv").exists()
    assert not (prefix / "gpudoctor-onboard.json").exists()
    assert (prefix / "pyproject.toml").is_file()
    # the fake uv's sleep was killed with it
    assert _still_running("59.7713", tmp_path) == []


@pytest.mark.skipif(not UV.exists(), reason="uv is in the test extra")
def test_real_uv_creates_the_env_offline_and_verify_runs_inside(cli: Cli, tmp_path: Path) -> None:
    # A CPU-only machine: make-env plans torch's cpu variant from the report; the stand-in
    # torch cannot run the reference CNNs, so a stand-in gpudoctor's `verify` proves that the
    # new environment's Python runs and imports the torch uv installed from the mirror.
    report = report_variant(tmp_path, "cpu", partitions=None)
    mirror, pypi = standin_indexes(tmp_path, "cpu")
    prefix = tmp_path / "env"
    env = env_for(tmp_path, **uv_offline_env(tmp_path, pypi, sys.executable))
    args = (
        "onboard", "--yes", "--tool", "uv", "--from-report", str(report), "--prefix", str(prefix),
        "--report-dir", str(tmp_path), "--python", PY, "--torch", "2.9.1",
        "--torch-index-url", mirror,
    )  # fmt: skip
    result = cli(*args, env=env)
    assert result.exit_code == 0, result
    verify = (prefix / "gpudoctor-logs" / "4-verify.log").read_text()
    assert f"stand-in verify: torch 2.9.1+cpu from cpu in {prefix / '.venv'}" in verify
    assert '"--device", "cpu"' in verify
    marker = json.loads((prefix / "gpudoctor-onboard.json").read_text())
    assert marker["finished"] is True
    assert unsorted_objects((prefix / "gpudoctor-onboard.json").read_text()) == []
    # a document as every other: `tool` names gpudoctor (it said "uv"), with version and time
    assert (marker["schema_version"], marker["tool"]) == (1, "gpudoctor onboard")
    assert (marker["env_tool"], marker["activate"]) == ("uv", f"source {prefix}/.venv/bin/activate")
    datetime.strptime(marker["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    md = (tmp_path / "gpudoctor-onboard.md").read_text()
    assert f"source {prefix}/.venv/bin/activate" in md and "stand-in verify" in md
    assert "| passed |" in md and "not run" not in md
    assert (tmp_path / "gpudoctor-onboard.html").read_text().startswith("<!DOCTYPE html>")
    # a second run refuses the prefix; with --force it resumes there and finishes again
    assert cli(*args, env=env).exit_code == 2
    assert cli(*args, "--force", env=env).exit_code == 0
    assert (prefix / "gpudoctor-onboard.json").is_file()


@pytest.mark.parametrize(
    ("direct_url", "spec"),
    [
        (
            '{"dir_info": {"editable": true}, "url": "file:///srv/lab/gpu%20doctor"}',
            "/srv/lab/gpu doctor",
        ),
        (
            '{"archive_info": {}, "url": "file:///w/gpudoctor-0.1.0-py3-none-any.whl"}',
            "/w/gpudoctor-0.1.0-py3-none-any.whl",
        ),
        ('{"url": "https://example.org/gpudoctor.whl", "archive_info": {}}', None),
        ("not json", None),
        ("", None),
    ],
)
def test_the_environment_gets_the_gpudoctor_this_one_came_from(direct_url, spec):
    assert REAL_DEFAULT_SPEC(direct_url) == (spec or f"gpudoctor=={__version__}")


PASSING_UV = """case "$1" in
sync) mkdir -p "$3/.venv/bin" && printf '#!/bin/sh\\necho verified\\n' >"$3/.venv/bin/python"
      chmod +x "$3/.venv/bin/python" ;;
esac
exit 0"""


def test_the_summary_names_this_machine_not_the_redacted_placeholder(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # check's JSON is redacted, and the summary said "Made ... on `<redacted>`."
    from gpudoctor.model.redact import REDACTED
    from gpudoctor.onboard.run import StepResult

    doc = json.loads(WORKSTATION.read_text())
    doc["host"]["hostname"] = REDACTED
    report = tmp_path / "redacted.json"
    report.write_text(json.dumps(doc))

    def check_here(step: object, heard: object = None) -> StepResult:
        return StepResult(step=step, ok=True, stdout=report.read_text())  # type: ignore[arg-type]

    monkeypatch.setattr(onboard_cli, "run_step", check_here)
    monkeypatch.setattr(onboard_cli.socket, "gethostname", lambda: "login1")
    fake_tool(tmp_path / "bin", "uv", PASSING_UV)
    args = ("onboard", "--yes", "--prefix", str(tmp_path / "env"), "--report-dir")
    result = cli(*args, str(tmp_path), env=env_for(tmp_path))
    assert result.exit_code == 0, result
    md = (tmp_path / "gpudoctor-onboard.md").read_text()
    assert REDACTED not in md and " on `login1`." in md.splitlines()[2]
    # a saved report from elsewhere: its redacted name is left out, not replaced with ours
    (tmp_path / "again").mkdir()
    again = ("--from-report", str(report), "--prefix", str(tmp_path / "env2"), "--report-dir")
    result = cli("onboard", "--yes", *again, str(tmp_path / "again"), env=env_for(tmp_path))
    assert result.exit_code == 0, result
    md = (tmp_path / "again" / "gpudoctor-onboard.md").read_text()
    assert REDACTED not in md and "login1" not in md and md.splitlines()[2].endswith("UTC.")


def test_make_envs_warnings_reach_the_terminal_and_the_summary(cli: Cli, tmp_path: Path) -> None:
    # they were only in the plan step's log: the summary said every step passed, and a
    # student learned that no torchvision was pinned when `import torchvision` failed
    fake_tool(tmp_path / "bin", "uv", PASSING_UV)
    args = (
        "onboard", "--yes", "--from-report", str(WORKSTATION), "--prefix", str(tmp_path / "env"),
        "--report-dir", str(tmp_path), "--torch", "2.15",
    )  # fmt: skip
    result = cli(*args, env=env_for(tmp_path))
    assert result.exit_code == 0, result
    log = (tmp_path / "env" / "gpudoctor-logs" / "1-plan.log").read_text()
    said = [x.removeprefix("warning: ") for x in log.splitlines() if x.startswith("warning: ")]
    assert any("no torchvision" in w for w in said), log
    # the finished mark follows docs/onboard-schema.json (written last, after verify passed)
    marker = json.loads((tmp_path / "env" / "gpudoctor-onboard.json").read_text())
    jsonschema.validate(marker, ONBOARD_STRICT)
    jsonschema.validate(marker, ONBOARD_PUBLISHED)
    md = (tmp_path / "gpudoctor-onboard.md").read_text()
    page = (tmp_path / "gpudoctor-onboard.html").read_text()
    for warning in said:
        assert f"onboard: warning: {warning}" in result.stderr
        assert f"- Warning (make-env): {warning}" in md
        assert html_escape(warning) in page


def test_a_partition_whose_nodes_are_all_down_is_warned_of_before_the_verify_job_waits(
    cli: Cli, tmp_path: Path
) -> None:
    # every gpu node drained: onboard planned `srun -p gpu ...` and its spinner ran for up to
    # an hour while the job waited in the queue, with no word why
    doc = json.loads(report_variant(tmp_path, "one", partitions=("gpu",)).read_text())
    for part in doc["site"]["slurm"]["partitions"]:
        part["nodes_usable"] = 0 if part["name"] == "gpu" else 1
    report = tmp_path / "drained.json"
    report.write_text(json.dumps(doc))
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    args = ("onboard", "--dry-run", "--from-report", str(report), "--prefix", str(tmp_path / "e"))
    driver = ("--driver", "580.95.05", "--cc", "9.0")
    result = cli(*args, *driver, "--report-dir", str(tmp_path), env=env_for(tmp_path))
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1] == (
        "onboard: warning: no node of partition gpu can start a job now (all drained, down or "
        "not responding): the verify step waits in the queue until one is back"
    )
    # without --driver/--cc make-env checks a node first (srun --immediate), which fails at
    # once: the warning spoke only of the verify step's wait, and step 2 then failed
    result = cli(*args, "--report-dir", str(tmp_path), env=env_for(tmp_path))
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1] == (
        "onboard: warning: no node of partition gpu can start a job now (all drained, down or "
        "not responding): make-env's node check (step 2) fails until one is back (--driver "
        "VERSION --cc X.Y plans without it), and then the verify step waits in the queue "
        "until one is back"
    )
    doc["site"]["slurm"]["partitions"][1]["nodes_usable"] = 3  # one row of gpu has nodes up
    report.write_text(json.dumps(doc))
    result = cli(*args, "--report-dir", str(tmp_path), env=env_for(tmp_path))
    assert "warning" not in result.stdout


@pytest.mark.parametrize(
    ("available", "said"),
    [
        ("down", "partition gpu is down (sinfo's AVAIL down): SLURM starts no job there now; "
         "the verify step waits in the queue until an admin sets it up again (it is stopped "
         "after 3600 s, --verify-timeout; Ctrl-C cancels the job)"),
        ("drain", "partition gpu is drained (sinfo's AVAIL drain): SLURM starts no job there "
         "now; srun refuses the verify job (Required partition not available), after the "
         "environment is created"),
        ("inact", "partition gpu is inactive (sinfo's AVAIL inact): SLURM starts no job there "
         "now; srun refuses the verify job (Required partition not available), after the "
         "environment is created"),
    ],
)  # fmt: skip
def test_a_partition_that_takes_no_job_is_warned_of_before_anything_is_created(
    cli: Cli, tmp_path: Path, available: str, said: str
) -> None:
    # `scontrol update partitionname=gpu state=down`, its nodes idle: the plan said nothing,
    # and the verify job then sat in the queue ("srun: Partition in DOWN state") for up to an
    # hour behind a spinner; in a drained or inactive partition srun refused it, once the
    # environment had been created
    doc = json.loads(report_variant(tmp_path, "one", partitions=("gpu",)).read_text())
    for part in doc["site"]["slurm"]["partitions"]:
        part["available"] = available if part["name"] == "gpu" else "up"
        part["nodes_usable"] = 3
    report = tmp_path / "closed.json"
    report.write_text(json.dumps(doc))
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    args = ("onboard", "--dry-run", "--from-report", str(report), "--prefix", str(tmp_path / "e"))
    driver = ("--driver", "580.95.05", "--cc", "9.0")
    result = cli(*args, *driver, "--report-dir", str(tmp_path), env=env_for(tmp_path))
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1] == f"onboard: warning: {said}"
    # make-env's node check (without --driver/--cc) is refused first, at once (srun: 'Partition
    # in DOWN state', 'Required partition not available'), before anything is created
    result = cli(*args, "--report-dir", str(tmp_path), env=env_for(tmp_path))
    first, now = said.split("now; ", 1)
    assert result.stdout.splitlines()[-1] == (
        f"onboard: warning: {first}now; make-env's node check (step 2) fails until it does "
        f"(--driver VERSION --cc X.Y plans without it), and then {now}"
    )
    for part in doc["site"]["slurm"]["partitions"]:
        part["available"] = "up"
    report.write_text(json.dumps(doc))
    result = cli(*args, "--report-dir", str(tmp_path), env=env_for(tmp_path))
    assert "warning" not in result.stdout


def test_the_verify_job_from_inside_a_job_is_a_job_of_its_own(cli: Cli, tmp_path: Path) -> None:
    # `onboard --partition gpu` in an interactive CPU job (salloc): srun read SLURM_JOB_ID and
    # made the verify a step of that job, "Unable to create step for job 69: Invalid generic
    # resource (gres) specification", after the environment had been created
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    report = report_variant(tmp_path, "one", partitions=("gpu",))
    args = ("onboard", "--dry-run", "--from-report", str(report), "--prefix", str(tmp_path / "e"))
    args += ("--report-dir", str(tmp_path), "--partition", "gpu")
    inside = cli(*args, env=env_for(tmp_path, SLURM_JOB_ID="69", SLURM_JOBID="69"))
    assert inside.exit_code == 0, inside
    assert "$ env -u SLURM_JOB_ID -u SLURM_JOBID srun -p gpu --gres=gpu:1" in inside.stdout
    outside = cli(*args, env=env_for(tmp_path, SLURM_JOB_ID=None, SLURM_JOBID=None))
    assert "     $ srun -p gpu --gres=gpu:1" in outside.stdout and "env -u" not in outside.stdout


@pytest.mark.parametrize("driver", [(), ("--driver", "580.95.05", "--cc", "9.0")])
def test_a_partition_sinfo_could_not_check_is_taken_as_given_and_said_to_be(
    cli: Cli, tmp_path: Path, driver: tuple[str, ...]
) -> None:
    # sinfo hung on the login node: onboard planned for --partition gpux without a word, while
    # docs/onboard.md said a partition sinfo does not list is refused
    doc = json.loads(LOGIN.read_text())
    doc["site"]["slurm"] = {"reachable": False, "message": "sinfo gave no answer in 10 s"}
    report = tmp_path / "hung.json"
    report.write_text(json.dumps(doc))
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    result = cli(
        "onboard", "--dry-run", "--from-report", str(report), "--prefix", str(tmp_path / "e"),
        "--report-dir", str(tmp_path), "--partition", "gpux", *driver, env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "onboard: target SLURM partition gpux (--partition; not checked: sinfo did not answer "
        "(sinfo gave no answer in 10 s)); tool uv"
    )
    assert lines[-1] == (
        "onboard: warning: partition gpux could not be checked (sinfo did not answer (sinfo "
        "gave no answer in 10 s)): its name and GPUs are taken as given; a name SLURM does not "
        "know fails the first step that asks it (make-env's node check, or the verify job)"
    )
    assert "srun -p gpux --gres=gpu:1" in result.stdout


def test_a_prefix_that_cannot_be_made_is_one_line_exit_2(cli: Cli, tmp_path: Path) -> None:
    # --prefix /proc/x ended in "internal error: FileNotFoundError" (exit 3) after the plan
    fake_tool(tmp_path / "bin", "uv", "exit 0")
    (tmp_path / "afile").write_text("")
    for prefix in (tmp_path / "afile" / "env", Path("/proc/gpudoctor-env")):
        result = cli(
            "onboard", "--yes", "--from-report", str(WORKSTATION), "--prefix", str(prefix),
            "--report-dir", str(tmp_path), env=env_for(tmp_path),
        )  # fmt: skip
        assert result.exit_code == 2, result
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"gpudoctor: error: --prefix {prefix}: cannot ")
        assert "Traceback" not in result.stderr
        if prefix.parent.name == "afile":  # refused before check or the plan ran
            assert last.endswith(f"({tmp_path / 'afile'} is not a folder)")
            assert "onboard:" not in result.stderr


def _on_a_terminal(argv: list[str], env: dict[str, str], answer: bytes = b"") -> str:
    """What a terminal (80 columns) shows of ``argv``: its output read from a pty, with
    ``answer`` typed once the prompt is up; colours and cursor moves left out."""
    import pty
    import re
    import select

    master, slave = pty.openpty()
    os.set_inheritable(slave, True)
    done = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env={**env, "COLUMNS": "80"}, close_fds=True
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            asked = seen.rpartition(b"Create the environment in ")[2]
            if answer and b": " in asked:  # the prompt is up, with or without its [y/N]
                os.write(master, answer)
                answer = b""
        elif done.poll() is not None:
            break
    os.close(master)
    done.wait(timeout=30)
    text = seen.decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r\n", "\n")


def test_on_a_terminal_the_plan_prompt_and_closing_lines_are_written_as_they_are(
    tmp_path: Path,
) -> None:
    """rich's spinner took over stderr from the first step to the end: the plan's command lines
    came out cut at the terminal's width (a command copied from it broke), the prompt read
    "Create the environment in ...? : " ("[y/N]" read as markup and dropped), and "onboard:
    the environment is ready" was written on the spinner's line."""
    fake_tool(tmp_path / "bin", "uv", PASSING_UV)
    env = {k: v for k, v in os.environ.items() if k not in ("SLURM_JOB_ID", "SLURM_JOBID")}
    env.update(env_for(tmp_path))  # type: ignore[arg-type]
    argv = [sys.executable, "-m", "gpudoctor", "onboard", "--from-report", str(WORKSTATION)]
    argv += ["--prefix", str(tmp_path / "a-rather-long-environment-folder-name")]
    argv += ["--report-dir", str(tmp_path), "--gpudoctor-spec", "gpudoctor"]
    shown = _on_a_terminal(argv, env, answer=b"y\n")
    assert "? [y/N]: " in shown, shown
    plan = next(line for line in shown.splitlines() if "gpudoctor make-env" in line)
    assert plan.strip().startswith("$ ") and plan.rstrip().endswith("__idle.json"), shown
    lines = [line.rsplit("\r", 1)[-1] for line in shown.splitlines()]
    assert any(line.startswith("onboard: the environment is ready: ") for line in lines), shown
    assert (tmp_path / "a-rather-long-environment-folder-name" / "gpudoctor-onboard.json").exists()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_srun_saying_its_job_waits_is_shown_whole_and_on_the_spinner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the verify job waited in the queue behind a bare spinner; and a line longer than the
    # terminal pushed the spinner and the elapsed time off it (it looked hung)
    from rich.console import Console

    from gpudoctor.onboard.plan import Step

    monkeypatch.setenv("COLUMNS", "80")
    out = _Tty()
    live = onboard_cli._Live(out)
    step = Step(name="verify", title="verify --quick inside it on partition gpu", argv=("srun",))
    live.started(4, 6, step)
    news = "srun: job 42 queued and waiting for resources (squeue gives the reason: Resources)"
    live.said(4, 6, step, news)
    assert live.progress is not None
    seen = io.StringIO()
    Console(file=seen, width=80, color_system=None).print(live.progress.get_renderable())
    live.close()
    line = seen.getvalue().rstrip("\n")
    assert len(line) <= 80 and line.endswith("… 0:00:00"), line
    assert "[4/6] verify --quick inside it on partition gpu: job 42 queued" in line, line
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert f"\r  {news}\n" in shown, shown  # whole, above the spinner


def _slow_step(tmp_path: Path, out: io.StringIO | _Tty, live: bool) -> list[str]:
    """onboard's lines for a create step that prints a download line, then runs 0.5 s more."""
    from gpudoctor.onboard.plan import Step
    from gpudoctor.onboard.run import execute

    code = "import sys, time; print('Downloading torch (870.2MiB)', flush=True); time.sleep(0.5)"
    create = Step(name="create", title="create the environment", argv=(sys.executable, "-c", code))
    quiet = Step(
        name="install", title="install", argv=(sys.executable, "-c", "import time; time.sleep(0.3)")
    )
    progress = onboard_cli._Live(out) if live else onboard_cli._Lines(out)
    execute(
        [create, quiet],
        first=3,
        total=7,
        log_dir=tmp_path,
        write_log=lambda path, text: path.write_text(text),
        in_process=lambda step: None,
        progress=progress,
    )
    progress.close()
    return out.getvalue().splitlines()


def test_off_a_terminal_a_long_step_says_every_interval_that_it_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a batch job's log showed a step's start line and then nothing until it ended: a 10-minute
    # uv download read the same as a hung one
    monkeypatch.setattr(onboard_cli, "STILL_RUNNING_S", 0.1, raising=False)
    lines = _slow_step(tmp_path, io.StringIO(), live=False)
    still = [line for line in lines if " still running, " in line]
    create = [line for line in still if line.startswith("onboard: step 3/7 create ")]
    assert create, lines
    assert re.fullmatch(
        r"onboard: step 3/7 create still running, \d+ s; last: Downloading torch \(870\.2MiB\)",
        create[-1],
    ), create
    # bounded: one line an interval at most, and none once the step is done
    done = next(i for i, line in enumerate(lines) if line.startswith("onboard: [3/7] done in "))
    took = float(lines[done].split()[-2])
    assert len(create) <= took / 0.1 + 1, lines
    assert not any(line.startswith("onboard: step 3/7") for line in lines[done:]), lines
    # a step that printed nothing says so
    install = [line for line in still if line.startswith("onboard: step 4/7 install ")]
    assert install and install[-1].endswith("; nothing printed yet"), lines


def test_on_a_terminal_the_spinner_alone_says_a_step_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(onboard_cli, "STILL_RUNNING_S", 0.1, raising=False)
    lines = _slow_step(tmp_path, _Tty(), live=True)
    assert not any("still running" in line for line in lines), lines


def test_on_a_dumb_terminal_the_steps_are_plain_lines(tmp_path: Path) -> None:
    # TERM=dumb (Emacs' shell): rich's spinner draws nothing there, so a running step (an hour
    # of verify job in the queue) showed nothing at all; the plain lines are what it can show
    fake_tool(tmp_path / "bin", "uv", PASSING_UV)
    env = {k: v for k, v in os.environ.items() if k not in ("SLURM_JOB_ID", "SLURM_JOBID")}
    env.update(env_for(tmp_path))  # type: ignore[arg-type]
    argv = [sys.executable, "-m", "gpudoctor", "onboard", "--yes", "--from-report"]
    argv += [str(WORKSTATION), "--prefix", str(tmp_path / "env"), "--report-dir", str(tmp_path)]
    shown = _on_a_terminal([*argv, "--gpudoctor-spec", "gpudoctor"], {**env, "TERM": "dumb"})
    assert "onboard: [2/6] create the environment with uv: " in shown, shown
    assert "onboard: [2/6] done in " in shown and "✓" not in shown, shown


@pytest.mark.parametrize(("typed", "planned"), [("pytorch", "torch"), ("tf", "tensorflow")])
def test_framework_takes_make_envs_synonyms(
    cli: Cli, tmp_path: Path, typed: str, planned: str
) -> None:
    # onboard passes --framework on to make-env, which takes pytorch and tf (conda-forge's
    # package name, the usual short name); onboard refused them as bad input
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    result = cli(
        "onboard", "--dry-run", "--from-report", str(WORKSTATION), "--prefix",
        str(tmp_path / "env"), "--report-dir", str(tmp_path), "--framework", typed,
        env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert f"--framework {planned}" in result.stdout
    assert f"--framework {typed} " not in result.stdout


SLOW_CHECK = """import sys, time
print('{"schema_version": 1, "host": ', flush=True)
print("check: reading NVML", file=sys.stderr, flush=True)
open(sys.argv[1], "w").close()
time.sleep(59.7716)"""


def _slow_check(monkeypatch: pytest.MonkeyPatch, ready: Path, timeout_s: float) -> None:
    """Step 1 runs a check that prints a little, says it is ready and then hangs."""
    import dataclasses

    real = onboard_cli.check_step

    def slow(request: object) -> object:
        argv = (sys.executable, "-c", SLOW_CHECK, str(ready))
        return dataclasses.replace(real(request), argv=argv, timeout_s=timeout_s)  # type: ignore[arg-type]

    monkeypatch.setattr(onboard_cli, "check_step", slow)


def _check_log(log: Path, ended: str) -> None:
    lines = log.read_text().splitlines()
    assert lines[0].startswith(f"$ {sys.executable} -c "), lines
    assert ended in "\n".join(lines), lines
    assert '{"schema_version": 1, "host": ' in lines, lines  # its stdout
    assert "check: reading NVML" in lines, lines  # and its stderr


CHECK_BY_HAND = (
    "run `gpudoctor check --format json -o check.json` yourself (each probe is bounded by "
    "check's --timeout) and rerun onboard with --from-report check.json"
)
"""The way past the check step's fixed limit (before, the line named none)."""


def test_a_check_step_past_its_time_limit_gets_a_log_named_in_the_error(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "step 1 check (check this machine) failed: still running after 1 s: stopped", no log
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    _slow_check(monkeypatch, tmp_path / "ready", timeout_s=1.0)
    prefix = tmp_path / "env"
    args = ("onboard", "--yes", "--prefix", str(prefix), "--report-dir", str(tmp_path))
    result = cli(*args, env=env_for(tmp_path))
    assert result.exit_code == 1, result
    log = prefix / "gpudoctor-logs" / "1-check.log"
    assert result.stderr.splitlines()[-1] == (
        "gpudoctor: error: step 1/7 check (check this machine) failed: still running after "
        f"1 s: stopped; it last printed: check: reading NVML; {CHECK_BY_HAND}; log: {log}"
    ), result.stderr
    _check_log(
        log,
        "# failed: still running after 1 s: stopped; it last printed: check: reading NVML; "
        f"{CHECK_BY_HAND} after ",
    )
    # onboard's own log alone does not make the prefix someone's: a rerun needs no --force
    again = cli(*args, "--dry-run", "--from-report", str(WORKSTATION), env=env_for(tmp_path))
    assert again.exit_code == 0, again


def test_a_check_step_stopped_by_ctrl_c_gets_a_log_and_the_stop_line_names_it(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "onboard: step 1/7 check (check this machine) stopped", and no log at all

    fake_tool(tmp_path / "bin", "uv", "exit 99")
    ready = tmp_path / "ready"
    _slow_check(monkeypatch, ready, timeout_s=30.0)

    _ctrl_c_once(ready)
    prefix = tmp_path / "env"
    result = cli(
        "onboard", "--yes", "--prefix", str(prefix), "--report-dir", str(tmp_path),
        env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 130, result
    log = prefix / "gpudoctor-logs" / "1-check.log"
    assert [line for line in result.stderr.splitlines() if line][-2:] == [
        f"onboard: step 1/7 check (check this machine) stopped; its log: {log}",
        "gpudoctor: interrupted",
    ], result.stderr
    _check_log(log, "# stopped (Ctrl-C or a signal) after ")
    assert _still_running("59.7716", tmp_path) == []


def _ctrl_c_once(ready: Path) -> None:
    """Ctrl-C to this process once ``ready`` exists (the step is under way), from a thread."""
    import threading

    def interrupt() -> None:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()


LAST_WORDS_CHECK = SLOW_CHECK.replace(
    "import sys, time\n",
    "import signal, sys, time\n"
    "def term(*a):\n"
    "    time.sleep(0.5)\n"
    "    print('check: stopped, temporary folder removed', file=sys.stderr, flush=True)\n"
    "    sys.exit(143)\n"
    "signal.signal(signal.SIGTERM, term)\n",
)


def test_what_a_stopped_step_says_in_its_grace_is_in_its_log(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # after Ctrl-C the step's pipes were closed before its SIGTERM grace (check's 5 s, srun's
    # 10 s): its last words ("Job step aborted", "Force Terminated job") never reached its log
    import dataclasses

    fake_tool(tmp_path / "bin", "uv", "exit 99")
    ready = tmp_path / "ready"
    real = onboard_cli.check_step

    def talking(request: object) -> object:
        argv = (sys.executable, "-c", LAST_WORDS_CHECK, str(ready))
        return dataclasses.replace(real(request), argv=argv, timeout_s=30.0)  # type: ignore[arg-type]

    monkeypatch.setattr(onboard_cli, "check_step", talking)

    _ctrl_c_once(ready)
    prefix = tmp_path / "env"
    result = cli(
        "onboard", "--yes", "--prefix", str(prefix), "--report-dir", str(tmp_path),
        env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 130, result
    lines = (prefix / "gpudoctor-logs" / "1-check.log").read_text().splitlines()
    stderr = lines[lines.index("--- stderr (its last 200 lines at most)") :]
    assert stderr[1:] == ["check: reading NVML", "check: stopped, temporary folder removed"]


def test_a_dry_run_whose_check_is_stopped_writes_nothing(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    _slow_check(monkeypatch, tmp_path / "ready", timeout_s=1.0)
    prefix = tmp_path / "env"
    result = cli(
        "onboard", "--dry-run", "--prefix", str(prefix), "--report-dir", str(tmp_path),
        env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 1, result
    assert result.stderr.splitlines()[-1].endswith(
        f"still running after 1 s: stopped; it last printed: check: reading NVML; {CHECK_BY_HAND}"
    )
    assert not prefix.exists()


def test_a_dry_runs_check_keeps_nothing_in_the_history(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "--dry-run ... creates nothing": its check kept a report and moved the last good check
    # that `gpudoctor diff` compares against; the plan still shows the step as it will run
    from gpudoctor.onboard.plan import Step
    from gpudoctor.onboard.run import StepResult

    ran: list[Step] = []

    def check_here(step: Step, heard: object = None) -> StepResult:
        ran.append(step)
        return StepResult(step=step, ok=True, stdout=WORKSTATION.read_text())

    monkeypatch.setattr(onboard_cli, "run_step", check_here)
    fake_tool(tmp_path / "bin", "uv", PASSING_UV)
    args = ("onboard", "--dry-run", "--prefix", str(tmp_path / "env"))
    result = cli(*args, "--report-dir", str(tmp_path), env=env_for(tmp_path))
    assert result.exit_code == 0, result
    assert [dict(step.env).get("GPUDOCTOR_NO_HISTORY") for step in ran] == ["1"]
    assert "GPUDOCTOR_NO_HISTORY" not in result.stdout + result.stderr


def test_a_dry_run_says_the_tool_is_not_installed(cli: Cli, tmp_path: Path) -> None:
    # the plan read as ready to run ("conda env create ..."), and the run then stopped at once
    (tmp_path / "bin").mkdir()
    args = (
        "onboard", "--dry-run", "--tool", "pixi", "--from-report", str(WORKSTATION),
        "--prefix", str(tmp_path / "e"), "--report-dir", str(tmp_path),
    )  # fmt: skip
    result = cli(*args, env={"PATH": str(tmp_path / "bin")})
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1] == (
        "onboard: warning: pixi is not installed here: install it, or choose --tool uv or conda"
    )
    fake_tool(tmp_path / "bin", "pixi", "exit 99")
    there = cli(*args, env={"PATH": str(tmp_path / "bin")})
    assert there.exit_code == 0, there
    assert "not installed" not in there.stdout


SLOW_AT = {
    # uv downloading gigabytes of CUDA wheels through a slow mirror
    "create": """case "$1" in
sync) echo "Downloading torch (870.2MiB)" >&2; exec sleep 59.7741 ;;
esac
exit 0""",
    # pip installing gpudoctor into the environment through the same mirror
    "install": """case "$1" in
sync) mkdir -p "$3/.venv/bin" && printf '#!/bin/sh\\necho verified\\n' >"$3/.venv/bin/python"
      chmod +x "$3/.venv/bin/python" ;;
pip) echo "Downloading rich (243kB)" >&2; exec sleep 59.7741 ;;
esac
exit 0""",
    # verify still at work (through srun: a job still waiting in a busy queue)
    "verify": """case "$1" in
sync) mkdir -p "$3/.venv/bin"
      printf '#!/bin/sh\\necho "timing LeNet-5" >&2\\nexec sleep 59.7741\\n' >"$3/.venv/bin/python"
      chmod +x "$3/.venv/bin/python" ;;
esac
exit 0""",
}
"""A fake uv whose step waits past any short limit, after one line."""


@pytest.mark.parametrize("name", ["create", "install", "verify"])
def test_a_step_stopped_at_its_limit_names_the_option_that_set_it(
    cli: Cli, tmp_path: Path, name: str
) -> None:
    # the limits were fixed (60, 15 and 60 min): a slow mirror or a busy queue had no way
    # past them, and the line named none
    fake_tool(tmp_path / "bin", "uv", SLOW_AT[name])
    prefix = tmp_path / "env"
    start = time.monotonic()
    result = cli(
        "onboard", "--yes", "--from-report", str(WORKSTATION), "--prefix", str(prefix),
        "--report-dir", str(tmp_path), f"--{name}-timeout", "1", env=env_for(tmp_path),
    )  # fmt: skip
    assert time.monotonic() - start < 20  # 1 s, not the fake's minute
    assert result.exit_code == 1, result
    last = result.stderr.splitlines()[-1]
    assert f" {name} (" in last and "failed: still running after 1 s " in last, last
    assert f"(--{name}-timeout): stopped; it last printed: " in last, last
    assert f"rerun with --force --{name}-timeout SECONDS (more than 1)" in last, last
    assert not (prefix / "gpudoctor-onboard.json").exists()
    assert _still_running("59.7741", tmp_path) == []


@pytest.mark.parametrize("option", ["--create-timeout", "--install-timeout", "--verify-timeout"])
@pytest.mark.parametrize("value", ["0", "-60", "abc", "1e9", "nan", ""])
def test_a_step_timeout_that_is_no_limit_is_refused_in_one_line(
    cli: Cli, tmp_path: Path, option: str, value: str
) -> None:
    result = cli(
        "onboard", "--dry-run", "--from-report", str(WORKSTATION), "--prefix",
        str(tmp_path / "e"), "--report-dir", str(tmp_path), option, value, env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1, result
    assert f"Invalid value for '{option}': " in result.stderr, result
    assert not (tmp_path / "e").exists()


def test_the_down_partition_warning_says_the_verify_timeout_asked_for(
    cli: Cli, tmp_path: Path
) -> None:
    # it said "stopped after 60 min" whatever the step's limit
    doc = json.loads(report_variant(tmp_path, "one", partitions=("gpu",)).read_text())
    for part in doc["site"]["slurm"]["partitions"]:
        part["available"] = "down" if part["name"] == "gpu" else "up"
        part["nodes_usable"] = 3
    report = tmp_path / "closed.json"
    report.write_text(json.dumps(doc))
    fake_tool(tmp_path / "bin", "uv", "exit 99")
    result = cli(
        "onboard", "--dry-run", "--from-report", str(report), "--prefix", str(tmp_path / "e"),
        "--report-dir", str(tmp_path), "--verify-timeout", "14400", env=env_for(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result
    assert "(it is stopped after 14400 s, --verify-timeout; " in result.stdout, result


def test_a_mac_is_refused_before_any_step_with_the_next_step(cli: Cli, tmp_path: Path) -> None:
    # the dry run printed a ready plan whose first step, make-env, then refused the Mac
    from gpudoctor.model.serialize import report_to_json
    from tests.rules.builders import mac

    saved = tmp_path / "mac.json"
    saved.write_text(report_to_json(mac()), encoding="utf-8")
    for dry in (("--dry-run",), ("--yes",)):
        result = cli(
            "onboard", *dry, "--from-report", str(saved), "--prefix", str(tmp_path / "env"),
        )  # fmt: skip
        assert result.exit_code == 2, result
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
        assert "is a Mac: onboard plans CUDA and CPU-only environments" in result.stderr
        assert "python3 -m pip install torch" in result.stderr
        assert result.stdout == ""
        assert not (tmp_path / "env").exists()
