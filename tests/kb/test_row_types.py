"""Every data file's rows have a declared shape: a value of the wrong type, an unknown key or a
missing ``source``/``as_of`` in any row is refused, naming the file, the line, the row and the
field (before, ``channel = 7`` or a variant ``tag = 132`` loaded silently)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.datarows import read
from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.kb import loader
from gpudoctor.kb.loader import DATA_DIR, load_dir

FILES = sorted(p.name for p in DATA_DIR.glob("*.toml"))
PARSED = {file: read(DATA_DIR / file) for file in FILES}
"""Each shipped file parsed once: parsing is 16 of the 20 ms a load_dir takes, and the loader
changes nothing it is given (each case changes a deep copy of its own file only)."""
Step = str | int


def _rows(data: dict[str, Any], every: bool = False) -> Iterator[tuple[tuple[Step, ...], str]]:
    """The rows of every table of a parsed data file (with ``every``, else the first of each):
    each row's path in ``data`` and a pattern of the label the loader's messages give it
    (``release[0] (2.15) variant[1]``, ``arch_lists.cu13``, ``cpu``)."""
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for i, row in enumerate(value if every else value[:1]):
                yield (key, i), re.escape(f"{key}[{i}]")
                for inner, rows in row.items():
                    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                        for j in range(len(rows) if every else 1):
                            label = re.escape(f"{key}[{i}]") + ".* " + re.escape(f"{inner}[{j}]")
                            yield (key, i, inner, j), label
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            for name in list(value) if every else list(value)[:1]:
                yield (key, name), re.escape(f"{key}.{name}")
        elif isinstance(value, dict):
            yield (key,), re.escape(key)


def _wrong(value: Any) -> Iterator[tuple[str, Any]]:
    """Values of another type than ``value``'s, each with what it is."""
    if isinstance(value, bool):
        yield "a string for a bool", "yes"
    elif isinstance(value, int):
        yield "a string for a number", str(value)
    elif isinstance(value, str):
        yield "a number for a string", 7
    elif isinstance(value, dt.date):
        yield "a string for a date", value.isoformat()
    elif isinstance(value, list):
        yield "a string for a list", "x"
        if value and not isinstance(value[0], dict):
            yield "a number in a list", [*value[:-1], 7]
    elif isinstance(value, dict):
        yield "a string for a table", "x"
        if value:
            first = next(iter(value))
            inner = "x" if isinstance(value[first], list) else 7
            yield "a wrong value in a table", {**value, first: inner}


def _at(data: dict[str, Any], path: tuple[Step, ...]) -> dict[str, Any]:
    row: Any = data
    for step in path:
        row = row[step]
    assert isinstance(row, dict)
    return row


def _cases() -> Iterator[Any]:
    """Each field of each table, in the first row that has it, given each wrong value."""
    for file in FILES:
        data = PARSED[file]
        seen: set[tuple[tuple[Step, ...], str]] = set()
        for path, label in _rows(data, every=True):
            table = path[::2]  # ("release", "variant") for any variant of any release
            for field, value in _at(data, path).items():
                if (table, field) in seen:
                    continue
                seen.add((table, field))
                for what, wrong in _wrong(value):
                    yield pytest.param(
                        file, path, label, field, wrong, id=f"{file}-{path}-{field}-{what}"
                    )


def _refusal(
    monkeypatch: pytest.MonkeyPatch, file: str, path: tuple[Step, ...], change: Any
) -> str:
    """The loader's message for the shipped data with ``change`` made to one row of ``file``."""
    changed = copy.deepcopy(PARSED[file])
    change(_at(changed, path))
    monkeypatch.setattr(loader, "read", lambda p: changed if p.name == file else PARSED[p.name])
    with pytest.raises(KnowledgeBaseError) as caught:
        load_dir(DATA_DIR)
    return str(caught.value)


def _names_row(message: str, file: str, label: str) -> None:
    where = re.escape(str(DATA_DIR / file))
    assert re.match(rf"data file {where}, line \d+ \({label}", message), message


@pytest.mark.parametrize(("file", "path", "label", "field", "wrong"), list(_cases()))
def test_wrong_type_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
    file: str,
    path: tuple[Step, ...],
    label: str,
    field: str,
    wrong: Any,
) -> None:
    message = _refusal(monkeypatch, file, path, lambda row: row.__setitem__(field, wrong))
    _names_row(message, file, label)
    assert re.search(rf"\): {re.escape(field)} (must be|= .* is not quoted)", message), message


ROWS = [
    pytest.param(file, path, label, id=f"{file}-{path}")
    for file in FILES
    for path, label in _rows(PARSED[file])
]


@pytest.mark.parametrize(("file", "path", "label"), ROWS)
def test_unknown_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, file: str, path: tuple[Step, ...], label: str
) -> None:
    # a typo of a known key: 'verifed = false' loaded, and the row counted as verified
    message = _refusal(monkeypatch, file, path, lambda row: row.__setitem__("verifed", False))
    _names_row(message, file, label)
    assert message.endswith("): unknown key verifed (did you mean verified?)"), message


@pytest.mark.parametrize(
    ("file", "path", "label"),
    # a variant takes its release's source and date: one without its own is no refusal
    [
        p
        for p in ROWS
        if "source" in _at(PARSED[p.values[0]], p.values[1]) and "variant" not in p.values[1]
    ],
)
@pytest.mark.parametrize("field", ["source", "as_of"])
def test_row_without_its_source_or_date_is_refused(
    monkeypatch: pytest.MonkeyPatch, file: str, path: tuple[Step, ...], label: str, field: str
) -> None:
    message = _refusal(monkeypatch, file, path, lambda row: row.pop(field))
    _names_row(message, file, label)
    assert message.endswith(f"): missing {field}"), message


def test_every_shipped_file_loads_and_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    read_files: list[str] = []
    real = loader.read

    def spy(path: Path) -> dict[str, Any]:
        read_files.append(path.name)
        return real(path)

    monkeypatch.setattr(loader, "read", spy)
    kb = load_dir(DATA_DIR)
    assert kb.toolkits and kb.release_rows and kb.xids
    assert sorted(set(read_files)) == FILES
