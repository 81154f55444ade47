"""The history folder: each check and verify report kept, bounded, written atomically.

Every entry is one file named by its time, kind and writer (``20261207T040227.123456Z.check.
4711-9f2c1a0b.json``), written to a temporary name and renamed into place, so two runs that end
at once write two files and a reader never sees half of one. The last good entry of each kind
is named in a small pointer file (``last-good-check``), replaced the same way. Pruning drops
the oldest entries first, never the last good ones, and tolerates a file another run pruned.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gpudoctor.errors import BadInputError
from gpudoctor.model.history import Entry, Summary
from gpudoctor.model.times import utc_stamp
from gpudoctor.userfiles.read import file_kind, read_capped

HISTORY_VERSION = 1
"""The entry files' own format version (the document inside keeps its schema_version)."""

ENV_DIR = "GPUDOCTOR_HISTORY_DIR"
ENV_OFF = "GPUDOCTOR_NO_HISTORY"
MAX_ENTRIES = 50
MAX_BYTES = 32 << 20
"""The folder's bounds: 50 entries and 32 MiB (a check report is ~10-60 KiB, a verify ~50 KiB)."""
MAX_ENTRY_BYTES = 16 << 20
"""One entry as large as the largest report gpudoctor reads (serialize.MAX_REPORT_BYTES)."""
KINDS = ("check", "verify")
STALE_TMP_S = 3600.0
"""A temporary file older than this was left by a run that died while writing: removed."""

_NAME = re.compile(
    r"^(?P<stamp>\d{8}T\d{6}\.\d{6}Z)\.(?P<kind>check|verify)\.[0-9]+-[0-9a-f]{8}\.json$"
)
_TRUE = {"1", "yes", "true", "on"}


class HistoryError(BadInputError):
    """A history entry or selector that cannot be used; the message is one line."""


def disabled(env: Mapping[str, str]) -> bool:
    """Whether ``GPUDOCTOR_NO_HISTORY`` turns history off (1, yes, true, on)."""
    return env.get(ENV_OFF, "").strip().lower() in _TRUE


def default_folder(env: Mapping[str, str]) -> Path:
    """``$GPUDOCTOR_HISTORY_DIR``, else ``$XDG_STATE_HOME/gpudoctor/history``, else
    ``~/.local/state/gpudoctor/history`` (the XDG Base Directory default)."""
    if env.get(ENV_DIR):
        return Path(env[ENV_DIR])
    state = env.get("XDG_STATE_HOME")
    # The specification: a relative path in the variable is invalid and is ignored.
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "gpudoctor" / "history"


def _stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def iso(now: datetime) -> str:
    """The time as reports write it: ISO 8601 UTC, seconds."""
    return utc_stamp(now)


def _write_new(path: Path, payload: bytes) -> None:
    """Create ``path`` (private to the user) with ``payload``, or fail.

    Not fsync'ed: two fsyncs cost a check 10-20 ms on a busy disk, more than all the rest of
    keeping its report. A power cut just after a check may then leave its entry empty, which
    `history` lists as damaged and `diff` refuses in one line; the older entries are intact.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _put(folder: Path, name: str, payload: bytes) -> None:
    """Write ``folder/name`` through a temporary file and a rename (atomic on one file system)."""
    tmp = folder / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        _write_new(tmp, payload)
        tmp.replace(folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def record(
    folder: Path,
    *,
    kind: str,
    document_json: str,
    verdict: str,
    good: bool,
    summary: Summary,
    machine: str | None,
    now: datetime | None = None,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> Entry:
    """Keep one report (its JSON text as the command wrote it); prune; return the entry.

    Raises OSError when the folder cannot be made or written (the caller says so in one line
    and goes on: history is never worth a failed check).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown history kind {kind!r}")
    now = now or datetime.now(timezone.utc)
    created = iso(now)
    head = {
        "history_version": HISTORY_VERSION,
        "tool": "gpudoctor history",
        "kind": kind,
        "created_at": created,
        "verdict": verdict,
        "good": good,
        "machine": machine,
        "summary": {
            "driver": summary.driver,
            "frameworks": list(summary.frameworks),
            "throughput": summary.throughput,
        },
    }
    # The document is spliced in as written: parsing it again would cost the check time.
    text = json.dumps(head, sort_keys=True)[:-1] + ', "document": ' + document_json.strip() + "}\n"
    payload = text.encode("utf-8")
    if len(payload) > MAX_ENTRY_BYTES:
        raise OSError(f"the report is larger than {MAX_ENTRY_BYTES >> 20} MiB")
    if folder.exists() and not folder.is_dir():  # mkdir would say "File exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"{_stamp(now)}.{kind}.{os.getpid()}-{secrets.token_hex(4)}.json"
    _put(folder, name, payload)
    if good:
        _put(folder, f"last-good-{kind}", (name + "\n").encode("utf-8"))
    prune(folder, max_entries=max_entries, max_bytes=max_bytes)
    return Entry(
        name=name,
        kind=kind,
        created_at=created,
        verdict=verdict,
        good=good,
        machine=machine,
        summary=summary,
    )


def last_good(folder: Path, kind: str) -> str | None:
    """The file name of the last good entry of ``kind``, or None (none yet, or pruned by hand)."""
    try:
        raw = read_capped(folder / f"last-good-{kind}", limit=4096, what="history pointer")
    except BadInputError:
        return None
    name = raw.decode("utf-8", "replace").strip()
    return name if _NAME.match(name) and (folder / name).is_file() else None


