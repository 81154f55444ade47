"""No shipped file names a path of the machine it was written on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("gpudoctor", "docs", "conda-envs", "deploy", "README.md", "pyproject.toml")
# The development and CI machines' own places: the work tree, root's home, the interpreter
# manager and the local package mirrors. A source cites the primary place instead.
MACHINE_PATH = re.compile(r"(?<![\w.])(/work/|/root/|/old_root\b|/opt/pypi|\.pyenv/)")


def shipped_files() -> list[Path]:
    found: list[Path] = []
    for name in SHIPPED:
        path = ROOT / name
        found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [p for p in found if "__pycache__" not in p.parts and p.suffix != ".pyc"]


def machine_paths(text: str) -> list[str]:
    return [m.group(0) for m in MACHINE_PATH.finditer(text)]


def test_no_shipped_file_names_a_development_machine_path():
    bad = []
    for path in shipped_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file (a PNG) names no path a reader would follow
        for number, line in enumerate(text.splitlines(), 1):
            if machine_paths(line):
                bad.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert bad == []


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("# Facts: /work/shared/reference/compatibility.md", ["/work/"]),
        ("Python from `/root/.pyenv/versions/3.11.7`", ["/root/", ".pyenv/"]),
        ("source = 'https://example.org/work/x'", []),  # a URL's path is not this machine's
        ("/home/alice/.cache/pip", []),  # an example user's home, as docs show it
    ],
)
def test_the_check_is_able_to_fail(line, found):
    assert machine_paths(line) == found
