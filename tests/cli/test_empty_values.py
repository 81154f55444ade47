"""An empty value (an unset shell variable: `--history-dir "$DIR"`) is bad input, never `.`.

``Path("")`` is the current folder, so before this every path option took '' as `.`:
`history --history-dir ''` listed the current folder as a history and `check --history-dir ''`
wrote its report and a last-good mark into it; `check --from-report ''` said ". is a directory".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA, Cli

REPORT = str(DATA / "reports" / "failure__no_driver.json")


@pytest.mark.parametrize(
    ("args", "option", "what"),
    [
        (("history", "--history-dir", ""), "--history-dir", "a folder"),
        (
            ("check", "--no-frameworks", "--timeout", "5", "--history-dir", ""),
            "--history-dir",
            "a folder",
        ),
        (("verify", "--models", "lenet5", "--history-dir", ""), "--history-dir", "a folder"),
        (("check", "--from-report", ""), "--from-report", "a file"),
        (("check", "--from-report", REPORT, "-o", ""), "--output", "a file"),
        (("make-env", "--from-report", "", "--stdout"), "--from-report", "a file"),
        (("make-env", "--from-fleet", "", "--stdout"), "--from-fleet", "a path"),
        (("diff", REPORT, REPORT, "--python", ""), "--python", "a file"),
        (("fleet", "report", ""), "PATHS", "a path"),
        (("fleet", "report", REPORT, "--baseline", ""), "--baseline", "a file"),
        (("fleet", "run", "-w", "n1", "--output-dir", ""), "--output-dir", "a folder"),
        (("fleet", "pairs", "-w", "n[1-2]", "--output-dir", ""), "--output-dir", "a folder"),
        (("onboard", "--dry-run", "--prefix", ""), "--prefix", "a folder"),
        (("onboard", "--dry-run", "--report-dir", ""), "--report-dir", "a folder"),
        (("verify", "--models", "lenet5", "--plot", ""), "--plot", "a file"),
    ],
)
def test_an_empty_path_is_one_line_exit_2(
    cli: Cli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    option: str,
    what: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(*args, env={"GPUDOCTOR_HISTORY_DIR": None, "GPUDOCTOR_NO_HISTORY": None})
    assert result.exit_code == 2, result
    assert result.stderr.count("\n") == 1, result
    assert option in result.stderr and f"the name is empty: give {what}" in result.stderr, result
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [], "nothing may be written into the current folder"


def test_fleet_pairs_refuses_an_empty_python(cli: Cli, tmp_path: Path, monkeypatch) -> None:
    # `--python "$PY"` with PY unset ran this interpreter on the nodes instead
    from tests.fleet.fake_slurm import FakeSlurm

    cluster = FakeSlurm(tmp_path / "slurm", {"n1": {}, "n2": {}})
    for key, value in cluster.env().items():
        monkeypatch.setenv(key, value)
    result = cli("fleet", "pairs", "-w", "n[1-2]", "--python", "", "-d", str(tmp_path / "o"))
    assert result.exit_code == 2, result
    assert (
        result.stderr == "gpudoctor: error: --python is empty: give the interpreter on the nodes\n"
    )
    assert not (tmp_path / "o").exists()
