"""verify's data files have declared shapes, as the knowledge base's do: a value of the wrong
type, an unknown key, a missing ``source``/``as_of`` or a misspelt top-level table in any of
them is refused, naming the file, the line, the row and the field (before, a ``[[floors]]`` typo
was skipped, ``note = 7`` loaded, and no message named the line)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.datarows import read
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.verify import references
from gpudoctor.verify.references import DATA_DIR, load_references

FILES = sorted(p.name for p in DATA_DIR.glob("*.toml"))
PARSED = {file: read(DATA_DIR / file) for file in FILES}
"""Each shipped file parsed once; load_references changes nothing it is given (each case
changes a deep copy of its own file only)."""


def _wrong(value: Any) -> Iterator[tuple[str, Any]]:
    """Values of another type than ``value``'s, each with what it is."""
    if isinstance(value, bool):
        yield "a string for a bool", "yes"
    elif isinstance(value, int | float):
        yield "a string for a number", str(value)
        yield "a bool for a number", True
    elif isinstance(value, str):
        yield "a number for a string", 7
    elif isinstance(value, dt.date):
        yield "a string for a date", value.isoformat()


def _tables(file: str) -> list[str]:
    return [k for k, v in PARSED[file].items() if isinstance(v, list)]


def _cases() -> Iterator[Any]:
    """Each field of each table of each file (its first row, and ``note`` where a row has it),
    given each wrong value."""
    for file in FILES:
        data = PARSED[file]
        for table in _tables(file):
            seen: set[str] = set()
            for i, row in enumerate(data[table]):
                for field, value in row.items():
                    if field in seen:
                        continue
                    seen.add(field)
                    for what, wrong in _wrong(value):
                        yield pytest.param(
                            file, table, i, field, wrong, id=f"{file}-{table}[{i}]-{field}-{what}"
                        )


def _refusal(monkeypatch: pytest.MonkeyPatch, file: str, change: Callable[[Any], None]) -> str:
    """load_references' message for the shipped data with ``change`` made to ``file``."""
    changed = copy.deepcopy(PARSED[file])
    change(changed)
    monkeypatch.setattr(references, "read", lambda p: changed if p.name == file else PARSED[p.name])
    with pytest.raises(KnowledgeBaseError) as caught:
        load_references()
    return str(caught.value)


def _names_row(message: str, file: str, table: str, i: int) -> None:
    where = re.escape(str(DATA_DIR / file))
    assert re.match(rf"data file {where}, line \d+ \({table}\[{i}\]\): ", message), message


def _line(file: str, table: str, i: int) -> int:
    """The line of the ``i``-th ``[[table]]`` header."""
    lines = (DATA_DIR / file).read_text(encoding="utf-8").splitlines()
    headers = [n for n, line in enumerate(lines, start=1) if line.strip() == f"[[{table}]]"]
    return headers[i]


@pytest.mark.parametrize(("file", "table", "i", "field", "wrong"), list(_cases()))
def test_wrong_type_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, file: str, table: str, i: int, field: str, wrong: Any
) -> None:
    def change(data: Any) -> None:
        data[table][i][field] = wrong

    message = _refusal(monkeypatch, file, change)
    _names_row(message, file, table, i)
    assert f", line {_line(file, table, i)} (" in message, message
    assert re.search(rf"\): {re.escape(field)} must be ", message), message


ROWS = [(file, table) for file in FILES for table in _tables(file)]


@pytest.mark.parametrize(("file", "table"), ROWS)
def test_unknown_key_is_refused(monkeypatch: pytest.MonkeyPatch, file: str, table: str) -> None:
    # 'verifed = false' would count the row as verified, had it loaded
    message = _refusal(monkeypatch, file, lambda data: data[table][0].__setitem__("verifed", 0))
    _names_row(message, file, table, 0)
    assert message.endswith("): unknown key verifed (did you mean verified?)"), message


@pytest.mark.parametrize(("file", "table"), ROWS)
@pytest.mark.parametrize("field", ["source", "as_of", "verified"])
def test_row_without_its_source_date_or_verified_is_refused(
    monkeypatch: pytest.MonkeyPatch, file: str, table: str, field: str
) -> None:
    message = _refusal(monkeypatch, file, lambda data: data[table][0].pop(field))
    _names_row(message, file, table, 0)
    assert message.endswith(f"): missing {field}"), message


@pytest.mark.parametrize(("file", "table"), ROWS)
def test_a_misspelt_table_is_refused_not_skipped(
    monkeypatch: pytest.MonkeyPatch, file: str, table: str
) -> None:
    # '[[rows]]' for '[[row]]': its figures were never read, and verify judged without them
    def change(data: Any) -> None:
        data[table + "s"] = data.pop(table)

    message = _refusal(monkeypatch, file, change)
    assert message.startswith(f"data file {DATA_DIR / file}"), message
    assert f"unknown table {table}s (did you mean {table}?)" in message, message


def test_a_note_must_be_text(monkeypatch: pytest.MonkeyPatch) -> None:
    (file, table) = next((f, t) for f, t in ROWS if t == "floor")
    message = _refusal(monkeypatch, file, lambda data: data[table][0].__setitem__("note", 7))
    _names_row(message, file, table, 0)
    assert message.endswith("): note must be a string, not 7"), message


def test_every_shipped_file_loads_and_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    read_files: list[str] = []
    real = references.read

    def spy(path: Path) -> dict[str, Any]:
        read_files.append(path.name)
        return real(path)

    monkeypatch.setattr(references, "read", spy)
    refs = load_references()
    assert refs.bands and refs.fingerprints and refs.expected and refs.datasheets
    assert refs.floors and refs.published
    assert sorted(read_files) == FILES
