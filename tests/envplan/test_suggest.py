"""suggest_command: the fix `check` can print for a framework that does not fit."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from gpudoctor.envplan.suggest import NEWEST_GLIBC_FLOOR, suggest_command
from gpudoctor.kb import load
from gpudoctor.model.versions import python_key
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


def test_a_report_with_an_old_glibc_gets_a_suggestion_that_names_it(cli: Cli) -> None:
    # check's suggested make-env command dropped the report's glibc 2.27: run as printed (a
    # typed target, whose glibc make-env does not know) it planned PyTorch 2.15, whose
    # manylinux_2_28 wheels pip cannot install on that Ubuntu 18.04 host
    path = REPORTS / "failure__torch_needs_newer_glibc.json"
    command = suggest_command(load_report(path))
    assert "--glibc 2.27" in command, command
    suggested = cli(*shlex.split(command)[1:], "--format", "json")
    from_report = cli("make-env", "--from-report", str(path), "--format", "json")
    assert suggested.exit_code == 0 and from_report.exit_code == 0, suggested
    planned = [json.loads(r.stdout)["frameworks"] for r in (suggested, from_report)]
    assert planned[0] == planned[1] and planned[0][0]["version"] == "2.6.0"
    # a glibc as new as every floor is left out, as before
    h100 = load_report(REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json")
    assert "--glibc" not in suggest_command(h100)


def test_the_suggestions_glibc_floor_is_the_knowledge_bases_newest() -> None:
    kb = load()
    floors = [floor.glibc for floor in kb.glibc_floors]
    floors += [
        v.glibc
        for framework in ("torch", "tensorflow")
        for channel in ("pip", "conda-forge")
        for release in kb.releases(framework, channel)
        for v in release.variants
        if v.glibc
    ]
    assert max(floors, key=python_key) == NEWEST_GLIBC_FLOOR
