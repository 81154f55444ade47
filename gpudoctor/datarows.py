"""The rows of gpudoctor's data files (knowledge base, verify figures): keys, source, date."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpudoctor.errors import BadInputError, KnowledgeBaseError
from gpudoctor.tomlcompat import tomllib

PLATFORMS = ("linux-64", "linux-aarch64", "win-64")

Table = Mapping[str, Any]


@dataclass(frozen=True)
class Kind:
    """What one field of a row holds: ``holds`` tells a value of it, ``says`` names it in the
    refusal (``channel must be a string, not 7``). A kind with an ``example`` is a version,
    which TOML reads as a number where it is not quoted."""

    says: str
    holds: Callable[[Any], bool]
    example: str = ""

    def refusal(self, where: str, field: str, value: Any) -> KnowledgeBaseError:
        """The one-line refusal of ``value`` in ``field``."""
        shown = repr(value)
        if len(shown) > 60:
            shown = f"{shown[:57]}..."
        if self.example and isinstance(value, int | float) and not isinstance(value, bool):
            return KnowledgeBaseError(
                f"{where}: {field} = {shown} is not quoted (a version is a string, like "
                f"{self.example})"
            )
        return KnowledgeBaseError(f"{where}: {field} must be {self.says}, not {shown}")


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


TEXT = Kind("a string", _text)
VERSION = Kind('a version like "12.6"', _text, '"12.6"')
CC = Kind('a compute capability like "8.6"', _text, '"8.6"')
DRIVER = Kind('a driver version like "580.65.06"', _text, '"580.65.06"')
WHOLE = Kind("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool))
NUMBER = Kind("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
FLAG = Kind("true or false", lambda v: isinstance(v, bool))
DATE = Kind(
    "a date like 2026-09-01",
    lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
)
TEXTS = Kind('a list of strings like ["..."]', _texts)
PLATFORM_LIST = Kind('a list like ["linux-64"]', _texts)
TEXT_TABLE = Kind(
    'a table of strings like { name = "..." }',
    lambda v: isinstance(v, dict) and all(isinstance(t, str) for t in v.values()),
)
VERSION_LISTS = Kind(
    'a table of version lists like { "2.9" = ["2.9.0"] }',
    lambda v: isinstance(v, dict) and all(_texts(t) for t in v.values()),
)
TABLE = Kind("a table", lambda v: isinstance(v, dict))
ROWS = Kind(
    "an array of tables ([[name]] rows)",
    lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
)

Fields = Mapping[str, Kind]
"""A row's declared shape: each key it may hold and the kind of its value."""
PROVENANCE: Fields = {"source": TEXT, "as_of": DATE}
"""The keys every row must carry (a variant may take them from its release)."""
NOTES: Fields = {"verified": FLAG, "note": TEXT}
"""The provenance keys a row may carry."""


def _near(key: str, fields: Fields) -> str:
    """`` (did you mean verified?)`` for a typo of a declared key, else nothing (difflib is
    imported here: only a refusal needs it, and the knowledge base loads on every command)."""
    import difflib

    near = difflib.get_close_matches(key, fields, n=1)
    return f" (did you mean {near[0]}?)" if near else ""


def shape(
    row: Any,
    where: str,
    required: Fields,
    optional: Fields | None = None,
    *,
    own_source: bool = True,
) -> Table:
    """``row``, refused unless it is a table holding every ``required`` key, no key beyond
    ``required``, ``optional`` and the provenance keys, and a value of its declared kind in each
    (a ``verifed = false`` typo, ``channel = 7``, ``tag = 132``). Every row needs ``source``
    and ``as_of``; with ``own_source`` False (a row that inherits them) it may leave them out.
    Each message names ``where`` and the field."""
    if not isinstance(row, dict):
        shown = repr(row) if len(repr(row)) <= 60 else f"{repr(row)[:57]}..."
        raise KnowledgeBaseError(f"{where}: must be a table, not {shown}")
    need = {**required, **PROVENANCE} if own_source else dict(required)
    fields = {**need, **PROVENANCE, **NOTES, **(optional or {})}
    missing = need.keys() - row.keys()
    if missing:
        raise KnowledgeBaseError(f"{where}: missing {', '.join(sorted(missing))}")
    for key, value in row.items():
        kind = fields.get(key)
        if kind is None:
            raise KnowledgeBaseError(f"{where}: unknown key {key}{_near(key, fields)}")
        if not kind.holds(value):
            raise kind.refusal(where, key, value)
    return row


def tables(data: Table, name: str, fields: Fields) -> None:
    """Refuse a data file ``name`` whose top level holds a table it does not declare (a
    ``[[toolkits]]`` typo was never read) or one of the wrong kind (``[numpy_max]`` for
    ``[[numpy_max]]``), naming the table, so that ``located`` finds its line."""
    for key, value in data.items():
        rows = isinstance(value, list) and bool(value) and isinstance(value[0], dict)
        where = f"{name} {key}[0]" if rows else f"{name} {key}"
        kind = fields.get(key)
        if kind is None:
            raise KnowledgeBaseError(f"{where}: unknown table {key}{_near(key, fields)}")
        if not kind.holds(value):
            raise kind.refusal(where, key, value)


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
