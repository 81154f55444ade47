"""The real harness on this CPU: both frameworks, each in its own child, LeNet-5, tiny budgets."""

from __future__ import annotations

import pytest

from gpudoctor.verify.harness import run_verify
from gpudoctor.verify.model import Settings
from gpudoctor.verify.references import load_references
from gpudoctor.verify.verdict import REL_TOLERANCE, judge
from tests.conftest import have_gpu


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def event(self, framework: str, event: dict) -> None:
        self.events.append((framework, event))


@pytest.fixture(scope="module")
def both():
    settings = Settings(
        models=("lenet5",), framework="all", device="all", time_budget_s=1.0, quick=True
    )
    progress = Recorder()
    return run_verify(settings, progress), progress


@pytest.mark.torch
@pytest.mark.tensorflow
def test_lenet5_runs_on_the_cpu_in_both_frameworks(both):
    result, _ = both
    assert [e.framework for e in result.frameworks] == ["torch", "tensorflow"]
    assert all(e.error is None for e in result.frameworks), result.frameworks
    cpu = {r.framework: r for r in result.runs if r.device == "cpu"}
    assert set(cpu) == {"torch", "tensorflow"}
    for run in cpu.values():
        assert run.status == "ok", run
        assert run.batch_size == 32 and run.images_per_second and run.images_per_second > 0
        assert len(run.block_seconds) >= 5
        assert run.threads and run.threads >= 1
    assert {p.framework for p in result.peaks if p.device == "cpu"} == {"torch", "tensorflow"}


@pytest.mark.torch
@pytest.mark.tensorflow
def test_torch_and_keras_agree_on_lenet5_with_the_same_weights(both):
    result, _ = both
    parity = [c for c in result.comparisons if c.kind == "torch_vs_keras"]
    assert len(parity) == 1, result.comparisons
    check = parity[0]
    assert check.model == "lenet5" and check.finite
    assert check.rel_error < REL_TOLERANCE["fp32"]
    assert all(check.top1_agree) and len(check.top1_agree) == 4


@pytest.mark.torch
@pytest.mark.tensorflow
def test_progress_streams_while_the_children_run(both):
    _, progress = both
    kinds = [(fw, e["event"]) for fw, e in progress.events]
    assert kinds[0] == ("torch", "start")
    assert ("torch", "run") in kinds and ("tensorflow", "run") in kinds
    assert kinds.index(("torch", "run")) < kinds.index(("tensorflow", "start"))


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.skipif(have_gpu(), reason="this machine has a GPU")
def test_without_a_gpu_the_cpu_part_is_done_and_the_verdict_says_why(both):
    result, _ = both
    verdict = judge(result, load_references())
    assert verdict.overall == "fail"
    no_gpu = [r for r in verdict.reasons if r.code in ("no_gpu", "cpu_only_build")]
    assert {r.framework for r in no_gpu} == {"torch", "tensorflow"}
    assert dict(verdict.models)["lenet5"] != "fail"  # noise on a shared CI box may warn


@pytest.mark.parametrize("noise", ['{"n": ' + "9" * 5000 + "}", "[" * 100_000])
def test_a_line_json_cannot_hold_is_noise(noise, monkeypatch):
    # a library's line of 5,000 digits or deep nesting on the protocol stream stopped verify
    # (ValueError and RecursionError passed the JSONDecodeError this caught)
    import importlib.util

    from gpudoctor.probe.runcmd import CmdResult

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: True if name == "torch" else real_find_spec(name, *a),
    )

    def noisy(argv, *, on_line, **kwargs):
        on_line(noise)
        return CmdResult(argv=tuple(argv), returncode=1)

    settings = Settings(models=("lenet5",), framework="torch", device="cpu", time_budget_s=1.0)
    result = run_verify(settings, Recorder(), stream=noisy)
    verdict = judge(result, load_references())
    assert "torch failed: exited with status 1 before finishing" in [
        r.message for r in verdict.reasons
    ]


@pytest.mark.parametrize(
    ("returncode", "said"),
    [
        (
            -9,
            "torch failed: killed by SIGKILL before finishing (the kernel's out-of-memory "
            "killer sends it, as do a job's memory limit and kill -9)",
        ),
        (-11, "torch failed: killed by SIGSEGV before finishing"),
        (1, "torch failed: exited with status 1 before finishing"),
    ],
)
def test_a_child_killed_by_a_signal_is_said_so(returncode, said, monkeypatch):
    # A torch child the OOM killer stopped read 'torch failed: exited with status -9 before
    # finishing': subprocess's negative status, read as an exit code.
    import importlib.util

    from gpudoctor.probe.runcmd import CmdResult

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(  # torch "installed" whether or not it is here: nothing imports it
        importlib.util,
        "find_spec",
        lambda name, *a: True if name == "torch" else real_find_spec(name, *a),
    )

    def killed(argv, **kwargs):
        return CmdResult(argv=tuple(argv), returncode=returncode)

    settings = Settings(models=("lenet5",), framework="torch", device="cpu", time_budget_s=1.0)
    result = run_verify(settings, Recorder(), stream=killed)
    verdict = judge(result, load_references())
    assert said in [r.message for r in verdict.reasons], verdict.reasons


def test_a_child_past_its_deadline_says_where_the_deadline_came_from_and_what_to_do(monkeypatch):
    # "torch failed: timed out after 424 s": no word of the limit or of what to do next
    import importlib.util

    from gpudoctor.probe.runcmd import CmdResult

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: True if name == "torch" else real_find_spec(name, *a),
    )

    def hung(argv, **kwargs):
        assert kwargs["timeout_s"] == 300 + 120 + 4 * 1.0
        return CmdResult(argv=tuple(argv), returncode=None, timed_out=True, duration_s=424.2)

    settings = Settings(models=("lenet5",), framework="torch", device="cpu", time_budget_s=1.0)
    verdict = judge(run_verify(settings, Recorder(), stream=hung), load_references())
    assert (
        "torch failed: timed out after 424 s, verify's deadline for it (300 s to start, then "
        "120 s + 4 x --time-budget (1 s) a model): a GPU or driver that stopped answering, or "
        "an import that hung; `gpudoctor check` looks at both"
    ) in [r.message for r in verdict.reasons], verdict.reasons
