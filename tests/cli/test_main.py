"""The top-level command: help, version, error handling and exit statuses."""

from __future__ import annotations

import subprocess
import sys

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
