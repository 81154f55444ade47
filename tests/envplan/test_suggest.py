"""suggest_command: the fix `check` can print for a framework that does not fit."""

from __future__ import annotations

import shlex
from pathlib import Path

from gpudoctor.envplan.suggest import suggest_command
from gpudoctor.userfiles.read import load_report
from tests.conftest import Cli

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def test_pascal_report() -> None:
    report = load_report(REPORTS / "failure__pascal_with_torch_cu128.json")
    command = suggest_command(report)
    assert shlex.split(command) == [
        "gpudoctor",
        "make-env",
        "--driver",
        "580.95.05",
        "--cc",
        "6.1",
        "--os",
        "linux",
        "--framework",
        "torch",
    ]


def test_framework_from_report_and_override(cli: Cli) -> None:
    report = load_report(REPORTS / "failure__tensorflow_cannot_dlopen.json")
    assert "--framework tensorflow" in suggest_command(report)
    assert "--framework both" in suggest_command(report, "both")
    # the suggestion is a working command
    args = shlex.split(suggest_command(report))[1:]
    result = cli(*args, "--stdout")
    assert result.exit_code == 0, result


def test_no_cc_leaves_the_target_to_make_env() -> None:
    report = load_report(REPORTS / "failure__driver_library_mismatch.json")
    assert suggest_command(report) == "gpudoctor make-env --framework torch"


def test_gpu_without_driver_leaves_the_target_to_make_env() -> None:
    # spelled out, the target would be --os linux alone: a CPU environment for a GPU machine
    report = load_report(REPORTS / "failure__no_driver.json")
    assert suggest_command(report) == "gpudoctor make-env --framework torch"
