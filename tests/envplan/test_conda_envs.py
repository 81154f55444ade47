"""conda-envs/: every curated file is what its README command writes from today's data."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "conda-envs"
ROW = re.compile(
    r"^\| \[`(?P<file>[^`]+)`\]\([^)]+\) \| [^|]+ \| (?P<build>[^|]+) \| "
    r"`gpudoctor make-env (?P<args>[^`]+) -o conda-envs/(?P=file) --force` \|$"
)
NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}


def _rows() -> list[tuple[str, str, str]]:
    text = (FOLDER / "README.md").read_text(encoding="utf-8")
    rows = [(m["file"], m["build"], m["args"]) for m in map(ROW.match, text.splitlines()) if m]
    assert rows, "no table rows found in conda-envs/README.md"
    return rows


def test_every_file_has_a_command() -> None:
    assert sorted(f for f, _, _ in _rows()) == sorted(p.name for p in FOLDER.glob("*.yml"))


@pytest.mark.parametrize(("file", "build", "args"), _rows(), ids=lambda x: str(x)[:40])
def test_file_matches_the_knowledge_base(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, build: str, args: str
) -> None:
    # the README's command, run from a stand-in repository root (the file names its own path)
    (tmp_path / "conda-envs").mkdir()
    monkeypatch.chdir(tmp_path)
    result = cli("make-env", *shlex.split(args), "-o", f"conda-envs/{file}", "--force")
    assert result.exit_code == 0, result
    written = (tmp_path / "conda-envs" / file).read_text(encoding="utf-8")
    assert f"# Create with: conda env create -f conda-envs/{file}\n" in written
    path = FOLDER / file
    if os.environ.get("GPUDOCTOR_UPDATE_GOLDEN") == "1":
        path.write_text(written, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == written, (
        f"{file} drifted from the knowledge base; regenerate with GPUDOCTOR_UPDATE_GOLDEN=1"
    )
    plan = json.loads(cli("make-env", *shlex.split(args), "--format", "json").stdout)
    fw = plan["frameworks"][0]
    expected = (
        f"{NAMES[fw['name']]} {fw['version']} {fw['variant']} ({fw['source']}), "
        f"Python {plan['python']}"
    )
    assert build.strip() == expected, f"README build column of {file} is stale"
