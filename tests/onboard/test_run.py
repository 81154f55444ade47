"""The executor's failure line: a gpudoctor command's own error is quoted whole, with the
step's hint in onboard's options."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gpudoctor.onboard.plan import Facts, make_plan
from gpudoctor.onboard.run import StepFailed, StepResult, execute
from tests.onboard.test_plan import request

REMEDY = "give their driver and lowest compute capability (--driver VERSION --cc X.Y, ...)"
LONG_ERROR = "gpudoctor: error: the check run on node n1 of partition gpu found " + "x" * 150


class _Quiet:
    def started(self, index: int, total: int, step: object) -> None:
        """Nothing shown."""

    def finished(self, index: int, total: int, result: StepResult) -> None:
        """Nothing shown."""


def _fail_with(tmp_path: Path, stderr: str, **plan_kw: object) -> str:
    facts = Facts(has_gpu=False, gpu_partitions=("gpu",), partitions=("gpu",))
    plan = make_plan(request(**plan_kw), facts, None)
    step = plan.steps[0]
    assert step.name == "plan"
    code = f"import sys; sys.stderr.write({stderr!r} + '\\n'); sys.exit(1)"
    failing = type(step)(**{**step.__dict__, "argv": (sys.executable, "-c", code)})
    with pytest.raises(StepFailed) as failed:
        execute(
            [failing],
            first=2,
            total=7,
            log_dir=tmp_path,
            write_log=lambda path, text: path.write_text(text),
            in_process=lambda step: None,
            progress=_Quiet(),
        )
    return str(failed.value)


def test_make_envs_error_keeps_its_remedy_and_onboard_names_its_own_options(
    tmp_path: Path,
) -> None:
    # the line was cut at 200 characters: "... give their driver and lowest compute capa..."
    message = _fail_with(tmp_path, f"{LONG_ERROR}: {REMEDY}")
    assert message.startswith("step 2/7 plan (plan the environment (pyproject.toml)) failed: ")
    assert "exited with status 1: the check run on node n1 of partition gpu found x" in message
    assert REMEDY in message and "gpudoctor: error:" not in message
    assert message.endswith("rerun with --force --driver VERSION --cc X.Y")
    assert f"log: {tmp_path / '2-plan.log'}" in message


def test_other_tools_long_lines_are_still_cut_and_a_driver_given_needs_no_hint(
    tmp_path: Path,
) -> None:
    message = _fail_with(tmp_path, "error: " + "y" * 400, driver="580.95.05", cc="9.0")
    assert "y" * 180 + "..." in message and "y" * 200 not in message
    assert "rerun with" not in message
