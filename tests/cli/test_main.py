"""The top-level command: help, version, error handling and exit statuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gpudoctor import __version__


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0, result
    assert __version__ in result.stdout


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0, result
    for name in ("check", "make-env", "models", "verify"):
        assert name in result.stdout


def test_help_names_every_form_make_env_writes(cli):
    # it read "Write an environment.yml that works on a machine." long after make-env also
    # wrote uv projects, pixi workspaces and requirements.txt (make-env --help says so)
    from gpudoctor.envplan.forms import DEFAULT_FILES

    line = next(
        line for line in cli("--help").stdout.splitlines() if line.strip().startswith("make-env")
    )
    assert "environment.yml" not in line, line
    for form in DEFAULT_FILES:
        assert form in line, (form, line)


def test_unknown_command_is_a_usage_error(cli):
    result = cli("frobnicate")
    assert result.exit_code == 2, result
    assert "frobnicate" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_works():
    proc = subprocess.run(
        [sys.executable, "-m", "gpudoctor", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert __version__ in proc.stdout


def test_help_imports_no_heavy_module():
    code = (
        "import sys; from gpudoctor.cli import run; run(['--help']);"
        "mods = ('torch', 'tensorflow', 'pynvml', 'numpy', 'rich');"
        "heavy = [m for m in mods if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_help_loads_neither_the_report_model_nor_srun():
    """check's options are defined without the report model (42 frozen dataclasses, about
    25 ms to build) or what runs srun: ``check --help`` costs little more than ``--help``."""
    code = (
        "import sys; from gpudoctor.cli import run; run(['check', '--help']);"
        "mods = ('gpudoctor.model.report', 'gpudoctor.fleet.remote', 'gpudoctor.probe.runcmd');"
        "loaded = [m for m in mods if m in sys.modules];"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["check", "--timeout", "0"], "--timeout"),
        (["check", "--format", "xml"], "--format"),
        (["check", "--no-such-option"], "--no-such-option"),
        (["verify", "--batch-size", "0"], "--batch-size"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_a_usage_error_is_one_line_with_exit_2(cli, args, named):
    result = cli(*args)
    assert result.exit_code == 2, result
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert result.stderr.startswith("gpudoctor: error: ") and named in result.stderr
    assert "--help" in result.stderr and "Usage:" not in result.stderr


def test_no_command_shows_the_help(cli):
    result = cli()
    assert result.exit_code == 2, result
    assert "Commands:" in result.stderr + result.stdout


def test_a_misspelt_command_gets_a_suggestion(cli):
    result = cli("chek")
    assert result.exit_code == 2, result
    assert result.stderr.strip().splitlines() == [
        "gpudoctor: error: no such command 'chek'; did you mean 'check'? (see 'gpudoctor --help')"
    ]


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("check", "--from-report"), "gpudoctor check"),
        (("check", "-o"), "gpudoctor check"),
        (("fleet", "run", "--node-timeout"), "gpudoctor fleet run"),
    ],
)
def test_an_option_without_its_value_points_at_its_commands_help(cli, args, where):
    # Click raises this one without a context: it said "(see 'gpudoctor --help')".
    result = cli(*args)
    assert result.exit_code == 2, result
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith(f"requires an argument (see '{where} --help')"), line


def _gpudoctor(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gpudoctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_line_not_a_bug_report():
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "gpudoctor", "models"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 2, proc.stderr
    assert (
        proc.stderr.strip() == "gpudoctor: error: cannot write the output: No space left on device"
    )


def test_an_ascii_terminal_gets_question_marks_not_a_crash():
    import os

    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    proc = _gpudoctor("models", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "lenet5" in proc.stdout


def test_completion_of_a_misspelt_command_prints_no_error():
    import os

    env = {
        **os.environ,
        "COMP_WORDS": "gpudoctor chek --fo",
        "COMP_CWORD": "2",
        "_GPUDOCTOR_COMPLETE": "bash_complete",
    }
    proc = subprocess.run(
        [sys.executable, "-c", "from gpudoctor.cli import main; main()"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert "error" not in proc.stderr, proc.stderr


# A stream that keeps what a failed flush could not write (as some supervisors' stdout does):
# Python then tries again at exit and, unless gpudoctor dropped it, prints "Exception ignored".
_KEEPING_STDOUT = """
import io, os, sys
class Raw(io.RawIOBase):
    def writable(self): return True
    def write(self, b): return os.write(1, b)
    def fileno(self): return 1
