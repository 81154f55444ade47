"""conda-envs/: every curated file (environment.yml, uv project, pixi workspace) is what its
README command writes from today's data, and parses as its tool expects."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import Cli
from tests.envplan.pixi_schema import problems

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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


def _curated() -> list[str]:
    found = [*FOLDER.glob("*.yml"), *FOLDER.glob("*/pyproject.toml"), *FOLDER.glob("*/pixi.toml")]
    return sorted(p.relative_to(FOLDER).as_posix() for p in found)


def test_every_file_has_a_command() -> None:
    assert sorted(f for f, _, _ in _rows()) == _curated()
    assert any(f.endswith("pyproject.toml") for f in _curated())
    assert any(f.endswith("pixi.toml") for f in _curated())


def _parses(file: str, text: str) -> None:
    """The file reads as its tool reads it."""
    if file.endswith(".yml"):
        assert set(yaml.safe_load(text)) == {"name", "channels", "dependencies"}
    elif file.endswith("pixi.toml"):
        assert problems(tomllib.loads(text)) == []
    else:
        doc = tomllib.loads(text)
        assert doc["project"]["dependencies"] and doc["tool"]["uv"]["package"] is False


@pytest.mark.parametrize(("file", "build", "args"), _rows(), ids=lambda x: str(x)[:40])
def test_file_matches_the_knowledge_base(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, build: str, args: str
) -> None:
    # the README's command, run from a stand-in repository root (the file names its own path)
    (tmp_path / "conda-envs" / file).parent.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    result = cli("make-env", *shlex.split(args), "-o", f"conda-envs/{file}", "--force")
    assert result.exit_code == 0, result
    written = (tmp_path / "conda-envs" / file).read_text(encoding="utf-8")
    create = next(x for x in written.splitlines() if x.startswith("# Create with: "))
    if file.endswith(".yml"):
        assert create == f"# Create with: conda env create -f conda-envs/{file}"
    else:  # the folder is the project (uv) or the manifest is named (pixi)
        assert f"conda-envs/{Path(file).parent.as_posix()}" in create, create
    _parses(file, written)
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
