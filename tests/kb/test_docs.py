"""docs/knowledge-base.md describes the knowledge base as it is: its queries, records, data
files, row counts and the examples at its top."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from gpudoctor.kb import KnowledgeBase, load, records
from gpudoctor.kb.loader import DATA_DIR

DOC = (Path(__file__).resolve().parents[2] / "docs" / "knowledge-base.md").read_text(
    encoding="utf-8"
)


def _section(title: str) -> str:
    return DOC.split(f"\n## {title}\n")[1].split("\n## ")[0]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load()


def test_every_query_is_documented() -> None:
    queries = _section("Queries")
    public = [
        name
        for name, value in vars(KnowledgeBase).items()
        if not name.startswith("_")
        and name != "validate"  # the loader's own cross-row check
        and (callable(value) or isinstance(value, property))
    ]
    assert [name for name in public if not re.search(rf"`{name}(?!\w)", queries)] == []


def test_every_record_is_documented_with_its_fields() -> None:
    documented = dict(re.findall(r"`(\w+)\(([^)`]*)\)`", _section("Records")))
    inherited = {f.name for f in dataclasses.fields(records.Sourced)}
    missing = []
    for name, value in vars(records).items():
        if not (isinstance(value, type) and dataclasses.is_dataclass(value)):
            continue
        if value is records.Sourced or not issubclass(value, records.Sourced):
            continue
        if value.__name__ != name:  # an alias (TorchRelease is FrameworkRelease)
            continue
        fields = [f.name for f in dataclasses.fields(value) if f.name not in inherited]
        written = {f.strip() for f in documented.get(name, "").replace("\n", " ").split(",")}
        if name not in documented or not set(fields) <= written:
            missing.append((name, [f for f in fields if f not in written]))
    assert missing == []


def test_every_data_file_is_in_the_table_and_every_file_named_exists() -> None:
    table = _section("Data files (`gpudoctor/kb/data/`)")
    named = set(re.findall(r"^\| `(\w+\.toml)` \|", table, re.M))
    assert named == {p.name for p in DATA_DIR.glob("*.toml")}


def test_the_xid_row_count_and_codes(kb: KnowledgeBase) -> None:
    table = _section("Data files (`gpudoctor/kb/data/`)")
    (row,) = [line for line in table.splitlines() if line.startswith("| `xid.toml`")]
    count, listed = re.search(r"\((\d+) rows: ([\d, –]+)\)", row).groups()  # type: ignore[union-attr]
    codes: list[int] = []
    for part in listed.split(","):
        low, _, high = part.strip().partition("–")
        codes += range(int(low), int(high or low) + 1)
    assert int(count) == len(kb.xids) == len(codes)
    assert sorted(codes) == sorted(e.code for e in kb.xids)
    unverified = re.search(r"(\d+) verified, (\d+) `verified = false`", row).groups()  # type: ignore[union-attr]
    assert [int(n) for n in unverified] == [
        sum(e.verified for e in kb.xids),
        sum(not e.verified for e in kb.xids),
    ]


def _examples() -> list[tuple[str, str]]:
    block = DOC.split("```python\n")[1].split("```")[0]
    pairs = []
    for line in block.splitlines():
        if line.startswith("kb.") and "  # " in line:
            code, said = line.split("  # ", 1)
            pairs.append((code.strip(), said))
    return pairs


@pytest.mark.parametrize(("code", "said"), _examples())
def test_each_example_gives_what_its_comment_says(kb: KnowledgeBase, code: str, said: str) -> None:
    value = eval(code, {"kb": kb})  # noqa: S307 - the page's own examples, nothing else
    shown = said.split(":", maxsplit=1)[0].split(" ", maxsplit=1)[0].rstrip(",")
    if shown.startswith(("CudaSupport(", "ArchCoverage(")):
        assert type(value).__name__ == shown.partition("(")[0]
        for key, wanted in re.findall(r'(\w+)="([^"]*)"', said):
            assert getattr(value, key) == wanted
    elif shown in ("True", "False") or shown.isdigit() or shown.startswith('"'):
        assert value == ast.literal_eval(shown)
    else:  # a bare word: the value as text (message_cause(...).cause  # glibc)
        assert str(value) == shown