sys.stdout = io.TextIOWrapper(io.BufferedWriter(Raw()), encoding="utf-8")
from gpudoctor.cli import main
main()
"""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["models"], ["explain"], ["models", "--format", "json"]])
def test_a_full_standard_output_that_keeps_its_buffer_is_still_one_line(args, tmp_path):
    script = tmp_path / "keeping_stdout.py"
    script.write_text(_KEEPING_STDOUT)
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, str(script), *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert "Exception ignored" not in proc.stderr
    assert (
        proc.stderr.strip() == "gpudoctor: error: cannot write the output: No space left on device"
    )
    assert proc.returncode == 2


def test_a_signal_while_runcmd_is_still_importing_is_not_an_internal_error(monkeypatch):
    import types

    from gpudoctor import cli

    half = types.ModuleType("gpudoctor.probe.runcmd")  # what sys.modules holds mid-import
    monkeypatch.setitem(sys.modules, "gpudoctor.probe.runcmd", half)
    cli._stop_children()  # raised AttributeError: no attribute 'stop_all'
    assert cli.run(["--version"]) == 0


@pytest.mark.parametrize(
    "command", [("check",), ("verify",), ("diff",), ("history",), ("fleet", "report")]
)
def test_format_help_names_only_the_suffixes_the_command_reads(cli, tmp_path, command):
    # history's help said "from --output's suffix (.json, .md)", yet `history -o x.md` wrote text
    from gpudoctor.cli.formats import SUFFIXES

    text = " ".join(cli(*command, "--help").stdout.split())
    said = text.split("Default: from --output's suffix (", 1)[1].split(")", 1)[0]
    names = [s.strip() for s in said.replace(",", " ").split()]
    fmt = text.split("--format [", 1)[1].split("]", 1)[0].split("|")
    for suffix in names:
        assert SUFFIXES[suffix] in fmt, (command, suffix, fmt)


def test_fleet_help_describes_each_of_its_commands(cli):
    # the description named `fleet run` and `fleet report` only, not `fleet pairs`
    text = cli("fleet", "--help").stdout.split("Options:", 1)[0]
    for name in ("fleet run", "fleet report", "fleet pairs"):
        assert f"`{name}" in text, name


_HEALTHY = "tests/data/reports/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"


@pytest.mark.parametrize(
    "args",
    [
        ["explain"],
        ["history", "--history-dir", "."],
        ["check", "--from-report", _HEALTHY],
        ["check", "--from-report", _HEALTHY, "--format", "json"],
        ["diff", _HEALTHY, _HEALTHY],
        ["check", "--help"],
        ["--version"],
    ],
)
def test_a_reader_that_left_is_141_not_an_error_finding(args, tmp_path):
    # `gpudoctor check | head`: Click's main turns the BrokenPipeError into sys.exit(1), which
    # to check means an error finding and to diff a change; the reader here has left before
    # the first write, so every run meets it.
    import os

    root = Path(__file__).resolve().parents[2]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gpudoctor", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
            cwd=root if args[0] != "history" else tmp_path,
            env={**os.environ, "PYTHONPATH": str(root), "GPUDOCTOR_NO_HISTORY": "1"},
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("args", "form"),
    [
        (["check", "--json"], "json"),
        (["check", "--markdown"], "markdown"),
        (["diff", "--json"], "json"),
        (["history", "--json"], "json"),
    ],
)
def test_a_format_flag_points_at_format_not_at_a_lookalike_option(cli, args, form):
    # `check --json` said "Did you mean '--since'?".
    result = cli(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"--format {form}" in line, line
    assert "--since" not in line


def test_a_flag_near_no_format_keeps_clicks_suggestion(cli):
    result = cli("check", "--verbos")
    assert result.exit_code == 2
    assert "Did you mean '--verbose'?" in result.stderr


def _lose_a_sigterm() -> None:
    """SIGTERM's handler run inside a weakref callback, as it was once inside importlib's
    module-lock ``cb`` mid-import: Python prints its Terminated and drops it."""
    import signal
    import weakref

    from gpudoctor import cli as gpudoctor_cli

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing, lambda _: gpudoctor_cli._on_signal(signal.SIGTERM, None))
    del thing  # the callback runs here; its exception goes no further
    assert ref() is None


def _lose_a_ctrl_c() -> None:
    """Python's own SIGINT handler run inside a weakref callback: its KeyboardInterrupt is
    printed and dropped as a lost Terminated is."""
    import weakref

    class Thing:
        pass

    def callback(_: object) -> None:
        raise KeyboardInterrupt

    thing = Thing()
    ref = weakref.ref(thing, callback)
    del thing
    assert ref() is None


@pytest.fixture(autouse=True)
def _children_allowed_again():
    """A handled SIGTERM stops every later child of this process: the next tests need them."""
    yield
    from gpudoctor import cli as gpudoctor_cli
    from gpudoctor.probe.runcmd import allow_children

    gpudoctor_cli._TERMINATING.clear()
    gpudoctor_cli._LOST.clear()
    allow_children()


def test_a_sigterm_whose_raise_was_lost_still_ends_the_command_143(cli, monkeypatch):
    # check went on to write its report and exit 1 (a CI flake of the gates-folder test)
    from gpudoctor.cli import explain

    real = explain.entry

    def entry(rule):
        _lose_a_sigterm()
        return real(rule)

    monkeypatch.setattr(explain, "entry", entry)
    result = cli("explain", "GD-TORCH-004")
    assert result.exit_code == 143, result
    assert result.stderr.splitlines()[-1] == "gpudoctor: stopped by SIGTERM", result


def test_no_output_file_is_written_after_a_lost_sigterm(tmp_path):
    from gpudoctor import cli as gpudoctor_cli
    from gpudoctor.cli.files import emit

    out = tmp_path / "report.json"
    with gpudoctor_cli.catching_lost_signals():
        _lose_a_sigterm()
    with pytest.raises(gpudoctor_cli.Terminated):
        emit("{}\n", out, force=False)
    assert not out.exists()
    emit("{}\n", out, force=False)  # raised once: a command that caught its signal writes
    assert out.exists()


def test_a_ctrl_c_whose_raise_was_lost_still_ends_the_command_130(cli, monkeypatch):
    from gpudoctor.cli import explain

    real = explain.entry

    def entry(rule):
        _lose_a_ctrl_c()
        return real(rule)

    monkeypatch.setattr(explain, "entry", entry)
    result = cli("explain", "GD-TORCH-004")
    assert result.exit_code == 130, result
    assert result.stderr.splitlines()[-1] == "gpudoctor: interrupted", result


def test_no_output_file_is_written_after_a_lost_ctrl_c(tmp_path):
    from gpudoctor import cli as gpudoctor_cli
    from gpudoctor.cli.files import emit

    out = tmp_path / "report.json"
    with gpudoctor_cli.catching_lost_signals():
        _lose_a_ctrl_c()
    with pytest.raises(KeyboardInterrupt):
        emit("{}\n", out, force=False)
    assert not out.exists()


@pytest.mark.parametrize("args", [["--pairs"], ["-p", "gpu", "--pairs", "--verify"], ["--pairs=2"]])
def test_fleet_run_pairs_points_at_fleet_pairs(cli, args):
    # `gpudoctor fleet run --pairs`, as the issue that asked for it put it, read only click's
    # "No such option '--pairs' (see 'gpudoctor fleet run --help')"
    result = cli("fleet", "run", *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "gpudoctor: error: No such option '--pairs' here: use 'gpudoctor fleet pairs' "
        "(see 'gpudoctor fleet pairs --help')"
    )
    assert "--pairs" not in cli("fleet", "run", "--help").stdout
