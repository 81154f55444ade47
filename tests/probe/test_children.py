"""Probe children: JSON parsing, crashes, and timeouts that end quickly (a wedged driver)."""

from __future__ import annotations

import json
import sys
import time

import pytest

from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.child import run_json_child, script
from gpudoctor.probe.cuda import probe_cuda
from gpudoctor.probe.frameworks import probe_framework
from gpudoctor.probe.nvml_probe import probe_nvml
from gpudoctor.probe.runcmd import run_cmd
from tests.probe.fakes import FakeRun, other_python

OTHER_PYTHON = other_python()
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def sleeping_run(argv, *, timeout_s, env=None, stdin=None):
    """The real run_cmd, but every child is one that never answers (like a hung driver)."""
    return run_cmd(SLEEPER, timeout_s=timeout_s, env=env, stdin=stdin)


@pytest.mark.parametrize(
    ("probe", "status"),
    [
        (probe_nvml, "timeout"),
        (probe_cuda, "timeout"),
        (lambda ctx: probe_framework(ctx, "torch"), "timeout"),
    ],
)
def test_a_child_that_sleeps_past_its_timeout_is_reported_quickly(probe, status):
    ctx = ProbeContext(run=sleeping_run, timeout_s=1.0)
    start = time.monotonic()
    section = probe(ctx)
    assert time.monotonic() - start < 5
    assert section.status == status
    assert "did not answer within 1 s" in section.message


def test_abandoned_child_is_said_so():
    ctx = ProbeContext(run=FakeRun(timed_out=True, abandoned=True), timeout_s=3)
    info = probe_nvml(ctx)
    assert info.status == "timeout"
    assert "could not be killed: it is stuck inside the kernel" in info.message


def test_last_json_line_wins_over_library_noise():
    run = FakeRun(stdout='loading things...\n{"status": "ok"}\n')
    outcome = run_json_child(ProbeContext(run=run), "python", "cuda_probe.py")
    assert outcome.data == {"status": "ok"}


@pytest.mark.parametrize("noise", ['{"n": ' + "9" * 5000 + "}", '{"n": ' + "[" * 100_000])
def test_a_last_line_json_cannot_hold_is_no_answer(noise):
    # ValueError (5,000 digits) and RecursionError passed the JSONDecodeError this caught
    run = FakeRun(stdout=noise + "\n", stderr="done\n")
    outcome = run_json_child(ProbeContext(run=run), "python", "cuda_probe.py")
    assert outcome.data is None and outcome.error is not None and "done" in outcome.error


def test_crashed_child_names_its_last_words():
    run = FakeRun(stdout="", stderr="Traceback...\nSegmentation fault\n", returncode=-11)
    info = probe_cuda(ProbeContext(run=run))
    assert info.status == "failed"
    assert "Segmentation fault" in info.message
    # subprocess's -11 is signal 11, not an exit status: 'exited with status -11' read as one
    assert "the probe process was killed by SIGSEGV" in info.message
    assert "status -11" not in info.message


def test_interpreter_that_does_not_exist():
    ctx = ProbeContext(python="/nonexistent/python")
    info = probe_framework(ctx, "torch")
    assert info.status == "crashed"
    assert "could not start /nonexistent/python" in info.message


def test_bad_json_shape_is_reported():
    info = probe_nvml(ProbeContext(run=FakeRun({"status": "ok", "gpus": "many"})))
    assert info.status == "unknown_error"
    assert "bad data" in info.message


def test_children_inherit_the_user_environment():
    run = FakeRun({"name": "tensorflow", "status": "not_installed"})
    ctx = ProbeContext(run=run, env={"CUDA_VISIBLE_DEVICES": "1", "PATH": "/usr/bin"})
    info = probe_framework(ctx, "tensorflow")
    assert info.status == "not_installed"
    ((argv, _, env),) = run.calls
    assert argv[1].endswith("tf_probe.py")
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_nvml_child_runs_under_gpudoctors_own_interpreter():
    run = FakeRun({"status": "library_not_found"})
    probe_nvml(ProbeContext(run=run, python="/some/other/python"))
    assert run.calls[0][0][0] == sys.executable


def test_real_nvml_child_on_this_machine():
    info = probe_nvml(ProbeContext(timeout_s=30))
    if info.status == "ok":  # a machine with a GPU
        assert info.driver_version
    else:
        assert info.status in ("library_not_found", "driver_not_loaded", "bindings_missing")
        assert info.gpus == ()


@pytest.mark.skipif(not OTHER_PYTHON, reason="needs a second interpreter")
def test_nvml_child_without_bindings_says_so(tmp_path):
    """An interpreter without nvidia-ml-py (and without gpudoctor installed) still answers."""
    result = run_cmd([OTHER_PYTHON, script("nvml_child.py")], timeout_s=30)
    data = json.loads(result.stdout.splitlines()[-1])
    if data["status"] != "bindings_missing":
        pytest.skip("the second interpreter has nvidia-ml-py")
    assert "nvidia-ml-py" in data["message"]
    assert data["gpus"] == []
