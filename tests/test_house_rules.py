"""What docs/architecture.md says of the house is true: checked in the source, not trusted."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gpudoctor"

CHILDREN = ("probe/children/", "verify/children/")
"""The scripts gpudoctor runs as children: they run in the child, so their own calls are theirs."""


def _sources(under: Path = PACKAGE) -> list[tuple[str, str]]:
    return [
        (p.relative_to(PACKAGE).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted(under.rglob("*.py"))
    ]


def test_only_probe_runcmd_starts_a_child_process():
    """``Popen`` (and so ``subprocess.run`` and friends, which use it) is named in runcmd alone."""
    pattern = re.compile(
        r"\bPopen\b|subprocess\.(run|call|check_call|check_output|getoutput|getstatusoutput)\b"
        r"|\bos\.(system|popen|spawn\w*|exec\w*|fork\w*|posix_spawn\w*)\s*\("
    )
    found = sorted(
        name for name, text in _sources() if not name.startswith(CHILDREN) and pattern.search(text)
    )
    assert found == ["probe/runcmd.py"]


def test_only_fleet_workers_forks_workers():
    """gpudoctor's own worker processes (forks, no program run) are started in one place."""
    pattern = re.compile(r"\bmultiprocessing\b|\bProcessPoolExecutor\b")
    found = sorted(name for name, text in _sources() if pattern.search(text))
    assert found == ["fleet/workers.py"]


READERS = {"open", "read_text", "read_bytes"}
"""Calls that open or read a file: ``open(p)``, ``path.open()``, ``path.read_text()``."""
OS_IO = {"read", "open", "fdopen"}
"""``os.read``, ``os.open``, ``os.fdopen``."""


def _io_in(text: str) -> list[str]:
    """Each call in ``text``'s code that opens or reads a file, and each use of ``sys.stdin``,
    as ``line: code`` (words in docstrings and comments are not code)."""
    found = []
    for node in ast.walk(ast.parse(text)):
        hit = False
        if isinstance(node, ast.Call):
            func = node.func
            hit = (isinstance(func, ast.Name) and func.id in READERS) or (
                isinstance(func, ast.Attribute) and func.attr in READERS
            )
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            hit = hit or (node.value.id, node.attr) == ("sys", "stdin")
            hit = hit or (node.value.id == "os" and node.attr in OS_IO)
        if hit:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found))


def test_the_model_does_no_io():
    bad = [f"{name}: {line}" for name, text in _sources(PACKAGE / "model") for line in _io_in(text)]
    assert bad == []


def test_the_io_check_is_able_to_fail():
    sample = (
        'import os, sys\n"""open( in a docstring is fine"""\n'
        "data = sys.stdin.read()  # open( in a comment too\n"
        "x = Path(p).read_bytes()\nfd = os.read(3, 10)\nwith open(p) as f:\n    pass\n"
    )
    assert _io_in(sample) == [
        "3: sys.stdin",
        "4: Path(p).read_bytes()",
        "5: os.read",
        "6: open(p)",
    ]


def test_the_top_level_holds_only_what_the_brief_names():
    """A file a command wrote while it was tried by hand (an environment.yml, a report.json)
    must not ride along into a commit: git's tracked top level is this list, nothing more."""
    import shutil
    import subprocess

    git = shutil.which("git")
    root = PACKAGE.parent
    if git is None or not (root / ".git").exists():
        pytest.skip("not a git checkout: no index to look at")
    listed = subprocess.run(
        [git, "ls-files"], cwd=root, capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    top = {name.split("/", 1)[0] for name in listed}
    assert top <= {
        ".ci",
        ".gitignore",
        "LICENSE",
        "README.md",
        "benchmarks",
        "conda-envs",
        "deploy",
        "docs",
        "gpudoctor",
        "pyproject.toml",
        "scripts",
        "tests",
    }, sorted(top)


def test_architecture_md_names_every_module_of_the_model():
    """The model's entry lists its modules one by one: times.py, inert.py and hardware.py were
    missing from it, so a reader looking for where a time is read back found nothing."""
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    entry = doc.split("\n  model/", 1)[1].split("\n  history/", 1)[0]
    named = set(re.findall(r"\b(\w+)\.py\b", entry))
    modules = {p.stem for p in (PACKAGE / "model").glob("*.py") if p.stem != "__init__"}
    assert sorted(modules - named) == []


def test_one_module_chooses_between_tomllib_and_tomli():
    """Python 3.10 has no tomllib: the version test stands in tomlcompat alone, and pyproject
    installs the tomli backport there (and only there) so the import cannot fail."""
    from gpudoctor.tomlcompat import tomllib

    naming = sorted(name for name, text in _sources() if re.search(r"\btomli\b", text))
    assert naming == ["tomlcompat.py"]
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    tomli = [d for d in pyproject["project"]["dependencies"] if re.match(r"tomli\b", d)]
    assert [d.split(";")[1].replace(" ", "").replace('"', "'") for d in tomli] == [
        "python_version<'3.11'"
    ]
