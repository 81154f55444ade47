"""The README's first lines work on a fresh machine: a virtual environment, then the install."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _blocks(section: str) -> list[list[str]]:
    """The command lines of each ```bash block (comments and blank lines left out)."""
    return [
        [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
        for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    ]


def test_the_first_block_makes_a_venv_then_installs_and_runs_check():
    # Debian 12's system Python refuses pip outside a venv (externally-managed-environment)
    first = _blocks(_section("Install and run"))[0]
    assert "-m venv" in first[0] and "/bin/activate" in first[0], first
    assert any("pip install ." in line and "gpudoctor check" in line for line in first[1:]), first


def test_no_install_command_comes_before_the_venv():
    lines = [line for block in _blocks(_section("Install and run")) for line in block]
    venv = next(i for i, line in enumerate(lines) if "-m venv" in line)
    assert all("pip install" not in line for line in lines[:venv])
    assert all("sudo" not in line and "--break-system-packages" not in line for line in lines)


def test_the_cpu_only_path_installs_the_cpu_build_before_the_extra():
    # otherwise ".[torch]" pulls the CUDA build: ~3 GB of wheels a CPU-only machine cannot use
    lines = [line for block in _blocks(_section("Install and run")) for line in block]
    cpu = next(i for i, line in enumerate(lines) if CPU_INDEX in line)
    assert "pip install torch" in lines[cpu]
    assert any('".[torch]"' in line for line in lines[cpu + 1 :])


def test_the_shell_completion_line_prints_a_script_for_each_shell():
    # the README's `eval "$(_GPUDOCTOR_COMPLETE=bash_source gpudoctor)"`, and zsh_source,
    # fish_source for the other shells: each must print that shell's completion script
    import os
    import subprocess
    import sys

    text = " ".join(README.read_text(encoding="utf-8").split())
    line = re.search(r'eval "\$\((\w+)=(\w+)_source gpudoctor\)"', text)
    assert line, "the README's completion line"
    var, first = line.groups()
    others = re.findall(r"`(\w+)_source`", text[line.end() : line.end() + 200])
    assert first == "bash" and others == ["zsh", "fish"], others
    for shell, marker in (
        ("bash", "complete -o"),
        ("zsh", "#compdef gpudoctor"),
        ("fish", "complete"),
    ):
        proc = subprocess.run(
            [sys.executable, "-c", "from gpudoctor.cli import main; main()"],
            env={**os.environ, var: f"{shell}_source"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0 and marker in proc.stdout, (shell, proc.stdout, proc.stderr)
        assert "_gpudoctor_completion" in proc.stdout, shell


def test_gpudoctor_goes_into_a_make_env_environment_without_the_torch_extra():
    # the extra's torch>=2.1 made pip swap make-env's PyTorch 1.12.1 cu102 (driver R440-R450)
    # for PyPI's newest CUDA build: `pip install --dry-run` showed torch-2.14.1 and its cu13
    # wheels. onboard installs gpudoctor without extras, for the same reason
    lines = [line for block in _blocks(_section("The commands")) for line in block]
    made = next(i for i, line in enumerate(lines) if "make-env -o environment.yml" in line)
    install = next(line for line in lines[made:] if "pip install" in line)
    assert "[" not in install.split("pip install", 1)[1].split("&&")[0], install


def test_what_the_login_node_block_says_check_prints_is_in_checks_golden_output():
    # the README quoted "this is a SLURM login node: ..." where check prints "This is ..."
    golden = README.parent / "tests" / "data" / "expected" / "site__login_node.txt"
    lines = [line for block in _blocks(_section("The commands")) for line in block]
    said = [
        re.search(r'# "(.+)"', line)
        for line in lines
        if line.split("#")[0].split() == ["gpudoctor", "check"]
    ]
    quoted = [m[1] for m in said if m]
    assert quoted, "the README's login-node block quotes what check says"
    assert [q for q in quoted if q not in golden.read_text(encoding="utf-8")] == []