def names(folder: Path, odd: list[str] | None = None) -> list[tuple[str, int]]:
    """Every entry's file name and size, oldest first; files that are no entry are ignored.

    A link, FIFO or folder under an entry's name is never opened; its name goes to ``odd``.
    """
    found = []
    try:
        with os.scandir(folder) as listing:
            for item in listing:
                if not _NAME.match(item.name):
                    continue
                with contextlib.suppress(OSError):  # pruned by another run meanwhile
                    if item.is_file(follow_symlinks=False):
                        found.append((item.name, item.stat(follow_symlinks=False).st_size))
                    elif odd is not None:
                        mode = item.stat(follow_symlinks=False).st_mode
                        what = "a symbolic link" if stat.S_ISLNK(mode) else file_kind(mode)
                        odd.append(f"history entry {item.name} is {what}, not a file: skipped")
    except FileNotFoundError:
        return []
    return sorted(found)


def prune(folder: Path, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> int:
    """Drop the oldest entries until at most ``max_entries`` and ``max_bytes`` remain; return
    how many were dropped. The last good entries stay (a run of failures must not lose what
    to compare against); stale temporary files go."""
    keep = {last_good(folder, kind) for kind in KINDS} - {None}
    listed = names(folder)
    count, total = len(listed), sum(size for _, size in listed)
    dropped = 0
    for name, size in listed:
        if count <= max_entries and total <= max_bytes:
            break
        if name in keep:
            continue
        with contextlib.suppress(FileNotFoundError):  # another run dropped it first
            (folder / name).unlink()
            dropped += 1
        count -= 1
        total -= size
    _drop_stale_tmp(folder)
    return dropped


def _drop_stale_tmp(folder: Path) -> None:
    cutoff = time.time() - STALE_TMP_S
    with contextlib.suppress(OSError), os.scandir(folder) as listing:
        for item in listing:
            if item.name.startswith(".") and item.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if item.stat(follow_symlinks=False).st_mtime < cutoff:
                        Path(item.path).unlink()


def read_entry(folder: Path, name: str, *, document: bool = True) -> Entry:
    """One entry, checked; a truncated, foreign or hostile file is a one-line HistoryError."""
    match = _NAME.match(name)
    if match is None:
        raise HistoryError(f"{name}: not a history entry's name")
    path = folder / name
    try:
        raw = read_capped(path, limit=MAX_ENTRY_BYTES, what="history entry")
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except BadInputError as exc:
        raise HistoryError(str(exc)) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HistoryError(f"history entry {name} is damaged ({_short(exc)})") from None
    return _entry(name, match.group("kind"), data, document=document)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _text(value: Any, what: str, name: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > 1000:
        raise HistoryError(f"history entry {name}: {what} is not a string")
    return value


def _entry(name: str, kind: str, data: Any, *, document: bool) -> Entry:
    if not isinstance(data, dict) or data.get("tool") != "gpudoctor history":
        raise HistoryError(f"history entry {name} is not a gpudoctor history entry")
    version = data.get("history_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HistoryError(f"history entry {name}: history_version is not a positive integer")
    if version > HISTORY_VERSION:
        raise HistoryError(
            f"history entry {name} uses history version {version}; this gpudoctor reads up to "
            f"{HISTORY_VERSION}"
        )
    if data.get("kind") != kind:
        raise HistoryError(f"history entry {name}: its kind does not match its name")
    summary: dict[str, Any] = data["summary"] if isinstance(data.get("summary"), dict) else {}
    frameworks = summary.get("frameworks")
    doc = data.get("document")
    if not isinstance(doc, dict):
        raise HistoryError(f"history entry {name} holds no report")
    return Entry(
        name=name,
        kind=kind,
        created_at=_text(data.get("created_at"), "created_at", name),
        verdict=_text(data.get("verdict"), "verdict", name),
        good=data.get("good") is True,
        machine=_text(data.get("machine"), "machine", name, optional=True),
        summary=Summary(
            driver=_text(summary.get("driver"), "driver", name, optional=True),
            frameworks=tuple(
                _text(f, "a framework", name)
                for f in (frameworks if isinstance(frameworks, list) else [])[:20]
            ),
            throughput=_text(summary.get("throughput"), "throughput", name, optional=True),
        ),
        document=doc if document else None,
    )


def listing(folder: Path) -> tuple[list[Entry], list[str]]:
    """Every entry, newest first, without its document; and one line per file that is not
    readable (listed, never fatal).

    Remembered for the folder's current list of files and sizes: one `diff` asks several
    times (the entry, its companion verify, the timings for now) and each read parses every
    entry.
    """
    odd: list[str] = []
    try:
        listed = names(folder, odd)
    except OSError as exc:  # a file in the way, no permission: bad input, never a traceback
        raise HistoryError(
            f"cannot read the history folder {folder} ({exc.strerror or exc})"
        ) from None
    key = (str(folder), tuple((name, size, _mtime(folder / name)) for name, size in listed))
    cached = _LISTED.get(key)
    if cached is not None:
        return list(cached[0]), list(cached[1])
    entries, problems = [], list(odd)
    for name, _ in reversed(listed):
        try:
            entries.append(read_entry(folder, name, document=False))
        except HistoryError as exc:
            problems.append(str(exc))
    problems.sort(reverse=True)  # newest first, as the entries ("history entry <name> ...")
    _LISTED.clear()  # one folder's listing is all a command needs
    _LISTED[key] = (tuple(entries), tuple(problems))
    return entries, problems


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


_LISTED: dict[
    tuple[str, tuple[tuple[str, int, int], ...]], tuple[tuple[Entry, ...], tuple[str, ...]]
] = {}
