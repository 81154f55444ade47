"""The rows of gpudoctor's data files (knowledge base, verify figures): keys, source, date."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from gpudoctor.errors import BadInputError, KnowledgeBaseError
from gpudoctor.tomlcompat import tomllib

PLATFORMS = ("linux-64", "linux-aarch64", "win-64")
SOURCED = frozenset({"source", "as_of", "verified", "note"})
"""The provenance keys every row may carry."""

Table = Mapping[str, Any]


def keys(
    row: Table, where: str, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
) -> None:
    """Refuse a row that lacks a required key or has an unknown one."""
    missing = required - row.keys()
    if missing:
        raise KnowledgeBaseError(f"{where}: missing {', '.join(sorted(missing))}")
    unknown = row.keys() - required - optional
    if unknown:
        raise KnowledgeBaseError(f"{where}: unknown key {', '.join(sorted(unknown))}")


def sourced(row: Table, where: str) -> dict[str, Any]:
    """The row's ``source``, ``as_of``, ``verified`` and ``note``, checked."""
    source, as_of = row.get("source"), row.get("as_of")
    if not isinstance(source, str) or not source.strip():
        raise KnowledgeBaseError(f"{where}: every row needs a non-empty source")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise KnowledgeBaseError(f"{where}: as_of must be a date like 2026-09-01")
    verified = row.get("verified", True)
    if not isinstance(verified, bool):
        raise KnowledgeBaseError(f"{where}: verified must be true or false")
    return {"source": source, "as_of": as_of, "verified": verified, "note": row.get("note", "")}


def check(where: str, parse: Any, *values: str | None) -> None:
    """Run a version parser over ``values``; a BadInputError becomes a KnowledgeBaseError."""
    for value in values:
        if value is None:
            continue
        if not isinstance(value, str):  # `cuda = 13.4`: TOML reads a float, no version text
            raise KnowledgeBaseError(
                f'{where}: {value!r} is not quoted (a version is a string, like "12.6")'
            )
        try:
            parse(value)
        except BadInputError as exc:
            raise KnowledgeBaseError(f"{where}: {exc}") from None


def platform_list(where: str, key: str, value: Any) -> tuple[str, ...]:
    """``value`` as platforms: a list of PLATFORMS names (``platforms = "linux-64"``, a string
    that iterates as letters, is refused, naming ``key``)."""
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise KnowledgeBaseError(f'{where}: {key} must be a list like ["linux-64"], not {value!r}')
    unknown = [p for p in value if p not in PLATFORMS]
    if unknown:
        raise KnowledgeBaseError(f"{where}: unknown platform in {key}: {', '.join(unknown)}")
    return tuple(value)


def whole(where: str, key: str, value: Any) -> int:
    """``value`` as an int; anything else (``branch = "R615"``) is refused, naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise KnowledgeBaseError(f"{where}: {key} must be a whole number, not {value!r}")
    return value


_WHERE = re.compile(
    r"(?P<file>[\w.-]+\.toml) "
    r"(?P<rows>[A-Za-z_][\w.]*(?:\[\d+\])?(?: \([^)]*\))?(?: [a-z_]+\[\d+\])*)"
)
"""The start of a row's message: ``torch.toml release[2] (2.9) variant[1]: ...``."""
_STEP = re.compile(r"([A-Za-z_][\w.]*)(?:\[(\d+)\])?")


def row_line(text: str, rows: str) -> int | None:
    """The line (1-based) of the header that opens the row ``rows`` names in a TOML file's
    ``text``: ``toolkit[3]`` is the fourth ``[[toolkit]]``, ``release[2] (2.9) variant[1]`` the
    second ``[[release.variant]]`` after the third ``[[release]]``, ``arch_lists.cu129`` the
    ``[arch_lists.cu129]`` table. None where no header opens it (an inline table, say)."""
    headers = [
        (n, m.group(1).replace(" ", ""), m.group(0).startswith("[["))
        for n, line in enumerate(text.splitlines(), start=1)
        if (m := re.match(r"\s*\[\[?\s*([^\]]+?)\s*\]", line))
    ]
    start, end, prefix, found = 0, len(headers), "", None
    for step in _STEP.finditer(re.sub(r" \([^)]*\)", "", rows)):
        name = f"{prefix}{step.group(1)}"
        if step.group(2) is None:  # a plain table: its one header
            hits = [k for k in range(start, end) if headers[k][1] == name and not headers[k][2]]
            index = 0
        else:
            hits = [k for k in range(start, end) if headers[k][1] == name and headers[k][2]]
            index = int(step.group(2))
        if index >= len(hits):
            return None
        k = hits[index]
        found = headers[k][0]
        later = [j for j in hits if j > k]
        start, end, prefix = k + 1, (later[0] if later else end), f"{name}."
    return found


@contextlib.contextmanager
def located(path: Path) -> Iterator[None]:
    """Turn any fault met while reading the data file ``path`` into one KnowledgeBaseError that
    names the file, the line of the row (where the message names one) and the problem: a
    malformed shipped file is gpudoctor's own failure (exit 3), never a bare ``AttributeError``.
    """
    try:
        yield
    except KnowledgeBaseError as exc:
        message = str(exc)
        where = _WHERE.match(message)
        if where is None or where.group("file") != path.name:
            if message.startswith(f"{path.name}: "):
                message = message[len(path.name) + 2 :]
            raise KnowledgeBaseError(f"data file {path}: {message}") from None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        line = row_line(text, where.group("rows"))
        at = f", line {line}" if line is not None else ""
        rest = message[where.end() :].removeprefix(":").strip()
        raise KnowledgeBaseError(f"data file {path}{at} ({where.group('rows')}): {rest}") from None
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        # a value of a type no check expected: the row is not known here, the problem is
        kind = type(exc).__name__
        raise KnowledgeBaseError(f"data file {path}: a malformed value ({kind}: {exc})") from None


def read(path: Path) -> dict[str, Any]:
    """One data file as a dict."""
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name}: {exc}") from None
